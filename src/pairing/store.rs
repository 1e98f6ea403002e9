//! The pairing files, exactly as Hermes writes them (CAC §3.4), in
//! `HERMES_HOME/platforms/pairing/` (or the legacy `HERMES_HOME/pairing/`):
//! `<platform>-pending.json`, `<platform>-approved.json` and `_rate_limits.json`.
//!
//! Every read of a file that is not what Hermes writes is an error naming the file and what was
//! expected; callers treat it as "not allowed" and never overwrite it silently.

use std::path::{Path, PathBuf};

use miniserde::json::{self, Number, Object, Value};

use super::code;

/// A code lives one hour.
pub const CODE_TTL: f64 = 3600.0;
/// At most this many codes wait per platform.
pub const MAX_PENDING: usize = 3;
/// One code request per user per 10 minutes.
pub const RATE_LIMIT: f64 = 600.0;
/// This many wrong codes lock the platform ...
pub const MAX_FAILURES: u64 = 5;
/// ... for an hour.
pub const LOCKOUT: f64 = 3600.0;

pub const RATE_FILE: &str = "_rate_limits.json";

/// One waiting request (the code itself is not stored).
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub hash: String,
    pub salt: String,
    pub user_id: String,
    pub user_name: String,
    pub created_at: f64,
}

/// An approved user.
#[derive(Clone, Debug, PartialEq)]
pub struct Approved {
    pub user_id: String,
    pub user_name: String,
    pub approved_at: f64,
}

/// What `approve` found.
#[derive(Clone, Debug, PartialEq)]
pub enum Approval {
    Approved {
        user_id: String,
        user_name: String,
    },
    /// The platform is locked until this time (seconds since the epoch).
    LockedOut {
        until: f64,
    },
    NotFound,
}

/// The store of one Hermes home.
#[derive(Clone, Debug)]
pub struct Store {
    pub dir: PathBuf,
}

/// The pairing directory: `platforms/pairing/`, unless only the legacy `pairing/` has files.
pub fn dir_for(home: &Path) -> PathBuf {
    let new = home.join("platforms").join("pairing");
    let legacy = home.join("pairing");
    if !has_files(&new) && has_files(&legacy) { legacy } else { new }
}

fn has_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false)
}

pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl Store {
    pub fn open(home: &Path) -> Store {
        Store { dir: dir_for(home) }
    }

    pub fn pending_path(&self, platform: &str) -> PathBuf {
        self.dir.join(format!("{platform}-pending.json"))
    }

    pub fn approved_path(&self, platform: &str) -> PathBuf {
        self.dir.join(format!("{platform}-approved.json"))
    }

    fn rate_path(&self) -> PathBuf {
        self.dir.join(RATE_FILE)
    }

    /// The approved users of `platform`.
    pub fn approved(&self, platform: &str) -> Result<Vec<Approved>, String> {
        parse_approved(&self.approved_path(platform))
    }

    /// The unexpired requests of `platform`.
    pub fn pending(&self, platform: &str, now: f64) -> Result<Vec<Pending>, String> {
        let (_, all) = load_pending(&self.pending_path(platform))?;
        Ok(all.into_iter().map(|(_, p)| p).filter(|p| now - p.created_at <= CODE_TTL).collect())
    }

    /// Platforms that have a pending or approved file, sorted.
    pub fn platforms(&self) -> Vec<String> {
        let out: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix("-pending.json").or(name.strip_suffix("-approved.json")).map(str::to_string)
            })
            .collect();
        crate::sorted::unique(out)
    }

    /// True when `user_id` asked for a code less than 10 minutes ago. An unreadable rate-limit
    /// file counts as limited: nothing is sent.
    pub fn rate_limited(&self, platform: &str, user_id: &str, now: f64) -> bool {
        match load_numbers(&self.rate_path()) {
            Ok(o) => number(o.get(&format!("{platform}:{user_id}"))).is_some_and(|t| now - t < RATE_LIMIT),
            Err(_) => true,
        }
    }

    pub fn record_rate_limit(&self, platform: &str, user_id: &str, now: f64) -> Result<(), String> {
        let path = self.rate_path();
        let mut o = load_numbers(&path)?;
        o.insert(format!("{platform}:{user_id}"), Value::Number(Number::F64(now)));
        save(&path, &o)
    }

    /// When the platform's lockout ends, if it is locked now.
    pub fn lockout_until(&self, platform: &str, now: f64) -> Result<Option<f64>, String> {
        let o = load_numbers(&self.rate_path())?;
        Ok(number(o.get(&format!("_lockout:{platform}"))).filter(|until| now < *until))
    }

    /// A new code for `user_id`, or `None` when the platform is locked, the user asked recently
    /// or three codes already wait (Hermes `generate_code`).
    pub fn generate(&self, platform: &str, user_id: &str, user_name: &str, now: f64) -> Result<Option<String>, String> {
        let path = self.pending_path(platform);
        let (mut raw, _) = load_pending(&path)?;
        let expired = drop_expired(&mut raw, now);
        if self.lockout_until(platform, now)?.is_some() || self.rate_limited(platform, user_id, now) {
            if expired {
                save(&path, &raw)?;
            }
            return Ok(None);
        }
        if raw.len() >= MAX_PENDING {
            if expired {
                save(&path, &raw)?;
            }
            return Ok(None);
        }
        let (Some(code), Some(salt), Some(id)) = (code::new_code(), code::new_salt(), code::random_hex(8)) else {
            return Err("the system random number generator failed".into());
        };
        let mut entry = Object::new();
        entry.insert("hash".into(), Value::String(code::hash(&salt, &code)));
        entry.insert("salt".into(), Value::String(salt));
        entry.insert("user_id".into(), Value::String(user_id.into()));
        entry.insert("user_name".into(), Value::String(user_name.into()));
        entry.insert("created_at".into(), Value::Number(Number::F64(now)));
        raw.insert(id, Value::Object(entry));
        save(&path, &raw)?;
        self.record_rate_limit(platform, user_id, now)?;
        Ok(Some(code))
    }

    /// Approves the request whose code is `code` (Hermes `approve_code`); a wrong code counts
    /// towards the platform's lockout.
    pub fn approve(&self, platform: &str, code: &str, now: f64) -> Result<Approval, String> {
        let code = code::normalise(code);
        let path = self.pending_path(platform);
        let (mut raw, _) = load_pending(&path)?;
        if drop_expired(&mut raw, now) {
            save(&path, &raw)?;
        }
        if let Some(until) = self.lockout_until(platform, now)? {
            return Ok(Approval::LockedOut { until });
        }
        let found =
            entries_of(&path, &raw)?.into_iter().find(|(_, p)| code::same(&code::hash(&p.salt, &code), &p.hash));
        let Some((id, p)) = found else {
            self.record_failure(platform, now)?;
            return Ok(Approval::NotFound);
        };
        let approved_path = self.approved_path(platform);
        let mut approved = load_objects(&approved_path, "user ids mapping to {user_name, approved_at}")?;
        let mut entry = Object::new();
        entry.insert("user_name".into(), Value::String(p.user_name.clone()));
        entry.insert("approved_at".into(), Value::Number(Number::F64(now)));
        approved.insert(p.user_id.clone(), Value::Object(entry));
        save(&approved_path, &approved)?;
        // This request, and older ones of the same user, are replaced by the approval.
        keep(&mut raw, &|k, v| k != id && obj_str(v, "user_id").as_deref() != Some(p.user_id.as_str()));
        save(&path, &raw)?;
        Ok(Approval::Approved { user_id: p.user_id, user_name: p.user_name })
    }

    fn record_failure(&self, platform: &str, now: f64) -> Result<(), String> {
        let path = self.rate_path();
        let mut o = load_numbers(&path)?;
        let key = format!("_failures:{platform}");
        let fails = number(o.get(&key)).unwrap_or(0.0) as u64 + 1;
        if fails >= MAX_FAILURES {
            o.insert(format!("_lockout:{platform}"), Value::Number(Number::F64(now + LOCKOUT)));
            o.insert(key, Value::Number(Number::U64(0)));
        } else {
            o.insert(key, Value::Number(Number::U64(fails)));
        }
        save(&path, &o)
    }

    /// Removes an approval; false when the user was not approved.
    pub fn revoke(&self, platform: &str, user_id: &str) -> Result<bool, String> {
        let path = self.approved_path(platform);
        let mut approved = load_objects(&path, "user ids mapping to {user_name, approved_at}")?;
        if !keep(&mut approved, &|k, _| k != user_id) {
            return Ok(false);
        }
        save(&path, &approved)?;
        Ok(true)
    }

    /// Empties every `*-pending.json`; the number of requests removed.
    pub fn clear_pending(&self) -> Result<usize, String> {
        let mut count = 0;
        for platform in self.platforms() {
            let path = self.pending_path(&platform);
            if !path.exists() {
                continue;
            }
            let (raw, _) = load_pending(&path)?;
            count += raw.len();
            save(&path, &Object::new())?;
        }
        Ok(count)
    }
}

fn drop_expired(raw: &mut Object, now: f64) -> bool {
    keep(raw, &|_, v| match v {
        Value::Object(o) => number(o.get("created_at")).is_some_and(|t| now - t <= CODE_TTL),
        _ => false,
    })
}

/// Keeps the entries `keep` accepts; true when any was dropped. One non-generic helper: each
/// closure handed to `BTreeMap::retain` or a `remove` costs kilobytes of binary.
fn keep(obj: &mut Object, keep: &dyn Fn(&str, &Value) -> bool) -> bool {
    let before = obj.len();
    obj.retain(|k, v| keep(k, v));
    obj.len() != before
}

