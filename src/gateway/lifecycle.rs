//! Process lifecycle (O5–O7, GC §4): the home lock shared with the Python gateway, the pid and
//! state files, signals, readiness for systemd, and periodic housekeeping.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use smol::Async;
use smol::io::AsyncReadExt;

use super::Gateway;
use crate::store::{self, inbox, outbox};

/// Holds `HERMES_HOME/gateway.lock` (flock) for the life of the process, so two gateways —
/// ours or the Python one — never serve one home.
pub struct HomeLock {
    file: File,
    pid_path: PathBuf,
}

impl HomeLock {
    /// Unlocks and removes the pid file.
    pub fn release(&self) {
        let _ = std::fs::remove_file(&self.pid_path);
        // SAFETY: flock on a descriptor we own.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Takes the home lock; with `replace`, stops the gateway that holds it first.
pub fn acquire(home: &Path, replace: bool) -> Result<HomeLock, String> {
    create_private_dir(home)?;
    let path = home.join("gateway.lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if !try_flock(&file) {
        let holder = holder_pid(home);
        if !replace {
            return Err(match holder {
                Some(pid) => format!("❌ Gateway already running (PID {pid}). Stop it first, or use --replace."),
                None => "❌ Gateway already running (another process holds gateway.lock).".to_string(),
            });
        }
        if let Some(pid) = holder {
            log::info!("--replace: stopping the gateway with PID {pid}");
            // SAFETY: sending a signal to a pid has no memory effects.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            if !wait_for_lock(&file, Duration::from_secs(10)) {
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        }
        if !wait_for_lock(&file, Duration::from_secs(5)) {
            return Err("could not take over gateway.lock from the running gateway".into());
        }
    }
    let record = pid_record();
    let _ = file.set_len(0);
    let _ = file.write_all(record.as_bytes());
    let pid_path = home.join("gateway.pid");
    crate::private_file::write(&pid_path, record.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", pid_path.display()))?;
    Ok(HomeLock { file, pid_path })
}

fn try_flock(file: &File) -> bool {
    // SAFETY: flock on a descriptor we own.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

fn wait_for_lock(file: &File, timeout: Duration) -> bool {
    let end = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < end {
        if try_flock(file) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    try_flock(file)
}

/// The pid written by the holder (ours or Hermes': both write `{"pid": n, ...}`).
fn holder_pid(home: &Path) -> Option<u32> {
    for name in ["gateway.pid", "gateway.lock"] {
        let Ok(text) = std::fs::read_to_string(home.join(name)) else { continue };
        if let Ok(miniserde::json::Value::Object(o)) = miniserde::json::from_str::<miniserde::json::Value>(&text)
            && let Some(pid) = crate::agent::message::int_field(&o, "pid")
        {
            return u32::try_from(pid).ok();
        }
        if let Ok(pid) = text.trim().parse() {
            return Some(pid);
        }
    }
    None
}

/// `{"pid", "kind", "argv", "start_time"}` as the Python gateway writes it.
fn pid_record() -> String {
    use miniserde::json::{Array, Number, Object, Value};
    let mut o = Object::new();
    o.insert("pid".into(), Value::Number(Number::U64(std::process::id() as u64)));
    o.insert("kind".into(), Value::String("hermes-gateway".into()));
    let mut argv = Array::new();
    for a in std::env::args() {
        argv.push(Value::String(a));
    }
    o.insert("argv".into(), Value::Array(argv));
    if let Some(ticks) = process_start_ticks() {
        o.insert("start_time".into(), Value::Number(Number::U64(ticks)));
    }
    miniserde::json::to_string(&Value::Object(o))
}

/// Field 22 of `/proc/self/stat`: when the process started, in clock ticks since boot.
fn process_start_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19)?.parse().ok()
}

pub fn create_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// `gateway_state.json` (read by `gateway status`, and by Hermes' own status command).
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn new(home: &Path) -> Self {
        StateFile { path: home.join("gateway_state.json") }
    }

    pub fn write(&self, state: &str, platforms: &[String]) {
        use miniserde::json::{Number, Object, Value};
        let mut o = Object::new();
        o.insert("pid".into(), Value::Number(Number::U64(std::process::id() as u64)));
        o.insert("kind".into(), Value::String("hermes-gateway".into()));
        o.insert("gateway_state".into(), Value::String(state.into()));
        let mut ps = Object::new();
        for p in platforms {
            let mut entry = Object::new();
            entry.insert("state".into(), Value::String("connected".into()));
            ps.insert(p.clone(), Value::Object(entry));
        }
        o.insert("platforms".into(), Value::Object(ps));
        o.insert("updated_at".into(), Value::Number(Number::F64(store::now())));
        let text = miniserde::json::to_string(&Value::Object(o));
        if let Err(e) = crate::private_file::write(&self.path, text.as_bytes()) {
            log::warn!("cannot write {}: {e}", self.path.display());
        }
    }
}

/// Why the gateway stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// SIGTERM or SIGINT.
    Terminate(i32),
    /// SIGUSR1 or `/restart`: exit 75 so the service manager restarts us.
    Restart,
}

impl ExitReason {
    pub fn describe(&self) -> String {
        match self {
            ExitReason::Terminate(sig) if *sig == libc::SIGINT => "SIGINT".into(),
            ExitReason::Terminate(_) => "SIGTERM".into(),
            ExitReason::Restart => "restart requested".into(),
        }
    }
}

/// SIGTERM/SIGINT/SIGUSR1 delivered to the executor through self-pipes.
pub struct Signals {
    term: Async<UnixStream>,
    int: Async<UnixStream>,
    usr1: Async<UnixStream>,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        let pipe = |sig: i32| -> std::io::Result<Async<UnixStream>> {
            let (rd, wr) = UnixStream::pair()?;
            signal_hook::low_level::pipe::register(sig, wr)?;
            Async::new(rd)
        };
        Ok(Signals { term: pipe(libc::SIGTERM)?, int: pipe(libc::SIGINT)?, usr1: pipe(libc::SIGUSR1)? })
    }

