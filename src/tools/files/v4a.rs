//! The V4A patch format (the one OpenAI models are trained to write), applied all or nothing:
//! every file is checked and its new text computed before the first write.
//!
//! ```text
//! *** Begin Patch
//! *** Update File: src/app.py
//! @@ def main():
//!      keep this line
//! -    old line
//! +    new line
//! *** Add File: notes.txt
//! +first line
//! *** Delete File: old.txt
//! *** End Patch
//! ```

use std::path::PathBuf;

use miniserde::json::Value;

use super::{diff, read_text, resolve, shown, write_atomic};
use crate::tools::ToolEnv;
use crate::tools::args::{n, object, s};

enum Op {
    Add(String, String),
    Delete(String),
    Update(String, Vec<Hunk>),
}

#[derive(Default)]
struct Hunk {
    /// The text after `@@` (a line to find first, such as a function header).
    anchor: String,
    old: Vec<String>,
    new: Vec<String>,
}

/// Parses and applies `patch`; the result lists the files and their diffs.
pub fn apply(env: &ToolEnv, patch: &str) -> Result<String, String> {
    let ops = parse(patch)?;
    // (path, new text or None to delete, diff)
    let mut plan: Vec<(PathBuf, Option<String>, String)> = Vec::new();
    for op in &ops {
        let (path, old, new) = match op {
            Op::Add(p, text) => {
                let real = resolve(env, p)?;
                if real.exists() {
                    return Err(format!("*** Add File: {p} already exists; use *** Update File"));
                }
                (real, None, Some(text.clone()))
            }
            Op::Delete(p) => {
                let real = resolve(env, p)?;
                let old = read_text(&real, p)?;
                (real, Some(old), None)
            }
            Op::Update(p, hunks) => {
                let real = resolve(env, p)?;
                let old = read_text(&real, p)?;
                let new = update(&old, hunks).map_err(|e| format!("{p}: {e}"))?;
                (real, Some(old), Some(new))
            }
        };
        if plan.iter().any(|(q, _, _)| *q == path) {
            return Err(format!("the patch names {} twice; put all its changes in one section", path.display()));
        }
        let d = diff::unified(&shown(env, &path), old.as_deref(), new.as_deref());
        plan.push((path, new, d));
    }
    let mut files = Vec::new();
    let mut diffs = String::new();
    for (path, new, d) in plan {
        let name = shown(env, &path);
        match new {
            Some(text) => write_atomic(&path, text.as_bytes()),
            None => std::fs::remove_file(&path),
        }
        .map_err(|e| format!("cannot write {name}: {e} (files before it in the patch were changed)"))?;
        files.push(Value::String(name));
        diffs.push_str(&d);
    }
    let count = files.len() as i64;
    Ok(object(vec![
        ("success", Value::Bool(true)),
        ("files", Value::Array(files.into_iter().collect())),
        ("files_changed", n(count)),
        ("diff", s(diffs)),
    ]))
}

fn parse(patch: &str) -> Result<Vec<Op>, String> {
    let mut lines = patch.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)).skip_while(|l| l.trim().is_empty());
    if lines.next().map(str::trim) != Some("*** Begin Patch") {
        return Err("a V4A patch starts with \"*** Begin Patch\"".into());
    }
    let mut ops: Vec<Op> = Vec::new();
    let mut ended = false;
    for (i, line) in lines.enumerate() {
        let at = i + 2;
        if let Some(p) = line.strip_prefix("*** Add File: ") {
            ops.push(Op::Add(p.trim().into(), String::new()));
        } else if let Some(p) = line.strip_prefix("*** Delete File: ") {
            ops.push(Op::Delete(p.trim().into()));
        } else if let Some(p) = line.strip_prefix("*** Update File: ") {
            ops.push(Op::Update(p.trim().into(), Vec::new()));
        } else if line.trim() == "*** End Patch" {
            ended = true;
            break;
        } else if line.trim() == "*** End of File" {
        } else if line.starts_with("*** ") {
            return Err(format!("line {at}: unknown patch header {line:?}"));
        } else {
            match ops.last_mut() {
                Some(Op::Add(_, text)) => match line.strip_prefix('+') {
                    Some(body) => {
                        text.push_str(body);
                        text.push('\n');
                    }
                    None => return Err(format!("line {at}: lines of an added file start with '+'")),
                },
                Some(Op::Update(_, hunks)) => {
                    if let Some(anchor) = line.strip_prefix("@@") {
                        hunks.push(Hunk { anchor: anchor.trim().into(), ..Hunk::default() });
                        continue;
                    }
                    if hunks.is_empty() {
                        hunks.push(Hunk::default());
                    }
                    let h = hunks.last_mut().expect("a hunk");
                    match line.chars().next() {
                        Some('-') => h.old.push(line[1..].into()),
                        Some('+') => h.new.push(line[1..].into()),
                        Some(' ') => {
                            h.old.push(line[1..].into());
                            h.new.push(line[1..].into());
                        }
                        None => {
                            h.old.push(String::new());
                            h.new.push(String::new());
                        }
                        _ => return Err(format!("line {at}: hunk lines start with ' ', '-' or '+': {line:?}")),
                    }
                }
                _ if line.trim().is_empty() => {}
                _ => return Err(format!("line {at}: expected a \"*** Update/Add/Delete File: path\" header")),
            }
        }
    }
    if !ended {
        return Err("the patch has no \"*** End Patch\" line".into());
    }
    if ops.is_empty() {
        return Err("the patch changes no file".into());
    }
    Ok(ops)
}

