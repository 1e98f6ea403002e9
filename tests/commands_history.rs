//! /title, /sessions, /resume and /branch, and the automatic title, through the real binary
//! against the fake Telegram and the fake model.

mod common;

use common::{HeldTurn, ann, bin};

use std::time::Duration;

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, Reply, User, wait_until};

const WAIT: Duration = Duration::from_secs(20);
/// Keeps the title call out of tests that count model requests.
const TITLES: &str = "auxiliary:\n  title_generation:\n    enabled: true\n";

/// Sends `text` as `from` in `chat` and returns the first new bot message there containing
/// `needle`. A command that lands while the answer before it is still wrapping up gets the
/// mid-turn text; it is sent again then.
fn ask(tg: &FakeTelegram, chat: i64, from: &User, text: &str, needle: &str) -> String {
    for _ in 0..50 {
        let before = tg.sent().iter().map(|m| m.message_id).max().unwrap_or(0);
        tg.user_says(&Chat::private(chat), from, text);
        let busy = |t: &str| t.contains("can't run mid-turn") && !needle.contains("mid-turn");
        let reply = tg
            .wait_sent(WAIT, |m| {
                m.chat_id == chat && m.message_id > before && (m.text.contains(needle) || busy(&m.text))
            })
            .map(|m| m.text)
            .unwrap_or_else(|| panic!("no reply containing {needle:?} to {text:?}; sent: {:#?}", tg.sent()));
        if !busy(&reply) {
            return reply;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{text:?} kept meeting a running turn");
}

fn bob() -> User {
    User::new(43, "Bob")
}

#[test]
fn title_sets_shows_and_refuses_duplicates_and_long_names() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42,43");
    let _gw = Gateway::start(bin(), &home);

    ask(&tg, 42, &ann(), "/title", "no title yet");
    let set = ask(&tg, 42, &ann(), "/title  Trip \u{200b}Plans ", "title set");
    assert_eq!(set, "✏️ Session title set: Trip Plans");
    assert_eq!(ask(&tg, 42, &ann(), "/title", "Session title"), "Session title: Trip Plans");

    let dup = ask(&tg, 43, &bob(), "/title Trip Plans", "already in use");
    assert!(dup.starts_with("Title 'Trip Plans' is already in use by session "), "{dup}");
    let long = ask(&tg, 43, &bob(), &format!("/title {}", "x".repeat(101)), "too long");
    assert!(long.contains("101") && long.contains("100"), "{long}");
    ask(&tg, 43, &bob(), "/title", "no title yet");
    assert!(llm.requests().is_empty(), "a command reached the model");
}

#[test]
fn the_first_answer_brings_an_automatic_title() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    llm.on("descriptive title", Reply::text("Title: \"Trip Planning Notes\""));
    let home = HermesHome::standard_with(&tg, &llm, "42", TITLES);
    let _gw = Gateway::start(bin(), &home);

    ask(&tg, 42, &ann(), "help me plan a trip to Lisbon", "echo: help me plan a trip to Lisbon");
    assert!(
        wait_until(WAIT, || home.log().contains("titled \"Trip Planning Notes\"")),
        "no automatic title; log:\n{}",
        home.log()
    );
    assert_eq!(ask(&tg, 42, &ann(), "/title", "Session title"), "Session title: Trip Planning Notes");
    let requests = llm.requests();
    assert_eq!(requests.len(), 2);
    let prompt = requests[1].last_user().unwrap();
    assert!(prompt.contains("help me plan a trip to Lisbon") && prompt.contains("echo: help me"), "{prompt}");
    assert!(requests[1].tools.is_empty(), "the title call offers no tools");

    // A manual title wins over a later automatic one, and the second exchange asks for none.
    ask(&tg, 42, &ann(), "/title My Own Name", "title set");
    ask(&tg, 42, &ann(), "and the hotels?", "echo: and the hotels?");
    ask(&tg, 42, &ann(), "/title", "Session title: My Own Name");
}

