//! One turn of the agent (A6–A9): call the model, run the tools it asks for, feed the results
//! back, until it answers without tools or the iteration budget is spent.
//!
//! The loop knows nothing of platforms or SQLite: it reports through a [`TurnObserver`]
//! (stream text, tool boundaries, messages to persist) and listens to a [`TurnControl`]
//! (interrupts, steered text).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smol::Timer;
use smol::future::FutureExt;

use super::chain::ProviderChain;
use super::control::TurnControl;
use super::message::{ChatMessage, Role, ToolCall};
use super::provider::{ChatRequest, ProviderError, StreamEvent};
use crate::store::sessions::Usage;
use crate::tools::{HostRequest, ToolEnv, ToolRegistry};

/// What the gateway hears from a running turn.
pub trait TurnObserver {
    /// Visible answer text as it arrives.
    fn on_text(&mut self, delta: &str) -> impl Future<Output = ()>;
    /// The model asked for tools: the text so far is final (M37), the tools are about to run.
    fn on_tool_calls(&mut self, calls: &[ToolCall]) -> impl Future<Output = ()>;
    /// A message of this turn is complete and must be stored (assistant with tool calls, tool
    /// results). The final answer is not passed here: the caller stores it with the outcome.
    fn on_message(&mut self, message: &ChatMessage) -> impl Future<Output = ()>;
    /// When the observer wants [`TurnObserver::on_tick`] called (stream edit throttling).
    fn next_deadline(&self) -> Option<Instant>;
    fn on_tick(&mut self) -> impl Future<Output = ()>;
    /// A tool asks the chat something (approval, clarify, send_message). The observer answers
    /// through `request.reply`, now or later; the turn keeps waiting for the tool meanwhile.
    fn on_host(&mut self, request: HostRequest) -> impl Future<Output = ()>;
    /// A line for the chat that is not part of the answer (a fallback model took over).
    fn on_notice(&mut self, _text: &str) -> impl Future<Output = ()> {
        async {}
    }
}

/// Everything one turn needs.
pub struct TurnInput<'a> {
    pub provider: &'a ProviderChain,
    pub tools: &'a ToolRegistry,
    /// What the turn's tools see; its `cancel` flag must be `control`'s.
    pub tool_env: Arc<ToolEnv>,
    /// Questions from the turn's tools (the other end of `tool_env.host`).
    pub host_requests: Option<async_channel::Receiver<HostRequest>>,
    pub control: &'a TurnControl,
    /// System prompt, history and the new user message, in order.
    pub messages: Vec<ChatMessage>,
    pub max_iterations: u32,
}

/// How a turn ended.
#[derive(Debug, PartialEq)]
pub enum TurnEnd {
    /// The model answered (possibly after spending the iteration budget).
    Answered(String),
    /// Interrupted; `partial` is the answer text streamed before the interrupt.
    Interrupted { partial: String },
    /// The model call failed; `partial` is what was streamed of the last answer.
    Failed { error: ProviderError, partial: String },
}

#[derive(Debug)]
pub struct TurnOutcome {
    pub end: TurnEnd,
    pub usage: Usage,
    pub api_calls: u32,
}

/// Hermes' text when the iteration budget is spent (AD §1.6).
pub const BUDGET_MESSAGE: &str = "You've reached the maximum number of tool-calling iterations allowed. \
Please provide a final response summarizing what you've found and accomplished so far, without calling any more tools.";

