//! The intake rules, on updates as Telegram sends them.

use hermes_platform::{ChatType, Configured, EventKind, MessageEvent, Settings};

use super::fake::{BOT_ID, BOT_NAME};
use crate::TelegramConfig;
use crate::inbound::{BotIdentity, convert};
use crate::wire::Update;

fn config(env: &[(&str, &str)]) -> TelegramConfig {
    let mut all = vec![("TELEGRAM_BOT_TOKEN", "1:abc")];
    all.extend_from_slice(env);
    match crate::configure(&Settings::from_pairs("telegram", &all, &[])) {
        Configured::On(c) => c,
        other => panic!("{other:?}"),
    }
}

fn bot() -> BotIdentity {
    BotIdentity { id: BOT_ID, username: BOT_NAME.into() }
}

/// A group message from user 7 with `extra` JSON fields added to the message.
fn group_update(text: &str, extra: &str) -> Update {
    let json = format!(
        r#"{{"update_id":1,"message":{{"message_id":50,"date":1700000000,
        "from":{{"id":7,"is_bot":false,"first_name":"Ann","username":"ann"}},
        "chat":{{"id":-100,"type":"supergroup","title":"Team"}},"text":{text:?}{extra}}}}}"#
    );
    miniserde::json::from_str(&json).unwrap()
}

fn take(update: &Update, config: &TelegramConfig) -> Option<MessageEvent> {
    convert(update, &bot(), config).unwrap().event
}

#[test]
fn private_chat_is_a_dm() {
    let json = r#"{"update_id":9,"message":{"message_id":3,"date":5,"from":{"id":7,"first_name":"Ann"},
        "chat":{"id":7,"type":"private","first_name":"Ann"},"text":"hello"}}"#;
    let update: Update = miniserde::json::from_str(json).unwrap();
    let event = take(&update, &config(&[])).unwrap();
    assert_eq!(event.kind, EventKind::Text);
    assert_eq!(event.text, "hello");
    assert_eq!(event.source.chat_type, ChatType::Dm);
    assert_eq!(event.source.chat_id, "7");
    assert_eq!(event.source.user_id.as_deref(), Some("7"));
    assert_eq!(event.source.user_name.as_deref(), Some("Ann"));
    assert_eq!((event.message_id.as_str(), event.update_id.as_str(), event.message_key.as_str()), ("3", "9", "9"));
    assert_eq!(event.timestamp, 5.0);
}

#[test]
fn group_needs_a_mention() {
    let c = config(&[]);
    assert!(take(&group_update("hello all", ""), &c).is_none());
    let event = take(&group_update("@Hermes_Bot what's up?", ""), &c).unwrap();
    assert_eq!(event.text, "what's up?");
    assert_eq!(event.source.chat_type, ChatType::Group);
    assert_eq!(event.source.chat_name.as_deref(), Some("Team"));
    let event = take(&group_update("tell me, @hermes_bot", ""), &c).unwrap();
    assert_eq!(event.text, "tell me, @hermes_bot");
}

#[test]
fn text_mention_entity_counts() {
    let entities = format!(
        r#","entities":[{{"type":"text_mention","offset":0,"length":6,"user":{{"id":{BOT_ID},"first_name":"Hermes"}}}}]"#
    );
    assert!(take(&group_update("Hermes, hi", &entities), &config(&[])).is_some());
}

#[test]
fn reply_to_the_bot_counts() {
    let reply = format!(
        r#","reply_to_message":{{"message_id":49,"from":{{"id":{BOT_ID},"is_bot":true}},"text":"earlier answer"}}"#
    );
    let event = take(&group_update("and then?", &reply), &config(&[])).unwrap();
    let reply = event.reply_to.unwrap();
    assert_eq!(reply.message_id, "49");
    assert!(reply.is_own);
    assert_eq!(reply.text.as_deref(), Some("earlier answer"));
    // A reply to someone else is not addressed to us.
    let other = r#","reply_to_message":{"message_id":48,"from":{"id":8},"text":"x"}"#;
    assert!(take(&group_update("and then?", other), &config(&[])).is_none());
}

#[test]
fn commands_for_us_and_for_other_bots() {
    let c = config(&[]);
    let event = take(&group_update("/new@hermes_bot fresh start", ""), &c).unwrap();
    assert_eq!(event.text, "/new fresh start");
    assert_eq!(event.kind, EventKind::Text);
    assert!(take(&group_update("/new", ""), &c).is_some());
    assert!(take(&group_update("/new@other_bot", ""), &c).is_none());
    // Even in a free-response chat another bot's command is not ours.
    let free = config(&[("TELEGRAM_FREE_RESPONSE_CHATS", "-100")]);
    assert!(take(&group_update("/new@other_bot", ""), &free).is_none());
}

