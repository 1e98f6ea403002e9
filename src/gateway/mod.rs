//! The gateway: platforms in, sessions, turns, delivery out.
//!
//! Data flows one way: platform → inbox (journal) → router (auth, session key) → session actor
//! (commands, busy policy) → turn (agent loop) → outbox → platform. Everything here runs on the
//! one executor thread; platform threads, model streams and the store thread talk to it through
//! channels.

mod actor;
mod asks;
mod auth;
mod commands;
mod compress;
mod confirm;
mod delegations;
pub mod lifecycle;
mod outlet;
pub mod postprocess;
mod recovery;
mod router;
mod session;
pub mod session_key;
mod stream;
mod texts;
mod title;
mod tool_host;
mod turn;
mod watchdog;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hermes_platform::http::HttpContext;
use hermes_platform::{Adapter, ChatRef, InboundBatch};

pub use lifecycle::ExitReason;

use crate::agent::provider::Provider;
use crate::config::Config;
use crate::runtime;
use crate::store::{self, Store};
use crate::tools::ToolRegistry;

/// Process exit codes (O7), as Hermes uses them.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const RESTART: i32 = 75;
    pub const CONFIG: i32 = 78;
}

/// Settings changed by chat commands while the gateway runs; they win over the config read
/// at start (which is also rewritten, for the next start).
#[derive(Debug, Default)]
pub struct Overrides {
    /// `/model --global`: the model of new sessions.
    pub model: Option<String>,
    /// `/sethome`: (platform, chat, thread).
    pub home_channels: Vec<(String, String, Option<String>)>,
    /// `/platform pause`: their new events stay journaled until `/platform resume`.
    pub paused: Vec<String>,
}

/// The running gateway, shared by every task on the executor.
pub struct Gateway {
    pub config: Config,
    pub store: Store,
    pub provider: Provider,
    /// `fallback_providers` / `fallback_model`, in order (A4).
    pub fallbacks: Vec<Provider>,
    /// The default tools, and those of platforms with their own `platform_toolsets` list.
    tools: ToolRegistry,
    platform_tools: BTreeMap<String, ToolRegistry>,
    /// Background delegations running now (A19–A21).
    pub delegations: crate::delegation::registry::Registry,
    pub http: HttpContext,
    /// Values never to show or log (tokens, keys).
    pub secrets: Rc<Vec<String>>,
    adapters: RefCell<BTreeMap<String, Arc<dyn Adapter>>>,
    actors: RefCell<HashMap<String, actor::ActorHandle>>,
    /// Woken whenever an actor exits or finishes a turn (routing waits on it when every actor
    /// slot of `gateway.max_session_actors` is busy).
    actor_freed: (async_channel::Sender<()>, async_channel::Receiver<()>),
    /// Inbox rows routed and not yet finished (recovery and the router never route one twice).
    in_flight: RefCell<HashSet<i64>>,
    /// Platforms whose recovery has run; events of the others wait in the inbox.
    ready: RefCell<HashSet<String>>,
    draining: Cell<bool>,
    started: Instant,
    pub overrides: RefCell<Overrides>,
}

impl Gateway {
    pub fn adapter(&self, platform: &str) -> Option<Arc<dyn Adapter>> {
        self.adapters.borrow().get(platform).cloned()
    }

    pub fn connected_platforms(&self) -> Vec<String> {
        self.adapters.borrow().keys().cloned().collect()
    }

    /// True while any session runs a turn.
    pub fn any_turn_running(&self) -> bool {
        self.actors.borrow().values().any(|a| a.is_busy())
    }

    /// The turns running now, by session key: what each does, its step and how long it has run.
    pub fn running_turns(&self) -> Vec<(String, String, u32, Duration)> {
        let actors = self.actors.borrow();
        let mut out: Vec<(String, String, u32, Duration)> = Vec::new();
        for (key, a) in actors.iter() {
            let state = a.state();
            let Some(elapsed) = state.running_for() else { continue };
            let (doing, iteration) = state.doing();
            let at = out.partition_point(|(k, ..)| k < key);
            out.insert(at, (key.clone(), doing, iteration, elapsed));
        }
        out
    }

    /// The tools a chat on `platform` gets (`platform_toolsets`, else the defaults).
    pub fn tools_for(&self, platform: &str) -> &ToolRegistry {
        self.platform_tools.get(platform).unwrap_or(&self.tools)
    }

