//! `terminal` (A14, AD §3.3): runs `/bin/sh -c` in its own process group in the workspace,
//! stdout and stderr merged into a bounded collector; foreground with a timeout, or in the
//! background as an entry of the process table (`process` tool).

pub mod process;
pub mod spawn;

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use miniserde::json::{Object, Value};

use super::args::{self, n, object, s};
use super::output::Collector;
use super::{ToolEnv, ToolSpec, approval};

pub use process::notify_sink;

/// Longest foreground timeout; longer work goes to the background.
const MAX_FOREGROUND: i64 = 600;
/// After SIGTERM on an interrupt, the group gets this long before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(3);

const DESCRIPTION: &str = "Execute shell commands on a Linux environment. Filesystem persists between calls.\n\n\
Do NOT use cat/head/tail to read files — use read_file instead.\n\
Do NOT use grep/rg/find to search — use search_files instead.\n\
Do NOT use ls to list directories — use search_files(target='files') instead.\n\
Do NOT use sed/awk to edit files — use patch instead.\n\
Do NOT use echo/cat heredoc to create files — use write_file instead.\n\
Reserve terminal for: builds, installs, git, processes, scripts, network, package managers, and anything that needs a shell.\n\n\
Foreground (default): Commands return INSTANTLY when done, even if the timeout is high. Set timeout=300 for long builds/scripts — you'll still get the result in seconds if it's fast. Prefer foreground for everything that finishes.\n\
Background: ONLY for long-running servers, watchers, or processes that never exit. Set background=true to get a session_id, then use process(action=\"wait\") to block until done — it returns instantly on completion. Use process(action=\"poll\") for progress checks and process(action=\"log\") for output. Set notify_on_complete=true to be told automatically when the process finishes.\n\
Working directory: Use 'workdir' for per-command cwd.\n\
Do NOT use vim/nano/interactive tools without pty; pipe answers or use non-interactive flags (-y, --yes).";

const PARAMETERS: &str = r#"{"type":"object","properties":{
"command":{"type":"string","description":"The command to execute on the VM"},
"background":{"type":"boolean","description":"Run the command in the background. ONLY for long-running servers, watchers, or processes that never exit. For builds and scripts use foreground with a generous timeout.","default":false},
"timeout":{"type":"integer","description":"Max seconds to wait (default: 180, foreground max 600). Returns INSTANTLY when the command finishes.","minimum":1},
"workdir":{"type":"string","description":"Working directory for this command (absolute path). Defaults to the session working directory."},
"notify_on_complete":{"type":"boolean","description":"When true (and background=true), you'll be automatically notified when the process finishes. Use for tasks that take a while where you want to do other work meanwhile.","default":false}
},"required":["command"]}"#;

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "terminal",
        toolset: "terminal",
        description: DESCRIPTION,
        parameters: PARAMETERS,
        read_only: false,
        run,
    }
}

