//! The Bot API's JSON, kept private to this crate (teloxide's split of wire types and logic).
//!
//! Every field is an `Option` and unknown fields are ignored, so a new Bot API version or an
//! odd update does not break parsing. Request bodies are built as JSON objects with only the
//! fields that are set, because not every Bot API method accepts `null` for "absent".

use miniserde::Deserialize;
use miniserde::json::{Number, Object, Value};

/// A successful Bot API answer: `{"ok": true, "result": ...}` (the status is read by [`Head`]).
#[derive(Deserialize, Debug)]
pub(crate) struct Envelope<T> {
    pub result: Option<T>,
}

/// An answer's status fields without its `result`.
#[derive(Deserialize, Debug)]
pub(crate) struct Head {
    pub ok: Option<bool>,
    pub description: Option<String>,
    pub error_code: Option<i64>,
    pub parameters: Option<ResponseParameters>,
}

#[derive(Deserialize, Debug)]
pub(crate) struct ResponseParameters {
    pub retry_after: Option<u64>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct User {
    pub id: i64,
    pub is_bot: Option<bool>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct Chat {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub title: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub is_forum: Option<bool>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct MessageEntity {
    #[serde(rename = "type")]
    pub kind: String,
    /// In UTF-16 code units, as Telegram counts.
    pub offset: i64,
    pub length: i64,
    pub user: Option<User>,
}

/// A photo size, document, voice note, ...: what `getFile` will need.
#[derive(Deserialize, Debug, Clone)]
pub(crate) struct FileRef {
    pub file_id: String,
    pub mime_type: Option<String>,
    pub file_size: Option<u64>,
}

/// A reply's quoted message: the fields this crate reads (not recursive).
#[derive(Deserialize, Debug, Clone)]
pub(crate) struct RepliedMessage {
    pub message_id: i64,
    pub from: Option<User>,
    pub text: Option<String>,
    pub caption: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct Message {
    pub message_id: i64,
    pub message_thread_id: Option<i64>,
    pub is_topic_message: Option<bool>,
    pub from: Option<User>,
    pub chat: Chat,
    pub date: Option<i64>,
    pub edit_date: Option<i64>,
    pub reply_to_message: Option<RepliedMessage>,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub entities: Option<Vec<MessageEntity>>,
    pub caption_entities: Option<Vec<MessageEntity>>,
    pub photo: Option<Vec<FileRef>>,
    pub document: Option<FileRef>,
    pub audio: Option<FileRef>,
    pub voice: Option<FileRef>,
    pub video: Option<FileRef>,
    pub sticker: Option<FileRef>,
    pub location: Option<Location>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

/// The message a button was pressed under (the fields this crate reads).
#[derive(Deserialize, Debug, Clone)]
pub(crate) struct CallbackMessage {
    pub message_id: i64,
    pub message_thread_id: Option<i64>,
    pub chat: Chat,
    pub date: Option<i64>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct CallbackQuery {
    pub id: String,
    pub from: User,
    pub message: Option<CallbackMessage>,
    pub data: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct ReactionType {
    #[serde(rename = "type")]
    pub kind: String,
    pub emoji: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct MessageReaction {
    pub chat: Chat,
    pub message_id: i64,
    pub user: Option<User>,
    pub date: Option<i64>,
    pub old_reaction: Option<Vec<ReactionType>>,
    pub new_reaction: Option<Vec<ReactionType>>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct Update {
    pub update_id: i64,
    pub message: Option<Message>,
    pub edited_message: Option<Message>,
    pub callback_query: Option<CallbackQuery>,
    pub message_reaction: Option<MessageReaction>,
}

/// The `result` of `sendMessage` and friends: only the id matters.
#[derive(Deserialize, Debug)]
pub(crate) struct SentMessage {
    pub message_id: i64,
}

/// A JSON request body with only the fields that are set.
#[derive(Default)]
pub(crate) struct Body(Object);

impl Body {
    pub fn new() -> Self {
        Body::default()
    }

    pub fn str(mut self, key: &str, value: &str) -> Self {
        self.0.insert(key.to_string(), Value::String(value.to_string()));
        self
    }

    pub fn int(mut self, key: &str, value: i64) -> Self {
        self.0.insert(key.to_string(), Value::Number(Number::I64(value)));
        self
    }

    pub fn bool(mut self, key: &str, value: bool) -> Self {
        self.0.insert(key.to_string(), Value::Bool(value));
        self
    }

    pub fn value(mut self, key: &str, value: Value) -> Self {
        self.0.insert(key.to_string(), value);
        self
    }

    /// A chat id or message id as a number when it is one (Telegram's own type), else a string
    /// (`@channelname`).
    pub fn id(self, key: &str, id: &str) -> Self {
        match id.trim().parse::<i64>() {
            Ok(n) => self.int(key, n),
            Err(_) => self.str(key, id),
        }
    }

    pub fn opt_id(self, key: &str, id: Option<&str>) -> Self {
        match id {
            Some(id) => self.id(key, id),
            None => self,
        }
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }

    pub fn to_json(&self) -> String {
        miniserde::json::to_string(&self.0)
    }
}

/// A JSON array of values.
pub(crate) fn array(values: impl IntoIterator<Item = Value>) -> Value {
    let mut array = miniserde::json::Array::new();
    array.extend(values);
    Value::Array(array)
}

/// A JSON array of strings.
pub(crate) fn strings<'a>(values: impl IntoIterator<Item = &'a str>) -> Value {
    array(values.into_iter().map(|s| Value::String(s.to_string())))
}

/// Reads the integer `update_id` of a raw update, to name it in logs and move past it.
pub(crate) fn raw_update_id(value: &Value) -> Option<i64> {
    let Value::Object(object) = value else {
        return None;
    };
    match object.get("update_id")? {
        Value::Number(Number::I64(n)) => Some(*n),
        Value::Number(Number::U64(n)) => i64::try_from(*n).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_unknown_and_missing_fields() {
        let json = r#"{"update_id":7,"future_field":{"x":[1,2]},"message":{"message_id":3,
            "chat":{"id":-100,"type":"supergroup","is_forum":true},"text":"hi","date":1}}"#;
        let update: Update = miniserde::json::from_str(json).unwrap();
        assert_eq!(update.update_id, 7);
        let message = update.message.unwrap();
        assert_eq!(message.chat.kind, "supergroup");
        assert!(message.from.is_none());
    }

    #[test]
    fn body_escapes_and_types_ids() {
        let body = Body::new().id("chat_id", "-1001").id("chat_id2", "@chan").str("text", "a \"b\"\n\\");
        assert_eq!(body.to_json(), r#"{"chat_id":-1001,"chat_id2":"@chan","text":"a \"b\"\n\\"}"#);
    }
}
