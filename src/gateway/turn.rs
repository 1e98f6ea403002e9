//! Driving one turn for a session actor: from inbox rows to a delivered answer (M13, M29–M39).
//!
//! Exactly once, across crashes: the inbox rows are marked `processing` (counting attempts, so
//! a poison message is quarantined), the user message is stored once per inbox row, the final
//! answer is stored before it is delivered, and every message of the reply is an outbox row
//! keyed by the first inbox row. A rerun after a crash therefore finds what the earlier attempt
//! stored and sent, and edits or reuses it instead of sending anything twice.

use std::rc::Rc;
use std::time::{Duration, Instant};

use hermes_platform::ChatRef;
use smol::Timer;

use super::actor::{ActorState, Pending};
use super::postprocess::{is_silence, redact};
use super::stream::{ReplyStream, StreamSettings};
use super::{Gateway, session, session_key, texts, watchdog};
use crate::agent::control::TurnControl;
use crate::agent::history;
use crate::agent::message::{ChatMessage, Role, ToolCall, tool_calls_json};
use crate::agent::prompt::{self, SessionContext};
use crate::agent::provider::ProviderError;
use crate::agent::turn_loop::{TurnEnd, TurnInput, TurnObserver, run_turn};
use crate::runtime;
use crate::store::inbox::{self, InboxState};
use crate::store::messages::{self, NewMessage};
use crate::store::{self, sessions};

/// History sent to the model when the context length is unknown, in characters.
const DEFAULT_HISTORY_CHARS: usize = 200_000;
const MAX_HISTORY_ROWS: usize = 400;
/// Typing indicators are renewed this often while a turn runs (M20).
const TYPING_EVERY: Duration = Duration::from_secs(2);

