//! Message splitting (M31).
//!
//! A reply longer than the platform's limit is cut into parts, each at most `limit` in the
//! platform's unit ([`LenUnit`]: UTF-16 code units for Telegram) including everything this module
//! adds: the ` (i/N)` suffix and the fence lines that close an open ``` block at the end of a part
//! and reopen it (with its language) at the start of the next. Cuts prefer the last newline past
//! half the window, then the last space, then a hard cut at a char boundary, and never land inside
//! an inline `code` span when the span can be moved whole to the next part.

use crate::adapter::LenUnit;

/// Splits `text` into parts no longer than `limit` units, suffixing ` (i/N)` when there are
/// several. Text that fits is returned unchanged; empty text gives no parts.
pub fn split_message(text: &str, limit: usize, unit: LenUnit) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    if unit.measure(text) <= limit {
        return vec![text.to_string()];
    }
    // The suffix width depends on N, which depends on the room left by the suffix: grow the
    // digit count until the split agrees with it.
    let mut digits = 1;
    loop {
        let reserve = 4 + 2 * digits; // " (" + i + "/" + N + ")"
        let parts = split_all(text, limit.saturating_sub(reserve), unit);
        let n = parts.len();
        if n.to_string().len() <= digits || digits >= 20 {
            return parts.into_iter().enumerate().map(|(i, p)| format!("{p} ({}/{n})", i + 1)).collect();
        }
        digits += 1;
    }
}

/// The first part of `text` (at most `limit` units, cut like [`split_message`] but without a
/// suffix) and the rest, which starts with the reopened fence when the cut was inside one.
/// Text that fits is returned whole with an empty rest.
pub fn split_head(text: &str, limit: usize, unit: LenUnit) -> (String, String) {
    if unit.measure(text) <= limit {
        return (text.to_string(), String::new());
    }
    let cut = cut(text, limit, unit);
    (cut.head, cut.rest)
}

fn split_all(text: &str, budget: usize, unit: LenUnit) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text.to_string();
    while unit.measure(&rest) > budget {
        let cut = cut(&rest, budget, unit);
        parts.push(cut.head);
        rest = cut.rest;
    }
    if !rest.trim().is_empty() || parts.is_empty() {
        parts.push(rest);
    }
    parts
}

struct Cut {
    head: String,
    rest: String,
}

/// One cut of `s`, which does not fit in `budget`.
fn cut(s: &str, budget: usize, unit: LenUnit) -> Cut {
    if let Some(c) = fenced_cut(s, budget, unit) {
        return c;
    }
    // Nothing sensible fits (a tiny budget against a reopened fence): hard cut, but always
    // make progress.
    let w = window_end(s, budget, unit).max(first_char_len(s));
    Cut { head: s[..w].to_string(), rest: s[w..].to_string() }
}

/// The cut with code-span and fence handling, or `None` when it would not make progress.
fn fenced_cut(s: &str, budget: usize, unit: LenUnit) -> Option<Cut> {
    let plain = choose(s, budget, unit);
    let state = analyze(s, plain.head_end);
    let Some(fence) = state.fence else {
        return Some(finish(s, plain, None));
    };
    // The cut is inside a fenced block: leave room for the closing fence line.
    let close = format!("\n{}", fence.marker);
    let inner = choose(s, budget.saturating_sub(unit.measure(&close)), unit);
    let state = analyze(s, inner.head_end);
    match state.fence {
        // Only the opening line would stay in this part: move the whole block to the next.
        Some(f) if inner.head_end <= f.body_start => {
            let start = s[..f.line_start].trim_end().len();
            if start == 0 {
                return None;
            }
            let b = Break { head_end: start, rest_start: f.line_start, at_space: false };
            Some(finish(s, b, None))
        }
        Some(f) => {
            let c = finish(s, inner, Some(&f));
            // A reopened fence that is as long as what was cut makes no progress.
            (c.rest.len() < s.len()).then_some(c)
        }
        // The shorter window ends before the block: an ordinary cut.
        None => Some(finish(s, inner, None)),
    }
}

