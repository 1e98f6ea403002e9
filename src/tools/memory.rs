//! `memory` (AD §6): the agent's notes (`HERMES_HOME/memories/MEMORY.md`) and the user profile
//! (`USER.md`), entries separated by `\n§\n`, bounded in characters (2200 / 1375 by default).
//!
//! Every change re-reads the file under an exclusive `flock` on a `.lock` file beside it and
//! replaces the file atomically, so two sessions writing at once never lose an entry. The
//! system prompt gets a frozen [`snapshot`] taken when a session's prompt is built: writes
//! during the session change the files, not the prompt (which keeps the prompt cache valid).

use std::fs;
use std::io::Read;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use miniserde::json::{Array, Number, Object, Value};

use super::args::{self, s};
use super::{ToolEnv, ToolSpec};
use crate::config::MemoryConfig;
use crate::text::thousands;

const DELIMITER: &str = "\n§\n";
/// A memory file larger than this is not read (it cannot be one the tool wrote).
const MAX_FILE_BYTES: u64 = 1024 * 1024;
const DONE_NOTE: &str = "Write saved. This update is complete — do not repeat it.";

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "memory",
        toolset: "memory",
        description: "Save durable information to persistent memory that survives across sessions. Memory is \
            injected into future sessions' system prompts, so keep it compact and focused on facts that will \
            still matter later.\n\nTargets: 'user' — who the user is (name, role, preferences, communication \
            style); 'memory' — your notes (environment facts, project conventions, tool quirks, lessons \
            learned).\n\nActions: add (new entry), replace (old_text identifies the entry by a unique \
            substring; content is the new text), remove (old_text identifies the entry). Use 'operations' to \
            apply several changes at once, checked against the limit after all of them.\n\nSave preferences, \
            corrections and stable facts. Do not save task progress, session outcomes or anything that will \
            be stale within a week; procedures belong in skills.",
        parameters: r#"{"type":"object","properties":{
            "action":{"type":"string","enum":["add","replace","remove"],"description":"The action to perform (omit when using operations)."},
            "target":{"type":"string","enum":["memory","user"],"description":"Which memory store: 'memory' for personal notes, 'user' for the user profile."},
            "content":{"type":"string","description":"The entry content. Required for 'add' and 'replace'."},
            "old_text":{"type":"string","description":"Short unique substring identifying the entry to replace or remove."},
            "operations":{"type":"array","description":"Several add/replace/remove operations applied atomically to one target.",
                "items":{"type":"object","properties":{"action":{"type":"string","enum":["add","replace","remove"]},
                "content":{"type":"string"},"old_text":{"type":"string"}},"required":["action"]}}},
            "required":["target"]}"#,
        read_only: false,
        run,
    }
}

/// One of the two stores.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Memory,
    User,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Memory => "memory",
            Target::User => "user",
        }
    }
    fn file_name(self) -> &'static str {
        if self == Target::User { "USER.md" } else { "MEMORY.md" }
    }
    fn file(self, home: &Path) -> PathBuf {
        home.join("memories").join(self.file_name())
    }
    fn limit(self, cfg: &MemoryConfig) -> usize {
        if self == Target::User { cfg.user_char_limit } else { cfg.memory_char_limit }
    }
    fn enabled(self, cfg: &MemoryConfig) -> bool {
        if self == Target::User { cfg.user_profile_enabled } else { cfg.memory_enabled }
    }
    fn header(self) -> &'static str {
        match self {
            Target::Memory => "MEMORY (your personal notes)",
            Target::User => "USER PROFILE (who the user is)",
        }
    }
}

