//! Running one subagent (A20): a fresh conversation (its own system prompt, the goal as the only
//! user message), the parent's tools minus the ones a child must not have, its own iteration
//! budget and wall clock, approvals denied unless configured. Nothing of it is stored as a
//! session: only its summary goes back (AD §4.4–4.5).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smol::Timer;

use super::format::TaskResult;
use crate::agent::chain::ProviderChain;
use crate::agent::control::TurnControl;
use crate::agent::message::{ChatMessage, Role, ToolCall};
use crate::agent::turn_loop::{TurnEnd, TurnInput, TurnObserver, run_turn};
use crate::config::ToolsConfig;
use crate::runtime;
use crate::store::Store;
use crate::store::sessions::Usage;
use crate::tools::host::DelegateTask;
use crate::tools::{HostAsk, HostLink, HostRequest, SessionRef, ToolEnv, ToolRegistry, ToolState};

/// Toolsets a child never gets (Hermes' leaf blocklist): it must not delegate again, ask the
/// user, write the user's memory, or message other chats.
pub const BLOCKED_TOOLSETS: &[&str] = &["delegation", "clarify", "memory", "messaging", "cronjob"];

/// Runs an orchestrator child's own `delegate_task` call synchronously: (its tasks, their role,
/// the orchestrator's control, whose interrupt stops them) → the tool's answer.
pub type Nested<'a> =
    dyn Fn(Vec<DelegateTask>, String, Rc<TurnControl>) -> Pin<Box<dyn Future<Output = String> + 'a>> + 'a;

/// What every child of one dispatch shares.
pub struct ChildSetup<'a> {
    pub provider: &'a ProviderChain,
    /// The parent's tools; the blocked toolsets are removed here.
    pub tools: &'a ToolRegistry,
    pub config: Arc<ToolsConfig>,
    pub store: Store,
    /// The parent's session: a background process a child starts reports to that chat.
    pub session: SessionRef,
    pub model: String,
    /// The parent turn, kept alive while a synchronous child works (heartbeat), and how often
    /// (well inside the gateway's inactivity timeout).
    pub heartbeat: Option<(Rc<TurnControl>, Duration)>,
    /// How deep these children are (1 = children of a chat's turn).
    pub depth: u32,
    /// `role: orchestrator` honoured: these children keep `delegate_task`, served by `nested`.
    pub orchestrator: Option<&'a Nested<'a>>,
}

/// Runs child `index` (from 0) of a dispatch until it answers, fails, is interrupted through `control`
/// or runs out of time. Returns its result and what it spent (the parent session pays for it).
pub async fn run(
    setup: &ChildSetup<'_>,
    index: usize,
    goal: &str,
    context: Option<&str>,
    control: Rc<TurnControl>,
) -> (TaskResult, Usage) {
    let cfg = &setup.config.delegation;
    let blocked: Vec<&str> =
        BLOCKED_TOOLSETS.iter().copied().filter(|t| setup.orchestrator.is_none() || *t != "delegation").collect();
    let tools = setup.tools.without(&blocked);
    let (host, host_requests) = HostLink::channel();
    let tool_env = Arc::new(ToolEnv {
        config: setup.config.clone(),
        store: Some(setup.store.clone()),
        session: setup.session.clone(),
        cancel: control.cancel_flag(),
        host,
        yolo: cfg.subagent_auto_approve,
        state: Mutex::new(ToolState::default()),
    });
    let messages = vec![
        ChatMessage::new(Role::System, system_prompt(goal, context, &setup.config.workspace, orchestrator_note(setup))),
        ChatMessage::new(Role::User, goal.to_string()),
    ];
    let started = Instant::now();
    let timed_out = Rc::new(std::cell::Cell::new(false));
    let clock = runtime::spawn({
        let (control, timed_out, limit) = (control.clone(), timed_out.clone(), cfg.child_timeout);
        async move {
            Timer::after(limit).await;
            timed_out.set(true);
            control.interrupt(&format!("the subagent ran out of time ({} s)", limit.as_secs()));
        }
    });
    let input = TurnInput {
        provider: setup.provider,
        tools: &tools,
        tool_env,
        host_requests: Some(host_requests),
        control: &control,
        messages,
        max_iterations: cfg.max_iterations,
    };
    let mut observer = ChildObserver {
        heartbeat: setup.heartbeat.clone(),
        auto_approve: cfg.subagent_auto_approve,
        nested: setup.orchestrator,
        own: control.clone(),
    };
    let outcome = run_turn(input, &mut observer).await;
    drop(clock);
    let (status, exit_reason, summary, error) = match outcome.end {
        TurnEnd::Answered(text) if text.trim().is_empty() || text.trim() == "(empty)" => {
            ("failed", "completed", String::new(), Some("the subagent finished without a summary".to_string()))
        }
        TurnEnd::Answered(text) => {
            let reason = if outcome.api_calls > cfg.max_iterations { "max_iterations" } else { "completed" };
            ("completed", reason, text, None)
        }
        TurnEnd::Interrupted { partial } if timed_out.get() => {
            ("timeout", "timeout", partial, Some(format!("timed out after {} s", cfg.child_timeout.as_secs())))
        }
        TurnEnd::Interrupted { partial } => {
            let why = control.interrupt_reason().unwrap_or_else(|| "interrupted".into());
            ("interrupted", "interrupted", partial, Some(why))
        }
        TurnEnd::Failed { error, partial } => ("error", "error", partial, Some(error.to_string())),
    };
    let result = TaskResult {
        task_index: index,
        goal: goal.to_string(),
        status: status.into(),
        summary: super::format::cap_summary(summary.trim(), cfg.max_summary_chars),
        error,
        api_calls: outcome.api_calls,
        duration_seconds: started.elapsed().as_secs_f64(),
        model: setup.model.clone(),
        exit_reason: exit_reason.into(),
        input_tokens: outcome.usage.input_tokens.max(0) as u64,
        output_tokens: outcome.usage.output_tokens.max(0) as u64,
    };
    (result, outcome.usage)
}

