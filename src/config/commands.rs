//! Settings of the chat commands: `quick_commands`, `agent.personalities`, title generation and
//! the config gate of /verbose.

use std::collections::BTreeMap;

use super::read::Reader;

/// A `quick_commands.<name>` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuickCommand {
    /// `type: exec`, `command: <shell command>`: runs it and replies with its output.
    Exec { command: String },
    /// `type: alias`, `target: /other args`: runs another command.
    Alias { target: String },
}

#[derive(Clone, Debug)]
pub struct CommandsConfig {
    /// `quick_commands`, by lower-cased name.
    pub quick_commands: BTreeMap<String, QuickCommand>,
    /// `agent.personalities`: name → system-prompt text.
    pub personalities: BTreeMap<String, String>,
    /// `auxiliary.title_generation.enabled`, default true.
    pub title_generation: bool,
    /// `display.tool_progress_command`, default false: whether /verbose is available.
    pub tool_progress_command: bool,
}

impl Default for CommandsConfig {
    fn default() -> Self {
        CommandsConfig {
            quick_commands: BTreeMap::new(),
            personalities: BTreeMap::new(),
            title_generation: true,
            tool_progress_command: false,
        }
    }
}

pub fn read(r: &Reader) -> CommandsConfig {
    let title_generation = r.bool(r.cfg("auxiliary.title_generation.enabled")).unwrap_or(true);
    CommandsConfig { title_generation, ..CommandsConfig::default() }
}
