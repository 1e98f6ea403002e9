//! HTML to readable text for web_extract: the title, the text of the body with block elements
//! on lines of their own, scripts, styles, navigation and the head dropped, entities decoded and
//! whitespace collapsed. A small scanner, not a parser: broken markup degrades, never fails.

/// Elements whose content is not text a reader wants.
const SKIPPED: &[&str] = &["script", "style", "nav", "head", "noscript", "svg", "template", "iframe", "select"];
/// Elements that start a new line.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "aside",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "hr",
    "dd",
    "dt",
    "dl",
    "form",
    "figure",
    "figcaption",
    "td",
    "th",
    "title",
    "body",
];

/// Elements followed by a blank line when they close.
const PARAGRAPHS: &[&str] = &["p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre", "blockquote"];

/// `(title, text)` of an HTML document.
pub fn to_text(html: &str) -> (Option<String>, String) {
    let lower = html.to_ascii_lowercase();
    let title = lower.find("<title").and_then(|start| {
        let open_end = start + lower[start..].find('>')? + 1;
        let close = open_end + lower[open_end..].find("</title")?;
        Some(collapse(&decode(&html[open_end..close]))).filter(|t| !t.is_empty())
    });
    let mut out = String::with_capacity(html.len() / 2);
    let mut i = 0;
    while i < html.len() {
        let Some(lt) = html[i..].find('<').map(|p| i + p) else {
            push_text(&mut out, &html[i..]);
            break;
        };
        push_text(&mut out, &html[i..lt]);
        if lower[lt..].starts_with("<!--") {
            i = lower[lt..].find("-->").map_or(html.len(), |p| lt + p + 3);
            continue;
        }
        let Some(gt) = html[lt..].find('>').map(|p| lt + p) else { break };
        let tag = &lower[lt + 1..gt];
        let closing = tag.starts_with('/');
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        i = gt + 1;
        if !closing && SKIPPED.contains(&name.as_str()) && !tag.ends_with('/') {
            let close = format!("</{name}");
            i = lower[i..].find(&close).map_or(html.len(), |p| {
                let end = i + p;
                lower[end..].find('>').map_or(html.len(), |q| end + q + 1)
            });
            continue;
        }
        if closing && PARAGRAPHS.contains(&name.as_str()) {
            out.push_str("\n\0\n"); // a paragraph break: one blank line (see `tidy`)
        } else if BLOCKS.contains(&name.as_str()) {
            out.push('\n');
            if name == "li" && !closing {
                out.push_str("- ");
            }
        } else if name == "td" || name == "th" {
            out.push(' ');
        }
    }
    (title, tidy(&out))
}

fn push_text(out: &mut String, raw: &str) {
    if !raw.is_empty() {
        out.push_str(&decode(raw).replace(['\n', '\r', '\t', '\0'], " "));
    }
}

/// Lines trimmed, runs of spaces made one, empty lines dropped; a paragraph break (a line
/// holding `\0`) becomes one blank line.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = collapse(line);
        if line == "\0" {
            blank += 1;
            continue;
        }
        if line.is_empty() || line == "-" {
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(&line);
    }
    out
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes character references: numeric ones and the named ones pages commonly use.
pub fn decode(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..].find(|c: char| !c.is_ascii_alphanumeric() && c != '#').map_or(rest.len(), |p| p + 1);
        let entity = &rest[1..end];
        let ch = match entity.strip_prefix('#') {
            Some(num) => {
                let n = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                };
                n.and_then(char::from_u32)
            }
            None => named(entity),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end..];
                rest = rest.strip_prefix(';').unwrap_or(rest);
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn named(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "middot" => '·',
        "bull" => '•',
        "euro" => '€',
        "deg" => '°',
        _ => return None,
    })
}

/// Cuts `text` to `limit` characters keeping its head (¾) and tail (¼) around a marker.
pub fn cut(text: &str, limit: usize) -> String {
    let total = text.chars().count();
    if total <= limit {
        return text.to_string();
    }
    let head = limit * 3 / 4;
    let tail = limit - head;
    let head_end = text.char_indices().nth(head).map_or(text.len(), |(i, _)| i);
    let tail_start = text.char_indices().nth(total - tail).map_or(text.len(), |(i, _)| i);
    format!(
        "{}\n\n[... {} characters omitted; the page is longer than char_limit {limit} ...]\n\n{}",
        &text[..head_end],
        total - head - tail,
        &text[tail_start..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_title_and_readable_text_and_drops_scripts_styles_nav_and_head() {
        let html = "<!DOCTYPE html><html><head><title>A &amp; B</title><style>p{color:red}</style>\
            <meta name=x></head><body><nav><a href=/>Home</a></nav><script>var x = '<p>no</p>';</script>\
            <h1>Hello&nbsp;world</h1><p>First   para\n graph &lt;ok&gt; &#169; &#x263A; &bogus; a&b</p>\
            <!-- <p>hidden</p> --><ul><li>one</li><li>two</li></ul><div>x<br>y</div></body></html>";
        let (title, text) = to_text(html);
        assert_eq!(title.as_deref(), Some("A & B"));
        assert_eq!(text, "Hello world\n\nFirst para graph <ok> © ☺ &bogus; a&b\n\n- one\n- two\n\nx\ny", "{text}");
    }

    #[test]
    fn broken_markup_degrades_without_panicking() {
        for html in ["<p>open", "<script>never closed", "a < b and c > d", "<", "&", "&#xZZ;", "<!-- x", "é<b>ü</b>"]
        {
            let _ = to_text(html);
        }
        assert_eq!(to_text("é<b>ü</b>").1, "éü");
    }

    #[test]
    fn long_text_is_cut_to_head_and_tail_within_the_budget() {
        let text: String = (0..10_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let out = cut(&text, 2000);
        assert!(out.starts_with(&text[..1500]) && out.ends_with(&text[10_000 - 500..]));
        assert!(out.contains("8000 characters omitted"));
        assert_eq!(cut("short", 2000), "short");
    }
}
