//! Inbound: connecting platforms, journaling their batches, and routing events to actors
//! (M11, M12, M21).

use std::rc::Rc;
use std::time::Duration;

use hermes_platform::backoff::Backoff;
use hermes_platform::{ChatRef, ConnectContext, InboundBatch, InboundSink, PlatformConfig, SendOptions};

use super::actor::{self, Inbound};
use super::{Gateway, auth, commands, recovery, session_key, texts};
use crate::runtime;
use crate::store::inbox::{self, InboxRow, InboxState};
use crate::store::{self, state};

/// Longest inbound text handed to the model (bytes). Real platforms cap far below this
/// (Telegram: 4096 characters); anything longer is a broken or hostile client.
pub const MAX_INBOUND_TEXT: usize = 256 * 1024;

/// Connects one platform in the background, retrying with backoff until it works or fails
/// for good; then registers its adapter and recovers its unfinished work.
pub fn connect_platform(gw: Rc<Gateway>, platform: Box<dyn PlatformConfig>, tx: async_channel::Sender<InboundBatch>) {
    let name = platform.platform();
    runtime::spawn_guarded(format!("{name} connect"), async move {
        log::info!("{name}: connecting ({})", platform.describe());
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut platform = platform;
        loop {
            if gw.is_draining() {
                return;
            }
            let cursor = gw.store.call(move |t| state::cursor(t, name)).await.ok().flatten();
            let ctx = ConnectContext {
                inbound: InboundSink::new(name, tx.clone()),
                cursor,
                http: gw.http.clone(),
                cache_dir: gw.config.home.join("cache"),
            };
            let (p, result) = runtime::blocking(move || {
                let r = platform.connect(ctx);
                (platform, r)
            })
            .await;
            platform = p;
            match result {
                Ok(adapter) => {
                    gw.register_adapter(name, adapter.clone());
                    log::info!("{name}: connected");
                    // The first skills scan reads files: off the executor.
                    let home = gw.config.home.clone();
                    runtime::blocking(move || crate::skills::cached(&home)).await;
                    let menu = commands::menu(&gw);
                    if adapter.capabilities().command_menu
                        && let Err(e) = runtime::blocking(move || adapter.set_commands(&menu)).await
                    {
                        log::warn!("{name}: could not register the command menu: {e}");
                    }
                    recovery::platform_ready(&gw, name).await;
                    return;
                }
                Err(e) if e.retryable => {
                    let wait = backoff.next_delay();
                    log::warn!("{name}: cannot connect: {e}; retrying in {} s", wait.as_secs());
                    smol::Timer::after(wait).await;
                }
                Err(e) => {
                    log::error!("{name}: {e}; this platform stays off until the configuration is fixed");
                    return;
                }
            }
        }
    });
}

/// Journals every batch, acknowledges it, then routes its new events.
pub async fn run(gw: Rc<Gateway>, rx: async_channel::Receiver<InboundBatch>) {
    while let Ok(batch) = rx.recv().await {
        let InboundBatch { platform, events, cursor, ack } = batch;
        let name = platform.clone();
        let journaled =
            gw.store.call(move |tx| inbox::journal(tx, &name, events, cursor.as_deref(), store::now())).await;
        let rows = match journaled {
            Ok(rows) => {
                ack.journaled();
                rows
            }
            Err(e) => {
                log::error!("{platform}: journaling a batch failed: {e}");
                ack.failed(e.to_string());
                continue;
            }
        };
        if gw.is_draining() || !gw.is_ready(&platform) {
            continue; // journaled: recovery or the next start handles them
        }
        for row in rows {
            dispatch(&gw, row, false, false).await;
        }
    }
}

/// Routes one journaled event: backlog check, authorization, then the session's actor.
pub async fn dispatch(gw: &Rc<Gateway>, row: InboxRow, resume: bool, replay: bool) {
    if !gw.claim(row.id) {
        return;
    }
    let event = &row.event;
    let source = &event.source;
    // The platform's timestamp is real time; ours may be shifted by the test clock offset.
    let age = row.received_at - crate::clock::offset() - event.timestamp;
    if !resume && event.timestamp > 0.0 && age > gw.config.gateway.backlog_max_age.as_secs_f64() {
        log::info!(
            "{}: skipping a message from chat {} that was {} min old when it arrived (backlog)",
            source.platform,
            source.chat_id,
            (age / 60.0) as u64
        );
        gw.finish_rows(&[row.id], InboxState::Skipped).await;
        return;
    }
    // Internal events (background completions) come from the gateway itself: no auth.
    if !event.internal && auth::check(&gw.config, source) == auth::Verdict::Denied {
        auth::refuse(gw, &row).await;
        return;
    }
    // An edited message is handled as a new message with its new text; button callbacks and
    // reactions go to the session, where they can answer a pending prompt.
    if event.text.trim().is_empty() && event.media.is_empty() {
        log::debug!("{}: nothing to do for a {:?} event", source.platform, event.kind);
        gw.finish_rows(&[row.id], InboxState::Done).await;
        return;
    }
    if event.text.len() > MAX_INBOUND_TEXT {
        log::warn!(
            "{}: a {} KB message from chat {} is over the limit; not answered",
            source.platform,
            event.text.len() / 1024,
            source.chat_id
        );
        let chat = ChatRef::new(source.chat_id.clone(), source.thread_id.clone());
        if let Some(outlet) = gw.outlet(&source.platform, chat, None, Some(event.message_id.clone())) {
            let text = texts::too_long(event.text.len(), MAX_INBOUND_TEXT);
            let _ =
                outlet.send(&format!("cmd:{}", row.id), &text, SendOptions { plain: true, ..Default::default() }).await;
        }
        gw.finish_rows(&[row.id], InboxState::Skipped).await;
        return;
    }
    let key = session_key::build(source, &gw.config.sessions);
    let chat = ChatRef::new(source.chat_id.clone(), source.thread_id.clone());
    let platform = source.platform.clone();
    let mut inbound = Inbound { row, resume, replay };
    loop {
        let handle = match gw.actor(&key) {
            Some(h) => h,
            None if gw.actor_count() < gw.config.gateway.max_session_actors || gw.evict_idle_actor() => {
                let h = actor::spawn(gw.clone(), key.clone(), platform.clone(), chat.clone());
                gw.insert_actor(&key, h.clone());
                h
            }
            None => {
                gw.wait_actor_freed().await;
                continue;
            }
        };
        match handle.deliver(inbound).await {
            Ok(()) => return,
            Err(back) => {
                // The actor exited between lookup and delivery: forget it and start a new one.
                gw.forget_actor(&key, handle.state());
                inbound = back;
            }
        }
    }
}
