//! The everyday commands (/version, /agents, /queue, /stop while busy) and the inbound kinds
//! that are not plain messages (edits, button presses, reactions): the real binary against the
//! fake Bot API and the fake model.

mod common;

use common::{HeldTurn, WAIT, ann, ask, bin, wait_text};

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gateway, HermesHome};

#[test]
fn version_and_its_alias() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);
    tg.user_says(&dm, &ann(), "/version");
    let expected = format!("hermes-lite {}", env!("CARGO_PKG_VERSION"));
    wait_text(&tg, 42, &expected);
    tg.user_says(&dm, &ann(), "/v");
    assert!(
        hermes_testkit::wait_until(WAIT, || tg.sent().iter().filter(|m| m.text == expected).count() == 2),
        "/v did not answer like /version: {:#?}",
        tg.sent()
    );
    assert!(llm.requests().is_empty());
}

#[test]
fn agents_lists_running_turns_and_queue_needs_text() {
    let t = HeldTurn::start("slow answer");
    let (tg, dm) = (&t.tg, &t.dm);

    assert_eq!(ask(tg, dm, &ann(), "/agents").text, "No agents are running.");
    assert_eq!(ask(tg, dm, &ann(), "/queue").text, "Usage: /queue <text>");

    t.run("think hard");
    let listing = ask(tg, dm, &ann(), "/tasks");
    assert!(listing.text.starts_with("🤖 Running agents: 1"), "{listing:?}");
    assert!(listing.text.contains("agent:main:telegram:dm:42 (this chat)"), "{listing:?}");
    assert_eq!(ask(tg, dm, &ann(), "/stop").text, "⚡ Stopped. You can continue this session.");
    t.gate.open();
    tg.user_says(dm, &ann(), "and now?");
    wait_text(tg, 42, "echo: and now?");
    // The answer is visible a moment before its turn ends; a command sent then waits for the end.
    assert_eq!(ask(tg, dm, &ann(), "/agents").text, "No agents are running.");
    assert_eq!(t.llm.requests().len(), 2, "no command reached the model");
}

#[test]
fn an_edit_is_a_new_message_and_a_stray_button_or_reaction_does_nothing() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    let id = tg.user_says(&dm, &ann(), "what is 2+2");
    wait_text(&tg, 42, "echo: what is 2+2");
    tg.press_button(&dm, &ann(), 1000, "nothing-pending");
    tg.user_reacts(&dm, &ann(), 1000, "👍");
    tg.user_edits(&dm, &ann(), id, "what is 3+3");
    wait_text(&tg, 42, "echo: what is 3+3");
    let users: Vec<String> = llm.requests().iter().filter_map(|r| r.last_user().map(str::to_string)).collect();
    assert_eq!(users, vec!["what is 2+2", "what is 3+3"], "only the message and its edit reach the model");
    assert!(tg.wait_calls("answerCallbackQuery", 1, WAIT), "the button press was not answered");
}
