//! `search_files`: lines matching a regex (target `content`) or files by name (target
//! `files`), under a directory of the workspace, `.gitignore` respected. Results are paged
//! (`offset`, `limit`) and capped at 100 000 characters; binary files and files over 10 MB are
//! skipped.

use std::fs;
use std::path::Path;

use miniserde::json::{Array, Object, Value};

use super::{MAX_FILE_BYTES, MAX_LINE_CHARS, MAX_RESULT_CHARS, hermes_home, resolve, shown, walk};
use crate::text::glob::glob_match;
use crate::text::regex::Regex;
use crate::tools::args::{self, n, object, s};
use crate::tools::{ToolEnv, ToolSpec};

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "search_files",
        toolset: "file",
        description: "Search file contents with a regex (target \"content\", the default) or find files by name \
            (target \"files\": pattern is a glob such as *.py or a part of the name; newest first). Use this instead \
            of grep/find/ls in the terminal. Respects .gitignore. Content matches come back as path, line, content; \
            output_mode files_only lists the matching files, count counts matches per file. Regex syntax: \
            . [] \\d \\w \\s \\b * + ? {m,n} | () ^ $, (?i) for case-insensitive.",
        parameters: r#"{"type":"object","properties":{"pattern":{"type":"string","description":"Regex for content search, or glob/name part for file search"},"target":{"type":"string","enum":["content","files"],"default":"content"},"path":{"type":"string","description":"Directory or file to search","default":"."},"file_glob":{"type":"string","description":"Only files whose name matches this glob (e.g. *.rs)"},"limit":{"type":"integer","default":50,"minimum":1,"description":"Maximum results"},"offset":{"type":"integer","default":0,"minimum":0,"description":"Results to skip (pagination)"},"output_mode":{"type":"string","enum":["content","files_only","count"],"default":"content"},"context":{"type":"integer","default":0,"minimum":0,"maximum":10,"description":"Lines of context around each match"}},"required":["pattern"]}"#,
        read_only: true,
        run,
    }
}

/// Where results go: a page of entries within a character budget; everything is counted.
struct Page {
    offset: usize,
    limit: usize,
    seen: usize,
    chars: usize,
    items: Array,
    truncated: bool,
}

impl Page {
    /// Counts an entry and keeps it when it falls on the page and fits the budget.
    fn offer(&mut self, make: impl FnOnce() -> Value) {
        self.seen += 1;
        if self.seen <= self.offset || self.items.len() >= self.limit || self.truncated {
            return;
        }
        let v = make();
        let size = miniserde::json::to_string(&v).len();
        if self.chars + size > MAX_RESULT_CHARS {
            self.truncated = true;
            return;
        }
        self.chars += size;
        self.items.push(v);
    }
}

