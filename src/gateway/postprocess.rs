//! What happens to an answer before users see it (M30): silence tokens, and redaction of
//! anything that looks like a secret, including the gateway's own tokens.

/// Answers that mean "say nothing" (whole answer, case and edge punctuation ignored, ≤ 64 chars).
const SILENCE: [&str; 4] = ["[silent]", "silent", "no_reply", "no reply"];

fn normalize(text: &str) -> String {
    let trimmed = text.trim().trim_matches(|c: char| c.is_ascii_punctuation() && c != '[' && c != ']' && c != '_');
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// True when the whole answer is a silence token: stored, not sent.
pub fn is_silence(text: &str) -> bool {
    if text.trim().chars().count() > 64 {
        return false;
    }
    let n = normalize(text);
    SILENCE.iter().any(|s| n == *s || n == s.trim_matches(|c| c == '[' || c == ']'))
}

/// True while a streaming answer could still turn out to be a silence token (hold it back).
pub fn could_be_silence(prefix: &str) -> bool {
    let t = prefix.trim_start();
    if t.is_empty() {
        return true;
    }
    if t.chars().count() > 64 {
        return false;
    }
    let n = normalize(t);
    let raw = t.to_lowercase();
    SILENCE.iter().any(|s| s.starts_with(&n) || s.starts_with(raw.trim_end()))
}

/// The prefixes of well-known token formats (sk-…, ghp_…, xoxb-…, …) and the word `Bearer`.
const TOKEN_PREFIXES: [&str; 11] =
    ["sk-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xoxb-", "xoxp-", "xapp-", "hf_", "glpat-"];
const SLACK_PREFIXES: [&str; 3] = ["xoxa-", "xoxr-", "xoxs-"];

/// Replaces secret-looking tokens and the given exact secrets with `[REDACTED]`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 6) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[REDACTED]");
        }
    }
    redact_patterns(&out)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

fn redact_patterns(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let word_start = out.chars().last().is_none_or(|c| !is_token_char(c));
        let hit = word_start.then(|| token_at(rest)).flatten();
        match hit {
            Some((keep, secret_len)) => {
                out.push_str(&rest[..keep]);
                out.push_str("[REDACTED]");
                rest = &rest[keep + secret_len..];
            }
            None => {
                let c = rest.chars().next().unwrap_or(' ');
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// If a secret starts at the beginning of `s`: (bytes kept before it, length of the secret).
fn token_at(s: &str) -> Option<(usize, usize)> {
    if let Some(after) = s.strip_prefix("Bearer ") {
        let n = after
            .chars()
            .take_while(|c| is_token_char(*c) || *c == '/' || *c == '+' || *c == '=')
            .map(char::len_utf8)
            .sum::<usize>();
        return (n >= 8).then_some(("Bearer ".len(), n));
    }
    let prefix = TOKEN_PREFIXES.iter().chain(SLACK_PREFIXES.iter()).find(|p| s.starts_with(**p))?;
    let n: usize = s.chars().take_while(|c| is_token_char(*c)).map(char::len_utf8).sum();
    (n >= prefix.len() + 10).then_some((0, n))
}

/// The part of a streaming text that is safe to show now: up to the last whitespace, so a
/// half-written token (or secret) never appears, redacted.
pub fn displayable(text: &str, secrets: &[String]) -> String {
    let cut = text.rfind(char::is_whitespace).map_or(0, |i| i);
    redact(text[..cut].trim_end(), secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_tokens() {
        for yes in ["[SILENT]", "silent", "NO_REPLY", "no reply.", "  No Reply!  ", "SILENT."] {
            assert!(is_silence(yes), "{yes}");
        }
        for no in ["silently yes", "no", "The answer is SILENT", ""] {
            assert!(!is_silence(no), "{no}");
        }
        for prefix in ["", "[", "[SIL", "NO_", "No r"] {
            assert!(could_be_silence(prefix), "{prefix}");
        }
        for prefix in ["Hello", "No, th", "[x"] {
            assert!(!could_be_silence(prefix), "{prefix}");
        }
    }

    #[test]
    fn redacts_known_token_shapes_and_own_secrets() {
        let cases = [
            ("key sk-abcdefghijklmnop123 ok", "key [REDACTED] ok"),
            ("ghp_ABCDEFGHIJKLMNOPQRSTUV", "[REDACTED]"),
            ("xoxb-123-456-abcdefghijk", "[REDACTED]"),
            ("Authorization: Bearer abc.def.ghi-jkl", "Authorization: Bearer [REDACTED]"),
            ("risk-free sk-short", "risk-free sk-short"),
            ("task-abcdefghijklmnopqr", "task-abcdefghijklmnopqr"),
            ("hf_abcdefghijklmnop and glpat-abcdefghijklmno", "[REDACTED] and [REDACTED]"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input, &[]), want, "{input}");
        }
        let own = vec!["123456:SECRETTOKENVALUE".to_string()];
        assert_eq!(redact("token 123456:SECRETTOKENVALUE here", &own), "token [REDACTED] here");
    }

    #[test]
    fn displayable_hides_the_word_being_written() {
        assert_eq!(displayable("Hello wor", &[]), "Hello");
        assert_eq!(displayable("Hello world ", &[]), "Hello world");
        assert_eq!(displayable("Hel", &[]), "");
        assert_eq!(displayable("my key is sk-abcdefghijklmnopqrstu and", &[]), "my key is [REDACTED]");
    }
}
