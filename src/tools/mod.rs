//! The agent's tools: a registry built once (schemas included) and the dispatch of one call.
//!
//! A tool's answer is always a string the model reads, JSON by convention. Bad arguments and
//! failures come back as `{"error": "..."}` naming the problem; a tool never ends the turn.
//!
//! Tools are plain blocking functions. Each call runs on a thread of its own (a command may run
//! for minutes; it must not pin the executor or the small blocking pool), sees the turn through
//! a [`ToolEnv`], and reaches the chat (approvals, clarify, send_message) through the
//! [`HostLink`], which the turn loop serves on the executor.

pub mod approval;
pub mod args;
pub mod clarify;
pub mod delegate;
pub mod files;
pub mod host;
pub mod memory;
pub mod output;
pub mod send_message;
pub mod session_search;
pub mod skills;
pub mod terminal;
pub mod todo;
pub mod web;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use miniserde::json::{Array, Object, Value};

pub use host::{HostAsk, HostLink, HostRequest};

use crate::agent::message::ToolCall;
use crate::config::ToolsConfig;
use crate::store::Store;

/// State tools keep across the calls of one turn.
#[derive(Debug, Default)]
pub struct ToolState {
    pub todos: todo::TodoList,
}

/// The chat a turn belongs to (where approvals are asked and notifications go).
#[derive(Clone, Debug, Default)]
pub struct SessionRef {
    pub session_id: String,
    pub session_key: String,
    /// `None` outside a chat (tests, tools run by the CLI).
    pub source: Option<hermes_platform::Source>,
}

/// Everything a tool call may use; one per turn, shared by the turn's tool threads.
pub struct ToolEnv {
    pub config: Arc<ToolsConfig>,
    pub store: Option<Store>,
    pub session: SessionRef,
    /// Set when the turn is interrupted: long tools stop (processes get SIGTERM, then SIGKILL).
    pub cancel: Arc<AtomicBool>,
    pub host: HostLink,
    /// `/yolo`: dangerous commands run without asking (hardline blocks still apply).
    pub yolo: bool,
    pub state: Mutex<ToolState>,
}

