//! The OpenAI-compatible chat completions client (A1, A3).
//!
//! Each model call runs on its own thread (a stream can last minutes; it must not pin a slot of
//! the small blocking pool) and reports through a bounded channel: text deltas as they arrive,
//! then one `Finished` with the tool calls and usage, or one `Failed`. The thread retries
//! retryable failures itself (408/409/425/429/5xx and transport errors, honouring
//! `Retry-After`) as long as no text has been handed out; once text is out, a broken stream ends
//! as `Interrupted` with the partial text kept by the caller. Dropping the receiver cancels the
//! call at the next chunk.

use std::io::Read;
use std::thread;
use std::time::{Duration, Instant};

use hermes_platform::backoff::Backoff;
use hermes_platform::http::{AgentOptions, HttpContext};
use miniserde::json::{Array, Number, Object, Value};

use super::message::{ChatMessage, ToolCall, int_field, str_field};
use super::sse::SseReader;
use crate::config::ModelConfig;
use crate::store::sessions::Usage;

/// What a model call reports, in order: any number of `Text`/`Retrying`, then one of
/// `Finished` or `Failed`.
#[derive(Debug)]
pub enum StreamEvent {
    Text(String),
    /// A retryable failure; the call will be tried again after `wait`.
    Retrying {
        attempt: u32,
        wait: Duration,
        reason: String,
    },
    Finished(Completion),
    Failed(ProviderError),
}

/// The end of a successful call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Completion {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: String,
    pub usage: Usage,
}

/// Why a model call failed, in words a user can act on.
#[derive(Clone, Debug, PartialEq)]
pub enum ProviderError {
    /// 401/403: the key is wrong.
    Auth(String),
    /// 404: unknown model or wrong base URL.
    NotFound(String),
    /// 400 that says the prompt is too long.
    ContextTooLong(String),
    /// Another 400.
    BadRequest(String),
    /// 429 after every retry.
    RateLimited(String),
    /// 5xx, timeouts or transport errors after every retry.
    Unavailable(String),
    /// The server answered with something that is not a valid stream.
    Protocol(String),
    /// The stream broke after text was delivered; the partial text stands.
    Interrupted(String),
}

