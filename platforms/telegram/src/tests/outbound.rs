//! Outbound calls against the fake Bot API: formatting fallback and error kinds.

use std::time::Duration;

use hermes_platform::{Adapter, BotCommand, Button, ChatRef, MediaKind, OutboundMedia, SendError, SendOptions};

use super::fake::{FakeApi, error};
use super::polling::start;

fn chat() -> ChatRef {
    ChatRef::new("-100", Some("12".into()))
}

#[test]
fn send_text_uses_markdown_v2_thread_and_reply() {
    let fake = FakeApi::start();
    let (adapter, _rx) = start(&fake, None);
    let opts = SendOptions {
        reply_to: Some("50".into()),
        buttons: vec![vec![Button { label: "Approve".into(), data: "a:1".into() }]],
        ..SendOptions::default()
    };
    assert_eq!(adapter.send_text(&chat(), "hello", &opts).unwrap(), "777");
    let sent = fake.requests("sendMessage");
    let body = &sent[0].body;
    assert!(body.contains(r#""parse_mode":"MarkdownV2""#), "{body}");
    assert!(body.contains(r#""chat_id":-100"#) && body.contains(r#""message_thread_id":12"#), "{body}");
    assert!(body.contains(r#""reply_parameters":{"allow_sending_without_reply":true,"message_id":50}"#), "{body}");
    assert!(
        body.contains(r#""reply_markup":{"inline_keyboard":[[{"callback_data":"a:1","text":"Approve"}]]}"#),
        "{body}"
    );

    // Reply mode `first`: later parts of the same reply are not threaded.
    let later = SendOptions { continuation: true, ..opts };
    adapter.send_text(&chat(), "more", &later).unwrap();
    assert!(!fake.requests("sendMessage")[1].body.contains("reply_parameters"));
    adapter.stop();
}

#[test]
fn rejected_markdown_is_resent_as_plain_text() {
    let fake = FakeApi::start();
    let (adapter, _rx) = start(&fake, None);
    fake.push("sendMessage", 400, &error(400, "Bad Request: can't parse entities: Character '.' is reserved"));
    let id = adapter.send_text(&chat(), "1. item", &SendOptions::default()).unwrap();
    assert_eq!(id, "777");
    let sent = fake.requests("sendMessage");
    assert_eq!(sent.len(), 2);
    assert!(sent[0].body.contains("parse_mode"));
    assert!(!sent[1].body.contains("parse_mode"), "{}", sent[1].body);

    // Plain text rejected too: a formatting error the gateway does not retry.
    fake.push("sendMessage", 400, &error(400, "Bad Request: can't parse entities"));
    fake.push("sendMessage", 400, &error(400, "Bad Request: message text is empty"));
    let err = adapter.send_text(&chat(), "x", &SendOptions::default()).unwrap_err();
    assert!(matches!(err, SendError::BadFormat(_)), "{err:?}");
    adapter.stop();
}

#[test]
fn error_kinds() {
    let fake = FakeApi::start();
    let (adapter, _rx) = start(&fake, None);
    fake.push(
        "sendMessage",
        429,
        r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#,
    );
    let err = adapter.send_text(&chat(), "x", &SendOptions::default()).unwrap_err();
    assert_eq!(err, SendError::RateLimited { retry_after: Duration::from_secs(7) });

    fake.push("sendMessage", 403, &error(403, "Forbidden: bot was blocked by the user"));
    let err = adapter.send_text(&chat(), "x", &SendOptions::default()).unwrap_err();
    assert!(matches!(err, SendError::Forbidden(_)), "{err:?}");

    fake.push("sendMessage", 400, &error(400, "Bad Request: chat not found"));
    let err = adapter.send_text(&chat(), "x", &SendOptions::default()).unwrap_err();
    assert!(matches!(err, SendError::NotFound(_)), "{err:?}");

    fake.push("sendMessage", 502, "<html>Bad Gateway</html>");
    let err = adapter.send_text(&chat(), "x", &SendOptions::default()).unwrap_err();
    assert!(matches!(err, SendError::Transient { maybe_delivered: false, .. }), "{err:?}");

    fake.push("editMessageText", 400, &error(400, "Bad Request: message to edit not found"));
    let err = adapter.edit_text(&chat(), "5", "y", false).unwrap_err();
    assert!(matches!(err, SendError::NotFound(_)), "{err:?}");
    adapter.stop();
}

#[test]
fn edit_not_modified_is_success() {
    let fake = FakeApi::start();
    let (adapter, _rx) = start(&fake, None);
    fake.push(
        "editMessageText",
        400,
        &error(
            400,
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same",
        ),
    );
    adapter.edit_text(&chat(), "5", "same", false).unwrap();
    assert_eq!(fake.requests("editMessageText").len(), 1);
    adapter.stop();
}

#[test]
fn network_errors_are_transient() {
    // Nothing listens on this port once the listener is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let fake = FakeApi::start();
    let (adapter, _rx) = start(&fake, None);
    let broken = crate::api::Api::new(&format!("http://127.0.0.1:{port}/bot"), "1:x");
    let body = crate::wire::Body::new();
    let err = broken.call_raw(&adapter.agent, "sendMessage", &body, 1024).unwrap_err();
    assert!(matches!(err.to_send_error(), SendError::Transient { maybe_delivered: false, .. }), "{err:?}");
    adapter.stop();
}

#[test]
fn typing_delete_and_commands() {
    let fake = FakeApi::start();
    let (adapter, _rx) = start(&fake, None);
    adapter.typing(&chat()).unwrap();
    assert!(fake.requests("sendChatAction")[0].body.contains(r#""action":"typing""#));
    assert!(fake.requests("sendChatAction")[0].body.contains(r#""message_thread_id":12"#));
    adapter.delete(&chat(), "9").unwrap();
    assert!(fake.requests("deleteMessage")[0].body.contains(r#""message_id":9"#));
    adapter.set_commands(&[BotCommand { name: "new".into(), description: "Start over".into() }]).unwrap();
    assert!(
        fake.requests("setMyCommands")[0].body.contains(r#""commands":[{"command":"new","description":"Start over"}]"#)
    );
    let caps = adapter.capabilities();
    assert_eq!(caps.max_message_len, 4096);
    assert_eq!(caps.measure("😀"), 2);
    adapter.stop();
}

#[test]
fn send_media_uploads_the_file_and_falls_back_to_a_plain_caption() {
    let fake = FakeApi::start();
    let (adapter, _rx) = start(&fake, None);
    let path = std::env::temp_dir().join(format!("hermes-telegram-upload-{}.jpg", std::process::id()));
    std::fs::write(&path, b"PICTURE-BYTES").unwrap();
    let media = OutboundMedia {
        path: path.to_string_lossy().into_owned(),
        kind: MediaKind::Photo,
        caption: Some("a *chart*".into()),
    };
    fake.push("sendPhoto", 400, &error(400, "Bad Request: can't parse entities"));
    let id = adapter.send_media(&chat(), &media, &SendOptions::default()).unwrap();
    assert_eq!(id, "777");
    let sent = fake.requests("sendPhoto");
    assert_eq!(sent.len(), 2);
    let file_name = path.file_name().unwrap().to_str().unwrap();
    assert!(sent[0].body.contains(&format!("name=\"photo\"; filename=\"{file_name}\"")), "{}", sent[0].body);
    assert!(sent[0].body.contains("PICTURE-BYTES"));
    assert!(sent[0].body.contains("MarkdownV2"));
    assert!(sent[0].body.contains("name=\"message_thread_id\"\r\n\r\n12\r\n"));
    assert!(!sent[1].body.contains("MarkdownV2"));
    assert!(sent[1].body.contains("a chart"), "the plain caption keeps the words without markup");

    let missing = OutboundMedia { path: "/nonexistent/x.pdf".into(), kind: MediaKind::Document, caption: None };
    let err = adapter.send_media(&chat(), &missing, &SendOptions::default()).unwrap_err();
    assert!(matches!(err, SendError::Fatal(_)), "{err:?}");
    let _ = std::fs::remove_file(&path);
    adapter.stop();
}
