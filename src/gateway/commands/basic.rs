//! The everyday commands: /start, /help, /commands, /stop, /status, /queue, /steer, /version,
//! /agents.

use super::registry::{self, CommandDef};
use super::{After, Command, usage};
use crate::gateway::actor::ActorState;
use crate::gateway::texts;
use crate::store::inbox::InboxRow;
use crate::store::sessions;

pub const COMMANDS: &[CommandDef] = &[
    CommandDef::new("start", "", "Say hello").busy(),
    CommandDef::new("help", "", "Show the commands").busy(),
    CommandDef::new("commands", "[page]", "List every command, page by page").busy(),
    CommandDef::new("stop", "", "Stop the running task").busy(),
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
        "help" | "commands" => {
            state.reply(row, &help_text()).await;
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
            state.reply(row, &agents_text(state)).await;
            After::Done
        }
        _ => return None,
    };
    Some(after)
}

fn help_text() -> String {
    let mut text = String::from("Commands:\n");
    for def in registry::all() {
        text.push_str(&format!("{} — {}\n", def.usage(), def.about));
    }
    text.trim_end().to_string()
}

/// `/agents`: the turns running now, across sessions. Delegations and background processes
/// join this list with the features that start them.
fn agents_text(state: &ActorState) -> String {
    let running = state.gw.running_turns();
    if running.is_empty() {
        return "No agents are running.".into();
    }
    let mut lines = vec![format!("🤖 Running agents: {}", running.len())];
    for (key, doing, iteration, elapsed) in running {
        let here = if key == state.key { " (this chat)" } else { "" };
        lines.push(format!("• {key}{here}: {doing}, step {iteration}, {} s", elapsed.as_secs()));
    }
    lines.join("\n")
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
