//! `read_file`: a page of a text file as numbered `LINE|CONTENT` lines. The file is streamed,
//! so a 1 GB file costs the page asked (plus a pass counting its lines), never its size in memory.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;

use miniserde::json::Value;

use super::{MAX_LINE_CHARS, MAX_RESULT_CHARS, io_error, looks_binary, resolve, shown};
use crate::tools::args::{self, n, object, s};
use crate::tools::{ToolEnv, ToolSpec};

const DEFAULT_LIMIT: i64 = 500;
const MAX_LIMIT: i64 = 2000;

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "read_file",
        toolset: "file",
        description: "Read a text file with line numbers (`LINE|CONTENT`), paginated. Use this instead of cat/head/tail. \
            Paths are relative to the workspace. Use offset and limit for large files: the result says next_offset \
            when more lines follow. Binary files cannot be read.",
        parameters: r#"{"type":"object","properties":{"path":{"type":"string","description":"Path to the file (absolute, relative to the workspace, or ~/...)"},"offset":{"type":"integer","description":"Line number to start from (1-indexed)","default":1,"minimum":1},"limit":{"type":"integer","description":"Maximum number of lines to read (at most 2000)","default":500,"minimum":1,"maximum":2000}},"required":["path"]}"#,
        read_only: true,
        run,
    }
}

fn run(env: &ToolEnv, a: &miniserde::json::Object) -> Result<String, String> {
    let path = args::string(a, "path")?;
    let offset = args::opt_int(a, "offset", 1, i64::MAX)?.unwrap_or(1) as u64;
    let limit = args::opt_int(a, "limit", 1, i64::MAX)?.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as u64;
    let real = resolve(env, &path)?;
    let name = shown(env, &real);
    let meta = fs::metadata(&real).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => not_found(&real, &name),
        _ => io_error(&name, &e),
    })?;
    if meta.is_dir() {
        return Err(format!("{name} is a directory; list it with search_files (target \"files\")"));
    }
    if looks_binary(&real).map_err(|e| io_error(&name, &e))? {
        return Err(format!("{name} is a binary file; read_file shows text only"));
    }
    let file = fs::File::open(&real).map_err(|e| io_error(&name, &e))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut content = String::new();
    let (mut line_no, mut next_offset, mut cut) = (0u64, None, false);
    let mut buf = Vec::new();
    loop {
        if env.cancelled() {
            return Err("interrupted".into());
        }
        let keep = if line_no + 1 >= offset && next_offset.is_none() { MAX_LINE_CHARS * 4 } else { 0 };
        let Some(long) = read_line(&mut reader, &mut buf, keep).map_err(|e| io_error(&name, &e))? else { break };
        line_no += 1;
        if keep == 0 {
            continue;
        }
        if line_no >= offset + limit {
            next_offset = Some(line_no);
            continue;
        }
        let text = String::from_utf8_lossy(&buf);
        let mut text = text.trim_end_matches(['\n', '\r']);
        let over = text.char_indices().nth(MAX_LINE_CHARS).map(|(i, _)| i);
        if let Some(i) = over {
            text = &text[..i];
        }
        let entry = format!("{line_no:>6}|{text}{}\n", if long || over.is_some() { " [line truncated]" } else { "" });
        if content.len() + entry.len() > MAX_RESULT_CHARS && !content.is_empty() {
            (next_offset, cut) = (Some(line_no), true);
            continue;
        }
        content.push_str(&entry);
    }
    content.pop();
    let mut out = vec![("content", s(content)), ("total_lines", n(line_no as i64))];
    if offset > 1 {
        out.push(("offset", n(offset as i64)));
    }
    if let Some(next) = next_offset {
        out.push(("next_offset", n(next as i64)));
    }
    if cut {
        out.push(("truncated", Value::Bool(true)));
        out.push(("note", s(format!("output cut at {MAX_RESULT_CHARS} characters; read on from next_offset"))));
    }
    if offset > line_no && line_no > 0 {
        out.push(("note", s(format!("offset {offset} is past the end of the file ({line_no} lines)"))));
    }
    Ok(object(out))
}

/// Reads one line into `buf`, keeping at most `keep` bytes (the rest of a long line is skipped
/// without being stored). `None` at the end of the file; `Some(true)` when the line was cut.
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>, keep: usize) -> std::io::Result<Option<bool>> {
    buf.clear();
    let (mut any, mut long) = (false, false);
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any.then_some(long));
        }
        any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = keep.saturating_sub(buf.len()).min(take);
        buf.extend_from_slice(&chunk[..room]);
        long |= room < take && keep > 0 && !(done && room + 1 == take);
        r.consume(take);
        if done {
            return Ok(Some(long));
        }
    }
}

