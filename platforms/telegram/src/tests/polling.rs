//! The poll thread against the fake Bot API: offsets move only after the journal's ack.

use std::path::PathBuf;
use std::sync::Arc;

use hermes_platform::http::HttpContext;
use hermes_platform::{Adapter, ConnectContext, InboundBatch, InboundSink, Settings};

use super::fake::{FakeApi, TOKEN, error};
use crate::{TelegramAdapter, TelegramConfig, connect};

pub fn config(fake: &FakeApi) -> TelegramConfig {
    let env =
        [("TELEGRAM_BOT_TOKEN", TOKEN), ("TELEGRAM_BASE_URL", fake.base.as_str()), ("TELEGRAM_POLL_TIMEOUT", "0")];
    match crate::configure(&Settings::from_pairs("telegram", &env, &[])) {
        hermes_platform::Configured::On(c) => c,
        other => panic!("{other:?}"),
    }
}

pub fn start(fake: &FakeApi, cursor: Option<&str>) -> (Arc<TelegramAdapter>, async_channel::Receiver<InboundBatch>) {
    let (tx, rx) = async_channel::bounded(1);
    let ctx = ConnectContext {
        inbound: InboundSink::new("telegram", tx),
        cursor: cursor.map(str::to_string),
        http: HttpContext::new(None).unwrap(),
        cache_dir: cache_dir(),
    };
    (connect(&config(fake), ctx).unwrap(), rx)
}

/// A fresh directory per call, under the system temp dir.
fn cache_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::env::temp_dir().join(format!("hermes-telegram-test-{}-{n}", std::process::id()))
}

fn dm(update_id: i64, text: &str) -> String {
    format!(
        r#"{{"update_id":{update_id},"message":{{"message_id":{update_id},"date":1,"from":{{"id":7,"first_name":"A"}},"chat":{{"id":7,"type":"private"}},"text":"{text}"}}}}"#
    )
}

