//! The whole gateway, as a user sees it: the real binary against a fake Telegram Bot API and a
//! fake OpenAI-compatible model on loopback.

mod common;

use common::{WAIT, ann, bin, wait_text};

use std::time::Duration;

use hermes_testkit::{BotMessage, Chat, FakeLlm, FakeTelegram, Gate, Gateway, HermesHome, Reply, User};

fn bot_messages(tg: &FakeTelegram, chat: i64) -> Vec<BotMessage> {
    tg.sent().into_iter().filter(|m| m.chat_id == chat && !m.deleted).collect()
}

#[test]
fn a_dm_gets_a_streamed_answer() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let answer = "Hello Ann! This answer arrives in several pieces, edited into one message.";
    llm.push(Reply::text(answer).chunks(8).chunk_delay(Duration::from_millis(150)));
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);

    tg.user_says(&Chat::private(42), &ann(), "hi there");
    let msg = wait_text(&tg, 42, answer);
    assert!(msg.edits >= 1, "the answer was not streamed by edits: {msg:?}");
    assert_eq!(bot_messages(&tg, 42).len(), 1, "exactly one message carries the answer");

    let requests = llm.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].stream);
    assert_eq!(requests[0].last_user(), Some("hi there"));
    assert_eq!(requests[0].authorization.as_deref(), Some("Bearer sk-test-secret-key-1234"));
    assert_eq!(requests[0].messages[0].0, "system");
    assert!(tg.calls().iter().any(|c| c.method == "sendChatAction"), "typing indicator was never shown");
    assert!(tg.calls().iter().any(|c| c.method == "setMyCommands"), "command menu was not registered");
}

#[test]
fn group_messages_need_a_mention_and_strangers_never_reach_the_model() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let group = Chat::group(-1001);

    tg.user_says(&group, &ann(), "chatting with friends, not the bot");
    tg.user_says(&Chat::private(7), &User::new(7, "Mallory"), "stranger secret plan");
    tg.user_says(&group, &User::new(7, "Mallory"), "@hermes_test_bot stranger in the group");
    tg.user_says(&group, &ann(), "@hermes_test_bot ping from the group");

    wait_text(&tg, -1001, "echo: ping from the group");
    tg.user_says(&Chat::private(42), &ann(), "last one");
    wait_text(&tg, 42, "echo: last one");

    let seen: Vec<String> = llm.requests().iter().filter_map(|r| r.last_user().map(str::to_string)).collect();
    assert_eq!(seen, vec!["ping from the group".to_string(), "last one".to_string()], "the model saw {seen:?}");
    assert!(bot_messages(&tg, 7).is_empty(), "the bot answered a stranger");
    assert_eq!(bot_messages(&tg, -1001).len(), 1);
}

#[test]
fn interrupt_is_the_default_busy_policy() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let gate = Gate::new();
    llm.push(Reply::text("a long answer to the first question that never finishes").hold(&gate));
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    tg.user_says(&dm, &ann(), "first question");
    assert!(llm.wait_requests(1, WAIT));
    tg.user_says(&dm, &ann(), "second question");
    wait_text(&tg, 42, "⚡ Interrupting current task. I'll respond to your message shortly.");
    wait_text(&tg, 42, "echo: second question");
    gate.open();
    let users: Vec<String> = llm.requests().iter().filter_map(|r| r.last_user().map(str::to_string)).collect();
    assert_eq!(users, vec!["first question", "second question"]);
}

#[test]
fn queue_mode_answers_both_in_order() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let gate = Gate::new();
    llm.push(Reply::text("first answer").hold(&gate));
    let home = HermesHome::standard_with(&tg, &llm, "42", "display:\n  busy_input_mode: queue\n");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    tg.user_says(&dm, &ann(), "one");
    assert!(llm.wait_requests(1, WAIT));
    tg.user_says(&dm, &ann(), "two");
    wait_text(&tg, 42, "⏳ Queued for the next turn. I'll respond once the current task finishes.");
    gate.open();
    wait_text(&tg, 42, "first answer");
    wait_text(&tg, 42, "echo: two");
    let requests = llm.requests();
    assert_eq!(requests.len(), 2);
    let history: Vec<&str> = requests[1].messages.iter().map(|(_, c)| c.as_str()).collect();
    assert!(history.contains(&"one") && history.contains(&"first answer"), "queued turn lacks history: {history:?}");
}

