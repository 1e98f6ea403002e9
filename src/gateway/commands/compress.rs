//! `/compress [focus]` (A10, CAC §4): summarises the middle of the session's history now and
//! says what it saved.

use super::registry::CommandDef;
use super::{After, Command};
use crate::agent::compress::estimate_tokens;
use crate::agent::history;
use crate::gateway::actor::ActorState;
use crate::gateway::{compress, texts, turn};
use crate::store::inbox::InboxRow;
use crate::store::sessions;

pub const COMMANDS: &[CommandDef] =
    &[CommandDef::new("compress", "[focus]", "Summarize the middle of the conversation to save context")
        .aliases(&["compact"])];

pub async fn handle(state: &ActorState, row: &InboxRow, cmd: &Command) -> Option<After> {
    if cmd.name != "compress" {
        return None;
    }
    let gw = &state.gw;
    let (key, budget) = (state.key.clone(), turn::history_budget(gw));
    let loaded = gw
        .store
        .call(move |tx| {
            let Some(s) = sessions::live_for_key(tx, &key)? else { return Ok(None) };
            let h = turn::load_history(tx, &s.id, budget)?;
            Ok(Some((s, h)))
        })
        .await;
    let (session, before) = match loaded {
        Ok(Some(found)) => found,
        Ok(None) => {
            state.reply(row, NOTHING).await;
            return Some(After::Done);
        }
        Err(e) => {
            log::error!("/compress in {}: {e}", state.key);
            state.reply(row, &texts::internal_error("store")).await;
            return Some(After::Done);
        }
    };
    let model = session.model.clone().unwrap_or_else(|| gw.model());
    let provider = crate::agent::chain::ProviderChain::new(gw.provider.for_session(&model, None), &gw.fallbacks);
    let focus = Some(cmd.args.trim()).filter(|f| !f.is_empty());
    let text = match compress::run(gw, &provider, &session.id, &before, focus).await {
        Ok(Some(after)) => report(before.len(), tokens(&before), after.len(), tokens(&after)),
        Ok(None) => NOTHING.to_string(),
        Err(e) => format!("⚠️ Compression failed: {e}. Nothing was changed."),
    };
    state.reply(row, &text).await;
    Some(After::Done)
}

const NOTHING: &str = "Nothing to compress yet: the conversation is short enough.";

fn tokens(h: &[crate::store::messages::StoredMessage]) -> usize {
    estimate_tokens(&history::to_chat(h), None)
}

fn report(before: usize, before_tokens: usize, after: usize, after_tokens: usize) -> String {
    format!("🗜️ Compressed: {before} → {after} messages, ~{before_tokens} → ~{after_tokens} tokens.")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_report_names_messages_and_tokens() {
        assert_eq!(super::report(40, 9000, 25, 3000), "🗜️ Compressed: 40 → 25 messages, ~9000 → ~3000 tokens.");
    }
}
