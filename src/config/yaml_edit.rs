//! Setting one scalar at a dotted path of `config.yaml` (`/model --global`, `/verbose`) while
//! keeping every other line — comments, order, quoting — as the user wrote it. Hermes rewrites
//! the whole file through a YAML dumper; we edit lines instead, so hand-written comments live.
//!
//! Block-style maps only: a flow map (`{...}`) or a scalar standing where a section is needed
//! is replaced by the section.

use std::io;
use std::path::Path;

/// Reads the scalar at `path` (`display.platforms.telegram.tool_progress`), if it is one.
pub fn get(text: &str, path: &str) -> Option<String> {
    let root = super::yaml::parse_str(text, "config.yaml").ok()?;
    let mut node = &root;
    for part in path.split('.') {
        node = node.get(part)?.1;
    }
    match &node.kind {
        super::yaml::Kind::Scalar(s) => Some(s.clone()),
        _ => None,
    }
}

/// Sets `path` to `value` in the file (created when missing), atomically.
pub fn set_in_file(file: &Path, path: &str, value: &str) -> io::Result<()> {
    let text = match std::fs::read(file) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    crate::private_file::write(file, set(&text, path, value).as_bytes())
}

/// Appends `item` to the top-level list `key` in the file (created when missing), unless it is
/// already there: `command_allowlist` entries approved with "always" (A16).
pub fn append_to_list_in_file(file: &Path, key: &str, item: &str) -> io::Result<()> {
    let text = match std::fs::read(file) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    crate::private_file::write(file, append_to_list(&text, key, item).as_bytes())
}

/// `text` with `item` added at the end of the top-level list `key`; a scalar, empty or flow
/// value there becomes a block list holding what it held.
pub fn append_to_list(text: &str, key: &str, item: &str) -> String {
    let existing: Vec<String> =
        match super::yaml::parse_str(text, "config.yaml").ok().and_then(|r| r.get(key).map(|(_, n)| n.kind.clone())) {
            Some(super::yaml::Kind::Seq(items)) => items
                .iter()
                .filter_map(|n| match &n.kind {
                    super::yaml::Kind::Scalar(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            Some(super::yaml::Kind::Scalar(s)) => vec![s],
            _ => Vec::new(),
        };
    if existing.iter().any(|e| e == item) {
        return text.to_string();
    }
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let found = lines.iter().position(|l| indent_of(l) == Some(0) && key_of(l) == Some(key));
    let Some(n) = found else {
        lines.push(format!("{key}:"));
        lines.push(format!("  - {}", scalar(item)));
        return join(lines);
    };
    let end = (n + 1..lines.len())
        .find(|&m| indent_of(&lines[m]) == Some(0) && !lines[m].starts_with('-'))
        .unwrap_or(lines.len());
    let end = (n + 1..end).rev().find(|&m| indent_of(&lines[m]).is_some()).map_or(n + 1, |m| m + 1);
    let inline = strip_comment(after_colon(&lines[n])).to_string();
    if inline.is_empty() {
        let pad = lines[n + 1..end]
            .iter()
            .find(|l| l.trim_start().starts_with('-'))
            .map_or("  ".to_string(), |l| " ".repeat(l.len() - l.trim_start().len()));
        lines.insert(end, format!("{pad}- {}", scalar(item)));
    } else {
        let mut new = vec![format!("{key}:")];
        new.extend(existing.iter().chain(std::iter::once(&item.to_string())).map(|e| format!("  - {}", scalar(e))));
        lines.splice(n..end, new);
    }
    join(lines)
}

/// `text` with the scalar at `path` set to `value`: the key's line is replaced (its trailing
/// comment kept), missing sections and keys are appended at the end of their parent.
pub fn set(text: &str, path: &str, value: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let parts: Vec<&str> = path.split('.').collect();
    let (mut start, mut end, mut parent_indent) = (0, lines.len(), None::<usize>);
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let indent = child_indent(&lines[start..end]).unwrap_or(parent_indent.map_or(0, |p| p + 2));
        let found = (start..end).find(|&n| indent_of(&lines[n]) == Some(indent) && key_of(&lines[n]) == Some(part));
        let Some(n) = found else {
            // Insert the rest of the path after the parent's last content line.
            let at = (start..end).rev().find(|&n| indent_of(&lines[n]).is_some()).map_or(start, |n| n + 1);
            let mut new = Vec::new();
            for (depth, rest) in parts[i..].iter().enumerate() {
                let pad = " ".repeat(indent + depth * 2);
                if i + depth + 1 == parts.len() {
                    new.push(format!("{pad}{rest}: {}", scalar(value)));
                } else {
                    new.push(format!("{pad}{rest}:"));
                }
            }
            lines.splice(at..at, new);
            return join(lines);
        };
        let block_end = (n + 1..end).find(|&m| indent_of(&lines[m]).is_some_and(|d| d <= indent)).unwrap_or(end);
        // Trailing comment lines belong to what follows, not to this key's block.
        let block_end = (n + 1..block_end).rev().find(|&m| indent_of(&lines[m]).is_some()).map_or(n + 1, |m| m + 1);
        let inline = after_colon(&lines[n]).trim().to_string();
        if last {
            let comment = comment_of(&inline).map(|c| format!(" {c}")).unwrap_or_default();
            lines[n] = format!("{}{part}: {}{comment}", " ".repeat(indent), scalar(value));
            lines.drain(n + 1..block_end);
            return join(lines);
        }
        let value_part = strip_comment(&inline);
        if !value_part.is_empty() {
            // A scalar or flow map where a section is needed: it becomes the section.
            lines[n] = format!("{}{part}:", " ".repeat(indent));
        }
        start = n + 1;
        end = block_end;
        parent_indent = Some(indent);
    }
    join(lines)
}

fn join(lines: Vec<String>) -> String {
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Indentation of a content line; `None` for blank and comment-only lines.
fn indent_of(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    Some(line.len() - trimmed.len())
}

fn child_indent(lines: &[String]) -> Option<usize> {
    lines.iter().find_map(|l| indent_of(l))
}

/// The key of a `key: value` line (quotes removed).
fn key_of(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if t.starts_with('-') {
        return None;
    }
    let (key, _) = split_key(t)?;
    Some(key.trim_matches(|c| c == '"' || c == '\''))
}

fn split_key(t: &str) -> Option<(&str, &str)> {
    let bytes = t.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ' || bytes[i + 1] == b'\t') {
            return Some((t[..i].trim_end(), &t[i + 1..]));
        }
    }
    None
}

fn after_colon(line: &str) -> &str {
    split_key(line.trim_start()).map_or("", |(_, v)| v)
}

/// Where a ` #` comment starts in a value, outside quotes.
fn comment_start(v: &str) -> Option<usize> {
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in v.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if (c == '"' || c == '\'') && (i == 0 || prev == ' ') => quote = Some(c),
            None if c == '#' && (i == 0 || prev == ' ' || prev == '\t') => return Some(i),
            None => {}
        }
        prev = c;
    }
    None
}

