//! Scripted replies of the fake LLM and how they are written: SSE `chat.completion.chunk`s for
//! streaming requests, one `chat.completion` object otherwise, or an error status.

use std::time::Duration;

use crate::gate::Gate;
use crate::json::esc;

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Text(String),
    ToolCalls(Vec<(String, String)>),
    Status(u16, String),
    RawSse(String),
}

/// One scripted answer to a chat completion request.
#[derive(Clone)]
pub struct Reply {
    pub(crate) kind: Kind,
    pub(crate) chunks: usize,
    pub(crate) delay: Duration,
    pub(crate) gate: Option<Gate>,
    pub(crate) stall: bool,
    pub(crate) cut: bool,
    pub(crate) retry_after: Option<u64>,
    /// Prompt-cache tokens reported in the usage: (read, written).
    pub(crate) cache: Option<(u64, u64)>,
}

impl Reply {
    fn of(kind: Kind) -> Reply {
        Reply {
            kind,
            chunks: 4,
            delay: Duration::ZERO,
            gate: None,
            stall: false,
            cut: false,
            retry_after: None,
            cache: None,
        }
    }

    /// Assistant text; streamed as ~4 content deltas (see [`Reply::chunks`]).
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::of(Kind::Text(text.into()))
    }

    /// One tool call (`finish_reason: "tool_calls"`); the id is `call_N`, N counting per fake from 1.
    /// Streamed as a header delta then the arguments split across 2 deltas.
    pub fn tool_call(name: &str, args_json: &str) -> Reply {
        Reply::tool_calls(&[(name, args_json)])
    }

    /// Several tool calls in one assistant message (parallel calls).
    pub fn tool_calls(calls: &[(&str, &str)]) -> Reply {
        Reply::of(Kind::ToolCalls(calls.iter().map(|(n, a)| (n.to_string(), a.to_string())).collect()))
    }

    /// An HTTP error with this body (e.g. 429, 500); see [`Reply::retry_after`].
    pub fn status(code: u16, body: &str) -> Reply {
        Reply::of(Kind::Status(code, body.to_string()))
    }

    /// Streams a first chunk and then never finishes until the client disconnects.
    pub fn stall_after_first_chunk() -> Reply {
        let mut r = Reply::text("This reply stalls after its first chunk and never ends.");
        r.stall = true;
        r
    }

    /// Sends this exact text as the (chunked, `text/event-stream`) body: for malformed streams.
    pub fn raw_sse(body: &str) -> Reply {
        Reply::of(Kind::RawSse(body.to_string()))
    }

    /// Number of content deltas the text is split into (at least 1).
    pub fn chunks(mut self, n: usize) -> Reply {
        self.chunks = n.max(1);
        self
    }

    /// Pause between chunks.
    pub fn chunk_delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    /// Sends the first chunk, then waits for the gate before the rest (non-streaming requests
    /// wait before answering at all). Gives up if the client disconnects.
    pub fn hold(mut self, gate: &Gate) -> Reply {
        self.gate = Some(gate.clone());
        self
    }

    /// After the first chunk, stall until the client disconnects.
    pub fn stall(mut self) -> Reply {
        self.stall = true;
        self
    }

    /// After the first chunk, drop the connection without ending the response.
    pub fn cut_after_first_chunk(mut self) -> Reply {
        self.cut = true;
        self
    }

    /// Reports prompt-cache tokens in the usage: OpenAI `prompt_tokens_details.cached_tokens`
    /// (`read`), Anthropic `cache_read_input_tokens` / `cache_creation_input_tokens`.
    pub fn cache_tokens(mut self, read: u64, write: u64) -> Reply {
        self.cache = Some((read, write));
        self
    }

    /// Adds a `Retry-After: secs` header (for status replies).
    pub fn retry_after(mut self, secs: u64) -> Reply {
        self.retry_after = Some(secs);
        self
    }
}

/// What a request needs to know to render a reply.
pub(crate) struct Ctx<'a> {
    pub id: u64,
    pub model: &'a str,
    pub created: u64,
    pub prompt_tokens: usize,
    pub include_usage: bool,
    /// The first tool call number for this reply (`call_N`).
    pub first_call: u64,
}

/// Splits text into `n` pieces on char boundaries, all non-empty when possible.
pub(crate) fn split_text(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    let n = n.clamp(1, chars.len());
    let (base, extra) = (chars.len() / n, chars.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut at = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        out.push(chars[at..at + len].iter().collect());
        at += len;
    }
    out
}

pub(crate) fn tokens(s: &str) -> usize {
    s.chars().count().div_ceil(4).max(1)
}

