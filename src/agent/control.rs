//! How the gateway steers a running turn from outside: interrupt it, or inject text into it.
//!
//! A `TurnControl` is shared (single-threaded, `Rc`) between the session actor, which reacts to
//! new messages and `/stop`, and the turn's agent loop, which checks it at every iteration and
//! tool boundary and wakes up at once when interrupted while it waits for the model.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Signals into one running turn.
pub struct TurnControl {
    interrupted: Cell<bool>,
    /// The same signal for the turn's tool threads.
    cancel: Arc<AtomicBool>,
    reason: RefCell<Option<String>>,
    wake_tx: async_channel::Sender<()>,
    wake_rx: async_channel::Receiver<()>,
    steer: RefCell<Vec<String>>,
    /// Last sign of life: a model chunk, a tool start or end (M20 watchdogs).
    activity: Cell<Instant>,
    /// What the turn is doing now, for `/status` and heartbeats (`running: terminal`).
    doing: RefCell<String>,
    iteration: Cell<u32>,
}

impl Default for TurnControl {
    fn default() -> Self {
        let (wake_tx, wake_rx) = async_channel::bounded(1);
        TurnControl {
            interrupted: Cell::new(false),
            cancel: Arc::new(AtomicBool::new(false)),
            reason: RefCell::new(None),
            wake_tx,
            wake_rx,
            steer: RefCell::new(Vec::new()),
            activity: Cell::new(Instant::now()),
            doing: RefCell::new(String::new()),
            iteration: Cell::new(0),
        }
    }
}

impl TurnControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the turn to stop at its next boundary (a model call in flight is abandoned).
    pub fn interrupt(&self, reason: &str) {
        if !self.interrupted.replace(true) {
            *self.reason.borrow_mut() = Some(reason.to_string());
        }
        self.cancel.store(true, Ordering::Relaxed);
        let _ = self.wake_tx.try_send(());
    }

    /// The flag tool threads watch; set by [`TurnControl::interrupt`].
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    pub fn is_interrupted(&self) -> bool {
        self.interrupted.get()
    }

    pub fn interrupt_reason(&self) -> Option<String> {
        self.reason.borrow().clone()
    }

    /// Resolves once [`TurnControl::interrupt`] was called.
    pub async fn interrupted(&self) {
        while !self.interrupted.get() {
            if self.wake_rx.recv().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Queues text for the turn to read after its next tool call (busy mode `steer`).
    pub fn steer(&self, text: &str) {
        self.steer.borrow_mut().push(text.to_string());
    }

    /// Takes every steered text so far.
    pub fn take_steer(&self) -> Vec<String> {
        std::mem::take(&mut *self.steer.borrow_mut())
    }

    pub fn touch(&self) {
        self.activity.set(Instant::now());
    }

    pub fn last_activity(&self) -> Instant {
        self.activity.get()
    }

    pub fn set_doing(&self, what: &str, iteration: u32) {
        *self.doing.borrow_mut() = what.to_string();
        self.iteration.set(iteration);
        self.touch();
    }

    pub fn doing(&self) -> (String, u32) {
        (self.doing.borrow().clone(), self.iteration.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupt_wakes_a_waiting_turn_and_keeps_the_first_reason() {
        let c = TurnControl::new();
        smol::block_on(async {
            let waiter = async {
                c.interrupted().await;
                1
            };
            let trigger = async {
                c.interrupt("stop");
                c.interrupt("later");
                std::future::pending::<i32>().await
            };
            assert_eq!(smol::future::or(waiter, trigger).await, 1);
        });
        assert_eq!(c.interrupt_reason().as_deref(), Some("stop"));
    }

    #[test]
    fn steered_text_is_taken_once() {
        let c = TurnControl::new();
        c.steer("a");
        c.steer("b");
        assert_eq!(c.take_steer(), vec!["a", "b"]);
        assert!(c.take_steer().is_empty());
    }
}