fn run(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let command = args::string(a, "command")?;
    if command.trim().is_empty() {
        return Err("argument \"command\" is empty; give the shell command to run".into());
    }
    let background = args::opt_bool(a, "background")?.unwrap_or(false);
    let timeout = args::opt_int(a, "timeout", 1, i64::MAX)?;
    let notify = args::opt_bool(a, "notify_on_complete")?.unwrap_or(false);
    let cwd = match args::opt_string(a, "workdir")?.filter(|w| !w.trim().is_empty()) {
        Some(w) if !w.starts_with('/') => return Err(format!("workdir must be an absolute path, not \"{w}\"")),
        Some(w) => std::path::PathBuf::from(w),
        None => env.config.workspace.clone(),
    };
    if !cwd.is_dir() {
        return Err(format!("workdir {} does not exist or is not a directory", cwd.display()));
    }
    if !background && timeout.is_some_and(|t| t > MAX_FOREGROUND) {
        return Err(format!(
            "timeout {} is above the foreground limit of {MAX_FOREGROUND} seconds; run long commands with \
             background=true and follow them with the process tool",
            timeout.unwrap_or(0)
        ));
    }
    let note = approval::check(env, &command)?;
    let script = format!("cd -- '{}' || exit 1\n{command}", cwd.display().to_string().replace('\'', "'\\''"));
    if background {
        let notify_to = notify.then(|| env.session.clone());
        let (id, pid) = process::start(&command, &script, notify_to)?;
        return Ok(object(vec![
            ("output", s("Background process started")),
            ("session_id", s(id)),
            ("pid", n(i64::from(pid))),
            ("exit_code", n(0)),
        ]));
    }
    let secs = timeout.map_or(env.config.terminal_timeout, |t| t as u64);
    let (output, exit_code, error) = foreground(env, &script, Duration::from_secs(secs));
    // Written by hand to keep Hermes' key order (output first); miniserde objects sort keys.
    let json = |v: Value| miniserde::json::to_string(&v);
    let mut text = format!(
        "{{\"output\":{},\"exit_code\":{exit_code},\"error\":{}",
        json(s(output)),
        json(error.map_or(Value::Null, s))
    );
    if let Some(note) = note {
        text.push_str(&format!(",\"approval\":{}", json(s(note))));
    }
    text.push('}');
    Ok(text)
}

/// Runs to the end, the timeout or an interrupt: (output, exit code, error).
fn foreground(env: &ToolEnv, script: &str, timeout: Duration) -> (String, i32, Option<String>) {
    let (mut reader, writer) = match io::pipe() {
        Ok(p) => p,
        Err(e) => return (String::new(), -1, Some(format!("cannot create a pipe: {e}"))),
    };
    let pid = match spawn::spawn(script, &spawn::command_env(), writer.as_raw_fd(), None) {
        Ok(pid) => pid,
        Err(e) => return (String::new(), -1, Some(format!("cannot start /bin/sh: {e}"))),
    };
    drop(writer);
    let mut out = Collector::new(env.config.output_max_bytes, &env.config.home);
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + timeout;
    let mut exit: Option<i32> = None;
    let mut drain_until: Option<Instant> = None;
    let ended = loop {
        if env.cancelled() {
            break Some(130);
        }
        let now = Instant::now();
        if now >= deadline {
            break Some(124);
        }
        if exit.is_none()
            && let Some(code) = spawn::reap(pid, false)
        {
            exit = Some(code);
            drain_until = Some(now + Duration::from_secs(2)); // a background child may hold the pipe
        }
        if drain_until.is_some_and(|t| now >= t) {
            break None;
        }
        if !spawn::readable(reader.as_raw_fd(), Duration::from_millis(100)) {
            continue;
        }
        match reader.read(&mut buf) {
            Ok(0) => break None,
            Ok(k) => out.push(&buf[..k]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break None,
        }
    };
    match ended {
        Some(130) => {
            spawn::signal_group(pid, libc::SIGTERM);
            let until = Instant::now() + KILL_GRACE;
            while exit.is_none() && Instant::now() < until {
                exit = spawn::reap(pid, false);
                std::thread::sleep(Duration::from_millis(50));
            }
            spawn::signal_group(pid, libc::SIGKILL);
            if exit.is_none() {
                spawn::reap(pid, true);
            }
            let mut text = out.finish();
            text.push_str("\n[Command interrupted]");
            (text, 130, None)
        }
        Some(code) => {
            spawn::signal_group(pid, libc::SIGKILL);
            if exit.is_none() {
                spawn::reap(pid, true);
            }
            (out.finish(), code, Some(format!("Command timed out after {} seconds", timeout.as_secs())))
        }
        None => {
            spawn::signal_group(pid, libc::SIGKILL);
            let code = exit.or_else(|| spawn::reap(pid, true)).unwrap_or(-1);
            (out.finish(), code, None)
        }
    }
}

#[cfg(test)]
mod tests;
