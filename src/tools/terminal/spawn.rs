//! `posix_spawn` of `/bin/sh -c` in a new process group (no `std::process`: it costs about
//! 35 KiB of binary). Shared by the terminal tool and the gateway's `exec` quick commands.

use std::ffi::{CString, c_char};
use std::io;

/// Starts `/bin/sh -c command` in its own process group: stdin from `stdin` (or /dev/null),
/// stdout and stderr onto `out`, the environment exactly `env`. Every other descriptor the
/// gateway holds is close-on-exec (Rust opens them so), so the child inherits nothing else.
pub fn spawn(command: &str, env: &[(String, String)], out: i32, stdin: Option<i32>) -> io::Result<libc::pid_t> {
    let c = |s: String| CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte"));
    let (sh, flag, cmd) = (c("/bin/sh".into())?, c("-c".into())?, c(command.into())?);
    let argv = [sh.as_ptr(), flag.as_ptr(), cmd.as_ptr(), std::ptr::null()];
    let vars = env.iter().map(|(k, v)| c(format!("{k}={v}"))).collect::<io::Result<Vec<_>>>()?;
    let mut envp: Vec<*const c_char> = vars.iter().map(|v| v.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: the attribute and action objects are initialised before use and destroyed after;
    // every pointer handed to posix_spawn lives until it returns.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        libc::posix_spawn_file_actions_init(&mut actions);
        libc::posix_spawnattr_init(&mut attr);
        match stdin {
            Some(fd) => libc::posix_spawn_file_actions_adddup2(&mut actions, fd, 0),
            None => libc::posix_spawn_file_actions_addopen(&mut actions, 0, c"/dev/null".as_ptr(), libc::O_RDONLY, 0),
        };
        libc::posix_spawn_file_actions_adddup2(&mut actions, out, 1);
        libc::posix_spawn_file_actions_adddup2(&mut actions, out, 2);
        libc::posix_spawnattr_setflags(&mut attr, libc::POSIX_SPAWN_SETPGROUP as libc::c_short);
        libc::posix_spawnattr_setpgroup(&mut attr, 0);
        let mut pid = 0;
        let rc = libc::posix_spawn(
            &mut pid,
            sh.as_ptr(),
            &actions,
            &attr,
            argv.as_ptr() as *const *mut c_char,
            envp.as_ptr() as *const *mut c_char,
        );
        libc::posix_spawn_file_actions_destroy(&mut actions);
        libc::posix_spawnattr_destroy(&mut attr);
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(pid)
    }
}

/// Reaps `pid` if it has exited (or waits when `block`): its exit code (128 + signal when it
/// was killed), or `None` while it runs.
pub fn reap(pid: libc::pid_t, block: bool) -> Option<i32> {
    let mut status = 0;
    let flags = if block { 0 } else { libc::WNOHANG };
    // SAFETY: waitpid on our own child with a valid status pointer.
    if unsafe { libc::waitpid(pid, &mut status, flags) } != pid {
        return None;
    }
    Some(if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) })
}

/// Sends `signal` to the child's whole process group (its pgid is its pid).
pub fn signal_group(pid: libc::pid_t, signal: i32) {
    // SAFETY: kill(2) on a process group we created; harmless when it is empty.
    unsafe { libc::kill(-pid, signal) };
}

/// Waits up to `limit` for a readable pipe (false on timeout or EINTR).
pub fn readable(fd: i32, limit: std::time::Duration) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for a descriptor the caller owns.
    unsafe { libc::poll(&mut pfd, 1, limit.as_millis() as i32) > 0 }
}

/// The environment of a command: the gateway's own, minus variables that look like
/// credentials (the model must not read API keys with `env`).
pub fn command_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| {
            let k = k.to_ascii_uppercase();
            !["TOKEN", "SECRET", "PASSWORD", "API_KEY", "_KEY"].iter().any(|s| k.contains(s))
        })
        .collect()
}
