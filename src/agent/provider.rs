//! The model client (A1, A3): one HTTP/retry core for both wire protocols; only the request
//! body and the stream parser differ (`openai.rs`, `anthropic.rs`).
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

pub(super) use super::answer::{Answer, Step};
use super::message::{ChatMessage, ToolCall, str_field};
use super::sse::SseReader;
use super::{anthropic, openai};
use crate::config::{ApiMode, ModelConfig, Pricing};
use crate::store::sessions::Usage;

/// What a model call reports, in order: any number of `Text`/`Retrying`/`Notice`, then one of
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
    /// A line for the chat that is not part of the answer (a fallback took over).
    Notice(String),
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
    /// Anthropic thinking blocks as a JSON array text, passed back unchanged with the message.
    pub thinking: Option<String>,
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

    /// True when another provider could serve the turn (A4): the request itself was fine.
    pub fn allows_fallback(&self) -> bool {
        matches!(
            self,
            ProviderError::Auth(_)
                | ProviderError::NotFound(_)
                | ProviderError::RateLimited(_)
                | ProviderError::Unavailable(_)
                | ProviderError::Protocol(_)
        )
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// One request: the messages and the tool schemas (an array of OpenAI `tools` entries).
#[derive(Clone)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub tools: Option<miniserde::json::Value>,
}

/// The largest single SSE event and the largest answer we accept (memory stays bounded).
const MAX_EVENT_BYTES: usize = 1 << 20;
pub(super) const MAX_ANSWER_BYTES: usize = 4 << 20;
/// Deltas buffered between the stream thread and the turn (backpressure beyond that).
const CHANNEL_CAP: usize = 64;

