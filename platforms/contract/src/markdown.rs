//! The agent's Markdown (CommonMark as LLMs write it) in platform dialects.
//!
//! Telegram MarkdownV2 rejects a whole message for one stray reserved character, so the
//! converter is conservative: a marker becomes formatting only when it is balanced within the
//! line, and everything else is escaped literally. The adapter still falls back to
//! [`to_plain`] when Telegram answers "can't parse entities".
//!
//! [`to_html`] gives the HTML subset Matrix clients render in `formatted_body` (paragraphs,
//! headings, lists, quotes, code, links, emphasis); every other character is escaped.

/// Characters MarkdownV2 reserves outside code.
const RESERVED: &str = "_*[]()~`>#+-=|{}.!\\";

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    TelegramV2,
    Plain,
    Html,
}

/// The agent's Markdown as Telegram MarkdownV2.
pub fn to_telegram_v2(markdown: &str) -> String {
    convert(markdown, Mode::TelegramV2)
}

/// The agent's Markdown without markup, for plain-text fallbacks: code content stays, links
/// become `text (url)`.
pub fn to_plain(markdown: &str) -> String {
    convert(markdown, Mode::Plain)
}

/// The agent's Markdown as HTML for Matrix's `formatted_body` (`org.matrix.custom.html`).
pub fn to_html(markdown: &str) -> String {
    let mut out = String::new();
    let mut para: Vec<String> = Vec::new();
    let mut list: Option<&'static str> = None;
    let mut fence: Option<String> = None;
    let flush_para = |out: &mut String, para: &mut Vec<String>| {
        if !para.is_empty() {
            out.push_str(&format!("<p>{}</p>", para.join("<br>")));
            para.clear();
        }
    };
    let close_list = |out: &mut String, list: &mut Option<&'static str>| {
        if let Some(tag) = list.take() {
            out.push_str(&format!("</{tag}>"));
        }
    };
    for line in markdown.split('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let run = trimmed.bytes().take_while(|&c| c == b'`').count();
        if let Some(marker) = &fence {
            if run >= marker.len() && trimmed[run..].trim().is_empty() {
                fence = None;
                out.push_str("</code></pre>");
            } else {
                out.push_str(&escape_html(line));
                out.push('\n');
            }
            continue;
        }
        if run >= 3 && indent <= 3 && !trimmed[run..].contains('`') {
            flush_para(&mut out, &mut para);
            close_list(&mut out, &mut list);
            fence = Some(trimmed[..run].to_string());
            let lang = trimmed[run..].trim();
            if lang.is_empty() {
                out.push_str("<pre><code>");
            } else {
                out.push_str(&format!("<pre><code class=\"language-{}\">", escape_html(lang)));
            }
            continue;
        }
        if trimmed.is_empty() {
            flush_para(&mut out, &mut para);
            close_list(&mut out, &mut list);
            continue;
        }
        let hashes = trimmed.bytes().take_while(|&c| c == b'#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            flush_para(&mut out, &mut para);
            close_list(&mut out, &mut list);
            let text = trimmed[hashes..].trim().trim_end_matches('#').trim_end();
            out.push_str(&format!("<h{hashes}>{}</h{hashes}>", inline(text, Mode::Html, Styles::default())));
            continue;
        }
        let bullet = ["- ", "* ", "+ "]
            .iter()
            .find_map(|b| trimmed.strip_prefix(b))
            .filter(|rest| !rest.trim().chars().all(|c| c == '-' || c == '*') || rest.trim().is_empty());
        let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
        let numbered = if (1..=9).contains(&digits) {
            let after = &trimmed[digits..];
            after.strip_prefix(". ").or_else(|| after.strip_prefix(") "))
        } else {
            None
        };
        if let Some((tag, rest)) = bullet.map(|r| ("ul", r)).or(numbered.map(|r| ("ol", r))) {
            flush_para(&mut out, &mut para);
            if list != Some(tag) {
                close_list(&mut out, &mut list);
                out.push_str(&format!("<{tag}>"));
                list = Some(tag);
            }
            out.push_str(&format!("<li>{}</li>", inline(rest, Mode::Html, Styles::default())));
            continue;
        }
        close_list(&mut out, &mut list);
        if let Some(rest) = trimmed.strip_prefix('>') {
            flush_para(&mut out, &mut para);
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            out.push_str(&format!("<blockquote>{}</blockquote>", inline(rest, Mode::Html, Styles::default())));
            continue;
        }
        if trimmed.chars().all(|c| c == '-' || c == '*' || c == '_' || c == ' ')
            && trimmed.chars().filter(|c| !c.is_whitespace()).count() >= 3
        {
            flush_para(&mut out, &mut para);
            out.push_str("<hr>");
            continue;
        }
        para.push(inline(trimmed, Mode::Html, Styles::default()));
    }
    if fence.is_some() {
        out.push_str("</code></pre>");
    }
    flush_para(&mut out, &mut para);
    close_list(&mut out, &mut list);
    out
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn convert(markdown: &str, mode: Mode) -> String {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    for line in markdown.split('\n') {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let run = trimmed.bytes().take_while(|&c| c == b'`').count();
        if let Some(marker) = &fence {
            if run >= marker.len() && trimmed[run..].trim().is_empty() {
                fence = None;
                if mode == Mode::TelegramV2 {
                    out.push("```".to_string());
                }
            } else {
                out.push(match mode {
                    Mode::TelegramV2 => escape_code(line),
                    Mode::Plain | Mode::Html => line.to_string(),
                });
            }
            continue;
        }
        if run >= 3 && indent.len() <= 3 && !trimmed[run..].contains('`') {
            fence = Some(trimmed[..run].to_string());
            if mode == Mode::TelegramV2 {
                out.push(format!("```{}", escape_code(trimmed[run..].trim())));
            }
            continue;
        }
        out.push(block_line(line, mode));
    }
    if fence.is_some() && mode == Mode::TelegramV2 {
        out.push("```".to_string());
    }
    out.join("\n")
}

