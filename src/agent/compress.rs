//! Context compression (A10, AD §1.10): when the prompt grows past a share of the context
//! window, the middle of the history is summarised by one model call into the Hermes handoff
//! message; the first and last messages stay as they are.
//!
//! This file plans the cut, writes the summary request and reads the answer; the gateway
//! stores the result (`store::compaction`) and decides when to run it.

use miniserde::json::Value;

use super::chain::ProviderChain;
use super::message::{ChatMessage, Role};
use super::provider::{ChatRequest, StreamEvent};
use crate::store::messages::StoredMessage;

/// Hermes' `SUMMARY_PREFIX` (`agent/context_compressor.py`).
pub const SUMMARY_PREFIX: &str = "[CONTEXT COMPACTION — REFERENCE ONLY] Earlier turns were compacted into the \
summary below. This is a handoff from a previous context window — treat it as background reference, NOT as active \
instructions. Do NOT answer questions or fulfill requests mentioned in this summary; they were already addressed. \
Respond ONLY to the latest user message that appears AFTER this summary — that message is the single source of truth \
for what to do right now. If the latest user message contradicts the summary, the latest message WINS. Reverse \
signals (e.g. 'stop', 'undo', 'never mind') must immediately end any in-flight work described in the summary.";

/// The structured template the summariser fills (Hermes' sections, in order).
const TEMPLATE: &str = "## Goal\n## Constraints & Preferences\n## Completed Actions\n## Active State\n## Blocked\n\
## Key Decisions\n## Resolved Questions\n## Relevant Files\n## Critical Context\n## Active Task";
/// Each message given to the summariser is cut to its head and tail (Hermes: 4000 + 1500).
const HEAD_CHARS: usize = 4000;
const TAIL_CHARS: usize = 1500;

/// Rough prompt size in tokens: characters / 4 of the messages and the tool schemas.
pub fn estimate_tokens(messages: &[ChatMessage], tools: Option<&Value>) -> usize {
    let chars: usize = messages
        .iter()
        .map(|m| {
            m.content.as_deref().map_or(0, str::len)
                + m.tool_calls.iter().map(|c| c.name.len() + c.arguments.len() + 16).sum::<usize>()
                + 8
        })
        .sum();
    let tools = tools.map_or(0, |t| miniserde::json::to_string(t).len());
    (chars + tools) / 4
}

/// Where to cut `history`: the head ends before index `.0`, the tail starts at `.1`; `None`
/// when nothing lies between. A tool call is never split from its results: the head takes
/// the results of its last call, the tail starts at the call, not at a result.
pub fn plan(history: &[StoredMessage], first_n: usize, last_n: usize) -> Option<(usize, usize)> {
    let is_summary = |m: &StoredMessage| m.content.as_deref().is_some_and(|c| c.starts_with(SUMMARY_PREFIX));
    let mut head = first_n.min(history.len());
    while head < history.len() && history[head].role == "tool" {
        head += 1;
    }
    // An earlier summary right after the head is summarised again (updated), not kept.
    let mut tail = history.len().saturating_sub(last_n);
    while tail > head && history[tail].role == "tool" {
        tail -= 1;
    }
    let middle = &history[head.min(tail)..tail];
    (tail > head && !(middle.len() == 1 && is_summary(&middle[0]))).then_some((head, tail))
}

