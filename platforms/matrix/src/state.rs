//! What the adapter and the sync thread share, and the stored cursor.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hermes_platform::Liveness;
use miniserde::{Deserialize, Serialize};

use crate::api::{Api, ApiError, BODY_LIMIT, enc};
use crate::config::MatrixConfig;
use crate::inbound::{BotIdentity, RoomInfo};
use crate::json::{entries, str_at};

/// The platform cursor stored in `platform_state` with each journaled batch: the `/sync`
/// `since` token, plus, after a password login, the access token and device id so a restart
/// reuses that device instead of logging in again (P10).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stored {
    pub since: Option<String>,
    pub homeserver: Option<String>,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    /// Only for password logins; a configured MATRIX_ACCESS_TOKEN is never copied here.
    pub access_token: Option<String>,
}

impl Stored {
    pub fn parse(cursor: Option<&str>) -> Stored {
        match cursor {
            None => <Stored as Default>::default(),
            Some(text) => miniserde::json::from_str(text).unwrap_or_else(|_| {
                log::warn!("matrix: the stored cursor is not this version's; starting a fresh sync");
                <Stored as Default>::default()
            }),
        }
    }

    pub fn to_cursor(&self) -> String {
        miniserde::json::to_string(self)
    }
}

/// How many of our own event ids we remember (replies to them count as mentions).
const OWN_EVENTS: usize = 1024;
/// How long a room's member list is trusted before it is fetched again.
const ROOM_TTL: Duration = Duration::from_secs(600);

pub(crate) struct Shared {
    pub api: Api,
    /// Short calls (send, edit, typing, join, members).
    pub agent: ureq::Agent,
    pub config: MatrixConfig,
    pub bot: BotIdentity,
    pub stop: AtomicBool,
    pub fatal: AtomicBool,
    pub liveness: Liveness,
    pub own_events: Mutex<VecDeque<String>>,
    pub rooms: Mutex<HashMap<String, (Instant, RoomInfo)>>,
    /// Invites that said `is_direct` (the room is a DM whatever its size says).
    pub direct_rooms: Mutex<HashSet<String>>,
    /// Rooms already told that encryption is not supported.
    pub encryption_noticed: Mutex<HashSet<String>>,
    /// Rooms where the bot showed "typing" since its last message there.
    pub typing_rooms: Mutex<HashSet<String>>,
    pub stored: Mutex<Stored>,
    pub txn_seq: AtomicU64,
}

impl Shared {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub fn remember_own(&self, event_id: &str) {
        let mut own = self.own_events.lock().unwrap_or_else(|e| e.into_inner());
        if own.len() >= OWN_EVENTS {
            own.pop_front();
        }
        own.push_back(event_id.to_string());
    }

    pub fn is_own(&self, event_id: &str) -> bool {
        self.own_events.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|e| e == event_id)
    }

    /// A transaction id for a send without an idempotency key: unique per process run.
    pub fn fresh_txn(&self) -> String {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        format!("hl{nanos:x}.{}", self.txn_seq.fetch_add(1, Ordering::Relaxed))
    }

    pub fn forget_room(&self, room_id: &str) {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner()).remove(room_id);
    }

    /// The room's members (cached; fetched with `joined_members` when unknown or old).
    pub fn room(&self, room_id: &str) -> RoomInfo {
        if let Some((at, info)) = self.rooms.lock().unwrap_or_else(|e| e.into_inner()).get(room_id)
            && at.elapsed() < ROOM_TTL
        {
            return info.clone();
        }
        let mut info = RoomInfo {
            is_direct: self.direct_rooms.lock().unwrap_or_else(|e| e.into_inner()).contains(room_id),
            ..RoomInfo::default()
        };
        let path = format!("/rooms/{}/joined_members", enc(room_id));
        match self.api.call(&self.agent, "GET", &path, "", None, BODY_LIMIT) {
            Ok(v) => {
                for (user, member) in entries(&v, &["joined"]) {
                    info.members.insert(user.to_string(), str_at(member, &["display_name"]).map(str::to_string));
                }
            }
            Err(e) => {
                log::warn!("matrix: cannot read the members of {room_id}: {e}");
                return info; // not cached: try again next time
            }
        }
        let path = format!("/rooms/{}/state/m.room.name/", enc(room_id));
        if let Ok(v) = self.api.call(&self.agent, "GET", &path, "", None, BODY_LIMIT) {
            info.name = str_at(&v, &["name"]).map(str::to_string);
        }
        self.rooms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(room_id.to_string(), (Instant::now(), info.clone()));
        info
    }

    /// Sleeps up to `wait`, waking early when stopped.
    pub fn sleep(&self, wait: Duration) {
        let until = Instant::now() + wait;
        while !self.stopped() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }

    /// A short call from the sync thread, waiting out `M_LIMIT_EXCEEDED` a few times.
    pub fn call_patiently(
        &self,
        method: &str,
        path: &str,
        body: Option<&miniserde::json::Value>,
    ) -> Result<miniserde::json::Value, ApiError> {
        let mut tries = 0;
        loop {
            match self.api.call(&self.agent, method, path, "", body, BODY_LIMIT) {
                Err(e) if tries < 3 && e.rate_limit().is_some() => {
                    tries += 1;
                    let wait = e.rate_limit().unwrap_or_default().min(Duration::from_secs(60));
                    log::info!("matrix: rate limited (M_LIMIT_EXCEEDED); waiting {} ms", wait.as_millis());
                    self.sleep(wait);
                }
                other => return other,
            }
        }
    }
}
