//! The editor protocol (`docs/editor-protocol.md`) through the real `sorryfill serve` binary in
//! front of lean-sim: the `$/sorryfill/status` notification, the plugins' commands
//! (`sorryfill.prove`, `proveFile`, `cancel`, `getStatus`) and the `SORRYFILL_SETTINGS`
//! channel. A "model server" that accepts connections and never answers keeps a hole busy,
//! so the tests can see a command overtake the background queue.

use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::editor::{Editor, WAIT, apply, serve_binary, serve_binary_with};
use crate::support::fresh_dir;

const STATUS: &str = "$/sorryfill/status";

const ORACLE: &str = r#"
[[theorem]]
statement = "(x : Nat) : x + 0 = x"
accept = ["omega"]
"#;

/// `t` has a proof Lean accepts (`omega`); nothing proves `u`.
const TWO_HOLES: &str = "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n\ntheorem u (x : Nat) : x = x + 1 := by\n  sorry\n";

/// One hole Lean accepts `omega` for.
const ONE_HOLE: &str = "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n";

/// A hole only a model could prove; with the silent model below its job never ends.
const MODEL_HOLE: &str = "theorem a (x : Nat) : x = x + 1 := by\n  sorry\n";

/// The params of the next status notification.
async fn next_status(editor: &mut Editor) -> Value {
    editor.wait_for(|frame| frame["method"] == STATUS).await["params"].clone()
}

/// Status notifications, in order, up to the first one `done` accepts.
async fn statuses_until(editor: &mut Editor, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let status = next_status(editor).await;
        let finished = done(&status);
        seen.push(status);
        if finished {
            return seen;
        }
    }
}

async fn execute(editor: &mut Editor, command: &str, arguments: Value) -> Value {
    editor
        .request(
            "workspace/executeCommand",
            json!({"command": command, "arguments": arguments}),
        )
        .await
}

fn at(uri: &str, line: u32, character: u32) -> Value {
    json!([{"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}])
}

/// The title of the proxy's status action on the hole at `line`, and the fill action if any.
async fn hole_actions(editor: &mut Editor, uri: &str, line: u32) -> (String, Option<Value>) {
    let actions = editor.code_actions_in(uri, line, 2).await;
    let status = actions
        .iter()
        .filter_map(|a| a["title"].as_str())
        .find(|t| t.starts_with(sorryfill::editor::STATUS_TITLE))
        .unwrap_or_default()
        .to_owned();
    let fill = actions
        .into_iter()
        .find(|a| a["title"] == sorryfill::editor::FILL_TITLE);
    (status, fill)
}

/// Asks for the hole's actions until `wanted` accepts them.
async fn hole_actions_until(
    editor: &mut Editor,
    uri: &str,
    line: u32,
    wanted: impl Fn(&str, Option<&Value>) -> bool,
) -> (String, Option<Value>) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, fill) = hole_actions(editor, uri, line).await;
        if wanted(&status, fill.as_ref()) {
            return (status, fill);
        }
        assert!(
            Instant::now() < deadline,
            "the hole never got there: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A model endpoint that accepts every connection and never answers: a request to it stays
/// in flight until the client drops it.
struct SilentModel {
    url: String,
    _connections: Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl SilentModel {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("a local address");
        let connections = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                kept.lock().expect("test lock").push(stream);
            }
        });
        Self {
            url: format!("http://{address}/v1"),
            _connections: connections,
        }
    }
}

fn uri_of(dir: &Path, file: &str) -> String {
    let root = dir.canonicalize().expect("the temp dir exists");
    sorryfill::documents::file_uri(&root.join(file))
}

/// The status follows the holes of a file: sent after `initialized`, `proving` while the
/// jobs run, then `ready` with one verified proof and one failure, each notification
/// different from the one before; `sorryfill.getStatus` answers the same object, and an
/// applied proof takes its hole out of the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_follows_the_holes_of_a_file() {
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("sorryfill.toml"),
        "[tactics]\nlist = [\"simp\", \"omega\"]\n",
    )
    .expect("write sorryfill.toml");
    // Each check takes Lean a while, so the jobs are seen running.
    let (mut child, mut editor, uri, log) =
        serve_binary_with(dir.path(), ORACLE, &[], &["--decl-ms", "150"]);
    editor.initialize(json!({}), &uri, TWO_HOLES).await;
    let seen = statuses_until(&mut editor, |s| {
        s["ready"].as_u64().unwrap_or(0) + s["failed"].as_u64().unwrap_or(0) == 2
    })
    .await;
    let last = seen.last().expect("at least one status").clone();
    assert_eq!(
        last,
        json!({
            "state": "ready", "holes": 2, "proving": 0, "ready": 1, "failed": 1,
            "message": "1 proof ready", "log": log.display().to_string(),
        })
    );
    assert!(
        seen.iter().any(|s| s["state"] == "proving"),
        "the jobs were seen running: {seen:?}"
    );
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1], "a status is sent only when it changed");
    }
    // Nothing of the proxy's own before the editor's `initialized`: the first status comes
    // after Lean's answer to `initialize`.
    let raw = editor.raw.lock().expect("not poisoned").clone();
    let initialized_at = raw
        .iter()
        .position(|frame| frame.contains("\"capabilities\""))
        .expect("the initialize result");
    let first_status = raw
        .iter()
        .position(|frame| frame.contains(STATUS))
        .expect("a status");
    assert!(initialized_at < first_status);

    let answer = execute(&mut editor, "sorryfill.getStatus", json!([])).await;
    assert_eq!(answer["result"], last);

    // The user applies the proof: one hole is left, and it failed.
    let (_, fill) = hole_actions_until(&mut editor, &uri, 1, |_, fill| fill.is_some()).await;
    let filled = apply(TWO_HOLES, &fill.expect("a fill action"));
    editor
        .send(
            json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": 2},
                "contentChanges": [{"text": filled}],
            }}),
        )
        .await;
    let seen = statuses_until(&mut editor, |s| s["holes"] == 1 && s["proving"] == 0).await;
    let last = seen.last().expect("a status");
    assert_eq!(last["state"], "idle", "{last}");
    assert_eq!(last["message"], "1 hole, 1 not proved");
    child.kill().await.expect("the proxy stops");
}

