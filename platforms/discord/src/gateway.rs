//! The gateway thread: a WebSocket (v10, JSON) read loop with heartbeats, Identify/Resume,
//! reconnects, and inbound messages journaled before the sequence moves (P15, P16).
//!
//! The cursor is the sequence number (with the session id and resume URL, so a restarted
//! gateway can resume and get the events it missed). The sequence sent in heartbeats and
//! Resume moves only after [`InboundSink::submit`] returned for the events up to it: after a
//! crash Discord replays from the last journaled event, and the inbox drops duplicates by
//! message id.

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hermes_platform::backoff::{Backoff, jitter_unit, restart_on_panic};
use hermes_platform::{InboundSink, Liveness, MessageEvent, SubmitError};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Connector, Message as WsMessage, WebSocket};

use crate::config::DiscordConfig;
use crate::inbound::{BotIdentity, Channels, convert};
use crate::wire::{self, GuildCreate, Message, Payload, Ready, ThreadListSync, op};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the read loop wakes to send heartbeats and check the stop flag.
const TICK: Duration = Duration::from_millis(100);

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Shared between the gateway thread and the adapter.
#[derive(Clone, Default)]
pub(crate) struct GatewayState {
    pub stop: Arc<AtomicBool>,
    /// Set when Discord closed with a fatal code (bad token, intents); the thread has ended.
    pub fatal: Arc<AtomicBool>,
    pub liveness: Liveness,
    pub bot: Arc<Mutex<BotIdentity>>,
}

/// What a resumable session needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Session {
    pub id: Option<String>,
    /// The last journaled (or harmless) sequence number.
    pub seq: Option<u64>,
    pub resume_url: Option<String>,
}

impl Session {
    /// `"{seq} {session_id} {resume_url}"`, or the bare sequence without a session.
    pub fn cursor(&self) -> Option<String> {
        let seq = self.seq?;
        Some(match (&self.id, &self.resume_url) {
            (Some(id), Some(url)) => format!("{seq} {id} {url}"),
            (Some(id), None) => format!("{seq} {id}"),
            _ => seq.to_string(),
        })
    }

    pub fn from_cursor(cursor: &str) -> Session {
        let mut parts = cursor.split_whitespace();
        let seq = parts.next().and_then(|s| s.parse().ok());
        let id = parts.next().map(str::to_string);
        let resume_url = parts.next().map(str::to_string);
        if seq.is_none() { Session::default() } else { Session { id, seq, resume_url } }
    }
}

/// How one connection ended.
#[derive(Debug, PartialEq)]
enum End {
    /// Connect again and resume the session (drop, op 7, missed ACK).
    Resume,
    /// Connect again with a new session (4007, 4009).
    Fresh,
    /// Stop for good: `Adapter::stop` or the gateway closed.
    Stop,
    /// Discord refuses us for a reason retrying cannot fix.
    Fatal(String),
}

pub(crate) struct Gateway {
    pub config: DiscordConfig,
    pub gateway_url: String,
    pub tls: Arc<rustls::ClientConfig>,
    pub sink: InboundSink,
    pub state: GatewayState,
    pub session: Session,
    pub channels: Channels,
}

impl Gateway {
    /// Runs until stopped, the gateway closes, or Discord sends a fatal close code. A panic
    /// inside is logged and the loop restarts after a pause (P4).
    pub fn run(mut self) {
        let pause = |g: &Self, wait| {
            g.sleep(wait);
            !g.stopped()
        };
        restart_on_panic(&mut self, "discord: the gateway loop", Self::connect_loop, pause);
    }

