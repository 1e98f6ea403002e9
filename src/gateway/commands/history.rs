//! Commands over the session list: /title, /sessions, /resume and /branch (GC §2.10–2.11).
//!
//! They all look only at sessions of this chat (same platform and chat id). Switching sessions
//! moves this session key onto another row of `sessions`; the next turn reads its history from
//! there, so nothing else has to be told.

use super::registry::CommandDef;
use super::{After, Command, usage};
use crate::gateway::actor::ActorState;
use crate::gateway::{session, session_key, texts};
use crate::store::history::{self, SearchHit, SessionSummary, TitleError};
use crate::store::inbox::InboxRow;
use crate::store::sessions::sanitize_title;
use crate::store::{self, sessions};

pub const COMMANDS: &[CommandDef] = &[
    CommandDef::new("title", "[name]", "Set or show the session title"),
    CommandDef::new("branch", "[name]", "Copy this conversation into a new session").aliases(&["fork"]),
    CommandDef::new("resume", "[name|number]", "List titled sessions or switch to one"),
    CommandDef::new("sessions", "[search <query>]", "Browse or search past sessions"),
];

/// Sessions a list shows.
const LIST: usize = 10;

pub async fn handle(state: &ActorState, row: &InboxRow, cmd: &Command) -> Option<After> {
    let text = match cmd.name.as_str() {
        "title" => title(state, row, cmd.args.trim()).await,
        "branch" => branch(state, cmd.args.trim()).await,
        "resume" => resume(state, cmd.args.trim()).await,
        "sessions" => sessions_cmd(state, cmd.args.trim()).await,
        _ => return None,
    };
    let text = text.unwrap_or_else(|e| {
        log::error!("/{} in {}: {e}", cmd.name, state.key);
        crate::gateway::texts::internal_error("store")
    });
    state.reply(row, &text).await;
    Some(After::Done)
}

type Reply = Result<String, store::StoreError>;

/// The platform and chat id sessions of "this chat" share.
fn chat_of(state: &ActorState) -> (String, String) {
    (state.platform.clone(), state.chat.borrow().chat_id.clone())
}

async fn title(state: &ActorState, row: &InboxRow, args: &str) -> Reply {
    let gw = &state.gw;
    if args.is_empty() {
        let key = state.key.clone();
        let current = gw.store.call(move |tx| sessions::live_for_key(tx, &key)).await?;
        return Ok(match current.and_then(|s| s.title) {
            Some(t) => format!("Session title: {t}"),
            None => "This session has no title yet. Set one with /title <name>.".into(),
        });
    }
    let name = match sanitize_title(args) {
        Ok(Some(name)) => name,
        Ok(None) => return Ok("That title is empty once invisible characters are removed.".into()),
        Err(too_long) => return Ok(too_long),
    };
    let (key, source, policy) = (state.key.clone(), row.event.source.clone(), gw.config.session_reset.clone());
    let wanted = name.clone();
    let result = gw
        .store
        .call(move |tx| {
            let live = session::ensure(tx, &key, &source, &policy, store::now())?;
            history::set_title(tx, &live.session.id, Some(&wanted))
        })
        .await?;
    Ok(match result {
        Ok(()) => format!("✏️ Session title set: {name}"),
        Err(TitleError::InUse(id)) => texts::title_in_use(&name, &id),
        Err(TitleError::NoSession) => "No active session to title.".into(),
    })
}

async fn sessions_cmd(state: &ActorState, args: &str) -> Reply {
    let (platform, chat) = chat_of(state);
    let mut words = args.splitn(2, char::is_whitespace);
    match (words.next().unwrap_or(""), words.next().map(str::trim).unwrap_or("")) {
        ("", _) => {
            let key = state.key.clone();
            let (list, live) = state
                .gw
                .store
                .call(move |tx| {
                    let list = history::recent_for_chat(tx, &platform, &chat, false, LIST)?;
                    Ok((list, sessions::live_for_key(tx, &key)?.map(|s| s.id)))
                })
                .await?;
            if list.is_empty() {
                return Ok("No sessions in this chat yet.".into());
            }
            let now = store::now();
            let lines: Vec<String> = list
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mark = if live.as_deref() == Some(s.id.as_str()) { " ← current" } else { "" };
                    format!("{}. {}{mark}", i + 1, describe(s, now))
                })
                .collect();
            Ok(format!("Recent sessions:\n{}\n\nSwitch with /resume <title|id>.", lines.join("\n")))
        }
        ("search", query) if history::fts_query(query).is_some() => {
            let q = query.to_string();
            let hits = state.gw.store.call(move |tx| history::search(tx, &platform, &chat, &q, LIST)).await?;
            if hits.is_empty() {
                return Ok(format!("No messages match \"{query}\"."));
            }
            let lines: Vec<String> = hits.iter().map(hit_line).collect();
            Ok(format!("Sessions matching \"{query}\":\n{}", lines.join("\n")))
        }
        _ => Ok(usage("sessions")),
    }
}

