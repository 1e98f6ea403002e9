//! One thing wrong with the configuration, said so a user can find and fix it.
//!
//! `config check` prints every problem at once, so the loader collects these instead of
//! stopping at the first.

use std::fmt;

/// A wrong, missing or unreadable setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file as the user sees it relative to the home (`config.yaml`, `.env`), an absolute
    /// path for the managed overlay, or `env` for the process environment.
    pub file: String,
    /// 1-based line, when the file has lines.
    pub line: Option<usize>,
    /// The key path (`model.default`) or variable (`OPENROUTER_API_KEY`); empty for problems of
    /// the whole file, such as a syntax error.
    pub key: String,
    /// What was found, what was expected, and the fix where there is one.
    pub message: String,
}

impl Problem {
    pub fn new(file: &str, line: Option<usize>, key: &str, message: impl Into<String>) -> Self {
        Problem { file: file.to_string(), line, key: key.to_string(), message: message.into() }
    }
}

/// `.env:4` → (`.env`, Some(4)); `env` → (`env`, None).
pub fn split_origin(origin: &str) -> (&str, Option<usize>) {
    match origin.rsplit_once(':') {
        Some((file, line)) if !file.is_empty() => match line.parse() {
            Ok(n) => (file, Some(n)),
            Err(_) => (origin, None),
        },
        _ => (origin, None),
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_and_key() {
        let p = Problem::new("config.yaml", Some(12), "model.default", "expected a model name, found an empty value");
        assert_eq!(p.to_string(), "config.yaml:12: model.default: expected a model name, found an empty value");
        let p = Problem::new("env", None, "SSL_CERT_FILE", "no such file");
        assert_eq!(p.to_string(), "env: SSL_CERT_FILE: no such file");
        let p = Problem::new("config.yaml", Some(3), "", "not valid UTF-8");
        assert_eq!(p.to_string(), "config.yaml:3: not valid UTF-8");
    }

    #[test]
    fn origins_split_into_file_and_line() {
        assert_eq!(split_origin(".env:4"), (".env", Some(4)));
        assert_eq!(split_origin("/etc/hermes/.env:2"), ("/etc/hermes/.env", Some(2)));
        assert_eq!(split_origin("env"), ("env", None));
    }
}
