//! The agent: the model client, the turn loop, the system prompt and the transcript repairs.
//! It knows nothing of platforms; the gateway drives it (see `gateway::turn`).

pub mod compress;
pub mod control;
pub mod history;
pub mod message;
pub mod prompt;
pub mod provider;
pub mod sse;
pub mod turn_loop;
