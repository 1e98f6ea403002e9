//! The fake LLM speaks OpenAI's chat completion wire format, streamed and not.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use common::{agent, at, get, parse, post_json, s};
use hermes_testkit::{FakeLlm, Gate, Reply, wait_until};
use miniserde::json::Value;

const T: Duration = Duration::from_secs(10);

fn body(text: &str, stream: bool) -> String {
    format!(
        r#"{{"model":"test-model","stream":{stream},"messages":[{{"role":"system","content":"be brief"}},{{"role":"user","content":{}}}],"tools":[{{"type":"function","function":{{"name":"todo","parameters":{{}}}}}}]}}"#,
        miniserde::json::to_string(&text.to_string())
    )
}

/// Splits an SSE body into its `data:` payloads, checking each event ends with a blank line.
fn sse_data(raw: &str) -> Vec<String> {
    assert!(raw.ends_with("\n\n"), "stream does not end with a blank line: {raw:?}");
    raw.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").unwrap_or_else(|| panic!("not a data event: {e:?}")).to_string())
        .collect()
}

fn stream(llm: &FakeLlm, text: &str) -> Vec<String> {
    let a = agent();
    let mut r = a
        .post(format!("{}/chat/completions", llm.base_url()))
        .header("Authorization", "Bearer sk-test")
        .send(body(text, true))
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers().get("content-type").unwrap(), "text/event-stream");
    sse_data(&common::read_all(&mut r))
}

fn content_of(events: &[String]) -> (String, usize) {
    let mut text = String::new();
    let mut n = 0;
    for e in events.iter().filter(|e| *e != "[DONE]") {
        let v = parse(e);
        if let Value::Array(ch) = at(&v, "choices")
            && let Some(Value::Object(c)) = ch.first()
            && let Some(Value::Object(d)) = c.get("delta")
            && let Some(Value::String(t)) = d.get("content")
        {
            if !t.is_empty() {
                n += 1;
            }
            text.push_str(t);
        }
    }
    (text, n)
}

#[test]
fn streamed_text_deltas_join_to_the_reply() {
    let llm = FakeLlm::start();
    llm.push(Reply::text("Hello there, streaming world!"));
    let events = stream(&llm, "hi");
    assert_eq!(events.last().unwrap(), "[DONE]");
    let (text, n) = content_of(&events);
    assert_eq!(text, "Hello there, streaming world!");
    assert_eq!(n, 4);
    let finish = parse(&events[events.len() - 2]);
    assert_eq!(s(at(&finish, "choices.0.finish_reason")), "stop");
    assert_eq!(s(at(&finish, "object")), "chat.completion.chunk");
    assert!(s(at(&finish, "usage.total_tokens")).parse::<u64>().unwrap() > 0);
    assert_eq!(s(at(&parse(&events[0]), "choices.0.delta.role")), "assistant");

    // Default reply echoes; chunk count follows .chunks().
    let (text, _) = content_of(&stream(&llm, "ping"));
    assert_eq!(text, "echo: ping");
    llm.push(Reply::text("abcdefgh").chunks(8));
    assert_eq!(content_of(&stream(&llm, "x")), ("abcdefgh".into(), 8));

    let reqs = llm.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs[0].stream);
    assert_eq!(reqs[0].last_user(), Some("hi"));
    assert_eq!(reqs[0].messages[0], ("system".to_string(), "be brief".to_string()));
    assert_eq!(reqs[0].tools, vec!["todo".to_string()]);
    assert_eq!(reqs[0].authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(reqs[0].model, "test-model");
}

#[test]
fn usage_gets_its_own_chunk_when_asked() {
    let llm = FakeLlm::start();
    let a = agent();
    let req = r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":[{"type":"text","text":"multi"},{"type":"text","text":"part"}]}]}"#;
    let mut r = a.post(format!("{}/chat/completions", llm.base_url())).send(req).unwrap();
    let events = sse_data(&common::read_all(&mut r));
    let usage = parse(&events[events.len() - 2]);
    assert_eq!(s(at(&usage, "choices")), "[]");
    assert!(matches!(at(&usage, "usage.prompt_tokens"), Value::Number(_)));
    assert_eq!(content_of(&events).0, "echo: multipart");
    assert_eq!(llm.requests()[0].last_user(), Some("multipart"));
}

