//! The home builder and the process harness, driven with /bin/sh standing in for the gateway.

use std::path::Path;
use std::time::Duration;

use hermes_testkit::{FakeLlm, FakeTelegram, Gateway, HermesHome, TOKEN, TlsIdentity, run_cli, wait_until};

const T: Duration = Duration::from_secs(10);
const SH: &str = "/bin/sh";

#[test]
fn standard_home_points_at_the_fakes_and_is_removed_on_drop() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42,43");
    let env = std::fs::read_to_string(home.path().join(".env")).unwrap();
    assert!(env.contains(&format!("TELEGRAM_BOT_TOKEN={TOKEN}\n")));
    assert!(env.contains(&format!("TELEGRAM_BASE_URL={}\n", tg.base_url())));
    assert!(env.contains("TELEGRAM_ALLOWED_USERS=42,43\n"));
    assert!(env.contains("TELEGRAM_POLL_TIMEOUT=2\n"));
    let cfg = std::fs::read_to_string(home.path().join("config.yaml")).unwrap();
    assert!(cfg.contains(&format!("  base_url: {}\n", llm.base_url())));
    assert!(cfg.contains("  api_key: sk-test-secret-key-1234\n"));
    assert!(cfg.contains("streaming:\n  edit_interval: 0.2\n"));
    assert_eq!(home.log(), "");
    home.write_file("logs/gateway.log", b"line\n");
    assert_eq!(home.log(), "line\n");
    assert_eq!(home.db_path(), home.path().join("lite.db"));
    let dir = home.path().to_path_buf();
    drop(home);
    if std::env::var("HERMES_TEST_KEEP").as_deref() != Ok("1") {
        assert!(!dir.exists());
    }
}

#[test]
fn cli_runs_with_a_clean_environment() {
    let home = HermesHome::new("cli env");
    let out = run_cli(Path::new(SH), &home, &["-c", "env; exit 3"], &[("EXTRA", "yes")]);
    assert_eq!(out.status.code(), Some(3));
    let env = String::from_utf8(out.stdout).unwrap();
    let home_line = format!("HERMES_HOME={}", home.path().display());
    assert!(env.lines().any(|l| l == home_line), "{env}");
    assert!(env.lines().any(|l| l == format!("HOME={}", home.path().display())));
    assert!(env.lines().any(|l| l == "RUST_BACKTRACE=1"));
    assert!(env.lines().any(|l| l == "EXTRA=yes"));
    assert!(!env.contains("CARGO_"), "cargo's environment leaked: {env}");
}

#[test]
fn gateway_output_signals_and_exit_codes() {
    let home = HermesHome::new("proc");
    let script = "trap 'echo got term; exit 7' TERM; echo started $HERMES_HOME; while true; do sleep 0.05; done";
    let mut g = Gateway::start_with(Path::new(SH), &home, &["-c", script], &[]);
    assert!(g.wait_output("started", T), "{}", g.output());
    assert!(g.output().contains(&home.path().display().to_string()));
    assert!(g.is_running());
    assert!(g.pid() > 0);
    g.terminate();
    assert_eq!(g.wait_exit(T), Some(7));
    assert!(g.output().contains("got term"));
    assert!(!g.is_running());

    // A second run in the same home sees only its own output; SIGKILL reports 128 + 9.
    let mut g2 = Gateway::start_with(Path::new(SH), &home, &["-c", "echo second run; sleep 30"], &[]);
    assert!(g2.wait_output("second run", T));
    assert!(!g2.output().contains("started"));
    g2.kill9();
    assert_eq!(g2.wait_exit(T), Some(137));
    let all = std::fs::read_to_string(home.path().join("gateway.out")).unwrap();
    assert!(all.contains("started") && all.contains("second run"));
}

#[test]
fn dropping_a_gateway_kills_it() {
    let home = HermesHome::new("drop");
    let g = Gateway::start_with(Path::new(SH), &home, &["-c", "sleep 30"], &[]);
    let pid = g.pid() as libc::pid_t;
    drop(g);
    // Reaped on drop, so the pid no longer names our child.
    // SAFETY: signal 0 only checks existence.
    assert!(wait_until(T, || unsafe { libc::kill(pid, 0) } != 0));
}

#[test]
fn tls_identity_is_made_when_openssl_exists() {
    let Some(id) = TlsIdentity::localhost() else {
        eprintln!("SKIPPED: openssl CLI not found; TLS identity not generated");
        return;
    };
    assert!(id.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(id.cert_pem_path.exists() && id.key_pem_path.exists());
}
