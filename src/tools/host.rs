//! How a tool thread reaches the chat: it sends a [`HostRequest`] and blocks until the gateway
//! answers. The turn loop forwards requests to the gateway on the executor while it waits for
//! the tool, so a tool never touches the gateway's single-threaded state.

/// What a tool asks of the chat. Answers are plain strings, as documented per variant.
#[derive(Clone, Debug, PartialEq)]
pub enum HostAsk {
    /// A dangerous command needs approval (A17). Answer: `once`, `session`, `always`,
    /// `deny` or `deny:<reason given by the user>`, or `timeout`.
    Approval { command: String, reason: String },
    /// `clarify`: the user's answer, or an empty string when none came in time.
    Clarify { question: String, choices: Vec<String> },
    /// `send_message`: `ok:<message id>` or `error:<why>`.
    Send { target: String, text: String },
    /// `delegate_task`: the tool result (JSON) or `error:<why>`. Synchronous tasks answer when
    /// every child has finished; background ones at once.
    Delegate { tasks: Vec<DelegateTask>, background: bool, role: String },
}

/// One subagent's assignment.
#[derive(Clone, Debug, PartialEq)]
pub struct DelegateTask {
    pub goal: String,
    pub context: Option<String>,
}

/// One question from a tool thread, with where its answer goes.
#[derive(Debug)]
pub struct HostRequest {
    pub ask: HostAsk,
    pub reply: async_channel::Sender<String>,
}

/// A tool's line to the chat of its turn.
#[derive(Clone, Debug)]
pub struct HostLink {
    tx: Option<async_channel::Sender<HostRequest>>,
}

impl HostLink {
    /// No chat: every question goes unanswered.
    #[cfg(test)]
    pub fn none() -> HostLink {
        HostLink { tx: None }
    }

    /// A link and the receiving end the turn loop serves.
    pub fn channel() -> (HostLink, async_channel::Receiver<HostRequest>) {
        let (tx, rx) = async_channel::bounded(8);
        (HostLink { tx: Some(tx) }, rx)
    }

    /// Asks and blocks the tool thread until the answer; `None` when no chat can answer (no
    /// gateway behind this turn, or the turn ended).
    pub fn ask(&self, ask: HostAsk) -> Option<String> {
        let tx = self.tx.as_ref()?;
        let (reply, answer) = async_channel::bounded(1);
        tx.send_blocking(HostRequest { ask, reply }).ok()?;
        answer.recv_blocking().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_is_answered_through_the_channel_and_none_without_a_chat() {
        assert_eq!(HostLink::none().ask(HostAsk::Clarify { question: "q".into(), choices: vec![] }), None);
        let (link, rx) = HostLink::channel();
        let server = std::thread::spawn(move || {
            let req = rx.recv_blocking().unwrap();
            assert!(matches!(req.ask, HostAsk::Send { .. }));
            req.reply.send_blocking("ok:1".into()).unwrap();
        });
        assert_eq!(link.ask(HostAsk::Send { target: "t".into(), text: "x".into() }).as_deref(), Some("ok:1"));
        server.join().unwrap();
    }
}
