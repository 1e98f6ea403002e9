//! Session commands against the real binary, the fake Bot API and the fake model: the
//! destructive confirm of /new, /reset and /undo (words, buttons, reactions, cancel, expiry,
//! "always"), /new while busy, titles, /undo, /retry, /approve with nothing pending, and the
//! reset watcher's notice.

mod common;

use common::{HeldTurn, WAIT, ann, bin, wait_prefix, wait_text};

use std::time::Duration;

use hermes_testkit::{BotMessage, Chat, FakeLlm, FakeTelegram, Gateway, HermesHome};

const NEW: &str = "✨ New session started!";
const RESET: &str = "✨ Session reset! Starting fresh.";

fn count(tg: &FakeTelegram, text: &str) -> usize {
    tg.sent().iter().filter(|m| m.text == text).count()
}

fn wait_count(tg: &FakeTelegram, text: &str, n: usize) {
    assert!(
        hermes_testkit::wait_until(WAIT, || count(tg, text) >= n),
        "expected {n} × {text:?}; sent: {:#?}",
        tg.sent()
    );
}

fn prompts(tg: &FakeTelegram) -> Vec<BotMessage> {
    tg.sent().into_iter().filter(|m| m.text.starts_with("⚠️ /")).collect()
}

/// Waits for the `n`-th confirm prompt and returns it.
fn wait_prompt(tg: &FakeTelegram, n: usize) -> BotMessage {
    assert!(hermes_testkit::wait_until(WAIT, || prompts(tg).len() >= n), "no prompt #{n}; sent: {:#?}", tg.sent());
    prompts(tg).remove(n - 1)
}

/// Says `text`, waits for the fake model's echo and for its turn to finish (the answer is
/// visible a moment before the turn has stored everything and the session is idle again).
fn exchange(tg: &FakeTelegram, home: &HermesHome, chat: &Chat, text: &str) {
    tg.user_says(chat, &ann(), text);
    wait_text(tg, 42, &format!("echo: {text}"));
    settle(home);
}

/// Waits until every inbound event is finished.
fn settle(home: &HermesHome) {
    let open = || {
        db(home)
            .query_row("SELECT count(*) FROM inbox WHERE state IN ('received', 'processing')", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(1)
    };
    assert!(hermes_testkit::wait_until(WAIT, || open() == 0), "inbound events stay unfinished");
}

/// Every message content the model got in its last request.
fn last_request_text(llm: &FakeLlm) -> Vec<String> {
    llm.requests().last().map(|r| r.messages.iter().map(|(_, c)| c.clone()).collect()).unwrap_or_default()
}

fn db(home: &HermesHome) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(home.db_path()).expect("open lite.db");
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

#[test]
fn confirm_by_word_button_and_reaction() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    exchange(&tg, &home, &dm, "before one");
    tg.user_says(&dm, &ann(), "/new");
    let prompt = wait_prompt(&tg, 1);
    let labels: Vec<&str> = prompt.buttons.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, vec!["Approve once", "Always", "Cancel"], "{prompt:?}");
    assert!(prompt.text.contains("/approve") && prompt.text.contains("/cancel"), "{prompt:?}");
    tg.user_says(&dm, &ann(), "yes");
    wait_text(&tg, 42, NEW);
    exchange(&tg, &home, &dm, "after one");
    assert!(
        !last_request_text(&llm).iter().any(|c| c.contains("before one")),
        "the old history reached the model: {:?}",
        last_request_text(&llm)
    );

    tg.user_says(&dm, &ann(), "/reset");
    let prompt = wait_prompt(&tg, 2);
    tg.press_button(&dm, &ann(), prompt.message_id, &prompt.buttons[0].1);
    wait_text(&tg, 42, RESET);
    exchange(&tg, &home, &dm, "after two");
    assert!(!last_request_text(&llm).iter().any(|c| c.contains("after one")), "{:?}", last_request_text(&llm));

    tg.user_says(&dm, &ann(), "/new");
    let prompt = wait_prompt(&tg, 3);
    tg.user_reacts(&dm, &ann(), prompt.message_id, "👍");
    wait_count(&tg, NEW, 2);
    exchange(&tg, &home, &dm, "after three");
    assert!(!last_request_text(&llm).iter().any(|c| c.contains("after two")), "{:?}", last_request_text(&llm));
    let users: Vec<String> = llm.requests().iter().filter_map(|r| r.last_user().map(str::to_string)).collect();
    assert_eq!(users, vec!["before one", "after one", "after two", "after three"], "no answer reached the model");
}

