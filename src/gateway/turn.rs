//! Driving one turn for a session actor: from inbox rows to a delivered answer (M13, M29–M39).
//!
//! Exactly once, across crashes: the inbox rows are marked `processing` (counting attempts, so
//! a poison message is quarantined), the user message is stored once per inbox row, the final
//! answer is stored before it is delivered, and every message of the reply is an outbox row
//! keyed by the first inbox row. A rerun after a crash therefore finds what the earlier attempt
//! stored and sent, and edits or reuses it instead of sending anything twice.

use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hermes_platform::ChatRef;
use smol::Timer;

use super::actor::{ActorState, Pending};
use super::postprocess::{is_silence, redact};
use super::stream::{ReplyStream, StreamSettings};
use super::{Gateway, session, session_key, texts, watchdog};
use crate::agent::chain::ProviderChain;
use crate::agent::control::TurnControl;
use crate::agent::history;
use crate::agent::message::{ChatMessage, Role, ToolCall, tool_calls_json};
use crate::agent::prompt::{self, SessionContext};
use crate::agent::provider::ProviderError;
use crate::agent::turn_loop::{TurnEnd, TurnInput, TurnObserver, run_turn};
use crate::config::ResetPolicy;
use crate::runtime;
use crate::store::inbox::{self, InboxState};
use crate::store::messages::StoredMessage;
use crate::store::messages::{self, NewMessage};
use crate::store::outbox::{self, OutboxRow};
use crate::store::{self, sessions};
use crate::tools::{HostAsk, HostLink, HostRequest, SessionRef, ToolEnv, ToolState};
use hermes_platform::Source;
use rusqlite::Transaction;

/// History sent to the model when the context length is unknown, in characters.
const DEFAULT_HISTORY_CHARS: usize = 200_000;
const MAX_HISTORY_ROWS: usize = 400;
/// Typing indicators are renewed this often while a turn runs (M20).
const TYPING_EVERY: Duration = Duration::from_secs(2);

/// What [`TurnControl::doing`] says once the model has finished and the answer is delivered.
pub const DELIVERING: &str = "delivering";

