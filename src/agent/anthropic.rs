//! The Anthropic Messages API at the edge (A1, AD §1.3): canonical OpenAI-shape messages are
//! translated into a `/v1/messages` body, and the `message_start … message_stop` event stream
//! is read back into the same [`Answer`] the OpenAI path fills.
//!
//! Request: the system prompt becomes top-level `system` blocks; assistant `tool_calls` become
//! `tool_use` blocks with parsed input; `tool` messages become `tool_result` blocks of a user
//! message (consecutive results share one); consecutive same-role messages merge; thinking
//! blocks go back unchanged before the text; prompt-cache breakpoints sit on the system prompt
//! and the last two user turns.

use miniserde::json::{Array, Number, Object, Value};

use super::message::{ChatMessage, Role, int_field, str_field};
use super::provider::{Answer, ChatRequest, MAX_ANSWER_BYTES, Provider, Step};

/// The output cap when `model.max_tokens` is not set (the API requires one).
const DEFAULT_MAX_TOKENS: u64 = 8192;

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    let mut o = Object::new();
    for (k, v) in pairs {
        o.insert(k.to_string(), v);
    }
    Value::Object(o)
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn text_block(text: &str) -> Value {
    obj(vec![("type", s("text")), ("text", s(text))])
}

fn ephemeral() -> Value {
    obj(vec![("type", s("ephemeral"))])
}

/// `/reasoning` effort → thinking budget tokens (AD §1.3); `None` = no extended thinking.
fn thinking_budget(effort: Option<&str>) -> Option<u64> {
    match effort? {
        "minimal" | "low" => Some(4000),
        "medium" => Some(8000),
        "high" => Some(16000),
        "xhigh" => Some(32000),
        _ => None,
    }
}

pub(super) fn body(p: &Provider, request: &ChatRequest) -> Value {
    let (system, messages) = translate(&request.messages);
    let mut o = Object::new();
    o.insert("model".into(), s(&p.model));
    let mut max_tokens = p.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if let Some(budget) = thinking_budget(p.reasoning_effort.as_deref()) {
        max_tokens = max_tokens.max(budget + 4096);
        let thinking = obj(vec![("type", s("enabled")), ("budget_tokens", Value::Number(Number::U64(budget)))]);
        o.insert("thinking".into(), thinking);
    }
    o.insert("max_tokens".into(), Value::Number(Number::U64(max_tokens)));
    if !system.is_empty() {
        o.insert("system".into(), Value::Array(system));
    }
    o.insert("messages".into(), Value::Array(messages));
    if let Some(Value::Array(tools)) = &request.tools {
        o.insert("tools".into(), Value::Array(tools.iter().filter_map(tool).collect()));
    }
    o.insert("stream".into(), Value::Bool(true));
    Value::Object(o)
}

/// An OpenAI `{"type":"function","function":{name,description,parameters}}` entry as
/// `{name, description, input_schema}`.
fn tool(t: &Value) -> Option<Value> {
    let Value::Object(t) = t else { return None };
    let Some(Value::Object(f)) = t.get("function") else { return None };
    let schema = f.get("parameters").cloned().unwrap_or_else(|| obj(vec![("type", s("object"))]));
    Some(obj(vec![
        ("name", s(&str_field(f, "name")?)),
        ("description", s(&str_field(f, "description").unwrap_or_default())),
        ("input_schema", schema),
    ]))
}

