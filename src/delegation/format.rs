//! The texts of delegation, word for word from Hermes (AD §4.5–4.10), so a model prompted for
//! Hermes reads the same results, notes and completion blocks here. Pure functions, no I/O.

// Used by the delegation registry and the delegate_task tool, which land after this module.

use crate::text::thousands;
use miniserde::json::{Array, Number, Object, Value};

/// One child's outcome (the Hermes result entry, AD §4.5).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskResult {
    pub task_index: usize,
    pub goal: String,
    /// `completed`, `failed`, `interrupted`, `timeout` or `error`.
    pub status: String,
    /// Empty when the child produced none (stored as JSON `null`, as Hermes does).
    pub summary: String,
    pub error: Option<String>,
    pub api_calls: u32,
    pub duration_seconds: f64,
    pub model: String,
    /// `completed`, `interrupted`, `max_iterations`, `timeout` or `error`.
    pub exit_reason: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// `{"results":[{task_index,status,summary,api_calls,duration_seconds,model,exit_reason,
/// tokens:{input,output},error?}…],"total_duration_seconds":T}`: the synchronous tool result, and
/// what a finished background delegation stores.
pub fn results_json(results: &[TaskResult], total_seconds: f64) -> String {
    let mut list = Array::new();
    for r in results {
        let mut entry = Object::new();
        entry.insert("task_index".into(), Value::Number(Number::U64(r.task_index as u64)));
        entry.insert("status".into(), s(&r.status));
        let summary = if r.summary.is_empty() { Value::Null } else { s(&r.summary) };
        entry.insert("summary".into(), summary);
        entry.insert("api_calls".into(), Value::Number(Number::U64(r.api_calls.into())));
        entry.insert("duration_seconds".into(), Value::Number(Number::F64(round2(r.duration_seconds))));
        entry.insert("model".into(), s(&r.model));
        entry.insert("exit_reason".into(), s(&r.exit_reason));
        let mut tokens = Object::new();
        tokens.insert("input".into(), Value::Number(Number::U64(r.input_tokens)));
        tokens.insert("output".into(), Value::Number(Number::U64(r.output_tokens)));
        entry.insert("tokens".into(), Value::Object(tokens));
        if let Some(error) = &r.error {
            entry.insert("error".into(), s(error));
        }
        list.push(Value::Object(entry));
    }
    let mut top = Object::new();
    top.insert("results".into(), Value::Array(list));
    top.insert("total_duration_seconds".into(), Value::Number(Number::F64(round2(total_seconds))));
    miniserde::json::to_string(&Value::Object(top))
}

/// The inverse of [`results_json`], for results read back from the store. The goals are not in
/// the JSON (they are in the row), so `goal` is left empty. `None` when it is not that shape.
pub fn parse_results(json: &str) -> Option<(Vec<TaskResult>, f64)> {
    let top: Object = miniserde::json::from_str(json).ok()?;
    let Some(Value::Array(list)) = top.get("results") else { return None };
    let mut results = Vec::with_capacity(list.len());
    for entry in list {
        let Value::Object(e) = entry else { return None };
        let tokens = match e.get("tokens") {
            Some(Value::Object(t)) => Some(t),
            _ => None,
        };
        results.push(TaskResult {
            task_index: num(e.get("task_index")) as usize,
            goal: String::new(),
            status: text(e.get("status")),
            summary: text(e.get("summary")),
            error: match e.get("error") {
                Some(Value::String(error)) => Some(error.clone()),
                _ => None,
            },
            api_calls: num(e.get("api_calls")) as u32,
            duration_seconds: num(e.get("duration_seconds")),
            model: text(e.get("model")),
            exit_reason: text(e.get("exit_reason")),
            input_tokens: num(tokens.and_then(|t| t.get("input"))) as u64,
            output_tokens: num(tokens.and_then(|t| t.get("output"))) as u64,
        });
    }
    Some((results, num(top.get("total_duration_seconds"))))
}

