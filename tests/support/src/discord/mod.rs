//! A fake Discord: the gateway WebSocket (v10 JSON: Hello, Identify → READY, Resume → replay and
//! RESUMED, heartbeats and their ACKs, op 7 and op 9 on demand, close codes) and the REST API
//! the bot uses (`/users/@me`, `/gateway/bot`, messages, typing) with rate-limit headers and
//! scripted failures such as a 429 with `retry_after`. Every gateway payload from the bot and
//! every REST call is recorded. Tests play the users ([`FakeDiscord::dm`],
//! [`FakeDiscord::guild_message`]) and read what the bot sent.

mod gateway;
mod rest;

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::http::{Handler, Server};
use crate::json::esc;

/// The token the fake accepts; anything else gets 401 (REST) or close 4004 (gateway).
pub const DISCORD_TOKEN: &str = "MTAxNTAwMDAw.fake-discord.token-abcdefghij";
pub const DISCORD_BOT_ID: &str = "900000000000000001";
pub const DISCORD_BOT_NAME: &str = "hermes";
/// A snowflake for now: milliseconds since the Discord epoch (2015) in the top bits, so the
/// gateway sees fresh messages, never a backlog.
fn snowflake_now() -> u64 {
    let ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    ms.saturating_sub(1_420_070_400_000) << 22
}

/// The next id: a fresh snowflake, and always more than the last one.
fn next_id(st: &mut State) -> String {
    st.next_id = (st.next_id + 1).max(snowflake_now());
    st.next_id.to_string()
}

/// A Discord user the test speaks as.
#[derive(Clone, Debug)]
pub struct DiscordUser {
    pub id: String,
    pub name: String,
    /// Role ids this user has in the guild.
    pub roles: Vec<String>,
    pub bot: bool,
}

impl DiscordUser {
    pub fn new(id: &str, name: &str) -> DiscordUser {
        DiscordUser { id: id.into(), name: name.into(), roles: Vec::new(), bot: false }
    }

    pub fn with_roles(mut self, roles: &[&str]) -> DiscordUser {
        self.roles = roles.iter().map(|r| r.to_string()).collect();
        self
    }
}

/// What the bot sent on the gateway (plus each new connection).
#[derive(Clone, Debug, PartialEq)]
pub enum GatewayOp {
    /// A WebSocket connection was opened on this request target (`/?v=10&encoding=json`).
    Connected {
        target: String,
    },
    Identify {
        token: String,
        intents: u64,
    },
    Resume {
        session_id: String,
        seq: Option<u64>,
    },
    Heartbeat {
        seq: Option<u64>,
    },
    /// The bot closed the connection (with this code, if it sent one).
    Closed {
        code: Option<u16>,
    },
}

/// One recorded gateway event: which connection (from 1) and what.
#[derive(Clone, Debug)]
pub struct GatewayEvent {
    pub conn: u64,
    pub op: GatewayOp,
    pub at: Instant,
}

/// A message the bot sent, as it stands now.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscordMessage {
    pub channel_id: String,
    pub id: String,
    pub content: String,
    /// `message_reference.message_id`.
    pub reply_to: Option<String>,
    /// The `allowed_mentions` object as sent (JSON), if any.
    pub allowed_mentions: Option<String>,
    pub edits: u32,
    pub deleted: bool,
}

/// One REST call as received.
#[derive(Clone, Debug)]
pub struct RestCall {
    pub method: String,
    /// Without the `/api/v10` prefix: `/channels/1/messages`.
    pub path: String,
    pub body: String,
    pub authorization: Option<String>,
    pub at: Instant,
}

/// What the test asks the live gateway connection to do next.
#[derive(Clone, Debug)]
enum Command {
    Reconnect,
    InvalidSession(bool),
    Close(u16),
}

#[derive(Default)]
struct Session {
    /// (seq, payload JSON) of every dispatch in this session.
    log: Vec<(u64, String)>,
    /// Sessions the fake has invalidated cannot be resumed.
    dead: bool,
}

struct Failure {
    method: String,
    path_prefix: String,
    status: u16,
    body: String,
    headers: Vec<(String, String)>,
}

struct State {
    heartbeat_interval_ms: u64,
    ack_heartbeats: bool,
    sessions: HashMap<String, Session>,
    next_session: u64,
    /// The connection that owns the current session, and that session.
    live: Option<(u64, String)>,
    commands: VecDeque<Command>,
    /// Dispatches (`t`, `d`) made while no session was live.
    pending: Vec<(String, String)>,
    gateway: Vec<GatewayEvent>,
    messages: Vec<DiscordMessage>,
    calls: Vec<RestCall>,
    failures: Vec<Failure>,
    next_id: u64,
    next_conn: u64,
    ws_url: String,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    closing: Arc<AtomicBool>,
}

/// The fake Discord (REST on one port, gateway on another); stops when dropped.
pub struct FakeDiscord {
    shared: Arc<Shared>,
    server: Server,
    ws_port: u16,
}