/// Canonical messages → (`system` blocks, `messages`).
pub(super) fn translate(messages: &[ChatMessage]) -> (Array, Array) {
    let mut system_text = String::new();
    let mut out: Vec<(&'static str, Array)> = Vec::new();
    for m in messages {
        let text = m.content.as_deref().unwrap_or("");
        let (role, blocks) = match m.role {
            Role::System => {
                if !system_text.is_empty() {
                    system_text.push_str("\n\n");
                }
                system_text.push_str(text);
                continue;
            }
            Role::User => ("user", non_empty_text(text)),
            Role::Assistant => ("assistant", assistant_blocks(m)),
            Role::Tool => {
                let result = obj(vec![
                    ("type", s("tool_result")),
                    ("tool_use_id", s(m.tool_call_id.as_deref().unwrap_or(""))),
                    ("content", s(text)),
                ]);
                ("user", vec![result])
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last, prev)) if *last == role => prev.extend(blocks),
            _ => out.push((role, blocks.into_iter().collect())),
        }
    }
    // Breakpoints on the last block of the last two user turns.
    for (_, blocks) in out.iter_mut().rev().filter(|(role, _)| *role == "user").take(2) {
        if let Some(Value::Object(b)) = blocks.last_mut() {
            b.insert("cache_control".into(), ephemeral());
        }
    }
    let mut system = Array::new();
    if !system_text.is_empty() {
        system.push(obj(vec![("type", s("text")), ("text", s(&system_text)), ("cache_control", ephemeral())]));
    }
    let messages =
        out.into_iter().map(|(role, blocks)| obj(vec![("role", s(role)), ("content", Value::Array(blocks))])).collect();
    (system, messages)
}

fn non_empty_text(text: &str) -> Vec<Value> {
    if text.trim().is_empty() { Vec::new() } else { vec![text_block(text)] }
}

/// Thinking blocks (unchanged), then the text, then one `tool_use` per call.
fn assistant_blocks(m: &ChatMessage) -> Vec<Value> {
    let mut blocks = Vec::new();
    if let Some(Ok(Value::Array(thinking))) = m.thinking.as_deref().map(miniserde::json::from_str::<Value>) {
        blocks.extend(thinking);
    }
    blocks.extend(non_empty_text(m.content.as_deref().unwrap_or("")));
    for call in &m.tool_calls {
        // Arguments the model wrote as invalid JSON go back as an empty input: the tool already
        // answered that they were wrong.
        let input = match miniserde::json::from_str::<Value>(&call.arguments) {
            Ok(Value::Object(o)) => Value::Object(o),
            _ => Value::Object(Object::new()),
        };
        blocks.push(obj(vec![("type", s("tool_use")), ("id", s(&call.id)), ("name", s(&call.name)), ("input", input)]));
    }
    blocks
}

/// What a content block of the stream is, by its index.
enum Block {
    Text,
    /// The position of its tool call in the answer.
    Tool(usize),
    /// A thinking (or redacted thinking) block being collected, passed back verbatim.
    Thinking(Object),
    Other,
}

/// The stream parser's state: the content blocks seen so far.
#[derive(Default)]
pub(super) struct Blocks {
    blocks: Vec<Block>,
    tools: usize,
    thinking_bytes: usize,
}

impl Blocks {
    /// Takes one SSE event (`event:` name and `data:` payload).
    pub fn absorb(&mut self, answer: &mut Answer, name: &str, data: &str) -> Step {
        let event = match miniserde::json::from_str::<Value>(data) {
            Ok(Value::Object(o)) => o,
            _ if name == "ping" || data.is_empty() => return Step::More,
            _ => {
                let shown: String = data.chars().take(80).collect();
                return Step::Malformed(format!("the Anthropic server sent malformed stream data: {shown:?}"));
            }
        };
        let kind = str_field(&event, "type").unwrap_or_else(|| name.to_string());
        let index = int_field(&event, "index").unwrap_or(0).clamp(0, 255) as usize;
        match kind.as_str() {
            "message_start" => {
                if let Some(Value::Object(m)) = event.get("message")
                    && let Some(Value::Object(u)) = m.get("usage")
                {
                    read_usage(answer, u);
                }
                Step::More
            }
            "content_block_start" => {
                let Some(Value::Object(b)) = event.get("content_block") else { return Step::More };
                self.start(answer, index, b)
            }
            "content_block_delta" => {
                let Some(Value::Object(d)) = event.get("delta") else { return Step::More };
                self.delta(answer, index, d)
            }
            "content_block_stop" => {
                if let Some(slot) = self.blocks.get_mut(index)
                    && let Block::Thinking(t) = std::mem::replace(slot, Block::Other)
                {
                    answer.thinking.push(Value::Object(t));
                }
                Step::More
            }
            "message_delta" => {
                if let Some(Value::Object(d)) = event.get("delta")
                    && let Some(reason) = str_field(d, "stop_reason")
                {
                    answer.finish_reason = Some(finish_reason(&reason).to_string());
                }
                if let Some(Value::Object(u)) = event.get("usage") {
                    read_usage(answer, u);
                }
                Step::More
            }
            "message_stop" => Step::End,
            "error" => {
                let msg = match event.get("error") {
                    Some(Value::Object(e)) => str_field(e, "message").unwrap_or_else(|| "unknown error".into()),
                    _ => "unknown error".into(),
                };
                Step::Error(format!("the model provider reported an error mid-stream: {msg}"))
            }
            _ => Step::More,
        }
    }