fn obj_str(v: &Value, key: &str) -> Option<String> {
    match v {
        Value::Object(o) => match o.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(Number::F64(f)) => Some(*f),
        Value::Number(Number::U64(u)) => Some(*u as f64),
        Value::Number(Number::I64(i)) => Some(*i as f64),
        _ => None,
    }
}

/// The file as a JSON object; a missing file is empty.
fn load_object(path: &Path, what: &str) -> Result<Object, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Object::new()),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(Object::new());
    }
    match json::from_str::<Value>(&text) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(format!("{}: expected a JSON object of {what}", path.display())),
        Err(_) => Err(format!("{}: not valid JSON (expected an object of {what})", path.display())),
    }
}

/// An object whose every value is an object.
fn load_objects(path: &Path, what: &str) -> Result<Object, String> {
    load_checked(path, what, "an object", &|v| matches!(v, Value::Object(_)))
}

fn load_numbers(path: &Path) -> Result<Object, String> {
    load_checked(path, "keys mapping to numbers", "a number", &|v| number(Some(v)).is_some())
}

/// A JSON object whose every value passes `ok`; the first that does not is an error naming it.
fn load_checked(path: &Path, what: &str, each: &str, ok: &dyn Fn(&Value) -> bool) -> Result<Object, String> {
    let o = load_object(path, what)?;
    if let Some((k, _)) = o.iter().find(|(_, v)| !ok(v)) {
        return Err(format!("{}: entry {k:?} is not {each} (expected {what})", path.display()));
    }
    Ok(o)
}

fn parse_approved(path: &Path) -> Result<Vec<Approved>, String> {
    let o = load_objects(path, "user ids mapping to {user_name, approved_at}")?;
    Ok(o.iter()
        .map(|(k, v)| Approved {
            user_id: k.clone(),
            user_name: obj_str(v, "user_name").unwrap_or_default(),
            approved_at: match v {
                Value::Object(e) => number(e.get("approved_at")).unwrap_or(0.0),
                _ => 0.0,
            },
        })
        .collect())
}

type Entries = Vec<(String, Pending)>;

const PENDING_WHAT: &str = "entry ids mapping to {hash, salt, user_id, user_name, created_at}";

fn load_pending(path: &Path) -> Result<(Object, Entries), String> {
    let raw = load_objects(path, PENDING_WHAT)?;
    let entries = entries_of(path, &raw)?;
    Ok((raw, entries))
}

/// The requests of a pending file already read; an entry without its fields is an error.
fn entries_of(path: &Path, raw: &Object) -> Result<Entries, String> {
    let mut entries = Vec::new();
    for (id, v) in raw.iter() {
        let field = |k: &str| obj_str(v, k);
        let (Some(hash), Some(salt), Some(user_id)) = (field("hash"), field("salt"), field("user_id")) else {
            return Err(format!(
                "{}: entry {id:?} lacks hash, salt or user_id (expected {PENDING_WHAT})",
                path.display()
            ));
        };
        let created_at = match v {
            Value::Object(o) => number(o.get("created_at")).unwrap_or(0.0),
            _ => 0.0,
        };
        entries.push((
            id.clone(),
            Pending { hash, salt, user_id, user_name: field("user_name").unwrap_or_default(), created_at },
        ));
    }
    Ok(entries)
}

