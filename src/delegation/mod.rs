//! Delegation (A18–A24): subagents with fresh context that work on a goal and report a summary,
//! in the foreground (the calling turn waits) or the background (the result comes back later as
//! a new turn). The gateway side (dispatch, completion delivery, durability) is in
//! `gateway::delegations`.

pub mod child;
pub mod format;
pub mod registry;
