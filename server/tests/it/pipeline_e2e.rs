//! Issue 7's acceptance, end to end: the real `sorryfill prove` binary in a fresh project,
//! lean-sim standing in for `lake serve` (its oracle decides what Lean accepts, `have` steps
//! included), and a mock OpenAI-compatible server on 127.0.0.1 named in the project's
//! `sorryfill.toml`. Each scenario asserts what a user sees: the diff, the JSON report, the
//! requests the model server received (and dropped), the data set exported afterwards.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{fresh_dir, lean_sim_bin, sorryfill_bin};

// ---- A mock model server --------------------------------------------------------------------

/// How the mock answers one request.
pub(crate) enum Reply {
    /// Streams `text` in two chunks after `delay`.
    Answer { delay: Duration, text: String },
    /// Streams a first token, then stalls until the client drops the connection.
    Hang,
    /// An HTTP error status with an OpenAI-style error body.
    Status(u16),
    /// A 200 answer whose body is `text`, not JSON.
    Raw(String),
    /// Accepts the request and never sends a byte of the response.
    Silent,
    /// Streams a first token, then closes the connection without ending the stream.
    CloseMidStream,
    /// Streams tokens without end, one every few milliseconds.
    Forever,
}

type Replier = dyn Fn(&Value) -> Reply + Send + Sync;

/// An OpenAI-compatible server on 127.0.0.1 with its own runtime, so the tests can block on
/// the `sorryfill` process while it answers. Dropping it stops the server.
pub(crate) struct MockModel {
    pub(crate) url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    dropped: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
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

fn event_stream(body: axum::body::Body) -> axum::response::Response {
    axum::response::Response::builder()
        .header("content-type", "text/event-stream")
        .body(body)
        .expect("a valid response")
}

impl MockModel {
    pub(crate) fn start(reply: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> Self {
        let reply: Arc<Replier> = Arc::new(reply);
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (bodies2, dropped2) = (bodies.clone(), dropped.clone());
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(move |raw: axum::body::Bytes| {
                let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                bodies2.lock().expect("test lock").push(body.clone());
                let reply = reply(&body);
                let dropped = dropped2.clone();
                async move {
                    match reply {
                        Reply::Answer { delay, text } => {
                            tokio::time::sleep(delay).await;
                            let middle = text.char_indices().nth(text.chars().count() / 2);
                            let (first, second) = text.split_at(middle.map_or(0, |(at, _)| at));
                            let chunks: Vec<Result<String, std::io::Error>> = vec![
                                Ok(sse(first)),
                                Ok(sse(second)),
                                Ok("data: [DONE]\n\n".into()),
                            ];
                            event_stream(axum::body::Body::from_stream(futures::stream::iter(
                                chunks,
                            )))
                        }
                        Reply::Status(code) => axum::response::Response::builder()
                            .status(code)
                            .header("content-type", "application/json")
                            .body(axum::body::Body::from(
                                json!({"error": {"message": format!("mock status {code}")}})
                                    .to_string(),
                            ))
                            .expect("a valid response"),
                        Reply::Raw(text) => axum::response::Response::builder()
                            .header("content-type", "application/json")
                            .body(axum::body::Body::from(text))
                            .expect("a valid response"),
                        Reply::Silent => {
                            let _guard = DropCounter(dropped);
                            std::future::pending::<()>().await;
                            unreachable!("a pending future never resolves")
                        }
                        Reply::CloseMidStream => {
                            let first = futures::stream::once(async { Ok(sse("Let me")) });
                            let broken = futures::stream::once(async {
                                Err::<String, _>(std::io::Error::other("connection reset"))
                            });
                            event_stream(axum::body::Body::from_stream(futures::StreamExt::chain(
                                first, broken,
                            )))
                        }
                        Reply::Forever => {
                            let guard = DropCounter(dropped);
                            let tokens = futures::stream::unfold(guard, |guard| async move {
                                tokio::time::sleep(Duration::from_millis(5)).await;
                                Some((Ok::<_, std::io::Error>(sse("and so on ")), guard))
                            });
                            event_stream(axum::body::Body::from_stream(tokens))
                        }
                        Reply::Hang => {
                            let guard = DropCounter(dropped);
                            let first = futures::stream::once(async { Ok(sse("Let me think")) });
                            let stall = futures::stream::once(async move {
                                let _guard = guard;
                                std::future::pending::<()>().await;
                                Ok::<_, std::io::Error>(String::new())
                            });
                            event_stream(axum::body::Body::from_stream(futures::StreamExt::chain(
                                first, stall,
                            )))
                        }
                    }
                }
            }),
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the mock server");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("a local address");
        runtime.spawn(async move { axum::serve(listener, app).await });
        MockModel {
            url: format!("http://{address}/v1"),
            bodies,
            dropped,
            _runtime: runtime,
        }
    }

    pub(crate) fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().expect("test lock").clone()
    }

