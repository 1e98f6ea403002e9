//! The words users see, in one place. Where Hermes has a text for the situation, it is Hermes'
//! text verbatim (the references are GC/CAC sections of `shared/reference/`), so people moving
//! over see what they know.

/// GC §1.5 item 10.
pub const ACK_INTERRUPT: &str = "⚡ Interrupting current task. I'll respond to your message shortly.";
pub const ACK_QUEUE: &str = "⏳ Queued for the next turn. I'll respond once the current task finishes.";
pub const ACK_STEER: &str = "⏩ Steered into current run. Your message arrives after the next tool call.";
/// M17 (Hermes drops silently; we say so).
pub const QUEUE_FULL: &str =
    "⏳ Too many queued messages — this one was not queued. Wait for the current task or use /stop.";
/// M13.
pub const QUARANTINED: &str = "⚠️ This message could not be processed and was set aside after repeated failures.";
/// M26 /stop.
pub const STOPPED: &str = "⚡ Stopped. You can continue this session.";
pub const NOTHING_TO_STOP: &str = "Nothing is running right now.";
/// GC §2.4.
pub const SESSION_RESET: &str = "✨ Session reset! Starting fresh.";
pub const NEW_SESSION: &str = "✨ New session started!";
/// M42.
pub const SHUTTING_DOWN: &str = "⏳ Gateway is shutting down — I'll be back in a moment.";
pub const RESTARTING: &str = "⏳ Gateway is restarting — I'll be back in a moment.";
/// GC §1.14 / §1.11 item 10.
pub const DELIVERY_FAILED: &str = "⚠️ Message delivery failed after multiple attempts. Please try again — your \
request was processed but the response could not be sent.";
/// GC §1.9 item 1.
pub const NO_RESPONSE: &str =
    "⚠️ Processing completed but no response was generated. Try again or rephrase your question.";
pub const CONTEXT_TOO_LARGE: &str = "⚠️ Session too large for the model's context window.\nUse /compact to compress \
the conversation, or /reset to start fresh.";
/// M41: the note the model gets when a turn is rerun after a restart.
pub const RESUME_NOTE: &str = "[The previous attempt to answer this message was interrupted by a gateway restart.]";
/// M20 watchdog texts (GC §1.8.4).
pub const INACTIVITY_TIMEOUT_HINT: &str = "To increase the limit, set agent.gateway_timeout in config.yaml.";

/// GC §2.10: a title another session holds.
pub fn title_in_use(title: &str, owner: &str) -> String {
    format!("Title '{title}' is already in use by session {owner}.")
}

/// M19.
pub fn busy_command(command: &str) -> String {
    format!("⏳ Agent is running — /{command} can't run mid-turn. Wait for the current response or /stop first.")
}

/// CAC §4.1 item 9.
pub fn unknown_command(command: &str) -> String {
    format!(
        "Unknown command `/{command}`. Type /commands to see what's available, or resend without the leading slash \
         to send as a regular message."
    )
}

/// GC §1.9 item 1: a failed model call.
pub fn request_failed(error: &str) -> String {
    let cut: String = error.chars().take(300).collect();
    format!("The request failed: {cut}\nTry again or use /reset to start a fresh session.")
}

/// GC §1.9 item 7: a failed key.
pub fn auth_failed(error: &str) -> String {
    let cut: String = error.chars().take(300).collect();
    format!("⚠️ Provider authentication failed. Check the configured credentials: {cut}")
}

/// GC §1.3 item 6: an internal error while handling a message.
pub fn internal_error(kind: &str) -> String {
    format!("Sorry, I encountered an error ({kind}).\nTry again or use /reset to start a fresh session.")
}

/// M20: every `gateway_notify_interval` while a turn runs.
pub fn working(minutes: u64) -> String {
    format!("⏳ Working — {minutes} min")
}

/// M20: one warning after `gateway_timeout_warning` without activity.
pub fn inactivity_warning(idle_min: u64, left_min: u64) -> String {
    format!(
        "⚠️ No activity for {idle_min} min. If the agent does not respond soon, it will be timed out in {left_min} min. \
         You can continue waiting or use /reset."
    )
}

/// M20: the turn is stopped after `gateway_timeout` without activity.
pub fn inactivity_timeout(minutes: u64) -> String {
    format!("⏱️ Agent inactive for {minutes} min — no tool calls or API responses.\n{INACTIVITY_TIMEOUT_HINT}")
}

/// An inbound message over the gateway's size cap (hermes-lite's own text).
pub fn too_long(bytes: usize, limit: usize) -> String {
    format!(
        "⚠️ This message is too long ({} KB; the limit is {} KB), so it was not sent to the agent. \
         Send it as a file or in smaller parts.",
        bytes / 1024,
        limit / 1024
    )
}