/// The entries of a file: split on the full delimiter, trimmed, blanks and duplicates dropped.
/// An absent file has none; one that exists but cannot be read is an error (writing over it
/// would wipe it).
fn read_entries(path: &Path) -> Result<Vec<String>, String> {
    let mut bytes = Vec::new();
    match fs::File::open(path) {
        Ok(f) => f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| unreadable(path, &e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(unreadable(path, &e)),
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(unreadable(path, &format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    let text = String::from_utf8(bytes).map_err(|_| unreadable(path, &"not valid UTF-8"))?;
    Ok(parse(text.strip_prefix('\u{feff}').unwrap_or(&text)))
}

fn parse(text: &str) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    for e in text.split(DELIMITER).map(str::trim).filter(|e| !e.is_empty()) {
        if !entries.iter().any(|x| x == e) {
            entries.push(e.to_string());
        }
    }
    entries
}

fn unreadable(path: &Path, why: &dyn std::fmt::Display) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(
        "Refusing to write {name}: the file exists on disk but could not be read ({why}). Treating an unreadable \
         file as empty and saving would wipe existing memory, so the write is refused. Nothing was changed."
    )
}

fn chars(entries: &[String]) -> usize {
    if entries.is_empty() {
        return 0;
    }
    entries.iter().map(|e| e.chars().count()).sum::<usize>() + (entries.len() - 1) * DELIMITER.chars().count()
}

/// `P% — C/L chars`.
fn usage_pct(current: usize, limit: usize) -> String {
    let pct = (current * 100).checked_div(limit).unwrap_or(0).min(100);
    format!("{pct}% — {}/{} chars", thousands(current), thousands(limit))
}

/// The frozen snapshot for the system prompt: a block per non-empty enabled store. A file
/// that cannot be read is named in a warning and skipped.
pub fn snapshot(home: &Path, cfg: &MemoryConfig) -> String {
    let mut blocks = Vec::new();
    for target in [Target::Memory, Target::User] {
        if !target.enabled(cfg) {
            continue;
        }
        let path = target.file(home);
        let entries = match read_entries(&path) {
            Ok(e) => e,
            Err(_) => {
                log::warn!("memory: cannot read {}; left out of the system prompt", path.display());
                continue;
            }
        };
        if entries.is_empty() {
            continue;
        }
        let sep = "═".repeat(46);
        // A poisoned entry (edited into the file by hand or by another program) stays on disk
        // for the user to see, not in the prompt.
        let what = format!("an entry of {}", target.file_name());
        let shown: Vec<String> = entries.iter().map(|e| crate::text::threat::guard(e.clone(), &what)).collect();
        let content = shown.join(DELIMITER);
        let usage = usage_pct(content.chars().count(), target.limit(cfg));
        blocks.push(format!("{sep}\n{} [{usage}]\n{sep}\n{content}", target.header()));
    }
    blocks.join("\n\n")
}

/// An exclusive lock held until dropped (closing the file releases it).
struct Lock(#[allow(dead_code)] fs::File);

fn lock(path: &Path) -> Result<Lock, String> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&name)
        .map_err(|e| format!("cannot open the memory lock {}: {e}", Path::new(&name).display()))?;
    // SAFETY: flock on a descriptor this function owns; it blocks until the lock is granted.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(format!("cannot lock {}: {}", path.display(), std::io::Error::last_os_error()));
    }
    Ok(Lock(f))
}

fn strings(items: &[String]) -> Value {
    let mut a = Array::new();
    a.extend(items.iter().map(|e| s(e.as_str())));
    Value::Array(a)
}

fn to_json(pairs: Vec<(&str, Value)>) -> String {
    args::object(pairs)
}

fn failure(message: &str) -> String {
    to_json(vec![("success", Value::Bool(false)), ("error", s(message))])
}

/// A failure that shows the live entries, so the model can decide what to consolidate.
fn failure_with_entries(message: &str, entries: &[String], limit: usize) -> String {
    to_json(vec![
        ("success", Value::Bool(false)),
        ("error", s(message)),
        ("current_entries", strings(entries)),
        ("usage", s(format!("{}/{}", thousands(chars(entries)), thousands(limit)))),
    ])
}

fn success(target: Target, entries: &[String], limit: usize, message: &str) -> String {
    to_json(vec![
        ("success", Value::Bool(true)),
        ("done", Value::Bool(true)),
        ("target", s(target.name())),
        ("usage", s(usage_pct(chars(entries), limit))),
        ("entry_count", Value::Number(Number::U64(entries.len() as u64))),
        ("message", s(message)),
        ("note", s(DONE_NOTE)),
    ])
}

