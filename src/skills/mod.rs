//! Skills: `HERMES_HOME/skills/**/SKILL.md`, each usable as `/<skill-name> [args]` (M26).
//!
//! Layout as Hermes: `skills/<name>/SKILL.md` or `skills/<category>/<name>/SKILL.md`, with a
//! frontmatter block between `---` lines giving `name:` and `description:`. The scan is cached
//! in memory and redone on /reload-skills; scanning reads only the head of each file, and the
//! whole file is read when the skill runs.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// At most this many skills are kept: a huge tree never floods memory or the menus.
pub const MAX_SKILLS: usize = 500;
/// A SKILL.md larger than this is not loaded.
pub const MAX_FILE_BYTES: u64 = 256 * 1024;
/// The scan reads this much of each file: enough for the frontmatter.
const HEAD_BYTES: u64 = 16 * 1024;
/// `skills/<category>/<name>/SKILL.md` is two levels down; a little slack for nested packs.
const MAX_DEPTH: usize = 4;
/// Supporting files listed in the invocation message.
const MAX_SUPPORTING: usize = 50;

/// One skill found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skill {
    /// The `name:` of the frontmatter, else the folder name.
    pub name: String,
    /// The command it answers to: lower-case, `-` for spaces and `_` (`gif-search`).
    pub command: String,
    pub description: String,
    pub path: PathBuf,
}

/// The command key of a skill name or a typed command: lower-case, `-` for ` ` and `_`.
pub fn command_key(name: &str) -> String {
    name.trim().to_lowercase().replace([' ', '_'], "-")
}

/// Finds every skill under `home/skills`, sorted by command; the first of two with the same
/// command wins.
pub fn scan(home: &Path) -> Vec<Skill> {
    let mut files = Vec::new();
    walk(&home.join("skills"), 0, &mut files); // in path order
    let mut skills: Vec<Skill> = Vec::new();
    for path in files {
        if skills.len() >= MAX_SKILLS {
            log::warn!("skills: more than {MAX_SKILLS} skills; the rest are ignored");
            break;
        }
        match read_head(&path) {
            Ok(head) => {
                let skill = from_text(&path, &head);
                if skill.command.is_empty() {
                    continue;
                }
                // Sorted by command as they come; the first of two with one command wins.
                if let Err(at) = skills.binary_search_by(|s| s.command.cmp(&skill.command)) {
                    skills.insert(at, skill);
                }
            }
            Err(e) => log::warn!("skills: {}: {e}", path.display()),
        }
    }
    skills
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH || out.len() >= MAX_SKILLS * 2 {
        return;
    }
    for name in sorted_names(dir) {
        let path = dir.join(&name);
        if name.starts_with('.') {
            continue; // .git, .github, .hub
        }
        let Ok(meta) = fs::metadata(&path) else { continue };
        if meta.is_dir() {
            walk(&path, depth + 1, out);
        } else if name == "SKILL.md" && depth > 0 {
            out.push(path);
        }
    }
}

fn read_head(path: &Path) -> std::io::Result<String> {
    let mut buf = Vec::new();
    fs::File::open(path)?.take(HEAD_BYTES).read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// A skill from the text of its SKILL.md (or its head).
fn from_text(path: &Path, text: &str) -> Skill {
    let (fields, body) = frontmatter(text);
    let field = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let folder = path.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = field("name").unwrap_or(folder);
    let description = field("description")
        .or_else(|| {
            body.lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| l.chars().take(80).collect())
        })
        .unwrap_or_else(|| format!("Invoke the {name} skill"));
    Skill { command: command_key(&name), name, description, path: path.to_path_buf() }
}

