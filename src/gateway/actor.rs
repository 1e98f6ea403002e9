//! Session actors (M14–M19): one task per active session key, with a bounded mailbox.
//!
//! The actor runs one turn at a time. Messages that arrive meanwhile follow the busy policy:
//! `interrupt` stops the turn and runs the new text next, `queue` runs it after (consecutive
//! queued texts joined), `steer` hands it to the running turn. Commands are answered at once.
//! An actor with nothing to do for `session_actor_idle` exits; its state lives in the store.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hermes_platform::{ChatRef, EventKind, SendOptions};
use smol::Timer;
use smol::future::FutureExt;

use super::asks::Asks;
use super::commands::{self, After};
use super::{Gateway, session, texts, turn};
use crate::agent::control::TurnControl;
use crate::config::BusyMode;
use crate::runtime;
use crate::store::inbox::{InboxRow, InboxState};

/// Mailbox size per actor (M14); a full mailbox makes the router wait.
pub const MAILBOX: usize = 64;
/// Most items waiting behind a running turn (M17).
pub const MAX_QUEUE: usize = 32;
/// At most one busy acknowledgement per session in this window (M16).
const ACK_WINDOW: Duration = Duration::from_secs(30);

/// One event for an actor; `resume` when a crash interrupted its earlier turn, `replay` when
/// it comes from recovery (sent while the gateway was down: it queues, never interrupts).
pub struct Inbound {
    pub row: InboxRow,
    pub resume: bool,
    pub replay: bool,
}

/// Work waiting for a turn: one or more inbox rows answered together. The actor keeps a copy
/// of the running one, to retry it after a panic.
#[derive(Clone)]
pub struct Pending {
    pub rows: Vec<InboxRow>,
    pub text: String,
    pub resume: bool,
}

/// What the actor, its turn and its commands share.
pub struct ActorState {
    pub gw: Rc<Gateway>,
    pub key: String,
    pub platform: String,
    /// Where replies go (the last message's chat and thread).
    pub chat: RefCell<ChatRef>,
    busy: Cell<bool>,
    /// When the running turn started.
    turn_started: Cell<Option<Instant>>,
    control: RefCell<Option<Rc<TurnControl>>>,
    queue: RefCell<VecDeque<Pending>>,
    steered: RefCell<Vec<InboxRow>>,
    /// Commands waiting for the running turn to end (it was only delivering its answer).
    held: RefCell<Vec<Inbound>>,
    last_ack: Cell<Option<Instant>>,
    shutting_down: Cell<bool>,
    /// Approvals and `clarify` questions the running turn's tools wait on.
    pub asks: Asks,
    /// When the last automatic compression failed (no retry for a while, AD §1.10).
    pub compress_failed: Cell<Option<Instant>>,
}

impl ActorState {
    pub fn is_busy(&self) -> bool {
        self.busy.get()
    }

    /// True while a turn runs whose model work is done: only its answer is still going out.
    pub fn is_delivering(&self) -> bool {
        self.busy.get() && self.doing().0 == turn::DELIVERING
    }

    /// How long the running turn has run, `None` when idle.
    pub fn running_for(&self) -> Option<Duration> {
        self.turn_started.get().filter(|_| self.busy.get()).map(|t| t.elapsed())
    }

    pub fn queue_len(&self) -> usize {
        self.queue.borrow().len()
    }

    /// What the running turn does (`thinking`, a tool name) and its step.
    pub fn doing(&self) -> (String, u32) {
        self.control.borrow().as_ref().map(|c| c.doing()).unwrap_or_else(|| ("idle".into(), 0))
    }

    /// Stops the running turn; its waiting approvals are denied, a waiting clarify unanswered.
    pub fn interrupt(&self, reason: &str) {
        if let Some(c) = self.control.borrow().as_ref() {
            c.interrupt(reason);
        }
        self.asks.cancel_all();
    }

    /// The running turn's control, if a turn runs.
    pub fn control(&self) -> Option<Rc<TurnControl>> {
        self.control.borrow().clone()
    }

