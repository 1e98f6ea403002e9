//! Answers the questions a turn's tools ask the chat (see `tools::host`): dangerous-command
//! approvals, `clarify`, `send_message`. Runs on the executor, called by the turn loop while it
//! waits for the tool; a question that needs the user answers later, from its own task.

use std::rc::Rc;

use super::Gateway;
use super::actor::ActorState;
use crate::tools::{HostAsk, HostRequest};

/// Serves one request.
pub async fn serve(_gw: &Rc<Gateway>, _actor: &Rc<ActorState>, request: HostRequest) {
    let answer = match request.ask {
        HostAsk::Approval { .. } => "deny:approvals cannot be asked in this chat".to_string(),
        HostAsk::Clarify { .. } => String::new(),
        HostAsk::Send { .. } => "error:sending messages is not available".to_string(),
    };
    let _ = request.reply.try_send(answer);
}
