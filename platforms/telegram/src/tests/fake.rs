//! A tiny fake Bot API: HTTP/1.1 on a local port, scripted answers per method, every request
//! recorded. Methods without a script get a plausible success.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "123456:TEST-token-abcdef";
pub const BOT_ID: i64 = 4242;
pub const BOT_NAME: &str = "hermes_bot";

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub body: String,
}

/// Scripted answers per method: (HTTP status, body), first in first out.
type Scripts = HashMap<String, VecDeque<(u16, String)>>;

#[derive(Clone)]
pub struct FakeApi {
    pub base: String,
    requests: Arc<Mutex<Vec<Request>>>,
    scripts: Arc<Mutex<Scripts>>,
}

impl FakeApi {
    pub fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let fake = FakeApi {
            base: format!("http://{}", listener.local_addr().unwrap()),
            requests: Arc::default(),
            scripts: Arc::default(),
        };
        let server = fake.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.serve(stream));
            }
        });
        fake
    }

    /// The next call of `method` answers `status` with `body`.
    pub fn push(&self, method: &str, status: u16, body: &str) {
        self.scripts.lock().unwrap().entry(method.to_string()).or_default().push_back((status, body.to_string()));
    }

    pub fn requests(&self, method: &str) -> Vec<Request> {
        self.requests.lock().unwrap().iter().filter(|r| r.method == method).cloned().collect()
    }

    /// Waits (up to 10 s) until `method` was called at least `n` times.
    pub fn wait_for(&self, method: &str, n: usize) -> Vec<Request> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.requests(method);
            if found.len() >= n || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 {
                    return;
                }
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let method = path.rsplit('/').next().unwrap_or("").to_string();
            let token_ok =
                path.starts_with(&format!("/bot{TOKEN}/")) || path.starts_with(&format!("/file/bot{TOKEN}/"));
            self.requests
                .lock()
                .unwrap()
                .push(Request { method: method.clone(), body: String::from_utf8_lossy(&body).into_owned() });
            let (status, answer) = if token_ok { self.answer(&method) } else { (404, not_found()) };
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                answer.len()
            );
            if writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(answer.as_bytes())).is_err() {
                return;
            }
        }
    }

    fn answer(&self, method: &str) -> (u16, String) {
        if let Some(scripted) = self.scripts.lock().unwrap().get_mut(method).and_then(|q| q.pop_front()) {
            return scripted;
        }
        match method {
            "getMe" => (
                200,
                format!(
                    r#"{{"ok":true,"result":{{"id":{BOT_ID},"is_bot":true,"first_name":"Hermes","username":"{BOT_NAME}"}}}}"#
                ),
            ),
            "getUpdates" => {
                // A short idle long poll.
                std::thread::sleep(Duration::from_millis(20));
                (200, r#"{"ok":true,"result":[]}"#.into())
            }
            "getFile" => {
                (200, r#"{"ok":true,"result":{"file_id":"f","file_size":5,"file_path":"photos/file_1.jpg"}}"#.into())
            }
            "file_1.jpg" => (200, "JPEG!".into()),
            "sendMessage" | "sendPhoto" | "sendDocument" | "sendVoice" => {
                (200, r#"{"ok":true,"result":{"message_id":777,"chat":{"id":1,"type":"private"},"date":1}}"#.into())
            }
            _ => (200, r#"{"ok":true,"result":true}"#.into()),
        }
    }
}

fn not_found() -> String {
    r#"{"ok":false,"error_code":404,"description":"Not Found"}"#.into()
}

pub fn error(code: u16, description: &str) -> String {
    format!(r#"{{"ok":false,"error_code":{code},"description":"{description}"}}"#)
}
