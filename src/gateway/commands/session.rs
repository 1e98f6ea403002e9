//! Session commands: /new and /reset [title], /undo [N], /retry, /approve and /deny, and the
//! answers to a pending prompt (M11 step 3): text, button callbacks and reactions.
//!
//! `/new`, `/reset` and `/undo` ask first when idle (the destructive confirm, CAC §4.1; see
//! [`crate::gateway::confirm`]); while a turn runs, `/new` and `/reset` interrupt and reset
//! without asking, as Hermes does.

use hermes_platform::{ChatRef, EventKind, SendOptions};

use super::registry::CommandDef;
use super::{After, Command, usage};
use crate::clock;
use crate::gateway::actor::ActorState;
use crate::gateway::confirm::{self, Answer, Answerer, Kind, Prompt};
use crate::gateway::{asks, session, session_key, texts, tool_host};
use crate::store::inbox::{InboxRow, InboxState};
use crate::store::{self, messages, sessions};

pub const COMMANDS: &[CommandDef] = &[
    CommandDef::new("new", "[title]", "Start a new session").busy(),
    CommandDef::new("reset", "[title]", "Reset the session (same as /new)").busy(),
    CommandDef::new("undo", "[N]", "Remove the last N exchanges (default 1)"),
    CommandDef::new("retry", "", "Send your last message again"),
    CommandDef::new("approve", "[all] [session|always]", "Approve what is waiting for approval").busy(),
    CommandDef::new("deny", "[all] [reason]", "Deny what is waiting for approval").busy(),
];

/// With nothing waiting (hermes-lite's text; Hermes has none for the confirm).
const NO_PENDING: &str = "Nothing is waiting for approval.";
const CANCELLED: &str = "❌ Cancelled. Nothing was changed.";
const NOTHING_TO_UNDO: &str = "Nothing to undo.";
const NOTHING_TO_RETRY: &str = "No previous message to retry.";
/// The most turns one `/undo` removes.
const MAX_UNDO: usize = 100;

pub async fn handle(state: &ActorState, row: &InboxRow, cmd: &Command) -> Option<After> {
    let after = match cmd.name.as_str() {
        "new" | "reset" if state.is_busy() => {
            state.interrupt("session reset");
            reset(state, row, &cmd.name, &cmd.args).await;
            After::Done
        }
        "new" | "reset" => {
            if let Some(text) = title_problem(state, &cmd.args).await {
                state.reply(row, &text).await;
            } else if !ask(state, row, cmd).await {
                reset(state, row, &cmd.name, &cmd.args).await;
            }
            After::Done
        }
        "undo" => {
            let Some(n) = undo_count(&cmd.args) else {
                state.reply(row, &usage("undo")).await;
                return Some(After::Done);
            };
            if !has_user_turns(state).await {
                state.reply(row, NOTHING_TO_UNDO).await;
            } else if !ask(state, row, cmd).await {
                undo(state, row, n).await;
            }
            After::Done
        }
        "retry" => match retry(state, row).await {
            Some(text) => After::RunTurn(text),
            None => {
                state.reply(row, NOTHING_TO_RETRY).await;
                After::Done
            }
        },
        "approve" => {
            match asks::parse_approve(&cmd.args) {
                None => state.reply(row, &usage("approve")).await,
                Some((all, answer)) => {
                    if !tool_host::answer_approvals(state, row, all, answer).await {
                        state.reply(row, NO_PENDING).await;
                    }
                }
            }
            After::Done
        }
        "deny" => {
            let (all, answer) = asks::parse_deny(&cmd.args);
            if !tool_host::answer_approvals(state, row, all, &answer).await {
                state.reply(row, NO_PENDING).await;
            }
            After::Done
        }
        _ => return None,
    };
    Some(after)
}

/// `/undo` takes an optional count from 1 to [`MAX_UNDO`].
fn undo_count(args: &str) -> Option<usize> {
    if args.trim().is_empty() {
        return Some(1);
    }
    args.trim().parse().ok().filter(|n| (1..=MAX_UNDO).contains(n))
}

