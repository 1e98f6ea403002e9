//! The file tools (A14): `read_file`, `write_file`, `patch`, `search_files`, and the path guard
//! they all go through. A path is resolved against the workspace, normalised, its symlinks
//! resolved (so a link cannot lead outside), then allowed only inside the workspace or
//! `file_tools.allowed_paths`; credentials (`~/.ssh`, `.env`, the Hermes home's tokens, private
//! keys, `/etc/shadow`-like files) are refused wherever they are.

pub mod diff;
pub mod patch;
pub mod read;
pub mod search;
pub mod v4a;
pub mod walk;
pub mod write;

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::ToolEnv;

/// Files larger than this are not searched or patched (read_file pages through any size).
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// A tool result's text budget, in characters.
pub const MAX_RESULT_CHARS: usize = 100_000;
/// Longer lines are cut when shown.
pub const MAX_LINE_CHARS: usize = 2000;

/// The absolute, symlink-free path `path` names, if the file tools may touch it.
pub fn resolve(env: &ToolEnv, path: &str) -> Result<PathBuf, String> {
    let cfg = &env.config;
    if path.trim().is_empty() {
        return Err("argument \"path\" is empty; expected a file path".into());
    }
    let home = user_home(env);
    let expanded = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => home.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(path),
    };
    let lexical = normalise(&cfg.workspace.join(expanded));
    let real = real_path(&lexical)?;
    let hermes_home = hermes_home(env);
    for p in [&lexical, &real] {
        if let Some(why) = refusal(p, &hermes_home) {
            return Err(format!("refusing to access {}: {why}", p.display()));
        }
    }
    let roots: Vec<PathBuf> = std::iter::once(&cfg.workspace)
        .chain(&cfg.allowed_paths)
        .map(|r| real_path(&normalise(r)).unwrap_or_else(|_| r.clone()))
        .collect();
    if roots.iter().any(|r| real.starts_with(r)) {
        return Ok(real);
    }
    let allowed: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    Err(format!(
        "path {} is outside the workspace ({}); allowed: {} (more with file_tools.allowed_paths)",
        real.display(),
        cfg.workspace.display(),
        allowed.join(", ")
    ))
}

fn user_home(env: &ToolEnv) -> PathBuf {
    env.config
        .env_var("HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// `..` and `.` resolved without touching the disk (`..` never climbs above `/`).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The longest existing ancestor canonicalised (symlinks resolved), the rest appended.
fn real_path(path: &Path) -> Result<PathBuf, String> {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if fs::symlink_metadata(existing).is_ok() {
            let base = fs::canonicalize(existing)
                .map_err(|e| format!("cannot resolve {} ({e}); a broken symlink?", existing.display()))?;
            return Ok(rest.iter().rev().fold(base, |p: PathBuf, part| p.join(part)));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return Ok(path.to_path_buf()),
        }
    }
}

/// Why `path` is never for the file tools, if it is a credential.
fn refusal(path: &Path, hermes_home: &Path) -> Option<&'static str> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if path.components().any(|c| c.as_os_str() == ".ssh") {
        return Some("SSH keys and settings");
    }
    if name == ".env" || name.starts_with(".env.") {
        return Some("credentials file (.env)");
    }
    if let Ok(rel) = path.strip_prefix(hermes_home) {
        let first = rel.components().next().and_then(|c| c.as_os_str().to_str()).unwrap_or("");
        if first == "auth.json" || first.contains("pairing") || first.starts_with("lite.db") {
            return Some("credentials file");
        }
    }
    if ["/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d"].iter().any(|p| path.starts_with(p)) {
        return Some("system credentials file");
    }
    if matches!(name, "id_rsa" | "id_ed25519" | "id_ecdsa" | "id_dsa")
        || name.ends_with(".pem")
        || name.ends_with(".key")
    {
        return Some("private key");
    }
    None
}

/// Whether a file a walk found is a credential (the rules of [`resolve`]); `hermes_home` is
/// [`hermes_home`], computed once per walk.
pub fn is_refused(path: &Path, hermes_home: &Path) -> bool {
    refusal(path, hermes_home).is_some()
}

/// `HERMES_HOME` with its symlinks resolved, as resolved paths are compared with it.
pub fn hermes_home(env: &ToolEnv) -> PathBuf {
    real_path(&normalise(&env.config.home)).unwrap_or_else(|_| env.config.home.clone())
}

