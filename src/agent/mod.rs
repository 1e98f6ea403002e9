//! The agent: the model client, the turn loop, the system prompt and the transcript repairs.
//! It knows nothing of platforms; the gateway drives it (see `gateway::turn`).

pub mod answer;
pub mod anthropic;
pub mod chain;
pub mod compress;
pub mod context_file;
pub mod control;
pub mod history;
pub mod message;
pub mod openai;
pub mod prompt;
pub mod provider;
pub mod sse;
pub mod turn_loop;
