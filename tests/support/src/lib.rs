//! Test support for hermes-lite's integration tests and bench: fake servers on loopback (a
//! Telegram Bot API, an OpenAI-compatible LLM), a throwaway `HERMES_HOME`, and a harness that
//! runs the real gateway binary. Threads and `std::net` only, no async runtime: each fake is a
//! small HTTP/1.1 server ([`http`]) with its state behind a mutex the test reads.

pub mod discord;
pub mod gate;
pub mod home;
pub mod http;
mod json;
pub mod llm;
pub mod process;
pub mod telegram;
pub mod tls;

use std::time::{Duration, Instant};

pub use discord::{DISCORD_BOT_ID, DISCORD_TOKEN, DiscordMessage, DiscordUser, FakeDiscord, GatewayOp};
pub use gate::Gate;
pub use home::HermesHome;
pub use llm::{FakeLlm, LlmRequest, Reply};
pub use process::{Gateway, run_cli};
pub use telegram::{ApiCall, BotMessage, Chat, FakeTelegram, TOKEN, User};
pub use tls::TlsIdentity;

/// Polls `f` every 20 ms until it returns true (→ true) or the timeout passes (→ false).
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
