//! Soak: a long scripted editor session through the real `sorryfill serve` in front of
//! lean-sim — tens of thousands of messages (edits, hovers, code-action requests) over
//! documents full of holes, so hundreds of proving jobs are submitted, cancelled, moved and
//! finished. It prints the proxy's resident memory after warm-up, at its peak and at the end
//! (as a ratio to the warm-up figure: back near 1 means nothing accumulates), the messages and
//! jobs it handled, and how many Lean processes were left after `exit` (must be 0). Figures,
//! not assertions: the machine is noisy.
//!
//! `cargo build --release -p lean-sim && cargo bench -p sorryfill --bench soak`
//! (`SOAK_ROUNDS` scales it; default 2000 rounds of three messages per document).
#![allow(clippy::print_stdout)]

mod common;

use common::read_frame;

use std::io::{BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const DOCUMENTS: usize = 10;
const HOLES_PER_DOCUMENT: usize = 10;

fn document(index: usize) -> String {
    let mut text = String::from("import Soak.Prelude\n\n");
    for hole in 0..HOLES_PER_DOCUMENT {
        text.push_str(&format!(
            "theorem soak{index}_{hole} (n : Nat) : n + {hole} = {hole} + n := by\n  sorry\n\n"
        ));
    }
    text
}

fn frame(message: &Value) -> Vec<u8> {
    let body = message.to_string();
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Resident and peak memory of `pid` in KiB (`VmRSS`, `VmHWM`).
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Lean processes still running whose command line names `marker`.
fn processes_naming(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'));
            !zombie && String::from_utf8_lossy(&cmdline).contains(marker)
        })
        .count()
}

fn main() {
    let Some(sim) = common::lean_sim() else {
        println!(
            "skipped: lean-sim is not built (run `cargo build --release -p lean-sim` or set LEAN_SIM)"
        );
        return;
    };
    let rounds: usize = std::env::var("SOAK_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::Builder::new()
        .prefix("sorryfill-soak-")
        .tempdir()
        .expect("a temporary folder");
    let root = dir.path();
    std::fs::write(
        root.join("sorryfill.toml"),
        "[tactics]\nlist = [\"rfl\", \"omega\"]\n",
    )
    .expect("config");
    let marker = root.to_string_lossy().into_owned();

    let mut proxy = Command::new(env!("CARGO_BIN_EXE_sorryfill"))
        .current_dir(root)
        .env("HOME", root)
        .arg("serve")
        .arg("--log-file")
        .arg(root.join("serve.log"))
        .arg("--")
        .arg(&sim)
        .arg("--accept-all")
        .arg("--log")
        .arg(root.join("lean-sim.log"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sorryfill starts");
    let pid = proxy.id();
    let mut stdin = proxy.stdin.take().expect("piped");
    let stdout = proxy.stdout.take().expect("piped");
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    let (answers, answered) = std::sync::mpsc::channel::<i64>();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        while let Some(body) = read_frame(&mut reader) {
            counter.fetch_add(1, Ordering::Relaxed);
            if let Ok(value) = serde_json::from_slice::<Value>(&body)
                && value.get("method").is_none()
                && let Some(id) = value["id"].as_i64()
            {
                let _ = answers.send(id);
            }
        }
    });
    let mut send = |message: Value| stdin.write_all(&frame(&message)).expect("the proxy reads");
    let mut sent = 0usize;
    let mut next_id = 0i64;

    send(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}}),
    );
    send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    sent += 2;
    let uris: Vec<String> = (0..DOCUMENTS)
        .map(|k| sorryfill::documents::file_uri(&root.join(format!("Soak{k}.lean"))))
        .collect();
    let mut texts: Vec<String> = (0..DOCUMENTS).map(document).collect();
    let mut versions = [1; DOCUMENTS];
    for (uri, text) in uris.iter().zip(&texts) {
        send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": text}}}));
        sent += 1;
    }
    std::thread::sleep(Duration::from_secs(2));
    let (warm, _) = memory_kib(pid);

    let started = Instant::now();
    let mut peak = warm;
    for round in 0..rounds {
        let doc = round % DOCUMENTS;
        versions[doc] += 1;
        // Alternate edits that touch a declaration (its job is cancelled and submitted again)
        // with edits below every declaration (jobs only move).
        let line = if round % 2 == 0 {
            3 + 3 * (round / DOCUMENTS % HOLES_PER_DOCUMENT)
        } else {
            2 + 3 * HOLES_PER_DOCUMENT
        };
        let insert = if round % 2 == 0 { " " } else { "-- note\n" };
        send(json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
            "params": {"textDocument": {"uri": uris[doc], "version": versions[doc]},
                "contentChanges": [{"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": insert}]}}));
        texts[doc].push_str(insert);
        next_id += 1;
        send(
            json!({"jsonrpc": "2.0", "id": next_id, "method": "textDocument/hover",
            "params": {"textDocument": {"uri": uris[doc]}, "position": {"line": 2, "character": 9}}}),
        );
        next_id += 1;
        send(
            json!({"jsonrpc": "2.0", "id": next_id, "method": "textDocument/codeAction",
            "params": {"textDocument": {"uri": uris[doc]},
                "range": {"start": {"line": 3, "character": 2}, "end": {"line": 3, "character": 7}},
                "context": {"diagnostics": []}}}),
        );
        sent += 3;
        if round % 200 == 0 {
            peak = peak.max(memory_kib(pid).0);
        }
    }
    // Wait until every request has its answer and Lean has settled every document.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut answers_seen = 0;
    while answers_seen < next_id as usize && Instant::now() < deadline {
        if answered.recv_timeout(Duration::from_secs(1)).is_ok() {
            answers_seen += 1;
        }
    }
    let soak_time = started.elapsed();
    std::thread::sleep(Duration::from_secs(5));
    let (end, high_water) = memory_kib(pid);
    peak = peak.max(high_water);
    let log = std::fs::read_to_string(root.join("serve.log")).unwrap_or_default();
    let jobs = log
        .lines()
        .filter(|line| line.contains("job submitted"))
        .count();

    send(json!({"jsonrpc": "2.0", "id": -1, "method": "shutdown"}));
    send(json!({"jsonrpc": "2.0", "method": "exit"}));
    let _ = proxy.wait();
    let _ = reader.join();
    std::thread::sleep(Duration::from_millis(500));
    let left = processes_naming(&marker);

    println!(
        "soak: {sent} messages sent, {} received, {answers_seen}/{next_id} requests answered, {jobs} jobs submitted, in {:.1} s",
        received.load(Ordering::Relaxed),
        soak_time.as_secs_f64()
    );
    println!(
        "soak: proxy memory warm {} MiB, peak {} MiB, end {} MiB: end/warm = {:.2}",
        warm / 1024,
        peak / 1024,
        end / 1024,
        end as f64 / warm.max(1) as f64
    );
    println!("soak: Lean processes left after exit: {left}");
}
