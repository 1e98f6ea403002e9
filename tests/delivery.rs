//! Delivery details against the fake Bot API: long answers split at Telegram's limit, rate
//! limits waited out, model retries, TLS with an extra CA, graceful stop mid-turn.

mod common;

use common::{ann, bin};

use std::time::Duration;

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gate, Gateway, HermesHome, Reply, TOKEN, TlsIdentity};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn a_long_streamed_answer_is_split_at_4096_and_nothing_is_lost() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let paragraphs: Vec<String> =
        (0..120).map(|i| format!("Paragraph {i:03}: {}", "lorem ipsum dolor ".repeat(4))).collect();
    let answer = paragraphs.join("\n");
    assert!(answer.encode_utf16().count() > 2 * 4096);
    llm.push(Reply::text(answer.clone()).chunks(40).chunk_delay(Duration::from_millis(10)));
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "write a lot");
    let last = tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.contains("Paragraph 119") && !m.text.ends_with('▉'));
    assert!(last.is_some(), "the end never arrived: {:#?}", tg.sent().iter().map(|m| m.text.len()).collect::<Vec<_>>());
    std::thread::sleep(Duration::from_millis(500));
    let sent: Vec<_> = tg.sent().into_iter().filter(|m| m.chat_id == 42 && !m.deleted).collect();
    assert!(sent.len() >= 3, "expected several messages, got {}", sent.len());
    for m in &sent {
        assert!(m.raw.encode_utf16().count() <= 4096, "a message over the limit: {}", m.raw.len());
        assert!(!m.text.ends_with('▉'), "a message kept its cursor");
    }
    let joined: String = sent.iter().map(|m| m.text.as_str()).collect::<Vec<_>>().join("\n");
    for p in &paragraphs {
        let count = joined.matches(p.trim_end()).count();
        assert_eq!(count, 1, "{p:?} appears {count} times");
    }
}

#[test]
fn telegram_rate_limits_are_waited_out_and_model_retries_succeed() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    llm.push(Reply::status(429, r#"{"error":{"message":"slow down"}}"#).retry_after(1));
    llm.push(Reply::text("after the retry"));
    let home = HermesHome::standard_with(&tg, &llm, "42", "auxiliary:\n  title_generation:\n    enabled: false\n");
    let _gw = Gateway::start(bin(), &home);
    tg.fail_next(
        "sendMessage",
        429,
        r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#,
    );
    tg.user_says(&Chat::private(42), &ann(), "hello");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text == "after the retry").expect("answer after both rate limits");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(tg.sent().iter().filter(|m| m.chat_id == 42).count(), 1, "{:#?}", tg.sent());
    assert_eq!(llm.requests().len(), 2);
}

#[test]
fn tls_works_with_an_extra_ca_from_ssl_cert_file_and_never_without_it() {
    let Some(id) = TlsIdentity::localhost() else {
        eprintln!("openssl not found; skipping the TLS test");
        return;
    };
    let tg = FakeTelegram::start_tls(&id);
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let base = format!("https://localhost:{}/bot", tg.port());
    home.write_env(&format!(
        "TELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_BASE_URL={base}\nTELEGRAM_ALLOWED_USERS=42\nTELEGRAM_POLL_TIMEOUT=2\n"
    ));
    let mut gw = Gateway::start(bin(), &home);
    assert!(gw.wait_output("certificate", WAIT), "an untrusted server was accepted:\n{}", gw.output());
    assert!(tg.calls_of("getUpdates").is_empty(), "polled an untrusted server");
    gw.terminate();
    gw.wait_exit(WAIT);

    home.write_env(&format!(
        "TELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_BASE_URL={base}\nTELEGRAM_ALLOWED_USERS=42\nTELEGRAM_POLL_TIMEOUT=2\nSSL_CERT_FILE={}\n",
        id.ca_pem_path.display()
    ));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "over tls");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text == "echo: over tls").expect("answer over TLS");
}

#[test]
fn a_stop_during_a_turn_tells_the_user_and_the_turn_resumes_after_the_restart() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let gate = Gate::new();
    llm.push(Reply::text("never finished").hold(&gate));
    let home = HermesHome::standard_with(&tg, &llm, "42", "auxiliary:\n  title_generation:\n    enabled: false\n");
    let mut gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "long job");
    assert!(llm.wait_requests(1, WAIT));
    gw.terminate();
    assert_eq!(gw.wait_exit(WAIT), Some(0), "{}", gw.output());
    tg.wait_sent(WAIT, |m| m.text.starts_with("⏳ Gateway is shutting down")).expect("shutdown notice");

    let _gw = Gateway::start(bin(), &home);
    let resumed = tg
        .wait_sent(WAIT, |m| m.chat_id == 42 && m.text.starts_with("echo: long job") && !m.text.ends_with('▉'))
        .expect("resumed turn");
    assert!(resumed.text.contains("interrupted by a gateway restart"), "{resumed:?}");
    assert_eq!(llm.requests().len(), 2);
}