    fn connect_loop(&mut self) {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut immediate = true;
        while !self.stopped() {
            if !immediate {
                let wait = backoff.next_delay();
                log::info!("discord: reconnecting in {:.1} s", wait.as_secs_f32());
                self.sleep(wait);
                if self.stopped() {
                    return;
                }
            }
            let resuming = self.session.id.is_some();
            let base = match (&self.session.resume_url, resuming) {
                (Some(url), true) => url.clone(),
                _ => self.gateway_url.clone(),
            };
            let (mut ws, tcp) = match open(&base, self.tls.clone()) {
                Ok(pair) => pair,
                Err(why) => {
                    log::warn!("discord: cannot connect to the gateway: {why}");
                    immediate = false;
                    continue;
                }
            };
            let started = Instant::now();
            let end = self.serve(&mut ws, &tcp);
            match end {
                End::Stop => {
                    // Not 1000: Discord would end the session, and the next start (a restart, an
                    // upgrade) could not resume it and replay what arrived meanwhile.
                    let _ = ws.close(Some(CloseFrame { code: CloseCode::from(4000), reason: "stopping".into() }));
                    let _ = ws.flush();
                    return;
                }
                End::Fatal(why) => {
                    log::error!("discord: {why}; the Discord gateway is stopped");
                    self.state.fatal.store(true, Ordering::SeqCst);
                    return;
                }
                End::Fresh => {
                    self.session = Session { seq: None, id: None, resume_url: None };
                }
                End::Resume => {}
            }
            // Close with a non-1000 code: Discord keeps the session resumable.
            let _ = ws.close(Some(CloseFrame { code: CloseCode::from(4000), reason: "reconnecting".into() }));
            let _ = ws.flush();
            drop(ws);
            // A connection that lived a while resets the backoff; the first retry is immediate.
            if started.elapsed() > Duration::from_secs(30) {
                backoff.reset();
            }
            immediate = backoff.attempts() == 0;
            if immediate {
                // Count this reconnect so a flapping gateway backs off.
                backoff.next_delay();
            }
        }
    }

    /// One connection: Hello, Identify or Resume, then the read loop.
    fn serve(&mut self, ws: &mut Socket, _tcp: &TcpStream) -> End {
        // Hello comes first.
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let interval = loop {
            if self.stopped() {
                return End::Stop;
            }
            if Instant::now() > deadline {
                log::warn!("discord: no Hello from the gateway");
                return End::Resume;
            }
            match read(ws) {
                Read::Idle => continue,
                Read::Text(text) => match Payload::parse(&text) {
                    Some(p) if p.op == op::HELLO => match p.heartbeat_interval() {
                        Some(ms) if ms > 0 => break Duration::from_millis(ms),
                        _ => return End::Resume,
                    },
                    _ => continue,
                },
                Read::Closed(code) => return self.closed(code),
                Read::Failed(why) => {
                    log::warn!("discord: gateway connection failed: {why}");
                    return End::Resume;
                }
            }
        };
        self.state.liveness.touch();
        if let Err(why) = self.hello_reply(ws) {
            log::warn!("discord: gateway send failed: {why}");
            return End::Resume;
        }
        let mut next_beat = Instant::now() + interval.mul_f64(jitter_unit());
        let mut acked = true;
        loop {
            if self.stopped() {
                return End::Stop;
            }
            if Instant::now() >= next_beat {
                if !acked {
                    log::warn!("discord: no heartbeat ACK from the gateway; reconnecting");
                    return End::Resume;
                }
                if let Err(why) = send(ws, &wire::heartbeat(self.session.seq)) {
                    log::warn!("discord: heartbeat failed: {why}");
                    return End::Resume;
                }
                acked = false;
                next_beat = Instant::now() + interval;
            }
            let text = match read(ws) {
                Read::Idle => continue,
                Read::Text(text) => text,
                Read::Closed(code) => return self.closed(code),
                Read::Failed(why) => {
                    log::warn!("discord: gateway connection lost: {why}");
                    return End::Resume;
                }
            };
            self.state.liveness.touch();
            let Some(payload) = Payload::parse(&text) else {
                log::warn!("discord: ignored a gateway frame that is not a payload");
                continue;
            };
            match payload.op {
                op::DISPATCH => {
                    if let Some(end) = self.dispatch(payload) {
                        return end;
                    }
                }
                op::HEARTBEAT => {
                    if let Err(why) = send(ws, &wire::heartbeat(self.session.seq)) {
                        log::warn!("discord: heartbeat failed: {why}");
                        return End::Resume;
                    }
                }
                op::HEARTBEAT_ACK => acked = true,
                op::RECONNECT => {
                    log::info!("discord: the gateway asked for a reconnect");
                    return End::Resume;
                }
                op::INVALID_SESSION => {
                    let resumable = matches!(payload.d, miniserde::json::Value::Bool(true));
                    let (lo, hi) = self.config.invalid_session_wait;
                    let wait = lo + (hi.saturating_sub(lo)).mul_f64(jitter_unit());
                    log::info!(
                        "discord: invalid session (resumable: {resumable}); identifying again in {:.1} s",
                        wait.as_secs_f32()
                    );
                    if !resumable {
                        self.session = Session::default();
                    }
                    self.sleep(wait);
                    if self.stopped() {
                        return End::Stop;
                    }
                    if let Err(why) = self.hello_reply(ws) {
                        log::warn!("discord: gateway send failed: {why}");
                        return End::Resume;
                    }
                }
                _ => {}
            }
        }
    }

