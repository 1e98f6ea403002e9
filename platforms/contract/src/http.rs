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
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(HttpContext { tls: Arc::new(tls) })
    }

    pub fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    pub fn agent(&self, opts: &AgentOptions) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(opts.connect_timeout)
            .timeout_recv_response(opts.response_timeout)
            .timeout_recv_body(opts.read_timeout)
            .timeout_global(opts.global_timeout)
            .build();
        ureq::Agent::new_with_config(config)
    }
}