/// Hermes `_format_age`: `45s`, `18m`, `2m5s`, `2h`, `2h3m`.
pub fn age(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "?".into();
    }
    let s = seconds.max(0.0) as u64;
    if s < 60 {
        return format!("{s}s");
    }
    let (m, s) = (s / 60, s % 60);
    if m < 60 {
        return if s == 0 { format!("{m}m") } else { format!("{m}m{s}s") };
    }
    let (h, m) = (m / 60, m % 60);
    if m == 0 { format!("{h}h") } else { format!("{h}h{m}m") }
}

/// What a completion block is made of.
pub struct Completion<'a> {
    pub id: &'a str,
    pub goals: &'a [String],
    pub context: Option<&'a str>,
    pub role: &'a str,
    pub results: &'a [TaskResult],
    pub total_seconds: f64,
    pub dispatched_at: f64,
    /// When it finished: Hermes measures the age from dispatch to completion, not to delivery.
    pub now: f64,
    /// The whole unit failed before producing results (the runner itself broke).
    pub error: Option<&'a str>,
}

/// The message a finished background delegation injects into its chat (Hermes
/// `_format_async_delegation`, AD §4.10): the single form for one goal, the batch form for several.
/// Self-contained, because the agent may have moved on and forgotten why it dispatched it.
pub fn completion_text(c: &Completion) -> String {
    let mut results: Vec<&TaskResult> = c.results.iter().collect();
    results.sort_by_key(|r| r.task_index);
    let dispatched = format!("Dispatched: {} ({} ago)", local_time(c.dispatched_at), age(c.now - c.dispatched_at));
    let context = c.context.filter(|ctx| !ctx.is_empty());
    let mut lines: Vec<String> = Vec::new();

    if c.goals.len() > 1 {
        let n = if results.is_empty() { c.goals.len() } else { results.len() };
        lines.push(format!("[ASYNC DELEGATION BATCH COMPLETE — {}]", c.id));
        lines.push(format!(
            "A background fan-out of {n} subagent(s) you dispatched earlier has finished. All ran in parallel and \
             waited on each other; their consolidated results are below. You may have moved on since dispatching \
             — act on these or re-dispatch if things have changed."
        ));
        lines.push(String::new());
        lines.push(dispatched);
        if let Some(ctx) = context {
            lines.push(format!("Context you provided: {ctx}"));
        }
        lines.push(format!(
            "Role: {}   Model: {}   Total duration: {}s",
            c.role,
            models(&results),
            py_seconds(c.total_seconds)
        ));
        if let (Some(error), true) = (c.error, results.is_empty()) {
            lines.push("--- ERROR ---".into());
            lines.push(format!("The batch did not complete successfully: {error}"));
            return lines.join("\n");
        }
        for r in results {
            let goal = c.goals.get(r.task_index).unwrap_or(&r.goal);
            let ok = is_success(&r.status);
            let mut header = format!("--- {} TASK {}/{n}", if ok { "✓" } else { "✗" }, r.task_index + 1);
            if !goal.is_empty() {
                header.push_str(&format!(": {goal}"));
            }
            header.push_str(&format!("  (status={}", r.status));
            if r.api_calls > 0 {
                header.push_str(&format!(", api_calls={}", r.api_calls));
            }
            header.push_str(&format!(", {}s) ---", py_seconds(r.duration_seconds)));
            lines.push(String::new());
            lines.push(header);
            if ok && !r.summary.is_empty() {
                lines.push(r.summary.clone());
            } else if !r.summary.is_empty() {
                if let Some(error) = &r.error {
                    lines.push(format!("({}: {error})", r.status));
                }
                lines.push("Partial output:".into());
                lines.push(r.summary.clone());
            } else {
                let error = r.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
                lines.push(format!("(no summary — status={}{error})", r.status));
            }
        }
        return lines.join("\n");
    }

    let first = results.first();
    let status = first.map_or("error", |r| r.status.as_str());
    let summary = first.map_or("", |r| r.summary.as_str());
    let error = first.and_then(|r| r.error.as_deref()).or(c.error);
    let api_calls = first.map_or(0, |r| r.api_calls);
    let duration = first.map_or(c.total_seconds, |r| r.duration_seconds);
    lines.push(format!("[ASYNC DELEGATION COMPLETE — {}]", c.id));
    lines.push(
        "A background subagent you dispatched earlier has finished. You may have moved on since dispatching it; \
         the full task source is below so you can act on the result or re-dispatch if things have changed."
            .into(),
    );
    lines.push(String::new());
    lines.push(dispatched);
    lines.push(format!("Original goal: {}", c.goals.first().map_or("", |g| g.as_str())));
    if let Some(ctx) = context {
        lines.push(format!("Context you provided: {ctx}"));
    }
    lines.push(format!("Role: {}   Model: {}", c.role, models(&results)));
    lines.push(format!("Status: {status}   API calls: {api_calls}   Duration: {}s", py_seconds(duration)));
    lines.push("--- RESULT ---".into());
    if is_success(status) && !summary.is_empty() {
        lines.push(summary.into());
        return lines.join("\n");
    }
    if status == "interrupted" {
        let why = error.map(|e| format!(": {e}")).unwrap_or_else(|| ".".into());
        lines.push(format!("The subagent was interrupted before completing{why}"));
    } else {
        let why = error.map(|e| format!("\n{e}")).unwrap_or_default();
        lines.push(format!("The subagent did not complete successfully (status={status}).{why}"));
    }
    if !summary.is_empty() {
        lines.push("Partial output:".into());
        lines.push(summary.into());
    }
    lines.join("\n")
}

