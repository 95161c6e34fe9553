//! The plain values the pipeline exchanges with the outside world: where a proof goes
//! ([`Target`]), what the models see ([`GoalSpec`]), what Lean said ([`PipelineVerdict`]), what a
//! model proposed ([`Candidate`]) and what is recorded ([`AttemptRecord`]).
//!
//! These types carry no JSON and no handles: the lead's adapters translate the verify,
//! models and store types into them.

use std::sync::Arc;
use std::time::Duration;

use super::sketch::Sketch;

/// Identity of a hole inside its document: the scanner's, stable across edits elsewhere.
pub use crate::holes::HoleId;

/// The document version a hole was computed for, as the editor numbers it.
pub type Version = i32;

/// One job per hole and document version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JobKey {
    /// The document URI, as the editor sent it.
    pub doc: String,
    /// The hole inside the document.
    pub hole: HoleId,
    /// The document version the hole was computed for.
    pub version: Version,
}

/// Where a job currently points: the version its checks run against and the hole's
/// identity in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The current document version.
    pub version: Version,
    /// The hole's identity in that version.
    pub hole: HoleId,
    /// The newest version reached by an edit before the hole's declaration: a proof
    /// checked at an older version must be checked again.
    pub prefix_changed_at: Option<Version>,
}

impl Anchor {
    /// Whether a proof checked at `version` must be checked again before it is offered.
    pub fn needs_recheck(&self, version: Version) -> bool {
        self.prefix_changed_at
            .is_some_and(|changed| changed > version)
    }
}

/// What a job is doing, as the editor and the CLI show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for a free slot among the workspace's concurrent holes.
    Queued,
    /// Trying the tactic portfolio.
    Tactics,
    /// Prover samples: `received` of `samples` answered.
    Prover {
        /// Answers received so far.
        received: usize,
        /// Samples requested.
        samples: usize,
    },
    /// Waiting for the decomposer's sketch.
    Decomposing,
    /// Proving the sketch's steps: `proved` of `total` done.
    Subgoals {
        /// Steps proved so far.
        proved: usize,
        /// Steps in the sketch.
        total: usize,
    },
    /// Checking a found proof again after an edit above its declaration.
    Reverifying,
    /// A proof Lean accepted at `version`.
    Verified {
        /// The proof body.
        proof: String,
        /// The version it was verified at.
        version: Version,
    },
    /// A sketch with `proved` of `total` steps filled in, checked at `version`.
    Partial {
        /// The proof body, with `sorry` in the steps that resisted.
        proof: String,
        /// Steps proved.
        proved: usize,
        /// Steps in the sketch.
        total: usize,
        /// The version it was checked at.
        version: Version,
    },
    /// Nothing was found; the reason in words.
    Failed {
        /// Why.
        reason: String,
    },
    /// Cancelled by an edit or by the user.
    Cancelled,
}

impl JobState {
    /// Whether the job has ended.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            JobState::Verified { .. }
                | JobState::Partial { .. }
                | JobState::Failed { .. }
                | JobState::Cancelled
        )
    }
}

/// One enclosing sketch of a target: the proof goes into the `sorry` of step `step`.
#[derive(Clone, Debug)]
pub struct SketchFrame {
    /// The sketch whose step is being proved; the sketch already passed a `Sketch` check.
    pub sketch: Arc<Sketch>,
    /// Index into `sketch.steps`.
    pub step: usize,
}

/// Where a proof goes: the hole of a document version, possibly inside sketches spliced
/// into that hole (outermost first).
#[derive(Clone, Debug)]
pub struct Target {
    /// The document URI.
    pub doc: String,
    /// The hole the outermost text replaces.
    pub hole: HoleId,
    /// The document version the check must be made against.
    pub version: Version,
    /// The sketches between the hole and the proof, outermost first; empty for the hole
    /// itself.
    pub frames: Vec<SketchFrame>,
}

impl Target {
    /// The target of a hole itself.
    pub fn hole(key: &JobKey) -> Self {
        Target {
            doc: key.doc.clone(),
            hole: key.hole.clone(),
            version: key.version,
            frames: Vec::new(),
        }
    }