    /// Identify, or Resume when there is a session.
    fn hello_reply(&self, ws: &mut Socket) -> Result<(), String> {
        match &self.session.id {
            Some(id) => {
                log::info!("discord: resuming session at sequence {:?}", self.session.seq);
                send(ws, &wire::resume(&self.config.token, id, self.session.seq))
            }
            None => send(ws, &wire::identify(&self.config.token)),
        }
    }

    /// Handles one dispatch; `Some` ends the connection.
    fn dispatch(&mut self, payload: Payload) -> Option<End> {
        let seq = payload.s;
        let kind = payload.t.as_deref().unwrap_or("");
        let mut events: Vec<MessageEvent> = Vec::new();
        match kind {
            "READY" => match payload.data::<Ready>() {
                Some(ready) => {
                    log::info!(
                        "discord: connected as {} ({})",
                        ready.user.username.as_deref().unwrap_or("?"),
                        ready.user.id
                    );
                    *self.state.bot.lock().unwrap_or_else(|e| e.into_inner()) =
                        BotIdentity { id: ready.user.id.clone(), username: ready.user.username.unwrap_or_default() };
                    self.session.id = Some(ready.session_id);
                    self.session.resume_url = ready.resume_gateway_url;
                }
                None => log::warn!("discord: READY without the documented shape"),
            },
            "RESUMED" => log::info!("discord: session resumed"),
            "GUILD_CREATE" => {
                if let Some(guild) = payload.data::<GuildCreate>() {
                    for c in guild.channels.into_iter().flatten().chain(guild.threads.into_iter().flatten()) {
                        self.channels.learn(c);
                    }
                }
            }
            "CHANNEL_CREATE" | "CHANNEL_UPDATE" | "THREAD_CREATE" | "THREAD_UPDATE" => {
                if let Some(c) = payload.data::<wire::Channel>() {
                    self.channels.learn(c);
                }
            }
            "CHANNEL_DELETE" | "THREAD_DELETE" => {
                if let Some(c) = payload.data::<wire::Channel>() {
                    self.channels.forget(&c.id);
                }
            }
            "THREAD_LIST_SYNC" => {
                if let Some(sync) = payload.data::<ThreadListSync>() {
                    for c in sync.threads.into_iter().flatten() {
                        self.channels.learn(c);
                    }
                }
            }
            "MESSAGE_CREATE" => match payload.data::<Message>() {
                Some(message) => {
                    let bot = self.state.bot.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    match catch_unwind(AssertUnwindSafe(|| convert(&message, &bot, &self.config, &self.channels))) {
                        Ok(Some(event)) => events.push(event),
                        Ok(None) => {}
                        Err(_) => log::warn!("discord: converting message {} panicked; skipped", message.id),
                    }
                }
                None => log::warn!("discord: skipped a MESSAGE_CREATE without the documented shape"),
            },
            _ => {}
        }
        let seq = seq?;
        let mut next = self.session.clone();
        next.seq = Some(next.seq.map_or(seq, |s| s.max(seq)));
        if events.is_empty() {
            self.session = next;
            return None;
        }
        if !self.submit(events, next.cursor()) {
            return Some(End::Stop);
        }
        self.session = next;
        None
    }

    /// Journals events with the cursor, retrying journal failures. False when stopping.
    fn submit(&self, events: Vec<MessageEvent>, cursor: Option<String>) -> bool {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        loop {
            match self.sink.submit(events.clone(), cursor.clone()) {
                Ok(()) => return true,
                Err(SubmitError::Closed) => {
                    log::info!("discord: the gateway stopped taking events; the Discord gateway ends");
                    return false;
                }
                Err(SubmitError::Journal(why)) => {
                    let wait = backoff.next_delay();
                    log::warn!("discord: journaling failed ({why}); retrying in {:.1} s", wait.as_secs_f32());
                    self.sleep(wait);
                    if self.stopped() {
                        return false;
                    }
                }
            }
        }
    }

    fn closed(&mut self, code: Option<u16>) -> End {
        match code {
            Some(4004) => End::Fatal(
                "Discord closed the gateway with 4004 Authentication failed — check DISCORD_BOT_TOKEN".into(),
            ),
            Some(4013) => End::Fatal("Discord closed the gateway with 4013 Invalid intents".into()),
            Some(4014) => End::Fatal(
                "Discord closed the gateway with 4014 Disallowed intents — enable the MESSAGE CONTENT intent \
                 for this bot in the Discord developer portal (Bot → Privileged Gateway Intents)"
                    .into(),
            ),
            Some(c @ 4010..=4012) => End::Fatal(format!("Discord closed the gateway with fatal code {c}")),
            Some(c @ (4007 | 4009)) => {
                log::info!("discord: the gateway closed with {c}; starting a new session");
                End::Fresh
            }
            other => {
                log::info!("discord: the gateway closed the connection ({other:?}); resuming");
                End::Resume
            }
        }
    }

