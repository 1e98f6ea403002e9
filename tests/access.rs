//! Who may talk to the bot (M21–M25): pairing codes for strangers, approvals from the CLI
//! while the gateway runs, lockout, silence for everything else from strangers, Hermes' pairing
//! files, and the admin/user split for slash commands.

mod common;

use common::{ann, bin};

use std::time::Duration;

use hermes_testkit::{BotMessage, Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, User, run_cli};
use miniserde::json::{self, Object, Value};

const WAIT: Duration = Duration::from_secs(20);

fn wait_text(tg: &FakeTelegram, chat: i64, pred: impl Fn(&str) -> bool) -> BotMessage {
    tg.wait_sent(WAIT, |m| m.chat_id == chat && pred(&m.text))
        .unwrap_or_else(|| panic!("no matching bot message in chat {chat}; sent: {:#?}", tg.sent()))
}

fn in_chat(tg: &FakeTelegram, chat: i64) -> Vec<BotMessage> {
    tg.sent().into_iter().filter(|m| m.chat_id == chat).collect()
}

fn seen_by_model(llm: &FakeLlm) -> Vec<String> {
    llm.requests().iter().filter_map(|r| r.last_user().map(str::to_string)).collect()
}

/// The code in a pairing message.
fn code_of(text: &str) -> String {
    let rest = text.split("pairing code: ").nth(1).unwrap_or_else(|| panic!("no code in {text:?}"));
    let code: String = rest.trim_start_matches('`').chars().take(8).collect();
    assert!(code.chars().all(|c| "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(c)), "{code:?} in {text:?}");
    code
}

fn is_code_text(t: &str) -> bool {
    t.starts_with("Hi~ I don't recognize you yet!") && t.contains("Here's your pairing code:")
}

fn object(text: &str) -> Object {
    match json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o,
        _ => panic!("not a JSON object: {text}"),
    }
}

fn cli(home: &HermesHome, args: &[&str]) -> (i32, String) {
    let o = run_cli(bin(), home, args, &[]);
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), text)
}

#[test]
fn a_stranger_pairs_and_is_let_in_without_a_restart_then_revoked() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "");
    let _gw = Gateway::start(bin(), &home);
    let eve = User::new(7, "Eve");

    tg.user_says(&Chat::private(7), &eve, "hello, let me in");
    let msg = wait_text(&tg, 7, is_code_text);
    let code = code_of(&msg.text);
    assert!(msg.text.contains(&format!("hermes-lite pairing approve telegram {code}")), "{}", msg.text);

    // A second DM within 10 minutes is silent; a barrier: another stranger's code.
    tg.user_says(&Chat::private(7), &eve, "hello again");
    tg.user_says(&Chat::private(8), &User::new(8, "Finn"), "me too");
    wait_text(&tg, 8, is_code_text);
    assert_eq!(in_chat(&tg, 7).len(), 1, "one code per 10 minutes: {:#?}", in_chat(&tg, 7));
    assert!(llm.requests().is_empty(), "a stranger reached the model: {:?}", seen_by_model(&llm));

    // Hermes' files: a pending entry with a salted hash, never the code; nor does the outbox
    // keep the text that carried it.
    let pending = home.read_file("platforms/pairing/telegram-pending.json");
    assert!(!pending.contains(&code), "the plaintext code was stored");
    let db = rusqlite::Connection::open(home.db_path()).unwrap();
    let kept: i64 =
        db.query_row("SELECT count(*) FROM outbox WHERE body LIKE '%' || ?1 || '%'", [&code], |r| r.get(0)).unwrap();
    assert_eq!(kept, 0, "the outbox kept the pairing code");
    let entry = object(&pending).values().find_map(|v| match v {
        Value::Object(e) if matches!(e.get("user_id"), Some(Value::String(u)) if u == "7") => Some(e.clone()),
        _ => None,
    });
    let entry = entry.expect("a pending entry for user 7");
    for key in ["hash", "salt", "user_id", "user_name", "created_at"] {
        assert!(entry.contains_key(key), "pending entry lacks {key}: {pending}");
    }

    let (status, out) = cli(&home, &["pairing", "list"]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("Pending Pairing Requests (2)") && out.contains("Eve"), "{out}");

    let (status, out) = cli(&home, &["pairing", "approve", "telegram", &code.to_lowercase()]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("Approved! User Eve (7) on telegram can now use the bot~"), "{out}");
    let approved = object(&home.read_file("platforms/pairing/telegram-approved.json"));
    let Some(Value::Object(e)) = approved.get("7") else { panic!("7 not approved: {approved:?}") };
    assert!(e.contains_key("user_name") && e.contains_key("approved_at"));

    tg.user_says(&Chat::private(7), &eve, "now I am in");
    wait_text(&tg, 7, |t| t == "echo: now I am in");
    assert_eq!(seen_by_model(&llm), ["now I am in"]);

    let (status, out) = cli(&home, &["pairing", "revoke", "telegram", "7"]);
    assert_eq!(status, 0, "{out}");
    let (status, out) = cli(&home, &["pairing", "revoke", "telegram", "7"]);
    assert_eq!(status, 1, "{out}");
    tg.user_says(&Chat::private(7), &eve, "still here?");
    tg.user_says(&Chat::private(9), &User::new(9, "Gus"), "hi");
    wait_text(&tg, 9, is_code_text);
    assert_eq!(seen_by_model(&llm), ["now I am in"], "a revoked user reached the model");

    let (status, out) = cli(&home, &["pairing", "clear-pending"]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("Cleared 2 pending pairing request(s)."), "{out}");
}

