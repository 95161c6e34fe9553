//! Behaviour where lean-sim must follow real Lean rather than what the proxy expects: report
//! order, dependency builds, judging every declaration, `#print axioms`, documentSymbol,
//! request versions, and lean-sim's independence from the product's own syntax crate.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Sim, oracle_file};

const URI: &str = "file:///order.lean";

fn method_of(message: &Value) -> Option<&str> {
    message.get("method").and_then(Value::as_str)
}

/// Every frame about `uri` until the answer to `waitForDiagnostics {uri, version}`, as short
/// labels: `progress`, `done`, `publish N` (N diagnostics), `answer`.
fn report_sequence(sim: &mut Sim, uri: &str, version: i64) -> Vec<String> {
    let id = sim.request(
        "textDocument/waitForDiagnostics",
        json!({"uri": uri, "version": version}),
    );
    let mut labels = Vec::new();
    loop {
        let Some(frame) = sim.next_frame(Duration::from_secs(10)) else {
            panic!("no answer to waitForDiagnostics; saw {labels:?}");
        };
        let Some(message) = frame.json else { continue };
        if message.get("id") == Some(&id) && method_of(&message).is_none() {
            labels.push("answer".to_owned());
            return labels;
        }
        match method_of(&message) {
            Some("$/lean/fileProgress")
                if message.pointer("/params/textDocument/uri") == Some(&json!(uri)) =>
            {
                let empty = message["params"]["processing"]
                    .as_array()
                    .is_some_and(Vec::is_empty);
                let fatal = message["params"]["processing"][0]["kind"] == json!(2);
                labels.push(
                    match (empty, fatal) {
                        (true, _) => "done",
                        (_, true) => "fatal",
                        _ => "progress",
                    }
                    .to_owned(),
                );
            }
            Some("textDocument/publishDiagnostics")
                if message.pointer("/params/uri") == Some(&json!(uri)) =>
            {
                let count = message["params"]["diagnostics"]
                    .as_array()
                    .map_or(0, Vec::len);
                labels.push(format!("publish {count}"));
            }
            _ => {}
        }
    }
}

#[test]
fn done_twice_says_done_twice_before_the_publish() {
    let mut sim = Sim::start(&["--done-twice"], json!({}));
    sim.open(URI, "theorem a : 1 = 1 := by\n  sorry\n");
    assert_eq!(
        report_sequence(&mut sim, URI, 1),
        ["progress", "done", "done", "publish 1", "answer"]
    );
}

#[test]
fn a_version_that_never_blocked_says_done_before_its_only_publish() {
    // The default report delay (200 ms, as Lean's) outlasts this quick elaboration.
    let mut sim = Sim::start(&[], json!({}));
    sim.open(URI, "theorem a : 1 = 1 := by\n  sorry\n");
    assert_eq!(
        report_sequence(&mut sim, URI, 1),
        ["progress", "done", "publish 1", "answer"],
        "a client that read the diagnostics at `done` would see none"
    );
}

#[test]
fn a_version_that_blocked_publishes_as_it_goes_and_then_says_done() {
    let mut sim = Sim::start(&["--report-delay-ms", "20", "--decl-ms", "60"], json!({}));
    sim.open(
        URI,
        "theorem a : 1 = 1 := by\n  sorry\ntheorem b : 2 = 2 := by\n  sorry\ntheorem c : 3 = 3 := by\n  sorry\n",
    );
    let sequence = report_sequence(&mut sim, URI, 1);
    let done = sequence
        .iter()
        .position(|label| label == "done")
        .expect("the version finishes");
    assert!(
        sequence[..done].iter().any(|label| label == "publish 3"),
        "the full set is published before done: {sequence:?}"
    );
    assert!(
        !sequence[done..]
            .iter()
            .any(|label| label.starts_with("publish")),
        "a version that blocked gets no final publish: {sequence:?}"
    );
    assert_eq!(sequence.last().map(String::as_str), Some("answer"));
}

const WITH_IMPORT: &str = "import Mathlib.Tactic\n\ntheorem a : 1 = 1 := by\n  sorry\n";

fn open_with_mode(sim: &mut Sim, uri: &str, text: &str, mode: Option<&str>) {
    let mut params =
        json!({"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": text}});
    if let Some(mode) = mode {
        params["dependencyBuildMode"] = json!(mode);
    }
    sim.notify("textDocument/didOpen", params);
}

