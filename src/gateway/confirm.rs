//! Prompts that wait for the user's answer, at most one per session key (M11 step 3).
//!
//! A prompt lives in the `kv` table (`prompt:<session key>`), so it survives the session's actor
//! going idle and a restart. Today the only kind is the destructive
//! confirm of `/new`, `/reset` and `/undo` (CAC §4.1); dangerous-command approvals join as
//! another [`Kind`] with the same answers.
//!
//! Answers: text (`/approve|yes|ok|confirm` → once, `/always|remember` → always,
//! `/cancel|no|deny|nevermind` → cancel, and GC §1.5's bare words), a button press (its data is
//! `confirm:<nonce>:<answer>`, so a stale button never answers a newer prompt) or a 👍/👎 reaction
//! on the prompt message. Only the user who asked may answer (in groups nobody else can wipe
//! someone's session); other users' answers are ordinary messages. A prompt expires after
//! [`EXPIRY_SECONDS`]; a late answer is an ordinary message too.

use hermes_platform::{Button, EventKind};
use miniserde::{Deserialize, Serialize};
use rusqlite::Transaction;

use crate::store::state;

/// How long a prompt waits (Hermes: 300 s, `tools/slash_confirm.py:48`).
pub const EXPIRY_SECONDS: f64 = 300.0;
/// `kv` key that turns the destructive confirm off for good (the "Always" answer). Global, as
/// Hermes' `approvals.destructive_slash_confirm`: the user said "stop asking", not "stop asking
/// here".
const GATE_OFF_KEY: &str = "destructive_confirm_off";

/// What a prompt waits to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `/new`, `/reset` or `/undo` with its arguments, run once the user agrees.
    Destructive { command: String, args: String },
}

/// A prompt waiting for its answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    pub kind: Kind,
    /// Who asked; `None` lets anyone in the chat answer (platforms without senders).
    pub user_id: Option<String>,
    pub created_at: f64,
    /// In the buttons' data, so only this prompt's buttons answer it.
    pub nonce: String,
    /// The prompt message, for reactions.
    pub message_id: Option<String>,
}

/// The user's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Once,
    Always,
    Cancel,
}

impl Answer {
    fn as_str(self) -> &'static str {
        match self {
            Answer::Once => "once",
            Answer::Always => "always",
            Answer::Cancel => "cancel",
        }
    }
}

/// What an event says, if it can answer a prompt: the answer and, for a button, the nonce of
/// the prompt the button belongs to.
pub fn classify(kind: EventKind, text: &str) -> Option<(Answer, Option<String>)> {
    match kind {
        EventKind::Callback => {
            let mut parts = text.strip_prefix("confirm:")?.splitn(2, ':');
            let nonce = parts.next()?.to_string();
            let answer = match parts.next()? {
                "once" => Answer::Once,
                "always" => Answer::Always,
                "cancel" => Answer::Cancel,
                _ => return None,
            };
            Some((answer, Some(nonce)))
        }
        EventKind::Reaction => match text.trim_end_matches('\u{FE0F}') {
            "👍" => Some((Answer::Once, None)),
            "👎" => Some((Answer::Cancel, None)),
            _ => None,
        },
        EventKind::Text | EventKind::Edit | EventKind::Command => word_answer(text).map(|a| (a, None)),
        _ => None,
    }
}

/// A typed answer: the whole message is one of the words, with or without a `/` (and a
/// `@botname`); `/approve always` means always.
fn word_answer(text: &str) -> Option<Answer> {
    let text = text.trim();
    let (text, slash) = match text.strip_prefix('/') {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let mut words = text.split_whitespace();
    let first = words.next()?;
    let first = if slash { first.split('@').next().unwrap_or("") } else { first };
    let first = first.trim_end_matches(['.', '!']).to_lowercase();
    let rest: Vec<&str> = words.collect();
    let answer = match first.as_str() {
        "approve" if rest.first().is_some_and(|w| w.eq_ignore_ascii_case("always")) => Answer::Always,
        "approve" | "yes" | "ok" | "okay" | "confirm" | "y" | "👍" => Answer::Once,
        "always" | "remember" => Answer::Always,
        "cancel" | "no" | "deny" | "nevermind" | "reject" | "n" | "👎" => Answer::Cancel,
        _ => return None,
    };
    // Bare words only as the whole message ("no idea why…" is a message, not a denial);
    // commands may carry arguments (`/deny all`).
    (slash || rest.is_empty()).then_some(answer)
}

/// The buttons under a prompt: Approve once / Always / Cancel.
pub fn buttons(nonce: &str) -> Vec<Vec<Button>> {
    let button = |label: &str, answer: Answer| Button {
        label: label.to_string(),
        data: format!("confirm:{nonce}:{}", answer.as_str()),
    };
    vec![vec![button("Approve once", Answer::Once), button("Always", Answer::Always), button("Cancel", Answer::Cancel)]]
}

/// The stored form (`kv` value, JSON).
#[derive(Serialize, Deserialize)]
struct Stored {
    kind: String,
    command: String,
    args: String,
    user: Option<String>,
    at: f64,
    nonce: String,
    message_id: Option<String>,
}

fn kv_key(session_key: &str) -> String {
    format!("prompt:{session_key}")
}

/// Stores `prompt` as the key's pending prompt, replacing an older one.
pub fn put(tx: &Transaction, session_key: &str, prompt: &Prompt) -> rusqlite::Result<()> {
    let Kind::Destructive { command, args } = &prompt.kind;
    let stored = Stored {
        kind: "destructive".into(),
        command: command.clone(),
        args: args.clone(),
        user: prompt.user_id.clone(),
        at: prompt.created_at,
        nonce: prompt.nonce.clone(),
        message_id: prompt.message_id.clone(),
    };
    state::kv_set(tx, &kv_key(session_key), &miniserde::json::to_string(&stored))
}

/// The key's pending prompt, expired or not.
pub fn get(tx: &Transaction, session_key: &str) -> rusqlite::Result<Option<Prompt>> {
    let value = state::kv_get(tx, &kv_key(session_key))?;
    let Some(stored) = value.and_then(|v| miniserde::json::from_str::<Stored>(&v).ok()) else {
        return Ok(None);
    };
    let kind = match stored.kind.as_str() {
        "destructive" => Kind::Destructive { command: stored.command, args: stored.args },
        _ => return Ok(None),
    };
    Ok(Some(Prompt {
        kind,
        user_id: stored.user,
        created_at: stored.at,
        nonce: stored.nonce,
        message_id: stored.message_id,
    }))
}

pub fn remove(tx: &Transaction, session_key: &str) -> rusqlite::Result<()> {
    state::kv_remove(tx, &kv_key(session_key))
}

/// Who answers and how: the sender, the nonce of a pressed button, the message reacted to.
pub struct Answerer<'a> {
    pub user_id: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub reacted_to: Option<&'a str>,
}

