//! `DiscordConfig::connect`: check the token, find the gateway, start the gateway thread.

use std::sync::Arc;
use std::time::Duration;

use hermes_platform::http::AgentOptions;
use hermes_platform::settings::mask_secret;
use hermes_platform::{Adapter, ConnectContext, ConnectError, PlatformConfig};

use crate::adapter::DiscordAdapter;
use crate::config::DiscordConfig;
use crate::gateway::{Gateway, GatewayState, Session};
use crate::inbound::{BotIdentity, Channels};
use crate::rest::{Api, ApiError};
use crate::wire::{GatewayBot, User};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const SHORT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

impl PlatformConfig for DiscordConfig {
    fn platform(&self) -> &'static str {
        "discord"
    }

    fn describe(&self) -> String {
        format!(
            "discord: token {}, REST at {}, reply mode {:?}, mention required in channels: {}",
            mask_secret(&self.token),
            self.api_host(),
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

fn rejected(e: ApiError, what: &str) -> ConnectError {
    match e {
        ApiError::Status { code: 401, .. } => {
            ConnectError::fatal("Discord rejected the bot token (401 Unauthorized) — check DISCORD_BOT_TOKEN")
        }
        other => ConnectError::retryable(format!("discord: {what} failed: {other}")),
    }
}

/// Like [`PlatformConfig::connect`], with the concrete adapter type.
pub fn connect(config: &DiscordConfig, ctx: ConnectContext) -> Result<Arc<DiscordAdapter>, ConnectError> {
    let agent = ctx.http.agent(&AgentOptions {
        connect_timeout: Some(CONNECT_TIMEOUT),
        global_timeout: Some(SHORT_CALL_TIMEOUT),
        ..AgentOptions::default()
    });
    let api = Api::new(&config.api_base, &config.token, agent);
    let me = api.call("GET", "/users/@me", None).map_err(|e| rejected(e, "GET /users/@me"))?;
    let me: User = miniserde::json::from_str(&me)
        .map_err(|_| ConnectError::retryable("discord: GET /users/@me: not a user object"))?;
    log::info!("discord: the token belongs to {} ({})", me.username.as_deref().unwrap_or("?"), me.id);
    let gateway_url = match &config.gateway_url {
        Some(url) => url.clone(),
        None => {
            let answer = api.call("GET", "/gateway/bot", None).map_err(|e| rejected(e, "GET /gateway/bot"))?;
            let gw: GatewayBot = miniserde::json::from_str(&answer)
                .map_err(|_| ConnectError::retryable("discord: GET /gateway/bot: no url in the answer"))?;
            gw.url
        }
    };

    let state = GatewayState::default();
    *state.bot.lock().unwrap_or_else(|e| e.into_inner()) =
        BotIdentity { id: me.id.clone(), username: me.username.clone().unwrap_or_default() };
    let session = ctx.cursor.as_deref().map(Session::from_cursor).unwrap_or_default();
    let gateway = Gateway {
        config: config.clone(),
        gateway_url,
        tls: ctx.http.tls(),
        sink: ctx.inbound,
        state: state.clone(),
        session,
        channels: Channels::default(),
    };
    std::thread::Builder::new()
        .name("discord-gateway".into())
        .spawn(move || gateway.run())
        .map_err(|e| ConnectError::retryable(format!("discord: cannot start the gateway thread: {e}")))?;

    Ok(Arc::new(DiscordAdapter {
        api,
        reply_to_mode: config.reply_to_mode,
        capabilities: DiscordAdapter::capabilities(),
        state,
    }))
}
