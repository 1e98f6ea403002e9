//! One streamed answer as it is collected, shared by both stream parsers.

use super::message::ToolCall;
use super::provider::{Completion, MAX_ANSWER_BYTES};
use crate::store::sessions::Usage;

/// What one stream event meant to the call.
pub(super) enum Step {
    More,
    /// Visible text to hand out.
    Text(String),
    /// The stream is complete.
    End,
    /// Data that is not what the protocol says.
    Malformed(String),
    /// The provider reported an error in the stream.
    Error(String),
}

/// One streamed answer as it is collected: text, tool calls (id, name, argument text) by
/// position, finish reason, usage, thinking blocks.
#[derive(Default)]
pub(super) struct Answer {
    pub text: String,
    pub delivered_text: bool,
    pub calls: Vec<(String, String, String)>,
    pub finish_reason: Option<String>,
    pub usage: Usage,
    pub thinking: Vec<miniserde::json::Value>,
}

impl Answer {
    /// Adds visible text (capped) and returns the step that hands it out.
    pub fn push_text(&mut self, s: &str) -> Step {
        if s.is_empty() {
            return Step::More;
        }
        if self.text.len() + s.len() > MAX_ANSWER_BYTES {
            return Step::Malformed("the model's answer is too large".into());
        }
        self.text.push_str(s);
        self.delivered_text = true;
        Step::Text(s.to_string())
    }

    /// The call at `index`, created (with empty slots before it) when new; capped positions.
    pub fn call(&mut self, index: usize) -> &mut (String, String, String) {
        let index = index.min(127);
        while self.calls.len() <= index {
            self.calls.push(Default::default());
        }
        &mut self.calls[index]
    }

    /// Checks the argument text of every call against the answer cap.
    pub fn check_args(&self) -> Result<(), String> {
        match self.calls.iter().any(|c| c.2.len() > MAX_ANSWER_BYTES) {
            true => Err("the model's tool call arguments are too large".into()),
            false => Ok(()),
        }
    }

    pub fn into_completion(self) -> Completion {
        let tool_calls = self
            .calls
            .into_iter()
            .enumerate()
            .filter(|(_, (_, name, _))| !name.is_empty())
            .map(|(i, (id, name, args))| ToolCall {
                id: if id.is_empty() { format!("call_{i}") } else { id },
                name,
                arguments: if args.trim().is_empty() { "{}".into() } else { args },
            })
            .collect();
        let thinking = (!self.thinking.is_empty())
            .then(|| miniserde::json::to_string(&miniserde::json::Value::Array(self.thinking.into_iter().collect())));
        Completion {
            text: self.text,
            tool_calls,
            finish_reason: self.finish_reason.unwrap_or_else(|| "stop".into()),
            usage: self.usage,
            thinking,
        }
    }
}
