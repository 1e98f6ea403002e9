//! Wall-clock time for stored timestamps and session ids, with an offset tests can set (through
//! `gateway.clock_offset_seconds`) so time-based policies are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static OFFSET_SECONDS: AtomicI64 = AtomicI64::new(0);

/// Shifts [`now`] by `seconds` (from `gateway.clock_offset_seconds`).
pub fn set_offset(seconds: i64) {
    OFFSET_SECONDS.store(seconds, Ordering::Relaxed);
}

/// The offset [`now`] adds, in seconds (0 outside tests).
pub fn offset() -> f64 {
    OFFSET_SECONDS.load(Ordering::Relaxed) as f64
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    let real = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    real + OFFSET_SECONDS.load(Ordering::Relaxed) as f64
}

/// Broken-down local time of a Unix timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
    /// Seconds east of UTC.
    pub utc_offset: i64,
    pub zone: String,
}

/// The system's local time (the `TZ` variable, else /etc/localtime) of `ts`.
pub fn local(ts: f64) -> LocalTime {
    // The libc crate marks musl's time_t deprecated ahead of a width change; it is 64 bits on
    // the targets we build, so the cast is exact either way.
    #[allow(deprecated)]
    let t = ts as libc::time_t;
    // SAFETY: localtime_r only writes the struct we pass; tm_zone points into static storage.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return LocalTime {
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            weekday: 4,
            utc_offset: 0,
            zone: "UTC".into(),
        };
    }
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: tm_zone is a NUL-terminated string owned by libc.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }.to_string_lossy().into_owned()
    };
    LocalTime {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        minute: tm.tm_min as u32,
        second: tm.tm_sec as u32,
        weekday: tm.tm_wday as u32,
        utc_offset: tm.tm_gmtoff,
        zone,
    }
}

/// `YYYYmmdd_HHMMSS` in local time, the first part of a Hermes session id.
pub fn compact_local(ts: f64) -> String {
    let l = local(ts);
    format!("{:04}{:02}{:02}_{:02}{:02}{:02}", l.year, l.month, l.day, l.hour, l.minute, l.second)
}

/// `n` random lowercase hex characters from the system's secure random source.
pub fn random_hex(n: usize) -> String {
    use ring::rand::SecureRandom;
    let mut bytes = vec![0u8; n.div_ceil(2)];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // The OS random source failing is extraordinary; fall back to time-derived bits
        // (ids only need uniqueness, never secrecy).
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (nanos >> (i * 8 % 120)) as u8;
        }
    }
    let mut out: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_local_has_the_hermes_shape() {
        let s = compact_local(1_700_000_000.0);
        assert_eq!(s.len(), 15);
        assert_eq!(&s[8..9], "_");
        assert!(s.chars().filter(|c| *c != '_').all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn random_hex_is_hex_of_the_asked_length() {
        let h = random_hex(8);
        assert_eq!(h.len(), 8);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(random_hex(16), random_hex(16));
    }
}
