//! `patch`: targeted edits. Mode `replace` swaps `old_string` for `new_string` in one file
//! (exact match first, then a match that ignores indentation and trailing whitespace);
//! mode `patch` applies a V4A multi-file patch ([`super::v4a`]). Both answer with a unified diff.

use miniserde::json::{Object, Value};

use super::{diff, read_text, resolve, shown, v4a, write_atomic};
use crate::tools::args::{self, n, object, s};
use crate::tools::{ToolEnv, ToolSpec};

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "patch",
        toolset: "file",
        description: "Edit files by find and replace (mode \"replace\", the default: old_string must match once unless \
            replace_all; indentation differences are tolerated) or with a V4A patch (mode \"patch\": *** Begin Patch / \
            *** Update File: path / @@ context / lines starting with space, - or + / *** Add File / *** Delete File / \
            *** End Patch), applied all or nothing. Use this instead of sed in the terminal. Returns a unified diff.",
        parameters: r#"{"type":"object","properties":{"mode":{"type":"string","enum":["replace","patch"],"default":"replace","description":"replace: find and replace in one file; patch: a V4A patch"},"path":{"type":"string","description":"File to edit (mode replace)"},"old_string":{"type":"string","description":"Text to find; include enough context to be unique (mode replace)"},"new_string":{"type":"string","description":"Replacement text (mode replace)"},"replace_all":{"type":"boolean","default":false,"description":"Replace every occurrence (mode replace)"},"patch":{"type":"string","description":"The V4A patch text (mode patch)"}}}"#,
        read_only: false,
        run,
    }
}

fn run(env: &ToolEnv, a: &Object) -> Result<String, String> {
    match args::opt_string(a, "mode")?.as_deref().unwrap_or("replace") {
        "replace" => replace(env, a),
        "patch" => v4a::apply(env, &args::string(a, "patch")?),
        other => Err(format!("argument \"mode\" must be \"replace\" or \"patch\", not {other:?}")),
    }
}

fn replace(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let path = args::string(a, "path")?;
    let old = args::string(a, "old_string")?;
    let new = args::string(a, "new_string")?;
    let all = args::opt_bool(a, "replace_all")?.unwrap_or(false);
    if old.is_empty() {
        return Err("argument \"old_string\" is empty; give the text to replace (use write_file for a new file)".into());
    }
    let real = resolve(env, &path)?;
    let name = shown(env, &real);
    let text = read_text(&real, &name)?;
    let (updated, count) = replace_in(&text, &old, &new, all).map_err(|e| format!("{name}: {e}"))?;
    write_atomic(&real, updated.as_bytes()).map_err(|e| format!("cannot write {name}: {e}"))?;
    Ok(object(vec![
        ("success", Value::Bool(true)),
        ("path", s(&name)),
        ("replacements", n(count as i64)),
        ("diff", s(diff::unified(&name, Some(&text), Some(&updated)))),
    ]))
}

/// `text` with `old` replaced (exactly, else line-wise ignoring indentation and trailing
/// whitespace); the number of replacements.
pub fn replace_in(text: &str, old: &str, new: &str, all: bool) -> Result<(String, usize), String> {
    let exact = text.matches(old).count();
    if exact == 1 || (exact > 1 && all) {
        return Ok((text.replace(old, new), exact));
    }
    if exact > 1 {
        return Err(format!(
            "old_string matches {exact} times; add surrounding lines to make it unique, or set replace_all"
        ));
    }
    let spans = loose_matches(text, old);
    match spans.len() {
        0 => Err("old_string not found (it must match the file's text; read_file shows the current content)".into()),
        k if k > 1 && !all => {
            Err(format!("old_string matches {k} times; add surrounding lines to make it unique, or set replace_all"))
        }
        k => {
            let mut out = String::with_capacity(text.len());
            let mut at = 0;
            for (start, end) in spans {
                out.push_str(&text[at..start]);
                out.push_str(new.strip_suffix('\n').unwrap_or(new));
                at = end;
            }
            out.push_str(&text[at..]);
            Ok((out, k))
        }
    }
}