/// The orchestrator section of the prompt (AD §4.4), when the child may delegate.
fn orchestrator_note(setup: &ChildSetup<'_>) -> Option<String> {
    setup.orchestrator?;
    let max = setup.config.delegation.max_spawn_depth;
    Some(format!(
        "## Subagent Spawning (Orchestrator Role)\nYou may split this task with delegate_task; your subagents \
         report back to you, not to the user. NOTE: You are at depth {} of max_spawn_depth={max}.",
        setup.depth
    ))
}

/// Hermes' subagent prompt (AD §4.4), in our words where it allows.
fn system_prompt(goal: &str, context: Option<&str>, workspace: &Path, orchestrator: Option<String>) -> String {
    let mut p = format!("You are a focused subagent working on a specific delegated task.\n\nYOUR TASK:\n{goal}\n");
    if let Some(c) = context.filter(|c| !c.trim().is_empty()) {
        p.push_str(&format!("\nCONTEXT:\n{c}\n"));
    }
    if workspace.is_absolute() && workspace.is_dir() {
        p.push_str(&format!(
            "\nWORKSPACE PATH:\n{}\nUse this exact path for local repository and working-directory operations.\n",
            workspace.display()
        ));
    }
    p.push_str(
        "\nComplete this task using the tools available to you. When finished, provide a clear, concise summary \
         of:\n- What you did\n- What you found or accomplished\n- Any files you created or modified\n- Any issues \
         encountered\n\nKeep your final summary tight: bullet points, no preamble. Nobody can answer questions \
         while you work.",
    );
    if let Some(note) = orchestrator {
        p.push_str("\n\n");
        p.push_str(&note);
    }
    p
}

/// A child has no chat: its text is only the summary, its questions get fixed answers.
struct ChildObserver<'a> {
    heartbeat: Option<(Rc<TurnControl>, Duration)>,
    auto_approve: bool,
    nested: Option<&'a Nested<'a>>,
    own: Rc<TurnControl>,
}

impl ChildObserver<'_> {
    fn alive(&self) {
        if let Some((parent, _)) = &self.heartbeat {
            parent.touch();
        }
    }
}

impl TurnObserver for ChildObserver<'_> {
    async fn on_text(&mut self, _delta: &str) {
        self.alive();
    }
    async fn on_tool_calls(&mut self, _calls: &[ToolCall]) {
        self.alive();
    }
    async fn on_message(&mut self, _message: &ChatMessage) {
        self.alive();
    }
    fn next_deadline(&self) -> Option<Instant> {
        // Touch the parent now and then while the model thinks or a long tool runs.
        self.heartbeat.as_ref().map(|(_, every)| Instant::now() + *every)
    }
    async fn on_tick(&mut self) {
        self.alive();
    }
    async fn on_host(&mut self, request: HostRequest) {
        let answer = match request.ask {
            HostAsk::Delegate { tasks, role, .. } => match self.nested {
                // Below the top level every delegation runs synchronously (Hermes).
                Some(nested) => nested(tasks, role, self.own.clone()).await,
                None => "error:delegation is not available at this depth".to_string(),
            },
            HostAsk::Approval { .. } if self.auto_approve => "once".to_string(),
            HostAsk::Approval { .. } => {
                "deny:subagents cannot ask for approval (delegation.subagent_auto_approve is off)".to_string()
            }
            _ => String::new(),
        };
        let _ = request.reply.try_send(answer);
    }
}

/// How often a synchronous child tells its parent turn it is alive (Hermes: 30 s), at most a
/// third of the gateway's inactivity timeout.
pub fn heartbeat_every(gateway_timeout: Duration) -> Duration {
    let third = gateway_timeout / 3;
    if third.is_zero() { HEARTBEAT } else { HEARTBEAT.min(third) }
}

const HEARTBEAT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_carries_goal_context_and_workspace() {
        let p = system_prompt("fix the build", Some("cargo fails in src/x.rs"), Path::new("/tmp"), None);
        assert!(p.starts_with(
            "You are a focused subagent working on a specific delegated task.\n\nYOUR TASK:\nfix the build\n"
        ));
        assert!(p.contains("\nCONTEXT:\ncargo fails in src/x.rs\n"));
        assert!(p.contains("\nWORKSPACE PATH:\n/tmp\n"));
        assert!(!system_prompt("g", None, Path::new("relative"), None).contains("WORKSPACE"));
        assert!(
            system_prompt("g", None, Path::new("/tmp"), Some("## Orchestrator".into()))
                .ends_with("\n\n## Orchestrator")
        );
    }
}
