//! The verification scenarios of `verify_lean.rs` against a real Lean toolchain: a small Lake
//! project with no Mathlib (core tactics only) written to a temporary folder, served by
//! `lake serve` behind the proxy. The tests are `#[ignore]`d, so a plain `cargo test` counts
//! them as ignored rather than passed; with `lake` on `PATH`, run them with
//! `cargo test -p sorryfill --test it real_lean -- --ignored`.
//!
//! Not covered here: a crash of the shadow worker (real Lean cannot be crashed on demand
//! portably), the elaboration counters (real Lean has no `$/leanSim/stats`), and an import much
//! slower than the check limit (a core-only project imports in about a second, which
//! `real_lean_import_time_is_not_counted_against_the_check` uses; lean-sim's `--import-ms`
//! covers long imports in `verify_lean.rs` and `prove.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sorryfill::documents::file_uri;
use sorryfill::pipeline::{Checker, PipelineVerdict, RejectKind};

use super::support::fresh_dir;
use super::verify_lean::{Session, assert_verifies_and_refuses, check, rejected_with, settings};

/// The source file: an import of the project's own module, a user axiom, and a tactic hole.
const SOURCE: &str = "import Demo.Helpers

axiom magic : False

theorem target (a b : Nat) (h : a ≤ b) : a ≤ b + 1 := by
  sorry
";

/// `lake` from `PATH`. These tests run only when asked for (`--ignored`), so a missing
/// `lake` is a failure that says what to install, not a silent pass.
fn real_lake() -> Option<PathBuf> {
    let lake = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(format!("lake{}", std::env::consts::EXE_SUFFIX)))
            .find(|candidate| candidate.is_file())
    });
    assert!(
        lake.is_some(),
        "the real-Lean tests need `lake` on PATH (install elan: https://github.com/leanprover/elan)"
    );
    lake
}