#[test]
fn history_survives_a_restart_and_new_starts_fresh() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let dm = Chat::private(42);
    let mut gw = Gateway::start(bin(), &home);
    tg.user_says(&dm, &ann(), "my name is Zed");
    wait_text(&tg, 42, "echo: my name is Zed");
    gw.terminate();
    assert_eq!(gw.wait_exit(WAIT), Some(0), "{}", gw.output());

    let mut gw = Gateway::start(bin(), &home);
    tg.user_says(&dm, &ann(), "what is my name?");
    wait_text(&tg, 42, "echo: what is my name?");
    let last = llm.requests().last().cloned().unwrap();
    assert!(last.messages.iter().any(|(_, c)| c == "my name is Zed"), "history lost: {:?}", last.messages);

    tg.user_says(&dm, &ann(), "/new");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.starts_with("⚠️")).expect("the confirm prompt");
    tg.user_says(&dm, &ann(), "yes");
    wait_text(&tg, 42, "✨ New session started!");
    tg.user_says(&dm, &ann(), "fresh start");
    wait_text(&tg, 42, "echo: fresh start");
    let last = llm.requests().last().cloned().unwrap();
    assert!(!last.messages.iter().any(|(_, c)| c.contains("Zed")), "/new kept the old history");
    assert_eq!(llm.requests().len(), 3, "a command reached the model");
    gw.terminate();
    assert_eq!(gw.wait_exit(WAIT), Some(0));
}

#[test]
fn status_stop_and_unknown_commands_answer_without_the_model() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);
    tg.user_says(&dm, &ann(), "/stop");
    wait_text(&tg, 42, "Nothing is running right now.");
    tg.user_says(&dm, &ann(), "/frobnicate");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.starts_with("Unknown command `/frobnicate`"))
        .expect("unknown command text");
    tg.user_says(&dm, &ann(), "/status");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.starts_with("📊 Status")).expect("status");
    tg.user_says(&dm, &ann(), "/help");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.contains("/new")).expect("help");
    assert!(llm.requests().is_empty());
}

#[test]
fn the_todo_tool_runs_inside_the_turn() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    llm.push(Reply::tool_call("todo", r#"{"todos":[{"id":"1","content":"buy milk","status":"pending"}]}"#));
    llm.push(Reply::text("Noted: buy milk."));
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "remember to buy milk");
    wait_text(&tg, 42, "Noted: buy milk.");
    let requests = llm.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].tools.iter().any(|t| t == "todo"));
    let tool_result = requests[1].messages.iter().find(|(role, _)| role == "tool").expect("tool result sent back");
    assert!(tool_result.1.contains("buy milk"), "{tool_result:?}");
}

#[test]
fn steer_mode_hands_the_text_to_the_running_turn() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let gate = Gate::new();
    llm.push(Reply::tool_call("todo", r#"{"todos":[{"id":"1","content":"step","status":"in_progress"}]}"#).hold(&gate));
    llm.push(Reply::text("done with the steer"));
    let home = HermesHome::standard_with(&tg, &llm, "42", "display:\n  busy_input_mode: steer\n");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);
    tg.user_says(&dm, &ann(), "start the work");
    assert!(llm.wait_requests(1, WAIT));
    tg.user_says(&dm, &ann(), "also use blue");
    wait_text(&tg, 42, "⏩ Steered into current run. Your message arrives after the next tool call.");
    gate.open();
    wait_text(&tg, 42, "done with the steer");
    let requests = llm.requests();
    assert_eq!(requests.len(), 2, "the steered text must not start its own turn");
    let tool = requests[1].messages.iter().find(|(role, _)| role == "tool").expect("tool result");
    assert!(tool.1.contains("also use blue"), "{tool:?}");
}

