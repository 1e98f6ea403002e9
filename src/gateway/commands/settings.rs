//! Commands that change how the agent runs: /model, /usage, /sethome, /personality,
//! /reasoning, /verbose, /yolo, /restart, /platform.
//!
//! Per-session choices (model, personality, reasoning effort, yolo) live in the session row, so
//! they survive restarts and end with the session. Global ones are written to `config.yaml` or
//! `.env` for the next start and kept in [`crate::gateway::Overrides`] for this run.
//!
//! `/platform pause` holds a platform's new events in the inbox (journaled, not routed);
//! `/platform resume` routes them. The platform the command comes from cannot be paused, since
//! its `/platform resume` could then never be read.

use rusqlite::params;

use super::registry::CommandDef;
use super::{After, Command, usage};
use crate::config::{env_file, yaml_edit};
use crate::gateway::actor::ActorState;
use crate::gateway::router::dispatch;
use crate::gateway::{session, texts};
use crate::runtime;
use crate::store;
use crate::store::inbox::{self, InboxRow, InboxState};
use crate::store::sessions::{self, Session};

pub const COMMANDS: &[CommandDef] = &[
    CommandDef::new("model", "[name] [--global]", "Show or switch the model").busy(),
    CommandDef::new("usage", "", "Show token usage and cost"),
    CommandDef::new("sethome", "", "Make this chat the home channel").aliases(&["set-home"]),
    CommandDef::new("personality", "[name|none]", "List or set the personality"),
    CommandDef::new("reasoning", "[level|show|hide|reset]", "Show or set the reasoning effort"),
    CommandDef::new("verbose", "", "Cycle how tool progress is shown").busy(),
    CommandDef::new("yolo", "", "Toggle approval bypass for this session").busy(),
    CommandDef::new("restart", "", "Restart the gateway").busy(),
    CommandDef::new("platform", "list|pause <name>|resume <name>", "Show, pause or resume platforms"),
];

/// Effort levels OpenAI-compatible endpoints accept as `reasoning_effort`.
pub const REASONING_LEVELS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh"];

/// `/verbose` cycles through these, as Hermes does.
const TOOL_PROGRESS_CYCLE: &[&str] = &["off", "new", "all", "verbose"];

const MODEL_BUSY: &str = "⏳ Agent is running — wait or /stop first, then switch the model.";
const RESTARTING: &str = "♻ Restarting gateway. If you aren't notified within 60 seconds, restart from the console \
with `hermes gateway restart`.";

pub async fn handle(state: &ActorState, row: &InboxRow, cmd: &Command) -> Option<After> {
    let text = match cmd.name.as_str() {
        "model" => model(state, row, &cmd.args).await,
        "usage" => usage_text(state).await,
        "sethome" => sethome(state, row).await,
        "personality" => personality(state, row, &cmd.args).await,
        "reasoning" => reasoning(state, row, &cmd.args).await,
        "yolo" => yolo(state, row).await,
        "verbose" => verbose(state, &cmd.name).await,
        "restart" => {
            state.reply(row, RESTARTING).await;
            // Done before the stop begins, so the restarted gateway does not read it again.
            state.gw.finish_rows(&[row.id], InboxState::Done).await;
            // SAFETY: raising a signal has no memory effects; its handler writes to a pipe.
            unsafe { libc::raise(libc::SIGUSR1) };
            return Some(After::Done);
        }
        "platform" => platform(state, row, &cmd.args).await,
        _ => return None,
    };
    state.reply(row, &text).await;
    Some(After::Done)
}

fn store_failed(e: impl std::fmt::Display) -> String {
    log::error!("a settings command could not use the store: {e}");
    texts::internal_error("store")
}

async fn live_session(state: &ActorState) -> Option<Session> {
    let key = state.key.clone();
    state.gw.store.call(move |tx| sessions::live_for_key(tx, &key)).await.ok().flatten()
}

/// Sets one per-session column, creating the session when the chat has none yet.
async fn set_column(
    state: &ActorState,
    row: &InboxRow,
    column: &'static str,
    value: Option<String>,
) -> Result<(), String> {
    let (key, source) = (state.key.clone(), row.event.source.clone());
    let policy = state.gw.config.session_reset.clone();
    state
        .gw
        .store
        .call(move |tx| {
            let live = session::ensure(tx, &key, &source, &policy, store::now())?;
            tx.execute(&format!("UPDATE sessions SET {column} = ?2 WHERE id = ?1"), params![live.session.id, value])?;
            if column == "personality" {
                // The personality is part of the system prompt: the next turn rebuilds it.
                sessions::clear_system_prompt(tx, &live.session.id)?;
            }
            Ok(())
        })
        .await
        .map_err(store_failed)
}

