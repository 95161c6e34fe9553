//! The proving pipeline: for each hole a job that tries the tactic portfolio, then prover
//! samples (with one repair round), then a decomposer's sketch whose `have` steps are proved
//! recursively, and shortens what it finds. Every candidate is checked by Lean at its real
//! place through a [`Checker`]; only `Full` verdicts for the hole itself become `Verified`.
//!
//! The pipeline reaches the outside only through the traits in [`traits`] (Lean, the
//! prover, the decomposer, the store), so it runs the same against the real services, the
//! simulated ones and the fakes of its tests. Entry point: [`Pipeline`].
//!
//! Wiring: a [`Checker`] splices `target.render(proof)` at the hole of `target.version`
//! (verify's splicer and gate) and maps the gate's verdict to [`PipelineVerdict`], answering
//! `Stale` when that version is gone; a [`Prover`] and a [`Decomposer`] wrap the model
//! client and its parser; [`Attempts`] wraps the store. Cancellation is by dropping the
//! futures these traits return. The editor submits a [`JobRequest`] per hole, follows the
//! returned `watch` receiver, and calls [`Pipeline::cancel`] or [`Pipeline::reanchor`] on
//! edits; it offers a `Verified` or `Partial` state only for the version it names.

pub mod budget;
pub mod cleanup;
pub mod jobs;
pub mod portfolio;
pub mod sketch;
mod stages;
pub mod traits;
pub mod types;

#[cfg(test)]
mod tests;

pub use budget::{HoleBudget, WorkspaceLimits};
pub use jobs::{JobRequest, Moved, Pipeline};
pub use portfolio::Portfolio;
pub use sketch::{Sketch, SketchError, SketchStep};
#[cfg(test)]
pub(crate) use stages::REANCHOR_GRACE;
pub use traits::{Attempts, Checker, Decomposer, NoDecomposer, NoProver, NoStore, Prover};
pub use types::{
    Anchor, AttemptRecord, Candidate, CandidateSource, CheckMode, GoalSpec, HoleId, JobKey,
    JobState, JobTally, ModelFailure, PipelineRejection, PipelineVerdict, RejectKind, Repair,
    SketchFrame, Target, Version,
};