/// Runs one turn. Returns when the answer is delivered, or the turn failed, was interrupted or
/// quarantined.
pub async fn run(state: Rc<ActorState>, job: Pending) {
    let gw = state.gw.clone();
    let Some(primary) = job.rows.first().cloned() else { return };
    let ids: Vec<i64> = job.rows.iter().map(|r| r.id).collect();
    let prefix = format!("turn:{}:", primary.id);

    let key = state.key.clone();
    let row_ids = ids.clone();
    let attempts = gw
        .store
        .call(move |tx| {
            let mut first = 0;
            for (i, id) in row_ids.iter().enumerate() {
                let n = inbox::start_processing(tx, *id, &key)?;
                if i == 0 {
                    first = n;
                }
            }
            Ok(first)
        })
        .await;
    let attempts = match attempts {
        Ok(n) => n,
        Err(e) => {
            log::error!("inbox row {}: {e}", primary.id);
            return;
        }
    };
    if attempts > i64::from(gw.config.gateway.poison_threshold) {
        log::error!("inbox row {} failed {} times; quarantined", primary.id, attempts - 1);
        state.say(&format!("{prefix}quarantined"), texts::QUARANTINED).await;
        gw.finish_rows(&ids, InboxState::Quarantined).await;
        return;
    }

    let source = primary.event.source.clone();
    let live =
        match session::ensure(&gw.store, &state.key, &source, &gw.config.session_reset, gw.provider.model()).await {
            Ok(live) => live,
            Err(e) => {
                log::error!("session for {}: {e}", state.key);
                state.say(&format!("{prefix}error"), &texts::internal_error("store")).await;
                gw.finish_rows(&ids, InboxState::Done).await;
                return;
            }
        };
    let session_id = live.session.id.clone();
    if let Some(reason) = live.auto_reset {
        let policy = &gw.config.session_reset;
        if policy.notify && !policy.notify_exclude_platforms.contains(&source.platform) {
            state.say(&format!("{prefix}reset"), &session::reset_notice(reason, policy)).await;
        }
    }

    let chat = ChatRef::new(source.chat_id.clone(), source.thread_id.clone());
    let Some(outlet) =
        gw.outlet(&source.platform, chat, Some(session_id.clone()), Some(primary.event.message_id.clone()))
    else {
        log::warn!("{}: not connected; inbox row {} waits for the next start", source.platform, primary.id);
        return;
    };
    let mut stream =
        ReplyStream::new(outlet.clone(), prefix.clone(), stream_settings(&gw, &source.platform), gw.secrets.clone())
            .await;

    // A previous attempt stored the answer but crashed before delivering it: deliver that.
    let (sid, pid) = (session_id.clone(), primary.id);
    if let Ok(Some(answer)) = gw.store.call(move |tx| messages::final_for_inbox(tx, &sid, pid)).await {
        if !is_silence(&answer) {
            stream.finish(&redact(&answer, &gw.secrets)).await;
        }
        gw.finish_rows(&ids, InboxState::Done).await;
        return;
    }

    let shared = session_key::is_shared(&source, &gw.config.sessions);
    let user_text = match (&source.user_name, shared) {
        (Some(name), true) => format!("[{name}] {}", job.text),
        _ => job.text.clone(),
    };
    // About three characters per token, leaving a quarter of the window for the answer.
    let budget =
        gw.config.model.context_length.map_or(DEFAULT_HISTORY_CHARS, |t| (t as usize).saturating_mul(3) * 3 / 4);
    let (sid, pid, stored_text) = (session_id.clone(), primary.id, user_text.clone());
    let joined: Vec<i64> = ids[1..].to_vec();
    let history = gw
        .store
        .call(move |tx| {
            if messages::user_message_for_inbox(tx, &sid, pid)?.is_none() {
                let m = NewMessage { inbox_id: Some(pid), ..NewMessage::new("user", stored_text) };
                messages::append(tx, &sid, &m, store::now())?;
                // Rows joined into this turn now live in the stored message: a rerun after a
                // crash answers them through the first row, never on their own again.
                for id in &joined {
                    inbox::set_state(tx, *id, InboxState::Done)?;
                }
            }
            messages::recent(tx, &sid, budget, MAX_HISTORY_ROWS)
        })
        .await;
    let history = match history {
        Ok(h) => h,
        Err(e) => {
            log::error!("history of {session_id}: {e}");
            state.say(&format!("{prefix}error"), &texts::internal_error("store")).await;
            gw.finish_rows(&ids, InboxState::Done).await;
            return;
        }
    };

    let ctx = SessionContext {
        platform: source.platform.clone(),
        chat_type: source.chat_type.as_str().to_string(),
        chat_name: source.chat_name.clone(),
        user_name: source.user_name.clone(),
        thread_id: source.thread_id.clone(),
        shared,
        connected: gw.connected_platforms(),
    };
    let mut chat_messages =
        vec![ChatMessage::new(Role::System, prompt::build(&gw.config.home, &ctx, &gw.tools.names(), store::now()))];
    chat_messages.extend(history::to_chat(&history));
    if job.resume
        && let Some(last) = chat_messages.iter_mut().rev().find(|m| m.role == Role::User)
    {
        let content = last.content.get_or_insert_with(String::new);
        content.push_str("\n\n");
        content.push_str(texts::RESUME_NOTE);
    }

    let control = Rc::new(TurnControl::new());
    state.set_control(Some(control.clone()));
    let typing = runtime::spawn({
        let outlet = outlet.clone();
        async move {
            loop {
                outlet.typing().await;
                Timer::after(TYPING_EVERY).await;
            }
        }
    });
    let watch = runtime::spawn(watchdog::watch(gw.clone(), control.clone(), state.clone(), prefix.clone()));

    let mut observer = Observer { gw: gw.clone(), session_id: session_id.clone(), stream: &mut stream };
    let input = TurnInput {
        provider: &gw.provider,
        tools: &gw.tools,
        control: &control,
        messages: chat_messages,
        max_iterations: gw.config.agent.max_turns,
    };
    let started = Instant::now();
    let outcome = run_turn(input, &mut observer).await;
    drop(typing);
    drop(watch);
    log::info!(
        "turn {} ({}): {} model call(s) in {:.1} s",
        primary.id,
        state.key,
        outcome.api_calls,
        started.elapsed().as_secs_f32()
    );

    let usage = outcome.usage;
    let sid = session_id.clone();
    let _ = gw.store.call(move |tx| sessions::add_usage(tx, &sid, &usage)).await;

    match outcome.end {
        TurnEnd::Answered(text) => {
            let text = if text.trim().is_empty() { texts::NO_RESPONSE.to_string() } else { text };
            let (sid, pid, content) = (session_id.clone(), primary.id, text.clone());
            let stored = gw
                .store
                .call(move |tx| {
                    let m = NewMessage { inbox_id: Some(pid), ..NewMessage::new("assistant", content) };
                    messages::append(tx, &sid, &m, store::now())
                })
                .await;
            if let Err(e) = stored {
                log::error!("storing the answer of inbox row {}: {e}", primary.id);
            }
            if is_silence(&text) {
                stream.abandon().await;
            } else {
                stream.finish(&redact(&text, &gw.secrets)).await;
            }
            gw.finish_rows(&ids, InboxState::Done).await;
        }
        TurnEnd::Interrupted { .. } => {
            stream.abandon().await;
            let reason = control.interrupt_reason().unwrap_or_default();
            if reason == "timeout" {
                state
                    .say(
                        &format!("{prefix}timeout"),
                        &texts::inactivity_timeout(gw.config.agent.gateway_timeout.as_secs() / 60),
                    )
                    .await;
            }
            if reason == "shutdown" {
                log::info!("turn {} interrupted by shutdown; it resumes at the next start", primary.id);
            } else {
                gw.finish_rows(&ids, InboxState::Done).await;
            }
        }
        TurnEnd::Failed { error, .. } => {
            stream.abandon().await;
            log::warn!("turn {} ({}): model call failed: {error}", primary.id, state.key);
            let text = match &error {
                ProviderError::Auth(m) => texts::auth_failed(m),
                ProviderError::ContextTooLong(_) => texts::CONTEXT_TOO_LARGE.to_string(),
                other => texts::request_failed(other.message()),
            };
            state.say(&format!("{prefix}error"), &redact(&text, &gw.secrets)).await;
            gw.finish_rows(&ids, InboxState::Done).await;
        }
    }
}

