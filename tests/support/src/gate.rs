//! A gate a fake server waits on mid-response, so a test knows the gateway is mid-turn
//! (streaming, holding a lock, about to be killed) and decides when it may go on.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Closed until [`Gate::open`]; clones share the same gate.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    pub fn new() -> Gate {
        Gate::default()
    }

    pub fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }

    pub fn is_open(&self) -> bool {
        *self.0.0.lock().unwrap()
    }

    /// Waits until the gate opens or `give_up` says stop (checked every 20 ms).
    /// Returns true if the gate opened.
    pub fn wait_or(&self, mut give_up: impl FnMut() -> bool) -> bool {
        let (lock, cond) = &*self.0;
        let mut open = lock.lock().unwrap();
        while !*open {
            if give_up() {
                return false;
            }
            open = cond.wait_timeout(open, Duration::from_millis(20)).unwrap().0;
        }
        true
    }

    /// Waits until the gate opens or the timeout passes. Returns true if it opened.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.wait_or(|| Instant::now() >= deadline)
    }
}
