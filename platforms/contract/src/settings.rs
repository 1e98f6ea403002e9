//! A platform's view of its configuration.
//!
//! The runtime merges the environment (process env, then `HERMES_HOME/.env`, then top-level
//! scalars of `config.yaml` where unset) and flattens the `platforms.<name>` block of
//! `config.yaml` to dotted keys (`token`, `enabled`, `extra.base_url`). A platform reads both
//! through [`Settings`], env winning as Hermes does, and reports each problem with where the
//! value came from.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// One value from `config.yaml`, with the place it was written (`config.yaml:12:7`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingValue {
    pub value: String,
    pub origin: String,
}

/// One bad setting: which key, where it came from, what was found and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingError {
    /// The variable or key path (`TELEGRAM_BASE_URL`, `platforms.telegram.extra.base_url`).
    pub key: String,
    /// Where the value was read (`env`, `.env:4`, `config.yaml:12:7`).
    pub origin: String,
    /// What was found, already masked if it is a secret; `None` when the value is missing.
    pub found: Option<String>,
    /// What was expected, and how to fix it.
    pub expected: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.key)?;
        match &self.found {
            Some(found) => write!(f, " is {found:?}; expected {}", self.expected),
            None => write!(f, " is missing; expected {}", self.expected),
        }
    }
}

/// What `configure` found for a platform.
#[derive(Debug)]
pub enum Configured<C> {
    /// Not set up: the platform costs nothing.
    Off,
    On(C),
    /// Set up, but wrong; every problem at once.
    Invalid(Vec<SettingError>),
}

/// Environment and `platforms.<name>` config for one platform.
#[derive(Clone, Debug)]
pub struct Settings {
    platform: String,
    env: Arc<BTreeMap<String, String>>,
    env_origin: Arc<BTreeMap<String, String>>,
    config: BTreeMap<String, SettingValue>,
}

impl Settings {
    /// `env` is the merged environment; `env_origin` says where a variable came from (`.env:4`)
    /// when not from the process; `config` holds `platforms.<platform>.*` with the prefix
    /// removed.
    pub fn new(
        platform: impl Into<String>,
        env: Arc<BTreeMap<String, String>>,
        env_origin: Arc<BTreeMap<String, String>>,
        config: BTreeMap<String, SettingValue>,
    ) -> Self {
        Settings { platform: platform.into(), env, env_origin, config }
    }

    /// Settings from plain maps, for tests.
    pub fn from_pairs(platform: &str, env: &[(&str, &str)], config: &[(&str, &str)]) -> Self {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let config = config
            .iter()
            .map(|(k, v)| (k.to_string(), SettingValue { value: v.to_string(), origin: "config.yaml".into() }))
            .collect();
        Settings::new(platform, Arc::new(env), Arc::new(BTreeMap::new()), config)
    }

    pub fn platform(&self) -> &str {
        &self.platform
    }

    /// A non-empty environment variable.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// A `platforms.<platform>.<key>` value (`key` like `extra.base_url`).
    pub fn config(&self, key: &str) -> Option<&SettingValue> {
        self.config.get(key).filter(|v| !v.value.trim().is_empty())
    }

    /// The value of `env_name`, else of the config key, with its origin. Env wins (Hermes).
    pub fn get(&self, env_name: &str, config_key: &str) -> Option<SettingValue> {
        if let Some(v) = self.env(env_name) {
            return Some(SettingValue { value: v.to_string(), origin: self.env_origin(env_name) });
        }
        self.config(config_key).cloned()
    }

    /// Where an environment variable came from: `.env:4`, `config.yaml:3`, or `env`.
    pub fn env_origin(&self, name: &str) -> String {
        self.env_origin.get(name).cloned().unwrap_or_else(|| "env".to_string())
    }

    /// A boolean from env or config, accepting true/false, yes/no, on/off, 1/0.
    pub fn flag(&self, env_name: &str, config_key: &str) -> Result<Option<bool>, SettingError> {
        let Some(v) = self.get(env_name, config_key) else { return Ok(None) };
        match parse_bool(&v.value) {
            Some(b) => Ok(Some(b)),
            None => Err(SettingError {
                key: if self.env(env_name).is_some() { env_name.to_string() } else { self.key_path(config_key) },
                origin: v.origin,
                found: Some(v.value),
                expected: "true or false".into(),
            }),
        }
    }

