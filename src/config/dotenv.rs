//! `HERMES_HOME/.env`, read as python-dotenv reads it, keeping the line of every key.
//!
//! Accepted: `KEY=VALUE`, `export KEY=VALUE`, spaces around `=`, `'single'` (literal) and
//! `"double"` quotes (with `\n`, `\t`, `\"`, `\\` escapes; both may span lines), `# comments`
//! and blank lines, and ` # comment` after an unquoted value. A line that is none of these, or
//! that is not UTF-8, is a [`Problem`]; the other lines still count.

use super::problem::Problem;
use super::yaml::utf8_problem;

/// One assignment of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvEntry {
    pub key: String,
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
}

/// Every assignment in file order (a later one for the same key wins), and every bad line.
pub fn parse(bytes: &[u8], file: &str) -> (Vec<EnvEntry>, Vec<Problem>) {
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut problems = Vec::new();
    let mut offset = 0;
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        match std::str::from_utf8(raw) {
            Ok(s) => lines.push((i + 1, s.strip_suffix('\r').unwrap_or(s))),
            Err(e) => problems.push(utf8_problem(bytes, offset + e.valid_up_to(), file)),
        }
        offset += raw.len() + 1;
    }
    let mut entries = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (n, line) = lines[i];
        i += 1;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let text = text.strip_prefix("export ").map_or(text, str::trim_start);
        let Some((key, rest)) = text.split_once('=') else {
            problems.push(Problem::new(file, Some(n), "", format!("expected KEY=VALUE, found {text:?}")));
            continue;
        };
        let key = key.trim();
        if !valid_key(key) {
            problems.push(Problem::new(
                file,
                Some(n),
                key,
                "a variable name has letters, digits, `_` and `.` and does not start with a digit",
            ));
            continue;
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                // A quoted value may continue on the following lines.
                let mut body = rest[1..].to_string();
                let mut consumed = i;
                let closed = loop {
                    if let Some(end) = closing_quote(&body, q) {
                        break Some(end);
                    }
                    match lines.get(consumed) {
                        Some(&(m, next)) if m == lines[consumed - 1].0 + 1 => {
                            body.push('\n');
                            body.push_str(next);
                            consumed += 1;
                        }
                        _ => break None,
                    }
                };
                let Some(end) = closed else {
                    problems.push(Problem::new(file, Some(n), key, format!("the {q} quote is never closed")));
                    continue;
                };
                i = consumed;
                let tail = body[end + 1..].trim();
                if !tail.is_empty() && !tail.starts_with('#') {
                    problems.push(Problem::new(
                        file,
                        Some(n),
                        key,
                        format!("unexpected text after the closing quote: {tail:?}"),
                    ));
                    continue;
                }
                if q == '"' { unescape(&body[..end]) } else { body[..end].replace("\\'", "'") }
            }
            _ => strip_comment(rest).trim_end().to_string(),
        };
        entries.push(EnvEntry { key: key.to_string(), value, line: n });
    }
    (entries, problems)
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// The byte index of the unescaped closing quote `q` in `body`.
fn closing_quote(body: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == q && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(c @ ('"' | '\\' | '\'')) => out.push(c),
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// An unquoted value ends at ` #`.
fn strip_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    (0..bytes.len())
        .find(|&i| bytes[i] == b'#' && i > 0 && bytes[i - 1].is_ascii_whitespace())
        .map_or(value, |i| &value[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String, usize)> {
        let (entries, problems) = parse(text.as_bytes(), ".env");
        assert!(problems.is_empty(), "{problems:?}");
        entries.into_iter().map(|e| (e.key, e.value, e.line)).collect()
    }

    #[test]
    fn plain_export_quotes_and_comments() {
        let got = pairs(
            "# secrets\n\nA=1\nexport B = two words  # note\nC='x # y \\n'\nD=\"line\\nnext \\\"q\\\"\"\nE=\nF=a#b\n",
        );
        let want = [
            ("A", "1", 3),
            ("B", "two words", 4),
            ("C", "x # y \\n", 5),
            ("D", "line\nnext \"q\"", 6),
            ("E", "", 7),
            ("F", "a#b", 8),
        ];
        let want: Vec<_> = want.iter().map(|(k, v, l)| (k.to_string(), v.to_string(), *l)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn quoted_values_may_span_lines() {
        let got = pairs("KEY=\"-----BEGIN\nabc\n-----END\"\nNEXT=1\r\n");
        assert_eq!(got[0], ("KEY".into(), "-----BEGIN\nabc\n-----END".into(), 1));
        assert_eq!(got[1], ("NEXT".into(), "1".into(), 4));
    }

    #[test]
    fn bad_lines_are_problems_and_the_rest_still_count() {
        let (entries, problems) = parse(b"GOOD=1\njust words\n1BAD=x\nQ=\"open\nLAST=2\n", ".env");
        let lines: Vec<_> = problems.iter().map(|p| p.line.unwrap()).collect();
        assert_eq!(lines, [2, 3, 4], "{problems:?}");
        assert_eq!(problems[0].to_string(), ".env:2: expected KEY=VALUE, found \"just words\"");
        let keys: Vec<_> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["GOOD", "LAST"]);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let (entries, problems) = parse(b"A=1\nB=\xC3\x28\nC=3\n", ".env");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].to_string(), ".env:2: not valid UTF-8 (byte 0xC3 at column 3)");
        assert_eq!(entries.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 3]);
    }
}