impl FakeDiscord {
    /// Heartbeats every 500 ms, every heartbeat ACKed.
    pub fn start() -> FakeDiscord {
        FakeDiscord::start_with(500)
    }

    pub fn start_with(heartbeat_interval_ms: u64) -> FakeDiscord {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the gateway port");
        let ws_port = listener.local_addr().expect("local addr").port();
        let state = State {
            heartbeat_interval_ms,
            ack_heartbeats: true,
            sessions: HashMap::new(),
            next_session: 1,
            live: None,
            commands: VecDeque::new(),
            pending: Vec::new(),
            gateway: Vec::new(),
            messages: Vec::new(),
            calls: Vec::new(),
            failures: Vec::new(),
            next_id: 0,
            next_conn: 1,
            ws_url: format!("ws://127.0.0.1:{ws_port}"),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            changed: Condvar::new(),
            closing: Arc::new(AtomicBool::new(false)),
        });
        gateway::listen(shared.clone(), listener);
        let s2 = shared.clone();
        let handler: Handler = Arc::new(move |req, resp| rest::handle(&s2, req, resp));
        let server = Server::start(handler, None);
        FakeDiscord { shared, server, ws_port }
    }

    /// `http://127.0.0.1:PORT/api/v10` (for `DISCORD_API_BASE`).
    pub fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}/api/v10", self.server.port())
    }

    /// `ws://127.0.0.1:PORT` (what `/gateway/bot` answers).
    pub fn gateway_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.ws_port)
    }

    /// `<@bot id>`, to mention the bot in a message.
    pub fn mention(&self) -> String {
        format!("<@{DISCORD_BOT_ID}>")
    }

    /// `from` writes `text` in their DM channel `channel_id`; returns the message id.
    pub fn dm(&self, channel_id: &str, from: &DiscordUser, text: &str) -> String {
        self.message(None, channel_id, from, text, None)
    }

    /// `from` writes `text` in guild `guild_id`'s channel `channel_id`.
    pub fn guild_message(&self, guild_id: &str, channel_id: &str, from: &DiscordUser, text: &str) -> String {
        self.message(Some(guild_id), channel_id, from, text, None)
    }

    /// `from` replies to message `reply_to` (any author) in a guild channel.
    pub fn guild_reply(
        &self,
        guild_id: &str,
        channel_id: &str,
        from: &DiscordUser,
        text: &str,
        reply_to: &str,
    ) -> String {
        self.message(Some(guild_id), channel_id, from, text, Some(reply_to))
    }

    fn message(
        &self,
        guild: Option<&str>,
        channel: &str,
        from: &DiscordUser,
        text: &str,
        reply_to: Option<&str>,
    ) -> String {
        let mut st = self.shared.state.lock().unwrap();
        let id = next_id(&mut st);
        let author = user_json(&from.id, &from.name, from.bot);
        let mentions =
            if text.contains(&format!("<@{DISCORD_BOT_ID}>")) || text.contains(&format!("<@!{DISCORD_BOT_ID}>")) {
                format!("[{}]", user_json(DISCORD_BOT_ID, DISCORD_BOT_NAME, true))
            } else {
                "[]".to_string()
            };
        let guild_fields = match guild {
            Some(g) => {
                let roles: Vec<String> = from.roles.iter().map(|r| esc(r)).collect();
                format!(r#","guild_id":{},"member":{{"roles":[{}],"nick":null}}"#, esc(g), roles.join(","))
            }
            None => String::new(),
        };
        let reference = match reply_to {
            Some(r) => {
                let found = st.messages.iter().find(|m| m.id == r);
                let (content, author) = match found {
                    Some(m) => (m.content.clone(), user_json(DISCORD_BOT_ID, DISCORD_BOT_NAME, true)),
                    None => (String::new(), user_json(&from.id, &from.name, from.bot)),
                };
                format!(
                    r#","type":19,"message_reference":{{"message_id":{}}},"referenced_message":{{"id":{},"channel_id":{},"content":{},"author":{author}}}"#,
                    esc(r),
                    esc(r),
                    esc(channel),
                    esc(&content)
                )
            }
            None => r#","type":0"#.to_string(),
        };
        let d = format!(
            r#"{{"id":{},"channel_id":{},"author":{author},"content":{},"mentions":{mentions},"mention_roles":[],"attachments":[],"embeds":[],"timestamp":"2024-11-01T00:00:00.000000+00:00","tts":false,"mention_everyone":false,"pinned":false{guild_fields}{reference}}}"#,
            esc(&id),
            esc(channel),
            esc(text)
        );
        dispatch(&self.shared, &mut st, "MESSAGE_CREATE", &d);
        id
    }

    /// Sends any dispatch (`t`, `d` JSON) on the live session, e.g. a THREAD_CREATE.
    pub fn push_dispatch(&self, t: &str, d_json: &str) {
        let mut st = self.shared.state.lock().unwrap();
        dispatch(&self.shared, &mut st, t, d_json);
    }

    /// Sends op 7 Reconnect on the live connection.
    pub fn force_reconnect(&self) {
        self.command(Command::Reconnect);
    }

    /// Sends op 9 Invalid Session; a non-resumable one kills the session.
    pub fn invalid_session(&self, resumable: bool) {
        self.command(Command::InvalidSession(resumable));
    }

    /// Closes the live connection with this close code (4004, 4014, 4000, ...).
    pub fn close_with(&self, code: u16) {
        self.command(Command::Close(code));
    }

    fn command(&self, c: Command) {
        let mut st = self.shared.state.lock().unwrap();
        st.commands.push_back(c);
        self.shared.changed.notify_all();
    }

    /// Stops (or resumes) answering heartbeats with op 11.
    pub fn set_heartbeat_ack(&self, ack: bool) {
        self.shared.state.lock().unwrap().ack_heartbeats = ack;
    }

    /// The next REST call whose method matches and whose path starts with `path_prefix`
    /// (without `/api/v10`) gets this answer. Several queue in order.
    pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16, body: &str, headers: &[(&str, &str)]) {
        self.shared.state.lock().unwrap().failures.push(Failure {
            method: method.to_ascii_uppercase(),
            path_prefix: path_prefix.to_string(),
            status,
            body: body.to_string(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        });
    }

    /// The next message send to `channel` is refused with a per-route 429 and `retry_after`.
    pub fn rate_limit_next_send(&self, channel: &str, retry_after: f64) {
        let body = format!(r#"{{"message":"You are being rate limited.","retry_after":{retry_after},"global":false}}"#);
        let secs = retry_after.to_string();
        self.fail_next(
            "POST",
            &format!("/channels/{channel}/messages"),
            429,
            &body,
            &[
                ("Retry-After", &secs),
                ("X-RateLimit-Limit", "5"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset-After", &secs),
                ("X-RateLimit-Bucket", "fake-messages"),
                ("X-RateLimit-Scope", "user"),
            ],
        );
    }

    pub fn sent(&self) -> Vec<DiscordMessage> {
        self.shared.state.lock().unwrap().messages.clone()
    }

    pub fn calls(&self) -> Vec<RestCall> {
        self.shared.state.lock().unwrap().calls.clone()
    }

    pub fn gateway_log(&self) -> Vec<GatewayEvent> {
        self.shared.state.lock().unwrap().gateway.clone()
    }

    /// The ids of sessions handed out by READY, in order.
    pub fn session_ids(&self) -> Vec<String> {
        let st = self.shared.state.lock().unwrap();
        (1..st.next_session).map(|n| format!("session-{n}")).collect()
    }

    /// The sequence number of the last dispatch of session `id`.
    pub fn last_seq(&self, id: &str) -> Option<u64> {
        self.shared.state.lock().unwrap().sessions.get(id).and_then(|s| s.log.last().map(|(n, _)| *n))
    }

    /// Waits for a sent message (in its current state) matching `pred`.
    pub fn wait_sent(&self, timeout: Duration, pred: impl Fn(&DiscordMessage) -> bool) -> Option<DiscordMessage> {
        let mut found = None;
        self.wait_state(timeout, |st| {
            found = st.messages.iter().find(|m| pred(m)).cloned();
            found.is_some()
        });
        found
    }

    /// Waits until `pred` holds for the gateway log.
    pub fn wait_gateway(&self, timeout: Duration, pred: impl Fn(&[GatewayEvent]) -> bool) -> bool {
        self.wait_state(timeout, |st| pred(&st.gateway))
    }

    /// Waits until `pred` holds for the REST calls.
    pub fn wait_calls(&self, timeout: Duration, pred: impl Fn(&[RestCall]) -> bool) -> bool {
        self.wait_state(timeout, |st| pred(&st.calls))
    }

    fn wait_state(&self, timeout: Duration, mut f: impl FnMut(&State) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state.lock().unwrap();
        loop {
            if f(&st) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            st = self.shared.changed.wait_timeout(st, wait).unwrap().0;
        }
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
    }
}

fn user_json(id: &str, name: &str, bot: bool) -> String {
    format!(
        r#"{{"id":{},"username":{},"global_name":{},"discriminator":"0","avatar":null,"bot":{bot}}}"#,
        esc(id),
        esc(&name.to_lowercase()),
        esc(name)
    )
}

/// Appends a dispatch to the live session's log (the connection thread sends it), or keeps it
/// for the next session.
fn dispatch(shared: &Shared, st: &mut State, t: &str, d: &str) {
    match st.live.clone() {
        Some((_, session)) => append(st, &session, t, d),
        None => st.pending.push((t.to_string(), d.to_string())),
    }
    shared.changed.notify_all();
}

fn append(st: &mut State, session: &str, t: &str, d: &str) {
    let s = st.sessions.entry(session.to_string()).or_default();
    let seq = s.log.last().map_or(1, |(n, _)| n + 1);
    s.log.push((seq, format!(r#"{{"op":0,"s":{seq},"t":{},"d":{d}}}"#, esc(t))));
}
