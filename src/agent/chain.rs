//! The primary model and its fallbacks (A4, AD §2.2), as one thing the turn calls.
//!
//! When the serving entry fails in a way another provider could fix (bad key, unknown model,
//! rate limit or outage after every retry), the next entry takes over for the rest of the turn
//! and the chat is told once, through a `Notice`. A chain lives for one turn, so the next turn
//! starts with the primary again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::provider::{ChatRequest, Provider, StreamEvent, spawn_call};

/// Primary first, then the fallbacks in order.
pub struct ProviderChain {
    entries: Arc<[Provider]>,
    /// The entry serving this turn (shared with the call threads).
    active: Arc<AtomicUsize>,
}

/// The chat's line when a fallback takes over.
pub fn switch_notice(p: &Provider) -> String {
    format!("↪️ Primary model failed — switching to fallback: {} via {}", p.model(), p.provider_id())
}

impl ProviderChain {
    pub fn new(primary: Provider, fallbacks: &[Provider]) -> ProviderChain {
        let entries: Vec<Provider> = std::iter::once(primary).chain(fallbacks.iter().cloned()).collect();
        ProviderChain { entries: entries.into(), active: Arc::new(AtomicUsize::new(0)) }
    }

    /// Starts a streaming call with the entry serving this turn, moving down the chain on a
    /// failure that allows it.
    pub fn stream(&self, request: &ChatRequest) -> async_channel::Receiver<StreamEvent> {
        let start = self.active.load(Ordering::Relaxed);
        if start + 1 >= self.entries.len() {
            // Nothing to fall back to: the plain call, without a copy of the request.
            return self.entries[start.min(self.entries.len() - 1)].stream(request);
        }
        let (entries, active) = (self.entries.clone(), self.active.clone());
        let request = request.clone();
        spawn_call(move |tx| {
            let mut index = start;
            loop {
                let entry = &entries[index];
                let Err(error) = entry.run(&entry.body(&request), tx) else { return };
                let Some(next) = entries.get(index + 1).filter(|_| error.allows_fallback()) else {
                    let _ = tx.send_blocking(StreamEvent::Failed(error));
                    return;
                };
                log::warn!("model {} failed ({error}); falling back to {}", entry.model(), next.model());
                if tx.send_blocking(StreamEvent::Notice(switch_notice(next))).is_err() {
                    return;
                }
                index += 1;
                active.store(index, Ordering::Relaxed);
            }
        })
    }
}
