//! T4 peer test for Matrix (P10–P13): the real gateway binary against a real Synapse homeserver
//! (PyPI `matrix-synapse`, started by `tests/peers/synapse_start.sh`) and the fake LLM. It talks
//! only as Matrix users do, through the client-server API: a DM with streamed edits, a room
//! where only mentions are answered, a thread reply that stays in its thread, an encrypted room
//! that gets one notice, and a restart that processes nothing twice and reuses the device.
//!
//! `#[ignore]`d like `tests/peers.rs`; `.ci/run` runs it with
//! `cargo test --test peers_matrix -- --ignored` after `tests/peers/install.sh`. A missing
//! Synapse fails loudly unless `HERMES_SKIP_PEERS=1` (then it says it skipped).

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hermes_testkit::{FakeLlm, Gateway, HermesHome, Reply};
use miniserde::json::{self, Value};

const WAIT: Duration = Duration::from_secs(60);
const BOT: &str = "@hermesbot:localhost";

#[test]
#[ignore = "needs Synapse: tests/peers/install.sh, then cargo test --test peers_matrix -- --ignored (.ci/run does both)"]
fn synapse_dm_room_thread_encryption_and_restart() {
    let Some(venv) = synapse_venv() else { return };
    let port = free_port();
    let server = Synapse::start(&venv, port);
    let hs = Hs::new(port);
    hs.register_without_login("hermesbot", "botpass");
    let alice = hs.register("alice", "alicepass");
    let bob = hs.register("bob", "bobpass");

    let llm = FakeLlm::start();
    llm.on(
        "dm hello",
        Reply::text("Hello Alice, this answer streams in several parts.")
            .chunks(6)
            .chunk_delay(Duration::from_millis(250)),
    );
    llm.on("room question", Reply::text("Answer in the room."));
    llm.on("thread question", Reply::text("Answer in the thread."));
    llm.on("after restart", Reply::text("Still here after the restart."));
    llm.on("unmentioned chatter", Reply::text("WRONG: answered without a mention"));

    let home = HermesHome::new("matrix-peer");
    home.write_env(&format!(
        "MATRIX_HOMESERVER=http://127.0.0.1:{port}\nMATRIX_USER_ID={BOT}\nMATRIX_PASSWORD=botpass\n\
         MATRIX_ALLOWED_USERS=@alice:localhost,@bob:localhost\nMATRIX_SYNC_TIMEOUT=5\n"
    ));
    home.write_config(&format!(
        "model:\n  default: test-model\n  provider: custom\n  base_url: {}\n  api_key: sk-test-secret-key-1234\n\
         streaming:\n  edit_interval: 0.2\nauxiliary:\n  title_generation:\n    enabled: false\n",
        llm.base_url()
    ));
    let bin = Path::new(env!("CARGO_BIN_EXE_hermes-lite"));
    let mut gateway = Gateway::start(bin, &home);
    assert!(
        gateway.wait_output("matrix: first sync", WAIT),
        "the gateway never finished its first Matrix sync:\n{}",
        gateway.output()
    );

    // DM: invite → auto-join → answer, streamed as m.replace edits of one message.
    let dm = hs.create_room(&alice, &[BOT], true, false);
    hs.wait_joined(&alice, &dm, BOT);
    let first = hs.send(&alice, &dm, json_text("dm hello"));
    let answer = hs.wait_bot_message(&alice, &dm, |m| m.final_body().contains("streams in several parts"));
    assert!(answer.edits >= 1, "the streamed answer was not edited: {answer:?}\n{}", gateway.output());
    assert_eq!(answer.final_body(), "Hello Alice, this answer streams in several parts.");
    assert!(answer.formatted, "the answer has no HTML formatted_body: {answer:?}");

    // A room of three: unmentioned messages are ignored, a mention is answered.
    let room = hs.create_room(&alice, &[BOT, "@bob:localhost"], false, false);
    hs.join(&bob, &room);
    hs.wait_joined(&alice, &room, BOT);
    hs.send(&alice, &room, json_text("unmentioned chatter"));
    hs.send(&alice, &room, json_text("hermesbot: room question"));
    let answer = hs.wait_bot_message(&alice, &room, |m| m.final_body() == "Answer in the room.");
    let all = hs.bot_messages(&alice, &room);
    assert_eq!(all.len(), 1, "only the mention is answered in the room: {all:?}");
    assert!(
        !llm.requests().iter().any(|r| r.body.contains("unmentioned chatter")),
        "an unmentioned message reached the model"
    );
    let _ = answer;

    // A thread in the DM: the answer carries m.thread with the same root.
    let thread_msg = format!(
        r#"{{"msgtype":"m.text","body":"thread question","m.relates_to":{{"rel_type":"m.thread","event_id":{},"is_falling_back":true,"m.in_reply_to":{{"event_id":{}}}}}}}"#,
        json::to_string(&first),
        json::to_string(&first)
    );
    hs.send(&alice, &dm, thread_msg);
    let answer = hs.wait_bot_message(&alice, &dm, |m| m.final_body() == "Answer in the thread.");
    assert_eq!(answer.thread.as_deref(), Some(first.as_str()), "the thread answer left the thread: {answer:?}");

    // An encrypted room: one notice, however many encrypted messages.
    let secret = hs.create_room(&alice, &[BOT], false, true);
    hs.wait_joined(&alice, &secret, BOT);
    for i in 0..2 {
        hs.send_type(&alice, &secret, "m.room.encrypted", format!(
            r#"{{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"AwgAEn{i}","device_id":"ALICEDEV","sender_key":"k","session_id":"s"}}"#
        ));
    }
    let notice = hs.wait_bot_message(&alice, &secret, |m| m.final_body().contains("encrypted"));
    assert_eq!(notice.msgtype, "m.notice");
    // Give a second notice the chance to appear: a later clear message is answered after it.
    hs.send(&alice, &secret, json_text("hermesbot: room question"));
    hs.wait_bot_message(&alice, &secret, |m| m.final_body() == "Answer in the room.");
    let notices = hs.bot_messages(&alice, &secret).iter().filter(|m| m.msgtype == "m.notice").count();
    assert_eq!(notices, 1, "the encrypted room got {notices} notices");

    // Restart: nothing is processed twice, and the stored login (same device) is reused.
    let requests_before = llm.requests().len();
    let dm_before = hs.bot_messages(&alice, &dm).len();
    gateway.terminate();
    assert!(gateway.wait_exit(Duration::from_secs(30)).is_some(), "the gateway did not stop on SIGTERM");
    let mut gateway = Gateway::start(bin, &home);
    assert!(gateway.wait_output("matrix: connected as", WAIT), "no reconnect:\n{}", gateway.output());
    assert!(
        !gateway.output().contains("matrix: logged in"),
        "a restart logged in again (new device):\n{}",
        gateway.output()
    );
    hs.send(&alice, &dm, json_text("after restart"));
    hs.wait_bot_message(&alice, &dm, |m| m.final_body() == "Still here after the restart.");
    let requests = llm.requests();
    assert_eq!(requests.len(), requests_before + 1, "a message from before the restart reached the model again");
    assert_eq!(hs.bot_messages(&alice, &dm).len(), dm_before + 1, "the DM got more than the one new answer");
    assert_eq!(hs.devices(BOT, "botpass"), 2, "the bot should have the gateway's device plus this check's login");
    gateway.terminate();
    let _ = gateway.wait_exit(Duration::from_secs(30));
    drop(server);
}

