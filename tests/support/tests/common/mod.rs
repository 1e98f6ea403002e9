//! A tiny ureq client for the fakes' own tests.
#![allow(dead_code)]

use std::io::Read;

use miniserde::json::Value;

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// POSTs JSON; returns (status, body).
pub fn post_json(agent: &ureq::Agent, url: &str, body: &str) -> (u16, String) {
    let mut r = agent.post(url).header("Content-Type", "application/json").send(body).expect("request");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().expect("body"))
}

/// POSTs a form; returns (status, body).
pub fn post_form(agent: &ureq::Agent, url: &str, body: &str) -> (u16, String) {
    let mut r =
        agent.post(url).header("Content-Type", "application/x-www-form-urlencoded").send(body).expect("request");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().expect("body"))
}

pub fn get(agent: &ureq::Agent, url: &str) -> (u16, String) {
    let mut r = agent.get(url).call().expect("request");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().expect("body"))
}

/// Reads a whole streamed body without ureq's size guard.
pub fn read_all(r: &mut ureq::http::Response<ureq::Body>) -> String {
    let mut s = String::new();
    r.body_mut().as_reader().read_to_string(&mut s).expect("read body");
    s
}

pub fn parse(s: &str) -> Value {
    miniserde::json::from_str(s).unwrap_or_else(|_| panic!("not JSON: {s}"))
}

/// Walks a path of object keys / array indexes ("result.0.message.text").
pub fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    let mut cur = v;
    for key in path.split('.') {
        cur = match cur {
            Value::Object(o) => o.get(key).unwrap_or_else(|| panic!("no {key} in {path}")),
            Value::Array(a) => &a[key.parse::<usize>().expect("index")],
            _ => panic!("cannot index {key} in {path}"),
        };
    }
    cur
}

pub fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => miniserde::json::to_string(other),
    }
}

pub fn len(v: &Value) -> usize {
    match v {
        Value::Array(a) => a.len(),
        _ => panic!("not an array"),
    }
}
