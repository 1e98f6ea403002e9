//! Commands the user defines: `quick_commands` from config.yaml (exec and alias) and skills
//! (`/<skill-name> [args]`, /reload-skills). Built-ins always win over both (CAC §4.1 items
//! 6 and 8); quick commands win over skills of the same name.

use std::time::Duration;

use super::registry::{self, CommandDef};
use super::shell::{self, Exec};
use super::{After, Command};
use crate::config::QuickCommand;
use crate::gateway::Gateway;
use crate::gateway::actor::ActorState;
use crate::gateway::postprocess;
use crate::skills;
use crate::store::inbox::InboxRow;

pub const COMMANDS: &[CommandDef] =
    &[CommandDef::new("reload-skills", "", "Rescan the skills folder").aliases(&["reload_skills"])];

/// How long an `exec` quick command may run (Hermes: 30 s).
pub const QUICK_TIMEOUT: Duration = Duration::from_secs(30);
/// The most output an `exec` quick command replies with, in characters.
pub const OUTPUT_CAP: usize = 4000;

const NO_OUTPUT: &str = "Command returned no output.";
const TIMED_OUT: &str = "Quick command timed out (30s).";

/// Telegram's menu limits (setMyCommands): 100 commands, names `[a-z0-9_]{1,32}`,
/// descriptions of 1–256 characters.
const MENU_MAX: usize = 100;
const MENU_NAME_MAX: usize = 32;
const MENU_ABOUT_MAX: usize = 256;

/// The quick command a typed name means (`/my_cmd` also finds `my-cmd` and back).
fn quick<'a>(gw: &'a Gateway, typed: &str) -> Option<&'a QuickCommand> {
    let (dashed, underscored) = (typed.replace('_', "-"), typed.replace('-', "_"));
    let names = [typed, dashed.as_str(), underscored.as_str()];
    names.iter().find_map(|n| gw.config.commands.quick_commands.iter().find(|(name, _)| name == n).map(|(_, qc)| qc))
}

/// An alias quick command's target, when `cmd` is one and no built-in has its name. A target
/// in plain text (no leading `/`) is left for [`handle`], which runs it as a turn.
pub fn expand_alias(state: &ActorState, cmd: &Command) -> Command {
    if registry::find(&cmd.name).is_some() {
        return cmd.clone();
    }
    let Some(QuickCommand::Alias { target }) = quick(&state.gw, &cmd.name) else { return cmd.clone() };
    alias_target(target, &cmd.args).filter(|t| t.name != cmd.name).unwrap_or_else(|| cmd.clone())
}

/// `/model gpt` + typed `--global` → `/model gpt --global`; `None` for plain text.
fn alias_target(target: &str, args: &str) -> Option<Command> {
    let mut expanded = super::parse(target.trim())?;
    if !args.is_empty() {
        expanded.args = if expanded.args.is_empty() { args.to_string() } else { format!("{} {args}", expanded.args) };
    }
    Some(expanded)
}

pub async fn handle(state: &ActorState, row: &InboxRow, cmd: &Command) -> Option<After> {
    if cmd.name == "reload-skills" {
        let home = state.gw.config.home.clone();
        let count = crate::runtime::blocking(move || skills::reload(&home).len()).await;
        state.reply(row, &reload_text(count)).await;
        return Some(After::Done);
    }
    if registry::find(&cmd.name).is_some() {
        return None; // a built-in nobody answered: never shadowed
    }
    match quick(&state.gw, &cmd.name) {
        Some(QuickCommand::Exec { command }) => {
            let text = run_quick(&state.gw, command).await;
            state.reply(row, &text).await;
            return Some(After::Done);
        }
        Some(QuickCommand::Alias { target }) if alias_target(target, "").is_none() => {
            let text = if cmd.args.is_empty() { target.clone() } else { format!("{target} {}", cmd.args) };
            return Some(After::RunTurn(text));
        }
        _ => {}
    }
    let home = state.gw.config.home.clone();
    let skill = skills::find(&home, &cmd.name)?;
    let args = cmd.args.clone();
    let name = skill.name.clone();
    match crate::runtime::blocking(move || skills::invocation_message(&skill, &args)).await {
        Ok(message) => Some(After::RunTurn(message)),
        Err(e) => {
            log::warn!("skill {name}: {e}");
            state.reply(row, &format!("Failed to load skill: {name}")).await;
            Some(After::Done)
        }
    }
}

fn reload_text(count: usize) -> String {
    match count {
        1 => "🔄 Skills reloaded: 1 skill found.".into(),
        n => format!("🔄 Skills reloaded: {n} skills found."),
    }
}

/// Runs an `exec` quick command on the blocking pool and gives the reply text: its output
/// (stdout, else stderr), capped and redacted, or the Hermes timeout or error text.
async fn run_quick(gw: &Gateway, command: &str) -> String {
    let env = quick_env(gw);
    let command = command.to_string();
    let outcome = crate::runtime::blocking(move || shell::run(&command, &env, QUICK_TIMEOUT, OUTPUT_CAP * 4 + 4)).await;
    match outcome {
        Exec::Output(text) if text.trim().is_empty() => NO_OUTPUT.into(),
        Exec::Output(text) => cap(&postprocess::redact(text.trim(), &gw.secrets)),
        Exec::TimedOut => TIMED_OUT.into(),
        Exec::Failed(e) => format!("Quick command error: {e}"),
    }
}