    /// The model of new sessions: `/model --global`'s, else the configured one.
    pub fn model(&self) -> String {
        self.overrides.borrow().model.clone().unwrap_or_else(|| self.provider.model().to_string())
    }

    /// The home channel of a platform (chat, thread): set by `/sethome` while running, else
    /// `<PLATFORM>_HOME_CHANNEL` / `_THREAD_ID`.
    #[allow(dead_code)] // read by cron and cross-platform delivery, which come later
    pub fn home_channel(&self, platform: &str) -> Option<(String, Option<String>)> {
        if let Some((_, chat, thread)) = self.overrides.borrow().home_channels.iter().find(|(p, ..)| p == platform) {
            return Some((chat.clone(), thread.clone()));
        }
        let upper = platform.to_ascii_uppercase();
        let chat = self.config.env_var(&format!("{upper}_HOME_CHANNEL"))?.to_string();
        let thread = self.config.env_var(&format!("{upper}_HOME_CHANNEL_THREAD_ID")).map(str::to_string);
        Some((chat, thread))
    }

    pub fn is_paused(&self, platform: &str) -> bool {
        self.overrides.borrow().paused.iter().any(|p| p == platform)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.get()
    }

    /// An outlet to a chat on a connected platform.
    pub fn outlet(
        &self,
        platform: &str,
        chat: ChatRef,
        session_id: Option<String>,
        reply_to: Option<String>,
    ) -> Option<outlet::Outlet> {
        let adapter = self.adapter(platform)?;
        Some(outlet::Outlet { store: self.store.clone(), adapter, chat, session_id, reply_to })
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    fn register_adapter(&self, platform: &str, adapter: Arc<dyn Adapter>) {
        self.adapters.borrow_mut().insert(platform.to_string(), adapter);
    }

    /// Recovered and not paused: its new events are routed at once.
    fn is_ready(&self, platform: &str) -> bool {
        self.ready.borrow().contains(platform) && !self.is_paused(platform)
    }

    fn set_ready(&self, platform: &str) {
        self.ready.borrow_mut().insert(platform.to_string());
    }

    /// Marks an inbox row as routed; false when it already is.
    fn claim(&self, inbox_id: i64) -> bool {
        self.in_flight.borrow_mut().insert(inbox_id)
    }

    /// Records the final state of inbox rows and forgets them.
    pub async fn finish_rows(&self, ids: &[i64], state: store::inbox::InboxState) {
        let list = ids.to_vec();
        let result = self
            .store
            .call(move |tx| {
                for id in &list {
                    store::inbox::set_state(tx, *id, state)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            log::error!("inbox rows {ids:?}: could not record {}: {e}", state.as_str());
        }
        self.release_rows(ids);
    }

    /// Forgets routed rows whose final state is already recorded.
    pub fn release_rows(&self, ids: &[i64]) {
        let mut in_flight = self.in_flight.borrow_mut();
        for id in ids {
            in_flight.remove(id);
        }
    }

    fn actor(&self, key: &str) -> Option<actor::ActorHandle> {
        self.actors.borrow().get(key).cloned()
    }

    fn actor_count(&self) -> usize {
        self.actors.borrow().len()
    }

    fn insert_actor(&self, key: &str, handle: actor::ActorHandle) {
        self.actors.borrow_mut().insert(key.to_string(), handle);
    }

    /// Forgets the actor with `state` if it is still the actor of `key` (a newer one may have
    /// taken the key after an eviction).
    fn forget_actor(&self, key: &str, state: &Rc<actor::ActorState>) {
        let mut actors = self.actors.borrow_mut();
        if actors.get(key).is_some_and(|a| Rc::ptr_eq(a.state(), state)) {
            actors.remove(key);
        }
    }

    /// An actor exited or became idle.
    fn actor_freed(&self) {
        let _ = self.actor_freed.0.try_send(());
    }

    /// Makes room at the actor cap: drops the handle of an idle actor (it exits when its
    /// mailbox closes). False when every actor is busy.
    fn evict_idle_actor(&self) -> bool {
        let mut actors = self.actors.borrow_mut();
        let idle = actors.iter().find(|(_, a)| a.is_idle()).map(|(k, _)| k.clone());
        match idle {
            Some(key) => {
                actors.remove(&key);
                true
            }
            None => false,
        }
    }

    async fn wait_actor_freed(&self) {
        let _ = self.actor_freed.1.recv().await;
    }
}

/// What `gateway run` needs besides the configuration.
pub struct RunOptions {
    /// Stop a gateway already running on this home first.
    pub replace: bool,
}

/// Runs the gateway until a signal stops it; returns the process exit code.
pub fn run(config: Config, platforms: Vec<Box<dyn hermes_platform::PlatformConfig>>, options: RunOptions) -> i32 {
    // First, so a SIGTERM during startup is a graceful stop and not the default kill.
    let signals = match lifecycle::Signals::install() {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot install signal handlers: {e}");
            return exit::ERROR;
        }
    };
    let lock = match lifecycle::acquire(&config.home, options.replace) {
        Ok(lock) => lock,
        Err(message) => {
            log::error!("{message}");
            eprintln!("{message}");
            return exit::ERROR;
        }
    };
    let code = runtime::block_on(serve(config, platforms, &lock, signals));
    lock.release();
    code
}

async fn serve(
    config: Config,
    platforms: Vec<Box<dyn hermes_platform::PlatformConfig>>,
    lock: &lifecycle::HomeLock,
    signals: lifecycle::Signals,
) -> i32 {
    let first_run = !config.home.join("lite.db").exists();
    let state = lifecycle::StateFile::new(&config.home);
    state.write("starting", &[]);
    let store = match Store::open(&config.home.join("lite.db")) {
        Ok(s) => s,
        Err(e) => {
            log::error!("{e}");
            eprintln!("error: {e}");
            state.write("startup_failed", &[]);
            return match e {
                crate::store::StoreError::TooNew { .. } | crate::store::StoreError::Corrupt(_) => exit::CONFIG,
                _ => exit::ERROR,
            };
        }
    };
    let http = match HttpContext::new(config.ssl_cert_file.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            log::error!("TLS setup: {e}");
            eprintln!("error: {e}");
            return exit::CONFIG;
        }
    };
    for w in &config.warnings {
        log::warn!("config: {w}");
    }
    let endpoint = |m: &crate::config::ModelConfig| {
        let (retries, read_timeout) = (config.agent.api_max_retries, config.agent.stream_read_timeout);
        Provider::new(&http, m, retries, read_timeout, &crate::config::key_hint(&m.provider))
    };
    let provider = endpoint(&config.model);
    let fallbacks = config.fallbacks.iter().map(endpoint).collect();
    let tools = ToolRegistry::new(&config.tools.disabled_toolsets);
    let platform_tools = (config.tools.platform_toolsets.iter())
        .map(|(p, list)| (p.clone(), ToolRegistry::with_enabled(&config.tools.disabled_toolsets, list)))
        .collect();
    let mut secrets = config.secrets();
    for p in &platforms {
        secrets.extend(p.secrets());
    }
    crate::logging::add_secrets(&secrets);
    let gw = Rc::new(Gateway {
        config,
        store,
        provider,
        fallbacks,
        tools,
        platform_tools,
        delegations: Default::default(),
        http,
        secrets: Rc::new(secrets),
        adapters: RefCell::new(BTreeMap::new()),
        actors: RefCell::new(HashMap::new()),
        actor_freed: async_channel::bounded(1),
        in_flight: RefCell::new(HashSet::new()),
        ready: RefCell::new(HashSet::new()),
        draining: Cell::new(false),
        started: Instant::now(),
        overrides: RefCell::new(Overrides::default()),
    });

    lifecycle::note_startup(&gw.config.home, first_run);

    // Inbound: every platform hands batches to one bounded channel (backpressure: a full
    // channel stops the pollers, not memory growth).
    let (inbound_tx, inbound_rx) = async_channel::bounded::<InboundBatch>(16);
    // Before any platform connects: what the previous run left is journaled or queued now and
    // goes out when its platform is ready.
    delegations::recover(&gw).await;
    for platform in platforms {
        let name = platform.platform();
        if auth::allows_everyone(&gw.config, name) {
            log::warn!("{name}: every user may talk to this bot (an allowlist is `*` or ALLOW_ALL is set)");
        } else if !auth::has_allowlist(&gw.config, name) {
            match auth::dm_behavior(&gw.config, name) {
                auth::DmBehavior::Pair => log::info!(
                    "{name}: no allowlist is configured; strangers who DM the bot get a pairing code \
                     (approve with `hermes-lite pairing approve {name} CODE`)"
                ),
                auth::DmBehavior::Ignore => log::warn!(
                    "{name}: no allowlist is configured and pairing is off, so only approved users can use \
                     this bot; set {}_ALLOWED_USERS",
                    name.to_ascii_uppercase()
                ),
            }
        }
        router::connect_platform(gw.clone(), platform, inbound_tx.clone());
    }
    drop(inbound_tx);
    runtime::spawn_guarded("inbound router".into(), router::run(gw.clone(), inbound_rx));
    runtime::spawn_guarded("maintenance".into(), lifecycle::maintenance(gw.clone()));
    let (notify_tx, notify_rx) = async_channel::bounded::<(crate::tools::SessionRef, String)>(64);
    if crate::tools::terminal::notify_sink().set(notify_tx).is_ok() {
        let gw = gw.clone();
        runtime::spawn_guarded("completion notices".into(), async move {
            while let Ok((session, text)) = notify_rx.recv().await {
                match session.source {
                    Some(source) => inject_internal(&gw, source, text).await,
                    None => log::warn!("a background completion has no chat to go to; dropped"),
                }
            }
        });
    }
    state.write("running", &gw.connected_platforms());
    log::info!("gateway running (pid {}, home {})", std::process::id(), gw.config.home.display());
    lifecycle::notify_ready();

    let reason = signals.next().await;
    log::info!("{}: stopping", reason.describe());
    state.write("draining", &gw.connected_platforms());
    let force = runtime::spawn(async move {
        let second = signals.next().await;
        log::warn!("{}: forcing exit", second.describe());
        std::process::exit(exit::ERROR);
    });
    shutdown(&gw, reason).await;
    drop(force);
    state.write("stopped", &[]);
    lifecycle::mark_clean_shutdown(&gw.config.home);
    let _ = lock;
    match reason {
        ExitReason::Restart => exit::RESTART,
        _ => exit::OK,
    }
}

/// Runs `text` in the chat of `source` as an internal message (background completions,
/// delegation results): journaled as an inbox event marked `internal` (so it survives a crash),
/// then routed like a platform event, skipping auth and commands. It starts a turn when the
/// session is idle and queues behind the running turn otherwise.
pub async fn inject_internal(gw: &Rc<Gateway>, source: hermes_platform::Source, text: String) {
    let key = format!("internal:{}", crate::clock::random_hex(16));
    let mut event = hermes_platform::MessageEvent::text(source, &key, &key, &text, 0.0);
    event.internal = true;
    let platform = event.source.platform.clone();
    let name = platform.clone();
    let rows = gw.store.call(move |tx| store::inbox::journal(tx, &name, vec![event], None, store::now())).await;
    match rows {
        Ok(rows) => route_journaled(gw, rows, &platform).await,
        Err(e) => log::error!("{platform}: could not journal an internal message: {e}"),
    }
}

/// Routes inbox rows just journaled by the gateway itself; while the platform is not ready (or
/// the gateway drains) they wait in the journal, and recovery routes them once it is.
pub async fn route_journaled(gw: &Rc<Gateway>, rows: Vec<store::inbox::InboxRow>, platform: &str) {
    if gw.is_draining() || !gw.is_ready(platform) {
        return;
    }
    for row in rows {
        router::dispatch(gw, row, false, false).await;
    }
}

/// Graceful stop (M42, O6): no new turns, tell active chats, let turns finish up to the drain
/// timeout, interrupt the rest (their inbox rows stay unfinished and resume at the next
/// start), stop platforms and flush the store.
async fn shutdown(gw: &Rc<Gateway>, reason: ExitReason) {
    gw.draining.set(true);
    delegations::shutdown(gw).await;
    let notice = if reason == ExitReason::Restart { texts::RESTARTING } else { texts::SHUTTING_DOWN };
    let busy: Vec<actor::ActorHandle> = gw.actors.borrow().values().filter(|a| a.is_busy()).cloned().collect();
    for a in &busy {
        a.notify(notice).await;
    }
    let deadline = Instant::now() + gw.config.agent.restart_drain_timeout;
    while Instant::now() < deadline && gw.actors.borrow().values().any(|a| a.is_busy()) {
        smol::Timer::after(Duration::from_millis(50)).await;
    }
    for a in gw.actors.borrow().values() {
        a.interrupt_for_shutdown();
    }
    let settle = Instant::now() + Duration::from_secs(3);
    while Instant::now() < settle && gw.actors.borrow().values().any(|a| a.is_busy()) {
        smol::Timer::after(Duration::from_millis(20)).await;
    }
    for adapter in gw.adapters.borrow().values() {
        adapter.stop();
    }
    let store = gw.store.clone();
    let _ = store.call(|tx| tx.execute_batch("PRAGMA optimize;")).await;
    store.close();
}
