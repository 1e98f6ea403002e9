//! `send_message` (toolset `messaging`, off by default as in Hermes; `platform_toolsets` turns it
//! on for a platform): a message to another chat
//! through the gateway (CAC §6 targets): `platform` (its home channel) or
//! `platform:chat_id[:thread_id]`. The tool thread asks the gateway ([`HostAsk::Send`]), which
//! delivers it through the outbox.

use miniserde::json::Object;

use super::args::{self, object, s};
use super::{HostAsk, ToolEnv, ToolSpec};

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "send_message",
        toolset: "messaging",
        description: "Send a message to a chat on a connected platform. target is 'platform' (its home \
            channel, e.g. 'telegram') or 'platform:chat_id' or 'platform:chat_id:thread_id'.",
        parameters: r#"{"type":"object","properties":{
            "target":{"type":"string","description":"'telegram' (home channel) or 'telegram:<chat_id>[:<thread_id>]'"},
            "message":{"type":"string","description":"The text to send"}},
            "required":["target","message"]}"#,
        read_only: false,
        run,
    }
}

/// A chat and its optional thread.
pub type ChatTarget = (String, Option<String>);

/// `(platform, Some((chat, thread)))` of a target, `None` for the platform's home channel.
pub fn parse_target(target: &str) -> Result<(String, Option<ChatTarget>), String> {
    let bad =
        || format!("invalid target \"{target}\": use 'platform' (home channel) or 'platform:chat_id[:thread_id]'");
    let mut parts = target.trim().splitn(3, ':').map(str::trim);
    let platform = parts.next().filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    let platform = platform.ok_or_else(bad)?.to_ascii_lowercase();
    let Some(chat) = parts.next() else { return Ok((platform, None)) };
    if chat.is_empty() || chat.starts_with('#') {
        return Err(bad());
    }
    let thread = parts.next().map(str::to_string);
    if thread.as_deref() == Some("") {
        return Err(bad());
    }
    Ok((platform, Some((chat.to_string(), thread))))
}

fn run(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let target = args::string(a, "target")?;
    let message = args::string(a, "message")?;
    if message.trim().is_empty() {
        return Err("argument \"message\" must not be empty".into());
    }
    parse_target(&target)?;
    let answer = env
        .host
        .ask(HostAsk::Send { target: target.trim().to_string(), text: message })
        .ok_or("send_message works inside a gateway chat only")?;
    match answer.split_once(':') {
        Some(("ok", id)) => Ok(object(vec![
            ("success", miniserde::json::Value::Bool(true)),
            ("target", s(target)),
            ("message_id", s(id)),
        ])),
        Some(("error", why)) => Err(format!("could not send to {target}: {why}")),
        _ => Err(format!("could not send to {target}: unexpected answer {answer:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_a_platform_or_a_chat_with_an_optional_thread() {
        assert_eq!(parse_target("telegram").unwrap(), ("telegram".into(), None));
        assert_eq!(parse_target("Telegram:-100123").unwrap(), ("telegram".into(), Some(("-100123".into(), None))));
        assert_eq!(parse_target("telegram:5:77").unwrap().1, Some(("5".into(), Some("77".into()))));
        for bad in ["", ":5", "telegram:", "telegram:#general", "tele gram:1", "telegram:5:"] {
            assert!(parse_target(bad).unwrap_err().contains("invalid target"), "{bad}");
        }
    }

    #[test]
    fn without_a_gateway_the_tool_says_so() {
        let env = crate::tools::test_env::env(std::path::Path::new("/nonexistent"));
        let args = miniserde::json::from_str(r#"{"target":"telegram","message":"hi"}"#).unwrap();
        assert!(run(&env, &args).unwrap_err().contains("inside a gateway chat"));
    }
}
