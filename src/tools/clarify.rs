//! `clarify` (A14, AD §3.3): asks the user a question in the chat and waits for the answer
//! (the gateway shows it with numbered choices and takes the asker's next message).

use miniserde::json::Object;

use super::args::{self, object, s};
use super::{HostAsk, ToolEnv, ToolSpec};

/// Hermes allows at most four choices (the UI adds "Other").
const MAX_CHOICES: usize = 4;
/// The longest question and choice accepted, in characters.
const MAX_QUESTION: usize = 2000;
const MAX_CHOICE: usize = 200;

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "clarify",
        toolset: "clarify",
        description: "Ask the user a question when you need clarification, feedback, or a decision before \
            proceeding. Supports multiple choice (up to 4 choices; the user may also answer freely) or an \
            open-ended question. Blocks until the user answers. Use it only when the answer really changes \
            what you do next.",
        parameters: r#"{"type":"object","properties":{"question":{"type":"string","description":"The question to present to the user."},"choices":{"type":"array","items":{"type":"string"},"maxItems":4,"description":"Up to 4 answer choices. Omit for an open-ended question."}},"required":["question"]}"#,
        read_only: false,
        run,
    }
}

fn run(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let question = args::string(a, "question")?;
    if question.trim().is_empty() {
        return Err("`question` must not be empty".into());
    }
    if question.chars().count() > MAX_QUESTION {
        return Err(format!("`question` is too long: at most {MAX_QUESTION} characters"));
    }
    let choices = args::opt_strings(a, "choices")?.unwrap_or_default();
    if choices.len() > MAX_CHOICES {
        return Err(format!("`choices` has {} items; at most {MAX_CHOICES} are allowed", choices.len()));
    }
    if let Some(c) = choices.iter().find(|c| c.trim().is_empty() || c.chars().count() > MAX_CHOICE) {
        return Err(format!(
            "each choice must be 1 to {MAX_CHOICE} characters; got {:?}",
            c.chars().take(40).collect::<String>()
        ));
    }
    if env.session.source.is_none() {
        return Err("clarify needs a chat to ask in; there is no user to answer here".into());
    }
    let ask = HostAsk::Clarify { question: question.clone(), choices };
    let Some(answer) = env.host.ask(ask) else {
        return Err("clarify needs a chat to ask in; the question could not be asked".into());
    };
    let answer = if answer.is_empty() {
        format!("[user did not respond within {}m]", env.config.clarify_timeout.div_ceil(60))
    } else {
        answer
    };
    Ok(object(vec![("question", s(question)), ("user_response", s(answer))]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::ToolRegistry;
    use crate::tools::test_env::{call, env};

    #[test]
    fn bad_arguments_and_no_chat_are_errors() {
        let dir = std::path::Path::new("/nonexistent");
        let reg = ToolRegistry::new(&[]);
        let run = |a: &str| reg.call(&env(dir), &call("clarify", a));
        assert!(run("{}").contains("question"), "{}", run("{}"));
        assert!(run(r#"{"question":" "}"#).contains("must not be empty"));
        let five = r#"{"question":"q","choices":["a","b","c","d","e"]}"#;
        assert!(run(five).contains("at most 4"), "{}", run(five));
        assert!(run(r#"{"question":"q","choices":["a",""]}"#).contains("each choice"));
        assert!(run(r#"{"question":"q"}"#).contains("needs a chat"));
    }

    #[test]
    fn the_answer_or_its_absence_reaches_the_model() {
        let dir = std::path::Path::new("/nonexistent");
        let (link, rx) = crate::tools::HostLink::channel();
        let mut e = env(dir);
        e.host = link;
        e.session.source = Some(hermes_platform::Source {
            platform: "telegram".into(),
            chat_id: "1".into(),
            chat_name: None,
            chat_type: hermes_platform::ChatType::Dm,
            user_id: Some("42".into()),
            user_name: None,
            thread_id: None,
            is_bot: false,
            role_authorized: None,
        });
        let server = std::thread::spawn(move || {
            for answer in ["blue", ""] {
                let req = rx.recv_blocking().unwrap();
                assert_eq!(
                    req.ask,
                    HostAsk::Clarify { question: "colour?".into(), choices: vec!["red".into(), "blue".into()] }
                );
                req.reply.send_blocking(answer.into()).unwrap();
            }
        });
        let a = r#"{"question":"colour?","choices":["red","blue"]}"#;
        assert_eq!(
            run(&e, &crate::tools::parse_arguments(a).unwrap()).unwrap(),
            r#"{"question":"colour?","user_response":"blue"}"#
        );
        let out = run(&e, &crate::tools::parse_arguments(a).unwrap()).unwrap();
        assert!(out.contains("[user did not respond within 60m]"), "{out}");
        server.join().unwrap();
    }
}
