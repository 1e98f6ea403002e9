//! Discord platform: the gateway WebSocket (v10, JSON) in, REST out.
//!
//! [`configure`] reads the settings, [`DiscordConfig`]'s `connect` checks the token with
//! `GET /users/@me`, finds the gateway with `GET /gateway/bot` and starts the
//! `discord-gateway` thread (tungstenite over rustls), and [`DiscordAdapter`] does the
//! outbound calls with Discord's per-route rate limits. The wire JSON stays private in `wire`.

mod adapter;
mod config;
mod connect;
mod gateway;
mod inbound;
mod ratelimit;
mod rest;
mod wire;

#[cfg(test)]
mod tests;

pub use adapter::{DiscordAdapter, MAX_MESSAGE_LEN};
pub use config::{AllowBots, DEFAULT_API_BASE, DiscordConfig, ReplyToMode, configure};
pub use connect::connect;
