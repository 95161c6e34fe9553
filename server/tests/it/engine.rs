//! The engine against a real local model server (axum on 127.0.0.1, streaming) and a fake
//! Lean: prover samples with cancellation of the rest, decomposition into three proved
//! steps, a second run served by the cache, and the exported data set.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sorryfill::config::Config;
use sorryfill::engine::Engine;
use sorryfill::pipeline::{
    CheckMode, Checker, GoalSpec, HoleId, JobKey, JobRequest, JobState, PipelineVerdict,
    RejectKind, Target,
};
use sorryfill::store::{ExportKind, export_to_path};

// ---- A mock model server --------------------------------------------------------------------

/// How the mock answers one request.
enum Reply {
    /// Streams `text` after `delay`, then ends.
    Answer { delay: Duration, text: String },
    /// Streams a first token, then stalls until the client drops the connection.
    Hang,
}

type Replier = dyn Fn(&Value, usize) -> Reply + Send + Sync;

/// A running mock: its base URL, the request bodies it received and how many stalled
/// streams the client dropped.
struct MockModel {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    dropped: Arc<AtomicUsize>,
}

impl MockModel {
    fn requests(&self) -> usize {
        self.bodies.lock().expect("test lock").len()
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().expect("test lock").clone()
    }
}

/// Counts a stalled stream dropped by the client (axum drops the body with the connection).
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn sse(content: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": content}}]})
    )
}

