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
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport, TransportAdapter,
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
    /// Addresses the agent may connect to (the web tools' SSRF guard): checked on the very
    /// addresses a request connects to, so a DNS answer cannot change between check and use.
    pub allow_address: Option<fn(std::net::IpAddr) -> bool>,
}

/// True when `error` happened before the request left (resolve, connect, TLS, a bad URL or
/// proxy): the call surely was not sent and may be retried without a duplicate. Everything else
/// (a timeout or reset after sending, a broken read) may have reached the server.
pub fn never_left(error: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    use ureq::Error as E;
    use ureq::Timeout as T;
    match error {
        E::HostNotFound
        | E::ConnectionFailed
        | E::BadUri(_)
        | E::Tls(_)
        | E::Rustls(_)
        | E::InvalidProxyUrl
        | E::ConnectProxyFailed(_)
        | E::Timeout(T::Resolve | T::Connect | T::SendRequest) => true,
        E::Io(io) => {
            matches!(io.kind(), K::ConnectionRefused | K::AddrNotAvailable | K::HostUnreachable | K::NetworkUnreachable)
        }
        _ => false,
    }
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
                roots.add(cert).map_err(|e| format!("SSL_CERT_FILE {}: bad certificate: {e}", path.display()))?;
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
            .timeout_global(opts.global_timeout)
            // Small-host sizes (40-performance.md): ureq's defaults are 128 KiB buffers and
            // ten idle connections.
            .input_buffer_size(32 * 1024)
            .output_buffer_size(32 * 1024)
            .max_idle_connections(4)
            .max_idle_connections_per_host(4);
        if let Some(proxy) = &opts.proxy {
            match ureq::Proxy::new(proxy) {
                Ok(p) => builder = builder.proxy(Some(p)),
                Err(e) => log::warn!("ignoring invalid proxy {proxy:?}: {e}"),
            }
        }
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(TcpConnector::default())
                .chain(TlsConnector { config: self.tls.clone() });
        let resolver = CachingResolver { allow: opts.allow_address, ..Default::default() };
        ureq::Agent::with_parts(builder.build(), connector, resolver)
    }
}

/// Every `CERTIFICATE` block of a PEM file; an unreadable file or one without certificates is
/// an error naming the path.
fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let what = |e: &dyn fmt::Display| format!("SSL_CERT_FILE {}: {e}", path.display());
    let bytes = std::fs::read(path).map_err(|e| what(&e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes).collect::<Result<Vec<_>, _>>().map_err(|e| what(&e))?;
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

    fn connect(&self, details: &ConnectionDetails, chained: Option<In>) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.host().ok_or(ureq::Error::Tls("no host in uri"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let name = ServerName::try_from(host).map_err(|_| ureq::Error::Tls("invalid TLS server name"))?;
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(Either::B(TlsTransport { buffers, stream: StreamOwned { conn, sock } })))
    }
}

/// How long a looked-up address is reused.
const RESOLVE_TTL: Duration = Duration::from_secs(60);
/// Hosts remembered at once (a gateway talks to a handful).
const RESOLVE_CACHE: usize = 8;

/// ureq's resolver with two shortcuts. ureq resolves the host before every request, even when
/// a pooled connection is then reused, and with a timeout set it does so on a new thread: a
/// thread and a DNS query per Telegram call. An IP address is used as is, and a looked-up
/// host is remembered for [`RESOLVE_TTL`].
#[derive(Debug, Default)]
struct CachingResolver {
    inner: DefaultResolver,
    cache: std::sync::Mutex<Vec<(String, std::time::Instant, ResolvedSocketAddrs)>>,
    allow: Option<fn(std::net::IpAddr) -> bool>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.lookup(uri, config, timeout)?;
        if let Some(allow) = self.allow {
            let mut kept = self.inner.empty();
            for a in addrs.iter().filter(|a| allow(a.ip())) {
                kept.push(*a);
            }
            if kept.is_empty() {
                let e = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "the address is not allowed");
                return Err(ureq::Error::Io(e));
            }
            return Ok(kept);
        }
        Ok(addrs)
    }
}

