//! Starting a platform: what the gateway gives it and what can go wrong.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::adapter::Adapter;
use crate::http::HttpContext;
use crate::inbound::InboundSink;

/// Everything a platform gets from the gateway when it connects.
pub struct ConnectContext {
    /// Where to hand inbound events (journal first, see [`crate::inbound`]).
    pub inbound: InboundSink,
    /// The cursor the platform stored with its last journaled batch (poll offset, sync token).
    pub cursor: Option<String>,
    /// The shared TLS configuration and HTTP agent settings.
    pub http: HttpContext,
    /// A directory for downloaded media (`HERMES_HOME/cache`).
    pub cache_dir: PathBuf,
}

/// Why a platform could not connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectError {
    pub message: String,
    /// False when retrying cannot help (bad token): the gateway marks the platform fatal.
    pub retryable: bool,
}

impl ConnectError {
    pub fn retryable(message: impl Into<String>) -> Self {
        ConnectError { message: message.into(), retryable: true }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        ConnectError { message: message.into(), retryable: false }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

/// A platform's validated configuration, ready to connect.
pub trait PlatformConfig: Send + 'static {
    /// The platform's name (`telegram`).
    fn platform(&self) -> &'static str;

    /// One line for startup logs and `config check`, secrets masked.
    fn describe(&self) -> String;

    /// Secrets this platform holds (tokens), so the runtime can redact them from logs.
    fn secrets(&self) -> Vec<String>;

    /// Checks credentials, starts the platform's thread(s) and returns the adapter.
    fn connect(&self, ctx: ConnectContext) -> Result<Arc<dyn Adapter>, ConnectError>;
}
