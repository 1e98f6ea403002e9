//! The terminal tool through the real gateway: the model runs a command and sees its output;
//! a background command with notify_on_complete comes back to the chat as a new turn.

mod common;

use common::{WAIT, ann, bin, wait_text};

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, Reply};

fn home(tg: &FakeTelegram, llm: &FakeLlm) -> (HermesHome, std::path::PathBuf) {
    let work = std::env::temp_dir().join(format!("hermes-lite-term-it-{}-{}", std::process::id(), llm.port()));
    std::fs::create_dir_all(&work).unwrap();
    let yaml = format!("terminal:\n  cwd: {}\n", work.display());
    (HermesHome::standard_with(tg, llm, "42", &yaml), work)
}

#[test]
fn the_model_runs_a_command_and_sees_its_output() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    llm.push(Reply::tool_call("terminal", r#"{"command":"echo hi"}"#));
    llm.push(Reply::text("done"));
    let (home, _work) = home(&tg, &llm);
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "say hi");
    wait_text(&tg, 42, "done");
    let requests = llm.requests();
    let tool = requests[1].messages.iter().find(|(role, _)| role == "tool").expect("a tool result");
    assert!(tool.1.starts_with(r#"{"output":"hi\n","exit_code":0"#), "{}", tool.1);
}

#[test]
fn a_background_command_with_notify_comes_back_as_a_new_turn() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    llm.push(Reply::tool_call(
        "terminal",
        r#"{"command":"sleep 1; echo finished-work","background":true,"notify_on_complete":true}"#,
    ));
    llm.push(Reply::text("started it"));
    llm.push(Reply::text("it finished"));
    let (home, _work) = home(&tg, &llm);
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "run it in the background");
    wait_text(&tg, 42, "started it");
    wait_text(&tg, 42, "it finished");
    assert!(llm.wait_requests(3, WAIT));
    let third = &llm.requests()[2];
    let user = third.last_user().expect("a user message");
    assert!(user.starts_with("[IMPORTANT: Background process proc_"), "{user}");
    assert!(
        user.contains(
            "completed normally (exit code 0).\nCommand: sleep 1; echo finished-work\nOutput:\nfinished-work"
        ),
        "{user}"
    );
}

#[test]
fn stop_while_a_command_runs_kills_it_and_ends_the_turn_without_asking_the_model_again() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    llm.push(Reply::tool_call("terminal", r#"{"command":"sleep 4; echo late > late.txt"}"#));
    llm.push(Reply::text("the model was asked again"));
    let (home, work) = home(&tg, &llm);
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);
    tg.user_says(&dm, &ann(), "run the slow thing");
    assert!(llm.wait_requests(1, WAIT));
    // The tool thread starts the command right after the model's answer arrives.
    std::thread::sleep(std::time::Duration::from_millis(500));
    tg.user_says(&dm, &ann(), "/stop");
    wait_text(&tg, 42, "⚡ Stopped. You can continue this session.");
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert!(!work.join("late.txt").exists(), "the command kept running after /stop");
    assert_eq!(llm.requests().len(), 1, "an interrupted turn does not go back to the model");
    assert!(!tg.sent().iter().any(|m| m.text.contains("asked again")));
}
