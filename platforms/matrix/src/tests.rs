//! Unit tests: settings, inbound rules, outbound JSON.

use hermes_platform::{ChatType, Configured, EventKind, Settings};
use miniserde::json::{self, Value};

use crate::adapter::{edit_content, relation, text_content, txn_from_key};
use crate::config::{Auth, MatrixConfig, configure};
use crate::inbound::{BotIdentity, Intake, RoomInfo, convert, strip_reply_fallback};
use crate::state::Stored;

fn config(env: &[(&str, &str)]) -> MatrixConfig {
    match configure(&Settings::from_pairs("matrix", env, &[])) {
        Configured::On(c) => c,
        other => panic!("expected a config, got {other:?}"),
    }
}

fn base() -> MatrixConfig {
    config(&[("MATRIX_HOMESERVER", "http://127.0.0.1:8008/"), ("MATRIX_ACCESS_TOKEN", "syt_abc")])
}

#[test]
fn settings() {
    assert!(matches!(configure(&Settings::from_pairs("matrix", &[], &[])), Configured::Off));
    let c = base();
    assert_eq!(c.homeserver, "http://127.0.0.1:8008");
    assert_eq!(c.auth, Auth::Token("syt_abc".into()));
    assert!(c.require_mention);
    assert_eq!(c.max_message_length, 16000);
    let c = config(&[
        ("MATRIX_HOMESERVER", "https://m.org"),
        ("MATRIX_USER_ID", "@bot:m.org"),
        ("MATRIX_PASSWORD", "pw"),
        ("MATRIX_REQUIRE_MENTION", "false"),
        ("MATRIX_FREE_RESPONSE_ROOMS", "!a:m.org, !b:m.org"),
        ("MATRIX_ALLOWED_USERS", "@ann:m.org"),
    ]);
    assert_eq!(c.auth, Auth::Password { user_id: "@bot:m.org".into(), password: "pw".into() });
    assert!(!c.require_mention);
    assert_eq!(c.free_response_rooms, ["!a:m.org", "!b:m.org"]);
    assert!(c.may_invite("@ann:m.org") && !c.may_invite("@eve:m.org"));

    let Configured::Invalid(errors) = configure(&Settings::from_pairs(
        "matrix",
        &[
            ("MATRIX_HOMESERVER", "matrix.org"),
            ("MATRIX_PASSWORD", "pw"),
            ("MATRIX_MAX_MESSAGE_LENGTH", "lots"),
            ("MATRIX_ALLOWED_ROOMS", "general"),
        ],
        &[],
    )) else {
        panic!("expected errors")
    };
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        ["MATRIX_HOMESERVER", "MATRIX_USER_ID", "MATRIX_MAX_MESSAGE_LENGTH", "MATRIX_ALLOWED_ROOMS"],
        "{errors:?}"
    );
    let text = errors[1].to_string();
    assert!(text.contains("needed with MATRIX_PASSWORD"), "{text}");
    let Configured::Invalid(errors) =
        configure(&Settings::from_pairs("matrix", &[("MATRIX_HOMESERVER", "https://m.org")], &[]))
    else {
        panic!("expected errors")
    };
    assert!(errors[0].to_string().contains("MATRIX_ACCESS_TOKEN is missing"), "{}", errors[0]);
}

fn bot() -> BotIdentity {
    BotIdentity { user_id: "@hermes:localhost".into(), display_name: Some("Hermes".into()) }
}

fn room(members: usize) -> RoomInfo {
    let mut info = RoomInfo::default();
    for i in 0..members {
        info.members.insert(format!("@u{i}:localhost"), None);
    }
    info.members.insert("@alice:localhost".into(), Some("Alice".into()));
    info
}

fn ev(json_text: &str) -> Value {
    json::from_str(json_text).unwrap()
}

fn message(content: &str) -> Value {
    ev(&format!(
        r#"{{"type":"m.room.message","sender":"@alice:localhost","event_id":"$e1","origin_server_ts":1700000000000,"content":{content}}}"#
    ))
}

fn intake(e: &Value, info: &RoomInfo, cfg: &MatrixConfig) -> Intake {
    convert(e, "!r:localhost", info, &bot(), cfg, &|id| id == "$mine")
}