/// Writes the Lake project, builds its helper module, and starts `lake serve` on it.
async fn start(lake: &Path, source: &str) -> (Session, tempfile::TempDir) {
    let dir = fresh_dir();
    let root = dir
        .path()
        .canonicalize()
        .expect("the temporary folder exists");
    std::fs::create_dir_all(root.join("Demo")).expect("writable");
    std::fs::write(
        root.join("lakefile.toml"),
        "name = \"demo\"\ndefaultTargets = [\"Demo\"]\n\n[[lean_lib]]\nname = \"Demo\"\n",
    )
    .expect("writable");
    std::fs::write(root.join("Demo.lean"), "import Demo.Helpers\n").expect("writable");
    std::fs::write(
        root.join("Demo/Helpers.lean"),
        "theorem helper (a : Nat) : a ≤ a + 1 := Nat.le_succ a\n",
    )
    .expect("writable");
    std::fs::write(root.join("Demo/Basic.lean"), source).expect("writable");
    let built = std::process::Command::new(lake)
        .args(["build", "Demo.Helpers"])
        .current_dir(&root)
        .status()
        .expect("lake runs");
    assert!(built.success(), "lake could not build the test project");
    let mut server = tokio::process::Command::new(lake);
    server.arg("serve").current_dir(&root);
    let root_uri = file_uri(&root);
    let source_uri = format!("{root_uri}/Demo/Basic.lean");
    let mut session = Session::start_with(server, &root_uri, &source_uri).await;
    session.open(source).await;
    (session, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Lean toolchain: run with `-- --ignored` and lake on PATH"]
async fn real_lean_verifies_a_proof_and_rejects_errors_sorry_axioms_and_banned_constructs() {
    let Some(lake) = real_lake() else { return };
    let (session, _dir) = start(&lake, SOURCE).await;
    let checker = session.checker(settings(1, Duration::from_secs(60)));
    let target = session.target(0);

    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    let verdict = check(&checker, &target, "exact h").await;
    assert!(rejected_with(&verdict, RejectKind::Lean, ""), "{verdict:?}");
    let verdict = check(&checker, &target, "exact magic.elim").await;
    assert!(
        rejected_with(&verdict, RejectKind::Gate, "axiom `magic`"),
        "{verdict:?}"
    );
    let verdict = check(&checker, &target, "native_decide").await;
    assert!(
        rejected_with(&verdict, RejectKind::Gate, "`native_decide`"),
        "{verdict:?}"
    );
    // After all the rejections, the shadow document still checks.
    assert_eq!(
        check(&checker, &target, "exact Nat.le_succ_of_le h").await,
        PipelineVerdict::verified()
    );
    let goal = checker
        .goal_at(&target)
        .await
        .expect("Lean reports the goal");
    assert_eq!(goal.target, "a ≤ b + 1");
    let frames = session.finish().await;
    assert!(
        frames
            .iter()
            .all(|f| !f.contains(".lake/sorryfill") && !f.contains("sorryfill:")),
        "a private frame reached the editor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Lean toolchain: run with `-- --ignored` and lake on PATH"]
async fn real_lean_verifies_a_hole_beside_another_as_a_focused_block_and_never_with_sorry() {
    let Some(lake) = real_lake() else { return };
    let source = "theorem pair (p q : Prop) (hp : p) (hq : q) : p ∧ q := ⟨sorry, sorry⟩\n";
    let (session, _dir) = start(&lake, source).await;
    let checker = session.checker(settings(1, Duration::from_secs(60)));
    let target = session.target(0);
    assert_eq!(
        check(&checker, &target, "exact hp").await,
        PipelineVerdict::verified()
    );
    let verdict = check(&checker, &target, "exact hq").await;
    assert!(rejected_with(&verdict, RejectKind::Lean, ""), "{verdict:?}");
    session.finish().await;
}

/// Real Lean gives a declaration under `open … in` no document symbol; the shadow writes
/// Lean's own expansion (`section open … end`) so the judgement has one. `succ_le_succ`
/// resolves only through the `open`, and the option is the user's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Lean toolchain: run with `-- --ignored` and lake on PATH"]
async fn real_lean_verifies_a_declaration_under_open_in_and_set_option_in() {
    let Some(lake) = real_lake() else { return };
    let source = "open Nat in\nset_option maxRecDepth 1000 in\ntheorem scoped_le (a b : Nat) (h : a ≤ b) : a + 1 ≤ b + 1 := by\n  sorry\n";
    let (session, _dir) = start(&lake, source).await;
    let checker = session.checker(settings(1, Duration::from_secs(60)));
    let target = session.target(0);
    assert_verifies_and_refuses(&checker, &target, "exact succ_le_succ h", ("exact h", "")).await;
    session.finish().await;
}

/// Mathlib's `lemma` (defined here as `Mathlib/Tactic/Lemma.lean` defines it, so no Mathlib
/// is needed) is its own syntax, which Lean's documentSymbol does not list (lean4#10190): the
/// shadow checks it as the `theorem` it expands to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Lean toolchain: run with `-- --ignored` and lake on PATH"]
async fn real_lean_verifies_a_hole_in_a_mathlib_style_lemma() {
    let Some(lake) = real_lake() else { return };
    let source = r#"import Lean
open Lean

syntax (name := lemma) (priority := default + 1) declModifiers
  group("lemma " declId ppIndent(declSig) declVal) : command

@[macro «lemma»] def expandLemma : Macro := fun stx =>
  let stx := stx.modifyArg 1 fun stx =>
    let stx := stx.modifyArg 0 (mkAtomFrom · "theorem" (canonical := true))
    stx.setKind ``Parser.Command.theorem
  pure <| stx.setKind ``Parser.Command.declaration

lemma le_succ_succ (a b : Nat) (h : a ≤ b) : a + 1 ≤ b + 1 := by
  sorry
"#;
    let (session, _dir) = start(&lake, source).await;
    let checker = session.checker(settings(1, Duration::from_secs(120)));
    let target = session.target(0);
    assert_verifies_and_refuses(&checker, &target, "omega", ("exact h", "")).await;
    session.finish().await;
}

/// Issue 11's cheats against real Lean: the same candidates as the binary suite (core only, so
/// `ℕ` is spelled `Nat`), none verified, while an honest proof of each hole is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Lean toolchain: run with `-- --ignored` and lake on PATH"]
async fn real_lean_rejects_every_cheat_of_the_adversarial_suite() {
    use super::adversarial::{BESIDE, BESIDE_ATTACKS, SINGLE, SINGLE_ATTACKS, TERM, TERM_ATTACKS};
    let Some(lake) = real_lake() else { return };
    let scenarios = [
        (SINGLE, SINGLE_ATTACKS, 1, "omega"),
        (BESIDE, BESIDE_ATTACKS, 0, "exact hp"),
        (TERM, TERM_ATTACKS, 0, "exact hp"),
    ];
    for (source, attacks, ordinal, honest) in scenarios {
        let source = source.replace('ℕ', "Nat");
        let (session, _dir) = start(&lake, &source).await;
        let checker = session.checker(settings(1, Duration::from_secs(60)));
        let target = session.target(ordinal);
        assert_eq!(
            check(&checker, &target, honest).await,
            PipelineVerdict::verified()
        );
        for attack in attacks {
            let proof = attack.proof.replace('ℕ', "Nat");
            let verdict = check(&checker, &target, &proof).await;
            assert!(
                !verdict.is_verified(),
                "{} cheat verified by real Lean: {proof:?}",
                attack.class
            );
        }
        session.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Lean toolchain: run with `-- --ignored` and lake on PATH"]
async fn real_lean_slow_check_times_out_and_the_next_one_works() {
    let Some(lake) = real_lake() else { return };
    let (session, _dir) = start(&lake, SOURCE).await;
    let checker = session.checker(settings(1, Duration::from_secs(10)));
    let target = session.target(0);
    // Warm the shadow document first, so the limit is spent on the candidate.
    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    let verdict = check(&checker, &target, "sleep 60000\nomega").await;
    assert!(
        rejected_with(&verdict, RejectKind::Timeout, "did not finish"),
        "{verdict:?}"
    );
    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Lean toolchain: run with `-- --ignored` and lake on PATH"]
async fn real_lean_edit_during_a_check_makes_it_stale() {
    let Some(lake) = real_lake() else { return };
    let (mut session, _dir) = start(&lake, SOURCE).await;
    let checker = session.checker(settings(1, Duration::from_secs(60)));
    let target = session.target(0);
    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    let running = tokio::spawn({
        let checker = checker.clone();
        let target = target.clone();
        async move { check(&checker, &target, "sleep 2000\nomega").await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    session.change(2, &SOURCE.replace("magic", "magic'")).await;
    let verdict = running.await.expect("no panic");
    assert!(
        rejected_with(&verdict, RejectKind::Stale, ""),
        "{verdict:?}"
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Lean toolchain: run with `-- --ignored` and lake on PATH"]
async fn real_lean_stale_imports_give_one_header_failure_and_build_nothing() {
    let Some(lake) = real_lake() else { return };
    let (session, dir) = start(&lake, SOURCE).await;
    let root = dir.path().canonicalize().expect("the folder exists");
    // The imported module changes on disk after it was built: its .olean is now stale. A
    // shadow opened with `dependencyBuildMode: never` must not rebuild it.
    let olean = root.join(".lake/build/lib/lean/Demo/Helpers.olean");
    let built_at = std::fs::metadata(&olean)
        .and_then(|m| m.modified())
        .expect("lake built the helper");
    std::fs::write(
        root.join("Demo/Helpers.lean"),
        "theorem helper (a : Nat) : a ≤ a + 1 := Nat.le_succ a\n\ntheorem helper2 : True := trivial\n",
    )
    .expect("writable");
    let checker = session.checker(settings(1, Duration::from_secs(60)));
    let target = session.target(0);
    let verdict = check(&checker, &target, "omega").await;
    assert!(
        rejected_with(&verdict, RejectKind::Unavailable, "cannot be checked now"),
        "{verdict:?}"
    );
    // One status, not a loop: the next candidate gets the same answer without a new shadow.
    assert_eq!(
        check(&checker, &target, "exact Nat.le_succ_of_le h").await,
        verdict
    );
    assert_eq!(checker.shadow().stats().opened, 1);
    let after = std::fs::metadata(&olean)
        .and_then(|m| m.modified())
        .expect("the helper is still built");
    assert_eq!(after, built_at, "a check rebuilt an import");
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Lean toolchain: run with `-- --ignored` and lake on PATH"]
async fn real_lean_module_file_hole_is_checked_with_its_axioms() {
    let Some(lake) = real_lake() else { return };
    let source = "module

axiom magic : False

theorem target (a b : Nat) (h : a ≤ b) : a ≤ b + 1 := by
  sorry
";
    let (session, _dir) = start(&lake, source).await;
    let checker = session.checker(settings(1, Duration::from_secs(60)));
    let target = session.target(0);
    let verdict = check(&checker, &target, "omega").await;
    if rejected_with(&verdict, RejectKind::Unavailable, "") {
        crate::support::skip_line(format_args!(
            "skipped: this Lean has no `module` header ({verdict:?})"
        ));
        session.finish().await;
        return;
    }
    // Verified whether this release prints axioms in a module or refuses to (then the
    // companion shadow without `module` reports them).
    assert_eq!(verdict, PipelineVerdict::verified());
    let verdict = check(&checker, &target, "exact magic.elim").await;
    assert!(
        rejected_with(&verdict, RejectKind::Gate, "axiom `magic`"),
        "{verdict:?}"
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Lean toolchain: run with `-- --ignored` and lake on PATH"]
async fn real_lean_import_time_is_not_counted_against_the_check() {
    let Some(lake) = real_lake() else { return };
    let (session, _dir) = start(&lake, SOURCE).await;
    // A new shadow starts a worker, runs `lake setup-file` and imports: on real Lean that
    // alone takes about a second, more than this check limit.
    let checker = session.checker(settings(1, Duration::from_millis(1000)));
    let target = session.target(0);
    let started = std::time::Instant::now();
    let verdict = check(&checker, &target, "omega").await;
    let took = started.elapsed();
    assert_eq!(verdict, PipelineVerdict::verified(), "after {took:?}");
    if took < Duration::from_millis(1000) {
        crate::support::skip_line(format_args!(
            "note: this Lean imported in {took:?}, within the check limit, so the test shows less"
        ));
    }
    session.finish().await;
}
