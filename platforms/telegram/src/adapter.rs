//! `TelegramAdapter`: the outbound calls (P9) and the handle on the poll thread.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hermes_platform::{
    Adapter, BotCommand, Capabilities, ChatRef, Dialect, LenUnit, Liveness, OutboundMedia, SendError, SendOptions,
};
use miniserde::json::Value;

use crate::api::{Api, ApiError, SHORT_BODY_LIMIT};
use crate::config::ReplyToMode;
use crate::poll::PollState;
use crate::upload::{self, Multipart};
use crate::wire::{Body, SentMessage, array};
use hermes_platform::markdown;

/// The Bot API's upload limit for bots.
const MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;

/// Telegram's message limit, in UTF-16 code units.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// A connected Telegram bot.
pub struct TelegramAdapter {
    pub(crate) api: Api,
    pub(crate) agent: ureq::Agent,
    /// Like `agent`, with room for a 50 MB upload.
    pub(crate) upload_agent: ureq::Agent,
    pub(crate) reply_to_mode: ReplyToMode,
    pub(crate) capabilities: Capabilities,
    pub(crate) state: PollState,
    pub(crate) username: String,
}

impl TelegramAdapter {
    pub(crate) fn capabilities() -> Capabilities {
        Capabilities {
            max_message_len: MAX_MESSAGE_LEN,
            len_unit: LenUnit::Utf16,
            can_edit: true,
            can_typing: true,
            can_delete: true,
            has_threads: true,
            dialect: Dialect::TelegramV2,
            command_menu: true,
            typing_interval: Duration::from_secs(5),
            streaming_cursor: true,
        }
    }

    /// The bot's `@username` (without `@`) as `getMe` reported it.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// True once Telegram rejected the token while polling; the poll thread has ended.
    pub fn is_fatal(&self) -> bool {
        self.state.fatal.load(Ordering::SeqCst)
    }

    fn call<T: miniserde::Deserialize>(&self, method: &str, body: &Body) -> Result<T, ApiError> {
        self.api.call(&self.agent, method, body, SHORT_BODY_LIMIT)
    }

    fn call_ok(&self, method: &str, body: &Body) -> Result<(), ApiError> {
        self.api.call_raw(&self.agent, method, body, SHORT_BODY_LIMIT).map(|_| ())
    }

    fn reply_to<'a>(&self, opts: &'a SendOptions) -> Option<&'a str> {
        let reply = opts.reply_to.as_deref()?;
        match self.reply_to_mode {
            ReplyToMode::Off => None,
            ReplyToMode::First if opts.continuation => None,
            _ => Some(reply),
        }
    }

    /// Sends `text` formatted, or as plain text when formatting is off, too long once escaped,
    /// or rejected by Telegram. `build` adds the method's other fields.
    fn send_formatted<T>(
        &self,
        method: &str,
        text: &str,
        plain: bool,
        build: impl Fn(Body) -> Body,
        call: impl Fn(&str, &Body) -> Result<T, ApiError>,
    ) -> Result<T, SendError> {
        if !plain {
            let v2 = markdown::to_telegram_v2(text);
            if LenUnit::Utf16.measure(&v2) <= MAX_MESSAGE_LEN {
                let body = build(Body::new()).str("text", &v2).str("parse_mode", "MarkdownV2");
                match call(method, &body) {
                    Err(e) if e.is_bad_request("can't parse entities") || e.is_bad_request("too long") => {
                        log::debug!("telegram: {method} rejected MarkdownV2 ({e}); resending as plain text");
                    }
                    other => return other.map_err(|e| e.to_send_error()),
                }
            }
            let plain = markdown::to_plain(text);
            if LenUnit::Utf16.measure(&plain) > MAX_MESSAGE_LEN {
                return Err(SendError::TooLong);
            }
            let body = build(Body::new()).str("text", &plain);
            return call(method, &body).map_err(|e| match e {
                e if e.code() == Some(400) && !e.is_bad_request("not found") => match e.to_send_error() {
                    SendError::TooLong => SendError::TooLong,
                    _ => SendError::BadFormat(e.to_string()),
                },
                e => e.to_send_error(),
            });
        }
        if LenUnit::Utf16.measure(text) > MAX_MESSAGE_LEN {
            return Err(SendError::TooLong);
        }
        let body = build(Body::new()).str("text", text);
        call(method, &body).map_err(|e| e.to_send_error())
    }
}

fn keyboard(rows: &[Vec<hermes_platform::Button>]) -> Value {
    let rows = rows.iter().map(|row| {
        array(row.iter().map(|b| Body::new().str("text", &b.label).str("callback_data", &b.data).into_value()))
    });
    Body::new().value("inline_keyboard", array(rows)).into_value()
}

