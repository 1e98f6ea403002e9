//! `DiscordAdapter`: the outbound REST calls (P17) and the handle on the gateway thread.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hermes_platform::{
    Adapter, BotCommand, Capabilities, ChatRef, Dialect, LenUnit, Liveness, OutboundMedia, SendError, SendOptions,
};

use crate::config::ReplyToMode;
use crate::gateway::GatewayState;
use crate::rest::Api;
use crate::wire::{SentMessage, esc};

/// Discord's message limit, in characters.
pub const MAX_MESSAGE_LEN: usize = 2000;

/// Never ping anyone: no `@everyone`, roles or users from the agent's text.
const NO_MENTIONS: &str = r#"{"parse":[]}"#;

pub struct DiscordAdapter {
    pub(crate) api: Api,
    pub(crate) reply_to_mode: ReplyToMode,
    pub(crate) capabilities: Capabilities,
    pub(crate) state: GatewayState,
}

impl DiscordAdapter {
    pub(crate) fn capabilities() -> Capabilities {
        Capabilities {
            max_message_len: MAX_MESSAGE_LEN,
            len_unit: LenUnit::Chars,
            can_edit: true,
            can_typing: true,
            can_delete: true,
            has_threads: true,
            dialect: Dialect::Markdown,
            command_menu: false,
            typing_interval: Duration::from_secs(8),
            streaming_cursor: true,
        }
    }

    /// True once Discord refused the gateway for good (bad token, intents).
    pub fn is_fatal(&self) -> bool {
        self.state.fatal.load(Ordering::SeqCst)
    }

    /// The bot's user id and name (from `GET /users/@me`, then READY).
    pub fn bot(&self) -> (String, String) {
        let bot = self.state.bot.lock().unwrap_or_else(|e| e.into_inner());
        (bot.id.clone(), bot.username.clone())
    }

    fn reply_to<'a>(&self, opts: &'a SendOptions) -> Option<&'a str> {
        let reply = opts.reply_to.as_deref()?;
        match self.reply_to_mode {
            ReplyToMode::Off => None,
            ReplyToMode::First if opts.continuation => None,
            _ => Some(reply),
        }
    }
}

/// Where a message goes: a thread is a channel of its own.
fn channel(chat: &ChatRef) -> &str {
    chat.thread_id.as_deref().unwrap_or(&chat.chat_id)
}

fn check_len(text: &str) -> Result<(), SendError> {
    if text.trim().is_empty() {
        return Err(SendError::Fatal("Discord does not send empty messages".into()));
    }
    if LenUnit::Chars.measure(text) > MAX_MESSAGE_LEN { Err(SendError::TooLong) } else { Ok(()) }
}

impl Adapter for DiscordAdapter {
    fn platform(&self) -> &str {
        "discord"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn send_text(&self, chat: &ChatRef, text: &str, opts: &SendOptions) -> Result<String, SendError> {
        // Discord renders Markdown as is; `plain` needs no conversion either.
        check_len(text)?;
        let mut body = format!(r#"{{"content":{},"allowed_mentions":{NO_MENTIONS}"#, esc(text));
        if let Some(reply) = self.reply_to(opts) {
            // Still sent when the quoted message was deleted meanwhile.
            body.push_str(&format!(
                r#","message_reference":{{"message_id":{},"fail_if_not_exists":false}}"#,
                esc(reply)
            ));
        }
        body.push('}');
        let path = format!("/channels/{}/messages", channel(chat));
        let answer = self.api.call("POST", &path, Some(&body)).map_err(|e| e.to_send_error())?;
        let sent: SentMessage = miniserde::json::from_str(&answer).map_err(|_| SendError::Transient {
            message: "discord: the answer to a send has no message id".into(),
            maybe_delivered: true,
        })?;
        Ok(sent.id)
    }

    fn edit_text(&self, chat: &ChatRef, message_id: &str, text: &str, _plain: bool) -> Result<(), SendError> {
        check_len(text)?;
        let body = format!(r#"{{"content":{},"allowed_mentions":{NO_MENTIONS}}}"#, esc(text));
        let path = format!("/channels/{}/messages/{message_id}", channel(chat));
        self.api.call("PATCH", &path, Some(&body)).map(|_| ()).map_err(|e| e.to_send_error())
    }

    fn delete(&self, chat: &ChatRef, message_id: &str) -> Result<(), SendError> {
        let path = format!("/channels/{}/messages/{message_id}", channel(chat));
        self.api.call("DELETE", &path, None).map(|_| ()).map_err(|e| e.to_send_error())
    }

    fn typing(&self, chat: &ChatRef) -> Result<(), SendError> {
        let path = format!("/channels/{}/typing", channel(chat));
        self.api.call("POST", &path, None).map(|_| ()).map_err(|e| e.to_send_error())
    }

    fn send_media(&self, chat: &ChatRef, media: &OutboundMedia, opts: &SendOptions) -> Result<String, SendError> {
        // Uploads (multipart `files[0]`) are not done yet: send the caption and the file name
        // so the user learns what the agent meant to send.
        let name = std::path::Path::new(&media.path).file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let text = match media.caption.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(c) => format!("{c}\n(file not uploaded: {name})"),
            None => format!("(file not uploaded: {name})"),
        };
        log::warn!("discord: file uploads are not supported yet; sent a note for {name}");
        self.send_text(chat, &text, opts)
    }

    fn set_commands(&self, _commands: &[BotCommand]) -> Result<(), SendError> {
        // Slash commands are application commands; messages starting with `/` still work.
        Ok(())
    }

    fn liveness(&self) -> Liveness {
        self.state.liveness.clone()
    }

    fn stop(&self) {
        self.state.stop.store(true, Ordering::SeqCst);
    }
}
