//! The settings commands as a user sees them: /model, /usage, /sethome, /personality,
//! /reasoning, /yolo, /verbose, /restart and /platform, against the real binary.

mod common;

use common::{HeldTurn, ann, bin};

use std::time::Duration;

use hermes_testkit::{BotMessage, Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, User};

const WAIT: Duration = Duration::from_secs(20);

/// Waits for a bot message in `chat` whose text contains `needle`.
fn wait_for(tg: &FakeTelegram, chat: i64, needle: &str) -> BotMessage {
    tg.wait_sent(WAIT, |m| m.chat_id == chat && m.text.contains(needle))
        .unwrap_or_else(|| panic!("no bot message with {needle:?} in chat {chat}; sent: {:#?}", tg.sent()))
}

/// Waits until the chat's session is idle: the answer is delivered a moment before the turn
/// ends, and most commands are refused while it runs.
fn wait_idle(tg: &FakeTelegram, chat: &Chat, user: &User) {
    for _ in 0..50 {
        let seen = tg.sent().iter().map(|m| m.message_id).max().unwrap_or(0);
        tg.user_says(chat, user, "/status");
        let status = tg
            .wait_sent(WAIT, |m| m.chat_id == chat.id && m.text.starts_with("📊 Status") && m.message_id > seen)
            .expect("a /status answer");
        if status.text.contains("State: idle") {
            return;
        }
    }
    panic!("the session never became idle");
}

/// Sends `text`, waits for the echo answer and the end of the turn, and returns the model
/// request it caused.
fn turn(tg: &FakeTelegram, llm: &FakeLlm, chat: &Chat, user: &User, text: &str) -> hermes_testkit::LlmRequest {
    tg.user_says(chat, user, text);
    wait_for(tg, chat.id, &format!("echo: {text}"));
    wait_idle(tg, chat, user);
    llm.requests().into_iter().rev().find(|r| r.last_user() == Some(text)).expect("the request of the turn")
}

#[test]
fn model_switches_per_session_and_globally() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard_with(&tg, &llm, "42,43,44", "# keep this comment\nagent:\n  max_turns: 10\n");
    let _gw = Gateway::start(bin(), &home);
    let (ann_dm, bob, bob_dm) = (Chat::private(42), User::new(43, "Bob"), Chat::private(43));

    tg.user_says(&ann_dm, &ann(), "/model");
    wait_for(&tg, 42, "Current model: test-model");
    tg.user_says(&ann_dm, &ann(), "/model fancy-model");
    wait_for(&tg, 42, "Model switched to fancy-model for this session.");
    assert_eq!(turn(&tg, &llm, &ann_dm, &ann(), "hello").model, "fancy-model");
    assert_eq!(turn(&tg, &llm, &bob_dm, &bob, "hi from bob").model, "test-model", "another chat changed model");

    tg.user_says(&ann_dm, &ann(), "/model global-model --global");
    wait_for(&tg, 42, "Model switched to global-model and saved to config.yaml");
    let config = home.read_file("config.yaml");
    assert!(config.contains("  default: global-model\n"), "{config}");
    assert!(config.contains("# keep this comment\n") && config.contains("  max_turns: 10\n"), "{config}");
    assert!(config.contains("  base_url: ") && config.contains("  provider: custom\n"), "{config}");
    let carol = (Chat::private(44), User::new(44, "Carol"));
    assert_eq!(turn(&tg, &llm, &carol.0, &carol.1, "new chat").model, "global-model");
    assert_eq!(turn(&tg, &llm, &ann_dm, &ann(), "again").model, "global-model");

    tg.user_says(&ann_dm, &ann(), "/model a b");
    wait_for(&tg, 42, "Usage: /model [name] [--global]");
}

#[test]
fn model_is_refused_while_a_turn_runs() {
    let t = HeldTurn::start("slow answer");
    t.run("think hard");
    t.tg.user_says(&t.dm, &ann(), "/model other");
    wait_for(&t.tg, 42, "Agent is running — wait or /stop first");
    t.gate.open();
    wait_for(&t.tg, 42, "slow answer");
    assert_eq!(turn(&t.tg, &t.llm, &t.dm, &ann(), "next").model, "test-model");
}

