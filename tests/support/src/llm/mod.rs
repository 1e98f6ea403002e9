//! A fake OpenAI-compatible server: `POST /v1/chat/completions` (streamed or not) and
//! `GET /v1/models`; or, started with [`FakeLlm::start_anthropic`], a fake Anthropic Messages
//! API (`POST /v1/messages`, always streamed) serving the same scripts. Replies come from persistent rules ([`FakeLlm::on`]), then a FIFO script
//! ([`FakeLlm::push`]), then the default `echo: {last user message}`. Every request is recorded.

mod anthropic;
mod reply;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use miniserde::json::Value;

pub use reply::Reply;
use reply::{Ctx, Kind};

use crate::http::{Handler, Request, Responder, Server};
use crate::json::{self, as_object, get_bool, get_object, get_str};

/// One recorded chat completion request.
#[derive(Clone, Debug)]
pub struct LlmRequest {
    pub body: String,
    pub stream: bool,
    pub model: String,
    /// (role, content text); array contents are joined text parts, null content is "".
    pub messages: Vec<(String, String)>,
    /// Names of the tools offered.
    pub tools: Vec<String>,
    pub authorization: Option<String>,
    /// `x-api-key` and `anthropic-version` (Anthropic mode).
    pub api_key: Option<String>,
    pub anthropic_version: Option<String>,
    /// The top-level `system` text (Anthropic mode).
    pub system: String,
}

impl LlmRequest {
    /// The content of the last message with role "user".
    pub fn last_user(&self) -> Option<&str> {
        self.messages.iter().rev().find(|(r, _)| r == "user").map(|(_, c)| c.as_str())
    }

    fn parse(req: &Request) -> LlmRequest {
        let body = req.body_text();
        let mut out = LlmRequest {
            body,
            stream: false,
            model: String::new(),
            messages: Vec::new(),
            tools: Vec::new(),
            authorization: req.header("authorization").map(str::to_string),
            api_key: req.header("x-api-key").map(str::to_string),
            anthropic_version: req.header("anthropic-version").map(str::to_string),
            system: String::new(),
        };
        let Some(v) = json::parse(&out.body) else {
            return out;
        };
        let Some(o) = as_object(&v) else { return out };
        out.stream = get_bool(o, "stream").unwrap_or(false);
        out.model = get_str(o, "model").unwrap_or_default();
        out.system = content_text(o.get("system"));
        if let Some(Value::Array(msgs)) = o.get("messages") {
            for m in msgs.iter().filter_map(as_object) {
                let role = get_str(m, "role").unwrap_or_default();
                out.messages.push((role, content_text(m.get("content"))));
            }
        }
        if let Some(Value::Array(tools)) = o.get("tools") {
            for t in tools.iter().filter_map(as_object) {
                let name = get_object(t, "function").and_then(|f| get_str(&f, "name"));
                out.tools.extend(name.or_else(|| get_str(t, "name")));
            }
        }
        out
    }
}

fn content_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            // Text parts, and the content of Anthropic `tool_result` blocks.
            let text = |p: &miniserde::json::Object| get_str(p, "text").or_else(|| get_str(p, "content"));
            parts.iter().filter_map(as_object).filter_map(text).collect::<Vec<_>>().join("")
        }
        _ => String::new(),
    }
}

#[derive(Default)]
struct State {
    rules: Vec<(String, Reply)>,
    /// Rules on the system message (checked first): a subagent is told apart by its prompt.
    /// Each rule's replies are given in order; the last one repeats.
    system_rules: Vec<(String, VecDeque<Reply>)>,
    script: VecDeque<Reply>,
    requests: Vec<LlmRequest>,
    next_id: u64,
    next_call: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    closing: Arc<AtomicBool>,
    anthropic: bool,
}

/// The fake LLM server on 127.0.0.1; stops when dropped.
pub struct FakeLlm {
    shared: Arc<Shared>,
    server: Server,
}

impl FakeLlm {
    pub fn start() -> FakeLlm {
        FakeLlm::start_mode(false)
    }

    /// A fake Anthropic Messages API: `POST {base_url}/v1/messages`, replies as Anthropic
    /// event streams. [`FakeLlm::base_url`] is then the server root (what `model.base_url`
    /// takes with `provider: anthropic`).
    pub fn start_anthropic() -> FakeLlm {
        FakeLlm::start_mode(true)
    }

    fn start_mode(anthropic: bool) -> FakeLlm {
        let closing = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared { state: Mutex::default(), changed: Condvar::new(), closing, anthropic });
        let s2 = shared.clone();
        let handler: Handler = Arc::new(move |req, resp| handle(&s2, req, resp));
        let server = Server::start(handler, None);
        FakeLlm { shared, server }
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        if self.shared.anthropic {
            return format!("http://127.0.0.1:{}", self.server.port());
        }
        format!("http://127.0.0.1:{}/v1", self.server.port())
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Queues a reply for the next request that no rule matches.
    pub fn push(&self, reply: Reply) {
        self.shared.state.lock().unwrap().script.push_back(reply);
    }

    /// A persistent rule: when the last user message contains `contains`, answer with `reply`.
    /// Rules are checked in the order added, before the FIFO script. The agent's follow-up
    /// request after a tool result has the same last user message, so a tool-call rule would
    /// fire again on it: script tool calls with [`FakeLlm::push`] instead.
    pub fn on(&self, contains: &str, reply: Reply) {
        self.shared.state.lock().unwrap().rules.push((contains.to_string(), reply));
    }

