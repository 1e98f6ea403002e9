//! The OpenAI-compatible wire form: `POST {base_url}/chat/completions` bodies and the
//! `chat.completion.chunk` stream (A1). Usage: `prompt_tokens`, `completion_tokens`,
//! `prompt_tokens_details.cached_tokens` (cache read),
//! `completion_tokens_details.reasoning_tokens`, and `cost` when the provider returns one
//! (OpenRouter).

use miniserde::json::{Array, Number, Object, Value};

use super::message::{int_field, str_field};
use super::provider::{Answer, ChatRequest, Provider, Step};

pub(super) fn body(p: &Provider, request: &ChatRequest) -> Value {
    let mut o = Object::new();
    o.insert("model".into(), Value::String(p.model.clone()));
    let mut messages = Array::new();
    for m in &request.messages {
        messages.push(m.to_json());
    }
    o.insert("messages".into(), Value::Array(messages));
    o.insert("stream".into(), Value::Bool(true));
    let mut opts = Object::new();
    opts.insert("include_usage".into(), Value::Bool(true));
    o.insert("stream_options".into(), Value::Object(opts));
    if let Some(tools) = &request.tools {
        o.insert("tools".into(), tools.clone());
    }
    if let Some(n) = p.max_tokens {
        o.insert("max_tokens".into(), Value::Number(Number::U64(n)));
    }
    if let Some(effort) = &p.reasoning_effort {
        o.insert("reasoning_effort".into(), Value::String(effort.clone()));
    }
    Value::Object(o)
}

/// Takes one `data:` payload of the stream.
pub(super) fn absorb(answer: &mut Answer, data: &str) -> Step {
    if data == "[DONE]" {
        return Step::End;
    }
    let chunk = match miniserde::json::from_str::<Value>(data) {
        Ok(Value::Object(o)) => o,
        _ => {
            let shown: String = data.chars().take(80).collect();
            return Step::Malformed(format!("the model server sent malformed stream data: {shown:?}"));
        }
    };
    if let Some(Value::Object(err)) = chunk.get("error") {
        let msg = str_field(err, "message").unwrap_or_else(|| "unknown error".into());
        return Step::Error(format!("the model provider reported an error mid-stream: {msg}"));
    }
    if let Some(Value::Object(u)) = chunk.get("usage") {
        read_usage(answer, u);
    }
    let Some(Value::Array(choices)) = chunk.get("choices") else { return Step::More };
    let Some(Value::Object(choice)) = choices.first() else { return Step::More };
    if let Some(reason) = str_field(choice, "finish_reason") {
        answer.finish_reason = Some(reason);
    }
    let Some(Value::Object(delta)) = choice.get("delta").or_else(|| choice.get("message")) else { return Step::More };
    if let Some(Value::Array(calls)) = delta.get("tool_calls") {
        for call in calls.iter() {
            let Value::Object(call) = call else { continue };
            let next = answer.calls.len() as i64;
            let slot = answer.call(int_field(call, "index").unwrap_or(next).max(0) as usize);
            if let Some(id) = str_field(call, "id") {
                slot.0 = id;
            }
            if let Some(Value::Object(f)) = call.get("function") {
                if let Some(name) = str_field(f, "name") {
                    slot.1.push_str(&name);
                }
                if let Some(args) = str_field(f, "arguments") {
                    slot.2.push_str(&args);
                }
            }
        }
        if let Err(e) = answer.check_args() {
            return Step::Malformed(e);
        }
    }
    match delta.get("content") {
        Some(Value::String(s)) => answer.push_text(s),
        _ => Step::More,
    }
}

fn read_usage(answer: &mut Answer, u: &Object) {
    let usage = &mut answer.usage;
    usage.input_tokens = int_field(u, "prompt_tokens").unwrap_or(0);
    usage.output_tokens = int_field(u, "completion_tokens").unwrap_or(0);
    if let Some(Value::Object(d)) = u.get("prompt_tokens_details") {
        usage.cache_read_tokens = int_field(d, "cached_tokens").unwrap_or(0);
        usage.cache_write_tokens = int_field(d, "cache_write_tokens").unwrap_or(0);
    }
    if let Some(Value::Object(d)) = u.get("completion_tokens_details") {
        usage.reasoning_tokens = int_field(d, "reasoning_tokens").unwrap_or(0);
    }
    usage.cost_usd = match u.get("cost") {
        Some(Value::Number(Number::F64(f))) if f.is_finite() && *f >= 0.0 => *f,
        Some(Value::Number(Number::U64(n))) => *n as f64,
        _ => 0.0,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::message::ToolCall;

    #[test]
    fn accumulates_text_tool_fragments_and_usage() {
        let mut answer = Answer::default();
        let chunks = [
            r#"{"choices":[{"delta":{"role":"assistant","content":"Hel"}}]}"#,
            r#"{"choices":[{"delta":{"content":"lo"}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"todo","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"to"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"dos\":[]}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2},"cost":0.0015}}"#,
        ];
        let mut shown = String::new();
        for c in chunks {
            if let Step::Text(t) = absorb(&mut answer, c) {
                shown.push_str(&t);
            }
        }
        assert!(matches!(absorb(&mut answer, "[DONE]"), Step::End));
        assert_eq!(shown, "Hello");
        let done = answer.into_completion();
        assert_eq!(
            done.tool_calls,
            vec![ToolCall { id: "c1".into(), name: "todo".into(), arguments: "{\"todos\":[]}".into() }]
        );
        assert_eq!(done.finish_reason, "tool_calls");
        let u = done.usage;
        assert_eq!((u.input_tokens, u.output_tokens, u.cache_read_tokens, u.reasoning_tokens), (12, 3, 4, 2));
        assert_eq!(u.cost_usd, 0.0015);
    }

    #[test]
    fn malformed_and_error_chunks_are_named() {
        let mut answer = Answer::default();
        assert!(matches!(absorb(&mut answer, "{nope"), Step::Malformed(m) if m.contains("malformed")));
        assert!(matches!(absorb(&mut answer, r#"{"error":{"message":"boom"}}"#), Step::Error(m) if m.contains("boom")));
    }
}