fn json_text(body: &str) -> String {
    format!(r#"{{"msgtype":"m.text","body":{}}}"#, json::to_string(body))
}

/// `${PEERS:-$HOME/.cache/hermes-lite-peers}/synapse-venv`, or `None` to skip (HERMES_SKIP_PEERS=1).
fn synapse_venv() -> Option<PathBuf> {
    let peers = match std::env::var_os("PEERS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/hermes-lite-peers"),
    };
    let venv = peers.join("synapse-venv");
    if venv.join("bin/synapse_homeserver").exists() {
        return Some(venv);
    }
    if std::env::var("HERMES_SKIP_PEERS").as_deref() == Ok("1") {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED Matrix peer test (HERMES_SKIP_PEERS=1): no Synapse in {}; run tests/peers/install.sh ***\n",
            venv.display()
        );
        return None;
    }
    panic!(
        "the Matrix peer test needs Synapse in {}: run tests/peers/install.sh (or HERMES_SKIP_PEERS=1 to skip, loudly)",
        venv.display()
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A throwaway Synapse started by the repo's script; killed (by its pid file) on drop.
struct Synapse {
    dir: PathBuf,
}

impl Synapse {
    fn start(venv: &Path, port: u16) -> Synapse {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let dir = std::env::temp_dir().join(format!("hermes-synapse-{}-{nanos}", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/synapse_start.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .arg(port.to_string())
            .env("SYNAPSE_VENV", venv)
            .output()
            .expect("run synapse_start.sh");
        let server = Synapse { dir };
        assert!(
            out.status.success(),
            "synapse_start.sh failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            fs::read_to_string(server.dir.join("stdout.log")).unwrap_or_default()
        );
        server
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        if let Ok(pid) = fs::read_to_string(self.dir.join("synapse.pid"))
            && let Ok(pid) = pid.trim().parse::<libc::pid_t>()
        {
            // SAFETY: the pid is the Synapse this test started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            // SAFETY: signal 0 only checks that the process still exists.
            while Instant::now() < deadline && unsafe { libc::kill(pid, 0) } == 0 {
                thread::sleep(Duration::from_millis(50));
            }
        }
        if !thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("Synapse files kept in {}", self.dir.display());
        }
    }
}

/// One bot message as a user sees it: the original event with its edits applied.
#[derive(Debug, Clone)]
struct BotMessage {
    body: String,
    edited_body: Option<String>,
    edits: usize,
    formatted: bool,
    msgtype: String,
    thread: Option<String>,
}

impl BotMessage {
    fn final_body(&self) -> &str {
        self.edited_body.as_deref().unwrap_or(&self.body)
    }
}

/// The human side: plain client-server API calls as a Matrix client makes them.
struct Hs {
    base: String,
    agent: ureq::Agent,
    txn: std::cell::Cell<u64>,
}

fn get<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for k in keys {
        match cur {
            Value::Object(o) => cur = o.get(*k)?,
            _ => return None,
        }
    }
    Some(cur)
}

fn get_str<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    match get(v, keys)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Hs {
    fn new(port: u16) -> Hs {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Hs { base: format!("http://127.0.0.1:{port}/_matrix/client/v3"), agent, txn: std::cell::Cell::new(0) }
    }

    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<String>) -> Value {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let resp = match method {
            "GET" => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            _ => {
                let mut r = if method == "PUT" { self.agent.put(&url) } else { self.agent.post(&url) };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.content_type("application/json").send(body.unwrap_or_else(|| "{}".into()))
            }
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let text = resp.body_mut().read_to_string().unwrap();
        assert!(status.is_success(), "{method} {path} -> {status}: {text}");
        json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: bad JSON ({e}): {text}"))
    }

    /// Registers through open registration (`m.login.dummy`); returns the access token.
    fn register(&self, user: &str, password: &str) -> String {
        let body = format!(
            r#"{{"username":{},"password":{},"auth":{{"type":"m.login.dummy"}},"inhibit_login":false}}"#,
            json::to_string(user),
            json::to_string(password)
        );
        let v = self.call("POST", "/register", None, Some(body));
        get_str(&v, &["access_token"]).expect("access_token").to_string()
    }

    /// Registers without creating a device (the gateway's login makes the bot's only one).
    fn register_without_login(&self, user: &str, password: &str) {
        let body = format!(
            r#"{{"username":{},"password":{},"auth":{{"type":"m.login.dummy"}},"inhibit_login":true}}"#,
            json::to_string(user),
            json::to_string(password)
        );
        self.call("POST", "/register", None, Some(body));
    }

    /// The number of devices of `user` (logs in once more to ask: that adds one).
    fn devices(&self, user: &str, password: &str) -> usize {
        let body = format!(
            r#"{{"type":"m.login.password","identifier":{{"type":"m.id.user","user":{}}},"password":{}}}"#,
            json::to_string(user),
            json::to_string(password)
        );
        let v = self.call("POST", "/login", None, Some(body));
        let token = get_str(&v, &["access_token"]).unwrap().to_string();
        let v = self.call("GET", "/devices", Some(&token), None);
        match get(&v, &["devices"]) {
            Some(Value::Array(a)) => a.len(),
            _ => 0,
        }
    }

    fn create_room(&self, token: &str, invite: &[&str], direct: bool, encrypted: bool) -> String {
        let invite = invite.iter().map(|u| json::to_string(*u)).collect::<Vec<_>>().join(",");
        let state = if encrypted {
            r#","initial_state":[{"type":"m.room.encryption","state_key":"","content":{"algorithm":"m.megolm.v1.aes-sha2"}}]"#
        } else {
            ""
        };
        let body = format!(r#"{{"preset":"private_chat","is_direct":{direct},"invite":[{invite}]{state}}}"#);
        let v = self.call("POST", "/createRoom", Some(token), Some(body));
        get_str(&v, &["room_id"]).unwrap().to_string()
    }

    fn join(&self, token: &str, room: &str) {
        self.call("POST", &format!("/join/{}", enc(room)), Some(token), Some("{}".into()));
    }

    fn wait_joined(&self, token: &str, room: &str, user: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.call("GET", &format!("/rooms/{}/joined_members", enc(room)), Some(token), None);
            if get(&v, &["joined", user]).is_some() {
                return;
            }
            assert!(Instant::now() < deadline, "{user} never joined {room}");
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn send(&self, token: &str, room: &str, content: String) -> String {
        self.send_type(token, room, "m.room.message", content)
    }

    fn send_type(&self, token: &str, room: &str, event_type: &str, content: String) -> String {
        self.txn.set(self.txn.get() + 1);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let path = format!("/rooms/{}/send/{event_type}/t{nanos}.{}", enc(room), self.txn.get());
        let v = self.call("PUT", &path, Some(token), Some(content));
        get_str(&v, &["event_id"]).unwrap().to_string()
    }

    /// Every message the bot sent to `room`, oldest first, with edits applied.
    fn bot_messages(&self, token: &str, room: &str) -> Vec<BotMessage> {
        let path = format!("/rooms/{}/messages?dir=f&limit=1000", enc(room));
        let v = self.call("GET", &path, Some(token), None);
        let Some(Value::Array(events)) = get(&v, &["chunk"]) else { return Vec::new() };
        let mut out: Vec<(String, BotMessage)> = Vec::new();
        for e in events.iter() {
            if get_str(e, &["type"]) != Some("m.room.message") || get_str(e, &["sender"]) != Some(BOT) {
                continue;
            }
            let c = get(e, &["content"]).unwrap();
            if get_str(c, &["m.relates_to", "rel_type"]) == Some("m.replace") {
                let target = get_str(c, &["m.relates_to", "event_id"]).unwrap_or("");
                if let Some((_, m)) = out.iter_mut().find(|(id, _)| id == target) {
                    m.edits += 1;
                    m.edited_body = get_str(c, &["m.new_content", "body"]).map(str::to_string);
                }
                continue;
            }
            let thread = (get_str(c, &["m.relates_to", "rel_type"]) == Some("m.thread"))
                .then(|| get_str(c, &["m.relates_to", "event_id"]).unwrap_or("").to_string());
            out.push((
                get_str(e, &["event_id"]).unwrap_or("").to_string(),
                BotMessage {
                    body: get_str(c, &["body"]).unwrap_or("").to_string(),
                    edited_body: None,
                    edits: 0,
                    formatted: get_str(c, &["formatted_body"]).is_some(),
                    msgtype: get_str(c, &["msgtype"]).unwrap_or("").to_string(),
                    thread,
                },
            ));
        }
        out.into_iter().map(|(_, m)| m).collect()
    }

    /// Waits until a bot message in `room` matches `done` and has stopped changing for a moment.
    fn wait_bot_message(&self, token: &str, room: &str, done: impl Fn(&BotMessage) -> bool) -> BotMessage {
        let deadline = Instant::now() + WAIT;
        loop {
            let msgs = self.bot_messages(token, room);
            if let Some(m) = msgs.iter().find(|m| done(m)) {
                return m.clone();
            }
            assert!(Instant::now() < deadline, "no matching bot message in {room}; got {msgs:#?}");
            thread::sleep(Duration::from_millis(150));
        }
    }
}