const NOTE_ONE: &str = "Subagent is running in the background. You and the user can keep working; its full result \
     re-enters the conversation as a new message when it finishes. Do not wait or poll — just continue.";
const NOTE_MANY: &str = "subagents are running in parallel in the background. You and the user can keep working; they \
     wait on each other and their consolidated results re-enter the conversation as a single message once ALL of \
     them finish. Do not wait or poll — just continue.";

/// The immediate tool result of a background dispatch (AD §4.7, without live transcripts): the
/// note tells the model not to wait, which is what keeps it from polling.
pub fn dispatched_json(id: &str, goals: &[String]) -> String {
    let note = if goals.len() > 1 { format!("{} {NOTE_MANY}", goals.len()) } else { NOTE_ONE.to_string() };
    let mut o = Object::new();
    o.insert("status".into(), s("dispatched"));
    o.insert("mode".into(), s("background"));
    o.insert("count".into(), Value::Number(Number::U64(goals.len() as u64)));
    o.insert("delegation_id".into(), s(id));
    o.insert("goals".into(), Value::Array(goals.iter().map(s).collect()));
    o.insert("note".into(), s(note));
    miniserde::json::to_string(&Value::Object(o))
}

/// The Hermes capacity error (AD §4.8), naming the key that raises the limit here.
pub fn capacity_error(running: usize, cap: usize) -> String {
    format!(
        "Async delegation capacity reached ({running} running). Wait for one to finish (its result will re-enter \
         the chat), or run this task synchronously (background=false). Raise delegation.max_async_children \
         (now {cap}) in config.yaml to allow more concurrent background subagents."
    )
}

/// The one message a chat gets after a restart for a delegation that was still running: its
/// children died with the old process, so no result will come.
pub fn lost_text(id: &str, goals: &[String]) -> String {
    let mut text = format!(
        "Background delegation {id} was lost: hermes-lite restarted before it finished, so its result will not \
         arrive. Ask again to re-run it."
    );
    match goals {
        [] => {}
        [goal] => text.push_str(&format!("\nGoal: {goal}")),
        _ => {
            text.push_str("\nGoals:");
            for (i, goal) in goals.iter().enumerate() {
                text.push_str(&format!("\n{}. {goal}", i + 1));
            }
        }
    }
    text
}

