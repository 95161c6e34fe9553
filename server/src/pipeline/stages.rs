//! The stages that prove one goal: cache, tactic portfolio, prover samples (with a repair
//! round), and recursive decomposition, then cleanup of the proof found for the hole.
//!
//! Invariants: every proof returned as proved passed a `Full` check at its target; a
//! partial proof passed a `Sketch` check; only the hole's own level (depth 0) publishes
//! progress; a stage stops at its first verified proof and drops every request still in
//! flight, which is how models and checks are cancelled.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use super::budget::HoleBudget;
use super::cleanup::shorter_variants;
use super::portfolio::Portfolio;
use super::sketch::Sketch;
use super::traits::{Attempts, Checker, Decomposer, Prover};
use super::types::{
    Anchor, AttemptRecord, Candidate, CandidateSource, CheckMode, GoalSpec, JobKey, JobState,
    JobTally, ModelFailure, PipelineVerdict, RejectKind, Repair, Target, Version,
};

/// How long the checks of earlier portfolio tactics may still run once a later one verified
/// (see [`Stages::tactics`]): long enough for checks started together to finish together,
/// short against a hole's budget.
pub(crate) const STABLE_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

/// The pipeline's stages with the outside world plugged in.
pub(crate) struct Stages<C, P, D, A> {
    /// Lean, behind the gate.
    pub checker: C,
    /// The prover model.
    pub prover: P,
    /// The decomposer model.
    pub decomposer: D,
    /// The cache and attempt records.
    pub store: A,
    /// The tactic portfolio before filtering by imports.
    pub portfolio: Portfolio,
    /// What each hole may spend.
    pub budget: HoleBudget,
    /// Model requests in flight across the workspace.
    pub(crate) model_permits: Arc<Semaphore>,
}

/// What one job needs while it runs: who it is, where it currently points, and where to
/// report.
pub(crate) struct JobContext {
    /// The job as submitted (its version is the original one; `anchor` has the current).
    pub key: JobKey,
    /// The hole's goal.
    pub goal: GoalSpec,
    /// The portfolio filtered by the file's imports.
    pub tactics: Vec<String>,
    /// The current version and hole identity, moved by re-anchoring.
    pub anchor: watch::Receiver<Anchor>,
    /// Where depth-0 progress goes.
    pub state: Arc<watch::Sender<JobState>>,
    /// Cancelled when Lean says the version is gone, which ends the job.
    pub stale: CancellationToken,
    /// Why Lean cannot check this file now, once a check said so; `stale` is cancelled too.
    pub unavailable: std::sync::OnceLock<String>,
    /// Checks made and the stage that found the proof, for reports.
    pub tally: Arc<std::sync::Mutex<JobTally>>,
}

/// How long a check that found its version gone waits for the job to be re-anchored. The
/// editor makes a new version current for the checker first, then compares the outlines and
/// re-anchors the jobs the edit spared, so a check can see the version go before its job
/// moves; only a busy or descheduled thread makes that gap longer than a moment. A job whose
/// hole the edit touched is cancelled instead, which ends the wait with the job.
pub(crate) const REANCHOR_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl JobContext {
    /// Whether the job now points past `version`, waiting up to [`REANCHOR_GRACE`] for the
    /// re-anchor that follows a new version.
    async fn moved_on_from(&self, version: Version) -> bool {
        let mut anchor = self.anchor.clone();
        let moved = anchor.wait_for(|anchor| anchor.version != version);
        matches!(tokio::time::timeout(REANCHOR_GRACE, moved).await, Ok(Ok(_)))
    }

    /// Why the job is ending early: the file cannot be checked, or its version is gone.
    fn ending_reason(&self) -> String {
        self.unavailable
            .get()
            .cloned()
            .unwrap_or_else(|| "the document version is no longer current".to_owned())
    }

    fn publish(&self, target: &Target, state: JobState) {
        if target.depth() == 0 {
            self.state.send_replace(state);
        }
    }
}

/// What is being proved and where: the goal the models see and the target Lean checks.
#[derive(Clone, Copy)]
pub(crate) struct Place<'a> {
    pub target: &'a Target,
    pub goal: &'a GoalSpec,
}

/// The result of proving one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// A proof that passed a `Full` check at the target, at `version`.
    Proved { proof: String, version: Version },
    /// A sketch with some steps proved, which passed a `Sketch` check.
    Partial {
        proof: String,
        proved: usize,
        total: usize,
        version: Version,
    },
    /// Nothing; the reason in words.
    Failed(String),
}

