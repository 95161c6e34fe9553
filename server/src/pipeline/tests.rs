//! Behaviour of whole jobs against fake Lean, models and store that record what they are
//! asked, under Tokio's paused clock so delays cost no real time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::*;

type Oracle = dyn Fn(&Target, &str, CheckMode) -> PipelineVerdict + Send + Sync;

/// One check as the fake Lean saw it.
#[derive(Clone, Debug)]
struct Call {
    depth: usize,
    version: Version,
    hole: HoleId,
    proof: String,
    rendered: String,
    mode: CheckMode,
}

/// Counts things in flight and remembers the most seen at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    fn enter(self: &Arc<Self>) -> GaugeGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        GaugeGuard(Arc::clone(self))
    }
    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

struct GaugeGuard(Arc<Gauge>);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Marks a request as cancelled when it is dropped before it finished.
struct DropWatch {
    finished: bool,
    cancelled: Arc<AtomicUsize>,
}

impl Drop for DropWatch {
    fn drop(&mut self) {
        if !self.finished {
            self.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[derive(Clone)]
struct FakeLean {
    oracle: Arc<Oracle>,
    delay: Duration,
    /// Proofs that take longer than `delay` to check.
    slow: Arc<HashMap<String, Duration>>,
    calls: Arc<Mutex<Vec<Call>>>,
    holes_in_flight: Arc<Mutex<HashMap<HoleId, usize>>>,
    max_holes_in_flight: Arc<AtomicUsize>,
}

impl FakeLean {
    fn new(
        oracle: impl Fn(&Target, &str, CheckMode) -> PipelineVerdict + Send + Sync + 'static,
    ) -> Self {
        FakeLean {
            oracle: Arc::new(oracle),
            delay: Duration::from_millis(50),
            slow: Arc::default(),
            calls: Arc::default(),
            holes_in_flight: Arc::default(),
            max_holes_in_flight: Arc::default(),
        }
    }
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("test lock").clone()
    }
}

impl Checker for FakeLean {
    async fn check(&self, target: &Target, proof: &str, mode: CheckMode) -> PipelineVerdict {
        {
            let mut holes = self.holes_in_flight.lock().expect("test lock");
            *holes.entry(target.hole.clone()).or_default() += 1;
            self.max_holes_in_flight
                .fetch_max(holes.len(), Ordering::SeqCst);
        }
        self.calls.lock().expect("test lock").push(Call {
            depth: target.depth(),
            version: target.version,
            hole: target.hole.clone(),
            proof: proof.to_owned(),
            rendered: target.render(proof),
            mode,
        });
        tokio::time::sleep(self.slow.get(proof).copied().unwrap_or(self.delay)).await;
        let mut holes = self.holes_in_flight.lock().expect("test lock");
        if let Some(count) = holes.get_mut(&target.hole) {
            *count -= 1;
            if *count == 0 {
                holes.remove(&target.hole);
            }
        }
        (self.oracle)(target, proof, mode)
    }

    async fn check_together(
        &self,
        _doc: &str,
        _version: i32,
        _fills: &[(HoleId, String)],
    ) -> PipelineVerdict {
        PipelineVerdict::rejected(RejectKind::Gate, "this fake checks holes one at a time")
    }
}

/// A prover request as the fake saw it: the goal's target, the sample index, the repair.
type Request = (String, usize, Option<Repair>);

type Answer = dyn Fn(&GoalSpec, usize, Option<&Repair>) -> Option<String> + Send + Sync;

#[derive(Clone)]
struct FakeProver {
    answer: Arc<Answer>,
    delay: Arc<dyn Fn(usize) -> Duration + Send + Sync>,
    started: Arc<AtomicUsize>,
    finished: Arc<AtomicUsize>,
    cancelled: Arc<AtomicUsize>,
    in_flight: Arc<Gauge>,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeProver {
    fn new(
        answer: impl Fn(&GoalSpec, usize, Option<&Repair>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        FakeProver {
            answer: Arc::new(answer),
            delay: Arc::new(|_| Duration::from_millis(100)),
            started: Arc::default(),
            finished: Arc::default(),
            cancelled: Arc::default(),
            in_flight: Arc::default(),
            requests: Arc::default(),
        }
    }
    fn with_delay(mut self, delay: impl Fn(usize) -> Duration + Send + Sync + 'static) -> Self {
        self.delay = Arc::new(delay);
        self
    }
    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
    fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
    }
}

impl Prover for FakeProver {
    async fn sample(
        &self,
        goal: &GoalSpec,
        index: usize,
        repair: Option<&Repair>,
    ) -> Result<Candidate, ModelFailure> {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.requests.lock().expect("test lock").push((
            goal.target.clone(),
            index,
            repair.cloned(),
        ));
        let _in_flight = self.in_flight.enter();
        let mut watch = DropWatch {
            finished: false,
            cancelled: Arc::clone(&self.cancelled),
        };
        tokio::time::sleep((self.delay)(index)).await;
        watch.finished = true;
        self.finished.fetch_add(1, Ordering::SeqCst);
        match (self.answer)(goal, index, repair) {
            Some(body) => Ok(Candidate {
                body,
                model: Some("fake-prover".into()),
            }),
            None => Err(ModelFailure("no answer".into())),
        }
    }
}

#[derive(Clone, Default)]
struct FakeDecomposer {
    sketches: Arc<HashMap<String, String>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl FakeDecomposer {
    fn new(sketches: &[(&str, &str)]) -> Self {
        FakeDecomposer {
            sketches: Arc::new(
                sketches
                    .iter()
                    .map(|(goal, sketch)| ((*goal).to_owned(), (*sketch).to_owned()))
                    .collect(),
            ),
            asked: Arc::default(),
        }
    }
    fn asked(&self) -> Vec<String> {
        self.asked.lock().expect("test lock").clone()
    }
}

impl Decomposer for FakeDecomposer {
    async fn sketch(&self, goal: &GoalSpec) -> Result<Option<Sketch>, ModelFailure> {
        self.asked
            .lock()
            .expect("test lock")
            .push(goal.target.clone());
        tokio::time::sleep(Duration::from_millis(200)).await;
        match self.sketches.get(&goal.target) {
            Some(text) => Sketch::scan(text)
                .map(Some)
                .map_err(|e| ModelFailure(e.to_string())),
            None => Ok(None),
        }
    }
}

#[derive(Clone, Default)]
struct FakeStore {
    records: Arc<Mutex<Vec<AttemptRecord>>>,
    cache: Arc<HashMap<String, String>>,
}

impl Attempts for FakeStore {
    fn record(&self, attempt: AttemptRecord) {
        self.records.lock().expect("test lock").push(attempt);
    }
    async fn cached(&self, goal: &GoalSpec) -> Option<String> {
        self.cache.get(&goal.target).cloned()
    }
}

/// The hole `ordinal` of declaration `declaration`, written `decl#n`.
fn hole(name: &str) -> HoleId {
    let (declaration, ordinal) = name.split_once('#').unwrap_or((name, "0"));
    HoleId {
        declaration: declaration.to_owned(),
        ordinal: ordinal.parse().expect("test hole names end in #<number>"),
    }
}

fn goal(target: &str) -> GoalSpec {
    GoalSpec {
        header: "import Mathlib".into(),
        name: "hole".into(),
        binders: vec!["(x : ℕ)".into()],
        target: target.into(),
    }
}

fn request(hole: &str, target: &str, imports: &[&str]) -> JobRequest {
    JobRequest {
        key: JobKey {
            doc: "file:///p/A.lean".into(),
            hole: self::hole(hole),
            version: 1,
        },
        goal: goal(target),
        imports: imports.iter().map(|i| (*i).to_owned()).collect(),
    }
}

fn lean_error(message: &str) -> PipelineVerdict {
    PipelineVerdict::rejected(RejectKind::Lean, message)
}

fn verdict(ok: bool) -> PipelineVerdict {
    if ok {
        PipelineVerdict::verified()
    } else {
        lean_error("unsolved goals")
    }
}

fn budget() -> HoleBudget {
    HoleBudget {
        parallel_tactics: 1,
        cleanup_checks: 0,
        ..HoleBudget::default()
    }
}

async fn final_state(rx: &mut watch::Receiver<JobState>) -> JobState {
    rx.wait_for(JobState::is_final)
        .await
        .expect("the job task publishes a final state before it ends")
        .clone()
}

/// Every distinct state a job shows, in order.
fn record_states(mut rx: watch::Receiver<JobState>) -> Arc<Mutex<Vec<JobState>>> {
    let seen = Arc::new(Mutex::new(vec![rx.borrow().clone()]));
    let sink = Arc::clone(&seen);
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let state = rx.borrow_and_update().clone();
            let mut seen = sink.lock().expect("test lock");
            if seen.last() != Some(&state) {
                seen.push(state);
            }
        }
    });
    seen
}

#[tokio::test(start_paused = true)]
async fn the_portfolio_proves_a_hole_without_any_model_call() {
    let lean = FakeLean::new(|_, proof, mode| verdict(mode == CheckMode::Full && proof == "omega"));
    let prover = FakeProver::new(|_, _, _| Some("nlinarith".into()));
    let decomposer = FakeDecomposer::default();
    let pipeline = Pipeline::new(
        lean.clone(),
        prover.clone(),
        decomposer.clone(),
        NoStore,
        Portfolio::default(),
        budget(),
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "x + 0 = x", &[]));
    assert_eq!(
        final_state(&mut rx).await,
        JobState::Verified {
            proof: "omega".into(),
            version: 1
        }
    );
    let tried: Vec<String> = lean.calls().into_iter().map(|c| c.proof).collect();
    assert_eq!(
        tried,
        ["rfl", "decide", "omega"],
        "cheapest first, stop at the first"
    );
    assert_eq!(prover.started(), 0);
    assert!(decomposer.asked().is_empty());
}