/// `path` as the model should write it back: relative to the workspace when inside it.
pub fn shown(env: &ToolEnv, path: &Path) -> String {
    let ws = fs::canonicalize(&env.config.workspace).unwrap_or_else(|_| env.config.workspace.clone());
    match path.strip_prefix(&ws) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// True when the first 8 KiB hold a NUL byte (how git and grep tell binary files).
pub fn looks_binary(path: &Path) -> io::Result<bool> {
    let mut head = Vec::with_capacity(8192);
    fs::File::open(path)?.take(8192).read_to_end(&mut head)?;
    Ok(head.contains(&0))
}

/// A text file read whole for editing: size-capped, UTF-8 required.
pub fn read_text(path: &Path, shown: &str) -> Result<String, String> {
    let meta = fs::metadata(path).map_err(|e| io_error(shown, &e))?;
    if meta.is_dir() {
        return Err(format!("{shown} is a directory, not a file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("{shown} is larger than {} MB; edit it with the terminal", MAX_FILE_BYTES >> 20));
    }
    let bytes = fs::read(path).map_err(|e| io_error(shown, &e))?;
    String::from_utf8(bytes).map_err(|_| format!("{shown} is not UTF-8 text; it cannot be patched"))
}

pub fn io_error(shown: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => format!("file not found: {shown}"),
        io::ErrorKind::PermissionDenied => format!("permission denied: {shown}"),
        _ => format!("cannot access {shown}: {e}"),
    }
}

/// Replaces `path` with `bytes` through a temp file in the same directory and a rename, so
/// nobody sees half a file; parent directories are created and an existing file keeps its
/// permissions.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let dir = path.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}-{}.tmp", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        if let Ok(meta) = fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::temp_dir;
    use crate::tools::test_env;

    #[test]
    fn paths_resolve_inside_the_workspace_only() {
        let dir = temp_dir("guard");
        let env = test_env::env(&dir);
        let ws = fs::canonicalize(&dir).unwrap();
        assert_eq!(resolve(&env, "a/b/../c.txt").unwrap(), ws.join("a/c.txt"));
        assert_eq!(resolve(&env, &ws.join("x").display().to_string()).unwrap(), ws.join("x"));
        let e = resolve(&env, "../outside").unwrap_err();
        assert!(e.contains("is outside the workspace") && e.contains("allowed:"), "{e}");
        assert!(resolve(&env, "/etc/passwd").unwrap_err().contains("outside the workspace"));
        assert!(resolve(&env, "").unwrap_err().contains("empty"));

        std::os::unix::fs::symlink("/etc", dir.join("etc-link")).unwrap();
        let e = resolve(&env, "etc-link/passwd").unwrap_err();
        assert!(e.contains("/etc/passwd is outside the workspace"), "{e}");
        std::os::unix::fs::symlink("/nonexistent/target", dir.join("dangling")).unwrap();
        assert!(resolve(&env, "dangling").unwrap_err().contains("broken symlink"));

        let mut cfg = (*env.config).clone();
        cfg.allowed_paths = vec![PathBuf::from("/etc")];
        let env2 = ToolEnv::detached(std::sync::Arc::new(cfg));
        assert_eq!(resolve(&env2, "/etc/passwd").unwrap(), PathBuf::from("/etc/passwd"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn credentials_are_refused_with_the_reason() {
        let dir = temp_dir("guard-creds");
        let mut cfg = (*test_env::config(&dir)).clone();
        cfg.allowed_paths = vec![PathBuf::from("/")];
        let env = ToolEnv::detached(std::sync::Arc::new(cfg));
        let refused = |p: &str| resolve(&env, p).unwrap_err();
        assert!(refused("~/.ssh/id_rsa").contains("refusing to access") && refused("~/.ssh/id_rsa").contains("SSH"));
        assert!(refused("proj/.ssh/config").contains("SSH"));
        assert!(refused(".env").contains("refusing to access") && refused(".env").contains(".env"));
        assert!(refused("app/.env.production").contains("credentials file"));
        assert!(refused(".hermes/auth.json").contains("credentials file"));
        assert!(refused(".hermes/lite.db-wal").contains("credentials file"));
        assert!(refused(".hermes/telegram-pairing/approved.json").contains("credentials file"));
        assert!(refused("/etc/shadow").contains("system credentials"));
        assert!(refused("/etc/sudoers.d/x").contains("system credentials"));
        assert!(refused("keys/server.pem").contains("private key") && refused("id_ed25519").contains("private key"));
        fs::write(dir.join("secret.txt"), "x").unwrap();
        fs::write(dir.join(".env"), "KEY=1").unwrap();
        std::os::unix::fs::symlink(dir.join(".env"), dir.join("innocent")).unwrap();
        assert!(refused("innocent").contains(".env"), "a symlink to a .env is refused");
        assert!(resolve(&env, ".hermes/config.yaml").is_ok() && resolve(&env, "secret.txt").is_ok());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn atomic_writes_create_parents_and_keep_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("guard-write");
        let p = dir.join("a/b/c.txt");
        write_atomic(&p, b"one").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(fs::read_dir(dir.join("a/b")).unwrap().count(), 1, "no temp file left");
        let _ = fs::remove_dir_all(&dir);
    }
}