    pub(super) fn set_control(&self, control: Option<Rc<TurnControl>>) {
        *self.control.borrow_mut() = control;
    }

    pub async fn end_session(&self, reason: &str) {
        if let Err(e) = session::end(&self.gw.store, &self.key, reason).await {
            log::error!("ending session {}: {e}", self.key);
        }
    }

    /// Sends `text` to this session's chat under `idem_key` (sent at most once).
    pub async fn say(&self, idem_key: &str, text: &str) {
        let chat = self.chat.borrow().clone();
        let Some(outlet) = self.gw.outlet(&self.platform, chat, None, None) else {
            log::warn!("{}: not connected; could not send a notice", self.platform);
            return;
        };
        let opts = SendOptions { plain: true, ..Default::default() };
        let _ = outlet.send(idem_key, text, opts).await;
    }

    /// The answer to a command or a notice about one event.
    pub async fn reply(&self, row: &InboxRow, text: &str) {
        self.say(&format!("cmd:{}", row.id), text).await;
    }

    /// A busy acknowledgement, at most one per [`ACK_WINDOW`].
    async fn ack(&self, row: &InboxRow, text: &str) {
        if !self.gw.config.display.busy_ack_enabled {
            return;
        }
        if self.last_ack.get().is_some_and(|t| t.elapsed() < ACK_WINDOW) {
            return;
        }
        self.last_ack.set(Some(Instant::now()));
        self.say(&format!("ack:{}", row.id), text).await;
    }

    fn enqueue(&self, pending: Pending) -> bool {
        let mut q = self.queue.borrow_mut();
        if q.len() >= MAX_QUEUE {
            return false;
        }
        q.push_back(pending);
        true
    }

    /// The next turn's work: the first waiting item, joined with the plain items after it.
    fn next_pending(&self) -> Option<Pending> {
        let mut q = self.queue.borrow_mut();
        let mut first = q.pop_front()?;
        while !first.resume && q.front().is_some_and(|p| !p.resume) {
            let next = q.pop_front().expect("front exists");
            first.text.push('\n');
            first.text.push_str(&next.text);
            first.rows.extend(next.rows);
        }
        Some(first)
    }

    async fn on_inbound(&self, inbound: Inbound) {
        let Inbound { row, resume, replay } = inbound;
        {
            let source = &row.event.source;
            *self.chat.borrow_mut() = ChatRef::new(source.chat_id.clone(), source.thread_id.clone());
        }
        if self.shutting_down.get() {
            return; // stays `received`; replayed at the next start
        }
        if row.event.internal {
            // A completion notice: never a command or an answer, never interrupts; it runs as
            // the next turn (at once when idle).
            let text = row.event.text.clone();
            if !self.enqueue(Pending { rows: vec![row.clone()], text, resume }) {
                self.queue_full(&row).await;
            }
            return;
        }
        if !resume && super::tool_host::intercept(self, &row).await {
            return;
        }
        if !resume && commands::session::answer_pending(self, &row).await {
            return;
        }
        if matches!(row.event.kind, EventKind::Callback | EventKind::Reaction) {
            // Buttons and reactions only answer pending prompts; nothing was waiting for this one.
            self.gw.finish_rows(&[row.id], InboxState::Done).await;
            return;
        }
        let text = row.event.text.clone();
        if !resume && let Some(cmd) = commands::parse(&text) {
            let after = commands::handle(self, &row, &cmd).await;
            match after {
                After::Done => self.gw.finish_rows(&[row.id], InboxState::Done).await,
                After::RunTurn(text) if self.busy.get() => self.queue_while_busy(row, text).await,
                After::RunTurn(text) => {
                    if !self.enqueue(Pending { rows: vec![row.clone()], text, resume: false }) {
                        self.queue_full(&row).await;
                    }
                }
                After::Queue(text) => self.queue_while_busy(row, text).await,
                After::Steer(text) => self.steer(row, text).await,
                After::WhenIdle => self.held.borrow_mut().push(Inbound { row, resume, replay }),
            }
            return;
        }
        if !self.busy.get() || resume || replay {
            if !self.enqueue(Pending { rows: vec![row.clone()], text, resume }) {
                self.queue_full(&row).await;
            }
            return;
        }
        let media_only = !matches!(row.event.kind, EventKind::Text | EventKind::Edit);
        let ending = self.is_delivering() || self.control.borrow().as_ref().is_some_and(|c| c.is_interrupted());
        if ending {
            // The running turn was stopped, or only delivers its answer: this is simply next.
            if !self.enqueue(Pending { rows: vec![row.clone()], text, resume: false }) {
                self.queue_full(&row).await;
            }
            return;
        }
        match self.gw.config.display.busy_input_mode {
            // A tool waits for the user's answer: a new message must not stop that turn.
            _ if media_only || self.asks.waiting() => self.queue_while_busy(row, text).await,
            BusyMode::Queue => self.queue_while_busy(row, text).await,
            BusyMode::Steer => self.steer(row, text).await,
            BusyMode::Interrupt => {
                if self.enqueue(Pending { rows: vec![row.clone()], text, resume: false }) {
                    self.interrupt("a new message arrived");
                    self.ack(&row, texts::ACK_INTERRUPT).await;
                } else {
                    self.queue_full(&row).await;
                }
            }
        }
    }

