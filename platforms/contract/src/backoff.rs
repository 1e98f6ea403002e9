//! Retry delays with jitter (interim version; replaced by the full one).
use std::time::Duration;

pub struct Backoff {
    base: Duration,
    max: Duration,
    attempts: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max, attempts: 0 }
    }
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.base.saturating_mul(1 << self.attempts.min(16));
        self.attempts += 1;
        let d = exp.min(self.max);
        d + d.mul_f64(0.5 * jitter_unit())
    }
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

pub fn delivery_retry_delay(attempt: u32) -> Duration {
    Duration::from_secs_f64(2.0 * 2f64.powi(attempt.saturating_sub(1) as i32) + jitter_unit())
}

pub fn jitter_unit() -> f64 {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    (n % 1000) as f64 / 1000.0
}
