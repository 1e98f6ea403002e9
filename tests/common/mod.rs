//! Helpers shared by the integration tests (each test file includes this module).
#![allow(dead_code)] // not every test file uses every helper

use std::path::Path;
use std::time::Duration;

use hermes_testkit::{BotMessage, Chat, FakeLlm, FakeTelegram, Gate, Gateway, HermesHome, Reply, User};

/// How long a test waits for anything the gateway should do.
pub const WAIT: Duration = Duration::from_secs(20);

/// The gateway binary cargo built for these tests.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_hermes-lite"))
}

/// The allowlisted user most tests talk as.
pub fn ann() -> User {
    User::new(42, "Ann")
}

/// Waits for a bot message in `chat` whose text is exactly `text`.
pub fn wait_text(tg: &FakeTelegram, chat: i64, text: &str) -> BotMessage {
    tg.wait_sent(WAIT, |m| m.chat_id == chat && m.text == text)
        .unwrap_or_else(|| panic!("no bot message {text:?} in chat {chat}; sent: {:#?}", tg.sent()))
}

/// Waits for a bot message in `chat` whose text starts with `prefix`.
pub fn wait_prefix(tg: &FakeTelegram, chat: i64, prefix: &str) -> BotMessage {
    tg.wait_sent(WAIT, |m| m.chat_id == chat && m.text.starts_with(prefix))
        .unwrap_or_else(|| panic!("no bot message starting {prefix:?} in chat {chat}; sent: {:#?}", tg.sent()))
}

/// Sends `text` and returns the next message the bot sends to `chat` (bot message ids count
/// up from 1000, one per message sent anywhere).
pub fn ask(tg: &FakeTelegram, chat: &Chat, from: &User, text: &str) -> BotMessage {
    let before = tg.sent().len() as i64;
    tg.user_says(chat, from, text);
    tg.wait_sent(WAIT, |m| m.chat_id == chat.id && m.message_id >= 1000 + before)
        .unwrap_or_else(|| panic!("no answer to {text:?}; sent: {:#?}", tg.sent()))
}

/// The setup of every "while a turn runs" test: a gateway for Ann (user 42) whose first model
/// answer is held until the test opens `gate`.
pub struct HeldTurn {
    // First, so the gateway stops before the fakes it talks to.
    _gw: Gateway,
    pub tg: FakeTelegram,
    pub llm: FakeLlm,
    pub home: HermesHome,
    pub gate: Gate,
    /// Ann's DM.
    pub dm: Chat,
}

impl HeldTurn {
    /// Starts the gateway; its first model answer will be `answer`, once the gate opens.
    pub fn start(answer: &str) -> HeldTurn {
        let (tg, llm, gate) = (FakeTelegram::start(), FakeLlm::start(), Gate::new());
        llm.push(Reply::text(answer).hold(&gate));
        let home = HermesHome::standard(&tg, &llm, "42");
        let gw = Gateway::start(bin(), &home);
        HeldTurn { _gw: gw, tg, llm, home, gate, dm: Chat::private(42) }
    }

    /// Ann sends `text`; returns once its turn is running (its model call arrived).
    pub fn run(&self, text: &str) {
        let before = self.llm.requests().len();
        self.tg.user_says(&self.dm, &ann(), text);
        assert!(self.llm.wait_requests(before + 1, WAIT), "the turn for {text:?} never called the model");
    }
}