/// The entry containing `old_text`: `Ok(None)` when none does, `Err(())` when several
/// different entries do (identical ones are one entry).
fn find_unique(entries: &[String], old_text: &str) -> Result<Option<usize>, ()> {
    let matches: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].contains(old_text)).collect();
    match matches.first() {
        None => Ok(None),
        Some(&first) if matches.iter().all(|&i| entries[i] == entries[first]) => Ok(Some(first)),
        Some(_) => Err(()),
    }
}

fn text_arg(o: &Object, key: &str) -> Result<String, String> {
    Ok(args::opt_string(o, key)?.unwrap_or_default().trim().to_string())
}

fn run(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let cfg = &env.config.memory;
    let target = match args::string(a, "target")?.as_str() {
        "memory" => Target::Memory,
        "user" => Target::User,
        other => return Err(format!("Invalid target '{other}'. Use 'memory' or 'user'.")),
    };
    if !target.enabled(cfg) {
        let key = if target == Target::User { "memory.user_profile_enabled" } else { "memory.memory_enabled" };
        return Err(format!("The {} store is disabled ({key} is false).", target.name()));
    }
    let path = target.file(&env.config.home);
    let limit = target.limit(cfg);
    if let Some(ops) = a.get("operations").filter(|v| !matches!(v, Value::Null)) {
        let Value::Array(ops) = ops else { return Err("argument \"operations\" must be a list of objects".into()) };
        return batch(target, &path, limit, ops);
    }
    let action = args::string(a, "action")?;
    let content = text_arg(a, "content")?;
    let old_text = text_arg(a, "old_text")?;
    match action.as_str() {
        "add" if content.is_empty() => return Ok(failure("Content cannot be empty.")),
        "replace" | "remove" if old_text.is_empty() => return Ok(failure("old_text cannot be empty.")),
        "replace" if content.is_empty() => {
            return Ok(failure("new_content cannot be empty. Use 'remove' to delete entries."));
        }
        "add" | "replace" | "remove" => {}
        other => return Err(format!("Unknown action '{other}'. Use: add, replace, remove")),
    }
    if let Some(threat) = crate::text::threat::scan(&content) {
        return Ok(failure(&blocked(&threat)));
    }
    let _lock = lock(&path)?;
    let mut entries = match read_entries(&path) {
        Ok(e) => e,
        Err(e) => return Ok(failure(&e)),
    };
    let message = match action.as_str() {
        "add" => {
            if entries.contains(&content) {
                return Ok(success(target, &entries, limit, "Entry already exists (no duplicate added)."));
            }
            let mut next = entries.clone();
            next.push(content.clone());
            if chars(&next) > limit {
                let msg = format!(
                    "Memory at {}/{} chars. Adding this entry ({} chars) would exceed the limit. Consolidate now: \
                     use 'replace' to merge overlapping entries into shorter ones or 'remove' stale or less \
                     important entries (see current_entries below), then retry this add — all in this turn.",
                    thousands(chars(&entries)),
                    thousands(limit),
                    content.chars().count()
                );
                return Ok(failure_with_entries(&msg, &entries, limit));
            }
            entries = next;
            "Entry added."
        }
        verb => {
            let idx = match find_unique(&entries, &old_text) {
                Ok(Some(i)) => i,
                Ok(None) => {
                    let msg = format!(
                        "No entry matched '{old_text}'. Check current_entries below and retry with the exact text \
                         of the entry you want to {verb}."
                    );
                    return Ok(to_json(vec![
                        ("success", Value::Bool(false)),
                        ("error", s(msg)),
                        ("current_entries", strings(&entries)),
                    ]));
                }
                Err(()) => {
                    let previews: Vec<String> =
                        entries.iter().filter(|e| e.contains(&old_text)).map(|e| preview(e)).collect();
                    return Ok(to_json(vec![
                        ("success", Value::Bool(false)),
                        ("error", s(format!("Multiple entries matched '{old_text}'. Be more specific."))),
                        ("matches", strings(&previews)),
                    ]));
                }
            };
            if verb == "remove" {
                entries.remove(idx);
                "Entry removed."
            } else {
                let mut next = entries.clone();
                next[idx] = content.clone();
                let total = chars(&next);
                if total > limit {
                    let msg = format!(
                        "Replacement would put memory at {}/{} chars. Shorten the new content, or 'remove' other \
                         stale or less important entries to make room (see current_entries below), then retry — \
                         all in this turn.",
                        thousands(total),
                        thousands(limit)
                    );
                    return Ok(failure_with_entries(&msg, &entries, limit));
                }
                entries = next;
                "Entry replaced."
            }
        }
    };
    save(&path, &entries)?;
    Ok(success(target, &entries, limit, message))
}

