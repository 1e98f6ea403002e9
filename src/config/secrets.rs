//! The values the log must never show (O13, O19).

use super::types::Config;

/// Variable name endings that hold secrets.
const SECRET_SUFFIXES: &[&str] = &["_TOKEN", "_API_KEY", "_KEY", "_SECRET", "_PASSWORD"];

impl Config {
    /// The model key and every non-empty secret-looking variable (at least 6 characters, so
    /// that redaction does not eat common words), longest first so that a secret containing
    /// another is redacted whole.
    pub fn secrets(&self) -> Vec<String> {
        let keys = std::iter::once(&self.model).chain(&self.fallbacks).filter_map(|m| m.api_key.clone());
        let mut out: Vec<String> = keys.collect();
        for (name, value) in self.env.iter() {
            if SECRET_SUFFIXES.iter().any(|s| name.ends_with(s)) {
                out.push(value.trim().to_string());
            }
        }
        out.retain(|s| s.chars().count() >= 6);
        out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_the_key_and_secret_looking_vars() {
        let mut c = crate::test_util::config(&[
            ("TELEGRAM_BOT_TOKEN", "123456:abcdef"),
            ("OPENROUTER_API_KEY", "sk-or-v1-xyz"),
            ("SLACK_SIGNING_SECRET", "shhhhhh"),
            ("EMAIL_PASSWORD", "hunter2hunter2"),
            ("SHORT_KEY", "abc"),
            ("EMPTY_TOKEN", ""),
            ("PATH", "/usr/bin:/bin"),
            ("TOKENS", "not-a-secret-name"),
        ]);
        c.model.api_key = Some("sk-or-v1-xyz".into());
        assert_eq!(c.secrets(), ["hunter2hunter2", "123456:abcdef", "sk-or-v1-xyz", "shhhhhh"]);
    }
}