async fn resume(state: &ActorState, args: &str) -> Reply {
    let (platform, chat) = chat_of(state);
    let gw = &state.gw;
    if args.is_empty() {
        let list = gw.store.call(move |tx| history::recent_for_chat(tx, &platform, &chat, true, LIST)).await?;
        if list.is_empty() {
            return Ok("No titled sessions in this chat yet. Name this one with /title <name>.".into());
        }
        let now = store::now();
        let lines: Vec<String> =
            list.iter().enumerate().map(|(i, s)| format!("{}. {}", i + 1, describe(s, now))).collect();
        return Ok(format!("Titled sessions:\n{}\n\nSwitch with /resume <number|title>.", lines.join("\n")));
    }
    let (key, arg) = (state.key.clone(), args.to_string());
    let outcome = gw
        .store
        .call(move |tx| {
            let Some(target) = history::resolve(tx, &platform, &chat, &arg, LIST)? else {
                return Ok(Switch::NotFound);
            };
            if sessions::live_for_key(tx, &key)?.is_some_and(|live| live.id == target.id) {
                return Ok(Switch::Already);
            }
            let s = history::switch_to(tx, &key, &target.id, store::now())?.unwrap_or(target);
            Ok(Switch::Done { users: history::user_message_count(tx, &s.id)?, name: s.title.unwrap_or(s.id) })
        })
        .await?;
    Ok(match outcome {
        Switch::NotFound => format!("No session of this chat matches '{args}'. Use /resume to list titled sessions."),
        Switch::Already => "You are already in that session.".into(),
        Switch::Done { name, users } => {
            format!(
                "↻ Resumed session: {name} ({users} user message{}). Your next message continues it.",
                plural(users)
            )
        }
    })
}

enum Switch {
    NotFound,
    Already,
    Done { name: String, users: i64 },
}

async fn branch(state: &ActorState, args: &str) -> Reply {
    let name = match sanitize_title(args) {
        Ok(name) => name,
        Err(too_long) => return Ok(too_long),
    };
    let key = state.key.clone();
    let wanted = name.clone();
    let outcome = state
        .gw
        .store
        .call(move |tx| {
            let Some(live) = sessions::live_for_key(tx, &key)?.filter(|s| s.message_count > 0) else {
                return Ok(Err(None));
            };
            if let Some(t) = &wanted
                && let Some(holder) = sessions::title_owner(tx, t)?
            {
                return Ok(Err(Some(holder)));
            }
            let now = store::now();
            let new = history::branch(tx, &live, &session_key::new_session_id(now), wanted.as_deref(), now)?;
            Ok(Ok(new.message_count))
        })
        .await?;
    Ok(match (outcome, name) {
        (Err(None), _) => "Nothing to branch yet: this session has no messages.".into(),
        (Err(Some(holder)), t) => texts::title_in_use(&t.unwrap_or_default(), &holder),
        (Ok(n), name) => {
            let named = name.map(|t| format!(" \"{t}\"")).unwrap_or_default();
            format!(
                "⑂ Branched into a new session{named} with {n} message{} of history. The original stays in /sessions.",
                plural(n)
            )
        }
    })
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `Title (12 messages, 5m ago)`; the id stands in for a missing title.
fn describe(s: &SessionSummary, now: f64) -> String {
    let name = s.title.clone().unwrap_or_else(|| s.id.clone());
    format!("{name} ({} message{}, {})", s.message_count, plural(s.message_count), ago(now - s.updated_at))
}

fn hit_line(h: &SearchHit) -> String {
    let name = h.title.clone().unwrap_or_else(|| h.session_id.clone());
    let snippet = h.snippet.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("• {name}: {snippet}")
}

fn ago(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match s {
        0..60 => "just now".into(),
        60..3600 => format!("{}m ago", s / 60),
        3600..86400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(5.0), "just now");
        assert_eq!(ago(-3.0), "just now");
        assert_eq!(ago(125.0), "2m ago");
        assert_eq!(ago(7300.0), "2h ago");
        assert_eq!(ago(3.0 * 86400.0), "3d ago");
    }
}
