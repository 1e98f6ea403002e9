//! The outbound half of a platform: the [`Adapter`] trait and what it says about itself.
//!
//! Every method is a short blocking call (one HTTP request or a few); the gateway runs them on
//! its capped blocking pool, never on the executor thread. Text arrives as the agent's Markdown,
//! already split to [`Capabilities::max_message_len`]; the adapter converts it to its dialect.

use std::fmt;
use std::time::Duration;

use crate::inbound::Liveness;

/// A chat (and optional thread inside it) to send to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChatRef {
    pub chat_id: String,
    pub thread_id: Option<String>,
}

impl ChatRef {
    pub fn new(chat_id: impl Into<String>, thread_id: Option<String>) -> Self {
        ChatRef { chat_id: chat_id.into(), thread_id }
    }
}

/// An inline button (Telegram inline keyboard, Discord component, ...). `data` comes back as
/// the text of a [`crate::EventKind::Callback`] event when pressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub data: String,
}

/// How to send one message.
#[derive(Clone, Debug, Default)]
pub struct SendOptions {
    /// Platform message id to reply to; the adapter applies its reply-to mode.
    pub reply_to: Option<String>,
    /// Send the text as is, without Markdown conversion.
    pub plain: bool,
    /// Rows of buttons under the message, where the platform has them.
    pub buttons: Vec<Vec<Button>>,
    /// True for the second and later messages of one reply; platforms in reply mode `first`
    /// do not thread those.
    pub continuation: bool,
    /// The outbox idempotency key of this message, when it has one. Platforms whose API
    /// deduplicates by a client-chosen id (Matrix transaction ids) derive that id from it, so a
    /// retried send after a lost answer does not post twice.
    pub idempotency_key: Option<String>,
}

/// What kind of file an outbound attachment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    Photo,
    Video,
    Audio,
    Voice,
    Document,
}

/// A local file to send.
#[derive(Clone, Debug)]
pub struct OutboundMedia {
    pub path: String,
    pub kind: MediaKind,
    pub caption: Option<String>,
}

/// A command shown in the platform's command menu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotCommand {
    /// Without the leading `/`.
    pub name: String,
    pub description: String,
}

/// Why a send, edit or other outbound call failed. The gateway decides retries from the kind.
#[derive(Clone, Debug, PartialEq)]
pub enum SendError {
    /// The platform asked us to wait (Telegram 429 `retry_after`, Matrix `M_LIMIT_EXCEEDED`).
    RateLimited { retry_after: Duration },
    /// The text is longer than the platform accepts even after splitting.
    TooLong,
    /// The platform rejected the formatting and the plain-text retry failed too.
    BadFormat(String),
    /// The bot may not write there (blocked, kicked, no permission).
    Forbidden(String),
    /// The chat or the message does not exist (any more).
    NotFound(String),
    /// A network error or a 5xx. `maybe_delivered` is true when the request was sent and the
    /// answer was lost (a read timeout): resending blindly could duplicate the message.
    Transient { message: String, maybe_delivered: bool },
    /// Anything retrying cannot fix (bad request, bad token).
    Fatal(String),
}

impl SendError {
    /// A network-level failure where the platform surely did not act on the request.
    pub fn network(message: impl Into<String>) -> Self {
        SendError::Transient { message: message.into(), maybe_delivered: false }
    }

    /// True when trying the same call again later can succeed without risking a duplicate.
    pub fn is_retryable(&self) -> bool {
        match self {
            SendError::RateLimited { .. } => true,
            SendError::Transient { maybe_delivered, .. } => !maybe_delivered,
            _ => false,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::RateLimited { retry_after } => {
                write!(f, "rate limited, retry after {} s", retry_after.as_secs_f32())
            }
            SendError::TooLong => write!(f, "message too long"),
            SendError::BadFormat(m) => write!(f, "formatting rejected: {m}"),
            SendError::Forbidden(m) => write!(f, "forbidden: {m}"),
            SendError::NotFound(m) => write!(f, "not found: {m}"),
            SendError::Transient { message, maybe_delivered: true } => {
                write!(f, "{message} (the platform may have received it)")
            }
            SendError::Transient { message, .. } => write!(f, "{message}"),
            SendError::Fatal(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for SendError {}

/// The unit a platform counts message length in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LenUnit {
    Bytes,
    Chars,
    /// UTF-16 code units (Telegram).
    Utf16,
}

impl LenUnit {
    pub fn measure(self, text: &str) -> usize {
        match self {
            LenUnit::Bytes => text.len(),
            LenUnit::Chars => text.chars().count(),
            LenUnit::Utf16 => text.encode_utf16().count(),
        }
    }
}

/// The Markdown dialect a platform renders (see [`crate::markdown`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Telegram MarkdownV2.
    TelegramV2,
    /// HTML (Matrix `formatted_body`).
    Html,
    /// Slack mrkdwn.
    SlackMrkdwn,
    /// CommonMark as is (Discord, Mattermost).
    Markdown,
    /// No formatting at all (SMS, IRC, Signal).
    Plain,
}

/// What a platform can do; the gateway adapts delivery and streaming to it.
#[derive(Clone, Debug)]
pub struct Capabilities {
    /// Longest message the platform accepts, in `len_unit`s.
    pub max_message_len: usize,
    pub len_unit: LenUnit,
    /// Messages can be edited after sending (needed for streaming).
    pub can_edit: bool,
    pub can_typing: bool,
    pub can_delete: bool,
    pub has_threads: bool,
    pub dialect: Dialect,
    /// The platform shows a command menu ([`Adapter::set_commands`] does something).
    pub command_menu: bool,
    /// How often a typing indicator must be renewed to stay visible.
    pub typing_interval: Duration,
    /// Show a cursor at the end of a message while it streams (Matrix: no).
    pub streaming_cursor: bool,
}

impl Capabilities {
    /// Length of `text` in this platform's unit.
    pub fn measure(&self, text: &str) -> usize {
        self.len_unit.measure(text)
    }
}

/// A connected platform, as the gateway sees it.
pub trait Adapter: Send + Sync + 'static {
    /// The platform's name (`telegram`).
    fn platform(&self) -> &str;

    fn capabilities(&self) -> &Capabilities;

    /// Sends one message (Markdown unless `opts.plain`) and returns the platform's message id.
    /// On a formatting rejection the adapter retries once as plain text itself.
    fn send_text(&self, chat: &ChatRef, text: &str, opts: &SendOptions) -> Result<String, SendError>;

    /// Replaces the text of a message this bot sent. "Not modified" counts as success.
    fn edit_text(&self, chat: &ChatRef, message_id: &str, text: &str, plain: bool) -> Result<(), SendError>;

    fn delete(&self, chat: &ChatRef, message_id: &str) -> Result<(), SendError>;

    /// Shows "typing…" for about [`Capabilities::typing_interval`].
    fn typing(&self, chat: &ChatRef) -> Result<(), SendError>;

    fn send_media(&self, chat: &ChatRef, media: &OutboundMedia, opts: &SendOptions) -> Result<String, SendError>;

    /// Registers the command menu (Telegram `setMyCommands`). A no-op where there is none.
    fn set_commands(&self, commands: &[BotCommand]) -> Result<(), SendError>;

    /// When the platform was last heard from (last completed poll or received frame).
    fn liveness(&self) -> Liveness;

    /// Stops the platform's threads; inbound submission ends soon after.
    fn stop(&self);
}