    pub(crate) fn requests(&self) -> usize {
        self.bodies.lock().expect("test lock").len()
    }

    fn requests_for(&self, model: &str) -> usize {
        self.bodies()
            .iter()
            .filter(|body| body["model"] == model)
            .count()
    }
}

/// The user message of a request.
pub(crate) fn user_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Whether the request asks for a lemma whose type is `target`.
fn asks_for(body: &Value, target: &str) -> bool {
    user_text(body).contains(&format!(" : {target} := by\n  sorry"))
}

/// An answer as a model writes it: a line of reasoning, then the Lean it was shown with
/// `proof` (tactic lines, indented under the theorem) in place of the `sorry`.
pub(crate) fn answer(body: &Value, proof: &str) -> String {
    let user = user_text(body);
    let lean = user
        .split_once("```lean4\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map_or("", |(lean, _)| lean);
    let lean = lean.strip_suffix("sorry").unwrap_or(lean);
    let proof = proof.replace('\n', "\n  ");
    format!("The goal follows from these steps.\n\n```lean4\n{lean}{proof}\n```\n")
}

pub(crate) fn after(millis: u64, text: String) -> Reply {
    Reply::Answer {
        delay: Duration::from_millis(millis),
        text,
    }
}

// ---- A project ------------------------------------------------------------------------------

/// A lemma every file starts with: part of the user's file the model must never be shown.
const HELPER: &str = "theorem helper_lemma (n : ℕ) : n + 0 = n := by\n  simp\n";

/// The oracle entry that keeps `HELPER` accepted.
const HELPER_ORACLE: &str =
    "[[theorem]]\nstatement = \"(n : ℕ) : n + 0 = n\"\naccept = [\"simp\"]\n";

/// A fresh project folder with `Foo.lean`, lean-sim's oracle and a `sorryfill.toml`.
pub(crate) struct Project {
    dir: tempfile::TempDir,
    pub(crate) lean_cmd: String,
    logs: std::path::PathBuf,
}

impl Project {
    pub(crate) fn new(lean: &str, oracle: &str, config: &str) -> Self {
        let dir = fresh_dir();
        std::fs::write(dir.path().join("Foo.lean"), lean).expect("write Foo.lean");
        let oracle_path = dir.path().join("oracle.toml");
        std::fs::write(&oracle_path, format!("{HELPER_ORACLE}\n{oracle}")).expect("oracle");
        std::fs::write(dir.path().join("sorryfill.toml"), config).expect("sorryfill.toml");
        // `prove` checks candidates on a second, confined server, which may write only below
        // `.lake/sorryfill/`: each lean-sim logs there, to a file of its own.
        let logs = dir.path().join(".lake/sorryfill");
        let lean_cmd = format!(
            "{} --oracle {} --log {}",
            lean_sim_bin().display(),
            oracle_path.display(),
            logs.join("lean-sim-{pid}.log").display()
        );
        Project {
            dir,
            lean_cmd,
            logs,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(sorryfill_bin());
        command
            .current_dir(self.path())
            .args(args)
            .env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join(".config"));
        command
    }

    /// `sorryfill prove Foo.lean --json report.json`: the process output and the report.
    pub(crate) fn prove(&self) -> (Output, Value) {
        let output = self
            .command(&self.prove_args())
            .output()
            .expect("sorryfill runs");
        (output, self.report())
    }

    pub(crate) fn prove_args(&self) -> Vec<&str> {
        vec![
            "prove",
            "Foo.lean",
            "--lean-cmd",
            &self.lean_cmd,
            "--json",
            "report.json",
        ]
    }

    pub(crate) fn report(&self) -> Value {
        let text = std::fs::read_to_string(self.path().join("report.json")).expect("a report");
        serde_json::from_str(&text).expect("the report is JSON")
    }

    /// `sorryfill dataset export --format FORMAT`: every line parsed as JSON.
    fn export(&self, format: &str) -> Vec<Value> {
        let out = format!("{format}.jsonl");
        let output = self
            .command(&["dataset", "export", "--format", format, "--out", &out])
            .output()
            .expect("sorryfill runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::read_to_string(self.path().join(out))
            .expect("the export is written")
            .lines()
            .map(|line| serde_json::from_str(line).expect("every line is JSON"))
            .collect()
    }

    /// What every lean-sim of this project logged (the user's server and the checking one).
    fn lean_log(&self) -> String {
        let mut logs: Vec<_> = std::fs::read_dir(&self.logs)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with("lean-sim-"))
            })
            .collect();
        logs.sort();
        logs.iter()
            .map(|path| std::fs::read_to_string(path).unwrap_or_default())
            .collect()
    }

