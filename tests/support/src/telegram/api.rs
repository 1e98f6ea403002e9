//! The Bot API methods the fake serves, with Telegram's replies and error descriptions.

use std::sync::MutexGuard;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use miniserde::json::{Object, Value};

use super::{ApiCall, BotMessage, Chat, Shared, State, TOKEN, markdown, wire};
use crate::http::{Request, Responder};
use crate::json::{self, get_i64, get_object, get_str, now_secs, parse_form};

/// The longest a getUpdates long poll is held, as Telegram caps it.
const MAX_POLL: i64 = 30;
const MAX_TEXT: usize = 4096;

fn ok(result: &str) -> String {
    format!(r#"{{"ok":true,"result":{result}}}"#)
}

fn error(resp: &mut Responder, code: u16, description: &str) {
    let body = format!(r#"{{"ok":false,"error_code":{code},"description":{}}}"#, json::esc(description));
    resp.json(code, &body);
}

/// Query string and body (JSON object or form) merged into one object; body fields win.
fn params(req: &Request) -> Object {
    let mut p = Object::new();
    parse_form(&req.query, &mut p);
    let body = req.body_text();
    let ct = req.header("content-type").unwrap_or("").to_ascii_lowercase();
    if ct.contains("json") || body.trim_start().starts_with('{') {
        if let Some(Value::Object(o)) = json::parse(&body) {
            p.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    } else if !ct.contains("multipart") {
        parse_form(&body, &mut p);
    }
    p
}

pub fn handle(shared: &Shared, req: &Request, resp: &mut Responder) {
    if let Some(rest) = req.path.strip_prefix("/file/bot") {
        return serve_file(shared, rest, resp);
    }
    let Some(rest) = req.path.strip_prefix("/bot") else {
        return error(resp, 404, "Not Found");
    };
    let Some((token, method)) = rest.split_once('/') else {
        return error(resp, 404, "Not Found");
    };
    let p = params(req);
    let mut st = shared.state.lock().unwrap();
    st.calls.push(ApiCall {
        method: method.to_string(),
        params: json::to_string(&Value::Object(p.clone())),
        at: Instant::now(),
    });
    shared.changed.notify_all();
    if token != TOKEN {
        drop(st);
        return error(resp, 401, "Unauthorized");
    }
    let m = method.to_ascii_lowercase();
    if let Some((code, body)) = st.failures.get_mut(&m).and_then(|q| q.pop_front()) {
        drop(st);
        return resp.json(code, &body);
    }
    match m.as_str() {
        "getme" => resp.json(200, &ok(&wire::get_me())),
        "getupdates" => get_updates(shared, st, &p, resp),
        "sendmessage" => send_message(shared, &mut st, &p, resp),
        "editmessagetext" => edit_message_text(shared, &mut st, &p, resp),
        "deletemessage" => delete_message(shared, &mut st, &p, resp),
        "getchat" => match get_i64(&p, "chat_id") {
            Some(id) => {
                let chat = chat_of(&st, id);
                resp.json(200, &ok(&wire::chat(&chat, None)))
            }
            None => error(resp, 400, "Bad Request: chat not found"),
        },
        "getmycommands" => resp.json(200, &ok("[]")),
        "getfile" => {
            let id = get_str(&p, "file_id").unwrap_or_default();
            match st.files.get(&id) {
                Some(bytes) => {
                    let file = format!(
                        r#"{{"file_id":{},"file_unique_id":{},"file_size":{},"file_path":"files/{}"}}"#,
                        json::to_string(&Value::String(id.clone())),
                        json::to_string(&Value::String(id.clone())),
                        bytes.len(),
                        id
                    );
                    resp.json(200, &ok(&file))
                }
                None => error(resp, 400, "Bad Request: invalid file_id"),
            }
        }
        "deletewebhook"
        | "setwebhook"
        | "setmycommands"
        | "deletemycommands"
        | "sendchataction"
        | "answercallbackquery"
        | "setmessagereaction"
        | "editmessagereplymarkup"
        | "setmydescription"
        | "setmyshortdescription" => resp.json(200, &ok("true")),
        _ => error(resp, 404, "Not Found"),
    }
}

/// `GET /file/bot<token>/files/<file_id>`: the bytes `add_file` registered.
fn serve_file(shared: &Shared, rest: &str, resp: &mut Responder) {
    let st = shared.state.lock().unwrap();
    let found = rest
        .split_once('/')
        .filter(|(token, _)| *token == TOKEN)
        .and_then(|(_, path)| path.strip_prefix("files/"))
        .and_then(|id| st.files.get(id).cloned());
    drop(st);
    match found {
        Some(bytes) => resp.send(200, "application/octet-stream", &[], &bytes),
        None => error(resp, 404, "Not Found"),
    }
}

fn chat_of(st: &State, id: i64) -> Chat {
    st.chats.get(&id).cloned().unwrap_or_else(|| if id > 0 { Chat::private(id) } else { Chat::supergroup(id) })
}

fn get_updates(shared: &Shared, mut st: MutexGuard<'_, State>, p: &Object, resp: &mut Responder) {
    let offset = get_i64(p, "offset").unwrap_or(0);
    let limit = get_i64(p, "limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = get_i64(p, "timeout").unwrap_or(0).clamp(0, MAX_POLL);
    // Confirming: updates below the offset are forgotten for good.
    if offset > 0 {
        st.committed = st.committed.max(offset);
        st.updates.retain(|u| u.update_id >= offset);
    } else if offset < 0 {
        let keep = offset.unsigned_abs() as usize;
        let drop_n = st.updates.len().saturating_sub(keep);
        st.updates.drain(..drop_n);
    }
    let deadline = Instant::now() + Duration::from_secs(timeout as u64);
    loop {
        if !st.updates.is_empty() || shared.closing.load(Ordering::SeqCst) {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let wait = (deadline - now).min(Duration::from_millis(200));
        st = shared.changed.wait_timeout(st, wait).unwrap().0;
        if resp.peer_closed() {
            return;
        }
    }
    let list: Vec<&str> = st.updates.iter().take(limit).map(|u| u.json.as_str()).collect();
    let body = ok(&format!("[{}]", list.join(",")));
    drop(st);
    resp.json(200, &body);
}

/// `reply_to_message_id` or `reply_parameters.message_id`.
fn reply_to(p: &Object) -> Option<i64> {
    get_i64(p, "reply_to_message_id")
        .or_else(|| get_object(p, "reply_parameters").and_then(|r| get_i64(&r, "message_id")))
}

fn check_text(text: &str, parse_mode: Option<&str>) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("Bad Request: message text is empty".into());
    }
    if text.encode_utf16().count() > MAX_TEXT {
        return Err("Bad Request: message is too long".into());
    }
    if parse_mode.is_some_and(|m| m.eq_ignore_ascii_case("MarkdownV2")) {
        markdown::check(text)?;
    }
    Ok(())
}

fn message_json(st: &State, m: &BotMessage, edited: bool) -> String {
    let chat = chat_of(st, m.chat_id);
    let reply = m
        .reply_to
        .map(|id| format!(r#"{{"message_id":{id},"chat":{},"date":{}}}"#, wire::chat(&chat, None), now_secs()));
    wire::message(&wire::MessageParts {
        message_id: m.message_id,
        from: wire::bot_user(),
        chat: wire::chat(&chat, None),
        date: now_secs(),
        text: &m.text,
        thread_id: m.thread_id,
        with_entities: false,
        reply_to: reply,
        edit_date: edited.then(now_secs),
    })
}

fn send_message(shared: &Shared, st: &mut State, p: &Object, resp: &mut Responder) {
    let Some(chat_id) = get_i64(p, "chat_id") else {
        return error(resp, 400, "Bad Request: chat_id is empty");
    };
    let text = get_str(p, "text").unwrap_or_default();
    let parse_mode = get_str(p, "parse_mode").filter(|m| !m.is_empty());
    if let Err(e) = check_text(&text, parse_mode.as_deref()) {
        return error(resp, 400, &e);
    }
    let message_id = st.next_bot_msg;
    st.next_bot_msg += 1;
    let msg = BotMessage {
        chat_id,
        message_id,
        text: super::visible_text(&text, parse_mode.as_deref()),
        raw: text,
        parse_mode,
        thread_id: get_i64(p, "message_thread_id"),
        reply_to: reply_to(p),
        edits: 0,
        deleted: false,
        buttons: buttons(p),
    };
    let body = ok(&message_json(st, &msg, false));
    st.sent.push(msg);
    shared.changed.notify_all();
    resp.json(200, &body);
}

fn edit_message_text(shared: &Shared, st: &mut State, p: &Object, resp: &mut Responder) {
    let (Some(chat_id), Some(message_id)) = (get_i64(p, "chat_id"), get_i64(p, "message_id")) else {
        return error(resp, 400, "Bad Request: message to edit not found");
    };
    let text = get_str(p, "text").unwrap_or_default();
    let parse_mode = get_str(p, "parse_mode").filter(|m| !m.is_empty());
    let Some(idx) = st.sent.iter().position(|m| m.chat_id == chat_id && m.message_id == message_id && !m.deleted)
    else {
        return error(resp, 400, "Bad Request: message to edit not found");
    };
    if let Err(e) = check_text(&text, parse_mode.as_deref()) {
        return error(resp, 400, &e);
    }
    let m = &mut st.sent[idx];
    if m.raw == text && m.parse_mode == parse_mode {
        return error(
            resp,
            400,
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        );
    }
    m.text = super::visible_text(&text, parse_mode.as_deref());
    m.raw = text;
    m.parse_mode = parse_mode;
    m.edits += 1;
    let m = m.clone();
    let body = ok(&message_json(st, &m, true));
    shared.changed.notify_all();
    resp.json(200, &body);
}

fn delete_message(shared: &Shared, st: &mut State, p: &Object, resp: &mut Responder) {
    let (chat_id, message_id) = (get_i64(p, "chat_id"), get_i64(p, "message_id"));
    let found =
        st.sent.iter_mut().find(|m| Some(m.chat_id) == chat_id && Some(m.message_id) == message_id && !m.deleted);
    match found {
        Some(m) => {
            m.deleted = true;
            shared.changed.notify_all();
            resp.json(200, &ok("true"));
        }
        None => error(resp, 400, "Bad Request: message to delete not found"),
    }
}

/// The (label, callback_data) pairs of an `inline_keyboard` reply markup.
fn buttons(p: &Object) -> Vec<(String, String)> {
    let Some(markup) = get_object(p, "reply_markup") else { return Vec::new() };
    let Some(Value::Array(rows)) = markup.get("inline_keyboard") else { return Vec::new() };
    let mut out = Vec::new();
    for row in rows {
        let Value::Array(row) = row else { continue };
        for button in row {
            if let Value::Object(b) = button {
                out.push((get_str(b, "text").unwrap_or_default(), get_str(b, "callback_data").unwrap_or_default()));
            }
        }
    }
    out
}
