//! The `web` toolset: `web_search` (a search service the operator configured) and
//! `web_extract` (pages the model names, as readable text, behind the SSRF guard). Both are
//! read-only, so several calls of one response run side by side.

mod fetch;
pub mod html;
mod search;
pub mod ssrf;

use miniserde::json::{Object, Value};

use super::args::{self, object, s};
use super::{ToolEnv, ToolSpec};

const MAX_URLS: usize = 5;

pub fn search_spec() -> ToolSpec {
    ToolSpec {
        name: "web_search",
        toolset: "web",
        description: "Search the web for information on any topic. Returns up to `limit` results with title, URL \
            and description. Use web_extract to read a result in full.",
        parameters: r#"{"type":"object","properties":{
            "query":{"type":"string","description":"The search query to look up on the web"},
            "limit":{"type":"integer","description":"Number of results to return (1-100, default 5)","minimum":1,"maximum":100,"default":5}},
            "required":["query"]}"#,
        read_only: true,
        run: run_search,
    }
}

pub fn extract_spec() -> ToolSpec {
    ToolSpec {
        name: "web_extract",
        toolset: "web",
        description: "Extract the readable content of web pages (up to 5 URLs) as text. Pages longer than \
            char_limit keep their beginning and end. Only public http(s) addresses can be fetched.",
        parameters: r#"{"type":"object","properties":{
            "urls":{"type":"array","items":{"type":"string"},"maxItems":5,"description":"List of URLs to extract content from (max 5 URLs per call)"},
            "char_limit":{"type":"integer","minimum":2000,"description":"Characters kept per page (default 15000)"}},
            "required":["urls"]}"#,
        read_only: true,
        run: run_extract,
    }
}

fn run_search(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let query = args::string(a, "query")?;
    if query.trim().is_empty() {
        return Err("argument \"query\" must not be empty".into());
    }
    let limit = args::opt_int(a, "limit", 1, 100)?.unwrap_or(5) as usize;
    let results = search::search(env, query.trim(), limit)?;
    Ok(object(vec![("results", search::array(results))]))
}

fn run_extract(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let urls = args::opt_strings(a, "urls")?.unwrap_or_default();
    if urls.is_empty() || urls.len() > MAX_URLS {
        return Err(format!("argument \"urls\" must list 1 to {MAX_URLS} URLs, not {}", urls.len()));
    }
    let limit =
        args::opt_int(a, "char_limit", 2000, 10_000_000)?.map_or(env.config.web.extract_char_limit, |n| n as usize);
    let guard = !env.config.web.allow_private_urls;
    let agent = fetch::agent(env, guard)?;
    let mut results = Vec::new();
    for url in &urls {
        if env.cancelled() {
            break;
        }
        let mut o = Object::new();
        o.insert("url".into(), s(url.as_str()));
        match fetch::fetch(&agent, url, guard).and_then(|page| readable(&page, limit)) {
            Ok((final_url, title, content)) => {
                if final_url != *url {
                    o.insert("final_url".into(), s(final_url));
                }
                o.insert("title".into(), s(title.unwrap_or_default()));
                o.insert("content".into(), s(content));
            }
            Err(e) => {
                o.insert("error".into(), s(e));
            }
        }
        results.push(Value::Object(o));
    }
    Ok(object(vec![("results", search::array(results))]))
}

/// `(final url, title, text)` of a fetched page; HTML becomes text, other text is kept, binary
/// content is refused.
fn readable(page: &fetch::Page, limit: usize) -> Result<(String, Option<String>, String), String> {
    let ct = page.content_type.to_ascii_lowercase();
    let body = String::from_utf8_lossy(&page.body);
    let looks_html = body.trim_start().get(..1) == Some("<");
    let (title, mut text) = if ct.contains("html") || (ct.is_empty() && looks_html) {
        html::to_text(&body)
    } else if ct.is_empty() || ct.starts_with("text/") || ct.contains("json") || ct.contains("xml") {
        (None, body.into_owned())
    } else {
        return Err(format!("{} is {} content, not a text page", page.url, page.content_type));
    };
    if page.truncated {
        text.push_str(&format!(
            "\n\n[the page is larger than {} bytes; only its beginning was read]",
            fetch::MAX_BODY_BYTES
        ));
    }
    Ok((page.url.clone(), title, html::cut(&text, limit)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_env;

    fn run(tool: super::super::Run, args: &str) -> Result<String, String> {
        let env = test_env::env(std::path::Path::new("/nonexistent"));
        tool(&env, &miniserde::json::from_str(args).unwrap())
    }

    #[test]
    fn url_count_and_char_limit_are_checked() {
        assert!(run(run_extract, r#"{"urls":[]}"#).unwrap_err().contains("1 to 5 URLs"));
        let six = r#"{"urls":["http://a","http://b","http://c","http://d","http://e","http://f"]}"#;
        assert!(run(run_extract, six).unwrap_err().contains("not 6"));
        assert!(run(run_extract, r#"{"urls":["http://a"],"char_limit":10}"#).unwrap_err().contains("char_limit"));
    }

    #[test]
    fn private_addresses_are_refused_per_url() {
        let out = run(run_extract, r#"{"urls":["http://127.0.0.1:1/","file:///etc/passwd"]}"#).unwrap();
        assert!(out.contains("loopback") && out.contains("only http and https"), "{out}");
    }
}