/// Takes the key's prompt if `who` may answer it now. An expired prompt is dropped.
pub fn take(tx: &Transaction, session_key: &str, who: &Answerer, now: f64) -> rusqlite::Result<Option<Prompt>> {
    let Some(prompt) = get(tx, session_key)? else { return Ok(None) };
    if now - prompt.created_at > EXPIRY_SECONDS || now < prompt.created_at - EXPIRY_SECONDS {
        remove(tx, session_key)?;
        return Ok(None);
    }
    let other_user = prompt.user_id.is_some() && prompt.user_id.as_deref() != who.user_id;
    let other_button = who.nonce.is_some_and(|n| n != prompt.nonce);
    let other_message = who.reacted_to.is_some() && prompt.message_id.as_deref() != who.reacted_to;
    if other_user || other_button || other_message {
        return Ok(None);
    }
    remove(tx, session_key)?;
    Ok(Some(prompt))
}

/// True when the user chose "Always": destructive commands run without asking.
pub fn gate_off(tx: &Transaction) -> rusqlite::Result<bool> {
    Ok(state::kv_get(tx, GATE_OFF_KEY)?.is_some_and(|v| v == "1"))
}

pub fn set_gate_off(tx: &Transaction) -> rusqlite::Result<()> {
    state::kv_set(tx, GATE_OFF_KEY, "1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::TempStore;

    #[test]
    fn answers_by_word_button_and_reaction() {
        let t = |s| classify(EventKind::Text, s).map(|(a, _)| a);
        assert_eq!(t("yes"), Some(Answer::Once));
        assert_eq!(t("/approve@hermes_bot"), Some(Answer::Once));
        assert_eq!(t("OK!"), Some(Answer::Once));
        assert_eq!(t("/approve always"), Some(Answer::Always));
        assert_eq!(t("/always"), Some(Answer::Always));
        assert_eq!(t("nevermind"), Some(Answer::Cancel));
        assert_eq!(t("/deny all"), Some(Answer::Cancel));
        assert_eq!(t("no idea why"), None);
        assert_eq!(t("hello"), None);
        assert_eq!(classify(EventKind::Reaction, "👍"), Some((Answer::Once, None)));
        assert_eq!(classify(EventKind::Reaction, "❤"), None);
        assert_eq!(classify(EventKind::Callback, "confirm:ab12:always"), Some((Answer::Always, Some("ab12".into()))));
        assert_eq!(classify(EventKind::Callback, "other"), None);
        assert_eq!(classify(EventKind::Photo, "yes"), None);
        let data: Vec<String> = buttons("n1").concat().into_iter().map(|b| b.data).collect();
        assert!(data.iter().all(|d| classify(EventKind::Callback, d).is_some_and(|(_, n)| n.as_deref() == Some("n1"))));
    }

    #[test]
    fn only_the_asker_answers_before_expiry() {
        let store = TempStore::new();
        let prompt = Prompt {
            kind: Kind::Destructive { command: "undo".into(), args: "2".into() },
            user_id: Some("42".into()),
            created_at: 1000.0,
            nonce: "n1".into(),
            message_id: Some("7".into()),
        };
        let who = |user, nonce, reacted_to| Answerer { user_id: user, nonce, reacted_to };
        store
            .store
            .call_blocking(move |tx| {
                put(tx, "k", &prompt)?;
                assert_eq!(get(tx, "k")?.as_ref(), Some(&prompt));
                assert!(take(tx, "k", &who(Some("43"), None, None), 1001.0)?.is_none(), "another user");
                assert!(take(tx, "k", &who(Some("42"), Some("old"), None), 1001.0)?.is_none(), "a stale button");
                assert!(take(tx, "k", &who(Some("42"), None, Some("8")), 1001.0)?.is_none(), "another message");
                assert_eq!(take(tx, "k", &who(Some("42"), None, Some("7")), 1001.0)?, Some(prompt.clone()));
                assert!(get(tx, "k")?.is_none(), "answered once");
                put(tx, "k", &prompt)?;
                assert!(take(tx, "k", &who(Some("42"), None, None), 1000.0 + EXPIRY_SECONDS + 1.0)?.is_none());
                assert!(get(tx, "k")?.is_none(), "expired prompts go");
                assert!(!gate_off(tx)?);
                set_gate_off(tx)?;
                assert!(gate_off(tx)?);
                Ok(())
            })
            .unwrap();
    }
}
