//! The command table: every command the gateway knows, its aliases, its arguments, its menu
//! text and whether it acts while a turn runs (M19, M26). Each command group keeps its own
//! rows next to its handlers; this module joins them.

/// One built-in command.
#[derive(Clone, Copy, Debug)]
pub struct CommandDef {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// Shown after the name in help and usage texts (`[title]`, `<text>`).
    pub args: &'static str,
    pub about: &'static str,
    /// Acts at once while a turn runs (M19); otherwise the "can't run mid-turn" text.
    pub while_busy: bool,
}

impl CommandDef {
    pub const fn new(name: &'static str, args: &'static str, about: &'static str) -> Self {
        CommandDef { name, aliases: &[], args, about, while_busy: false }
    }

    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    pub const fn busy(mut self) -> Self {
        self.while_busy = true;
        self
    }

    /// `/name args`, for help and usage lines.
    pub fn usage(&self) -> String {
        if self.args.is_empty() { format!("/{}", self.name) } else { format!("/{} {}", self.name, self.args) }
    }
}

/// Every built-in command, in help order.
pub fn all() -> impl Iterator<Item = &'static CommandDef> {
    super::basic::COMMANDS
        .iter()
        .chain(super::session::COMMANDS)
        .chain(super::history::COMMANDS)
        .chain(super::compress::COMMANDS)
        .chain(super::settings::COMMANDS)
        .chain(super::access::COMMANDS)
        .chain(super::custom::COMMANDS)
}

/// The commands this configuration offers in help and menus: /verbose only when
/// `display.tool_progress_command` is on (CAC §4.1 config gates).
pub fn available(config: &crate::config::Config) -> impl Iterator<Item = &'static CommandDef> + '_ {
    all().filter(|d| d.name != "verbose" || config.commands.tool_progress_command)
}

/// The command a typed name means, by name or alias (`/bg` → `background`).
pub fn find(name: &str) -> Option<&'static CommandDef> {
    let name = name.replace('_', "-");
    all().find(|d| d.name == name || d.aliases.contains(&name.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_aliases_are_unique() {
        let mut seen = HashSet::new();
        for def in all() {
            for name in std::iter::once(&def.name).chain(def.aliases) {
                assert!(seen.insert(*name), "/{name} is defined twice");
            }
        }
    }

    #[test]
    fn finds_by_alias_and_telegram_underscores() {
        assert_eq!(find("reset").map(|d| d.name), Some("reset"));
        assert!(find("no-such-command").is_none());
    }
}
