//! Replays inputs of `../shared/lean-protocol/samples/` and compares with Lean's real outputs.

use serde_json::{Value, json};

use crate::support::{Sim, expected_records, oracle_file, shared_or_skip};

fn sample(name: &str) -> Option<String> {
    let dir = shared_or_skip("the protocol samples")?;
    std::fs::read_to_string(dir.join("lean-protocol/samples").join(name)).ok()
}

/// Keeps only the fields the simulator models, for comparison.
fn modelled(diagnostic: &Value) -> Value {
    let mut copy = serde_json::Map::new();
    for field in [
        "range",
        "fullRange",
        "severity",
        "source",
        "message",
        "code",
        "leanTags",
        "isSilent",
    ] {
        if let Some(value) = diagnostic.get(field) {
            copy.insert(field.to_owned(), value.clone());
        }
    }
    Value::Object(copy)
}

#[test]
fn initialize_matches_lean_and_keys_are_sorted_on_the_wire() {
    let mut sim = Sim::spawn_raw(&[]);
    sim.send(
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}}),
    );
    let frame = sim
        .next_frame(std::time::Duration::from_secs(10))
        .expect("initialize is answered");
    let raw = String::from_utf8(frame.raw).expect("frames are UTF-8");
    assert!(
        raw.starts_with(
            r#"{"id":0,"jsonrpc":"2.0","result":{"capabilities":{"callHierarchyProvider":true,"#
        ),
        "{raw}"
    );
    let result = frame.json.expect("the answer is JSON");
    assert_eq!(
        result.pointer("/result/serverInfo"),
        Some(&json!({"name": "Lean 4 Server", "version": "0.3.0"}))
    );
    assert_eq!(
        result.pointer("/result/capabilities/textDocumentSync/change"),
        Some(&json!(2))
    );
    sim.notify("initialized", json!({}));
    let register = sim.wait_for(|m| m.get("method").is_some());
    assert_eq!(register["id"], json!("register_lean_watcher"));
    assert_eq!(register["method"], json!("client/registerCapability"));
}

#[test]
fn a_message_before_initialize_is_fatal() {
    let mut sim = Sim::spawn_raw(&[]);
    sim.notify("initialized", json!({}));
    let (code, _) = sim.finish();
    assert_eq!(code, Some(1));
}

#[test]
fn sorry_warning_matches_the_leanclient_sample() {
    let Some(text) = sample("leanclient-sorry-warning.jsonl") else {
        return;
    };
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let document = lines[0]["document_text"]
        .as_str()
        .expect("the sample has the document");
    let mut sim = Sim::start(&["--lean-version", "4.23.0"], json!({}));
    sim.open("file:///sorry.lean", document);
    let diagnostics = sim.diagnostics("file:///sorry.lean", 1);
    assert_eq!(
        diagnostics.iter().map(modelled).collect::<Vec<_>>(),
        vec![modelled(&lines[1])]
    );
}