fn run(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let pattern = args::string(a, "pattern")?;
    let target = args::opt_string(a, "target")?.unwrap_or_else(|| "content".into());
    let path = args::opt_string(a, "path")?.unwrap_or_else(|| ".".into());
    let file_glob = args::opt_string(a, "file_glob")?.filter(|g| !g.is_empty());
    let limit = args::opt_int(a, "limit", 1, i64::MAX)?.unwrap_or(50) as usize;
    let offset = args::opt_int(a, "offset", 0, i64::MAX)?.unwrap_or(0) as usize;
    let mode = args::opt_string(a, "output_mode")?.unwrap_or_else(|| "content".into());
    let context = args::opt_int(a, "context", 0, i64::MAX)?.unwrap_or(0).min(10) as usize;
    if !matches!(mode.as_str(), "content" | "files_only" | "count") {
        return Err(format!("argument \"output_mode\" must be content, files_only or count, not {mode:?}"));
    }
    let root = resolve(env, &path)?;
    if !root.exists() {
        return Err(format!("path not found: {}", shown(env, &root)));
    }
    let home = hermes_home(env);
    let stop = || env.cancelled();
    let glob_ok = |rel: &str| file_glob.as_deref().is_none_or(|g| name_matches(g, rel));
    let mut page = Page { offset, limit, seen: 0, chars: 0, items: Array::new(), truncated: false };
    let key = match target.as_str() {
        "files" => {
            let lower = pattern.to_lowercase();
            let mut found: Vec<(std::cmp::Reverse<i64>, String)> = Vec::new();
            walk::files(&root, &home, &stop, &mut |p, rel| {
                let name = rel.rsplit('/').next().unwrap_or(rel);
                let hit = if pattern.contains(['*', '?', '[', '{']) {
                    name_matches(&pattern, rel)
                } else {
                    name.to_lowercase().contains(&lower)
                };
                if hit && glob_ok(rel) {
                    let mtime = fs::metadata(p).and_then(|m| m.modified()).ok();
                    let secs = mtime
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos() as i64);
                    found.push((std::cmp::Reverse(secs), shown(env, p)));
                }
                true
            });
            found.sort_unstable();
            for (_, name) in found {
                page.offer(|| s(name));
            }
            "files"
        }
        "content" => {
            let re = Regex::new(&pattern).map_err(|e| format!("invalid regex pattern {pattern:?}: {e}"))?;
            walk::files(&root, &home, &stop, &mut |p, rel| {
                if glob_ok(rel) {
                    search_file(env, &re, p, &mode, context, &mut page);
                }
                true
            });
            match mode.as_str() {
                "files_only" => "files",
                "count" => "counts",
                _ => "matches",
            }
        }
        other => return Err(format!("argument \"target\" must be \"content\" or \"files\", not {other:?}")),
    };
    if env.cancelled() {
        return Err("interrupted".into());
    }
    let truncated = page.truncated || page.seen > offset + page.items.len();
    let next = offset + page.items.len();
    let mut out =
        vec![(key, Value::Array(page.items)), ("total", n(page.seen as i64)), ("truncated", Value::Bool(truncated))];
    if truncated {
        out.push(("next_offset", n(next as i64)));
    }
    Ok(object(out))
}

/// A glob matches the file name, or the relative path when it has a `/`.
fn name_matches(glob: &str, rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    glob_match(glob, if glob.contains('/') { rel } else { name })
}

/// Offers the file's matches (or the file, or its count) to the page.
fn search_file(env: &ToolEnv, re: &Regex, path: &Path, mode: &str, context: usize, page: &mut Page) {
    if fs::metadata(path).map_or(true, |m| m.len() > MAX_FILE_BYTES) || super::looks_binary(path).unwrap_or(true) {
        return;
    }
    let Ok(bytes) = fs::read(path) else { return };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let hits: Vec<usize> = (0..lines.len()).filter(|&i| re.is_match(lines[i])).collect();
    if hits.is_empty() {
        return;
    }
    let name = shown(env, path);
    match mode {
        "files_only" => page.offer(|| s(name)),
        "count" => page.offer(|| count_entry(&name, hits.len())),
        _ => {
            for i in hits {
                page.offer(|| {
                    let mut o = Object::new();
                    o.insert("path".into(), s(&name));
                    o.insert("line".into(), n(i as i64 + 1));
                    o.insert("content".into(), s(cut(lines[i])));
                    if context > 0 {
                        let before = lines[i.saturating_sub(context)..i].iter().map(|l| s(cut(l))).collect();
                        let after =
                            lines[i + 1..(i + 1 + context).min(lines.len())].iter().map(|l| s(cut(l))).collect();
                        o.insert("before".into(), Value::Array(before));
                        o.insert("after".into(), Value::Array(after));
                    }
                    Value::Object(o)
                });
            }
        }
    }
}

fn count_entry(name: &str, count: usize) -> Value {
    let mut o = Object::new();
    o.insert("path".into(), s(name));
    o.insert("count".into(), n(count as i64));
    Value::Object(o)
}

