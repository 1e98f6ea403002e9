//! Context compression for a session (A10): before a turn's model call when the prompt is
//! too large, and on demand with `/compress [focus]`. The cut and the summary request are
//! `agent::compress`; the stored form is `store::compaction`.

use std::time::{Duration, Instant};

use super::Gateway;
use super::actor::ActorState;
use crate::agent::chain::ProviderChain;
use crate::agent::compress;
use crate::agent::message::ChatMessage;
use crate::store::messages::StoredMessage;
use crate::store::{self, compaction, sessions};

/// The context length when `model.context_length` is not set, in tokens.
const DEFAULT_CONTEXT: u64 = 128_000;
/// After a failed summary, no automatic attempt for this long (Hermes' cooldown).
const FAILURE_COOLDOWN: Duration = Duration::from_secs(600);

/// The prompt size (tokens) above which a turn compresses first.
pub fn threshold(gw: &Gateway) -> usize {
    let context = gw.config.model.context_length.unwrap_or(DEFAULT_CONTEXT);
    (context as f64 * gw.config.tools.compression.threshold) as usize
}

/// Compresses `history` of `session_id`: the new history (head, summary, tail), `None` when
/// nothing lies between head and tail, or why the summary failed.
pub async fn run(
    gw: &Gateway,
    provider: &ProviderChain,
    session_id: &str,
    history: &[StoredMessage],
    focus: Option<&str>,
) -> Result<Option<Vec<StoredMessage>>, String> {
    let c = &gw.config.tools.compression;
    let Some((head, tail)) = compress::plan(history, c.protect_first_n, c.protect_last_n) else { return Ok(None) };
    let request = compress::summary_request(&history[head..tail], focus);
    let summary = compress::summarize(provider, &request).await?;
    let head_ids: Vec<i64> = history[..head].iter().map(|m| m.id).collect();
    let (sid, tail_from) = (session_id.to_string(), history[tail].id);
    let row = gw
        .store
        .call(move |tx| {
            let row = compaction::save(tx, &sid, &summary, &head_ids, tail_from, store::now())?;
            // The next turn builds a fresh system prompt (memory snapshot included), as Hermes does.
            sessions::clear_system_prompt(tx, &sid)?;
            Ok(row)
        })
        .await
        .map_err(|e| format!("storing the summary: {e}"))?;
    let mut out = history[..head].to_vec();
    out.push(row);
    out.extend_from_slice(&history[tail..]);
    Ok(Some(out))
}

/// Before a turn's model call: compresses when `messages` (system prompt and history) and the
/// tool schemas exceed the threshold. The new history, if it was compressed. A failure is
/// logged and the turn goes on uncompressed; no new attempt for [`FAILURE_COOLDOWN`].
pub async fn before_turn(
    state: &ActorState,
    provider: &ProviderChain,
    session_id: &str,
    messages: &[ChatMessage],
    history: &[StoredMessage],
) -> Option<Vec<StoredMessage>> {
    let gw = &state.gw;
    if !gw.config.tools.compression.enabled
        || state.compress_failed.get().is_some_and(|t| t.elapsed() < FAILURE_COOLDOWN)
    {
        return None;
    }
    let tokens = compress::estimate_tokens(messages, gw.tools_for(&state.platform).schemas());
    if tokens <= threshold(gw) {
        return None;
    }
    log::info!("{}: prompt of ~{tokens} tokens is over the compression threshold; summarising", state.key);
    match run(gw, provider, session_id, history, None).await {
        Ok(h) => h,
        Err(e) => {
            log::warn!("{}: context compression failed ({e}); the turn goes on uncompressed", state.key);
            state.compress_failed.set(Some(Instant::now()));
            None
        }
    }
}
