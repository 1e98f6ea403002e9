//! Context compression (A10) and the iteration budget (A6) against the real binary: a long
//! history over the threshold is summarised with the Hermes template before the turn's model
//! call, the turn then sees first messages + summary + last messages; `/compress` on demand.

mod common;

use common::{WAIT, ann, bin, wait_prefix, wait_text};

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, Reply};

const PREFIX: &str = "[CONTEXT COMPACTION — REFERENCE ONLY]";

fn is_summary_request(r: &hermes_testkit::LlmRequest) -> bool {
    r.last_user().is_some_and(|u| u.contains("## Goal") && u.contains("## Active Task"))
}

#[test]
fn a_long_history_is_summarised_before_the_turn_and_the_turn_sees_head_summary_tail() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    llm.on("## Active Task", Reply::text("## Goal\nkeep chatting"));
    let yaml = "context_length: 2000\ncompression:\n  protect_first_n: 2\n  protect_last_n: 2\n";
    let home = HermesHome::standard_with(&tg, &llm, "42", yaml);
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);
    // Exchanges of ~350 tokens: the threshold (1000 tokens) is crossed within a few turns.
    for i in 0..5 {
        let text = format!("message {i} {}", "x".repeat(700));
        tg.user_says(&dm, &ann(), &text);
        wait_text(&tg, 42, &format!("echo: {text}"));
    }
    assert!(llm.requests().iter().any(is_summary_request), "no summary request was sent");
    let summary_at = llm.requests().iter().position(is_summary_request).unwrap();
    let turn = &llm.requests()[summary_at + 1];
    assert!(!is_summary_request(turn));
    let contents: Vec<&str> = turn.messages.iter().map(|(_, c)| c.as_str()).collect();
    assert!(contents[1].starts_with("message ") && contents[2].starts_with("echo: message"), "the first messages stay");
    assert!(contents[3].starts_with(PREFIX) && contents[3].contains("keep chatting"), "then the summary");
    let last = turn.last_user().unwrap();
    assert!(contents[4].starts_with("echo: message") && contents[5] == last, "then the last messages");
    assert_eq!(turn.messages.len(), 1 + 2 + 1 + 2, "system, head 2, summary, tail 2 (the new message included)");
}

#[test]
fn compress_on_demand_reports_what_it_saved() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    llm.on("## Active Task", Reply::text("## Goal\nsummary"));
    let yaml = "compression:\n  protect_first_n: 1\n  protect_last_n: 2\n";
    let home = HermesHome::standard_with(&tg, &llm, "42", yaml);
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);
    tg.user_says(&dm, &ann(), "/compress");
    wait_text(&tg, 42, "Nothing to compress yet: the conversation is short enough.");
    for i in 0..3 {
        tg.user_says(&dm, &ann(), &format!("hello {i}"));
        wait_text(&tg, 42, &format!("echo: hello {i}"));
    }
    tg.user_says(&dm, &ann(), "/compress the greetings");
    let reply = wait_prefix(&tg, 42, "🗜️ Compressed: 6 → 4 messages");
    assert!(reply.text.contains("tokens"), "{}", reply.text);
    let req = llm.requests().into_iter().find(is_summary_request).unwrap();
    assert!(req.last_user().unwrap().contains("Focus the summary on: the greetings"));
    tg.user_says(&dm, &ann(), "next");
    wait_text(&tg, 42, "echo: next");
    let last = llm.requests().last().unwrap().clone();
    let contents: Vec<&str> = last.messages.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(contents[1], "hello 0");
    assert!(contents[2].starts_with(PREFIX));
    assert_eq!(&contents[3..], &["hello 2", "echo: hello 2", "next"]);
}

#[test]
fn at_the_iteration_budget_the_model_answers_without_tools() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    for _ in 0..2 {
        llm.push(Reply::tool_call("todo", "{}"));
    }
    llm.push(Reply::text("Here is what I found."));
    let home = HermesHome::standard_with(&tg, &llm, "42", "agent:\n  max_turns: 2\n");
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "work hard");
    wait_text(&tg, 42, "Here is what I found.");
    let requests = llm.requests();
    assert_eq!(requests.len(), 3);
    assert!(!requests[1].tools.is_empty());
    let last = &requests[2];
    assert!(last.tools.is_empty(), "the last call offers no tools");
    assert!(last.last_user().unwrap().starts_with("You've reached the maximum number of tool-calling iterations"));
    let _ = WAIT;
}
