//! Commands the user defines, end to end: `quick_commands` (exec and alias), skills as
//! `/<skill>` turns, /reload-skills, /help and /commands listing them, and the Telegram menu.

mod common;

use common::{ann, bin};

use std::time::Duration;

use hermes_testkit::{BotMessage, Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, run_cli, wait_until};

const WAIT: Duration = Duration::from_secs(20);

fn wait_for(tg: &FakeTelegram, what: &str, pred: impl Fn(&str) -> bool) -> BotMessage {
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && pred(&m.text))
        .unwrap_or_else(|| panic!("no bot message {what}; sent: {:#?}", tg.sent()))
}

const QUICK: &str = "quick_commands:
  hello:
    type: exec
    command: \"echo quick-ok; echo token=[$TELEGRAM_BOT_TOKEN]\"
  leak:
    type: exec
    command: \"echo key sk-abcdefghijklmnopqrstuvwxyz0123456789\"
  ver:
    type: alias
    target: /version
  inbox:
    type: alias
    target: summarise my inbox
";

#[test]
fn quick_commands_run_without_the_model_and_aliases_run_their_target() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard_with(&tg, &llm, "42", QUICK);
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    tg.user_says(&dm, &ann(), "/hello");
    let msg = wait_for(&tg, "from /hello", |t| t.contains("quick-ok"));
    assert!(msg.text.contains("token=[]"), "the bot token reached the command: {}", msg.text);

    tg.user_says(&dm, &ann(), "/leak");
    let msg = wait_for(&tg, "from /leak", |t| t.starts_with("key "));
    assert!(!msg.text.contains("abcdefghijklmnop"), "a secret-looking token was not redacted: {}", msg.text);
    assert!(msg.text.contains("[REDACTED]"), "{}", msg.text);

    tg.user_says(&dm, &ann(), "/ver");
    wait_for(&tg, "from /version via the alias", |t| t.starts_with("hermes-lite "));
    assert!(llm.requests().is_empty(), "a quick command reached the model: {:?}", llm.requests());

    tg.user_says(&dm, &ann(), "/inbox today");
    wait_for(&tg, "echo of the plain-text alias", |t| t == "echo: summarise my inbox today");
    assert_eq!(llm.requests().len(), 1);
}

fn skill(home: &HermesHome, dir: &str, name: &str, about: &str, body: &str) {
    home.write_file(
        &format!("skills/{dir}/SKILL.md"),
        format!("---\nname: {name}\ndescription: {about}\n---\n{body}\n").as_bytes(),
    );
}

#[test]
fn skills_run_as_turns_are_listed_and_reload() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard_with(&tg, &llm, "42", QUICK);
    skill(&home, "ops/deploy", "deploy", "Ship the current branch", "DEPLOY-BODY: run the deploy steps.");
    for i in 0..12 {
        skill(&home, &format!("filler-{i:02}"), &format!("filler-{i:02}"), "A filler skill", "filler");
    }
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    // The menu holds the built-ins, the quick commands and the skills (Telegram names).
    assert!(wait_until(WAIT, || !tg.calls_of("setMyCommands").is_empty()), "no setMyCommands");
    let menu = tg.calls_of("setMyCommands").last().unwrap().params.clone();
    assert!(menu.contains("\"deploy\"") && menu.contains("\"hello\"") && menu.contains("filler_03"), "{menu}");
    assert!(menu.contains("\"reload_skills\"") && menu.contains("\"resume\""), "built-ins, Telegram spelling: {menu}");
    assert!(!menu.contains("\"verbose\""), "/verbose is offered only with display.tool_progress_command: {menu}");

    tg.user_says(&dm, &ann(), "/deploy to staging");
    // The whole streamed answer, so the turn is over before the next commands.
    wait_for(&tg, "the skill turn's answer", |t| {
        t.starts_with("echo: ") && t.contains("DEPLOY-BODY") && t.ends_with("invocation: to staging")
    });
    let req = llm.requests().pop().expect("the skill ran a turn");
    let user = req.last_user().unwrap();
    assert!(user.contains("[SYSTEM: The user has invoked the \"deploy\" skill"), "{user}");
    assert!(user.contains("DEPLOY-BODY: run the deploy steps."), "{user}");
    assert!(user.contains("alongside the skill invocation: to staging"), "{user}");

    tg.user_says(&dm, &ann(), "/help");
    let help = wait_for(&tg, "/help", |t| t.starts_with("📖 Hermes Commands"));
    assert!(help.text.contains("⚡ Skill Commands (13 active):"), "{}", help.text);
    assert!(help.text.contains("/deploy — Ship the current branch"), "{}", help.text);
    assert!(help.text.contains("... and 3 more."), "{}", help.text);

    tg.user_says(&dm, &ann(), "/commands");
    let first = wait_for(&tg, "/commands page 1", |t| t.starts_with("📚 Commands") && t.contains("page 1/"));
    assert!(first.text.contains("next → /commands 2"), "{}", first.text);
    tg.user_says(&dm, &ann(), "/commands 2");
    wait_for(&tg, "/commands page 2", |t| t.starts_with("📚 Commands") && t.contains("page 2/"));
    tg.user_says(&dm, &ann(), "/commands 99");
    wait_for(&tg, "/commands past the end", |t| t.contains("Requested page 99 was out of range"));
    tg.user_says(&dm, &ann(), "/commands x");
    wait_for(&tg, "/commands usage", |t| t == "Usage: /commands [page]");

    // A skill added while running is unknown until /reload-skills.
    skill(&home, "late", "late", "Added later", "LATE-BODY");
    tg.user_says(&dm, &ann(), "/late");
    wait_for(&tg, "unknown /late", |t| t.starts_with("Unknown command `/late`"));
    tg.user_says(&dm, &ann(), "/reload_skills");
    wait_for(&tg, "the reload reply", |t| t == "🔄 Skills reloaded: 14 skills found.");
    let before = llm.requests().len();
    tg.user_says(&dm, &ann(), "/late now");
    wait_for(&tg, "the late skill's answer", |t| {
        t.starts_with("echo: ") && t.contains("LATE-BODY") && t.ends_with("invocation: now")
    });
    assert_eq!(llm.requests().len(), before + 1);
}

#[test]
fn a_bad_quick_command_is_a_located_config_problem() {
    let home = HermesHome::new("badquick");
    home.write_config(
        "model:\n  default: m\n  provider: custom\n  base_url: http://127.0.0.1:1/v1\nquick_commands:\n  ok:\n    type: exec\n    command: echo hi\n  bad:\n    type: shell\n    command: ls\n  empty:\n    type: alias\n",
    );
    home.write_env("TELEGRAM_BOT_TOKEN=123456:abcdefghijkl\n");
    let out = run_cli(bin(), &home, &["config", "check"], &[]);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains("config.yaml:10: quick_commands.bad.type: expected `exec` or `alias`"), "{text}");
    assert!(text.contains("config.yaml:12: quick_commands.empty.target: expected a command"), "{text}");
}