#[test]
fn goals_accomplished_sample_with_silent_support() {
    let Some(input) = sample("goalsAccomplished.lean") else {
        return;
    };
    let Some(expected) = sample("goalsAccomplished.lean.expected.out") else {
        return;
    };
    let expected = &expected_records(&expected)[0];
    let dir = tempfile::tempdir().expect("a temporary directory");
    let oracle = oracle_file(
        &dir,
        "[[theorem]]\nstatement = \": True\"\naccept = [\"exact True.intro\", \"True.intro\"]\n",
    );
    let mut sim = Sim::start(
        &["--oracle", &oracle],
        json!({"silentDiagnosticSupport": true}),
    );
    sim.open("file:///goalsAccomplished.lean", &input);
    let diagnostics = sim.diagnostics("file:///goalsAccomplished.lean", 1);
    let want: Vec<Value> = expected["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(modelled)
        .collect();
    assert_eq!(diagnostics.iter().map(modelled).collect::<Vec<_>>(), want);

    // Without the capability Lean sends no silent diagnostics at all.
    let mut plain = Sim::start(&["--oracle", &oracle], json!({}));
    plain.open("file:///goalsAccomplished.lean", &input);
    assert!(
        plain
            .diagnostics("file:///goalsAccomplished.lean", 1)
            .is_empty()
    );
}

/// The documents of a Lean interactive test, split at `-- RESET` lines.
fn reset_segments(input: &str) -> Vec<String> {
    let mut segments = vec![String::new()];
    for line in input.split_inclusive('\n') {
        if line.trim_end() == "-- RESET" {
            segments.push(String::new());
        }
        if let Some(last) = segments.last_mut() {
            last.push_str(line);
        }
    }
    segments
}

#[test]
fn incremental_tactic_sample_unknown_identifier_and_parse_error() {
    let Some(input) = sample("incrementalTactic.lean") else {
        return;
    };
    let Some(expected) = sample("incrementalTactic.lean.expected.out") else {
        return;
    };
    let records = expected_records(&expected);
    let segments = reset_segments(&input);
    let find_segment = |needle: &str| {
        segments
            .iter()
            .find(|s| s.contains(needle))
            .cloned()
            .expect("segment exists")
    };
    let find_record = |needle: &str| {
        records
            .iter()
            .find(|r| {
                r["diagnostics"].as_array().is_some_and(|d| {
                    d.iter()
                        .any(|d| d["message"].as_str().is_some_and(|m| m.contains(needle)))
                })
            })
            .cloned()
            .expect("record exists")
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let oracle = oracle_file(&dir, "unknown_identifiers = [\"no\"]\n");
    let mut sim = Sim::start(&["--oracle", &oracle], json!({}));

    sim.open(
        "file:///otherMessage.lean",
        &find_segment("def otherMessage"),
    );
    let got = sim.diagnostics("file:///otherMessage.lean", 1);
    let want = find_record("Unknown identifier `no`");
    assert_eq!(modelled(&got[0]), modelled(&want["diagnostics"][0]));

    sim.open(
        "file:///partialSyntax.lean",
        &find_segment("def partialSyntax"),
    );
    let got = sim.diagnostics("file:///partialSyntax.lean", 1);
    let want = &find_record("unexpected token")["diagnostics"][0];
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]["range"], want["range"],
        "parse errors keep their full multi-line range"
    );
    assert_eq!(got[0]["fullRange"], want["fullRange"]);
    assert!(
        got[0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("unexpected token '/-!'; expected"))
    );

    // Older versions spell it in lower case with quotes and no code (editAfterError sample).
    let mut old = Sim::start(&["--oracle", &oracle, "--lean-version", "4.9.0"], json!({}));
    old.open(
        "file:///otherMessage.lean",
        &find_segment("def otherMessage"),
    );
    let got = old.diagnostics("file:///otherMessage.lean", 1);
    assert_eq!(got[0]["message"], json!("unknown identifier 'no'"));
    assert!(got[0].get("code").is_none());
}

#[test]
fn unsolved_goals_range_is_cut_at_the_next_line() {
    let mut sim = Sim::start(&[], json!({}));
    let text = "theorem t (x : ℕ) (h₀ : x ≠ 0) : x + 0 = x := by\n  skip\n  skip\n";
    sim.open("file:///u.lean", text);
    let got = sim.diagnostics("file:///u.lean", 1);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]["message"],
        json!("unsolved goals\nx : ℕ\nh₀ : x ≠ 0\n⊢ x + 0 = x")
    );
    assert_eq!(got[0]["leanTags"], json!([1]));
    assert_eq!(
        got[0]["range"],
        json!({"start": {"line": 0, "character": 46}, "end": {"line": 1, "character": 0}})
    );
    assert_eq!(
        got[0]["fullRange"],
        json!({"start": {"line": 0, "character": 46}, "end": {"line": 2, "character": 6}})
    );
}

