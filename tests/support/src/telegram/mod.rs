//! A fake Telegram Bot API: `getUpdates` with Telegram's offset and long-poll semantics, message
//! sending, editing and deleting with their documented errors, scripted failures, and a record of
//! every call. Tests play the users ([`FakeTelegram::user_says`]) and read what the bot sent.

mod api;
mod markdown;
mod wire;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::http::{Handler, Server};
use crate::json::now_secs;
use crate::tls::TlsIdentity;

pub use markdown::check as check_markdown_v2;

/// The token the fake accepts; any other gets 401.
pub const TOKEN: &str = "123456:TEST-token-abcdefghijklmnop";
pub const BOT_ID: i64 = 999000;
pub const BOT_USERNAME: &str = "hermes_test_bot";
pub const BOT_NAME: &str = "Hermes Test";

/// A chat the test's users talk in.
#[derive(Clone, Debug)]
pub struct Chat {
    pub id: i64,
    /// "private", "group" or "supergroup".
    pub kind: &'static str,
    pub is_forum: bool,
    /// The forum topic messages are posted in.
    pub thread_id: Option<i64>,
    pub title: Option<String>,
}

impl Chat {
    /// A direct chat; its id is usually the user's id.
    pub fn private(id: i64) -> Chat {
        Chat { id, kind: "private", is_forum: false, thread_id: None, title: None }
    }

    /// A basic group (ids are negative in Telegram).
    pub fn group(id: i64) -> Chat {
        Chat { id, kind: "group", is_forum: false, thread_id: None, title: Some("Test Group".into()) }
    }

    /// A supergroup without topics.
    pub fn supergroup(id: i64) -> Chat {
        Chat { id, kind: "supergroup", is_forum: false, thread_id: None, title: Some("Test Supergroup".into()) }
    }

    /// A forum supergroup; messages go to topic `thread`.
    pub fn forum(id: i64, thread: i64) -> Chat {
        Chat { id, kind: "supergroup", is_forum: true, thread_id: Some(thread), title: Some("Test Forum".into()) }
    }
}

/// A human sender.
#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub first_name: String,
    pub username: Option<String>,
}

impl User {
    /// A user with username = the lowercased name.
    pub fn new(id: i64, name: &str) -> User {
        User { id, first_name: name.to_string(), username: Some(name.to_lowercase().replace(' ', "_")) }
    }
}

/// A message the bot sent, as it stands now (after edits / deletion).
#[derive(Clone, Debug, PartialEq)]
pub struct BotMessage {
    pub chat_id: i64,
    pub message_id: i64,
    /// What the user sees: MarkdownV2 escapes and markers rendered away.
    pub text: String,
    /// What the bot sent (`text` parameter as is).
    pub raw: String,
    pub parse_mode: Option<String>,
    pub thread_id: Option<i64>,
    pub reply_to: Option<i64>,
    pub edits: u32,
    pub deleted: bool,
    /// Inline keyboard buttons as (label, callback_data), row by row flattened.
    pub buttons: Vec<(String, String)>,
}

/// One Bot API call as received; `params` is a JSON object (form fields become strings).
#[derive(Clone, Debug)]
pub struct ApiCall {
    pub method: String,
    pub params: String,
    pub at: Instant,
}

struct Pending {
    update_id: i64,
    json: String,
}

#[derive(Default)]
struct State {
    updates: Vec<Pending>,
    next_update: i64,
    next_user_msg: i64,
    next_bot_msg: i64,
    chats: HashMap<i64, Chat>,
    sent: Vec<BotMessage>,
    calls: Vec<ApiCall>,
    failures: HashMap<String, VecDeque<(u16, String)>>,
    committed: i64,
    /// Files the bot can fetch with `getFile`, by file_id.
    files: HashMap<String, Vec<u8>>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled on new updates, sends and calls.
    changed: Condvar,
    closing: Arc<AtomicBool>,
}

/// The fake Bot API server on 127.0.0.1; stops when dropped.
pub struct FakeTelegram {
    shared: Arc<Shared>,
    server: Server,
    scheme: &'static str,
}

impl FakeTelegram {
    pub fn start() -> FakeTelegram {
        FakeTelegram::start_inner(None)
    }

    /// The same fake over HTTPS with this identity (clients must trust `id.ca_pem_path`).
    pub fn start_tls(id: &TlsIdentity) -> FakeTelegram {
        FakeTelegram::start_inner(Some(id.server_config()))
    }

