//! `agent.disabled_toolsets`, `terminal.*`, `tool_output.*` and the workspace of the file tools
//! (A13–A15). Tool families with settings of their own (approvals, web, memory, compression)
//! add a field here and read it in their own file of this folder.

use std::path::PathBuf;
use std::sync::Arc;

use super::read::Reader;

/// What the tools read from the configuration; shared by every turn (`Arc`).
#[derive(Clone, Debug)]
pub struct ToolsConfig {
    /// `agent.disabled_toolsets`: toolsets the agent does not get.
    pub disabled_toolsets: Vec<String>,
    /// `platform_toolsets.<platform>`: the toolsets a platform's chats get instead of the
    /// defaults (Hermes' per-platform whitelist; `hermes-<platform>` or `hermes-cli` in the list
    /// stands for the default set). `agent.disabled_toolsets` still applies.
    pub platform_toolsets: std::collections::BTreeMap<String, Vec<String>>,
    /// The workspace: `terminal.cwd` / `TERMINAL_CWD`, default the home directory of the user
    /// running the gateway. The terminal starts here; file tools stay inside it.
    pub workspace: PathBuf,
    /// `file_tools.allowed_paths`: more directories the file tools may use.
    pub allowed_paths: Vec<PathBuf>,
    /// `terminal.timeout` seconds for foreground commands, default 180 (at most 600).
    pub terminal_timeout: u64,
    /// `tool_output.max_bytes`, default 50 000: a tool result above it keeps head and tail.
    pub output_max_bytes: usize,
    /// The Hermes home (memories, skills, spilled results live under it).
    pub home: PathBuf,
    /// The merged environment (API keys of the web backends, `SEARXNG_URL`, ...).
    pub env: Arc<std::collections::BTreeMap<String, String>>,
    /// `approvals.*` and `command_allowlist`: dangerous-command approval.
    pub approvals: super::approvals::ApprovalsConfig,
    /// `web.*`: web_search and web_extract.
    pub web: super::web::WebConfig,
    /// `memory.*`: the memory tool and its prompt snapshot.
    pub memory: super::web::MemoryConfig,
    /// `agent.clarify_timeout` seconds a `clarify` question waits (3600).
    pub clarify_timeout: u64,
    pub compression: super::compression::CompressionConfig,
    /// `delegation.*`: delegate_task and its children.
    pub delegation: super::delegation::DelegationConfig,
}

impl ToolsConfig {
    /// A non-empty variable of the merged environment.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

pub fn read(r: &Reader, home: &std::path::Path, env: &Arc<std::collections::BTreeMap<String, String>>) -> ToolsConfig {
    let user_home = env.get("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"));
    let workspace = r
        .string(r.cfg("terminal.cwd").or_else(|| r.env("TERMINAL_CWD")))
        .filter(|s| !s.is_empty() && s != ".")
        .map(|s| expand_home(&s, &user_home))
        .unwrap_or(user_home.clone());
    let allowed_paths =
        r.list("file_tools.allowed_paths").unwrap_or_default().iter().map(|s| expand_home(s, &user_home)).collect();
    let terminal_timeout =
        r.int(r.cfg("terminal.timeout").or_else(|| r.env("TERMINAL_TIMEOUT")), 1, 600).map_or(180, |n| n as u64);
    let output_max_bytes = r.int(r.cfg("tool_output.max_bytes"), 1000, 10_000_000).map_or(50_000, |n| n as usize);
    ToolsConfig {
        disabled_toolsets: r.list("agent.disabled_toolsets").unwrap_or_default(),
        platform_toolsets: platform_toolsets(r),
        workspace,
        allowed_paths,
        terminal_timeout,
        output_max_bytes,
        home: home.to_path_buf(),
        env: env.clone(),
        approvals: super::approvals::read(r),
        web: super::web::web(r),
        memory: super::web::memory(r),
        clarify_timeout: r.int(r.cfg("agent.clarify_timeout"), 1, 86_400 * 7).map_or(3600, |n| n as u64),
        compression: super::compression::read(r),
        delegation: super::delegation::read(r),
    }
}

fn platform_toolsets(r: &Reader) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    let Some((_, node)) = r.section("platform_toolsets") else { return out };
    if let super::yaml::Kind::Map(entries) = &node.kind {
        for (key, _) in entries {
            let path = format!("platform_toolsets.{}", key.name);
            // An empty or null entry is an explicit "no tools" for that platform.
            out.insert(key.name.to_ascii_lowercase(), r.list(&path).unwrap_or_default());
        }
    }
    out
}

fn expand_home(path: &str, user_home: &std::path::Path) -> PathBuf {
    match path.strip_prefix("~") {
        Some(rest) => user_home.join(rest.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}