/// Applies every operation to a copy and writes it only when all apply and the final total
/// fits: all or nothing.
fn batch(target: Target, path: &Path, limit: usize, ops: &[Value]) -> Result<String, String> {
    if ops.is_empty() {
        return Ok(failure("operations list is empty."));
    }
    let _lock = lock(path)?;
    let entries = match read_entries(path) {
        Ok(e) => e,
        Err(e) => return Ok(failure(&e)),
    };
    let mut working = entries.clone();
    for (i, op) in ops.iter().enumerate() {
        let empty = Object::new();
        let op = match op {
            Value::Object(o) => o,
            _ => &empty,
        };
        let act = args::opt_string(op, "action").ok().flatten().unwrap_or_default();
        let mut content = text_arg(op, "content").unwrap_or_default();
        if content.is_empty() {
            content = text_arg(op, "new_text").unwrap_or_default();
        }
        let old_text = text_arg(op, "old_text").unwrap_or_default();
        let pos = format!("Operation {} ({})", i + 1, if act.is_empty() { "unknown" } else { &act });
        if let Err(msg) = apply_op(&mut working, &act, content, &old_text, &pos) {
            let msg = format!("{msg} No operations were applied (batch is all-or-nothing).");
            return Ok(failure_with_entries(&msg, &entries, limit));
        }
    }
    let total = chars(&working);
    if total > limit {
        let msg = format!(
            "After applying all {} operations, memory would be at {}/{} chars -- over the limit. Remove or shorten \
             more entries in the same batch (see current_entries below), then retry.",
            ops.len(),
            thousands(total),
            thousands(limit)
        );
        return Ok(failure_with_entries(&msg, &entries, limit));
    }
    save(path, &working)?;
    Ok(success(target, &working, limit, &format!("Applied {} operation(s).", ops.len())))
}

/// The refusal of content that would carry a threat into every future system prompt.
fn blocked(threat: &crate::text::threat::Threat) -> String {
    format!(
        "Blocked: the content contains {threat}. Memory entries go into every future system prompt, so \
         they must be plain facts; nothing was saved."
    )
}

fn apply_op(working: &mut Vec<String>, act: &str, content: String, old_text: &str, pos: &str) -> Result<(), String> {
    if let Some(threat) = crate::text::threat::scan(&content) {
        return Err(format!("{pos}: {}", blocked(&threat)));
    }
    match act {
        "add" if content.is_empty() => return Err(format!("{pos}: content is required.")),
        "add" => {
            if !working.contains(&content) {
                working.push(content);
            }
            return Ok(());
        }
        "replace" | "remove" => {}
        _ => return Err(format!("{pos}: unknown action. Use add, replace, or remove.")),
    }
    if old_text.is_empty() {
        return Err(format!("{pos}: old_text is required."));
    }
    if act == "replace" && content.is_empty() {
        return Err(format!("{pos}: content is required (use action='remove' to delete)."));
    }
    match find_unique(working, old_text) {
        Err(()) => Err(format!("{pos}: '{old_text}' matched multiple distinct entries -- be more specific.")),
        Ok(None) => Err(format!("{pos}: no entry matched '{old_text}'.")),
        Ok(Some(i)) if act == "replace" => {
            working[i] = content;
            Ok(())
        }
        Ok(Some(i)) => {
            working.remove(i);
            Ok(())
        }
    }
}

fn preview(e: &str) -> String {
    let cut: String = e.chars().take(80).collect();
    if cut.len() < e.len() { format!("{cut}...") } else { cut }
}

fn save(path: &Path, entries: &[String]) -> Result<(), String> {
    crate::private_file::write(path, entries.join(DELIMITER).as_bytes())
        .map_err(|e| format!("Failed to write memory file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