#[test]
fn sessions_branch_and_resume_move_between_histories() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42,43");
    let _gw = Gateway::start(bin(), &home);

    ask(&tg, 42, &ann(), "/sessions", "No sessions in this chat yet.");
    ask(&tg, 42, &ann(), "/resume", "No titled sessions");
    ask(&tg, 42, &ann(), "/branch", "Nothing to branch yet");
    ask(&tg, 42, &ann(), "tell me about zebras", "echo: tell me about zebras");
    ask(&tg, 42, &ann(), "/title Zebra Talk", "title set");
    let branched = ask(&tg, 42, &ann(), "/fork Zebra Fork", "Branched");
    assert!(branched.contains("\"Zebra Fork\" with 2 messages"), "{branched}");

    // The branch carries the history on.
    ask(&tg, 42, &ann(), "next about giraffes", "echo: next about giraffes");
    let last = llm.requests().last().cloned().unwrap();
    assert!(last.messages.iter().any(|(_, c)| c == "tell me about zebras"), "{:?}", last.messages);

    let list = ask(&tg, 42, &ann(), "/sessions", "Recent sessions");
    assert!(list.contains("Zebra Fork (4 messages") && list.contains("← current"), "{list}");
    assert!(list.contains("Zebra Talk (2 messages"), "the original stays listed: {list}");

    ask(&tg, 43, &bob(), "zebras secrets of another chat", "echo: zebras secrets");
    let found = ask(&tg, 42, &ann(), "/sessions search ZEBRAS", "matching");
    assert!(found.contains("Zebra Talk") && found.contains("«zebras»"), "{found}");
    assert!(!found.contains("secrets"), "another chat's messages leaked: {found}");
    ask(&tg, 43, &bob(), "/sessions search giraffes", "No messages match \"giraffes\".");
    ask(&tg, 42, &ann(), "/sessions search \"(*", "Usage: /sessions [search <query>]");
    ask(&tg, 42, &ann(), "/sessions whatever", "Usage: /sessions [search <query>]");

    let titled = ask(&tg, 42, &ann(), "/resume", "Titled sessions");
    let number = titled
        .lines()
        .find(|l| l.contains("Zebra Talk"))
        .and_then(|l| l.split('.').next())
        .unwrap_or_else(|| panic!("Zebra Talk not listed: {titled}"));
    let resumed = ask(&tg, 42, &ann(), &format!("/resume {number}"), "Resumed");
    assert!(resumed.contains("Zebra Talk (1 user message)"), "{resumed}");
    ask(&tg, 42, &ann(), "what did we discuss?", "echo: what did we discuss?");
    let last = llm.requests().last().cloned().unwrap();
    let contents: Vec<&str> = last.messages.iter().map(|(_, c)| c.as_str()).collect();
    assert!(contents.contains(&"tell me about zebras"), "{contents:?}");
    assert!(!contents.contains(&"next about giraffes"), "the branch's history leaked: {contents:?}");

    ask(&tg, 42, &ann(), "/resume Zebra Talk", "already in that session");
    let back = ask(&tg, 42, &ann(), "/resume Zebra Fork", "Resumed");
    assert!(back.contains("Zebra Fork (2 user messages)"), "{back}");
    ask(&tg, 42, &ann(), "/resume nope", "No session of this chat matches 'nope'");
    ask(&tg, 43, &bob(), "/resume Zebra Talk", "No session of this chat matches");
}

#[test]
fn history_commands_wait_for_the_running_turn() {
    let t = HeldTurn::start("a slow answer");
    t.run("think hard");
    let busy = ask(&t.tg, 42, &ann(), "/title Busy Name", "can't run mid-turn");
    assert_eq!(busy, "⏳ Agent is running — /title can't run mid-turn. Wait for the current response or /stop first.");
    ask(&t.tg, 42, &ann(), "/resume", "/resume can't run mid-turn");
    t.gate.open();
    assert!(t.tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text == "a slow answer").is_some());
}