/// Hermes' summary cap (`_trim_summary_with_footer`): over `max_chars` characters keep 75 % head
/// and 25 % tail, snapped to line breaks, because a subagent's outcome and changed files are at
/// its end. Nothing is spilled to disk here, so the footer says so. `max_chars == 0` disables.
pub fn cap_summary(summary: &str, max_chars: usize) -> String {
    let chars: Vec<char> = summary.chars().collect();
    let total = chars.len();
    if max_chars == 0 || total <= max_chars {
        return summary.to_string();
    }
    let head_budget = max_chars * 3 / 4;
    let tail_budget = max_chars - head_budget;
    let mut head = &chars[..head_budget];
    let mut tail = &chars[total - tail_budget..];
    if let Some(nl) = head.iter().rposition(|&c| c == '\n')
        && nl * 2 > head_budget
    {
        head = &head[..nl];
    }
    if let Some(nl) = tail.iter().position(|&c| c == '\n')
        && nl * 2 < tail_budget
    {
        tail = &tail[nl + 1..];
    }
    let rule = "─".repeat(8);
    format!(
        "{}\n\n[... middle omitted — see footer ...]\n\n{}\n{rule} [SUMMARY TRUNCATED] {rule}\n\
         Showing {} chars (head) + {} chars (tail) of {} total — trimmed to protect the parent's context window.\n\
         Full output could not be stored to disk; the head+tail above is all that was preserved.\n{}",
        head.iter().collect::<String>(),
        tail.iter().collect::<String>(),
        thousands(head.len()),
        thousands(tail.len()),
        thousands(total),
        "─".repeat(37)
    )
}

fn s(text: impl Into<String>) -> Value {
    Value::String(text.into())
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(t)) => t.clone(),
        _ => String::new(),
    }
}

fn num(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Number(Number::U64(n))) => *n as f64,
        Some(Value::Number(Number::I64(n))) => *n as f64,
        Some(Value::Number(Number::F64(n))) => *n,
        _ => 0.0,
    }
}

fn is_success(status: &str) -> bool {
    matches!(status, "completed" | "success")
}

/// The children's real models, distinct, in task order (Hermes shows `?` here; AD §4.9 ⚠).
fn models(results: &[&TaskResult]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for r in results {
        if !r.model.is_empty() && !seen.contains(&r.model.as_str()) {
            seen.push(&r.model);
        }
    }
    if seen.is_empty() { "?".into() } else { seen.join(", ") }
}

fn round2(x: f64) -> f64 {
    if x.is_finite() { (x * 100.0).round() / 100.0 } else { 0.0 }
}

/// Seconds as Hermes prints its `round(x, 2)` floats: `41.2`, `125.0`.
fn py_seconds(x: f64) -> String {
    let r = round2(x);
    if r.fract() == 0.0 { format!("{r:.1}") } else { format!("{r}") }
}

