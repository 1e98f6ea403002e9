//! The unified diff `patch` returns so the model sees what changed. Edits are local, so the
//! common first and last lines are trimmed and the middle shown as one hunk with 3 lines of
//! context; no longest-common-subsequence search is needed.

use std::fmt::Write;

const CONTEXT: usize = 3;

/// `--- a/name` / `+++ b/name` and one `@@ -l,n +l,n @@` hunk; empty when nothing changed.
/// `None` for `old` is a new file, `None` for `new` a deleted one.
pub fn unified(name: &str, old: Option<&str>, new: Option<&str>) -> String {
    let a: Vec<&str> = old.map_or(Vec::new(), |t| t.lines().collect());
    let b: Vec<&str> = new.map_or(Vec::new(), |t| t.lines().collect());
    if old == new {
        return String::new();
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let max_suffix = a.len().min(b.len()) - prefix;
    let suffix = a.iter().rev().zip(b.iter().rev()).take(max_suffix).take_while(|(x, y)| x == y).count();
    let start = prefix.saturating_sub(CONTEXT);
    let (a_end, b_end) = ((a.len() - suffix + CONTEXT).min(a.len()), (b.len() - suffix + CONTEXT).min(b.len()));
    let mut out = String::new();
    let from = if old.is_some() { format!("a/{name}") } else { "/dev/null".into() };
    let to = if new.is_some() { format!("b/{name}") } else { "/dev/null".into() };
    let _ = writeln!(out, "--- {from}\n+++ {to}");
    let range = |s: usize, e: usize| if e == s { format!("{s},0") } else { format!("{},{}", s + 1, e - s) };
    let _ = writeln!(out, "@@ -{} +{} @@", range(start, a_end), range(start, b_end));
    for line in &a[start..prefix] {
        let _ = writeln!(out, " {line}");
    }
    for line in &a[prefix..a.len() - suffix] {
        let _ = writeln!(out, "-{line}");
    }
    for line in &b[prefix..b.len() - suffix] {
        let _ = writeln!(out, "+{line}");
    }
    for line in &a[a.len() - suffix..a_end] {
        let _ = writeln!(out, " {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn one_hunk_with_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            unified("f.txt", Some(old), Some(new)),
            "--- a/f.txt\n+++ b/f.txt\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
        assert_eq!(unified("n", None, Some("a\nb\n")), "--- /dev/null\n+++ b/n\n@@ -0,0 +1,2 @@\n+a\n+b\n");
        assert_eq!(unified("d", Some("a\n"), None), "--- a/d\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-a\n");
        assert_eq!(unified("s", Some("a\na\n"), Some("a\na\na\n")), "--- a/s\n+++ b/s\n@@ -1,2 +1,3 @@\n a\n a\n+a\n");
        assert_eq!(unified("same", Some("x"), Some("x")), "");
    }
}
