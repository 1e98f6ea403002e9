//! Session titles (M6, GC §2.10): the sanitizer every title passes, and the automatic title a
//! short model call writes after a session's first exchange. The automatic call runs in its own
//! task, so the reply never waits for it; it only writes a title when the session still has
//! none (a manual /title wins), and its failures are only logged.

use std::rc::Rc;

use rusqlite::OptionalExtension;

use super::Gateway;
use crate::agent::message::{ChatMessage, Role};
use crate::agent::provider::{ChatRequest, StreamEvent};
use crate::runtime;
use crate::store::history;
use crate::store::sessions::sanitize_title;

/// Automatic titles are cut to this many characters ("…" included).
const MAX_AUTO_TITLE: usize = 80;
/// Each part of the exchange shown to the title call is cut to this many characters.
const SNIPPET: usize = 500;
/// The instruction of the title call; the tests' fake model recognizes it.
pub const TITLE_PROMPT: &str = "Generate a short, descriptive title (3-7 words) for a conversation that starts with \
     the exchange below. Return only the title: no quotes, no prefix, no punctuation at the end.";

/// What a model answered, made a title: think blocks, `Title:` and quotes stripped, sanitized,
/// cut to 80 characters.
pub fn clean_generated(answer: &str) -> Option<String> {
    let mut text = answer.to_string();
    while let (Some(start), Some(end)) = (text.find("<think>"), text.find("</think>")) {
        if end < start {
            break;
        }
        text.replace_range(start..end + "</think>".len(), "");
    }
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = match line.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("title:") => &line[6..],
        _ => line,
    };
    let quotes: &[char] = &['"', '\'', '`', '*', '“', '”', '‘', '’', '«', '»'];
    let line = line.trim().trim_matches(quotes).trim();
    let title = match sanitize_title(line) {
        Ok(t) => t?,
        Err(_) => line.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    if title.chars().count() > MAX_AUTO_TITLE {
        let cut: String = title.chars().take(MAX_AUTO_TITLE - 3).collect();
        return Some(format!("{cut}..."));
    }
    Some(title)
}

/// After an answered turn of a session's first exchange: starts the title call (the turn
/// decides from what it already loaded, so later turns cost nothing). The call re-checks in
/// the store: a manual /title may have come meanwhile.
pub fn after_answer(gw: &Rc<Gateway>, session_id: &str) {
    if !gw.config.commands.title_generation {
        return;
    }
    let (gw, sid) = (gw.clone(), session_id.to_string());
    runtime::spawn_guarded(format!("title for session {sid}"), async move {
        if let Err(e) = generate(&gw, &sid).await {
            log::warn!("could not title session {sid}: {e}");
        }
    });
}

async fn generate(gw: &Gateway, sid: &str) -> Result<(), String> {
    let id = sid.to_string();
    let exchange = gw
        .store
        .call(move |tx| {
            let title: Option<String> =
                tx.query_row("SELECT title FROM sessions WHERE id = ?1", [&id], |r| r.get(0))?;
            if title.is_some() || history::user_message_count(tx, &id)? > 2 {
                return Ok(None);
            }
            let first = |role: &str, order: &str| -> rusqlite::Result<String> {
                let found: Option<String> = tx.query_row(
                    &format!(
                        "SELECT coalesce(content, '') FROM messages WHERE session_id = ?1 AND role = ?2 AND active = 1 \
                         AND coalesce(content, '') != '' ORDER BY id {order} LIMIT 1"
                    ),
                    [id.as_str(), role],
                    |r| r.get(0),
                ).optional()?;
                Ok(found.unwrap_or_default())
            };
            Ok(Some((first("user", "ASC")?, first("assistant", "DESC")?)))
        })
        .await
        .map_err(|e| e.to_string())?;
    let Some((user, assistant)) = exchange else { return Ok(()) };
    let cut = |s: &str| s.chars().take(SNIPPET).collect::<String>();
    let prompt = format!("{TITLE_PROMPT}\n\nUser: {}\n\nAssistant: {}", cut(&user), cut(&assistant));
    let request = ChatRequest { messages: vec![ChatMessage::new(Role::User, prompt)], tools: None };
    let events = gw.provider.stream(&request);
    let mut answer = String::new();
    while let Ok(event) = events.recv().await {
        match event {
            StreamEvent::Text(t) => answer.push_str(&t),
            StreamEvent::Retrying { .. } | StreamEvent::Notice(_) => {}
            StreamEvent::Finished(done) => {
                if !done.text.is_empty() {
                    answer = done.text;
                }
                break;
            }
            StreamEvent::Failed(e) => return Err(e.to_string()),
        }
    }
    let Some(title) = clean_generated(&answer) else { return Err("the model answered no title".into()) };
    let id = sid.to_string();
    let written =
        gw.store.call(move |tx| history::set_auto_title_if_empty(tx, &id, &title)).await.map_err(|e| e.to_string())?;
    if let Some(t) = written {
        log::info!("session {sid} titled {t:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_hermes() {
        assert_eq!(sanitize_title("  Trip\tto \n Paris  "), Ok(Some("Trip to Paris".into())));
        assert_eq!(sanitize_title("a\u{0}b\u{7f}c\u{200b}d\u{202e}e\u{feff}"), Ok(Some("abcde".into())));
        assert_eq!(sanitize_title(" \u{200b} \n"), Ok(None));
        assert_eq!(sanitize_title(&"x".repeat(100)), Ok(Some("x".repeat(100))));
        let err = sanitize_title(&"é".repeat(101)).unwrap_err();
        assert!(err.contains("101") && err.contains("100"), "{err}");
    }

    #[test]
    fn generated_titles_lose_wrappers_and_length() {
        assert_eq!(clean_generated("Title: \"Trip Planning Notes\"").as_deref(), Some("Trip Planning Notes"));
        assert_eq!(clean_generated("<think>hmm</think>\n\n“Paris in May”\nmore").as_deref(), Some("Paris in May"));
        assert_eq!(clean_generated("  \n"), None);
        let long = clean_generated(&"word ".repeat(40)).unwrap();
        assert_eq!(long.chars().count(), 80, "{long}");
        assert!(long.ends_with("..."));
    }
}