async fn model(state: &ActorState, row: &InboxRow, args: &str) -> String {
    if state.is_busy() {
        return MODEL_BUSY.into();
    }
    let mut global = false;
    let mut name = None;
    for word in args.split_whitespace() {
        match word {
            "--global" => global = true,
            "--session" => global = false,
            w if w.starts_with("--") || name.is_some() => return usage("model"),
            w => name = Some(w.to_string()),
        }
    }
    let Some(name) = name else {
        if global {
            return usage("model");
        }
        let current = live_session(state).await.and_then(|s| s.model).unwrap_or_else(|| state.gw.model());
        return format!(
            "🤖 Current model: {current}\nSwitch with /model <name> (this session) or /model <name> --global (saved \
             to config.yaml, used by new sessions)."
        );
    };
    if let Err(e) = set_column(state, row, "model", Some(name.clone())).await {
        return e;
    }
    if !global {
        return format!("🤖 Model switched to {name} for this session.");
    }
    let path = state.gw.config.home.join("config.yaml");
    let (file, value) = (path.clone(), name.clone());
    if let Err(e) = runtime::blocking(move || yaml_edit::set_in_file(&file, "model.default", &value)).await {
        log::error!("cannot write {}: {e}", path.display());
        return format!("🤖 Model switched to {name} for this session, but config.yaml could not be written: {e}");
    }
    state.gw.overrides.borrow_mut().model = Some(name.clone());
    format!("🤖 Model switched to {name} and saved to config.yaml; new sessions use it too.")
}

async fn usage_text(state: &ActorState) -> String {
    let key = state.key.clone();
    let found = state
        .gw
        .store
        .call(move |tx| {
            let live = sessions::live_for_key(tx, &key)?;
            let totals = tx.query_row(
                "SELECT COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), \
                 COALESCE(SUM(cost_usd), 0.0), COALESCE(SUM(message_count), 0) FROM sessions WHERE key = ?1",
                [&key],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, f64>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                },
            )?;
            Ok((live, totals))
        })
        .await;
    let (live, (count, input, output, cost, messages)) = match found {
        Ok(f) => f,
        Err(e) => return store_failed(e),
    };
    let mut lines = vec!["📊 Usage".to_string()];
    match live {
        Some(s) => {
            lines.push(format!("Model: {}", s.model.unwrap_or_else(|| state.gw.model())));
            lines.push(format!("Input tokens: {}", s.input_tokens));
            lines.push(format!("Output tokens: {}", s.output_tokens));
            lines.push(format!("Reasoning tokens: {}", s.reasoning_tokens));
            lines.push(format!("Cache tokens: {} read / {} written", s.cache_read_tokens, s.cache_write_tokens));
            // A price is never guessed (A5): only what the provider or `model.pricing` gave.
            if s.cost_usd > 0.0 {
                lines.push(format!("Cost: ${:.4}", s.cost_usd));
            } else {
                lines.push("Cost: unknown (no price from the provider or model.pricing)".into());
            }
            lines.push(format!("Messages: {}", s.message_count));
        }
        None => lines.push("No session yet in this chat.".into()),
    }
    lines.push(format!(
        "This chat, all {count} session(s): {input} in / {output} out tokens, ${cost:.4}, {messages} messages"
    ));
    lines.join("\n")
}

async fn sethome(state: &ActorState, row: &InboxRow) -> String {
    let source = &row.event.source;
    let upper = state.platform.to_ascii_uppercase();
    let (chat_key, thread_key) = (format!("{upper}_HOME_CHANNEL"), format!("{upper}_HOME_CHANNEL_THREAD_ID"));
    let (chat, thread) = (source.chat_id.clone(), source.thread_id.clone());
    let path = state.gw.config.home.join(".env");
    let file = path.clone();
    let written = runtime::blocking(move || {
        env_file::update(&file, &[(chat_key.as_str(), Some(chat.as_str())), (thread_key.as_str(), thread.as_deref())])
    })
    .await;
    if let Err(e) = written {
        log::error!("cannot write {}: {e}", path.display());
        return format!("❌ Could not save the home channel: {e}");
    }
    {
        let mut o = state.gw.overrides.borrow_mut();
        o.home_channels.retain(|(p, ..)| *p != state.platform);
        o.home_channels.push((state.platform.clone(), source.chat_id.clone(), source.thread_id.clone()));
    }
    let name = source.chat_name.clone().unwrap_or_else(|| source.chat_id.clone());
    format!(
        "✅ Home channel set to {name} (ID: {}).\nCron jobs and cross-platform messages will be delivered here.",
        source.chat_id
    )
}

