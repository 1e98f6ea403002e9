//! The fake Bot API behaves like Telegram where the gateway depends on it.

mod common;

use std::thread;
use std::time::Duration;

use common::{agent, at, get, len, parse, post_form, post_json, s};
use hermes_testkit::{Chat, FakeTelegram, TOKEN, User};

const T: Duration = Duration::from_secs(10);

fn url(tg: &FakeTelegram, method: &str) -> String {
    format!("{}{TOKEN}/{method}", tg.base_url())
}

#[test]
fn get_me_and_wrong_token() {
    let tg = FakeTelegram::start();
    let a = agent();
    let (st, body) = get(&a, &url(&tg, "getMe"));
    assert_eq!(st, 200);
    let v = parse(&body);
    assert_eq!(s(at(&v, "result.username")), "hermes_test_bot");
    assert_eq!(s(at(&v, "result.id")), "999000");
    let (st, body) = get(&a, &format!("{}999:wrong/getMe", tg.base_url()));
    assert_eq!(st, 401);
    assert_eq!(body, r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#);
    let (st, _) = post_json(&a, &url(&tg, "noSuchMethod"), "{}");
    assert_eq!(st, 404);
    assert_eq!(tg.calls().len(), 3);
    assert_eq!(tg.calls()[0].method, "getMe");
}

#[test]
fn updates_look_like_telegram_and_offsets_confirm() {
    let tg = FakeTelegram::start();
    let a = agent();
    let alice = User::new(42, "Alice");
    let m1 = tg.user_says(&Chat::private(42), &alice, "/start hello @hermes_test_bot");
    let m2 = tg.user_says(&Chat::forum(-100777, 5), &alice, "in a topic");

    let (_, body) = post_json(&a, &url(&tg, "getUpdates"), r#"{"timeout":0}"#);
    let v = parse(&body);
    assert_eq!(len(at(&v, "result")), 2);
    let first = at(&v, "result.0");
    assert_eq!(s(at(first, "update_id")), "1");
    assert_eq!(s(at(first, "message.message_id")), m1.to_string());
    assert_eq!(s(at(first, "message.from.first_name")), "Alice");
    assert_eq!(s(at(first, "message.from.is_bot")), "false");
    assert_eq!(s(at(first, "message.chat.type")), "private");
    assert_eq!(s(at(first, "message.text")), "/start hello @hermes_test_bot");
    assert_eq!(s(at(first, "message.entities.0.type")), "bot_command");
    assert_eq!(s(at(first, "message.entities.0.length")), "6");
    assert_eq!(s(at(first, "message.entities.1.type")), "mention");
    assert_eq!(s(at(first, "message.entities.1.offset")), "13");
    let second = at(&v, "result.1");
    assert_eq!(s(at(second, "message.message_id")), m2.to_string());
    assert_eq!(s(at(second, "message.chat.type")), "supergroup");
    assert_eq!(s(at(second, "message.chat.is_forum")), "true");
    assert_eq!(s(at(second, "message.message_thread_id")), "5");
    assert_eq!(s(at(second, "message.is_topic_message")), "true");

    // Without a new offset the same updates come again (a crash before confirming = redelivery).
    let (_, body) = post_form(&a, &url(&tg, "getUpdates"), "offset=0&timeout=0");
    assert_eq!(len(at(&parse(&body), "result")), 2);
    // Offset 2 confirms update 1 for good.
    let (_, body) = post_form(&a, &url(&tg, "getUpdates"), "offset=2&timeout=0");
    let v = parse(&body);
    assert_eq!(len(at(&v, "result")), 1);
    assert_eq!(s(at(&v, "result.0.update_id")), "2");
    let (_, body) = get(&a, &format!("{}?offset=0&timeout=0", url(&tg, "getUpdates")));
    assert_eq!(len(at(&parse(&body), "result")), 1);
    assert_eq!(tg.committed_offset(), 2);
    let (_, body) = post_json(&a, &url(&tg, "getUpdates"), r#"{"offset":3,"timeout":0}"#);
    assert_eq!(len(at(&parse(&body), "result")), 0);
    assert_eq!(tg.committed_offset(), 3);
    assert_eq!(tg.pending_updates(), 0);
}

#[test]
fn long_poll_wakes_when_an_update_arrives() {
    let tg = FakeTelegram::start();
    let u = url(&tg, "getUpdates");
    let poller = thread::spawn(move || post_json(&agent(), &u, r#"{"offset":1,"timeout":25}"#));
    assert!(tg.wait_calls("getUpdates", 1, T));
    tg.user_says(&Chat::private(7), &User::new(7, "Bob"), "wake up");
    let (st, body) = poller.join().unwrap();
    assert_eq!(st, 200);
    let v = parse(&body);
    assert_eq!(len(at(&v, "result")), 1, "long poll returned without the update: {body}");
    assert_eq!(s(at(&v, "result.0.message.text")), "wake up");
}

#[test]
fn replies_to_the_bot_and_raw_updates() {
    let tg = FakeTelegram::start();
    let a = agent();
    let chat = Chat::group(-5);
    let (_, body) = post_json(&a, &url(&tg, "sendMessage"), r#"{"chat_id":-5,"text":"bot says"}"#);
    let bot_id: i64 = s(at(&parse(&body), "result.message_id")).parse().unwrap();
    assert_eq!(bot_id, 1000);
    tg.reply_to_bot(&chat, &User::new(9, "Carol"), "answer", bot_id);
    let raw = tg.push_raw_update(r#"{"message":{"chat":"oops"}}"#);
    let (_, body) = post_json(&a, &url(&tg, "getUpdates"), "{}");
    let v = parse(&body);
    let reply = at(&v, "result.0.message.reply_to_message");
    assert_eq!(s(at(reply, "message_id")), "1000");
    assert_eq!(s(at(reply, "from.is_bot")), "true");
    assert_eq!(s(at(reply, "from.username")), "hermes_test_bot");
    assert_eq!(s(at(reply, "text")), "bot says");
    assert_eq!(s(at(&v, "result.0.message.chat.title")), "Test Group");
    assert_eq!(s(at(&v, "result.1.update_id")), raw.to_string());
    assert_eq!(s(at(&v, "result.1.message.chat")), "oops");
}

#[test]
fn send_edit_delete_keep_state_and_errors() {
    let tg = FakeTelegram::start();
    let a = agent();
    let (st, body) = post_json(
        &a,
        &url(&tg, "sendMessage"),
        r#"{"chat_id":-100777,"text":"draft","message_thread_id":5,"reply_parameters":{"message_id":3}}"#,
    );
    assert_eq!(st, 200);
    let v = parse(&body);
    assert_eq!(s(at(&v, "result.message_id")), "1000");
    assert_eq!(s(at(&v, "result.from.id")), "999000");
    assert_eq!(s(at(&v, "result.chat.id")), "-100777");
    assert_eq!(s(at(&v, "result.message_thread_id")), "5");
    assert_eq!(s(at(&v, "result.text")), "draft");

    let edit = url(&tg, "editMessageText");
    let (st, body) = post_form(&a, &edit, "chat_id=-100777&message_id=1000&text=final+text");
    assert_eq!(st, 200, "{body}");
    assert_eq!(s(at(&parse(&body), "result.text")), "final text");
    let (st, body) = post_json(&a, &edit, r#"{"chat_id":-100777,"message_id":1000,"text":"final text"}"#);
    assert_eq!(st, 400);
    assert!(s(at(&parse(&body), "description")).starts_with("Bad Request: message is not modified"));
    let (st, body) = post_json(&a, &edit, r#"{"chat_id":-100777,"message_id":4242,"text":"x"}"#);
    assert_eq!(st, 400);
    assert_eq!(s(at(&parse(&body), "description")), "Bad Request: message to edit not found");

    let sent = tg.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text, "final text");
    assert_eq!(sent[0].edits, 1);
    assert_eq!(sent[0].thread_id, Some(5));
    assert_eq!(sent[0].reply_to, Some(3));

    let (st, _) = post_json(&a, &url(&tg, "deleteMessage"), r#"{"chat_id":-100777,"message_id":1000}"#);
    assert_eq!(st, 200);
    assert!(tg.sent()[0].deleted);
    let (st, _) = post_json(&a, &url(&tg, "deleteMessage"), r#"{"chat_id":-100777,"message_id":1000}"#);
    assert_eq!(st, 400);

    let (st, body) = post_json(&a, &url(&tg, "sendMessage"), r#"{"chat_id":1,"text":""}"#);
    assert_eq!((st, s(at(&parse(&body), "description"))), (400, "Bad Request: message text is empty".into()));
    let long = format!(r#"{{"chat_id":1,"text":"{}"}}"#, "a".repeat(4097));
    let (st, body) = post_json(&a, &url(&tg, "sendMessage"), &long);
    assert_eq!((st, s(at(&parse(&body), "description"))), (400, "Bad Request: message is too long".into()));
    for m in ["sendChatAction", "deleteWebhook", "setMyCommands", "answerCallbackQuery"] {
        let (st, body) = post_json(&a, &url(&tg, m), r#"{"chat_id":1}"#);
        assert_eq!((st, body.as_str()), (200, r#"{"ok":true,"result":true}"#), "{m}");
    }
}

#[test]
fn markdown_v2_is_checked_like_telegram() {
    let tg = FakeTelegram::start();
    let a = agent();
    let send = url(&tg, "sendMessage");
    let (st, body) = post_json(&a, &send, r#"{"chat_id":1,"text":"Done. Really!","parse_mode":"MarkdownV2"}"#);
    assert_eq!(st, 400);
    assert_eq!(
        s(at(&parse(&body), "description")),
        r"Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\'"
    );
    let (st, _) =
        post_json(&a, &send, r#"{"chat_id":1,"text":"Done\\. *Really*\\! `a.b()`","parse_mode":"MarkdownV2"}"#);
    assert_eq!(st, 200);
    // The plain fallback (no parse_mode) accepts anything.
    let (st, _) = post_json(&a, &send, r#"{"chat_id":1,"text":"Done. Really!"}"#);
    assert_eq!(st, 200);
    let sent = tg.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].parse_mode.as_deref(), Some("MarkdownV2"));
    assert_eq!(sent[1].parse_mode, None);
}

#[test]
fn fail_next_scripts_errors_once_per_call() {
    let tg = FakeTelegram::start();
    let a = agent();
    let too_many = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#;
    tg.fail_next("sendMessage", 429, too_many);
    tg.fail_next("sendMessage", 500, r#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#);
    let send = url(&tg, "sendMessage");
    let body = r#"{"chat_id":1,"text":"hi"}"#;
    assert_eq!(post_json(&a, &send, body), (429, too_many.to_string()));
    assert_eq!(post_json(&a, &send, body).0, 500);
    assert_eq!(post_json(&a, &send, body).0, 200);
    assert_eq!(tg.sent().len(), 1);
    assert_eq!(tg.calls_of("sendMessage").len(), 3);

    // A failed getUpdates confirms nothing.
    tg.user_says(&Chat::private(1), &User::new(1, "A"), "x");
    tg.fail_next("getUpdates", 502, r#"{"ok":false,"error_code":502,"description":"Bad Gateway"}"#);
    assert_eq!(post_json(&a, &url(&tg, "getUpdates"), r#"{"offset":5}"#).0, 502);
    assert_eq!(tg.committed_offset(), 0);
    assert_eq!(tg.pending_updates(), 1);
}

#[test]
fn wait_sent_sees_messages_from_another_thread() {
    let tg = FakeTelegram::start();
    let send = url(&tg, "sendMessage");
    let sender = thread::spawn(move || {
        let a = agent();
        post_json(&a, &send, r#"{"chat_id":1,"text":"first"}"#);
        post_json(&a, &send, r#"{"chat_id":1,"text":"second"}"#);
    });
    let m = tg.wait_sent(T, |m| m.text == "second").expect("second message");
    assert_eq!(m.message_id, 1001);
    sender.join().unwrap();
    assert!(tg.wait_sent(Duration::from_millis(50), |m| m.text == "never").is_none());
}

#[test]
fn serves_https_with_a_generated_identity() {
    use hermes_testkit::TlsIdentity;
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let Some(id) = TlsIdentity::localhost() else {
        eprintln!("SKIPPED: openssl CLI not found; HTTPS fake not tested");
        return;
    };
    let tg = FakeTelegram::start_tls(&id);
    assert!(tg.base_url().starts_with("https://127.0.0.1:"));
    let ca = Certificate::from_pem(id.ca_pem().as_bytes()).unwrap();
    let tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[ca])).build();
    let a: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().into();
    for _ in 0..2 {
        let (st, body) = get(&a, &url(&tg, "getMe"));
        assert_eq!(st, 200);
        assert_eq!(s(at(&parse(&body), "result.username")), "hermes_test_bot");
    }
    tg.user_says(&Chat::private(1), &User::new(1, "A"), "over tls");
    let (_, body) = post_json(&a, &url(&tg, "getUpdates"), r#"{"timeout":5}"#);
    assert_eq!(s(at(&parse(&body), "result.0.message.text")), "over tls");
    // A client that does not trust the CA is refused.
    assert!(agent().get(url(&tg, "getMe")).call().is_err());
}