/// Answers a pending prompt of this session with `row` (text, a button callback or a
/// reaction), before any other handling. True when `row` was such an answer and is finished.
pub async fn answer_pending(state: &ActorState, row: &InboxRow) -> bool {
    let event = &row.event;
    // Most events cannot be answers: they never touch the store here.
    let Some((answer, nonce)) = confirm::classify(event.kind, &event.text) else { return false };
    let key = state.key.clone();
    let user = event.source.user_id.clone();
    let reacted_to = (event.kind == EventKind::Reaction).then(|| event.message_id.clone());
    let now = clock::now();
    let taken = state
        .gw
        .store
        .call(move |tx| {
            let who = Answerer { user_id: user.as_deref(), nonce: nonce.as_deref(), reacted_to: reacted_to.as_deref() };
            let prompt = confirm::take(tx, &key, &who, now)?;
            if prompt.is_some() && answer == Answer::Always {
                confirm::set_gate_off(tx)?;
            }
            Ok(prompt)
        })
        .await;
    let prompt = match taken {
        Ok(Some(p)) => p,
        Ok(None) => return false,
        Err(e) => {
            log::error!("reading the pending prompt of {}: {e}", state.key);
            return false;
        }
    };
    match (prompt.kind, answer) {
        (_, Answer::Cancel) => state.reply(row, CANCELLED).await,
        (Kind::Destructive { command, args }, _) => run_confirmed(state, row, &command, &args).await,
    }
    state.gw.finish_rows(&[row.id], InboxState::Done).await;
    true
}

/// Runs a destructive command the user agreed to.
async fn run_confirmed(state: &ActorState, row: &InboxRow, command: &str, args: &str) {
    match command {
        "new" | "reset" => {
            if state.is_busy() {
                state.interrupt("session reset");
            }
            reset(state, row, command, args).await;
        }
        "undo" if state.is_busy() => state.reply(row, &texts::busy_command("undo")).await,
        "undo" => undo(state, row, undo_count(args).unwrap_or(1)).await,
        other => log::warn!("a confirmed /{other} has no action"),
    }
}

/// Asks before `cmd` unless the user turned the confirm off; true when a prompt went out.
async fn ask(state: &ActorState, row: &InboxRow, cmd: &Command) -> bool {
    let gate_off = state.gw.store.call(confirm::gate_off).await.unwrap_or(false);
    if gate_off {
        return false;
    }
    let nonce = clock::random_hex(8);
    let text = prompt_text(cmd);
    let chat: ChatRef = state.chat.borrow().clone();
    let Some(outlet) = state.gw.outlet(&state.platform, chat, None, None) else {
        log::warn!("{}: not connected; could not ask to confirm /{}", state.platform, cmd.name);
        return true;
    };
    let opts = SendOptions { plain: true, buttons: confirm::buttons(&nonce), ..Default::default() };
    let message_id = outlet.send(&format!("cmd:{}", row.id), &text, opts).await.ok();
    let prompt = Prompt {
        kind: Kind::Destructive { command: cmd.name.clone(), args: cmd.args.clone() },
        user_id: row.event.source.user_id.clone(),
        created_at: clock::now(),
        nonce,
        message_id,
    };
    let key = state.key.clone();
    if let Err(e) = state.gw.store.call(move |tx| confirm::put(tx, &key, &prompt)).await {
        log::error!("storing the confirm prompt of {}: {e}", state.key);
    }
    true
}

fn prompt_text(cmd: &Command) -> String {
    let what = match cmd.name.as_str() {
        "undo" => {
            let n = undo_count(&cmd.args).unwrap_or(1);
            let s = if n == 1 { "" } else { "s" };
            format!("/undo removes the last {n} exchange{s} from this session.")
        }
        name => format!("/{name} ends this session and starts a fresh one; the history is cleared."),
    };
    format!(
        "⚠️ {what} Continue?\nReply /approve to go ahead, /always to stop asking, or /cancel. This request expires in \
         5 minutes."
    )
}

/// Why `/new <title>` cannot use this title, if it cannot.
async fn title_problem(state: &ActorState, args: &str) -> Option<String> {
    let title = match sessions::sanitize_title(args) {
        Ok(t) => t?,
        Err(e) => return Some(e),
    };
    let t = title.clone();
    let owner = state.gw.store.call(move |tx| sessions::title_owner(tx, &t)).await.ok().flatten()?;
    Some(texts::title_in_use(&title, &owner))
}

