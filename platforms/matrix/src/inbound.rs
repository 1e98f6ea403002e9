//! Timeline events → `MessageEvent`s, with the room rules of P12: DM or group, mention gating,
//! threads, replies and edits. Pure functions of the event, the room and the bot, so they are
//! unit-tested without a homeserver.

use std::collections::BTreeMap;

use hermes_platform::{ChatType, EventKind, MessageEvent, ReplyTo, Source};
use miniserde::json::Value;

use crate::config::MatrixConfig;
use crate::json::{array_at, at, bool_at, str_at, u64_at};

/// Who the bot is.
#[derive(Clone, Debug, Default)]
pub(crate) struct BotIdentity {
    pub user_id: String,
    pub display_name: Option<String>,
}

/// What the bot knows about a room (from `joined_members` and invites).
#[derive(Clone, Debug, Default)]
pub(crate) struct RoomInfo {
    /// Joined members' user ids and display names.
    pub members: BTreeMap<String, Option<String>>,
    /// The invite said `is_direct`.
    pub is_direct: bool,
    pub name: Option<String>,
}

impl RoomInfo {
    pub fn is_dm(&self) -> bool {
        self.is_direct || self.members.len() <= 2
    }
}

/// What to do with one timeline event.
#[derive(Debug)]
pub(crate) enum Intake {
    Event(Box<MessageEvent>),
    /// An encrypted message from someone else: the room gets the one "not supported" notice.
    Encrypted,
    /// Not for the gateway (own echo, other types, not mentioned, ...); the reason is logged.
    Skip(&'static str),
}

/// Converts one timeline event of `room_id`. `own_events` tells whether an event id is one
/// this bot sent (a reply to the bot counts as a mention in rooms).
pub(crate) fn convert(
    ev: &Value,
    room_id: &str,
    room: &RoomInfo,
    bot: &BotIdentity,
    config: &MatrixConfig,
    own_events: &dyn Fn(&str) -> bool,
) -> Intake {
    let sender = str_at(ev, &["sender"]).unwrap_or("");
    if sender.is_empty() || sender == bot.user_id {
        return Intake::Skip("own or anonymous event");
    }
    let event_type = str_at(ev, &["type"]).unwrap_or("");
    if event_type == "m.room.encrypted" {
        return Intake::Encrypted;
    }
    if event_type != "m.room.message" {
        return Intake::Skip("not a message");
    }
    if !config.room_allowed(room_id) {
        return Intake::Skip("room not in MATRIX_ALLOWED_ROOMS");
    }
    let Some(event_id) = str_at(ev, &["event_id"]) else { return Intake::Skip("no event id") };
    let content = at(ev, &["content"]).cloned().unwrap_or(Value::Null);
    let relates = at(&content, &["m.relates_to"]);
    let rel_type = relates.and_then(|r| str_at(r, &["rel_type"]));

    let (kind, message_id, body_source) = if rel_type == Some("m.replace") {
        let target = relates.and_then(|r| str_at(r, &["event_id"])).unwrap_or(event_id);
        let new = at(&content, &["m.new_content"]).cloned().unwrap_or_else(|| content.clone());
        (EventKind::Edit, target.to_string(), new)
    } else {
        (EventKind::Text, event_id.to_string(), content.clone())
    };
    let msgtype = str_at(&body_source, &["msgtype"]).unwrap_or("");
    if !matches!(msgtype, "m.text" | "m.emote") {
        // m.notice is what bots send: never answer it (no bot loops). Media: not supported yet.
        return Intake::Skip("not a text message");
    }
    let raw_body = str_at(&body_source, &["body"]).unwrap_or("");
    let mut text = strip_reply_fallback(raw_body).to_string();
    if msgtype == "m.emote" {
        text = format!("* {text}");
    }

    let thread_id = match rel_type {
        Some("m.thread") => relates.and_then(|r| str_at(r, &["event_id"])).map(str::to_string),
        _ => None,
    };
    let falling_back = relates.and_then(|r| bool_at(r, &["is_falling_back"])).unwrap_or(false);
    let reply_to = relates
        .filter(|_| kind == EventKind::Text && !(thread_id.is_some() && falling_back))
        .and_then(|r| str_at(r, &["m.in_reply_to", "event_id"]))
        .map(|id| ReplyTo { message_id: id.to_string(), text: None, author_id: None, is_own: own_events(id) });

    let dm = room.is_dm();
    if !dm {
        let free = config.free_response_rooms.iter().any(|r| r == room_id);
        let replied_to_bot = reply_to.as_ref().is_some_and(|r| r.is_own);
        let in_bot_thread = thread_id.as_deref().is_some_and(own_events);
        if config.require_mention
            && !free
            && !replied_to_bot
            && !in_bot_thread
            && !mentions(&content, &body_source, bot)
        {
            return Intake::Skip("room message without a mention");
        }
        text = strip_mention(&text, bot);
    }

    let source = Source {
        platform: "matrix".into(),
        chat_id: room_id.to_string(),
        chat_name: room.name.clone(),
        chat_type: if dm { ChatType::Dm } else { ChatType::Group },
        user_id: Some(sender.to_string()),
        user_name: Some(room.members.get(sender).cloned().flatten().unwrap_or_else(|| localpart(sender).to_string())),
        thread_id,
        is_bot: false,
        role_authorized: None,
    };
    let ts = u64_at(ev, &["origin_server_ts"]).map(|ms| ms as f64 / 1000.0).unwrap_or(0.0);
    let mut event = MessageEvent::text(source, &message_id, event_id, &text, ts);
    event.kind = kind;
    event.reply_to = reply_to;
    Intake::Event(Box::new(event))
}

/// True when the event mentions the bot: `m.mentions.user_ids`, or its user id or display
/// name in the body (or a matrix.to pill in the HTML).
pub(crate) fn mentions(content: &Value, body_source: &Value, bot: &BotIdentity) -> bool {
    for c in [content, body_source] {
        if array_at(c, &["m.mentions", "user_ids"]).iter().any(|u| matches!(u, Value::String(s) if *s == bot.user_id)) {
            return true;
        }
    }
    let body = str_at(body_source, &["body"]).unwrap_or("");
    let html = str_at(body_source, &["formatted_body"]).unwrap_or("");
    if body.contains(&bot.user_id) || html.contains(&bot.user_id) {
        return true;
    }
    if let Some(name) = bot.display_name.as_deref().filter(|n| !n.trim().is_empty()) {
        return contains_word(&body.to_lowercase(), &name.to_lowercase());
    }
    false
}

/// `needle` in `hay` not glued to letters or digits on either side.
fn contains_word(hay: &str, needle: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = hay[from..].find(needle) {
        let start = from + pos;
        let end = start + needle.len();
        let before = hay[..start].chars().next_back();
        let after = hay[end..].chars().next();
        if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric) {
            return true;
        }
        from = start + needle.len().max(1);
    }
    false
}