#[test]
fn reset_ends_the_session_like_new() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);
    tg.user_says(&dm, &ann(), "remember pineapple");
    wait_text(&tg, 42, "echo: remember pineapple");
    tg.user_says(&dm, &ann(), "/reset");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.starts_with("⚠️")).expect("the confirm prompt");
    tg.user_says(&dm, &ann(), "yes");
    wait_text(&tg, 42, "✨ Session reset! Starting fresh.");
    tg.user_says(&dm, &ann(), "what fruit?");
    wait_text(&tg, 42, "echo: what fruit?");
    let last = llm.requests().last().cloned().unwrap();
    assert!(!last.messages.iter().any(|(_, c)| c.contains("pineapple")));
}

#[test]
fn the_queue_is_capped_and_says_so() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let gate = Gate::new();
    llm.push(Reply::text("first").hold(&gate));
    let home = HermesHome::standard_with(&tg, &llm, "42", "display:\n  busy_input_mode: queue\n");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);
    tg.user_says(&dm, &ann(), "m0");
    assert!(llm.wait_requests(1, WAIT));
    for i in 1..=33 {
        tg.user_says(&dm, &ann(), &format!("m{i}"));
    }
    wait_text(
        &tg,
        42,
        "⏳ Too many queued messages — this one was not queued. Wait for the current task or use /stop.",
    );
    gate.open();
    let joined = tg
        .wait_sent(WAIT, |m| m.chat_id == 42 && m.text.starts_with("echo: m1\n") && !m.text.ends_with('▉'))
        .expect("queued turn");
    assert!(joined.text.contains("m32") && !joined.text.contains("m33"), "{}", joined.text);
}

#[test]
fn secrets_never_reach_the_logs() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    llm.push(Reply::status(401, r#"{"error":{"message":"invalid key sk-test-secret-key-1234"}}"#));
    let home = HermesHome::standard(&tg, &llm, "42");
    let mut gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "hi");
    let reply = tg.wait_sent(WAIT, |m| m.chat_id == 42).expect("an auth error reply");
    assert!(reply.text.contains("authentication failed"), "{reply:?}");
    assert!(!reply.text.contains("sk-test-secret-key-1234"), "the key was echoed to the chat");
    gw.terminate();
    gw.wait_exit(WAIT);
    let logs = format!("{}\n{}", gw.output(), home.log());
    assert!(!logs.contains(hermes_testkit::TOKEN), "the bot token is in the logs");
    assert!(!logs.contains("sk-test-secret-key-1234"), "the API key is in the logs");
}

#[test]
fn at_the_session_actor_cap_new_chats_wait_and_are_then_answered() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let gate = Gate::new();
    llm.on("busy", Reply::text("echo: busy").hold(&gate));
    let home = HermesHome::standard_with(&tg, &llm, "1,2,3", "gateway:\n  max_session_actors: 2\n");
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(1), &User::new(1, "A"), "busy one");
    tg.user_says(&Chat::private(2), &User::new(2, "B"), "busy two");
    assert!(llm.wait_requests(2, WAIT));
    tg.user_says(&Chat::private(3), &User::new(3, "C"), "third chat");
    // Both actor slots are busy: the third chat waits in the inbox, the model never sees it.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(llm.requests().len(), 2, "a third session started beyond the cap");
    gate.open();
    wait_text(&tg, 3, "echo: third chat");
    wait_text(&tg, 1, "echo: busy");
    wait_text(&tg, 2, "echo: busy");
}

#[test]
fn soul_md_is_the_system_prompt_identity() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    home.write_file("SOUL.md", "You are Captain Parrot, a pirate who answers in rhymes.".as_bytes());
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "ahoy");
    wait_text(&tg, 42, "echo: ahoy");
    let system = &llm.requests()[0].messages[0];
    assert_eq!(system.0, "system");
    assert!(system.1.contains("Captain Parrot"), "{}", system.1);
}

#[test]
fn allow_all_users_opens_the_bot_with_a_warning() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    home.write_env(&format!(
        "TELEGRAM_BOT_TOKEN={}\nTELEGRAM_BASE_URL={}\nGATEWAY_ALLOW_ALL_USERS=true\nTELEGRAM_POLL_TIMEOUT=2\n",
        hermes_testkit::TOKEN,
        tg.base_url()
    ));
    let gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(7), &User::new(7, "Stranger"), "hi");
    wait_text(&tg, 7, "echo: hi");
    assert!(gw.output().contains("every user may talk to this bot"), "{}", gw.output());
}