fn event(i: Intake) -> hermes_platform::MessageEvent {
    match i {
        Intake::Event(e) => *e,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[test]
fn dm_text_becomes_an_event() {
    let e = event(intake(&message(r#"{"msgtype":"m.text","body":"hello"}"#), &room(1), &base()));
    assert_eq!(e.kind, EventKind::Text);
    assert_eq!(e.text, "hello");
    assert_eq!(e.source.chat_type, ChatType::Dm);
    assert_eq!(e.source.chat_id, "!r:localhost");
    assert_eq!(e.source.user_id.as_deref(), Some("@alice:localhost"));
    assert_eq!(e.source.user_name.as_deref(), Some("Alice"));
    assert_eq!((e.message_id.as_str(), e.message_key.as_str()), ("$e1", "$e1"));
    assert_eq!(e.timestamp, 1700000000.0);
}

#[test]
fn rooms_need_a_mention() {
    let cfg = base();
    let group = room(3);
    assert!(matches!(intake(&message(r#"{"msgtype":"m.text","body":"hi all"}"#), &group, &cfg), Intake::Skip(_)));
    let e = event(intake(&message(r#"{"msgtype":"m.text","body":"Hermes: what time is it?"}"#), &group, &cfg));
    assert_eq!(e.text, "what time is it?");
    assert_eq!(e.source.chat_type, ChatType::Group);
    let e = event(intake(
        &message(r#"{"msgtype":"m.text","body":"ping","m.mentions":{"user_ids":["@hermes:localhost"]}}"#),
        &group,
        &cfg,
    ));
    assert_eq!(e.text, "ping");
    assert!(matches!(
        intake(&message(r#"{"msgtype":"m.text","body":"hermesbot rocks"}"#), &group, &cfg),
        Intake::Skip(_)
    ));
    let e = event(intake(&message(r#"{"msgtype":"m.text","body":"@hermes:localhost hi"}"#), &group, &cfg));
    assert_eq!(e.text, "hi");
    // A reply to the bot counts as a mention.
    let e = event(intake(
        &message(r#"{"msgtype":"m.text","body":"and then?","m.relates_to":{"m.in_reply_to":{"event_id":"$mine"}}}"#),
        &group,
        &cfg,
    ));
    assert!(e.reply_to.unwrap().is_own);
    // Free-response rooms and MATRIX_REQUIRE_MENTION=false take everything.
    let mut free = cfg.clone();
    free.free_response_rooms = vec!["!r:localhost".into()];
    assert!(matches!(intake(&message(r#"{"msgtype":"m.text","body":"hi"}"#), &group, &free), Intake::Event(_)));
    let mut off = cfg.clone();
    off.require_mention = false;
    assert!(matches!(intake(&message(r#"{"msgtype":"m.text","body":"hi"}"#), &group, &off), Intake::Event(_)));
    // Allowed rooms.
    let mut only = off.clone();
    only.allowed_rooms = vec!["!other:localhost".into()];
    assert!(matches!(intake(&message(r#"{"msgtype":"m.text","body":"hi"}"#), &group, &only), Intake::Skip(_)));
}

#[test]
fn threads_replies_edits_and_others() {
    let cfg = base();
    let dm = room(1);
    let e = event(intake(
        &message(
            r#"{"msgtype":"m.text","body":"in thread","m.relates_to":{"rel_type":"m.thread","event_id":"$root","is_falling_back":true,"m.in_reply_to":{"event_id":"$last"}}}"#,
        ),
        &dm,
        &cfg,
    ));
    assert_eq!(e.source.thread_id.as_deref(), Some("$root"));
    assert!(e.reply_to.is_none(), "a thread fallback is not a reply");
    let e = event(intake(
        &message(
            r#"{"msgtype":"m.text","body":"> <@hermes:localhost> earlier\n> text\n\nmy answer","m.relates_to":{"m.in_reply_to":{"event_id":"$x"}}}"#,
        ),
        &dm,
        &cfg,
    ));
    assert_eq!(e.text, "my answer");
    assert_eq!(e.reply_to.as_ref().map(|r| r.message_id.as_str()), Some("$x"));
    let e = event(intake(
        &message(
            r#"{"msgtype":"m.text","body":"* fixed","m.new_content":{"msgtype":"m.text","body":"fixed"},"m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}"#,
        ),
        &dm,
        &cfg,
    ));
    assert_eq!(
        (e.kind, e.text.as_str(), e.message_id.as_str(), e.message_key.as_str()),
        (EventKind::Edit, "fixed", "$orig", "$e1")
    );
    assert!(matches!(intake(&message(r#"{"msgtype":"m.notice","body":"bot talk"}"#), &dm, &cfg), Intake::Skip(_)));
    let enc = ev(r#"{"type":"m.room.encrypted","sender":"@alice:localhost","event_id":"$z","content":{}}"#);
    assert!(matches!(intake(&enc, &dm, &cfg), Intake::Encrypted));
    let own = ev(
        r#"{"type":"m.room.message","sender":"@hermes:localhost","event_id":"$o","content":{"msgtype":"m.text","body":"x"}}"#,
    );
    assert!(matches!(intake(&own, &dm, &cfg), Intake::Skip(_)));
    assert_eq!(strip_reply_fallback("> not a fallback"), "> not a fallback");
}

#[test]
fn outbound_json() {
    let c = json::to_string(&text_content("**hi** <you>", false));
    assert_eq!(
        c,
        r#"{"body":"**hi** <you>","format":"org.matrix.custom.html","formatted_body":"<p><strong>hi</strong> &lt;you&gt;</p>","msgtype":"m.text"}"#
    );
    assert_eq!(json::to_string(&text_content("x", true)), r#"{"body":"x","msgtype":"m.text"}"#);
    assert_eq!(json::to_string(&relation(None, Some("$q")).unwrap()), r#"{"m.in_reply_to":{"event_id":"$q"}}"#);
    assert_eq!(
        json::to_string(&relation(Some("$root"), None).unwrap()),
        r#"{"event_id":"$root","is_falling_back":true,"m.in_reply_to":{"event_id":"$root"},"rel_type":"m.thread"}"#
    );
    assert!(relation(None, None).is_none());
    let e = json::to_string(&edit_content("$m", "new", true));
    assert_eq!(
        e,
        r#"{"body":"* new","m.new_content":{"body":"new","msgtype":"m.text"},"m.relates_to":{"event_id":"$m","rel_type":"m.replace"},"msgtype":"m.text"}"#
    );
    assert_eq!(txn_from_key("turn:5:0"), txn_from_key("turn:5:0"));
    assert_ne!(txn_from_key("turn:5:0"), txn_from_key("turn_5_0"));
    assert!(txn_from_key("turn:5:0").starts_with("hl.turn_5_0."));
}

#[test]
fn stored_cursor_round_trips() {
    let s = Stored {
        since: Some("s72_1".into()),
        homeserver: Some("http://h".into()),
        user_id: Some("@b:h".into()),
        device_id: Some("DEV".into()),
        access_token: None,
    };
    assert_eq!(Stored::parse(Some(&s.to_cursor())), s);
    assert_eq!(Stored::parse(Some("12345")), Stored::default());
    assert_eq!(Stored::parse(None), Stored::default());
}

#[test]
fn errors_map_to_send_errors() {
    use crate::api::ApiError;
    use hermes_platform::SendError;
    use std::time::Duration;
    let status = |code: u16, errcode: &str, retry_ms: Option<u64>| ApiError::Status {
        code,
        errcode: errcode.into(),
        error: "why".into(),
        retry_after: retry_ms.map(Duration::from_millis),
    };
    assert_eq!(
        status(429, "M_LIMIT_EXCEEDED", Some(1500)).to_send_error(),
        SendError::RateLimited { retry_after: Duration::from_millis(1500) }
    );
    assert_eq!(status(429, "M_LIMIT_EXCEEDED", Some(1500)).rate_limit(), Some(Duration::from_millis(1500)));
    assert_eq!(status(403, "M_FORBIDDEN", None).to_send_error(), SendError::Forbidden("why".into()));
    assert_eq!(status(404, "M_NOT_FOUND", None).to_send_error(), SendError::NotFound("why".into()));
    assert_eq!(status(413, "M_TOO_LARGE", None).to_send_error(), SendError::TooLong);
    assert!(status(401, "M_UNKNOWN_TOKEN", None).is_unknown_token());
    assert!(matches!(status(502, "", None).to_send_error(), SendError::Transient { maybe_delivered: false, .. }));
    assert!(matches!(ApiError::Lost("x".into()).to_send_error(), SendError::Transient { maybe_delivered: true, .. }));
}
