//! The gateway's side of delegation (A18–A24): it runs the children a turn's `delegate_task`
//! asks for, keeps background units in the registry (detached from the turn), journals each
//! completion into the originating chat as an internal message (a new turn when the session is
//! idle, after the current turn when busy), and makes all of it survive a restart through the
//! `delegations` table: running rows become `lost` and the chat is told, finished rows that were
//! not delivered are delivered once.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use hermes_platform::{MessageEvent, SendOptions, Source};
use rusqlite::OptionalExtension;

use super::Gateway;
use super::actor::ActorState;
use crate::agent::chain::ProviderChain;
use crate::agent::control::TurnControl;
use crate::delegation::child::{self, ChildSetup};
use crate::delegation::format::{self, Completion, TaskResult};
use crate::delegation::registry::Record;
use crate::store::delegations::{self, DelegationRow};
use crate::store::inbox;
use crate::store::outbox::{self, NewOutbox};
use crate::store::sessions::{self, Usage};
use crate::tools::SessionRef;
use crate::tools::host::DelegateTask;
use crate::{clock, runtime, store};

/// The turn that called `delegate_task`.
#[derive(Clone, Debug)]
pub struct Origin {
    pub session_id: String,
    pub session_key: String,
    pub source: Source,
    /// The parent session's model and `/reasoning`; children use them unless `delegation.model`.
    pub model: String,
    pub reasoning: Option<String>,
}

/// Answers a `delegate_task` call: background units are dispatched and answered at once,
/// synchronous ones answer when their children are done (the turn loop keeps serving its
/// interrupts meanwhile; an interrupt of the parent stops synchronous children).
pub async fn serve(
    gw: &Rc<Gateway>,
    actor: &Rc<ActorState>,
    origin: Origin,
    (tasks, role): (Vec<DelegateTask>, &str),
    background: bool,
    reply: async_channel::Sender<String>,
) {
    let role = role.to_string();
    if background {
        let goals: Vec<String> = tasks.iter().map(|t| t.goal.clone()).collect();
        let answer = match dispatch(gw, origin, tasks, &role).await {
            Ok(id) => format::dispatched_json(&id, &goals),
            Err(why) => format!("error:{why}"),
        };
        let _ = reply.try_send(answer);
        return;
    }
    let (gw, parent) = (gw.clone(), actor.control());
    runtime::spawn(async move {
        let controls: Vec<Rc<TurnControl>> = tasks.iter().map(|_| Rc::new(TurnControl::new())).collect();
        let relay = parent.clone().map(|parent| relay_interrupt(parent, controls.clone()));
        let every = child::heartbeat_every(gw.config.agent.gateway_timeout);
        let heartbeat = parent.map(|p| (p, every));
        let (results, total) = run_children(&gw, &origin, &tasks, &controls, heartbeat, (1, &role)).await;
        drop(relay);
        let _ = reply.try_send(format::results_json(&results, total));
    })
    .detach();
}

/// Starts a background unit; its id, or why nothing was started.
pub async fn dispatch(
    gw: &Rc<Gateway>,
    origin: Origin,
    tasks: Vec<DelegateTask>,
    role: &str,
) -> Result<String, String> {
    let cfg = &gw.config.tools.delegation;
    let slot = match gw.delegations.slots.try_reserve(cfg.max_async_children) {
        Ok(slot) => slot,
        Err(running) => return Err(format::capacity_error(running, cfg.max_async_children)),
    };
    let id = format!("deleg_{}", clock::random_hex(8));
    let goals: Vec<String> = tasks.iter().map(|t| t.goal.clone()).collect();
    let model = child_model(gw, &origin);
    let now = store::now();
    let row = DelegationRow {
        id: id.clone(),
        session_id: origin.session_id.clone(),
        session_key: origin.session_key.clone(),
        source: origin.source.clone(),
        goals: goals.clone(),
        context: tasks.first().and_then(|t| t.context.clone()),
        role: role.into(),
        model: model.clone(),
        status: "running".into(),
        dispatched_at: now,
        completed_at: None,
        result_json: None,
        delivered_at: None,
    };
    if let Err(e) = gw.store.call(move |tx| delegations::insert(tx, &row)).await {
        log::error!("cannot record delegation {id}: {e}");
        return Err("the delegation could not be recorded; nothing was started".into());
    }
    let session = (origin.session_key.clone(), origin.session_id.clone());
    let record = Rc::new(Record::new(id.clone(), session, goals.clone(), model, now, slot));
    gw.delegations.add(record.clone());
    log::info!("{}: delegation {id} dispatched ({} task(s))", origin.session_key, tasks.len());
    let gw2 = gw.clone();
    let role = role.to_string();
    runtime::spawn(async move { run_unit(&gw2, origin, record, tasks, role).await }).detach();
    Ok(id)
}