impl ToolEnv {
    /// An environment with no chat behind it (tests).
    #[cfg(test)]
    pub fn detached(config: Arc<ToolsConfig>) -> ToolEnv {
        ToolEnv {
            config,
            store: None,
            session: SessionRef::default(),
            cancel: Arc::new(AtomicBool::new(false)),
            host: HostLink::none(),
            yolo: false,
            state: Mutex::new(ToolState::default()),
        }
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The per-turn state (a poisoned lock is still usable: the state is plain data).
    pub fn state(&self) -> std::sync::MutexGuard<'_, ToolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Run = fn(&ToolEnv, &Object) -> Result<String, String>;

/// One registered tool.
#[derive(Clone)]
pub struct ToolSpec {
    pub name: &'static str,
    /// The Hermes toolset it belongs to (`agent.disabled_toolsets` works on these).
    pub toolset: &'static str,
    pub description: &'static str,
    /// The JSON schema of the arguments, as text (parsed once into the registry).
    pub parameters: &'static str,
    /// Safe to run next to other read-only calls of the same response (A7).
    pub read_only: bool,
    pub run: Run,
}

/// All enabled tools; schemas are built once and shared by every turn.
pub struct ToolRegistry {
    tools: Vec<ToolSpec>,
    schemas: Value,
}

/// Toolsets Hermes leaves off unless asked for (`send_message`).
const OFF_BY_DEFAULT: &[&str] = &["messaging"];

impl ToolRegistry {
    /// The built-in tools of the default toolsets minus those in disabled toolsets.
    pub fn new(disabled_toolsets: &[String]) -> ToolRegistry {
        Self::select(disabled_toolsets, None)
    }

    /// A platform's `platform_toolsets` list: only the toolsets named (a `hermes-…` name stands
    /// for the default set, so `[hermes-telegram, messaging]` adds `send_message`), minus the
    /// disabled ones.
    pub fn with_enabled(disabled_toolsets: &[String], enabled: &[String]) -> ToolRegistry {
        Self::select(disabled_toolsets, Some(enabled))
    }

    fn select(disabled_toolsets: &[String], enabled: Option<&[String]>) -> ToolRegistry {
        let defaults = enabled.is_none_or(|e| e.iter().any(|n| n.starts_with("hermes-")));
        let all = vec![
            todo::spec(),
            clarify::spec(),
            files::read::spec(),
            files::write::spec(),
            files::patch::spec(),
            files::search::spec(),
            terminal::spec(),
            terminal::process::spec(),
            memory::spec(),
            session_search::spec(),
            skills::list_spec(),
            skills::view_spec(),
            send_message::spec(),
            delegate::spec(),
            web::search_spec(),
            web::extract_spec(),
        ];
        let tools: Vec<ToolSpec> = all
            .into_iter()
            .filter(|t| !disabled_toolsets.iter().any(|d| d == t.toolset))
            .filter(|t| {
                let named = enabled.is_some_and(|e| e.iter().any(|n| n == t.toolset));
                named || (defaults && !OFF_BY_DEFAULT.contains(&t.toolset))
            })
            .collect();
        Self::from_specs(tools)
    }

    fn from_specs(tools: Vec<ToolSpec>) -> ToolRegistry {
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

    /// The same tools minus the given toolsets (a subagent's set, A20).
    pub fn without(&self, toolsets: &[&str]) -> ToolRegistry {
        Self::from_specs(self.tools.iter().filter(|t| !toolsets.contains(&t.toolset)).cloned().collect())
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.tools.iter().map(|t| t.name).collect()
    }

    /// True when every call names a read-only tool (they may then run side by side).
    pub fn all_read_only(&self, calls: &[ToolCall]) -> bool {
        calls.iter().all(|c| self.tools.iter().any(|t| t.name == c.name && t.read_only))
    }

    /// Starts one call on a thread of its own; the receiver yields its result once.
    pub fn start(&self, env: &Arc<ToolEnv>, call: &ToolCall) -> async_channel::Receiver<String> {
        let (tx, rx) = async_channel::bounded(1);
        let run = match self.tools.iter().find(|t| t.name == call.name) {
            Some(tool) => Ok(tool.run),
            None => Err(format!("unknown tool \"{}\"; available tools: {}", call.name, self.names().join(", "))),
        };
        let (env, name, arguments) = (env.clone(), call.name.clone(), call.arguments.clone());
        let spawned = std::thread::Builder::new()
            .name("tool".into())
            .spawn(move || {
                let _ = tx.try_send(run_one(run, &env, &name, &arguments));
            })
            .map_err(|e| e.to_string());
        if let Err(e) = spawned {
            let (tx, rx) = async_channel::bounded(1);
            let _ = tx.try_send(error_json(&format!("cannot start the {} tool: {e}", call.name)));
            return rx;
        }
        rx
    }

    /// Runs one call on the calling thread (tests).
    #[cfg(test)]
    pub fn call(&self, env: &ToolEnv, call: &ToolCall) -> String {
        let run = match self.tools.iter().find(|t| t.name == call.name) {
            Some(tool) => Ok(tool.run),
            None => Err(format!("unknown tool \"{}\"; available tools: {}", call.name, self.names().join(", "))),
        };
        run_one(run, env, &call.name, &call.arguments)
    }
}

/// Tools with caps of their own: commands are capped while they print (they may never stop),
/// read_file pages with `next_offset`. Every other result is capped when it is complete (A15:
/// head, tail, a note, the whole spilled to a file).
const CAPPED_BY_THEMSELVES: &[&str] = &["terminal", "process", "read_file"];

/// Parses the arguments and runs the tool; every failure, a panic included, becomes an error
/// result for the model.
fn run_one(run: Result<Run, String>, env: &ToolEnv, name: &str, arguments: &str) -> String {
    let run = match run {
        Ok(run) => run,
        Err(e) => return error_json(&e),
    };
    let args = match parse_arguments(arguments) {
        Ok(a) => a,
        Err(e) => return error_json(&format!("invalid arguments for {name}: {e}")),
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(env, &args))) {
        Ok(Ok(result)) if result.len() > env.config.output_max_bytes && !CAPPED_BY_THEMSELVES.contains(&name) => {
            output::cap_text(&result, env.config.output_max_bytes, &env.config.home)
        }
        Ok(Ok(result)) => result,
        Ok(Err(e)) => error_json(&e),
        Err(_) => {
            log::error!("tool {name} panicked");
            error_json(&format!("the {name} tool failed unexpectedly"))
        }
    }
}

/// Arguments must be a JSON object (an empty string counts as `{}`).
pub(crate) fn parse_arguments(text: &str) -> Result<Object, String> {
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
pub mod test_env {
    //! A tool environment over a temporary workspace, for the tools' unit tests.
    use super::*;

    /// A config whose workspace and home are `dir` (the caller keeps the directory alive).
    pub fn config(dir: &std::path::Path) -> Arc<ToolsConfig> {
        Arc::new(ToolsConfig {
            disabled_toolsets: Vec::new(),
            platform_toolsets: Default::default(),
            workspace: dir.to_path_buf(),
            allowed_paths: Vec::new(),
            terminal_timeout: 180,
            output_max_bytes: 50_000,
            home: dir.join(".hermes"),
            env: Arc::new(Default::default()),
            approvals: Default::default(),
            web: Default::default(),
            memory: Default::default(),
            clarify_timeout: 3600,
            compression: Default::default(),
            delegation: Default::default(),
        })
    }

    pub fn env(dir: &std::path::Path) -> ToolEnv {
        ToolEnv::detached(config(dir))
    }

    pub fn call(name: &str, args: &str) -> ToolCall {
        ToolCall { id: "c".into(), name: name.into(), arguments: args.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::test_env::call;
    use super::*;

    fn env() -> ToolEnv {
        test_env::env(std::path::Path::new("/nonexistent"))
    }

    #[test]
    fn a_panicking_tool_is_an_error_for_the_model_not_a_crash() {
        let reg = ToolRegistry::from_specs(vec![ToolSpec {
            name: "boom",
            toolset: "test",
            description: "",
            parameters: "{}",
            read_only: true,
            run: |_, _| panic!("tool bug"),
        }]);
        let out = reg.call(&env(), &call("boom", "{}"));
        assert!(out.contains("the boom tool failed unexpectedly"), "{out}");
        let out = smol::block_on(reg.start(&Arc::new(env()), &call("boom", "{}")).recv()).unwrap();
        assert!(out.contains("the boom tool failed unexpectedly"), "{out}");
    }

    #[test]
    fn a_result_over_the_cap_keeps_head_and_tail_and_spills_the_whole() {
        let dir = crate::test_util::temp_dir("tools-cap");
        let skill = dir.join(".hermes/skills/big");
        std::fs::create_dir_all(&skill).unwrap();
        let body = format!("{}\n", "y".repeat(99)).repeat(300);
        std::fs::write(skill.join("SKILL.md"), format!("---\nname: big\ndescription: big\n---\nSTART\n{body}END\n"))
            .unwrap();
        let mut config = (*test_env::config(&dir)).clone();
        config.output_max_bytes = 10_000;
        let env = ToolEnv::detached(Arc::new(config));
        let out = ToolRegistry::new(&[]).call(&env, &call("skill_view", r#"{"name":"big"}"#));
        assert!(out.len() < 11_000, "{}", out.len());
        assert!(out.contains("START") && out.contains("END"), "head and tail kept");
        assert!(out.contains("[OUTPUT TRUNCATED - "), "{out}");
        let spilled: Vec<_> = std::fs::read_dir(dir.join(".hermes/cache/tool-results")).unwrap().flatten().collect();
        assert_eq!(spilled.len(), 1);
        assert!(std::fs::read_to_string(spilled[0].path()).unwrap().len() > 30_000);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unknown_tools_and_bad_arguments_are_errors_for_the_model() {
        let reg = ToolRegistry::new(&[]);
        let env = env();
        assert!(reg.call(&env, &call("nope", "{}")).contains("unknown tool \\\"nope\\\""));
        assert!(reg.call(&env, &call("todo", "{oops")).contains("not valid JSON"));
        assert!(reg.call(&env, &call("todo", "[1]")).contains("expected a JSON object"));
        let out = smol::block_on(reg.start(&Arc::new(env), &call("nope", "{}")).recv()).unwrap();
        assert!(out.contains("unknown tool"), "{out}");
    }

    #[test]
    fn every_tool_answers_bad_arguments_with_an_error_object_never_a_panic() {
        let dir = crate::test_util::temp_dir("tools-bad-args");
        let env = test_env::env(&dir);
        let reg = ToolRegistry::with_enabled(&[], &["hermes-cli".into(), "messaging".into()]);
        assert!(reg.names().contains(&"send_message"));
        // Missing everything, then every usual argument name with the wrong JSON type.
        let wrong_types = r#"{"path":5,"command":[],"content":{},"pattern":true,"query":7,"action":3,
            "old_string":1,"new_string":2,"todos":"x","target":[],"message":{},"name":9,"url":false,
            "urls":"x","offset":"x","limit":"x","timeout":"x","background":"x","session_id":1,
            "question":[],"choices":5,"text":1,"mode":[],"file_glob":2,"merge":"x"}"#;
        for name in reg.names() {
            for args in ["{}", wrong_types, "{\"path\":\"../../etc/passwd\"}"] {
                let out = reg.call(&env, &call(name, args));
                let parsed = miniserde::json::from_str::<Value>(&out);
                assert!(matches!(parsed, Ok(Value::Object(_))), "{name}({args}) is not a JSON object: {out}");
                assert!(!out.contains("failed unexpectedly"), "{name}({args}) panicked");
            }
            if name == "skills_list" {
                continue; // takes no arguments, so there is nothing to mistype
            }
            let out = reg.call(&env, &call(name, wrong_types));
            assert!(out.contains("\"error\":"), "{name} accepted wrongly typed arguments: {out}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn disabled_toolsets_remove_tools() {
        let every = ["todo", "file", "terminal", "web", "memory", "session_search", "skills", "clarify", "delegation"];
        assert!(ToolRegistry::new(&every.map(String::from)).schemas().is_none());
        let off = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert!(!ToolRegistry::new(&off(&["file"])).names().contains(&"read_file"));
        assert!(!ToolRegistry::new(&off(&["terminal"])).names().contains(&"process"));
        let reg = ToolRegistry::new(&[]);
        let json = miniserde::json::to_string(reg.schemas().unwrap());
        assert!(json.contains("\"name\":\"todo\""));
        assert!(!reg.names().contains(&"send_message"), "messaging is off by default");
    }

    #[test]
    fn a_platform_list_names_toolsets_and_hermes_names_stand_for_the_defaults() {
        let list = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let only = ToolRegistry::with_enabled(&[], &list(&["todo", "messaging"]));
        assert_eq!(only.names(), ["todo", "send_message"]);
        let defaults = ToolRegistry::with_enabled(&list(&["web"]), &list(&["hermes-telegram", "messaging"]));
        assert!(defaults.names().contains(&"terminal") && defaults.names().contains(&"send_message"));
        assert!(!defaults.names().contains(&"web_search"), "disabled_toolsets still applies");
        assert!(ToolRegistry::with_enabled(&[], &[]).schemas().is_none(), "an empty list is no tools");
    }
}