    /// lean-sim's `elaborate` log lines for declaration `name`, in every server of the project.
    fn elaborations_of(&self, name: &str) -> usize {
        self.lean_log()
            .lines()
            .filter(|line| {
                line.starts_with("elaborate ") && line.ends_with(&format!("decl={name}"))
            })
            .count()
    }
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The report's line for the hole of declaration `name`.
pub(crate) fn hole<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["files"][0]["holes"]
        .as_array()
        .and_then(|holes| holes.iter().find(|hole| hole["declaration"] == name))
        .unwrap_or_else(|| panic!("no hole of {name} in the report: {report}"))
}

fn prover_and_decomposer(url: &str, extra: &str) -> String {
    format!(
        "[prover]\nbase_url = \"{url}\"\nmodel = \"mock-prover\"\nconcurrency = 8\n\n\
         [decomposer]\nbase_url = \"{url}\"\nmodel = \"mock-decomposer\"\n\n{extra}"
    )
}

// ---- The portfolio --------------------------------------------------------------------------

#[test]
fn the_portfolio_proves_a_hole_without_asking_the_configured_model() {
    let model = MockModel::start(|body| after(0, answer(body, "omega")));
    let lean = format!(
        "import Mathlib\n\n{HELPER}\ntheorem add_zero' (x : ℕ) (h₀ : x ≠ 0) : x + 0 = x := by\n  sorry\n"
    );
    let oracle =
        "[[theorem]]\nstatement = \"(x : ℕ) (h₀ : x ≠ 0) : x + 0 = x\"\naccept = [\"omega\"]\n";
    let project = Project::new(
        &lean,
        oracle,
        &prover_and_decomposer(&model.url, "[tactics]\nlist = [\"rfl\", \"omega\"]\n"),
    );
    let (output, report) = project.prove();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("-  sorry\n+  omega\n"),
        "{}",
        stdout(&output)
    );
    let proved = hole(&report, "add_zero'");
    assert_eq!(proved["status"], "verified");
    assert_eq!(proved["source"], "tactic");
    assert_eq!(
        model.requests(),
        0,
        "no model request: {:?}",
        model.bodies()
    );
}

/// `prove` of `lean` with a portfolio of `rfl` alone and a prover that answers `omega` to
/// every request: the model, the process output and the report.
fn prove_with_an_omega_prover(lean: &str, oracle: &str) -> (MockModel, Output, Value) {
    let model = MockModel::start(|body| after(0, answer(body, "omega")));
    let project = Project::new(
        lean,
        oracle,
        &prover_and_decomposer(&model.url, "[tactics]\nlist = [\"rfl\"]\n"),
    );
    let (output, report) = project.prove();
    (model, output, report)
}

