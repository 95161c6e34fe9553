//! The four doors through which the pipeline reaches the outside: Lean (a [`Checker`]), the
//! prover and decomposer models, and the store of attempts and verified proofs.
//!
//! Cancellation is by dropping: when a job stops, every future it got from these traits is
//! dropped, so implementations must release what they hold (HTTP requests, shadow-document
//! checks) in `Drop` and must not rely on being polled to completion.

use std::future::Future;

use super::sketch::Sketch;
use super::types::{
    AttemptRecord, Candidate, CheckMode, GoalSpec, ModelFailure, PipelineVerdict, Repair, Target,
};

/// Checks a proof with Lean itself at a target, behind the gate.
pub trait Checker: Send + Sync + 'static {
    /// Splices `target.render(proof)` at the hole of `target.version` and judges it.
    fn check(
        &self,
        target: &Target,
        proof: &str,
        mode: CheckMode,
    ) -> impl Future<Output = PipelineVerdict> + Send;

    /// Checks proofs for several holes of ONE declaration of `doc` at `version` together, as
    /// the exact text that would be written: each was verified with the others still holes,
    /// and only the combination reaches the user. A checker that cannot do this refuses. No
    /// default: a checker that wraps another must forward it, or proofs of one declaration
    /// would never be written (as happened to `serve`'s isolated checker).
    fn check_together(
        &self,
        doc: &str,
        version: i32,
        fills: &[(crate::holes::HoleId, String)],
    ) -> impl Future<Output = PipelineVerdict> + Send;

    /// The goal Lean reports at a target (its hypotheses as binders), when the checker can
    /// ask; the pipeline falls back to the sketch's textual step goal otherwise.
    fn goal_at(&self, target: &Target) -> impl Future<Output = Option<GoalSpec>> + Send {
        let _ = target;
        std::future::ready(None)
    }
}

/// A prover model: one proof body per request.
pub trait Prover: Send + Sync + 'static {
    /// Sample `index` (of the hole's budget) for `goal`; with `repair`, the model is shown a
    /// failed proof and Lean's message about it.
    fn sample(
        &self,
        goal: &GoalSpec,
        index: usize,
        repair: Option<&Repair>,
    ) -> impl Future<Output = Result<Candidate, ModelFailure>> + Send;
}

/// A decomposer model: a plan of `have` steps for a goal.
pub trait Decomposer: Send + Sync + 'static {
    /// A sketch for `goal`, or `None` when the model offers no decomposition.
    fn sketch(
        &self,
        goal: &GoalSpec,
    ) -> impl Future<Output = Result<Option<Sketch>, ModelFailure>> + Send;
}

/// The store: records every checked attempt and remembers verified proofs.
pub trait Attempts: Send + Sync + 'static {
    /// Records one checked attempt (verified or not). Must not block for long: it runs on
    /// the pipeline's tasks.
    fn record(&self, attempt: AttemptRecord);

    /// A proof that was verified before for this goal; the pipeline re-checks it. A lookup
    /// that reads a database must do so off the runtime's threads.
    fn cached(&self, goal: &GoalSpec) -> impl Future<Output = Option<String>> + Send;
}

/// A prover that is not configured: every request fails at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProver;

impl Prover for NoProver {
    async fn sample(
        &self,
        _goal: &GoalSpec,
        _index: usize,
        _repair: Option<&Repair>,
    ) -> Result<Candidate, ModelFailure> {
        Err(ModelFailure("no prover model is configured".into()))
    }
}

/// A decomposer that is not configured: never offers a sketch.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDecomposer;

impl Decomposer for NoDecomposer {
    async fn sketch(&self, _goal: &GoalSpec) -> Result<Option<Sketch>, ModelFailure> {
        Ok(None)
    }
}

/// A store that remembers nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoStore;

impl Attempts for NoStore {
    fn record(&self, _attempt: AttemptRecord) {}

    async fn cached(&self, _goal: &GoalSpec) -> Option<String> {
        None
    }
}