    /// A persistent rule on the system message: when it contains `contains`, answer with
    /// `reply`. Checked before every other rule (subagents have their own system prompt, while
    /// their goal also appears in the parent's later messages). Calling it again with the same
    /// text queues another reply: they are given in order and the last one repeats.
    pub fn on_system(&self, contains: &str, reply: Reply) {
        let mut st = self.shared.state.lock().unwrap();
        match st.system_rules.iter_mut().find(|(needle, _)| needle == contains) {
            Some((_, replies)) => replies.push_back(reply),
            None => st.system_rules.push((contains.to_string(), VecDeque::from([reply]))),
        }
    }

    /// Every chat completion request so far, in arrival order.
    pub fn requests(&self) -> Vec<LlmRequest> {
        self.shared.state.lock().unwrap().requests.clone()
    }

    /// Waits until at least `n` requests have arrived.
    pub fn wait_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state.lock().unwrap();
        while st.requests.len() < n {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self.shared.changed.wait_timeout(st, deadline - now).unwrap().0;
        }
        true
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
    }
}

fn handle(shared: &Shared, req: &Request, resp: &mut Responder) {
    let path = req.path.trim_end_matches('/');
    if req.method == "GET" && path.ends_with("/models") {
        let body = r#"{"object":"list","data":[{"id":"test-model","object":"model","created":0,"owned_by":"hermes-testkit"}]}"#;
        return resp.json(200, body);
    }
    let endpoint = if shared.anthropic { "/v1/messages" } else { "/chat/completions" };
    if req.method != "POST" || !path.ends_with(endpoint) {
        return resp.json(404, r#"{"error":{"message":"not found","type":"invalid_request_error","code":null}}"#);
    }
    let parsed = LlmRequest::parse(req);
    let (reply, ctx_id, first_call) = {
        let mut st = shared.state.lock().unwrap();
        let last = parsed.last_user().unwrap_or("").to_string();
        let system = parsed.messages.iter().find(|(r, _)| r == "system").map(|(_, c)| c.as_str()).unwrap_or("");
        let system = if system.is_empty() { parsed.system.as_str() } else { system };
        let by_system = st
            .system_rules
            .iter_mut()
            .find(|(needle, _)| system.contains(needle.as_str()))
            .map(|(_, replies)| if replies.len() > 1 { replies.pop_front().unwrap() } else { replies[0].clone() });
        let reply = by_system
            .or_else(|| st.rules.iter().find(|(needle, _)| last.contains(needle.as_str())).map(|(_, r)| r.clone()))
            .or_else(|| st.script.pop_front())
            .unwrap_or_else(|| Reply::text(format!("echo: {last}")));
        st.next_id += 1;
        let calls = match &reply.kind {
            Kind::ToolCalls(c) => c.len() as u64,
            _ => 0,
        };
        let first_call = st.next_call + 1;
        st.next_call += calls;
        let id = st.next_id;
        st.requests.push(parsed.clone());
        shared.changed.notify_all();
        (reply, id, first_call)
    };
    let include_usage = json::parse(&parsed.body)
        .as_ref()
        .and_then(as_object)
        .and_then(|o| get_object(o, "stream_options"))
        .and_then(|so| get_bool(&so, "include_usage"))
        .unwrap_or(false);
    let model = if parsed.model.is_empty() { "test-model" } else { parsed.model.as_str() };
    let ctx = Ctx {
        id: ctx_id,
        model,
        created: json::now_secs(),
        prompt_tokens: parsed.body.len().div_ceil(4).max(1),
        include_usage,
        first_call,
    };
    let give_up = |resp: &mut Responder| shared.closing.load(Ordering::SeqCst) || resp.peer_closed();

    if let Kind::Status(code, body) = &reply.kind {
        if let Some(g) = &reply.gate
            && !g.wait_or(|| give_up(resp))
        {
            return resp.cut();
        }
        let secs = reply.retry_after.map(|s| s.to_string());
        let headers: Vec<(&str, &str)> = secs.iter().map(|s| ("Retry-After", s.as_str())).collect();
        return resp.send(*code, "application/json", &headers, body.as_bytes());
    }

    if !parsed.stream && !shared.anthropic {
        if let Some(g) = &reply.gate
            && !g.wait_or(|| give_up(resp))
        {
            return resp.cut();
        }
        if reply.stall {
            while !give_up(resp) {
                thread::sleep(Duration::from_millis(20));
            }
            return resp.cut();
        }
        if reply.cut {
            return resp.cut();
        }
        return resp.json(200, &ctx.completion(&reply));
    }

    resp.start_chunked(200, "text/event-stream", &[("Cache-Control", "no-cache")]);
    let events = if shared.anthropic { ctx.anthropic_events(&reply) } else { ctx.sse_events(&reply) };
    for (i, event) in events.iter().enumerate() {
        if i > 0 && !reply.delay.is_zero() {
            thread::sleep(reply.delay);
        }
        if resp.chunk(event.as_bytes()).is_err() {
            return;
        }
        if i == 0 {
            if reply.cut {
                return resp.cut();
            }
            if reply.stall {
                while !give_up(resp) {
                    thread::sleep(Duration::from_millis(20));
                }
                return resp.cut();
            }
            if let Some(g) = &reply.gate
                && !g.wait_or(|| give_up(resp))
            {
                return resp.cut();
            }
        }
    }
    resp.finish();
}
