//! Shell-style globs as `.gitignore` and `file_glob` use them: `*` (within one path segment),
//! `**` (across segments; `**/` also matches no directory), `?`, `[abc]`, `[a-z]`, `[!a]` /
//! `[^a]`, `{a,b}` alternatives. Matching tracks the set of reachable text positions per
//! pattern token, so it costs pattern × name length, never backtracking.

/// True when `pattern` matches all of `name`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let mut variants = Vec::new();
    expand(pattern, &mut variants);
    let text: Vec<char> = name.chars().collect();
    variants.iter().any(|p| match_one(p, &text))
}

/// At most this many `{a,b}` alternatives are tried (more are ignored).
const MAX_VARIANTS: usize = 64;

/// Expands the first `{a,b}` group, recursively.
fn expand(pattern: &str, out: &mut Vec<String>) {
    if out.len() >= MAX_VARIANTS {
        return;
    }
    let Some(open) = pattern.find('{') else { return out.push(pattern.to_string()) };
    let mut depth = 0;
    let mut parts = Vec::new();
    let mut start = open + 1;
    for (i, c) in pattern[open..].char_indices().map(|(i, c)| (i + open, c)) {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => {
                parts.push(&pattern[start..i]);
                for part in parts {
                    expand(&format!("{}{part}{}", &pattern[..open], &pattern[i + 1..]), out);
                }
                return;
            }
            '}' => depth -= 1,
            ',' if depth == 1 => {
                parts.push(&pattern[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(pattern.to_string()); // an unclosed `{` is a literal
}

enum Token {
    Char(char),
    One,
    Star,
    /// `**` (any text) or `**/` (any text ending in `/`, or nothing).
    Stars(bool),
    Class(Vec<(char, char)>, bool),
}

fn tokens(pattern: &str) -> Vec<Token> {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let t = match p[i] {
            '*' if p.get(i + 1) == Some(&'*') => {
                i += 1;
                let slash = p.get(i + 1) == Some(&'/');
                i += slash as usize;
                Token::Stars(slash)
            }
            '*' => Token::Star,
            '?' => Token::One,
            '[' => match class(&p, i) {
                Some((t, end)) => {
                    i = end;
                    t
                }
                None => Token::Char('['),
            },
            '\\' if i + 1 < p.len() => {
                i += 1;
                Token::Char(p[i])
            }
            c => Token::Char(c),
        };
        out.push(t);
        i += 1;
    }
    out
}

/// `[...]` starting at `p[at]`; the token and the index of its `]`.
fn class(p: &[char], at: usize) -> Option<(Token, usize)> {
    let mut i = at + 1;
    let negated = matches!(p.get(i), Some('!' | '^'));
    i += negated as usize;
    let mut ranges = Vec::new();
    let first = i;
    while i < p.len() {
        if p[i] == ']' && i > first {
            return Some((Token::Class(ranges, negated), i));
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&c| c != ']') {
            ranges.push((p[i], p[i + 2]));
            i += 3;
        } else {
            ranges.push((p[i], p[i]));
            i += 1;
        }
    }
    None
}

fn match_one(pattern: &str, text: &[char]) -> bool {
    let n = text.len();
    let mut cur = vec![false; n + 1];
    cur[0] = true;
    for token in tokens(pattern) {
        let mut next = vec![false; n + 1];
        match token {
            Token::Star | Token::Stars(false) => {
                let mut carry = false;
                for q in 0..=n {
                    carry |= cur[q];
                    next[q] = carry;
                    if q < n && text[q] == '/' && matches!(token, Token::Star) {
                        carry = false;
                    }
                }
            }
            Token::Stars(true) => {
                let mut carry = false;
                for q in 0..=n {
                    next[q] = cur[q] || (carry && q > 0 && text[q - 1] == '/');
                    carry |= cur[q];
                }
            }
            single => {
                for q in 0..n {
                    let c = text[q];
                    next[q + 1] = cur[q]
                        && match &single {
                            Token::Char(x) => *x == c,
                            Token::One => c != '/',
                            Token::Class(r, neg) => c != '/' && r.iter().any(|&(a, b)| a <= c && c <= b) != *neg,
                            _ => false,
                        };
                }
            }
        }
        if !next.contains(&true) {
            return false;
        }
        cur = next;
    }
    cur[n]
}

#[cfg(test)]
mod tests {
    use super::glob_match as g;

    #[test]
    fn stars_classes_and_alternatives() {
        assert!(g("*.rs", "main.rs") && !g("*.rs", "src/main.rs") && !g("*.rs", "main.rsx"));
        assert!(g("src/*.rs", "src/main.rs") && !g("src/*.rs", "src/a/main.rs"));
        assert!(g("**/*.rs", "main.rs") && g("**/*.rs", "a/b/main.rs") && g("a/**/b", "a/b") && g("a/**/b", "a/x/y/b"));
        assert!(g("a/**", "a/x/y") && g("**", "anything/at/all"));
        assert!(g("?.txt", "a.txt") && !g("?.txt", "ab.txt"));
        assert!(g("[abc].md", "b.md") && !g("[abc].md", "d.md") && g("[a-z]1", "q1") && g("[!a-z]1", "Q1"));
        assert!(g("[^x]", "y") && !g("[^x]", "x") && g("[x", "[x"));
        assert!(g("*.{rs,toml}", "Cargo.toml") && g("*.{rs,toml}", "a.rs") && !g("*.{rs,toml}", "a.md"));
        assert!(g("{a,b{c,d}}", "bd") && g("x{", "x{") && g("", "") && !g("", "a"));
        assert!(g(&"*a".repeat(20), &"a".repeat(40)) && !g(&format!("{}b", "*a".repeat(20)), &"a".repeat(4000)));
    }
}