fn stream_settings(gw: &Gateway, platform: &str) -> StreamSettings {
    let s = &gw.config.streaming;
    let enabled = gw.config.display.platform_streaming.get(platform).copied().unwrap_or(s.enabled);
    StreamSettings { enabled, interval: s.edit_interval, threshold: s.buffer_threshold, cursor: s.cursor.clone() }
}

/// Streams text to the chat and stores the turn's intermediate messages.
struct Observer<'a> {
    gw: Rc<Gateway>,
    session_id: String,
    stream: &'a mut ReplyStream,
}

impl TurnObserver for Observer<'_> {
    async fn on_text(&mut self, delta: &str) {
        self.stream.push(delta).await;
    }

    async fn on_tool_calls(&mut self, _calls: &[ToolCall]) {
        self.stream.end_segment().await;
    }

    async fn on_message(&mut self, message: &ChatMessage) {
        let m = NewMessage {
            role: message.role.as_str().to_string(),
            content: message.content.clone(),
            tool_calls: (!message.tool_calls.is_empty())
                .then(|| miniserde::json::to_string(&tool_calls_json(&message.tool_calls))),
            tool_call_id: message.tool_call_id.clone(),
            tool_name: message.name.clone(),
            ..Default::default()
        };
        let sid = self.session_id.clone();
        if let Err(e) = self.gw.store.call(move |tx| messages::append(tx, &sid, &m, store::now())).await {
            log::error!("storing a message of session {}: {e}", self.session_id);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.stream.next_deadline()
    }

    async fn on_tick(&mut self) {
        self.stream.tick().await;
    }
}
