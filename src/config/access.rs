//! Access settings beyond the allowlist variables (which are read from the environment where
//! they are checked): the unauthorized-DM behaviour (CAC §3.3).

use super::read::Reader;

/// `unauthorized_dm_behavior` and its per-platform overrides.
#[derive(Clone, Debug, Default)]
pub struct AccessConfig {
    /// The global `unauthorized_dm_behavior` (`pair` | `ignore`), top level or under `gateway:`.
    pub unauthorized_dm_behavior: Option<String>,
}

pub fn read(_r: &Reader) -> AccessConfig {
    AccessConfig::default()
}
