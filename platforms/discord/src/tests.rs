//! Unit tests: settings, payload parsing and the intake rules.

use hermes_platform::{ChatType, Configured, Settings};

use crate::config::{AllowBots, DiscordConfig, ReplyToMode, configure};
use crate::inbound::{BotIdentity, Channels, convert, strip_mentions};
use crate::wire::{self, Channel, Message, Payload, op};

const BOT: &str = "900000000000000001";

fn config(env: &[(&str, &str)]) -> DiscordConfig {
    let mut all = vec![("DISCORD_BOT_TOKEN", "MTIz.abc.def-token")];
    all.extend_from_slice(env);
    match configure(&Settings::from_pairs("discord", &all, &[])) {
        Configured::On(c) => c,
        other => panic!("{other:?}"),
    }
}

fn bot() -> BotIdentity {
    BotIdentity { id: BOT.into(), username: "hermes".into() }
}

fn message(json: &str) -> Message {
    miniserde::json::from_str(json).unwrap_or_else(|e| panic!("{e:?}: {json}"))
}

fn guild_msg(content: &str, extra: &str) -> Message {
    message(&format!(
        r#"{{"id":"1300000000000000000","channel_id":"200","guild_id":"100","type":0,
            "author":{{"id":"42","username":"ann","global_name":"Ann"}},
            "member":{{"roles":["7"],"nick":null}},"content":{},"mentions":[]{extra}}}"#,
        wire::esc(content)
    ))
}

#[test]
fn settings_defaults_and_errors() {
    assert!(matches!(configure(&Settings::from_pairs("discord", &[], &[])), Configured::Off));
    let c = config(&[]);
    assert!(c.require_mention);
    assert_eq!(c.reply_to_mode, ReplyToMode::First);
    assert_eq!(c.allow_bots, AllowBots::None);
    assert_eq!(c.api_base, "https://discord.com/api/v10");
    assert_eq!(c.gateway_url, None);

    let c = config(&[
        ("DISCORD_API_BASE", "http://127.0.0.1:9/api/v10/"),
        ("DISCORD_GATEWAY_URL", "ws://127.0.0.1:10"),
        ("DISCORD_REQUIRE_MENTION", "false"),
        ("DISCORD_ALLOWED_ROLES", "1, 2"),
        ("DISCORD_REPLY_TO_MODE", "all"),
        ("DISCORD_ALLOW_BOTS", "mentions"),
        ("DISCORD_HOME_CHANNEL", "555"),
    ]);
    assert_eq!(c.api_base, "http://127.0.0.1:9/api/v10");
    assert_eq!(c.gateway_url.as_deref(), Some("ws://127.0.0.1:10"));
    assert!(!c.require_mention);
    assert_eq!(c.allowed_roles, ["1", "2"]);
    assert_eq!(c.reply_to_mode, ReplyToMode::All);
    assert_eq!(c.allow_bots, AllowBots::Mentions);
    assert_eq!(c.home_channel.as_deref(), Some("555"));

    let s = Settings::from_pairs(
        "discord",
        &[
            ("DISCORD_BOT_TOKEN", "Bot abc"),
            ("DISCORD_API_BASE", "ftp://x"),
            ("DISCORD_GATEWAY_URL", "http://x"),
            ("DISCORD_ALLOWED_CHANNELS", "general"),
            ("DISCORD_REQUIRE_MENTION", "sometimes"),
            ("DISCORD_REPLY_TO_MODE", "loud"),
            ("DISCORD_HOME_CHANNEL", "#general"),
        ],
        &[],
    );
    let Configured::Invalid(errors) = configure(&s) else { panic!("accepted") };
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "DISCORD_BOT_TOKEN",
            "DISCORD_API_BASE",
            "DISCORD_GATEWAY_URL",
            "DISCORD_ALLOWED_CHANNELS",
            "DISCORD_REQUIRE_MENTION",
            "DISCORD_REPLY_TO_MODE",
            "DISCORD_HOME_CHANNEL"
        ]
    );
    assert!(!errors[0].to_string().contains("abc"), "the token leaked: {}", errors[0]);

    let s = Settings::from_pairs("discord", &[], &[("enabled", "true")]);
    let Configured::Invalid(errors) = configure(&s) else { panic!("accepted") };
    assert_eq!(errors[0].key, "DISCORD_BOT_TOKEN");
}

