//! The admin/user split for slash commands (M25, CAC §3.5) and /whoami.

use super::registry::CommandDef;
use super::{After, Command};
use crate::gateway::actor::ActorState;
use crate::store::inbox::InboxRow;

pub const COMMANDS: &[CommandDef] = &[];

/// True when the sender may run `cmd` here; otherwise the denial was sent.
pub async fn gate(_state: &ActorState, _row: &InboxRow, _cmd: &Command) -> bool {
    true
}

pub async fn handle(_state: &ActorState, _row: &InboxRow, _cmd: &Command) -> Option<After> {
    None
}