    /// A comma-separated list from env or config; empty when unset.
    pub fn list(&self, env_name: &str, config_key: &str) -> Vec<String> {
        self.get(env_name, config_key)
            .map(|v| v.value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    /// `platforms.<platform>.enabled` when written explicitly.
    pub fn enabled_explicit(&self) -> Result<Option<bool>, SettingError> {
        let Some(v) = self.config("enabled") else { return Ok(None) };
        parse_bool(&v.value).map(Some).ok_or_else(|| SettingError {
            key: self.key_path("enabled"),
            origin: v.origin.clone(),
            found: Some(v.value.clone()),
            expected: "true or false".into(),
        })
    }

    /// The full key path of a config key, for messages (`platforms.telegram.extra.base_url`).
    pub fn key_path(&self, key: &str) -> String {
        format!("platforms.{}.{}", self.platform, key)
    }

    /// The name a problem is reported under: the variable when it is set, else the config key.
    pub fn key_name(&self, env_name: &str, config_key: &str) -> String {
        if self.env(env_name).is_some() { env_name.to_string() } else { self.key_path(config_key) }
    }

    /// The switch of a platform that runs on a bot token (`<env_name>` or `token`): `None` when
    /// the platform is off (`enabled: false`, or no token and `enabled` not written as true); else
    /// the trimmed token. A token with spaces or `/` (`malformed` says what was expected) and a
    /// missing one while `enabled: true` (`missing`) are pushed to `errors`, with `Some("")`.
    pub fn bot_token(
        &self,
        env_name: &str,
        malformed: &str,
        missing: &str,
        errors: &mut Vec<SettingError>,
    ) -> Option<String> {
        let enabled = self.enabled_explicit().unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let token = self.get(env_name, "token");
        if enabled == Some(false) || (token.is_none() && enabled != Some(true)) {
            return None;
        }
        Some(match token {
            Some(t) if t.value.trim().contains(char::is_whitespace) || t.value.trim().contains('/') => {
                errors.push(SettingError {
                    key: self.key_name(env_name, "token"),
                    origin: t.origin,
                    found: Some(mask_secret(t.value.trim())),
                    expected: malformed.into(),
                });
                String::new()
            }
            Some(t) => t.value.trim().to_string(),
            None => {
                errors.push(SettingError {
                    key: env_name.into(),
                    origin: "env".into(),
                    found: None,
                    expected: format!("{missing}, because {} is true", self.key_path("enabled")),
                });
                String::new()
            }
        })
    }
}

/// YAML 1.1 / env style booleans.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "y" => Some(true),
        "false" | "no" | "off" | "0" | "n" => Some(false),
        _ => None,
    }
}

/// Shows the last four characters of a secret only (`…AbCd`).
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 8 {
        return "…".to_string();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_over_config() {
        let s = Settings::from_pairs("telegram", &[("TELEGRAM_BOT_TOKEN", "env-token")], &[("token", "cfg-token")]);
        assert_eq!(s.get("TELEGRAM_BOT_TOKEN", "token").unwrap().value, "env-token");
        let s = Settings::from_pairs("telegram", &[("TELEGRAM_BOT_TOKEN", " ")], &[("token", "cfg-token")]);
        assert_eq!(s.get("TELEGRAM_BOT_TOKEN", "token").unwrap().value, "cfg-token");
    }

    #[test]
    fn flags_and_lists() {
        let s = Settings::from_pairs("telegram", &[("A", "off"), ("B", "maybe"), ("L", "1, 2,,3 ")], &[]);
        assert_eq!(s.flag("A", "a").unwrap(), Some(false));
        let err = s.flag("B", "b").unwrap_err();
        assert_eq!(err.key, "B");
        assert_eq!(s.list("L", "l"), vec!["1", "2", "3"]);
        assert!(s.list("M", "m").is_empty());
    }

    #[test]
    fn masks_secrets() {
        assert_eq!(mask_secret("123456:ABCDEFGHIJ"), "…GHIJ");
        assert_eq!(mask_secret("short"), "…");
    }
}