/// Runs a background unit to its end, records it and delivers its completion.
async fn run_unit(gw: &Rc<Gateway>, origin: Origin, record: Rc<Record>, tasks: Vec<DelegateTask>, role: String) {
    let (results, total) = run_children(gw, &origin, &tasks, &record.controls, None, (1, &role)).await;
    gw.delegations.remove(&record.id);
    let stopped = record.stopped.borrow().clone();
    let status = match &stopped {
        Some(_) => "interrupted",
        None if results.iter().all(|r| r.status != "completed") => "error",
        None => "completed",
    };
    let (id, json) = (record.id.clone(), format::results_json(&results, total));
    let now = store::now();
    let finished = gw
        .store
        .call(move |tx| {
            delegations::finish(tx, &id, status, &json, now)?;
            if stopped.is_some() {
                // The chat was told when it was stopped; nothing more goes out.
                delegations::mark_delivered(tx, &id, now)?;
            }
            delegations::get(tx, &id)
        })
        .await;
    log::info!("delegation {} ended: {status}", record.id);
    match finished {
        Ok(Some(row)) if row.delivered_at.is_none() => deliver(gw, row).await,
        Ok(_) => {}
        Err(e) => log::error!("cannot record the end of delegation {}: {e}", record.id),
    }
}

/// The children of one dispatch, side by side; results in task order and the wall time.
/// `(depth, role)`: how deep the children are and the role they were given.
async fn run_children(
    gw: &Rc<Gateway>,
    origin: &Origin,
    tasks: &[DelegateTask],
    controls: &[Rc<TurnControl>],
    heartbeat: Option<(Rc<TurnControl>, std::time::Duration)>,
    (depth, role): (u32, &str),
) -> (Vec<TaskResult>, f64) {
    let started = Instant::now();
    let cfg = &gw.config.tools.delegation;
    let model = child_model(gw, origin);
    let provider = ProviderChain::new(gw.provider.for_session(&model, origin.reasoning.as_deref()), &gw.fallbacks);
    // An orchestrator's own delegate_task runs its children here, one level deeper, synchronously.
    let nested_heartbeat = heartbeat.clone();
    let nested = move |tasks: Vec<DelegateTask>, role: String, own: Rc<TurnControl>| {
        let heartbeat = nested_heartbeat.clone();
        Box::pin(async move {
            let controls: Vec<Rc<TurnControl>> = tasks.iter().map(|_| Rc::new(TurnControl::new())).collect();
            let relay = relay_interrupt(own, controls.clone());
            let (results, total) =
                Box::pin(run_children(gw, origin, &tasks, &controls, heartbeat, (depth + 1, &role))).await;
            drop(relay);
            format::results_json(&results, total)
        }) as Pin<Box<dyn Future<Output = String> + '_>>
    };
    let may_spawn = role == "orchestrator" && cfg.orchestrator_enabled && depth < cfg.max_spawn_depth;
    let setup = ChildSetup {
        provider: &provider,
        tools: gw.tools_for(&origin.source.platform),
        config: gw.config.tools.clone(),
        store: gw.store.clone(),
        session: SessionRef {
            session_id: origin.session_id.clone(),
            session_key: origin.session_key.clone(),
            source: Some(origin.source.clone()),
        },
        model,
        heartbeat,
        depth,
        orchestrator: may_spawn.then_some(&nested as &child::Nested<'_>),
    };
    let runs = tasks
        .iter()
        .zip(controls)
        .enumerate()
        .map(|(i, (t, control))| child::run(&setup, i, &t.goal, t.context.as_deref(), control.clone()));
    let (results, spent): (Vec<TaskResult>, Vec<Usage>) = join_all(runs.collect()).await.into_iter().unzip();
    // The children's tokens and cost count towards the session that asked for them (Hermes).
    let mut total = Usage::default();
    for u in &spent {
        total.add(u);
    }
    let session_id = origin.session_id.clone();
    if let Err(e) = gw.store.call(move |tx| sessions::add_usage(tx, &session_id, &total)).await {
        log::warn!("cannot add the subagents' usage to session {}: {e}", origin.session_id);
    }
    (results, started.elapsed().as_secs_f64())
}

/// Interrupts `children` when `parent` is interrupted, until the returned task is dropped.
fn relay_interrupt(parent: Rc<TurnControl>, children: Vec<Rc<TurnControl>>) -> smol::Task<()> {
    runtime::spawn(async move {
        parent.interrupted().await;
        for c in &children {
            c.interrupt("Parent agent interrupted — child did not finish in time");
        }
    })
}

fn child_model(gw: &Gateway, origin: &Origin) -> String {
    gw.config.tools.delegation.model.clone().unwrap_or_else(|| origin.model.clone())
}

/// Polls every future until all are done (the children of one dispatch share the executor).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Option<Pin<Box<F>>>> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, result) in futures.iter_mut().zip(out.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|r| r.expect("every future finished")).collect()
}

