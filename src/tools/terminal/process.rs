//! Background processes (A14): a global table of at most 64 entries (the oldest finished one
//! is evicted; finished ones are kept 30 minutes), each with a reader thread and a rolling
//! buffer of its last 200 000 bytes of output; and the `process` tool over that table.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use miniserde::json::{Array, Object, Value};

use super::spawn;
use crate::tools::args::{self, n, object, s};
use crate::tools::{SessionRef, ToolEnv, ToolSpec};

pub const MAX_PROCESSES: usize = 64;
const KEEP_FINISHED: Duration = Duration::from_secs(1800);
const BUFFER: usize = 200_000;
const MAX_WAIT: i64 = 600;

/// Where completion notices go: installed once by the gateway; each item is the chat's session
/// and the text to run there as an internal message.
pub fn notify_sink() -> &'static OnceLock<async_channel::Sender<(SessionRef, String)>> {
    static SINK: OnceLock<async_channel::Sender<(SessionRef, String)>> = OnceLock::new();
    &SINK
}

struct State {
    /// The last `BUFFER` bytes of output (trimmed at a char boundary).
    buf: String,
    /// Bytes seen in all; `buf` holds the last `buf.len()` of them.
    total: usize,
    /// `total` at the last poll (poll returns what came after).
    polled: usize,
    exit: Option<i32>,
    finished: Option<Instant>,
    killed: bool,
    stdin: Option<File>,
}

struct Proc {
    id: String,
    pid: libc::pid_t,
    command: String,
    started: Instant,
    state: Mutex<State>,
}

impl Proc {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

static TABLE: Mutex<Vec<Arc<Proc>>> = Mutex::new(Vec::new());

fn table() -> MutexGuard<'static, Vec<Arc<Proc>>> {
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Running background processes, oldest first: (id, command, seconds running), for `/agents`.
pub fn running() -> Vec<(String, String, u64)> {
    let t = table();
    let live = t.iter().filter(|p| p.state().finished.is_none());
    live.map(|p| (p.id.clone(), p.command.clone(), p.started.elapsed().as_secs())).collect()
}

/// Makes room for one more entry: forgets long-finished ones, then the oldest finished one if
/// the table is full. Err when all 64 still run.
fn make_room(t: &mut Vec<Arc<Proc>>) -> Result<(), String> {
    t.retain(|p| p.state().finished.is_none_or(|f| f.elapsed() < KEEP_FINISHED));
    if t.len() < MAX_PROCESSES {
        return Ok(());
    }
    match t.iter().position(|p| p.state().finished.is_some()) {
        Some(i) => {
            t.remove(i);
            Ok(())
        }
        None => Err(format!(
            "{MAX_PROCESSES} background processes are running, the most this gateway tracks; stop one with \
             process(action=\"kill\") first"
        )),
    }
}

/// Starts `script` in the background; returns (session id, pid).
pub fn start(command: &str, script: &str, notify: Option<SessionRef>) -> Result<(String, i32), String> {
    let mut t = table();
    make_room(&mut t)?;
    let (reader, writer) = io::pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    let (stdin_r, stdin_w) = io::pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    let pid = spawn::spawn(script, &spawn::command_env(), writer.as_raw_fd(), Some(stdin_r.as_raw_fd()))
        .map_err(|e| format!("cannot start /bin/sh: {e}"))?;
    drop((writer, stdin_r));
    // SAFETY: the descriptor comes from a PipeWriter we own; ownership moves into the File.
    let stdin = unsafe { File::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(stdin_w)) };
    let id = format!("proc_{}", crate::clock::random_hex(12));
    let proc = Arc::new(Proc {
        id: id.clone(),
        pid,
        command: command.to_string(),
        started: Instant::now(),
        state: Mutex::new(State {
            buf: String::new(),
            total: 0,
            polled: 0,
            exit: None,
            finished: None,
            killed: false,
            stdin: Some(stdin),
        }),
    });
    t.push(proc.clone());
    drop(t);
    let spawned = std::thread::Builder::new().name("process".into()).spawn(move || watch(proc, reader, notify));
    if let Err(e) = spawned {
        spawn::signal_group(pid, libc::SIGKILL);
        spawn::reap(pid, true);
        return Err(format!("cannot watch the process: {e}"));
    }
    Ok((id, pid))
}

