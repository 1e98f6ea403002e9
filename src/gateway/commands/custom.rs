//! Commands the user defines: `quick_commands` from config.yaml (exec and alias) and skills
//! (`/<skill-name> [args]`, /reload-skills).

use super::registry::CommandDef;
use super::{After, Command};
use crate::gateway::actor::ActorState;
use crate::store::inbox::InboxRow;

pub const COMMANDS: &[CommandDef] = &[];

/// An alias quick command's target, when `cmd` is one and no built-in has its name.
pub fn expand_alias(_state: &ActorState, cmd: &Command) -> Command {
    cmd.clone()
}

pub async fn handle(_state: &ActorState, _row: &InboxRow, _cmd: &Command) -> Option<After> {
    None
}

/// Menu entries for quick commands and skills.
pub fn menu(_gw: &crate::gateway::Gateway) -> Vec<hermes_platform::BotCommand> {
    Vec::new()
}
