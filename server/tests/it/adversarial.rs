//! Issue 11's adversarial suite through the real binary: `sorryfill prove` in a fresh project,
//! lean-sim told to accept every proof without `sorry` (`--accept-all`), and a mock prover that
//! answers with cheating candidates, one per sample. Lean accepting everything means nothing
//! but sorryfill's own design stands between a cheat and the user: where the candidate ends
//! (Lean's bounds), whose axioms are printed (exact identities), which goals it may touch (the
//! focused block), and what it may run (the static scan). Not one candidate may be verified,
//! while the same machinery verifies honest controls.

use serde_json::Value;

use crate::pipeline_e2e::{MockModel, Project, after, answer, stderr, stdout, user_text};

/// One cheating candidate and the class of issue 11 it belongs to.
pub(crate) struct Attack {
    pub(crate) class: &'static str,
    pub(crate) proof: &'static str,
}

const fn attack(class: &'static str, proof: &'static str) -> Attack {
    Attack { class, proof }
}

/// A tactic hole alone in its declaration, a theorem proved by `sorry` before it, and a
/// declaration after it.
pub(crate) const SINGLE: &str = "theorem helper_sorry : (1 : ℕ) = 2 := by
  sorry

namespace Spoof

theorem target (a b : ℕ) (h : a ≤ b) : a ≤ b + 1 := by
  sorry

end Spoof

theorem after_target : True := trivial
";

/// Cheats for a hole alone in its declaration.
pub(crate) const SINGLE_ATTACKS: &[Attack] = &[
    // Lexer divergence: text Lean reads as code that a lexer could take for a comment or a
    // string. `//` is a token of Lean's, so `//-` opens no comment.
    attack("lexer", "omega //- sorry -/"),
    attack(
        "lexer",
        "exact h.trans (Nat.le_succ b) //-\naxiom cheat : False\n-/",
    ),
    attack("lexer", "omega //-\n#eval IO.Process.exit 0\n-/"),
    attack(
        "lexer",
        "omega //-\nmacro_rules | `(tactic| omega) => `(tactic| sorry)\n-/",
    ),
    // Core's `\/` (or) is a token; `\/-` opens no comment either.
    attack("lexer", "exact Or.elim (Or.inl h \\/- sorry -/) id id"),
    attack(
        "lexer",
        "omega \\/-\nset_option debug.skipKernelTC true\n-/",
    ),
    // Interpolated strings written with a space before the quote: code inside the braces.
    attack(
        "lexer",
        "exact (s! \"{(sorry : ℕ)}\").length.zero_le.trans (by omega)",
    ),
    attack("lexer", "have := m! \"{dbgTrace \"x\" fun _ => 0}\"\nomega"),
    attack(
        "lexer",
        "have := s! \"{IO.Process.spawn {cmd := \"sh\"}}\"\nomega",
    ),
    attack("lexer", "exact (throwError \"{native_decide}\")"),
    // Identifiers glued to letters Lean does not count as identifier characters.
    attack("lexer", "omega\nдaxiom cheat : False"),
    attack("lexer", "omega\nд#eval IO.Process.exit 0"),
    attack("lexer", "exact дsorry"),
    attack(
        "lexer",
        "omega\nдmacro_rules | `(tactic| omega) => `(tactic| sorry)",
    ),
    attack("lexer", "дnative_decide"),
    // Escape by indentation: the first tactic pushed right ends the block at the next line
    // at the hole's column, which becomes a command of its own.
    attack(
        "escape",
        "/- pad -/   omega\nopen Nat in\ntheorem evil : False := by exact?",
    ),
    attack(
        "escape",
        "/- pad -/    omega\nattribute [simp] Nat.add_comm",
    ),
    attack("escape", "/- pad -/  omega\nset_option maxRecDepth 10"),
    attack("escape", "/- pad -/  omega\nopen Classical"),
    attack(
        "escape",
        "/- pad -/  omega\nend Spoof\ntheorem target : True := trivial\nnamespace Spoof",
    ),
    attack("escape", "/- pad -/ omega\n#print axioms Spoof.target"),
    // Name spoofing: a clean theorem of the same short name in another namespace, hoping
    // `#print axioms` resolves (and its report names) that one.
    attack(
        "spoof",
        "sorry\nend Spoof\ntheorem target : True := trivial\nnamespace Spoof",
    ),
    attack(
        "spoof",
        "sorry\nnamespace Spoof\ntheorem target : True := trivial\nend Spoof",
    ),
    attack(
        "spoof",
        "exact sorry\nopen Spoof in theorem _root_.target : True := trivial",
    ),
    // Guessable shadow names: recursion through the name an `example` would get.
    attack("names", "exact _sorryfill_example_0"),
    attack("names", "exact _sorryfill_hole_0"),
    // A theorem proved by `sorry` elsewhere in the file.
    attack("helper", "exact absurd helper_sorry (by decide)"),
    attack("helper", "have := helper_sorry\nomega"),
    // Policy gaps.
    attack("policy", "have := include_str \"/etc/passwd\"\nomega"),
    attack(
        "policy",
        "set_option maxHeartbeats 18446744073709552 in\nomega",
    ),
    attack(
        "policy",
        "set_option maxHeartbeats 0x1000000000000000 in\nomega",
    ),
    attack("policy", "unlock_limits\nomega"),
    attack(
        "policy",
        "simp (config := { maxSteps := dbgTraceVal 5 })\nomega",
    ),
    attack("policy", "simp (config := (fun _ => {}) ())\nomega"),
    attack(
        "policy",
        "run_tac do\n  Lean.addDeclWithoutChecking (.axiomDecl {name := `x, levelParams := [], type := .sort 0, isUnsafe := false})\nomega",
    ),
    attack("policy", "exact (Lean.Environment.addDeclWithoutChecking)"),
    attack("policy", "-- set_option debug.skipKernelTC true in\nomega"),
    attack("policy", "omega -- #eval IO.Process.exit 0"),
];