#[test]
fn tool_call_deltas_carry_id_name_and_split_arguments() {
    let llm = FakeLlm::start();
    llm.push(Reply::tool_call("todo", r#"{"action":"add","text":"buy milk"}"#));
    llm.push(Reply::tool_call("memory", r#"{"q":1}"#));
    let events = stream(&llm, "add milk");
    let mut name = String::new();
    let mut args = String::new();
    let mut ids = Vec::new();
    let mut arg_deltas = 0;
    for e in events.iter().filter(|e| *e != "[DONE]") {
        let v = parse(e);
        if let Value::Object(d) = at(&v, "choices.0.delta")
            && let Some(Value::Array(calls)) = d.get("tool_calls")
        {
            let c = &calls[0];
            assert_eq!(s(at(c, "index")), "0");
            if let Value::Object(o) = c
                && let Some(id) = o.get("id")
            {
                ids.push(s(id));
            }
            if let Value::Object(f) = at(c, "function") {
                if let Some(n) = f.get("name") {
                    name.push_str(&s(n));
                }
                let a = s(f.get("arguments").unwrap());
                if !a.is_empty() {
                    arg_deltas += 1;
                }
                args.push_str(&a);
            }
        }
    }
    assert_eq!(name, "todo");
    assert_eq!(args, r#"{"action":"add","text":"buy milk"}"#);
    assert_eq!(ids, vec!["call_1"]);
    assert_eq!(arg_deltas, 2);
    let finish = parse(&events[events.len() - 2]);
    assert_eq!(s(at(&finish, "choices.0.finish_reason")), "tool_calls");

    // Non-streamed: one message with the call; ids keep counting.
    let (st, b) = post_json(&agent(), &format!("{}/chat/completions", llm.base_url()), &body("more", false));
    assert_eq!(st, 200);
    let v = parse(&b);
    assert_eq!(s(at(&v, "object")), "chat.completion");
    assert_eq!(s(at(&v, "choices.0.finish_reason")), "tool_calls");
    assert_eq!(s(at(&v, "choices.0.message.tool_calls.0.id")), "call_2");
    assert_eq!(s(at(&v, "choices.0.message.tool_calls.0.function.name")), "memory");
    assert_eq!(s(at(&v, "choices.0.message.tool_calls.0.function.arguments")), r#"{"q":1}"#);
}

#[test]
fn rules_win_over_the_script_and_persist() {
    let llm = FakeLlm::start();
    llm.on("weather", Reply::text("sunny"));
    llm.push(Reply::text("scripted"));
    let url = format!("{}/chat/completions", llm.base_url());
    let a = agent();
    let reply = |t: &str| s(at(&parse(&post_json(&a, &url, &body(t, false)).1), "choices.0.message.content"));
    assert_eq!(reply("what's the weather?"), "sunny");
    assert_eq!(reply("weather again"), "sunny");
    assert_eq!(reply("other"), "scripted");
    assert_eq!(reply("other"), "echo: other");
    let (st, models) = get(&a, &format!("{}/models", llm.base_url()));
    assert_eq!(st, 200);
    assert_eq!(s(at(&parse(&models), "data.0.id")), "test-model");
}

#[test]
fn status_replies_carry_retry_after() {
    let llm = FakeLlm::start();
    let err = r#"{"error":{"message":"Rate limit reached","type":"rate_limit_error","code":"rate_limit_exceeded"}}"#;
    llm.push(Reply::status(429, err).retry_after(7));
    llm.push(Reply::status(500, r#"{"error":{"message":"boom"}}"#));
    let a = agent();
    let url = format!("{}/chat/completions", llm.base_url());
    let mut r = a.post(&url).send(body("x", true)).unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers().get("retry-after").unwrap(), "7");
    assert_eq!(r.body_mut().read_to_string().unwrap(), err);
    assert_eq!(post_json(&a, &url, &body("x", true)).0, 500);
    assert_eq!(post_json(&a, &url, &body("x", true)).0, 200);
    assert!(llm.wait_requests(3, T));
}

#[test]
fn hold_sends_the_first_chunk_then_waits_for_the_gate() {
    let llm = FakeLlm::start();
    let gate = Gate::new();
    llm.push(Reply::text("one two three four").hold(&gate));
    let url = format!("{}/chat/completions", llm.base_url());
    let reader = thread::spawn(move || {
        let mut r = agent().post(&url).send(body("hold", true)).unwrap();
        let mut lines = BufReader::new(r.body_mut().as_reader());
        let mut first = String::new();
        lines.read_line(&mut first).unwrap();
        let mut rest = String::new();
        lines.read_to_string(&mut rest).unwrap();
        (first, rest)
    });
    assert!(llm.wait_requests(1, T));
    assert!(!gate.is_open());
    gate.open();
    let (first, rest) = reader.join().unwrap();
    let mut all = first.clone();
    all.push_str(&rest);
    assert!(first.starts_with("data: "));
    assert_eq!(content_of(&sse_data(&all)).0, "one two three four");
}

#[test]
fn held_stream_is_really_paused_until_the_gate_opens() {
    // The client sees the first chunk while the gate is still closed.
    let llm = FakeLlm::start();
    let gate = Gate::new();
    llm.push(Reply::text("alpha beta").chunks(2).hold(&gate));
    let mut r = agent().post(format!("{}/chat/completions", llm.base_url())).send(body("x", true)).unwrap();
    let mut reader = BufReader::new(r.body_mut().as_reader());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.contains(r#""content":"alpha""#), "{first}");
    assert!(!gate.is_open());
    gate.open();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert!(rest.contains(r#""content":" beta""#), "{rest}");
    assert!(rest.ends_with("data: [DONE]\n\n"));
}

#[test]
fn stalled_stream_ends_when_the_client_leaves() {
    let llm = FakeLlm::start();
    llm.push(Reply::stall_after_first_chunk());
    let port = llm.port();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let b = body("x", true);
    write!(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{b}", b.len()).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    while !line.starts_with("data: ") {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    drop(reader);
    conn.shutdown(std::net::Shutdown::Both).unwrap();
    drop(conn);
    // The server thread notices and frees the fake; a next request is served normally.
    llm.push(Reply::text("after"));
    let (st, out) = post_json(&agent(), &format!("{}/chat/completions", llm.base_url()), &body("y", false));
    assert_eq!(st, 200);
    assert_eq!(s(at(&parse(&out), "choices.0.message.content")), "after");
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let llm = FakeLlm::start();
    let mut conn = TcpStream::connect(("127.0.0.1", llm.port())).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    for i in 0..3 {
        let b = body(&format!("n{i}"), false);
        write!(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{b}", b.len())
            .unwrap();
        let mut len = 0;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut out = vec![0; len];
        reader.read_exact(&mut out).unwrap();
        let v = parse(&String::from_utf8(out).unwrap());
        assert_eq!(s(at(&v, "choices.0.message.content")), format!("echo: n{i}"));
    }
    assert!(wait_until(T, || llm.requests().len() == 3));
}

#[test]
fn expect_continue_and_chunked_request_bodies_are_understood() {
    let llm = FakeLlm::start();
    let mut conn = TcpStream::connect(("127.0.0.1", llm.port())).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let b = body("continued", false);
    write!(
        conn,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "HTTP/1.1 100 Continue\r\n");
    let (a, rest) = b.split_at(10);
    write!(conn, "{:x}\r\n{a}\r\n{:x}\r\n{rest}\r\n0\r\n\r\n", a.len(), rest.len()).unwrap();
    assert!(llm.wait_requests(1, T));
    assert_eq!(llm.requests()[0].last_user(), Some("continued"));
}
