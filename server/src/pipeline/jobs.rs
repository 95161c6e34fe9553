//! Jobs: one per hole, with a visible state, the workspace's limits, cancellation and
//! re-anchoring across edits.
//!
//! Invariants: at most one job per (document, hole); a job's state only moves forward to a
//! final state (`Verified`, `Partial`, `Failed`, `Cancelled`) once per run; a `Verified` or
//! `Partial` state names the document version it was checked against, and an edit before
//! the declaration (reported through [`Pipeline::reanchor`]) makes the job check it again
//! at the new version before it is shown as final.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use super::budget::{HoleBudget, WorkspaceLimits};
use super::portfolio::Portfolio;
use super::stages::{JobContext, Place, Stages};
use super::traits::{Attempts, Checker, Decomposer, Prover};
use super::types::{
    Anchor, CandidateSource, CheckMode, GoalSpec, HoleId, JobKey, JobState, JobTally, Target,
    Version,
};

/// A hole to prove.
#[derive(Clone, Debug)]
pub struct JobRequest {
    /// Document, hole and version.
    pub key: JobKey,
    /// The hole's goal as the models see it.
    pub goal: GoalSpec,
    /// The file's imported modules, which decide the portfolio (`Mathlib`, `Aesop`, ...).
    pub imports: Vec<String>,
}

/// A hole that kept its job across an edit elsewhere in its document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moved {
    /// The hole's identity before the edit.
    pub from: HoleId,
    /// Its identity after the edit (often the same).
    pub to: HoleId,
    /// Whether anything before the hole's declaration changed, so a found proof must be
    /// checked again.
    pub prefix_changed: bool,
}

struct JobEntry {
    request: JobRequest,
    token: CancellationToken,
    /// Fired when the user asks for this hole: the job stops waiting for a slot.
    urgent: CancellationToken,
    anchor: watch::Sender<Anchor>,
    state: Arc<watch::Sender<JobState>>,
    tally: Arc<std::sync::Mutex<JobTally>>,
}

/// The pipeline of a workspace: runs jobs under the workspace's limits.
pub struct Pipeline<C, P, D, A> {
    stages: Arc<Stages<C, P, D, A>>,
    hole_permits: Arc<Semaphore>,
    jobs: Mutex<HashMap<(String, HoleId), JobEntry>>,
}

/// A proof already found, to check again instead of searching.
enum Known {
    Verified(String),
    Partial {
        proof: String,
        proved: usize,
        total: usize,
    },
}

impl<C: Checker, P: Prover, D: Decomposer, A: Attempts> Pipeline<C, P, D, A> {
    /// A pipeline with these doors to Lean, the models and the store.
    pub fn new(
        checker: C,
        prover: P,
        decomposer: D,
        store: A,
        portfolio: Portfolio,
        budget: HoleBudget,
        limits: WorkspaceLimits,
    ) -> Self {
        let model_permits = Arc::new(Semaphore::new(limits.concurrent_model_requests.max(1)));
        Pipeline {
            stages: Arc::new(Stages::new(
                checker,
                prover,
                decomposer,
                store,
                portfolio,
                budget,
                model_permits,
            )),
            hole_permits: Arc::new(Semaphore::new(limits.concurrent_holes.max(1))),
            jobs: Mutex::new(HashMap::new()),
        }
    }

    fn jobs(&self) -> MutexGuard<'_, HashMap<(String, HoleId), JobEntry>> {
        // A panic while the map was held leaves it consistent (every change is one insert
        // or remove), so a poisoned lock is still usable.
        self.jobs
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Starts proving a hole (must be called inside a Tokio runtime); a job already running
    /// for the same hole of the document is cancelled and replaced. The receiver follows
    /// the job's state.
    pub fn submit(&self, request: JobRequest) -> watch::Receiver<JobState> {
        self.start(request, None)
    }

    fn start(&self, request: JobRequest, known: Option<Known>) -> watch::Receiver<JobState> {
        let (state_tx, state_rx) = watch::channel(JobState::Queued);
        let state_tx = Arc::new(state_tx);
        let (anchor_tx, anchor_rx) = watch::channel(Anchor {
            version: request.key.version,
            hole: request.key.hole.clone(),
            prefix_changed_at: None,
        });
        let token = CancellationToken::new();
        let urgent = CancellationToken::new();
        let map_key = (request.key.doc.clone(), request.key.hole.clone());
        let tally = Arc::default();
        let ctx = JobContext {
            key: request.key.clone(),
            goal: request.goal.clone(),
            tactics: self.stages.portfolio.for_imports(&request.imports),
            anchor: anchor_rx,
            state: Arc::clone(&state_tx),
            stale: CancellationToken::new(),
            unavailable: std::sync::OnceLock::new(),
            tally: Arc::clone(&tally),
        };
        tokio::spawn(run_job(
            Arc::clone(&self.stages),
            Arc::clone(&self.hole_permits),
            ctx,
            token.clone(),
            urgent.clone(),
            known,
        ));
        let entry = JobEntry {
            request,
            token,
            urgent,
            anchor: anchor_tx,
            state: state_tx,
            tally,
        };
        if let Some(replaced) = self.jobs().insert(map_key, entry) {
            replaced.token.cancel();
        }
        state_rx
    }

