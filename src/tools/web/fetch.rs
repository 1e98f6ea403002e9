//! One page for web_extract: only http and https, redirects followed here (at most
//! [`MAX_REDIRECTS`]) so every hop passes the SSRF guard again, the body read up to
//! [`MAX_BODY_BYTES`].

use std::io::Read;
use std::time::Duration;

use hermes_platform::http::{AgentOptions, HttpContext};

use super::ssrf;
use crate::tools::ToolEnv;

pub const MAX_REDIRECTS: usize = 5;
/// Bytes of a body read at most; the rest of a bigger page is ignored.
pub const MAX_BODY_BYTES: u64 = 2 * 1024 * 1024;

/// A fetched page.
pub struct Page {
    /// Where the last redirect led.
    pub url: String,
    pub content_type: String,
    pub body: Vec<u8>,
    /// The body was longer than [`MAX_BODY_BYTES`].
    pub truncated: bool,
}

/// The shared TLS setup (built once: the root store is not free to build).
pub fn http(env: &ToolEnv) -> Result<&'static HttpContext, String> {
    static CTX: std::sync::OnceLock<Result<HttpContext, String>> = std::sync::OnceLock::new();
    let cert = env.config.env_var("SSL_CERT_FILE").map(std::path::PathBuf::from);
    CTX.get_or_init(|| HttpContext::new(cert.as_deref())).as_ref().map_err(Clone::clone)
}

/// An agent for model-chosen URLs: the SSRF filter on every connection unless private
/// addresses are allowed, no automatic redirects.
pub fn agent(env: &ToolEnv, guard: bool) -> Result<ureq::Agent, String> {
    Ok(http(env)?.agent(&AgentOptions {
        connect_timeout: Some(Duration::from_secs(10)),
        global_timeout: Some(Duration::from_secs(30)),
        allow_address: guard.then_some(ssrf::allowed as fn(std::net::IpAddr) -> bool),
        ..AgentOptions::default()
    }))
}

/// Checks the scheme and host of `url` (and the addresses of the host when `guard`).
fn check(url: &str, guard: bool) -> Result<(), String> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        return Err(format!("only http and https URLs can be fetched, not {url}"));
    }
    let uri: ureq::http::Uri = url.parse().map_err(|_| format!("not a valid URL: {url}"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("only http and https URLs can be fetched, not {url}")),
    };
    let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(|| format!("no host in the URL {url}"))?;
    if guard {
        ssrf::check_host(host, uri.port_u16().unwrap_or(if https { 443 } else { 80 }))?;
    }
    Ok(())
}

/// Fetches `url`, following redirects by hand.
pub fn fetch(agent: &ureq::Agent, url: &str, guard: bool) -> Result<Page, String> {
    let mut url = url.trim().to_string();
    for _ in 0..=MAX_REDIRECTS {
        check(&url, guard)?;
        let response = agent
            .get(&url)
            .header("Accept", "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5")
            .config()
            .max_redirects(0)
            .build()
            .call()
            .map_err(|e| match e {
                ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
                    format!("refused to fetch {url}: its address is on a private network")
                }
                e => format!("cannot fetch {url}: {e}"),
            })?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string).unwrap_or_default()
        };
        if (300..400).contains(&status) && status != 304 {
            let location = header("location");
            if location.is_empty() {
                return Err(format!("{url} answered {status} without a Location"));
            }
            url = join(&url, &location);
            continue;
        }
        if status >= 400 {
            return Err(format!("{url} answered HTTP {status}"));
        }
        let content_type = header("content-type");
        let mut body = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("cannot read {url}: {e}"))?;
        let truncated = body.len() as u64 > MAX_BODY_BYTES;
        body.truncate(MAX_BODY_BYTES as usize);
        return Ok(Page { url, content_type, body, truncated });
    }
    Err(format!("too many redirects (more than {MAX_REDIRECTS}), last to {url}"))
}

/// Resolves a `Location` against the URL that sent it.
pub fn join(base: &str, location: &str) -> String {
    let location = location.trim();
    if location.contains("://") {
        return location.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{}{rest}", &base[..scheme_end]);
    }
    let host_end = base[scheme_end..].find(['/', '?', '#']).map_or(base.len(), |i| scheme_end + i);
    if location.starts_with('/') {
        return format!("{}{location}", &base[..host_end]);
    }
    let path = &base[host_end..];
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{}{dir}{location}", &base[..host_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_locations_are_resolved_against_the_current_url() {
        assert_eq!(join("http://a.b/x/y?q", "https://c.d/e"), "https://c.d/e");
        assert_eq!(join("http://a.b/x/y?q", "//c.d/e"), "http://c.d/e");
        assert_eq!(join("http://a.b/x/y?q", "/z"), "http://a.b/z");
        assert_eq!(join("http://a.b/x/y?q", "z"), "http://a.b/x/z");
        assert_eq!(join("http://a.b", "z"), "http://a.b/z");
    }

    /// A loopback server answering every request with `response` (connection closed after).
    fn serve(response: Vec<u8>) -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten().take(20) {
                let mut conn = conn;
                let mut buf = [0u8; 4096];
                let _ = std::io::Read::read(&mut conn, &mut buf);
                let _ = std::io::Write::write_all(&mut conn, &response);
            }
        });
        port
    }

    #[test]
    fn redirects_and_body_size_are_capped() {
        let env = crate::tools::test_env::env(std::path::Path::new("/nonexistent"));
        let agent = agent(&env, false).unwrap();
        let port =
            serve(b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec());
        let e = fetch(&agent, &format!("http://127.0.0.1:{port}/"), false).err().unwrap();
        assert!(e.contains("too many redirects (more than 5)"), "{e}");
        let size = MAX_BODY_BYTES as usize + 10;
        let mut big = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes();
        big.extend(std::iter::repeat_n(b'x', size));
        let port = serve(big);
        let page = fetch(&agent, &format!("http://127.0.0.1:{port}/"), false).unwrap();
        assert!(page.truncated && page.body.len() == MAX_BODY_BYTES as usize);
    }

    #[test]
    fn only_http_and_https_with_a_host_are_fetched() {
        assert!(check("file:///etc/passwd", false).unwrap_err().contains("only http and https"));
        assert!(check("ftp://x.org/", false).unwrap_err().contains("only http and https"));
        assert!(check("http://127.0.0.1:9/", true).unwrap_err().contains("loopback"));
        assert!(check("http://127.0.0.1:9/", false).is_ok());
    }
}