impl ProviderError {
    /// True when another provider could serve the turn (not a malformed request).
    pub fn message(&self) -> &str {
        match self {
            ProviderError::Auth(m)
            | ProviderError::NotFound(m)
            | ProviderError::ContextTooLong(m)
            | ProviderError::BadRequest(m)
            | ProviderError::RateLimited(m)
            | ProviderError::Unavailable(m)
            | ProviderError::Protocol(m)
            | ProviderError::Interrupted(m) => m,
        }
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// One request: the messages and the tool schemas (an array of OpenAI `tools` entries).
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub tools: Option<Value>,
}

/// The largest single SSE event and the largest answer we accept (memory stays bounded).
const MAX_EVENT_BYTES: usize = 1 << 20;
const MAX_ANSWER_BYTES: usize = 4 << 20;
/// Deltas buffered between the stream thread and the turn (backpressure beyond that).
const CHANNEL_CAP: usize = 64;

/// A configured OpenAI-compatible endpoint. Cheap to clone.
#[derive(Clone)]
pub struct Provider {
    agent: ureq::Agent,
    url: String,
    base_url: String,
    api_key: Option<String>,
    model: String,
    max_tokens: Option<u64>,
    /// `reasoning_effort` sent with each request (`/reasoning`), when set.
    reasoning_effort: Option<String>,
    retries: u32,
    key_hint: String,
}

impl Provider {
    /// `key_hint` names where the key comes from, for the 401 message.
    pub fn new(
        http: &HttpContext,
        model: &ModelConfig,
        retries: u32,
        read_timeout: Duration,
        key_hint: &str,
    ) -> Provider {
        let agent = http.agent(&AgentOptions {
            connect_timeout: Some(Duration::from_secs(10)),
            response_timeout: Some(read_timeout),
            read_timeout: Some(read_timeout),
            global_timeout: Some(Duration::from_secs(1800)),
            proxy: None,
            allow_address: None,
        });
        Provider {
            agent,
            url: format!("{}/chat/completions", model.base_url),
            base_url: model.base_url.clone(),
            api_key: model.api_key.clone(),
            model: model.name.clone(),
            max_tokens: model.max_tokens,
            reasoning_effort: None,
            retries: retries.max(1),
            key_hint: key_hint.to_string(),
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// This endpoint with a session's own model and reasoning effort (`/model`, `/reasoning`).
    pub fn for_session(&self, model: &str, reasoning_effort: Option<&str>) -> Provider {
        let mut p = self.clone();
        p.model = model.to_string();
        p.reasoning_effort = reasoning_effort.map(str::to_string);
        p
    }

    /// Starts a streaming call on its own thread.
    pub fn stream(&self, request: &ChatRequest) -> async_channel::Receiver<StreamEvent> {
        let (tx, rx) = async_channel::bounded(CHANNEL_CAP);
        let body = self.body(request);
        let this = self.clone();
        let spawned = thread::Builder::new().name("llm".into()).spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| this.run(&body, &tx)));
            if result.is_err() {
                let _ = tx.send_blocking(StreamEvent::Failed(ProviderError::Protocol(
                    "internal error while reading the model's answer".into(),
                )));
            }
        });
        if let Err(e) = spawned {
            let (tx, rx) = async_channel::bounded(1);
            let _ = tx.try_send(StreamEvent::Failed(ProviderError::Unavailable(format!("cannot start a thread: {e}"))));
            return rx;
        }
        rx
    }

    fn body(&self, request: &ChatRequest) -> String {
        let mut o = Object::new();
        o.insert("model".into(), Value::String(self.model.clone()));
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
        if let Some(n) = self.max_tokens {
            o.insert("max_tokens".into(), Value::Number(Number::U64(n)));
        }
        if let Some(effort) = &self.reasoning_effort {
            o.insert("reasoning_effort".into(), Value::String(effort.clone()));
        }
        miniserde::json::to_string(&Value::Object(o))
    }

    /// The retry loop around one call.
    fn run(&self, body: &str, tx: &async_channel::Sender<StreamEvent>) {
        let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(60));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.attempt(body, tx);
            let failure = match outcome {
                Attempt::Done => return,
                Attempt::Cancelled => return,
                Attempt::Fatal(e) => {
                    let _ = tx.send_blocking(StreamEvent::Failed(e));
                    return;
                }
                Attempt::Retryable { error, retry_after } => (error, retry_after),
            };
            let (error, retry_after) = failure;
            if attempt > self.retries {
                let _ = tx.send_blocking(StreamEvent::Failed(error));
                return;
            }
            let wait = retry_after.unwrap_or_else(|| backoff.next_delay()).min(Duration::from_secs(120));
            log::warn!("model call failed ({error}); retry {attempt}/{} in {:.1} s", self.retries, wait.as_secs_f32());
            let event = StreamEvent::Retrying { attempt, wait, reason: error.to_string() };
            if tx.send_blocking(event).is_err() || !sleep_unless_closed(tx, wait) {
                return;
            }
        }
    }

    fn attempt(&self, body: &str, tx: &async_channel::Sender<StreamEvent>) -> Attempt {
        let mut req =
            self.agent.post(&self.url).header("Content-Type", "application/json").header("Accept", "text/event-stream");
        if let Some(key) = &self.api_key {
            req = req.header("Authorization", &format!("Bearer {key}"));
        }
        let response = match req.send(body) {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retryable {
                    error: ProviderError::Unavailable(format!(
                        "cannot reach the model server at {}: {}",
                        self.base_url,
                        describe_transport(&e)
                    )),
                    retry_after: None,
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let mut body_reader = response.into_body().into_reader();
        if status != 200 {
            let mut text = String::new();
            let _ = (&mut body_reader).take(64 * 1024).read_to_string(&mut text);
            return self.classify_status(status, &text, retry_after);
        }
        self.read_stream(body_reader, tx)
    }

    fn classify_status(&self, status: u16, body: &str, retry_after: Option<Duration>) -> Attempt {
        let detail = error_message(body);
        let said = if detail.is_empty() { String::new() } else { format!(": {detail}") };
        let error = match status {
            401 | 403 => ProviderError::Auth(format!(
                "the model provider rejected the API key (HTTP {status}){said}. Check {}",
                self.key_hint
            )),
            404 => ProviderError::NotFound(format!(
                "model \"{}\" or endpoint {} not found (HTTP 404){said}. Check model.default and model.base_url",
                self.model, self.url
            )),
            400 | 413 if is_context_error(&detail) => ProviderError::ContextTooLong(format!(
                "the conversation is too long for the model (HTTP {status}){said}"
            )),
            400 | 413 | 422 => {
                ProviderError::BadRequest(format!("the model provider rejected the request (HTTP {status}){said}"))
            }
            429 => {
                return Attempt::Retryable {
                    error: ProviderError::RateLimited(format!(
                        "the model provider is rate-limiting requests (HTTP 429){said}"
                    )),
                    retry_after,
                };
            }
            408 | 409 | 425 | 500..=599 => {
                return Attempt::Retryable {
                    error: ProviderError::Unavailable(format!("the model provider failed (HTTP {status}){said}")),
                    retry_after,
                };
            }
            _ => ProviderError::BadRequest(format!("unexpected answer from the model provider (HTTP {status}){said}")),
        };
        Attempt::Fatal(error)
    }

    fn read_stream(&self, body: impl Read, tx: &async_channel::Sender<StreamEvent>) -> Attempt {
        let mut reader = SseReader::new(body, MAX_EVENT_BYTES);
        let mut acc = Accumulator::default();
        let started = Instant::now();
        loop {
            let event = match reader.next_event() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => {
                    return acc
                        .broken(format!("the model stream broke after {:.0} s: {e}", started.elapsed().as_secs_f32()));
                }
            };
            let data = event.data.trim();
            if data == "[DONE]" {
                break;
            }
            let chunk = match miniserde::json::from_str::<Value>(data) {
                Ok(Value::Object(o)) => o,
                _ => {
                    let shown: String = data.chars().take(80).collect();
                    return acc.broken_protocol(format!("the model server sent malformed stream data: {shown:?}"));
                }
            };
            if let Some(Value::Object(err)) = chunk.get("error") {
                let msg = str_field(err, "message").unwrap_or_else(|| "unknown error".into());
                return acc.broken(format!("the model provider reported an error mid-stream: {msg}"));
            }
            match acc.absorb(&chunk) {
                Ok(Some(text)) => {
                    if tx.send_blocking(StreamEvent::Text(text)).is_err() {
                        return Attempt::Cancelled;
                    }
                }
                Ok(None) => {}
                Err(e) => return acc.broken_protocol(e),
            }
            if tx.is_closed() {
                return Attempt::Cancelled;
            }
        }
        if acc.finish_reason.is_none() && acc.text.is_empty() && acc.calls.is_empty() {
            return acc.broken_protocol("the model server closed the stream without an answer".into());
        }
        let completion = acc.into_completion();
        let sent = tx.send_blocking(StreamEvent::Finished(completion));
        // Read what follows `[DONE]` (the end of the chunked body), after the answer went out:
        // only a body read to its end lets the connection go back to the pool for the next call.
        reader.drain(64 * 1024);
        match sent {
            Ok(()) => Attempt::Done,
            Err(_) => Attempt::Cancelled,
        }
    }
}