/// Builds the two halves: trims the separator, closes and reopens the fence.
fn finish(s: &str, b: Break, fence: Option<&Fence>) -> Cut {
    match fence {
        Some(f) => {
            let head = format!("{}\n{}", s[..b.head_end].trim_end_matches(['\n', '\r']), f.marker);
            let after = &s[b.rest_start..];
            let first_line = after.split('\n').next().unwrap_or("");
            // The block's own closing line comes right after the cut: the close we add is it.
            let rest = if is_closing(first_line, &f.marker) {
                after[first_line.len()..].trim_start_matches(['\n', '\r']).to_string()
            } else {
                format!("{}{}\n{after}", f.marker, f.info)
            };
            Cut { head, rest }
        }
        None => {
            let head = s[..b.head_end].trim_end();
            let mut rest = &s[b.rest_start..];
            if b.rest_start > b.head_end {
                rest = rest.trim_start_matches(['\n', '\r']);
                if b.at_space {
                    rest = rest.trim_start_matches(' ');
                }
            }
            Cut { head: head.to_string(), rest: rest.to_string() }
        }
    }
}

struct Break {
    head_end: usize,
    rest_start: usize,
    /// The dropped separator was a space (more spaces after it go too).
    at_space: bool,
}

/// Where to cut within `budget`: the last newline past half the window, else the last space
/// (or newline), else a hard cut; then moved before an inline code span it would split.
fn choose(s: &str, budget: usize, unit: LenUnit) -> Break {
    let w = window_end(s, budget, unit).max(first_char_len(s));
    let bytes = s.as_bytes();
    // The separator itself may sit just past the window: it is dropped, not sent.
    let sep_end = (w + 1).min(s.len());
    let last = |pred: &dyn Fn(u8) -> bool| (1..sep_end).rev().find(|&i| pred(bytes[i]));
    let mut b = match last(&|c| c == b'\n') {
        Some(p) if p > w / 2 => Break { head_end: p, rest_start: p + 1, at_space: false },
        _ => match last(&|c| c == b' ' || c == b'\n') {
            Some(p) => Break { head_end: p, rest_start: p + 1, at_space: bytes[p] == b' ' },
            None => Break { head_end: w, rest_start: w, at_space: false },
        },
    };
    if let Some(span_start) = analyze(s, b.head_end).inside_span {
        let head_end = s[..span_start].trim_end().len();
        if head_end > 0 {
            b = Break { head_end, rest_start: span_start, at_space: false };
        }
    }
    b
}

/// Largest char boundary whose prefix measures at most `budget`.
fn window_end(s: &str, budget: usize, unit: LenUnit) -> usize {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += match unit {
            LenUnit::Bytes => c.len_utf8(),
            LenUnit::Chars => 1,
            LenUnit::Utf16 => c.len_utf16(),
        };
        if used > budget {
            return i;
        }
    }
    s.len()
}

fn first_char_len(s: &str) -> usize {
    s.chars().next().map_or(0, char::len_utf8)
}

/// An open fenced code block.
struct Fence {
    /// The backtick run that opened it (closes it too).
    marker: String,
    /// The info string (language), e.g. `rust`.
    info: String,
    /// Byte offset of the opening line and of the first byte after it.
    line_start: usize,
    body_start: usize,
}

/// What surrounds byte offset `at`.
struct State {
    fence: Option<Fence>,
    /// Start of the inline code span that `at` falls strictly inside.
    inside_span: Option<usize>,
}

/// Scans `s` up to `at` for fenced blocks and inline code spans (CommonMark's backtick rules,
/// simplified: a span closes at the next run of the same length within its paragraph).
fn analyze(s: &str, at: usize) -> State {
    let bytes = s.as_bytes();
    let mut fence: Option<Fence> = None;
    let mut i = 0;
    let mut line_start = true;
    while i < at && i < s.len() {
        if line_start {
            let eol = s[i..].find('\n').map_or(s.len(), |n| i + n);
            let line = &s[i..eol];
            let next = (eol + 1).min(s.len());
            if let Some(f) = &fence {
                if is_closing(line, &f.marker) {
                    fence = None;
                }
                i = next;
                continue;
            }
            if let Some((marker, info)) = opening(line) {
                fence = Some(Fence { marker, info, line_start: i, body_start: next });
                i = next;
                continue;
            }
            line_start = false;
        }
        match bytes[i] {
            b'\n' => {
                line_start = true;
                i += 1;
            }
            b'\\' if bytes.get(i + 1).is_some_and(|&c| c != b'\n') => i += 2,
            b'`' => {
                let run = bytes[i..].iter().take_while(|&&c| c == b'`').count();
                match closing_run(s, i + run, run) {
                    Some(end) if at > i && at < end => {
                        return State { fence: None, inside_span: Some(i) };
                    }
                    Some(end) => i = end,
                    None => i += run,
                }
            }
            _ => i += 1,
        }
    }
    State { fence, inside_span: None }
}

