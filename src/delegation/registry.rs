//! The background delegations running now (A19, A21). Children belong here, not to the turn that
//! started them: a new message, an interrupt of that turn or its actor going idle leaves them
//! running; `/stop`, `/new`, `/reset` of their session and shutdown stop them through here.
//!
//! Capacity is [`Slots`]: the check and the reservation are one step under one lock, and a
//! slot is given back when its [`Slot`] is dropped, whatever ends the unit.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use crate::agent::control::TurnControl;

/// A counting semaphore without waiting: a unit either gets a slot now or is refused.
#[derive(Default)]
pub struct Slots {
    used: Mutex<usize>,
}

/// One reserved slot; dropping it frees the slot.
pub struct Slot(Arc<Slots>);

impl Slots {
    /// A slot when fewer than `cap` are taken; else `Err(taken)`.
    pub fn try_reserve(self: &Arc<Self>, cap: usize) -> Result<Slot, usize> {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if *used >= cap {
            return Err(*used);
        }
        *used += 1;
        Ok(Slot(self.clone()))
    }

    #[cfg(test)]
    pub fn used(&self) -> usize {
        *self.used.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut used = self.0.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(1);
    }
}

/// One background unit (a single task or a batch).
pub struct Record {
    pub id: String,
    pub session_key: String,
    pub session_id: String,
    pub goals: Vec<String>,
    pub model: String,
    pub dispatched_at: f64,
    /// One per child; interrupting them stops the unit at its children's next boundary.
    pub controls: Vec<Rc<TurnControl>>,
    /// Why it was stopped (`/stop`, `/new`, shutdown), when it was: its result is then not
    /// delivered as a new turn, the chat was told at the time.
    pub stopped: RefCell<Option<String>>,
    _slot: Slot,
}

impl Record {
    pub fn new(
        id: String,
        session: (String, String),
        goals: Vec<String>,
        model: String,
        dispatched_at: f64,
        slot: Slot,
    ) -> Record {
        let controls = goals.iter().map(|_| Rc::new(TurnControl::new())).collect();
        let (session_key, session_id) = session;
        Record {
            id,
            session_key,
            session_id,
            goals,
            model,
            dispatched_at,
            controls,
            stopped: RefCell::new(None),
            _slot: slot,
        }
    }

    /// Interrupts every child, once; the first reason wins.
    pub fn stop(&self, reason: &str) {
        if self.stopped.borrow().is_none() {
            *self.stopped.borrow_mut() = Some(reason.to_string());
        }
        for c in &self.controls {
            c.interrupt(reason);
        }
    }

    /// `running`, or `stopping` once stopped (its children end at their next boundary).
    pub fn status(&self) -> &'static str {
        if self.stopped.borrow().is_some() { "stopping" } else { "running" }
    }

    /// The goal for lists: the only one, or "N parallel subagents: a; b".
    pub fn label(&self) -> String {
        label(&self.goals)
    }
}

/// Hermes' label of a unit: its goal, or a summary of a batch's goals.
pub fn label(goals: &[String]) -> String {
    match goals {
        [one] => one.clone(),
        many => {
            let short: Vec<String> = many.iter().map(|g| g.chars().take(40).collect()).collect();
            format!("{} parallel subagents: {}", many.len(), short.join("; "))
        }
    }
}

/// The running units (executor thread only) and the shared capacity.
#[derive(Default)]
pub struct Registry {
    pub slots: Arc<Slots>,
    records: RefCell<Vec<Rc<Record>>>,
}

impl Registry {
    pub fn add(&self, record: Rc<Record>) {
        self.records.borrow_mut().push(record);
    }

    pub fn remove(&self, id: &str) -> Option<Rc<Record>> {
        let mut records = self.records.borrow_mut();
        let i = records.iter().position(|r| r.id == id)?;
        Some(records.remove(i))
    }

    /// Every unit, oldest first.
    pub fn list(&self) -> Vec<Rc<Record>> {
        self.records.borrow().clone()
    }

    /// Stops the units of one session key; returns them.
    pub fn stop_session(&self, session_key: &str, reason: &str) -> Vec<Rc<Record>> {
        let hit: Vec<Rc<Record>> =
            self.records.borrow().iter().filter(|r| r.session_key == session_key).cloned().collect();
        for r in &hit {
            r.stop(reason);
        }
        hit
    }

    /// Stops every unit; returns them.
    pub fn stop_all(&self, reason: &str) -> Vec<Rc<Record>> {
        let all = self.list();
        for r in &all {
            r.stop(reason);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_reservations_released_together_never_pass_the_cap() {
        let slots = Arc::new(Slots::default());
        let barrier = Arc::new(std::sync::Barrier::new(16));
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (slots, barrier) = (slots.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    slots.try_reserve(3)
                })
            })
            .collect();
        let results: Vec<Result<Slot, usize>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let granted = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(granted, 3);
        assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|taken| *taken == 3));
        assert_eq!(slots.used(), 3);
        drop(results);
        assert_eq!(slots.used(), 0, "dropping the slots frees them");
    }

    #[test]
    fn stopping_a_session_interrupts_only_its_units() {
        let reg = Registry::default();
        let slot = |reg: &Registry| reg.slots.try_reserve(5).ok().unwrap();
        let a =
            Rc::new(Record::new("a".into(), ("k1".into(), "s1".into()), vec!["x".into()], "m".into(), 0.0, slot(&reg)));
        let b = Rc::new(Record::new(
            "b".into(),
            ("k2".into(), "s2".into()),
            vec!["y".into(), "z".into()],
            "m".into(),
            0.0,
            slot(&reg),
        ));
        reg.add(a.clone());
        reg.add(b.clone());
        assert_eq!(reg.stop_session("k1", "/stop").len(), 1);
        assert!(a.controls[0].is_interrupted() && !b.controls[0].is_interrupted());
        assert_eq!(a.stopped.borrow().as_deref(), Some("/stop"));
        assert_eq!(b.label(), "2 parallel subagents: y; z");
        reg.remove("a");
        drop(a);
        assert_eq!(reg.slots.used(), 1);
    }
}
