//! Incrementality, versions, cancellation, document lifecycle and request errors.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Sim, oracle_file};

const THREE: &str = "import Mathlib\n\ntheorem a (x : ℕ) : x = x := by\n  sorry\n\ntheorem b (x : ℕ) : x + 0 = x := by\n  sorry\n\ntheorem c (x : ℕ) : 0 + x = x := by\n  sorry\n";

fn count(stats: &Value, field: &str) -> u64 {
    stats[field].as_u64().unwrap_or(0)
}

#[test]
fn an_edit_in_the_last_declaration_reelaborates_only_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = dir.path().join("sim.log");
    let log_arg = log.display().to_string();
    let mut sim = Sim::start(&["--log", &log_arg], json!({}));
    sim.open("file:///three.lean", THREE);
    assert_eq!(sim.diagnostics("file:///three.lean", 1).len(), 3);
    let before = sim.stats();
    assert_eq!(
        (
            count(&before, "headerLoads"),
            count(&before, "declarationsElaborated")
        ),
        (1, 3)
    );

    // Replace the last `sorry` (line 9) by `simp`, with a ranged UTF-16 edit.
    sim.notify("textDocument/didChange", json!({"textDocument": {"uri": "file:///three.lean", "version": 2},
        "contentChanges": [{"range": {"start": {"line": 9, "character": 2}, "end": {"line": 9, "character": 7}}, "text": "simp"}]}));
    let diagnostics = sim.diagnostics("file:///three.lean", 2);
    let after = sim.stats();
    assert_eq!(
        count(&after, "headerLoads"),
        1,
        "the header is not reloaded"
    );
    assert_eq!(
        count(&after, "declarationsElaborated"),
        4,
        "only the edited declaration is elaborated again"
    );
    let messages: Vec<&str> = diagnostics
        .iter()
        .filter_map(|d| d["message"].as_str())
        .collect();
    assert_eq!(
        messages,
        vec![
            "declaration uses `sorry`",
            "declaration uses `sorry`",
            "unsolved goals\nx : ℕ\n⊢ 0 + x = x"
        ]
    );
    let logged = std::fs::read_to_string(&log).expect("the log was written");
    assert_eq!(
        logged
            .lines()
            .filter(|l| l.starts_with("elaborate ") && l.contains("version=2"))
            .count(),
        1
    );

    // An edit of the imports reloads the header and elaborates everything again.
    sim.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": "file:///three.lean", "version": 3},
        "contentChanges": [{"text": THREE.replace("import Mathlib", "import Mathlib.Tactic")}]}),
    );
    sim.diagnostics("file:///three.lean", 3);
    let last = sim.stats();
    assert_eq!(
        (
            count(&last, "headerLoads"),
            count(&last, "declarationsElaborated")
        ),
        (2, 7)
    );
}

#[test]
fn incremental_publishes_start_full_and_then_append() {
    let mut sim = Sim::start(&[], json!({"incrementalDiagnosticSupport": true}));
    sim.open("file:///inc.lean", THREE);
    sim.diagnostics("file:///inc.lean", 1);
    let publishes: Vec<&Value> = sim
        .seen
        .iter()
        .filter(|m| m["method"] == json!("textDocument/publishDiagnostics"))
        .collect();
    assert_eq!(publishes[0]["params"]["isIncremental"], json!(false));
    assert!(
        publishes[1..]
            .iter()
            .all(|p| p["params"]["isIncremental"] == json!(true))
    );
    let total: usize = publishes
        .iter()
        .map(|p| p["params"]["diagnostics"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(total, 3, "appended diagnostics add up to the full set");
}

#[test]
fn superseded_versions_are_never_reported_as_done() {
    let mut sim = Sim::start(&["--decl-ms", "150"], json!({}));
    sim.open("file:///v.lean", THREE);
    for version in 2..=3 {
        sim.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": "file:///v.lean", "version": version},
            "contentChanges": [{"text": format!("{THREE}\n-- edit {version}\n")}]}),
        );
    }
    sim.diagnostics("file:///v.lean", 3);
    let mut newest = 0;
    for message in &sim.seen {
        let method = message["method"].as_str().unwrap_or("");
        if method == "textDocument/publishDiagnostics" || method == "$/lean/fileProgress" {
            let version = message
                .pointer("/params/version")
                .or_else(|| message.pointer("/params/textDocument/version"));
            let version = version
                .and_then(Value::as_i64)
                .expect("every report names its version");
            assert!(
                version >= newest,
                "a report for version {version} came after one for {newest}"
            );
            newest = version;
            if method == "$/lean/fileProgress" && message["params"]["processing"] == json!([]) {
                assert_eq!(version, 3, "only the newest version finishes");
            }
        }
    }
}

