use super::*;
use crate::agent::message::ToolCall;

fn parse(text: &str) -> Value {
    miniserde::json::from_str(text).unwrap()
}

fn json(v: &Value) -> String {
    miniserde::json::to_string(v)
}

/// JSON text with its keys in miniserde's (sorted) order, for comparisons.
fn norm(text: &str) -> String {
    json(&parse(text))
}

#[test]
fn tool_use_round_trip_merges_results_and_places_breakpoints() {
    let call = |id: &str| ToolCall { id: id.into(), name: "todo".into(), arguments: r#"{"todos":[]}"#.into() };
    let mut assistant = ChatMessage::assistant_calls(Some("Let me check.".into()), vec![call("t1"), call("t2")]);
    assistant.thinking = Some(r#"[{"type":"thinking","thinking":"hmm","signature":"sig"}]"#.into());
    let messages = vec![
        ChatMessage::new(Role::System, "You are helpful."),
        ChatMessage::new(Role::User, "first"),
        ChatMessage::new(Role::Assistant, "ok"),
        ChatMessage::new(Role::User, "plan it"),
        ChatMessage::new(Role::User, "please"),
        assistant,
        ChatMessage::tool_result(&call("t1"), "r1".into()),
        ChatMessage::tool_result(&call("t2"), "r2".into()),
    ];
    let (system, out) = translate(&messages);
    assert_eq!(
        json(&Value::Array(system)),
        norm(r#"[{"type":"text","text":"You are helpful.","cache_control":{"type":"ephemeral"}}]"#)
    );
    let out: Vec<String> = out.iter().map(json).collect();
    assert_eq!(out.len(), 5, "{out:#?}");
    assert_eq!(out[0], norm(r#"{"role":"user","content":[{"type":"text","text":"first"}]}"#));
    // Consecutive user messages merge; the last two user turns carry the breakpoints.
    assert_eq!(
        out[2],
        norm(
            r#"{"role":"user","content":[{"type":"text","text":"plan it"},{"type":"text","text":"please","cache_control":{"type":"ephemeral"}}]}"#
        )
    );
    // Thinking first and unchanged, then text, then tool_use with parsed input.
    assert_eq!(
        out[3],
        norm(
            r#"{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":"Let me check."},{"type":"tool_use","id":"t1","name":"todo","input":{"todos":[]}},{"type":"tool_use","id":"t2","name":"todo","input":{"todos":[]}}]}"#
        )
    );
    // Both results in one user message.
    assert_eq!(
        out[4],
        norm(
            r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"r1"},{"type":"tool_result","tool_use_id":"t2","content":"r2","cache_control":{"type":"ephemeral"}}]}"#
        )
    );
}

#[test]
fn tools_become_input_schemas_and_bad_arguments_an_empty_input() {
    let tools = parse(
        r#"[{"type":"function","function":{"name":"todo","description":"Plan","parameters":{"type":"object","properties":{}}}}]"#,
    );
    let Value::Array(tools) = tools else { panic!() };
    assert_eq!(
        json(&tool(&tools[0]).unwrap()),
        norm(r#"{"name":"todo","description":"Plan","input_schema":{"type":"object","properties":{}}}"#)
    );
    let m = ChatMessage::assistant_calls(
        None,
        vec![ToolCall { id: "x".into(), name: "t".into(), arguments: "{oops".into() }],
    );
    assert_eq!(json(&assistant_blocks(&m)[0]), norm(r#"{"type":"tool_use","id":"x","name":"t","input":{}}"#));
    assert_eq!(thinking_budget(Some("high")), Some(16000));
    assert_eq!(thinking_budget(Some("none")), None);
}

/// Feeds `(event, data)` pairs; returns the streamed text and the last step.
fn feed(blocks: &mut Blocks, answer: &mut Answer, events: &[(&str, &str)]) -> (String, Option<Step>) {
    let mut shown = String::new();
    let mut last = None;
    for (name, data) in events {
        let step = blocks.absorb(answer, name, data);
        if let Step::Text(t) = &step {
            shown.push_str(t);
        }
        last = Some(step);
    }
    (shown, last)
}

#[test]
fn stream_text_tool_input_in_pieces_thinking_and_usage() {
    let (mut blocks, mut answer) = (Blocks::default(), Answer::default());
    let events = [
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":20,"cache_read_input_tokens":7,"cache_creation_input_tokens":5,"output_tokens":1}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"let me"}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"SIG"}}"#,
        ),
        ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
        ("ping", r#"{"type":"ping"}"#),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hel"}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"lo"}}"#,
        ),
        ("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"todo","input":{}}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"to"}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"dos\":[]}"}}"#,
        ),
        ("content_block_stop", r#"{"type":"content_block_stop","index":2}"#),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ];
    let (shown, last) = feed(&mut blocks, &mut answer, &events);
    assert!(matches!(last, Some(Step::End)));
    assert_eq!(shown, "Hello");
    let done = answer.into_completion();
    assert_eq!(done.text, "Hello");
    assert_eq!(
        done.tool_calls,
        vec![ToolCall { id: "toolu_1".into(), name: "todo".into(), arguments: r#"{"todos":[]}"#.into() }]
    );
    assert_eq!(done.finish_reason, "tool_calls");
    let u = done.usage;
    assert_eq!((u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens), (20, 30, 7, 5));
    assert_eq!(done.thinking, Some(norm(r#"[{"type":"thinking","thinking":"let me","signature":"SIG"}]"#)));
}

#[test]
fn stream_error_event_max_tokens_and_malformed_data() {
    let (mut blocks, mut answer) = (Blocks::default(), Answer::default());
    let error = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    assert!(matches!(blocks.absorb(&mut answer, "error", error), Step::Error(m) if m.contains("Overloaded")));
    assert!(matches!(blocks.absorb(&mut answer, "content_block_delta", "{nope"), Step::Malformed(_)));
    let md = r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":3}}"#;
    blocks.absorb(&mut answer, "message_delta", md);
    assert_eq!(answer.finish_reason.as_deref(), Some("length"));
    assert_eq!(finish_reason("end_turn"), "stop");
}

#[test]
fn thinking_is_capped() {
    let (mut blocks, mut answer) = (Blocks::default(), Answer::default());
    let start = r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#;
    blocks.absorb(&mut answer, "content_block_start", start);
    let piece = "x".repeat(1 << 20);
    let delta = format!(
        r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"thinking_delta","thinking":"{piece}"}}}}"#
    );
    let mut capped = false;
    for _ in 0..5 {
        if let Step::Malformed(m) = blocks.absorb(&mut answer, "content_block_delta", &delta) {
            assert!(m.contains("too large"));
            capped = true;
            break;
        }
    }
    assert!(capped);
}
