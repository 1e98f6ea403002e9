//! Discord's JSON, kept private to this crate: gateway payloads and the message object.
//!
//! Every field the crate reads is an `Option` (Discord omits or nulls many) and unknown fields
//! are ignored. Ids (snowflakes) are strings on the wire.

use miniserde::json::{Number, Value};
use miniserde::{Deserialize, json};

/// Gateway intents: GUILDS, GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT.
pub(crate) const INTENTS: u64 = (1 << 0) | (1 << 9) | (1 << 12) | (1 << 15);

/// Gateway opcodes.
pub(crate) mod op {
    pub const DISPATCH: u64 = 0;
    pub const HEARTBEAT: u64 = 1;
    pub const RECONNECT: u64 = 7;
    pub const INVALID_SESSION: u64 = 9;
    pub const HELLO: u64 = 10;
    pub const HEARTBEAT_ACK: u64 = 11;
}

/// One gateway payload: `{"op", "d", "s", "t"}`; `d` stays a `Value` until `t` says what it is.
#[derive(Debug)]
pub(crate) struct Payload {
    pub op: u64,
    pub d: Value,
    pub s: Option<u64>,
    pub t: Option<String>,
}

impl Payload {
    pub fn parse(text: &str) -> Option<Payload> {
        let Value::Object(mut o) = json::from_str::<Value>(text).ok()? else { return None };
        let op = as_u64(o.get("op")?)?;
        let s = o.get("s").and_then(as_u64);
        let t = match o.get("t") {
            Some(Value::String(t)) => Some(t.clone()),
            _ => None,
        };
        let d = o.remove("d").unwrap_or(Value::Null);
        Some(Payload { op, d, s, t })
    }

    /// `d` decoded as `T` (a round trip through text; payloads are small).
    pub fn data<T: Deserialize>(&self) -> Option<T> {
        json::from_str(&json::to_string(&self.d)).ok()
    }

    /// Hello's `heartbeat_interval` in milliseconds.
    pub fn heartbeat_interval(&self) -> Option<u64> {
        match &self.d {
            Value::Object(o) => o.get("heartbeat_interval").and_then(as_u64),
            _ => None,
        }
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(Number::U64(n)) => Some(*n),
        Value::Number(Number::I64(n)) => u64::try_from(*n).ok(),
        Value::Number(Number::F64(f)) if *f >= 0.0 => Some(*f as u64),
        _ => None,
    }
}

/// A JSON string literal, quotes included.
pub(crate) fn esc(s: &str) -> String {
    json::to_string(&s.to_string())
}

pub(crate) fn identify(token: &str) -> String {
    format!(
        r#"{{"op":2,"d":{{"token":{},"intents":{INTENTS},"properties":{{"os":"linux","browser":"hermes-lite","device":"hermes-lite"}}}}}}"#,
        esc(token)
    )
}

pub(crate) fn resume(token: &str, session_id: &str, seq: Option<u64>) -> String {
    let seq = seq.map_or("null".to_string(), |s| s.to_string());
    format!(r#"{{"op":6,"d":{{"token":{},"session_id":{},"seq":{seq}}}}}"#, esc(token), esc(session_id))
}

pub(crate) fn heartbeat(seq: Option<u64>) -> String {
    format!(r#"{{"op":1,"d":{}}}"#, seq.map_or("null".to_string(), |s| s.to_string()))
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct User {
    pub id: String,
    pub username: Option<String>,
    pub global_name: Option<String>,
    pub bot: Option<bool>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct Member {
    pub roles: Option<Vec<String>>,
    pub nick: Option<String>,
}

#[derive(Deserialize, Debug)]
pub(crate) struct Ready {
    pub session_id: String,
    pub resume_gateway_url: Option<String>,
    pub user: User,
}

/// A channel from GUILD_CREATE, CHANNEL_CREATE or THREAD_CREATE.
#[derive(Deserialize, Debug, Clone)]
pub(crate) struct Channel {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Option<u64>,
    pub name: Option<String>,
    pub parent_id: Option<String>,
}

#[derive(Deserialize, Debug)]
pub(crate) struct GuildCreate {
    pub channels: Option<Vec<Channel>>,
    pub threads: Option<Vec<Channel>>,
}

#[derive(Deserialize, Debug)]
pub(crate) struct ThreadListSync {
    pub threads: Option<Vec<Channel>>,
}

/// The part of a referenced (replied-to) message this crate reads.
#[derive(Deserialize, Debug, Clone)]
pub(crate) struct Referenced {
    pub id: String,
    pub content: Option<String>,
    pub author: Option<User>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct Attachment {
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct Message {
    pub id: String,
    pub channel_id: String,
    pub guild_id: Option<String>,
    pub author: User,
    pub member: Option<Member>,
    pub content: Option<String>,
    pub mentions: Option<Vec<User>>,
    pub referenced_message: Option<Referenced>,
    pub attachments: Option<Vec<Attachment>>,
    pub webhook_id: Option<String>,
    /// 0 default, 19 reply; others are system messages (joins, pins, ...).
    #[serde(rename = "type")]
    pub kind: Option<u64>,
}

/// What a REST answer to send or edit carries back.
#[derive(Deserialize, Debug)]
pub(crate) struct SentMessage {
    pub id: String,
}

/// `GET /gateway/bot`.
#[derive(Deserialize, Debug)]
pub(crate) struct GatewayBot {
    pub url: String,
}

/// A REST error body: `{"message", "code"}` or a 429's `{"retry_after", "global"}`.
#[derive(Deserialize, Debug, Default)]
pub(crate) struct ErrorBody {
    pub message: Option<String>,
    pub code: Option<i64>,
    pub retry_after: Option<f64>,
    pub global: Option<bool>,
}

/// Unix seconds encoded in a snowflake (ms since the Discord epoch, 2015).
pub(crate) fn snowflake_time(id: &str) -> f64 {
    id.parse::<u64>().map(|n| ((n >> 22) + 1_420_070_400_000) as f64 / 1000.0).unwrap_or(0.0)
}