/// The reader thread: output into the rolling buffer until the pipe closes (or 2 s after
/// the shell exits, when a child of it keeps the pipe), then the exit code and the notice.
fn watch(p: Arc<Proc>, mut reader: io::PipeReader, notify: Option<SessionRef>) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut drain_until: Option<Instant> = None;
    loop {
        if drain_until.is_none()
            && let Some(code) = spawn::reap(p.pid, false)
        {
            p.state().exit = Some(code);
            drain_until = Some(Instant::now() + Duration::from_secs(2));
        }
        if drain_until.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        if !spawn::readable(reader.as_raw_fd(), Duration::from_millis(100)) {
            continue;
        }
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => append(&mut p.state(), &String::from_utf8_lossy(&buf[..k])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let code = match p.state().exit {
        Some(c) => c,
        None => spawn::reap(p.pid, true).unwrap_or(-1),
    };
    spawn::signal_group(p.pid, libc::SIGKILL); // nothing of it outlives it
    let (text, killed) = {
        let mut st = p.state();
        st.exit = Some(code);
        st.finished = Some(Instant::now());
        st.stdin = None;
        (last_chars(&st.buf, 2000).to_string(), st.killed)
    };
    if let Some(session) = notify
        && let Some(sink) = notify_sink().get()
    {
        let how = match (killed, code) {
            (true, c) => format!("was killed (exit code {c})"),
            (false, 0) => "completed normally (exit code 0)".to_string(),
            (false, c) if c > 128 => format!("terminated by signal {} (exit code {c})", c - 128),
            (false, c) => format!("exited (exit code {c})"),
        };
        let text = format!("[IMPORTANT: Background process {} {how}.\nCommand: {}\nOutput:\n{text}]", p.id, p.command);
        let _ = sink.try_send((session, text));
    }
}

fn append(st: &mut State, text: &str) {
    st.total += text.len();
    st.buf.push_str(text);
    if st.buf.len() > 2 * BUFFER {
        let mut cut = st.buf.len() - BUFFER;
        while !st.buf.is_char_boundary(cut) {
            cut += 1;
        }
        st.buf.drain(..cut);
    }
}

fn last_chars(text: &str, max: usize) -> &str {
    let count = text.chars().count();
    let at = text.char_indices().nth(count.saturating_sub(max)).map_or(text.len(), |(i, _)| i);
    &text[at..]
}

/// The rolling buffer as the tool shows it: its last `BUFFER` bytes.
fn kept(st: &State) -> &str {
    let mut at = st.buf.len().saturating_sub(BUFFER);
    while !st.buf.is_char_boundary(at) {
        at += 1;
    }
    &st.buf[at..]
}

fn status(st: &State) -> &'static str {
    match (st.finished.is_some(), st.killed) {
        (false, _) => "running",
        (true, true) => "killed",
        (true, false) => "exited",
    }
}

fn find(a: &Object) -> Result<Arc<Proc>, String> {
    let id = args::string(a, "session_id")?;
    let t = table();
    t.iter()
        .find(|p| p.id == id)
        .cloned()
        .ok_or_else(|| format!("no background process \"{id}\"; process(action=\"list\") shows the ones there are"))
}

fn exit_value(st: &State) -> Value {
    st.exit.filter(|_| st.finished.is_some()).map_or(Value::Null, |c| n(i64::from(c)))
}

const PARAMETERS: &str = r#"{"type":"object","properties":{
"action":{"type":"string","enum":["list","poll","log","wait","kill","write","submit","close"],"description":"Action to perform on background processes"},
"session_id":{"type":"string","description":"Process session ID (from terminal background output). Required for all actions except 'list'."},
"data":{"type":"string","description":"Text to send to process stdin (for 'write' and 'submit' actions)"},
"timeout":{"type":"integer","description":"Max seconds to block for 'wait' action. Returns partial output on timeout.","minimum":1},
"offset":{"type":"integer","description":"Line offset for 'log' action (default: last 200 lines)"},
"limit":{"type":"integer","description":"Max lines to return for 'log' action","minimum":1}
},"required":["action"]}"#;

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "process",
        toolset: "terminal",
        description: "Manage background processes started with terminal(background=true). Actions: 'list' (show all), \
            'poll' (check status + new output), 'log' (full output with pagination), 'wait' (block until done or \
            timeout), 'kill' (terminate), 'write' (send raw stdin data without newline), 'submit' (send data + \
            Enter, for answering prompts), 'close' (close stdin/send EOF).",
        parameters: PARAMETERS,
        read_only: false,
        run,
    }
}