/// `YYYY-MM-DD HH:MM:SS` in local time (Hermes `strftime` of `localtime`).
fn local_time(ts: f64) -> String {
    let t = crate::clock::local(ts);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: f64 = 1_780_000_000.0;

    fn result(index: usize, status: &str, summary: &str, error: Option<&str>) -> TaskResult {
        TaskResult {
            task_index: index,
            goal: String::new(),
            status: status.into(),
            summary: summary.into(),
            error: error.map(str::to_string),
            api_calls: 7,
            duration_seconds: 41.2,
            model: "gpt-mini".into(),
            exit_reason: if status == "completed" { "completed".into() } else { status.into() },
            input_tokens: 1200,
            output_tokens: 340,
        }
    }

    fn goals(list: &[&str]) -> Vec<String> {
        list.iter().map(|g| g.to_string()).collect()
    }

    fn completion<'a>(goals: &'a [String], results: &'a [TaskResult]) -> Completion<'a> {
        Completion {
            id: "deleg_ab12cd34",
            goals,
            context: Some("the repo is at /srv/app"),
            role: "leaf",
            results,
            total_seconds: 125.0,
            dispatched_at: T0,
            now: T0 + 125.0,
            error: None,
        }
    }

    fn dispatched_line() -> String {
        format!("Dispatched: {} (2m5s ago)", local_time(T0))
    }

    #[test]
    fn age_formats_like_hermes() {
        assert_eq!(age(0.0), "0s");
        assert_eq!(age(45.9), "45s");
        assert_eq!(age(18.0 * 60.0), "18m");
        assert_eq!(age(125.0), "2m5s");
        assert_eq!(age(7200.0), "2h");
        assert_eq!(age(2.0 * 3600.0 + 3.0 * 60.0 + 59.0), "2h3m");
        assert_eq!(age(-5.0), "0s");
        assert_eq!(age(f64::NAN), "?");
    }

    #[test]
    fn local_time_is_a_full_timestamp() {
        let t = local_time(T0);
        assert_eq!(t.len(), 19, "{t}");
        assert_eq!((&t[4..5], &t[7..8], &t[10..11], &t[13..14], &t[16..17]), ("-", "-", " ", ":", ":"));
    }

    #[test]
    fn single_completed() {
        let g = goals(&["find the flaky test"]);
        let r = [result(0, "completed", "- it was the clock\n- fixed in clock.rs", None)];
        let text = completion_text(&completion(&g, &r));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "[ASYNC DELEGATION COMPLETE — deleg_ab12cd34]");
        assert_eq!(
            lines[1],
            "A background subagent you dispatched earlier has finished. You may have moved on since dispatching \
             it; the full task source is below so you can act on the result or re-dispatch if things have changed."
        );
        assert_eq!(lines[2], "");
        assert_eq!(lines[3], dispatched_line());
        assert_eq!(lines[4], "Original goal: find the flaky test");
        assert_eq!(lines[5], "Context you provided: the repo is at /srv/app");
        assert_eq!(lines[6], "Role: leaf   Model: gpt-mini");
        assert_eq!(lines[7], "Status: completed   API calls: 7   Duration: 41.2s");
        assert_eq!(lines[8], "--- RESULT ---");
        assert_eq!(&lines[9..], ["- it was the clock", "- fixed in clock.rs"]);
    }

    #[test]
    fn single_without_context_has_no_context_line() {
        let g = goals(&["g"]);
        let r = [result(0, "completed", "done", None)];
        let c = Completion { context: None, ..completion(&g, &r) };
        assert!(!completion_text(&c).contains("Context you provided"));
        let c = Completion { context: Some(""), ..completion(&g, &r) };
        assert!(!completion_text(&c).contains("Context you provided"));
    }

    #[test]
    fn single_interrupted_with_partial_output() {
        let g = goals(&["scan the logs"]);
        let r = [result(0, "interrupted", "read 3 of 9 files", Some("Async delegation cancelled"))];
        let text = completion_text(&completion(&g, &r));
        let body = text.split_once("--- RESULT ---\n").unwrap().1;
        assert_eq!(
            body,
            "The subagent was interrupted before completing: Async delegation cancelled\n\
             Partial output:\nread 3 of 9 files"
        );
        assert!(text.contains("\nStatus: interrupted   API calls: 7   Duration: 41.2s\n"));

        let r = [result(0, "interrupted", "", None)];
        let text = completion_text(&completion(&g, &r));
        assert!(text.ends_with("--- RESULT ---\nThe subagent was interrupted before completing."), "{text}");
    }

    #[test]
    fn single_failed_with_no_summary() {
        let g = goals(&["call the api"]);
        let mut r = result(0, "timeout", "", Some("Subagent timed out after 1800s with 3 API call(s) completed"));
        r.api_calls = 3;
        r.duration_seconds = 1800.0;
        let r = [r];
        let text = completion_text(&completion(&g, &r));
        assert!(text.contains("\nStatus: timeout   API calls: 3   Duration: 1800.0s\n"), "{text}");
        assert!(text.ends_with(
            "--- RESULT ---\nThe subagent did not complete successfully (status=timeout).\n\
             Subagent timed out after 1800s with 3 API call(s) completed"
        ));
        assert!(!text.contains("Partial output"));
    }

    #[test]
    fn single_unit_error_without_results() {
        let g = goals(&["g"]);
        let c = Completion { error: Some("RuntimeError: boom"), ..completion(&g, &[]) };
        let text = completion_text(&c);
        assert!(text.contains("\nRole: leaf   Model: ?\nStatus: error   API calls: 0   Duration: 125.0s\n"), "{text}");
        assert!(text.ends_with("The subagent did not complete successfully (status=error).\nRuntimeError: boom"));
    }

    #[test]
    fn batch_of_two_with_one_failed() {
        let g = goals(&["inspect parser", "inspect tests"]);
        let mut failed = result(1, "failed", "", Some("provider failed"));
        failed.api_calls = 0;
        failed.duration_seconds = 3.456;
        failed.model = "big-model".into();
        // Out of order on purpose: tasks are shown by index.
        let r = [failed, result(0, "completed", "parser summary", None)];
        let text = completion_text(&completion(&g, &r));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "[ASYNC DELEGATION BATCH COMPLETE — deleg_ab12cd34]");
        assert_eq!(
            lines[1],
            "A background fan-out of 2 subagent(s) you dispatched earlier has finished. All ran in parallel and \
             waited on each other; their consolidated results are below. You may have moved on since dispatching \
             — act on these or re-dispatch if things have changed."
        );
        assert_eq!(lines[2], "");
        assert_eq!(lines[3], dispatched_line());
        assert_eq!(lines[4], "Context you provided: the repo is at /srv/app");
        assert_eq!(lines[5], "Role: leaf   Model: gpt-mini, big-model   Total duration: 125.0s");
        assert_eq!(lines[6], "");
        assert_eq!(lines[7], "--- ✓ TASK 1/2: inspect parser  (status=completed, api_calls=7, 41.2s) ---");
        assert_eq!(lines[8], "parser summary");
        assert_eq!(lines[9], "");
        assert_eq!(lines[10], "--- ✗ TASK 2/2: inspect tests  (status=failed, 3.46s) ---");
        assert_eq!(lines[11], "(no summary — status=failed: provider failed)");
        assert_eq!(lines.len(), 12);
    }

    #[test]
    fn batch_partial_output_and_unit_error() {
        let g = goals(&["a", "b"]);
        let r = [result(0, "completed", "ok", None), result(1, "interrupted", "half", Some("stopped"))];
        let text = completion_text(&completion(&g, &r));
        assert!(
            text.ends_with(
                "(status=interrupted, api_calls=7, 41.2s) ---\n(interrupted: stopped)\nPartial output:\nhalf"
            )
        );

        let c = Completion { error: Some("ValueError: no key"), context: None, ..completion(&g, &[]) };
        let text = completion_text(&c);
        assert!(text.contains("A background fan-out of 2 subagent(s)"));
        assert!(text.ends_with(
            "Role: leaf   Model: ?   Total duration: 125.0s\n--- ERROR ---\n\
             The batch did not complete successfully: ValueError: no key"
        ));
    }

    #[test]
    fn dispatched_json_for_one_and_two_goals() {
        assert_eq!(
            dispatched_json("deleg_1", &goals(&["fix it"])),
            r#"{"count":1,"delegation_id":"deleg_1","goals":["fix it"],"mode":"background","#.to_string()
                + r#""note":"Subagent is running in the background. You and the user can keep working; its full "#
                + r#"result re-enters the conversation as a new message when it finishes. Do not wait or poll — "#
                + r#"just continue.","status":"dispatched"}"#
        );
        assert_eq!(
            dispatched_json("deleg_2", &goals(&["a", "b \"q\""])),
            r#"{"count":2,"delegation_id":"deleg_2","goals":["a","b \"q\""],"mode":"background","#.to_string()
                + r#""note":"2 subagents are running in parallel in the background. You and the user can keep "#
                + r#"working; they wait on each other and their consolidated results re-enter the conversation "#
                + r#"as a single message once ALL of them finish. Do not wait or poll — just continue.","#
                + r#""status":"dispatched"}"#
        );
    }

    #[test]
    fn results_json_round_trips() {
        let mut second = result(1, "error", "", Some("boom"));
        second.exit_reason = "error".into();
        second.duration_seconds = 0.5;
        let results = vec![result(0, "completed", "line 1\nline \"2\" — ü", None), second];
        let json = results_json(&results, 42.25);
        assert!(json.contains(r#""summary":null"#), "{json}");
        assert!(json.contains(r#""tokens":{"input":1200,"output":340}"#), "{json}");
        assert_eq!(json.matches(r#""error":"#).count(), 1, "error only when there is one: {json}");
        let (parsed, total) = parse_results(&json).unwrap();
        assert_eq!(parsed, results);
        assert_eq!(total, 42.25);
        assert_eq!(parse_results("[]"), None);
        assert_eq!(parse_results("{\"results\":3}"), None);
        assert_eq!(parse_results("{\"results\":[],\"total_duration_seconds\":1}"), Some((vec![], 1.0)));
    }

    #[test]
    fn cap_summary_keeps_head_and_tail_and_disables_at_zero() {
        let summary: String = (0..100).map(|i| format!("line {i:02}\n")).collect(); // 800 chars
        assert_eq!(cap_summary(&summary, 0), summary);
        assert_eq!(cap_summary(&summary, 800), summary);
        let capped = cap_summary(&summary, 200);
        let (head, rest) = capped.split_once("\n\n[... middle omitted — see footer ...]\n\n").unwrap();
        // 150-char head budget snapped back to the last line break; 50-char tail snapped forward.
        assert_eq!(head, summary[..143].to_string());
        assert!(head.ends_with("line 17"));
        let (tail, footer) = rest.split_once("\n──────── [SUMMARY TRUNCATED] ────────\n").unwrap();
        assert_eq!(tail, "line 94\nline 95\nline 96\nline 97\nline 98\nline 99\n");
        assert_eq!(
            footer,
            "Showing 143 chars (head) + 48 chars (tail) of 800 total — trimmed to protect the parent's context \
             window.\nFull output could not be stored to disk; the head+tail above is all that was preserved.\n"
                .to_string()
                + &"─".repeat(37)
        );
    }

    #[test]
    fn cap_summary_counts_characters_not_bytes() {
        let summary = "é".repeat(3000);
        let capped = cap_summary(&summary, 1000);
        assert!(capped.starts_with(&"é".repeat(750)));
        assert!(capped.contains("Showing 750 chars (head) + 250 chars (tail) of 3,000 total"), "{capped}");
    }

    #[test]
    fn capacity_error_text() {
        assert_eq!(
            capacity_error(3, 3),
            "Async delegation capacity reached (3 running). Wait for one to finish (its result will re-enter the \
             chat), or run this task synchronously (background=false). Raise delegation.max_async_children (now 3) \
             in config.yaml to allow more concurrent background subagents."
        );
    }

    #[test]
    fn lost_text_names_the_id_and_goals() {
        let one = lost_text("deleg_9", &goals(&["summarise the thread"]));
        assert!(one.starts_with("Background delegation deleg_9 was lost: hermes-lite restarted"), "{one}");
        assert!(one.ends_with("\nGoal: summarise the thread"));
        let two = lost_text("deleg_9", &goals(&["a", "b"]));
        assert!(two.ends_with("\nGoals:\n1. a\n2. b"), "{two}");
    }
}