/// With one hole slot, a hole waiting behind a job that never ends is proved as soon as the
/// user asks for it; `cancel` then stops the job still running. Each command's errors name
/// what is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prove_overtakes_the_background_queue_and_cancel_stops_running_jobs() {
    let model = SilentModel::start();
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("sorryfill.toml"),
        format!(
            "[prover]\nbase_url = \"{}\"\nmodel = \"silent\"\nsamples = 1\ntimeout_s = 600\n\n\
             [budget]\nconcurrent_holes = 1\nsamples_per_hole = 1\n\n\
             [tactics]\nlist = [\"omega\"]\n",
            model.url
        ),
    )
    .expect("write sorryfill.toml");
    let (mut child, mut editor, busy_uri, _log) = serve_binary(dir.path(), ORACLE);
    editor.initialize(json!({}), &busy_uri, MODEL_HOLE).await;
    // The first hole holds the only slot, waiting for the model.
    hole_actions_until(&mut editor, &busy_uri, 1, |status, _| {
        status.ends_with("prover 0/1")
    })
    .await;
    let uri = uri_of(dir.path(), "B.lean");
    editor.open(&uri, ONE_HOLE).await;
    hole_actions_until(&mut editor, &uri, 1, |status, _| status.ends_with("queued")).await;

    // Errors first: nothing at the cursor, a document that is not open, an unknown command.
    let nothing = execute(&mut editor, "sorryfill.prove", at(&uri, 0, 0)).await;
    assert_eq!(nothing["error"]["code"], -32602, "{nothing}");
    assert!(
        nothing["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no `sorry`")),
        "{nothing}"
    );
    let closed = uri_of(dir.path(), "Closed.lean");
    let not_open = execute(&mut editor, "sorryfill.prove", at(&closed, 1, 2)).await;
    assert_eq!(not_open["error"]["code"], -32602, "{not_open}");
    let unknown = execute(&mut editor, "sorryfill.frobnicate", json!([])).await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    let no_uri = execute(&mut editor, "sorryfill.proveFile", json!([{}])).await;
    assert_eq!(no_uri["error"]["code"], -32602, "{no_uri}");

    let proved = execute(&mut editor, "sorryfill.prove", at(&uri, 1, 4)).await;
    assert_eq!(proved["result"], json!({"holes": 1}), "{proved}");
    let (_, fill) = hole_actions_until(&mut editor, &uri, 1, |_, fill| fill.is_some()).await;
    assert_eq!(
        apply(ONE_HOLE, &fill.expect("a fill")),
        ONE_HOLE.replace("sorry", "omega")
    );
    let (busy, _) = hole_actions(&mut editor, &busy_uri, 1).await;
    assert!(
        busy.ends_with("prover 0/1"),
        "the first job still runs: {busy}"
    );

    let whole_file = execute(
        &mut editor,
        "sorryfill.proveFile",
        json!([{"textDocument": {"uri": uri}}]),
    )
    .await;
    assert_eq!(whole_file["result"], json!({"holes": 1}), "{whole_file}");

    let cancelled = execute(&mut editor, "sorryfill.cancel", json!([])).await;
    assert_eq!(cancelled["result"], json!({"cancelled": 1}), "{cancelled}");
    hole_actions_until(&mut editor, &busy_uri, 1, |status, _| {
        status.ends_with("cancelled")
    })
    .await;
    statuses_until(&mut editor, |s| s["proving"] == 0 && s["ready"] == 1).await;
    child.kill().await.expect("the proxy stops");
}

