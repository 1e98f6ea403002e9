//! Startup recovery, per platform once it is connected (M29, O-reliability).
//!
//! Pending outbox rows younger than `outbox_ttl` are sent once, older ones are dropped; rows
//! of a turn that is itself unfinished are left to that turn's rerun. Then unfinished inbox
//! rows are routed again: `received` ones as new, `processing` ones (a crash mid-turn) resume.

use std::collections::HashSet;
use std::rc::Rc;

use hermes_platform::{ChatRef, SendOptions};

use super::Gateway;
use super::router::dispatch;
use crate::store::inbox::{self, InboxState};
use crate::store::outbox::{self, OutboxState};
use crate::store::{self};

pub async fn platform_ready(gw: &Rc<Gateway>, platform: &str) {
    let name = platform.to_string();
    let found = gw
        .store
        .call(move |tx| {
            let unfinished: Vec<_> = inbox::unfinished(tx)?.into_iter().filter(|r| r.platform == name).collect();
            let pending: Vec<_> = outbox::pending(tx)?.into_iter().filter(|r| r.platform == name).collect();
            Ok((unfinished, pending))
        })
        .await;
    let (unfinished, pending) = match found {
        Ok(f) => f,
        Err(e) => {
            log::error!("{platform}: recovery could not read the store: {e}");
            gw.set_ready(platform);
            return;
        }
    };
    let open_turns: HashSet<String> = unfinished.iter().map(|r| format!("turn:{}:", r.id)).collect();
    let ttl = gw.config.gateway.outbox_ttl.as_secs_f64();
    for row in pending {
        if open_turns.iter().any(|p| row.idem_key.starts_with(p.as_str())) {
            continue;
        }
        let age = store::now() - row.created_at;
        if age > ttl {
            log::warn!(
                "{platform}: dropping an unsent message to chat {} ({} min old)",
                row.chat_id,
                (age / 60.0) as u64
            );
            let id = row.id;
            let _ = gw
                .store
                .call(move |tx| {
                    outbox::mark_final(tx, id, OutboxState::Dropped, Some("too old after restart"), store::now())
                })
                .await;
            continue;
        }
        let chat = ChatRef::new(row.chat_id.clone(), row.thread_id.clone());
        let Some(outlet) = gw.outlet(platform, chat, row.session_id.clone(), None) else { continue };
        log::info!("{platform}: sending a message left unsent by the previous run");
        let opts = SendOptions { reply_to: row.reply_to.clone(), ..Default::default() };
        let _ = outlet.resend(row.id, &row.idem_key, &row.body, opts).await;
    }

    let mut resumed = 0;
    for row in unfinished {
        let resume = row.state == InboxState::Processing;
        if resume && !gw.config.gateway.auto_resume {
            log::info!("{platform}: not resuming inbox row {} (gateway.auto_resume is off)", row.id);
            gw.finish_rows(&[row.id], InboxState::Skipped).await;
            continue;
        }
        resumed += 1;
        dispatch(gw, row, resume, true).await;
    }
    if resumed > 0 {
        log::info!("{platform}: recovered {resumed} unfinished message(s)");
    }
    gw.set_ready(platform);
    // Sessions that expired while the gateway was down end now, with their notice.
    super::session::sweep(gw, Some(platform)).await;
    // Batches journaled while recovery ran were held back; route them now.
    let name = platform.to_string();
    if let Ok(rows) = gw
        .store
        .call(move |tx| {
            Ok(inbox::unfinished(tx)?
                .into_iter()
                .filter(|r| r.platform == name && r.state == InboxState::Received)
                .collect::<Vec<_>>())
        })
        .await
    {
        for row in rows {
            dispatch(gw, row, false, true).await;
        }
    }
}