/// `text` with each hunk applied in order, each found after the previous one.
fn update(text: &str, hunks: &[Hunk]) -> Result<String, String> {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cursor = 0;
    for (k, h) in hunks.iter().enumerate() {
        if !h.anchor.is_empty() {
            let found = find(&lines, std::slice::from_ref(&h.anchor), cursor, true)
                .or_else(|| lines[cursor..].iter().position(|l| l.contains(h.anchor.trim())).map(|i| cursor + i));
            let Some(i) = found else { return Err(format!("hunk {}: context line {:?} not found", k + 1, h.anchor)) };
            cursor = i + 1;
        }
        let at = if h.old.is_empty() {
            if h.anchor.is_empty() { lines.len() } else { cursor }
        } else {
            match find(&lines, &h.old, cursor, false).or_else(|| find(&lines, &h.old, cursor, true)) {
                Some(i) => i,
                None => {
                    return Err(format!(
                        "hunk {} does not match the file; expected these lines:\n{}",
                        k + 1,
                        h.old.join("\n")
                    ));
                }
            }
        };
        lines.splice(at..at + h.old.len(), h.new.iter().cloned());
        cursor = at + h.new.len();
    }
    let mut out = lines.join("\n");
    if !lines.is_empty() && (text.ends_with('\n') || text.is_empty()) {
        out.push('\n');
    }
    Ok(out)
}

/// The first index from `from` where `want` matches (trimmed lines when `loose`).
fn find(lines: &[String], want: &[String], from: usize, loose: bool) -> Option<usize> {
    let eq = |a: &str, b: &str| if loose { a.trim() == b.trim() } else { a == b };
    (from..=lines.len().checked_sub(want.len())?)
        .find(|&i| lines[i..i + want.len()].iter().zip(want).all(|(a, b)| eq(a, b)))
}

#[cfg(test)]
mod tests {
    use crate::test_util::temp_dir;
    use crate::tools::{ToolRegistry, test_env};

    fn patch_args(text: &str) -> String {
        crate::tools::args::object(vec![
            ("mode", crate::tools::args::s("patch")),
            ("patch", crate::tools::args::s(text)),
        ])
    }

    #[test]
    fn multi_file_patches_apply_all_or_nothing() {
        let dir = temp_dir("v4a");
        std::fs::write(
            dir.join("app.py"),
            "import os\n\ndef main():\n    x = 1\n    print(x)\n\ndef other():\n    x = 1\n",
        )
        .unwrap();
        std::fs::write(dir.join("old.txt"), "bye\n").unwrap();
        let env = test_env::env(&dir);
        let call = |text: &str| ToolRegistry::new(&[]).call(&env, &test_env::call("patch", &patch_args(text)));
        let good = "*** Begin Patch\n*** Update File: app.py\n@@ def other():\n-    x = 1\n+    x = 2\n*** Add File: notes/new.txt\n+hello\n+world\n*** Delete File: old.txt\n*** End Patch\n";
        let out = call(good);
        assert!(out.contains(r#""files":["app.py","notes/new.txt","old.txt"]"#), "{out}");
        assert!(
            out.contains("-    x = 1\\n+    x = 2\\n")
                && out.contains("+++ b/notes/new.txt")
                && out.contains("+++ /dev/null"),
            "{out}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("app.py")).unwrap(),
            "import os\n\ndef main():\n    x = 1\n    print(x)\n\ndef other():\n    x = 2\n"
        );
        assert_eq!(std::fs::read_to_string(dir.join("notes/new.txt")).unwrap(), "hello\nworld\n");
        assert!(!dir.join("old.txt").exists());

        // the second hunk fails: nothing is written, the first file included
        let bad = "*** Begin Patch\n*** Update File: app.py\n import os\n+import sys\n*** Update File: notes/new.txt\n-nothing like this\n+x\n*** End Patch";
        let out = call(bad);
        assert!(out.contains("notes/new.txt: hunk 1 does not match the file"), "{out}");
        assert!(!std::fs::read_to_string(dir.join("app.py")).unwrap().contains("sys"));

        assert!(call("*** Update File: a\n*** End Patch").contains("starts with"));
        assert!(call("*** Begin Patch\n*** Update File: app.py\n x\n").contains("no \\\"*** End Patch\\\""));
        assert!(call("*** Begin Patch\n*** Move File: a\n*** End Patch").contains("unknown patch header"));
        assert!(call("*** Begin Patch\n*** Add File: app.py\n+x\n*** End Patch").contains("already exists"));
        assert!(call("*** Begin Patch\n*** Add File: .env\n+K=1\n*** End Patch").contains("refusing to access"));
        assert!(call("*** Begin Patch\n*** End Patch").contains("changes no file"));
        assert!(
            ToolRegistry::new(&[])
                .call(&env, &test_env::call("patch", r#"{"mode":"patch"}"#))
                .contains("\\\"patch\\\"")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
