//! `MatrixAdapter`: the outbound calls (P13) and the handle on the sync thread.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hermes_platform::{
    Adapter, BotCommand, Capabilities, ChatRef, Dialect, LenUnit, Liveness, MediaKind, OutboundMedia, SendError,
    SendOptions, markdown,
};
use miniserde::json::Value;

use crate::api::{ApiError, BODY_LIMIT, enc};
use crate::json::{n, obj, s, set, str_at};
use crate::state::Shared;

/// How long one typing notification lasts; the gateway renews it before it runs out.
const TYPING_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;

/// A connected Matrix bot.
pub struct MatrixAdapter {
    pub(crate) shared: Arc<Shared>,
    capabilities: Capabilities,
}

/// The `content` of an `m.text` message: `body` (the Markdown as written, readable as is) and
/// the HTML `formatted_body`, or `body` alone for plain text.
pub(crate) fn text_content(text: &str, plain: bool) -> Value {
    if plain {
        return obj([("msgtype", s("m.text")), ("body", s(text))]);
    }
    obj([
        ("msgtype", s("m.text")),
        ("body", s(text)),
        ("format", s("org.matrix.custom.html")),
        ("formatted_body", s(&markdown::to_html(text))),
    ])
}

/// `m.relates_to` for a message in `thread` and/or answering `reply_to`.
pub(crate) fn relation(thread: Option<&str>, reply_to: Option<&str>) -> Option<Value> {
    match (thread, reply_to) {
        (Some(root), reply) => Some(obj([
            ("rel_type", s("m.thread")),
            ("event_id", s(root)),
            ("is_falling_back", Value::Bool(reply.is_none())),
            ("m.in_reply_to", obj([("event_id", s(reply.unwrap_or(root)))])),
        ])),
        (None, Some(reply)) => Some(obj([("m.in_reply_to", obj([("event_id", s(reply))]))])),
        (None, None) => None,
    }
}

/// An edit of `event_id` (`m.replace`): the new content, with a `* ` fallback for old clients.
pub(crate) fn edit_content(event_id: &str, text: &str, plain: bool) -> Value {
    let new = text_content(text, plain);
    let mut content = text_content(&format!("* {text}"), plain);
    set(&mut content, "m.new_content", new);
    set(&mut content, "m.relates_to", obj([("rel_type", s("m.replace")), ("event_id", s(event_id))]));
    content
}

/// A transaction id from the outbox idempotency key: the same key gives the same id, so the
/// homeserver answers a resend with the first event instead of posting twice.
pub(crate) fn txn_from_key(key: &str) -> String {
    let safe: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    // The hash keeps distinct keys distinct after the character replacement.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("hl.{safe}.{h:016x}")
}

impl MatrixAdapter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let capabilities = Capabilities {
            max_message_len: shared.config.max_message_length,
            len_unit: LenUnit::Chars,
            can_edit: true,
            can_typing: true,
            can_delete: true,
            has_threads: true,
            dialect: Dialect::Html,
            command_menu: false,
            typing_interval: Duration::from_secs(8),
            streaming_cursor: false,
        };
        MatrixAdapter { shared, capabilities }
    }

    /// The bot's user id as the homeserver reported it.
    pub fn user_id(&self) -> &str {
        &self.shared.bot.user_id
    }

    /// True once the homeserver rejected the credentials while syncing; the thread ended.
    pub fn is_fatal(&self) -> bool {
        self.shared.fatal.load(Ordering::SeqCst)
    }

    fn send_event(&self, room: &str, content: &Value, txn: &str) -> Result<String, ApiError> {
        let path = format!("/rooms/{}/send/m.room.message/{}", enc(room), enc(txn));
        let v = self.shared.api.call(&self.shared.agent, "PUT", &path, "", Some(content), BODY_LIMIT)?;
        let id = str_at(&v, &["event_id"]).ok_or_else(|| ApiError::Decode("send: no event_id".into()))?.to_string();
        self.shared.remember_own(&id);
        Ok(id)
    }

    fn txn(&self, opts: &SendOptions) -> String {
        match &opts.idempotency_key {
            Some(key) => txn_from_key(key),
            None => self.shared.fresh_txn(),
        }
    }

    /// After a message, the "typing…" shown for the turn goes away.
    fn stop_typing(&self, room: &str) {
        if !self.shared.typing_rooms.lock().unwrap_or_else(|e| e.into_inner()).remove(room) {
            return;
        }
        let path = format!("/rooms/{}/typing/{}", enc(room), enc(&self.shared.bot.user_id));
        let body = obj([("typing", Value::Bool(false))]);
        if let Err(e) = self.shared.api.call(&self.shared.agent, "PUT", &path, "", Some(&body), BODY_LIMIT) {
            log::debug!("matrix: typing off in {room} failed: {e}");
        }
    }

    fn upload(&self, path: &std::path::Path, mime: &str) -> Result<String, SendError> {
        let size = std::fs::metadata(path)
            .map_err(|e| SendError::Fatal(format!("cannot read {}: {e}", path.display())))?
            .len();
        if size > MAX_UPLOAD_BYTES {
            return Err(SendError::Fatal(format!("{} is {size} bytes; the limit is 50 MB", path.display())));
        }
        let bytes =
            std::fs::read(path).map_err(|e| SendError::Fatal(format!("cannot read {}: {e}", path.display())))?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let v = self.shared.api.upload(&self.shared.agent, name, mime, bytes).map_err(|e| e.to_send_error())?;
        str_at(&v, &["content_uri"])
            .map(str::to_string)
            .ok_or_else(|| SendError::Transient { message: "upload: no content_uri".into(), maybe_delivered: true })
    }
}