/// Byte spans of whole-line runs of `text` equal to the lines of `old` once each line is
/// trimmed (the last line's newline excluded); non-overlapping, first to last.
fn loose_matches(text: &str, old: &str) -> Vec<(usize, usize)> {
    let want: Vec<&str> = old.lines().map(str::trim).collect();
    let mut lines = Vec::new(); // (start, end without newline, trimmed)
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        lines.push((at, at + body.len(), body.trim()));
        at += line.len();
    }
    if want.is_empty() || want.iter().all(|l| l.is_empty()) {
        return Vec::new();
    }
    let mut spans = Vec::new();
    let mut i = 0;
    while i + want.len() <= lines.len() {
        if lines[i..i + want.len()].iter().zip(&want).all(|(l, w)| l.2 == *w) {
            spans.push((lines[i].0, lines[i + want.len() - 1].1));
            i += want.len();
        } else {
            i += 1;
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::replace_in;
    use crate::test_util::temp_dir;
    use crate::tools::{ToolRegistry, test_env};

    #[test]
    fn exact_then_whitespace_tolerant() {
        assert_eq!(replace_in("a b a", "b", "c", false).unwrap(), ("a c a".into(), 1));
        assert!(replace_in("a b a", "a", "c", false).unwrap_err().contains("matches 2 times"));
        assert_eq!(replace_in("a b a", "a", "c", true).unwrap(), ("c b c".into(), 2));
        let code = "fn f() {\n\tif x {  \n\t\treturn 1;\n\t}\n}\n";
        let (out, k) = replace_in(code, "if x {\n    return 1;\n}", "if y {\n\t\treturn 2;\n\t}", false).unwrap();
        assert_eq!((out.as_str(), k), ("fn f() {\nif y {\n\t\treturn 2;\n\t}\n}\n", 1));
        assert!(replace_in(code, "return 9;", "x", false).unwrap_err().contains("not found"));
        assert!(replace_in("  a\nb\n a\n", "a ", "c", false).unwrap_err().contains("matches 2 times"));
        assert_eq!(replace_in("  a\nb\n a\n", "a ", "c", true).unwrap().0, "c\nb\nc\n");
    }

    #[test]
    fn the_tool_edits_and_returns_a_diff() {
        let dir = temp_dir("patch");
        std::fs::write(dir.join("f.py"), "def f():\n    return 1\n").unwrap();
        let env = test_env::env(&dir);
        let call = |args: &str| ToolRegistry::new(&[]).call(&env, &test_env::call("patch", args));
        let out = call(r#"{"path":"f.py","old_string":"return 1","new_string":"return 2"}"#);
        assert!(
            out.contains(
                r#""diff":"--- a/f.py\n+++ b/f.py\n@@ -1,2 +1,2 @@\n def f():\n-    return 1\n+    return 2\n""#
            ),
            "{out}"
        );
        assert_eq!(std::fs::read_to_string(dir.join("f.py")).unwrap(), "def f():\n    return 2\n");
        assert!(call(r#"{"path":"f.py","old_string":"nope","new_string":"x"}"#).contains("f.py: old_string not found"));
        assert!(call(r#"{"path":"f.py","old_string":"","new_string":"x"}"#).contains("\\\"old_string\\\" is empty"));
        assert!(call(r#"{"path":"f.py","old_string":"x"}"#).contains("missing required argument \\\"new_string\\\""));
        assert!(call(r#"{"path":"gone.py","old_string":"x","new_string":"y"}"#).contains("file not found: gone.py"));
        assert!(call(r#"{"mode":"diff"}"#).contains("must be \\\"replace\\\" or \\\"patch\\\""));
        std::fs::File::create(dir.join("huge.txt")).unwrap().set_len(super::super::MAX_FILE_BYTES + 1).unwrap();
        assert!(call(r#"{"path":"huge.txt","old_string":"x","new_string":"y"}"#).contains("larger than 10 MB"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