/// Ends the session (`/new`, `/reset`); a title goes on the next one.
async fn reset(state: &ActorState, row: &InboxRow, command: &str, args: &str) {
    let title = match sessions::sanitize_title(args) {
        Ok(t) => t,
        Err(e) => {
            state.reply(row, &e).await;
            return;
        }
    };
    let base = if command == "new" { texts::NEW_SESSION } else { texts::SESSION_RESET };
    // The old session's background tasks end with it (A21); the chat hears which.
    let stopped = crate::gateway::delegations::stop_session(&state.gw, &state.key, "session reset").await;
    let base = match stopped {
        Some(list) => format!("{base}\n\n{list}"),
        None => base.to_string(),
    };
    let base = base.as_str();
    let Some(title) = title else {
        state.end_session("new").await;
        state.reply(row, base).await;
        return;
    };
    let key = state.key.clone();
    let source = row.event.source.clone();
    let t = title.clone();
    let done = state.gw.store.call(move |tx| session::rotate(tx, &key, &source, "new", Some(t), store::now())).await;
    let text = match done {
        Ok(Ok(())) => format!("{base}\nTitle: {title}"),
        Ok(Err(owner)) => texts::title_in_use(&title, &owner),
        Err(e) => {
            log::error!("resetting {}: {e}", state.key);
            texts::internal_error("store")
        }
    };
    state.reply(row, &text).await;
}

async fn has_user_turns(state: &ActorState) -> bool {
    let key = state.key.clone();
    let found = state
        .gw
        .store
        .call(move |tx| match sessions::live_for_key(tx, &key)? {
            Some(s) => Ok(messages::last_user(tx, &s.id)?.is_some()),
            None => Ok(false),
        })
        .await;
    found.unwrap_or(false)
}

/// `/undo N`: soft-deletes the last `n` user turns and echoes what went (GC §2.9).
async fn undo(state: &ActorState, row: &InboxRow, n: usize) {
    let key = state.key.clone();
    let removed = state
        .gw
        .store
        .call(move |tx| match sessions::live_for_key(tx, &key)? {
            Some(s) => messages::rewind_user_turns(tx, &s.id, n),
            None => Ok(Vec::new()),
        })
        .await;
    let text = match removed {
        Ok(r) if r.is_empty() => NOTHING_TO_UNDO.to_string(),
        Ok(r) => undo_text(&r),
        Err(e) => {
            log::error!("/undo in {}: {e}", state.key);
            texts::internal_error("store")
        }
    };
    state.reply(row, &text).await;
}

fn undo_text(removed: &[String]) -> String {
    let n = removed.len();
    let s = if n == 1 { "" } else { "s" };
    let mut text = format!("↩️ Undid {n} exchange{s}. Removed:");
    for r in removed {
        let short: String = r.chars().take(200).collect();
        let more = if short.len() < r.len() { "…" } else { "" };
        text.push_str(&format!("\n• {short}{more}"));
    }
    text
}

/// `/retry`: takes the last user turn out of the history and returns its text, which the
/// turn stores again as the new user message (so it is in the history once).
async fn retry(state: &ActorState, row: &InboxRow) -> Option<String> {
    let key = state.key.clone();
    let taken = state
        .gw
        .store
        .call(move |tx| {
            let Some(s) = sessions::live_for_key(tx, &key)? else { return Ok(None) };
            let Some((id, text)) = messages::last_user(tx, &s.id)? else { return Ok(None) };
            messages::deactivate_from(tx, &s.id, id)?;
            Ok(Some(text))
        })
        .await;
    let text = match taken {
        Ok(t) => t?,
        Err(e) => {
            log::error!("/retry in {}: {e}", state.key);
            return None;
        }
    };
    // In shared sessions the turn prefixes the sender's name again.
    let source = &row.event.source;
    let shared = session_key::is_shared(source, &state.gw.config.sessions);
    let text = match (&source.user_name, shared) {
        (Some(name), true) => text.strip_prefix(&format!("[{name}] ")).map(str::to_string).unwrap_or(text),
        _ => text,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_counts_and_texts() {
        assert_eq!(undo_count(""), Some(1));
        assert_eq!(undo_count(" 3 "), Some(3));
        assert_eq!(undo_count("abc"), None);
        assert_eq!(undo_count("0"), None);
        assert_eq!(undo_count("-1"), None);
        assert_eq!(undo_count("101"), None);
        assert_eq!(undo_text(&["a".into(), "b".into()]), "↩️ Undid 2 exchanges. Removed:\n• a\n• b");
        let cmd = Command { name: "undo".into(), args: "2".into() };
        assert!(prompt_text(&cmd).contains("last 2 exchanges"));
    }
}
