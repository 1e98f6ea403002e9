//! `MessageEvent`: one inbound thing a platform hands to the gateway.
//!
//! Events are journaled as JSON in the gateway's inbox before anything else happens to them, so
//! every type here derives miniserde's `Serialize`/`Deserialize` and keeps to its limits (named
//! fields, C-like enums, `Option` for what may be absent).

use miniserde::{Deserialize, Serialize};

/// What kind of event this is. `Command` is decided by the gateway from the text, platforms
/// deliver commands as `Text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    Text,
    Photo,
    Video,
    Audio,
    Voice,
    Document,
    Sticker,
    Location,
    Command,
    /// A button press (Telegram `callback_query`); `text` holds the button's data.
    Callback,
    /// The user edited an earlier message; `text` holds the new text.
    Edit,
    /// A reaction was added; `text` holds the emoji.
    Reaction,
}

/// Where a conversation happens. Session keys are built from this (see the gateway).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatType {
    Dm,
    Group,
    Channel,
    Thread,
    Forum,
}

impl ChatType {
    /// The lower-case name Hermes uses in session keys (`dm`, `group`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ChatType::Dm => "dm",
            ChatType::Group => "group",
            ChatType::Channel => "channel",
            ChatType::Thread => "thread",
            ChatType::Forum => "forum",
        }
    }
}

/// Who sent the event and in which chat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// The platform's name as used in config and session keys (`telegram`).
    pub platform: String,
    pub chat_id: String,
    pub chat_name: Option<String>,
    pub chat_type: ChatType,
    /// `None` when the platform gives no sender (channel posts); such events are denied unless a
    /// chat-scoped allowlist matches.
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    /// Thread or forum topic inside the chat (Telegram `message_thread_id`, Matrix `m.thread`).
    pub thread_id: Option<String>,
    pub is_bot: bool,
    /// The platform's own rules admitted the sender by a role (Discord `DISCORD_ALLOWED_ROLES`):
    /// the gateway's access check counts it as an allowlist match. `None` everywhere else;
    /// missing in events journaled before it existed.
    pub role_authorized: Option<bool>,
}

/// The message this event replies to, when the platform says so.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplyTo {
    pub message_id: String,
    pub text: Option<String>,
    pub author_id: Option<String>,
    /// True when the replied-to message was sent by this bot.
    pub is_own: bool,
}

/// A downloaded attachment: a local file and its MIME type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Media {
    pub path: String,
    pub mime: String,
}

/// One inbound event, as the platform saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageEvent {
    pub kind: EventKind,
    /// The text (a caption counts as text). Commands keep their leading `/`.
    pub text: String,
    pub source: Source,
    /// The platform's id of the message (used for replies and edits).
    pub message_id: String,
    /// The platform's id of the update that carried it (Telegram `update_id`).
    pub update_id: String,
    /// Unique per event within the platform; the inbox drops a second event with the same key.
    /// Use something the platform redelivers unchanged (Telegram: the update id).
    pub message_key: String,
    pub reply_to: Option<ReplyTo>,
    pub media: Vec<Media>,
    /// Synthetic events made by the gateway itself (background completions, cron). Platforms
    /// always set `false`.
    pub internal: bool,
    /// When the platform says the message was sent, unix seconds.
    pub timestamp: f64,
}

impl MessageEvent {
    /// A plain text event with the fields most platforms fill; the rest can be set after.
    pub fn text(source: Source, message_id: &str, update_id: &str, text: &str, timestamp: f64) -> Self {
        MessageEvent {
            kind: EventKind::Text,
            text: text.to_string(),
            source,
            message_id: message_id.to_string(),
            update_id: update_id.to_string(),
            message_key: update_id.to_string(),
            reply_to: None,
            media: Vec::new(),
            internal: false,
            timestamp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let source = Source {
            platform: "telegram".into(),
            chat_id: "42".into(),
            chat_name: None,
            chat_type: ChatType::Dm,
            user_id: Some("42".into()),
            user_name: Some("ann".into()),
            thread_id: None,
            is_bot: false,
            role_authorized: None,
        };
        let mut event = MessageEvent::text(source, "7", "1001", "hello", 1700000000.0);
        event.media.push(Media { path: "/tmp/a.jpg".into(), mime: "image/jpeg".into() });
        let json = miniserde::json::to_string(&event);
        let back: MessageEvent = miniserde::json::from_str(&json).unwrap();
        assert_eq!(back, event);
    }
}
