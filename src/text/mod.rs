//! Small text matchers written here instead of pulled in as crates (the binary has a size
//! budget): a linear-time regex for search and command checks, shell-style globs, and the
//! threat scan of text bound for the system prompt.

pub mod glob;
pub mod regex;
pub mod threat;

/// `1234567` → `1,234,567` (Python's `{:,}`, used in Hermes' texts).
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
