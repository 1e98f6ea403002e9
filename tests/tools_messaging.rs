//! `platform_toolsets`: a platform's own toolset list, and the `messaging` toolset (send_message)
//! that only such a list turns on, through the real gateway.

mod common;

use common::{ann, bin, wait_text};

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, Reply};

fn home_with(tg: &FakeTelegram, llm: &FakeLlm, yaml: &str) -> HermesHome {
    let home = HermesHome::standard_with(tg, llm, "42", yaml);
    let env = std::fs::read_to_string(home.path().join(".env")).unwrap();
    home.write_env(&format!("{env}TELEGRAM_HOME_CHANNEL=99\n"));
    home
}

#[test]
fn send_message_is_off_by_default_and_a_platform_list_turns_it_on() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    let home = home_with(&tg, &llm, "");
    let gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "hello");
    wait_text(&tg, 42, "echo: hello");
    let offered = &llm.requests()[0].tools;
    assert!(offered.iter().any(|t| t == "terminal"), "{offered:?}");
    assert!(!offered.iter().any(|t| t == "send_message"), "send_message is off by default: {offered:?}");
    drop(gw);

    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    llm.push(Reply::tool_call("send_message", r#"{"target":"telegram","message":"the build is green"}"#));
    llm.push(Reply::tool_call("send_message", r#"{"target":"nowhere:1","message":"x"}"#));
    llm.push(Reply::text("told them"));
    let home = home_with(&tg, &llm, "platform_toolsets:\n  telegram: [hermes-telegram, messaging]\n");
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "tell the home channel");
    wait_text(&tg, 99, "the build is green");
    wait_text(&tg, 42, "told them");
    let requests = llm.requests();
    assert!(requests[0].tools.iter().any(|t| t == "send_message"), "{:?}", requests[0].tools);
    assert!(requests[0].tools.iter().any(|t| t == "terminal"), "hermes-telegram keeps the defaults");
    let results: Vec<&String> =
        requests[2].messages.iter().filter(|(role, _)| role == "tool").map(|(_, c)| c).collect();
    let sent = results[0];
    assert!(sent.starts_with(r#"{"message_id":""#), "{sent}");
    assert!(sent.ends_with(r#"","success":true,"target":"telegram"}"#), "{sent}");
    assert_eq!(results[1], r#"{"error":"could not send to nowhere:1: nowhere is not connected"}"#);
}

#[test]
fn a_platform_list_without_the_defaults_offers_only_what_it_names() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    let home =
        home_with(&tg, &llm, "platform_toolsets:\n  telegram: [todo, memory]\nagent:\n  disabled_toolsets: [memory]\n");
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "hello");
    wait_text(&tg, 42, "echo: hello");
    assert_eq!(llm.requests()[0].tools, vec!["todo".to_string()], "disabled_toolsets still applies");
}
