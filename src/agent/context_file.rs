//! The project context file of the system prompt (AD §1.4): one file from the workspace, the
//! first that exists of `.hermes.md`/`HERMES.md`, `AGENTS.md`/`agents.md`, `CLAUDE.md`/
//! `claude.md`, capped at [`MAX_CHARS`] (70 % head, 20 % tail and a marker).

use std::io::Read;
use std::path::Path;

pub const MAX_CHARS: usize = 20_000;
/// Bytes read of a context file at most (four per character is the worst case of UTF-8).
const MAX_READ: u64 = (MAX_CHARS as u64) * 4 * 64;
const CANDIDATES: &[&str] = &[".hermes.md", "HERMES.md", "AGENTS.md", "agents.md", "CLAUDE.md", "claude.md"];

/// The `# Project Context` section, or `None` when the workspace has no readable context file.
/// A file that exists but cannot be read is named in a warning and the next one is tried.
pub fn section(workspace: &Path) -> Option<String> {
    for name in CANDIDATES {
        let path = workspace.join(name);
        let mut bytes = Vec::new();
        let read = std::fs::File::open(&path).and_then(|f| f.take(MAX_READ).read_to_end(&mut bytes));
        match read {
            Ok(_) => {
                let text = String::from_utf8_lossy(&bytes);
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                let body = crate::text::threat::guard(cap(text, name), name);
                return Some(format!(
                    "# Project Context\n\nThe following project context files have been loaded and should be \
                     followed:\n\n## {name}\n\n{body}"
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("cannot read the context file {}: {e}; skipped", path.display()),
        }
    }
    None
}

/// Keeps 70 % head and 20 % tail of a text over [`MAX_CHARS`], with a marker between.
fn cap(text: &str, name: &str) -> String {
    let total = text.chars().count();
    if total <= MAX_CHARS {
        return text.to_string();
    }
    log::warn!("context file {name} has {total} characters; truncated to {MAX_CHARS}");
    let head = MAX_CHARS * 7 / 10;
    let tail = MAX_CHARS * 2 / 10;
    let head_end = text.char_indices().nth(head).map_or(text.len(), |(i, _)| i);
    let tail_start = text.char_indices().nth(total - tail).map_or(text.len(), |(i, _)| i);
    format!(
        "{}\n\n[...truncated {name}: kept {head}+{tail} of {total} chars. Use file tools to read the full file.]\n\n{}",
        &text[..head_end],
        &text[tail_start..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_candidate_wins_and_long_files_keep_head_and_tail() {
        let dir = crate::test_util::temp_dir("ctxfile");
        assert_eq!(section(&dir), None);
        std::fs::write(dir.join("CLAUDE.md"), "claude rules").unwrap();
        assert!(section(&dir).unwrap().ends_with("## CLAUDE.md\n\nclaude rules"));
        std::fs::write(dir.join("AGENTS.md"), "  ").unwrap();
        assert!(section(&dir).unwrap().contains("claude rules"), "an empty file is skipped");
        let long = format!("{}{}", "h".repeat(30_000), "t".repeat(10_000));
        std::fs::write(dir.join("AGENTS.md"), &long).unwrap();
        let s = section(&dir).unwrap();
        assert!(s.starts_with("# Project Context\n\nThe following project context files"));
        assert!(s.contains(&format!("## AGENTS.md\n\n{}\n\n[...truncated AGENTS.md", "h".repeat(14_000))));
        assert!(s.ends_with(&format!("]\n\n{}", "t".repeat(4_000))) && !s.contains(&"t".repeat(4_001)));
        std::fs::write(dir.join(".hermes.md"), "hermes first").unwrap();
        assert!(section(&dir).unwrap().contains("## .hermes.md\n\nhermes first"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unreadable_file_is_skipped() {
        let dir = crate::test_util::temp_dir("ctxfile-bad");
        std::fs::create_dir_all(dir.join("AGENTS.md")).unwrap(); // a directory cannot be read as a file
        std::fs::write(dir.join("CLAUDE.md"), "fallback").unwrap();
        assert!(section(&dir).unwrap().contains("## CLAUDE.md\n\nfallback"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
