//! `skills_list` and `skill_view` (A14): the skills under `HERMES_HOME/skills` (scanned by
//! `crate::skills`), and the text of one skill or of a file inside its folder. A file path
//! never leaves the skill's folder.

use std::io::Read;
use std::path::{Component, Path};

use miniserde::json::{Array, Number, Object, Value};

use super::args::{self, object, s};
use super::{ToolEnv, ToolSpec};
use crate::skills::{self, MAX_FILE_BYTES};

pub fn list_spec() -> ToolSpec {
    ToolSpec {
        name: "skills_list",
        toolset: "skills",
        description: "List the available skills (name and description). Load one with skill_view before \
            following it.",
        parameters: r#"{"type":"object","properties":{}}"#,
        read_only: true,
        run: run_list,
    }
}

pub fn view_spec() -> ToolSpec {
    ToolSpec {
        name: "skill_view",
        toolset: "skills",
        description: "Load a skill's full instructions (SKILL.md), or one of its linked files (references, \
            templates, scripts) with file_path.",
        parameters: r#"{"type":"object","properties":{
            "name":{"type":"string","description":"The skill name (from skills_list or the skills index)"},
            "file_path":{"type":"string","description":"Optional path of a file inside the skill folder, e.g. references/api.md"}},
            "required":["name"]}"#,
        read_only: true,
        run: run_view,
    }
}

fn run_list(env: &ToolEnv, _: &Object) -> Result<String, String> {
    let found = skills::cached(&env.config.home);
    let mut list = Array::new();
    for skill in found.iter() {
        let mut o = Object::new();
        o.insert("name".into(), s(skill.name.as_str()));
        o.insert("description".into(), s(skill.description.as_str()));
        list.push(Value::Object(o));
    }
    let mut pairs = vec![
        ("success", Value::Bool(true)),
        ("count", Value::Number(Number::U64(found.len() as u64))),
        ("skills", Value::Array(list)),
    ];
    if found.is_empty() {
        pairs.push(("message", s("No skills installed (HERMES_HOME/skills/<name>/SKILL.md).")));
    }
    Ok(object(pairs))
}

fn run_view(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let name = args::string(a, "name")?;
    let file_path = args::opt_string(a, "file_path")?.filter(|p| !p.trim().is_empty());
    let skill = skills::find(&env.config.home, &name).ok_or_else(|| {
        let names: Vec<String> = skills::cached(&env.config.home).iter().map(|s| s.name.clone()).collect();
        format!(
            "no skill named \"{name}\"; available: {}",
            if names.is_empty() { "none".into() } else { names.join(", ") }
        )
    })?;
    let dir = skill.path.parent().unwrap_or(Path::new("."));
    let (path, shown) = match &file_path {
        None => (skill.path.clone(), "SKILL.md".to_string()),
        Some(rel) => {
            let rel_path = Path::new(rel.trim());
            if !rel_path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
                return Err(format!(
                    "file_path \"{rel}\" must be a relative path inside the skill folder (no .. or /)"
                ));
            }
            let path = dir.join(rel_path);
            // A symlink inside the folder must not lead out of it either.
            let real = path.canonicalize().map_err(|e| format!("cannot open {rel} in skill {}: {e}", skill.name))?;
            let root = dir.canonicalize().map_err(|e| format!("cannot open skill {}: {e}", skill.name))?;
            if !real.starts_with(&root) {
                return Err(format!("file_path \"{rel}\" leads outside the skill folder"));
            }
            (real, rel.trim().to_string())
        }
    };
    let content = read_capped(&path).map_err(|e| format!("cannot read {shown} of skill {}: {e}", skill.name))?;
    let mut pairs = vec![
        ("success", Value::Bool(true)),
        ("name", s(skill.name.as_str())),
        ("file", s(shown)),
        ("content", s(content)),
    ];
    if file_path.is_none() {
        let mut linked = Array::new();
        for sub in ["references", "templates", "scripts", "assets"] {
            for f in files(dir, &dir.join(sub)) {
                linked.push(s(f));
            }
        }
        if !linked.is_empty() {
            pairs.push(("linked_files", Value::Array(linked)));
        }
    }
    Ok(object(pairs))
}

fn read_capped(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a file".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("larger than {} KiB", MAX_FILE_BYTES / 1024));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES).read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "not a text file".to_string())
}

/// Files under `dir` (two levels at most, 50 at most), relative to `root`, sorted.
fn files(root: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && depth < 2 {
                stack.push((p, depth + 1));
            } else if p.is_file()
                && out.len() < 50
                && let Ok(rel) = p.strip_prefix(root)
            {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_env;

    #[test]
    fn lists_views_and_confines_file_paths_to_the_skill_folder() {
        let dir = crate::test_util::temp_dir("skilltools");
        let env = test_env::env(&dir);
        let home = &env.config.home;
        let call = |run: fn(&ToolEnv, &Object) -> Result<String, String>, args: &str| {
            run(&env, &miniserde::json::from_str(args).unwrap()).unwrap_or_else(|e| format!("ERR {e}"))
        };
        assert!(call(run_list, "{}").contains("No skills installed"));
        std::fs::create_dir_all(home.join("skills/gif-search/references")).unwrap();
        std::fs::write(
            home.join("skills/gif-search/SKILL.md"),
            "---\nname: gif-search\ndescription: Find GIFs\n---\nStep 1",
        )
        .unwrap();
        std::fs::write(home.join("skills/gif-search/references/api.md"), "API notes").unwrap();
        std::fs::write(home.join("secret.txt"), "top secret").unwrap();
        crate::skills::reload(home);
        let list = call(run_list, "{}");
        assert!(list.contains(r#"{"description":"Find GIFs","name":"gif-search"}"#), "{list}");
        let view = call(run_view, r#"{"name":"gif_search"}"#);
        assert!(view.contains("Step 1") && view.contains("references/api.md"), "{view}");
        assert!(call(run_view, r#"{"name":"gif-search","file_path":"references/api.md"}"#).contains("API notes"));
        assert!(
            call(run_view, r#"{"name":"gif-search","file_path":"../../secret.txt"}"#).contains("relative path inside")
        );
        assert!(call(run_view, r#"{"name":"gif-search","file_path":"/etc/passwd"}"#).contains("relative path inside"));
        std::os::unix::fs::symlink(home.join("secret.txt"), home.join("skills/gif-search/link.txt")).unwrap();
        assert!(call(run_view, r#"{"name":"gif-search","file_path":"link.txt"}"#).contains("outside the skill folder"));
        assert!(call(run_view, r#"{"name":"nope"}"#).contains("available: gif-search"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