/// One line outside code blocks: headings, lists and quotes, then the inline markup.
fn block_line(line: &str, mode: Mode) -> String {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    let v2 = mode == Mode::TelegramV2;
    let hashes = trimmed.bytes().take_while(|&c| c == b'#').count();
    if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
        let text = trimmed[hashes..].trim().trim_end_matches('#').trim_end();
        return if v2 {
            format!("*{}*", inline(text, mode, Styles { bold: true, ..Styles::default() }))
        } else {
            inline(text, mode, Styles::default())
        };
    }
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = trimmed.strip_prefix(bullet) {
            if rest.trim().chars().all(|c| c == '-' || c == '*') && !rest.trim().is_empty() {
                break; // a thematic break like "- - -"
            }
            return format!("{indent}• {}", inline(rest, mode, Styles::default()));
        }
    }
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=9).contains(&digits) {
        let after = &trimmed[digits..];
        if let Some(rest) = after.strip_prefix(". ").or_else(|| after.strip_prefix(") ")) {
            let dot = if v2 { "\\." } else { "." };
            let body = inline(rest, mode, Styles::default());
            return format!("{indent}{}{dot} {body}", &trimmed[..digits]);
        }
    }
    if let Some(rest) = trimmed.strip_prefix('>') {
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let body = inline(rest, mode, Styles::default());
        return if v2 { format!(">{body}") } else { body };
    }
    if !trimmed.is_empty()
        && trimmed.chars().all(|c| c == '-' || c == '*' || c == '_' || c == ' ')
        && trimmed.chars().filter(|c| !c.is_whitespace()).count() >= 3
    {
        return "——".to_string();
    }
    inline(line, mode, Styles::default())
}

/// Styles already open around the text being converted; V2 cannot nest a style in itself.
#[derive(Clone, Copy, Default)]
struct Styles {
    bold: bool,
    italic: bool,
    strike: bool,
}

