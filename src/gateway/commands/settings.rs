//! Commands that change how the agent runs: /model, /usage, /sethome, /personality,
//! /reasoning, /verbose, /yolo, /restart, /platform.

use super::registry::CommandDef;
use super::{After, Command};
use crate::gateway::actor::ActorState;
use crate::store::inbox::InboxRow;

pub const COMMANDS: &[CommandDef] = &[];

pub async fn handle(_state: &ActorState, _row: &InboxRow, _cmd: &Command) -> Option<After> {
    None
}