/// A declaration with two tactic holes and no bullets: the sketch gate's thefts.
pub(crate) const BESIDE: &str = "theorem pair (p q : Prop) (hp : p) (hq : q) : p ∧ q := by
  constructor
  sorry
  admit
";

/// Cheats for a hole that shares its declaration with the user's other hole.
pub(crate) const BESIDE_ATTACKS: &[Attack] = &[
    // Swallow the user's next hole as an argument.
    attack("theft", "all_goals"),
    attack("theft", "repeat"),
    attack("theft", "any_goals"),
    attack("theft", "iterate 2"),
    attack("theft", "first | skip | all_goals"),
    // Solve the *other* goal, so the user's hole closes this one.
    attack("theft", "swap\nexact hq"),
    attack("theft", "case right => exact hq"),
    attack("theft", "on_goal 2 => exact hq"),
    attack("theft", "pick_goal 2\nexact hq"),
    attack("theft", "rotate_left\nexact hq"),
    attack("theft", "all_goals try exact hq"),
    attack("theft", "focus\n  all_goals exact hq"),
    // Refer to the user's holes through the shadow's axiom.
    attack("theft", "exact _sorryfill_hole_0"),
];

/// A term hole in the middle of a line.
pub(crate) const TERM: &str =
    "theorem tpair (p q : Prop) (hp : p) (hq : q) : p ∧ q := ⟨sorry, hq⟩\n";

/// Cheats for a term hole.
pub(crate) const TERM_ATTACKS: &[Attack] = &[
    attack("term", "exact hp⟩ -- "),
    attack(
        "term",
        "exact hp), hq⟩\n\ntheorem evil : False := (by exact?",
    ),
    attack("term", "exact hp⟩ /- -/ -- "),
    attack("term", "exact (s! \"{(sorry : p)}\").length.zero_le.elim"),
    attack("term", "exact (sorry : p)"),
    attack("term", "exact hp /-"),
];

/// A project whose prover answers every sample of a hole with the next of `candidates`, on a
/// lean-sim that accepts every proof without `sorry`.
fn project(lean: &str, candidates: Vec<String>) -> (Project, MockModel) {
    let count = candidates.len();
    let served = std::sync::Mutex::new(std::collections::HashMap::<String, usize>::new());
    let model = MockModel::start(move |body: &Value| {
        let mut served = served.lock().expect("test lock");
        let next = served.entry(user_text(body)).or_insert(0);
        let proof = &candidates[*next % candidates.len()];
        *next += 1;
        after(0, answer(body, proof))
    });
    let config = format!(
        "[prover]\nbase_url = \"{}\"\nmodel = \"mock-prover\"\nconcurrency = 4\n\n\
         [tactics]\nlist = []\n\n\
         [budget]\nsamples_per_hole = {count}\ndecomposition_depth = 0\nconcurrent_holes = 1\n",
        model.url
    );
    let mut project = Project::new(lean, "", &config);
    project.lean_cmd.push_str(" --accept-all");
    (project, model)
}

