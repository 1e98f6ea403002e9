//! `MatrixConfig::connect`: log in (or reuse the stored login), check who we are, start the
//! sync thread.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hermes_platform::http::AgentOptions;
use hermes_platform::settings::mask_secret;
use hermes_platform::{Adapter, ConnectContext, ConnectError, Liveness, PlatformConfig};

use crate::adapter::MatrixAdapter;
use crate::api::{Api, ApiError, BODY_LIMIT, enc};
use crate::config::{Auth, MatrixConfig};
use crate::inbound::BotIdentity;
use crate::json::{obj, s, str_at};
use crate::state::{Shared, Stored};
use crate::sync::Syncer;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const SHORT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How much longer than the sync timeout an HTTP sync may take before it counts as stalled.
const SYNC_GRACE: Duration = Duration::from_secs(15);

impl PlatformConfig for MatrixConfig {
    fn platform(&self) -> &'static str {
        "matrix"
    }

    fn describe(&self) -> String {
        let auth = match &self.auth {
            Auth::Token(t) => format!("access token {}", mask_secret(t)),
            Auth::Password { user_id, .. } => format!("password login as {user_id}"),
        };
        format!("matrix: {} on {}, mention required in rooms: {}", auth, self.homeserver, self.require_mention)
    }

    fn secrets(&self) -> Vec<String> {
        match &self.auth {
            Auth::Token(t) => vec![t.clone()],
            Auth::Password { password, .. } => vec![password.clone()],
        }
    }

    fn connect(&self, ctx: ConnectContext) -> Result<Arc<dyn Adapter>, ConnectError> {
        Ok(connect(self, ctx)?)
    }
}

/// A login's result.
pub(crate) struct Session {
    pub access_token: String,
    pub device_id: String,
}

/// `POST /login` with the password, reusing `device_id` when given so no new device appears.
pub(crate) fn login(
    api: &Api,
    agent: &ureq::Agent,
    config: &MatrixConfig,
    device_id: Option<&str>,
) -> Result<Session, ConnectError> {
    let Auth::Password { user_id, password } = &config.auth else {
        return Err(ConnectError::fatal("matrix: no password configured to log in with"));
    };
    let mut body = obj([
        ("type", s("m.login.password")),
        ("identifier", obj([("type", s("m.id.user")), ("user", s(user_id))])),
        ("password", s(password)),
        ("initial_device_display_name", s("hermes-lite")),
    ]);
    if let Some(device) = device_id.or(config.device_id.as_deref()) {
        crate::json::set(&mut body, "device_id", s(device));
    }
    let anonymous = Api::new(api.base(), "");
    match anonymous.call(agent, "POST", "/login", "", Some(&body), BODY_LIMIT) {
        Ok(v) => {
            let token = str_at(&v, &["access_token"]).unwrap_or("").to_string();
            let device = str_at(&v, &["device_id"]).unwrap_or("").to_string();
            if token.is_empty() {
                return Err(ConnectError::retryable("matrix: /login answered without an access token"));
            }
            Ok(Session { access_token: token, device_id: device })
        }
        Err(ApiError::Status { code: 403 | 400 | 401, errcode, error, .. }) => Err(ConnectError::fatal(format!(
            "matrix: the homeserver refused the login for {user_id} ({errcode}: {error}) — check MATRIX_USER_ID and MATRIX_PASSWORD"
        ))),
        Err(e) => Err(ConnectError::retryable(format!("matrix: /login failed: {e}"))),
    }
}