    /// Cancels the job of a hole at once (an edit inside its declaration); its model
    /// requests and checks are dropped. A finished job is forgotten. Returns whether there
    /// was a job.
    pub fn cancel(&self, doc: &str, hole: &HoleId) -> bool {
        let removed = self.jobs().remove(&(doc.to_owned(), hole.clone()));
        match removed {
            Some(entry) => {
                entry.token.cancel();
                true
            }
            None => false,
        }
    }

    /// Lets a hole's queued job start now, ahead of the jobs waiting for one of the
    /// workspace's `concurrent_holes` slots (the user asked for this hole). It then runs
    /// beside them without a slot, so the limit is exceeded by the holes the user asked
    /// for. Returns whether there was a job.
    pub fn prioritise(&self, doc: &str, hole: &HoleId) -> bool {
        match self.jobs().get(&(doc.to_owned(), hole.clone())) {
            Some(entry) => {
                entry.urgent.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancels every job of a document (it was closed).
    pub fn cancel_document(&self, doc: &str) {
        let mut jobs = self.jobs();
        jobs.retain(|(job_doc, _), entry| {
            let keep = job_doc != doc;
            if !keep {
                entry.token.cancel();
            }
            keep
        });
    }

    /// The current state of a hole's job.
    pub fn state(&self, doc: &str, hole: &HoleId) -> Option<JobState> {
        self.jobs()
            .get(&(doc.to_owned(), hole.clone()))
            .map(|entry| entry.state.borrow().clone())
    }

    /// The checker behind the gate, for checks outside a job (proofs checked together).
    pub fn checker(&self) -> &C {
        &self.stages.checker
    }

    /// How many checks a hole's job made and which stage found its proof.
    pub fn tally(&self, doc: &str, hole: &HoleId) -> Option<JobTally> {
        self.jobs()
            .get(&(doc.to_owned(), hole.clone()))
            .map(|entry| {
                entry
                    .tally
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone()
            })
    }

    /// A receiver following a hole's job.
    pub fn watch(&self, doc: &str, hole: &HoleId) -> Option<watch::Receiver<JobState>> {
        self.jobs()
            .get(&(doc.to_owned(), hole.clone()))
            .map(|entry| entry.state.subscribe())
    }

    /// Keeps the jobs of `moved` holes alive across an edit elsewhere in `doc` (from
    /// `old_version` to `new_version`). A running job checks against the new version from
    /// now on; a found proof is checked again when the edit changed anything before its
    /// declaration, and otherwise simply moves to the new version. Jobs of other holes are
    /// left alone (the caller cancels those the edit touched). Returns how many jobs moved.
    pub fn reanchor(
        &self,
        doc: &str,
        old_version: Version,
        new_version: Version,
        moved: &[Moved],
    ) -> usize {
        let mut restarts = Vec::new();
        let mut count = 0;
        {
            let mut jobs = self.jobs();
            for hole in moved {
                let from = (doc.to_owned(), hole.from.clone());
                let current = jobs
                    .get(&from)
                    .is_some_and(|entry| entry.anchor.borrow().version == old_version);
                let Some(mut entry) = current.then(|| jobs.remove(&from)).flatten() else {
                    continue;
                };
                count += 1;
                entry.anchor.send_modify(|anchor| {
                    anchor.version = new_version;
                    anchor.hole = hole.to.clone();
                    if hole.prefix_changed {
                        anchor.prefix_changed_at = Some(new_version);
                    }
                });
                entry.request.key.version = new_version;
                entry.request.key.hole = hole.to.clone();
                let finished = entry.state.borrow().clone();
                match finished {
                    JobState::Verified { proof, .. } if hole.prefix_changed => {
                        restarts.push((entry.request.clone(), Known::Verified(proof)));
                    }
                    JobState::Partial {
                        proof,
                        proved,
                        total,
                        ..
                    } if hole.prefix_changed => {
                        restarts.push((
                            entry.request.clone(),
                            Known::Partial {
                                proof,
                                proved,
                                total,
                            },
                        ));
                    }
                    JobState::Verified { .. } | JobState::Partial { .. } => {
                        // Nothing the proof depends on changed: it holds at the new version.
                        entry.state.send_modify(|state| match state {
                            JobState::Verified { version, .. }
                            | JobState::Partial { version, .. } => *version = new_version,
                            _ => {}
                        });
                    }
                    _ => {}
                }
                jobs.insert((doc.to_owned(), hole.to.clone()), entry);
            }
        }
        for (request, known) in restarts {
            self.start(request, Some(known));
        }
        count
    }
}

impl<C, P, D, A> Drop for Pipeline<C, P, D, A> {
    fn drop(&mut self) {
        // Jobs run on their own tasks; without their pipeline nobody could cancel them.
        let jobs = self
            .jobs
            .get_mut()
            .unwrap_or_else(|poison| poison.into_inner());
        for entry in jobs.values() {
            entry.token.cancel();
        }
    }
}

/// One job from the queue to its final state.
async fn run_job<C: Checker, P: Prover, D: Decomposer, A: Attempts>(
    stages: Arc<Stages<C, P, D, A>>,
    hole_permits: Arc<Semaphore>,
    ctx: JobContext,
    token: CancellationToken,
    urgent: CancellationToken,
    known: Option<Known>,
) {
    let state = Arc::clone(&ctx.state);
    // An urgent job holds no slot (`None`); it never waits behind the queue.
    let permit = tokio::select! {
        biased;
        () = token.cancelled() => {
            state.send_replace(JobState::Cancelled);
            return;
        }
        () = urgent.cancelled() => Ok(None),
        permit = hole_permits.acquire_owned() => permit.map(Some),
    };
    if permit.is_err() {
        state.send_replace(JobState::Failed {
            reason: "the pipeline is shutting down".into(),
        });
        return;
    }
    let wall_time = stages.budget.wall_time;
    let work = prove_and_confirm(&stages, &ctx, known);
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(wall_time, work) => match outcome {
            Ok(outcome) => outcome,
            Err(_) => JobState::Failed {
                reason: format!("the wall-time budget of {} s was spent", wall_time.as_secs()),
            },
        },
        () = token.cancelled() => JobState::Cancelled,
        () = ctx.stale.cancelled() => JobState::Failed {
            reason: "the document version is no longer current".into(),
        },
    };
    // The log is where a user (or CI) finds out why a hole was not proved.
    let version = ctx.anchor.borrow().version;
    let (doc, hole) = (&ctx.key.doc, &ctx.key.hole);
    match &outcome {
        JobState::Failed { reason } => {
            tracing::info!(uri = %doc, %hole, version, %reason, "job failed");
        }
        JobState::Cancelled => tracing::info!(uri = %doc, %hole, version, "job cancelled"),
        _ => tracing::info!(uri = %doc, %hole, version, "job ended with a proof"),
    }
    state.send_replace(outcome);
}

/// Proves the hole (or re-checks a known proof), and checks the result again while edits
/// above the declaration happened after it was verified.
async fn prove_and_confirm<C: Checker, P: Prover, D: Decomposer, A: Attempts>(
    stages: &Stages<C, P, D, A>,
    ctx: &JobContext,
    known: Option<Known>,
) -> JobState {
    let mut outcome = match known {
        Some(known) => match recheck(stages, ctx, known).await {
            Some(outcome) => outcome,
            None => stages.run(ctx).await,
        },
        None => stages.run(ctx).await,
    };
    // Each round either confirms at the newest version or searches again; edits keep
    // coming only while the user types, and the wall-time budget bounds it all.
    loop {
        let checked_at = match &outcome {
            JobState::Verified { version, .. } | JobState::Partial { version, .. } => *version,
            _ => return outcome,
        };
        if !ctx.anchor.borrow().needs_recheck(checked_at) {
            return outcome;
        }
        let known = match outcome {
            JobState::Verified { proof, .. } => Known::Verified(proof),
            JobState::Partial {
                proof,
                proved,
                total,
                ..
            } => Known::Partial {
                proof,
                proved,
                total,
            },
            other => return other,
        };
        outcome = match recheck(stages, ctx, known).await {
            Some(confirmed) => confirmed,
            None => stages.run(ctx).await,
        };
    }
}

/// Checks a known proof at the current version; `None` when it no longer passes.
async fn recheck<C: Checker, P: Prover, D: Decomposer, A: Attempts>(
    stages: &Stages<C, P, D, A>,
    ctx: &JobContext,
    known: Known,
) -> Option<JobState> {
    ctx.state.send_replace(JobState::Reverifying);
    let target = Target::hole(&ctx.key);
    let (proof, mode) = match &known {
        Known::Verified(proof) => (proof, CheckMode::Full),
        Known::Partial { proof, .. } => (proof, CheckMode::Sketch),
    };
    let (verdict, version) = stages
        .check(
            ctx,
            Place {
                target: &target,
                goal: &ctx.goal,
            },
            proof,
            mode,
            CandidateSource::Recheck,
            None,
        )
        .await;
    if !verdict.is_verified() {
        return None;
    }
    Some(match known {
        Known::Verified(proof) => JobState::Verified { proof, version },
        Known::Partial {
            proof,
            proved,
            total,
        } => JobState::Partial {
            proof,
            proved,
            total,
            version,
        },
    })
}