#[test]
fn payloads_parse() {
    let p = Payload::parse(r#"{"op":10,"d":{"heartbeat_interval":41250},"s":null,"t":null}"#).unwrap();
    assert_eq!((p.op, p.heartbeat_interval(), p.s), (op::HELLO, Some(41250), None));
    let p = Payload::parse(r#"{"op":0,"s":5,"t":"READY","d":{"session_id":"s1","resume_gateway_url":"wss://r","user":{"id":"9","username":"h","bot":true}}}"#).unwrap();
    let ready: wire::Ready = p.data().unwrap();
    assert_eq!((ready.session_id.as_str(), ready.resume_gateway_url.as_deref(), p.s), ("s1", Some("wss://r"), Some(5)));
    assert!(Payload::parse("not json").is_none());
    assert!(Payload::parse(r#"{"d":1}"#).is_none());
    assert_eq!(wire::heartbeat(None), r#"{"op":1,"d":null}"#);
    assert_eq!(wire::resume("t", "s", Some(3)), r#"{"op":6,"d":{"token":"t","session_id":"s","seq":3}}"#);
    assert!(wire::identify("t").contains(r#""intents":37377"#));
    assert_eq!(wire::snowflake_time("175928847299117063"), 1462015105.796);
}

#[test]
fn dms_are_taken_and_own_messages_dropped() {
    let c = config(&[]);
    let m = message(
        r#"{"id":"1300000000000000000","channel_id":"300","type":0,"author":{"id":"42","username":"ann"},"content":"hi there","mentions":[]}"#,
    );
    let e = convert(&m, &bot(), &c, &Channels::default()).unwrap();
    assert_eq!(e.source.chat_type, ChatType::Dm);
    assert_eq!((e.source.chat_id.as_str(), e.text.as_str()), ("300", "hi there"));
    assert_eq!(e.message_key, "1300000000000000000");
    let own =
        message(&format!(r#"{{"id":"1","channel_id":"300","author":{{"id":"{BOT}","bot":true}},"content":"echo"}}"#));
    assert!(convert(&own, &bot(), &c, &Channels::default()).is_none());
}

#[test]
fn guild_messages_need_a_mention_unless_free() {
    let c = config(&[]);
    let ch = Channels::default();
    assert!(convert(&guild_msg("just chatting", ""), &bot(), &c, &ch).is_none());
    let mentioned = guild_msg(&format!("<@{BOT}> hello bot"), "");
    let e = convert(&mentioned, &bot(), &c, &ch).unwrap();
    assert_eq!((e.source.chat_type, e.text.as_str()), (ChatType::Group, "hello bot"));
    let reply = guild_msg(
        "and this?",
        &format!(r#","referenced_message":{{"id":"5","content":"earlier","author":{{"id":"{BOT}"}}}}"#),
    );
    let e = convert(&reply, &bot(), &c, &ch).unwrap();
    assert!(e.reply_to.unwrap().is_own);
    let free = config(&[("DISCORD_FREE_RESPONSE_CHANNELS", "200")]);
    assert!(convert(&guild_msg("just chatting", ""), &bot(), &free, &ch).is_some());
    let open = config(&[("DISCORD_REQUIRE_MENTION", "no")]);
    assert!(convert(&guild_msg("just chatting", ""), &bot(), &open, &ch).is_some());
}

#[test]
fn channel_and_role_lists() {
    let ch = Channels::default();
    let m = guild_msg(&format!("<@!{BOT}> hi"), "");
    assert!(convert(&m, &bot(), &config(&[("DISCORD_IGNORED_CHANNELS", "200")]), &ch).is_none());
    assert!(convert(&m, &bot(), &config(&[("DISCORD_ALLOWED_CHANNELS", "201")]), &ch).is_none());
    assert!(convert(&m, &bot(), &config(&[("DISCORD_ALLOWED_CHANNELS", "201,200")]), &ch).is_some());
    assert!(convert(&m, &bot(), &config(&[("DISCORD_ALLOWED_ROLES", "8")]), &ch).is_none());
    let by_role = convert(&m, &bot(), &config(&[("DISCORD_ALLOWED_ROLES", "8,7")]), &ch).expect("admitted by role");
    assert_eq!(by_role.source.role_authorized, Some(true), "the gateway's check learns it was a role");
    let by_user = config(&[("DISCORD_ALLOWED_ROLES", "8"), ("DISCORD_ALLOWED_USERS", "42")]);
    assert_eq!(convert(&m, &bot(), &by_user, &ch).expect("admitted by id").source.role_authorized, None);
}

#[test]
fn threads_are_their_own_chat_type_and_follow_the_parent_lists() {
    let mut ch = Channels::default();
    ch.learn(Channel { id: "200".into(), kind: Some(11), name: Some("t".into()), parent_id: Some("150".into()) });
    let m = guild_msg(&format!("<@{BOT}> in a thread"), "");
    let e = convert(&m, &bot(), &config(&[]), &ch).unwrap();
    assert_eq!(e.source.chat_type, ChatType::Thread);
    assert_eq!(e.source.thread_id.as_deref(), Some("200"));
    assert!(convert(&m, &bot(), &config(&[("DISCORD_IGNORED_CHANNELS", "150")]), &ch).is_none());
}

#[test]
fn bots_are_dropped_unless_allowed() {
    let ch = Channels::default();
    let m = guild_msg(&format!("<@{BOT}> beep"), "").clone();
    let mut b = m.clone();
    b.author.bot = Some(true);
    assert!(convert(&b, &bot(), &config(&[]), &ch).is_none());
    let e = convert(&b, &bot(), &config(&[("DISCORD_ALLOW_BOTS", "mentions")]), &ch).unwrap();
    assert!(e.source.is_bot);
    let mut unmentioned = guild_msg("beep", "");
    unmentioned.author.bot = Some(true);
    let c = config(&[("DISCORD_ALLOW_BOTS", "mentions"), ("DISCORD_REQUIRE_MENTION", "false")]);
    assert!(convert(&unmentioned, &bot(), &c, &ch).is_none());
}

#[test]
fn mentions_are_stripped() {
    assert_eq!(strip_mentions(&format!("<@{BOT}> hello  there"), BOT), "hello there");
    assert_eq!(strip_mentions(&format!("hey <@!{BOT}>, look"), BOT), "hey , look");
    assert_eq!(strip_mentions("  keep\nlines  ", BOT), "keep\nlines");
}