impl Adapter for TelegramAdapter {
    fn platform(&self) -> &str {
        "telegram"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn send_text(&self, chat: &ChatRef, text: &str, opts: &SendOptions) -> Result<String, SendError> {
        let reply_to = self.reply_to(opts);
        let build = |body: Body| {
            let mut body = body.id("chat_id", &chat.chat_id).opt_id("message_thread_id", chat.thread_id.as_deref());
            if let Some(reply) = reply_to {
                // Sending still works when the quoted message was deleted meanwhile.
                let params = Body::new().id("message_id", reply).bool("allow_sending_without_reply", true);
                body = body.value("reply_parameters", params.into_value());
            }
            if !opts.buttons.is_empty() {
                body = body.value("reply_markup", keyboard(&opts.buttons));
            }
            body
        };
        let sent: SentMessage =
            self.send_formatted("sendMessage", text, opts.plain, build, |method, body| self.call(method, body))?;
        Ok(sent.message_id.to_string())
    }

    fn edit_text(&self, chat: &ChatRef, message_id: &str, text: &str, plain: bool) -> Result<(), SendError> {
        let build = |body: Body| body.id("chat_id", &chat.chat_id).id("message_id", message_id);
        let call = |method: &str, body: &Body| match self.call_ok(method, body) {
            Err(e) if e.is_bad_request("message is not modified") => Ok(()),
            other => other,
        };
        self.send_formatted("editMessageText", text, plain, build, call)
    }

    fn delete(&self, chat: &ChatRef, message_id: &str) -> Result<(), SendError> {
        let body = Body::new().id("chat_id", &chat.chat_id).id("message_id", message_id);
        self.call_ok("deleteMessage", &body).map_err(|e| e.to_send_error())
    }

    fn typing(&self, chat: &ChatRef) -> Result<(), SendError> {
        let body = Body::new()
            .id("chat_id", &chat.chat_id)
            .opt_id("message_thread_id", chat.thread_id.as_deref())
            .str("action", "typing");
        self.call_ok("sendChatAction", &body).map_err(|e| e.to_send_error())
    }

    fn send_media(&self, chat: &ChatRef, media: &OutboundMedia, opts: &SendOptions) -> Result<String, SendError> {
        let path = std::path::Path::new(&media.path);
        let size =
            std::fs::metadata(path).map_err(|e| SendError::Fatal(format!("cannot read {}: {e}", media.path)))?.len();
        if size > MAX_UPLOAD_BYTES {
            return Err(SendError::Fatal(format!("{} is {size} bytes; bots may upload at most 50 MB", media.path)));
        }
        let bytes = std::fs::read(path).map_err(|e| SendError::Fatal(format!("cannot read {}: {e}", media.path)))?;
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let (method, field) = upload::method_for(media.kind);
        let reply_to = self.reply_to(opts);
        let send = |caption: Option<(String, bool)>| {
            let mut fields: Vec<(&str, String)> = vec![("chat_id", chat.chat_id.clone())];
            if let Some(thread) = &chat.thread_id {
                fields.push(("message_thread_id", thread.clone()));
            }
            if let Some((caption, v2)) = caption {
                fields.push(("caption", caption));
                if v2 {
                    fields.push(("parse_mode", "MarkdownV2".into()));
                }
            }
            if let Some(reply) = reply_to {
                let params = Body::new().id("message_id", reply).bool("allow_sending_without_reply", true);
                fields.push(("reply_parameters", params.to_json()));
            }
            if !opts.buttons.is_empty() {
                fields.push(("reply_markup", miniserde::json::to_string(&keyboard(&opts.buttons))));
            }
            let form = Multipart::new(&fields, (field, file_name, &bytes));
            let text = self.api.call_multipart(&self.upload_agent, method, form, SHORT_BODY_LIMIT)?;
            let sent: crate::wire::Envelope<SentMessage> = miniserde::json::from_str(&text)
                .map_err(|_| ApiError::Decode(format!("{method}: unexpected result")))?;
            sent.result
                .map(|m| m.message_id.to_string())
                .ok_or_else(|| ApiError::Decode(format!("{method}: no result")))
        };
        let caption = media.caption.as_deref().filter(|c| !c.trim().is_empty());
        let first = match caption {
            Some(c) if !opts.plain => send(Some((markdown::to_telegram_v2(c), true))),
            Some(c) => send(Some((c.to_string(), false))),
            None => send(None),
        };
        match (first, caption) {
            (Err(e), Some(c)) if !opts.plain && e.is_bad_request("can't parse entities") => {
                send(Some((markdown::to_plain(c), false))).map_err(|e| e.to_send_error())
            }
            (result, _) => result.map_err(|e| e.to_send_error()),
        }
    }

    fn set_commands(&self, commands: &[BotCommand]) -> Result<(), SendError> {
        let list = array(
            commands
                .iter()
                .map(|c| Body::new().str("command", &c.name).str("description", &c.description).into_value()),
        );
        self.call_ok("setMyCommands", &Body::new().value("commands", list)).map_err(|e| e.to_send_error())
    }

    fn liveness(&self) -> Liveness {
        self.state.liveness.clone()
    }

    fn stop(&self) {
        self.state.stop.store(true, Ordering::SeqCst);
    }
}
