//! delegate_task through the real gateway (A18–A24): the scripted model dispatches subagents;
//! a subagent is told apart by its system prompt and held on a gate, so the test decides when it
//! finishes (no timing).

mod common;

use common::{WAIT, ann, bin, wait_prefix, wait_text};

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gate, Gateway, HermesHome, LlmRequest, Reply};

const CHILD: &str = "focused subagent";
const COMPLETE: &str = "[ASYNC DELEGATION";

fn setup(extra_yaml: &str) -> (FakeTelegram, FakeLlm, HermesHome) {
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    let home = HermesHome::standard_with(&tg, &llm, "42", extra_yaml);
    (tg, llm, home)
}

fn dm() -> Chat {
    Chat::private(42)
}

/// The tool results the parent model saw in its `n`-th request (subagents' requests, which
/// may come at any moment, left out); `None` for the last one.
fn tool_results(llm: &FakeLlm, n: Option<usize>) -> Vec<String> {
    let parents: Vec<LlmRequest> = llm.requests().into_iter().filter(|r| !r.messages[0].1.contains(CHILD)).collect();
    let request = &parents[n.unwrap_or(parents.len() - 1)];
    request.messages.iter().filter(|(r, _)| r == "tool").map(|(_, c)| c.clone()).collect()
}

fn completions(llm: &FakeLlm) -> Vec<LlmRequest> {
    llm.requests().into_iter().filter(|r| r.last_user().is_some_and(|u| u.starts_with(COMPLETE))).collect()
}

fn delegation_id(text: &str) -> String {
    let start = text.find("deleg_").expect("a delegation id");
    text[start..start + 14].to_string()
}

