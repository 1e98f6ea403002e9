//! A tool that prints 100 MB (issue 5's memory proof): the fake model asks for a terminal command
//! that writes 100 000 000 bytes to stdout. The gateway keeps a capped head and tail for the
//! model and streams the rest to a spill file, so its RSS must not follow the output. Measured:
//! the gateway process's own VmRSS, sampled every 10 ms while the command runs, against its
//! VmRSS just before; and the size of the tool result the model receives.

use std::time::{Duration, Instant};

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Reply, User};

use crate::procfs::{self, mib};
use crate::report::{Budget, Figure, Kind};

const COMMAND: &str = r#"{"command":"head -c 100000000 /dev/zero | tr '\\0' a","timeout":120}"#;
const DONE: &str = "the command printed 100 MB";
/// The tool output cap (`tool_output.max_bytes`, default 50 000) plus the truncation notice.
const RESULT_BUDGET_KIB: f64 = 52.0;

pub fn measure(tg: &FakeTelegram, llm: &FakeLlm, pid: u32, user_id: i64) -> Vec<Figure> {
    llm.push(Reply::tool_call("terminal", COMMAND));
    llm.push(Reply::text(DONE));
    let requests_before = llm.requests().len();
    let before = procfs::status_kb(pid, "VmRSS");
    let (chat, user) = (Chat::private(user_id), User::new(user_id, "BenchTool"));
    tg.user_says(&chat, &user, "print 100 MB");

    let deadline = Instant::now() + Duration::from_secs(180);
    let mut peak = before;
    let mut answered = false;
    while Instant::now() < deadline {
        if let Some(now) = procfs::status_kb(pid, "VmRSS") {
            peak = peak.max(Some(now));
        }
        if tg.wait_sent(Duration::from_millis(10), |m| m.chat_id == user_id && m.text.contains(DONE)).is_some() {
            answered = true;
            break;
        }
    }
    let growth = before.zip(peak).map(|(b, p)| mib(p.saturating_sub(b)));
    let note = format!(
        "gateway VmRSS {:.2} → peak {:.2} MiB{}",
        before.map(mib).unwrap_or(0.0),
        peak.map(mib).unwrap_or(0.0),
        if answered { "" } else { "; no final answer within 180 s" }
    );
    let rss = Figure::new(
        "RSS growth while a tool prints 100 MB",
        "MiB",
        growth.filter(|_| answered),
        Budget::AtMost(2.0),
        Kind::Soft,
    )
    .note(note);

    // The follow-up request carries the tool result the model sees.
    let result_len = llm
        .requests()
        .iter()
        .skip(requests_before)
        .filter_map(|r| r.messages.iter().rev().find(|(role, _)| role == "tool").map(|(_, c)| c.len()))
        .max();
    let result = Figure::new(
        "tool result sent to the model (100 MB printed)",
        "KiB",
        result_len.map(|n| n as f64 / 1024.0),
        Budget::AtMost(RESULT_BUDGET_KIB),
        Kind::Soft,
    )
    .note(result_len.map_or("no tool result seen".to_string(), |n| format!("{n} bytes")));
    vec![rss, result]
}