/// Removes a leading "Name: " / "@bot:server " addressing the bot.
fn strip_mention(text: &str, bot: &BotIdentity) -> String {
    let trimmed = text.trim_start();
    let mut candidates = vec![bot.user_id.as_str()];
    if let Some(name) = bot.display_name.as_deref().filter(|n| !n.trim().is_empty()) {
        candidates.push(name);
    }
    for c in candidates {
        if trimmed.len() >= c.len() && trimmed.is_char_boundary(c.len()) && trimmed[..c.len()].eq_ignore_ascii_case(c) {
            let rest = trimmed[c.len()..].trim_start_matches([':', ',']).trim_start();
            if !rest.is_empty() {
                return rest.to_string();
            }
        }
    }
    text.to_string()
}

/// Drops the legacy reply fallback (`> <@user> quoted` lines and the blank line after them).
pub(crate) fn strip_reply_fallback(body: &str) -> &str {
    if !body.starts_with("> <") {
        return body;
    }
    let mut rest = body;
    while rest.starts_with('>') {
        match rest.find('\n') {
            Some(i) => rest = &rest[i + 1..],
            None => return body,
        }
    }
    rest.strip_prefix('\n').unwrap_or(rest)
}

/// `alice` of `@alice:example.org`.
pub(crate) fn localpart(user_id: &str) -> &str {
    let id = user_id.strip_prefix('@').unwrap_or(user_id);
    id.split(':').next().unwrap_or(id)
}
