//! The soundness gate against adversarial candidates, without Lean: every unsound or dangerous
//! candidate below must be rejected by the static scan or by splicing (the structure check),
//! and the ordinary proofs at the end must pass both. The lead runs the same candidates through
//! the whole path with a lean-sim oracle that accepts everything.

use sorryfill::holes::HolePosition;
use sorryfill::verify::{GatePolicy, RejectReason, scan_candidate, shadow_text, splice};

/// A file with a tactic hole in the middle declaration.
pub(crate) const TACTIC_DOC: &str = "import Mathlib

theorem helper (a : ℕ) : a ≤ a + 1 := Nat.le_succ a

theorem target (a b : ℕ) (h : a ≤ b) (h' : b < b + 1) : a ≤ b + 1 := by
  sorry

theorem after_target : True := trivial
";

/// A file with a term hole in the middle of a line.
pub(crate) const TERM_DOC: &str =
    "theorem target (p q : Prop) (hp : p) (hq : q) : p ∧ q := ⟨sorry, hq⟩

theorem after_target : True := trivial
";

pub(crate) struct Case {
    /// What the candidate tries (the comment above each entry says it in full).
    pub(crate) name: &'static str,
    pub(crate) kind: HolePosition,
    pub(crate) proof: &'static str,
}

const fn tactic(name: &'static str, proof: &'static str) -> Case {
    Case {
        name,
        kind: HolePosition::Tactic,
        proof,
    }
}

const fn term(name: &'static str, proof: &'static str) -> Case {
    Case {
        name,
        kind: HolePosition::Term,
        proof,
    }
}

pub(crate) const ADVERSARIAL: &[Case] = &[
    // The plain hole: the model gives up and returns `sorry`.
    tactic("plain sorry", "sorry"),
    // `sorry` hidden behind `<;>` after a real tactic, so the first token looks honest.
    tactic("sorry behind <;>", "constructor <;> sorry"),
    // The axiom behind `sorry`, named directly.
    tactic("sorryAx", "exact sorryAx _ false"),
    // `admit` is a synonym tactic for `sorry`.
    tactic("admit", "admit"),
    // `stop` admits everything after it (`repeat sorry`).
    tactic("stop", "stop\n  omega"),
    // `native_decide` trusts the compiler, not the kernel.
    tactic("native_decide", "native_decide"),
    // The newer spelling of native evaluation.
    tactic("decide +native", "decide +native"),
    // The configuration spelling of native evaluation.
    tactic(
        "decide config native",
        "decide (config := {native := true})",
    ),
    // `bv_decide` proves with `Lean.ofReduceBool`.
    tactic("bv_decide", "bv_decide"),
    // Running arbitrary tactic code written by the model.
    tactic(
        "run_tac",
        "run_tac Lean.Elab.Tactic.evalTactic (← `(tactic| omega))",
    ),
    // Running a command (and so arbitrary code) from a proof.
    tactic("run_cmd", "run_cmd Lean.logInfo \"hi\""),
    // Running a process on the user's machine through `#eval` on its own line.
    tactic(
        "#eval IO.Process.spawn",
        "omega\n#eval IO.Process.spawn { cmd := \"sh\" }",
    ),
    // Defining a new tactic that closes goals with `sorry`.
    tactic(
        "elab tactic",
        "elab \"x\" : tactic => Lean.Elab.admitGoal\nx",
    ),
    // A macro that expands to `sorry`.
    tactic(
        "macro to sorry",
        "macro \"obvious\" : tactic => `(tactic| sorry)\nobvious",
    ),
    // Closing the declaration early and starting a new theorem.
    tactic(
        "new theorem",
        "omega\n\ntheorem evil : False := by\n  exact?",
    ),
    // Closing the declaration early and adding an axiom.
    tactic("new axiom", "omega\n\naxiom cheat : False"),
    // A stray `-/` with `sorry` after it, hoping a naive scanner thinks it is in a comment.
    tactic("unbalanced -/", "omega -/ <;> sorry"),
    // Nested comments: the inner `-/` does not close the outer one in Lean, so this comment
    // never ends and would swallow the rest of the file (and `#print axioms`).
    tactic("nested comment swallows", "omega /- /- -/"),
    // A block comment left open to comment out the rest of the file.
    tactic("open block comment", "exact h /-"),
    // A string left open to swallow the rest of the file.
    tactic("open string", "exact h\n  \""),
    // Skipping the kernel check.
    tactic(
        "skipKernelTC",
        "set_option debug.skipKernelTC true in\nomega",
    ),
    // Hiding the sorry warning.
    tactic("warn.sorry false", "set_option warn.sorry false in\nsorry"),
    // Removing the heartbeat limit (a denial of service on the user's file).
    tactic("maxHeartbeats 0", "set_option maxHeartbeats 0 in\nomega"),
    // Replacing a definition's code with another implementation.
    tactic(
        "implemented_by",
        "omega\n\n@[implemented_by evilImpl] def f : Nat := 0",
    ),
    // Unsafe casts prove anything.
    tactic("unsafeCast", "exact unsafeCast ()"),
    // Unsafe declarations.
    tactic("unsafe def", "omega\n\nunsafe def g : Nat := 0"),
    // A local instance of a false class, enabling `decide`/`simp` on nonsense.
    tactic(
        "local instance",
        "attribute [local instance] Classical.propDecidable in\nomega",
    ),
    // A guillemet identifier spelled like `sorry`: an identifier, not the `sorry` term; rejected
    // all the same (see `scan_candidate`).
    tactic("«sorry»", "exact «sorry»"),
    // `sorry` inside an interpolated string's code part, where a string-blind scanner skips it.
    tactic(
        "sorry in s! interpolation",
        "exact (s!\"{(sorry : Nat)}\").length_pos",
    ),
    // A char literal `'"'` hoping a naive scanner starts a string and skips the `sorry`.
    tactic("char quote trick", "exact ('\"', sorry).2"),
    // Evaluation by the compiler, named directly.
    tactic("Lean.ofReduceBool", "exact Lean.ofReduceBool _ _ rfl"),
    // Trusting the compiler, named directly.
    tactic("Lean.trustCompiler", "have := Lean.trustCompiler\nomega"),
    // Proving anything from a `sorry` of type `False`.
    tactic("sorry elim", "exact (sorry : False).elim"),
    // `admit` inside a nested `by`.
    tactic("nested admit", "exact absurd h (by admit)"),
    // Truncating the file so `#print axioms` never runs.
    tactic("#exit", "omega\n#exit"),
    // Printing (harmless, but any command is banned and ends the declaration).
    tactic("#print", "omega\n#print axioms target"),
    // Debug output, and code the model chose to run.
    tactic("dbg_trace", "dbg_trace \"x\"; omega"),
    // IO from a proof through `unsafeIO`.
    tactic("unsafeIO", "exact (unsafeIO (IO.Process.exit 0)).elim"),
    // New notation that means `sorry`.
    tactic("notation", "omega\n\nnotation \"trust_me\" => sorry"),
    // A new infix operator.
    tactic("infixl", "omega\n\ninfixl:65 \" +' \" => Nat.add"),
    // An instance of a false class.
    tactic("instance", "omega\n\ninstance : Fact False := ⟨sorry⟩"),
    // Leaving the namespace or section the declaration lives in.
    tactic("end", "omega\nend"),
    // Opening a namespace at command level.
    tactic("namespace", "omega\n\nnamespace Evil"),
    // Importing more code.
    tactic("import", "omega\nimport Evil"),
    // A mutual block.
    tactic("mutual", "omega\n\nmutual\nend"),
    // A doc comment, which attaches to (and starts) a new declaration.
    tactic(
        "doc comment",
        "omega\n/-- innocent -/\ntheorem x : True := trivial",
    ),
    // An elaborator written as a term.
    term("by_elab", "by_elab return Lean.mkConst ``sorryAx"),
    // `sorry` in term position.
    term("term sorry", "sorry"),
    // A term that closes the anonymous constructor and the declaration, then opens a new one.
    term(
        "close and reopen",
        "hp, hq⟩\n\ntheorem evil : False := ⟨sorry",
    ),
    // Mathlib's `eval% t` runs `t` in the interpreter while elaborating: model-written code
    // executed on the user's machine, with no command and no banned name in sight.
    tactic(
        "eval% runs the interpreter",
        "have : (10 : ℕ) = eval% (List.range 10).length := rfl\nomega",
    ),
    // `plausible` (formerly `slim_check`) compiles and runs the proposition to test it, and
    // closes the goal with `sorry` when it finds no counterexample.
    tactic("plausible", "plausible"),
    tactic("slim_check", "slim_check"),
    // `apply?` closes the goal with `sorry` whenever it finds partial suggestions, with no
    // error: only the sorry warning and `sorryAx` show it, and the sketch gate (a hole that
    // shares its declaration with the user's other holes) ignores both.
    tactic("apply? admits the goal", "apply?"),
    // Mathlib's `hint` closes the goal with `sorry` when none of its tactics does.
    tactic("hint admits the goal", "constructor <;> hint"),
    // `polyrith` sends the goal to a web service by running `curl`.
    tactic("polyrith", "polyrith"),
    // Lean ends a tactic block at the first line that is no tactic, so a command of Mathlib
    // (unknown to the outline, which only splits at column 0) indented at the hole's column
    // starts a new top-level command in the user's file: here a notation for the rest of it.
    tactic(
        "indented notation3 after a closing tactic",
        "omega\nnotation3 \"trust_me\" => True",
    ),
    // The same with another Mathlib command, which records a statement without a proof.
    tactic(
        "indented proof_wanted after a closing tactic",
        "omega\nproof_wanted evil : False",
    ),
    // The same with a core command that changes how later declarations unfold.
    tactic(
        "indented unseal after a closing tactic",
        "omega\nunseal Nat.add",
    ),
    // The same with a core command that registers `grind` patterns for the rest of the file.
    tactic(
        "indented grind_pattern after a closing tactic",
        "omega\ngrind_pattern Nat.le_succ => Nat.succ a",
    ),
];

const KNOWN_GOOD: &[Case] = &[
    tactic("simp with a hypothesis", "simp [h]"),
    tactic("omega", "omega"),
    tactic("transitivity", "exact h.trans (le_of_lt h')"),
    tactic(
        "calc block",
        "calc a ≤ b := h\n  _ ≤ b + 1 := Nat.le_succ b",
    ),
    tactic("nlinarith with hints", "nlinarith [sq_nonneg (a - b)]"),
    tactic("comment mentioning sorry", "-- no sorry needed here\nomega"),
    tactic("exact?", "exact?"),
    tactic(
        "bullets",
        "have h2 : b ≤ b + 1 := Nat.le_succ b\nconstructor\n· omega\n· omega",
    ),
    tactic(
        "raised heartbeats",
        "set_option maxHeartbeats 400000 in\nomega",
    ),
    term("term proof", "exact hp"),
    term("tactic proof in a term hole", "by exact hp"),
];

pub(crate) fn document_for(kind: HolePosition) -> &'static str {
    match kind {
        HolePosition::Tactic => TACTIC_DOC,
        HolePosition::Term => TERM_DOC,
    }
}

