//! kill -9 at any moment loses nothing and sends nothing twice: the real binary is killed while
//! a reply streams and at other points, restarted, and every user message must end up with
//! exactly one answer.

mod common;

use common::bin;

use std::time::Duration;

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gate, Gateway, HermesHome, Reply, User, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// Bot messages in `chat` that carry the answer to `question` (notices left out).
fn answers(tg: &FakeTelegram, chat: i64, question: &str) -> Vec<String> {
    tg.sent()
        .into_iter()
        .filter(|m| m.chat_id == chat && !m.deleted && m.text.contains(question))
        .filter(|m| !m.text.starts_with('⚡') && !m.text.starts_with('⏳'))
        .map(|m| m.text)
        .collect()
}

/// Exactly one message carries the answer, and it is final. Messages that waited in the inbox
/// together are answered together (the queue joins them), so the answer may quote several.
fn answered_once(tg: &FakeTelegram, chat: i64, question: &str) -> bool {
    let a = answers(tg, chat, question);
    a.len() == 1 && a[0].starts_with("echo: ") && !a[0].ends_with('▉')
}

/// Messages still showing the streaming cursor: the start of an answer whose send Telegram
/// accepted in the instant before the gateway could record it (a SIGKILL in that window of a
/// millisecond or so). Nothing can tell such a send apart from one that never arrived, and
/// not sending would lose the message, so the rerun sends it again (M29): at most one such
/// leftover per chat per kill, never a second copy of a finished answer.
fn leftovers(tg: &FakeTelegram, chat: i64) -> Vec<String> {
    tg.sent().into_iter().filter(|m| m.chat_id == chat && !m.deleted && m.text.ends_with('▉')).map(|m| m.text).collect()
}

#[test]
fn killed_while_a_reply_streams_the_answer_is_finished_in_the_same_message() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let gate = Gate::new();
    llm.on("tell me a story", Reply::text("echo: tell me a story, a long one with many words").chunks(6).hold(&gate));
    let home = HermesHome::standard(&tg, &llm, "42");
    let mut gw = Gateway::start(bin(), &home);

    tg.user_says(&Chat::private(42), &User::new(42, "Ann"), "tell me a story");
    // The first chunk is visible (streaming), the rest is held back: kill now.
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.starts_with("echo")).expect("streaming started");
    // Let the store record the sent message (the one window no gateway can close: a crash
    // between Telegram's answer and the commit resends that message once).
    std::thread::sleep(Duration::from_millis(300));
    gw.kill9();

    gate.open();
    let _gw = Gateway::start(bin(), &home);
    assert!(wait_until(WAIT, || answered_once(&tg, 42, "tell me a story")), "after the crash: {:#?}", tg.sent());
    std::thread::sleep(Duration::from_millis(500));
    assert!(answered_once(&tg, 42, "tell me a story"), "{:#?}", tg.sent());
}

#[test]
fn kills_at_many_points_lose_nothing_and_duplicate_nothing() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    // Queue: every message gets its answer (interrupt would, by design, drop the answer to a
    // message that a newer one interrupted).
    let home = HermesHome::standard_with(&tg, &llm, "42,43,44", "display:\n  busy_input_mode: queue\n");
    let users = [42i64, 43, 44];
    let delays_ms = [0u64, 5, 20, 60, 120, 250, 400, 700];
    let mut questions: Vec<(i64, String)> = Vec::new();
    let mut gw = Gateway::start(bin(), &home);
    for (round, delay) in delays_ms.iter().enumerate() {
        for user in users {
            let q = format!("round {round} from {user}");
            tg.user_says(&Chat::private(user), &User::new(user, "U"), &q);
            questions.push((user, q));
        }
        std::thread::sleep(Duration::from_millis(*delay));
        gw.kill9();
        gw = Gateway::start(bin(), &home);
    }
    let all_done = wait_until(Duration::from_secs(60), || questions.iter().all(|(u, q)| answered_once(&tg, *u, q)));
    let problems: Vec<String> = questions
        .iter()
        .filter(|(u, q)| !answered_once(&tg, *u, q))
        .map(|(u, q)| format!("{q}: {:?}", answers(&tg, *u, q)))
        .collect();
    assert!(all_done && problems.is_empty(), "not answered exactly once:\n{}\n{}", problems.join("\n"), gw.output());
    for user in users {
        let left = leftovers(&tg, user);
        assert!(left.len() <= delays_ms.len(), "chat {user}: {left:?}");
        assert!(left.iter().all(|t| t.starts_with("echo:")), "chat {user}: {left:?}");
        if !left.is_empty() {
            eprintln!("chat {user}: {} send(s) caught in the accept-to-commit window: {left:?}", left.len());
        }
    }
    assert!(gw.wait_output("gateway running", WAIT));
    gw.terminate();
    assert_eq!(gw.wait_exit(WAIT), Some(0), "{}", gw.output());
}