fn comment_of(v: &str) -> Option<&str> {
    comment_start(v).map(|i| &v[i..])
}

fn strip_comment(v: &str) -> &str {
    comment_start(v).map_or(v, |i| &v[..i]).trim()
}

/// `value` as a YAML scalar: plain when it reads back as the same string, else double-quoted
/// (`off`, `true`, `1.5` and the like would read as booleans or numbers).
fn scalar(value: &str) -> String {
    let lower = value.to_ascii_lowercase();
    let special = ["true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"].contains(&lower.as_str());
    let numeric = value.parse::<f64>().is_ok();
    let plain = !value.is_empty()
        && !special
        && !numeric
        && value.trim() == value
        && !value.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c))
        && !value.contains(": ")
        && !value.contains(" #")
        && value.chars().all(|c| !c.is_control());
    if plain { value.to_string() } else { miniserde::json::to_string(value) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn appends_to_a_top_level_list_once() {
        use super::append_to_list as add;
        assert_eq!(
            add("model: x\n", "command_allowlist", "rm -rf ./build"),
            "model: x\ncommand_allowlist:\n  - rm -rf ./build\n"
        );
        let block = "command_allowlist:\n- ls # mine\nmodel: x\n";
        assert_eq!(add(block, "command_allowlist", "a: b"), "command_allowlist:\n- ls # mine\n- \"a: b\"\nmodel: x\n");
        assert_eq!(add(block, "command_allowlist", "ls"), block, "already there");
        assert_eq!(add("command_allowlist: []\n", "command_allowlist", "x"), "command_allowlist:\n  - x\n");
        assert_eq!(
            add("command_allowlist: [a, b]\n", "command_allowlist", "c"),
            "command_allowlist:\n  - a\n  - b\n  - c\n"
        );
    }

    use super::*;

    const CONFIG: &str = "# my config\nmodel:\n  default: old-model   # the one I like\n  provider: custom\n\n\
        # display settings\ndisplay:\n  busy_input_mode: queue\nagent:\n  max_turns: 10\n";

    #[test]
    fn replaces_a_nested_key_keeping_comments_and_other_keys() {
        let out = set(CONFIG, "model.default", "new-model");
        assert!(out.contains("  default: new-model # the one I like\n"), "{out}");
        assert!(out.starts_with("# my config\nmodel:\n"));
        assert!(out.contains("  provider: custom\n\n# display settings\ndisplay:\n  busy_input_mode: queue\n"));
        assert_eq!(get(&out, "model.default").as_deref(), Some("new-model"));
        assert_eq!(get(&out, "agent.max_turns").as_deref(), Some("10"));
    }

    #[test]
    fn creates_missing_sections_and_quotes_what_would_change_type() {
        let out = set(CONFIG, "display.platforms.telegram.tool_progress", "off");
        assert!(
            out.contains(
                "display:\n  busy_input_mode: queue\n  platforms:\n    telegram:\n      tool_progress: \"off\"\nagent:"
            ),
            "{out}"
        );
        assert_eq!(get(&out, "display.platforms.telegram.tool_progress").as_deref(), Some("off"));
        let again = set(&out, "display.platforms.telegram.tool_progress", "new");
        assert_eq!(get(&again, "display.platforms.telegram.tool_progress").as_deref(), Some("new"));
        assert_eq!(again.lines().count(), out.lines().count());
        let fresh = set("", "model.default", "x");
        assert_eq!(fresh, "model:\n  default: x\n");
    }

    #[test]
    fn a_scalar_section_becomes_a_map() {
        let out = set("model: gpt-4  # old\nother: 1\n", "model.default", "y");
        assert_eq!(get(&out, "model.default").as_deref(), Some("y"));
        assert_eq!(get(&out, "other").as_deref(), Some("1"));
    }

    #[test]
    fn replaces_a_block_value_with_the_scalar() {
        let out = set("a:\n  b:\n    c: 1\n  d: 2\n", "a.b", "z");
        assert_eq!(out, "a:\n  b: z\n  d: 2\n");
    }
}
