//! Session commands: /new and /reset (with the destructive confirm), and the answers to a
//! pending confirm (M11 step 3): text, button callbacks and reactions.

use super::registry::CommandDef;
use super::{After, Command};
use crate::gateway::actor::ActorState;
use crate::gateway::texts;
use crate::store::inbox::InboxRow;

pub const COMMANDS: &[CommandDef] = &[
    CommandDef::new("new", "[title]", "Start a new session").busy(),
    CommandDef::new("reset", "[title]", "Reset the session (same as /new)").busy(),
];

pub async fn handle(state: &ActorState, row: &InboxRow, cmd: &Command) -> Option<After> {
    match cmd.name.as_str() {
        "new" | "reset" => {
            if state.is_busy() {
                state.interrupt("session reset");
            }
            state.end_session("new").await;
            let text = if cmd.name == "new" { texts::NEW_SESSION } else { texts::SESSION_RESET };
            state.reply(row, text).await;
            Some(After::Done)
        }
        _ => None,
    }
}

/// Answers a pending prompt of this session with `row` (text, a button callback or a
/// reaction), before any other handling. True when `row` was such an answer and is finished.
pub async fn answer_pending(_state: &ActorState, _row: &InboxRow) -> bool {
    false
}