fn updates(list: &[String]) -> String {
    format!(r#"{{"ok":true,"result":[{}]}}"#, list.join(","))
}

#[test]
fn get_me_401_is_fatal() {
    let fake = FakeApi::start();
    fake.push("getMe", 401, &error(401, "Unauthorized"));
    let (tx, _rx) = async_channel::bounded(1);
    let ctx = ConnectContext {
        inbound: InboundSink::new("telegram", tx),
        cursor: None,
        http: HttpContext::new(None).unwrap(),
        cache_dir: PathBuf::from("/nonexistent"),
    };
    let err = match connect(&config(&fake), ctx) {
        Err(e) => e,
        Ok(_) => panic!("connected with a bad token"),
    };
    assert!(!err.retryable);
    assert!(err.message.contains("TELEGRAM_BOT_TOKEN"), "{}", err.message);
    assert!(fake.requests("getUpdates").is_empty());
}

#[test]
fn offset_moves_only_after_the_ack() {
    let fake = FakeApi::start();
    fake.push("getUpdates", 200, &updates(&[dm(10, "one"), dm(11, "two")]));
    let (adapter, rx) = start(&fake, Some("10"));
    assert_eq!(fake.requests("deleteWebhook").len(), 1);

    let batch = rx.recv_blocking().unwrap();
    assert_eq!(batch.cursor.as_deref(), Some("12"));
    let texts: Vec<&str> = batch.events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, ["one", "two"]);
    // The poller is blocked in submit: no further poll while the batch is unacknowledged.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let polls = fake.requests("getUpdates");
    assert_eq!(polls.len(), 1);
    assert!(polls[0].body.contains(r#""offset":10"#), "{}", polls[0].body);
    batch.ack.journaled();

    let polls = fake.wait_for("getUpdates", 2);
    assert!(polls[1].body.contains(r#""offset":12"#), "{}", polls[1].body);
    assert!(
        polls[1].body.contains(r#""allowed_updates":["message","edited_message","callback_query","message_reaction"]"#)
    );
    assert!(adapter.liveness().last().is_some());
    adapter.stop();
}

#[test]
fn failed_journal_resubmits_the_same_batch() {
    let fake = FakeApi::start();
    fake.push("getUpdates", 200, &updates(&[dm(5, "hi")]));
    let (adapter, rx) = start(&fake, None);
    let batch = rx.recv_blocking().unwrap();
    batch.ack.failed("disk full".into());
    let again = rx.recv_blocking().unwrap();
    assert_eq!(again.cursor.as_deref(), Some("6"));
    assert_eq!(again.events[0].text, "hi");
    // Telegram was not told to move on while the journal failed.
    assert!(fake.requests("getUpdates").iter().all(|r| !r.body.contains("offset")));
    again.ack.journaled();
    let polls = fake.wait_for("getUpdates", 2);
    assert!(polls[1].body.contains(r#""offset":6"#));
    adapter.stop();
}

#[test]
fn malformed_updates_are_skipped_and_the_offset_advances() {
    let fake = FakeApi::start();
    let broken = r#"{"update_id":20,"message":{"message_id":"not a number","chat":7}}"#.to_string();
    let unknown = r#"{"update_id":21,"poll":{"id":"p"}}"#.to_string();
    fake.push("getUpdates", 200, &updates(&[broken, dm(22, "fine"), unknown]));
    fake.push("getUpdates", 200, &updates(&[r#"{"update_id":30,"message":null}"#.to_string()]));
    let (adapter, rx) = start(&fake, None);

    let batch = rx.recv_blocking().unwrap();
    assert_eq!(batch.cursor.as_deref(), Some("23"));
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.events[0].text, "fine");
    batch.ack.journaled();
    // A batch with nothing usable still stores the cursor.
    let batch = rx.recv_blocking().unwrap();
    assert!(batch.events.is_empty());
    assert_eq!(batch.cursor.as_deref(), Some("31"));
    batch.ack.journaled();
    let polls = fake.wait_for("getUpdates", 3);
    assert!(polls[2].body.contains(r#""offset":31"#));
    adapter.stop();
}

#[test]
fn callback_queries_are_answered_after_the_journal() {
    let fake = FakeApi::start();
    let callback = r#"{"update_id":40,"callback_query":{"id":"cb9","from":{"id":7,"first_name":"A"},"data":"deny",
        "message":{"message_id":70,"date":1,"chat":{"id":7,"type":"private"}}}}"#;
    fake.push("getUpdates", 200, &updates(&[callback.to_string()]));
    let (adapter, rx) = start(&fake, None);
    let batch = rx.recv_blocking().unwrap();
    assert!(fake.requests("answerCallbackQuery").is_empty());
    batch.ack.journaled();
    let answers = fake.wait_for("answerCallbackQuery", 1);
    assert!(answers[0].body.contains(r#""callback_query_id":"cb9""#));
    adapter.stop();
}

#[test]
fn poll_errors_are_retried_and_401_stops() {
    let fake = FakeApi::start();
    fake.push("getUpdates", 409, &error(409, "Conflict: terminated by other getUpdates request"));
    fake.push(
        "getUpdates",
        429,
        r#"{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":0}}"#,
    );
    fake.push("getUpdates", 200, &updates(&[dm(3, "after errors")]));
    let (adapter, rx) = start(&fake, None);
    let batch = rx.recv_blocking().unwrap();
    assert_eq!(batch.events[0].text, "after errors");
    fake.push("getUpdates", 401, &error(401, "Unauthorized"));
    batch.ack.journaled();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !adapter.is_fatal() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(adapter.is_fatal());
}

#[test]
fn closed_gateway_ends_the_thread() {
    let fake = FakeApi::start();
    fake.push("getUpdates", 200, &updates(&[dm(1, "x")]));
    let (adapter, rx) = start(&fake, None);
    drop(rx);
    // The poller must not keep polling once submit says Closed.
    let before = fake.wait_for("getUpdates", 1).len();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(fake.requests("getUpdates").len(), before);
    assert!(!adapter.is_fatal());
}

#[test]
fn photos_are_downloaded_before_the_journal() {
    let fake = FakeApi::start();
    let photo = r#"{"update_id":50,"message":{"message_id":1,"date":1,"from":{"id":7,"first_name":"A"},
        "chat":{"id":7,"type":"private"},"caption":"look","photo":[{"file_id":"small","file_size":1},{"file_id":"big","file_size":5}]}}"#;
    fake.push("getUpdates", 200, &updates(&[photo.to_string()]));
    let (adapter, rx) = start(&fake, None);
    let batch = rx.recv_blocking().unwrap();
    let event = &batch.events[0];
    assert_eq!(event.text, "look");
    assert_eq!(event.media.len(), 1);
    assert_eq!(event.media[0].mime, "image/jpeg");
    assert!(event.media[0].path.ends_with("telegram-50-0.jpg"), "{}", event.media[0].path);
    assert_eq!(std::fs::read(&event.media[0].path).unwrap(), b"JPEG!");
    assert!(fake.requests("getFile")[0].body.contains(r#""file_id":"big""#));
    let _ = std::fs::remove_file(&event.media[0].path);
    batch.ack.journaled();
    adapter.stop();
}