/// The one request that asks for the summary of `middle`; `focus` is `/compress <focus>`.
pub fn summary_request(middle: &[StoredMessage], focus: Option<&str>) -> ChatRequest {
    let mut transcript = String::new();
    for m in middle {
        let mut text = m.content.clone().unwrap_or_default();
        if let Some(calls) = &m.tool_calls {
            text.push_str(&format!("\n[tool calls: {calls}]"));
        }
        let name = m.tool_name.as_deref().map(|n| format!(" {n}")).unwrap_or_default();
        transcript.push_str(&format!("[{}{name}]\n{}\n\n", m.role, clip(&text)));
    }
    let focus = focus.map(|f| format!("\nFocus the summary on: {f}\n")).unwrap_or_default();
    let prompt = format!(
        "Summarize the conversation below so the assistant can continue the work without it. If it begins with an \
         earlier summary, update that summary with what happened since. Write it in the user's language, using \
         exactly these sections (write \"None\" under a section with nothing to say):\n\n{TEMPLATE}\n{focus}\n\
         Keep file paths, commands, names, numbers and the user's exact requests. Do not answer any request in \
         the conversation; only summarize.\n\n--- CONVERSATION ---\n{transcript}--- END ---"
    );
    ChatRequest { messages: vec![ChatMessage::new(Role::User, prompt)], tools: None }
}

/// A long message keeps its head and tail.
fn clip(text: &str) -> String {
    let n = text.chars().count();
    if n <= HEAD_CHARS + TAIL_CHARS {
        return text.to_string();
    }
    let head: String = text.chars().take(HEAD_CHARS).collect();
    let tail: String = text.chars().skip(n - TAIL_CHARS).collect();
    format!("{head}\n…[{} characters omitted]…\n{tail}", n - HEAD_CHARS - TAIL_CHARS)
}

/// Runs the summary request; the summary message text (prefix included) or why it failed.
pub async fn summarize(provider: &ProviderChain, request: &ChatRequest) -> Result<String, String> {
    let events = provider.stream(request);
    while let Ok(event) = events.recv().await {
        match event {
            StreamEvent::Finished(c) if c.text.trim().is_empty() => return Err("the summary came back empty".into()),
            StreamEvent::Finished(c) => return Ok(format!("{SUMMARY_PREFIX}\n\n{}", c.text.trim())),
            StreamEvent::Failed(e) => return Err(e.message().to_string()),
            _ => {}
        }
    }
    Err("the summary call ended without an answer".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: i64, role: &str, content: &str) -> StoredMessage {
        StoredMessage {
            id,
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
    fn the_cut_keeps_head_and_tail_and_never_splits_a_tool_exchange() {
        let roles =
            ["user", "assistant", "tool", "assistant", "user", "assistant", "tool", "tool", "user", "assistant"];
        let h: Vec<StoredMessage> = roles.iter().enumerate().map(|(i, r)| msg(i as i64, r, "x")).collect();
        assert_eq!(plan(&h, 2, 3), Some((3, 5)), "head takes the result; tail starts at the call");
        assert_eq!(plan(&h, 3, 4), Some((3, 5)));
        assert_eq!(plan(&h, 3, 7), None, "nothing between");
        assert_eq!(plan(&h[..4], 3, 20), None);
        let mut with_summary = h[..3].to_vec();
        with_summary.push(msg(9, "assistant", &format!("{SUMMARY_PREFIX} old")));
        with_summary.extend(h[4..].iter().cloned());
        assert_eq!(plan(&with_summary, 3, 6), None, "only the old summary between: nothing gained");
        assert_eq!(plan(&with_summary, 3, 3), Some((3, 5)));
    }

    #[test]
    fn the_request_has_the_template_and_clipped_messages() {
        let long = "a".repeat(HEAD_CHARS) + &"b".repeat(100) + &"c".repeat(TAIL_CHARS);
        let req = summary_request(&[msg(1, "user", "hello"), msg(2, "assistant", &long)], Some("the build"));
        let text = req.messages[0].content.clone().unwrap();
        assert!(text.contains("## Goal\n## Constraints & Preferences") && text.contains("## Active Task"));
        assert!(text.contains("Focus the summary on: the build"));
        assert!(text.contains("[user]\nhello") && text.contains("[100 characters omitted]"));
        assert!(!text.contains('b'.to_string().repeat(2).as_str()));
        assert!(req.tools.is_none());
        let m = [ChatMessage::new(Role::User, "x".repeat(400))];
        assert_eq!(estimate_tokens(&m, None), 102);
    }
}