/// Why a model request did not give a candidate.
enum SampleError {
    /// The model failed.
    Model(ModelFailure),
    /// The request was not sent: the job is ending (stale version) or the limiter closed.
    Stopped,
}

impl<C: Checker, P: Prover, D: Decomposer, A: Attempts> Stages<C, P, D, A> {
    /// Stages sharing `model_permits` with the other jobs of the workspace.
    pub(crate) fn new(
        checker: C,
        prover: P,
        decomposer: D,
        store: A,
        portfolio: Portfolio,
        budget: HoleBudget,
        model_permits: Arc<Semaphore>,
    ) -> Self {
        Stages {
            checker,
            prover,
            decomposer,
            store,
            portfolio,
            budget,
            model_permits,
        }
    }

    /// Proves the job's hole and shortens what it finds; the job's final state.
    pub(crate) async fn run(&self, ctx: &JobContext) -> JobState {
        let target = Target::hole(&ctx.key);
        match self.prove(ctx, target.clone(), ctx.goal.clone()).await {
            Found::Proved { proof, version } => {
                // A cached proof was cleaned up when it was first found: its one re-check is
                // all a cache hit may cost.
                let from_cache = ctx
                    .tally
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .found_by
                    == Some(CandidateSource::Cache);
                let (proof, version) = if from_cache {
                    (proof, version)
                } else {
                    self.cleanup(ctx, &target, proof, version).await
                };
                JobState::Verified { proof, version }
            }
            Found::Partial {
                proof,
                proved,
                total,
                version,
            } => JobState::Partial {
                proof,
                proved,
                total,
                version,
            },
            Found::Failed(reason) => JobState::Failed { reason },
        }
    }

    /// Checks `proof` at `target` as it currently stands and records the attempt; returns
    /// the verdict and the version it holds for.
    pub(crate) async fn check(
        &self,
        ctx: &JobContext,
        Place { target, goal }: Place<'_>,
        proof: &str,
        mode: CheckMode,
        source: CandidateSource,
        model: Option<String>,
    ) -> (PipelineVerdict, Version) {
        let started = Instant::now();
        let (verdict, target) = loop {
            let current = {
                let anchor = ctx.anchor.borrow();
                Target {
                    version: anchor.version,
                    hole: anchor.hole.clone(),
                    ..target.clone()
                }
            };
            let verdict = self.checker.check(&current, proof, mode).await;
            if matches!(&verdict, PipelineVerdict::Rejected(r) if r.kind == RejectKind::Stale) {
                // A check overtaken by a re-anchor is repeated at the new version; only a
                // version nobody re-anchored from ends the job.
                if ctx.moved_on_from(current.version).await {
                    continue;
                }
                ctx.stale.cancel();
            }
            if let PipelineVerdict::Rejected(rejection) = &verdict
                && rejection.kind == RejectKind::Unavailable
            {
                // Every other candidate would get the same answer: end the job with it.
                let _ = ctx.unavailable.set(rejection.message.clone());
                ctx.stale.cancel();
            }
            break (verdict, current);
        };
        ctx.tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .count(&source, target.depth(), mode, verdict.is_verified());
        self.store.record(AttemptRecord {
            job: ctx.key.clone(),
            goal: goal.clone(),
            depth: target.depth(),
            candidate: proof.to_owned(),
            source,
            model,
            mode,
            verdict: verdict.clone(),
            elapsed: started.elapsed(),
        });
        (verdict, target.version)
    }

    /// A verified proof, or Lean's own `Try this:` replacement for it when that verifies too.
    async fn accept(
        &self,
        ctx: &JobContext,
        target: &Target,
        goal: &GoalSpec,
        proof: String,
        verdict: PipelineVerdict,
        version: Version,
    ) -> Found {
        if let PipelineVerdict::Verified {
            replacement: Some(replacement),
        } = verdict
            && replacement.trim() != proof.trim()
        {
            let (verdict, new_version) = self
                .check(
                    ctx,
                    Place { target, goal },
                    &replacement,
                    CheckMode::Full,
                    CandidateSource::Replacement,
                    None,
                )
                .await;
            if verdict.is_verified() {
                return Found::Proved {
                    proof: replacement,
                    version: new_version,
                };
            }
        }
        Found::Proved { proof, version }
    }

