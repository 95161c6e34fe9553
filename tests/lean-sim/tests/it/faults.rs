//! Each injected fault behaves as documented in README.md.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Sim;

const DOC: &str = "import Mathlib\n\ntheorem a (x : ℕ) : x = x := by\n  sorry -- CRASH\n";

#[test]
fn a_crashing_worker_fails_pending_requests_and_restarts_on_change() {
    let mut sim = Sim::start(
        &["--crash-marker", "CRASH", "--import-ms", "300"],
        json!({}),
    );
    sim.open("file:///crash.lean", DOC);
    let pending = sim.request("$/lean/plainGoal", json!({"textDocument": {"uri": "file:///crash.lean"}, "position": {"line": 3, "character": 2}}));
    let answer = sim.response(&pending);
    assert_eq!(answer["error"]["code"], json!(-32902));
    assert_eq!(
        answer["error"]["message"],
        json!(
            "Server process for file:///crash.lean crashed, likely due to a stack overflow or a bug."
        )
    );
    let fatal = sim.seen.iter().find(|m| {
        m["method"] == json!("$/lean/fileProgress")
            && m["params"]["processing"][0]["kind"] == json!(2)
    });
    assert!(
        fatal.is_some(),
        "the crash is reported as fileProgress kind 2"
    );

    sim.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": "file:///crash.lean", "version": 2},
        "contentChanges": [{"text": DOC.replace(" -- CRASH", "")}]}),
    );
    assert_eq!(sim.diagnostics("file:///crash.lean", 2).len(), 1);
    assert_eq!(
        sim.stats()["headerLoads"],
        json!(2),
        "the restarted worker loads the header again"
    );
}

#[test]
fn a_hung_worker_answers_only_after_the_next_edit() {
    let mut sim = Sim::start(&["--hang-marker", "HANG"], json!({}));
    sim.open("file:///hang.lean", &DOC.replace("CRASH", "HANG"));
    let wait = sim.request(
        "textDocument/waitForDiagnostics",
        json!({"uri": "file:///hang.lean", "version": 1}),
    );
    let early = sim.try_wait_for(Duration::from_millis(400), |m| m.get("id") == Some(&wait));
    assert!(early.is_none(), "a hung version never finishes");
    sim.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": "file:///hang.lean", "version": 2},
        "contentChanges": [{"text": DOC.replace(" -- CRASH", "")}]}),
    );
    assert_eq!(sim.response(&wait)["result"], json!({}));
}

#[test]
fn the_server_crashes_after_n_messages() {
    let mut sim = Sim::start(&["--crash-after", "3"], json!({}));
    sim.open("file:///a.lean", "theorem t : True := by\n  sorry\n");
    let id = sim.request("$/leanSim/stats", json!({}));
    let answer = sim.try_wait_for(Duration::from_secs(2), |m| m.get("id") == Some(&id));
    assert!(answer.is_none());
    let (code, stderr) = sim.finish();
    assert_eq!(code, Some(1));
    assert!(stderr.contains("simulated server crash"));
}

#[test]
fn noise_slowness_and_a_malformed_frame() {
    let started = Instant::now();
    let mut sim = Sim::start(
        &[
            "--stderr-noise",
            "--slow-ms",
            "100",
            "--malformed-frame-after",
            "1",
        ],
        json!({}),
    );
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "two slowed messages take at least 200 ms"
    );
    let malformed = sim.seen.len();
    assert_eq!(
        malformed, 2,
        "the malformed frame is not JSON, the two around it are"
    );
    let id = sim.request("$/leanSim/stats", json!({}));
    assert!(sim.response(&id)["result"].is_object());
    sim.notify("exit", Value::Null);
    let (code, stderr) = sim.finish();
    assert_eq!(code, Some(0));
    assert!(stderr.contains("noise"));
}
