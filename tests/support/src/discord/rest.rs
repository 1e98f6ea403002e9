//! The fake's REST side: the few endpoints the bot uses, with Discord's error shapes.

use std::time::Instant;

use super::{DISCORD_BOT_ID, DISCORD_BOT_NAME, DISCORD_TOKEN, DiscordMessage, RestCall, Shared, user_json};
use crate::http::{Request, Responder};
use crate::json::{self, as_object, get_object, get_str};

const MAX_CONTENT: usize = 2000;

fn error(resp: &mut Responder, status: u16, code: i64, message: &str) {
    resp.json(status, &format!(r#"{{"message":{},"code":{code}}}"#, json::esc(message)));
}

/// Rate-limit headers of a successful call: plenty left in the route's bucket.
fn ok(resp: &mut Responder, status: u16, bucket: &str, body: &str) {
    let headers = [
        ("X-RateLimit-Limit", "5"),
        ("X-RateLimit-Remaining", "4"),
        ("X-RateLimit-Reset-After", "1.000"),
        ("X-RateLimit-Bucket", bucket),
    ];
    resp.send(status, "application/json", &headers, body.as_bytes());
}

pub(super) fn handle(shared: &Shared, req: &Request, resp: &mut Responder) {
    let Some(path) = req.path.strip_prefix("/api/v10") else {
        return error(resp, 404, 0, "404: Not Found");
    };
    let path = path.to_string();
    let body = req.body_text();
    let mut st = shared.state.lock().unwrap();
    st.calls.push(RestCall {
        method: req.method.clone(),
        path: path.clone(),
        body: body.clone(),
        authorization: req.header("authorization").map(str::to_string),
        at: Instant::now(),
    });
    shared.changed.notify_all();
    if req.header("authorization") != Some(&format!("Bot {DISCORD_TOKEN}")) {
        drop(st);
        return error(resp, 401, 0, "401: Unauthorized");
    }
    if let Some(n) = st.failures.iter().position(|f| f.method == req.method && path.starts_with(&f.path_prefix)) {
        let f = st.failures.remove(n);
        drop(st);
        let headers: Vec<(&str, &str)> = f.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        return resp.send(f.status, "application/json", &headers, f.body.as_bytes());
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", ["users", "@me"]) => ok(resp, 200, "users-me", &user_json(DISCORD_BOT_ID, DISCORD_BOT_NAME, true)),
        ("GET", ["gateway", "bot"]) => {
            let url = st.ws_url.clone();
            let body = format!(
                r#"{{"url":{},"shards":1,"session_start_limit":{{"total":1000,"remaining":999,"reset_after":14400000,"max_concurrency":1}}}}"#,
                json::esc(&url)
            );
            ok(resp, 200, "gateway-bot", &body)
        }
        ("POST", ["channels", channel, "messages"]) => {
            let Some(v) = json::parse(&body) else {
                return error(resp, 400, 50109, "The request body contains invalid JSON.");
            };
            let Some(o) = as_object(&v) else {
                return error(resp, 400, 50109, "The request body contains invalid JSON.");
            };
            let content = get_str(o, "content").unwrap_or_default();
            if content.trim().is_empty() {
                return error(resp, 400, 50006, "Cannot send an empty message");
            }
            if content.chars().count() > MAX_CONTENT {
                let m = r#"{"message":"Invalid Form Body","code":50035,"errors":{"content":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH","message":"Must be 2000 or fewer in length."}]}}}"#;
                return resp.json(400, m);
            }
            let reply_to = get_object(o, "message_reference").and_then(|r| get_str(&r, "message_id"));
            let allowed_mentions = o.get("allowed_mentions").map(json::to_string);
            let id = super::next_id(&mut st);
            st.messages.push(DiscordMessage {
                channel_id: channel.to_string(),
                id: id.clone(),
                content: content.clone(),
                reply_to,
                allowed_mentions,
                edits: 0,
                deleted: false,
            });
            shared.changed.notify_all();
            let body = format!(
                r#"{{"id":{},"channel_id":{},"content":{},"author":{},"type":0}}"#,
                json::esc(&id),
                json::esc(channel),
                json::esc(&content),
                user_json(DISCORD_BOT_ID, DISCORD_BOT_NAME, true)
            );
            ok(resp, 200, "messages-post", &body)
        }
        ("PATCH", ["channels", channel, "messages", id]) => {
            let content = json::parse(&body).and_then(|v| as_object(&v).and_then(|o| get_str(o, "content")));
            let Some(content) = content else {
                return error(resp, 400, 50109, "The request body contains invalid JSON.");
            };
            if content.chars().count() > MAX_CONTENT {
                return error(resp, 400, 50035, "Invalid Form Body: content: Must be 2000 or fewer in length.");
            }
            let Some(m) = st.messages.iter_mut().find(|m| m.channel_id == *channel && m.id == *id && !m.deleted) else {
                return error(resp, 404, 10008, "Unknown Message");
            };
            m.content = content.clone();
            m.edits += 1;
            shared.changed.notify_all();
            let body = format!(
                r#"{{"id":{},"channel_id":{},"content":{}}}"#,
                json::esc(id),
                json::esc(channel),
                json::esc(&content)
            );
            ok(resp, 200, "messages-patch", &body)
        }
        ("DELETE", ["channels", channel, "messages", id]) => {
            let Some(m) = st.messages.iter_mut().find(|m| m.channel_id == *channel && m.id == *id && !m.deleted) else {
                return error(resp, 404, 10008, "Unknown Message");
            };
            m.deleted = true;
            shared.changed.notify_all();
            ok(resp, 204, "messages-delete", "")
        }
        ("POST", ["channels", _, "typing"]) => ok(resp, 204, "typing", ""),
        _ => error(resp, 404, 0, "404: Not Found"),
    }
}