fn cut(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((i, _)) => format!("{} [line truncated]", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::test_util::temp_dir;
    use crate::tools::{ToolRegistry, test_env};
    use std::fs;

    fn setup() -> std::path::PathBuf {
        let dir = temp_dir("search");
        fs::create_dir_all(dir.join("src/deep")).unwrap();
        fs::write(dir.join("src/main.rs"), "fn main() {\n    let total = 1;\n    println!(\"{total}\");\n}\n").unwrap();
        fs::write(dir.join("src/deep/lib.rs"), "pub fn total() -> u32 { 2 }\n").unwrap();
        fs::write(dir.join("notes.md"), "the TOTAL is\nnothing\n").unwrap();
        fs::write(dir.join("bin.dat"), b"total\0\x01").unwrap();
        fs::write(dir.join(".env"), "total=secret\n").unwrap();
        fs::write(dir.join("ignored.log"), "total\n").unwrap();
        fs::write(dir.join(".gitignore"), "*.log\n").unwrap();
        dir
    }

    #[test]
    fn content_search_with_modes_and_context() {
        let dir = setup();
        let env = test_env::env(&dir);
        let call = |args: &str| ToolRegistry::new(&[]).call(&env, &test_env::call("search_files", args));
        let out = call(r#"{"pattern":"total"}"#);
        assert_eq!(
            out,
            r#"{"matches":[{"content":"    let total = 1;","line":2,"path":"src/main.rs"},{"content":"    println!(\"{total}\");","line":3,"path":"src/main.rs"},{"content":"pub fn total() -> u32 { 2 }","line":1,"path":"src/deep/lib.rs"}],"total":3,"truncated":false}"#
        );
        assert!(call(r#"{"pattern":"(?i)total","file_glob":"*.md"}"#).contains(r#""path":"notes.md""#));
        let out = call(r#"{"pattern":"\\btotal\\b","output_mode":"count"}"#);
        assert_eq!(
            out,
            r#"{"counts":[{"count":2,"path":"src/main.rs"},{"count":1,"path":"src/deep/lib.rs"}],"total":2,"truncated":false}"#
        );
        let out = call(r#"{"pattern":"total","output_mode":"files_only","path":"src/deep"}"#);
        assert_eq!(out, r#"{"files":["src/deep/lib.rs"],"total":1,"truncated":false}"#);
        let out = call(r#"{"pattern":"let","context":1}"#);
        assert!(out.contains(r#""after":["    println!(\"{total}\");"],"before":["fn main() {"]"#), "{out}");
        // the limit, then the next page
        let out = call(r#"{"pattern":"total","limit":1}"#);
        assert!(
            out.contains(r#""line":2"#)
                && out.contains(r#""total":3,"truncated":true"#)
                && out.contains(r#""next_offset":1"#),
            "{out}"
        );
        let out = call(r#"{"pattern":"total","limit":1,"offset":1}"#);
        assert!(out.contains(r#""line":3"#) && !out.contains(r#""line":2"#), "{out}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_search_caps_and_errors() {
        let dir = setup();
        let env = test_env::env(&dir);
        let call = |args: &str| ToolRegistry::new(&[]).call(&env, &test_env::call("search_files", args));
        let out = call(r#"{"pattern":"*.rs","target":"files"}"#);
        assert!(
            out.starts_with(r#"{"files":["#) && out.contains("src/main.rs") && out.contains("src/deep/lib.rs"),
            "{out}"
        );
        assert!(call(r#"{"pattern":"NOTES","target":"files"}"#).contains(r#"["notes.md"]"#));
        assert!(!call(r#"{"pattern":"env","target":"files"}"#).contains(".env"));
        // a file over 10 MB is skipped, a result over 100 000 chars is cut
        let mut big = "total\n".repeat(10);
        big.push_str(&"x".repeat(super::MAX_FILE_BYTES as usize));
        fs::write(dir.join("big.txt"), big).unwrap();
        assert!(!call(r#"{"pattern":"total"}"#).contains("big.txt"));
        fs::remove_file(dir.join("big.txt")).unwrap();
        let line = format!("total {}\n", "y".repeat(1500));
        fs::write(dir.join("wide.txt"), line.repeat(200)).unwrap();
        let out = call(r#"{"pattern":"total y","limit":1000}"#);
        assert!(out.len() <= 101_000 && out.contains(r#""total":200,"truncated":true"#), "{}", out.len());
        assert!(call(r#"{"pattern":"(unclosed"}"#).contains("invalid regex pattern"));
        assert!(call(r#"{"pattern":"x","target":"dirs"}"#).contains("\\\"target\\\" must be"));
        assert!(call(r#"{"pattern":"x","output_mode":"all"}"#).contains("output_mode"));
        assert!(call(r#"{"pattern":"x","path":"nope"}"#).contains("path not found: nope"));
        assert!(call(r#"{"pattern":"x","path":"/etc"}"#).contains("outside the workspace"));
        assert!(call(r#"{}"#).contains("missing required argument \\\"pattern\\\""));
        let _ = fs::remove_dir_all(&dir);
    }
}