fn run(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let action = args::string(a, "action")?;
    match action.as_str() {
        "list" => {
            let mut arr = Array::new();
            for p in table().iter() {
                let st = p.state();
                let mut o = Object::new();
                o.insert("session_id".into(), s(p.id.clone()));
                o.insert("command".into(), s(p.command.clone()));
                o.insert("pid".into(), n(i64::from(p.pid)));
                o.insert("status".into(), s(status(&st)));
                o.insert("exit_code".into(), exit_value(&st));
                o.insert("uptime_seconds".into(), n(p.started.elapsed().as_secs() as i64));
                arr.push(Value::Object(o));
            }
            let count = arr.len() as i64;
            Ok(object(vec![("processes", Value::Array(arr)), ("count", n(count))]))
        }
        "poll" => {
            let p = find(a)?;
            let mut st = p.state();
            let from = st.polled.max(st.total - kept(&st).len());
            let kept_text = kept(&st);
            let mut at = kept_text.len() - (st.total - from);
            while !kept_text.is_char_boundary(at) {
                at += 1;
            }
            let new = kept_text[at..].to_string();
            st.polled = st.total;
            Ok(object(vec![
                ("session_id", s(p.id.clone())),
                ("status", s(status(&st))),
                ("exit_code", exit_value(&st)),
                ("output", s(new)),
            ]))
        }
        "log" => {
            let p = find(a)?;
            let st = p.state();
            let lines: Vec<&str> = kept(&st).lines().collect();
            let limit = args::opt_int(a, "limit", 1, 100_000)?.unwrap_or(200) as usize;
            let offset = match args::opt_int(a, "offset", 0, i64::MAX)? {
                Some(o) => (o as usize).min(lines.len()),
                None => lines.len().saturating_sub(limit),
            };
            let shown = &lines[offset..(offset + limit).min(lines.len())];
            Ok(object(vec![
                ("session_id", s(p.id.clone())),
                ("status", s(status(&st))),
                ("exit_code", exit_value(&st)),
                ("output", s(shown.join("\n"))),
                ("total_lines", n(lines.len() as i64)),
                ("showing", s(format!("lines {}-{} of {}", offset + 1, offset + shown.len(), lines.len()))),
            ]))
        }
        "wait" => {
            let p = find(a)?;
            let requested = args::opt_int(a, "timeout", 1, i64::MAX)?.unwrap_or(180);
            let secs = requested.min(MAX_WAIT);
            let deadline = Instant::now() + Duration::from_secs(secs as u64);
            while p.state().finished.is_none() && Instant::now() < deadline && !env.cancelled() {
                std::thread::sleep(Duration::from_millis(100));
            }
            let st = p.state();
            let mut pairs = vec![
                ("session_id", s(p.id.clone())),
                ("status", s(status(&st))),
                ("exit_code", exit_value(&st)),
                ("output", s(last_chars(kept(&st), 2000))),
            ];
            if st.finished.is_none() {
                let why = if env.cancelled() { "interrupted" } else { "timed out" };
                pairs.push(("note", s(format!("wait {why}; the process is still running"))));
            }
            if requested > MAX_WAIT {
                pairs.push(("timeout_note", s(format!("timeout capped at {MAX_WAIT} seconds"))));
            }
            Ok(object(pairs))
        }
        "kill" => {
            let p = find(a)?;
            if p.state().finished.is_some() {
                return Ok(object(vec![("session_id", s(p.id.clone())), ("status", s("already exited"))]));
            }
            p.state().killed = true;
            spawn::signal_group(p.pid, libc::SIGTERM);
            let until = Instant::now() + Duration::from_secs(3);
            while p.state().finished.is_none() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
            if p.state().finished.is_none() {
                spawn::signal_group(p.pid, libc::SIGKILL);
            }
            Ok(object(vec![("session_id", s(p.id.clone())), ("status", s("killed"))]))
        }
        "write" | "submit" => {
            let p = find(a)?;
            let mut data = args::string(a, "data")?;
            if action == "submit" {
                data.push('\n');
            }
            let mut st = p.state();
            let stdin = st.stdin.as_mut().ok_or("the process's stdin is closed (or it has exited)")?;
            stdin.write_all(data.as_bytes()).map_err(|e| format!("cannot write to the process: {e}"))?;
            Ok(object(vec![
                ("session_id", s(p.id.clone())),
                ("status", s("ok")),
                ("bytes_written", n(data.len() as i64)),
            ]))
        }
        "close" => {
            let p = find(a)?;
            let closed = p.state().stdin.take().is_some();
            Ok(object(vec![
                ("session_id", s(p.id.clone())),
                ("status", s(if closed { "closed" } else { "already closed" })),
            ]))
        }
        other => Err(format!(
            "unknown action \"{other}\"; expected one of list, poll, log, wait, kill, write, submit, close"
        )),
    }
}