/// "file not found" with up to three names of the same directory that look alike.
fn not_found(real: &Path, name: &str) -> String {
    let target = real.file_name().and_then(|n| n.to_str()).unwrap_or("").to_lowercase();
    let mut best: Vec<(usize, String)> = Vec::new();
    if let Some(entries) = real.parent().and_then(|d| fs::read_dir(d).ok()) {
        for entry in entries.flatten().take(10_000) {
            let Ok(cand) = entry.file_name().into_string() else { continue };
            let lower = cand.to_lowercase();
            let d = distance(&target, &lower);
            let close = d <= target.chars().count().max(3) / 3 || lower.contains(&target) || target.contains(&lower);
            if close && !cand.starts_with(".env") {
                best.push((d, cand));
            }
        }
    }
    best.sort_unstable();
    best.truncate(3);
    let names: Vec<String> = best.into_iter().map(|(_, c)| c).collect();
    if names.is_empty() {
        format!("file not found: {name}")
    } else {
        format!("file not found: {name}; similar files in that directory: {}", names.join(", "))
    }
}

/// Levenshtein distance (names are short).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let up = row[j + 1];
            row[j + 1] = (diag + (ca != b[j]) as usize).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use crate::test_util::temp_dir;
    use crate::tools::{ToolRegistry, test_env};
    use miniserde::json::{Object, Value};

    fn read(dir: &std::path::Path, args: &str) -> Object {
        let out = ToolRegistry::new(&[]).call(&test_env::env(dir), &test_env::call("read_file", args));
        match miniserde::json::from_str(&out) {
            Ok(Value::Object(o)) => o,
            _ => panic!("not an object: {out}"),
        }
    }

    fn text(o: &Object, k: &str) -> String {
        match o.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => miniserde::json::to_string(v),
            None => String::new(),
        }
    }

    #[test]
    fn pages_with_numbered_lines() {
        let dir = temp_dir("read");
        let lines: Vec<String> = (1..=2500).map(|i| format!("line {i}")).collect();
        std::fs::write(dir.join("big.txt"), lines.join("\n") + "\n").unwrap();
        let o = read(&dir, r#"{"path":"big.txt","limit":3}"#);
        assert_eq!(text(&o, "content"), "     1|line 1\n     2|line 2\n     3|line 3");
        assert_eq!((text(&o, "total_lines"), text(&o, "next_offset")), ("2500".into(), "4".into()));
        let o = read(&dir, r#"{"path":"big.txt","offset":2499}"#);
        assert_eq!(text(&o, "content"), "  2499|line 2499\n  2500|line 2500");
        assert_eq!((text(&o, "offset"), text(&o, "next_offset")), ("2499".into(), "".into()));
        // limit is capped at 2000 lines
        let o = read(&dir, r#"{"path":"big.txt","limit":5000}"#);
        assert_eq!(text(&o, "content").lines().count(), 2000);
        assert_eq!(text(&o, "next_offset"), "2001");
        let o = read(&dir, r#"{"path":"big.txt"}"#);
        assert_eq!(text(&o, "content").lines().count(), 500);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn long_lines_and_big_pages_are_cut() {
        let dir = temp_dir("read-cut");
        let long = "x".repeat(5000);
        std::fs::write(dir.join("long.txt"), format!("{long}\nshort")).unwrap();
        let o = read(&dir, r#"{"path":"long.txt"}"#);
        let c = text(&o, "content");
        assert!(
            c.starts_with(&format!("     1|{}", "x".repeat(2000))) && c.contains(" [line truncated]\n     2|short"),
            "{c}"
        );
        // 100 lines of 1500 chars: the 100 000-char budget cuts at a line boundary
        let body: Vec<String> = (0..100).map(|i| format!("{i:04}{}", "y".repeat(1496))).collect();
        std::fs::write(dir.join("wide.txt"), body.join("\n")).unwrap();
        let o = read(&dir, r#"{"path":"wide.txt","limit":2000}"#);
        let c = text(&o, "content");
        assert!(c.len() <= 100_000 && c.ends_with(&"y".repeat(10)), "{}", c.len());
        let shown = c.lines().count();
        assert_eq!(text(&o, "next_offset"), (shown + 1).to_string());
        assert_eq!(text(&o, "truncated"), "true");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_paths_and_files_are_explained() {
        let dir = temp_dir("read-bad");
        std::fs::write(dir.join("config.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.join("image.png"), [0x89, b'P', 0, 1]).unwrap();
        std::fs::write(dir.join("empty.txt"), "").unwrap();
        assert!(
            text(&read(&dir, r#"{"path":"confg.yaml"}"#), "error")
                .contains("similar files in that directory: config.yaml")
        );
        assert!(text(&read(&dir, r#"{"path":"image.png"}"#), "error").contains("binary"));
        assert!(text(&read(&dir, r#"{"path":"."}"#), "error").contains("is a directory"));
        assert!(text(&read(&dir, r#"{}"#), "error").contains("missing required argument \"path\""));
        assert!(
            text(&read(&dir, r#"{"path":"config.yaml","offset":0}"#), "error").contains("\"offset\" must be between 1")
        );
        assert!(text(&read(&dir, r#"{"path":"../x"}"#), "error").contains("outside the workspace"));
        let o = read(&dir, r#"{"path":"empty.txt"}"#);
        assert_eq!((text(&o, "content"), text(&o, "total_lines")), ("".into(), "0".into()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
