//! The everyday commands (/version, /agents, /queue, /stop while busy) and the inbound kinds
//! that are not plain messages (edits, button presses, reactions): the real binary against the
//! fake Bot API and the fake model.

mod common;

use common::{WAIT, ann, bin, wait_prefix, wait_text};

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gate, Gateway, HermesHome, Reply};

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
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let gate = Gate::new();
    llm.push(Reply::text("slow answer").hold(&gate));
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    tg.user_says(&dm, &ann(), "/agents");
    wait_text(&tg, 42, "No agents are running.");
    tg.user_says(&dm, &ann(), "/queue");
    wait_text(&tg, 42, "Usage: /queue <text>");

    tg.user_says(&dm, &ann(), "think hard");
    assert!(llm.wait_requests(1, WAIT));
    tg.user_says(&dm, &ann(), "/tasks");
    let listing = wait_prefix(&tg, 42, "🤖 Running agents: 1");
    assert!(listing.text.contains("agent:main:telegram:dm:42 (this chat)"), "{listing:?}");
    tg.user_says(&dm, &ann(), "/stop");
    wait_text(&tg, 42, "⚡ Stopped. You can continue this session.");
    gate.open();
    tg.user_says(&dm, &ann(), "and now?");
    wait_text(&tg, 42, "echo: and now?");
    // The answer is visible a moment before its turn has stored everything; ask until it is done.
    let idle = (0..50).any(|_| {
        let before = tg.sent().len();
        tg.user_says(&dm, &ann(), "/agents");
        let reply = tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.message_id >= 1000 + before as i64);
        reply.is_some_and(|m| m.text == "No agents are running.")
    });
    assert!(idle, "the stopped turn is still listed: {:#?}", tg.sent());
    assert_eq!(llm.requests().len(), 2, "no command reached the model");
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
