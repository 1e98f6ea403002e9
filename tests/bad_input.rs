//! Bad input never takes the gateway down and never goes unexplained.

mod common;

use common::{ann, bin};

use std::time::Duration;

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, run_cli};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn malformed_updates_are_skipped_and_logged() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let gw = Gateway::start(bin(), &home);
    tg.push_raw_update(r#"{"message":{"message_id":"not a number","chat":"oops"}}"#);
    tg.push_raw_update(r#"{"message":{"message_id":5,"date":1,"chat":{"id":42,"type":"private"},"text":["no"]}}"#);
    tg.user_says(&Chat::private(42), &ann(), "still there?");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text == "echo: still there?").expect("answer after malformed updates");
    assert!(gw.output().contains("update"), "no log line about the malformed update:\n{}", gw.output());
}

#[test]
fn a_ten_megabyte_message_is_refused_politely() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let huge = "A".repeat(10 * 1024 * 1024);
    tg.user_says(&Chat::private(42), &ann(), &huge);
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.contains("too long")).expect("a too-long notice");
    tg.user_says(&Chat::private(42), &ann(), "small one");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text == "echo: small one").expect("gateway still answers");
    assert!(llm.requests().iter().all(|r| r.body.len() < 1024 * 1024), "the huge message reached the model");
}

#[test]
fn an_unreachable_model_gets_a_clear_reply_and_the_gateway_keeps_running() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    // Port 9 on loopback: nothing listens there.
    home.write_config(
        "model:\n  default: test-model\n  provider: custom\n  base_url: http://127.0.0.1:9/v1\nagent:\n  api_max_retries: 1\n",
    );
    let mut gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "hello?");
    let reply = tg.wait_sent(WAIT, |m| m.chat_id == 42).expect("an error reply");
    assert!(reply.text.contains("request failed") || reply.text.contains("The request failed"), "{reply:?}");
    assert!(gw.is_running(), "the gateway died");
    tg.user_says(&Chat::private(42), &ann(), "/status");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.starts_with("📊 Status")).expect("still answering commands");
}

#[test]
fn invalid_utf8_in_config_is_a_located_error() {
    let home = HermesHome::new("badutf8");
    home.write_file("config.yaml", b"model:\n  default: caf\xe9-model\n");
    let out = run_cli(bin(), &home, &["config", "check"], &[]);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains("config.yaml:2"), "no file:line in {text}");
    assert!(text.contains("UTF-8"), "{text}");
    let out = run_cli(bin(), &home, &["gateway", "run", "--allow-root"], &[("TELEGRAM_BOT_TOKEN", "123:abc")]);
    assert_eq!(out.status.code(), Some(78));
}

#[test]
fn config_check_reports_every_problem_with_its_place() {
    let home = HermesHome::new("badcfg");
    home.write_config("model:\n  default: m\n  provider: custom\n  base_url: http://127.0.0.1:1/v1\nstreaming:\n  edit_interval: soon\ndisplay:\n  busy_input_mode: sometimes\n");
    home.write_env("TELEGRAM_BOT_TOKEN=123456:abcdefghijkl\nTELEGRAM_BASE_URL=ftp://nope\n");
    let out = run_cli(bin(), &home, &["config", "check"], &[]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains("config.yaml:6") && text.contains("streaming.edit_interval"), "{text}");
    assert!(text.contains("config.yaml:8") && text.contains("display.busy_input_mode"), "{text}");
    assert!(!text.contains("abcdefghijkl"), "a secret was printed: {text}");
}

#[test]
fn garbage_from_the_model_gets_a_clear_reply() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    for _ in 0..2 {
        llm.push(hermes_testkit::Reply::raw_sse("data: {not json at all\n\ndata: [DONE]\n\n"));
    }
    let home = HermesHome::standard_with(&tg, &llm, "42", "agent:\n  api_max_retries: 1\n");
    let gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "hello");
    let reply = tg.wait_sent(WAIT, |m| m.chat_id == 42).expect("an error reply");
    assert!(reply.text.starts_with("The request failed"), "{reply:?} after {} model calls", llm.requests().len());
    tg.user_says(&Chat::private(42), &ann(), "again");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text == "echo: again").expect("next turn works");
    assert!(gw.output().contains("model call failed"), "{}", gw.output());
}

#[test]
fn a_malformed_env_line_is_located_and_never_opens_the_bot() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let env = home.read_file(".env");
    // Meant to open the bot to everyone, but not an assignment: it must not count as "true".
    home.write_env(&format!("{env}GATEWAY_ALLOW_ALL_USERS true\n"));
    let out = run_cli(bin(), &home, &["config", "check"], &[]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains(".env:5") && text.contains("expected KEY=VALUE"), "{text}");
    let out = run_cli(bin(), &home, &["gateway", "run", "--allow-root"], &[]);
    assert_eq!(out.status.code(), Some(78), "the gateway ran with a broken .env");
    assert!(tg.calls_of("getUpdates").is_empty(), "it polled Telegram with a broken .env");
}