#[test]
fn five_wrong_codes_lock_the_platform() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "");
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(7), &User::new(7, "Eve"), "hi");
    let code = code_of(&wait_text(&tg, 7, is_code_text).text);
    let wrong = if code == "AAAAAAAA" { "BBBBBBBB" } else { "AAAAAAAA" };
    for _ in 0..5 {
        let (status, out) = cli(&home, &["pairing", "approve", "telegram", wrong]);
        assert_eq!(status, 1, "{out}");
        assert!(out.contains(&format!("Code '{wrong}' not found or expired for platform 'telegram'.")), "{out}");
    }
    let (status, out) = cli(&home, &["pairing", "approve", "telegram", &code]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("locked out") && out.contains("_lockout:telegram"), "{out}");
    let limits = object(&home.read_file("platforms/pairing/_rate_limits.json"));
    assert!(limits.contains_key("_lockout:telegram"), "{limits:?}");

    // New strangers are told to try later while the platform is locked.
    tg.user_says(&Chat::private(8), &User::new(8, "Finn"), "hi");
    wait_text(&tg, 8, |t| t == "Too many pairing requests right now~ Please try again later!");
    assert!(llm.requests().is_empty());
}

#[test]
fn strangers_get_nothing_but_allowed_users_edits_and_photos_pass() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    let _gw = Gateway::start(bin(), &home);
    let (dm, eve, group) = (Chat::private(7), User::new(7, "Eve"), Chat::group(-1001));

    // An allowlist is configured: a stranger's DM is ignored (no code).
    let first = tg.user_says(&dm, &eve, "let me in");
    tg.user_edits(&dm, &eve, first, "edited by a stranger");
    tg.user_reacts(&dm, &eve, first, "👍");
    tg.press_button(&dm, &eve, 1000, "approve");
    tg.user_says(&group, &eve, "@hermes_test_bot stranger in the group");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    tg.add_file("ph", b"JPEG");
    tg.push_raw_update(&format!(
        r#"{{"message":{{"message_id":50,"date":{now},"chat":{{"id":7,"type":"private"}},
            "from":{{"id":7,"is_bot":false,"first_name":"Eve"}},"caption":"stranger photo",
            "photo":[{{"file_id":"ph","file_unique_id":"p","width":9,"height":9,"file_size":4}}]}}}}"#
    ));

    let mine = tg.user_says(&Chat::private(42), &ann(), "first words");
    wait_text(&tg, 42, |t| t == "echo: first words");
    tg.user_edits(&Chat::private(42), &ann(), mine, "better words");
    wait_text(&tg, 42, |t| t == "echo: better words");
    tg.push_raw_update(&format!(
        r#"{{"message":{{"message_id":60,"date":{now},"chat":{{"id":42,"type":"private"}},
            "from":{{"id":42,"is_bot":false,"first_name":"Ann"}},"caption":"my photo",
            "photo":[{{"file_id":"ph","file_unique_id":"p","width":9,"height":9,"file_size":4}}]}}}}"#
    ));
    wait_text(&tg, 42, |t| t.starts_with("echo: my photo"));
    tg.user_says(&Chat::private(42), &ann(), "last one");
    wait_text(&tg, 42, |t| t == "echo: last one");

    let seen = seen_by_model(&llm);
    assert_eq!(seen.len(), 4, "the model saw {seen:?}");
    assert!(seen.iter().all(|s| !s.contains("stranger") && !s.contains("let me in")), "{seen:?}");
    assert!(in_chat(&tg, 7).is_empty(), "the bot answered a stranger: {:#?}", in_chat(&tg, 7));
    assert!(in_chat(&tg, -1001).is_empty(), "the bot answered in the group: {:#?}", in_chat(&tg, -1001));
    assert!(!home.path().join("platforms/pairing/telegram-pending.json").exists(), "a code was issued");
}