    /// Waits for the next signal.
    pub async fn next(&self) -> ExitReason {
        use smol::future::FutureExt;
        async fn read(mut s: &Async<UnixStream>, reason: ExitReason) -> ExitReason {
            let mut b = [0u8; 1];
            loop {
                match (&mut s).read(&mut b).await {
                    Ok(1) => return reason,
                    Ok(_) | Err(_) => std::future::pending::<()>().await,
                }
            }
        }
        read(&self.term, ExitReason::Terminate(libc::SIGTERM))
            .or(read(&self.int, ExitReason::Terminate(libc::SIGINT)))
            .or(read(&self.usr1, ExitReason::Restart))
            .await
    }
}

/// Removes `.clean_shutdown` at start (it is written again only by a clean stop). `first_run`
/// is true when this home had no database yet.
pub fn note_startup(home: &Path, first_run: bool) {
    let marker = home.join(".clean_shutdown");
    if marker.exists() {
        let _ = std::fs::remove_file(marker);
    } else if !first_run {
        log::info!("the previous run did not stop cleanly; unfinished work is being recovered");
    }
}

pub fn mark_clean_shutdown(home: &Path) {
    let _ = crate::private_file::write(&home.join(".clean_shutdown"), b"");
}

/// Tells systemd we are ready when started as `Type=notify` (no libsystemd needed).
pub fn notify_ready() {
    let Ok(socket) = std::env::var("NOTIFY_SOCKET") else { return };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else { return };
    let message = b"READY=1\nSTATUS=hermes-lite gateway running";
    let sent = if let Some(name) = socket.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .and_then(|addr| sock.send_to_addr(message, &addr))
    } else {
        sock.send_to(message, &socket)
    };
    if let Err(e) = sent {
        log::warn!("sd_notify failed: {e}");
    }
}

/// Retention (M9): final inbox and outbox rows older than 7 days go, once an hour. And while
/// no turn runs, freed heap goes back to the system every 30 s: the allocator keeps what a
/// burst of turns used, which on a small host is most of the RSS. The session reset watcher
/// (M5) runs beside it.
pub async fn maintenance(gw: Rc<Gateway>) {
    const TICK: Duration = Duration::from_secs(30);
    crate::runtime::spawn_guarded("reset watcher".into(), super::session::watch_resets(gw.clone()));
    let mut since_prune = Duration::from_secs(3600);
    loop {
        if since_prune >= Duration::from_secs(3600) {
            since_prune = Duration::ZERO;
            let week_ago = store::now() - 7.0 * 86400.0;
            let pruned = gw.store.call(move |tx| Ok(inbox::prune(tx, week_ago)? + outbox::prune(tx, week_ago)?)).await;
            match pruned {
                Ok(n) if n > 0 => log::info!("pruned {n} old inbox/outbox rows"),
                Ok(_) => {}
                Err(e) => log::warn!("pruning failed: {e}"),
            }
        }
        if !gw.any_turn_running() {
            release_free_memory();
        }
        smol::Timer::after(TICK).await;
        since_prune += TICK;
    }
}

fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}
