//! The everyday commands: /start, /help, /commands, /stop, /status, /queue, /steer, /version,
//! /agents, /background.

use super::registry::{self, CommandDef};
use super::{After, Command, usage};
use super::{access, custom};
use crate::gateway::actor::ActorState;
use crate::gateway::delegations;
use crate::gateway::texts;
use crate::store::inbox::InboxRow;
use crate::store::{self, sessions};

pub const COMMANDS: &[CommandDef] = &[
    CommandDef::new("start", "", "Say hello").busy(),
    CommandDef::new("help", "", "Show the commands").busy(),
    CommandDef::new("commands", "[page]", "List every command, page by page").busy(),
    CommandDef::new("stop", "[all]", "Stop the running task (and background tasks: when idle, or with all)").busy(),
    CommandDef::new("background", "<prompt>", "Run a prompt as a background task").aliases(&["bg"]).busy(),
    CommandDef::new("status", "", "Show session and gateway status").busy(),
    CommandDef::new("queue", "<text>", "Queue a message for after the current task").aliases(&["q"]).busy(),
    CommandDef::new("steer", "<text>", "Add a message to the running task").busy(),
    CommandDef::new("agents", "", "List running agents and tasks").aliases(&["tasks"]).busy(),
    CommandDef::new("version", "", "Show the hermes-lite version").aliases(&["v"]).busy(),
];

pub async fn handle(state: &ActorState, row: &InboxRow, cmd: &Command) -> Option<After> {
    let busy = state.is_busy();
    let after = match cmd.name.as_str() {
        "start" => After::Done,
        "help" => {
            state.reply(row, &help_text(&state.gw)).await;
            After::Done
        }
        "commands" => {
            let text = commands_text(&state.gw, &state.platform, &cmd.args);
            state.reply(row, &text).await;
            After::Done
        }
        "stop" => {
            // A running turn is what /stop means first; background tasks when nothing else
            // runs, or when asked for with `/stop all` (A21).
            let all = cmd.args.trim().eq_ignore_ascii_case("all");
            let mut lines = Vec::new();
            if busy {
                state.interrupt("stopped by /stop");
                lines.push(texts::STOPPED.to_string());
            }
            if (!busy || all)
                && let Some(text) = delegations::stop_session(&state.gw, &state.key, "stopped by /stop").await
            {
                lines.push(text);
            }
            let text = if lines.is_empty() { texts::NOTHING_TO_STOP.to_string() } else { lines.join("\n\n") };
            state.reply(row, &text).await;
            After::Done
        }
        "background" => {
            let text = background(state, row, cmd.args.trim()).await;
            state.reply(row, &text).await;
            After::Done
        }
        "status" => {
            let text = status_text(state).await;
            state.reply(row, &text).await;
            After::Done
        }
        "queue" | "steer" if cmd.args.is_empty() => {
            state.reply(row, &usage(&cmd.name)).await;
            After::Done
        }
        "queue" if busy => After::Queue(cmd.args.clone()),
        "steer" if busy => After::Steer(cmd.args.clone()),
        "queue" | "steer" => After::RunTurn(cmd.args.clone()),
        "version" => {
            state.reply(row, &format!("hermes-lite {}", env!("CARGO_PKG_VERSION"))).await;
            After::Done
        }
        "agents" => {
            state.reply(row, &agents_text(state, row)).await;
            After::Done
        }
        _ => return None,
    };
    Some(after)
}

/// How many skills /help shows before pointing at /commands (Hermes: 10).
const HELP_SKILLS: usize = 10;

/// `/help` as Hermes shapes it (CAC §4.2): the registry's help lines, then up to ten skills.
fn help_text(gw: &crate::gateway::Gateway) -> String {
    let mut lines = vec!["📖 Hermes Commands".to_string(), String::new()];
    lines.extend(registry::available(&gw.config).map(|d| format!("{} — {}", d.usage(), d.about)));
    let (quick, skills) = custom::catalog(gw);
    if !quick.is_empty() {
        lines.push(String::new());
        lines.push("⚙️ Quick Commands:".into());
        lines.extend(quick);
    }
    if !skills.is_empty() {
        lines.push(format!("\n⚡ Skill Commands ({} active):", skills.len()));
        lines.extend(skills.iter().take(HELP_SKILLS).cloned());
        if skills.len() > HELP_SKILLS {
            lines.push(format!(
                "\n... and {} more. Use /commands for the full paginated list.",
                skills.len() - HELP_SKILLS
            ));
        }
    }
    lines.join("\n")
}

/// `/commands [page]`: built-ins, quick commands and skills, 15 a page on Telegram and 20
/// elsewhere (Hermes). A page past the end shows the last one and says so.
fn commands_text(gw: &crate::gateway::Gateway, platform: &str, args: &str) -> String {
    let requested = match args.trim() {
        "" => 1,
        a => match a.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return usage("commands"),
        },
    };
    let mut entries: Vec<String> =
        registry::available(&gw.config).map(|d| format!("{} — {}", d.usage(), d.about)).collect();
    let (quick, skills) = custom::catalog(gw);
    if !quick.is_empty() {
        entries.push(String::new());
        entries.push("⚙️ Quick Commands:".into());
        entries.extend(quick);
    }
    if !skills.is_empty() {
        entries.push(String::new());
        entries.push("⚡ Skill Commands:".into());
        entries.extend(skills);
    }
    let page_size = if platform == "telegram" { 15 } else { 20 };
    let pages = entries.len().div_ceil(page_size).max(1);
    let page = requested.clamp(1, pages);
    let start = (page - 1) * page_size;
    let mut lines = vec![format!("📚 Commands ({} total, page {page}/{pages})", entries.len()), String::new()];
    lines.extend(entries.iter().skip(start).take(page_size).cloned());
    if pages > 1 {
        let mut nav = Vec::new();
        if page > 1 {
            nav.push(format!("/commands {} ← prev", page - 1));
        }
        if page < pages {
            nav.push(format!("next → /commands {}", page + 1));
        }
        lines.push(String::new());
        lines.push(nav.join(" | "));
    }
    if page != requested {
        lines.push(format!("(Requested page {requested} was out of range, showing page {page}.)"));
    }
    lines.join("\n")
}

