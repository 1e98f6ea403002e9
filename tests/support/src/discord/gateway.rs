//! The fake's gateway side: one thread per WebSocket connection.

use std::io::ErrorKind;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use miniserde::json::Value;
use tungstenite::handshake::server::{Request, Response};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use super::{
    Command, DISCORD_BOT_ID, DISCORD_BOT_NAME, DISCORD_TOKEN, GatewayEvent, GatewayOp, Shared, append, user_json,
};
use crate::json::{as_object, esc, get_i64, get_object, get_str, parse};

pub(super) fn listen(shared: Arc<Shared>, listener: TcpListener) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::Builder::new()
        .name(format!("fake-discord-gw-{port}"))
        .spawn(move || {
            let _ = listener.set_nonblocking(true);
            while !shared.closing.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((tcp, _)) => {
                        let s2 = shared.clone();
                        let _ =
                            std::thread::Builder::new().name("fake-discord-conn".into()).spawn(move || serve(s2, tcp));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        })
        .expect("spawn the fake gateway");
}

fn record(shared: &Shared, conn: u64, op: GatewayOp) {
    let mut st = shared.state.lock().unwrap();
    st.gateway.push(GatewayEvent { conn, op, at: Instant::now() });
    shared.changed.notify_all();
}

fn serve(shared: Arc<Shared>, tcp: TcpStream) {
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(handle) = tcp.try_clone() else { return };
    let mut target = String::new();
    #[allow(clippy::result_large_err)] // tungstenite's callback signature
    let callback = |req: &Request, resp: Response| {
        target = req.uri().to_string();
        Ok(resp)
    };
    let Ok(mut ws) = tungstenite::accept_hdr(tcp, callback) else { return };
    let _ = handle.set_read_timeout(Some(Duration::from_millis(20)));
    let conn = {
        let mut st = shared.state.lock().unwrap();
        let n = st.next_conn;
        st.next_conn += 1;
        n
    };
    record(&shared, conn, GatewayOp::Connected { target });
    let interval = shared.state.lock().unwrap().heartbeat_interval_ms;
    if send(&mut ws, &format!(r#"{{"op":10,"d":{{"heartbeat_interval":{interval}}},"s":null,"t":null}}"#)).is_err() {
        return;
    }
    // The session this connection serves, and the last seq sent on it.
    let mut session: Option<String> = None;
    let mut sent_upto = 0u64;
    loop {
        if shared.closing.load(Ordering::SeqCst) {
            let _ = handle.shutdown(Shutdown::Both);
            return;
        }
        match ws.read() {
            Ok(Message::Text(t)) => {
                if !on_text(&shared, &mut ws, conn, t.as_str(), &mut session, &mut sent_upto) {
                    return;
                }
            }
            Ok(Message::Close(frame)) => {
                let code = frame.map(|f| u16::from(f.code));
                // Discord: a client close with 1000 or 1001 ends the session (no Resume after it).
                if matches!(code, Some(1000 | 1001))
                    && let Some(id) = &session
                    && let Some(s) = shared.state.lock().unwrap().sessions.get_mut(id)
                {
                    s.dead = true;
                }
                record(&shared, conn, GatewayOp::Closed { code });
                let _ = ws.flush();
                return;
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                record(&shared, conn, GatewayOp::Closed { code: None });
                return;
            }
        }
        // Deliver new dispatches and run the test's commands, for the live connection only.
        let (frames, command) = {
            let mut st = shared.state.lock().unwrap();
            let live = st.live.as_ref().is_some_and(|(c, _)| *c == conn);
            if !live {
                (Vec::new(), None)
            } else {
                let id = session.clone().unwrap_or_default();
                let frames: Vec<(u64, String)> = st
                    .sessions
                    .get(&id)
                    .map(|s| s.log.iter().filter(|(n, _)| *n > sent_upto).cloned().collect())
                    .unwrap_or_default();
                (frames, st.commands.pop_front())
            }
        };
        for (n, frame) in frames {
            if send(&mut ws, &frame).is_err() {
                return;
            }
            sent_upto = n;
        }
        match command {
            None => {}
            Some(Command::Reconnect) => {
                let _ = send(&mut ws, r#"{"op":7,"d":null,"s":null,"t":null}"#);
            }
            Some(Command::InvalidSession(resumable)) => {
                if !resumable {
                    let mut st = shared.state.lock().unwrap();
                    if let Some(id) = &session
                        && let Some(s) = st.sessions.get_mut(id)
                    {
                        s.dead = true;
                    }
                    st.live = None;
                    session = None;
                }
                let _ = send(&mut ws, &format!(r#"{{"op":9,"d":{resumable},"s":null,"t":null}}"#));
            }
            Some(Command::Close(code)) => {
                shared.state.lock().unwrap().live = None;
                let _ = ws.close(Some(CloseFrame { code: CloseCode::from(code), reason: "fake close".into() }));
                let _ = ws.flush();
                std::thread::sleep(Duration::from_millis(50));
                let _ = handle.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Handles one payload from the bot; false ends the connection.
fn on_text(
    shared: &Shared,
    ws: &mut WebSocket<TcpStream>,
    conn: u64,
    text: &str,
    session: &mut Option<String>,
    sent_upto: &mut u64,
) -> bool {
    let Some(v) = parse(text) else { return true };
    let Some(o) = as_object(&v) else { return true };
    let d = get_object(o, "d").unwrap_or_default();
    match get_i64(o, "op") {
        Some(1) => {
            let seq = match o.get("d") {
                Some(Value::Null) | None => None,
                _ => get_i64(o, "d").map(|n| n as u64),
            };
            record(shared, conn, GatewayOp::Heartbeat { seq });
            if shared.state.lock().unwrap().ack_heartbeats {
                return send(ws, r#"{"op":11,"d":null,"s":null,"t":null}"#).is_ok();
            }
        }
        Some(2) => {
            let token = get_str(&d, "token").unwrap_or_default();
            let intents = get_i64(&d, "intents").unwrap_or(0) as u64;
            record(shared, conn, GatewayOp::Identify { token: token.clone(), intents });
            if token != DISCORD_TOKEN {
                let _ =
                    ws.close(Some(CloseFrame { code: CloseCode::from(4004), reason: "Authentication failed.".into() }));
                let _ = ws.flush();
                return false;
            }
            let mut st = shared.state.lock().unwrap();
            let id = format!("session-{}", st.next_session);
            st.next_session += 1;
            st.sessions.insert(id.clone(), Default::default());
            let ready = format!(
                r#"{{"v":10,"user":{},"guilds":[],"session_id":{},"resume_gateway_url":{},"application":{{"id":{}}}}}"#,
                user_json(DISCORD_BOT_ID, DISCORD_BOT_NAME, true),
                esc(&id),
                esc(&format!("{}/?resume=1", st.ws_url)),
                esc(DISCORD_BOT_ID)
            );
            append(&mut st, &id, "READY", &ready);
            for (t, d) in std::mem::take(&mut st.pending) {
                append(&mut st, &id, &t, &d);
            }
            st.live = Some((conn, id.clone()));
            *session = Some(id);
            *sent_upto = 0;
            shared.changed.notify_all();
        }
        Some(6) => {
            let id = get_str(&d, "session_id").unwrap_or_default();
            let seq = get_i64(&d, "seq").map(|n| n as u64);
            record(shared, conn, GatewayOp::Resume { session_id: id.clone(), seq });
            if get_str(&d, "token").as_deref() != Some(DISCORD_TOKEN) {
                let _ =
                    ws.close(Some(CloseFrame { code: CloseCode::from(4004), reason: "Authentication failed.".into() }));
                return false;
            }
            let mut st = shared.state.lock().unwrap();
            let alive = st.sessions.get(&id).is_some_and(|s| !s.dead);
            if !alive {
                drop(st);
                return send(ws, r#"{"op":9,"d":false,"s":null,"t":null}"#).is_ok();
            }
            // Replays what the bot missed (the loop sends everything past `seq`), then RESUMED.
            for (t, d) in std::mem::take(&mut st.pending) {
                append(&mut st, &id, &t, &d);
            }
            append(&mut st, &id, "RESUMED", "null");
            st.live = Some((conn, id.clone()));
            *session = Some(id);
            *sent_upto = seq.unwrap_or(0);
            shared.changed.notify_all();
        }
        _ => {}
    }
    true
}

fn send(ws: &mut WebSocket<TcpStream>, text: &str) -> Result<(), tungstenite::Error> {
    ws.send(Message::text(text))
}
