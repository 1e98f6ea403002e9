//! `session_search` (AD §3.3): full-text search over the past sessions of this chat in
//! `lite.db` (FTS5, no model call). Without a query it lists the chat's recent sessions. The
//! session asking is left out, and so are other chats: a shared gateway must not show one
//! user's conversations to another.

use miniserde::json::{Array, Number, Object, Value};

use super::args::{self, object, s};
use super::{ToolEnv, ToolSpec};
use crate::store::history;
use rusqlite::params;

const MAX_LIMIT: i64 = 10;

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "session_search",
        toolset: "session_search",
        description: "Search your past conversations with this user (full-text, this chat only). Use it when \
            the user refers to something discussed before, or when earlier context would help. Returns the \
            best matching sessions with a snippet, title and date. Without a query, lists recent sessions.",
        parameters: r#"{"type":"object","properties":{
            "query":{"type":"string","description":"Words to search for. Omit to list recent sessions."},
            "limit":{"type":"integer","minimum":1,"maximum":10,"default":3,"description":"Sessions to return (default 3, max 10)"}}}"#,
        read_only: true,
        run,
    }
}

/// One session found: id, title, last activity, and a snippet (or the message count).
struct Found {
    id: String,
    title: Option<String>,
    updated_at: f64,
    snippet: Option<String>,
    messages: i64,
}

fn run(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let query = args::opt_string(a, "query")?.map(|q| q.trim().to_string()).filter(|q| !q.is_empty());
    let limit = args::opt_int(a, "limit", 1, MAX_LIMIT)?.unwrap_or(3) as usize;
    let store = env.store.clone().ok_or("session_search needs the session store, which this run does not have")?;
    let source = env.session.source.as_ref().ok_or("session_search works inside a chat only")?;
    let (platform, chat, current) = (source.platform.clone(), source.chat_id.clone(), env.session.session_id.clone());
    let fts = match &query {
        Some(q) => Some(history::fts_query(q).ok_or_else(|| format!("nothing to search for in {q:?}: use words"))?),
        None => None,
    };
    let found = store
        .call_blocking(move |tx| {
            let (sql, arg) = match &fts {
                Some(fts) => (
                    "SELECT m.session_id, s.title, s.updated_at, \
                     snippet(messages_fts, 0, '«', '»', '…', 16), s.message_count \
                     FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid \
                     JOIN sessions s ON s.id = m.session_id \
                     WHERE messages_fts MATCH ?1 AND s.platform = ?2 AND s.chat_id = ?3 AND s.id <> ?4 \
                     AND m.active = 1 AND m.role IN ('user', 'assistant') ORDER BY rank LIMIT 200",
                    fts.clone(),
                ),
                None => (
                    "SELECT id, title, updated_at, NULL, message_count FROM sessions \
                     WHERE ?1 = '' AND platform = ?2 AND chat_id = ?3 AND id <> ?4 AND message_count > 0 \
                     ORDER BY updated_at DESC LIMIT 200",
                    String::new(),
                ),
            };
            let mut st = tx.prepare(sql)?;
            let rows = st.query_map(params![arg, platform, chat, current], |r| {
                Ok(Found {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    updated_at: r.get(2)?,
                    snippet: r.get(3)?,
                    messages: r.get(4)?,
                })
            })?;
            let mut out: Vec<Found> = Vec::new();
            for f in rows {
                let f = f?;
                if out.len() < limit && !out.iter().any(|o| o.id == f.id) {
                    out.push(f);
                }
            }
            Ok(out)
        })
        .map_err(|e| format!("cannot search past sessions: {e}"))?;
    let mut results = Array::new();
    for f in &found {
        let mut o = Object::new();
        o.insert("session_id".into(), s(f.id.as_str()));
        o.insert("title".into(), f.title.as_deref().map_or(Value::Null, s));
        o.insert("date".into(), s(date(f.updated_at)));
        match &f.snippet {
            Some(snippet) => o.insert("snippet".into(), s(snippet.as_str())),
            None => o.insert("message_count".into(), Value::Number(Number::I64(f.messages))),
        };
        results.push(Value::Object(o));
    }
    let mut pairs = vec![("success", Value::Bool(true))];
    if let Some(q) = query {
        pairs.push(("query", s(q)));
    }
    pairs.push(("count", Value::Number(Number::U64(found.len() as u64))));
    pairs.push(("results", Value::Array(results)));
    if found.is_empty() {
        pairs.push(("message", s("No matching past sessions in this chat.")));
    }
    Ok(object(pairs))
}

/// `2026-12-05 17:20` in the gateway's time zone.
fn date(ts: f64) -> String {
    let l = crate::clock::local(ts);
    format!("{:04}-{:02}-{:02} {:02}:{:02}", l.year, l.month, l.day, l.hour, l.minute)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::TempStore;
    use crate::tools::test_env;

    fn env(t: &TempStore, chat: &str, current: &str) -> ToolEnv {
        let mut env = test_env::env(&t.dir);
        env.store = Some(t.store.clone());
        env.session.session_id = current.into();
        env.session.source = Some(hermes_platform::Source {
            platform: "telegram".into(),
            chat_id: chat.into(),
            chat_name: None,
            chat_type: hermes_platform::ChatType::Dm,
            user_id: Some(chat.into()),
            user_name: None,
            thread_id: None,
            is_bot: false,
            role_authorized: None,
        });
        env
    }

    fn search(env: &ToolEnv, args: &str) -> String {
        run(env, &miniserde::json::from_str(args).unwrap()).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn finds_past_sessions_of_this_chat_only_with_snippets_and_lists_recent_ones() {
        let t = TempStore::new();
        t.store
            .call_blocking(|tx| {
                tx.execute_batch(
                    "INSERT INTO sessions(id, key, platform, chat_id, title, created_at, updated_at, message_count) VALUES
                       ('old', 'k', 'telegram', '42', 'Cats', 1, 1700000000, 2),
                       ('older', 'k', 'telegram', '42', NULL, 1, 1600000000, 1),
                       ('now', 'k', 'telegram', '42', NULL, 1, 1800000000, 1),
                       ('other', 'k2', 'telegram', '43', NULL, 1, 1700000000, 1);
                     INSERT INTO messages(session_id, role, content, created_at) VALUES
                       ('old', 'user', 'my cat is named Tortilla', 1),
                       ('old', 'assistant', 'Tortilla is a fine name', 1),
                       ('older', 'user', 'weather talk', 1),
                       ('now', 'user', 'what was my cat called? Tortilla?', 1),
                       ('other', 'user', 'Tortilla secret of another user', 1);",
                )
            })
            .unwrap();
        let env = env(&t, "42", "now");
        let out = search(&env, r#"{"query":"tortilla"}"#);
        assert!(out.contains(r#""count":1"#) && out.contains(r#""session_id":"old""#), "{out}");
        assert!(out.contains("«Tortilla»") && out.contains(r#""title":"Cats""#), "{out}");
        assert!(
            !out.contains("secret") && !out.contains("what was my cat"),
            "other chats and this session stay out: {out}"
        );
        let recent = search(&env, "{}");
        assert!(recent.find("\"old\"").unwrap() < recent.find("\"older\"").unwrap(), "newest first: {recent}");
        assert!(search(&env, r#"{"limit":1}"#).contains(r#""count":1"#));
        assert!(search(&env, r#"{"limit":11}"#).contains("between 1 and 10"));
        assert!(search(&env, r#"{"query":"zebra"}"#).contains("No matching past sessions"));
        assert!(search(&env, r#"{"query":"!!"}"#).contains("nothing to search for"));
    }
}
