//! `TelegramConfig::connect`: check the token, leave webhook mode, start the poll thread.

use std::sync::Arc;
use std::time::Duration;

use hermes_platform::http::AgentOptions;
use hermes_platform::settings::mask_secret;
use hermes_platform::{Adapter, ConnectContext, ConnectError, PlatformConfig};

use crate::adapter::TelegramAdapter;
use crate::api::{Api, ApiError, SHORT_BODY_LIMIT};
use crate::config::TelegramConfig;
use crate::inbound::BotIdentity;
use crate::media::Downloader;
use crate::poll::{PollState, Poller};
use crate::wire::{Body, User};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const SHORT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// How much longer than the poll timeout an HTTP poll may take before it counts as stalled.
const POLL_GRACE: Duration = Duration::from_secs(15);

impl PlatformConfig for TelegramConfig {
    fn platform(&self) -> &'static str {
        "telegram"
    }

    fn describe(&self) -> String {
        format!(
            "telegram: token {}, Bot API at {}, reply mode {:?}, mention required in groups: {}",
            mask_secret(&self.token),
            self.base_host(),
            self.reply_to_mode,
            self.require_mention
        )
    }

    fn secrets(&self) -> Vec<String> {
        vec![self.token.clone()]
    }

    fn connect(&self, ctx: ConnectContext) -> Result<Arc<dyn Adapter>, ConnectError> {
        Ok(connect(self, ctx)?)
    }
}

/// Like [`PlatformConfig::connect`], with the concrete adapter type.
pub fn connect(config: &TelegramConfig, ctx: ConnectContext) -> Result<Arc<TelegramAdapter>, ConnectError> {
    let api = Api::new(&config.base_url, &config.token);
    let short_agent = ctx.http.agent(&AgentOptions {
        connect_timeout: Some(CONNECT_TIMEOUT),
        global_timeout: Some(SHORT_CALL_TIMEOUT),
        proxy: config.proxy.clone(),
        ..AgentOptions::default()
    });
    let poll_agent = ctx.http.agent(&AgentOptions {
        connect_timeout: Some(CONNECT_TIMEOUT),
        global_timeout: Some(config.poll_timeout + POLL_GRACE),
        proxy: config.proxy.clone(),
        ..AgentOptions::default()
    });

    let me: User = api.call(&short_agent, "getMe", &Body::new(), SHORT_BODY_LIMIT).map_err(|e| match e {
        ApiError::Status { code: 401 | 404, .. } => {
            ConnectError::fatal("Telegram rejected the bot token (401 Unauthorized) — check TELEGRAM_BOT_TOKEN")
        }
        other => ConnectError::retryable(format!("telegram: getMe failed: {other}")),
    })?;
    let bot = BotIdentity { id: me.id, username: me.username.clone().unwrap_or_default() };
    log::info!("telegram: connected as @{} ({})", bot.username, bot.id);

    // Polling and a webhook exclude each other; keep pending updates, they are ours to handle.
    let body = Body::new().bool("drop_pending_updates", false);
    api.call_raw(&short_agent, "deleteWebhook", &body, SHORT_BODY_LIMIT)
        .map_err(|e| ConnectError::retryable(format!("telegram: deleteWebhook failed: {e}")))?;

    let offset = ctx.cursor.as_deref().and_then(|c| match c.trim().parse::<i64>() {
        Ok(offset) => Some(offset),
        Err(_) => {
            log::warn!("telegram: stored cursor {c:?} is not an update offset; starting from Telegram's");
            None
        }
    });
    let state = PollState::default();
    let poller = Poller {
        api: api.clone(),
        poll_agent,
        short_agent: short_agent.clone(),
        config: config.clone(),
        bot: bot.clone(),
        sink: ctx.inbound,
        state: state.clone(),
        offset,
        downloader: Downloader {
            api: api.clone(),
            agent: ctx.http.agent(&AgentOptions {
                connect_timeout: Some(CONNECT_TIMEOUT),
                global_timeout: Some(DOWNLOAD_TIMEOUT),
                proxy: config.proxy.clone(),
                ..AgentOptions::default()
            }),
            cache_dir: ctx.cache_dir.clone(),
            max_bytes: config.max_download_bytes,
        },
    };
    std::thread::Builder::new()
        .name("telegram-poll".into())
        .spawn(move || poller.run())
        .map_err(|e| ConnectError::retryable(format!("telegram: cannot start the poll thread: {e}")))?;

    Ok(Arc::new(TelegramAdapter {
        api,
        agent: short_agent,
        upload_agent: ctx.http.agent(&AgentOptions {
            connect_timeout: Some(CONNECT_TIMEOUT),
            global_timeout: Some(UPLOAD_TIMEOUT),
            proxy: config.proxy.clone(),
            ..AgentOptions::default()
        }),
        reply_to_mode: config.reply_to_mode,
        capabilities: TelegramAdapter::capabilities(),
        state,
        username: bot.username,
    }))
}
