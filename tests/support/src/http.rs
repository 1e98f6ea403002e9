//! A small HTTP/1.1 server for the fakes, on threads and `std::net`.
//!
//! Hand-written because the fakes need little (request line, headers, a Content-Length or chunked
//! body; responses with Content-Length or chunked for SSE) and a server crate would bring an async
//! runtime. Each connection gets a thread that serves requests in a keep-alive loop, since ureq
//! reuses connections. Dropping the [`Server`] stops accepting and shuts every open connection, so
//! a client sees the fake go away the way a crashed server does.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// One parsed request; the body is already read in full.
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The handler every fake gives the server; it must answer through the [`Responder`].
pub type Handler = Arc<dyn Fn(&Request, &mut Responder) + Send + Sync>;

/// A connection's byte stream, plain or TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Writes one response: either whole ([`Responder::send`]) or chunked ([`Responder::start_chunked`]).
pub struct Responder<'a> {
    stream: &'a mut Stream,
    keep_alive: bool,
    started: bool,
    chunked_open: bool,
    broken: bool,
}

impl Responder<'_> {
    /// Sends a complete response with a Content-Length body.
    pub fn send(&mut self, status: u16, content_type: &str, headers: &[(&str, &str)], body: &[u8]) {
        let head = self.head(status, content_type, headers, &format!("Content-Length: {}", body.len()));
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        self.write_all(&out);
    }

    pub fn json(&mut self, status: u16, body: &str) {
        self.send(status, "application/json", &[], body.as_bytes());
    }

    /// Starts a chunked response; follow with [`Responder::chunk`] and [`Responder::finish`].
    pub fn start_chunked(&mut self, status: u16, content_type: &str, headers: &[(&str, &str)]) {
        let head = self.head(status, content_type, headers, "Transfer-Encoding: chunked");
        self.write_all(head.as_bytes());
        self.chunked_open = true;
    }

    /// Sends one chunk and flushes it, so the client sees it now. Errors mean the client left.
    pub fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut out = format!("{:x}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        self.write_all(&out);
        if self.broken { Err(io::ErrorKind::BrokenPipe.into()) } else { Ok(()) }
    }

    /// Ends a chunked response.
    pub fn finish(&mut self) {
        if self.chunked_open {
            self.chunked_open = false;
            self.write_all(b"0\r\n\r\n");
        }
    }

    /// Ends the connection without finishing the response: a server crash mid-stream.
    pub fn cut(&mut self) {
        let _ = self.stream.tcp().shutdown(Shutdown::Both);
        self.chunked_open = false;
        self.broken = true;
    }

    /// True once the client has closed its side (or the connection broke).
    ///
    /// Peeks the socket without blocking. Over TLS pending bytes may be a close_notify, so there
    /// this only notices a write failure or a full close.
    pub fn peer_closed(&mut self) -> bool {
        if self.broken {
            return true;
        }
        let tcp = self.stream.tcp();
        if tcp.set_nonblocking(true).is_err() {
            return true;
        }
        let mut b = [0u8; 1];
        let closed = match tcp.peek(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        };
        let _ = tcp.set_nonblocking(false);
        if closed {
            self.broken = true;
        }
        closed
    }

    fn head(&mut self, status: u16, content_type: &str, headers: &[(&str, &str)], length: &str) -> String {
        self.started = true;
        let conn = if self.keep_alive { "keep-alive" } else { "close" };
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\n{length}\r\nConnection: {conn}\r\n",
            reason(status)
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        head
    }

    fn write_all(&mut self, data: &[u8]) {
        if self.broken {
            return;
        }
        if self.stream.write_all(data).and_then(|_| self.stream.flush()).is_err() {
            self.broken = true;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A listening server on 127.0.0.1 with an OS-chosen port.
pub struct Server {
    addr: SocketAddr,
    closing: Arc<AtomicBool>,
    conns: Arc<Mutex<HashMap<u64, TcpStream>>>,
}

impl Server {
    pub fn start(handler: Handler, tls: Option<Arc<ServerConfig>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let closing = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<HashMap<u64, TcpStream>>> = Arc::default();
        let (c2, conns2) = (closing.clone(), conns.clone());
        thread::Builder::new()
            .name(format!("fake-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, handler, tls, c2, conns2))
            .expect("spawn accept thread");
        Server { addr, closing, conns }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// True once the server is being dropped; long waits in handlers should give up.
    pub fn closing_flag(&self) -> Arc<AtomicBool> {
        self.closing.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.closing.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        for (_, c) in self.conns.lock().unwrap().drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    handler: Handler,
    tls: Option<Arc<ServerConfig>>,
    closing: Arc<AtomicBool>,
    conns: Arc<Mutex<HashMap<u64, TcpStream>>>,
) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    for tcp in listener.incoming() {
        if closing.load(Ordering::SeqCst) {
            break;
        }
        let Ok(tcp) = tcp else { continue };
        let _ = tcp.set_nodelay(true);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        if let Ok(c) = tcp.try_clone() {
            conns.lock().unwrap().insert(id, c);
        }
        let stream = match &tls {
            None => Stream::Plain(tcp),
            Some(cfg) => match ServerConnection::new(cfg.clone()) {
                Ok(conn) => Stream::Tls(Box::new(StreamOwned::new(conn, tcp))),
                Err(_) => continue,
            },
        };
        let (handler, conns2) = (handler.clone(), conns.clone());
        let spawned = thread::Builder::new().name("fake-conn".into()).spawn(move || {
            serve(stream, &handler);
            conns2.lock().unwrap().remove(&id);
        });
        if spawned.is_err() {
            conns.lock().unwrap().remove(&id);
        }
    }
}

fn serve(stream: Stream, handler: &Handler) {
    let mut reader = BufReader::new(stream);
    loop {
        let (req, http11) = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            _ => return,
        };
        let close_asked = req.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let keep_alive = http11 && !close_asked;
        let mut resp =
            Responder { stream: reader.get_mut(), keep_alive, started: false, chunked_open: false, broken: false };
        handler(&req, &mut resp);
        if !resp.started && !resp.broken {
            resp.json(500, r#"{"error":"fake handler sent no response"}"#);
        }
        resp.finish();
        if resp.broken || !keep_alive {
            let _ = reader.get_ref().tcp().shutdown(Shutdown::Both);
            return;
        }
    }
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Reads one request; `Ok(None)` on a clean close between requests.
fn read_request(r: &mut BufReader<Stream>) -> io::Result<Option<(Request, bool)>> {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad request line");
    let method = parts.next().ok_or_else(bad)?.to_string();
    let target = parts.next().ok_or_else(bad)?;
    let http11 = parts.next().is_some_and(|v| v != "HTTP/1.0");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let mut headers = Vec::new();
    let mut head_len = line.len();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head_len += h.len();
        if head_len > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "headers too large"));
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Request { method, path, query, headers, body: Vec::new() };
    if req.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        r.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let chunked = req.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        req.body = read_chunked(r)?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad length"))?;
        if len > MAX_BODY {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        req.body = body;
    }
    Ok(Some((req, http11)))
}

fn read_chunked<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size)?;
        let size = size.trim().split(';').next().unwrap_or("");
        let n = usize::from_str_radix(size, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if body.len() + n > MAX_BODY {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
        }
        if n == 0 {
            // Trailers, then the blank line.
            loop {
                let mut t = String::new();
                if r.read_line(&mut t)? == 0 || t.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + n, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
    }
}