#[test]
fn a_declaration_under_open_in_is_proved_and_one_lean_cannot_check_alone_is_skipped_unasked() {
    // Lean gives a declaration under `omit … in` or `open … in` no symbol; the shadow writes
    // Lean's own expansion out. A `mutual` theorem or one under `#guard_msgs in` cannot be
    // checked alone, so no model is asked for them and each says why.
    let lean = format!(
        "import Mathlib\n\n{HELPER}\n\
         omit [Fintype ℕ] in\nopen Nat in\nset_option maxHeartbeats 400000 in\n\
         theorem scoped_one (x : ℕ) (h₀ : x ≠ 0) : x + 0 = x := by\n  sorry\n\n\
         mutual\ntheorem in_mutual (x : ℕ) : 0 + x = x := by\n  sorry\nend\n\n\
         /-- info: -/\n#guard_msgs in\ntheorem guarded (x : ℕ) : x * 1 = x := by\n  sorry\n"
    );
    let oracle = "[[theorem]]\nstatement = \"(x : ℕ) (h₀ : x ≠ 0) : x + 0 = x\"\naccept = [\"omega\"]\n\
                  [[theorem]]\nstatement = \"(x : ℕ) : 0 + x = x\"\naccept = [\"omega\"]\n\
                  [[theorem]]\nstatement = \"(x : ℕ) : x * 1 = x\"\naccept = [\"omega\"]\n";
    let (model, output, report) = prove_with_an_omega_prover(&lean, oracle);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let proved = hole(&report, "scoped_one");
    assert_eq!(proved["status"], "verified", "{proved}");
    assert_eq!(proved["source"], "prover");
    assert!(
        stdout(&output).contains("-  sorry\n+  omega\n"),
        "{}",
        stdout(&output)
    );
    for (name, why) in [
        ("in_mutual", "`mutual` block"),
        ("guarded", "`… in` prefix other than `open`"),
    ] {
        let skipped = hole(&report, name);
        assert_eq!(skipped["status"], "skipped", "{skipped}");
        let reason = skipped["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(why), "{name}: {reason}");
    }
    let bodies = model.bodies();
    assert!(!bodies.is_empty());
    for body in &bodies {
        assert!(
            asks_for(body, "x + 0 = x"),
            "asked for another hole: {body}"
        );
        // The prefix's `open` scopes the lemma the model sees, as it scopes the declaration.
        assert!(
            user_text(body).contains("open Nat\n"),
            "{}",
            user_text(body)
        );
    }
}

#[test]
fn a_hole_beside_an_error_is_skipped_with_lean_s_error_and_no_model_is_asked() {
    // Lean's error stays whatever fills the hole, and so does the `sorryAx` its recovery
    // leaves: no check could pass, so no sample is spent on it.
    let lean = format!(
        "import Mathlib\n\n{HELPER}\n\
         theorem broken (x : ℕ) : x + 0 = x := by\n  have h : x = x := by sorry\n  exact x\n"
    );
    // No entry accepts the steps after the have: Lean's `unsolved goals` at `by`.
    let (model, output, report) = prove_with_an_omega_prover(&lean, "");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let skipped = hole(&report, "broken");
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    assert_eq!(
        skipped["reason"],
        "Lean reports an error in this declaration (line 6: unsolved goals); no proof of this hole can pass until it is fixed"
    );
    assert_eq!(model.requests(), 0, "{:?}", model.bodies());
}

#[test]
fn a_theorem_about_an_unfinished_answer_is_skipped_and_names_it() {
    // PutnamBench's shape: while the answer is `sorry`, Lean counts `sorryAx` among the axioms
    // of every proof of the theorem, so none could pass.
    let lean = format!(
        "import Mathlib\n\n{HELPER}\n\
         noncomputable abbrev answer : ℕ := sorry\n\n\
         theorem uses_answer (h : ℕ) (hh : h = 2) : h = answer :=\nsorry\n"
    );
    // Lean would take `omega` but for the `sorryAx` it inherits from `answer`.
    let oracle =
        "[[theorem]]\nstatement = \"(h : ℕ) (hh : h = 2) : h = answer\"\naccept = [\"omega\"]\n";
    let (model, output, report) = prove_with_an_omega_prover(&lean, oracle);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let skipped = hole(&report, "uses_answer");
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    let reason = skipped["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("the statement uses `answer`, which still has a `sorry`"),
        "{reason}"
    );
    assert_eq!(model.requests(), 0, "{:?}", model.bodies());
}

// ---- Prover samples -------------------------------------------------------------------------

const AMGM_PROOF: &str = "nlinarith [sq_nonneg (a - b)]";

#[test]
fn the_prover_wins_at_sample_three_of_eight_and_the_rest_are_dropped_while_the_run_goes_on() {
    // amgm's samples: two wrong answers, the right one third, five that stay in flight.
    // slow_one's model answers are slow and wrong, so the run outlives amgm's job: the
    // drops the server sees are cancellations, not the process ending.
    let amgm_arrivals = Arc::new(AtomicUsize::new(0));
    let model = MockModel::start(move |body| {
        if !user_text(body).contains("theorem amgm") {
            return after(1200, answer(body, "linarith"));
        }
        match amgm_arrivals.fetch_add(1, Ordering::SeqCst) {
            0 => after(20, answer(body, "linarith")),
            1 => after(40, answer(body, "positivity")),
            2 => after(150, answer(body, AMGM_PROOF)),
            _ => Reply::Hang,
        }
    });
    let lean = format!(
        "import Mathlib\n\nopen Real\n\n{HELPER}\n\
         theorem amgm (a b : ℝ) : a * b ≤ (a ^ 2 + b ^ 2) / 2 := by\n  sorry\n\n\
         theorem slow_one (x : ℝ) (hx : 0 < x) : x ≤ x ^ 2 + 1 := by\n  sorry\n"
    );
    let oracle = format!(
        "[[theorem]]\nstatement = \"(a b : ℝ) : a * b ≤ (a ^ 2 + b ^ 2) / 2\"\naccept = [\"{AMGM_PROOF}\"]\n"
    );
    let config = format!(
        "[prover]\nbase_url = \"{}\"\nmodel = \"mock-prover\"\nconcurrency = 8\n\n\
         [tactics]\nlist = [\"rfl\"]\n\n\
         [budget]\nsamples_per_hole = 8\nconcurrent_holes = 1\nconcurrent_model_requests = 8\n",
        model.url
    );
    let project = Project::new(&lean, &oracle, &config);
    let mut child = project
        .command(&project.prove_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sorryfill starts");
    let started = Instant::now();
    while model.dropped.load(Ordering::SeqCst) < 5 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let still_running = child.try_wait().expect("the child can be polled").is_none();
    let output = child.wait_with_output().expect("sorryfill ends");
    assert_eq!(
        model.dropped.load(Ordering::SeqCst),
        5,
        "the five samples in flight are dropped: {}",
        stderr(&output)
    );
    assert!(
        still_running,
        "the samples were dropped when amgm was proved, not when the process ended"
    );
    assert_eq!(output.status.code(), Some(1), "slow_one is left");
    let diff = stdout(&output);
    assert!(
        diff.contains(&format!("-  sorry\n+  {AMGM_PROOF}\n")),
        "{diff}"
    );

    let report = project.report();
    let proved = hole(&report, "amgm");
    assert_eq!(proved["status"], "verified", "{report}");
    assert_eq!(proved["source"], "prover");
    assert_eq!(proved["proof"], AMGM_PROOF);
    assert_eq!(hole(&report, "slow_one")["status"], "failed");

    let amgm_requests: Vec<String> = model
        .bodies()
        .iter()
        .map(user_text)
        .filter(|text| text.contains("theorem amgm"))
        .collect();
    assert_eq!(amgm_requests.len(), 8, "all eight samples were asked for");
    // The model sees the hole as a standalone lemma under the file's header, nothing else.
    let prompt = &amgm_requests[0];
    assert!(prompt.contains("import Mathlib"), "{prompt}");
    assert!(prompt.contains("open Real"), "{prompt}");
    assert!(
        prompt.contains("theorem amgm")
            && prompt.contains(" (a b : ℝ) : a * b ≤ (a ^ 2 + b ^ 2) / 2 := by\n  sorry"),
        "{prompt}"
    );
    assert!(
        !prompt.contains("helper_lemma") && !prompt.contains("slow_one"),
        "the rest of the file is not shown: {prompt}"
    );
}

// ---- Decomposition --------------------------------------------------------------------------

const SUM_SIX: &str = "theorem sum_six (a b c : ℕ) (ha : a = 1) (hb : b = 2) (hc : c = 3) : a + b + c = 6 := by\n  sorry\n";
const SUM_SIX_BINDERS: &str = "(a b c : ℕ) (ha : a = 1) (hb : b = 2) (hc : c = 3)";

/// The decomposer's plan for `sum_six`, and for its third step when asked.
const TOP_SKETCH: &str = "have h1 : a + b = 3 := by sorry\nhave h2 : c = 3 := by sorry\nhave h3 : a + b + c = 3 + 3 := by sorry\nomega";
const STEP3_SKETCH: &str =
    "have k1 : a + b + c = 3 + c := by sorry\nhave k2 : 3 + c = 3 + 3 := by sorry\nomega";

/// One model server for every decomposition scenario: the decomposer plans, the prover
/// answers each step with the proof a person would write and anything else with a proof the
/// oracle never accepts. What Lean accepts is each test's oracle.
fn decomposition_model() -> MockModel {
    MockModel::start(|body| {
        if body["model"] == "mock-decomposer" {
            let plan = if asks_for(body, "a + b + c = 6") {
                TOP_SKETCH
            } else if asks_for(body, "a + b + c = 3 + 3") {
                STEP3_SKETCH
            } else {
                "omega"
            };
            return after(20, answer(body, plan));
        }
        let proof = [
            ("c = 3", "exact hc"),
            ("a + b + c = 3 + 3", "rw [h1, h2]"),
            ("a + b + c = 3 + c", "rw [h1]"),
            ("3 + c = 3 + 3", "rw [h2]"),
        ]
        .iter()
        .find(|(target, _)| asks_for(body, target))
        .map_or("norm_num [ha, hb, hc]", |(_, proof)| proof);
        after(20, answer(body, proof))
    })
}

/// The oracle for `sum_six`: its plan's skeleton closes the goal, `h1` falls to `omega` (the
/// portfolio), `h2` to the prover's `exact hc`, and `h3` as `extra` says.
fn sum_six_oracle(extra: &str) -> String {
    let b = SUM_SIX_BINDERS;
    format!(
        "[[theorem]]\nstatement = \"{b} : a + b + c = 6\"\n\
         accept = [\"\"\"{}\"\"\"]\n\n\
         [[theorem]]\nstatement = \"{b} : a + b = 3\"\naccept = [\"omega\"]\n\n\
         [[theorem]]\nstatement = \"{b} (h1 : a + b = 3) : c = 3\"\naccept = [\"exact hc\"]\n\n{extra}",
        TOP_SKETCH.replace(":= by sorry", ":= sorry")
    )
}

fn sum_six_project(model: &MockModel, h3_oracle: &str, depth: u32) -> Project {
    let config = prover_and_decomposer(
        &model.url,
        &format!(
            "[tactics]\nlist = [\"rfl\", \"omega\"]\n\n\
             [budget]\nsamples_per_hole = 2\ndecomposition_depth = {depth}\n"
        ),
    );
    Project::new(
        &format!("import Mathlib\n\n{HELPER}\n{SUM_SIX}"),
        &sum_six_oracle(h3_oracle),
        &config,
    )
}

const H3_BY_PROVER: &str = "[[theorem]]\nstatement = \"(a b c : ℕ) (ha : a = 1) (hb : b = 2) (hc : c = 3) (h1 : a + b = 3) (h2 : c = 3) : a + b + c = 3 + 3\"\naccept = [\"rw [h1, h2]\"]\n";

/// The added lines of a unified diff, without their `+`.
fn added_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|line| line.starts_with('+') && !line.starts_with("+++"))
        .map(|line| &line[1..])
        .collect()
}