fn personality_list(state: &ActorState, current: Option<&str>) -> String {
    let all = &state.gw.config.commands.personalities;
    if all.is_empty() {
        return "No personalities are configured. Add them under agent.personalities in config.yaml.".into();
    }
    let mut lines = vec!["🎭 Personalities:".to_string()];
    for (name, text) in all {
        let short: String = text.chars().take(60).collect();
        let more = if text.chars().count() > 60 { "…" } else { "" };
        lines.push(format!("• {name} — {short}{more}"));
    }
    lines.push(format!("Current: {}", current.unwrap_or("none")));
    lines.push("Use /personality <name>, or /personality none to clear it.".into());
    lines.join("\n")
}

async fn personality(state: &ActorState, row: &InboxRow, args: &str) -> String {
    let arg = args.trim().to_lowercase();
    if arg.is_empty() {
        let current = match live_session(state).await {
            Some(s) => state.gw.store.call(move |tx| sessions::prefs(tx, &s.id)).await.ok().and_then(|p| p.personality),
            None => None,
        };
        return personality_list(state, current.as_deref());
    }
    if matches!(arg.as_str(), "none" | "default" | "reset" | "off") {
        return match set_column(state, row, "personality", None).await {
            Ok(()) => "🎭 Personality cleared.".into(),
            Err(e) => e,
        };
    }
    if !state.gw.config.commands.personalities.contains_key(&arg) {
        return format!("Unknown personality: {arg}\n\n{}", personality_list(state, None));
    }
    match set_column(state, row, "personality", Some(arg.clone())).await {
        Ok(()) => format!("🎭 Personality set to {arg} for this session."),
        Err(e) => e,
    }
}

async fn reasoning(state: &ActorState, row: &InboxRow, args: &str) -> String {
    let arg = args.trim().to_lowercase();
    match arg.as_str() {
        "" | "show" | "hide" => {
            let current = match live_session(state).await {
                Some(s) => {
                    state.gw.store.call(move |tx| sessions::prefs(tx, &s.id)).await.ok().and_then(|p| p.reasoning)
                }
                None => None,
            };
            let mut text = format!(
                "🧠 Reasoning effort: {}\nSet it with /reasoning <{}>, or /reasoning reset.",
                current.as_deref().unwrap_or("the provider's default"),
                REASONING_LEVELS.join("|")
            );
            if !arg.is_empty() {
                text.push_str("\nhermes-lite does not show the model's reasoning in chat.");
            }
            text
        }
        "reset" => match set_column(state, row, "reasoning", None).await {
            Ok(()) => "🧠 Reasoning effort reset to the provider's default.".into(),
            Err(e) => e,
        },
        level if REASONING_LEVELS.contains(&level) => {
            match set_column(state, row, "reasoning", Some(arg.clone())).await {
                Ok(()) => format!("🧠 Reasoning effort set to {arg} for this session."),
                Err(e) => e,
            }
        }
        _ => usage("reasoning"),
    }
}

async fn yolo(state: &ActorState, row: &InboxRow) -> String {
    let (key, source) = (state.key.clone(), row.event.source.clone());
    let policy = state.gw.config.session_reset.clone();
    let toggled = state
        .gw
        .store
        .call(move |tx| {
            let live = session::ensure(tx, &key, &source, &policy, store::now())?;
            let on = !sessions::prefs(tx, &live.session.id)?.yolo;
            tx.execute("UPDATE sessions SET yolo = ?2 WHERE id = ?1", params![live.session.id, on as i64])?;
            Ok(on)
        })
        .await;
    match toggled {
        Ok(true) => "⚡ YOLO mode ON for this session: dangerous commands run without asking for approval.".into(),
        Ok(false) => "🛡 YOLO mode OFF: dangerous commands need approval again.".into(),
        Err(e) => store_failed(e),
    }
}