#[test]
fn plain_goal_shapes_follow_the_sample() {
    let Some(expected) = sample("plainGoal.lean.expected.out") else {
        return;
    };
    // In the sample, `rendered` is each goal in a ```lean block, joined by `\n---\n`.
    let records = expected_records(&expected);
    let results: Vec<&Value> = records
        .iter()
        .filter(|r| r.get("rendered").is_some())
        .collect();
    assert!(
        results
            .iter()
            .any(|r| r["rendered"] == json!("no goals") && r["goals"] == json!([]))
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let oracle = oracle_file(
        &dir,
        "[[theorem]]\nstatement = \"(x : ℕ) (h₀ : x ≠ 0) : x = x\"\naccept = [\"rfl\"]\n",
    );
    let mut sim = Sim::start(&["--oracle", &oracle], json!({}));
    let text = "theorem t (x : ℕ) (h₀ : x ≠ 0) : x + 0 = x := by\n  have h : x = x := by\n    rfl\n  sorry\n\ndef d : Nat := 1\n";
    sim.open("file:///g.lean", text);
    sim.diagnostics("file:///g.lean", 1);
    let goal_at = |sim: &mut Sim, line: u32, character: u32| {
        let id = sim.request("$/lean/plainGoal", json!({"textDocument": {"uri": "file:///g.lean"}, "position": {"line": line, "character": character}}));
        sim.response(&id)["result"].clone()
    };
    let at_sorry = goal_at(&mut sim, 3, 2);
    let goals: Vec<String> =
        serde_json::from_value(at_sorry["goals"].clone()).expect("goals are strings");
    assert_eq!(
        goals,
        vec!["x : ℕ\nh₀ : x ≠ 0\nh : x = x\n⊢ x + 0 = x".to_owned()]
    );
    let joined = goals
        .iter()
        .map(|g| format!("```lean\n{g}\n```"))
        .collect::<Vec<_>>()
        .join("\n---\n");
    assert_eq!(at_sorry["rendered"], json!(joined));
    assert_eq!(
        goal_at(&mut sim, 2, 4)["goals"],
        json!(["x : ℕ\nh₀ : x ≠ 0\n⊢ x = x"])
    );
    assert_eq!(
        goal_at(&mut sim, 3, 7),
        json!({"rendered": "no goals", "goals": []})
    );
    assert_eq!(goal_at(&mut sim, 5, 4), Value::Null);

    let id = sim.request(
        "$/lean/plainTermGoal",
        json!({"textDocument": {"uri": "file:///g.lean"}, "position": {"line": 3, "character": 3}}),
    );
    let term = sim.response(&id)["result"].clone();
    assert_eq!(
        term["goal"],
        json!("x : ℕ\nh₀ : x ≠ 0\nh : x = x\n⊢ x + 0 = x")
    );
    assert_eq!(
        term["range"],
        json!({"start": {"line": 3, "character": 2}, "end": {"line": 3, "character": 7}})
    );
}

#[test]
fn try_this_code_action_matches_the_builtin_sample() {
    let Some(input) = sample("builtinCodeactions.lean") else {
        return;
    };
    let Some(expected) = sample("builtinCodeactions.lean.expected.out") else {
        return;
    };
    let expected = &expected_records(&expected)[0];
    let suggestion = expected
        .pointer("/edit/documentChanges/0/edits/0/newText")
        .and_then(Value::as_str)
        .expect("the sample has an edit");
    let tactic = input
        .lines()
        .find(|line| line.trim_start().starts_with("simp?"))
        .expect("the sample has simp?")
        .trim();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let oracle = oracle_file(
        &dir,
        &format!(
            "[suggestions]\n{} = {}\n",
            toml_string(tactic),
            toml_string(suggestion)
        ),
    );
    let mut sim = Sim::start(
        &["--oracle", &oracle, "--lean-version", "4.23.0"],
        json!({}),
    );
    let uri = "file:///builtinCodeactions.lean";
    sim.open(uri, &input);
    let diagnostics = sim.diagnostics(uri, 1);
    assert!(
        diagnostics
            .iter()
            .any(|d| d["message"] == json!(format!("Try this: {suggestion}"))
                && d["severity"] == json!(3))
    );
    let id = sim.request("textDocument/codeAction", json!({"textDocument": {"uri": uri},
        "range": {"start": {"line": 5, "character": 4}, "end": {"line": 5, "character": 4}}, "context": {"diagnostics": []}}));
    let actions = sim.response(&id)["result"].clone();
    assert_eq!(actions, json!([expected]));
    let elsewhere = sim.request("textDocument/codeAction", json!({"textDocument": {"uri": uri},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}}));
    assert_eq!(sim.response(&elsewhere)["result"], json!([]));
}

fn toml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}
