//! `config.yaml` as a small tree that remembers where every key and value was written.
//!
//! Hermes configs are plain YAML (maps, lists, scalars); we keep scalars as text and type them
//! when a key is read, so a problem can say `config.yaml:12` and quote what was found.
//! Built from the events of `saphyr-parser`; anchors and aliases are resolved, tags ignored.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::problem::Problem;

/// A YAML node with its 1-based line and column.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub line: usize,
    pub col: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Entries in file order; a repeated key is kept, and the last one wins on lookup.
    Map(Vec<(Key, Node)>),
    Seq(Vec<Node>),
    Scalar(String),
    /// `~`, `null` or nothing after `key:`.
    Null,
}

/// A map key with its 1-based position.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub line: usize,
    pub col: usize,
}

impl Node {
    /// The value of `key` in a map (the last, if repeated), with its key.
    pub fn get(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().rev().find(|(k, _)| k.name == key).map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// What this node is, for messages: `"text"`, `a map`, `a list`, `an empty value`.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Map(_) => "a map".into(),
            Kind::Seq(_) => "a list".into(),
            Kind::Null => "an empty value".into(),
            Kind::Scalar(s) if s.trim().is_empty() => "an empty value".into(),
            Kind::Scalar(s) => format!("{s:?}"),
        }
    }

    /// Replaces `${VAR}` in every scalar with the variable's value; unknown references stay
    /// as written (Hermes does the same).
    pub fn expand_env(&mut self, lookup: &dyn Fn(&str) -> Option<String>) {
        match &mut self.kind {
            Kind::Map(entries) => entries.iter_mut().for_each(|(_, v)| v.expand_env(lookup)),
            Kind::Seq(items) => items.iter_mut().for_each(|v| v.expand_env(lookup)),
            Kind::Scalar(s) if s.contains("${") => *s = expand(s, lookup),
            _ => {}
        }
    }
}

fn expand(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[start..start + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses the bytes of a YAML file named `file` (for messages). An empty file is `Null`.
pub fn parse(bytes: &[u8], file: &str) -> Result<Node, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|e| utf8_problem(bytes, e.valid_up_to(), file))?;
    parse_str(text, file)
}

/// `config.yaml:LINE: not valid UTF-8 (byte 0xFF at column N)`.
pub fn utf8_problem(bytes: &[u8], at: usize, file: &str) -> Problem {
    let before = &bytes[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&bytes[line_start..at]).chars().count() + 1;
    Problem::new(file, Some(line), "", format!("not valid UTF-8 (byte 0x{:02X} at column {col})", bytes[at]))
}

/// An open map or list while events arrive.
enum Open {
    Map { start: Span, anchor: usize, entries: Vec<(Key, Node)>, key: Option<Key> },
    Seq { start: Span, anchor: usize, items: Vec<Node> },
}

pub fn parse_str(text: &str, file: &str) -> Result<Node, Problem> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let syntax = |line: usize, col: usize, what: &str| {
        Problem::new(file, Some(line), "", format!("YAML syntax error at column {col}: {what}"))
    };
    while let Some(item) = parser.next_event() {
        let (event, span) = item.map_err(|e| syntax(e.marker().line(), e.marker().col() + 1, e.info()))?;
        let (line, col) = (span.start.line(), span.start.col() + 1);
        let done = match event {
            Event::DocumentEnd if root.is_some() => break,
            Event::MappingStart(anchor, _) => {
                stack.push(Open::Map { start: span, anchor, entries: Vec::new(), key: None });
                continue;
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Open::Seq { start: span, anchor, items: Vec::new() });
                continue;
            }
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map { start, anchor, entries, .. }) => {
                    let node = Node { kind: Kind::Map(entries), line: start.start.line(), col: start.start.col() + 1 };
                    remember(&mut anchors, anchor, &node);
                    node
                }
                _ => return Err(syntax(line, col, "unbalanced mapping")),
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq { start, anchor, items }) => {
                    let node = Node { kind: Kind::Seq(items), line: start.start.line(), col: start.start.col() + 1 };
                    remember(&mut anchors, anchor, &node);
                    node
                }
                _ => return Err(syntax(line, col, "unbalanced sequence")),
            },
            Event::Scalar(value, style, anchor, _) => {
                let null = style == ScalarStyle::Plain && matches!(&*value, "" | "~" | "null" | "Null" | "NULL");
                let kind = if null { Kind::Null } else { Kind::Scalar(value.into_owned()) };
                let node = Node { kind, line, col };
                remember(&mut anchors, anchor, &node);
                node
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => Node { line, col, ..node.clone() },
                None => return Err(syntax(line, col, "alias to an unknown anchor")),
            },
            _ => continue,
        };
        match stack.last_mut() {
            None => root = Some(done),
            Some(Open::Seq { items, .. }) => items.push(done),
            Some(Open::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, done)),
                None => {
                    let name = match done.kind {
                        Kind::Scalar(s) => s,
                        Kind::Null => String::new(),
                        _ => {
                            return Err(syntax(done.line, done.col, "a map key must be plain text"));
                        }
                    };
                    *key = Some(Key { name, line: done.line, col: done.col });
                }
            },
        }
    }
    Ok(root.unwrap_or(Node { kind: Kind::Null, line: 1, col: 1 }))
}