    fn start(&mut self, answer: &mut Answer, index: usize, b: &Object) -> Step {
        while self.blocks.len() <= index {
            self.blocks.push(Block::Other);
        }
        let (block, step) = match str_field(b, "type").as_deref() {
            Some("text") => (Block::Text, answer.push_text(&str_field(b, "text").unwrap_or_default())),
            Some("tool_use") => {
                let n = self.tools;
                self.tools += 1;
                let slot = answer.call(n);
                slot.0 = str_field(b, "id").unwrap_or_default();
                slot.1 = str_field(b, "name").unwrap_or_default();
                if let Some(Value::Object(input)) = b.get("input")
                    && !input.is_empty()
                {
                    slot.2 = miniserde::json::to_string(&Value::Object(input.clone()));
                }
                (Block::Tool(n), Step::More)
            }
            Some("thinking" | "redacted_thinking") => (Block::Thinking(b.clone()), Step::More),
            _ => (Block::Other, Step::More),
        };
        self.blocks[index] = block;
        step
    }

    fn delta(&mut self, answer: &mut Answer, index: usize, d: &Object) -> Step {
        let piece = |key: &str| str_field(d, key).unwrap_or_default();
        match (self.blocks.get_mut(index), str_field(d, "type").as_deref()) {
            (Some(Block::Text), Some("text_delta")) => answer.push_text(&piece("text")),
            (Some(Block::Tool(n)), Some("input_json_delta")) => {
                answer.call(*n).2.push_str(&piece("partial_json"));
                match answer.check_args() {
                    Ok(()) => Step::More,
                    Err(e) => Step::Malformed(e),
                }
            }
            (Some(Block::Thinking(t)), Some(kind @ ("thinking_delta" | "signature_delta"))) => {
                let key = if kind == "thinking_delta" { "thinking" } else { "signature" };
                let add = piece(key);
                self.thinking_bytes += add.len();
                if self.thinking_bytes > MAX_ANSWER_BYTES {
                    return Step::Malformed("the model's thinking is too large".into());
                }
                let mut text = str_field(t, key).unwrap_or_default();
                text.push_str(&add);
                t.insert(key.to_string(), Value::String(text));
                Step::More
            }
            _ => Step::More,
        }
    }
}

/// Anthropic stop reasons in OpenAI words.
fn finish_reason(reason: &str) -> &str {
    match reason {
        "end_turn" | "stop_sequence" => "stop",
        "tool_use" => "tool_calls",
        "max_tokens" => "length",
        other => other,
    }
}

/// `message_start` carries the input side, `message_delta` the (cumulative) output side; a
/// field missing from an event leaves what an earlier event said.
fn read_usage(answer: &mut Answer, u: &Object) {
    let usage = &mut answer.usage;
    for (key, slot) in [
        ("input_tokens", &mut usage.input_tokens),
        ("output_tokens", &mut usage.output_tokens),
        ("cache_read_input_tokens", &mut usage.cache_read_tokens),
        ("cache_creation_input_tokens", &mut usage.cache_write_tokens),
    ] {
        if let Some(n) = int_field(u, key) {
            *slot = n;
        }
    }
}

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;
