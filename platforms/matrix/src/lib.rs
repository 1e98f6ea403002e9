//! Matrix client-server API platform: `/sync` long polling in, `m.room.message` out.
//!
//! [`configure`] reads the settings; [`MatrixConfig`]'s `connect` logs in (or reuses the login
//! stored with the cursor), checks `whoami` and starts the `matrix-sync` thread;
//! [`MatrixAdapter`] does the outbound calls. Matrix JSON stays inside this crate; everything
//! leaves it as the contract's types. End-to-end encryption is not supported: an encrypted
//! room gets one notice saying so.

mod adapter;
mod api;
mod config;
mod connect;
mod inbound;
mod json;
mod state;
mod sync;

#[cfg(test)]
mod tests;

pub use adapter::MatrixAdapter;
pub use config::{Auth, DEFAULT_MAX_MESSAGE_LENGTH, MatrixConfig, configure, normalize_homeserver};
pub use connect::connect;
