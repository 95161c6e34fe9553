//! Time from request to verified proof in the decomposition case, against the ideal critical
//! path: the prover fails (its answers are cut off, so Lean is not asked), the decomposer
//! gives three `have` steps, each step is proved by one prover answer, the assembled proof
//! is checked and cleanup tries its three shorter variants. The ideal path is three model
//! latencies and six check costs, measured as plain sleeps in the same runtime and run (the
//! machine is noisy); the figure printed is the pipeline's time as a ratio to it. The model
//! limits are raised above the six requests the three steps send at once, so the figure is
//! the pipeline's own overhead rather than queueing behind `concurrent_model_requests`.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sorryfill::config::Config;
use sorryfill::engine::Engine;
use sorryfill::pipeline::{
    CheckMode, Checker, GoalSpec, HoleId, JobKey, JobRequest, JobState, PipelineVerdict,
    RejectKind, Target,
};

/// Mock model latency per answer.
const MODEL_LATENCY: Duration = Duration::from_millis(150);
/// Fake Lean's cost per check.
const CHECK_COST: Duration = Duration::from_millis(40);
/// Model answers and checks on the critical path (see the module docs).
const MODEL_ROUNDS: u32 = 3;
const CHECK_ROUNDS: u32 = 6;
const RUNS: usize = 7;

const STEPS: [(&str, &str, &str); 3] = [
    ("h1", "a + b = 3", "simp [ha, hb]"),
    ("h2", "c = 3", "exact hc"),
    ("h3", "a + b + c = 3 + 3", "rw [h1, h2]"),
];

fn goal() -> GoalSpec {
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

fn sse(content: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": content}}]})
    )
}

/// What the mock models answer: the sketch for the decomposer, a step's proof for a step
/// goal, and an answer cut off inside its code block for the hole itself.
fn answer(body: &Value) -> String {
    let user = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    let lean = user
        .split_once("```lean4\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map_or("", |(lean, _)| lean);
    if body["model"] == "decomposer" {
        let mut sketch = format!("```lean4\n{}\n", lean.trim_end_matches("\n  sorry"));
        for (name, statement, _) in STEPS {
            sketch.push_str(&format!("  have {name} : {statement} := by sorry\n"));
        }
        sketch.push_str("  omega\n```\n");
        return sketch;
    }
    let lean = lean.strip_suffix("sorry").unwrap_or(lean);
    match STEPS
        .iter()
        .find(|(_, statement, _)| user.contains(&format!(": {statement} := by\n  sorry")))
    {
        Some((_, _, proof)) => format!("```lean4\n{lean}{proof}\n```\n"),
        None => format!("```lean4\n{lean}nlinarith [sq_nonneg (a"),
    }
}

async fn mock_model() -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|raw: axum::body::Bytes| async move {
            let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            tokio::time::sleep(MODEL_LATENCY).await;
            let chunks: Vec<Result<String, std::io::Error>> =
                vec![Ok(sse(&answer(&body))), Ok("data: [DONE]\n\n".into())];
            axum::response::Response::builder()
                .header("content-type", "text/event-stream")
                .body(axum::body::Body::from_stream(futures::stream::iter(chunks)))
                .expect("a valid response")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("a local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/v1")
}

/// Lean that accepts the sketch, each step's proof in its place and the assembled proof.
#[derive(Clone)]
struct FakeLean;

impl Checker for FakeLean {
    async fn check(&self, target: &Target, proof: &str, mode: CheckMode) -> PipelineVerdict {
        tokio::time::sleep(CHECK_COST).await;
        let accepted = match (mode, target.frames.last()) {
            (CheckMode::Sketch, _) => proof.matches("sorry").count() == 3,
            (CheckMode::Full, Some(frame)) => STEPS.get(frame.step).is_some_and(|s| proof == s.2),
            (CheckMode::Full, None) => {
                !proof.contains("sorry")
                    && STEPS.iter().all(|(name, _, step)| {
                        proof.contains(&format!("have {name} ")) && proof.contains(step)
                    })
            }
        };
        if accepted {
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

async fn one_run(url: &str) -> Duration {
    let project = tempfile::tempdir().expect("a temporary project");
    let config = Config::from_toml(
        &format!(
            "[prover]\nbase_url = \"{url}\"\nmodel = \"prover\"\nconcurrency = 8\n\n\
             [decomposer]\nbase_url = \"{url}\"\nmodel = \"decomposer\"\n\n\
             [tactics]\nlist = []\n\n[budget]\nsamples_per_hole = 2\ndecomposition_depth = 1\n\
             concurrent_model_requests = 8\n"
        ),
        "bench",
    )
    .expect("a valid configuration");
    let engine = Engine::build(&config, project.path(), FakeLean).expect("the engine builds");
    let request = JobRequest {
        key: JobKey {
            doc: "file:///bench/Bench.lean".into(),
            hole: HoleId {
                declaration: "sum_six".into(),
                ordinal: 0,
            },
            version: 1,
        },
        goal: goal(),
        imports: vec!["Mathlib".into()],
    };
    let started = Instant::now();
    let mut state = engine.pipeline.submit(request);
    let end = state
        .wait_for(JobState::is_final)
        .await
        .expect("the job reports its end")
        .clone();
    let elapsed = started.elapsed();
    assert!(
        matches!(end, JobState::Verified { .. }),
        "the bench expects a verified proof, got {end:?}"
    );
    elapsed
}

async fn ideal_path() -> Duration {
    let started = Instant::now();
    for _ in 0..MODEL_ROUNDS {
        tokio::time::sleep(MODEL_LATENCY).await;
    }
    for _ in 0..CHECK_ROUNDS {
        tokio::time::sleep(CHECK_COST).await;
    }
    started.elapsed()
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(async {
        let url = mock_model().await;
        // A first run warms the connection pool and SQLite.
        one_run(&url).await;
        let mut pipeline = Vec::with_capacity(RUNS);
        let mut ideal = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            pipeline.push(one_run(&url).await);
            ideal.push(ideal_path().await);
        }
        let (pipeline, ideal) = (median(pipeline), median(ideal));
        let ratio = pipeline.as_secs_f64() / ideal.as_secs_f64();
        println!(
            "decomposition, request to verified proof: {:.0} ms; ideal critical path \
             ({MODEL_ROUNDS} x {} ms model + {CHECK_ROUNDS} x {} ms check): {:.0} ms; \
             ratio {ratio:.3} (target <= 1.2)",
            pipeline.as_secs_f64() * 1e3,
            MODEL_LATENCY.as_millis(),
            CHECK_COST.as_millis(),
            ideal.as_secs_f64() * 1e3,
        );
    });
}
