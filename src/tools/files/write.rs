//! `write_file`: creates or replaces a whole file, atomically, parent directories included.

use miniserde::json::{Object, Value};

use super::{resolve, shown, write_atomic};
use crate::tools::args::{self, n, object, s};
use crate::tools::{ToolEnv, ToolSpec};

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "write_file",
        toolset: "file",
        description: "Write content to a file, replacing it completely (parent directories are created). Use this \
            instead of echo/heredoc in the terminal. To change part of an existing file use patch instead.",
        parameters: r#"{"type":"object","properties":{"path":{"type":"string","description":"Path to the file (absolute, relative to the workspace, or ~/...)"},"content":{"type":"string","description":"The complete content of the file"}},"required":["path","content"]}"#,
        read_only: false,
        run,
    }
}

fn run(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let path = args::string(a, "path")?;
    let content = args::string(a, "content")?;
    let real = resolve(env, &path)?;
    let name = shown(env, &real);
    if real.is_dir() {
        return Err(format!("{name} is a directory; give a file path"));
    }
    write_atomic(&real, content.as_bytes()).map_err(|e| format!("cannot write {name}: {e}"))?;
    Ok(object(vec![("success", Value::Bool(true)), ("path", s(name)), ("bytes_written", n(content.len() as i64))]))
}

#[cfg(test)]
mod tests {
    use crate::test_util::temp_dir;
    use crate::tools::{ToolRegistry, test_env};

    #[test]
    fn writes_files_and_refuses_bad_targets() {
        let dir = temp_dir("write");
        let env = test_env::env(&dir);
        let call = |args: &str| ToolRegistry::new(&[]).call(&env, &test_env::call("write_file", args));
        let out = call(r#"{"path":"new/dir/a.txt","content":"héllo\n"}"#);
        assert_eq!(out, r#"{"bytes_written":7,"path":"new/dir/a.txt","success":true}"#);
        assert_eq!(std::fs::read_to_string(dir.join("new/dir/a.txt")).unwrap(), "héllo\n");
        assert!(call(r#"{"path":"new/dir/a.txt","content":""}"#).contains("\"bytes_written\":0"));
        assert!(call(r#"{"path":"new","content":"x"}"#).contains("is a directory"));
        assert!(call(r#"{"path":"a.txt"}"#).contains("missing required argument \\\"content\\\""));
        assert!(call(r#"{"path":".env","content":"x"}"#).contains("refusing to access"));
        assert!(call(r#"{"path":"/tmp/../etc/x","content":"x"}"#).contains("outside the workspace"));
        assert!(!dir.join(".env").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
