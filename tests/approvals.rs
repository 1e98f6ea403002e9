//! Questions a tool asks the chat, end to end: `clarify` (the user's next message answers it
//! and starts no turn of its own) and dangerous-command approvals through the `terminal` tool
//! (the command runs once after `/approve`; `/deny` and silence block it).

mod common;

use common::{ann, bin, wait_prefix, wait_text};

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, Reply};

fn tool_result(llm: &FakeLlm, request: usize) -> String {
    let r = &llm.requests()[request];
    r.messages.iter().rev().find(|(role, _)| role == "tool").map(|(_, c)| c.clone()).unwrap_or_default()
}

#[test]
fn clarify_asks_in_the_chat_and_the_answer_reaches_the_model_without_a_turn() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    llm.push(Reply::tool_call("clarify", r#"{"question":"Which colour?","choices":["red","blue"]}"#));
    llm.push(Reply::text("Painting it blue."));
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);
    tg.user_says(&dm, &ann(), "paint the fence");
    let q = wait_prefix(&tg, 42, "❓ Which colour?");
    assert!(q.text.contains("1. red\n2. blue"), "{}", q.text);
    tg.user_says(&dm, &ann(), "2");
    wait_text(&tg, 42, "Painting it blue.");
    assert_eq!(tool_result(&llm, 1), r#"{"question":"Which colour?","user_response":"blue"}"#);
    // The answer started no turn of its own.
    tg.user_says(&dm, &ann(), "thanks");
    wait_text(&tg, 42, "echo: thanks");
    assert_eq!(llm.requests().len(), 3, "{:#?}", llm.requests().iter().map(|r| r.last_user()).collect::<Vec<_>>());
}

#[test]
fn clarify_by_button() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    llm.push(Reply::tool_call("clarify", r#"{"question":"Which?","choices":["one","two"]}"#));
    llm.push(Reply::text("ok"));
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);
    tg.user_says(&dm, &ann(), "choose");
    let q = wait_prefix(&tg, 42, "❓ Which?");
    let data = tg
        .calls_of("sendMessage")
        .iter()
        .rev()
        .find_map(|c| c.params.split("clarify:").nth(1).map(|r| format!("clarify:{}", &r[..10])))
        .expect("the question has buttons");
    tg.press_button(&dm, &ann(), q.message_id, &data);
    wait_text(&tg, 42, "ok");
    assert!(tool_result(&llm, 1).contains(r#""user_response":"one""#));
}

/// Dangerous (a recursive delete) and countable: each run appends a line to `ran.txt`.
const DANGEROUS: &str = r#"{"command":"rm -rf ./build && echo ran >> ran.txt"}"#;

fn approval_setup(extra: &str) -> (Gateway, FakeTelegram, FakeLlm, HermesHome, tempdir::Dir) {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    let dir = tempdir::Dir::new();
    std::fs::create_dir_all(dir.0.join("build")).unwrap();
    llm.push(Reply::tool_call("terminal", DANGEROUS));
    llm.push(Reply::text("finished"));
    let yaml = format!("terminal:\n  cwd: {}\n{extra}", dir.0.display());
    let home = HermesHome::standard_with(&tg, &llm, "42", &yaml);
    let gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "clean up");
    let notice = wait_prefix(&tg, 42, "⚠️ Dangerous command requires approval:");
    assert!(notice.text.contains("rm -rf ./build"), "{}", notice.text);
    (gw, tg, llm, home, dir)
}

#[test]
fn approve_runs_the_command_once() {
    let (_gw, tg, llm, _home, dir) = approval_setup("");
    tg.user_says(&Chat::private(42), &ann(), "/approve");
    wait_text(&tg, 42, "finished");
    assert!(!dir.0.join("build").exists(), "the command ran");
    assert_eq!(std::fs::read_to_string(dir.0.join("ran.txt")).unwrap(), "ran\n", "it ran exactly once");
    assert!(!tool_result(&llm, 1).contains("BLOCKED"));
}

#[test]
fn deny_blocks_the_command() {
    let (_gw, tg, llm, _home, dir) = approval_setup("");
    tg.user_says(&Chat::private(42), &ann(), "/deny not today");
    wait_text(&tg, 42, "finished");
    assert!(dir.0.join("build").exists());
    let result = tool_result(&llm, 1);
    assert!(result.contains("BLOCKED") && result.contains("not today"), "{result}");
}

#[test]
fn silence_is_not_consent() {
    let (_gw, tg, llm, _home, dir) = approval_setup("approvals:\n  timeout: 1\n");
    wait_text(&tg, 42, "finished");
    assert!(dir.0.join("build").exists());
    let result = tool_result(&llm, 1);
    assert!(result.contains("BLOCKED") && result.contains("Silence is not consent."), "{result}");
}

/// A temporary workspace directory, removed on drop.
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p = std::env::temp_dir().join(format!(
                "hl-approvals-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let p = std::path::PathBuf::from(p.to_string_lossy().replace(['(', ')'], ""));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A dangerous command with no approval asked: after `/yolo` in the session, or with
/// `approvals.mode: off`. Returns the workspace after the turn finished.
fn runs_unasked(extra: &str, yolo: bool) -> tempdir::Dir {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    let dir = tempdir::Dir::new();
    std::fs::create_dir_all(dir.0.join("build")).unwrap();
    let yaml = format!("terminal:\n  cwd: {}\n{extra}", dir.0.display());
    let home = HermesHome::standard_with(&tg, &llm, "42", &yaml);
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);
    if yolo {
        tg.user_says(&dm, &ann(), "/yolo");
        wait_prefix(&tg, 42, "⚡ YOLO mode ON for this session");
    }
    llm.push(Reply::tool_call("terminal", DANGEROUS));
    llm.push(Reply::text("finished"));
    tg.user_says(&dm, &ann(), "clean up");
    wait_text(&tg, 42, "finished");
    assert!(!tg.sent().iter().any(|m| m.text.contains("requires approval")), "no approval was asked");
    assert!(!tool_result(&llm, 1).contains("BLOCKED"));
    dir
}

#[test]
fn yolo_runs_dangerous_commands_without_asking() {
    let dir = runs_unasked("", true);
    assert!(!dir.0.join("build").exists(), "the command ran");
    assert_eq!(std::fs::read_to_string(dir.0.join("ran.txt")).unwrap(), "ran\n");
}

#[test]
fn approvals_mode_off_runs_dangerous_commands_without_asking() {
    let dir = runs_unasked("approvals:\n  mode: off\n", false);
    assert_eq!(std::fs::read_to_string(dir.0.join("ran.txt")).unwrap(), "ran\n");
}
