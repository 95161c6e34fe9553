//! Replays `sorryfill --capture` transcripts (`tests/captures/*.capture`, format in
//! `docs/capture.md`) against lean-sim: what the proxy sent to Lean goes to lean-sim in the
//! same order, and lean-sim must answer the same requests, in the same order, with the same
//! kind of answer (result or error, and the result's JSON type) as the captured server did.
//! A capture of a real Lean session that fails here shows where lean-sim differs from Lean.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::Sim;

/// One record of a capture.
struct Record {
    micros: u64,
    direction: String,
    body: Vec<u8>,
}

/// Reads a capture, written independently of the product's own reader so that the two
/// check each other against the documented format.
fn read_capture(path: &Path) -> Vec<Record> {
    let bytes = std::fs::read(path).expect("the capture is readable");
    let mut rest = &bytes[..];
    let line = |rest: &mut &[u8]| -> Option<String> {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let text = String::from_utf8(rest[..end].to_vec()).ok()?;
        *rest = &rest[end + 1..];
        Some(text)
    };
    let header = line(&mut rest).expect("a header line");
    assert!(
        header.starts_with("sorryfill-capture 1"),
        "{}: not a version-1 capture",
        path.display()
    );
    let mut records = Vec::new();
    while !rest.is_empty() {
        let record = line(&mut rest).expect("a record line");
        let fields: Vec<&str> = record.split(' ').collect();
        let [micros, direction, len] = fields[..] else {
            panic!("{}: malformed record line {record:?}", path.display());
        };
        let len: usize = len.parse().expect("a length");
        assert!(
            rest.len() > len && rest[len] == b'\n',
            "{}: record {} is cut",
            path.display(),
            records.len()
        );
        records.push(Record {
            micros: micros.parse().expect("a timestamp"),
            direction: direction.to_owned(),
            body: rest[..len].to_vec(),
        });
        rest = &rest[len + 1..];
    }
    records
}

/// The captures shipped with the tests: users add theirs here.
fn captures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captures");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/captures exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "capture"))
        .collect();
    found.sort();
    found
}

/// What is compared of an answer: its id and whether it is an error or a result of which
/// JSON type.
fn answer_shape(message: &Value) -> (Value, &'static str) {
    let kind = match (message.get("error"), message.get("result")) {
        (Some(_), _) => "error",
        (None, Some(Value::Null)) => "null",
        (None, Some(Value::Array(_))) => "array",
        (None, Some(Value::Object(_))) => "object",
        (None, Some(_)) => "scalar",
        (None, None) => "missing",
    };
    (message["id"].clone(), kind)
}

fn is_response(message: &Value) -> bool {
    message.get("id").is_some() && message.get("method").is_none()
}

/// Waits (up to 10 s) until lean-sim has answered `id`, unless it already has.
fn wait_answered(sim: &mut Sim, id: &Value) {
    let answered = |m: &Value| is_response(m) && m.get("id") == Some(id);
    if !sim.seen.iter().any(answered) {
        sim.try_wait_for(Duration::from_secs(10), answered);
    }
}

fn replay(path: &Path) {
    let records = read_capture(path);
    let parsed = |direction: &str| -> Vec<(u64, Value)> {
        records
            .iter()
            .filter(|r| r.direction == direction)
            .filter_map(|r| Some((r.micros, serde_json::from_slice(&r.body).ok()?)))
            .collect()
    };
    let to_lean = parsed("to-lean");
    let from_lean = parsed("from-lean");
    assert!(
        !to_lean.is_empty(),
        "{}: nothing was sent to Lean",
        path.display()
    );
    let requested: Vec<Value> = to_lean
        .iter()
        .filter(|(_, m)| m.get("id").is_some() && m.get("method").is_some())
        .map(|(_, m)| m["id"].clone())
        .collect();
    let captured: Vec<(u64, (Value, &'static str))> = from_lean
        .iter()
        .filter(|(_, m)| is_response(m) && requested.contains(&m["id"]))
        .map(|(t, m)| (*t, answer_shape(m)))
        .collect();

    let mut sim = Sim::spawn_raw(&[]);
    for (sent_at, message) in &to_lean {
        // Causality as captured: whatever Lean had answered before this message was sent,
        // lean-sim must have answered too before it gets the message.
        for (_, (id, _)) in captured.iter().filter(|(t, _)| t < sent_at) {
            wait_answered(&mut sim, id);
        }
        sim.send(message);
    }
    for (_, (id, _)) in &captured {
        wait_answered(&mut sim, id);
    }
    let replayed: Vec<(Value, &'static str)> = sim
        .seen
        .iter()
        .filter(|m| is_response(m) && requested.contains(&m["id"]))
        .map(answer_shape)
        .collect();
    let captured: Vec<(Value, &'static str)> =
        captured.into_iter().map(|(_, shape)| shape).collect();
    assert_eq!(
        replayed,
        captured,
        "{}: lean-sim's answers (id, kind) differ from the captured server's",
        path.display()
    );
    let _ = sim.finish();
}

#[test]
fn captured_sessions_replay_with_the_same_answers_in_the_same_order() {
    let found = captures();
    assert!(
        !found.is_empty(),
        "tests/captures holds at least the example capture"
    );
    for path in found {
        replay(&path);
    }
}