    /// The target of step `step` of `sketch` placed at this target.
    pub fn step(&self, sketch: Arc<Sketch>, step: usize) -> Self {
        let mut frames = self.frames.clone();
        frames.push(SketchFrame { sketch, step });
        Target {
            doc: self.doc.clone(),
            hole: self.hole.clone(),
            version: self.version,
            frames,
        }
    }

    /// How many sketches enclose this target (0 for the hole itself).
    pub fn depth(&self) -> usize {
        self.frames.len()
    }

    /// The text to put at the hole when `proof` is placed at this target: the proof,
    /// wrapped in each enclosing sketch from the innermost outwards (the other steps keep
    /// their `sorry`).
    pub fn render(&self, proof: &str) -> String {
        self.frames
            .iter()
            .rev()
            .fold(proof.to_owned(), |text, frame| {
                frame.sketch.place(frame.step, &text)
            })
    }
}

/// How strictly a check judges the proof.
///
/// Inside a sketch (a target with frames) the declaration still holds the other steps'
/// `sorry`s, so Lean's one "declaration uses 'sorry'" warning cannot tell them apart: there
/// `Full` means no error anywhere and no `sorry` in the proof text itself. Only the hole's
/// own target gets the whole gate, and only its verdict is ever offered to the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// The proof must be complete: no error and no `sorry` of its own; the full gate.
    Full,
    /// The proof is a sketch: no error, and the only `sorry`s are the sketch's own steps.
    Sketch,
}

/// Why a check did not verify a proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectKind {
    /// Lean reported an error (the message is worth a repair round).
    Lean,
    /// sorryfill's own gate refused it (banned construct, axiom, statement changed).
    Gate,
    /// The check ran out of time.
    Timeout,
    /// The document version is no longer current; nothing more can be checked for it.
    Stale,
    /// Lean cannot check this file now (its imports did not load, or the checking server
    /// could not start); the job ends with this reason instead of trying every other candidate.
    Unavailable,
}

/// A rejection with the reason in words, for repair prompts, logs and the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineRejection {
    /// Which kind of rejection.
    pub kind: RejectKind,
    /// Lean's error text or the gate's explanation.
    pub message: String,
}

/// What the checker concluded about one proof at one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PipelineVerdict {
    /// Lean accepted the proof and the gate passed.
    Verified {
        /// Lean's own `Try this:` replacement (from `exact?` and friends), which the pipeline
        /// checks and prefers when it also verifies.
        replacement: Option<String>,
    },
    /// The proof was not accepted.
    Rejected(PipelineRejection),
}

impl PipelineVerdict {
    /// A verified verdict without replacement.
    pub fn verified() -> Self {
        PipelineVerdict::Verified { replacement: None }
    }

    /// A rejection of the given kind.
    pub fn rejected(kind: RejectKind, message: impl Into<String>) -> Self {
        PipelineVerdict::Rejected(PipelineRejection {
            kind,
            message: message.into(),
        })
    }

    /// Whether the proof was accepted.
    pub fn is_verified(&self) -> bool {
        matches!(self, PipelineVerdict::Verified { .. })
    }
}

/// The goal as the models see it: DeepSeek-Prover-V2's standalone lemma form, the goal's
/// hypotheses as binders and its target as the type, under the file's header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GoalSpec {
    /// The file's imports and `open`s, as text.
    pub header: String,
    /// The lemma's name.
    pub name: String,
    /// Binders in order, each already bracketed: `(x : ℕ)`, `(h₀ : 0 < x)`, `[Group G]`.
    pub binders: Vec<String>,
    /// The proposition to prove.
    pub target: String,
}

/// A lemma name for a hole: the declaration's last component made an identifier, and the
/// hole's ordinal inside it.
fn lemma_name(hole: &HoleId) -> String {
    let last = hole.declaration.rsplit('.').next().unwrap_or("hole");
    let base: String = last
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{base}_hole_{}", hole.ordinal)
}

impl GoalSpec {
    /// The lemma statement with a `sorry` proof, as the prover prompt shows it.
    pub fn lemma(&self) -> String {
        let mut out = format!("theorem {}", self.name);
        for binder in &self.binders {
            out.push(' ');
            out.push_str(binder);
        }
        out.push_str(" : ");
        out.push_str(&self.target);
        out.push_str(" := by\n  sorry");
        out
    }

