//! The conversation as the agent sees it: OpenAI chat messages, the one canonical shape
//! (AD §1.3). Other wire protocols translate at the provider edge.

use miniserde::json::{Array, Number, Object, Value};

/// Who said a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "system" => Some(Role::System),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "tool" => Some(Role::Tool),
            _ => None,
        }
    }
}

/// A function call the model asked for. `arguments` is the JSON text as the model wrote it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// One chat message.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    /// For `Role::Tool`: the call this result answers.
    pub tool_call_id: Option<String>,
    /// For `Role::Tool`: the tool's name.
    pub name: Option<String>,
    /// For `Role::Assistant` over Anthropic: the thinking blocks of this message as a JSON
    /// array text, sent back unchanged with the tool results (never shown, not in OpenAI form).
    pub thinking: Option<String>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
            thinking: None,
        }
    }

    pub fn assistant_calls(content: Option<String>, calls: Vec<ToolCall>) -> Self {
        ChatMessage {
            role: Role::Assistant,
            content,
            tool_calls: calls,
            tool_call_id: None,
            name: None,
            thinking: None,
        }
    }

    pub fn tool_result(call: &ToolCall, content: String) -> Self {
        ChatMessage {
            role: Role::Tool,
            content: Some(content),
            tool_calls: Vec::new(),
            tool_call_id: Some(call.id.clone()),
            name: Some(call.name.clone()),
            thinking: None,
        }
    }

    /// The OpenAI wire form.
    pub fn to_json(&self) -> Value {
        let mut o = Object::new();
        o.insert("role".into(), Value::String(self.role.as_str().into()));
        match &self.content {
            Some(text) => o.insert("content".into(), Value::String(text.clone())),
            None => o.insert("content".into(), Value::Null),
        };
        if !self.tool_calls.is_empty() {
            o.insert("tool_calls".into(), tool_calls_json(&self.tool_calls));
        }
        if let Some(id) = &self.tool_call_id {
            o.insert("tool_call_id".into(), Value::String(id.clone()));
        }
        if let Some(name) = &self.name {
            o.insert("name".into(), Value::String(name.clone()));
        }
        Value::Object(o)
    }
}

/// `[{"id","type":"function","function":{"name","arguments"}}]`
pub fn tool_calls_json(calls: &[ToolCall]) -> Value {
    let mut arr = Array::new();
    for c in calls {
        let mut f = Object::new();
        f.insert("name".into(), Value::String(c.name.clone()));
        f.insert("arguments".into(), Value::String(c.arguments.clone()));
        let mut o = Object::new();
        o.insert("id".into(), Value::String(c.id.clone()));
        o.insert("type".into(), Value::String("function".into()));
        o.insert("function".into(), Value::Object(f));
        arr.push(Value::Object(o));
    }
    Value::Array(arr)
}

/// Reads the stored JSON text of `tool_calls` back; unreadable entries are skipped.
pub fn parse_tool_calls(json: &str) -> Vec<ToolCall> {
    let Ok(Value::Array(items)) = miniserde::json::from_str::<Value>(json) else { return Vec::new() };
    items
        .iter()
        .filter_map(|item| {
            let Value::Object(o) = item else { return None };
            let id = str_field(o, "id")?;
            let Some(Value::Object(f)) = o.get("function") else { return None };
            Some(ToolCall {
                id,
                name: str_field(f, "name")?,
                arguments: str_field(f, "arguments").unwrap_or_else(|| "{}".into()),
            })
        })
        .collect()
}

/// A string field of a JSON object.
pub fn str_field(o: &Object, key: &str) -> Option<String> {
    match o.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// An integer field of a JSON object (any JSON number that is a whole number).
pub fn int_field(o: &Object, key: &str) -> Option<i64> {
    match o.get(key) {
        Some(Value::Number(Number::U64(n))) => i64::try_from(*n).ok(),
        Some(Value::Number(Number::I64(n))) => Some(*n),
        Some(Value::Number(Number::F64(f))) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_round_trip_through_stored_json() {
        let calls = vec![ToolCall { id: "c1".into(), name: "todo".into(), arguments: "{\"todos\":[]}".into() }];
        let text = miniserde::json::to_string(&tool_calls_json(&calls));
        assert_eq!(parse_tool_calls(&text), calls);
        assert!(parse_tool_calls("not json").is_empty());
    }

    #[test]
    fn wire_form_has_null_content_for_pure_tool_calls() {
        let m = ChatMessage::assistant_calls(
            None,
            vec![ToolCall { id: "c".into(), name: "x".into(), arguments: "{}".into() }],
        );
        let json = miniserde::json::to_string(&m.to_json());
        assert!(json.contains("\"content\":null"), "{json}");
        assert!(json.contains("\"type\":\"function\""), "{json}");
    }
}
