//! The file tools through the whole gateway: the scripted model writes, reads, patches and
//! searches files in a temporary workspace, and sees each result (or error) in its next request.

mod common;

use common::{ann, bin, wait_text};

use hermes_testkit::{Chat, FakeLlm, FakeTelegram, Gateway, HermesHome, Reply};

#[test]
fn the_model_writes_reads_patches_and_searches_in_its_workspace() {
    let ws = std::env::temp_dir().join(format!("hermes-files-ws-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&ws);
    std::fs::create_dir_all(&ws).unwrap();
    let (tg, llm) = (FakeTelegram::start(), FakeLlm::start());
    llm.push(Reply::tool_call("write_file", r#"{"path":"src/app.py","content":"def main():\n    return 1\n"}"#));
    llm.push(Reply::tool_call("read_file", r#"{"path":"src/app.py"}"#));
    llm.push(Reply::tool_call("patch", r#"{"path":"src/app.py","old_string":"return 1","new_string":"return 42"}"#));
    llm.push(Reply::tool_call("search_files", r#"{"pattern":"return \\d+"}"#));
    llm.push(Reply::tool_call("read_file", r#"{"offset":2}"#));
    llm.push(Reply::text("done"));
    let home = HermesHome::standard_with(&tg, &llm, "42", &format!("terminal:\n  cwd: {}\n", ws.display()));
    let _gw = Gateway::start(bin(), &home);

    tg.user_says(&Chat::private(42), &ann(), "edit my app");
    wait_text(&tg, 42, "done");

    assert_eq!(std::fs::read_to_string(ws.join("src/app.py")).unwrap(), "def main():\n    return 42\n");
    let requests = llm.requests();
    assert_eq!(requests.len(), 6, "one model call per tool result, then the answer");
    assert!(requests[0].tools.iter().any(|t| t == "search_files"), "offered: {:?}", requests[0].tools);
    let results: Vec<String> =
        requests[5].messages.iter().filter(|(role, _)| role == "tool").map(|(_, c)| c.clone()).collect();
    assert_eq!(results.len(), 5, "{results:#?}");
    assert_eq!(results[0], r#"{"bytes_written":25,"path":"src/app.py","success":true}"#);
    assert_eq!(results[1], r#"{"content":"     1|def main():\n     2|    return 1","total_lines":2}"#);
    assert!(results[2].contains(r#""diff":"--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n def main():\n-    return 1\n+    return 42\n""#), "{}", results[2]);
    assert_eq!(
        results[3],
        r#"{"matches":[{"content":"    return 42","line":2,"path":"src/app.py"}],"total":1,"truncated":false}"#
    );
    assert_eq!(results[4], r#"{"error":"missing required argument \"path\" (a string)"}"#);
    let _ = std::fs::remove_dir_all(&ws);
}
