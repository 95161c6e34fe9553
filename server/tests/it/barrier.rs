//! Real Lean's report order: a version that finished inside `reportDelayMs` says done
//! (`processing: []`) BEFORE its only publish. lean-sim reports that way by default, so these
//! tests show that a client reading the diagnostics at the done notification sees nothing,
//! while the product reads the final set at Lean's `waitForDiagnostics` answer.

use serde_json::json;
use sorryfill::lean::PrivateEvent;
use sorryfill::pipeline::{PipelineVerdict, RejectKind};

use super::verify_lean::{SOURCE, Session, WAIT, check, rejected_with, settings};

const PREFIX: &str = "file:///work/project/.lake/barrier-test/";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_done_nothing_is_published_yet_and_the_barrier_holds_the_final_set() {
    let session = Session::start(&[]).await;
    let lean = session.lean().clone();
    let mut events = lean.register_private(PREFIX).expect("the router runs");
    let uri = format!("{PREFIX}Quick.lean");
    lean.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "lean4", "version": 1,
               "text": "theorem quick : True := by\n  sorry\n"}, "dependencyBuildMode": "never"}),
    )
    .expect("the router runs");
    tokio::time::timeout(WAIT, lean.wait_for_diagnostics(&uri, 1))
        .await
        .expect("Lean answers in time")
        .expect("Lean answers");
    let mut at_done = None;
    let mut last_publish = Vec::new();
    while let Ok(event) = events.try_recv() {
        match event {
            PrivateEvent::Elaborated { diagnostics, .. } => at_done = Some(diagnostics),
            PrivateEvent::Diagnostics { diagnostics, .. } => last_publish = diagnostics,
            PrivateEvent::Progress { .. } => {}
        }
    }
    assert_eq!(
        at_done.map(|d| d.len()),
        Some(0),
        "a client reading at `processing: []` sees no diagnostics"
    );
    let messages: Vec<&str> = last_publish.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        ["declaration uses `sorry`"],
        "the final set arrived before the barrier's answer"
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_reads_the_final_set_so_a_wrong_proof_is_rejected() {
    // Were the checker to read at the done notification, it would see an empty set for every
    // candidate and verify the wrong one.
    let mut session = Session::start(&[]).await;
    session.open(SOURCE).await;
    let checker = session.checker(settings(1, WAIT));
    let target = session.target(0);
    let wrong = check(&checker, &target, "simp").await;
    assert!(
        rejected_with(&wrong, RejectKind::Lean, "unsolved goals"),
        "{wrong:?}"
    );
    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    session.finish().await;
}