/// Inline markup of one line.
fn inline(text: &str, mode: Mode, open: Styles) -> String {
    let v2 = mode == Mode::TelegramV2;
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let slice = |a: usize, b: usize| chars[a..b].iter().collect::<String>();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let prev = if i == 0 { None } else { at(i - 1) };
        // Bare URLs stay literal: their underscores are not emphasis.
        if (c == 'h')
            && (slice(i, (i + 8).min(chars.len())).starts_with("https://")
                || slice(i, (i + 7).min(chars.len())).starts_with("http://"))
            && !prev.is_some_and(char::is_alphanumeric)
        {
            let end = (i..chars.len()).find(|&j| chars[j].is_whitespace()).unwrap_or(chars.len());
            out.push_str(&literal(&slice(i, end), mode));
            i = end;
            continue;
        }
        match c {
            '\\' if at(i + 1).is_some_and(|n| n.is_ascii_punctuation()) => {
                out.push_str(&literal(&at(i + 1).unwrap().to_string(), mode));
                i += 2;
            }
            '`' => {
                let run = chars[i..].iter().take_while(|&&c| c == '`').count();
                let close = find_run(&chars, i + run, '`', run);
                match close {
                    Some(j) => {
                        let code = slice(i + run, j);
                        let code = if code.trim().is_empty() { code } else { code.trim().to_string() };
                        if v2 {
                            out.push_str(&format!("`{}`", escape_code(&code)));
                        } else if mode == Mode::Html {
                            out.push_str(&format!("<code>{}</code>", escape_html(&code)));
                        } else {
                            out.push_str(&code);
                        }
                        i = j + run;
                    }
                    None => {
                        out.push_str(&literal(&slice(i, i + run), mode));
                        i += run;
                    }
                }
            }
            '[' => match link(&chars, i) {
                Some((label, url, end)) => {
                    let label = inline(&label, mode, open);
                    if v2 {
                        let url = url.replace('\\', "\\\\").replace(')', "\\)");
                        out.push_str(&format!("[{label}]({url})"));
                    } else if mode == Mode::Html {
                        out.push_str(&format!("<a href=\"{}\">{label}</a>", escape_html(&url)));
                    } else if label == url {
                        out.push_str(&url);
                    } else {
                        out.push_str(&format!("{label} ({url})"));
                    }
                    i = end;
                }
                None => {
                    out.push_str(&literal("[", mode));
                    i += 1;
                }
            },
            '*' | '_' | '~' => {
                let run = chars[i..].iter().take_while(|&&x| x == c).count();
                let (width, style) = match (c, run) {
                    ('~', 2..) => (2, Some('~')),
                    ('~', _) => (1, None),
                    (_, 2..) => (2, Some('*')),
                    (_, _) => (1, Some('_')),
                };
                let allowed = match style {
                    Some('~') => !open.strike,
                    Some('*') => !open.bold,
                    Some(_) => !open.italic,
                    None => false,
                };
                // Underscores inside words (snake_case) are never emphasis.
                let word_inside = c == '_' && prev.is_some_and(char::is_alphanumeric);
                let opens = allowed && !word_inside && at(i + width).is_some_and(|n| !n.is_whitespace());
                let close = if opens { find_closing(&chars, i + width, c, width) } else { None };
                match (style, close) {
                    (Some(style), Some(j)) => {
                        let mut inner_open = open;
                        match style {
                            '~' => inner_open.strike = true,
                            '*' => inner_open.bold = true,
                            _ => inner_open.italic = true,
                        }
                        let inner = inline(&slice(i + width, j), mode, inner_open);
                        if v2 {
                            out.push_str(&format!("{style}{inner}{style}"));
                        } else if mode == Mode::Html {
                            let tag = match style {
                                '~' => "del",
                                '*' => "strong",
                                _ => "em",
                            };
                            out.push_str(&format!("<{tag}>{inner}</{tag}>"));
                        } else {
                            out.push_str(&inner);
                        }
                        i = j + width;
                    }
                    _ => {
                        out.push_str(&literal(&slice(i, i + width), mode));
                        i += width;
                    }
                }
            }
            _ => {
                out.push_str(&literal(&c.to_string(), mode));
                i += 1;
            }
        }
    }
    out
}