    /// The goal Lean printed at `hole` as the standalone lemma the models see: the file's
    /// imports and `open`s (from the hole's `context`), the goal's hypotheses as binders
    /// (inaccessible names renamed, anonymous instances as `[…]`), its target as the type.
    pub fn for_hole(
        goal: &crate::holes::Goal,
        context: Option<&crate::holes::HoleContext>,
        hole: &HoleId,
    ) -> Self {
        let header: String = context
            .map(|context| {
                context
                    .prefix
                    .lines()
                    .filter(|line| line.starts_with("import ") || line.starts_with("open "))
                    .map(|line| format!("{line}\n"))
                    .collect()
            })
            .unwrap_or_default();
        let parts = goal.lemma_parts();
        let mut name = lemma_name(hole);
        if !parts.universes.is_empty() {
            name.push_str(&format!(".{{{}}}", parts.universes.join(", ")));
        }
        GoalSpec {
            header,
            name,
            binders: parts.binders,
            target: parts.target,
        }
    }

    /// The header followed by the lemma: the whole text a prover prompt completes.
    pub fn standalone(&self) -> String {
        if self.header.trim().is_empty() {
            self.lemma()
        } else {
            format!("{}\n\n{}", self.header.trim_end(), self.lemma())
        }
    }

    /// The goal of step `step` of `sketch` placed at this goal, in DeepSeek-Prover-V2's
    /// recursive form: this goal's binders, then the earlier steps as hypotheses, and the
    /// step's statement (or this goal's target for a closing `sorry`) as the type.
    pub fn step_goal(&self, sketch: &Sketch, step: usize) -> GoalSpec {
        let mut binders = self.binders.clone();
        for earlier in sketch.steps.iter().take(step) {
            if let Some(statement) = &earlier.statement {
                let name = earlier.name.as_deref().unwrap_or("this");
                binders.push(format!("({name} : {statement})"));
            }
        }
        let this = sketch.steps.get(step);
        let suffix = match this.and_then(|s| s.name.clone()) {
            Some(name) => name,
            None => format!("step{}", step + 1),
        };
        GoalSpec {
            header: self.header.clone(),
            name: format!("{}_{}", self.name, suffix),
            binders,
            target: this
                .and_then(|s| s.statement.clone())
                .unwrap_or_else(|| self.target.clone()),
        }
    }
}

/// A failed candidate and Lean's message about it, for one repair round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repair {
    /// The proof body that failed.
    pub previous: String,
    /// Lean's error text for it.
    pub error: String,
}

/// One proof body proposed by a prover model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The proof body (tactics), without the theorem statement.
    pub body: String,
    /// The model that wrote it, for the records.
    pub model: Option<String>,
}

/// A model request failed (network, HTTP status, unparsable output).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("model request failed: {0}")]
pub struct ModelFailure(pub String);

/// What a job has done so far: how many candidates Lean checked, and which stage found the
/// proof it offers (the first verified `Full` check of the hole itself; Lean's replacements,
/// cleanups and re-checks after edits keep the stage that found it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobTally {
    /// Checks sent to Lean for this job, at every depth.
    pub checks: u32,
    /// The stage whose candidate first passed the whole gate at the hole.
    pub found_by: Option<CandidateSource>,
}

impl JobTally {
    /// Counts one check and remembers the stage of the first verified proof at the hole.
    pub(crate) fn count(
        &mut self,
        source: &CandidateSource,
        depth: usize,
        mode: CheckMode,
        verified: bool,
    ) {
        self.checks = self.checks.saturating_add(1);
        let finds = !matches!(
            source,
            CandidateSource::Replacement
                | CandidateSource::Recheck
                | CandidateSource::Cleanup
                | CandidateSource::Sketch
        );
        if verified && depth == 0 && mode == CheckMode::Full && finds && self.found_by.is_none() {
            self.found_by = Some(source.clone());
        }
    }
}