/// The earliest tactic in portfolio order wins, not the first check to finish, so the same
/// hole gets the same proof from run to run; a much slower earlier check does not hold the
/// hole up beyond the window.
#[tokio::test(start_paused = true)]
async fn the_earliest_verified_tactic_wins_not_the_first_to_finish() {
    let run = |rfl_check: Duration| async move {
        let mut lean = FakeLean::new(|_, proof, mode| {
            verdict(mode == CheckMode::Full && (proof == "rfl" || proof == "decide"))
        });
        lean.slow = Arc::new(HashMap::from([("rfl".to_owned(), rfl_check)]));
        let pipeline = Pipeline::new(
            lean.clone(),
            NoProver,
            NoDecomposer,
            NoStore,
            Portfolio::new(["rfl".to_owned(), "decide".to_owned(), "omega".to_owned()]),
            HoleBudget {
                parallel_tactics: 2,
                cleanup_checks: 0,
                ..budget()
            },
            WorkspaceLimits::default(),
        );
        let mut rx = pipeline.submit(request("h1", "2 = 2", &[]));
        let proof = match final_state(&mut rx).await {
            JobState::Verified { proof, .. } => proof,
            other => panic!("not verified: {other:?}"),
        };
        let checked: Vec<String> = lean.calls().into_iter().map(|call| call.proof).collect();
        (proof, checked)
    };
    let (proof, checked) = run(Duration::from_millis(500)).await;
    assert_eq!(proof, "rfl", "decide finished first, rfl comes first");
    assert!(
        !checked.contains(&"omega".to_owned()),
        "no later tactic is started once one verified: {checked:?}"
    );
    let (proof, _) = run(Duration::from_secs(60)).await;
    assert_eq!(
        proof, "decide",
        "an earlier check past the window is not waited for"
    );
}