/// End of the backtick run of exactly `run` that closes a span whose content starts at `from`.
fn closing_run(s: &str, from: usize, run: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut j = from;
    while j < s.len() {
        if bytes[j] == b'\n' {
            // A span ends with its paragraph: at a blank line or a fence line.
            let line = s[j + 1..].split('\n').next().unwrap_or("");
            if line.trim().is_empty() || opening(line).is_some() {
                return None;
            }
            j += 1;
        } else if bytes[j] == b'`' {
            let len = bytes[j..].iter().take_while(|&&c| c == b'`').count();
            if len == run {
                return Some(j + len);
            }
            j += len;
        } else {
            j += 1;
        }
    }
    None
}

/// A fence opening line: up to three spaces, three or more backticks, an info string.
fn opening(line: &str) -> Option<(String, String)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let run = trimmed.bytes().take_while(|&c| c == b'`').count();
    let info = trimmed[run..].trim();
    (run >= 3 && !info.contains('`')).then(|| (trimmed[..run].to_string(), info.to_string()))
}

fn is_closing(line: &str, marker: &str) -> bool {
    let trimmed = line.trim_start_matches(' ');
    let run = trimmed.bytes().take_while(|&c| c == b'`').count();
    line.len() - trimmed.len() <= 3 && run >= marker.len() && trimmed[run..].trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use LenUnit::{Bytes, Chars, Utf16};

    /// Removes the ` (i/N)` suffixes, checking they count 1..=N.
    fn unsuffix(parts: &[String]) -> Vec<String> {
        let n = parts.len();
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let suffix = format!(" ({}/{n})", i + 1);
                p.strip_suffix(&suffix).unwrap_or_else(|| panic!("no {suffix} on {p:?}")).to_string()
            })
            .collect()
    }

    /// Content that must survive: non-whitespace chars outside fence lines.
    fn content(s: &str) -> String {
        s.lines().filter(|l| opening(l).is_none()).flat_map(|l| l.chars().filter(|c| !c.is_whitespace())).collect()
    }

    fn check(text: &str, limit: usize, unit: LenUnit) -> Vec<String> {
        let parts = split_message(text, limit, unit);
        for p in &parts {
            assert!(unit.measure(p) <= limit, "{} > {limit}: {p:?}", unit.measure(p));
        }
        if parts.len() > 1 {
            let bare = unsuffix(&parts);
            let joined: String = bare.iter().map(|b| content(b)).collect();
            assert!(joined == content(text), "content changed: {bare:?}");
            for b in &bare {
                let fences = b.lines().filter(|l| opening(l).is_some()).count();
                assert_eq!(fences % 2, 0, "unbalanced fences in {b:?}");
            }
        }
        parts
    }

    #[test]
    fn short_and_empty() {
        assert!(split_message("", 10, Utf16).is_empty());
        assert_eq!(split_message("  hi  ", 10, Utf16), vec!["  hi  "]);
        assert_eq!(split_message("exactly10!", 10, Bytes), vec!["exactly10!"]);
        assert_eq!(split_head("short", 10, Chars), ("short".to_string(), String::new()));
    }

    #[test]
    fn prefers_newline_past_half_then_space() {
        let text = "first line here\nsecond line that goes on";
        let parts = check(text, 30, Chars);
        assert_eq!(parts[0], "first line here (1/2)");
        // No newline past half: the last space.
        let parts = check("aaaa\nbbbbbbbbbbbbbbbb cccccccccc dddd", 30, Chars);
        assert_eq!(parts[0], "aaaa\nbbbbbbbbbbbbbbbb (1/2)");
        assert_eq!(parts[1], "cccccccccc dddd (2/2)");
    }

    #[test]
    fn hard_cut_without_whitespace() {
        let text = "x".repeat(25);
        let parts = check(&text, 10, Bytes);
        // One-digit suffixes leave 4 bytes: 25 x make 7 parts.
        assert_eq!(parts[0], "xxxx (1/7)");
        assert_eq!(parts.len(), 7);
    }

    #[test]
    fn suffix_width_grows_with_part_count() {
        // 10+ parts need two-digit suffixes on every part.
        let text = "word ".repeat(200);
        let parts = check(&text, 20, Chars);
        assert!(parts.len() >= 10);
        assert!(parts[0].ends_with(&format!(" (1/{})", parts.len())));
    }

    #[test]
    fn utf16_counts_surrogate_pairs() {
        // Each emoji is 2 UTF-16 units, 4 bytes, 1 char.
        let text = "😀".repeat(30);
        for (unit, limit) in [(Utf16, 20), (Chars, 12), (Bytes, 40)] {
            let parts = check(&text, limit, unit);
            for p in &parts {
                assert!(p.starts_with('😀'), "{p:?}");
            }
            let emoji: usize = parts.iter().map(|p| p.matches('😀').count()).sum();
            assert_eq!(emoji, 30);
        }
        // Mixed with CJK and ASCII, Telegram limit.
        let text = "漢字 emoji 😀 and more ".repeat(500);
        let parts = check(&text, 4096, Utf16);
        assert!(parts.len() > 1);
    }

    #[test]
    fn never_inside_inline_code() {
        let text = "some words then `let x = compute(a, b);` and after";
        let parts = check(text, 35, Chars);
        let bare = unsuffix(&parts);
        assert_eq!(bare[0], "some words then");
        assert!(bare[1].starts_with("`let x = compute(a, b);`"));
        for b in &bare {
            assert_eq!(b.matches('`').count() % 2, 0, "{b:?}");
        }
        // A lone backtick is no span.
        let parts = check("price ` is five dollars and some cents", 25, Chars);
        assert!(unsuffix(&parts)[0].starts_with("price ` is"));
    }

    #[test]
    fn fence_closed_and_reopened_with_language() {
        let code: String = (0..40).map(|i| format!("    let v{i} = {i};\n")).collect();
        let text = format!("Here is code:\n```rust\n{code}```\nDone.");
        let parts = check(&text, 200, Utf16);
        assert!(parts.len() > 2);
        let bare = unsuffix(&parts);
        assert!(bare[0].ends_with("\n```"), "{:?}", bare[0]);
        assert!(bare[1].starts_with("```rust\n    let"), "{:?}", bare[1]);
        // Indentation inside the block survives the cut.
        for b in &bare[1..] {
            for line in b.lines().filter(|l| l.contains("let")) {
                assert!(line.starts_with("    let"), "{line:?}");
            }
        }
        assert!(bare.last().unwrap().ends_with("Done."));
    }

    #[test]
    fn block_starting_near_the_end_moves_whole() {
        let text = format!("{}\n```python\nprint(1)\n```", "intro ".repeat(6));
        let parts = check(&text, 50, Chars);
        let bare = unsuffix(&parts);
        assert!(!bare[0].contains("```"), "{:?}", bare[0]);
        assert!(bare[1].starts_with("```python\nprint(1)"));
    }

    #[test]
    fn split_head_has_no_suffix_and_reopens() {
        let text = format!("```sh\n{}```", "echo hello\n".repeat(20));
        let (head, rest) = split_head(&text, 60, Utf16);
        assert!(Utf16.measure(&head) <= 60);
        assert!(head.starts_with("```sh\n") && head.ends_with("\n```"));
        assert!(!head.contains("(1/"));
        assert!(rest.starts_with("```sh\necho hello"));
        let (head, rest) = split_head("alpha beta gamma delta", 12, Chars);
        assert_eq!(head, "alpha beta");
        assert_eq!(rest, "gamma delta");
    }

    #[test]
    fn hundred_kilobytes() {
        let para = "Lorem ipsum dolor sit amet, `code span` consectetur adipiscing elit.\n";
        let mut text = String::new();
        while text.len() < 100_000 {
            text.push_str(para);
            if text.len().is_multiple_of(7) {
                text.push_str("```js\nconsole.log('x');\n```\n");
            }
        }
        for unit in [Utf16, Chars, Bytes] {
            let parts = check(&text, 4096, unit);
            assert!(parts.len() >= 25, "{}", parts.len());
        }
    }

    #[test]
    fn property_rejoin_gives_content_back() {
        // Deterministic pseudo-random texts built from tricky pieces.
        let pieces = [
            "word ",
            "longerword ",
            "\n",
            "\n\n",
            "`a b c` ",
            "😀",
            "é",
            "漢字",
            "- item\n",
            "\n```py\nx = 1\ny = 2\n```\n",
            "``not`closed ",
            "\\`esc` ",
            "trailing   ",
            "x",
        ];
        let mut seed: u64 = 0x1234_5678;
        for round in 0..300 {
            let mut text = String::new();
            let len = 5 + round % 60;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let unit = [Utf16, Chars, Bytes][round % 3];
            let limit = 24 + (seed % 50) as usize;
            check(&text, limit, unit);
            // split_head always makes progress and stays in the limit.
            let (head, _) = split_head(&text, limit, unit);
            assert!(unit.measure(&head) <= limit.max(4), "{head:?}");
        }
    }

    #[test]
    fn tiny_limits_terminate() {
        for limit in 0..12 {
            let parts = split_message("```rust\nfn main() {}\n```", limit, Chars);
            assert!(!parts.is_empty());
        }
    }
}
