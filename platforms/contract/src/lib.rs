//! What a hermes-lite platform is.
//!
//! A platform (Telegram, Matrix, Discord, ...) is a crate in `platforms/<name>` that depends on
//! this crate and on nothing of the runtime: it knows no sessions, no agent and no SQLite. This
//! crate is the whole contract between a platform and the gateway, and the place for the code
//! every platform would otherwise write again.
//!
//! # Writing the next platform
//!
//! 1. **Configuration** ([`settings`]). Export a `configure(&Settings)` function that reads the
//!    platform's env variables (Hermes names: `TELEGRAM_BOT_TOKEN`, `MATRIX_HOMESERVER`, ...)
//!    and `platforms.<name>.*` keys, and returns [`Configured::Off`] when the platform is not
//!    set up (costs nothing), a config, or every problem at once as [`SettingError`]s.
//! 2. **Connect** ([`connect`]). The config implements [`PlatformConfig::connect`]: check the
//!    credentials with one cheap call (a bad token is a [`ConnectError`] with
//!    `retryable: false`; a network error is retryable), start the platform's own thread for
//!    the long wait (long poll, WebSocket read loop, IMAP IDLE, SSE), and return the
//!    [`Adapter`].
//! 3. **Inbound** ([`inbound`], [`event`]). Turn each platform update into a [`MessageEvent`]
//!    at the edge (keep the wire structs private to the crate), apply the platform's own intake
//!    rules (group mention gating), and hand a batch plus the new cursor to
//!    [`InboundSink::submit`]. It returns only after the gateway has journaled the batch; only
//!    then may the platform commit its cursor or acknowledge the update. Push transports
//!    (webhooks) answer the HTTP request after `submit` returns.
//! 4. **Outbound** ([`adapter`]). Implement [`Adapter`]: send, edit, delete, typing, media and
//!    the command menu, each returning a typed [`SendError`]. The gateway already split the text
//!    to [`Capabilities::max_message_len`]; the adapter converts the agent's Markdown to its
//!    dialect ([`markdown`]) and falls back to plain text when the platform rejects the
//!    formatting.
//! 5. **Shared helpers**: [`split`] (message splitting), [`markdown`] (dialect converters),
//!    [`http`] (the one TLS config and the `ureq` agent factory), [`backoff`] (retry delays with
//!    jitter). Use them instead of writing your own.
//!
//! Long waits run on the adapter's own thread; the short calls of the [`Adapter`] trait are
//! blocking and the gateway runs them on its small blocking pool.

pub mod adapter;
pub mod backoff;
pub mod connect;
pub mod event;
pub mod http;
pub mod inbound;
pub mod markdown;
pub mod settings;
pub mod split;

pub use adapter::{
    Adapter, BotCommand, Button, Capabilities, ChatRef, Dialect, LenUnit, MediaKind, OutboundMedia, SendError,
    SendOptions,
};
pub use connect::{ConnectContext, ConnectError, PlatformConfig};
pub use event::{ChatType, EventKind, Media, MessageEvent, ReplyTo, Source};
pub use inbound::{Ack, InboundBatch, InboundSink, Liveness, SubmitError};
pub use settings::{Configured, SettingError, Settings};
