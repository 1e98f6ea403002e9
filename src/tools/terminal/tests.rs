use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use miniserde::json::{Object, Value};

use super::*;
use crate::tools::test_env;

/// The process table is global: tests that fill it must not overlap tests that use it.
static TABLE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn parse(text: &str) -> Object {
    miniserde::json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

fn get<'a>(o: &'a Object, k: &str) -> &'a Value {
    o.get(k).unwrap_or_else(|| panic!("no {k}"))
}

fn str_of(o: &Object, k: &str) -> String {
    match get(o, k) {
        Value::String(s) => s.clone(),
        v => panic!("{k} is {}", miniserde::json::to_string(v)),
    }
}

fn code(o: &Object) -> i64 {
    match get(o, "exit_code") {
        Value::Number(miniserde::json::Number::I64(n)) => *n,
        Value::Number(miniserde::json::Number::U64(n)) => *n as i64,
        v => panic!("exit_code is {}", miniserde::json::to_string(v)),
    }
}

fn call(env: &ToolEnv, spec: ToolSpec, args: &str) -> Result<Object, String> {
    (spec.run)(env, &parse(args)).map(|t| parse(&t))
}

#[test]
fn foreground_commands_return_output_and_exit_code_in_the_workspace() {
    let dir = crate::test_util::temp_dir("term-fg");
    let env = test_env::env(&dir);
    let o = call(&env, spec(), r#"{"command":"echo hi; echo err >&2; pwd; exit 3"}"#).unwrap();
    assert_eq!(str_of(&o, "output"), format!("hi\nerr\n{}\n", dir.display()));
    assert_eq!(code(&o), 3);
    assert!(call(&env, spec(), r#"{"command":"ls","timeout":601}"#).unwrap_err().contains("background=true"));
    assert!(call(&env, spec(), r#"{"command":"ls","workdir":"rel"}"#).unwrap_err().contains("absolute"));
    assert!(call(&env, spec(), r#"{"command":"rm -rf /"}"#).unwrap_err().contains("hardline"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_timeout_kills_the_command_with_exit_124() {
    let dir = crate::test_util::temp_dir("term-timeout");
    let env = test_env::env(&dir);
    let o = call(&env, spec(), r#"{"command":"echo started; sleep 30","timeout":1}"#).unwrap();
    assert_eq!(code(&o), 124);
    assert_eq!(str_of(&o, "error"), "Command timed out after 1 seconds");
    assert_eq!(str_of(&o, "output"), "started\n");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_interrupt_stops_the_command_with_exit_130_within_the_grace() {
    let dir = crate::test_util::temp_dir("term-cancel");
    let env = test_env::env(&dir);
    let flag = env.cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        flag.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    // The shell ignores SIGTERM: SIGKILL after the grace must end it.
    let o = call(&env, spec(), r#"{"command":"trap '' TERM; sleep 60"}"#).unwrap();
    assert_eq!(code(&o), 130);
    assert!(str_of(&o, "output").ends_with("[Command interrupted]"));
    assert!(started.elapsed() < Duration::from_secs(20), "ended by the grace, not by sleep");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_hundred_megabytes_of_output_come_back_capped_with_the_spill_file() {
    let dir = crate::test_util::temp_dir("term-100mb");
    let env = test_env::env(&dir);
    let o = call(&env, spec(), r#"{"command":"head -c 100000000 /dev/zero | tr '\\0' a"}"#).unwrap();
    let out = str_of(&o, "output");
    assert!(out.len() <= 50_000 + 300, "{}", out.len());
    assert!(out.contains("[OUTPUT TRUNCATED - "), "{}", &out[19_000..21_000]);
    let spilled: Vec<_> = std::fs::read_dir(dir.join(".hermes/cache/tool-results")).unwrap().flatten().collect();
    assert_eq!(spilled[0].metadata().unwrap().len(), 100_000_000);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn background_processes_poll_log_wait_write_and_kill() {
    let _serial = TABLE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = crate::test_util::temp_dir("term-bg");
    let env = test_env::env(&dir);
    let o = call(&env, spec(), r#"{"command":"read x; echo got $x; seq 1 300","background":true}"#).unwrap();
    assert_eq!(str_of(&o, "output"), "Background process started");
    let id = str_of(&o, "session_id");
    assert!(id.starts_with("proc_") && id.len() == 17, "{id}");
    let p = process::spec;
    let sid = |action: &str, extra: &str| format!(r#"{{"action":"{action}","session_id":"{id}"{extra}}}"#);
    assert_eq!(str_of(&call(&env, p(), &sid("poll", "")).unwrap(), "status"), "running");
    call(&env, p(), &sid("submit", r#","data":"hello""#)).unwrap();
    let w = call(&env, p(), &sid("wait", r#","timeout":20"#)).unwrap();
    assert_eq!(str_of(&w, "status"), "exited");
    assert_eq!(code(&w), 0);
    let polled = str_of(&call(&env, p(), &sid("poll", "")).unwrap(), "output");
    assert!(polled.starts_with("got hello\n1\n"), "{polled}");
    assert_eq!(str_of(&call(&env, p(), &sid("poll", "")).unwrap(), "output"), "", "nothing new");
    let log = call(&env, p(), &sid("log", "")).unwrap();
    assert_eq!(str_of(&log, "output").lines().count(), 200, "the last 200 lines by default");
    assert!(str_of(&log, "output").ends_with("300"));
    let log = call(&env, p(), &sid("log", r#","offset":0,"limit":2"#)).unwrap();
    assert_eq!(str_of(&log, "output"), "got hello\n1");

    let o = call(&env, spec(), r#"{"command":"sleep 60","background":true}"#).unwrap();
    let id2 = str_of(&o, "session_id");
    let k = call(&env, p(), &format!(r#"{{"action":"kill","session_id":"{id2}"}}"#)).unwrap();
    assert_eq!(str_of(&k, "status"), "killed");
    let list = miniserde::json::to_string(&Value::Object(call(&env, p(), r#"{"action":"list"}"#).unwrap()));
    assert!(list.contains(&id) && list.contains(&id2), "{list}");
    assert!(call(&env, p(), r#"{"action":"poll","session_id":"proc_nope"}"#).unwrap_err().contains("no background"));
    assert!(call(&env, p(), r#"{"action":"dance"}"#).unwrap_err().contains("unknown action"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_table_holds_at_most_64_processes() {
    let _serial = TABLE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = crate::test_util::temp_dir("term-cap");
    let env = test_env::env(&dir);
    let mut ids = Vec::new();
    let mut refused = None;
    for _ in 0..process::MAX_PROCESSES + 1 {
        match call(&env, spec(), r#"{"command":"sleep 30","background":true}"#) {
            Ok(o) => ids.push(str_of(&o, "session_id")),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("the 65th running process is refused");
    assert!(e.contains("64 background processes are running"), "{e}");
    for id in &ids {
        let _ = call(&env, process::spec(), &format!(r#"{{"action":"kill","session_id":"{id}"}}"#));
    }
    // Once they are finished, new ones evict the oldest finished.
    let o = call(&env, spec(), r#"{"command":"true","background":true}"#).unwrap();
    let list = call(&env, process::spec(), r#"{"action":"list"}"#).unwrap();
    assert!(code_of(&list, "count") <= process::MAX_PROCESSES as i64);
    assert!(!str_of(&o, "session_id").is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

fn code_of(o: &Object, k: &str) -> i64 {
    match get(o, k) {
        Value::Number(miniserde::json::Number::I64(n)) => *n,
        Value::Number(miniserde::json::Number::U64(n)) => *n as i64,
        _ => panic!(),
    }
}
