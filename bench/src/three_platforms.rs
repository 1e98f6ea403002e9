//! Idle RSS with Telegram, Matrix and Discord all connected (issue 7). Telegram and Discord are
//! the test-support fakes; Matrix is a real Synapse from `$PEERS/synapse-venv` (installed by
//! `tests/peers/install.sh`, as `.ci/run` does), started by the repository's own script. Without
//! that install the figure says so instead of a value.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hermes_testkit::{DISCORD_TOKEN, FakeDiscord, FakeLlm, FakeTelegram, Gateway, HermesHome, TOKEN, wait_until};

use crate::procfs::{self, mib};
use crate::report::{Budget, Figure, Kind};

const NAME: &str = "idle RSS, Telegram + Matrix + Discord connected";

pub fn measure(bin: &Path, repo: &Path, idle: Duration) -> Figure {
    let not_measured = |why: String| Figure::new(NAME, "MiB", None, Budget::AtMost(6.0), Kind::Soft).note(why);
    let peers = std::env::var_os("PEERS").map(PathBuf::from).unwrap_or_else(|| repo.join(".ci/peers"));
    let venv = peers.join("synapse-venv");
    if !venv.join("bin/synapse_homeserver").exists() {
        return not_measured(format!("not measured: no Synapse in {} (tests/peers/install.sh)", venv.display()));
    }
    let port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => return not_measured(format!("no free port: {e}")),
    };
    let synapse = match Synapse::start(repo, &venv, port) {
        Ok(s) => s,
        Err(e) => return not_measured(e),
    };
    if let Err(e) = register(port, "benchbot", "benchpass") {
        return not_measured(e);
    }

    let (tg, dc, llm) = (FakeTelegram::start(), FakeDiscord::start(), FakeLlm::start());
    let home = HermesHome::new("bench-three");
    home.write_env(&format!(
        "TELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_BASE_URL={}\nTELEGRAM_ALLOWED_USERS=1001\n\
         MATRIX_HOMESERVER=http://127.0.0.1:{port}\nMATRIX_USER_ID=@benchbot:localhost\nMATRIX_PASSWORD=benchpass\n\
         MATRIX_ALLOWED_USERS=@someone:localhost\n\
         DISCORD_BOT_TOKEN={DISCORD_TOKEN}\nDISCORD_API_BASE={}\nDISCORD_ALLOWED_USERS=1\n",
        tg.base_url(),
        dc.api_base()
    ));
    home.write_config(&format!(
        "model:\n  default: bench-model\n  provider: custom\n  base_url: {}\n  api_key: sk-bench-key-1234\n",
        llm.base_url()
    ));
    let started = Instant::now();
    let mut gw = Gateway::start_with(bin, &home, &["gateway", "run", "--allow-root"], &[]);
    let all = wait_until(Duration::from_secs(30), || {
        let out = gw.output();
        ["telegram: connected", "matrix: connected", "discord: connected"].iter().all(|p| out.contains(p))
    });
    let figure = if all {
        std::thread::sleep(idle.saturating_sub(started.elapsed()));
        let rss = procfs::tree_rss(gw.pid()).map(mib);
        Figure::new(NAME, "MiB", rss, Budget::AtMost(6.0), Kind::Soft)
            .note(format!("{} s after start; the 6 MiB budget is Telegram's alone", started.elapsed().as_secs()))
    } else {
        not_measured(format!("not every platform connected in 30 s: {}", last_lines(&gw.output())))
    };
    gw.terminate();
    let _ = gw.wait_exit(Duration::from_secs(30));
    drop(synapse);
    figure
}

/// A throwaway Synapse, stopped (by its pid file) and removed on drop.
struct Synapse {
    dir: PathBuf,
}

impl Synapse {
    fn start(repo: &Path, venv: &Path, port: u16) -> Result<Synapse, String> {
        let dir = std::env::temp_dir().join(format!("hermes-bench-synapse-{}", std::process::id()));
        let out = Command::new("bash")
            .arg(repo.join("tests/peers/synapse_start.sh"))
            .arg(&dir)
            .arg(port.to_string())
            .env("SYNAPSE_VENV", venv)
            .output()
            .map_err(|e| format!("run synapse_start.sh: {e}"))?;
        let server = Synapse { dir };
        if !out.status.success() {
            return Err(format!("synapse_start.sh failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(server)
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("synapse.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
            let pid_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
            let _ = wait_until(Duration::from_secs(10), || !pid_dir.exists());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Registers a user on the test Synapse (open registration, no login).
fn register(port: u16, user: &str, password: &str) -> Result<(), String> {
    let body = format!(
        r#"{{"username":"{user}","password":"{password}","auth":{{"type":"m.login.dummy"}},"inhibit_login":true}}"#
    );
    let url = format!("http://127.0.0.1:{port}/_matrix/client/v3/register");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let resp = agent
        .post(&url)
        .header("Content-Type", "application/json")
        .send(body.as_bytes())
        .map_err(|e| format!("register {user}: {e}"))?;
    if resp.status().is_success() { Ok(()) } else { Err(format!("register {user}: HTTP {}", resp.status())) }
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" / ")
}
