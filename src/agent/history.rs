//! Turning stored rows into the messages a model accepts.
//!
//! A crash can leave a transcript mid-exchange: an assistant message whose tool calls have no
//! results yet. Providers reject that, so every call without a result gets a placeholder result
//! saying it was interrupted, and results without a call are dropped. Nothing on disk changes.

use std::collections::HashSet;

use super::message::{ChatMessage, Role, parse_tool_calls};
use crate::store::messages::StoredMessage;

/// The result given to a tool call whose real result was lost.
pub const LOST_RESULT: &str =
    r#"{"error":"this tool call was interrupted before it finished (the gateway restarted)"}"#;

/// Converts stored rows, repairing broken tool exchanges.
pub fn to_chat(rows: &[StoredMessage]) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::with_capacity(rows.len());
    let mut open_calls: Vec<(String, String)> = Vec::new();
    let mut answered: HashSet<String> = HashSet::new();
    for row in rows {
        let Some(role) = Role::parse(&row.role) else { continue };
        if role == Role::Tool {
            let id = row.tool_call_id.clone().unwrap_or_default();
            if open_calls.iter().any(|(c, _)| *c == id) && answered.insert(id.clone()) {
                out.push(ChatMessage {
                    role,
                    content: Some(row.content.clone().unwrap_or_default()),
                    tool_calls: Vec::new(),
                    tool_call_id: Some(id),
                    name: row.tool_name.clone(),
                    thinking: None,
                });
            }
            continue;
        }
        close_open_calls(&mut out, &mut open_calls, &mut answered);
        if role == Role::System {
            continue;
        }
        let calls = row.tool_calls.as_deref().map(parse_tool_calls).unwrap_or_default();
        if role == Role::Assistant && !calls.is_empty() {
            open_calls = calls.iter().map(|c| (c.id.clone(), c.name.clone())).collect();
            out.push(ChatMessage::assistant_calls(row.content.clone().filter(|c| !c.is_empty()), calls));
        } else {
            out.push(ChatMessage::new(role, row.content.clone().unwrap_or_default()));
        }
    }
    close_open_calls(&mut out, &mut open_calls, &mut answered);
    out
}

fn close_open_calls(out: &mut Vec<ChatMessage>, open: &mut Vec<(String, String)>, answered: &mut HashSet<String>) {
    for (id, name) in open.drain(..) {
        if !answered.contains(&id) {
            out.push(ChatMessage {
                role: Role::Tool,
                content: Some(LOST_RESULT.to_string()),
                tool_calls: Vec::new(),
                tool_call_id: Some(id),
                name: Some(name),
                thinking: None,
            });
        }
    }
    answered.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(role: &str, content: &str) -> StoredMessage {
        StoredMessage {
            id: 0,
            role: role.into(),
            content: Some(content.into()),
            tool_calls: None,
            tool_call_id: None,
            tool_name: None,
            platform_message_id: None,
            created_at: 0.0,
            inbox_id: None,
        }
    }

    #[test]
    fn missing_tool_results_get_placeholders_and_strays_are_dropped() {
        let mut call = row("assistant", "");
        call.tool_calls = Some(r#"[{"id":"a","type":"function","function":{"name":"todo","arguments":"{}"}},{"id":"b","type":"function","function":{"name":"todo","arguments":"{}"}}]"#.into());
        let mut result_a = row("tool", "ok");
        result_a.tool_call_id = Some("a".into());
        let mut stray = row("tool", "stray");
        stray.tool_call_id = Some("zzz".into());
        let rows = vec![row("user", "hi"), call, result_a, stray, row("user", "again")];
        let chat = to_chat(&rows);
        let roles: Vec<&str> = chat.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, vec!["user", "assistant", "tool", "tool", "user"]);
        assert_eq!(chat[2].content.as_deref(), Some("ok"));
        assert_eq!(chat[3].tool_call_id.as_deref(), Some("b"));
        assert_eq!(chat[3].content.as_deref(), Some(LOST_RESULT));
        assert!(chat[1].content.is_none());
    }

    #[test]
    fn a_trailing_open_call_is_closed() {
        let mut call = row("assistant", "let me check");
        call.tool_calls = Some(r#"[{"id":"a","type":"function","function":{"name":"todo","arguments":"{}"}}]"#.into());
        let chat = to_chat(&[row("user", "hi"), call]);
        assert_eq!(chat.len(), 3);
        assert_eq!(chat[1].content.as_deref(), Some("let me check"));
        assert_eq!(chat[2].tool_call_id.as_deref(), Some("a"));
    }
}
