//! Slash commands (M2, M19, M25–M28): parsing, the dispatch order, and one file per group of
//! commands. Each group exports its rows of the command table (`COMMANDS`) and a `handle` that
//! answers `None` for names that are not its own.
//!
//! A command never reaches the model, except those documented to rewrite the turn. While a turn
//! runs, only the commands marked `while_busy` act at once; the others get the "can't run
//! mid-turn" text.

pub mod access;
mod basic;
mod compress;
mod custom;
mod history;
pub mod registry;
pub mod session;
pub mod settings;
mod shell;

use super::actor::ActorState;
use super::texts;
use crate::store::inbox::InboxRow;

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

/// What the actor must do after a command.
pub enum After {
    /// Nothing more: the command answered (or said nothing).
    Done,
    /// Run `text` as a user turn (`/queue` or `/steer` while idle, skills, quick-command
    /// aliases that end in plain text).
    RunTurn(String),
    /// Queue `text` behind the running turn.
    Queue(String),
    /// Steer `text` into the running turn.
    Steer(String),
    /// Handle the command again once the running turn has ended (it is only delivering).
    WhenIdle,
}

/// Handles one command; replies go out through the actor's outlet. Order (CAC §4.1, §3.5):
/// `/status` answers even when gated while busy; the admin gate sees the built-in's canonical
/// name or the quick command's typed name; alias quick commands expand; the busy rule; then
/// the handlers. A name nobody knows gets the unknown-command text.
pub async fn handle(state: &ActorState, row: &InboxRow, cmd: &Command) -> After {
    let busy = state.is_busy();
    if state.is_delivering() {
        // The model is done and only the answer is going out: for the user the agent is idle.
        return After::WhenIdle;
    }
    let typed = match registry::find(&cmd.name) {
        Some(d) => Command { name: d.name.to_string(), args: cmd.args.clone() },
        None => cmd.clone(),
    };
    let status_while_busy = busy && typed.name == "status";
    if !status_while_busy && !access::gate(state, row, &typed).await {
        return After::Done;
    }
    let cmd = &custom::expand_alias(state, cmd);
    let def = registry::find(&cmd.name);
    if busy && def.is_some_and(|d| !d.while_busy) {
        state.reply(row, &texts::busy_command(&cmd.name)).await;
        return After::Done;
    }
    let cmd = &match def {
        Some(d) => Command { name: d.name.to_string(), args: cmd.args.clone() },
        None => cmd.clone(),
    };
    if let Some(after) = basic::handle(state, row, cmd).await {
        return after;
    }
    if let Some(after) = session::handle(state, row, cmd).await {
        return after;
    }
    if let Some(after) = compress::handle(state, row, cmd).await {
        return after;
    }
    if let Some(after) = history::handle(state, row, cmd).await {
        return after;
    }
    if let Some(after) = settings::handle(state, row, cmd).await {
        return after;
    }
    if let Some(after) = access::handle(state, row, cmd).await {
        return after;
    }
    if let Some(after) = custom::handle(state, row, cmd).await {
        return after;
    }
    state.reply(row, &texts::unknown_command(&cmd.name)).await;
    After::Done
}

/// The command menu a platform shows (Telegram `setMyCommands`): the built-ins, then what the
/// user defined. Names use `_` where the platform does not allow `-`.
pub fn menu(gw: &super::Gateway) -> Vec<hermes_platform::BotCommand> {
    let mut menu: Vec<_> = registry::available(&gw.config)
        .map(|d| hermes_platform::BotCommand { name: d.name.replace('-', "_"), description: d.about.to_string() })
        .collect();
    menu.extend(custom::menu(gw));
    menu
}

/// The one-line usage text for a bad argument (M28).
pub fn usage(name: &str) -> String {
    match registry::find(name) {
        Some(def) => format!("Usage: {}", def.usage()),
        None => format!("Usage: /{name}"),
    }
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
}
