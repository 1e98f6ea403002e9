//! Per-turn watchdog (M20): progress notices, an inactivity warning and the inactivity stop.

use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::Timer;

use super::actor::ActorState;
use super::{Gateway, texts};
use crate::agent::control::TurnControl;

const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Runs beside a turn until the turn drops it.
pub async fn watch(gw: Rc<Gateway>, control: Rc<TurnControl>, state: Rc<ActorState>, prefix: String) {
    let agent = &gw.config.agent;
    let started = Instant::now();
    let mut notices = 0u64;
    let mut warned = false;
    loop {
        Timer::after(CHECK_EVERY).await;
        let idle = control.last_activity().elapsed();
        if !agent.gateway_timeout.is_zero() && idle >= agent.gateway_timeout {
            log::warn!("{}: no activity for {} s; stopping the turn", state.key, idle.as_secs());
            control.interrupt("timeout");
            return;
        }
        if !warned && !agent.gateway_timeout_warning.is_zero() && idle >= agent.gateway_timeout_warning {
            warned = true;
            let left = agent.gateway_timeout.saturating_sub(idle).as_secs() / 60;
            state.say(&format!("{prefix}idle-warning"), &texts::inactivity_warning(idle.as_secs() / 60, left)).await;
        }
        let every = agent.gateway_notify_interval;
        if !every.is_zero() {
            let due = started.elapsed().as_secs() / every.as_secs().max(1);
            if due > notices {
                notices = due;
                let minutes = started.elapsed().as_secs() / 60;
                state.say(&format!("{prefix}working:{due}"), &texts::working(minutes)).await;
            }
        }
    }
}