    fn stopped(&self) -> bool {
        self.state.stop.load(Ordering::SeqCst) || self.sink.is_closed()
    }

    /// Sleeps up to `wait`, waking early when stopped.
    fn sleep(&self, wait: Duration) {
        let until = Instant::now() + wait;
        while !self.stopped() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(TICK));
        }
    }
}

enum Read {
    Idle,
    Text(String),
    Closed(Option<u16>),
    Failed(String),
}

fn read(ws: &mut Socket) -> Read {
    match ws.read() {
        Ok(WsMessage::Text(t)) => Read::Text(t.as_str().to_string()),
        Ok(WsMessage::Binary(b)) => Read::Text(String::from_utf8_lossy(&b).into_owned()),
        Ok(WsMessage::Close(frame)) => Read::Closed(frame.map(|f| u16::from(f.code))),
        Ok(_) => Read::Idle,
        Err(tungstenite::Error::Io(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Read::Idle,
        Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => Read::Closed(None),
        Err(e) => Read::Failed(e.to_string()),
    }
}

fn send(ws: &mut Socket, text: &str) -> Result<(), String> {
    ws.send(WsMessage::text(text)).map_err(|e| e.to_string())
}

/// `url` with `v=10&encoding=json` (kept when already there).
pub(crate) fn with_query(url: &str) -> String {
    if url.contains("encoding=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let base = if url.contains('?') { url.to_string() } else { format!("{}/", url.trim_end_matches('/')) };
    format!("{base}{sep}v=10&encoding=json")
}

/// Connects the WebSocket: TCP, TLS for `wss://`, the handshake; reads then time out every
/// [`TICK`] so the loop can send heartbeats.
fn open(url: &str, tls: Arc<rustls::ClientConfig>) -> Result<(Socket, TcpStream), String> {
    let url = with_query(url);
    let lower = url.to_ascii_lowercase();
    let (secure, rest) = if let Some(rest) = lower.strip_prefix("wss://") {
        (true, rest)
    } else if let Some(rest) = lower.strip_prefix("ws://") {
        (false, rest)
    } else {
        return Err(format!("not a WebSocket URL: {url}"));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let default_port = if secure { 443 } else { 80 };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once("]:") {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| format!("bad port in {url}"))?),
            None => (v6.trim_end_matches(']').to_string(), default_port),
        },
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| format!("bad port in {url}"))?),
            None => (authority.to_string(), default_port),
        },
    };
    let addrs = (host.as_str(), port).to_socket_addrs().map_err(|e| format!("{host}: {e}"))?;
    let mut last = format!("{host}: no address");
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    let tcp = tcp.ok_or(last)?;
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(CONNECT_TIMEOUT)).map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(CONNECT_TIMEOUT)).map_err(|e| e.to_string())?;
    let handle = tcp.try_clone().map_err(|e| e.to_string())?;
    let connector = if secure { Connector::Rustls(tls) } else { Connector::Plain };
    let (ws, _) = tungstenite::client_tls_with_config(url.as_str(), tcp, None, Some(connector))
        .map_err(|e| format!("WebSocket handshake: {e}"))?;
    handle.set_read_timeout(Some(TICK)).map_err(|e| e.to_string())?;
    Ok((ws, handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let s = Session { id: Some("abc".into()), seq: Some(42), resume_url: Some("wss://r.example".into()) };
        assert_eq!(s.cursor().as_deref(), Some("42 abc wss://r.example"));
        assert_eq!(Session::from_cursor("42 abc wss://r.example"), s);
        assert_eq!(Session::from_cursor("7").seq, Some(7));
        assert_eq!(Session::from_cursor("junk"), Session::default());
        assert_eq!(Session::default().cursor(), None);
    }

    #[test]
    fn gateway_urls_get_the_version_and_encoding() {
        assert_eq!(with_query("wss://gateway.discord.gg"), "wss://gateway.discord.gg/?v=10&encoding=json");
        assert_eq!(with_query("ws://127.0.0.1:5/?x=1"), "ws://127.0.0.1:5/?x=1&v=10&encoding=json");
        assert_eq!(with_query("wss://g/?v=10&encoding=json"), "wss://g/?v=10&encoding=json");
    }
}