/// A MIME type from the file name, for the upload and the event's `info`.
fn mime_for(path: &std::path::Path, kind: MediaKind) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        "txt" | "md" => "text/plain",
        _ => match kind {
            MediaKind::Photo => "image/png",
            _ => "application/octet-stream",
        },
    }
}

impl Adapter for MatrixAdapter {
    fn platform(&self) -> &str {
        "matrix"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn send_text(&self, chat: &ChatRef, text: &str, opts: &SendOptions) -> Result<String, SendError> {
        if LenUnit::Chars.measure(text) > self.capabilities.max_message_len {
            return Err(SendError::TooLong);
        }
        let reply = opts.reply_to.as_deref().filter(|_| !opts.continuation);
        let mut content = text_content(text, opts.plain);
        if let Some(rel) = relation(chat.thread_id.as_deref(), reply) {
            set(&mut content, "m.relates_to", rel);
        }
        if !opts.buttons.is_empty() {
            // No buttons on Matrix: list the choices so the user can type one.
            let choices: Vec<String> =
                opts.buttons.iter().flatten().map(|b| format!("• {} → reply `{}`", b.label, b.data)).collect();
            let full = format!("{text}\n\n{}", choices.join("\n"));
            let mut with = text_content(&full, opts.plain);
            if let Some(rel) = relation(chat.thread_id.as_deref(), reply) {
                set(&mut with, "m.relates_to", rel);
            }
            content = with;
        }
        let id = self.send_event(&chat.chat_id, &content, &self.txn(opts)).map_err(|e| e.to_send_error())?;
        self.stop_typing(&chat.chat_id);
        Ok(id)
    }

    fn edit_text(&self, chat: &ChatRef, message_id: &str, text: &str, plain: bool) -> Result<(), SendError> {
        if LenUnit::Chars.measure(text) > self.capabilities.max_message_len {
            return Err(SendError::TooLong);
        }
        let content = edit_content(message_id, text, plain);
        self.send_event(&chat.chat_id, &content, &self.shared.fresh_txn()).map(|_| ()).map_err(|e| e.to_send_error())
    }

    fn delete(&self, chat: &ChatRef, message_id: &str) -> Result<(), SendError> {
        let path =
            format!("/rooms/{}/redact/{}/{}", enc(&chat.chat_id), enc(message_id), enc(&self.shared.fresh_txn()));
        self.shared
            .api
            .call(&self.shared.agent, "PUT", &path, "", Some(&obj([])), BODY_LIMIT)
            .map(|_| ())
            .map_err(|e| e.to_send_error())
    }

    fn typing(&self, chat: &ChatRef) -> Result<(), SendError> {
        let path = format!("/rooms/{}/typing/{}", enc(&chat.chat_id), enc(&self.shared.bot.user_id));
        let body = obj([("typing", Value::Bool(true)), ("timeout", n(TYPING_TIMEOUT.as_millis() as u64))]);
        self.shared
            .api
            .call(&self.shared.agent, "PUT", &path, "", Some(&body), BODY_LIMIT)
            .map_err(|e| e.to_send_error())?;
        self.shared.typing_rooms.lock().unwrap_or_else(|e| e.into_inner()).insert(chat.chat_id.clone());
        Ok(())
    }

    fn send_media(&self, chat: &ChatRef, media: &OutboundMedia, opts: &SendOptions) -> Result<String, SendError> {
        let path = std::path::Path::new(&media.path);
        let mime = mime_for(path, media.kind);
        let uri = self.upload(path, mime)?;
        let msgtype = match media.kind {
            MediaKind::Photo => "m.image",
            MediaKind::Video => "m.video",
            MediaKind::Audio | MediaKind::Voice => "m.audio",
            MediaKind::Document => "m.file",
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let mut content = obj([
            ("msgtype", s(msgtype)),
            ("body", s(media.caption.as_deref().filter(|c| !c.trim().is_empty()).unwrap_or(name))),
            ("filename", s(name)),
            ("url", s(&uri)),
            ("info", obj([("mimetype", s(mime)), ("size", n(size))])),
        ]);
        let reply = opts.reply_to.as_deref().filter(|_| !opts.continuation);
        if let Some(rel) = relation(chat.thread_id.as_deref(), reply) {
            set(&mut content, "m.relates_to", rel);
        }
        self.send_event(&chat.chat_id, &content, &self.txn(opts)).map_err(|e| e.to_send_error())
    }

    fn set_commands(&self, _commands: &[BotCommand]) -> Result<(), SendError> {
        Ok(())
    }

    fn liveness(&self) -> Liveness {
        self.shared.liveness.clone()
    }

    fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}
