//! The same scripted replies rendered as Anthropic Messages API event streams
//! (`message_start` … `message_stop`), for [`super::FakeLlm::start_anthropic`].

use super::reply::{Ctx, Kind, Reply, split_text, tokens};
use crate::json::esc;

fn event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

impl Ctx<'_> {
    fn message_start(&self, reply: &Reply) -> String {
        let (read, write) = reply.cache.unwrap_or((0, 0));
        event(
            "message_start",
            &format!(
                r#"{{"type":"message_start","message":{{"id":"msg_{}","type":"message","role":"assistant","model":{},"content":[],"stop_reason":null,"usage":{{"input_tokens":{},"output_tokens":1,"cache_read_input_tokens":{read},"cache_creation_input_tokens":{write}}}}}}}"#,
                self.id,
                esc(self.model),
                self.prompt_tokens
            ),
        )
    }

    fn anthropic_tail(&self, stop: &str, output: usize) -> Vec<String> {
        vec![
            event(
                "message_delta",
                &format!(
                    r#"{{"type":"message_delta","delta":{{"stop_reason":"{stop}","stop_sequence":null}},"usage":{{"output_tokens":{output}}}}}"#
                ),
            ),
            event("message_stop", r#"{"type":"message_stop"}"#),
        ]
    }

    /// The events of a streamed reply; the first element is "the first chunk" for hold/stall.
    pub fn anthropic_events(&self, reply: &Reply) -> Vec<String> {
        let mut out = vec![self.message_start(reply)];
        match &reply.kind {
            Kind::Text(text) => {
                out.push(event(
                    "content_block_start",
                    r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                ));
                out.push(event("ping", r#"{"type":"ping"}"#));
                for p in split_text(text, reply.chunks) {
                    out.push(event(
                        "content_block_delta",
                        &format!(
                            r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":{}}}}}"#,
                            esc(&p)
                        ),
                    ));
                }
                out.push(event("content_block_stop", r#"{"type":"content_block_stop","index":0}"#));
                out.extend(self.anthropic_tail("end_turn", tokens(text)));
            }
            Kind::ToolCalls(calls) => {
                let mut output = 0;
                for (i, (name, args)) in calls.iter().enumerate() {
                    out.push(event(
                        "content_block_start",
                        &format!(
                            r#"{{"type":"content_block_start","index":{i},"content_block":{{"type":"tool_use","id":"toolu_{}","name":{},"input":{{}}}}}}"#,
                            self.first_call + i as u64,
                            esc(name)
                        ),
                    ));
                    for part in split_text(args, 2) {
                        out.push(event(
                            "content_block_delta",
                            &format!(
                                r#"{{"type":"content_block_delta","index":{i},"delta":{{"type":"input_json_delta","partial_json":{}}}}}"#,
                                esc(&part)
                            ),
                        ));
                    }
                    out.push(event("content_block_stop", &format!(r#"{{"type":"content_block_stop","index":{i}}}"#)));
                    output += tokens(args) + tokens(name);
                }
                out.extend(self.anthropic_tail("tool_use", output));
            }
            Kind::RawSse(body) => return vec![body.clone()],
            Kind::Status(..) => return Vec::new(),
        }
        out
    }
}