/// `/agents`: the turns running now, across sessions. Delegations and background processes
/// join this list with the features that start them.
/// Running turns, background tasks (this chat's; every chat's for an admin) and background
/// processes (A24).
fn agents_text(state: &ActorState, row: &InboxRow) -> String {
    let running = state.gw.running_turns();
    let admin = access::tier(&state.gw.config, &row.event.source) == access::Tier::Admin;
    let units = delegations::agents_lines(&state.gw, (!admin).then_some(state.key.as_str()));
    let processes = crate::tools::terminal::process::running();
    if running.is_empty() && units.is_empty() && processes.is_empty() {
        return "No agents are running.".into();
    }
    let mut lines = Vec::new();
    if !running.is_empty() {
        lines.push(format!("🤖 Running agents: {}", running.len()));
        for (key, doing, iteration, elapsed) in running {
            let here = if key == state.key { " (this chat)" } else { "" };
            lines.push(format!("• {key}{here}: {doing}, step {iteration}, {} s", elapsed.as_secs()));
        }
    }
    if !units.is_empty() {
        lines.push(format!("🧩 Background tasks: {}", units.len()));
        lines.extend(units);
    }
    if !processes.is_empty() {
        lines.push(format!("⚙️ Background processes: {}", processes.len()));
        for (id, command, secs) in processes {
            let command: String = command.chars().take(60).collect();
            lines.push(format!("• {id} · {secs} s · {command}"));
        }
    }
    lines.join("\n")
}

/// `/background <prompt>`: the prompt as a background delegation of this chat's session.
async fn background(state: &ActorState, row: &InboxRow, prompt: &str) -> String {
    if prompt.is_empty() {
        return "Usage: /background <prompt> — runs the prompt as a background task; its result comes back here."
            .into();
    }
    let (key, source, policy) = (state.key.clone(), row.event.source.clone(), state.gw.config.session_reset.clone());
    let found = state
        .gw
        .store
        .call(move |tx| {
            let live = crate::gateway::session::ensure(tx, &key, &source, &policy, store::now())?;
            let prefs = sessions::prefs(tx, &live.session.id)?;
            Ok((live.session.id, live.session.model, prefs.reasoning))
        })
        .await;
    let (session_id, model, reasoning) = match found {
        Ok(f) => f,
        Err(e) => {
            return {
                log::error!("/background: {e}");
                texts::internal_error("store")
            };
        }
    };
    let origin = delegations::Origin {
        session_id,
        session_key: state.key.clone(),
        source: row.event.source.clone(),
        model: model.unwrap_or_else(|| state.gw.model()),
        reasoning,
    };
    let task = crate::tools::host::DelegateTask { goal: prompt.to_string(), context: None };
    match delegations::dispatch(&state.gw, origin, vec![task], "leaf").await {
        Ok(id) => {
            format!("🚀 Background task {id} started. Its result comes back here when it finishes; /agents lists it.")
        }
        Err(why) => format!("❌ {why}"),
    }
}

async fn status_text(state: &ActorState) -> String {
    let gw = &state.gw;
    let key = state.key.clone();
    let found = gw
        .store
        .call(move |tx| {
            let Some(s) = sessions::live_for_key(tx, &key)? else { return Ok(None) };
            let prefs = sessions::prefs(tx, &s.id)?;
            Ok(Some((s, prefs)))
        })
        .await;
    let (session, prefs) = found.ok().flatten().unzip();
    let mut lines = vec!["📊 Status".to_string()];
    match session {
        Some(s) => {
            lines.push(format!("Session: {}", s.id));
            if let Some(title) = s.title {
                lines.push(format!("Title: {title}"));
            }
            lines.push(format!("Model: {}", s.model.unwrap_or_else(|| gw.model())));
            lines.push(format!("Tokens: {} in / {} out", s.input_tokens, s.output_tokens));
            lines.push(format!(
                "Cache: {} read / {} written, reasoning: {}",
                s.cache_read_tokens, s.cache_write_tokens, s.reasoning_tokens
            ));
        }
        None => {
            lines.push("Session: none yet".into());
            lines.push(format!("Model: {}", gw.model()));
        }
    }
    let (doing, iteration) = state.doing();
    lines.push(if state.is_busy() {
        format!("State: running ({doing}, step {iteration})")
    } else {
        "State: idle".into()
    });
    lines.push(format!("Queued: {}", state.queue_len()));
    lines.push(format!("YOLO: {}", if prefs.is_some_and(|p| p.yolo) { "on" } else { "off" }));
    lines.push(format!("Platforms: {}", gw.connected_platforms().join(", ")));
    lines.push(format!("Uptime: {} min", gw.uptime().as_secs() / 60));
    lines.join("\n")
}