fn usage(prompt: usize, completion: usize) -> String {
    format!(r#"{{"prompt_tokens":{prompt},"completion_tokens":{completion},"total_tokens":{}}}"#, prompt + completion)
}

impl Ctx<'_> {
    fn chunk(&self, delta: &str, finish: Option<&str>, usage: Option<&str>) -> String {
        let finish = finish.map(esc).unwrap_or_else(|| "null".into());
        let usage = usage.map(|u| format!(r#","usage":{u}"#)).unwrap_or_default();
        format!(
            r#"data: {{"id":"chatcmpl-{}","object":"chat.completion.chunk","created":{},"model":{},"choices":[{{"index":0,"delta":{delta},"finish_reason":{finish}}}]{usage}}}"#,
            self.id,
            self.created,
            esc(self.model)
        ) + "\n\n"
    }

    fn usage_of(&self, reply: &Reply, completion: usize) -> String {
        let u = usage(self.prompt_tokens, completion);
        match reply.cache {
            Some((read, _)) => format!(r#"{},"prompt_tokens_details":{{"cached_tokens":{read}}}}}"#, &u[..u.len() - 1]),
            None => u,
        }
    }

    /// The end of a stream: finish chunk, usage (its own chunk with `choices: []` when the request
    /// asked for `stream_options.include_usage`, as OpenAI does; else on the finish chunk, as
    /// llama.cpp does), then `[DONE]`.
    fn tail(&self, reply: &Reply, finish: &str, completion: usize) -> Vec<String> {
        let u = self.usage_of(reply, completion);
        let mut out = Vec::new();
        if self.include_usage {
            out.push(self.chunk("{}", Some(finish), None));
            out.push(format!(
                r#"data: {{"id":"chatcmpl-{}","object":"chat.completion.chunk","created":{},"model":{},"choices":[],"usage":{u}}}"#,
                self.id,
                self.created,
                esc(self.model)
            ) + "\n\n");
        } else {
            out.push(self.chunk("{}", Some(finish), Some(&u)));
        }
        out.push("data: [DONE]\n\n".into());
        out
    }

    /// The SSE events of a streamed reply; the first element is "the first chunk" for hold/stall.
    pub fn sse_events(&self, reply: &Reply) -> Vec<String> {
        match &reply.kind {
            Kind::Text(text) => {
                let parts = split_text(text, reply.chunks);
                let mut out = Vec::new();
                for (i, p) in parts.iter().enumerate() {
                    let delta = if i == 0 {
                        format!(r#"{{"role":"assistant","content":{}}}"#, esc(p))
                    } else {
                        format!(r#"{{"content":{}}}"#, esc(p))
                    };
                    out.push(self.chunk(&delta, None, None));
                }
                out.extend(self.tail(reply, "stop", tokens(text)));
                out
            }
            Kind::ToolCalls(calls) => {
                let mut out = Vec::new();
                let mut completion = 0;
                for (i, (name, args)) in calls.iter().enumerate() {
                    let role = if i == 0 { r#""role":"assistant","content":null,"# } else { "" };
                    let head = format!(
                        r#"{{{role}"tool_calls":[{{"index":{i},"id":"call_{}","type":"function","function":{{"name":{},"arguments":""}}}}]}}"#,
                        self.first_call + i as u64,
                        esc(name)
                    );
                    out.push(self.chunk(&head, None, None));
                    for part in split_text(args, 2) {
                        let d =
                            format!(r#"{{"tool_calls":[{{"index":{i},"function":{{"arguments":{}}}}}]}}"#, esc(&part));
                        out.push(self.chunk(&d, None, None));
                    }
                    completion += tokens(args) + tokens(name);
                }
                out.extend(self.tail(reply, "tool_calls", completion));
                out
            }
            Kind::RawSse(body) => vec![body.clone()],
            Kind::Status(..) => Vec::new(),
        }
    }

    /// A non-streamed `chat.completion` object.
    pub fn completion(&self, reply: &Reply) -> String {
        let (message, finish, completion) = match &reply.kind {
            Kind::Text(text) => (format!(r#"{{"role":"assistant","content":{}}}"#, esc(text)), "stop", tokens(text)),
            Kind::ToolCalls(calls) => {
                let list: Vec<String> = calls
                    .iter()
                    .enumerate()
                    .map(|(i, (name, args))| {
                        format!(
                            r#"{{"id":"call_{}","type":"function","function":{{"name":{},"arguments":{}}}}}"#,
                            self.first_call + i as u64,
                            esc(name),
                            esc(args)
                        )
                    })
                    .collect();
                let n = calls.iter().map(|(n, a)| tokens(n) + tokens(a)).sum();
                (format!(r#"{{"role":"assistant","content":null,"tool_calls":[{}]}}"#, list.join(",")), "tool_calls", n)
            }
            Kind::RawSse(body) => return body.clone(),
            Kind::Status(_, body) => return body.clone(),
        };
        format!(
            r#"{{"id":"chatcmpl-{}","object":"chat.completion","created":{},"model":{},"choices":[{{"index":0,"message":{message},"finish_reason":"{finish}"}}],"usage":{}}}"#,
            self.id,
            self.created,
            esc(self.model),
            usage(self.prompt_tokens, completion)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::split_text;

    #[test]
    fn split_keeps_text_and_char_boundaries() {
        for (text, n) in [("hello world", 4), ("é🙂ab", 3), ("ab", 5), ("", 4), ("x", 1)] {
            let parts = split_text(text, n);
            assert_eq!(parts.concat(), text);
            assert!(parts.len() <= n.max(1));
            if text.chars().count() >= n {
                assert_eq!(parts.len(), n);
                assert!(parts.iter().all(|p| !p.is_empty()));
            }
        }
    }
}