#[test]
fn cancel_keeps_the_session_and_an_expired_answer_is_a_message() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let mut gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    exchange(&tg, &home, &dm, "keep me");
    tg.user_says(&dm, &ann(), "/new");
    wait_prompt(&tg, 1);
    tg.user_says(&dm, &ann(), "/cancel");
    wait_prefix(&tg, 42, "❌ Cancelled.");
    exchange(&tg, &home, &dm, "still here");
    assert!(last_request_text(&llm).iter().any(|c| c == "keep me"), "{:?}", last_request_text(&llm));

    tg.user_says(&dm, &ann(), "/new");
    wait_prompt(&tg, 2);
    // The prompt is stored, so it outlives a restart; the gateway comes back five minutes and
    // a second later (its clock moved by config), and the late "yes" is an ordinary message.
    settle(&home);
    gw.terminate();
    assert_eq!(gw.wait_exit(WAIT), Some(0), "{}", gw.output());
    let config = home.read_file("config.yaml");
    home.write_file("config.yaml", format!("{config}gateway:\n  clock_offset_seconds: 301\n").as_bytes());
    let _gw = Gateway::start(bin(), &home);
    exchange(&tg, &home, &dm, "yes");
    assert!(last_request_text(&llm).iter().any(|c| c == "keep me"), "the session was reset by a late yes");
    assert_eq!(count(&tg, NEW), 0);
}

#[test]
fn always_turns_the_confirm_off() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    tg.user_says(&dm, &ann(), "/new");
    wait_prompt(&tg, 1);
    tg.user_says(&dm, &ann(), "/always");
    wait_text(&tg, 42, NEW);
    tg.user_says(&dm, &ann(), "/new");
    wait_count(&tg, NEW, 2);
    assert_eq!(prompts(&tg).len(), 1, "asked again after Always: {:#?}", tg.sent());
    assert!(llm.requests().is_empty());
}

#[test]
fn new_while_busy_interrupts_without_asking() {
    let t = HeldTurn::start("slow answer");
    let (tg, llm) = (&t.tg, &t.llm);
    t.run("think hard");
    tg.user_says(&t.dm, &ann(), "/new");
    wait_text(tg, 42, NEW);
    t.gate.open();
    assert!(prompts(tg).is_empty(), "asked while busy: {:#?}", tg.sent());
    exchange(tg, &t.home, &t.dm, "fresh start");
    assert!(!last_request_text(llm).iter().any(|c| c.contains("think hard")), "{:?}", last_request_text(llm));
    assert!(!tg.sent().iter().any(|m| m.text.contains("slow answer")), "the interrupted answer was delivered");
}

#[test]
fn new_with_a_title_and_a_title_in_use() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    tg.user_says(&dm, &ann(), "/new   my\u{200B} title ");
    wait_prompt(&tg, 1);
    tg.user_says(&dm, &ann(), "ok");
    wait_text(&tg, 42, &format!("{NEW}\nTitle: my title"));
    exchange(&tg, &home, &dm, "in the titled one");
    let title: String = db(&home)
        .query_row("SELECT title FROM sessions WHERE ended_at IS NULL", [], |r| r.get(0))
        .expect("one live titled session");
    assert_eq!(title, "my title");
    let messages: i64 = db(&home)
        .query_row(
            "SELECT count(*) FROM messages m JOIN sessions s ON s.id = m.session_id WHERE s.title = 'my title'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(messages, 2, "the next message went into the titled session");

    tg.user_says(&dm, &ann(), "/new my title");
    wait_prefix(&tg, 42, "Title 'my title' is already in use by session ");
    assert_eq!(prompts(&tg).len(), 1, "no prompt for a title that cannot be used");
}