/// The tool-progress mode Hermes would use on `platform`: its `display.platforms` entry, then
/// `display.tool_progress`, then the platform's default (Telegram: off), then `all`.
fn tool_progress(config_text: &str, platform: &str) -> String {
    let value = yaml_edit::get(config_text, &format!("display.platforms.{platform}.tool_progress"))
        .or_else(|| yaml_edit::get(config_text, "display.tool_progress"))
        .unwrap_or_else(|| if platform == "telegram" { "off" } else { "all" }.into())
        .to_lowercase();
    if matches!(value.as_str(), "false" | "no") { "off".into() } else { value }
}

async fn verbose(state: &ActorState, name: &str) -> String {
    if !state.gw.config.commands.tool_progress_command {
        return texts::unknown_command(name);
    }
    let path = state.gw.config.home.join("config.yaml");
    let file = path.clone();
    let text = runtime::blocking(move || std::fs::read_to_string(&file).unwrap_or_default()).await;
    let current = tool_progress(&text, &state.platform);
    let next = match TOOL_PROGRESS_CYCLE.iter().position(|m| *m == current) {
        Some(i) => TOOL_PROGRESS_CYCLE[(i + 1) % TOOL_PROGRESS_CYCLE.len()],
        None => "off",
    };
    let key = format!("display.platforms.{}.tool_progress", state.platform);
    let file = path.clone();
    if let Err(e) = runtime::blocking(move || yaml_edit::set_in_file(&file, &key, next)).await {
        log::error!("cannot write {}: {e}", path.display());
        return format!("❌ Could not save the tool progress mode: {e}");
    }
    let about = match next {
        "off" => "no tool activity is shown",
        "new" => "each new tool is shown once",
        "all" => "every tool call is shown",
        _ => "every tool call is shown with its arguments",
    };
    format!("⚙️ Tool progress: {next} ({about}). Saved to config.yaml.")
}

async fn platform(state: &ActorState, row: &InboxRow, args: &str) -> String {
    let gw = &state.gw;
    let words: Vec<&str> = args.split_whitespace().collect();
    match words.as_slice() {
        [] | ["list"] => {
            let mut lines = vec!["📡 Platforms:".to_string()];
            for name in gw.connected_platforms() {
                let what = if gw.is_paused(&name) { "paused" } else { "connected" };
                lines.push(format!("• {name}: {what}"));
            }
            if lines.len() == 1 {
                lines.push("none connected".into());
            }
            lines.join("\n")
        }
        ["pause", name] | ["resume", name] if gw.adapter(name).is_none() => {
            format!("Unknown platform: {name}. Connected: {}", gw.connected_platforms().join(", "))
        }
        ["pause", name] if *name == state.platform => {
            format!("{name} can't pause itself: you could not send /platform resume. Pause it from another platform.")
        }
        ["pause", name] => {
            crate::sorted::insert(&mut gw.overrides.borrow_mut().paused, name.to_string());
            format!("⏸ {name} paused: its new messages wait until /platform resume {name}.")
        }
        ["resume", name] => {
            let was_paused = {
                let mut o = gw.overrides.borrow_mut();
                let before = o.paused.len();
                o.paused.retain(|p| p != name);
                o.paused.len() != before
            };
            if !was_paused {
                return format!("{name} is not paused.");
            }
            let platform = name.to_string();
            let held = gw
                .store
                .call(move |tx| {
                    Ok(inbox::unfinished(tx)?
                        .into_iter()
                        .filter(|r| r.platform == platform && r.state == InboxState::Received)
                        .collect::<Vec<_>>())
                })
                .await
                .unwrap_or_default();
            let count = held.len();
            for held_row in held.into_iter().filter(|r| r.id != row.id) {
                dispatch(gw, held_row, false, true).await;
            }
            format!("▶ {name} resumed; {count} waiting message(s) are being handled.")
        }
        _ => usage("platform"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_progress_reads_platform_then_global_then_default() {
        assert_eq!(tool_progress("", "telegram"), "off");
        assert_eq!(tool_progress("", "discord"), "all");
        assert_eq!(tool_progress("display:\n  tool_progress: new\n", "telegram"), "new");
        let both = "display:\n  tool_progress: new\n  platforms:\n    telegram:\n      tool_progress: verbose\n";
        assert_eq!(tool_progress(both, "telegram"), "verbose");
        assert_eq!(tool_progress("display:\n  tool_progress: false\n", "x"), "off");
    }
}