/// `SORRYFILL_SETTINGS` applies over `sorryfill.toml` (the file allows only `simp`, which Lean
/// rejects here; the variable asks for `omega`), and `initializationOptions.sorryfill` over
/// the variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_variable_applies_over_the_file_and_under_the_editor() {
    for (variable, options) in [
        (r#"{"tactics": {"list": ["omega"]}}"#, json!(null)),
        (
            r#"{"tactics": {"list": ["simp"]}}"#,
            json!({"sorryfill": {"tactics": {"list": ["omega"]}}}),
        ),
    ] {
        let dir = fresh_dir();
        std::fs::write(
            dir.path().join("sorryfill.toml"),
            "[tactics]\nlist = [\"simp\"]\n",
        )
        .expect("write sorryfill.toml");
        let env = [("SORRYFILL_SETTINGS", variable)];
        let (mut child, mut editor, uri, _log) = serve_binary_with(dir.path(), ORACLE, &env, &[]);
        editor
            .initialize_with(json!({}), options, &uri, ONE_HOLE)
            .await;
        let (_, fill) = hole_actions_until(&mut editor, &uri, 1, |_, fill| fill.is_some()).await;
        assert_eq!(
            apply(ONE_HOLE, &fill.expect("a fill")),
            ONE_HOLE.replace("sorry", "omega")
        );
        child.kill().await.expect("the proxy stops");
    }
}

/// A hole whose declaration Lean reports an error in cannot be proved until the error is
/// fixed (Lean's error and its `sorryAx` stay): the status and the hole's status action say
/// why, asking for it says so instead of spending the budget, and the fix lets it be proved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hole_beside_an_error_waits_for_the_fix_and_says_why() {
    const BROKEN: &str = "theorem t (x : Nat) : x + 0 = x := by\n  have h : x = x := by sorry\n  exact no_such_lemma x\n";
    const FIXED: &str =
        "theorem t (x : Nat) : x + 0 = x := by\n  have h : x = x := by sorry\n  omega\n";
    let dir = fresh_dir();
    let oracle = "unknown_identifiers = [\"no_such_lemma\"]\n";
    let (mut child, mut editor, uri, _log) =
        serve_binary_with(dir.path(), oracle, &[], &["--accept-all"]);
    editor.initialize(json!({}), &uri, BROKEN).await;
    let why = "not proved: Lean reports an error in this declaration (line 3: Unknown identifier `no_such_lemma`)";
    let (status, fill) =
        hole_actions_until(&mut editor, &uri, 1, |status, _| status.contains(why)).await;
    assert!(fill.is_none(), "{status}");
    let status = execute(&mut editor, "sorryfill.getStatus", json!([])).await;
    assert_eq!(status["result"]["failed"], 1, "{status}");

    let asked = execute(&mut editor, "sorryfill.prove", at(&uri, 1, 25)).await;
    assert_eq!(asked["result"]["holes"], 1, "{asked}");
    let shown = editor
        .wait_for(|frame| frame["method"] == "window/showMessage")
        .await;
    assert_eq!(shown["params"]["type"], 2, "{shown}");
    let message = shown["params"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("sorryfill: t#0: Lean reports an error in this declaration"),
        "{message}"
    );

    editor
        .send(
            json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": 2},
                "contentChanges": [{"text": FIXED}],
            }}),
        )
        .await;
    let (_, fill) = hole_actions_until(&mut editor, &uri, 1, |_, fill| fill.is_some()).await;
    let filled = apply(FIXED, &fill.expect("a fill"));
    assert!(!filled.contains("sorry"), "{filled}");
    child.kill().await.expect("the proxy stops");
}

/// A `SORRYFILL_SETTINGS` that is not a configuration turns sorryfill off, and the status
/// and the commands say why; Lean keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_settings_variable_turns_sorryfill_off_and_the_status_says_why() {
    let dir = fresh_dir();
    let env = [("SORRYFILL_SETTINGS", r#"{"tactics": {"lsit": []}}"#)];
    let (mut child, mut editor, uri, _log) = serve_binary_with(dir.path(), ORACLE, &env, &[]);
    editor.initialize(json!({}), &uri, ONE_HOLE).await;
    let status = next_status(&mut editor).await;
    assert_eq!(status["state"], "off", "{status}");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("SORRYFILL_SETTINGS") && message.contains("lsit"),
        "{message}"
    );
    let refused = execute(&mut editor, "sorryfill.prove", at(&uri, 1, 2)).await;
    assert_eq!(refused["error"]["code"], -32803, "{refused}");
    editor.lean_still_publishes(&uri).await;
    child.kill().await.expect("the proxy stops");
}

/// A model endpoint nobody listens on makes the status `unreachable`, naming the endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_nobody_listens_on_is_reported_unreachable() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.local_addr().expect("an address").port()
    };
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("sorryfill.toml"),
        format!("[prover]\nbase_url = \"http://127.0.0.1:{port}/v1\"\nmodel = \"m\"\n"),
    )
    .expect("write sorryfill.toml");
    let (mut child, mut editor, uri, _log) = serve_binary(dir.path(), ORACLE);
    editor.initialize(json!({}), &uri, MODEL_HOLE).await;
    let seen = statuses_until(&mut editor, |s| s["state"] == "unreachable").await;
    let message = seen.last().expect("a status")["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("prover endpoint") && message.contains(&port.to_string()),
        "{message}"
    );
    child.kill().await.expect("the proxy stops");
}
