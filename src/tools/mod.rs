//! The agent's tools: a registry built once (schemas included) and the dispatch of one call.
//!
//! A tool's answer is always a string the model reads, JSON by convention. Bad arguments and
//! failures come back as `{"error": "..."}` naming the problem; a tool never ends the turn.

pub mod todo;

use miniserde::json::{Array, Object, Value};

use crate::agent::message::ToolCall;

/// Per-turn state tools may keep (rebuilt at the start of every turn).
#[derive(Debug, Default)]
pub struct ToolState {
    pub todos: todo::TodoList,
}

/// One registered tool.
pub struct ToolSpec {
    pub name: &'static str,
    /// The Hermes toolset it belongs to (`agent.disabled_toolsets` works on these).
    pub toolset: &'static str,
    description: &'static str,
    parameters: &'static str,
    run: fn(&mut ToolState, &Object) -> Result<String, String>,
}

/// All enabled tools; schemas are built once and shared by every turn.
pub struct ToolRegistry {
    tools: Vec<ToolSpec>,
    schemas: Value,
}

impl ToolRegistry {
    /// The built-in tools minus those in disabled toolsets.
    pub fn new(disabled_toolsets: &[String]) -> ToolRegistry {
        let all = vec![todo::spec()];
        let tools: Vec<ToolSpec> =
            all.into_iter().filter(|t| !disabled_toolsets.iter().any(|d| d == t.toolset)).collect();
        let mut arr = Array::new();
        for t in &tools {
            let parameters = miniserde::json::from_str::<Value>(t.parameters).unwrap_or(Value::Object(Object::new()));
            let mut f = Object::new();
            f.insert("name".into(), Value::String(t.name.into()));
            f.insert("description".into(), Value::String(t.description.into()));
            f.insert("parameters".into(), parameters);
            let mut o = Object::new();
            o.insert("type".into(), Value::String("function".into()));
            o.insert("function".into(), Value::Object(f));
            arr.push(Value::Object(o));
        }
        ToolRegistry { tools, schemas: Value::Array(arr) }
    }

    /// The OpenAI `tools` array, or `None` when no tool is enabled.
    pub fn schemas(&self) -> Option<&Value> {
        (!self.tools.is_empty()).then_some(&self.schemas)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.tools.iter().map(|t| t.name).collect()
    }

    /// Runs one call; every failure becomes an error result for the model.
    pub fn call(&self, state: &mut ToolState, call: &ToolCall) -> String {
        let Some(tool) = self.tools.iter().find(|t| t.name == call.name) else {
            let known = self.names().join(", ");
            return error_json(&format!("unknown tool \"{}\"; available tools: {known}", call.name));
        };
        let args = match parse_arguments(&call.arguments) {
            Ok(a) => a,
            Err(e) => return error_json(&format!("invalid arguments for {}: {e}", call.name)),
        };
        let run = tool.run;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(state, &args))) {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => error_json(&e),
            Err(_) => {
                log::error!("tool {} panicked", call.name);
                error_json(&format!("the {} tool failed unexpectedly", call.name))
            }
        }
    }
}

/// Arguments must be a JSON object (an empty string counts as `{}`).
fn parse_arguments(text: &str) -> Result<Object, String> {
    if text.trim().is_empty() {
        return Ok(Object::new());
    }
    match miniserde::json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err("expected a JSON object".into()),
        Err(_) => {
            let shown: String = text.chars().take(120).collect();
            Err(format!("not valid JSON: {shown}"))
        }
    }
}

/// `{"error": message}`.
pub fn error_json(message: &str) -> String {
    let mut o = Object::new();
    o.insert("error".into(), Value::String(message.into()));
    miniserde::json::to_string(&Value::Object(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &str) -> ToolCall {
        ToolCall { id: "c".into(), name: name.into(), arguments: args.into() }
    }

    #[test]
    fn a_panicking_tool_is_an_error_for_the_model_not_a_crash() {
        let mut reg = ToolRegistry::new(&[]);
        reg.tools.push(ToolSpec {
            name: "boom",
            toolset: "test",
            description: "",
            parameters: "{}",
            run: |_, _| panic!("tool bug"),
        });
        let out = reg.call(&mut ToolState::default(), &call("boom", "{}"));
        assert!(out.contains("the boom tool failed unexpectedly"), "{out}");
    }

    #[test]
    fn unknown_tools_and_bad_arguments_are_errors_for_the_model() {
        let reg = ToolRegistry::new(&[]);
        let mut state = ToolState::default();
        assert!(reg.call(&mut state, &call("nope", "{}")).contains("unknown tool \\\"nope\\\""));
        assert!(reg.call(&mut state, &call("todo", "{oops")).contains("not valid JSON"));
        assert!(reg.call(&mut state, &call("todo", "[1]")).contains("expected a JSON object"));
    }

    #[test]
    fn disabled_toolsets_remove_tools() {
        assert!(ToolRegistry::new(&["todo".to_string()]).schemas().is_none());
        let reg = ToolRegistry::new(&[]);
        let json = miniserde::json::to_string(reg.schemas().unwrap());
        assert!(json.contains("\"name\":\"todo\""));
    }
}