/// Writes `o` atomically with mode 0600, creating the directory (0700) first.
fn save(path: &Path, o: &Object) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let text = json::to_string(&Value::Object(o.clone()));
    crate::private_file::write(path, text.as_bytes()).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Store {
        fn is_approved(&self, platform: &str, user_id: &str) -> Result<bool, String> {
            Ok(self.approved(platform)?.iter().any(|a| a.user_id == user_id))
        }
    }

    fn store(tag: &str) -> (PathBuf, Store) {
        let home = crate::test_util::temp_dir(tag);
        let s = Store::open(&home);
        (home, s)
    }

    #[test]
    fn limits_approval_and_revoke() {
        let (home, s) = store("pairing-limits");
        let t = 1_000_000.0;
        let code = s.generate("telegram", "7", "Eve", t).unwrap().expect("a code");
        assert_eq!(s.generate("telegram", "7", "Eve", t + 1.0).unwrap(), None, "one request per 10 min");
        assert!(s.rate_limited("telegram", "7", t + 599.0));
        assert!(!s.rate_limited("telegram", "7", t + 601.0));
        s.generate("telegram", "8", "", t).unwrap().unwrap();
        s.generate("telegram", "9", "", t).unwrap().unwrap();
        assert_eq!(s.generate("telegram", "10", "", t).unwrap(), None, "three pending at most");
        assert_eq!(s.pending("telegram", t).unwrap().len(), 3);
        assert_eq!(s.pending("telegram", t + CODE_TTL + 1.0).unwrap().len(), 0, "codes expire");
        let got = s.approve("telegram", &code.to_lowercase(), t + 5.0).unwrap();
        assert_eq!(got, Approval::Approved { user_id: "7".into(), user_name: "Eve".into() });
        assert!(s.is_approved("telegram", "7").unwrap());
        let text = std::fs::read_to_string(s.pending_path("telegram")).unwrap();
        assert!(!text.contains(&code), "the plaintext code is never stored");
        assert!(s.revoke("telegram", "7").unwrap());
        assert!(!s.revoke("telegram", "7").unwrap());
        assert!(!s.is_approved("telegram", "7").unwrap());
        assert_eq!(s.clear_pending().unwrap(), 2);
        std::fs::remove_dir_all(home).unwrap();
    }

    #[test]
    fn five_wrong_codes_lock_the_platform_for_an_hour() {
        let (home, s) = store("pairing-lock");
        let t = 2_000_000.0;
        let code = s.generate("telegram", "7", "", t).unwrap().unwrap();
        for _ in 0..MAX_FAILURES {
            assert_eq!(s.approve("telegram", "WRONGCDE", t).unwrap(), Approval::NotFound);
        }
        assert_eq!(s.approve("telegram", &code, t + 1.0).unwrap(), Approval::LockedOut { until: t + LOCKOUT });
        assert_eq!(s.generate("telegram", "8", "", t + 2.0).unwrap(), None, "the lockout blocks new codes too");
        assert_eq!(s.approve("discord", "WRONGCDE", t).unwrap(), Approval::NotFound, "other platforms are not locked");
        // After the hour the counter starts again (the code has expired by then).
        assert_eq!(s.approve("telegram", &code, t + LOCKOUT + 1.0).unwrap(), Approval::NotFound);
        assert_eq!(s.lockout_until("telegram", t + LOCKOUT + 1.0).unwrap(), None);
        std::fs::remove_dir_all(home).unwrap();
    }

    #[test]
    fn hermes_files_are_read_and_malformed_ones_are_errors() {
        let (home, s) = store("pairing-files");
        std::fs::create_dir_all(&s.dir).unwrap();
        let salt = "0123456789abcdef0123456789abcdef";
        let hash = code::hash(salt, "ABCD2345");
        let pending = format!(
            r#"{{"a1b2c3d4e5f60718": {{"hash": "{hash}", "salt": "{salt}", "user_id": "55", "user_name": "Bob", "created_at": 3000000.25}}}}"#
        );
        std::fs::write(s.pending_path("telegram"), pending).unwrap();
        let got = s.approve("telegram", "abcd2345", 3000001.0).unwrap();
        assert_eq!(got, Approval::Approved { user_id: "55".into(), user_name: "Bob".into() });
        let approved = std::fs::read_to_string(s.approved_path("telegram")).unwrap();
        let Ok(Value::Object(o)) = json::from_str::<Value>(&approved) else { panic!("{approved}") };
        let Some(Value::Object(e)) = o.get("55") else { panic!("{approved}") };
        assert!(matches!(e.get("user_name"), Some(Value::String(n)) if n == "Bob"));
        assert!(number(e.get("approved_at")).is_some());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.approved_path("telegram")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        std::fs::write(s.approved_path("telegram"), "[1,2]").unwrap();
        let e = s.is_approved("telegram", "55").unwrap_err();
        assert!(e.contains("telegram-approved.json") && e.contains("expected a JSON object"), "{e}");
        std::fs::write(s.pending_path("telegram"), r#"{"x": {"hash": "h"}}"#).unwrap();
        let e = s.approve("telegram", "ABCD2345", 3000001.0).unwrap_err();
        assert!(e.contains("lacks hash, salt or user_id"), "{e}");
        std::fs::write(home.join("platforms/pairing/_rate_limits.json"), "{oops").unwrap();
        assert!(s.rate_limited("telegram", "1", 0.0), "an unreadable rate file sends nothing");
        std::fs::remove_dir_all(home).unwrap();
    }

    #[test]
    fn legacy_dir_is_used_only_when_it_alone_has_files() {
        let home = crate::test_util::temp_dir("pairing-legacy");
        assert_eq!(dir_for(&home), home.join("platforms/pairing"));
        std::fs::create_dir_all(home.join("pairing")).unwrap();
        assert_eq!(dir_for(&home), home.join("platforms/pairing"), "an empty legacy dir is ignored");
        std::fs::write(home.join("pairing/telegram-approved.json"), "{}").unwrap();
        assert_eq!(dir_for(&home), home.join("pairing"));
        std::fs::remove_dir_all(home).unwrap();
    }
}
