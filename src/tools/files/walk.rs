//! The directory walk of `search_files`: depth first in name order, `.git` skipped, each
//! directory's `.gitignore` honoured below it (simple glob lines: `*`, `?`, `**`, a trailing
//! `/` for directories, a leading `/` to anchor, `!` to re-include; the last matching line
//! wins). Symlinks are not followed (one could lead outside the workspace) and credentials are
//! never listed.

use std::fs;
use std::path::{Path, PathBuf};

use crate::text::glob::glob_match;

struct Rule {
    glob: String,
    negated: bool,
    dir_only: bool,
    /// Matched against the path below the `.gitignore`'s directory, not just the name.
    anchored: bool,
}

/// The rules of one `.gitignore`, with the directory (relative to the walk root) it sits in.
struct IgnoreFile {
    base: String,
    rules: Vec<Rule>,
}

fn parse(base: String, text: &str) -> IgnoreFile {
    let mut rules = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, line) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let (dir_only, line) = match line.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let anchored = line.contains('/');
        let glob = line.trim_start_matches('/').to_string();
        if !glob.is_empty() {
            rules.push(Rule { glob, negated, dir_only, anchored });
        }
    }
    IgnoreFile { base, rules }
}

fn ignored(stack: &[IgnoreFile], rel: &str, is_dir: bool) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let mut verdict = false;
    for file in stack {
        let Some(below) = (if file.base.is_empty() { Some(rel) } else { rel.strip_prefix(&file.base) }) else {
            continue;
        };
        let below = below.trim_start_matches('/');
        for r in &file.rules {
            if (!r.dir_only || is_dir) && glob_match(&r.glob, if r.anchored { below } else { name }) {
                verdict = !r.negated;
            }
        }
    }
    verdict
}

/// Calls `visit(path, relative path)` for every regular file under `root` (or `root` itself
/// when it is a file); stops when `visit` returns false or `stop()` says so.
pub fn files(root: &Path, hermes_home: &Path, stop: &dyn Fn() -> bool, visit: &mut dyn FnMut(&Path, &str) -> bool) {
    if root.is_file() {
        let name = root.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !super::is_refused(root, hermes_home) {
            visit(root, name);
        }
        return;
    }
    let mut ignores: Vec<IgnoreFile> = Vec::new();
    // (directory, its path relative to root); a `None` marks leaving a directory.
    let mut todo: Vec<Option<(PathBuf, String)>> = vec![Some((root.to_path_buf(), String::new()))];
    while let Some(item) = todo.pop() {
        if stop() {
            return;
        }
        let Some((dir, rel)) = item else {
            ignores.pop();
            continue;
        };
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        let mut names: Vec<(String, bool)> = Vec::new();
        for e in entries.flatten() {
            let Ok(name) = e.file_name().into_string() else { continue };
            let Ok(kind) = e.file_type() else { continue };
            if (kind.is_dir() && name != ".git") || kind.is_file() {
                names.push((name, kind.is_dir()));
            }
        }
        names.sort_unstable();
        let text = fs::read_to_string(dir.join(".gitignore")).unwrap_or_default();
        ignores.push(parse(rel.clone(), &text));
        todo.push(None);
        let mut subdirs = Vec::new();
        for (name, is_dir) in names {
            let child_rel = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let path = dir.join(&name);
            if ignored(&ignores, &child_rel, is_dir) || super::is_refused(&path, hermes_home) {
                continue;
            }
            if is_dir {
                subdirs.push(Some((path, child_rel)));
            } else if !visit(&path, &child_rel) {
                return;
            }
        }
        todo.extend(subdirs.into_iter().rev());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::temp_dir;

    fn list(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        files(root, Path::new("/nonexistent"), &|| false, &mut |_, rel| {
            out.push(rel.to_string());
            true
        });
        out
    }

    #[test]
    fn gitignore_rules_apply_below_their_directory() {
        let dir = temp_dir("walk");
        for f in [
            "a.rs",
            "a.log",
            "keep.log",
            "build/out.rs",
            "src/x.rs",
            "src/gen/y.rs",
            "src/z.tmp",
            ".git/HEAD",
            "docs/build/b.md",
            ".env",
            "sub/.gitignore",
            "sub/q.md",
            "sub/r.txt",
        ] {
            let p = dir.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "x").unwrap();
        }
        fs::write(dir.join(".gitignore"), "# comment\n*.log\n!keep.log\n/build/\nsrc/gen\n**/*.tmp\n").unwrap();
        fs::write(dir.join("sub/.gitignore"), "*.md\n").unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("etc-link")).unwrap();
        assert_eq!(
            list(&dir),
            [".gitignore", "a.rs", "keep.log", "docs/build/b.md", "src/x.rs", "sub/.gitignore", "sub/r.txt"]
        );
        assert_eq!(list(&dir.join("a.rs")), ["a.rs"]);
        let _ = fs::remove_dir_all(&dir);
    }
}
