//! The command line: help on every level, version, exit codes.

mod common;

use common::bin;

use hermes_testkit::{HermesHome, run_cli};

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn help_on_every_level() {
    let home = HermesHome::new("cli");
    for args in [
        &["--help"][..],
        &["gateway", "--help"],
        &["gateway", "run", "--help"],
        &["config", "--help"],
        &["config", "check", "--help"],
    ] {
        let o = run_cli(bin(), &home, args, &[]);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", out(&o));
        assert!(out(&o).contains("Usage: hermes-lite"), "{args:?}: {}", out(&o));
    }
}

#[test]
fn version_and_usage_errors() {
    let home = HermesHome::new("cli2");
    let o = run_cli(bin(), &home, &["version"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).starts_with("hermes-lite 0."), "{}", out(&o));
    let o = run_cli(bin(), &home, &["gateway", "run", "--bogus"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("--bogus"), "{}", out(&o));
    let o = run_cli(bin(), &home, &["frobnicate"], &[]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn no_platform_configured_is_a_config_error() {
    let home = HermesHome::new("cli3");
    home.write_config("model:\n  default: m\n  provider: custom\n  base_url: http://127.0.0.1:1/v1\n");
    let o = run_cli(bin(), &home, &["gateway", "run", "--allow-root"], &[]);
    assert_eq!(o.status.code(), Some(78), "{}", out(&o));
    assert!(out(&o).contains("TELEGRAM_BOT_TOKEN"));
}

#[test]
fn one_gateway_per_home_and_replace_takes_over() {
    use hermes_testkit::{FakeLlm, FakeTelegram, Gateway};
    use std::time::Duration;
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let mut first = Gateway::start(bin(), &home);
    assert!(first.wait_output("gateway running", Duration::from_secs(20)), "{}", first.output());
    let o = run_cli(bin(), &home, &["gateway", "run", "--allow-root"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains(&format!("Gateway already running (PID {})", first.pid())), "{}", out(&o));
    let mut second = Gateway::start_with(bin(), &home, &["gateway", "run", "--allow-root", "--replace"], &[]);
    assert_eq!(first.wait_exit(Duration::from_secs(20)), Some(0), "the old gateway did not stop cleanly");
    assert!(second.wait_output("gateway running", Duration::from_secs(20)), "{}", second.output());
    second.terminate();
    assert_eq!(second.wait_exit(Duration::from_secs(20)), Some(0));
}

#[test]
fn sigusr1_is_a_graceful_restart_with_exit_code_75() {
    use hermes_testkit::{FakeLlm, FakeTelegram, Gateway};
    use std::time::Duration;
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let mut gw = Gateway::start(bin(), &home);
    assert!(gw.wait_output("gateway running", Duration::from_secs(20)), "{}", gw.output());
    gw.signal(libc::SIGUSR1);
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(75), "{}", gw.output());
}