/// `[label](url)` starting at `i`: the label, the url and the index after `)`.
fn link(chars: &[char], i: usize) -> Option<(String, String, usize)> {
    let mut depth = 0;
    let mut j = i;
    let close = loop {
        j += 1;
        match chars.get(j)? {
            '[' => depth += 1,
            ']' if depth == 0 => break j,
            ']' => depth -= 1,
            _ => {}
        }
    };
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let mut depth = 0;
    let mut k = close + 1;
    let end = loop {
        k += 1;
        match chars.get(k)? {
            '(' => depth += 1,
            ')' if depth == 0 => break k,
            ')' => depth -= 1,
            c if c.is_whitespace() => return None,
            _ => {}
        }
    };
    let label: String = chars[i + 1..close].iter().collect();
    let url: String = chars[close + 2..end].iter().collect();
    (!url.is_empty()).then_some((label, url, end + 1))
}

/// The next run of exactly `len` `c`s at or after `from`.
fn find_run(chars: &[char], from: usize, c: char, len: usize) -> Option<usize> {
    let mut j = from;
    while j < chars.len() {
        if chars[j] == c {
            let run = chars[j..].iter().take_while(|&&x| x == c).count();
            if run == len {
                return Some(j);
            }
            j += run;
        } else {
            j += 1;
        }
    }
    None
}

/// The closing delimiter of an emphasis: `width` `c`s after a non-space character, and for `_`
/// not followed by a word character. Code spans in between are skipped.
fn find_closing(chars: &[char], from: usize, c: char, width: usize) -> Option<usize> {
    let mut j = from;
    while j + width <= chars.len() {
        if chars[j] == '`' {
            let run = chars[j..].iter().take_while(|&&x| x == '`').count();
            j = find_run(chars, j + run, '`', run).map_or(j + run, |k| k + run);
            continue;
        }
        if chars[j] == '\\' {
            j += 2;
            continue;
        }
        let run = chars[j..].iter().take_while(|&&x| x == c).count();
        if run >= width && j > from && !chars[j - 1].is_whitespace() {
            let after = chars.get(j + width).copied();
            let ok = if c == '_' { !after.is_some_and(char::is_alphanumeric) } else { true };
            // Prefer the delimiter of exactly this width (`**` does not close on `*`).
            if ok && (run == width || width == 2) {
                return Some(j);
            }
        }
        j += run.max(1);
    }
    None
}

