//! Retry delays with jitter.
//!
//! Two shapes: [`Backoff`] for reconnect loops (exponential, capped, scaled by U(0.5, 1) so a
//! fleet of adapters restarting together spreads out), and [`delivery_retry_delay`] for the
//! outbound delivery retries of M32 (`2·2^(n-1) + U(0,1)` seconds, as Hermes does).
//!
//! The jitter source is a per-thread xorshift generator seeded from the clock, the thread id and
//! a process-wide counter: good enough to decorrelate retries, and no dependency for it.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Exponential backoff with jitter: attempt `n` (from 0) waits
/// `min(max, base·2^n)·U(0.5, 1)`.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempts: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max, attempts: 0 }
    }

    /// The delay before the next attempt; counts the attempt.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempts.min(31));
        self.attempts = self.attempts.saturating_add(1);
        let cap = exp.min(self.max);
        let scale = 0.5 + 0.5 * jitter_unit();
        // Float rounding near Duration::MAX must not panic or exceed the cap.
        Duration::try_from_secs_f64(cap.as_secs_f64() * scale).map_or(cap, |d| d.min(cap))
    }

    /// Back to the first delay (after a success).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// Delays handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// M32: the wait before delivery retry `attempt` (1-based): `2·2^(attempt-1) + U(0,1)` seconds.
pub fn delivery_retry_delay(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(20) as i32;
    Duration::from_secs_f64(2.0 * 2f64.powi(exp) + jitter_unit())
}

/// A uniform sample in `[0, 1)`.
pub fn jitter_unit() -> f64 {
    // 53 random bits make every double in [0, 1) with step 2^-53 reachable and never 1.0.
    (next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(nanos);
    std::hash::Hash::hash(&std::thread::current().id(), &mut h);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    // xorshift must never hold zero.
    splitmix(h.finish()) | 1
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xorshift64*.
fn next_u64() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// An adapter thread's supervisor (P4): runs `body` on `state` until it returns; a panic inside
/// is logged as `what` panicked and `body` runs again after a growing pause, which `pause`
/// sleeps (interruptibly) and answers whether to go on (false once the adapter is stopped).
pub fn restart_on_panic<S>(
    state: &mut S,
    what: &str,
    mut body: impl FnMut(&mut S),
    pause: impl Fn(&S, Duration) -> bool,
) {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        if catch_unwind(AssertUnwindSafe(|| body(state))).is_ok() {
            return;
        }
        let wait = backoff.next_delay();
        log::error!("{what} panicked; restarting in {:.1} s", wait.as_secs_f32());
        if !pause(state, wait) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_in_unit_interval_and_spread() {
        let samples: Vec<f64> = (0..10_000).map(|_| jitter_unit()).collect();
        assert!(samples.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!((0.45..0.55).contains(&mean), "mean {mean}");
        // Every tenth of the interval gets hit.
        for bucket in 0..10 {
            let lo = bucket as f64 / 10.0;
            assert!(samples.iter().any(|&x| x >= lo && x < lo + 0.1), "bucket {bucket} empty");
        }
        let distinct: std::collections::HashSet<u64> = samples.iter().map(|x| x.to_bits()).collect();
        assert!(distinct.len() > 9_900);
    }

    #[test]
    fn threads_get_different_streams() {
        let a: Vec<u64> = std::thread::spawn(|| (0..4).map(|_| next_u64()).collect()).join().unwrap();
        let b: Vec<u64> = std::thread::spawn(|| (0..4).map(|_| next_u64()).collect()).join().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn backoff_grows_within_bounds_and_caps() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        let mut b = Backoff::new(base, max);
        for n in 0..40u32 {
            let d = b.next_delay();
            let ceiling = base.saturating_mul(1u32 << n.min(31)).min(max);
            assert!(d <= ceiling, "attempt {n}: {d:?} > {ceiling:?}");
            assert!(d >= ceiling / 2, "attempt {n}: {d:?} < half of {ceiling:?}");
        }
        assert_eq!(b.attempts(), 40);
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert!(b.next_delay() <= base);
    }

    #[test]
    fn backoff_grows_on_average() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_secs(3600));
        let first = b.next_delay();
        for _ in 0..4 {
            b.next_delay();
        }
        // Attempt 5 is at least 160·0.5 = 80 ms, attempt 0 at most 10 ms.
        assert!(b.next_delay() > first * 4);
    }

    #[test]
    fn huge_base_does_not_overflow() {
        let mut b = Backoff::new(Duration::from_secs(u64::MAX / 4), Duration::MAX);
        for _ in 0..10 {
            b.next_delay();
        }
    }

    #[test]
    fn delivery_delays_follow_m32() {
        for (attempt, base) in [(1u32, 2.0f64), (2, 4.0), (3, 8.0), (4, 16.0)] {
            let d = delivery_retry_delay(attempt).as_secs_f64();
            assert!(d >= base && d < base + 1.0, "attempt {attempt}: {d}");
        }
        // Attempt 0 is treated like the first.
        let d = delivery_retry_delay(0).as_secs_f64();
        assert!((2.0..3.0).contains(&d));
        // Absurd attempt counts stay finite.
        assert!(delivery_retry_delay(u32::MAX) < Duration::from_secs(10_000_000));
    }

    #[test]
    fn a_panicking_body_runs_again_until_it_returns_or_the_pause_says_stop() {
        let mut runs = 0;
        let body = |n: &mut i32| {
            *n += 1;
            assert!(*n >= 3, "panics twice");
        };
        restart_on_panic(&mut runs, "test loop", body, |_, _| true);
        assert_eq!(runs, 3);
        let mut runs = 0;
        restart_on_panic(
            &mut runs,
            "test loop",
            |n: &mut i32| {
                *n += 1;
                panic!("always")
            },
            |_, _| false,
        );
        assert_eq!(runs, 1, "stopped after the first pause");
    }
}
