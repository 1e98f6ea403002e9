//! Commands over a session's history and the session list: /undo, /retry, /title, /branch,
//! /resume, /sessions.

use super::registry::CommandDef;
use super::{After, Command};
use crate::gateway::actor::ActorState;
use crate::store::inbox::InboxRow;

pub const COMMANDS: &[CommandDef] = &[];

pub async fn handle(_state: &ActorState, _row: &InboxRow, _cmd: &Command) -> Option<After> {
    None
}
