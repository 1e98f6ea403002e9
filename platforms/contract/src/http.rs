//! The one TLS configuration and the HTTP agent factory every platform (and the LLM client) use.
//!
//! TODO(helper A): implement. Roots are webpki's plus every certificate in `SSL_CERT_FILE`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Shared TLS client configuration; cheap to clone.
#[derive(Clone)]
pub struct HttpContext {
    tls: Arc<rustls::ClientConfig>,
}

/// Timeouts and proxy for one agent.
#[derive(Clone, Debug, Default)]
pub struct AgentOptions {
    pub connect_timeout: Option<Duration>,
    /// Until the response headers arrive.
    pub response_timeout: Option<Duration>,
    /// Between two reads of the body (a stall detector for streams).
    pub read_timeout: Option<Duration>,
    /// The whole call.
    pub global_timeout: Option<Duration>,
    /// `http://host:port` CONNECT proxy for this agent (env proxies apply otherwise).
    pub proxy: Option<String>,
}

impl HttpContext {
    pub fn new(_ssl_cert_file: Option<&Path>) -> Result<HttpContext, String> {
        unimplemented!()
    }

    pub fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    pub fn agent(&self, _opts: &AgentOptions) -> ureq::Agent {
        unimplemented!()
    }
}