/// Starts a mock OpenAI-compatible server; `reply` gets each request's body and its arrival
/// number (0-based, over all requests).
async fn mock_model(reply: impl Fn(&Value, usize) -> Reply + Send + Sync + 'static) -> MockModel {
    let reply: Arc<Replier> = Arc::new(reply);
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (bodies2, dropped2) = (bodies.clone(), dropped.clone());
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |raw: axum::body::Bytes| {
            let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            let arrival = {
                let mut bodies = bodies2.lock().expect("test lock");
                bodies.push(body.clone());
                bodies.len() - 1
            };
            let reply = reply(&body, arrival);
            let dropped = dropped2.clone();
            async move {
                let chunks: Vec<Result<String, std::io::Error>> = match reply {
                    Reply::Answer { delay, text } => {
                        tokio::time::sleep(delay).await;
                        let middle = text.char_indices().nth(text.chars().count() / 2);
                        let (first, second) = text.split_at(middle.map_or(0, |(at, _)| at));
                        vec![
                            Ok(sse(first)),
                            Ok(sse(second)),
                            Ok("data: [DONE]\n\n".into()),
                        ]
                    }
                    Reply::Hang => {
                        let guard = DropCounter(dropped);
                        let stall = futures::stream::once(async move {
                            let _guard = guard;
                            std::future::pending::<()>().await;
                            Ok::<_, std::io::Error>(String::new())
                        });
                        let first = futures::stream::once(async { Ok(sse("Let me think")) });
                        return axum::response::Response::builder()
                            .header("content-type", "text/event-stream")
                            .body(axum::body::Body::from_stream(futures::StreamExt::chain(
                                first, stall,
                            )))
                            .expect("a valid response");
                    }
                };
                axum::response::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(axum::body::Body::from_stream(futures::stream::iter(chunks)))
                    .expect("a valid response")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("a local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    MockModel {
        url: format!("http://{address}/v1"),
        bodies,
        dropped,
    }
}

/// The user message of a request.
fn user_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// An answer as a prover writes it: a line of reasoning, then the Lean it was shown with
/// `proof` in place of the `sorry`.
fn prover_answer(body: &Value, proof: &str) -> String {
    let user = user_text(body);
    let lean = user
        .split_once("```lean4\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map_or("", |(lean, _)| lean);
    let lean = lean.strip_suffix("sorry").unwrap_or(lean);
    format!("The goal follows directly.\n\n```lean4\n{lean}{proof}\n```\n")
}

// ---- A fake Lean ----------------------------------------------------------------------------

type Oracle = dyn Fn(&Target, &str, CheckMode) -> bool + Send + Sync;

/// One check the fake Lean made.
#[derive(Clone, Debug)]
struct Check {
    depth: usize,
    proof: String,
    mode: CheckMode,
}

/// Accepts what `oracle` accepts, after a fixed cost; remembers every check that finished.
#[derive(Clone)]
struct FakeLean {
    oracle: Arc<Oracle>,
    checks: Arc<Mutex<Vec<Check>>>,
}

impl FakeLean {
    fn new(oracle: impl Fn(&Target, &str, CheckMode) -> bool + Send + Sync + 'static) -> Self {
        FakeLean {
            oracle: Arc::new(oracle),
            checks: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn checks(&self) -> Vec<Check> {
        self.checks.lock().expect("test lock").clone()
    }
}

impl Checker for FakeLean {
    async fn check(&self, target: &Target, proof: &str, mode: CheckMode) -> PipelineVerdict {
        tokio::time::sleep(Duration::from_millis(10)).await;
        // Only checks that reach a verdict are remembered: a check dropped halfway (its job
        // found a proof elsewhere) has nothing to record.
        self.checks.lock().expect("test lock").push(Check {
            depth: target.depth(),
            proof: proof.to_owned(),
            mode,
        });
        if (self.oracle)(target, proof, mode) {
            PipelineVerdict::verified()
        } else {
            PipelineVerdict::rejected(RejectKind::Lean, "unsolved goals")
        }
    }

    async fn check_together(
        &self,
        _doc: &str,
        _version: i32,
        _fills: &[(sorryfill::holes::HoleId, String)],
    ) -> PipelineVerdict {
        PipelineVerdict::rejected(RejectKind::Gate, "this fake checks holes one at a time")
    }
}

// ---- Helpers --------------------------------------------------------------------------------

fn config(toml: &str) -> Config {
    Config::from_toml(toml, "test").expect("a valid test configuration")
}

fn job(goal: GoalSpec) -> JobRequest {
    JobRequest {
        key: JobKey {
            doc: "file:///project/Test.lean".into(),
            hole: HoleId {
                declaration: goal.name.clone(),
                ordinal: 0,
            },
            version: 1,
        },
        goal,
        imports: vec!["Mathlib".into()],
    }
}

async fn prove<C: Checker>(engine: &Engine<C>, goal: GoalSpec) -> JobState {
    let mut state = engine.pipeline.submit(job(goal));
    let done = tokio::time::timeout(Duration::from_secs(30), state.wait_for(JobState::is_final))
        .await
        .expect("the job ends within 30 s")
        .expect("the job reports its end");
    done.clone()
}

/// Writes the data set of `kind` and returns its lines, each parsed as JSON.
fn export(engine_db: &std::path::Path, kind: ExportKind, out: &std::path::Path) -> Vec<Value> {
    let written = export_to_path(engine_db, kind, Some(out)).expect("the export runs");
    let text = std::fs::read_to_string(out).expect("the export is readable");
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect();
    assert_eq!(lines.len(), written, "the count returned matches the lines");
    lines
}

fn amgm() -> GoalSpec {
    GoalSpec {
        header: "import Mathlib\n\nopen Real".into(),
        name: "amgm".into(),
        binders: vec!["(a b : ℝ)".into()],
        target: "a * b ≤ (a ^ 2 + b ^ 2) / 2".into(),
    }
}

const AMGM_PROOF: &str = "nlinarith [sq_nonneg (a - b)]";

// ---- Tests ----------------------------------------------------------------------------------

#[tokio::test]
async fn sample_three_of_eight_wins_the_rest_are_dropped_and_a_second_run_uses_the_cache() {
    let model = mock_model(|body, arrival| match arrival {
        0 => Reply::Answer {
            delay: Duration::from_millis(20),
            text: prover_answer(body, "linarith"),
        },
        1 => Reply::Answer {
            delay: Duration::from_millis(40),
            text: prover_answer(body, "positivity"),
        },
        2 => Reply::Answer {
            delay: Duration::from_millis(80),
            text: prover_answer(body, AMGM_PROOF),
        },
        _ => Reply::Hang,
    })
    .await;
    let project = tempfile::tempdir().expect("a project folder");
    let config = config(&format!(
        "[prover]\nbase_url = \"{}\"\nmodel = \"mock-prover\"\nconcurrency = 8\n\n\
         [tactics]\nlist = []\n\n[budget]\nsamples_per_hole = 8\nconcurrent_model_requests = 8\n",
        model.url
    ));
    let lean = FakeLean::new(|_, proof, mode| mode == CheckMode::Full && proof == AMGM_PROOF);

    let engine = Engine::build(&config, project.path(), lean.clone()).expect("the engine builds");
    let state = prove(&engine, amgm()).await;
    assert!(
        matches!(&state, JobState::Verified { proof, .. } if proof == AMGM_PROOF),
        "{state:?}"
    );
    assert_eq!(model.requests(), 8, "all eight samples were asked for");
    // The five samples still generating are dropped, and the server sees it.
    tokio::time::timeout(Duration::from_secs(5), async {
        while model.dropped.load(Ordering::SeqCst) < 5 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the server sees the five pending requests dropped");
    let proofs: Vec<String> = lean.checks().into_iter().map(|c| c.proof).collect();
    assert_eq!(proofs.len(), 3, "{proofs:?}");
    assert!(proofs.contains(&AMGM_PROOF.to_owned()));
    // The model saw the hole as a standalone lemma under the file's header.
    let user = user_text(&model.bodies()[0]);
    assert!(user.contains(
        "import Mathlib\n\nopen Real\n\ntheorem amgm (a b : ℝ) : a * b ≤ (a ^ 2 + b ^ 2) / 2 := by\n  sorry"
    ));
    engine.flush().await;
    let database = engine.database().expect("the store opened").to_owned();
    drop(engine);

    // A second run on the same project: the cache answers, Lean checks once, no model asked.
    let lean2 = FakeLean::new(|_, proof, mode| mode == CheckMode::Full && proof == AMGM_PROOF);
    let engine = Engine::build(&config, project.path(), lean2.clone()).expect("the engine builds");
    let state = prove(&engine, amgm()).await;
    assert!(
        matches!(&state, JobState::Verified { proof, .. } if proof == AMGM_PROOF),
        "{state:?}"
    );
    assert_eq!(model.requests(), 8, "no model request on a cache hit");
    assert_eq!(lean2.checks().len(), 1, "{:?}", lean2.checks());
    engine.flush().await;

    // The data set: one RL record per check of both runs, one SFT pair (re-checks excluded).
    let out = project.path().join("rl.jsonl");
    let rl = export(&database, ExportKind::Rl, &out);
    assert_eq!(rl.len(), 3 + 1);
    let rewards: Vec<i64> = rl.iter().filter_map(|r| r["reward"].as_i64()).collect();
    assert_eq!(rewards.iter().sum::<i64>(), 2, "{rewards:?}");
    assert!(rl.iter().all(|r| {
        r["prompt"][0]["content"]
            .as_str()
            .is_some_and(|p| p.contains("theorem amgm (a b : ℝ)"))
    }));
    let sft = export(
        &database,
        ExportKind::Sft,
        &project.path().join("sft.jsonl"),
    );
    assert_eq!(sft.len(), 1);
    assert!(
        sft[0]["completion"]
            .as_str()
            .is_some_and(|c| c.contains(AMGM_PROOF))
    );
    assert_eq!(sft[0]["model"], "mock-prover");
}

const STEPS: [(&str, &str, &str); 3] = [
    ("h1", "a + b = 3", "simp [ha, hb]"),
    ("h2", "c = 3", "exact hc"),
    ("h3", "a + b + c = 3 + 3", "rw [h1, h2]"),
];

fn sum_six() -> GoalSpec {
    GoalSpec {
        header: "import Mathlib".into(),
        name: "sum_six".into(),
        binders: vec![
            "(a b c : ℕ)".into(),
            "(ha : a = 1)".into(),
            "(hb : b = 2)".into(),
            "(hc : c = 3)".into(),
        ],
        target: "a + b + c = 6".into(),
    }
}

#[tokio::test]
async fn the_prover_fails_the_decomposer_gives_three_steps_each_is_proved_and_assembled() {
    let model = mock_model(|body, _| {
        if body["model"] == "mock-decomposer" {
            let mut sketch = format!(
                "Split the sum.\n\n```lean4\n{} := by\n",
                sum_six().lemma().trim_end_matches(" := by\n  sorry")
            );
            for (name, statement, _) in STEPS {
                sketch.push_str(&format!("  have {name} : {statement} := by sorry\n"));
            }
            sketch.push_str("  omega\n```\n");
            return Reply::Answer {
                delay: Duration::from_millis(20),
                text: sketch,
            };
        }
        let user = user_text(body);
        let proof = STEPS
            .iter()
            .find(|(_, statement, _)| user.contains(&format!(": {statement} := by\n  sorry")))
            .map_or("norm_num [ha, hb, hc]", |(_, _, proof)| proof);
        Reply::Answer {
            delay: Duration::from_millis(20),
            text: prover_answer(body, proof),
        }
    })
    .await;
    let project = tempfile::tempdir().expect("a project folder");
    let config = config(&format!(
        "[prover]\nbase_url = \"{url}\"\nmodel = \"mock-prover\"\n\n\
         [decomposer]\nbase_url = \"{url}\"\nmodel = \"mock-decomposer\"\n\n\
         [tactics]\nlist = []\n\n[budget]\nsamples_per_hole = 2\ndecomposition_depth = 1\n",
        url = model.url
    ));
    let lean = FakeLean::new(|target, proof, mode| match (mode, target.frames.last()) {
        (CheckMode::Sketch, _) => proof.matches("sorry").count() == 3 && proof.ends_with("omega"),
        (CheckMode::Full, Some(frame)) => STEPS.get(frame.step).is_some_and(|s| proof == s.2),
        (CheckMode::Full, None) => {
            !proof.contains("sorry")
                && STEPS.iter().all(|(name, statement, step_proof)| {
                    proof.contains(&format!("have {name} : {statement} := by"))
                        && proof.contains(step_proof)
                })
        }
    });
    let engine = Engine::build(&config, project.path(), lean.clone()).expect("the engine builds");
    let state = prove(&engine, sum_six()).await;
    let JobState::Verified { proof, .. } = &state else {
        panic!("expected a verified proof, got {state:?}");
    };
    for (name, _, step_proof) in STEPS {
        assert!(
            proof.contains(name) && proof.contains(step_proof),
            "{proof}"
        );
    }
    let decomposer_requests = model
        .bodies()
        .iter()
        .filter(|b| b["model"] == "mock-decomposer")
        .count();
    assert_eq!(decomposer_requests, 1);
    let checks = lean.checks();
    // Each step was proved in its own place (both samples of a step may arrive together
    // and be checked before either verdict is in).
    for (name, _, step_proof) in STEPS {
        assert!(
            checks.iter().any(|c| c.depth == 1 && c.proof == step_proof),
            "step {name} was never checked with its proof: {checks:?}"
        );
    }
    assert!(
        checks
            .iter()
            .any(|c| c.depth == 0 && c.mode == CheckMode::Full && &c.proof == proof),
        "the assembled proof was checked at the hole"
    );

    engine.flush().await;
    let database = engine.database().expect("the store opened").to_owned();
    let rl = export(&database, ExportKind::Rl, &project.path().join("rl.jsonl"));
    assert_eq!(rl.len(), checks.len(), "one record per check");
    // The sketch check passed Lean but is no proof: its reward is 0.
    let sketch = rl
        .iter()
        .find(|r| r["candidate"].as_str().is_some_and(|c| c.contains("sorry")))
        .expect("the sketch is recorded");
    assert_eq!(sketch["reward"], 0);
    assert_eq!(sketch["source"], "decomposition");
}

#[tokio::test]
async fn without_a_prover_the_portfolio_runs_alone() {
    let project = tempfile::tempdir().expect("a project folder");
    let lean = FakeLean::new(|_, proof, _| proof == "positivity");
    let engine =
        Engine::build(&config(""), project.path(), lean.clone()).expect("the engine builds");
    assert!(engine.is_model_free());
    let state = prove(&engine, amgm()).await;
    assert!(
        matches!(&state, JobState::Verified { proof, .. } if proof == "positivity"),
        "{state:?}"
    );
}

#[tokio::test]
async fn a_cut_off_answer_never_reaches_lean_and_a_repair_round_gets_leans_message() {
    let first_round = Arc::new(AtomicUsize::new(0));
    let model = mock_model(move |body, _| {
        let text = if user_text(body).contains("A previous attempt failed") {
            prover_answer(body, AMGM_PROOF)
        } else if first_round.fetch_add(1, Ordering::SeqCst) == 0 {
            // Cut off by the token limit inside its code block.
            "```lean4\ntheorem amgm (a b : ℝ) : a * b ≤ (a ^ 2 + b ^ 2) / 2 := by\n  nlinarith [sq_nonneg (a"
                .to_owned()
        } else {
            prover_answer(body, "linarith")
        };
        Reply::Answer {
            delay: Duration::from_millis(10),
            text,
        }
    })
    .await;
    let project = tempfile::tempdir().expect("a project folder");
    let config = config(&format!(
        "[prover]\nbase_url = \"{}\"\nmodel = \"mock-prover\"\n\n\
         [tactics]\nlist = []\n\n[budget]\nsamples_per_hole = 2\n",
        model.url
    ));
    let lean = FakeLean::new(|_, proof, mode| mode == CheckMode::Full && proof == AMGM_PROOF);
    let engine = Engine::build(&config, project.path(), lean.clone()).expect("the engine builds");
    let state = prove(&engine, amgm()).await;
    assert!(
        matches!(&state, JobState::Verified { proof, .. } if proof == AMGM_PROOF),
        "{state:?}"
    );
    let proofs: Vec<String> = lean.checks().into_iter().map(|c| c.proof).collect();
    assert_eq!(
        proofs,
        ["linarith", AMGM_PROOF],
        "the cut-off answer is never checked"
    );
    let repair = model
        .bodies()
        .iter()
        .map(user_text)
        .find(|text| text.contains("A previous attempt failed"))
        .expect("a repair request was sent");
    assert!(
        repair.contains("unsolved goals") && repair.contains("linarith"),
        "{repair}"
    );
}

#[tokio::test]
async fn without_a_decomposer_a_cot_provers_own_sketch_decomposes_without_another_request() {
    let model = mock_model(|body, _| {
        let user = user_text(body);
        let text = match STEPS
            .iter()
            .find(|(_, statement, _)| user.contains(&format!(": {statement} := by\n  sorry")))
        {
            Some((_, _, proof)) => prover_answer(body, proof),
            None => {
                // DeepSeek-Prover-V2's CoT shape: a `have` sketch, then a final proof that
                // does not check.
                let mut steps = String::new();
                for (name, statement, _) in STEPS {
                    steps.push_str(&format!("  have {name} : {statement} := by sorry\n"));
                }
                format!(
                    "### Lean 4 Proof with have Statements\n\n{}\n### Complete Lean 4 Proof\n\n{}",
                    prover_answer(body, &format!("{}  omega", steps.trim_start()))
                        .trim_start_matches("The goal follows directly.\n\n"),
                    prover_answer(body, "norm_num [ha, hb, hc]")
                )
            }
        };
        Reply::Answer {
            delay: Duration::from_millis(10),
            text,
        }
    })
    .await;
    let project = tempfile::tempdir().expect("a project folder");
    let config = config(&format!(
        "[prover]\nbase_url = \"{}\"\nmodel = \"mock-prover\"\nformat = \"deepseek-prover-v2-cot\"\n\n\
         [tactics]\nlist = []\n\n[budget]\nsamples_per_hole = 2\ndecomposition_depth = 1\n",
        model.url
    ));
    let lean = FakeLean::new(|target, proof, mode| match (mode, target.frames.last()) {
        (CheckMode::Sketch, _) => proof.matches("sorry").count() == 3,
        (CheckMode::Full, Some(frame)) => STEPS.get(frame.step).is_some_and(|s| proof == s.2),
        (CheckMode::Full, None) => {
            !proof.contains("sorry") && STEPS.iter().all(|(_, _, step)| proof.contains(step))
        }
    });
    let engine = Engine::build(&config, project.path(), lean.clone()).expect("the engine builds");
    let state = prove(&engine, sum_six()).await;
    assert!(matches!(state, JobState::Verified { .. }), "{state:?}");
    let hole_requests = model
        .bodies()
        .iter()
        .filter(|body| user_text(body).contains(": a + b + c = 6 := by\n  sorry"))
        .count();
    // Two samples and two repairs; the sketch came from those answers.
    assert_eq!(hole_requests, 4);
}