    async fn queue_while_busy(&self, row: InboxRow, text: String) {
        if self.enqueue(Pending { rows: vec![row.clone()], text, resume: false }) {
            self.ack(&row, texts::ACK_QUEUE).await;
        } else {
            self.queue_full(&row).await;
        }
    }

    async fn steer(&self, row: InboxRow, text: String) {
        let control = self.control.borrow().clone();
        match control {
            Some(c) if self.busy.get() => {
                c.steer(&text);
                self.steered.borrow_mut().push(row.clone());
                self.ack(&row, texts::ACK_STEER).await;
            }
            _ => self.queue_while_busy(row, text).await,
        }
    }

    async fn queue_full(&self, row: &InboxRow) {
        self.reply(row, texts::QUEUE_FULL).await;
        self.gw.finish_rows(&[row.id], InboxState::Skipped).await;
    }

    /// After a turn: steered text the turn never picked up runs as the next turn.
    async fn after_turn(&self, control: Option<Rc<TurnControl>>) {
        let rows: Vec<InboxRow> = std::mem::take(&mut *self.steered.borrow_mut());
        if rows.is_empty() {
            return;
        }
        let leftover = control.map(|c| c.take_steer()).unwrap_or_default();
        if leftover.is_empty() {
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            self.gw.finish_rows(&ids, InboxState::Done).await;
        } else {
            self.queue.borrow_mut().push_front(Pending { rows, text: leftover.join("\n"), resume: false });
        }
    }
}

/// The gateway's handle on an actor.
#[derive(Clone)]
pub struct ActorHandle {
    state: Rc<ActorState>,
    mailbox: async_channel::Sender<Inbound>,
}

impl ActorHandle {
    pub fn is_busy(&self) -> bool {
        self.state.is_busy()
    }

    /// Nothing running, queued or waiting in the mailbox: safe to let go at the actor cap.
    pub fn is_idle(&self) -> bool {
        !self.state.is_busy() && self.state.queue_len() == 0 && self.mailbox.is_empty()
    }

    /// Hands an event to the actor, waiting while its mailbox is full. Gives the event back
    /// when the actor has exited meanwhile.
    pub async fn deliver(&self, inbound: Inbound) -> Result<(), Inbound> {
        self.mailbox.send(inbound).await.map_err(|e| e.into_inner())
    }

    /// The actor's shared state (its identity for [`super::Gateway::forget_actor`]).
    pub fn state(&self) -> &Rc<ActorState> {
        &self.state
    }

    /// A gateway notice to the session's chat (shutdown, restart).
    pub async fn notify(&self, text: &str) {
        let key = format!("notice:{}:{}", self.state.key, crate::clock::random_hex(8));
        self.state.say(&key, text).await;
    }

