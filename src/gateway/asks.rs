//! Questions a turn's tools wait on (A17 approvals, `clarify`), kept on the session's actor.
//!
//! Approvals queue FIFO per session; at most one `clarify` waits at a time (a turn runs one
//! tool that asks at a time). Each entry holds the channel its tool thread blocks on: answering
//! is sending the answer string there. Nothing here survives a restart: the tool thread that
//! waits does not either.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

/// One dangerous command waiting for `/approve` or `/deny`.
struct Approval {
    id: u64,
    command: String,
    reply: async_channel::Sender<String>,
}

/// A `clarify` question waiting for the asker's next message.
pub struct Clarify {
    id: u64,
    /// Who may answer (the user whose message started the turn); `None`: anyone in the chat.
    pub user: Option<String>,
    pub choices: Vec<String>,
    /// In the buttons' data (`clarify:<nonce>:<n>`), so a stale button never answers.
    pub nonce: String,
    reply: async_channel::Sender<String>,
}

impl Clarify {
    /// The answer a message gives: a choice number picks that choice, other text is verbatim.
    pub fn answer_of(&self, text: &str) -> String {
        let text = text.trim();
        match text.parse::<usize>() {
            Ok(n) if (1..=self.choices.len()).contains(&n) => self.choices[n - 1].clone(),
            _ => text.to_string(),
        }
    }
}

#[derive(Default)]
pub struct Asks {
    approvals: RefCell<VecDeque<Approval>>,
    clarify: RefCell<Option<Clarify>>,
    next_id: Cell<u64>,
}

impl Asks {
    fn id(&self) -> u64 {
        self.next_id.set(self.next_id.get() + 1);
        self.next_id.get()
    }

    /// Registers an approval; the id is for [`Asks::expire`].
    pub fn add_approval(&self, command: String, reply: async_channel::Sender<String>) -> u64 {
        let id = self.id();
        self.approvals.borrow_mut().push_back(Approval { id, command, reply });
        id
    }

    pub fn approvals(&self) -> usize {
        self.approvals.borrow().len()
    }

    /// A question is waiting: new messages must not interrupt the turn.
    pub fn waiting(&self) -> bool {
        self.approvals() > 0 || self.clarify.borrow().is_some()
    }

    /// Answers the oldest approval (or all) with `answer`; the commands answered.
    pub fn resolve(&self, all: bool, answer: &str) -> Vec<String> {
        let mut q = self.approvals.borrow_mut();
        let n = if all { q.len() } else { q.len().min(1) };
        q.drain(..n)
            .map(|a| {
                let _ = a.reply.try_send(answer.to_string());
                a.command
            })
            .collect()
    }

    /// Registers a clarify question (answering an older one with an empty answer).
    pub fn set_clarify(
        &self,
        user: Option<String>,
        choices: Vec<String>,
        nonce: String,
        reply: async_channel::Sender<String>,
    ) -> u64 {
        let id = self.id();
        if let Some(old) = self.clarify.replace(Some(Clarify { id, user, choices, nonce, reply })) {
            let _ = old.reply.try_send(String::new());
        }
        id
    }

    /// Takes the clarify question if `user` may answer it (and a button's `nonce` matches).
    pub fn take_clarify(&self, user: Option<&str>, nonce: Option<&str>) -> Option<Clarify> {
        let mut slot = self.clarify.borrow_mut();
        let c = slot.as_ref()?;
        let other_user = c.user.is_some() && c.user.as_deref() != user;
        if other_user || nonce.is_some_and(|n| n != c.nonce) {
            return None;
        }
        slot.take()
    }

    /// Answers the clarify taken by [`Asks::take_clarify`].
    pub fn answer_clarify(c: Clarify, answer: String) {
        let _ = c.reply.try_send(answer);
    }

    /// The question `id` timed out: answers it with `answer` if it still waits.
    pub fn expire(&self, id: u64, answer: &str) -> bool {
        let mut q = self.approvals.borrow_mut();
        if let Some(i) = q.iter().position(|a| a.id == id) {
            let a = q.remove(i).expect("index found");
            let _ = a.reply.try_send(answer.to_string());
            return true;
        }
        let mut slot = self.clarify.borrow_mut();
        if slot.as_ref().is_some_and(|c| c.id == id) {
            let c = slot.take().expect("checked");
            let _ = c.reply.try_send(answer.to_string());
            return true;
        }
        false
    }

    /// The turn was interrupted: approvals are denied, a clarify gets no answer.
    pub fn cancel_all(&self) {
        self.resolve(true, "deny");
        if let Some(c) = self.clarify.take() {
            let _ = c.reply.try_send(String::new());
        }
    }
}