/// A configured endpoint (OpenAI-compatible or Anthropic). Cheap to clone.
#[derive(Clone)]
pub struct Provider {
    agent: ureq::Agent,
    url: String,
    base_url: String,
    api_key: Option<String>,
    pub(super) api_mode: ApiMode,
    /// The provider id (`openrouter`, `anthropic`, ...), for the fallback notice.
    provider: String,
    pub(super) model: String,
    pub(super) max_tokens: Option<u64>,
    /// `reasoning_effort` sent with each request (`/reasoning`), when set.
    pub(super) reasoning_effort: Option<String>,
    pricing: Option<Pricing>,
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
        let path = match model.api_mode {
            ApiMode::OpenAiChat => "/chat/completions",
            ApiMode::AnthropicMessages => "/v1/messages",
        };
        Provider {
            agent,
            url: format!("{}{path}", model.base_url),
            base_url: model.base_url.clone(),
            api_key: model.api_key.clone(),
            api_mode: model.api_mode,
            provider: model.provider.clone(),
            model: model.name.clone(),
            max_tokens: model.max_tokens,
            reasoning_effort: None,
            pricing: model.pricing,
            retries: retries.max(1),
            key_hint: key_hint.to_string(),
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn provider_id(&self) -> &str {
        &self.provider
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
        let body = self.body(request);
        let this = self.clone();
        spawn_call(move |tx| {
            if let Err(e) = this.run(&body, tx) {
                let _ = tx.send_blocking(StreamEvent::Failed(e));
            }
        })
    }

    pub(super) fn body(&self, request: &ChatRequest) -> String {
        let body = match self.api_mode {
            ApiMode::OpenAiChat => openai::body(self, request),
            ApiMode::AnthropicMessages => anthropic::body(self, request),
        };
        miniserde::json::to_string(&body)
    }

    /// The retry loop around one call. `Err` is the final failure, not yet reported (a
    /// fallback may take over); everything else was sent on `tx`.
    pub(super) fn run(&self, body: &str, tx: &async_channel::Sender<StreamEvent>) -> Result<(), ProviderError> {
        let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(60));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (error, retry_after) = match self.attempt(body, tx) {
                Attempt::Done | Attempt::Cancelled => return Ok(()),
                Attempt::Fatal(e) => return Err(e),
                Attempt::Retryable { error, retry_after } => (error, retry_after),
            };
            if attempt > self.retries {
                return Err(error);
            }
            let wait = retry_after.unwrap_or_else(|| backoff.next_delay()).min(Duration::from_secs(120));
            log::warn!("model call failed ({error}); retry {attempt}/{} in {:.1} s", self.retries, wait.as_secs_f32());
            let event = StreamEvent::Retrying { attempt, wait, reason: error.to_string() };
            if tx.send_blocking(event).is_err() || !sleep_unless_closed(tx, wait) {
                return Ok(());
            }
        }
    }

    fn attempt(&self, body: &str, tx: &async_channel::Sender<StreamEvent>) -> Attempt {
        let mut req =
            self.agent.post(&self.url).header("Content-Type", "application/json").header("Accept", "text/event-stream");
        match (self.api_mode, &self.api_key) {
            (ApiMode::AnthropicMessages, key) => {
                req = req.header("anthropic-version", "2023-06-01");
                if let Some(key) = key {
                    req = req.header("x-api-key", key);
                }
            }
            (ApiMode::OpenAiChat, Some(key)) => req = req.header("Authorization", &format!("Bearer {key}")),
            (ApiMode::OpenAiChat, None) => {}
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
            // 529: Anthropic's "overloaded".
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
        let mut answer = Answer::default();
        let mut blocks = anthropic::Blocks::default();
        let started = Instant::now();
        loop {
            let event = match reader.next_event() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => {
                    return answer
                        .broken(format!("the model stream broke after {:.0} s: {e}", started.elapsed().as_secs_f32()));
                }
            };
            let step = match self.api_mode {
                ApiMode::OpenAiChat => openai::absorb(&mut answer, event.data.trim()),
                ApiMode::AnthropicMessages => {
                    blocks.absorb(&mut answer, event.event.as_deref().unwrap_or(""), event.data.trim())
                }
            };
            match step {
                Step::More => {}
                Step::Text(text) => {
                    if tx.send_blocking(StreamEvent::Text(text)).is_err() {
                        return Attempt::Cancelled;
                    }
                }
                Step::End => break,
                Step::Malformed(e) => return answer.broken_protocol(e),
                Step::Error(e) => return answer.broken(e),
            }
            if tx.is_closed() {
                return Attempt::Cancelled;
            }
        }
        if answer.finish_reason.is_none() && answer.text.is_empty() && answer.calls.is_empty() {
            return answer.broken_protocol("the model server closed the stream without an answer".into());
        }
        let mut completion = answer.into_completion();
        if let Some(p) = &self.pricing {
            completion.usage.cost_usd = p.cost(&completion.usage);
        }
        let sent = tx.send_blocking(StreamEvent::Finished(completion));
        // Read what follows the last event (the end of the chunked body), after the answer went
        // out: only a body read to its end lets the connection go back to the pool.
        reader.drain(64 * 1024);
        match sent {
            Ok(()) => Attempt::Done,
            Err(_) => Attempt::Cancelled,
        }
    }
}

/// Runs `call` on its own thread with a fresh channel; a panic becomes a `Failed` event.
pub(super) fn spawn_call(
    call: impl FnOnce(&async_channel::Sender<StreamEvent>) + Send + 'static,
) -> async_channel::Receiver<StreamEvent> {
    let (tx, rx) = async_channel::bounded(CHANNEL_CAP);
    let spawned = thread::Builder::new().name("llm".into()).spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(&tx)));
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

enum Attempt {
    Done,
    Cancelled,
    Fatal(ProviderError),
    Retryable { error: ProviderError, retry_after: Option<Duration> },
}

impl Answer {
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
    use miniserde::json::Value;
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

    #[test]
    fn error_bodies_are_summarised() {
        assert_eq!(error_message(r#"{"error":{"message":"bad key","type":"auth"}}"#), "bad key");
        assert_eq!(error_message("plain\ntext"), "plain text");
        assert!(is_context_error("This model's maximum context length is 8192 tokens"));
    }

    #[test]
    fn only_request_independent_failures_fall_back() {
        assert!(ProviderError::Auth("k".into()).allows_fallback());
        assert!(ProviderError::Unavailable("5xx".into()).allows_fallback());
        assert!(!ProviderError::BadRequest("x".into()).allows_fallback());
        assert!(!ProviderError::ContextTooLong("x".into()).allows_fallback());
        assert!(!ProviderError::Interrupted("x".into()).allows_fallback());
    }
}