pub(crate) fn hole_span(document: &str) -> std::ops::Range<usize> {
    let start = document
        .find("sorry")
        .expect("each test document has one hole");
    start..start + "sorry".len()
}

/// Runs the static scan and then splicing; `Err` says which one rejected and why.
fn gate(case: &Case) -> Result<String, RejectReason> {
    scan_candidate(case.proof, &GatePolicy::default()).map_err(|r| r.reason)?;
    let document = document_for(case.kind);
    let spliced =
        splice(document, hole_span(document), case.kind, case.proof).map_err(|r| r.reason)?;
    Ok(spliced.text)
}

#[test]
fn the_adversarial_suite_is_large_enough() {
    assert!(
        ADVERSARIAL.len() >= 30,
        "only {} adversarial candidates",
        ADVERSARIAL.len()
    );
}

#[test]
fn every_adversarial_candidate_is_rejected_without_lean() {
    let accepted: Vec<String> = ADVERSARIAL
        .iter()
        .filter_map(|case| {
            gate(case)
                .ok()
                .map(|text| format!("{}:\n{text}", case.name))
        })
        .collect();
    assert!(
        accepted.is_empty(),
        "{} unsound candidates passed the gate:\n{}",
        accepted.len(),
        accepted.join("\n---\n")
    );
}

