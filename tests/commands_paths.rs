//! The error paths every command shares, checked across the whole command table: what a
//! non-admin gets, what each command does while a turn runs, and the small commands whose
//! main path is one line (/start, /deny, /steer, /queue while busy).

mod common;

use common::{HeldTurn, WAIT, ann, ask, bin};

use hermes_testkit::{BotMessage, Chat, FakeLlm, FakeTelegram, Gate, Gateway, HermesHome, Reply, User};

/// Commands that stay out of the agent's way while a turn runs: they must never get the
/// mid-turn text (M19).
const WORK_WHILE_BUSY: &[&str] = &[
    "status", "stop", "new", "reset", "approve", "deny", "agents", "queue x", "steer x", "yolo", "help", "commands",
    "version",
];
/// Commands that must wait for the turn (CAC §4.3: everything else).
const REFUSED_WHILE_BUSY: &[&str] = &[
    "whoami",
    "retry",
    "undo",
    "title x",
    "resume",
    "sessions",
    "branch",
    "usage",
    "sethome",
    "personality",
    "reasoning",
    "platform list",
    "reload-skills",
];

fn wait_text(tg: &FakeTelegram, chat: i64, pred: impl Fn(&str) -> bool, what: &str) -> BotMessage {
    tg.wait_sent(WAIT, |m| m.chat_id == chat && pred(&m.text))
        .unwrap_or_else(|| panic!("no {what} in chat {chat}; sent: {:#?}", tg.sent()))
}

#[test]
fn while_a_turn_runs_each_command_acts_or_says_why_not() {
    let t = HeldTurn::start("the long answer");
    let (tg, llm, dm) = (&t.tg, &t.llm, &t.dm);
    t.run("a long job");

    for cmd in REFUSED_WHILE_BUSY {
        let name = cmd.split(' ').next().unwrap();
        let reply = ask(tg, dm, &ann(), &format!("/{cmd}"));
        let expected =
            format!("⏳ Agent is running — /{name} can't run mid-turn. Wait for the current response or /stop first.");
        assert_eq!(reply.text, expected, "/{cmd} while busy");
    }
    for cmd in WORK_WHILE_BUSY.iter().filter(|c| !matches!(**c, "stop" | "new" | "reset")) {
        tg.user_says(dm, &ann(), &format!("/{cmd}"));
    }
    tg.user_says(dm, &ann(), "/status");
    wait_text(tg, 42, |t| t.starts_with("📊 Status") && t.contains("State: running"), "a busy /status");
    let busy_texts = tg.sent().iter().filter(|m| m.text.starts_with("⏳ Agent is running")).count();
    assert_eq!(busy_texts, REFUSED_WHILE_BUSY.len(), "a command that works mid-turn was refused: {:#?}", tg.sent());
    t.gate.open();
    assert_eq!(llm.requests().len(), 1, "a command reached the model mid-turn");
}

#[test]
fn a_non_admin_is_refused_every_command_but_help_and_whoami() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let yaml = "platforms:\n  telegram:\n    extra:\n      allow_admin_from: \"42\"\n";
    let home = HermesHome::standard_with(&tg, &llm, "42,7", yaml);
    let _gw = Gateway::start(bin(), &home);
    let (dm, eve) = (Chat::private(7), User::new(7, "Eve"));

    let all = WORK_WHILE_BUSY.iter().chain(REFUSED_WHILE_BUSY).chain(&["model x", "restart", "verbose"]);
    for cmd in all.filter(|c| !matches!(**c, "help" | "whoami")) {
        let name = cmd.split(' ').next().unwrap();
        let reply = ask(&tg, &dm, &eve, &format!("/{cmd}"));
        assert!(reply.text.starts_with(&format!("⛔ /{name} is admin-only here.")), "/{cmd}: {}", reply.text);
    }
    assert!(ask(&tg, &dm, &eve, "/help").text.starts_with("📖"));
    assert!(ask(&tg, &dm, &eve, "/whoami").text.contains("Tier: user"));
    assert!(llm.requests().is_empty(), "a refused command reached the model");
}

#[test]
fn start_is_silent_deny_cancels_and_steer_or_queue_become_turns() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let gate = Gate::new();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    tg.user_says(&dm, &ann(), "/start");
    assert_eq!(ask(&tg, &dm, &ann(), "/deny").text, "Nothing is waiting for approval.");
    assert_eq!(tg.sent().len(), 1, "/start said something: {:#?}", tg.sent());

    // /deny answers a pending confirm as "cancel".
    let prompt = ask(&tg, &dm, &ann(), "/new");
    assert!(prompt.text.starts_with("⚠️"), "{}", prompt.text);
    let kept = ask(&tg, &dm, &ann(), "/deny");
    assert!(!kept.text.contains("New session"), "{}", kept.text);

    // Idle, /steer and /queue are plain messages; /steer without text is a usage line.
    assert_eq!(ask(&tg, &dm, &ann(), "/steer").text, "Usage: /steer <text>");
    tg.user_says(&dm, &ann(), "/steer hello via steer");
    wait_text(&tg, 42, |t| t == "echo: hello via steer", "steer's turn");

    // Busy, /queue runs after the current turn instead of interrupting it.
    llm.push(Reply::text("first, slowly").hold(&gate));
    tg.user_says(&dm, &ann(), "first");
    assert!(llm.wait_requests(2, WAIT));
    tg.user_says(&dm, &ann(), "/queue second");
    wait_text(&tg, 42, |t| t.starts_with("⏳ Queued for the next turn."), "the queue ack");
    gate.open();
    wait_text(&tg, 42, |t| t == "echo: second", "the queued turn");
    let users: Vec<String> = llm.requests().iter().filter_map(|r| r.last_user().map(str::to_string)).collect();
    assert_eq!(users, vec!["hello via steer", "first", "second"]);
}