    /// Stops the running turn for a shutdown: its inbox rows stay unfinished and resume at the
    /// next start; nothing new starts.
    pub fn interrupt_for_shutdown(&self) {
        self.state.shutting_down.set(true);
        self.state.interrupt("shutdown");
    }
}

/// Starts the actor of `key` and returns its handle.
pub fn spawn(gw: Rc<Gateway>, key: String, platform: String, chat: ChatRef) -> ActorHandle {
    let (tx, rx) = async_channel::bounded(MAILBOX);
    let state = Rc::new(ActorState {
        gw: gw.clone(),
        key: key.clone(),
        platform,
        chat: RefCell::new(chat),
        busy: Cell::new(false),
        turn_started: Cell::new(None),
        control: RefCell::new(None),
        queue: RefCell::new(VecDeque::new()),
        steered: RefCell::new(Vec::new()),
        held: RefCell::new(Vec::new()),
        last_ack: Cell::new(None),
        shutting_down: Cell::new(false),
        asks: Asks::default(),
        compress_failed: Cell::new(None),
    });
    let handle = ActorHandle { state: state.clone(), mailbox: tx };
    runtime::spawn_guarded(format!("session actor {key}"), run(state, rx));
    handle
}

#[allow(clippy::large_enum_variant)] // one at a time, on the stack
enum Wake {
    Mail(Option<Inbound>),
    TurnDone(bool),
    Idle,
}

async fn run(state: Rc<ActorState>, rx: async_channel::Receiver<Inbound>) {
    let idle = state.gw.config.gateway.session_actor_idle;
    let mut running: Option<(smol::Task<bool>, Pending)> = None;
    loop {
        if running.is_none()
            && !state.shutting_down.get()
            && let Some(job) = state.next_pending()
        {
            state.busy.set(true);
            state.turn_started.set(Some(Instant::now()));
            let task = runtime::spawn(guarded_turn(state.clone(), job.clone()));
            running = Some((task, job));
        }
        let wake = {
            let mail = async { Wake::Mail(rx.recv().await.ok()) };
            let idle_now = running.is_none() && state.queue.borrow().is_empty();
            let done = async {
                match running.as_mut() {
                    Some((task, _)) => Wake::TurnDone(task.await),
                    None => std::future::pending().await,
                }
            };
            let idle_timer = async {
                if idle_now {
                    Timer::after(idle).await;
                    Wake::Idle
                } else {
                    std::future::pending().await
                }
            };
            mail.or(done).or(idle_timer).await
        };
        match wake {
            Wake::Mail(Some(inbound)) => state.on_inbound(inbound).await,
            Wake::Mail(None) => break,
            Wake::TurnDone(ok) => {
                let (_, job) = running.take().expect("a turn was running");
                let control = state.control.borrow_mut().take();
                state.busy.set(false);
                if !ok && !state.shutting_down.get() {
                    // A panic: try again; the attempt counter quarantines a poison message (M13).
                    state.queue.borrow_mut().push_front(Pending { resume: true, ..job });
                }
                state.after_turn(control).await;
                let held: Vec<Inbound> = std::mem::take(&mut *state.held.borrow_mut());
                for inbound in held {
                    state.on_inbound(inbound).await;
                }
                state.gw.actor_freed();
            }
            Wake::Idle => {
                if rx.is_empty() {
                    state.gw.forget_actor(&state.key, &state);
                    state.gw.actor_freed();
                    break;
                }
            }
        }
    }
}

/// Runs a turn behind a panic boundary; false when it panicked.
async fn guarded_turn(state: Rc<ActorState>, job: Pending) -> bool {
    let first = job.rows.first().map(|r| r.id).unwrap_or_default();
    match AssertUnwindSafe(turn::run(state.clone(), job)).catch_unwind().await {
        Ok(()) => true,
        Err(_) => {
            log::error!("turn for inbox row {first} ({}) panicked; the gateway keeps running", state.key);
            false
        }
    }
}