/// Runs one turn. Returns when the answer is delivered, or the turn failed, was interrupted or
/// quarantined.
pub async fn run(state: Rc<ActorState>, job: Pending) {
    let gw = state.gw.clone();
    let Some(primary) = job.rows.first().cloned() else { return };
    let ids: Vec<i64> = job.rows.iter().map(|r| r.id).collect();
    let prefix = format!("turn:{}:", primary.id);

    let source = primary.event.source.clone();
    let shared = session_key::is_shared(&source, &gw.config.sessions);
    let mut user_text = match (&source.user_name, shared) {
        (Some(name), true) => format!("[{name}] {}", job.text),
        _ => job.text.clone(),
    };
    // Attachments are saved files; the model learns where they are (no vision in this build).
    for media in job.rows.iter().flat_map(|r| &r.event.media) {
        user_text.push_str(&format!("\n[The user sent a file: {} ({})]", media.path, media.mime));
    }
    let budget = history_budget(&gw);
    let begin = {
        let (key, row_ids, src, prefix) = (state.key.clone(), ids.clone(), source.clone(), prefix.clone());
        let policy = gw.config.session_reset.clone();
        let threshold = i64::from(gw.config.gateway.poison_threshold);
        gw.store.call(move |tx| begin(tx, &key, &row_ids, &src, &policy, threshold, &prefix, user_text, budget)).await
    };
    let (live, prefs, earlier, stored_answer, history) = match begin {
        Ok(Begin::Ready { live, prefs, earlier, answer, history }) => (live, prefs, earlier, answer, history),
        Ok(Begin::Quarantined { attempts }) => {
            log::error!("inbox row {} failed {} times; quarantined", primary.id, attempts - 1);
            state.say(&format!("{prefix}quarantined"), texts::QUARANTINED).await;
            gw.release_rows(&ids);
            return;
        }
        Err(e) => {
            log::error!("starting the turn for inbox row {}: {e}", primary.id);
            state.say(&format!("{prefix}error"), &texts::internal_error("store")).await;
            gw.finish_rows(&ids, InboxState::Done).await;
            return;
        }
    };
    let session_id = live.session.id.clone();
    // A session's first exchange (at most two user messages) gets an automatic title (M6).
    let wants_title = live.session.title.is_none() && history.iter().filter(|m| m.role == "user").count() <= 2;
    if let Some(reason) = live.auto_reset {
        let policy = &gw.config.session_reset;
        if policy.notify && !policy.notify_exclude_platforms.contains(&source.platform) {
            state.say(&format!("{prefix}reset"), &session::reset_notice(reason, policy)).await;
        }
    }

    let chat = ChatRef::new(source.chat_id.clone(), source.thread_id.clone());
    let Some(outlet) = gw.outlet(&source.platform, chat, Some(session_id.clone()), reply_target(&primary.event)) else {
        log::warn!("{}: not connected; inbox row {} waits for the next start", source.platform, primary.id);
        return;
    };
    let settings = stream_settings(&gw, &source.platform);
    let mut stream = ReplyStream::new(outlet.clone(), prefix.clone(), settings, gw.secrets.clone(), earlier);

    // A previous attempt stored the answer but crashed before delivering it: deliver that.
    if let Some(answer) = stored_answer {
        if !is_silence(&answer) {
            stream.finish(&redact(&answer, &gw.secrets)).await;
        }
        gw.finish_rows(&ids, InboxState::Done).await;
        return;
    }

    let ctx = SessionContext {
        platform: source.platform.clone(),
        chat_type: source.chat_type.as_str().to_string(),
        chat_name: source.chat_name.clone(),
        user_name: source.user_name.clone(),
        thread_id: source.thread_id.clone(),
        shared,
        connected: gw.connected_platforms(),
        personality: prefs.personality.as_ref().and_then(|name| gw.config.commands.personalities.get(name).cloned()),
    };
    let model = live.session.model.clone().unwrap_or_else(|| gw.model());
    let provider = ProviderChain::new(gw.provider.for_session(&model, prefs.reasoning.as_deref()), &gw.fallbacks);
    // Built on the session's first turn and reused verbatim after (A11, provider prompt caches).
    let system_prompt = match prefs.system_prompt.clone() {
        Some(stored) => stored,
        None => {
            let built = prompt::build(&gw.config.tools, &ctx, &gw.tools_for(&source.platform).names(), store::now());
            let (sid, text) = (session_id.clone(), built.clone());
            if let Err(e) = gw.store.call(move |tx| sessions::set_system_prompt(tx, &sid, &text)).await {
                log::warn!("cannot store the system prompt of session {session_id}: {e}");
            }
            built
        }
    };
    let mut chat_messages = vec![ChatMessage::new(Role::System, system_prompt)];
    chat_messages.extend(history::to_chat(&history));
    if let Some(compressed) =
        super::compress::before_turn(&state, &provider, &session_id, &chat_messages, &history).await
    {
        chat_messages.truncate(1);
        chat_messages.extend(history::to_chat(&compressed));
    }
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

    let (host, host_requests) = HostLink::channel();
    let tool_env = Arc::new(ToolEnv {
        config: gw.config.tools.clone(),
        store: Some(gw.store.clone()),
        session: SessionRef {
            session_id: session_id.clone(),
            session_key: state.key.clone(),
            source: Some(source.clone()),
        },
        cancel: control.cancel_flag(),
        host,
        yolo: prefs.yolo,
        state: Mutex::new(ToolState::default()),
    });
    let mut observer = Observer {
        gw: gw.clone(),
        actor: state.clone(),
        session_id: session_id.clone(),
        user: source.user_id.clone(),
        origin: super::delegations::Origin {
            session_id: session_id.clone(),
            session_key: state.key.clone(),
            source: source.clone(),
            model: model.clone(),
            reasoning: prefs.reasoning.clone(),
        },
        stream: &mut stream,
    };
    let input = TurnInput {
        provider: &provider,
        tools: gw.tools_for(&source.platform),
        tool_env,
        host_requests: Some(host_requests),
        control: &control,
        messages: chat_messages,
        max_iterations: gw.config.agent.max_turns,
    };
    let started = Instant::now();
    let outcome = run_turn(input, &mut observer).await;
    // The model is done; what is left is delivery. Commands that wait for the turn to end are
    // held for these moments instead of being told the agent is running.
    control.set_doing(DELIVERING, outcome.api_calls);
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
    if !matches!(outcome.end, TurnEnd::Answered(_)) {
        let sid = session_id.clone();
        let _ = gw.store.call(move |tx| sessions::add_usage(tx, &sid, &usage)).await;
    }

    match outcome.end {
        TurnEnd::Answered(text) => {
            let text = if text.trim().is_empty() { texts::NO_RESPONSE.to_string() } else { text };
            let (sid, pid, content) = (session_id.clone(), primary.id, text.clone());
            // Stored before it is delivered: a rerun after a crash delivers this, never a new one.
            let stored = gw
                .store
                .call(move |tx| {
                    sessions::add_usage(tx, &sid, &usage)?;
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
            if wants_title {
                super::title::after_answer(&gw, &session_id);
            }
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

/// History sent to the model, in characters: about three characters per token, leaving a
/// quarter of the window for the answer.
pub fn history_budget(gw: &Gateway) -> usize {
    gw.config.model.context_length.map_or(DEFAULT_HISTORY_CHARS, |t| (t as usize).saturating_mul(3) * 3 / 4)
}

/// The history a turn (or `/compress`) sees: after a compaction, head + summary + tail.
pub fn load_history(tx: &Transaction, session_id: &str, budget: usize) -> rusqlite::Result<Vec<StoredMessage>> {
    store::compaction::load(tx, session_id, budget, MAX_HISTORY_ROWS)
}

fn stream_settings(gw: &Gateway, platform: &str) -> StreamSettings {
    let s = &gw.config.streaming;
    let enabled = gw.config.display.platform_streaming.get(platform).copied().unwrap_or(s.enabled);
    StreamSettings { enabled, interval: s.edit_interval, threshold: s.buffer_threshold, cursor: s.cursor.clone() }
}

/// Streams text to the chat and stores the turn's intermediate messages.
struct Observer<'a> {
    gw: Rc<Gateway>,
    actor: Rc<ActorState>,
    session_id: String,
    /// Who started the turn: only they answer its `clarify` questions.
    user: Option<String>,
    /// Where the turn's delegations come from and report back to.
    origin: super::delegations::Origin,
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

    async fn on_host(&mut self, request: HostRequest) {
        let HostRequest { ask, reply } = request;
        match ask {
            HostAsk::Delegate { tasks, background, role } => {
                let origin = self.origin.clone();
                super::delegations::serve(&self.gw, &self.actor, origin, (tasks, &role), background, reply).await;
            }
            ask => {
                let request = HostRequest { ask, reply };
                super::tool_host::serve(&self.gw, &self.actor, self.user.as_deref(), request).await;
            }
        }
    }

    async fn on_notice(&mut self, text: &str) {
        self.stream.notice(text).await;
    }
}

/// What the transaction that starts a turn found.
#[allow(clippy::large_enum_variant)] // one per turn, moved once
enum Begin {
    /// The first row failed too often; every row of the turn is now quarantined.
    Quarantined { attempts: i64 },
    Ready {
        live: session::Live,
        /// The session's `/personality` and `/reasoning`.
        prefs: sessions::Prefs,
        /// Outbox rows of an earlier attempt of this turn.
        earlier: Vec<OutboxRow>,
        /// The answer an earlier attempt stored but may not have delivered.
        answer: Option<String>,
        /// History for the model, the new user message included (empty when `answer` is set).
        history: Vec<StoredMessage>,
    },
}

/// Starts a turn in one transaction: counts the attempt (poison check, M13), finds or resets
/// the session, reads what an earlier attempt left, and stores the user message once.
#[allow(clippy::too_many_arguments)]
fn begin(
    tx: &Transaction,
    key: &str,
    ids: &[i64],
    source: &Source,
    policy: &ResetPolicy,
    poison_threshold: i64,
    prefix: &str,
    user_text: String,
    history_budget: usize,
) -> rusqlite::Result<Begin> {
    let mut attempts = 0;
    for (i, id) in ids.iter().enumerate() {
        let n = inbox::start_processing(tx, *id, key)?;
        if i == 0 {
            attempts = n;
        }
    }
    if attempts > poison_threshold {
        for id in ids {
            inbox::set_state(tx, *id, InboxState::Quarantined)?;
        }
        return Ok(Begin::Quarantined { attempts });
    }
    let now = store::now();
    let live = session::ensure(tx, key, source, policy, now)?;
    let sid = live.session.id.clone();
    let prefs = sessions::prefs(tx, &sid)?;
    let earlier = outbox::with_prefix(tx, prefix)?;
    let primary = ids[0];
    if let Some(answer) = messages::final_for_inbox(tx, &sid, primary)? {
        return Ok(Begin::Ready { live, prefs, earlier, answer: Some(answer), history: Vec::new() });
    }
    if messages::user_message_for_inbox(tx, &sid, primary)?.is_none() {
        let m = NewMessage { inbox_id: Some(primary), ..NewMessage::new("user", user_text) };
        messages::append(tx, &sid, &m, now)?;
        // Rows joined into this turn now live in the stored message: a rerun after a crash
        // answers them through the first row, never on their own again.
        for id in &ids[1..] {
            inbox::set_state(tx, *id, InboxState::Done)?;
        }
    }
    let history = load_history(tx, &sid, history_budget)?;
    Ok(Begin::Ready { live, prefs, earlier, answer: None, history })
}

/// Answers reply to the user's message; an internal event has none to reply to.
fn reply_target(event: &hermes_platform::MessageEvent) -> Option<String> {
    (!event.internal).then(|| event.message_id.clone())
}
