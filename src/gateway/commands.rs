//! Slash commands (M2, M19, M26–M28): parsing, and the handlers of this build's command set.
//!
//! A command never reaches the model. While a turn runs, only the commands of M19 act at once;
//! the others get the "can't run mid-turn" text.

use super::actor::ActorState;
use super::texts;
use crate::store::inbox::InboxRow;
use crate::store::sessions;

/// A parsed `/command args`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Lower-cased, without `/` and `@botname`.
    pub name: String,
    pub args: String,
}

/// Parses a command as Hermes does (M2): a leading `/`, the first word lower-cased and its
/// `@botname` stripped; a first word with another `/` is a path, not a command. iOS dashes in
/// the arguments become `--` / `-`.
pub fn parse(text: &str) -> Option<Command> {
    let rest = text.trim_start().strip_prefix('/')?;
    let (word, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let name = word.split('@').next().unwrap_or("").to_lowercase();
    if name.is_empty() || word.contains('/') {
        return None;
    }
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
        return None;
    }
    let args = args.replace('—', "--").replace('–', "-");
    Some(Command { name, args })
}

/// The commands this build knows, with their menu descriptions.
pub const COMMANDS: &[(&str, &str)] = &[
    ("new", "Start a new session"),
    ("reset", "Reset the session (same as /new)"),
    ("stop", "Stop the running task"),
    ("status", "Show session and gateway status"),
    ("queue", "Queue a message for after the current task"),
    ("steer", "Add a message to the running task"),
    ("help", "Show the commands"),
    ("commands", "Show the commands"),
];

/// Commands that act at once while a turn runs (the M19 list, as far as this build has them).
pub fn runs_while_busy(name: &str) -> bool {
    matches!(name, "status" | "stop" | "new" | "reset" | "help" | "commands" | "queue" | "steer" | "start")
}

/// What the actor must do after a command.
pub enum After {
    /// Nothing more: the command answered (or said nothing).
    Done,
    /// Run `text` as a user turn (`/queue` or `/steer` while idle).
    RunTurn(String),
    /// Queue `text` behind the running turn.
    Queue(String),
    /// Steer `text` into the running turn.
    Steer(String),
}

/// Handles one command; replies go out through the actor's outlet.
pub async fn handle(state: &ActorState, row: &InboxRow, cmd: &Command) -> After {
    let busy = state.is_busy();
    if busy && !runs_while_busy(&cmd.name) {
        state.reply(row, &texts::busy_command(&cmd.name)).await;
        return After::Done;
    }
    match cmd.name.as_str() {
        "start" => After::Done,
        "help" | "commands" => {
            state.reply(row, &help_text()).await;
            After::Done
        }
        "new" | "reset" => {
            if busy {
                state.interrupt("session reset");
            }
            state.end_session("new").await;
            let text = if cmd.name == "new" { texts::NEW_SESSION } else { texts::SESSION_RESET };
            state.reply(row, text).await;
            After::Done
        }
        "stop" => {
            let text = if busy {
                state.interrupt("stopped by /stop");
                texts::STOPPED
            } else {
                texts::NOTHING_TO_STOP
            };
            state.reply(row, text).await;
            After::Done
        }
        "status" => {
            let text = status_text(state).await;
            state.reply(row, &text).await;
            After::Done
        }
        "queue" | "steer" if cmd.args.is_empty() => {
            state.reply(row, &format!("Usage: /{} <text>", cmd.name)).await;
            After::Done
        }
        "queue" if busy => After::Queue(cmd.args.clone()),
        "steer" if busy => After::Steer(cmd.args.clone()),
        "queue" | "steer" => After::RunTurn(cmd.args.clone()),
        other => {
            state.reply(row, &texts::unknown_command(other)).await;
            After::Done
        }
    }
}

fn help_text() -> String {
    let mut text = String::from("Commands:\n");
    for (name, about) in COMMANDS {
        text.push_str(&format!("/{name} — {about}\n"));
    }
    text.trim_end().to_string()
}

async fn status_text(state: &ActorState) -> String {
    let gw = &state.gw;
    let key = state.key.clone();
    let session = gw.store.call(move |tx| sessions::live_for_key(tx, &key)).await.ok().flatten();
    let mut lines = vec!["📊 Status".to_string()];
    match session {
        Some(s) => {
            lines.push(format!("Session: {}", s.id));
            if let Some(title) = s.title {
                lines.push(format!("Title: {title}"));
            }
            lines.push(format!("Model: {}", s.model.unwrap_or_else(|| gw.provider.model().to_string())));
            lines.push(format!("Tokens: {} in / {} out", s.input_tokens, s.output_tokens));
        }
        None => {
            lines.push("Session: none yet".into());
            lines.push(format!("Model: {}", gw.provider.model()));
        }
    }
    let (doing, iteration) = state.doing();
    lines.push(if state.is_busy() {
        format!("State: running ({doing}, step {iteration})")
    } else {
        "State: idle".into()
    });
    lines.push(format!("Queued: {}", state.queue_len()));
    lines.push(format!("Platforms: {}", gw.connected_platforms().join(", ")));
    lines.push(format!("Uptime: {} min", gw.uptime().as_secs() / 60));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_hermes() {
        assert_eq!(parse("/new"), Some(Command { name: "new".into(), args: String::new() }));
        assert_eq!(parse("/NEW@hermes_bot  my title "), Some(Command { name: "new".into(), args: "my title".into() }));
        assert_eq!(parse("/model x —global"), Some(Command { name: "model".into(), args: "x --global".into() }));
        assert_eq!(parse("/usr/bin/env"), None);
        assert_eq!(parse("hello /new"), None);
        assert_eq!(parse("/"), None);
        assert_eq!(parse("/ hello"), None);
    }

    #[test]
    fn busy_list() {
        assert!(runs_while_busy("stop"));
        assert!(!runs_while_busy("title"));
    }
}