fn cap(text: &str) -> String {
    match text.char_indices().nth(OUTPUT_CAP) {
        Some((i, _)) => format!("{}\n… (output truncated)", &text[..i]),
        None => text.to_string(),
    }
}

/// The environment of a quick command: the gateway's environment without secrets (names that
/// look like credentials, and any value the gateway knows to be secret), plus `HERMES_HOME`.
fn quick_env(gw: &Gateway) -> Vec<(String, String)> {
    // `config.env` is the process environment with `.env` and config.yaml merged in.
    let mut env: Vec<(String, String)> = gw
        .config
        .env
        .iter()
        .filter(|(k, v)| {
            *k != "HERMES_HOME" && !secret_name(k) && !gw.secrets.iter().any(|s| s.len() >= 6 && v.contains(s.as_str()))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.push(("HERMES_HOME".into(), gw.config.home.display().to_string()));
    env
}

/// Variable names that carry credentials.
fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    ["_TOKEN", "_KEY", "_SECRET", "_PASSWORD", "_PASSWD", "_CREDENTIALS"].iter().any(|s| n.ends_with(s))
        || ["TOKEN", "SECRET", "PASSWORD", "API_KEY", "PRIVATE_KEY"].iter().any(|s| n.contains(s))
}

/// Menu entries for quick commands and skills, within Telegram's limits and after the
/// built-ins (which take their share of the 100 first).
pub fn menu(gw: &Gateway) -> Vec<hermes_platform::BotCommand> {
    let room = MENU_MAX.saturating_sub(registry::all().count());
    let mut seen: Vec<String> = registry::all().map(|d| d.name.replace('-', "_")).collect();
    let quick = gw.config.commands.quick_commands.iter().map(|(name, qc)| (name.clone(), quick_about(qc)));
    let skills = skills::cached(&gw.config.home);
    let skill_rows = skills.iter().map(|s| (s.command.clone(), s.description.clone()));
    let mut out = Vec::new();
    for (name, about) in quick.chain(skill_rows) {
        if out.len() >= room {
            break;
        }
        let Some(name) = menu_name(&name) else { continue };
        if registry::find(&name).is_some() || seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        out.push(hermes_platform::BotCommand { name, description: menu_about(&about) });
    }
    out
}

/// A Telegram command name (`[a-z0-9_]{1,32}`), `None` when it cannot be one.
fn menu_name(name: &str) -> Option<String> {
    let n = name.to_lowercase().replace('-', "_");
    let ok = !n.is_empty()
        && n.len() <= MENU_NAME_MAX
        && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    ok.then_some(n)
}

fn menu_about(about: &str) -> String {
    let one_line = about.split_whitespace().collect::<Vec<_>>().join(" ");
    let text: String = one_line.chars().take(MENU_ABOUT_MAX).collect();
    if text.is_empty() { "Skill command".into() } else { text }
}

/// What a quick command does, for help and menus.
fn quick_about(qc: &QuickCommand) -> String {
    match qc {
        QuickCommand::Exec { .. } => "Quick command".into(),
        QuickCommand::Alias { target } => format!("Alias for {target}"),
    }
}

/// The help lines of quick commands and skills for /commands, sorted by name.
pub fn catalog(gw: &Gateway) -> (Vec<String>, Vec<String>) {
    let quick = gw
        .config
        .commands
        .quick_commands
        .iter()
        .filter(|(name, _)| registry::find(name).is_none())
        .map(|(name, qc)| format!("/{name} — {}", quick_about(qc)))
        .collect();
    let skills = skills::cached(&gw.config.home)
        .iter()
        .filter(|s| registry::find(&s.command).is_none())
        .map(|s| format!("/{} — {}", s.command, s.description))
        .collect();
    (quick, skills)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_recognised() {
        for n in ["TELEGRAM_BOT_TOKEN", "OPENROUTER_API_KEY", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "GITHUB_TOKEN"] {
            assert!(secret_name(n), "{n}");
        }
        for n in ["PATH", "HOME", "LANG", "HERMES_HOME", "TERM"] {
            assert!(!secret_name(n), "{n}");
        }
    }

    #[test]
    fn output_is_capped_by_characters() {
        let long = "é".repeat(OUTPUT_CAP + 10);
        let capped = cap(&long);
        assert!(capped.starts_with(&"é".repeat(OUTPUT_CAP)));
        assert!(capped.ends_with("(output truncated)"));
        assert_eq!(cap("short"), "short");
    }

    #[test]
    fn alias_targets_keep_their_args_and_add_the_typed_ones() {
        let c = alias_target("/model gpt", "--global").unwrap();
        assert_eq!((c.name.as_str(), c.args.as_str()), ("model", "gpt --global"));
        let c = alias_target("/status", "").unwrap();
        assert_eq!((c.name.as_str(), c.args.as_str()), ("status", ""));
        assert!(alias_target("summarise my inbox", "").is_none());
    }

    #[test]
    fn menu_names_follow_telegram_rules() {
        assert_eq!(menu_name("gif-search"), Some("gif_search".into()));
        assert_eq!(menu_name("Deploy"), Some("deploy".into()));
        assert_eq!(menu_name("café"), None);
        assert_eq!(menu_name(&"x".repeat(33)), None);
        assert_eq!(menu_about("  a\n b  "), "a b");
        assert_eq!(menu_about(&"y".repeat(300)).chars().count(), 256);
    }
}
