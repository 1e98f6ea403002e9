//! Which directory is the Hermes home (O1, CAC §1.1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::problem::Problem;

/// `--home DIR`, else `HERMES_HOME`, else `$HOME/.hermes`.
pub fn resolve_home(explicit: Option<&Path>, env: &BTreeMap<String, String>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    match non_empty(env, "HERMES_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => default_root(env),
    }
}

/// The home of profile `name` (`-p NAME`): `<root>/profiles/NAME`, where the root is
/// `HERMES_HOME` (or its grandparent when it already is a profile), else `$HOME/.hermes`.
pub fn profile_home(name: &str, env: &BTreeMap<String, String>) -> Result<PathBuf, Problem> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with('-');
    if !valid {
        return Err(Problem::new(
            "command line",
            None,
            "-p",
            format!("expected a profile name of letters, digits, `-` and `_`, found {name:?}"),
        ));
    }
    let root = match non_empty(env, "HERMES_HOME").map(PathBuf::from) {
        Some(home) => match home.parent() {
            Some(parent) if parent.file_name().is_some_and(|n| n == "profiles") => {
                parent.parent().map_or(home.clone(), Path::to_path_buf)
            }
            _ => home,
        },
        None => default_root(env),
    };
    Ok(root.join("profiles").join(name))
}

fn default_root(env: &BTreeMap<String, String>) -> PathBuf {
    let home = non_empty(env, "HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".hermes")
}

fn non_empty<'a>(env: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn explicit_then_hermes_home_then_home_dir() {
        let e = env(&[("HOME", "/home/u"), ("HERMES_HOME", "/srv/hermes")]);
        assert_eq!(resolve_home(Some(Path::new("/x")), &e), PathBuf::from("/x"));
        assert_eq!(resolve_home(None, &e), PathBuf::from("/srv/hermes"));
        let e = env(&[("HOME", "/home/u"), ("HERMES_HOME", " ")]);
        assert_eq!(resolve_home(None, &e), PathBuf::from("/home/u/.hermes"));
    }

    #[test]
    fn profiles_live_under_the_root() {
        let e = env(&[("HOME", "/home/u")]);
        assert_eq!(profile_home("work", &e).unwrap(), PathBuf::from("/home/u/.hermes/profiles/work"));
        let e = env(&[("HOME", "/home/u"), ("HERMES_HOME", "/srv/h/profiles/old")]);
        assert_eq!(profile_home("new", &e).unwrap(), PathBuf::from("/srv/h/profiles/new"));
        let e = env(&[("HERMES_HOME", "/srv/h")]);
        assert_eq!(profile_home("a_b-1", &e).unwrap(), PathBuf::from("/srv/h/profiles/a_b-1"));
        assert!(profile_home("../etc", &e).is_err());
        assert!(profile_home("", &e).is_err());
    }
}