#[test]
fn undo_and_retry() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    tg.user_says(&dm, &ann(), "/undo");
    wait_text(&tg, 42, "Nothing to undo.");
    tg.user_says(&dm, &ann(), "/retry");
    wait_text(&tg, 42, "No previous message to retry.");
    tg.user_says(&dm, &ann(), "/approve");
    wait_text(&tg, 42, "Nothing is waiting for approval.");

    for q in ["q1", "q2", "q3"] {
        exchange(&tg, &home, &dm, q);
    }
    tg.user_says(&dm, &ann(), "/undo abc");
    wait_text(&tg, 42, "Usage: /undo [N]");
    tg.user_says(&dm, &ann(), "/undo 2");
    let prompt = wait_prompt(&tg, 1);
    assert!(prompt.text.contains("last 2 exchanges"), "{prompt:?}");
    tg.user_says(&dm, &ann(), "/approve");
    wait_text(&tg, 42, "↩️ Undid 2 exchanges. Removed:\n• q2\n• q3");
    exchange(&tg, &home, &dm, "q4");
    let seen = last_request_text(&llm);
    assert!(seen.iter().any(|c| c == "q1"), "{seen:?}");
    assert!(
        !seen.iter().any(|c| c == "q2" || c == "q3" || c == "echo: q3"),
        "undone turns reached the model: {seen:?}"
    );

    let before = llm.requests().len();
    tg.user_says(&dm, &ann(), "/retry");
    assert!(llm.wait_requests(before + 1, WAIT));
    wait_count(&tg, "echo: q4", 2);
    let req = llm.requests().last().cloned().unwrap();
    assert_eq!(req.last_user(), Some("q4"));
    let q4s = req.messages.iter().filter(|(r, c)| r == "user" && c == "q4").count();
    assert_eq!(q4s, 1, "the retried message is in the history once: {:?}", req.messages);
    assert!(!req.messages.iter().any(|(_, c)| c == "echo: q4"), "the old answer stayed: {:?}", req.messages);
    let stored: i64 = db(&home)
        .query_row("SELECT count(*) FROM messages WHERE content = 'q4' AND active = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 1);
}

/// A first exchange, then the session made two hours old while the gateway is down.
fn age_the_session(tg: &FakeTelegram, llm: &FakeLlm, extra_yaml: &str) -> HermesHome {
    let home = HermesHome::standard_with(tg, llm, "42", extra_yaml);
    let mut gw = Gateway::start(bin(), &home);
    exchange(tg, &home, &Chat::private(42), "old topic");
    gw.terminate();
    assert_eq!(gw.wait_exit(WAIT), Some(0), "{}", gw.output());
    let aged = db(&home).execute("UPDATE sessions SET updated_at = updated_at - 7200", []).unwrap();
    assert_eq!(aged, 1);
    home
}

#[test]
fn the_reset_watcher_ends_an_idle_session_and_says_so_once() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = age_the_session(&tg, &llm, "session_reset:\n  mode: idle\n  idle_minutes: 60\n");
    let _gw = Gateway::start(bin(), &home);
    let notice = "◐ Session automatically reset (inactive for 1h 0m). Conversation history cleared.";
    wait_prefix(&tg, 42, notice);
    exchange(&tg, &home, &Chat::private(42), "new topic");
    assert!(!last_request_text(&llm).iter().any(|c| c == "old topic"), "{:?}", last_request_text(&llm));
    let notices = tg.sent().iter().filter(|m| m.text.starts_with(notice)).count();
    assert_eq!(notices, 1, "{:#?}", tg.sent());
}

#[test]
fn the_reset_watcher_is_silent_when_notify_is_off() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = age_the_session(&tg, &llm, "session_reset:\n  mode: idle\n  idle_minutes: 60\n  notify: false\n");
    let _gw = Gateway::start(bin(), &home);
    let ended = hermes_testkit::wait_until(WAIT, || {
        db(&home).query_row("SELECT count(*) FROM sessions WHERE end_reason = 'idle'", [], |r| r.get::<_, i64>(0))
            == Ok(1)
    });
    assert!(ended, "the watcher did not end the idle session");
    exchange(&tg, &home, &Chat::private(42), "new topic");
    assert!(!last_request_text(&llm).iter().any(|c| c == "old topic"), "{:?}", last_request_text(&llm));
    assert!(!tg.sent().iter().any(|m| m.text.starts_with("◐")), "{:#?}", tg.sent());
}

/// The spec's way of testing time: the gateway's clock moved a day ahead by config, no sleeping
/// and no editing of the database.
#[test]
fn a_daily_reset_follows_the_clock_offset() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let yaml = "session_reset:\n  mode: daily\n  at_hour: 4\n";
    let home = HermesHome::standard_with(&tg, &llm, "42", yaml);
    let mut gw = Gateway::start(bin(), &home);
    exchange(&tg, &home, &Chat::private(42), "yesterday's topic");
    gw.terminate();
    assert_eq!(gw.wait_exit(WAIT), Some(0), "{}", gw.output());

    let config = home.read_file("config.yaml");
    home.write_file("config.yaml", format!("{config}gateway:\n  clock_offset_seconds: 90000\n").as_bytes());
    let _gw = Gateway::start(bin(), &home);
    wait_prefix(&tg, 42, "◐ Session automatically reset (daily schedule at 4:00).");
    exchange(&tg, &home, &Chat::private(42), "today's topic");
    let seen = last_request_text(&llm);
    assert!(!seen.iter().any(|c| c == "yesterday's topic"), "{seen:?}");
}
