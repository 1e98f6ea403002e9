//! The web and memory tools inside real turns: the model (the scripted fake) calls them, the
//! test reads what the model got back in its next request.

mod common;

use std::sync::Arc;

use common::{ann, bin, wait_text};
use hermes_testkit::http::{Request, Responder, Server};
use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, LlmRequest, Reply, User};

/// The tool result the model saw in request `n`.
fn tool_result(requests: &[LlmRequest], n: usize) -> String {
    requests[n].messages.iter().find(|(role, _)| role == "tool").map(|(_, c)| c.clone()).expect("a tool result")
}

/// Runs one turn in which the model calls `tool` with `args`, then answers "done".
fn one_call(extra_yaml: &str, extra_env: &str, tool: &str, args: &str) -> (String, HermesHome) {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    llm.push(Reply::tool_call(tool, args));
    llm.push(Reply::text("done"));
    let home = HermesHome::standard_with(&tg, &llm, "42", extra_yaml);
    home.write_env(&format!("{}{extra_env}", home.read_file(".env")));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "go");
    wait_text(&tg, 42, "done");
    let requests = llm.requests();
    assert!(requests[0].tools.iter().any(|t| t == tool), "{tool} not offered: {:?}", requests[0].tools);
    (tool_result(&requests, 1), home)
}

fn site() -> Server {
    Server::start(
        Arc::new(|req: &Request, res: &mut Responder| match req.path.as_str() {
            "/" => res.send(302, "text/plain", &[("Location", "/second")], b""),
            "/second" => res.send(
                200,
                "text/html; charset=utf-8",
                &[],
                b"<html><head><title>Second page</title><script>alert(1)</script></head>\
                  <body><nav>menu</nav><h1>Welcome</h1><p>Tea &amp; biscuits</p></body></html>",
            ),
            _ => res.send(404, "text/plain", &[], b"no"),
        }),
        None,
    )
}

#[test]
fn web_extract_refuses_loopback_by_default() {
    let server = site();
    let args = format!(r#"{{"urls":["http://127.0.0.1:{}/"]}}"#, server.port());
    let (result, _home) = one_call("", "", "web_extract", &args);
    assert!(result.contains("loopback") && result.contains("web.allow_private_urls"), "{result}");
    assert!(!result.contains("Welcome"), "{result}");
}

#[test]
fn web_extract_follows_a_redirect_and_returns_readable_text_when_private_urls_are_allowed() {
    let server = site();
    let args = format!(r#"{{"urls":["http://127.0.0.1:{}/"]}}"#, server.port());
    let (result, _home) = one_call("web:\n  allow_private_urls: true\n", "", "web_extract", &args);
    assert!(result.contains(r#""title":"Second page""#), "{result}");
    assert!(result.contains(r"Welcome\n\nTea & biscuits"), "{result}");
    assert!(result.contains(&format!("http://127.0.0.1:{}/second", server.port())), "{result}");
    assert!(!result.contains("alert") && !result.contains("menu"), "{result}");
}

#[test]
fn web_search_reads_a_searxng_instance() {
    let queries = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = queries.clone();
    let server = Server::start(
        Arc::new(move |req: &Request, res: &mut Responder| {
            seen.lock().unwrap().push(format!("{}?{}", req.path, req.query));
            res.json(
                200,
                r#"{"query":"rust","results":[
                    {"title":"Rust","url":"https://www.rust-lang.org/","content":"A language"},
                    {"title":"Crates","url":"https://crates.io/","content":"Packages"},
                    {"title":"Docs","url":"https://docs.rs/","content":"Documentation"}]}"#,
            )
        }),
        None,
    );
    let env = format!("SEARXNG_URL=http://127.0.0.1:{}\n", server.port());
    let (result, _home) = one_call("", &env, "web_search", r#"{"query":"rust lang","limit":2}"#);
    assert!(
        result.contains(r#"{"description":"A language","title":"Rust","url":"https://www.rust-lang.org/"}"#),
        "{result}"
    );
    assert!(result.contains("crates.io") && !result.contains("docs.rs"), "limit 2: {result}");
    let q = queries.lock().unwrap().clone();
    assert_eq!(q, vec!["/search?q=rust%20lang&format=json".to_string()]);
}

#[test]
fn web_search_without_a_backend_names_the_variables() {
    let (result, _home) = one_call("", "", "web_search", r#"{"query":"x"}"#);
    assert!(
        result.contains("SEARXNG_URL") && result.contains("BRAVE_API_KEY") && result.contains("TAVILY_API_KEY"),
        "{result}"
    );
}

#[test]
fn a_memory_saved_in_one_session_is_in_the_next_sessions_prompt_only() {
    let tg = FakeTelegram::start();
    let llm = FakeLlm::start();
    llm.push(Reply::tool_call("memory", r#"{"target":"user","action":"add","content":"Ann likes green tea"}"#));
    llm.push(Reply::text("saved"));
    let home = HermesHome::standard(&tg, &llm, "42,43");
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&Chat::private(42), &ann(), "I like green tea");
    wait_text(&tg, 42, "saved");
    let saved = tool_result(&llm.requests(), 1);
    assert!(saved.contains(r#""success":true"#), "{saved}");
    assert_eq!(home.read_file("memories/USER.md"), "Ann likes green tea");

    // The same session keeps its stored prompt (frozen snapshot).
    tg.user_says(&Chat::private(42), &ann(), "and now?");
    wait_text(&tg, 42, "echo: and now?");
    // Another chat is another session: its prompt is built now, with the entry.
    tg.user_says(&Chat::private(43), &User::new(43, "Bob"), "hello");
    wait_text(&tg, 43, "echo: hello");

    let requests = llm.requests();
    assert_eq!(requests.len(), 4);
    let system = |n: usize| requests[n].messages[0].1.clone();
    assert_eq!(system(0), system(2), "the session's later turns reuse its prompt");
    assert!(!system(2).contains("green tea"));
    let sep = "═".repeat(46);
    let block = format!("{sep}\nUSER PROFILE (who the user is) [1% — 19/1,375 chars]\n{sep}\nAnn likes green tea");
    assert!(system(3).contains(&block), "{}", system(3));
}