#[test]
fn the_prover_fails_the_decomposer_plans_three_steps_and_the_assembled_proof_is_written() {
    let model = decomposition_model();
    let project = sum_six_project(&model, H3_BY_PROVER, 1);
    let (output, report) = project.prove();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let proved = hole(&report, "sum_six");
    assert_eq!(proved["status"], "verified", "{report}");
    assert_eq!(proved["source"], "decomposition");
    let proof = proved["proof"].as_str().expect("a proof");
    for part in [
        "have h1 : a + b = 3",
        "omega",
        "have h2 : c = 3",
        "exact hc",
        "have h3 : a + b + c = 3 + 3",
        "rw [h1, h2]",
    ] {
        assert!(proof.contains(part), "{part} is in the proof:\n{proof}");
    }
    assert!(!proof.contains("sorry"), "{proof}");
    let diff = stdout(&output);
    let added = added_lines(&diff).join("\n");
    assert!(
        added.contains("have h2 : c = 3") && added.contains("exact hc"),
        "the diff has the assembled proof:\n{diff}"
    );
    assert!(!added.contains("sorry"), "{diff}");
    assert_eq!(model.requests_for("mock-decomposer"), 1);
    // The prover was asked for the steps Lean's tactics did not close, as standalone lemmas.
    let step_prompts: Vec<String> = model
        .bodies()
        .iter()
        .filter(|body| body["model"] == "mock-prover" && asks_for(body, "c = 3"))
        .map(user_text)
        .collect();
    assert!(!step_prompts.is_empty(), "h2 went to the prover");
    assert!(
        step_prompts[0].contains("(h1 : a + b = 3) : c = 3 := by\n  sorry")
            && !step_prompts[0].contains("helper_lemma"),
        "{}",
        step_prompts[0]
    );
    assert!(
        model
            .bodies()
            .iter()
            .all(|body| !asks_for(body, "a + b = 3")),
        "h1 was closed by the portfolio, so the prover never saw it"
    );
}

