//! Running the real `hermes-lite` binary with a clean environment: only PATH, HOME and
//! HERMES_HOME (both the test's home) and RUST_BACKTRACE=1, plus what the test adds, so nothing
//! from the developer's machine leaks into a test.

use std::fs::{self, OpenOptions};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::home::HermesHome;
use crate::wait_until;

fn command(bin: &Path, home: &HermesHome, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()))
        .env("HOME", home.path())
        .env("HERMES_HOME", home.path())
        .env("RUST_BACKTRACE", "1")
        .current_dir(home.path())
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs a CLI command to completion with the same environment discipline as [`Gateway`].
pub fn run_cli(bin: &Path, home: &HermesHome, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(bin, home, args, env).output().unwrap_or_else(|e| panic!("run {} {args:?}: {e}", bin.display()))
}

/// A running gateway process; killed with SIGKILL on drop if still alive.
pub struct Gateway {
    child: Child,
    out_path: PathBuf,
    /// Where this run's output starts in `gateway.out` (earlier runs in the same home come first).
    out_start: u64,
    status: Option<ExitStatus>,
}

impl Gateway {
    /// `<bin> gateway run --allow-root`.
    pub fn start(bin: &Path, home: &HermesHome) -> Gateway {
        Gateway::start_with(bin, home, &["gateway", "run", "--allow-root"], &[])
    }

    /// `<bin> <args...>` (the args replace the default ones) with extra environment variables.
    /// stdout and stderr are appended to `<home>/gateway.out`.
    pub fn start_with(bin: &Path, home: &HermesHome, args: &[&str], env: &[(&str, &str)]) -> Gateway {
        let out_path = home.path().join("gateway.out");
        let out = OpenOptions::new().create(true).append(true).open(&out_path).expect("open gateway.out");
        let out_start = out.metadata().map(|m| m.len()).unwrap_or(0);
        let err = out.try_clone().expect("clone gateway.out");
        let child = command(bin, home, args, env)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} {args:?}: {e}", bin.display()));
        Gateway { child, out_path, out_start, status: None }
    }

    /// This run's stdout and stderr so far.
    pub fn output(&self) -> String {
        let bytes = fs::read(&self.out_path).unwrap_or_default();
        let start = (self.out_start as usize).min(bytes.len());
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    pub fn wait_output(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.output().contains(needle))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
        }
        if self.status.is_none() {
            self.status = self.child.wait().ok();
        }
    }

    /// SIGTERM; follow with [`Gateway::wait_exit`].
    pub fn terminate(&mut self) {
        self.signal(libc::SIGTERM);
    }

    /// Sends any signal (e.g. `libc::SIGINT`, `libc::SIGHUP`) while the process runs.
    pub fn signal(&mut self, sig: i32) {
        if self.is_running() {
            // SAFETY: kill(2) on our own child's pid, which is not yet reaped so not reused.
            unsafe {
                libc::kill(self.child.id() as libc::pid_t, sig);
            }
        }
    }

    /// Waits for the exit: `Some(code)`, or `Some(128 + signal)` when a signal ended it;
    /// `None` if still running at the timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                let st = self.status?;
                return st.code().or_else(|| st.signal().map(|s| 128 + s));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        if self.status.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(st)) => {
                self.status = Some(st);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill9();
    }
}
