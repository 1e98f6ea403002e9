//! Discord's REST rate limits, from the `X-RateLimit-*` headers and 429 answers.
//!
//! Each route (method + path with the major parameter, the channel id, kept and message ids
//! blanked) maps to a bucket Discord names in `X-RateLimit-Bucket`; a bucket with no requests
//! `Remaining` is closed until `Reset-After` passes. A 429 closes its bucket (or every route,
//! when `global`) for `retry_after`. Callers ask [`Limits::wait`] before each request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The rate-limit headers of one answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Headers {
    pub bucket: Option<String>,
    pub remaining: Option<u64>,
    pub reset_after: Option<f64>,
    /// `X-RateLimit-Global` on a 429.
    pub global: bool,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<f64>,
}

#[derive(Debug)]
struct Bucket {
    remaining: u64,
    reset_at: Instant,
}

#[derive(Default, Debug)]
struct State {
    /// Route key → bucket id, as Discord reported it.
    route_bucket: HashMap<String, String>,
    /// `"{bucket}:{major}"` → its state.
    buckets: HashMap<String, Bucket>,
    /// Routes whose bucket Discord has not named yet, closed by a 429.
    route_closed: HashMap<String, Instant>,
    global_until: Option<Instant>,
}

#[derive(Default, Debug)]
pub(crate) struct Limits {
    state: Mutex<State>,
}

/// The route a request counts against: `POST /channels/123/messages`,
/// `PATCH /channels/123/messages/{id}`.
pub(crate) fn route_key(method: &str, path: &str) -> String {
    let mut out = String::from(method);
    out.push(' ');
    let mut prev = "";
    for (n, seg) in path.trim_start_matches('/').split('/').enumerate() {
        out.push('/');
        // Only the id right after `channels`/`guilds`/`webhooks` is a major parameter.
        let major = n == 1 && matches!(prev, "channels" | "guilds" | "webhooks");
        if !major && !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str("{id}");
        } else {
            out.push_str(seg);
        }
        prev = seg;
    }
    out
}

/// The major parameter of a route key (the channel id), or "".
fn major(route: &str) -> &str {
    route.split('/').nth(2).unwrap_or("")
}

impl Limits {
    /// How long to wait before a request on `route` may go out; zero when it may go now.
    pub fn wait(&self, route: &str, now: Instant) -> Duration {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = Duration::ZERO;
        if let Some(until) = st.global_until {
            wait = wait.max(until.saturating_duration_since(now));
        }
        if let Some(until) = st.route_closed.get(route) {
            wait = wait.max(until.saturating_duration_since(now));
        }
        if let Some(bucket) = st.route_bucket.get(route)
            && let Some(b) = st.buckets.get(&format!("{bucket}:{}", major(route)))
            && b.remaining == 0
        {
            wait = wait.max(b.reset_at.saturating_duration_since(now));
        }
        wait
    }

    /// Records what an answer's headers say about `route`'s bucket.
    pub fn update(&self, route: &str, h: &Headers, now: Instant) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(bucket) = &h.bucket else { return };
        st.route_bucket.insert(route.to_string(), bucket.clone());
        if let (Some(remaining), Some(reset_after)) = (h.remaining, h.reset_after) {
            let reset_at = now + secs(reset_after);
            st.buckets.insert(format!("{bucket}:{}", major(route)), Bucket { remaining, reset_at });
        }
    }

    /// Records a 429 on `route`; returns how long to wait.
    pub fn limited(
        &self,
        route: &str,
        h: &Headers,
        body_retry_after: Option<f64>,
        body_global: bool,
        now: Instant,
    ) -> Duration {
        self.update(route, h, now);
        let wait = secs(body_retry_after.or(h.retry_after).unwrap_or(1.0));
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if h.global || body_global {
            st.global_until = Some(now + wait);
        } else {
            st.route_closed.insert(route.to_string(), now + wait);
            if let Some(bucket) = st.route_bucket.get(route).cloned() {
                let b = Bucket { remaining: 0, reset_at: now + wait };
                st.buckets.insert(format!("{bucket}:{}", major(route)), b);
            }
        }
        wait
    }
}

/// Seconds as a duration; negative, NaN or absurd values are clamped to 0..1 h.
fn secs(s: f64) -> Duration {
    if s.is_finite() && s > 0.0 { Duration::from_secs_f64(s.min(3600.0)) } else { Duration::ZERO }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_keep_the_channel_and_blank_message_ids() {
        assert_eq!(route_key("POST", "/channels/123/messages"), "POST /channels/123/messages");
        assert_eq!(route_key("PATCH", "/channels/123/messages/456"), "PATCH /channels/123/messages/{id}");
        assert_eq!(route_key("GET", "/gateway/bot"), "GET /gateway/bot");
    }

    #[test]
    fn an_exhausted_bucket_waits_until_its_reset_and_only_for_its_channel() {
        let limits = Limits::default();
        let now = Instant::now();
        let a = route_key("POST", "/channels/1/messages");
        let b = route_key("POST", "/channels/2/messages");
        let h = |remaining| Headers {
            bucket: Some("abc".into()),
            remaining: Some(remaining),
            reset_after: Some(2.5),
            ..Headers::default()
        };
        limits.update(&a, &h(1), now);
        assert_eq!(limits.wait(&a, now), Duration::ZERO);
        limits.update(&a, &h(0), now);
        assert_eq!(limits.wait(&a, now), Duration::from_millis(2500));
        assert_eq!(limits.wait(&a, now + Duration::from_secs(3)), Duration::ZERO);
        limits.update(&b, &h(3), now);
        assert_eq!(limits.wait(&b, now), Duration::ZERO, "another channel has its own bucket");
    }

    #[test]
    fn a_429_closes_the_route_or_everything_when_global() {
        let limits = Limits::default();
        let now = Instant::now();
        let a = route_key("POST", "/channels/1/messages");
        let typing = route_key("POST", "/channels/1/typing");
        let wait = limits.limited(&a, &Headers::default(), Some(0.75), false, now);
        assert_eq!(wait, Duration::from_millis(750));
        assert_eq!(limits.wait(&a, now), Duration::from_millis(750));
        assert_eq!(limits.wait(&typing, now), Duration::ZERO);
        let h = Headers { global: true, retry_after: Some(2.0), ..Headers::default() };
        assert_eq!(limits.limited(&a, &h, None, false, now), Duration::from_secs(2));
        assert_eq!(limits.wait(&typing, now), Duration::from_secs(2));
    }

    #[test]
    fn odd_values_are_clamped() {
        assert_eq!(secs(-1.0), Duration::ZERO);
        assert_eq!(secs(f64::NAN), Duration::ZERO);
        assert_eq!(secs(1e12), Duration::from_secs(3600));
    }
}