#[test]
fn stale_imports_build_when_allowed_and_fail_the_header_when_not() {
    let mut sim = Sim::start(&["--imports-out-of-date"], json!({}));
    open_with_mode(&mut sim, "file:///never.lean", WITH_IMPORT, Some("never"));
    let sequence = report_sequence(&mut sim, "file:///never.lean", 1);
    assert!(sequence.contains(&"fatal".to_owned()), "{sequence:?}");
    let messages = sim.diagnostics("file:///never.lean", 1);
    assert_eq!(
        messages[0]["message"],
        json!(
            "Imports are out of date and must be rebuilt; use the \"Restart File\" command in your editor."
        )
    );
    assert_eq!(messages[0]["severity"], json!(1));

    // No field means `always`: Lake builds, its lines come and go, and the file elaborates.
    open_with_mode(&mut sim, "file:///always.lean", WITH_IMPORT, None);
    let lake = sim.wait_for(|m| {
        m.pointer("/params/uri") == Some(&json!("file:///always.lean"))
            && m.pointer("/params/diagnostics/0/message")
                .and_then(Value::as_str)
                .is_some_and(|text| text.contains("Built Mathlib.Tactic"))
    });
    assert_eq!(lake["params"]["diagnostics"][0]["severity"], json!(3));
    assert_eq!(
        lake["params"]["diagnostics"][0]["range"],
        json!({"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}})
    );
    let messages = sim.diagnostics("file:///always.lean", 1);
    let texts: Vec<&str> = messages
        .iter()
        .filter_map(|d| d["message"].as_str())
        .collect();
    assert_eq!(
        texts,
        ["declaration uses `sorry`"],
        "Lake's lines were cleared"
    );
}

#[test]
fn a_header_change_restarts_the_worker_and_once_builds_only_at_the_first_start() {
    let mut sim = Sim::start(&["--imports-out-of-date"], json!({}));
    open_with_mode(&mut sim, URI, WITH_IMPORT, Some("once"));
    assert_eq!(sim.diagnostics(URI, 1).len(), 1, "the first start built");
    sim.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 2},
               "contentChanges": [{"text": WITH_IMPORT.replace("Mathlib.Tactic", "Mathlib")}]}),
    );
    let messages = sim.diagnostics(URI, 2);
    assert_eq!(sim.stats()["workerRestarts"], json!(1));
    // The build of the first start made the imports fresh, so the restart imports them.
    assert_eq!(messages.len(), 1, "{messages:?}");
}

#[test]
fn definitions_are_judged_and_a_tactic_name_is_no_term() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let oracle = oracle_file(
        &dir,
        "[[theorem]]\nstatement = \"(x : ℕ) : x + 0 = x\"\naccept = [\"omega\"]\n",
    );
    let mut sim = Sim::start(&["--oracle", &oracle], json!({}));
    sim.open(
        URI,
        "def d : ℕ := 41\ntheorem term (x : ℕ) : x + 0 = x := omega\ntheorem tactic (x : ℕ) : x + 0 = x := by omega\n",
    );
    let messages: Vec<String> = sim
        .diagnostics(URI, 1)
        .iter()
        .filter_map(|d| d["message"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("type mismatch"),
        "a def's value is judged too: {messages:?}"
    );
    assert_eq!(messages[1], "Unknown identifier `omega`");
}

#[test]
fn print_axioms_is_on_the_print_token_with_the_full_name() {
    let mut sim = Sim::start(&[], json!({}));
    sim.open(
        URI,
        "namespace N\ntheorem t : 1 = 1 := by\n  sorry\nend N\n#print axioms N.t\n",
    );
    let messages = sim.diagnostics(URI, 1);
    let printed = messages
        .iter()
        .find(|d| d["severity"] == json!(3))
        .expect("the axioms are printed");
    assert_eq!(
        printed["message"],
        json!("'N.t' depends on axioms: [sorryAx]")
    );
    assert_eq!(
        printed["range"],
        json!({"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 6}})
    );
}

#[test]
fn document_symbols_are_hierarchical_and_show_an_escaping_candidate() {
    let mut sim = Sim::start(&[], json!({}));
    // The spliced candidate pushed its first tactic right and wrote `open Foo` at the hole's
    // column: the proof ends there, and `open Foo` and `theorem evil` are commands of their own.
    let text = "namespace N\n/-- doc -/\ntheorem t : True := by\n    trivial\n  open Foo\n  theorem evil : True := trivial -- note\nend N\n";
    sim.open(URI, text);
    let id = sim.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": URI}}),
    );
    let answer = sim.response(&id);
    let symbols = &answer["result"];
    assert_eq!(symbols.as_array().map(Vec::len), Some(1), "{symbols}");
    assert_eq!(symbols[0]["name"], json!("N"));
    assert_eq!(symbols[0]["kind"], json!(3));
    let children = &symbols[0]["children"];
    assert_eq!(children[0]["name"], json!("t"));
    assert_eq!(children[0]["kind"], json!(6));
    assert_eq!(
        children[0]["range"],
        json!({"start": {"line": 1, "character": 0}, "end": {"line": 3, "character": 11}}),
        "the doc comment belongs to the declaration; the proof ends at `trivial`"
    );
    assert_eq!(
        children[0]["selectionRange"],
        json!({"start": {"line": 2, "character": 8}, "end": {"line": 2, "character": 9}})
    );
    assert_eq!(children[1]["name"], json!("evil"), "{children}");
    assert_eq!(
        children[1]["range"]["end"],
        json!({"line": 5, "character": 32}),
        "no trailing comment"
    );
}

#[test]
fn document_symbols_name_examples_and_instances_and_skip_mutual_blocks_and_lemmas_as_lean_does() {
    let mut sim = Sim::start(&["--accept-all"], json!({}));
    // Mathlib's `lemma` is not `declaration` syntax: Lean lists no symbol for it (lean4#10190).
    let text = "namespace A.B\nexample : True := trivial\ninstance : Inhabited Nat := ⟨0⟩\nmutual\ndef f : Nat := 0\nend\nlemma l : True := trivial\nend A.B\nsection\ntheorem t : True := trivial\n";
    sim.open(URI, text);
    let id = sim.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": URI}}),
    );
    let symbols = sim.response(&id)["result"].clone();
    assert_eq!(symbols[0]["name"], json!("A.B"));
    assert_eq!(
        symbols[0]["range"]["end"],
        json!({"line": 7, "character": 7}),
        "the namespace runs to its `end`, not to the mutual block's"
    );
    let names: Vec<&str> = symbols[0]["children"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["example", "instance : Inhabited Nat"]);
    assert_eq!(symbols[1]["name"], json!("<section>"));
    assert_eq!(
        symbols[1]["range"]["end"],
        json!({"line": 10, "character": 0}),
        "an unclosed section runs to the end of the file"
    );
    assert_eq!(symbols[1]["children"][0]["name"], json!("t"));
}

