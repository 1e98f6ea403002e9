//! Changing keys of `HERMES_HOME/.env` in place, as Hermes' `save_env_value` does: the line of
//! an existing key is replaced (or removed), a new key is appended, every other line (comments,
//! order, unrelated keys) stays as it was. The file is replaced atomically with mode 0600
//! ([`crate::private_file`]), because it holds tokens.

use std::fs;
use std::io;
use std::path::Path;

/// Sets (`Some`) or removes (`None`) each key, in one rewrite of the file.
pub fn update(path: &Path, changes: &[(&str, Option<&str>)]) -> io::Result<()> {
    let old = match fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut done = vec![false; changes.len()];
    let mut out = String::with_capacity(old.len() + 64);
    for line in old.lines() {
        match changes.iter().position(|(key, _)| key_of(line) == Some(*key)) {
            Some(i) => {
                if let (false, Some(value)) = (done[i], changes[i].1) {
                    out.push_str(&assignment(changes[i].0, value));
                    out.push('\n');
                }
                done[i] = true;
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (i, (key, value)) in changes.iter().enumerate() {
        if let (false, Some(value)) = (done[i], value) {
            out.push_str(&assignment(key, value));
            out.push('\n');
        }
    }
    crate::private_file::write(path, out.as_bytes())
}

/// The key a `.env` line assigns, if it is an assignment.
fn key_of(line: &str) -> Option<&str> {
    let text = line.trim_start();
    if text.starts_with('#') {
        return None;
    }
    let text = text.strip_prefix("export ").map_or(text, str::trim_start);
    let (key, _) = text.split_once('=')?;
    Some(key.trim())
}

/// `KEY=value`, quoted when the value has spaces, quotes, `#` or newlines.
fn assignment(key: &str, value: &str) -> String {
    let plain = !value.is_empty() && value.chars().all(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '#' | '\\'));
    if plain {
        format!("{key}={value}")
    } else {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        format!("{key}=\"{escaped}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_removes_and_appends_keeping_other_lines() {
        let dir = std::env::temp_dir().join(format!("hl-envfile-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        fs::write(&path, "# tokens\nTELEGRAM_BOT_TOKEN=abc\nexport TELEGRAM_ALLOWED_USERS=1,2\nOLD=x\n").unwrap();
        update(&path, &[("TELEGRAM_ALLOWED_USERS", Some("1,2,3")), ("OLD", None), ("NEW_ONE", Some("a b"))]).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, "# tokens\nTELEGRAM_BOT_TOKEN=abc\nTELEGRAM_ALLOWED_USERS=1,2,3\nNEW_ONE=\"a b\"\n");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let (entries, problems) = super::super::dotenv::parse(text.as_bytes(), ".env");
        assert!(problems.is_empty());
        assert_eq!(entries.iter().find(|e| e.key == "NEW_ONE").unwrap().value, "a b");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn creates_a_missing_file() {
        let dir = std::env::temp_dir().join(format!("hl-envfile-new-{}", std::process::id()));
        let path = dir.join(".env");
        update(&path, &[("TELEGRAM_HOME_CHANNEL", Some("42"))]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "TELEGRAM_HOME_CHANNEL=42\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