fn remember(anchors: &mut HashMap<usize, Node>, anchor: usize, node: &Node) {
    if anchor > 0 {
        anchors.insert(anchor, node.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(n: &Node) -> &str {
        match &n.kind {
            Kind::Scalar(s) => s,
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn keeps_lines_of_keys_and_values() {
        let doc =
            parse(b"# comment\nmodel:\n  default: gpt-4o\n  provider: openai\nlist:\n  - a\n  - b\n", "config.yaml")
                .unwrap();
        let (k, model) = doc.get("model").unwrap();
        assert_eq!((k.line, k.col), (2, 1));
        let (k, v) = model.get("provider").unwrap();
        assert_eq!((k.line, k.col, v.line, v.col), (4, 3, 4, 13));
        assert_eq!(scalar(v), "openai");
        let (_, list) = doc.get("list").unwrap();
        match &list.kind {
            Kind::Seq(items) => {
                assert_eq!(items.iter().map(scalar).collect::<Vec<_>>(), ["a", "b"]);
                assert_eq!(items[1].line, 7);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nulls_quotes_and_flow_collections() {
        let doc = parse(b"a:\nb: ~\nc: ''\nd: \"null\"\ne: {x: 1, y: [2, 3]}\n", "config.yaml").unwrap();
        assert_eq!(doc.get("a").unwrap().1.kind, Kind::Null);
        assert_eq!(doc.get("b").unwrap().1.kind, Kind::Null);
        assert_eq!(scalar(doc.get("c").unwrap().1), "");
        assert_eq!(scalar(doc.get("d").unwrap().1), "null");
        let e = doc.get("e").unwrap().1;
        assert_eq!(scalar(e.get("x").unwrap().1), "1");
        assert!(matches!(e.get("y").unwrap().1.kind, Kind::Seq(ref v) if v.len() == 2));
    }

    #[test]
    fn repeated_key_last_wins_and_aliases_resolve() {
        let doc = parse(b"base: &b {k: v}\nx: 1\nx: 2\ncopy: *b\n", "config.yaml").unwrap();
        assert_eq!(scalar(doc.get("x").unwrap().1), "2");
        assert_eq!(scalar(doc.get("copy").unwrap().1.get("k").unwrap().1), "v");
    }

    #[test]
    fn empty_file_is_null() {
        assert_eq!(parse(b"", "config.yaml").unwrap().kind, Kind::Null);
        assert_eq!(parse(b"# only a comment\n", "config.yaml").unwrap().kind, Kind::Null);
    }

    #[test]
    fn syntax_error_names_the_line() {
        let err = parse(b"model:\n  default: x\n  bad: [1, 2\nother: 3\n", "config.yaml").unwrap_err();
        assert_eq!(err.file, "config.yaml");
        assert!(err.line.unwrap() >= 3, "{err}");
        assert!(err.message.starts_with("YAML syntax error"), "{err}");
        let err = parse(b"a: 1\n b: 2\n", "config.yaml").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
    }

    #[test]
    fn invalid_utf8_is_a_problem_with_line_and_column() {
        let err = parse(b"a: 1\nb: x\xFFy\n", "config.yaml").unwrap_err();
        assert_eq!(err.to_string(), "config.yaml:2: not valid UTF-8 (byte 0xFF at column 5)");
    }

    #[test]
    fn env_references_expand_and_unknown_ones_stay() {
        let mut doc = parse(b"k: ${A}-${NOPE}-${B\nl: [\"${A}\"]\n", "config.yaml").unwrap();
        doc.expand_env(&|n| (n == "A").then(|| "x".to_string()));
        assert_eq!(scalar(doc.get("k").unwrap().1), "x-${NOPE}-${B");
        match &doc.get("l").unwrap().1.kind {
            Kind::Seq(v) => assert_eq!(scalar(&v[0]), "x"),
            other => panic!("{other:?}"),
        }
    }
}
