//! Typed reading of one setting from `config.yaml` or the merged environment, where every
//! wrong value becomes a [`Problem`] that quotes it and says what was expected.
//!
//! A [`Raw`] is a value before typing plus its place; the loader picks which source wins
//! ("config wins" or "env wins", as Hermes does per key) with `Option::or`.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::problem::{Problem, split_origin};
use super::yaml::{Key, Kind, Node};

/// A value as written, with where it was written.
#[derive(Clone, Debug)]
pub struct Raw {
    /// The text, or what it was instead (`a map`, `a list`).
    pub text: Result<String, String>,
    pub file: String,
    pub line: Option<usize>,
    /// The key path or variable name.
    pub key: String,
}

/// Reads settings and collects the problems.
pub struct Reader<'a> {
    pub root: &'a Node,
    pub file: &'a str,
    pub env: &'a BTreeMap<String, String>,
    pub env_origin: &'a BTreeMap<String, String>,
    problems: RefCell<Vec<Problem>>,
    /// Sections already reported as not being a map, so each is reported once.
    reported: RefCell<BTreeSet<String>>,
}

impl<'a> Reader<'a> {
    pub fn new(
        root: &'a Node,
        file: &'a str,
        env: &'a BTreeMap<String, String>,
        env_origin: &'a BTreeMap<String, String>,
    ) -> Self {
        Reader {
            root,
            file,
            env,
            env_origin,
            problems: RefCell::new(Vec::new()),
            reported: RefCell::new(BTreeSet::new()),
        }
    }

    fn push(&self, p: Problem) {
        self.problems.borrow_mut().push(p);
    }

    /// Adds a problem found by the caller.
    pub fn report(&self, p: Problem) {
        self.push(p);
    }

    /// How many problems so far.
    pub fn problem_count(&self) -> usize {
        self.problems.borrow().len()
    }

    /// Every problem found, in order.
    pub fn into_problems(self) -> Vec<Problem> {
        self.problems.into_inner()
    }

    /// The node at a dotted path (`agent.max_turns`) with its key, `None` when absent or
    /// null. A section on the way that is not a map is reported once.
    pub fn node(&self, path: &str) -> Option<(&'a Key, &'a Node)> {
        let mut node = self.root;
        let mut found = None;
        let mut walked = String::new();
        for part in path.split('.') {
            match &node.kind {
                Kind::Map(_) => {}
                Kind::Null => return None,
                _ => {
                    if let Some((key, _)) = found {
                        self.not_a_map(key, node, &walked);
                    }
                    return None;
                }
            }
            let (k, v) = node.get(part)?;
            if !walked.is_empty() {
                walked.push('.');
            }
            walked.push_str(part);
            found = Some((k, v));
            node = v;
        }
        found.filter(|(_, v)| v.kind != Kind::Null)
    }

    fn not_a_map(&self, key: &Key, node: &Node, path: &str) {
        if self.reported.borrow_mut().insert(path.to_string()) {
            let msg = format!("expected a section of keys, found {}", node.describe());
            self.push(Problem::new(self.file, Some(key.line), path, msg));
        }
    }

    /// A map section (`streaming`), `None` when absent; anything else is reported.
    pub fn section(&self, path: &str) -> Option<(&'a Key, &'a Node)> {
        let (k, v) = self.node(path)?;
        match v.kind {
            Kind::Map(_) => Some((k, v)),
            _ => {
                self.not_a_map(k, v, path);
                None
            }
        }
    }

    /// A config value as [`Raw`].
    pub fn cfg(&self, path: &str) -> Option<Raw> {
        let (k, v) = self.node(path)?;
        Some(self.raw_of(k, v, path))
    }

    pub fn raw_of(&self, key: &Key, node: &Node, path: &str) -> Raw {
        let text = match &node.kind {
            Kind::Scalar(s) => Ok(s.clone()),
            _ => Err(node.describe()),
        };
        Raw { text, file: self.file.to_string(), line: Some(key.line), key: path.to_string() }
    }

    /// A top-level key, else the same key under `gateway:` (Hermes accepts both).
    pub fn cfg_gw(&self, path: &str) -> Option<Raw> {
        self.cfg(path).or_else(|| self.cfg(&format!("gateway.{path}")))
    }