#[test]
fn hermes_pairing_files_are_honoured_and_malformed_ones_allow_nobody() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "42");
    home.write_file(
        "platforms/pairing/telegram-approved.json",
        br#"{"7": {"user_name": "Eve", "approved_at": 1767225600.123}}"#,
    );
    let _gw = Gateway::start(bin(), &home);
    let eve = User::new(7, "Eve");

    tg.user_says(&Chat::private(7), &eve, "approved by Hermes");
    wait_text(&tg, 7, |t| t == "echo: approved by Hermes");

    home.write_file("platforms/pairing/telegram-approved.json", br#"{"7": {"user_name": "Eve", "#);
    tg.user_says(&Chat::private(7), &eve, "after the file broke");
    tg.user_says(&Chat::private(42), &ann(), "barrier");
    wait_text(&tg, 42, |t| t == "echo: barrier");
    assert_eq!(seen_by_model(&llm), ["approved by Hermes", "barrier"]);
    assert!(
        hermes_testkit::wait_until(WAIT, || home.log().contains("telegram-approved.json: not valid JSON")),
        "no clear log line: {}",
        home.log()
    );

    let (status, out) = cli(&home, &["config", "check"]);
    assert!(out.contains("telegram-approved.json"), "config check did not report the file: {out}");
    assert_eq!(status, 0, "{out}");
    let (status, out) = cli(&home, &["pairing", "revoke", "telegram", "7"]);
    assert_eq!(status, 1, "a malformed file is not overwritten: {out}");
    assert!(out.contains("telegram-approved.json"), "{out}");
}

#[test]
fn admin_split_limits_non_admins() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    let yaml = "platforms:\n  telegram:\n    extra:\n      allow_admin_from: \"42\"\n      user_allowed_commands: [status, about]\n\
         quick_commands:\n  about:\n    type: alias\n    target: /version\n  ver:\n    type: alias\n    target: /version\n";
    let home = HermesHome::standard_with(&tg, &llm, "42,7", yaml);
    let _gw = Gateway::start(bin(), &home);
    let (dm, eve) = (Chat::private(7), User::new(7, "Eve"));

    tg.user_says(&dm, &eve, "/version");
    wait_text(&tg, 7, |t| {
        t == "⛔ /version is admin-only here. You can run: /about, /help, /status, /whoami. Use /whoami for the full list."
    });
    // Quick commands are gated by the name typed, whatever they expand to.
    tg.user_says(&dm, &eve, "/ver");
    wait_text(&tg, 7, |t| t.starts_with("⛔ /ver is admin-only here."));
    tg.user_says(&dm, &eve, "/about");
    wait_text(&tg, 7, |t| t.starts_with("hermes-lite "));
    tg.user_says(&dm, &eve, "/whoami");
    let who = wait_text(&tg, 7, |t| t.contains("Tier: user"));
    assert!(who.text.contains("User ID: 7") && who.text.contains("/status"), "{}", who.text);
    tg.user_says(&dm, &eve, "/help");
    wait_text(&tg, 7, |t| t.contains("/whoami"));

    tg.user_says(&Chat::private(42), &ann(), "/version");
    wait_text(&tg, 42, |t| t.starts_with("hermes-lite "));
    tg.user_says(&Chat::private(42), &ann(), "/whoami");
    wait_text(&tg, 42, |t| t.contains("Tier: admin") && t.contains("all commands"));
    assert!(llm.requests().is_empty(), "a command reached the model");
}

#[test]
fn approval_mirrors_into_an_existing_allowlist_and_revoke_removes_it() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    // An allowlist normally means "ignore"; the platform's own setting asks for pairing.
    let yaml = "platforms:\n  telegram:\n    unauthorized_dm_behavior: pair\n";
    let home = HermesHome::standard_with(&tg, &llm, "42", yaml);
    let _gw = Gateway::start(bin(), &home);

    tg.user_says(&Chat::private(7), &User::new(7, "Eve"), "hi");
    let code = code_of(&wait_text(&tg, 7, is_code_text).text);
    let (status, out) = cli(&home, &["pairing", "approve", "telegram", &code]);
    assert_eq!(status, 0, "{out}");
    assert!(home.read_file(".env").contains("TELEGRAM_ALLOWED_USERS=42,7\n"), "{}", home.read_file(".env"));
    let (status, out) = cli(&home, &["pairing", "revoke", "telegram", "7"]);
    assert_eq!(status, 0, "{out}");
    let env = home.read_file(".env");
    assert!(env.contains("TELEGRAM_ALLOWED_USERS=42\n") && env.contains("TELEGRAM_BOT_TOKEN="), "{env}");
}

#[test]
fn pairing_cli_help_and_bad_arguments() {
    let home = HermesHome::new("pairing-cli");
    let (status, out) = cli(&home, &["pairing", "--help"]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("approve <platform> <code>"), "{out}");
    let (status, out) = cli(&home, &["pairing", "approve", "telegram"]);
    assert_eq!(status, 1, "{out}");
    let (status, out) = cli(&home, &["pairing", "bogus"]);
    assert_eq!(status, 1, "{out}");
    let (status, out) = cli(&home, &["pairing", "list"]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("No pending pairing requests.") && out.contains("No approved users."), "{out}");
}