/// Runs the turn to its end.
pub async fn run_turn<O: TurnObserver>(input: TurnInput<'_>, observer: &mut O) -> TurnOutcome {
    let TurnInput { provider, tools, tool_env, host_requests, control, mut messages, max_iterations } = input;
    tool_env.state().todos = todos_from(&messages);
    let host = host_requests.unwrap_or_else(|| async_channel::bounded(1).1);
    let mut usage = Usage::default();
    let mut api_calls = 0;
    let max_iterations = max_iterations.max(1);

    for iteration in 1..=max_iterations {
        if control.is_interrupted() {
            return TurnOutcome { end: TurnEnd::Interrupted { partial: String::new() }, usage, api_calls };
        }
        control.set_doing("thinking", iteration);
        api_calls += 1;
        let request = ChatRequest { messages: std::mem::take(&mut messages), tools: tools.schemas().cloned() };
        let streamed = stream_one(provider, &request, control, observer).await;
        messages = request.messages;
        let completion = match streamed {
            Streamed::Done(c) => c,
            Streamed::Interrupted { partial } => {
                return TurnOutcome { end: TurnEnd::Interrupted { partial }, usage, api_calls };
            }
            Streamed::Failed { error, partial } => {
                return TurnOutcome { end: TurnEnd::Failed { error, partial }, usage, api_calls };
            }
        };
        usage.add(&completion.usage);
        if completion.tool_calls.is_empty() {
            return TurnOutcome { end: TurnEnd::Answered(completion.text), usage, api_calls };
        }

        let content = (!completion.text.trim().is_empty()).then(|| completion.text.clone());
        let mut assistant = ChatMessage::assistant_calls(content, completion.tool_calls.clone());
        assistant.thinking = completion.thinking.clone();
        observer.on_tool_calls(&completion.tool_calls).await;
        observer.on_message(&assistant).await;
        messages.push(assistant);

        let calls = &completion.tool_calls;
        let mut results: Vec<String> = Vec::with_capacity(calls.len());
        if calls.len() > 1 && tools.all_read_only(calls) {
            // Read-only calls run side by side (A7), at most eight at once; results keep call order.
            for batch in calls.chunks(MAX_PARALLEL_TOOLS) {
                control.set_doing(&batch[0].name, iteration);
                let started: Vec<_> = batch.iter().map(|c| tools.start(&tool_env, c)).collect();
                for rx in started {
                    results.push(wait_tool(rx, control, &host, observer).await);
                }
            }
        } else {
            for call in calls {
                if control.is_interrupted() {
                    results.push(CANCELLED.to_string());
                    continue;
                }
                control.set_doing(&call.name, iteration);
                let rx = tools.start(&tool_env, call);
                results.push(wait_tool(rx, control, &host, observer).await);
            }
        }
        let count = calls.len();
        for (i, (call, result)) in calls.iter().zip(results).enumerate() {
            let mut tool_msg = ChatMessage::tool_result(call, result);
            if i + 1 == count {
                append_steer(&mut tool_msg, control);
            }
            observer.on_message(&tool_msg).await;
            messages.push(tool_msg);
        }
        if control.is_interrupted() {
            return TurnOutcome { end: TurnEnd::Interrupted { partial: String::new() }, usage, api_calls };
        }
    }

    // Budget spent: one last call without tools, with Hermes' instruction (not stored).
    messages.push(ChatMessage::new(Role::User, BUDGET_MESSAGE));
    api_calls += 1;
    let request = ChatRequest { messages, tools: None };
    let end = match stream_one(provider, &request, control, observer).await {
        Streamed::Done(c) => {
            usage.add(&c.usage);
            TurnEnd::Answered(c.text)
        }
        Streamed::Interrupted { partial } => TurnEnd::Interrupted { partial },
        Streamed::Failed { error, partial } => TurnEnd::Failed { error, partial },
    };
    TurnOutcome { end, usage, api_calls }
}

/// Tool calls of one response running at once (A7: at most eight).
const MAX_PARALLEL_TOOLS: usize = 8;
/// After an interrupt, how long a tool gets to stop on its own before its result is dropped.
const CANCEL_GRACE: Duration = Duration::from_secs(5);
const CANCELLED: &str = r#"{"error":"Tool execution cancelled by user interrupt","status":"cancelled"}"#;

enum ToolWake {
    Done(Option<String>),
    Host(Option<HostRequest>),
    Interrupt,
    Tick,
}

