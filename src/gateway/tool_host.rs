//! Answers the questions a turn's tools ask the chat (see `tools::host`): dangerous-command
//! approvals (A17), `clarify` (A14), `send_message`. Runs on the executor, called by the turn
//! loop while it waits for the tool: a question that needs the user is posted and registered
//! on the actor ([`super::asks`]), and answered later by the user's message, a timeout task,
//! or an interrupt — never by blocking the turn loop.

use std::rc::{Rc, Weak};
use std::time::Duration;

use hermes_platform::{Button, EventKind, SendOptions};
use smol::Timer;

use super::Gateway;
use super::actor::ActorState;
use super::asks::{self, Asks};
use super::commands::{self, access};
use crate::store::inbox::{InboxRow, InboxState};
use crate::tools::{HostAsk, HostRequest};
use crate::{clock, runtime};

/// The longest command shown in the approval notice (Hermes: 200 characters).
const NOTICE_COMMAND_CHARS: usize = 200;

/// Serves one request. `user` is who started the turn (only they answer a `clarify`).
pub async fn serve(gw: &Rc<Gateway>, actor: &Rc<ActorState>, user: Option<&str>, request: HostRequest) {
    match request.ask {
        HostAsk::Approval { command, reason } => {
            let id = actor.asks.add_approval(command.clone(), request.reply);
            post(actor, &approval_notice(&command, &reason), Vec::new()).await;
            expire_later(actor, id, gw.config.tools.approvals.timeout.as_secs(), "timeout");
        }
        HostAsk::Clarify { question, choices } => {
            let nonce = clock::random_hex(8);
            let buttons = choices
                .iter()
                .enumerate()
                .map(|(i, c)| vec![Button { label: c.clone(), data: format!("clarify:{nonce}:{}", i + 1) }])
                .collect();
            let text = clarify_text(&question, &choices);
            let id = actor.asks.set_clarify(user.map(str::to_string), choices, nonce, request.reply);
            post(actor, &text, buttons).await;
            expire_later(actor, id, gw.config.tools.clarify_timeout, "");
        }
        HostAsk::Send { target, text } => {
            let _ = request.reply.try_send(send(gw, &target, &text).await);
        }
        // The turn's observer serves delegations itself (it knows the session they report to).
        HostAsk::Delegate { .. } => {
            let _ = request.reply.try_send("error:delegation is not available here".into());
        }
    }
}

/// Hermes' text fallback of the approval prompt (AD §3.3 item 9).
pub fn approval_notice(command: &str, reason: &str) -> String {
    let mut shown: String = command.chars().take(NOTICE_COMMAND_CHARS).collect();
    if shown.len() < command.len() {
        shown.push_str("...");
    }
    format!(
        "⚠️ **Dangerous command requires approval:**\n```\n{shown}\n```\nReason: {reason}\n\nReply `/approve` to execute \
         this one operation, `/approve session` to approve this pattern for the session, `/approve always` to \
         approve it permanently, or `/deny` to cancel."
    )
}

fn clarify_text(question: &str, choices: &[String]) -> String {
    let mut text = format!("❓ {question}");
    if !choices.is_empty() {
        text.push('\n');
        for (i, c) in choices.iter().enumerate() {
            text.push_str(&format!("\n{}. {c}", i + 1));
        }
        text.push_str("\n\nReply with a number, or type your own answer.");
    }
    text
}

async fn post(actor: &ActorState, text: &str, buttons: Vec<Vec<Button>>) {
    let chat = actor.chat.borrow().clone();
    let Some(outlet) = actor.gw.outlet(&actor.platform, chat, None, None) else {
        log::warn!("{}: not connected; a question of a tool waits unseen", actor.platform);
        return;
    };
    let key = format!("ask:{}:{}", actor.key, clock::random_hex(8));
    let _ = outlet.send(&key, text, SendOptions { buttons, ..Default::default() }).await;
}

