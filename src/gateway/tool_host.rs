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
        HostAsk::Send { target, text } => send(_gw, &target, &text).await,
    };
    let _ = request.reply.try_send(answer);
}

/// `send_message`: delivers `text` through the outbox to the target chat (a bare platform
/// means its home channel). Answers `ok:<message id>` or `error:<why>`.
async fn send(gw: &Rc<Gateway>, target: &str, text: &str) -> String {
    let (platform, chat) = match crate::tools::send_message::parse_target(target) {
        Ok(t) => t,
        Err(e) => return format!("error:{e}"),
    };
    let Some((chat, thread)) = chat.or_else(|| gw.home_channel(&platform)) else {
        let upper = platform.to_ascii_uppercase();
        return format!("error:{platform} has no home channel; set {upper}_HOME_CHANNEL or use /sethome there");
    };
    let Some(outlet) = gw.outlet(&platform, hermes_platform::ChatRef::new(chat, thread), None, None) else {
        return format!("error:{platform} is not connected");
    };
    let key = format!("send_message:{}", crate::clock::random_hex(16));
    match outlet.send(&key, text, hermes_platform::SendOptions::default()).await {
        Ok(id) => format!("ok:{id}"),
        Err(e) => format!("error:{e}"),
    }
}