#[test]
fn a_second_signal_forces_the_exit() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let gate = Gate::new();
    llm.push(Reply::text("held").hold(&gate));
    let home = HermesHome::standard_with(&tg, &llm, "42", "agent:\n  restart_drain_timeout: 60\n");
    let mut gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "busy");
    assert!(llm.wait_requests(1, WAIT));
    gw.terminate();
    assert!(gw.wait_output("stopping", WAIT));
    std::thread::sleep(Duration::from_millis(200));
    assert!(gw.is_running(), "the drain should wait for the turn");
    gw.terminate();
    assert_eq!(gw.wait_exit(Duration::from_secs(5)), Some(1), "{}", gw.output());
}

#[test]
fn forum_topics_are_answered_in_their_thread() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let topic = Chat::forum(-100200, 7);
    tg.user_says(&topic, &ann(), "@hermes_test_bot hello topic");
    // Topics are shared sessions (thread_sessions_per_user is off): the model sees who spoke.
    let reply = tg
        .wait_sent(WAIT, |m| m.chat_id == -100200 && m.text == "echo: [Ann] hello topic")
        .unwrap_or_else(|| panic!("{:#?}", tg.sent()));
    assert_eq!(reply.thread_id, Some(7));
    let typing = tg.calls_of("sendChatAction");
    assert!(typing.iter().any(|c| c.params.contains("\"message_thread_id\":7")), "{typing:?}");
}

#[test]
fn markdown_is_converted_and_a_rejected_format_falls_back_to_plain_text() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    llm.push(Reply::text("Use **bold** and `code`, e.g. 2+2=4."));
    llm.push(Reply::text("Second: **fine**."));
    // Streaming off for Telegram, so each answer is one sendMessage; a message that arrives
    // while the first turn is still closing queues without an acknowledgement.
    let home = HermesHome::standard_with(
        &tg,
        &llm,
        "42",
        "display:\n  busy_input_mode: queue\n  busy_ack_enabled: false\n  platforms:\n    telegram:\n      streaming: false\n\
         auxiliary:\n  title_generation:\n    enabled: false\n",
    );
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "format please");
    let m = tg.wait_sent(WAIT, |m| m.chat_id == 42).expect("answer");
    assert_eq!(m.parse_mode.as_deref(), Some("MarkdownV2"));
    assert_eq!(m.raw, "Use *bold* and `code`, e\\.g\\. 2\\+2\\=4\\.");
    tg.fail_next(
        "sendMessage",
        400,
        r#"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Character '.' is reserved"}"#,
    );
    tg.user_says(&Chat::private(42), &ann(), "again");
    let m = tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.starts_with("Second")).expect("plain fallback");
    assert_eq!(m.parse_mode, None, "{:#?}", tg.calls_of("sendMessage"));
    assert_eq!(m.raw, "Second: fine.");
}

#[test]
fn a_photo_is_saved_in_the_cache_and_the_model_is_told_where() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    llm.push(Reply::text("Nice picture."));
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    tg.add_file("ph-big", b"JPEG-BYTES");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    tg.push_raw_update(&format!(
        r#"{{"message":{{"message_id":5,"date":{now},"chat":{{"id":42,"type":"private"}},
            "from":{{"id":42,"is_bot":false,"first_name":"Ann"}},"caption":"what is this?",
            "photo":[{{"file_id":"ph-small","file_unique_id":"s","width":9,"height":9,"file_size":3}},
                     {{"file_id":"ph-big","file_unique_id":"b","width":90,"height":90,"file_size":10}}]}}}}"#
    ));
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text == "Nice picture.").expect("answer to the photo");
    let asked = llm.requests()[0].last_user().unwrap().to_string();
    assert!(asked.starts_with("what is this?\n[The user sent a file: "), "{asked}");
    let path = asked.split("file: ").nth(1).unwrap().split(" (").next().unwrap().to_string();
    assert!(path.starts_with(&home.path().join("cache").display().to_string()), "{path}");
    assert_eq!(std::fs::read(&path).unwrap(), b"JPEG-BYTES", "the largest size is downloaded");
}
