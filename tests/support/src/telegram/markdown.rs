//! A light MarkdownV2 check, strict where Telegram is strict in ways escaping bugs hit: reserved
//! characters outside code must be escaped, and `*`, `_`, `~`, code spans must be closed.
//! The error texts are Telegram's, so the gateway's plain-text fallback is exercised as in the field.

/// Characters Telegram rejects unescaped outside entities (the ones that never open an entity).
const RESERVED: &[char] = &['.', '!', '-', '(', ')', '#', '+', '=', '{', '}'];

/// `Err(description)` as Telegram would word it, e.g.
/// "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\'".
pub fn check(text: &str) -> Result<(), String> {
    let b: Vec<char> = text.chars().collect();
    let mut i = 0;
    let (mut bold, mut italic_marks, mut strike) = (None, None::<usize>, None);
    let mut underscores = 0usize;
    let byte_at = |i: usize| b[..i].iter().map(|c| c.len_utf8()).sum::<usize>();
    let err = |what: String| Err(format!("Bad Request: can't parse entities: {what}"));
    while i < b.len() {
        let c = b[i];
        match c {
            '\\' => i += 1, // the next char is literal, whatever it is
            '`' => {
                let fence = b[i..].starts_with(&['`', '`', '`']);
                let (open_len, entity) = if fence { (3, "Pre") } else { (1, "Code") };
                let start = i;
                i += open_len;
                loop {
                    if i >= b.len() {
                        return err(format!("Can't find end of {entity} entity at byte offset {}", byte_at(start)));
                    }
                    if b[i] == '\\' {
                        i += 2;
                        continue;
                    }
                    if fence && b[i..].starts_with(&['`', '`', '`']) {
                        i += 2;
                        break;
                    }
                    if !fence && b[i] == '`' {
                        break;
                    }
                    i += 1;
                }
            }
            ']' if b.get(i + 1) == Some(&'(') => {
                // Link URL: only ')' and '\' need escaping inside.
                i += 2;
                while i < b.len() && b[i] != ')' {
                    if b[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= b.len() {
                    return err("Can't find end of a URL".into());
                }
            }
            '*' => bold = if bold.is_some() { None } else { Some(i) },
            '~' => strike = if strike.is_some() { None } else { Some(i) },
            '_' => {
                underscores += 1;
                italic_marks = Some(i);
            }
            c if RESERVED.contains(&c) => {
                return err(format!("Character '{c}' is reserved and must be escaped with the preceding '\\'"));
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(at) = bold {
        return err(format!("Can't find end of Bold entity at byte offset {}", byte_at(at)));
    }
    if let Some(at) = strike {
        return err(format!("Can't find end of Strikethrough entity at byte offset {}", byte_at(at)));
    }
    if underscores % 2 == 1 {
        let at = italic_marks.unwrap_or(0);
        return err(format!("Can't find end of Italic entity at byte offset {}", byte_at(at)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_escaped_and_code() {
        for ok in [
            "plain words",
            r"Hello\. World\!",
            r"*bold* _italic_ ~strike~ __under__",
            "`code with . and ! inside`",
            "```\nfn main() { x.y(); }\n```",
            r"[link](https://example.com/a.b?c=d)",
            r"a \- b \( c \) d \# e \+ f \= g \{ h \}",
            r"escaped \* star \_ underscore",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_reserved_and_unclosed() {
        let e = check("Hello. World").unwrap_err();
        assert_eq!(
            e,
            "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'"
        );
        assert!(check("wow!").unwrap_err().contains("Character '!'"));
        assert!(check("a - b").unwrap_err().contains("Character '-'"));
        assert!(check("f(x)").unwrap_err().contains("Character '('"));
        assert!(check("*bold").unwrap_err().contains("Bold entity at byte offset 0"));
        assert!(check("é _it").unwrap_err().contains("Italic entity at byte offset 3"));
        assert!(check("`open").unwrap_err().contains("Code entity"));
        assert!(check("```open").unwrap_err().contains("Pre entity"));
    }
}