/// The completion of a finished row as an internal message of its chat, journaled in the same
/// transaction that marks the row delivered, so it goes out once whatever crashes when. A row
/// whose session has ended since (`/new`, `/reset`) is marked and dropped with a log line.
pub async fn deliver(gw: &Rc<Gateway>, row: DelegationRow) {
    let text = completion_text(&row, store::now());
    let (id, session_id, platform) = (row.id.clone(), row.session_id.clone(), row.source.platform.clone());
    let key = format!("delegation:{id}");
    let mut event = MessageEvent::text(row.source.clone(), &key, &key, &text, 0.0);
    event.internal = true;
    let journaled = gw
        .store
        .call(move |tx| {
            let now = store::now();
            if !delegations::mark_delivered(tx, &id, now)? {
                return Ok(None);
            }
            let ended: Option<f64> = tx
                .query_row("SELECT ended_at FROM sessions WHERE id = ?1", [&session_id], |r| r.get(0))
                .optional()?
                .flatten();
            if ended.is_some() {
                return Ok(Some(Vec::new()));
            }
            inbox::journal(tx, &platform, vec![event], None, now).map(Some)
        })
        .await;
    match journaled {
        Ok(Some(rows)) if rows.is_empty() => {
            log::info!("delegation {}: its session has ended; the result was dropped", row.id)
        }
        Ok(Some(rows)) => super::route_journaled(gw, rows, &row.source.platform).await,
        Ok(None) => {}
        Err(e) => log::error!("cannot deliver delegation {}: {e}", row.id),
    }
}

fn completion_text(row: &DelegationRow, now: f64) -> String {
    let (mut results, total) = row.result_json.as_deref().and_then(format::parse_results).unwrap_or_default();
    for r in &mut results {
        if r.goal.is_empty() {
            r.goal = row.goals.get(r.task_index).cloned().unwrap_or_default();
        }
    }
    let error = results.is_empty().then_some("the subagents left no result");
    format::completion_text(&Completion {
        id: &row.id,
        goals: &row.goals,
        context: row.context.as_deref(),
        role: &row.role,
        results: &results,
        total_seconds: total,
        dispatched_at: row.dispatched_at,
        now,
        error,
    })
}