#[tokio::test(start_paused = true)]
async fn a_file_without_mathlib_never_tries_mathlib_tactics() {
    let lean = FakeLean::new(|_, _, _| lean_error("no"));
    let pipeline = Pipeline::new(
        lean.clone(),
        NoProver,
        NoDecomposer,
        NoStore,
        Portfolio::default(),
        HoleBudget {
            use_models: false,
            ..budget()
        },
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "P", &["Init"]));
    assert!(matches!(
        final_state(&mut rx).await,
        JobState::Failed { .. }
    ));
    let tried: Vec<String> = lean.calls().into_iter().map(|c| c.proof).collect();
    assert!(tried.iter().any(|t| t == "omega"));
    assert!(
        !tried
            .iter()
            .any(|t| t == "linarith" || t == "norm_num" || t == "aesop")
    );
}

#[tokio::test(start_paused = true)]
async fn prover_sample_three_of_eight_wins_and_the_rest_are_cancelled() {
    let lean = FakeLean::new(|_, proof, _| verdict(proof == "sample 2"));
    // Sample i answers after (i + 1) × 100 ms, so sample 2 (the third) is the first good one.
    let prover = FakeProver::new(|_, index, _| Some(format!("sample {index}")))
        .with_delay(|index| Duration::from_millis(100 * (index as u64 + 1)));
    let pipeline = Pipeline::new(
        lean.clone(),
        prover.clone(),
        NoDecomposer,
        NoStore,
        Portfolio::new([]),
        budget(),
        WorkspaceLimits {
            concurrent_model_requests: 8,
            ..WorkspaceLimits::default()
        },
    );
    let states = record_states(pipeline.submit(request("h1", "P", &[])));
    let mut rx = pipeline
        .watch("file:///p/A.lean", &hole("h1"))
        .expect("the job exists");
    assert_eq!(
        final_state(&mut rx).await,
        JobState::Verified {
            proof: "sample 2".into(),
            version: 1
        }
    );
    assert_eq!(prover.started(), 8);
    assert_eq!(prover.finished.load(Ordering::SeqCst), 3);
    assert_eq!(
        prover.cancelled(),
        5,
        "the five slower requests are dropped"
    );
    assert_eq!(
        lean.calls().len(),
        3,
        "no candidate after the winner is checked"
    );
    assert!(
        states
            .lock()
            .expect("test lock")
            .contains(&JobState::Prover {
                received: 2,
                samples: 8
            })
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_sample_gets_one_repair_with_leans_message() {
    let lean = FakeLean::new(|_, proof, _| match proof {
        "fixed" => PipelineVerdict::verified(),
        _ => lean_error("unknown identifier 'foo'"),
    });
    let prover = FakeProver::new(|_, _, repair| {
        Some(match repair {
            Some(r) if r.error.contains("unknown identifier") => "fixed".into(),
            _ => "exact foo".into(),
        })
    });
    let pipeline = Pipeline::new(
        lean,
        prover.clone(),
        NoDecomposer,
        NoStore,
        Portfolio::new([]),
        HoleBudget {
            samples: 2,
            repairs: 1,
            ..budget()
        },
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    assert!(
        matches!(final_state(&mut rx).await, JobState::Verified { proof, .. } if proof == "fixed")
    );
    let requests = prover.requests.lock().expect("test lock").clone();
    let repairs: Vec<_> = requests.iter().filter(|r| r.2.is_some()).collect();
    assert_eq!(repairs.len(), 1, "one repair round, for one failure");
    assert_eq!(
        repairs[0].2.as_ref().map(|r| r.previous.as_str()),
        Some("exact foo")
    );
}

const TOP_SKETCH: &str =
    "have h1 : A := by sorry\nhave h2 : B := by sorry\nexact combine h1 h2 sorry";

/// Lean for the decomposition tests: the goal itself resists tactics and the prover; the
/// sketch checks; step `i` is proved by `proofs[i]`.
fn decomposition_lean(
    proofs: [&'static str; 3],
    assembled: &'static str,
    partial: Option<&'static str>,
) -> FakeLean {
    FakeLean::new(move |target, proof, mode| match (target.depth(), mode) {
        (0, CheckMode::Sketch) => verdict(proof == TOP_SKETCH || Some(proof) == partial),
        (0, CheckMode::Full) => verdict(proof == assembled),
        (1, CheckMode::Full) => verdict(proof == proofs[target.frames[0].step]),
        _ => lean_error("unexpected check"),
    })
}

fn step_prover() -> FakeProver {
    // The prover closes B (step 2) and the closing step; A is left to the tactics.
    FakeProver::new(|goal, _, _| match goal.target.as_str() {
        "B" => Some("exact b_of_x x".into()),
        "C" => Some("exact c".into()),
        _ => Some("exact wrong".into()),
    })
}

#[tokio::test(start_paused = true)]
async fn a_sketch_with_three_proved_steps_is_assembled_and_checked_in_full() {
    let assembled = "have h1 : A := by simp\nhave h2 : B := by exact b_of_x x\nexact combine h1 h2 (by exact c)";
    let lean = decomposition_lean(["simp", "exact b_of_x x", "exact c"], assembled, None);
    let decomposer = FakeDecomposer::new(&[("C", TOP_SKETCH)]);
    let pipeline = Pipeline::new(
        lean.clone(),
        step_prover(),
        decomposer.clone(),
        NoStore,
        Portfolio::new(["simp".into()]),
        HoleBudget {
            samples: 2,
            decomposition_depth: 1,
            ..budget()
        },
        WorkspaceLimits::default(),
    );
    let states = record_states(pipeline.submit(request("h1", "C", &[])));
    let mut rx = pipeline
        .watch("file:///p/A.lean", &hole("h1"))
        .expect("the job exists");
    // The closing `sorry` has goal C, which the fake prover closes with `exact c`: but at
    // depth 0 that answer is rejected, so only the sketch's step uses it.
    assert_eq!(
        final_state(&mut rx).await,
        JobState::Verified {
            proof: assembled.into(),
            version: 1
        }
    );
    assert_eq!(decomposer.asked(), ["C"]);
    let calls = lean.calls();
    let last = calls.last().expect("checks were made");
    assert_eq!((last.depth, last.mode), (0, CheckMode::Full));
    assert_eq!(last.rendered, assembled);
    // Each step was checked in place: the sketch around it, the other steps still `sorry`.
    assert!(calls.iter().any(|c| c.depth == 1
        && c.rendered
            == "have h1 : A := by simp\nhave h2 : B := by sorry\nexact combine h1 h2 sorry"));
    let states = states.lock().expect("test lock").clone();
    assert!(states.contains(&JobState::Decomposing));
    assert!(states.contains(&JobState::Subgoals {
        proved: 0,
        total: 3
    }));
    assert!(states.contains(&JobState::Subgoals {
        proved: 3,
        total: 3
    }));
}

#[tokio::test(start_paused = true)]
async fn a_step_that_resists_is_decomposed_again_at_the_second_level() {
    const INNER: &str = "have b1 : B1 := by sorry\nexact b_of b1";
    let assembled = "have h1 : A := by simp\nhave h2 : B := by\n  have b1 : B1 := by exact b1_proof\n  exact b_of b1\nexact combine h1 h2 (by exact c)";
    let lean = FakeLean::new(move |target, proof, mode| match (target.depth(), mode) {
        (0, CheckMode::Sketch) => verdict(proof == TOP_SKETCH),
        (0, CheckMode::Full) => verdict(proof == assembled),
        (1, CheckMode::Sketch) => verdict(target.frames[0].step == 1 && proof == INNER),
        (1, CheckMode::Full) => verdict(match target.frames[0].step {
            0 => proof == "simp",
            1 => proof == "have b1 : B1 := by exact b1_proof\nexact b_of b1",
            _ => proof == "exact c",
        }),
        (2, CheckMode::Full) => verdict(proof == "exact b1_proof"),
        _ => lean_error("unexpected check"),
    });
    let prover = FakeProver::new(|goal, _, _| match goal.target.as_str() {
        "B1" => Some("exact b1_proof".into()),
        "C" => Some("exact c".into()),
        _ => Some("exact wrong".into()),
    });
    let decomposer = FakeDecomposer::new(&[("C", TOP_SKETCH), ("B", INNER)]);
    let pipeline = Pipeline::new(
        lean.clone(),
        prover,
        decomposer.clone(),
        NoStore,
        Portfolio::new(["simp".into()]),
        HoleBudget {
            samples: 2,
            decomposition_depth: 2,
            ..budget()
        },
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "C", &[]));
    assert_eq!(
        final_state(&mut rx).await,
        JobState::Verified {
            proof: assembled.into(),
            version: 1
        }
    );
    let mut asked = decomposer.asked();
    asked.sort();
    // A was closed by a tactic and the closing step by the prover, so only C and B needed
    // a sketch; B1 is at the depth limit.
    assert_eq!(asked, ["B", "C"]);
    assert!(lean.calls().iter().any(|c| c.depth == 2));
}

#[tokio::test(start_paused = true)]
async fn two_of_three_steps_give_a_partial_proof_checked_as_a_sketch() {
    let partial =
        "have h1 : A := by simp\nhave h2 : B := by sorry\nexact combine h1 h2 (by exact c)";
    // Step 2 (B) accepts nothing.
    let lean = decomposition_lean(["simp", "never", "exact c"], "never", Some(partial));
    let decomposer = FakeDecomposer::new(&[("C", TOP_SKETCH)]);
    let pipeline = Pipeline::new(
        lean.clone(),
        step_prover(),
        decomposer,
        NoStore,
        Portfolio::new(["simp".into()]),
        HoleBudget {
            samples: 2,
            decomposition_depth: 1,
            ..budget()
        },
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "C", &[]));
    assert_eq!(
        final_state(&mut rx).await,
        JobState::Partial {
            proof: partial.into(),
            proved: 2,
            total: 3,
            version: 1
        }
    );
    let last = lean.calls().last().cloned().expect("checks were made");
    assert_eq!((last.depth, last.mode), (0, CheckMode::Sketch));
}

#[tokio::test(start_paused = true)]
async fn cancelling_mid_job_drops_the_model_requests() {
    let lean = FakeLean::new(|_, _, _| lean_error("no"));
    let prover =
        FakeProver::new(|_, _, _| Some("late".into())).with_delay(|_| Duration::from_secs(3600));
    let pipeline = Pipeline::new(
        lean,
        prover.clone(),
        NoDecomposer,
        NoStore,
        Portfolio::new([]),
        budget(),
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    rx.wait_for(|s| matches!(s, JobState::Prover { .. }))
        .await
        .expect("the job reaches the prover");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(pipeline.cancel("file:///p/A.lean", &hole("h1")));
    assert_eq!(final_state(&mut rx).await, JobState::Cancelled);
    tokio::task::yield_now().await;
    assert!(prover.started() > 0);
    assert_eq!(
        prover.cancelled(),
        prover.started(),
        "every request was dropped"
    );
    assert_eq!(pipeline.state("file:///p/A.lean", &hole("h1")), None);
}

#[tokio::test(start_paused = true)]
async fn the_wall_time_budget_ends_a_job() {
    let lean = FakeLean::new(|_, _, _| lean_error("no"));
    let prover =
        FakeProver::new(|_, _, _| Some("late".into())).with_delay(|_| Duration::from_secs(3600));
    let pipeline = Pipeline::new(
        lean,
        prover.clone(),
        NoDecomposer,
        NoStore,
        Portfolio::new([]),
        HoleBudget {
            wall_time: Duration::from_secs(30),
            ..budget()
        },
        WorkspaceLimits::default(),
    );
    let started = tokio::time::Instant::now();
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    let state = final_state(&mut rx).await;
    assert!(
        matches!(&state, JobState::Failed { reason } if reason.contains("wall-time")),
        "{state:?}"
    );
    assert_eq!(started.elapsed().as_secs(), 30);
    tokio::task::yield_now().await;
    assert_eq!(prover.cancelled(), prover.started());
}

#[tokio::test(start_paused = true)]
async fn workspace_limits_bound_holes_and_model_requests_in_flight() {
    let lean = FakeLean::new(|_, _, _| lean_error("no"));
    let prover = FakeProver::new(|_, _, _| Some("bad".into()));
    let pipeline = Pipeline::new(
        lean.clone(),
        prover.clone(),
        NoDecomposer,
        NoStore,
        Portfolio::new(["simp".into()]),
        HoleBudget {
            samples: 8,
            repairs: 0,
            ..budget()
        },
        WorkspaceLimits {
            concurrent_holes: 2,
            concurrent_model_requests: 3,
        },
    );
    let mut receivers: Vec<_> = ["h1", "h2", "h3", "h4"]
        .into_iter()
        .map(|hole| pipeline.submit(request(hole, "P", &[])))
        .collect();
    tokio::task::yield_now().await;
    assert_eq!(*receivers[3].borrow(), JobState::Queued);
    for rx in &mut receivers {
        assert!(matches!(final_state(rx).await, JobState::Failed { .. }));
    }
    assert_eq!(prover.started(), 32);
    assert_eq!(prover.in_flight.max(), 3, "model requests are capped");
    assert_eq!(
        lean.max_holes_in_flight.load(Ordering::SeqCst),
        2,
        "holes are capped"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stale_version_ends_the_job_without_further_model_calls() {
    let lean =
        FakeLean::new(|_, _, _| PipelineVerdict::rejected(RejectKind::Stale, "version 1 is gone"));
    let prover = FakeProver::new(|_, _, _| Some("x".into()));
    let pipeline = Pipeline::new(
        lean,
        prover.clone(),
        NoDecomposer,
        NoStore,
        Portfolio::new(["simp".into()]),
        budget(),
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    assert!(
        matches!(final_state(&mut rx).await, JobState::Failed { reason } if reason.contains("no longer current"))
    );
    assert_eq!(prover.started(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_cached_proof_is_rechecked_and_used_without_other_work() {
    let lean = FakeLean::new(|_, proof, _| verdict(proof == "cached proof"));
    let store = FakeStore {
        cache: Arc::new(HashMap::from([("P".to_owned(), "cached proof".to_owned())])),
        ..FakeStore::default()
    };
    let prover = FakeProver::new(|_, _, _| Some("x".into()));
    let pipeline = Pipeline::new(
        lean.clone(),
        prover.clone(),
        NoDecomposer,
        store.clone(),
        Portfolio::default(),
        budget(),
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "P", &["Mathlib"]));
    assert!(
        matches!(final_state(&mut rx).await, JobState::Verified { proof, .. } if proof == "cached proof")
    );
    assert_eq!(lean.calls().len(), 1, "one Lean check for the cache hit");
    assert_eq!(prover.started(), 0);
    let records = store.records.lock().expect("test lock").clone();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].source, CandidateSource::Cache);
    assert!(records[0].verdict.is_verified());
}

#[tokio::test(start_paused = true)]
async fn a_cached_proof_of_several_steps_is_not_cleaned_up_again() {
    let cached = "have h : Q := by simp\ncached proof";
    let lean = FakeLean::new(move |_, proof, _| verdict(proof == cached));
    let store = FakeStore {
        cache: Arc::new(HashMap::from([("P".to_owned(), cached.to_owned())])),
        ..FakeStore::default()
    };
    let pipeline = Pipeline::new(
        lean.clone(),
        FakeProver::new(|_, _, _| None),
        NoDecomposer,
        store,
        Portfolio::default(),
        HoleBudget {
            cleanup_checks: 6,
            ..budget()
        },
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "P", &["Mathlib"]));
    assert!(
        matches!(final_state(&mut rx).await, JobState::Verified { proof, .. } if proof == cached)
    );
    assert_eq!(
        lean.calls().len(),
        1,
        "one Lean check for the cache hit, no shorter variants"
    );
}

#[tokio::test(start_paused = true)]
async fn every_check_is_recorded_as_an_attempt() {
    let lean = FakeLean::new(|_, proof, _| verdict(proof == "sample 1"));
    let store = FakeStore::default();
    let prover = FakeProver::new(|_, index, _| Some(format!("sample {index}")))
        .with_delay(|index| Duration::from_millis(100 * (index as u64 + 1)));
    let pipeline = Pipeline::new(
        lean.clone(),
        prover,
        NoDecomposer,
        store.clone(),
        Portfolio::new(["simp".into()]),
        HoleBudget {
            samples: 2,
            ..budget()
        },
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    final_state(&mut rx).await;
    let records = store.records.lock().expect("test lock").clone();
    let sources: Vec<_> = records.iter().map(|r| r.source.clone()).collect();
    assert_eq!(
        sources,
        [
            CandidateSource::Tactic,
            CandidateSource::Prover { index: 0 },
            CandidateSource::Prover { index: 1 }
        ]
    );
    assert_eq!(records[1].model.as_deref(), Some("fake-prover"));
    assert_eq!(records.len(), lean.calls().len());
}

#[tokio::test(start_paused = true)]
async fn leans_try_this_replacement_is_preferred_when_it_verifies() {
    let lean = FakeLean::new(|_, proof, _| match proof {
        "exact?" => PipelineVerdict::Verified {
            replacement: Some("exact Nat.le_refl x".into()),
        },
        "exact Nat.le_refl x" => PipelineVerdict::verified(),
        _ => lean_error("no"),
    });
    let pipeline = Pipeline::new(
        lean,
        NoProver,
        NoDecomposer,
        NoStore,
        Portfolio::new(["exact?".into()]),
        budget(),
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "x ≤ x", &[]));
    assert!(
        matches!(final_state(&mut rx).await, JobState::Verified { proof, .. } if proof == "exact Nat.le_refl x")
    );
}

#[tokio::test(start_paused = true)]
async fn cleanup_keeps_the_shortest_variant_that_verifies() {
    let lean = FakeLean::new(|_, proof, _| verdict(proof.ends_with("nlinarith [sq_nonneg x]")));
    let prover = FakeProver::new(|_, _, _| {
        Some(
            "have h : x = x := rfl\nhave h' : 0 ≤ x := by\n  positivity\nnlinarith [sq_nonneg x]"
                .into(),
        )
    });
    let pipeline = Pipeline::new(
        lean,
        prover,
        NoDecomposer,
        NoStore,
        Portfolio::new([]),
        HoleBudget {
            samples: 1,
            cleanup_checks: 6,
            ..budget()
        },
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "0 ≤ x ^ 2", &[]));
    assert!(
        matches!(final_state(&mut rx).await, JobState::Verified { proof, .. } if proof == "nlinarith [sq_nonneg x]")
    );
}

#[tokio::test(start_paused = true)]
async fn cache_hits_replacements_and_shorter_variants_must_pass_the_full_gate() {
    // A Lean that accepts anything as a sketch (sorries allowed) and only the honest proof
    // in full: every proof that would pass only as a sketch is a `sorry` in disguise.
    let honest = "have h : 0 ≤ x := Nat.zero_le x\nomega";
    let lean = FakeLean::new(move |_, proof, mode| match (proof, mode) {
        (_, CheckMode::Sketch) => PipelineVerdict::verified(),
        ("exact?", CheckMode::Full) => PipelineVerdict::Verified {
            replacement: Some("sorry".into()),
        },
        (proof, CheckMode::Full) => verdict(proof == honest),
    });
    let store = FakeStore {
        cache: Arc::new(HashMap::from([("P".to_owned(), "sorry".to_owned())])),
        ..FakeStore::default()
    };
    let prover = FakeProver::new(move |_, _, _| Some(honest.to_owned()));
    let pipeline = Pipeline::new(
        lean.clone(),
        prover,
        NoDecomposer,
        store,
        Portfolio::new(["exact?".into()]),
        HoleBudget {
            samples: 1,
            cleanup_checks: 6,
            ..budget()
        },
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    // The portfolio's `exact?` verifies, but its replacement does not, so `exact?` stays.
    assert!(
        matches!(final_state(&mut rx).await, JobState::Verified { proof, .. } if proof == "exact?")
    );
    let depth_zero: Vec<Call> = lean.calls().into_iter().filter(|c| c.depth == 0).collect();
    assert!(
        depth_zero.iter().all(|call| call.mode == CheckMode::Full),
        "{depth_zero:?}"
    );
    assert!(depth_zero.iter().any(|call| call.proof == "sorry"));

    // Without the portfolio, the prover's proof is cleaned up: no shorter variant passes
    // in full, so the whole proof stays, although each would pass as a sketch.
    let cleaning = verified_pipeline_with_prover(lean.clone(), honest);
    let mut rx = cleaning.submit(request("h2", "Q", &[]));
    let state = final_state(&mut rx).await;
    assert!(
        matches!(&state, JobState::Verified { proof, .. } if proof == honest),
        "{state:?}"
    );
    let variants = lean
        .calls()
        .into_iter()
        .filter(|call| call.hole == hole("h2") && call.proof != honest)
        .count();
    assert!(variants > 0, "cleanup tried no shorter variant");
    assert!(lean.calls().iter().all(|call| call.mode == CheckMode::Full));
}

fn verified_pipeline_with_prover(
    lean: FakeLean,
    proof: &'static str,
) -> Pipeline<FakeLean, FakeProver, NoDecomposer, NoStore> {
    Pipeline::new(
        lean,
        FakeProver::new(move |_, _, _| Some(proof.to_owned())),
        NoDecomposer,
        NoStore,
        Portfolio::new([]),
        HoleBudget {
            samples: 1,
            cleanup_checks: 6,
            ..budget()
        },
        WorkspaceLimits::default(),
    )
}

fn verified_pipeline(lean: FakeLean) -> Pipeline<FakeLean, NoProver, NoDecomposer, NoStore> {
    Pipeline::new(
        lean,
        NoProver,
        NoDecomposer,
        NoStore,
        Portfolio::new(["omega".into()]),
        budget(),
        WorkspaceLimits::default(),
    )
}

#[tokio::test(start_paused = true)]
async fn an_edit_above_the_declaration_reverifies_the_found_proof_at_the_new_version() {
    let lean = FakeLean::new(|_, proof, _| verdict(proof == "omega"));
    let pipeline = verified_pipeline(lean.clone());
    let doc = "file:///p/A.lean";
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    assert!(matches!(
        final_state(&mut rx).await,
        JobState::Verified { version: 1, .. }
    ));
    let moved = [Moved {
        from: hole("h1"),
        to: hole("h1#2"),
        prefix_changed: true,
    }];
    assert_eq!(pipeline.reanchor(doc, 1, 2, &moved), 1);
    let mut rx = pipeline.watch(doc, &hole("h1#2")).expect("the job moved");
    assert_eq!(
        final_state(&mut rx).await,
        JobState::Verified {
            proof: "omega".into(),
            version: 2
        }
    );
    let last = lean.calls().last().cloned().expect("checks were made");
    assert_eq!(
        (last.version, last.hole.clone(), last.proof.as_str()),
        (2, hole("h1#2"), "omega")
    );
    assert_eq!(pipeline.state(doc, &hole("h1")), None);
}

#[tokio::test(start_paused = true)]
async fn an_edit_below_moves_the_proof_to_the_new_version_without_a_check() {
    let lean = FakeLean::new(|_, proof, _| verdict(proof == "omega"));
    let pipeline = verified_pipeline(lean.clone());
    let doc = "file:///p/A.lean";
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    final_state(&mut rx).await;
    let checks = lean.calls().len();
    let moved = [Moved {
        from: hole("h1"),
        to: hole("h1"),
        prefix_changed: false,
    }];
    assert_eq!(pipeline.reanchor(doc, 1, 2, &moved), 1);
    assert_eq!(
        pipeline.state(doc, &hole("h1")),
        Some(JobState::Verified {
            proof: "omega".into(),
            version: 2
        })
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(lean.calls().len(), checks);
    // A re-anchor from a version the job is not at changes nothing.
    assert_eq!(pipeline.reanchor(doc, 1, 3, &moved), 0);
}

#[tokio::test(start_paused = true)]
async fn a_running_job_follows_the_new_version_and_confirms_its_proof_there() {
    // The proof is found at version 1 while the edit above arrives: it must be checked at
    // version 2 before it is final.
    let mut lean = FakeLean::new(|_, proof, _| verdict(proof == "decide"));
    lean.delay = Duration::from_secs(1);
    let pipeline = Pipeline::new(
        lean.clone(),
        NoProver,
        NoDecomposer,
        NoStore,
        Portfolio::new(["rfl".into(), "decide".into()]),
        budget(),
        WorkspaceLimits::default(),
    );
    let doc = "file:///p/A.lean";
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    // `rfl` is being checked at version 1; then `decide` will be checked at version 2.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let moved = [Moved {
        from: hole("h1"),
        to: hole("h1"),
        prefix_changed: true,
    }];
    assert_eq!(pipeline.reanchor(doc, 1, 2, &moved), 1);
    assert_eq!(
        final_state(&mut rx).await,
        JobState::Verified {
            proof: "decide".into(),
            version: 2
        }
    );
    let versions: Vec<Version> = lean.calls().iter().map(|c| c.version).collect();
    assert_eq!(versions, [1, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_proof_that_no_longer_checks_after_an_edit_above_is_searched_again() {
    let version_two_seen = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&version_two_seen);
    // At version 2 `omega` stops working and `simp` works instead.
    let lean = FakeLean::new(move |target, proof, _| {
        if target.version == 2 {
            seen.fetch_add(1, Ordering::SeqCst);
            verdict(proof == "simp")
        } else {
            verdict(proof == "omega")
        }
    });
    let pipeline = Pipeline::new(
        lean,
        NoProver,
        NoDecomposer,
        NoStore,
        Portfolio::new(["omega".into(), "simp".into()]),
        budget(),
        WorkspaceLimits::default(),
    );
    let doc = "file:///p/A.lean";
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    final_state(&mut rx).await;
    let moved = [Moved {
        from: hole("h1"),
        to: hole("h1"),
        prefix_changed: true,
    }];
    pipeline.reanchor(doc, 1, 2, &moved);
    let mut rx = pipeline.watch(doc, &hole("h1")).expect("the job moved");
    assert_eq!(
        final_state(&mut rx).await,
        JobState::Verified {
            proof: "simp".into(),
            version: 2
        }
    );
    // The re-check of `omega`, then the portfolio again: `omega`, `simp`.
    assert_eq!(version_two_seen.load(Ordering::SeqCst), 3);
}

/// A job whose check at version 1 (1 s long) sees version 2 become current at 0.5 s and is
/// re-anchored to it `reanchor_at` after that: it must end verified at version 2, having
/// checked at 1 and then at 2. Lean answers `Stale` for any version but the current one, as
/// the real checker does.
async fn a_job_follows_a_reanchor_that_comes(reanchor_at: Duration) {
    let current = Arc::new(AtomicUsize::new(1));
    let lean_current = Arc::clone(&current);
    let mut lean = FakeLean::new(move |target, proof, _| {
        if target.version as usize != lean_current.load(Ordering::SeqCst) {
            PipelineVerdict::rejected(RejectKind::Stale, "version is gone")
        } else {
            verdict(proof == "omega")
        }
    });
    lean.delay = Duration::from_secs(1);
    let pipeline = verified_pipeline(lean.clone());
    let doc = "file:///p/A.lean";
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    current.store(2, Ordering::SeqCst);
    tokio::time::sleep(reanchor_at).await;
    let moved = [Moved {
        from: hole("h1"),
        to: hole("h1"),
        prefix_changed: false,
    }];
    assert_eq!(pipeline.reanchor(doc, 1, 2, &moved), 1);
    assert_eq!(
        final_state(&mut rx).await,
        JobState::Verified {
            proof: "omega".into(),
            version: 2
        }
    );
    let versions: Vec<Version> = lean.calls().iter().map(|c| c.version).collect();
    assert_eq!(versions, [1, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_check_overtaken_by_a_reanchor_is_repeated_at_the_new_version() {
    a_job_follows_a_reanchor_that_comes(Duration::ZERO).await;
}

#[tokio::test(start_paused = true)]
async fn a_check_that_sees_the_new_version_before_the_reanchor_waits_for_it() {
    // The editor makes a version current before it re-anchors the jobs: a check can answer
    // `Stale` in between (here at 1 s, half a second before the re-anchor). The job must
    // follow the re-anchor, not end as "no longer current".
    a_job_follows_a_reanchor_that_comes(Duration::from_millis(1500)).await;
}

#[tokio::test(start_paused = true)]
async fn dropping_the_pipeline_cancels_its_jobs() {
    let prover =
        FakeProver::new(|_, _, _| Some("late".into())).with_delay(|_| Duration::from_secs(3600));
    let pipeline = Pipeline::new(
        FakeLean::new(|_, _, _| lean_error("no")),
        prover.clone(),
        NoDecomposer,
        NoStore,
        Portfolio::new([]),
        budget(),
        WorkspaceLimits::default(),
    );
    let mut rx = pipeline.submit(request("h1", "P", &[]));
    rx.wait_for(|s| matches!(s, JobState::Prover { .. }))
        .await
        .expect("the job reaches the prover");
    drop(pipeline);
    assert_eq!(final_state(&mut rx).await, JobState::Cancelled);
}

/// With every stage's latency fixed, a job must take exactly the critical path: the steps
/// of a sketch run side by side and nothing waits needlessly.
#[tokio::test(start_paused = true)]
async fn decomposition_takes_no_longer_than_its_critical_path() {
    let assembled = "have h1 : A := by simp\nhave h2 : B := by exact b_of_x x\nexact combine h1 h2 (by exact c)";
    let lean = decomposition_lean(["simp", "exact b_of_x x", "exact c"], assembled, None);
    let pipeline = Pipeline::new(
        lean,
        step_prover(),
        FakeDecomposer::new(&[("C", TOP_SKETCH)]),
        NoStore,
        Portfolio::new(["simp".into()]),
        HoleBudget {
            samples: 2,
            repairs: 1,
            decomposition_depth: 1,
            parallel_steps: 3,
            ..budget()
        },
        WorkspaceLimits {
            concurrent_model_requests: 8,
            ..WorkspaceLimits::default()
        },
    );
    let started = tokio::time::Instant::now();
    let mut rx = pipeline.submit(request("h1", "C", &[]));
    assert!(matches!(
        final_state(&mut rx).await,
        JobState::Verified { .. }
    ));
    // Check 50 ms, prover 100 ms, decomposer 200 ms. The hole: tactic (50), samples in
    // parallel (100 + 50), one repair (100 + 50), sketch (200), sketch check (50); then the
    // slowest step, B or the closing one: tactic (50) + sample (100) + check (50); then the
    // assembled check (50).
    let critical_path = 50 + 150 + 150 + 200 + 50 + 200 + 50;
    assert_eq!(started.elapsed(), Duration::from_millis(critical_path));
}

#[tokio::test(start_paused = true)]
async fn a_proof_found_during_an_edit_above_is_checked_again_before_it_is_final() {
    let mut lean = FakeLean::new(|_, proof, _| verdict(proof == "omega"));
    lean.delay = Duration::from_secs(1);
    let pipeline = verified_pipeline(lean.clone());
    let states = record_states(pipeline.submit(request("h1", "P", &[])));
    let mut rx = pipeline
        .watch("file:///p/A.lean", &hole("h1"))
        .expect("the job exists");
    // `omega` is being checked at version 1 when the edit above arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let moved = [Moved {
        from: hole("h1"),
        to: hole("h1"),
        prefix_changed: true,
    }];
    pipeline.reanchor("file:///p/A.lean", 1, 2, &moved);
    assert_eq!(
        final_state(&mut rx).await,
        JobState::Verified {
            proof: "omega".into(),
            version: 2
        }
    );
    let versions: Vec<Version> = lean.calls().iter().map(|c| c.version).collect();
    assert_eq!(versions, [1, 2]);
    assert!(
        states
            .lock()
            .expect("test lock")
            .contains(&JobState::Reverifying)
    );
}