#[test]
fn usage_sethome_yolo_and_platform() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    turn(&tg, &llm, &dm, &ann(), "count me");
    tg.user_says(&dm, &ann(), "/usage");
    let usage = wait_for(&tg, 42, "📊 Usage").text;
    assert!(usage.contains("Messages: 2"), "{usage}");
    assert!(!usage.contains("Input tokens: 0\n") && usage.contains("Input tokens: "), "{usage}");
    assert!(!usage.contains("Output tokens: 0\n") && usage.contains("Output tokens: "), "{usage}");
    assert!(usage.contains("all 1 session(s)"), "{usage}");

    tg.user_says(&dm, &ann(), "/sethome");
    wait_for(&tg, 42, "Home channel set");
    let env = home.read_file(".env");
    assert!(env.contains("TELEGRAM_HOME_CHANNEL=42\n"), "{env}");
    assert!(env.contains("TELEGRAM_BOT_TOKEN=") && env.contains("TELEGRAM_ALLOWED_USERS=42\n"), "{env}");

    tg.user_says(&dm, &ann(), "/yolo");
    wait_for(&tg, 42, "YOLO mode ON");
    tg.user_says(&dm, &ann(), "/status");
    wait_for(&tg, 42, "YOLO: on");
    tg.user_says(&dm, &ann(), "/yolo");
    wait_for(&tg, 42, "YOLO mode OFF");

    tg.user_says(&dm, &ann(), "/platform list");
    wait_for(&tg, 42, "• telegram: connected");
    tg.user_says(&dm, &ann(), "/platform pause telegram");
    wait_for(&tg, 42, "can't pause itself");
    tg.user_says(&dm, &ann(), "/platform frob");
    wait_for(&tg, 42, "Usage: /platform list|pause <name>|resume <name>");
    assert_eq!(llm.requests().len(), 1, "a command reached the model");
}

#[test]
fn personality_and_reasoning_shape_the_request() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let extra = "agent:\n  personalities:\n    pirate: Talk like a pirate, arr.\n    formal:\n      system_prompt: Be formal.\n";
    let home = HermesHome::standard_with(&tg, &llm, "42", extra);
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    tg.user_says(&dm, &ann(), "/personality");
    let list = wait_for(&tg, 42, "Personalities:").text;
    assert!(list.contains("• pirate — Talk like a pirate") && list.contains("• formal — Be formal."), "{list}");
    tg.user_says(&dm, &ann(), "/personality ghost");
    wait_for(&tg, 42, "Unknown personality: ghost");
    tg.user_says(&dm, &ann(), "/personality pirate");
    wait_for(&tg, 42, "Personality set to pirate");
    tg.user_says(&dm, &ann(), "/reasoning high");
    wait_for(&tg, 42, "Reasoning effort set to high");
    tg.user_says(&dm, &ann(), "/reasoning bogus");
    wait_for(&tg, 42, "Usage: /reasoning [level|show|hide|reset]");

    let req = turn(&tg, &llm, &dm, &ann(), "ahoy");
    assert!(req.messages[0].1.contains("Talk like a pirate, arr."), "{:?}", req.messages[0]);
    assert!(req.body.contains(r#""reasoning_effort":"high""#), "{}", req.body);

    tg.user_says(&dm, &ann(), "/personality none");
    wait_for(&tg, 42, "Personality cleared");
    tg.user_says(&dm, &ann(), "/reasoning reset");
    wait_for(&tg, 42, "Reasoning effort reset");
    let req = turn(&tg, &llm, &dm, &ann(), "plain");
    assert!(!req.messages[0].1.contains("pirate"));
    assert!(!req.body.contains("reasoning_effort"), "{}", req.body);
}

#[test]
fn verbose_is_gated_by_config() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "/verbose");
    wait_for(&tg, 42, "Unknown command `/verbose`");
}

#[test]
fn verbose_cycles_tool_progress_in_config_yaml() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home =
        HermesHome::standard_with(&tg, &llm, "42", "display:\n  tool_progress_command: true  # allow /verbose\n");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    tg.user_says(&dm, &ann(), "/verbose");
    wait_for(&tg, 42, "Tool progress: new");
    let config = home.read_file("config.yaml");
    assert!(config.contains("display:\n  tool_progress_command: true  # allow /verbose\n  platforms:\n    telegram:\n      tool_progress: new\n"), "{config}");
    tg.user_says(&dm, &ann(), "/verbose");
    wait_for(&tg, 42, "Tool progress: all");
    tg.user_says(&dm, &ann(), "/verbose");
    wait_for(&tg, 42, "Tool progress: verbose");
    tg.user_says(&dm, &ann(), "/verbose");
    wait_for(&tg, 42, "Tool progress: off");
    assert!(home.read_file("config.yaml").contains("      tool_progress: \"off\"\n"));
}

#[test]
fn restart_replies_then_exits_75() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let mut gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "/restart");
    wait_for(&tg, 42, "♻ Restarting gateway.");
    assert_eq!(gw.wait_exit(WAIT), Some(75), "{}", gw.output());

    // The /restart message is done: the next start does not restart again.
    let mut gw = Gateway::start(bin(), &home);
    turn(&tg, &llm, &Chat::private(42), &ann(), "still here");
    assert!(gw.is_running());
    gw.terminate();
    assert_eq!(gw.wait_exit(WAIT), Some(0));
}

#[test]
fn sethome_in_a_forum_topic_saves_the_thread() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::forum(-1002, 7), &ann(), "/sethome@hermes_test_bot");
    wait_for(&tg, -1002, "Home channel set");
    let env = home.read_file(".env");
    assert!(env.contains("TELEGRAM_HOME_CHANNEL=-1002\n"), "{env}");
    assert!(env.contains("TELEGRAM_HOME_CHANNEL_THREAD_ID=7\n"), "{env}");
    assert!(env.contains("TELEGRAM_POLL_TIMEOUT=2\n"), "{env}");
}