    /// A non-empty variable of the merged environment as [`Raw`].
    pub fn env(&self, name: &str) -> Option<Raw> {
        let value = self.env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())?;
        let origin = self.env_origin.get(name).map_or("env", String::as_str);
        let (file, line) = split_origin(origin);
        Some(Raw { text: Ok(value.to_string()), file: file.to_string(), line, key: name.to_string() })
    }

    /// Records "expected X, found Y" for `raw`.
    pub fn wrong(&self, raw: &Raw, expected: &str) {
        let found = match &raw.text {
            Ok(s) if s.trim().is_empty() => "an empty value".to_string(),
            Ok(s) => format!("{s:?}"),
            Err(what) => what.clone(),
        };
        let msg = format!("expected {expected}, found {found}");
        self.push(Problem::new(&raw.file, raw.line, &raw.key, msg));
    }

    pub fn problem(&self, raw: &Raw, message: impl Into<String>) {
        self.push(Problem::new(&raw.file, raw.line, &raw.key, message));
    }

    /// The text of a scalar; maps and lists are reported.
    pub fn string(&self, raw: Option<Raw>) -> Option<String> {
        let raw = raw?;
        match &raw.text {
            Ok(s) => Some(s.clone()),
            Err(_) => {
                self.wrong(&raw, "text");
                None
            }
        }
    }

    /// true/false, yes/no, on/off, 1/0 (YAML 1.1 and env style).
    pub fn bool(&self, raw: Option<Raw>) -> Option<bool> {
        let raw = raw?;
        let v = raw.text.as_deref().ok().and_then(|s| hermes_platform::settings::parse_bool(s.trim()));
        if v.is_none() {
            self.wrong(&raw, "true or false");
        }
        v
    }

    /// A whole number in `min..=max`.
    pub fn int(&self, raw: Option<Raw>, min: i64, max: i64) -> Option<i64> {
        let raw = raw?;
        let v = raw.text.as_deref().ok().and_then(|s| s.trim().parse::<i64>().ok());
        match v {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(_) => {
                self.wrong(&raw, &range_text(min, max));
                None
            }
            None => {
                self.wrong(&raw, "a whole number");
                None
            }
        }
    }

    /// A whole number, with no range check (the caller clamps as Hermes does).
    pub fn any_int(&self, raw: Option<Raw>) -> Option<i64> {
        self.int(raw, i64::MIN, i64::MAX)
    }

    /// A non-negative number of seconds, fractions allowed.
    pub fn secs(&self, raw: Option<Raw>) -> Option<Duration> {
        let raw = raw?;
        let v = raw.text.as_deref().ok().and_then(|s| s.trim().parse::<f64>().ok());
        match v {
            Some(f) if f.is_finite() && (0.0..=1e9).contains(&f) => Some(Duration::from_secs_f64(f)),
            _ => {
                self.wrong(&raw, "a number of seconds (0 or more)");
                None
            }
        }
    }

    /// A positive number (fractions allowed).
    pub fn positive(&self, raw: Option<Raw>) -> Option<f64> {
        let raw = raw?;
        let v = raw.text.as_deref().ok().and_then(|s| s.trim().parse::<f64>().ok());
        match v {
            Some(f) if f.is_finite() && f > 0.0 => Some(f),
            _ => {
                self.wrong(&raw, "a number above 0");
                None
            }
        }
    }

    /// One of the named choices (case-insensitive).
    pub fn choice<T: Copy>(&self, raw: Option<Raw>, choices: &[(&str, T)]) -> Option<T> {
        let raw = raw?;
        let text = raw.text.as_deref().ok().map(|s| s.trim().to_ascii_lowercase());
        if let Some(t) = &text
            && let Some((_, v)) = choices.iter().find(|(name, _)| name == t)
        {
            return Some(*v);
        }
        let mut names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        names.dedup();
        let expected = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        };
        self.wrong(&raw, &expected);
        None
    }

    /// A list of text: a YAML list of scalars, or a comma-separated string.
    pub fn list(&self, path: &str) -> Option<Vec<String>> {
        let (k, v) = self.node(path)?;
        match &v.kind {
            Kind::Seq(items) => {
                let mut out = Vec::new();
                for item in items {
                    match &item.kind {
                        Kind::Scalar(s) => out.push(s.trim().to_string()),
                        Kind::Null => {}
                        _ => {
                            let raw = self.raw_of(k, item, path);
                            self.wrong(&raw, "a list of names");
                            return None;
                        }
                    }
                }
                Some(out)
            }
            Kind::Scalar(s) => Some(s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()),
            _ => {
                let raw = self.raw_of(k, v, path);
                self.wrong(&raw, "a list of names");
                None
            }
        }
    }
}

fn range_text(min: i64, max: i64) -> String {
    match (min, max) {
        (min, i64::MAX) => format!("a whole number of at least {min}"),
        (min, max) => format!("a whole number from {min} to {max}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml;

    #[test]
    fn wrong_values_quote_file_line_key_and_expectation() {
        let root = yaml::parse_str("agent:\n  max_turns: lots\n  flag: maybe\nstreaming: 3\n", "config.yaml").unwrap();
        let env = BTreeMap::from([("N".to_string(), "x".to_string())]);
        let origin = BTreeMap::from([("N".to_string(), ".env:4".to_string())]);
        let r = Reader::new(&root, "config.yaml", &env, &origin);
        assert_eq!(r.int(r.cfg("agent.max_turns"), 1, 100), None);
        assert_eq!(r.bool(r.cfg("agent.flag")), None);
        assert_eq!(r.cfg("streaming.enabled").map(|r| r.key), None);
        assert_eq!(r.cfg("streaming.cursor").map(|r| r.key), None);
        assert_eq!(r.int(r.env("N"), 0, 5), None);
        let got: Vec<String> = r.into_problems().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            got,
            [
                "config.yaml:2: agent.max_turns: expected a whole number, found \"lots\"",
                "config.yaml:3: agent.flag: expected true or false, found \"maybe\"",
                "config.yaml:4: streaming: expected a section of keys, found \"3\"",
                ".env:4: N: expected a whole number, found \"x\"",
            ]
        );
    }

    #[test]
    fn choices_lists_and_ranges() {
        let root = yaml::parse_str("m: Queue\nl: [a, b]\ns: 'x, y'\nh: 30\n", "config.yaml").unwrap();
        let empty = BTreeMap::new();
        let r = Reader::new(&root, "config.yaml", &empty, &empty);
        assert_eq!(r.choice(r.cfg("m"), &[("queue", 1), ("steer", 2)]), Some(1));
        assert_eq!(r.list("l").unwrap(), ["a", "b"]);
        assert_eq!(r.list("s").unwrap(), ["x", "y"]);
        assert_eq!(r.int(r.cfg("h"), 0, 23), None);
        assert_eq!(r.choice(r.cfg("h"), &[("a", 1), ("b", 2), ("c", 3)]), None);
        let problems = r.into_problems();
        assert_eq!(problems[0].message, "expected a whole number from 0 to 23, found \"30\"");
        assert_eq!(problems[1].message, "expected a, b or c, found \"30\"");
    }
}