#[test]
fn background_dispatch_answers_at_once_and_the_result_comes_back_as_a_new_turn() {
    let (tg, llm, home) = setup("");
    let gate = Gate::new();
    llm.on_system(CHILD, Reply::text("CHILD SUMMARY: the parser has 3 bugs").hold(&gate));
    llm.push(Reply::tool_call(
        "delegate_task",
        r#"{"goal":"audit the parser","context":"see src/parse.rs","background":true}"#,
    ));
    llm.push(Reply::text("dispatched it"));
    llm.push(Reply::text("hi again"));
    llm.push(Reply::text("the audit is back"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "audit the parser in the background");
    wait_text(&tg, 42, "dispatched it");
    assert!(!gate.is_open(), "the answer came while the child was still held");
    let dispatched = &tool_results(&llm, Some(1))[0];
    assert!(dispatched.contains(r#""mode":"background""#) && dispatched.contains(r#""count":1"#), "{dispatched}");
    // A new message meanwhile is a normal turn; the child keeps running.
    tg.user_says(&dm(), &ann(), "anything else?");
    wait_text(&tg, 42, "hi again");
    let child = llm.requests().into_iter().find(|r| r.messages[0].1.contains(CHILD)).expect("the child asked");
    assert_eq!(child.last_user(), Some("audit the parser"));
    assert!(child.messages[0].1.contains("CONTEXT:\nsee src/parse.rs"));
    assert!(!child.tools.iter().any(|t| ["delegate_task", "clarify", "memory"].contains(&t.as_str())));

    gate.open();
    wait_text(&tg, 42, "the audit is back");
    let done = completions(&llm);
    assert_eq!(done.len(), 1);
    let text = done[0].last_user().unwrap();
    assert!(text.starts_with(&format!("[ASYNC DELEGATION COMPLETE — {}]", delegation_id(dispatched))), "{text}");
    for part in ["audit the parser", "see src/parse.rs", "CHILD SUMMARY: the parser has 3 bugs", "test-model"] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
}

#[test]
fn a_completion_that_lands_while_the_parent_is_busy_runs_after_that_turn() {
    let (tg, llm, home) = setup("");
    let (child_gate, turn_gate) = (Gate::new(), Gate::new());
    llm.on_system(CHILD, Reply::text("child done").hold(&child_gate));
    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"count the files","background":true}"#));
    llm.push(Reply::text("on it"));
    llm.push(Reply::text("the second answer").hold(&turn_gate));
    llm.push(Reply::text("files counted"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "count the files");
    wait_text(&tg, 42, "on it");
    tg.user_says(&dm(), &ann(), "and meanwhile?");
    assert!(llm.wait_requests(4, WAIT), "the second turn is waiting on the model");
    child_gate.open();
    // The child's completion is journaled while the second turn runs; it must wait.
    assert!(!hermes_testkit::wait_until(std::time::Duration::from_millis(800), || !completions(&llm).is_empty()));
    turn_gate.open();
    wait_text(&tg, 42, "files counted");
    let sent: Vec<String> = tg.sent().into_iter().filter(|m| m.chat_id == 42).map(|m| m.text).collect();
    let second = sent.iter().position(|t| t == "the second answer").expect("the busy turn finished");
    let last = sent.iter().position(|t| t == "files counted").unwrap();
    assert!(second < last, "{sent:?}");
}

#[test]
fn a_background_batch_yields_one_consolidated_completion() {
    let (tg, llm, home) = setup("");
    llm.on_system(CHILD, Reply::text("part done"));
    llm.push(Reply::tool_call(
        "delegate_task",
        r#"{"tasks":[{"goal":"check the docs"},{"goal":"check the tests"}],"background":true}"#,
    ));
    llm.push(Reply::text("two helpers started"));
    llm.push(Reply::text("both reported"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "check docs and tests");
    wait_text(&tg, 42, "both reported");
    let done = completions(&llm);
    assert_eq!(done.len(), 1, "one completion for the batch");
    let text = done[0].last_user().unwrap();
    assert!(text.starts_with("[ASYNC DELEGATION BATCH COMPLETE — deleg_"), "{text}");
    assert!(text.contains("check the docs") && text.contains("check the tests"), "{text}");
    assert!(text.contains("TASK 1/2") && text.contains("TASK 2/2"), "{text}");
}

#[test]
fn at_capacity_a_dispatch_is_refused_with_the_capacity_error_and_nothing_starts() {
    let (tg, llm, home) = setup("delegation:\n  max_async_children: 1\n");
    let gate = Gate::new();
    llm.on_system(CHILD, Reply::text("slow child").hold(&gate));
    llm.push(Reply::tool_calls(&[
        ("delegate_task", r#"{"goal":"first job","background":true}"#),
        ("delegate_task", r#"{"goal":"second job","background":true}"#),
    ]));
    llm.push(Reply::text("one started"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "start two");
    wait_text(&tg, 42, "one started");
    let results = tool_results(&llm, None);
    assert!(results[0].contains(r#""status":"dispatched""#), "{}", results[0]);
    assert!(results[1].contains("Async delegation capacity reached"), "{}", results[1]);
    let children = llm.requests().iter().filter(|r| r.messages[0].1.contains(CHILD)).count();
    assert_eq!(children, 1, "the refused dispatch started nothing");
    gate.open();
}

#[test]
fn synchronous_delegation_returns_the_results_array_to_the_calling_turn() {
    let (tg, llm, home) = setup("");
    llm.on_system(CHILD, Reply::text("the answer is 42"));
    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"compute the answer"}"#));
    llm.push(Reply::text("it is 42"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "compute it");
    wait_text(&tg, 42, "it is 42");
    let result = &tool_results(&llm, None)[0];
    assert!(result.starts_with(r#"{"results":[{"#), "{result}");
    assert!(
        result.contains(r#""status":"completed""#) && result.contains(r#""summary":"the answer is 42""#),
        "{result}"
    );
    assert!(completions(&llm).is_empty(), "a synchronous result does not come back as a turn");
    // The child's tokens are the session's too: every request's prompt tokens (parent and child).
    let prompt_tokens: i64 = llm.requests().iter().map(|r| r.body.len().div_ceil(4).max(1) as i64).sum();
    let db = rusqlite::Connection::open(home.path().join("lite.db")).unwrap();
    let stored: i64 = db.query_row("SELECT sum(input_tokens) FROM sessions", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, prompt_tokens);
}

#[test]
fn stop_when_idle_stops_the_background_task_and_tells_the_chat_and_agents_lists_it() {
    let (tg, llm, home) = setup("");
    let gate = Gate::new();
    llm.on_system(CHILD, Reply::text("never seen").hold(&gate));
    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"watch the logs","background":true}"#));
    llm.push(Reply::text("watching"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "watch the logs");
    wait_text(&tg, 42, "watching");
    tg.user_says(&dm(), &ann(), "/agents");
    let agents = wait_prefix(&tg, 42, "🧩 Background tasks: 1");
    assert!(agents.text.contains("· running ·") && agents.text.contains("watch the logs"), "{}", agents.text);
    assert!(agents.text.contains("· test-model ·"), "{}", agents.text);
    tg.user_says(&dm(), &ann(), "/stop");
    let stopped = wait_prefix(&tg, 42, "⏹ Stopped 1 background task(s):");
    assert!(stopped.text.contains("deleg_") && stopped.text.contains("watch the logs"), "{}", stopped.text);
    gate.open();
    tg.user_says(&dm(), &ann(), "/agents");
    wait_text(&tg, 42, "No agents are running.");
    assert!(completions(&llm).is_empty(), "a stopped task does not come back as a turn");
}

#[test]
fn after_a_crash_a_running_task_is_reported_lost_an_undelivered_result_comes_once_and_an_ended_sessions_is_dropped() {
    let (tg, llm, home) = setup("");
    let gate = Gate::new();
    llm.on_system(CHILD, Reply::text("too late").hold(&gate));
    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"rebuild the index","background":true}"#));
    llm.push(Reply::text("rebuilding"));
    let mut gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "rebuild the index");
    wait_text(&tg, 42, "rebuilding");
    // The turn is recorded as done once a command after it is answered; then the crash.
    tg.user_says(&dm(), &ann(), "/agents");
    wait_prefix(&tg, 42, "🧩 Background tasks: 1");
    gw.kill9();
    gate.open();

    // A finished result the killed run never delivered (as if it died between the two steps).
    let db = rusqlite::Connection::open(home.path().join("lite.db")).unwrap();
    let (session_id, source): (String, String) =
        db.query_row("SELECT session_id, source_json FROM delegations", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    db.execute(
        "INSERT INTO delegations(id, session_id, session_key, source_json, goal_json, context, role, model, status, \
         dispatched_at, completed_at, result_json) VALUES ('deleg_0000done', ?1, 'k', ?2, '[\"tidy the cache\"]', \
         NULL, 'leaf', 'test-model', 'completed', ?4, ?4, ?3)",
        rusqlite::params![
            session_id,
            source,
            r#"{"results":[{"task_index":0,"status":"completed","summary":"cache tidied","api_calls":1,"duration_seconds":1.0,"model":"test-model","exit_reason":"completed","tokens":{"input":1,"output":1}}],"total_duration_seconds":1.0}"#,
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() - 60.0
        ],
    )
    .unwrap();
    // And one whose session has ended since: dropped with a log line, never a turn.
    db.execute(
        "INSERT INTO sessions(id, key, platform, created_at, updated_at, ended_at) \
         VALUES ('s-old', 'old-key', 'telegram', 1.0, 1.0, 2.0)",
        [],
    )
    .unwrap();
    db.execute(
        "INSERT INTO delegations(id, session_id, session_key, source_json, goal_json, role, model, status, \
         dispatched_at, completed_at, result_json) SELECT 'deleg_0000gone', 's-old', 'old-key', source_json, \
         '[\"stale goal\"]', 'leaf', 'test-model', 'completed', dispatched_at, completed_at, result_json \
         FROM delegations WHERE id = 'deleg_0000done'",
        [],
    )
    .unwrap();
    drop(db);
    llm.push(Reply::text("the cache result is in"));

    let mut gw = Gateway::start(bin(), &home);
    let lost = wait_prefix(&tg, 42, "Background delegation deleg_");
    assert!(lost.text.contains("was lost") && lost.text.contains("rebuild the index"), "{}", lost.text);
    wait_text(&tg, 42, "the cache result is in");
    let done = completions(&llm);
    assert_eq!(done.len(), 1);
    assert!(done[0].last_user().unwrap().contains("cache tidied"));

    gw.terminate();
    assert_eq!(gw.wait_exit(WAIT), Some(0));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "still there?");
    wait_text(&tg, 42, "echo: still there?");
    assert_eq!(completions(&llm).len(), 1, "delivered exactly once, and the ended session's never");
    let db = rusqlite::Connection::open(home.path().join("lite.db")).unwrap();
    let gone: Option<f64> =
        db.query_row("SELECT delivered_at FROM delegations WHERE id = 'deleg_0000gone'", [], |r| r.get(0)).unwrap();
    assert!(gone.is_some(), "the dropped result is marked, so it is not retried");
    let lost_count = tg.sent().iter().filter(|m| m.text.contains("was lost")).count();
    assert_eq!(lost_count, 1, "the lost notice went out once");
}

#[test]
fn interrupting_the_parent_and_its_actor_idling_out_leave_the_child_running() {
    let (tg, llm, home) = setup("gateway:\n  session_actor_idle_seconds: 1\n");
    let (child_gate, turn_gate) = (Gate::new(), Gate::new());
    llm.on_system(CHILD, Reply::text("child finished anyway").hold(&child_gate));
    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"long survey","background":true}"#));
    llm.push(Reply::text("survey started"));
    llm.push(Reply::text("never finished").hold(&turn_gate));
    llm.push(Reply::text("survey result handled"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "start the survey");
    wait_text(&tg, 42, "survey started");
    tg.user_says(&dm(), &ann(), "something long");
    assert!(llm.wait_requests(4, WAIT));
    tg.user_says(&dm(), &ann(), "/stop");
    wait_text(&tg, 42, "⚡ Stopped. You can continue this session.");
    // The actor exits after a second of idleness; the child is the registry's, not the actor's.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    child_gate.open();
    wait_text(&tg, 42, "survey result handled");
    assert!(completions(&llm)[0].last_user().unwrap().contains("child finished anyway"));
}

#[test]
fn new_session_stops_the_old_sessions_tasks_and_shutdown_stops_the_rest_and_tells_the_chat() {
    let (tg, llm, home) = setup("");
    let gate = Gate::new();
    llm.on_system(CHILD, Reply::text("unused").hold(&gate));
    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"first task","background":true}"#));
    llm.push(Reply::text("first started"));
    let mut gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "start one");
    wait_text(&tg, 42, "first started");
    tg.user_says(&dm(), &ann(), "/new");
    tg.wait_sent(WAIT, |m| m.chat_id == 42 && !m.buttons.is_empty()).expect("the /new question");
    tg.user_says(&dm(), &ann(), "yes");
    let reset = tg.wait_sent(WAIT, |m| m.chat_id == 42 && m.text.contains("⏹ Stopped 1 background task(s):"));
    assert!(reset.expect("the chat is told").text.contains("first task"));

    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"second task","background":true}"#));
    llm.push(Reply::text("second started"));
    tg.user_says(&dm(), &ann(), "start another");
    wait_text(&tg, 42, "second started");
    gw.terminate();
    assert_eq!(gw.wait_exit(WAIT), Some(0));
    let told = tg.sent().into_iter().find(|m| m.text.contains("was stopped: the gateway is shutting down"));
    assert!(told.expect("the chat is told at shutdown").text.contains("second task"));
    gate.open();

    // Stopped tasks are not "lost" at the next start, and never come back as turns.
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "hello");
    wait_text(&tg, 42, "echo: hello");
    assert!(!tg.sent().iter().any(|m| m.text.contains("was lost")));
    assert!(completions(&llm).is_empty());
}

#[test]
fn background_command_runs_a_prompt_as_a_background_task() {
    let (tg, llm, home) = setup("");
    llm.on_system(CHILD, Reply::text("logs summarised: all quiet"));
    llm.push(Reply::text("summary received"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "/background summarise the logs");
    wait_prefix(&tg, 42, "🚀 Background task deleg_");
    wait_text(&tg, 42, "summary received");
    let text = completions(&llm)[0].last_user().unwrap().to_string();
    assert!(text.contains("summarise the logs") && text.contains("logs summarised: all quiet"), "{text}");
}

#[test]
fn a_childs_dangerous_command_is_denied_without_asking_the_chat() {
    let work = std::env::temp_dir().join(format!("hermes-deleg-approve-{}", std::process::id()));
    std::fs::create_dir_all(work.join("build")).unwrap();
    let (tg, llm, home) = setup(&format!("terminal:\n  cwd: {}\ndelegation:\n  max_iterations: 1\n", work.display()));
    llm.on_system(CHILD, Reply::tool_call("terminal", r#"{"command":"rm -rf ./build"}"#));
    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"clean the build"}"#));
    llm.push(Reply::text("child came back"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "clean up via a helper");
    wait_text(&tg, 42, "child came back");
    assert!(work.join("build").exists(), "the child's command must not run");
    assert!(!tg.sent().iter().any(|m| m.text.contains("requires approval")), "the chat was not asked");
    let child_results: Vec<String> = llm
        .requests()
        .iter()
        .filter(|r| r.messages[0].1.contains(CHILD))
        .flat_map(|r| r.messages.iter().filter(|(role, _)| role == "tool").map(|(_, c)| c.clone()).collect::<Vec<_>>())
        .collect();
    assert!(child_results.iter().any(|c| c.contains("BLOCKED")), "{child_results:?}");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn a_synchronous_child_keeps_its_parent_turn_alive_past_the_inactivity_timeout() {
    let (tg, llm, home) = setup("agent:\n  gateway_timeout: 6\n");
    let gate = Gate::new();
    llm.on_system(CHILD, Reply::text("slow but done").hold(&gate));
    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"slow job"}"#));
    llm.push(Reply::text("parent finished"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "do the slow job");
    assert!(llm.wait_requests(2, WAIT), "the child is running");
    // Twice the parent's inactivity timeout with no model output anywhere: only the child's
    // heartbeat keeps the parent turn from being stopped.
    std::thread::sleep(std::time::Duration::from_secs(12));
    gate.open();
    wait_text(&tg, 42, "parent finished");
    let result = &tool_results(&llm, None)[0];
    assert!(result.contains(r#""summary":"slow but done""#), "{result}");
}

#[test]
fn a_child_past_its_wall_clock_is_stopped_and_reported_as_timed_out() {
    let (tg, llm, home) = setup("delegation:\n  child_timeout_seconds: 1\n");
    let gate = Gate::new();
    llm.on_system(CHILD, Reply::text("never arrives").hold(&gate));
    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"endless job","background":true}"#));
    llm.push(Reply::text("started"));
    llm.push(Reply::text("noted the timeout"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "start the endless job");
    wait_text(&tg, 42, "noted the timeout");
    let text = completions(&llm)[0].last_user().unwrap().to_string();
    assert!(text.contains("status=timeout") && text.contains("timed out after 1 s"), "{text}");
    gate.open();
}

#[test]
fn an_orchestrator_delegates_one_level_deeper_only_when_the_depth_allows() {
    let (tg, llm, home) = setup("delegation:\n  max_spawn_depth: 2\n");
    let orchestrator = "Orchestrator Role";
    llm.on_system(orchestrator, Reply::tool_call("delegate_task", r#"{"goal":"leaf work","role":"orchestrator"}"#));
    llm.on_system(orchestrator, Reply::text("orchestrated: leaf said ok"));
    llm.on_system(CHILD, Reply::text("leaf ok"));
    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"plan and split","role":"orchestrator"}"#));
    llm.push(Reply::text("all done"));
    let _gw = Gateway::start(bin(), &home);
    tg.user_says(&dm(), &ann(), "plan it");
    wait_text(&tg, 42, "all done");
    let requests = llm.requests();
    let orch: Vec<&LlmRequest> = requests.iter().filter(|r| r.messages[0].1.contains(orchestrator)).collect();
    assert!(orch[0].tools.iter().any(|t| t == "delegate_task"), "depth 1 of 2 may delegate");
    assert!(orch[0].messages[0].1.contains("You are at depth 1 of max_spawn_depth=2"));
    let leaf = requests.iter().find(|r| r.last_user() == Some("leaf work")).expect("the grandchild ran");
    assert!(!leaf.messages[0].1.contains(orchestrator), "depth 2 of 2 is a leaf whatever its role");
    assert!(!leaf.tools.iter().any(|t| t == "delegate_task"));
    let nested = orch[1].messages.iter().rev().find(|(r, _)| r == "tool").unwrap();
    assert!(nested.1.contains(r#""summary":"leaf ok""#), "{}", nested.1);
    let result = &tool_results(&llm, None)[0];
    assert!(result.contains("orchestrated: leaf said ok"), "{result}");
}

#[test]
fn agents_shows_an_admin_every_chats_tasks_and_a_user_only_their_own() {
    use hermes_testkit::User;
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    let yaml = "platforms:\n  telegram:\n    extra:\n      allow_admin_from: \"42\"\n      user_allowed_commands: \"agents\"\n";
    let home = HermesHome::standard_with(&tg, &llm, "42,43,44", yaml);
    let gate = Gate::new();
    llm.on_system(CHILD, Reply::text("later").hold(&gate));
    llm.push(Reply::tool_call("delegate_task", r#"{"goal":"bea's research","background":true}"#));
    llm.push(Reply::text("bea's task started"));
    let _gw = Gateway::start(bin(), &home);
    let (bea, cid) = (User::new(43, "Bea"), User::new(44, "Cid"));
    tg.user_says(&Chat::private(43), &bea, "research for me");
    wait_text(&tg, 43, "bea's task started");
    for (chat, user, sees) in [(42, ann(), true), (43, bea, true), (44, cid, false)] {
        tg.user_says(&Chat::private(chat), &user, "/agents");
        let reply = tg.wait_sent(WAIT, |m| m.chat_id == chat && !m.text.contains("started")).expect("an /agents reply");
        assert_eq!(reply.text.contains("bea's research"), sees, "chat {chat}: {}", reply.text);
    }
    gate.open();
}
