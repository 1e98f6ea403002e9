//! Settings of the chat commands: `quick_commands`, `agent.personalities`, title generation and
//! the config gate of /verbose.

use std::collections::BTreeMap;

use super::problem::Problem;
use super::read::Reader;
use super::yaml::Kind;

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
    /// `quick_commands`, by lower-cased name, sorted (a small list: a `Vec` costs less binary
    /// than another map type).
    pub quick_commands: Vec<(String, QuickCommand)>,
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
            quick_commands: Vec::new(),
            personalities: BTreeMap::new(),
            title_generation: true,
            tool_progress_command: false,
        }
    }
}

pub fn read(r: &Reader) -> CommandsConfig {
    CommandsConfig {
        quick_commands: quick_commands(r),
        personalities: personalities(r),
        title_generation: r.bool(r.cfg("auxiliary.title_generation.enabled")).unwrap_or(true),
        tool_progress_command: r.bool(r.cfg("display.tool_progress_command")).unwrap_or(false),
    }
}

/// Adds or replaces `name` in the sorted list.
fn put(list: &mut Vec<(String, QuickCommand)>, name: String, qc: QuickCommand) {
    match list.binary_search_by(|(n, _)| n.cmp(&name)) {
        Ok(i) => list[i].1 = qc,
        Err(i) => list.insert(i, (name, qc)),
    }
}

/// What a `quick_commands` entry must look like, for problems.
const QUICK_SHAPE: &str = "{type: exec, command: \"...\"} or {type: alias, target: \"/command args\"}";

/// `quick_commands: {name: {type: exec, command: ...} | {type: alias, target: ...}}`. A bad
/// entry is a problem at its line saying what was expected (Hermes would fail at use time).
fn quick_commands(r: &Reader) -> Vec<(String, QuickCommand)> {
    let mut out = Vec::new();
    let Some((_, node)) = r.section("quick_commands") else { return out };
    let Kind::Map(entries) = &node.kind else { return out };
    for (key, entry) in entries {
        let name = key.name.trim().to_lowercase();
        let path = format!("quick_commands.{}", key.name);
        let bad = |line: usize, key: &str, msg: String| r.report(Problem::new(r.file, Some(line), key, msg));
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            bad(key.line, &path, "expected a command name of letters, digits, `-` and `_`".into());
            continue;
        }
        if !matches!(entry.kind, Kind::Map(_)) {
            bad(key.line, &path, format!("expected {QUICK_SHAPE}, found {}", entry.describe()));
            continue;
        }
        let text = |field: &str| match entry.get(field) {
            Some((k, v)) => match &v.kind {
                Kind::Scalar(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                _ => Err((k.line, v.describe())),
            },
            None => Err((key.line, "nothing".into())),
        };
        let kind = match text("type") {
            Ok(t) => t,
            Err((line, found)) => {
                bad(line, &format!("{path}.type"), format!("expected `exec` or `alias`, found {found}"));
                continue;
            }
        };
        let (field, want) = match kind.as_str() {
            "exec" => ("command", "a shell command"),
            "alias" => ("target", "a command such as \"/model gpt\""),
            other => {
                let line = entry.get("type").map_or(key.line, |(k, _)| k.line);
                bad(line, &format!("{path}.type"), format!("expected `exec` or `alias`, found {other:?}"));
                continue;
            }
        };
        match text(field) {
            Ok(value) if kind == "exec" => {
                put(&mut out, name, QuickCommand::Exec { command: value });
            }
            Ok(value) => {
                put(&mut out, name, QuickCommand::Alias { target: value });
            }
            Err((line, found)) => bad(line, &format!("{path}.{field}"), format!("expected {want}, found {found}")),
        }
    }
    out
}

/// `agent.personalities`: `name: text`, or `name: {system_prompt: text}` (`prompt` also read).
fn personalities(r: &Reader) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some((_, node)) = r.section("agent.personalities") else { return out };
    let Kind::Map(entries) = &node.kind else { return out };
    for (key, value) in entries {
        let path = format!("agent.personalities.{}", key.name);
        let text = match &value.kind {
            Kind::Map(_) => {
                let field = value.get("system_prompt").or_else(|| value.get("prompt"));
                r.string(field.map(|(k, v)| r.raw_of(k, v, &path)))
            }
            Kind::Null => None,
            _ => r.string(Some(r.raw_of(key, value, &path))),
        };
        if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
            out.insert(key.name.to_lowercase(), text);
        }
    }
    out
}