#[test]
fn cancelled_pending_code_action_gets_request_cancelled() {
    let mut sim = Sim::start(&["--decl-ms", "300"], json!({}));
    sim.open("file:///c.lean", THREE);
    let params = json!({"textDocument": {"uri": "file:///c.lean"}, "range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}}, "context": {"diagnostics": []}});
    let cancelled = sim.request("textDocument/codeAction", params);
    let goal = sim.request(
        "$/lean/plainGoal",
        json!({"textDocument": {"uri": "file:///c.lean"}, "position": {"line": 3, "character": 2}}),
    );
    sim.notify("$/cancelRequest", json!({"id": cancelled}));
    sim.notify("$/cancelRequest", json!({"id": goal}));
    let answer = sim.response(&cancelled);
    assert_eq!(answer["error"], json!({"code": -32800, "message": ""}));
    let goal_answer = sim.response(&goal);
    assert_eq!(
        goal_answer["result"]["goals"],
        json!(["x : ℕ\n⊢ x = x"]),
        "plainGoal is not cancellable in Lean"
    );
    // The cancelled request is answered exactly once.
    let again = sim.try_wait_for(Duration::from_millis(300), |m| {
        m.get("id") == Some(&cancelled) && m.get("method").is_none()
    });
    assert!(again.is_none());
}

#[test]
fn request_errors_match_lean() {
    let mut sim = Sim::start(&[], json!({}));
    let closed = sim.request("$/lean/plainGoal", json!({"textDocument": {"uri": "file:///nope.lean"}, "position": {"line": 0, "character": 0}}));
    assert_eq!(
        sim.response(&closed)["error"],
        json!({"code": -32801, "message": "Cannot process request to closed file 'file:///nope.lean'"})
    );
    let unknown = sim.request("foo/bar", json!({}));
    assert_eq!(sim.response(&unknown)["error"]["code"], json!(-32601));
    sim.open("file:///x.lean", "theorem t : True := by\n  sorry\n");
    let rpc = sim.request("$/lean/rpc/call", json!({"textDocument": {"uri": "file:///x.lean"}, "position": {"line": 0, "character": 0}, "sessionId": "1", "method": "Lean.Widget.getInteractiveGoals", "params": {}}));
    assert_eq!(
        sim.response(&rpc)["error"],
        json!({"code": -32900, "message": "Outdated RPC session"})
    );
    let connect = sim.request("$/lean/rpc/connect", json!({"uri": "file:///x.lean"}));
    assert!(sim.response(&connect)["result"]["sessionId"].is_string());
    sim.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": "file:///x.lean"}}),
    );
    let cleared = sim.wait_for(|m| {
        m["method"] == json!("textDocument/publishDiagnostics")
            && m["params"]["diagnostics"] == json!([])
            && m["params"]["uri"] == json!("file:///x.lean")
    });
    assert_eq!(cleared["params"]["version"], json!(1));
    let shutdown = sim.request("shutdown", Value::Null);
    assert_eq!(sim.response(&shutdown)["result"], Value::Null);
    let late = sim.request("$/leanSim/stats", json!({}));
    assert_eq!(sim.response(&late)["error"]["code"], json!(-32600));
    sim.notify("exit", Value::Null);
    assert_eq!(sim.finish().0, Some(0));
}

#[test]
fn oracle_verdicts_and_print_axioms() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let oracle = oracle_file(
        &dir,
        r#"
[[theorem]]
statement = "(x : ℕ) (h₀ : x ≠ 0) : x + 0 = x"
accept = ["simp", "omega"]
axioms = { omega = ["propext"] }
"#,
    );
    let mut sim = Sim::start(&["--oracle", &oracle], json!({}));
    let text = "theorem t1 (x : ℕ) (h₀ : x ≠ 0) : x + 0 = x := by\n  omega\n#print axioms t1\n\ntheorem t2 (x : ℕ)\n    (h₀ : x ≠ 0) : x + 0 = x := by simp\n#print axioms t2\n\ntheorem t3 (x : ℕ) (h₀ : x ≠ 0) : x + 0 = x := by\n  linarith\n";
    sim.open("file:///o.lean", text);
    let messages: Vec<String> = sim
        .diagnostics("file:///o.lean", 1)
        .iter()
        .filter_map(|d| d["message"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        messages,
        vec![
            "'t1' depends on axioms: [propext]".to_owned(),
            "'t2' depends on axioms: [propext, Classical.choice, Quot.sound]".to_owned(),
            "unsolved goals\nx : ℕ\nh₀ : x ≠ 0\n⊢ x + 0 = x".to_owned(),
        ]
    );
}

#[test]
fn accept_all_still_reports_sorry_and_native_axioms() {
    let mut sim = Sim::start(&["--accept-all"], json!({}));
    let text = "theorem ok (a b : ℕ) : a + b = b + a := by\n  omega\n#print axioms ok\n\
theorem hidden : 1 = 2 := by\n  exact sorryAx _ false\n#print axioms hidden\n\
theorem native : 2 + 2 = 4 := by\n  decide +native\n#print axioms native\n\
theorem admitted : True := by\n  admit\n";
    sim.open("file:///all.lean", text);
    let messages: Vec<String> = sim
        .diagnostics("file:///all.lean", 1)
        .iter()
        .filter_map(|d| d["message"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        messages,
        vec![
            "'ok' depends on axioms: [propext, Classical.choice, Quot.sound]".to_owned(),
            "declaration uses `sorry`".to_owned(),
            "'hidden' depends on axioms: [propext, sorryAx, Classical.choice, Quot.sound]".to_owned(),
            "'native' depends on axioms: [propext, Classical.choice, Lean.ofReduceBool, Quot.sound]".to_owned(),
            "declaration uses `sorry`".to_owned(),
        ]
    );
}

#[test]
fn closing_a_document_fails_its_pending_requests() {
    let mut sim = Sim::start(&["--decl-ms", "500"], json!({}));
    sim.open("file:///p.lean", THREE);
    let pending = sim.request(
        "textDocument/waitForDiagnostics",
        json!({"uri": "file:///p.lean", "version": 1}),
    );
    sim.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": "file:///p.lean"}}),
    );
    assert_eq!(
        sim.response(&pending)["error"],
        json!({"code": -32801, "message": "The file worker for file:///p.lean has been terminated."})
    );
}

#[test]
fn refresh_requests_use_numeric_ids_from_zero() {
    let mut sim = Sim::start(&["--refresh-requests"], json!({}));
    sim.open("file:///r.lean", THREE);
    sim.diagnostics("file:///r.lean", 1);
    let ids: Vec<Value> = sim
        .seen
        .iter()
        .filter(|m| m["method"] == json!("workspace/semanticTokens/refresh"))
        .map(|m| m["id"].clone())
        .collect();
    assert!(ids.len() >= 2);
    assert_eq!(ids[..2], [json!(0), json!(1)]);
}

/// What the VS Code infoview asks at the cursor: the goal with its hypotheses, and the messages
/// of the cursor's line only (`lineRange` is `[line, line + 1)`), as Lean answers.
#[test]
fn the_infoview_gets_goals_with_hypotheses_and_the_messages_of_its_lines() {
    let mut sim = Sim::start(&[], json!({}));
    let uri = "file:///info.lean";
    let text = "theorem a (x y : Nat) (h : x = y) : y = x := by\n  sorry\n\ntheorem b : True := by\n  sorry\n";
    sim.open(uri, text);
    assert_eq!(sim.diagnostics(uri, 1).len(), 2);
    let connect = sim.request("$/lean/rpc/connect", json!({"uri": uri}));
    let session = sim.response(&connect)["result"]["sessionId"].clone();
    let mut call = |method: &str, line: u64, params: Value| {
        let id = sim.request(
            "$/lean/rpc/call",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 2},
                   "sessionId": session, "method": method, "params": params}),
        );
        sim.response(&id)["result"].clone()
    };
    let goals = call(
        "Lean.Widget.getInteractiveGoals",
        1,
        json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 2}}),
    );
    let goal = &goals["goals"][0];
    assert_eq!(goal["hyps"][0]["names"], json!(["x", "y"]));
    assert_eq!(goal["hyps"][0]["type"], json!({"text": "Nat"}));
    assert_eq!(goal["hyps"][1]["names"], json!(["h"]));
    assert_eq!(goal["hyps"][1]["type"], json!({"text": "x = y"}));
    assert_eq!(goal["type"], json!({"text": "y = x"}));
    assert_eq!(goal["goalPrefix"], json!("⊢ "));

    let messages = |result: &Value| -> Vec<Value> {
        result
            .as_array()
            .expect("an array, as Lean answers")
            .iter()
            .map(|d| d["message"].clone())
            .collect()
    };
    let sorry = json!({"text": "declaration uses `sorry`"});
    let diagnostics = "Lean.Widget.getInteractiveDiagnostics";
    // The sorry warnings sit on the theorems' names (lines 0 and 3).
    let on_line_0 = call(diagnostics, 0, json!({"lineRange": {"start": 0, "end": 1}}));
    assert_eq!(messages(&on_line_0), vec![sorry.clone()]);
    assert_eq!(on_line_0[0]["range"]["start"]["line"], json!(0));
    let on_line_1 = call(diagnostics, 1, json!({"lineRange": {"start": 1, "end": 2}}));
    assert_eq!(messages(&on_line_1), Vec::<Value>::new());
    let all = call(diagnostics, 0, json!({}));
    assert_eq!(messages(&all), vec![sorry.clone(), sorry]);
}
