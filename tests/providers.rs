//! Providers end to end: the Anthropic Messages API (text, tool round trip, cache usage) and
//! the fallback chain (outage or bad key on the primary), against the real binary.

mod common;

use common::{WAIT, ann, bin};

use hermes_testkit::{BotMessage, Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, Reply};

const ANTHROPIC_KEY: &str = "sk-ant-test-key-98765";
const NO_TITLES: &str = "auxiliary:\n  title_generation:\n    enabled: false\n";

/// Waits for a bot message in Ann's DM whose text contains `needle`.
fn wait_for(tg: &FakeTelegram, needle: &str) -> BotMessage {
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.contains(needle))
        .unwrap_or_else(|| panic!("no bot message with {needle:?}; sent: {:#?}", tg.sent()))
}

/// A standard home whose `config.yaml` is `model_yaml` (plus fast stream edits, no titles) and
/// whose `.env` also has the Anthropic key.
fn home_with(tg: &FakeTelegram, llm: &FakeLlm, model_yaml: &str) -> HermesHome {
    let home = HermesHome::standard(tg, llm, "42");
    home.write_env(&format!("{}ANTHROPIC_API_KEY={ANTHROPIC_KEY}\n", home.read_file(".env")));
    home.write_config(&format!("{model_yaml}streaming:\n  edit_interval: 0.2\n{NO_TITLES}"));
    home
}

fn anthropic_model(llm: &FakeLlm) -> String {
    format!("model:\n  default: claude-test\n  provider: anthropic\n  base_url: {}\n", llm.base_url())
}

#[test]
fn anthropic_text_turn_with_cache_usage() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start_anthropic());
    llm.on("hello", Reply::text("Hi from Claude").cache_tokens(7, 5));
    let home = home_with(&tg, &llm, &anthropic_model(&llm));
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    tg.user_says(&dm, &ann(), "hello there");
    wait_for(&tg, "Hi from Claude");
    let req = &llm.requests()[0];
    assert_eq!(req.api_key.as_deref(), Some(ANTHROPIC_KEY));
    assert_eq!(req.anthropic_version.as_deref(), Some("2023-06-01"));
    assert_eq!(req.authorization, None, "the key goes in x-api-key only");
    assert_eq!(req.model, "claude-test");
    assert!(!req.system.is_empty() && req.messages.iter().all(|(role, _)| role != "system"), "{req:#?}");
    assert_eq!(req.last_user(), Some("hello there"));
    assert!(req.body.contains(r#""max_tokens":8192"#), "{}", req.body);
    // The system prompt and the (only) user turn carry a breakpoint.
    assert_eq!(req.body.matches(r#""cache_control":{"type":"ephemeral"}"#).count(), 2, "{}", req.body);
    assert!(req.body.contains(r#""input_schema""#), "tools as input schemas: {}", req.body);

    tg.user_says(&dm, &ann(), "/usage");
    let usage = wait_for(&tg, "📊 Usage").text;
    assert!(usage.contains("Cache tokens: 7 read / 5 written"), "{usage}");
    assert!(usage.contains("Reasoning tokens: 0"), "{usage}");
    assert!(usage.contains("Cost: unknown"), "no price is guessed: {usage}");
    tg.user_says(&dm, &ann(), "/status");
    let status = wait_for(&tg, "📊 Status").text;
    assert!(status.contains("Cache: 7 read / 5 written"), "{status}");
}

#[test]
fn anthropic_tool_call_round_trip() {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start_anthropic());
    llm.push(Reply::tool_call("todo", r#"{"todos":[{"id":"1","content":"buy milk","status":"pending"}]}"#));
    llm.push(Reply::text("Planned: buy milk"));
    let home = home_with(&tg, &llm, &anthropic_model(&llm));
    let _gw = Gateway::start(bin(), &home);

    tg.user_says(&Chat::private(42), &ann(), "plan my shopping");
    wait_for(&tg, "Planned: buy milk");
    let requests = llm.requests();
    assert_eq!(requests.len(), 2);
    let body = &requests[1].body;
    // The assistant's tool_use with parsed input, then the result in a user message.
    assert!(body.contains(r#""id":"toolu_1","input":{"todos":[{"content":"buy milk""#), "{body}");
    assert!(body.contains(r#""type":"tool_use""#), "{body}");
    assert!(body.contains(r#""tool_use_id":"toolu_1","type":"tool_result""#), "{body}");
    let roles: Vec<&str> = requests[1].messages.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert!(requests[1].messages[2].1.contains("buy milk"), "the tool result: {:?}", requests[1].messages[2]);
}

#[test]
fn an_outage_on_the_primary_switches_to_the_fallback_for_the_turn() {
    let (tg, primary, backup) = (FakeTelegram::start(), FakeLlm::start(), FakeLlm::start());
    primary.on("", Reply::status(500, r#"{"error":{"message":"upstream down"}}"#).retry_after(0));
    let config = format!(
        "model:\n  default: test-model\n  provider: custom\n  base_url: {}\n  api_key: sk-primary-key-1\n\
         agent:\n  api_max_retries: 1\n\
         fallback_model:\n  provider: custom\n  model: backup-model\n  base_url: {}\n  api_key: sk-backup-key-2\n",
        primary.base_url(),
        backup.base_url()
    );
    let home = home_with(&tg, &primary, &config);
    let _gw = Gateway::start(bin(), &home);
    let dm = Chat::private(42);

    let switch = "↪️ Primary model failed — switching to fallback: backup-model via custom";
    tg.user_says(&dm, &ann(), "first question");
    wait_for(&tg, "echo: first question");
    assert_eq!(tg.sent().iter().filter(|m| m.text == switch).count(), 1, "{:#?}", tg.sent());
    assert_eq!(primary.requests().len(), 2, "one call and one retry");
    assert_eq!(backup.requests()[0].model, "backup-model");
    assert_eq!(backup.requests()[0].authorization.as_deref(), Some("Bearer sk-backup-key-2"));

    // The next turn tries the primary first again.
    tg.user_says(&dm, &ann(), "second question");
    wait_for(&tg, "echo: second question");
    assert_eq!(primary.requests().len(), 4);
    assert_eq!(tg.sent().iter().filter(|m| m.text == switch).count(), 2);
}

#[test]
fn a_rejected_key_on_the_primary_switches_to_an_anthropic_fallback() {
    let (tg, primary, claude) = (FakeTelegram::start(), FakeLlm::start(), FakeLlm::start_anthropic());
    primary.on("", Reply::status(401, r#"{"error":{"message":"invalid key"}}"#));
    let config = format!(
        "model:\n  default: test-model\n  provider: custom\n  base_url: {}\n  api_key: sk-primary-key-1\n\
         fallback_providers:\n  - provider: anthropic\n    model: claude-backup\n    base_url: {}\n",
        primary.base_url(),
        claude.base_url()
    );
    let home = home_with(&tg, &primary, &config);
    let _gw = Gateway::start(bin(), &home);

    tg.user_says(&Chat::private(42), &ann(), "are you there");
    wait_for(&tg, "↪️ Primary model failed — switching to fallback: claude-backup via anthropic");
    wait_for(&tg, "echo: are you there");
    assert_eq!(primary.requests().len(), 1, "a 401 is not retried");
    assert_eq!(claude.requests()[0].api_key.as_deref(), Some(ANTHROPIC_KEY));
}