impl CachingResolver {
    fn lookup(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            let mut addrs = self.inner.empty();
            addrs.push(std::net::SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let key = format!("{host}:{port}");
        let now = std::time::Instant::now();
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.retain(|(_, at, _)| now.duration_since(*at) < RESOLVE_TTL);
            if let Some((_, _, addrs)) = cache.iter().find(|(k, _, _)| *k == key) {
                return Ok(addrs.clone());
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= RESOLVE_CACHE {
            cache.remove(0);
        }
        cache.push((key, now, addrs.clone()));
        Ok(addrs)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resolver_skips_ip_literals_and_caches_a_bounded_number_of_hosts() {
        let resolver = CachingResolver::default();
        let config = ureq::Agent::config_builder().build();
        let resolve = |uri: &str| {
            let uri: ureq::http::Uri = uri.parse().unwrap();
            resolver.resolve(&uri, &config, NextTimeout::default()).unwrap()
        };
        let addrs = resolve("https://127.0.0.1:8443/x");
        let expected: std::net::SocketAddr = "127.0.0.1:8443".parse().unwrap();
        assert_eq!(addrs.iter().copied().collect::<Vec<_>>(), vec![expected]);
        assert!(resolver.cache.lock().unwrap().is_empty(), "an IP literal needs no cache entry");
        for port in 1..=RESOLVE_CACHE as u16 + 3 {
            let addrs = resolve(&format!("http://localhost:{port}/"));
            assert!(addrs.iter().all(|a| a.port() == port && a.ip().is_loopback()));
        }
        let cache = resolver.cache.lock().unwrap();
        assert_eq!(cache.len(), RESOLVE_CACHE, "the cache is capped");
        assert_eq!(cache.last().unwrap().0, format!("localhost:{}", RESOLVE_CACHE + 3));
    }
    use rustls::pki_types::PrivateKeyDer;
    use std::net::TcpListener;
    use std::path::PathBuf;
    use std::process::Command;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hermes-http-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A self-signed cert for localhost/127.0.0.1, or `None` without the openssl CLI.
    fn self_signed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let status = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .args(["-nodes", "-subj", "/CN=localhost", "-days", "2"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            // webpki refuses a CA certificate as the server's own (CaUsedAsEndEntity).
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output();
        match status {
            Ok(o) if o.status.success() => Some((cert, key)),
            _ => {
                println!("skipping: the openssl CLI is missing or failed");
                None
            }
        }
    }

    /// Serves `200 ok` over TLS on loopback until the process ends; returns the port.
    fn serve(cert: &Path, key: &Path) -> u16 {
        let certs: Vec<_> = CertificateDer::pem_file_iter(cert).unwrap().map(Result::unwrap).collect();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = StreamOwned::new(conn, tcp);
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                if request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let ua_ok = String::from_utf8_lossy(&request).contains(&user_agent());
                    let body = if ua_ok { "ok" } else { "ua" };
                    let _ = write!(tls, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{body}");
                    let _ = tls.flush();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            }
        });
        port
    }

    #[test]
    fn extra_roots_from_ssl_cert_file_are_trusted() {
        let dir = temp_dir("roots");
        let Some((cert, key)) = self_signed(&dir) else {
            return;
        };
        let port = serve(&cert, &key);
        let url = format!("https://127.0.0.1:{port}/");
        // Direct connection whatever the environment says about proxies.
        let opts = AgentOptions { global_timeout: Some(Duration::from_secs(20)), ..Default::default() };

        let plain = HttpContext::new(None).unwrap();
        let err = plain.agent(&opts).get(&url).config().proxy(None).build().call();
        let err = format!("{:?}", err.expect_err("self-signed cert accepted without SSL_CERT_FILE"));
        assert!(err.contains("UnknownIssuer"), "{err}");

        let trusting = HttpContext::new(Some(&cert)).unwrap();
        let mut resp = trusting.agent(&opts).get(&url).config().proxy(None).build().call().unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.body_mut().read_to_string().unwrap(), "ok");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_cert_files_are_errors_naming_the_path() {
        let dir = temp_dir("bad");
        let missing = dir.join("missing.pem");
        let err = HttpContext::new(Some(&missing)).err().unwrap();
        assert!(err.contains("missing.pem"), "{err}");

        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = HttpContext::new(Some(&empty)).err().unwrap();
        assert!(err.contains("empty.pem") && err.contains("no PEM"), "{err}");

        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        assert!(HttpContext::new(Some(&junk)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn user_agent_names_the_version() {
        assert_eq!(user_agent(), format!("hermes-lite/{}", env!("CARGO_PKG_VERSION")));
    }
}
