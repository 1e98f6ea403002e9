//! The one TLS configuration and the HTTP agent factory every platform (and the LLM client) use.
//!
//! Roots are webpki's plus every certificate in `SSL_CERT_FILE` (a corporate proxy's CA, a
//! self-hosted Bot API server). ureq's own `RootCerts` cannot express "webpki plus extras"
//! (webpki roots are trust anchors, not certificates), so agents get a small connector that
//! wraps ureq's TCP and CONNECT-proxy transports in TLS with this crate's rustls config.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConnection, StreamOwned};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout,
    TcpConnector, Transport, TransportAdapter,
};

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

/// The `User-Agent` of every request: `hermes-lite/<version>`.
pub fn user_agent() -> String {
    format!("hermes-lite/{}", env!("CARGO_PKG_VERSION"))
}

impl HttpContext {
    /// Builds the TLS config; `ssl_cert_file` (the `SSL_CERT_FILE` path) must hold at least one
    /// PEM certificate.
    pub fn new(ssl_cert_file: Option<&Path>) -> Result<HttpContext, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = ssl_cert_file {
            for cert in read_pem_certs(path)? {
                roots.add(cert).map_err(|e| {
                    format!("SSL_CERT_FILE {}: bad certificate: {e}", path.display())
                })?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(HttpContext { tls: Arc::new(tls) })
    }

    pub fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// A `ureq` agent using this TLS config; HTTP error statuses are responses, not errors.
    pub fn agent(&self, opts: &AgentOptions) -> ureq::Agent {
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(user_agent())
            .timeout_connect(opts.connect_timeout)
            .timeout_recv_response(opts.response_timeout)
            .timeout_recv_body(opts.read_timeout)
            .timeout_global(opts.global_timeout);
        if let Some(proxy) = &opts.proxy {
            match ureq::Proxy::new(proxy) {
                Ok(p) => builder = builder.proxy(Some(p)),
                Err(e) => log::warn!("ignoring invalid proxy {proxy:?}: {e}"),
            }
        }
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(TcpConnector::default())
                .chain(TlsConnector {
                    config: self.tls.clone(),
                });
        ureq::Agent::with_parts(builder.build(), connector, DefaultResolver::default())
    }
}

/// Every `CERTIFICATE` block of a PEM file; an unreadable file or one without certificates is
/// an error naming the path.
fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let what = |e: &dyn fmt::Display| format!("SSL_CERT_FILE {}: {e}", path.display());
    let bytes = std::fs::read(path).map_err(|e| what(&e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| what(&e))?;
    if certs.is_empty() {
        return Err(what(&"no PEM certificate in the file"));
    }
    Ok(certs)
}

/// Wraps the chained transport in TLS with our rustls config when the request needs it.
struct TlsConnector {
    config: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsConnector")
    }
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .ok_or(ureq::Error::Tls("no host in uri"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let name =
            ServerName::try_from(host).map_err(|_| ureq::Error::Tls("invalid TLS server name"))?;
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
