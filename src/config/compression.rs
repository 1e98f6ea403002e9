//! `compression.*` (A10, AD §1.10): when and how much of a long history is summarised.

use super::read::Reader;

#[derive(Clone, Debug, PartialEq)]
pub struct CompressionConfig {
    /// `compression.enabled` (true).
    pub enabled: bool,
    /// `compression.threshold` (0.50): the share of the context length that triggers it.
    pub threshold: f64,
    /// `compression.protect_first_n` (3) and `protect_last_n` (20): messages never summarised.
    pub protect_first_n: usize,
    pub protect_last_n: usize,
}

impl Default for CompressionConfig {
    fn default() -> Self {
        CompressionConfig { enabled: true, threshold: 0.5, protect_first_n: 3, protect_last_n: 20 }
    }
}

pub fn read(r: &Reader) -> CompressionConfig {
    let d = CompressionConfig::default();
    let threshold = r.string(r.cfg("compression.threshold")).and_then(|s| s.trim().parse::<f64>().ok());
    CompressionConfig {
        enabled: r.bool(r.cfg("compression.enabled")).unwrap_or(d.enabled),
        threshold: threshold.filter(|t| *t > 0.0 && *t <= 1.0).unwrap_or(d.threshold),
        protect_first_n: r.int(r.cfg("compression.protect_first_n"), 0, 1000).map_or(d.protect_first_n, |n| n as usize),
        protect_last_n: r.int(r.cfg("compression.protect_last_n"), 1, 10_000).map_or(d.protect_last_n, |n| n as usize),
    }
}
