//! Verification throughput: checks per second with K shadow workers against lean-sim with
//! `--decl-ms 50`, as a fraction of the ideal K × 20 checks/s (each check re-elaborates only
//! the target declaration), and the bytes sent to Lean per check against the document size.
//! The per-check overhead is measured in the same run against lean-sim with `--decl-ms 0`
//! (the machine is noisy).
//!
//! Needs the `lean-sim` binary next to this bench's profile (`cargo build -p lean-sim`, or
//! `LEAN_SIM=/path/to/lean-sim`); without it the bench prints one `skipped:` line.
#![allow(clippy::print_stdout)]

mod common;

use common::lean_sim;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sorryfill::holes::{HoleIndex, HolePosition};
use sorryfill::router::{Proxy, ProxyConfig};
use sorryfill::verify::{
    CheckRequest, CheckerSettings, GateMode, GateVerdict, ShadowChecker, SourceText,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DECL_MS: u64 = 50;
const DECLARATIONS: usize = 100;
const CHECKS_PER_WORKER: usize = 20;
/// Candidates in flight per shadow worker: the pipeline keeps more candidates waiting than
/// there are workers, so a worker never idles while the next candidate is spliced.
const SUBMITTERS_PER_WORKER: usize = 2;
const CANDIDATE_FORMS: [&str; 4] = [
    "omega",
    "exact Nat.le_succ_of_le h",
    "have h2 : b ≤ b + 1 := Nat.le_succ b\nexact Nat.le_trans h h2",
    "apply Nat.le_trans h\nexact Nat.le_succ b",
];
const ROOT: &str = "file:///bench/project";
const SOURCE_URI: &str = "file:///bench/project/Bench.lean";

fn document() -> String {
    let mut text = String::from("import Bench.Prelude\n\n");
    for k in 0..DECLARATIONS - 1 {
        text.push_str(&format!(
            "theorem helper{k} (a : ℕ) : a ≤ a + {k} + 1 := by\n  omega\n\n"
        ));
    }
    text.push_str("theorem target (a b : ℕ) (h : a ≤ b) : a ≤ b + 1 := by\n  sorry\n");
    text
}

fn frame(body: &serde_json::Value) -> Vec<u8> {
    let body = body.to_string();
    [
        format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes(),
        body.into_bytes(),
    ]
    .concat()
}

/// One hole to check candidates at.
#[derive(Clone)]
struct Job {
    text: Arc<String>,
    hole_span: std::ops::Range<usize>,
    declaration: std::ops::Range<usize>,
}

impl Job {
    async fn check(self, checker: ShadowChecker, proof: String) {
        let request = CheckRequest {
            source_uri: SOURCE_URI,
            source: &SourceText::read(&self.text),
            hole_version: 1,
            hole_span: self.hole_span,
            hole_position: HolePosition::Tactic,
            declaration: self.declaration,
            proof: &proof,
            mode: GateMode::Full,
        };
        let verdict = checker.check(&request).await;
        assert!(
            matches!(verdict, GateVerdict::Verified { .. }),
            "{verdict:?}"
        );
    }
}

struct Run {
    checks_per_second: f64,
    bytes_per_check: f64,
}

async fn run(sim: &Path, workers: usize, decl_ms: u64) -> Run {
    let mut server = tokio::process::Command::new(sim);
    server
        .arg("--accept-all")
        .arg("--decl-ms")
        .arg(decl_ms.to_string());
    let (mut editor, proxy_in) = tokio::io::duplex(1 << 20);
    let (proxy_out, mut editor_reads) = tokio::io::duplex(1 << 20);
    let proxy = Proxy::new(ProxyConfig::default());
    let lean = proxy.lean_handle();
    let session = tokio::spawn(proxy.serve(proxy_in, proxy_out, server));
    // The editor reads everything, so the proxy never blocks on it.
    tokio::spawn(async move {
        let mut sink = vec![0u8; 1 << 16];
        while matches!(editor_reads.read(&mut sink).await, Ok(n) if n > 0) {}
    });
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"rootUri": ROOT}}),
        json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
    ] {
        editor
            .write_all(&frame(&message))
            .await
            .expect("the proxy reads");
    }

    let (_busy_tx, busy) = tokio::sync::watch::channel(false);
    let checker = ShadowChecker::new(
        lean,
        ROOT,
        CheckerSettings {
            workers,
            timeout: Duration::from_secs(60),
            ..CheckerSettings::default()
        },
        busy,
        Arc::new(|_: &str| Some(1)),
    )
    .expect("the router runs");
    let text = Arc::new(document());
    let index = HoleIndex::new(&text);
    let hole = index.holes()[0].clone();
    let declaration = index.outline().commands[hole.declaration.expect("in a declaration")]
        .span
        .clone();

    let job = Job {
        text,
        hole_span: hole.span.clone(),
        declaration,
    };

    // Warm-up: every slot opens its shadow document and elaborates the whole prefix once.
    let warmups: Vec<_> = (0..workers)
        .map(|w| {
            tokio::spawn(
                job.clone()
                    .check(checker.clone(), format!("exact le_trans h (le_refl {w})")),
            )
        })
        .collect();
    for warmup in warmups {
        warmup.await.expect("no panic");
    }
    let before = checker.stats();

    let started = Instant::now();
    let submitters = workers * SUBMITTERS_PER_WORKER;
    let tasks: Vec<_> = (0..submitters)
        .map(|w| {
            let checker = checker.clone();
            let job = job.clone();
            tokio::spawn(async move {
                for i in 0..CHECKS_PER_WORKER / SUBMITTERS_PER_WORKER {
                    // Candidates differ as a model's samples do, not only in one digit.
                    let form = CANDIDATE_FORMS[i % CANDIDATE_FORMS.len()];
                    let proof = format!("{form} -- sample {w}.{i}");
                    job.clone().check(checker.clone(), proof).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    let elapsed = started.elapsed();
    let after = checker.stats();
    let checks = (workers * CHECKS_PER_WORKER) as f64;

    editor
        .write_all(&frame(
            &json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": null}),
        ))
        .await
        .expect("the proxy reads");
    editor
        .write_all(&frame(&json!({"jsonrpc": "2.0", "method": "exit"})))
        .await
        .expect("the proxy reads");
    let _ = tokio::time::timeout(Duration::from_secs(10), session).await;

    Run {
        checks_per_second: checks / elapsed.as_secs_f64(),
        bytes_per_check: (after.bytes_sent - before.bytes_sent) as f64 / checks,
    }
}

fn main() {
    let Some(sim) = lean_sim() else {
        println!("skipped: lean-sim is not built (run `cargo build -p lean-sim` or set LEAN_SIM)");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime can be built");
    let size = document().len();
    println!(
        "verification throughput ({DECLARATIONS}-declaration document of {size} bytes, hole in the last declaration)"
    );
    for workers in [1, 2, 4] {
        let overhead = runtime.block_on(run(&sim, workers, 0));
        let measured = runtime.block_on(run(&sim, workers, DECL_MS));
        let ideal = workers as f64 * 1000.0 / DECL_MS as f64;
        println!(
            "  K={workers}: {:>6.1} checks/s = {:>5.1} % of the ideal {ideal:.0}/s \
             (without elaboration cost: {:.1} ms per check); {:.0} bytes sent per check = {:.2} % of the document",
            measured.checks_per_second,
            100.0 * measured.checks_per_second / ideal,
            1000.0 / overhead.checks_per_second,
            measured.bytes_per_check,
            100.0 * measured.bytes_per_check / size as f64,
        );
    }
}
