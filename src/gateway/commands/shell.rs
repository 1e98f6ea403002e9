//! Running an `exec` quick command: `/bin/sh -c` in its own process group, with exactly the
//! environment given, stdout and stderr on one pipe, and a deadline after which the whole
//! group is killed.
//!
//! The child is started with `posix_spawn` directly rather than `std::process::Command`: the
//! gateway needs none of Command's generality, and it costs about 35 KiB of binary.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// How a command ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exec {
    /// Everything it wrote (stdout and stderr, in order), up to `cap` bytes.
    Output(String),
    TimedOut,
    Failed(String),
}

/// Runs `command`; after `timeout` the group is killed. Once the shell has exited, a
/// background child still holding the pipe gets two more seconds, then the group is killed
/// too (a chat command leaves nothing running). Output past `cap` bytes is read and dropped,
/// so the child never blocks on a full pipe.
pub fn run(command: &str, env: &[(String, String)], timeout: Duration, cap: usize) -> Exec {
    let (mut reader, writer) = match io::pipe() {
        Ok(p) => p,
        Err(e) => return Exec::Failed(e.to_string()),
    };
    let pid = match spawn(command, env, writer.as_raw_fd()) {
        Ok(pid) => pid,
        Err(e) => return Exec::Failed(e.to_string()),
    };
    drop(writer); // the child holds the only write ends now: EOF when it and its children exit
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    let mut deadline = Instant::now() + timeout;
    let mut exited = false;
    let timed_out = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break !exited;
        }
        if !exited && reaped(pid, false) {
            exited = true;
            deadline = deadline.min(Instant::now() + Duration::from_secs(2));
        }
        let mut pfd = libc::pollfd { fd: reader.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let wait_ms = left.min(Duration::from_millis(100)).as_millis() as i32;
        // SAFETY: one valid pollfd for a descriptor we own.
        if unsafe { libc::poll(&mut pfd, 1, wait_ms) } <= 0 {
            continue; // nothing yet, or EINTR: check the clock and the child again
        }
        match reader.read(&mut buf) {
            Ok(0) => break false, // every writer is gone
            Ok(n) => kept.extend_from_slice(&buf[..n.min(cap.saturating_sub(kept.len()))]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                kill_group(pid, exited);
                return Exec::Failed(e.to_string());
            }
        }
    };
    kill_group(pid, exited);
    if timed_out { Exec::TimedOut } else { Exec::Output(String::from_utf8_lossy(&kept).into_owned()) }
}

/// Kills the child's process group (its pgid is its pid) and reaps the child.
fn kill_group(pid: libc::pid_t, reaped_already: bool) {
    // SAFETY: kill(2) on a process group we created; harmless when it is empty.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    if !reaped_already {
        reaped(pid, true);
    }
}

/// Reaps `pid` if it has exited (or waits for it when `block`); true once reaped.
fn reaped(pid: libc::pid_t, block: bool) -> bool {
    let mut status = 0;
    let flags = if block { 0 } else { libc::WNOHANG };
    // SAFETY: waitpid on our own child with a valid status pointer.
    unsafe { libc::waitpid(pid, &mut status, flags) == pid }
}

fn spawn(command: &str, env: &[(String, String)], out: i32) -> io::Result<libc::pid_t> {
    crate::tools::terminal::spawn::spawn(command, env, out, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: usize = 16 * 1024;
    const LONG: Duration = Duration::from_secs(30);

    fn env() -> Vec<(String, String)> {
        vec![("PATH".into(), std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))]
    }

    #[test]
    fn output_is_stdout_and_stderr_in_order() {
        assert_eq!(run("echo hello", &env(), LONG, CAP), Exec::Output("hello\n".into()));
        assert_eq!(run("echo a; echo oops >&2; exit 3", &env(), LONG, CAP), Exec::Output("a\noops\n".into()));
        assert_eq!(run("cat", &env(), LONG, CAP), Exec::Output(String::new()), "stdin is empty");
    }

    #[test]
    fn output_past_the_cap_is_dropped_without_blocking_the_child() {
        let Exec::Output(out) = run("head -c 200000 /dev/zero | tr '\\0' x", &env(), LONG, 10) else { panic!() };
        assert_eq!(out, "x".repeat(10));
    }

    #[test]
    fn a_timeout_kills_the_whole_group() {
        let dir = crate::test_util::temp_dir("quick-timeout");
        let marker = dir.join("survived");
        let cmd = format!("(sleep 2; touch {}) & sleep 60", marker.display());
        assert_eq!(run(&cmd, &env(), Duration::from_millis(300), CAP), Exec::TimedOut);
        std::thread::sleep(Duration::from_secs(3));
        assert!(!marker.exists(), "a child of the timed-out command kept running");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_child_sees_only_the_given_environment() {
        let mut e = env();
        e.push(("ONLY_THIS".into(), "yes".into()));
        let Exec::Output(out) = run("env", &e, LONG, CAP) else { panic!() };
        assert!(out.contains("ONLY_THIS=yes"));
        assert!(!out.contains("HOME="), "{out}");
    }

    #[test]
    fn a_nul_byte_is_an_error_not_a_truncated_command() {
        assert!(matches!(run("echo a\0rm -rf /", &env(), LONG, CAP), Exec::Failed(_)));
    }
}