enum Attempt {
    Done,
    Cancelled,
    Fatal(ProviderError),
    Retryable { error: ProviderError, retry_after: Option<Duration> },
}

/// Collects one streamed answer: text, tool-call fragments by index, usage.
#[derive(Default)]
struct Accumulator {
    text: String,
    delivered_text: bool,
    calls: Vec<(String, String, String)>,
    finish_reason: Option<String>,
    usage: Usage,
}

impl Accumulator {
    /// Takes one chunk; returns visible text to hand out, if any.
    fn absorb(&mut self, chunk: &Object) -> Result<Option<String>, String> {
        if let Some(Value::Object(u)) = chunk.get("usage") {
            self.usage.input_tokens = int_field(u, "prompt_tokens").unwrap_or(0);
            self.usage.output_tokens = int_field(u, "completion_tokens").unwrap_or(0);
            if let Some(Value::Object(d)) = u.get("prompt_tokens_details") {
                self.usage.cache_read_tokens = int_field(d, "cached_tokens").unwrap_or(0);
            }
        }
        let Some(Value::Array(choices)) = chunk.get("choices") else { return Ok(None) };
        let Some(Value::Object(choice)) = choices.first() else { return Ok(None) };
        if let Some(reason) = str_field(choice, "finish_reason") {
            self.finish_reason = Some(reason);
        }
        let Some(Value::Object(delta)) = choice.get("delta").or_else(|| choice.get("message")) else { return Ok(None) };
        if let Some(Value::Array(calls)) = delta.get("tool_calls") {
            for call in calls.iter() {
                let Value::Object(call) = call else { continue };
                let index = int_field(call, "index").unwrap_or(self.calls.len() as i64).clamp(0, 127) as usize;
                while self.calls.len() <= index {
                    self.calls.push(Default::default());
                }
                let slot = &mut self.calls[index];
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
                if slot.2.len() > MAX_ANSWER_BYTES {
                    return Err("the model's tool call arguments are too large".into());
                }
            }
        }
        match delta.get("content") {
            Some(Value::String(s)) if !s.is_empty() => {
                if self.text.len() + s.len() > MAX_ANSWER_BYTES {
                    return Err("the model's answer is too large".into());
                }
                self.text.push_str(s);
                self.delivered_text = true;
                Ok(Some(s.clone()))
            }
            _ => Ok(None),
        }
    }