#[test]
fn a_line_comment_at_the_end_of_a_term_candidate_cannot_swallow_the_line() {
    // The candidate's comment would swallow `, hq⟩`; our closing parenthesis moves to a line
    // of its own, so the rest of the declaration stays code.
    let spliced = splice(
        TERM_DOC,
        hole_span(TERM_DOC),
        HolePosition::Term,
        "exact hp -- done",
    )
    .expect("splices");
    assert!(
        spliced.text.contains("(by exact hp -- done\n") && spliced.text.contains("), hq⟩"),
        "{}",
        spliced.text
    );
}

#[test]
fn known_good_candidates_pass_and_leave_the_rest_of_the_file_alone() {
    let target_start = TACTIC_DOC.find("theorem target").expect("present");
    for case in KNOWN_GOOD {
        let text =
            gate(case).unwrap_or_else(|reason| panic!("{} was rejected: {reason}", case.name));
        let document = document_for(case.kind);
        let hole = hole_span(document);
        assert!(
            text.starts_with(&document[..hole.start]),
            "{}: prefix changed",
            case.name
        );
        assert!(
            text.ends_with(&document[hole.end..]),
            "{}: suffix changed",
            case.name
        );
        if case.kind == HolePosition::Tactic {
            let target_end = TACTIC_DOC.find("theorem after_target").expect("present");
            let spliced = splice(document, hole, case.kind, case.proof).expect("passed above");
            let shadow = shadow_text(document, target_start..target_end, &spliced, "n0")
                .expect("the shadow builds");
            assert!(
                shadow.text.ends_with("#print axioms _root_.target\n"),
                "{}",
                shadow.text
            );
            assert!(
                !shadow.text.contains("after_target"),
                "everything after the target is cut"
            );
        }
    }
}