/// Where a checked candidate came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CandidateSource {
    /// A proof from the cache, re-checked before use.
    Cache,
    /// A proof found before, checked again after an edit above its declaration.
    Recheck,
    /// One tactic of the portfolio.
    Tactic,
    /// Prover sample `index`.
    Prover {
        /// Sample index in `0..n`.
        index: usize,
    },
    /// A repair of a failed prover sample.
    Repair,
    /// Lean's own `Try this:` replacement for a verified proof.
    Replacement,
    /// A decomposer's sketch (checked in `Sketch` mode).
    Sketch,
    /// A sketch with proved steps filled in.
    Assembled,
    /// A shortened variant of a verified proof.
    Cleanup,
}

/// One checked candidate, for the data set.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    /// The job the attempt belongs to.
    pub job: JobKey,
    /// The goal the candidate was for.
    pub goal: GoalSpec,
    /// Nesting depth of the target (0 for the hole itself).
    pub depth: usize,
    /// The candidate as checked.
    pub candidate: String,
    /// Where it came from.
    pub source: CandidateSource,
    /// The model that wrote it, if any.
    pub model: Option<String>,
    /// The check mode used.
    pub mode: CheckMode,
    /// Lean's verdict.
    pub verdict: PipelineVerdict,
    /// How long the check took.
    pub elapsed: Duration,
}

#[cfg(test)]
mod goal_spec_tests {
    use super::*;
    use crate::holes::{HoleIndex, parse_goal};

    #[test]
    fn a_hole_becomes_a_lemma_under_the_files_imports_and_opens() {
        let text = "import Mathlib\nopen Real\nnamespace N\ntheorem t (x : ℕ) [inst : Group G] (h : 0 < x) : x ≠ 0 := by\n  sorry\nend N\n";
        let index = HoleIndex::new(text);
        let hole = &index.holes()[0];
        let goal = parse_goal("x : ℕ\ninst✝ : Group G\nh₀ a✝ : 0 < x\n⊢ x ≠ 0");
        let spec = GoalSpec::for_hole(&goal, index.context(hole).as_ref(), &hole.id);
        assert_eq!(spec.header, "import Mathlib\nopen Real\n");
        assert_eq!(spec.name, "t_hole_0");
        assert_eq!(spec.binders, ["(x : ℕ)", "[Group G]", "(h₀ a_1 : 0 < x)"]);
        assert_eq!(spec.target, "x ≠ 0");
        assert_eq!(crate::holes::imported_modules(text), ["Mathlib"]);
    }

    #[test]
    fn shared_hypothesis_lines_stay_one_binder() {
        let goal = parse_goal("x y : ℕ\ninst✝ : Foo x\nh₀ : x ≠ 0\n⊢ x + 0 = x");
        let id = HoleId {
            declaration: "Ns.t".to_owned(),
            ordinal: 2,
        };
        let spec = GoalSpec::for_hole(&goal, None, &id);
        assert_eq!(spec.binders, ["(x y : ℕ)", "[Foo x]", "(h₀ : x ≠ 0)"]);
        assert_eq!(spec.target, "x + 0 = x");
        assert_eq!(spec.name, "t_hole_2");
        assert_eq!(spec.header, "");
    }

    #[test]
    fn step_goal_carries_earlier_steps_as_hypotheses() {
        let sketch = Sketch::scan(
            "have h₀ : 0 < x := by sorry\nhave h₁ : x ^ 2 > 0 := by\n  sorry\n-- sorry in a comment\nnlinarith [h₀, h₁, sorry]",
        )
        .expect("the sketch has steps");
        let goal = GoalSpec {
            header: "import Mathlib".into(),
            name: "t".into(),
            binders: vec!["(x : ℝ)".into(), "(hx : 1 < x)".into()],
            target: "x ^ 3 > 0".into(),
        };
        let second = goal.step_goal(&sketch, 1);
        assert_eq!(
            second.lemma(),
            "theorem t_h₁ (x : ℝ) (hx : 1 < x) (h₀ : 0 < x) : x ^ 2 > 0 := by\n  sorry"
        );
        let closing = goal.step_goal(&sketch, 2);
        assert_eq!(closing.target, "x ^ 3 > 0");
        assert_eq!(closing.binders.len(), 4);
    }
}