    fn broken(self, message: String) -> Attempt {
        if self.delivered_text {
            Attempt::Fatal(ProviderError::Interrupted(message))
        } else {
            Attempt::Retryable { error: ProviderError::Unavailable(message), retry_after: None }
        }
    }

    fn broken_protocol(self, message: String) -> Attempt {
        if self.delivered_text {
            Attempt::Fatal(ProviderError::Interrupted(message))
        } else {
            Attempt::Retryable { error: ProviderError::Protocol(message), retry_after: None }
        }
    }

    fn into_completion(self) -> Completion {
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
        Completion {
            text: self.text,
            tool_calls,
            finish_reason: self.finish_reason.unwrap_or_else(|| "stop".into()),
            usage: self.usage,
        }
    }
}

/// Sleeps `wait` in short slices; false if the receiver went away meanwhile.
fn sleep_unless_closed(tx: &async_channel::Sender<StreamEvent>, wait: Duration) -> bool {
    let end = Instant::now() + wait;
    while Instant::now() < end {
        if tx.is_closed() {
            return false;
        }
        thread::sleep((end - Instant::now()).min(Duration::from_millis(200)));
    }
    !tx.is_closed()
}

/// `{"error":{"message":...}}` or `{"error":"..."}` or `{"message":...}`, else the raw text.
fn error_message(body: &str) -> String {
    let text = match miniserde::json::from_str::<Value>(body) {
        Ok(Value::Object(o)) => match o.get("error") {
            Some(Value::Object(e)) => str_field(e, "message").unwrap_or_default(),
            Some(Value::String(s)) => s.clone(),
            _ => str_field(&o, "message").unwrap_or_default(),
        },
        _ => body.trim().to_string(),
    };
    let mut text: String = text.chars().take(300).collect();
    if text.contains('\n') {
        text = text.replace('\n', " ");
    }
    text
}

fn is_context_error(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    [
        "context length",
        "context window",
        "maximum context",
        "too many tokens",
        "prompt is too long",
        "reduce the length",
    ]
    .iter()
    .any(|needle| d.contains(needle))
}

fn describe_transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(json: &str) -> Object {
        match miniserde::json::from_str::<Value>(json).unwrap() {
            Value::Object(o) => o,
            _ => panic!(),
        }
    }

    #[test]
    fn accumulates_text_tool_fragments_and_usage() {
        let mut acc = Accumulator::default();
        let chunks = [
            r#"{"choices":[{"delta":{"role":"assistant","content":"Hel"}}]}"#,
            r#"{"choices":[{"delta":{"content":"lo"}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"todo","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"to"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"dos\":[]}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4}}}"#,
        ];
        let mut shown = String::new();
        for c in chunks {
            if let Some(t) = acc.absorb(&chunk(c)).unwrap() {
                shown.push_str(&t);
            }
        }
        assert_eq!(shown, "Hello");
        let done = acc.into_completion();
        assert_eq!(
            done.tool_calls,
            vec![ToolCall { id: "c1".into(), name: "todo".into(), arguments: "{\"todos\":[]}".into() }]
        );
        assert_eq!(done.finish_reason, "tool_calls");
        assert_eq!((done.usage.input_tokens, done.usage.output_tokens, done.usage.cache_read_tokens), (12, 3, 4));
    }

    #[test]
    fn error_bodies_are_summarised() {
        assert_eq!(error_message(r#"{"error":{"message":"bad key","type":"auth"}}"#), "bad key");
        assert_eq!(error_message("plain\ntext"), "plain text");
        assert!(is_context_error("This model's maximum context length is 8192 tokens"));
    }
}