    /// Proves `goal` at `target` with every stage the budget allows at this depth.
    pub(crate) fn prove<'a>(
        &'a self,
        ctx: &'a JobContext,
        target: Target,
        goal: GoalSpec,
    ) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            if let Some(proof) = self.store.cached(&goal).await {
                let (verdict, version) = self
                    .check(
                        ctx,
                        Place {
                            target: &target,
                            goal: &goal,
                        },
                        &proof,
                        CheckMode::Full,
                        CandidateSource::Cache,
                        None,
                    )
                    .await;
                if verdict.is_verified() {
                    return self
                        .accept(ctx, &target, &goal, proof, verdict, version)
                        .await;
                }
            }
            ctx.publish(&target, JobState::Tactics);
            if let Some(found) = self.tactics(ctx, &target, &goal).await {
                return found;
            }
            // Lean said the version is gone: the job is ending, so no model is asked.
            if ctx.stale.is_cancelled() {
                return Found::Failed(ctx.ending_reason());
            }
            if !self.budget.use_models {
                return Found::Failed("no tactic of the portfolio closed the goal".into());
            }
            let prover_failure = match self.samples(ctx, &target, &goal).await {
                Ok(found) => return found,
                Err(reason) => reason,
            };
            if target.depth() >= self.budget.decomposition_depth {
                return Found::Failed(prover_failure);
            }
            // Both stages' reasons are kept: the prover's may name an endpoint that failed.
            match self.decompose(ctx, &target, &goal).await {
                Found::Failed(reason) => Found::Failed(format!("{prover_failure}; {reason}")),
                found => found,
            }
        })
    }

    /// Stage 1: the portfolio, cheapest first, a few checks at a time. The winner is the
    /// earliest tactic in portfolio order that verifies, not the first check to finish: once
    /// one verifies, the checks of earlier tactics still running get [`STABLE_WINDOW`] to
    /// finish, later tactics are not started, and the earliest verified one is taken. The
    /// same hole so gets the same proof from run to run.
    async fn tactics(&self, ctx: &JobContext, target: &Target, goal: &GoalSpec) -> Option<Found> {
        // The index of the earliest tactic verified so far (`usize::MAX`: none yet).
        let best = std::sync::atomic::AtomicUsize::new(usize::MAX);
        let best = &best;
        let mut checks = stream::iter(0..ctx.tactics.len())
            .map(|index| async move {
                if index > best.load(std::sync::atomic::Ordering::Relaxed) {
                    // An earlier tactic already verified: this one could never be chosen.
                    return (index, None);
                }
                let tactic = &ctx.tactics[index];
                let (verdict, version) = self
                    .check(
                        ctx,
                        Place { target, goal },
                        tactic,
                        CheckMode::Full,
                        CandidateSource::Tactic,
                        None,
                    )
                    .await;
                (index, Some((verdict, version)))
            })
            .buffer_unordered(self.budget.parallel_tactics.max(1));
        let mut winner = None;
        let mut finished = std::collections::BTreeSet::new();
        let mut window: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            let next = match window.as_mut() {
                None => checks.next().await,
                Some(deadline) => tokio::select! {
                    next = checks.next() => next,
                    () = deadline.as_mut() => None,
                },
            };
            let Some((index, outcome)) = next else { break };
            finished.insert(index);
            if let Some((verdict, version)) = outcome
                && verdict.is_verified()
                && winner.as_ref().is_none_or(|(best, _, _)| index < *best)
            {
                best.store(index, std::sync::atomic::Ordering::Relaxed);
                winner = Some((index, verdict, version));
                window.get_or_insert_with(|| Box::pin(tokio::time::sleep(STABLE_WINDOW)));
            }
            // Done as soon as every earlier tactic has had its say.
            if let Some((best_index, _, _)) = &winner
                && (0..*best_index).all(|earlier| finished.contains(&earlier))
            {
                break;
            }
            if ctx.stale.is_cancelled() {
                // The job is ending: the tactics not started yet would get the same answer.
                break;
            }
        }
        drop(checks);
        let (index, verdict, version) = winner?;
        Some(
            self.accept(
                ctx,
                target,
                goal,
                ctx.tactics[index].clone(),
                verdict,
                version,
            )
            .await,
        )
    }

    /// One model request under the workspace's model limit.
    async fn request(
        &self,
        ctx: &JobContext,
        goal: &GoalSpec,
        index: usize,
        repair: Option<&Repair>,
    ) -> Result<Candidate, SampleError> {
        if ctx.stale.is_cancelled() {
            return Err(SampleError::Stopped);
        }
        let _permit = self
            .model_permits
            .acquire()
            .await
            .map_err(|_| SampleError::Stopped)?;
        self.prover
            .sample(goal, index, repair)
            .await
            .map_err(SampleError::Model)
    }

    /// Stage 2: `samples` prover requests at once (the model limit queues them), each
    /// checked as it arrives; then one repair round for failures Lean explained. The first
    /// verified candidate wins and the rest are dropped.
    async fn samples(
        &self,
        ctx: &JobContext,
        target: &Target,
        goal: &GoalSpec,
    ) -> Result<Found, String> {
        let total = self.budget.samples;
        let mut repairs: Vec<Repair> = Vec::new();
        let mut model_errors = 0usize;
        // The first model error is the one that names the endpoint that failed.
        let mut first_error: Option<ModelFailure> = None;
        if total > 0 {
            ctx.publish(
                target,
                JobState::Prover {
                    received: 0,
                    samples: total,
                },
            );
            let mut received = 0;
            let mut attempts = stream::iter(0..total)
                .map(|index| async move {
                    let candidate = self.request(ctx, goal, index, None).await?;
                    let (verdict, version) = self
                        .check(
                            ctx,
                            Place { target, goal },
                            &candidate.body,
                            CheckMode::Full,
                            CandidateSource::Prover { index },
                            candidate.model.clone(),
                        )
                        .await;
                    Ok((candidate.body, verdict, version))
                })
                .buffer_unordered(total);
            while let Some(attempt) = attempts.next().await {
                received += 1;
                ctx.publish(
                    target,
                    JobState::Prover {
                        received,
                        samples: total,
                    },
                );
                match attempt {
                    Ok((proof, verdict @ PipelineVerdict::Verified { .. }, version)) => {
                        drop(attempts);
                        return Ok(self
                            .accept(ctx, target, goal, proof, verdict, version)
                            .await);
                    }
                    Ok((proof, PipelineVerdict::Rejected(rejection), _)) => {
                        if rejection.kind == RejectKind::Lean {
                            repairs.push(Repair {
                                previous: proof,
                                error: rejection.message,
                            });
                        }
                    }
                    Err(SampleError::Model(error)) => {
                        model_errors += 1;
                        tracing::debug!(%error, "prover sample failed");
                        first_error.get_or_insert(error);
                    }
                    Err(SampleError::Stopped) => model_errors += 1,
                }
            }
        }
        repairs.truncate(self.budget.repairs);
        let repairs = &repairs;
        let mut fixes = stream::iter(0..repairs.len())
            .map(|offset| async move {
                let repair = &repairs[offset];
                let candidate = self
                    .request(ctx, goal, total + offset, Some(repair))
                    .await?;
                let (verdict, version) = self
                    .check(
                        ctx,
                        Place { target, goal },
                        &candidate.body,
                        CheckMode::Full,
                        CandidateSource::Repair,
                        candidate.model.clone(),
                    )
                    .await;
                Ok::<_, SampleError>((candidate.body, verdict, version))
            })
            .buffer_unordered(repairs.len().max(1));
        while let Some(attempt) = fixes.next().await {
            if let Ok((proof, verdict @ PipelineVerdict::Verified { .. }, version)) = attempt {
                drop(fixes);
                return Ok(self
                    .accept(ctx, target, goal, proof, verdict, version)
                    .await);
            }
        }
        Err(if model_errors == total && total > 0 {
            match first_error {
                Some(error) => format!("every prover request failed: {error}"),
                None => "every prover request failed".into(),
            }
        } else {
            format!("no tactic and none of {total} prover samples closed the goal")
        })
    }

    /// Stage 3: a sketch checked in place, its steps proved in parallel (recursively), the
    /// proved steps put back and the whole checked again.
    async fn decompose(&self, ctx: &JobContext, target: &Target, goal: &GoalSpec) -> Found {
        if ctx.stale.is_cancelled() {
            return Found::Failed(ctx.ending_reason());
        }
        ctx.publish(target, JobState::Decomposing);
        let sketch = {
            let Ok(_permit) = self.model_permits.acquire().await else {
                return Found::Failed("the model limiter is closed".into());
            };
            match self.decomposer.sketch(goal).await {
                Ok(Some(sketch)) => Arc::new(sketch),
                Ok(None) => return Found::Failed("the decomposer offered no sketch".into()),
                Err(error) => return Found::Failed(error.to_string()),
            }
        };
        let (verdict, _) = self
            .check(
                ctx,
                Place { target, goal },
                &sketch.text,
                CheckMode::Sketch,
                CandidateSource::Sketch,
                None,
            )
            .await;
        if let PipelineVerdict::Rejected(rejection) = verdict {
            return Found::Failed(format!("the sketch was rejected: {}", rejection.message));
        }
        let total = sketch.steps.len();
        ctx.publish(target, JobState::Subgoals { proved: 0, total });
        let mut results: Vec<Option<Found>> = vec![None; total];
        let mut steps = stream::iter(0..total)
            .map(|step| {
                let sketch = Arc::clone(&sketch);
                async move {
                    let step_target = target.step(Arc::clone(&sketch), step);
                    let step_goal = match self.checker.goal_at(&step_target).await {
                        Some(goal) => goal,
                        None => goal.step_goal(&sketch, step),
                    };
                    (step, self.prove(ctx, step_target, step_goal).await)
                }
            })
            .buffer_unordered(self.budget.parallel_steps.max(1));
        let mut proved = 0;
        while let Some((step, found)) = steps.next().await {
            if matches!(found, Found::Proved { .. }) {
                proved += 1;
                ctx.publish(target, JobState::Subgoals { proved, total });
            }
            results[step] = Some(found);
        }
        drop(steps);
        self.assemble(ctx, target, goal, &sketch, &results).await
    }

    /// Puts the proved steps back into the sketch and checks the result: `Full` when every
    /// step is proved, `Sketch` for a partial proof.
    async fn assemble(
        &self,
        ctx: &JobContext,
        target: &Target,
        goal: &GoalSpec,
        sketch: &Sketch,
        results: &[Option<Found>],
    ) -> Found {
        let total = sketch.steps.len();
        let proofs: Vec<Option<&str>> = results
            .iter()
            .map(|found| match found {
                Some(Found::Proved { proof, .. } | Found::Partial { proof, .. }) => {
                    Some(proof.as_str())
                }
                _ => None,
            })
            .collect();
        let proved = results
            .iter()
            .filter(|f| matches!(f, Some(Found::Proved { .. })))
            .count();
        let assembled = sketch.fill(&proofs);
        if proved == total {
            let (verdict, version) = self
                .check(
                    ctx,
                    Place { target, goal },
                    &assembled,
                    CheckMode::Full,
                    CandidateSource::Assembled,
                    None,
                )
                .await;
            return match verdict {
                PipelineVerdict::Verified { .. } => Found::Proved {
                    proof: assembled,
                    version,
                },
                PipelineVerdict::Rejected(rejection) => Found::Failed(format!(
                    "every step was proved but the assembled proof was rejected: {}",
                    rejection.message
                )),
            };
        }
        if proofs.iter().all(Option::is_none) {
            return Found::Failed(format!("none of the sketch's {total} steps was proved"));
        }
        let (verdict, version) = self
            .check(
                ctx,
                Place { target, goal },
                &assembled,
                CheckMode::Sketch,
                CandidateSource::Assembled,
                None,
            )
            .await;
        match verdict {
            PipelineVerdict::Verified { .. } => Found::Partial {
                proof: assembled,
                proved,
                total,
                version,
            },
            PipelineVerdict::Rejected(rejection) => Found::Failed(format!(
                "the partial proof was rejected: {}",
                rejection.message
            )),
        }
    }

    /// Shortens a verified proof within the cleanup budget, keeping each variant only if it
    /// verifies; returns the shortest proof that passed and the version it passed at.
    async fn cleanup(
        &self,
        ctx: &JobContext,
        target: &Target,
        mut proof: String,
        mut version: Version,
    ) -> (String, Version) {
        let mut spent = 0;
        let mut tried = std::collections::HashSet::new();
        'shorten: while spent < self.budget.cleanup_checks {
            for variant in shorter_variants(&proof) {
                if spent >= self.budget.cleanup_checks {
                    break 'shorten;
                }
                if !tried.insert(variant.clone()) {
                    continue;
                }
                spent += 1;
                let (verdict, checked_at) = self
                    .check(
                        ctx,
                        Place {
                            target,
                            goal: &ctx.goal,
                        },
                        &variant,
                        CheckMode::Full,
                        CandidateSource::Cleanup,
                        None,
                    )
                    .await;
                if verdict.is_verified() {
                    proof = variant;
                    version = checked_at;
                    continue 'shorten;
                }
            }
            break;
        }
        (proof, version)
    }
}
