//! `delegate_task` (toolset `delegation`, A18): hands goals to subagents with fresh context. The
//! tool thread only checks the arguments; the gateway runs the children (it owns the model
//! clients, the registry and the completion path) and answers through [`HostAsk::Delegate`].

use miniserde::json::{Object, Value};

use super::args;
use super::host::DelegateTask;
use super::{HostAsk, ToolEnv, ToolSpec};

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "delegate_task",
        toolset: "delegation",
        description: "Spawn one or more subagents to work on tasks in isolated contexts. Each subagent gets its \
            own conversation and tools; only its final summary comes back to you.\n\n\
            Single task: give `goal` (and `context`). Batch: give `tasks` (up to the configured number run in \
            parallel).\n\n\
            IMPORTANT: subagents know NOTHING about this conversation. Put everything they need in goal and \
            context: file paths, error messages, constraints, the language of the answer.\n\n\
            With background=true the call returns at once with a delegation id; you and the user keep working \
            and the full result re-enters the conversation as a new message when it finishes — do not wait or \
            poll. Without it, the call returns when the subagents are done, with their results as an array.\n\n\
            Summaries are the subagents' own reports: verify side effects that matter. Subagents cannot use \
            delegate_task, clarify, memory or send_message.",
        parameters: r#"{"type":"object","properties":{
            "goal":{"type":"string","description":"What the subagent should accomplish. Self-contained: it knows nothing of your conversation."},
            "context":{"type":"string","description":"Background the subagent needs: file paths, errors, constraints, output language."},
            "tasks":{"type":"array","description":"Batch mode: several tasks run in parallel. Each has its own goal and optional context.",
                "items":{"type":"object","properties":{
                    "goal":{"type":"string","description":"Task goal"},
                    "context":{"type":"string","description":"Task-specific context"}},
                "required":["goal"]}},
            "role":{"type":"string","enum":["leaf","orchestrator"],"description":"leaf (default): the subagent cannot delegate further."},
            "background":{"type":"boolean","description":"true: return at once; the result arrives later as a new message. Default false."}},
            "required":[]}"#,
        read_only: false,
        run,
    }
}

fn run(env: &ToolEnv, a: &Object) -> Result<String, String> {
    let tasks = tasks(a)?;
    let cap = env.config.delegation.max_concurrent_children;
    if tasks.len() > cap {
        return Err(format!(
            "Too many tasks: {} provided, but max_concurrent_children is {cap}. Split the work into batches of at \
             most {cap}.",
            tasks.len()
        ));
    }
    let background = args::opt_bool(a, "background")?.unwrap_or(false);
    let role = match args::opt_string(a, "role")?.as_deref().map(str::trim) {
        None | Some("" | "leaf") => "leaf",
        Some("orchestrator") => "orchestrator",
        Some(other) => return Err(format!("unknown role \"{other}\": use \"leaf\" or \"orchestrator\"")),
    };
    let answer = env
        .host
        .ask(HostAsk::Delegate { tasks, background, role: role.into() })
        .ok_or("delegate_task works inside a gateway chat only")?;
    match answer.strip_prefix("error:") {
        Some(why) => Err(why.to_string()),
        None => Ok(answer),
    }
}

/// `goal` (+ `context`) or `tasks` (a list, or that list as a JSON string, as models sometimes
/// send it).
fn tasks(a: &Object) -> Result<Vec<DelegateTask>, String> {
    let context = args::opt_string(a, "context")?.filter(|c| !c.trim().is_empty());
    let list = match a.get("tasks") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(items.iter().cloned().collect::<Vec<_>>()),
        Some(Value::String(text)) => match miniserde::json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => Some(items.into_iter().collect()),
            _ => return Err("argument \"tasks\" must be a list of {goal, context} objects".into()),
        },
        Some(_) => return Err("argument \"tasks\" must be a list of {goal, context} objects".into()),
    };
    if let Some(items) = list.filter(|l| !l.is_empty()) {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Value::Object(o) = item else {
                return Err(format!("tasks[{i}] must be an object with a \"goal\""));
            };
            let goal = args::opt_string(o, "goal").map_err(|e| format!("tasks[{i}]: {e}"))?.unwrap_or_default();
            if goal.trim().is_empty() {
                return Err(format!("tasks[{i}] has no goal"));
            }
            let own = args::opt_string(o, "context").map_err(|e| format!("tasks[{i}]: {e}"))?;
            let context = own.filter(|c| !c.trim().is_empty()).or_else(|| context.clone());
            out.push(DelegateTask { goal: goal.trim().to_string(), context });
        }
        return Ok(out);
    }
    let goal = args::opt_string(a, "goal")?.unwrap_or_default();
    if goal.trim().is_empty() {
        return Err("give a \"goal\" (one task) or \"tasks\" (a batch)".into());
    }
    Ok(vec![DelegateTask { goal: goal.trim().to_string(), context }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_env;

    fn parse(json: &str) -> Result<Vec<DelegateTask>, String> {
        tasks(&miniserde::json::from_str(json).unwrap())
    }

    #[test]
    fn one_goal_or_a_batch_and_clear_errors_otherwise() {
        let one = parse(r#"{"goal":" find the bug ","context":"in src/a.rs"}"#).unwrap();
        assert_eq!(one, vec![DelegateTask { goal: "find the bug".into(), context: Some("in src/a.rs".into()) }]);
        let batch = parse(r#"{"tasks":[{"goal":"a"},{"goal":"b","context":"own"}],"context":"shared"}"#).unwrap();
        assert_eq!(batch[0].context.as_deref(), Some("shared"));
        assert_eq!(batch[1].context.as_deref(), Some("own"));
        let as_text = parse(r#"{"tasks":"[{\"goal\":\"x\"}]"}"#).unwrap();
        assert_eq!(as_text[0].goal, "x");
        assert!(parse("{}").unwrap_err().contains("give a \"goal\""));
        assert!(parse(r#"{"tasks":[{"context":"c"}]}"#).unwrap_err().contains("tasks[0] has no goal"));
        assert!(parse(r#"{"tasks":[5]}"#).unwrap_err().contains("tasks[0] must be an object"));
        assert!(parse(r#"{"tasks":7}"#).unwrap_err().contains("must be a list"));
    }

    #[test]
    fn too_many_tasks_and_no_chat_are_errors() {
        let dir = crate::test_util::temp_dir("delegate");
        let env = test_env::env(&dir);
        let call = |args: &str| run(&env, &miniserde::json::from_str(args).unwrap());
        let four = r#"{"tasks":[{"goal":"a"},{"goal":"b"},{"goal":"c"},{"goal":"d"}]}"#;
        assert!(call(four).unwrap_err().starts_with("Too many tasks: 4 provided, but max_concurrent_children is 3"));
        assert_eq!(call(r#"{"goal":"a"}"#).unwrap_err(), "delegate_task works inside a gateway chat only");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
