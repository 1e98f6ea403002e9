//! Telegram Bot API platform: long polling in, `sendMessage` and friends out.
//!
//! [`configure`] reads the settings, [`TelegramConfig`]'s `connect` checks the token with
//! `getMe` and starts the `telegram-poll` thread, and [`TelegramAdapter`] does the outbound
//! calls. The Bot API's JSON stays private in `wire`; everything leaves this crate as the
//! contract's types.

mod adapter;
mod api;
mod config;
mod connect;
mod inbound;
mod media;
mod poll;
mod upload;
mod wire;

#[cfg(test)]
mod tests;

pub use adapter::{MAX_MESSAGE_LEN, TelegramAdapter};
pub use config::{AllowBots, DEFAULT_BASE_URL, ReplyToMode, TelegramConfig, configure, normalize_base_url};
pub use connect::connect;