#[test]
fn free_response_patterns_and_require_mention_off() {
    assert!(take(&group_update("hello all", ""), &config(&[("TELEGRAM_FREE_RESPONSE_CHATS", "-100")])).is_some());
    assert!(take(&group_update("hello all", ""), &config(&[("TELEGRAM_FREE_RESPONSE_CHATS", "-200")])).is_none());
    assert!(take(&group_update("hello all", ""), &config(&[("TELEGRAM_REQUIRE_MENTION", "false")])).is_some());
    let patterns = config(&[("TELEGRAM_MENTION_PATTERNS", "hermes")]);
    assert!(take(&group_update("HERMES, help", ""), &patterns).is_some());
    assert!(take(&group_update("nobody", ""), &patterns).is_none());
}

#[test]
fn forum_topics_have_a_thread() {
    let json = r#"{"update_id":2,"message":{"message_id":60,"message_thread_id":12,"is_topic_message":true,"date":1,
        "from":{"id":7,"first_name":"Ann"},"chat":{"id":-100,"type":"supergroup","title":"Forum","is_forum":true},
        "text":"@hermes_bot hi"}}"#;
    let update: Update = miniserde::json::from_str(json).unwrap();
    let event = take(&update, &config(&[])).unwrap();
    assert_eq!(event.source.chat_type, ChatType::Forum);
    assert_eq!(event.source.thread_id.as_deref(), Some("12"));
    assert!(take(&update, &config(&[("TELEGRAM_IGNORED_THREADS", "12")])).is_none());
}

#[test]
fn bots_are_ignored_unless_allowed() {
    let json = r#"{"update_id":3,"message":{"message_id":1,"date":1,"from":{"id":9,"is_bot":true,"first_name":"B"},
        "chat":{"id":9,"type":"private"},"text":"beep"}}"#;
    let update: Update = miniserde::json::from_str(json).unwrap();
    assert!(take(&update, &config(&[])).is_none());
    let event = take(&update, &config(&[("TELEGRAM_ALLOW_BOTS", "all")])).unwrap();
    assert!(event.source.is_bot);
}

#[test]
fn captions_edits_callbacks_reactions() {
    let c = config(&[]);
    let photo = r#"{"update_id":4,"message":{"message_id":1,"date":1,"from":{"id":7,"first_name":"A"},
        "chat":{"id":7,"type":"private"},"caption":"look","photo":[{"file_id":"p1","file_size":10}]}}"#;
    let event = take(&miniserde::json::from_str(photo).unwrap(), &c).unwrap();
    assert_eq!((event.kind, event.text.as_str()), (EventKind::Photo, "look"));

    let edit = r#"{"update_id":5,"edited_message":{"message_id":1,"date":1,"edit_date":9,"from":{"id":7,"first_name":"A"},
        "chat":{"id":7,"type":"private"},"text":"fixed"}}"#;
    let event = take(&miniserde::json::from_str(edit).unwrap(), &c).unwrap();
    assert_eq!((event.kind, event.text.as_str(), event.timestamp), (EventKind::Edit, "fixed", 9.0));

    let callback = r#"{"update_id":6,"callback_query":{"id":"cb1","from":{"id":7,"first_name":"A"},"data":"approve:once",
        "message":{"message_id":70,"date":1,"chat":{"id":7,"type":"private"}}}}"#;
    let intake = convert(&miniserde::json::from_str(callback).unwrap(), &bot(), &c).unwrap();
    assert_eq!(intake.callback_id.as_deref(), Some("cb1"));
    let event = intake.event.unwrap();
    assert_eq!(
        (event.kind, event.text.as_str(), event.message_id.as_str()),
        (EventKind::Callback, "approve:once", "70")
    );

    let reaction = r#"{"update_id":7,"message_reaction":{"chat":{"id":7,"type":"private"},"message_id":70,"date":1,
        "user":{"id":7,"first_name":"A"},"old_reaction":[],"new_reaction":[{"type":"emoji","emoji":"👍"}]}}"#;
    let event = take(&miniserde::json::from_str(reaction).unwrap(), &c).unwrap();
    assert_eq!((event.kind, event.text.as_str()), (EventKind::Reaction, "👍"));

    let unknown: Update = miniserde::json::from_str(r#"{"update_id":8,"poll":{"id":"x"}}"#).unwrap();
    assert!(convert(&unknown, &bot(), &c).is_err());
}
