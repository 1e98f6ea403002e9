//! `todo`: the agent's task list for the session (AD §3.3). It lives in the transcript: each
//! call's result holds the whole list, and the next turn starts from the last one, so the list
//! survives turns and restarts without any state of its own.

use miniserde::json::{Array, Number, Object, Value};

use super::{ToolEnv, ToolSpec};
use crate::agent::message::str_field;

const MAX_ITEMS: usize = 256;
const MAX_CONTENT: usize = 4000;
const STATUSES: [&str; 4] = ["pending", "in_progress", "completed", "cancelled"];

/// One task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TodoItem {
    pub id: String,
    pub content: String,
    pub status: String,
}

/// The session's list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TodoList {
    pub items: Vec<TodoItem>,
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "todo",
        toolset: "todo",
        description: "Manage your task list for this conversation. Use it for work with 3 or more steps: \
            write the plan as items, mark one item in_progress while you work on it, and completed when done. \
            Call with no arguments to read the list. `todos` replaces the list unless `merge` is true, in which \
            case items are updated by id and new ids are appended.",
        parameters: r#"{"type":"object","properties":{"todos":{"type":"array","description":"Task items to write","items":{"type":"object","properties":{"id":{"type":"string","description":"Unique item id"},"content":{"type":"string","description":"What to do"},"status":{"type":"string","enum":["pending","in_progress","completed","cancelled"]}},"required":["id","content","status"]}},"merge":{"type":"boolean","description":"Update items by id instead of replacing the list","default":false}}}"#,
        read_only: false,
        run,
    }
}

fn run(env: &ToolEnv, args: &Object) -> Result<String, String> {
    let mut state = env.state();
    if let Some(todos) = args.get("todos") {
        let Value::Array(items) = todos else { return Err("`todos` must be an array of {id, content, status}".into()) };
        let merge = matches!(args.get("merge"), Some(Value::Bool(true)));
        let parsed = parse_items(items)?;
        let list = &mut state.todos.items;
        if merge {
            for item in parsed {
                match list.iter_mut().find(|x| x.id == item.id) {
                    Some(existing) => *existing = item,
                    None => list.push(item),
                }
            }
        } else {
            *list = parsed;
        }
        if list.len() > MAX_ITEMS {
            list.truncate(MAX_ITEMS);
            return Err(format!("too many items: the list holds at most {MAX_ITEMS}; the rest were dropped"));
        }
    }
    Ok(render(&state.todos))
}

fn parse_items(items: &Array) -> Result<Vec<TodoItem>, String> {
    if items.len() > MAX_ITEMS {
        return Err(format!("too many items ({}); at most {MAX_ITEMS}", items.len()));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(o) = item else { return Err(format!("todos[{i}] must be an object")) };
        let id = str_field(o, "id").or_else(|| match o.get("id") {
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        });
        let Some(id) = id.filter(|s| !s.trim().is_empty()) else { return Err(format!("todos[{i}].id is missing")) };
        let Some(content) = str_field(o, "content") else { return Err(format!("todos[{i}].content is missing")) };
        if content.chars().count() > MAX_CONTENT {
            return Err(format!("todos[{i}].content is longer than {MAX_CONTENT} characters"));
        }
        let status = str_field(o, "status").unwrap_or_else(|| "pending".into());
        if !STATUSES.contains(&status.as_str()) {
            return Err(format!("todos[{i}].status must be one of {}; found {status:?}", STATUSES.join(", ")));
        }
        out.push(TodoItem { id, content, status });
    }
    Ok(out)
}