/// Runs every attack on every hole of `lean`; panics naming each verified one.
fn no_attack_verifies(lean: &str, attacks: &[Attack]) {
    let candidates: Vec<String> = attacks.iter().map(|a| a.proof.to_owned()).collect();
    let (project, model) = project(lean, candidates);
    let (output, report) = project.prove();
    let holes = report["files"][0]["holes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!holes.is_empty(), "{report}\n{}", stderr(&output));
    let verified: Vec<String> = holes
        .iter()
        .filter(|hole| hole["status"] == "verified" || hole["status"] == "partial")
        .map(|hole| {
            let proof = hole["proof"].as_str().unwrap_or_default();
            let class = attacks
                .iter()
                .find(|a| proof.contains(a.proof.lines().next().unwrap_or_default()))
                .map_or("?", |a| a.class);
            format!("{} ({class}): {proof:?}", hole["declaration"])
        })
        .collect();
    assert!(
        verified.is_empty(),
        "verified cheats:\n{}\n{}",
        verified.join("\n"),
        stdout(&output)
    );
    assert!(
        stdout(&output).is_empty(),
        "no diff for a file without a verified proof:\n{}",
        stdout(&output)
    );
    assert!(
        model.requests() >= attacks.len(),
        "every attack was asked for: {} requests",
        model.requests()
    );
}

#[test]
fn the_suite_covers_every_class_with_at_least_fifty_candidates() {
    let all: Vec<&Attack> = SINGLE_ATTACKS
        .iter()
        .chain(BESIDE_ATTACKS)
        .chain(TERM_ATTACKS)
        .collect();
    assert!(all.len() >= 50, "only {} candidates", all.len());
    for class in [
        "lexer", "escape", "spoof", "names", "helper", "policy", "theft", "term",
    ] {
        assert!(all.iter().any(|a| a.class == class), "no {class} attack");
    }
}

#[test]
fn no_cheat_for_a_hole_alone_in_its_declaration_is_verified() {
    no_attack_verifies(SINGLE, SINGLE_ATTACKS);
}

#[test]
fn no_cheat_for_a_hole_beside_the_users_other_hole_is_verified() {
    no_attack_verifies(BESIDE, BESIDE_ATTACKS);
}

#[test]
fn no_cheat_for_a_term_hole_is_verified() {
    no_attack_verifies(TERM, TERM_ATTACKS);
}

/// Runs `prove --write` with `proof` as every prover answer and returns the file afterwards,
/// after asserting every hole was verified.
fn honest(lean: &str, proof: &str) -> String {
    let (project, _model) = project(lean, vec![proof.to_owned()]);
    let mut args = project.prove_args();
    args.push("--write");
    let output = project.command(&args).output().expect("sorryfill runs");
    let report = project.report();
    for hole in report["files"][0]["holes"].as_array().into_iter().flatten() {
        assert_eq!(hole["status"], "verified", "{report}\n{}", stderr(&output));
    }
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report}\n{}",
        stderr(&output)
    );
    std::fs::read_to_string(project.path().join("Foo.lean")).expect("read Foo.lean")
}

#[test]
fn a_single_hole_verifies_and_is_written() {
    let lean = "theorem t (a b : ℕ) (h : a ≤ b) : a ≤ b + 1 := by\n  sorry\n";
    assert_eq!(honest(lean, "omega"), lean.replace("sorry", "omega"));
}

#[test]
fn two_holes_of_one_declaration_verify_and_are_written_together_as_focused_blocks() {
    let written = honest(BESIDE, "exact ‹_›");
    assert_eq!(
        written,
        "theorem pair (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  (· exact ‹_›)\n  (· exact ‹_›)\n"
    );
}

#[test]
fn an_example_verifies_and_is_written() {
    let lean = "example (a : ℕ) : a + 0 = a := by\n  sorry\n";
    assert_eq!(honest(lean, "simp"), lean.replace("sorry", "simp"));
}

#[test]
fn a_term_position_hole_gets_a_tactic_block() {
    let lean = "theorem t (n : ℕ) : n + 0 = n := sorry\n";
    assert_eq!(
        honest(lean, "omega"),
        "theorem t (n : ℕ) : n + 0 = n := by omega\n"
    );
    assert_eq!(
        honest(TERM, "exact hp"),
        "theorem tpair (p q : Prop) (hp : p) (hq : q) : p ∧ q := ⟨(by exact hp), hq⟩\n"
    );
}

#[test]
fn an_admit_hole_is_filled() {
    let lean = "theorem t (a : ℕ) : a + 0 = a := by\n  admit\n";
    assert_eq!(honest(lean, "simp"), lean.replace("admit", "simp"));
}