#[test]
fn requests_belong_to_their_version_and_empty_changes_are_ignored() {
    let mut sim = Sim::start(&["--decl-ms", "300", "--report-delay-ms", "0"], json!({}));
    sim.open(URI, "theorem a : 1 = 1 := by\n  sorry\n");
    let hover = sim.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": URI}, "position": {"line": 0, "character": 8}}),
    );
    sim.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 2},
               "contentChanges": [{"text": "theorem b : 1 = 1 := by\n  sorry\n"}]}),
    );
    let answer = sim.response(&hover);
    assert_eq!(answer["error"]["code"], json!(-32801), "{answer}");

    // An empty change changes nothing, not even the version.
    sim.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 3}, "contentChanges": []}),
    );
    assert_eq!(sim.diagnostics(URI, 2).len(), 1);
    let version_three = sim.request(
        "textDocument/waitForDiagnostics",
        json!({"uri": URI, "version": 3}),
    );
    assert!(
        sim.try_wait_for(Duration::from_millis(800), |m| m.get("id")
            == Some(&version_three))
            .is_none(),
        "version 3 never existed"
    );
}

#[test]
fn interactive_diagnostics_are_an_array_and_colors_and_definitions_are_answered() {
    let mut sim = Sim::start(&["--report-delay-ms", "0", "--accept-all"], json!({}));
    let text = "theorem a : 1 = 1 := by\n  sorry\ntheorem b : 1 = 1 := a\n";
    sim.open(URI, text);
    sim.diagnostics(URI, 1);
    let connect = sim.request("$/lean/rpc/connect", json!({"uri": URI}));
    let session = sim.response(&connect)["result"]["sessionId"].clone();
    let call = sim.request(
        "$/lean/rpc/call",
        json!({"textDocument": {"uri": URI}, "position": {"line": 0, "character": 0},
               "sessionId": session, "method": "Lean.Widget.getInteractiveDiagnostics",
               "params": {"lineRange": {"start": 0, "end": 3}}}),
    );
    let diagnostics = sim.response(&call)["result"].clone();
    assert_eq!(
        diagnostics.as_array().map(Vec::len),
        Some(1),
        "{diagnostics}"
    );
    assert_eq!(
        diagnostics[0]["message"]["text"],
        json!("declaration uses `sorry`")
    );
    let colors = sim.request(
        "textDocument/documentColor",
        json!({"textDocument": {"uri": URI}}),
    );
    assert_eq!(sim.response(&colors)["result"], json!([]));
    let definition = sim.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": URI}, "position": {"line": 2, "character": 21}}),
    );
    let links = sim.response(&definition)["result"].clone();
    assert_eq!(
        links[0]["targetSelectionRange"],
        json!({"start": {"line": 0, "character": 8}, "end": {"line": 0, "character": 9}})
    );
}

#[test]
fn lean_sim_does_not_read_lean_through_the_products_syntax_crate() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("the manifest is readable");
    assert!(
        !manifest.contains("lean-syntax"),
        "lean-sim must keep its own reading of Lean's syntax"
    );
}