/// Waits for one tool call, serving its questions to the chat and the stream's edit clock. An
/// interrupt sets the tools' cancel flag (through `control`); the tool then has
/// [`CANCEL_GRACE`] to return before the turn moves on without it.
async fn wait_tool<O: TurnObserver>(
    rx: async_channel::Receiver<String>,
    control: &TurnControl,
    host: &async_channel::Receiver<HostRequest>,
    observer: &mut O,
) -> String {
    let mut grace: Option<Instant> = None;
    let mut host_open = true;
    loop {
        let deadline = match (grace, observer.next_deadline()) {
            (Some(g), Some(d)) => Some(g.min(d)),
            (g, d) => g.or(d),
        };
        let done = async { ToolWake::Done(rx.recv().await.ok()) };
        let asked = async {
            if !host_open {
                std::future::pending::<()>().await;
            }
            ToolWake::Host(host.recv().await.ok())
        };
        let interrupted = async {
            if grace.is_some() {
                std::future::pending::<()>().await;
            }
            control.interrupted().await;
            ToolWake::Interrupt
        };
        let tick = async {
            match deadline {
                Some(at) => {
                    Timer::at(at).await;
                    ToolWake::Tick
                }
                None => std::future::pending().await,
            }
        };
        match done.or(asked).or(interrupted).or(tick).await {
            ToolWake::Done(result) => {
                control.touch();
                return result.unwrap_or_else(|| CANCELLED.to_string());
            }
            ToolWake::Host(Some(request)) => observer.on_host(request).await,
            ToolWake::Host(None) => host_open = false,
            ToolWake::Interrupt => grace = Some(Instant::now() + CANCEL_GRACE),
            ToolWake::Tick => {
                if grace.is_some_and(|g| Instant::now() >= g) {
                    return CANCELLED.to_string();
                }
                observer.on_tick().await;
            }
        }
    }
}

enum Streamed {
    Done(super::provider::Completion),
    Interrupted { partial: String },
    Failed { error: ProviderError, partial: String },
}

enum Wake {
    Event(Option<StreamEvent>),
    Interrupt,
    Tick,
}

/// One model call, forwarding text to the observer, until it finishes, fails or is interrupted.
async fn stream_one<O: TurnObserver>(
    provider: &ProviderChain,
    request: &ChatRequest,
    control: &TurnControl,
    observer: &mut O,
) -> Streamed {
    let events = provider.stream(request);
    let mut partial = String::new();
    loop {
        let deadline = observer.next_deadline();
        let next = async { Wake::Event(events.recv().await.ok()) };
        let interrupted = async {
            control.interrupted().await;
            Wake::Interrupt
        };
        let tick = async {
            match deadline {
                Some(at) => {
                    Timer::at(at).await;
                    Wake::Tick
                }
                None => std::future::pending().await,
            }
        };
        match next.or(interrupted).or(tick).await {
            Wake::Interrupt => return Streamed::Interrupted { partial },
            Wake::Tick => observer.on_tick().await,
            Wake::Event(None) => {
                let error = ProviderError::Protocol("the model call ended without an answer".into());
                return Streamed::Failed { error, partial };
            }
            Wake::Event(Some(event)) => {
                control.touch();
                match event {
                    StreamEvent::Text(delta) => {
                        partial.push_str(&delta);
                        observer.on_text(&delta).await;
                    }
                    StreamEvent::Retrying { attempt, wait, reason } => {
                        log::warn!("model call failed ({reason}); retry {attempt} in {:.1} s", wait.as_secs_f32());
                    }
                    StreamEvent::Notice(text) => observer.on_notice(&text).await,
                    StreamEvent::Finished(c) => return Streamed::Done(c),
                    StreamEvent::Failed(error) => return Streamed::Failed { error, partial },
                }
            }
        }
    }
}

/// Text the user steered into the run lands after the last tool result (M15 `steer`).
fn append_steer(tool_msg: &mut ChatMessage, control: &TurnControl) {
    let steered = control.take_steer();
    if steered.is_empty() {
        return;
    }
    let content = tool_msg.content.get_or_insert_with(String::new);
    for text in steered {
        content.push_str("\n\n[OUT-OF-BAND USER MESSAGE — the user sent this while you were working]\n");
        content.push_str(&text);
        content.push_str("\n[END OF OUT-OF-BAND USER MESSAGE]");
    }
}

fn todos_from(messages: &[ChatMessage]) -> crate::tools::todo::TodoList {
    crate::tools::todo::from_history(
        messages
            .iter()
            .filter(|m| m.role == Role::Tool)
            .map(|m| (m.name.as_deref().unwrap_or(""), m.content.as_deref().unwrap_or(""))),
    )
}