#[test]
fn a_step_the_prover_cannot_close_is_decomposed_again() {
    let model = decomposition_model();
    let step3 = "(a b c : ℕ) (ha : a = 1) (hb : b = 2) (hc : c = 3) (h1 : a + b = 3) (h2 : c = 3)";
    let h3_by_plan = format!(
        "[[theorem]]\nstatement = \"{step3} : a + b + c = 3 + 3\"\naccept = [\"\"\"{}\"\"\"]\n\n\
         [[theorem]]\nstatement = \"{step3} : a + b + c = 3 + c\"\naccept = [\"rw [h1]\"]\n\n\
         [[theorem]]\nstatement = \"{step3} (k1 : a + b + c = 3 + c) : 3 + c = 3 + 3\"\naccept = [\"rw [h2]\"]\n",
        STEP3_SKETCH.replace(":= by sorry", ":= sorry")
    );
    let project = sum_six_project(&model, &h3_by_plan, 2);
    let (output, report) = project.prove();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let proved = hole(&report, "sum_six");
    assert_eq!(proved["status"], "verified", "{report}");
    assert_eq!(proved["source"], "decomposition");
    let proof = proved["proof"].as_str().expect("a proof");
    for part in [
        "have h3 : a + b + c = 3 + 3",
        "have k1 : a + b + c = 3 + c",
        "rw [h1]",
        "have k2 : 3 + c = 3 + 3",
        "rw [h2]",
    ] {
        assert!(proof.contains(part), "{part} is in the proof:\n{proof}");
    }
    assert!(!proof.contains("sorry"), "{proof}");
    assert!(
        added_lines(&stdout(&output)).join("\n").contains("have k2"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        model.requests_for("mock-decomposer"),
        2,
        "one plan for the hole, one for its third step"
    );
}

#[test]
fn two_of_three_steps_proved_is_offered_as_a_partial_proof() {
    let model = decomposition_model();
    // No oracle entry for h3: Lean rejects every proof of it.
    let project = sum_six_project(&model, "", 1);
    let (output, report) = project.prove();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let partial = hole(&report, "sum_six");
    assert_eq!(partial["status"], "partial", "{report}");
    assert_eq!(partial["source"], "decomposition");
    assert!(
        partial["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("2 of 3")),
        "{partial}"
    );
    let diff = stdout(&output);
    let added = added_lines(&diff);
    let with_sorry: Vec<&&str> = added.iter().filter(|line| line.contains("sorry")).collect();
    assert_eq!(
        with_sorry.len(),
        1,
        "only the third step keeps sorry:\n{diff}"
    );
    assert!(with_sorry[0].contains("have h3"), "{diff}");
    let added = added.join("\n");
    assert!(
        added.contains("exact hc") && added.contains("have h1"),
        "{diff}"
    );
}

// ---- The cache and the data set -------------------------------------------------------------

#[test]
fn a_second_run_is_served_from_the_cache_and_the_data_set_has_every_attempt() {
    let model = decomposition_model();
    let project = sum_six_project(&model, H3_BY_PROVER, 1);
    let (first, first_report) = project.prove();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let first_hole = hole(&first_report, "sum_six").clone();
    let requests = model.requests();
    assert!(requests > 0);
    let elaborated_before = project.elaborations_of("sum_six");

    let (second, second_report) = project.prove();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(stdout(&second), stdout(&first), "the same proof is offered");
    let second_hole = hole(&second_report, "sum_six");
    assert_eq!(second_hole["source"], "cache", "{second_report}");
    assert_eq!(
        second_hole["attempts"], 1,
        "one Lean check: {second_report}"
    );
    assert_eq!(second_hole["proof"], first_hole["proof"]);
    assert_eq!(
        model.requests(),
        requests,
        "no model request on a cache hit"
    );
    // lean-sim elaborated the user's file once and the cached proof once, in a shadow copy.
    assert_eq!(
        project.elaborations_of("sum_six") - elaborated_before,
        2,
        "{}",
        project.lean_log()
    );

    let attempts = first_hole["attempts"].as_u64().expect("attempts") + 1;
    let rl = project.export("rl");
    assert_eq!(
        rl.len() as u64,
        attempts,
        "one record per attempt of both runs"
    );
    assert!(rl.iter().any(|record| record["reward"] == 1));
    assert!(rl.iter().any(|record| record["reward"] == 0));
    for record in &rl {
        let prompt = record["prompt"][0]["content"].as_str().unwrap_or_default();
        assert!(
            prompt.contains("sorry") && !prompt.contains("helper_lemma"),
            "{record}"
        );
    }

    let sft = project.export("sft");
    let completions: Vec<&str> = sft
        .iter()
        .filter_map(|pair| pair["completion"].as_str())
        .collect();
    assert_eq!(completions.len(), sft.len(), "every pair has a completion");
    let assembled = first_hole["proof"].as_str().expect("a proof");
    let assembled_first_line = assembled.lines().next().unwrap_or_default();
    assert!(
        completions.iter().any(|c| c.contains("theorem")
            && c.contains(assembled_first_line)
            && c.contains("rw [h1, h2]")),
        "the hole's verified proof is a pair: {sft:?}"
    );
    assert!(
        completions.iter().any(|c| c.contains("exact hc")),
        "the prover's verified step is a pair: {sft:?}"
    );
    assert!(
        sft.iter().all(|pair| pair["source"] != "cache"),
        "a cache hit's re-check is no new pair"
    );
}