/// `{"todos":[...],"summary":{total, pending, in_progress, completed, cancelled}}`
fn render(list: &TodoList) -> String {
    let mut arr = Array::new();
    for item in &list.items {
        let mut o = Object::new();
        o.insert("id".into(), Value::String(item.id.clone()));
        o.insert("content".into(), Value::String(item.content.clone()));
        o.insert("status".into(), Value::String(item.status.clone()));
        arr.push(Value::Object(o));
    }
    let mut summary = Object::new();
    summary.insert("total".into(), Value::Number(Number::U64(list.items.len() as u64)));
    for status in STATUSES {
        let n = list.items.iter().filter(|i| i.status == status).count();
        summary.insert(status.into(), Value::Number(Number::U64(n as u64)));
    }
    let mut o = Object::new();
    o.insert("todos".into(), Value::Array(arr));
    o.insert("summary".into(), Value::Object(summary));
    miniserde::json::to_string(&Value::Object(o))
}

/// Rebuilds the list from the last `todo` result of the transcript.
pub fn from_history<'a>(results: impl DoubleEndedIterator<Item = (&'a str, &'a str)>) -> TodoList {
    for (tool_name, content) in results.rev() {
        if tool_name != "todo" {
            continue;
        }
        let Ok(Value::Object(o)) = miniserde::json::from_str::<Value>(content) else { continue };
        let Some(Value::Array(items)) = o.get("todos") else { continue };
        if let Ok(items) = parse_items(items) {
            return TodoList { items };
        }
    }
    TodoList::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::message::ToolCall;
    use crate::tools::{ToolEnv, ToolRegistry, test_env};

    fn call(reg: &ToolRegistry, env: &mut ToolEnv, args: &str) -> String {
        reg.call(env, &ToolCall { id: "c".into(), name: "todo".into(), arguments: args.into() })
    }

    #[test]
    fn writes_merges_and_reads() {
        let reg = ToolRegistry::new(&[]);
        let mut s = test_env::env(std::path::Path::new("/nonexistent"));
        let out = call(
            &reg,
            &mut s,
            r#"{"todos":[{"id":"1","content":"plan","status":"in_progress"},{"id":"2","content":"do","status":"pending"}]}"#,
        );
        assert!(out.contains("\"total\":2"), "{out}");
        let out = call(
            &reg,
            &mut s,
            r#"{"todos":[{"id":"1","content":"plan","status":"completed"},{"id":"3","content":"check","status":"pending"}],"merge":true}"#,
        );
        assert!(out.contains("\"completed\":1") && out.contains("\"total\":3"), "{out}");
        let read = call(&reg, &mut s, "{}");
        assert_eq!(read, out);
        let replaced = call(&reg, &mut s, r#"{"todos":[]}"#);
        assert!(replaced.contains("\"total\":0"));
    }

    #[test]
    fn bad_items_are_named() {
        let reg = ToolRegistry::new(&[]);
        let mut s = test_env::env(std::path::Path::new("/nonexistent"));
        assert!(call(&reg, &mut s, r#"{"todos":"x"}"#).contains("must be an array"));
        assert!(
            call(&reg, &mut s, r#"{"todos":[{"content":"a","status":"pending"}]}"#).contains("todos[0].id is missing")
        );
        assert!(
            call(&reg, &mut s, r#"{"todos":[{"id":"1","content":"a","status":"done"}]}"#)
                .contains("status must be one of")
        );
        let many: Vec<String> =
            (0..300).map(|i| format!(r#"{{"id":"{i}","content":"x","status":"pending"}}"#)).collect();
        assert!(call(&reg, &mut s, &format!(r#"{{"todos":[{}]}}"#, many.join(","))).contains("too many items"));
    }

    #[test]
    fn the_list_comes_back_from_history() {
        let reg = ToolRegistry::new(&[]);
        let mut s = test_env::env(std::path::Path::new("/nonexistent"));
        let out = call(&reg, &mut s, r#"{"todos":[{"id":"a","content":"one","status":"pending"}]}"#);
        let history = [("todo", "{\"todos\":[]}"), ("other", "x"), ("todo", out.as_str())];
        let list = from_history(history.iter().copied());
        assert_eq!(list.items.len(), 1);
        assert_eq!(list.items[0].content, "one");
    }
}