/// Stops the background units of a session (`/stop`, `/new`, `/reset`): their rows end as
/// `interrupted` and delivered, and the text for the chat names them. `None` when there were none.
pub async fn stop_session(gw: &Rc<Gateway>, session_key: &str, reason: &str) -> Option<String> {
    let stopped = gw.delegations.stop_session(session_key, reason);
    if stopped.is_empty() {
        return None;
    }
    record_stopped(gw, &stopped).await;
    let lines: Vec<String> = stopped.iter().map(|r| format!("• {} — {}", r.id, short(&r.label(), 80))).collect();
    Some(format!("⏹ Stopped {} background task(s):\n{}", lines.len(), lines.join("\n")))
}

/// Shutdown: every unit is stopped, recorded as interrupted and its chat told, before the
/// platforms go.
pub async fn shutdown(gw: &Rc<Gateway>) {
    let stopped = gw.delegations.stop_all("gateway shutdown");
    record_stopped(gw, &stopped).await;
    for record in stopped {
        let id = record.id.clone();
        let source = gw.store.call(move |tx| delegations::get(tx, &id)).await.ok().flatten().map(|r| r.source);
        let Some(source) = source else { continue };
        let chat = hermes_platform::ChatRef::new(source.chat_id.clone(), source.thread_id.clone());
        if let Some(outlet) = gw.outlet(&source.platform, chat, Some(record.session_id.clone()), None) {
            let text = format!(
                "⏹ Background task {} was stopped: the gateway is shutting down.\nGoal: {}",
                record.id,
                short(&record.label(), 200)
            );
            let _ = outlet.send(&format!("delegation-stopped:{}", record.id), &text, SendOptions::default()).await;
        }
    }
}

/// Stopped units end as `interrupted` and count as delivered: the chat is told at once.
async fn record_stopped(gw: &Rc<Gateway>, stopped: &[Rc<Record>]) {
    let ids: Vec<String> = stopped.iter().map(|r| r.id.clone()).collect();
    let done = gw
        .store
        .call(move |tx| {
            let now = store::now();
            for id in &ids {
                delegations::finish(tx, id, "interrupted", r#"{"results":[],"total_duration_seconds":0}"#, now)?;
                delegations::mark_delivered(tx, id, now)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = done {
        log::error!("cannot record stopped delegations: {e}");
    }
}

/// Startup (A23): running rows become `lost` and their chats get one message each (through
/// the outbox, in the same transaction); finished rows never delivered are journaled once.
/// Both go out when their platform is ready. Old rows are pruned.
pub async fn recover(gw: &Rc<Gateway>) {
    let found = gw
        .store
        .call(|tx| {
            let now = store::now();
            let lost = delegations::mark_lost(tx, now)?;
            for row in &lost {
                let message = NewOutbox {
                    idem_key: format!("delegation-lost:{}", row.id),
                    session_id: Some(row.session_id.clone()),
                    platform: row.source.platform.clone(),
                    chat_id: row.source.chat_id.clone(),
                    thread_id: row.source.thread_id.clone(),
                    reply_to: None,
                    kind: "text".into(),
                    body: format::lost_text(&row.id, &row.goals),
                };
                outbox::insert_or_get(tx, &message, now)?;
            }
            delegations::prune(tx, now)?;
            Ok((lost.len(), delegations::undelivered(tx)?))
        })
        .await;
    match found {
        Ok((lost, undelivered)) => {
            if lost > 0 {
                log::warn!("{lost} background delegation(s) were running when the gateway stopped: marked lost");
            }
            for row in undelivered {
                log::info!("delegation {}: delivering a result the previous run did not", row.id);
                deliver(gw, row).await;
            }
        }
        Err(e) => log::error!("delegation recovery: {e}"),
    }
}

/// `/agents` lines for the background units of `session_key` (every unit when `None`).
pub fn agents_lines(gw: &Gateway, session_key: Option<&str>) -> Vec<String> {
    let now = store::now();
    gw.delegations
        .list()
        .iter()
        .filter(|r| session_key.is_none_or(|k| r.session_key == k))
        .map(|r| {
            format!(
                "• {} · {} · {} · {} · {}",
                r.id,
                r.status(),
                format::age(now - r.dispatched_at),
                r.model,
                short(&r.label(), 60)
            )
        })
        .collect()
}

fn short(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut s: String = one_line.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}