fn literal(text: &str, mode: Mode) -> String {
    match mode {
        Mode::Plain => text.to_string(),
        Mode::Html => escape_html(text),
        Mode::TelegramV2 => {
            let mut out = String::with_capacity(text.len() + 8);
            for c in text.chars() {
                if RESERVED.contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        }
    }
}

/// Inside code and pre, V2 escapes only the backtick and the backslash.
fn escape_code(text: &str) -> String {
    text.replace('\\', "\\\\").replace('`', "\\`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_for_matrix() {
        let cases = [
            ("hello", "<p>hello</p>"),
            ("a < b & \"c\"", "<p>a &lt; b &amp; &quot;c&quot;</p>"),
            (
                "**bold** _it_ ~~no~~ `x<y`",
                "<p><strong>bold</strong> <em>it</em> <del>no</del> <code>x&lt;y</code></p>",
            ),
            ("line one\nline two\n\nnext", "<p>line one<br>line two</p><p>next</p>"),
            ("# Title\ntext", "<h1>Title</h1><p>text</p>"),
            ("- a\n- b\n1. c", "<ul><li>a</li><li>b</li></ul><ol><li>c</li></ol>"),
            ("> quoted", "<blockquote>quoted</blockquote>"),
            ("[site](https://x.org/?a=1&b=2)", "<p><a href=\"https://x.org/?a=1&amp;b=2\">site</a></p>"),
            (
                "```rust\nfn a() -> u8 { 1 }\n```",
                "<pre><code class=\"language-rust\">fn a() -&gt; u8 { 1 }\n</code></pre>",
            ),
            ("```\nopen", "<pre><code>open\n</code></pre>"),
            ("snake_case_name", "<p>snake_case_name</p>"),
            ("<script>", "<p>&lt;script&gt;</p>"),
        ];
        for (md, html) in cases {
            assert_eq!(to_html(md), html, "{md:?}");
        }
    }

    /// A rough MarkdownV2 validity check: outside code every reserved character is escaped or
    /// is a balanced entity marker.
    fn assert_valid_v2(out: &str) {
        let chars: Vec<char> = out.chars().collect();
        let (mut stars, mut unders, mut tildes, mut brackets, mut parens) = (0, 0, 0, 0i32, 0i32);
        let mut i = 0;
        let mut line_start = true;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' {
                assert!(i + 1 < chars.len(), "dangling backslash in {out:?}");
                i += 2;
                line_start = false;
                continue;
            }
            if c == '`' {
                // Code: skip to the closing backtick (``` or `), honouring escapes.
                let fence = chars[i..].starts_with(&['`', '`', '`']);
                let w = if fence { 3 } else { 1 };
                let mut j = i + w;
                loop {
                    assert!(j < chars.len(), "unclosed code in {out:?}");
                    if chars[j] == '\\' {
                        assert!(matches!(chars.get(j + 1), Some('\\' | '`')), "bad escape in code {out:?}");
                        j += 2;
                    } else if chars[j..].starts_with(&vec!['`'; w]) {
                        break;
                    } else {
                        j += 1;
                    }
                }
                i = j + w;
                continue;
            }
            if c == ']' && chars.get(i + 1) == Some(&'(') {
                // A link's url: only `)` and `\` are escaped there.
                let mut j = i + 2;
                while chars.get(j).is_some_and(|&x| x != ')') {
                    j += if chars[j] == '\\' { 2 } else { 1 };
                }
                brackets -= 1;
                i = j + 1;
                continue;
            }
            match c {
                '*' => stars += 1,
                '_' => unders += 1,
                '~' => tildes += 1,
                '[' => brackets += 1,
                ']' => brackets -= 1,
                '(' => parens += 1,
                ')' => parens -= 1,
                '>' => assert!(line_start, "unescaped > in {out:?}"),
                '\n' => {}
                c if RESERVED.contains(c) => panic!("unescaped {c:?} in {out:?}"),
                _ => {}
            }
            line_start = c == '\n';
            i += 1;
        }
        assert!(stars % 2 == 0 && unders % 2 == 0 && tildes % 2 == 0, "unbalanced in {out:?}");
        assert!(brackets == 0 && parens == 0, "unbalanced brackets in {out:?}");
    }

    fn v2(md: &str) -> String {
        let out = to_telegram_v2(md);
        assert_valid_v2(&out);
        out
    }

    #[test]
    fn escapes_reserved_characters() {
        assert_eq!(v2("Hello. 1+1=2! (really) {x} #tag a|b"), r"Hello\. 1\+1\=2\! \(really\) \{x\} \#tag a\|b");
        assert_eq!(v2(r"C:\path"), r"C:\\path");
        assert_eq!(v2("a - b > c"), r"a \- b \> c");
    }

    #[test]
    fn emphasis() {
        assert_eq!(v2("**bold** and *it* and _it2_ and ~~gone~~"), "*bold* and _it_ and _it2_ and ~gone~");
        assert_eq!(v2("**bold with _italic_ inside**"), "*bold with _italic_ inside*");
        assert_eq!(v2("__strong__"), "*strong*");
    }

    #[test]
    fn unbalanced_markers_are_literal() {
        assert_eq!(v2("**unclosed bold"), r"\*\*unclosed bold");
        assert_eq!(v2("2*3=6"), r"2\*3\=6");
        assert_eq!(v2("snake_case_words here"), r"snake\_case\_words here");
        assert_eq!(v2("a * b * c"), r"a \* b \* c");
        assert_eq!(v2("~~open"), r"\~\~open");
        assert_eq!(v2("[not a link"), r"\[not a link");
        assert_eq!(v2("`unclosed code"), r"\`unclosed code");
        v2("***both***");
        v2("*a **b* c**");
        v2("_a *b_ c*");
        v2("**a** **b");
    }

    #[test]
    fn code_escapes_only_backtick_and_backslash() {
        assert_eq!(v2("run `a_b*c.d(e)` now."), r"run `a_b*c.d(e)` now\.");
        assert_eq!(v2(r"`C:\dir`"), r"`C:\\dir`");
        assert_eq!(v2("``a ` b``"), r"`a \` b`");
        let md = "```rust\nfn main() { let a_b = 1.0; } // `x` \\n\n```";
        assert_eq!(v2(md), "```rust\nfn main() { let a_b = 1.0; } // \\`x\\` \\\\n\n```");
        // An unterminated fence is closed.
        assert_eq!(v2("```\ncode"), "```\ncode\n```");
    }

    #[test]
    fn headings_lists_quotes() {
        assert_eq!(v2("# Title!"), r"*Title\!*");
        // Bold cannot nest in the bold heading: the inner markers are literal.
        assert_eq!(v2("### Sub **bold**"), r"*Sub \*\*bold\*\**");
        assert_eq!(v2("- one\n* two\n  - nested"), "• one\n• two\n  • nested");
        assert_eq!(v2("1. first\n2) second"), "1\\. first\n2\\. second");
        assert_eq!(v2("> quoted."), r">quoted\.");
        assert_eq!(v2("#hashtag"), r"\#hashtag");
        assert_eq!(v2("---"), "——");
    }

    #[test]
    fn links_and_urls() {
        assert_eq!(v2("[the docs](https://x.org/a_b)"), "[the docs](https://x.org/a_b)");
        assert_eq!(v2("[p](https://x.org/f(1)\\)"), r"[p](https://x.org/f(1\)\\)");
        assert_eq!(v2("see https://x.org/a_b_c?q=1 ok"), r"see https://x\.org/a\_b\_c?q\=1 ok");
        assert_eq!(v2("[**b**](http://h)"), "[*b*](http://h)");
    }

    #[test]
    fn tricky_inputs_stay_valid() {
        let inputs = [
            "",
            "*",
            "**",
            "***",
            "_",
            "__",
            "~",
            "`",
            "``",
            "```",
            "[",
            "]",
            "()",
            "[]()",
            "\\",
            "a_b_c_d",
            "*_*_",
            "_*_*",
            "**_x_**",
            "~~**x**~~",
            "**~~x~~**",
            "* * *",
            "1.5 * 2",
            "x ** y",
            "f(x)=y_1*z_2",
            "[a](b) [c](d",
            "> > nested",
            "#",
            "# ",
            "- ",
            "1. ",
            "end\\",
            "`a`b`",
            "__init__.py",
            "**bold**text**",
            "mid*dle*word",
            "price: $5.00!",
            "[link](url_with_under_score)",
            "***bold italic***",
            "_*nested*_",
            "*_nested_*",
        ];
        for md in inputs {
            v2(md);
            // The plain text keeps every word.
            let _ = to_plain(md);
        }
    }

    #[test]
    fn plain_strips_markup() {
        assert_eq!(to_plain("# Title\n**bold** _it_ ~~s~~ `code`"), "Title\nbold it s code");
        assert_eq!(to_plain("[docs](https://x.org) and 2*3=6"), "docs (https://x.org) and 2*3=6");
        assert_eq!(to_plain("```py\nprint('x')\n```"), "print('x')");
        assert_eq!(to_plain("- a\n1. b\n> c"), "• a\n1. b\nc");
        assert_eq!(to_plain("snake_case_words"), "snake_case_words");
    }
}