/// Like [`PlatformConfig::connect`], with the concrete adapter type.
pub fn connect(config: &MatrixConfig, ctx: ConnectContext) -> Result<Arc<MatrixAdapter>, ConnectError> {
    let agent = ctx.http.agent(&AgentOptions {
        connect_timeout: Some(CONNECT_TIMEOUT),
        global_timeout: Some(SHORT_CALL_TIMEOUT),
        ..AgentOptions::default()
    });
    let sync_agent = ctx.http.agent(&AgentOptions {
        connect_timeout: Some(CONNECT_TIMEOUT),
        global_timeout: Some(config.sync_timeout + SYNC_GRACE),
        ..AgentOptions::default()
    });
    let mut stored = Stored::parse(ctx.cursor.as_deref());
    if stored.homeserver.as_deref().is_some_and(|h| h != config.homeserver) {
        log::info!("matrix: the homeserver changed since the last run; starting a fresh sync");
        stored = <Stored as Default>::default();
    }
    let mut dirty = false;
    let api = match &config.auth {
        Auth::Token(token) => {
            stored.access_token = None;
            Api::new(&config.homeserver, token)
        }
        Auth::Password { user_id, .. } => {
            let reuse = stored.access_token.clone().filter(|_| stored.user_id.as_deref() == Some(user_id.as_str()));
            match reuse {
                Some(token) => Api::new(&config.homeserver, &token),
                None => {
                    let api = Api::new(&config.homeserver, "");
                    let session = login(&api, &agent, config, stored.device_id.as_deref())?;
                    log::info!("matrix: logged in as {user_id} (device {})", session.device_id);
                    api.set_token(&session.access_token);
                    stored.access_token = Some(session.access_token);
                    stored.device_id = Some(session.device_id);
                    dirty = true;
                    api
                }
            }
        }
    };

    let whoami = match api.call(&agent, "GET", "/account/whoami", "", None, BODY_LIMIT) {
        Err(e) if e.is_unknown_token() && matches!(config.auth, Auth::Password { .. }) => {
            // The stored token was revoked: log in again on the same device.
            let session = login(&api, &agent, config, stored.device_id.as_deref())?;
            api.set_token(&session.access_token);
            stored.access_token = Some(session.access_token);
            stored.device_id = Some(session.device_id);
            dirty = true;
            api.call(&agent, "GET", "/account/whoami", "", None, BODY_LIMIT)
        }
        other => other,
    };
    let whoami = whoami.map_err(|e| match e {
        e if e.is_unknown_token() => ConnectError::fatal(format!(
            "matrix: the homeserver rejected the access token ({e}) — check MATRIX_ACCESS_TOKEN"
        )),
        e => ConnectError::retryable(format!("matrix: whoami at {} failed: {e}", config.homeserver)),
    })?;
    let user_id = str_at(&whoami, &["user_id"]).unwrap_or("").to_string();
    if user_id.is_empty() {
        return Err(ConnectError::retryable("matrix: whoami answered without a user id"));
    }
    if let Some(expected) = &config.user_id
        && *expected != user_id
    {
        return Err(ConnectError::fatal(format!(
            "matrix: the access token belongs to {user_id}, not MATRIX_USER_ID {expected}"
        )));
    }
    if stored.user_id.as_deref().is_some_and(|u| u != user_id) {
        log::info!("matrix: the bot account changed since the last run; starting a fresh sync");
        stored.since = None;
    }
    if let Some(device) = str_at(&whoami, &["device_id"]) {
        stored.device_id = Some(device.to_string());
    }
    stored.user_id = Some(user_id.clone());
    stored.homeserver = Some(config.homeserver.clone());
    let display_name = api
        .call(&agent, "GET", &format!("/profile/{}/displayname", enc(&user_id)), "", None, BODY_LIMIT)
        .ok()
        .and_then(|v| str_at(&v, &["displayname"]).map(str::to_string));
    log::info!(
        "matrix: connected as {user_id}{} on {}",
        display_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default(),
        config.homeserver
    );

    let shared = Arc::new(Shared {
        api,
        agent,
        config: config.clone(),
        bot: BotIdentity { user_id, display_name },
        stop: AtomicBool::new(false),
        fatal: AtomicBool::new(false),
        liveness: Liveness::new(),
        own_events: Mutex::new(VecDeque::new()),
        rooms: Mutex::new(HashMap::new()),
        direct_rooms: Mutex::new(HashSet::new()),
        encryption_noticed: Mutex::new(HashSet::new()),
        typing_rooms: Mutex::new(HashSet::new()),
        stored: Mutex::new(stored),
        txn_seq: AtomicU64::new(0),
    });
    let syncer = Syncer { shared: shared.clone(), sync_agent, sink: ctx.inbound, dirty };
    std::thread::Builder::new()
        .name("matrix-sync".into())
        .spawn(move || syncer.run())
        .map_err(|e| ConnectError::retryable(format!("matrix: cannot start the sync thread: {e}")))?;
    Ok(Arc::new(MatrixAdapter::new(shared)))
}