/// `/approve [all] [session|always]` → (all, answer); `None` for other arguments.
pub fn parse_approve(args: &str) -> Option<(bool, &'static str)> {
    let (mut all, mut answer) = (false, "once");
    for word in args.split_whitespace() {
        match word.to_lowercase().as_str() {
            "all" => all = true,
            "session" | "ses" => answer = "session",
            "always" | "permanent" | "permanently" => answer = "always",
            "once" => answer = "once",
            _ => return None,
        }
    }
    Some((all, answer))
}

/// `/deny [all] [reason]` → (all, `deny` or `deny:<reason>`).
pub fn parse_deny(args: &str) -> (bool, String) {
    let args = args.trim();
    let (all, reason) = match args.split_once(char::is_whitespace) {
        Some((w, rest)) if w.eq_ignore_ascii_case("all") => (true, rest.trim()),
        _ if args.eq_ignore_ascii_case("all") => (true, ""),
        _ => (false, args),
    };
    let answer = if reason.is_empty() { "deny".to_string() } else { format!("deny:{reason}") };
    (all, answer)
}

/// A bare word that answers a pending approval (the whole message), as Hermes reads them.
pub fn approval_word(text: &str) -> Option<&'static str> {
    let word = text.trim().trim_end_matches(['.', '!']).trim_end_matches('\u{FE0F}').to_lowercase();
    Some(match word.as_str() {
        "approve" | "yes" | "ok" | "okay" | "confirm" | "y" | "👍" => "once",
        "deny" | "no" | "reject" | "cancel" | "n" | "👎" => "deny",
        "always" => "always",
        "session" => "session",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvals_answer_in_order_one_or_all_and_interrupts_deny() {
        let asks = Asks::default();
        let (t1, r1) = async_channel::bounded(1);
        let (t2, r2) = async_channel::bounded(1);
        let (t3, r3) = async_channel::bounded(1);
        asks.add_approval("a".into(), t1);
        let id2 = asks.add_approval("b".into(), t2);
        asks.add_approval("c".into(), t3);
        assert!(asks.waiting());
        assert_eq!(asks.resolve(false, "once"), vec!["a".to_string()]);
        assert_eq!(r1.try_recv().unwrap(), "once");
        assert!(asks.expire(id2, "timeout"));
        assert!(!asks.expire(id2, "timeout"), "answered once");
        assert_eq!(r2.try_recv().unwrap(), "timeout");
        asks.cancel_all();
        assert_eq!(r3.try_recv().unwrap(), "deny");
        assert!(!asks.waiting());
        assert!(asks.resolve(true, "once").is_empty());
    }

    #[test]
    fn clarify_is_answered_by_its_asker_or_a_matching_button() {
        let asks = Asks::default();
        let (tx, rx) = async_channel::bounded(1);
        let id = asks.set_clarify(Some("42".into()), vec!["red".into(), "blue".into()], "n1".into(), tx);
        assert!(asks.take_clarify(Some("43"), None).is_none(), "another user");
        assert!(asks.take_clarify(Some("42"), Some("old")).is_none(), "a stale button");
        let c = asks.take_clarify(Some("42"), None).unwrap();
        assert_eq!(c.answer_of(" 2 "), "blue");
        assert_eq!(c.answer_of("3"), "3");
        assert_eq!(c.answer_of("green"), "green");
        Asks::answer_clarify(c, "blue".into());
        assert_eq!(rx.try_recv().unwrap(), "blue");
        assert!(!asks.expire(id, ""), "already answered");
        let (tx, rx) = async_channel::bounded(1);
        asks.set_clarify(None, vec![], "n2".into(), tx);
        asks.cancel_all();
        assert_eq!(rx.try_recv().unwrap(), "");
    }

    #[test]
    fn approve_and_deny_arguments_and_bare_words() {
        assert_eq!(parse_approve(""), Some((false, "once")));
        assert_eq!(parse_approve("all session"), Some((true, "session")));
        assert_eq!(parse_approve("Always"), Some((false, "always")));
        assert_eq!(parse_approve("please"), None);
        assert_eq!(parse_deny(""), (false, "deny".into()));
        assert_eq!(parse_deny("all"), (true, "deny".into()));
        assert_eq!(parse_deny("all too risky"), (true, "deny:too risky".into()));
        assert_eq!(parse_deny("not now"), (false, "deny:not now".into()));
        assert_eq!(approval_word("Yes!"), Some("once"));
        assert_eq!(approval_word("👍"), Some("once"));
        assert_eq!(approval_word("no"), Some("deny"));
        assert_eq!(approval_word("always"), Some("always"));
        assert_eq!(approval_word("session"), Some("session"));
        assert_eq!(approval_word("no idea"), None);
    }
}