/// The `key: value` lines of a leading `---` block and the text after it. Folded values
/// (`key: >` followed by indented lines) are joined with spaces; quotes are stripped.
fn frontmatter(text: &str) -> (Vec<(String, String)>, &str) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text.strip_prefix("---").filter(|r| r.starts_with('\n') || r.starts_with("\r\n")) else {
        return (Vec::new(), text);
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut offset = 0;
    let mut body = "";
    for line in rest.split_inclusive('\n') {
        offset += line.len();
        let trimmed = line.trim_end();
        if trimmed == "---" {
            body = &rest[offset..];
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(trimmed.trim());
            }
            continue;
        }
        if let Some((key, value)) = trimmed.split_once(':') {
            let value = value.trim();
            let value = if matches!(value, ">" | "|" | ">-" | "|-") { "" } else { unquote(value) };
            fields.push((key.trim().to_string(), value.to_string()));
        }
    }
    (fields, body)
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// The user message Hermes builds when a skill is invoked (`agent/skill_commands.py`): the
/// activation note, the whole SKILL.md, its supporting files, and the user's instruction.
pub fn invocation_message(skill: &Skill, user_instruction: &str) -> std::io::Result<String> {
    let meta = fs::metadata(&skill.path)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!("larger than {} KiB", MAX_FILE_BYTES / 1024)));
    }
    let content = fs::read_to_string(&skill.path)?;
    let mut parts = vec![
        format!(
            "[SYSTEM: The user has invoked the \"{}\" skill, indicating they want you to follow its instructions. The full skill content is loaded below.]",
            skill.name
        ),
        String::new(),
        content.trim().to_string(),
    ];
    let dir = skill.path.parent().unwrap_or(Path::new("."));
    let mut supporting = Vec::new();
    for sub in ["references", "templates", "scripts", "assets"] {
        list_files(dir, &dir.join(sub), 0, &mut supporting);
    }
    if !supporting.is_empty() {
        parts.push(String::new());
        parts.push("[This skill has supporting files you can load with the skill_view tool:]".into());
        parts.extend(supporting.iter().map(|f| format!("- {f}")));
        parts.push(format!("\nTo view any of these, use: skill_view(name=\"{}\", file_path=\"<path>\")", skill.name));
    }
    if !user_instruction.is_empty() {
        parts.push(String::new());
        parts.push(format!(
            "The user has provided the following instruction alongside the skill invocation: {user_instruction}"
        ));
    }
    Ok(parts.join("\n"))
}

fn list_files(root: &Path, dir: &Path, depth: usize, out: &mut Vec<String>) {
    if depth > MAX_DEPTH || out.len() >= MAX_SUPPORTING {
        return;
    }
    for name in sorted_names(dir) {
        let path = dir.join(name);
        if out.len() >= MAX_SUPPORTING {
            return;
        }
        if path.is_dir() {
            list_files(root, &path, depth + 1, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

/// The names in `dir`, sorted; names that are not UTF-8 are skipped (a skill is addressed by
/// its name in chat, so such a name could not be typed anyway).
fn sorted_names(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    crate::sorted::unique(entries.flatten().filter_map(|e| e.file_name().into_string().ok()))
}

/// The last scan, for the home it was made of.
static CACHE: Mutex<Option<(PathBuf, Arc<Vec<Skill>>)>> = Mutex::new(None);

/// The cached skills of `home`, scanning on first use.
pub fn cached(home: &Path) -> Arc<Vec<Skill>> {
    {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((h, skills)) = cache.as_ref()
            && h == home
        {
            return skills.clone();
        }
    }
    reload(home)
}

/// Rescans `home` and replaces the cache.
pub fn reload(home: &Path) -> Arc<Vec<Skill>> {
    let skills = Arc::new(scan(home));
    *CACHE.lock().unwrap_or_else(|e| e.into_inner()) = Some((home.to_path_buf(), skills.clone()));
    skills
}

/// The skill a typed command names (`/gif_search` finds `gif-search`).
pub fn find(home: &Path, typed: &str) -> Option<Skill> {
    let key = command_key(typed);
    cached(home).iter().find(|s| s.command == key).cloned()
}

#[cfg(test)]
mod tests;
