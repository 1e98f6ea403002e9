//! web_search backends: SearXNG (`SEARXNG_URL`), Brave (`BRAVE_API_KEY` or
//! `BRAVE_SEARCH_API_KEY`) and Tavily (`TAVILY_API_KEY`); `web.backend` forces one, else the
//! first configured in that order wins. Each answer becomes `{title, url, description}` items.

use std::io::Read;

use miniserde::json::{Array, Object, Value};

use crate::config::SearchBackend;
use crate::tools::ToolEnv;
use crate::tools::args::s;

/// Bytes of a search answer read at most.
const MAX_ANSWER_BYTES: u64 = 2 * 1024 * 1024;

const NONE_CONFIGURED: &str = "no web search backend is configured: set SEARXNG_URL (a SearXNG instance), \
BRAVE_API_KEY (Brave Search) or TAVILY_API_KEY (Tavily) in HERMES_HOME/.env";

fn brave_key(env: &ToolEnv) -> Option<&str> {
    env.config.env_var("BRAVE_API_KEY").or_else(|| env.config.env_var("BRAVE_SEARCH_API_KEY"))
}

/// The backend in use: the configured one, else the first with its variable set.
pub fn backend(env: &ToolEnv) -> Result<SearchBackend, String> {
    if let Some(b) = env.config.web.backend {
        return Ok(b);
    }
    if env.config.env_var("SEARXNG_URL").is_some() {
        Ok(SearchBackend::Searxng)
    } else if brave_key(env).is_some() {
        Ok(SearchBackend::Brave)
    } else if env.config.env_var("TAVILY_API_KEY").is_some() {
        Ok(SearchBackend::Tavily)
    } else {
        Err(NONE_CONFIGURED.into())
    }
}

/// Runs the search and returns at most `limit` results.
pub fn search(env: &ToolEnv, query: &str, limit: usize) -> Result<Vec<Value>, String> {
    let need = |name: &str, v: Option<&str>| -> Result<String, String> {
        v.map(str::to_string).ok_or_else(|| format!("web search: {name} is not set ({NONE_CONFIGURED})"))
    };
    // The search service is the operator's choice (often a SearXNG on the LAN): no SSRF filter.
    let agent = super::fetch::agent(env, false)?;
    let base = |var: &str, default: &str| env.config.env_var(var).unwrap_or(default).trim_end_matches('/').to_string();
    let (name, request) = match backend(env)? {
        SearchBackend::Searxng => {
            let url = need("SEARXNG_URL", env.config.env_var("SEARXNG_URL"))?;
            let url = format!("{}/search?q={}&format=json", url.trim_end_matches('/'), encode(query));
            ("SearXNG", agent.get(&url).header("Accept", "application/json").call())
        }
        SearchBackend::Brave => {
            let key = need("BRAVE_API_KEY", brave_key(env))?;
            let url = format!(
                "{}/res/v1/web/search?q={}&count={}",
                base("BRAVE_SEARCH_URL", "https://api.search.brave.com"),
                encode(query),
                limit.min(20)
            );
            ("Brave", agent.get(&url).header("Accept", "application/json").header("X-Subscription-Token", &key).call())
        }
        SearchBackend::Tavily => {
            let key = need("TAVILY_API_KEY", env.config.env_var("TAVILY_API_KEY"))?;
            let mut body = Object::new();
            body.insert("api_key".into(), s(key.as_str()));
            body.insert("query".into(), s(query));
            body.insert("max_results".into(), crate::tools::args::n(limit.min(20) as i64));
            let url = format!("{}/search", base("TAVILY_URL", "https://api.tavily.com"));
            let body = miniserde::json::to_string(&Value::Object(body));
            ("Tavily", agent.post(&url).header("Content-Type", "application/json").send(body.as_bytes()))
        }
    };
    let response = request.map_err(|e| format!("{name} search failed: {e}"))?;
    let status = response.status().as_u16();
    let mut text = String::new();
    response
        .into_body()
        .into_reader()
        .take(MAX_ANSWER_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("{name} search failed: {e}"))?;
    if status >= 400 {
        let shown: String = text.chars().take(200).collect();
        return Err(format!("{name} search failed: HTTP {status}: {shown}"));
    }
    let answer: Value =
        miniserde::json::from_str(&text).map_err(|_| format!("{name} answered something that is not JSON"))?;
    let list = match (name, &answer) {
        ("Brave", Value::Object(o)) => o.get("web").and_then(|w| field(w, "results")),
        (_, Value::Object(o)) => o.get("results"),
        _ => None,
    };
    let Some(Value::Array(items)) = list else { return Ok(Vec::new()) };
    Ok(items.iter().take(limit).filter_map(item).collect())
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(o) => o.get(key),
        _ => None,
    }
}

fn text(v: &Value, key: &str) -> String {
    match field(v, key) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// `{title, url, description}` of one hit (`description` for Brave, `content` elsewhere).
fn item(v: &Value) -> Option<Value> {
    let url = text(v, "url");
    if url.is_empty() {
        return None;
    }
    let mut description = text(v, "description");
    if description.is_empty() {
        description = text(v, "content");
    }
    let mut o = Object::new();
    o.insert("title".into(), s(super::html::decode(&strip_tags(&text(v, "title")))));
    o.insert("url".into(), s(url));
    o.insert("description".into(), s(super::html::decode(&strip_tags(&description))));
    Some(Value::Object(o))
}

/// Brave marks matches with `<strong>`; the model wants plain text.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Percent-encodes a query parameter value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The results as an array value.
pub fn array(items: Vec<Value>) -> Value {
    let mut a = Array::new();
    a.extend(items);
    Value::Array(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded_and_markup_stripped() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        let v: Value =
            miniserde::json::from_str(r#"{"title":"<strong>Rust</strong> &amp; co","url":"u","description":"d"}"#)
                .unwrap();
        let out = miniserde::json::to_string(&item(&v).unwrap());
        assert!(out.contains(r#""title":"Rust & co""#), "{out}");
        assert!(item(&miniserde::json::from_str(r#"{"title":"no url"}"#).unwrap()).is_none());
    }

    #[test]
    fn without_a_backend_the_error_names_the_variables_to_set() {
        let env = crate::tools::test_env::env(std::path::Path::new("/nonexistent"));
        let e = backend(&env).unwrap_err();
        assert!(e.contains("SEARXNG_URL") && e.contains("BRAVE_API_KEY") && e.contains("TAVILY_API_KEY"), "{e}");
    }
}