    fn start_inner(tls: Option<Arc<rustls::ServerConfig>>) -> FakeTelegram {
        let state = State { next_update: 1, next_user_msg: 1, next_bot_msg: 1000, ..State::default() };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            changed: Condvar::new(),
            closing: Arc::new(AtomicBool::new(false)),
        });
        let s2 = shared.clone();
        let handler: Handler = Arc::new(move |req, resp| api::handle(&s2, req, resp));
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = Server::start(handler, tls);
        FakeTelegram { shared, server, scheme }
    }

    /// `http://127.0.0.1:PORT/bot`; the client appends `{TOKEN}/{method}`.
    pub fn base_url(&self) -> String {
        format!("{}://127.0.0.1:{}/bot", self.scheme, self.server.port())
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    pub fn bot_username(&self) -> &str {
        BOT_USERNAME
    }

    pub fn bot_id(&self) -> i64 {
        BOT_ID
    }

    /// Queues a text message from `from` in `chat`; returns its message_id (user messages count
    /// from 1, the bot's from 1000).
    pub fn user_says(&self, chat: &Chat, from: &User, text: &str) -> i64 {
        self.queue_message(chat, from, text, None)
    }

    /// Queues a message that replies to the bot's message `bot_message_id`.
    pub fn reply_to_bot(&self, chat: &Chat, from: &User, text: &str, bot_message_id: i64) -> i64 {
        self.queue_message(chat, from, text, Some(bot_message_id))
    }

    fn queue_message(&self, chat: &Chat, from: &User, text: &str, reply_to: Option<i64>) -> i64 {
        let mut st = self.shared.state.lock().unwrap();
        st.chats.insert(chat.id, chat.clone());
        let message_id = st.next_user_msg;
        st.next_user_msg += 1;
        let chat_json = wire::chat(chat, Some(from));
        let reply_json = reply_to.map(|id| {
            let found = st.sent.iter().find(|m| m.chat_id == chat.id && m.message_id == id);
            let text = found.map(|m| m.text.clone()).unwrap_or_default();
            wire::message(&wire::MessageParts {
                message_id: id,
                from: wire::bot_user(),
                chat: chat_json.clone(),
                date: now_secs(),
                text: &text,
                thread_id: found.and_then(|m| m.thread_id).or(chat.thread_id),
                with_entities: false,
                reply_to: None,
                edit_date: None,
            })
        });
        let msg = wire::message(&wire::MessageParts {
            message_id,
            from: wire::user(from),
            chat: chat_json,
            date: now_secs(),
            text,
            thread_id: chat.thread_id,
            with_entities: true,
            reply_to: reply_json,
            edit_date: None,
        });
        push_update(&self.shared, &mut st, &format!(r#""message":{msg}"#));
        message_id
    }

    /// Queues an `edited_message`: the user changed their message `message_id` to `text`.
    pub fn user_edits(&self, chat: &Chat, from: &User, message_id: i64, text: &str) -> i64 {
        let mut st = self.shared.state.lock().unwrap();
        st.chats.insert(chat.id, chat.clone());
        let msg = wire::message(&wire::MessageParts {
            message_id,
            from: wire::user(from),
            chat: wire::chat(chat, Some(from)),
            date: now_secs() - 5,
            text,
            thread_id: chat.thread_id,
            with_entities: true,
            reply_to: None,
            edit_date: Some(now_secs()),
        });
        push_update(&self.shared, &mut st, &format!(r#""edited_message":{msg}"#))
    }

    /// Queues a `callback_query`: `from` pressed a button with `data` under the bot's message
    /// `bot_message_id`.
    pub fn press_button(&self, chat: &Chat, from: &User, bot_message_id: i64, data: &str) -> i64 {
        let mut st = self.shared.state.lock().unwrap();
        let found = st.sent.iter().find(|m| m.chat_id == chat.id && m.message_id == bot_message_id);
        let text = found.map(|m| m.text.clone()).unwrap_or_default();
        let msg = wire::message(&wire::MessageParts {
            message_id: bot_message_id,
            from: wire::bot_user(),
            chat: wire::chat(chat, Some(from)),
            date: now_secs(),
            text: &text,
            thread_id: chat.thread_id,
            with_entities: false,
            reply_to: None,
            edit_date: None,
        });
        let id = format!("cb{}", st.next_update);
        let body = format!(
            r#""callback_query":{{"id":{},"from":{},"message":{msg},"chat_instance":"1","data":{}}}"#,
            crate::json::esc(&id),
            wire::user(from),
            crate::json::esc(data)
        );
        push_update(&self.shared, &mut st, &body)
    }

    /// Queues a `message_reaction`: `from` reacted with `emoji` to message `message_id`.
    pub fn user_reacts(&self, chat: &Chat, from: &User, message_id: i64, emoji: &str) -> i64 {
        let mut st = self.shared.state.lock().unwrap();
        let body = format!(
            r#""message_reaction":{{"chat":{},"message_id":{message_id},"user":{},"date":{},"old_reaction":[],"new_reaction":[{{"type":"emoji","emoji":{}}}]}}"#,
            wire::chat(chat, Some(from)),
            wire::user(from),
            now_secs(),
            crate::json::esc(emoji)
        );
        push_update(&self.shared, &mut st, &body)
    }

    /// Makes a file available to `getFile` and `/file/bot<token>/files/<file_id>` (for photos
    /// and documents in updates built with [`FakeTelegram::push_raw_update`]).
    pub fn add_file(&self, file_id: &str, bytes: &[u8]) {
        self.shared.state.lock().unwrap().files.insert(file_id.to_string(), bytes.to_vec());
    }

    /// Queues an update given as a JSON object without `update_id` (inserted here); returns the
    /// update_id. Text that is not an object is delivered verbatim, for malformed-update tests.
    pub fn push_raw_update(&self, update_json_without_id: &str) -> i64 {
        let t = update_json_without_id.trim();
        let mut st = self.shared.state.lock().unwrap();
        match t.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            Some(inner) => push_update(&self.shared, &mut st, inner),
            None => push_verbatim(&self.shared, &mut st, t.to_string()),
        }
    }

    /// Every message the bot sent, in order, with its current text.
    pub fn sent(&self) -> Vec<BotMessage> {
        self.shared.state.lock().unwrap().sent.clone()
    }

    /// Every API call received, in order.
    pub fn calls(&self) -> Vec<ApiCall> {
        self.shared.state.lock().unwrap().calls.clone()
    }

    /// The calls of one method (compared case-insensitively).
    pub fn calls_of(&self, method: &str) -> Vec<ApiCall> {
        self.calls().into_iter().filter(|c| c.method.eq_ignore_ascii_case(method)).collect()
    }

    /// Waits until at least `n` calls of `method` arrived (e.g. the gateway is polling).
    pub fn wait_calls(&self, method: &str, n: usize, timeout: Duration) -> bool {
        self.wait_state(timeout, |st| st.calls.iter().filter(|c| c.method.eq_ignore_ascii_case(method)).count() >= n)
    }

    /// The next call of `method` gets this status and JSON body instead of being served.
    /// Several queue in order.
    pub fn fail_next(&self, method: &str, status: u16, body_json: &str) {
        let mut st = self.shared.state.lock().unwrap();
        st.failures.entry(method.to_ascii_lowercase()).or_default().push_back((status, body_json.to_string()));
    }

    /// Waits for a sent message (in its current state) matching `pred`.
    pub fn wait_sent(&self, timeout: Duration, pred: impl Fn(&BotMessage) -> bool) -> Option<BotMessage> {
        let mut found = None;
        self.wait_state(timeout, |st| {
            found = st.sent.iter().find(|m| pred(m)).cloned();
            found.is_some()
        });
        found
    }

    /// The highest `offset` any getUpdates asked for (0 before any).
    pub fn committed_offset(&self) -> i64 {
        self.shared.state.lock().unwrap().committed
    }

    /// Updates queued and not yet confirmed by an offset past them.
    pub fn pending_updates(&self) -> usize {
        self.shared.state.lock().unwrap().updates.len()
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

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
    }
}

fn push_update(shared: &Shared, st: &mut State, inner: &str) -> i64 {
    let id = st.next_update;
    let sep = if inner.trim().is_empty() { "" } else { "," };
    push_verbatim(shared, st, format!(r#"{{"update_id":{id}{sep}{inner}}}"#))
}

fn push_verbatim(shared: &Shared, st: &mut State, json: String) -> i64 {
    let update_id = st.next_update;
    st.next_update += 1;
    st.updates.push(Pending { update_id, json });
    shared.changed.notify_all();
    update_id
}

/// The visible text of a message: for MarkdownV2, escapes resolved and unescaped formatting
/// markers (`* _ ~ | \``) dropped, as a Telegram client would show it.
pub fn visible_text(raw: &str, parse_mode: Option<&str>) -> String {
    if parse_mode != Some("MarkdownV2") {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '*' | '_' | '~' | '|' | '`' => {}
            other => out.push(other),
        }
    }
    out
}