/// Answers question `id` with `answer` after `secs`, if it still waits then.
fn expire_later(actor: &Rc<ActorState>, id: u64, secs: u64, answer: &'static str) {
    let weak: Weak<ActorState> = Rc::downgrade(actor);
    runtime::spawn_guarded(format!("question {id} of {}", actor.key), async move {
        Timer::after(Duration::from_secs(secs)).await;
        if let Some(actor) = weak.upgrade()
            && actor.asks.expire(id, answer)
        {
            log::info!("{}: a tool's question got no answer in {secs} s", actor.key);
        }
    });
}

/// A message that answers a waiting question, before anything else looks at it (M11 step 3):
/// true when `row` was such an answer and is finished.
pub async fn intercept(state: &ActorState, row: &InboxRow) -> bool {
    if !state.asks.waiting() {
        return false;
    }
    let event = &row.event;
    let user = event.source.user_id.as_deref();
    let clarify_answer = match event.kind {
        EventKind::Callback => event.text.strip_prefix("clarify:").and_then(|r| r.split_once(':')),
        EventKind::Text if !event.text.trim_start().starts_with('/') => Some(("", event.text.as_str())),
        _ => None,
    };
    if let Some((nonce, text)) = clarify_answer
        && let Some(c) = state.asks.take_clarify(user, (!nonce.is_empty()).then_some(nonce))
    {
        let answer = c.answer_of(text);
        Asks::answer_clarify(c, answer);
        state.gw.finish_rows(&[row.id], InboxState::Done).await;
        return true;
    }
    if state.asks.approvals() == 0 {
        return false;
    }
    if let Some(cmd) = commands::parse(&event.text)
        && (cmd.name == "approve" || cmd.name == "deny")
    {
        // Through the command path: the admin gate applies (a pending destructive confirm must
        // not take this answer).
        commands::handle(state, row, &cmd).await;
        state.gw.finish_rows(&[row.id], InboxState::Done).await;
        return true;
    }
    if event.kind == EventKind::Text
        && let Some(answer) = asks::approval_word(&event.text)
        && access::may_run(state, row, "approve")
    {
        answer_approvals(state, row, false, answer).await;
        state.gw.finish_rows(&[row.id], InboxState::Done).await;
        return true;
    }
    false
}

/// `/approve`, `/deny` or a bare word: answers the oldest waiting approval (or all). False
/// when none waits.
pub async fn answer_approvals(state: &ActorState, row: &InboxRow, all: bool, answer: &str) -> bool {
    let commands = state.asks.resolve(all, answer);
    if commands.is_empty() {
        return false;
    }
    if answer == "always" {
        let file = state.gw.config.home.join("config.yaml");
        let saved = runtime::blocking(move || {
            commands
                .iter()
                .try_for_each(|c| crate::config::yaml_edit::append_to_list_in_file(&file, "command_allowlist", c))
        })
        .await;
        if let Err(e) = saved {
            log::error!("adding an approved command to command_allowlist in config.yaml: {e}");
        }
    }
    state.reply(row, answer_text(answer)).await;
    true
}

fn answer_text(answer: &str) -> &'static str {
    match answer {
        "once" => "✅ Approved. The command runs now.",
        "session" => "✅ Approved for this session. The command runs now.",
        "always" => "✅ Approved permanently (added to command_allowlist). The command runs now.",
        _ => "❌ Denied. The command will not run.",
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_and_question_texts() {
        let notice = approval_notice(&"x".repeat(300), "recursive delete");
        assert!(notice.starts_with("⚠️ **Dangerous command requires approval:**\n```\n"));
        assert!(notice.contains(&format!("{}...\n```\nReason: recursive delete\n\n", "x".repeat(200))));
        assert!(notice.ends_with("`/approve always` to approve it permanently, or `/deny` to cancel."));
        assert_eq!(
            clarify_text("Which?", &["a".into(), "b".into()]),
            "❓ Which?\n\n1. a\n2. b\n\nReply with a number, or type your own answer."
        );
        assert_eq!(clarify_text("Why?", &[]), "❓ Why?");
    }
}