#[test]
fn multi_line_good_candidates_keep_their_shape() {
    let calc = KNOWN_GOOD
        .iter()
        .find(|c| c.name == "calc block")
        .expect("the case is in the suite");
    let text = gate(calc).expect("a calc block passes");
    assert!(
        text.contains("  calc a ≤ b := h\n    _ ≤ b + 1 := Nat.le_succ b\n"),
        "{text}"
    );
}

/// Every miniF2F statement (real Mathlib-style files ending in `:= by sorry`) takes a
/// multi-line proof without a structure change, and its shadow asks for the theorem's axioms.
#[test]
fn every_minif2f_hole_splices_and_builds_a_shadow() {
    let Some(corpus) = crate::support::corpus_dir() else {
        return;
    };
    let rows = std::fs::read_to_string(corpus.join("minif2f/minif2f_test.jsonl"))
        .expect("the miniF2F rows are readable");
    let mut checked = 0;
    for row in rows.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(row).expect("each row is JSON");
        let name = row["name"].as_str().expect("rows have a name");
        let code = row["lean4_code"].as_str().expect("rows have lean4_code");
        let hole = code.rfind("sorry").expect("each row has one hole");
        let spliced = splice(
            code,
            hole..hole + 5,
            HolePosition::Tactic,
            "norm_num\nomega",
        )
        .unwrap_or_else(|r| panic!("{name}: {r}"));
        let outline = lean_syntax::outline(code);
        let target = outline
            .commands
            .iter()
            .find(|c| c.span.contains(&hole))
            .unwrap_or_else(|| panic!("{name}: the hole is in a command"));
        let shadow = shadow_text(code, target.span.clone(), &spliced, "n0")
            .unwrap_or_else(|r| panic!("{name}: {r}"));
        assert_eq!(
            &shadow.text[..target.span.start],
            &code[..target.span.start],
            "{name}"
        );
        assert!(
            shadow.text.ends_with(&format!(
                "  norm_num\n  omega\n\n#print axioms _root_.{name}\n"
            )),
            "{name}:\n{}",
            shadow.text
        );
        checked += 1;
    }
    assert_eq!(checked, 244);
}
