//! The editor session end to end, in process: a scripted editor on a duplex pipe, the
//! real proxy and session, `lean-sim` as Lean, and a small shadow-document checker that
//! asks lean-sim itself (the real `LeanChecker` lives in `verify`; this one keeps the
//! session's tests independent of it).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sorryfill::config::EditorConfig;
use sorryfill::editor::{EditorState, FILL_TITLE, HoleActions, STATUS_TITLE, Session};
use sorryfill::lean::{LeanHandle, PrivateEvent};
use sorryfill::pipeline::{
    CheckMode, Checker, HoleBudget, NoDecomposer, NoProver, NoStore, Pipeline, PipelineVerdict,
    Portfolio, RejectKind, Target, WorkspaceLimits,
};
use sorryfill::router::{Proxy, ProxyConfig};
use sorryfill::verify;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};

use crate::support::{fresh_dir, lean_sim_bin, sorryfill_bin};

const SHADOW_PREFIX: &str = "file:///sorryfill-test-shadow/";
pub(crate) const WAIT: Duration = Duration::from_secs(30);
const URI: &str = "file:///project/Main.lean";

/// One check the test checker made: the version it was for and the proof text.
type CheckLog = Arc<Mutex<Vec<(i32, String)>>>;

/// Checks a proof by opening the spliced document under a private URI in lean-sim: no
/// error and no sorry warning means verified. Its diagnostics are read at Lean's barrier, the
/// `waitForDiagnostics` answer (Lean publishes a quick version after saying it is done).
#[derive(Clone)]
struct ShadowChecker {
    lean: LeanHandle,
    state: EditorState,
    next: Arc<Mutex<u64>>,
    log: CheckLog,
}

impl ShadowChecker {
    fn new(lean: LeanHandle, state: EditorState) -> Self {
        Self {
            lean,
            state,
            next: Arc::default(),
            log: CheckLog::default(),
        }
    }

    /// Opens `text` as a fresh private document and returns its final diagnostics.
    async fn diagnostics_of(&self, text: &str) -> Option<Vec<sorryfill::lean::LeanDiagnostic>> {
        let prefix = {
            let mut next = self.next.lock().expect("not poisoned");
            *next += 1;
            format!("{SHADOW_PREFIX}{next}/")
        };
        let uri = format!("{prefix}Check.lean");
        let mut events = self.lean.register_private(prefix).ok()?;
        let open = json!({"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": text}});
        self.lean.notify("textDocument/didOpen", open).ok()?;
        let answered = tokio::time::timeout(WAIT, self.lean.wait_for_diagnostics(&uri, 1)).await;
        let mut last = Vec::new();
        while let Ok(event) = events.try_recv() {
            if let PrivateEvent::Diagnostics { diagnostics, .. } = event {
                last = diagnostics;
            }
        }
        let _ = self.lean.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
        matches!(answered, Ok(Ok(()))).then_some(last)
    }
}

impl Checker for ShadowChecker {
    async fn check(&self, target: &Target, proof: &str, mode: CheckMode) -> PipelineVerdict {
        let Some((hole, index)) = self
            .state
            .hole_at(&target.doc, target.version, &target.hole)
        else {
            return PipelineVerdict::rejected(RejectKind::Stale, "the version is gone");
        };
        self.log
            .lock()
            .expect("not poisoned")
            .push((target.version, proof.to_owned()));
        let spliced = match verify::splice(
            index.text(),
            hole.span,
            hole.position,
            &target.render(proof),
        ) {
            Ok(spliced) => spliced,
            Err(error) => return PipelineVerdict::rejected(RejectKind::Gate, format!("{error:?}")),
        };
        let Some(diagnostics) = self.diagnostics_of(&spliced.text).await else {
            return PipelineVerdict::rejected(RejectKind::Timeout, "no answer");
        };
        let error = diagnostics.iter().find(|d| d.is_error());
        let sorry = diagnostics
            .iter()
            .any(|d| sorryfill::holes::is_sorry_warning(&d.message));
        tracing::debug!(?diagnostics, proof, "test check");
        match (error, mode) {
            (Some(error), _) => PipelineVerdict::rejected(RejectKind::Lean, error.message.clone()),
            (None, CheckMode::Full) if sorry => {
                PipelineVerdict::rejected(RejectKind::Lean, "uses sorry")
            }
            (None, _) => PipelineVerdict::verified(),
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

/// The scripted editor: writes frames, reads every frame the proxy sends.
pub(crate) struct Editor {
    to_proxy: Box<dyn AsyncWrite + Unpin + Send>,
    frames: mpsc::UnboundedReceiver<Value>,
    backlog: Vec<Value>,
    pub(crate) raw: Arc<Mutex<Vec<String>>>,
    next_id: i64,
    checks: CheckLog,
    state: EditorState,
}

impl Editor {
    fn connect(
        to_proxy: Box<dyn AsyncWrite + Unpin + Send>,
        from_proxy: impl AsyncRead + Unpin + Send + 'static,
        checks: CheckLog,
        state: EditorState,
    ) -> Self {
        let (frames_tx, frames) = mpsc::unbounded_channel();
        let raw = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(read_frames(from_proxy, frames_tx, Arc::clone(&raw)));
        Editor {
            to_proxy,
            frames,
            backlog: Vec::new(),
            raw,
            next_id: 0,
            checks,
            state,
        }
    }

    pub(crate) async fn initialize(&mut self, capabilities: Value, uri: &str, text: &str) {
        self.initialize_with(capabilities, Value::Null, uri, text)
            .await;
    }

    /// `initialize` with `initializationOptions`, `initialized`, then `didOpen`.
    pub(crate) async fn initialize_with(
        &mut self,
        capabilities: Value,
        options: Value,
        uri: &str,
        text: &str,
    ) {
        self.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": "file:///project",
                "capabilities": capabilities,
                "initializationOptions": options,
            }),
        )
        .await;
        self.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
            .await;
        self.open(uri, text).await;
    }

    /// Waits for Lean's first non-empty publish and checks it is about `uri`: Lean's own
    /// traffic flows, whatever sorryfill does.
    pub(crate) async fn lean_still_publishes(&mut self, uri: &str) {
        let published = self
            .wait_for(|frame| {
                frame["method"] == "textDocument/publishDiagnostics"
                    && frame["params"]["diagnostics"]
                        .as_array()
                        .is_some_and(|diagnostics| !diagnostics.is_empty())
            })
            .await;
        assert_eq!(published["params"]["uri"], uri);
    }

    /// `didOpen` of `text` at version 1.
    pub(crate) async fn open(&mut self, uri: &str, text: &str) {
        self.send(
            json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
                "textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": text},
            }}),
        )
        .await;
    }

    pub(crate) async fn send(&mut self, message: Value) {
        let body = serde_json::to_vec(&message).expect("JSON serialises");
        let header = format!("Content-Length: {}\r\n\r\n", body.len());
        self.to_proxy
            .write_all(header.as_bytes())
            .await
            .expect("the proxy reads");
        self.to_proxy
            .write_all(&body)
            .await
            .expect("the proxy reads");
    }

    pub(crate) async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        self.wait_for(|frame| frame["id"] == id && frame.get("method").is_none())
            .await
    }

    /// The first frame, among those not yet taken, that `wanted` accepts.
    pub(crate) async fn wait_for(&mut self, mut wanted: impl FnMut(&Value) -> bool) -> Value {
        if let Some(at) = self.backlog.iter().position(&mut wanted) {
            return self.backlog.remove(at);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.frames.recv()).await {
                Ok(Some(frame)) if wanted(&frame) => return frame,
                Ok(Some(frame)) => self.backlog.push(frame),
                Ok(None) | Err(_) => panic!("the expected frame never came"),
            }
        }
    }

    async fn change(&mut self, version: i32, text: &str) {
        self.send(
            json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": URI, "version": version},
                "contentChanges": [{"text": text}],
            }}),
        )
        .await;
    }

    async fn code_actions(&mut self, line: u32) -> Vec<Value> {
        self.code_actions_in(URI, line, 0).await
    }

    /// The code actions of `uri` at `line`, `character`.
    pub(crate) async fn code_actions_in(
        &mut self,
        uri: &str,
        line: u32,
        character: u32,
    ) -> Vec<Value> {
        let position = json!({"line": line, "character": character});
        let answer = self
            .request(
                "textDocument/codeAction",
                json!({
                    "textDocument": {"uri": uri},
                    "range": {"start": position, "end": position},
                    "context": {"diagnostics": []},
                }),
            )
            .await;
        answer["result"].as_array().cloned().unwrap_or_default()
    }

    /// Asks for code actions at `line` until the fill action names `version`.
    async fn fill_action(&mut self, line: u32, version: i32) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let actions = self.code_actions(line).await;
            if let Some(fill) = actions.iter().find(|a| {
                a["title"] == FILL_TITLE
                    && a["edit"]["documentChanges"][0]["textDocument"]["version"] == version
            }) {
                return fill.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no fill action for version {version}: {actions:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn checks_at(&self, version: i32) -> Vec<String> {
        self.checks
            .lock()
            .expect("not poisoned")
            .iter()
            .filter(|(v, _)| *v == version)
            .map(|(_, proof)| proof.clone())
            .collect()
    }
}

async fn read_frames(
    from_proxy: impl AsyncRead + Unpin,
    frames: mpsc::UnboundedSender<Value>,
    raw: Arc<Mutex<Vec<String>>>,
) {
    let mut reader = BufReader::new(from_proxy);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length: ") {
                length = value.parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.expect("every frame has a length")];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        raw.lock()
            .expect("not poisoned")
            .push(String::from_utf8_lossy(&body).into_owned());
        if let Ok(value) = serde_json::from_slice(&body) {
            let _ = frames.send(value);
        }
    }
}

/// Starts the proxy, the session and lean-sim with `oracle`, initialises and opens `text`.
async fn start(oracle: &str, text: &str) -> (Editor, tempfile::TempDir) {
    start_with(oracle, text, false, json!({})).await
}

/// [`start`] with `[editor] apply_on_save` and the editor's `capabilities`.
async fn start_with(
    oracle: &str,
    text: &str,
    apply_on_save: bool,
    capabilities: Value,
) -> (Editor, tempfile::TempDir) {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env(
            "SORRYFILL_TEST_LOG",
        ))
        .try_init();
    let dir = fresh_dir();
    let oracle_path = dir.path().join("oracle.toml");
    std::fs::write(&oracle_path, oracle).expect("the temp dir is writable");
    let mut server = tokio::process::Command::new(lean_sim_bin());
    server.arg("--oracle").arg(&oracle_path);

    let mut proxy = Proxy::new(ProxyConfig::default());
    let lean = proxy.lean_handle();
    let editor_handle = proxy.editor_handle();
    let documents = proxy.observe_documents();
    let state = EditorState::new();
    proxy.set_code_action_provider(
        HoleActions::new(state.clone()).with_editor(proxy.editor_handle()),
    );
    let checker = ShadowChecker::new(lean.clone(), state.clone());
    let checks = Arc::clone(&checker.log);
    let (busy, _) = watch::channel(false);
    let pipeline = Arc::new(Pipeline::new(
        checker,
        NoProver,
        NoDecomposer,
        NoStore,
        Portfolio::default(),
        HoleBudget {
            use_models: false,
            cleanup_checks: 0,
            ..HoleBudget::default()
        },
        WorkspaceLimits::default(),
    ));
    let settings = EditorConfig { apply_on_save };
    let session =
        Session::new(pipeline, lean, state.clone(), busy).with_editor(editor_handle, settings);
    tokio::spawn(session.run(documents));

    let (to_proxy, proxy_in) = tokio::io::duplex(1 << 20);
    let (proxy_out, from_proxy) = tokio::io::duplex(1 << 20);
    tokio::spawn(proxy.serve(proxy_in, proxy_out, server));
    let mut editor = Editor::connect(Box::new(to_proxy), from_proxy, checks, state);
    editor.initialize(capabilities, URI, text).await;
    (editor, dir)
}

const ORACLE: &str = r#"
[[theorem]]
statement = "(x : Nat) : x + 0 = x"
accept = ["omega"]

[[theorem]]
statement = ": True"
accept = ["trivial"]
"#;

const TEXT: &str = "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n";

/// Applies a `TextDocumentEdit`'s single edit to `text` (UTF-16 columns are ASCII here).
pub(crate) fn apply(text: &str, action: &Value) -> String {
    let edit = &action["edit"]["documentChanges"][0]["edits"][0];
    let offset = |position: &Value| {
        let line = position["line"].as_u64().expect("a line") as usize;
        let character = position["character"].as_u64().expect("a column") as usize;
        text.split_inclusive('\n')
            .take(line)
            .map(str::len)
            .sum::<usize>()
            + character
    };
    let start = offset(&edit["range"]["start"]);
    let end = offset(&edit["range"]["end"]);
    format!(
        "{}{}{}",
        &text[..start],
        edit["newText"].as_str().expect("new text"),
        &text[end..]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portfolio_proof_is_offered_with_a_versioned_edit_lean_accepts() {
    let (mut editor, _dir) = start(ORACLE, TEXT).await;
    let fill = editor.fill_action(1, 1).await;
    assert_eq!(fill["kind"], "quickfix");
    assert_eq!(fill["isPreferred"], true);
    assert!(fill["data"]["sorryfill"].is_object());
    let fixed = apply(TEXT, &fill);
    assert!(!fixed.contains("sorry"), "{fixed}");

    // The fixed file is what lean-sim accepts: no error, no sorry warning.
    editor.change(2, &fixed).await;
    editor
        .request(
            "textDocument/waitForDiagnostics",
            json!({"uri": URI, "version": 2}),
        )
        .await;
    let raw = editor.raw.lock().expect("not poisoned").clone();
    let last_publish = raw
        .iter()
        .rev()
        .filter_map(|frame| serde_json::from_str::<Value>(frame).ok())
        .find(|f| f["method"] == "textDocument/publishDiagnostics" && f["params"]["version"] == 2)
        .expect("Lean published diagnostics for the fixed version");
    let messages: Vec<Value> = last_publish["params"]["diagnostics"]
        .as_array()
        .map(|d| d.iter().map(|d| d["message"].clone()).collect())
        .unwrap_or_default();
    assert!(messages.is_empty(), "{messages:?}");

    // Nothing about shadow documents or private ids reached the editor.
    let raw = editor.raw.lock().expect("not poisoned").clone();
    for frame in raw {
        assert!(!frame.contains("sorryfill-test-shadow"), "{frame}");
        let private_id = frame
            .match_indices("\"sorryfill:")
            .any(|(at, found)| frame[at + found.len()..].starts_with(|c: char| c.is_ascii_digit()));
        assert!(!private_id, "{frame}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_above_below_and_inside_the_declaration() {
    let (mut editor, _dir) = start(ORACLE, TEXT).await;
    editor.fill_action(1, 1).await;

    // Below: the proof moves to the new version without a new check.
    let below = format!("{TEXT}\ntheorem post : True := trivial\n");
    editor.change(2, &below).await;
    let fill = editor.fill_action(1, 2).await;
    assert_eq!(apply(&below, &fill), below.replace("sorry", "omega"));
    assert!(editor.checks_at(2).is_empty(), "{:?}", editor.checks_at(2));

    // Above: the proof is checked again at the new version before it is offered there.
    let above = format!("theorem pre : True := trivial\n\n{below}");
    editor.change(3, &above).await;
    let fill = editor.fill_action(3, 3).await;
    assert_eq!(apply(&above, &fill), above.replace("sorry", "omega"));
    assert_eq!(editor.checks_at(3), ["omega"]);

    // Inside: the job is cancelled, and a new one starts from the tactics for the new text.
    let inside = above.replace("  sorry", "  -- the proof\n  sorry");
    editor.change(4, &inside).await;
    let fill = editor.fill_action(4, 4).await;
    assert_eq!(apply(&inside, &fill), inside.replace("  sorry", "  omega"));
    let rechecked = editor.checks_at(4);
    assert_eq!(
        rechecked.first().map(String::as_str),
        Some("rfl"),
        "{rechecked:?}"
    );
    assert!(editor.state.jobs_of(URI).len() == 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_reported_when_declared_and_verified_proofs_are_applied_on_save() {
    let capabilities = json!({"window": {"workDoneProgress": true}});
    let (mut editor, _dir) = start_with(ORACLE, TEXT, true, capabilities).await;
    let fill = editor.fill_action(1, 1).await;
    let end = editor
        .wait_for(|f| f["method"] == "$/progress" && f["params"]["value"]["kind"] == "end")
        .await;
    assert_eq!(end["params"]["value"]["message"], "verified");
    let token = end["params"]["token"].as_str().expect("a string token");
    assert!(token.starts_with("sorryfill:"), "{token}");
    let raw = editor.raw.lock().expect("not poisoned").clone();
    let create = raw
        .iter()
        .position(|f| f.contains("window/workDoneProgress/create") && f.contains(token));
    let begin = raw
        .iter()
        .position(|f| f.contains("\"begin\"") && f.contains(token));
    assert!(create.is_some() && create < begin, "create before begin");

    editor
        .send(json!({"jsonrpc": "2.0", "method": "textDocument/didSave", "params": {"textDocument": {"uri": URI}}}))
        .await;
    let apply = editor
        .wait_for(|f| f["method"] == "workspace/applyEdit")
        .await;
    assert_eq!(apply["params"]["edit"], fill["edit"]);
    let id = apply["id"].clone();
    editor
        .send(json!({"jsonrpc": "2.0", "id": id, "result": {"applied": true}}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_capability_or_the_setting_the_proxy_sends_nothing_of_its_own() {
    let (mut editor, _dir) = start(ORACLE, TEXT).await;
    editor.fill_action(1, 1).await;
    editor
        .send(json!({"jsonrpc": "2.0", "method": "textDocument/didSave", "params": {"textDocument": {"uri": URI}}}))
        .await;
    // A round trip after the save: anything the save caused has been sent by then.
    editor.code_actions(0).await;
    let raw = editor.raw.lock().expect("not poisoned").clone();
    for frame in raw {
        assert!(!frame.contains("$/progress"), "{frame}");
        assert!(!frame.contains("workspace/applyEdit"), "{frame}");
    }
}

/// The real `sorryfill serve` in `dir` in front of lean-sim with `oracle`, with no user-level
/// configuration; returns the child, a connected editor, the document URI and the log path.
pub(crate) fn serve_binary(
    dir: &std::path::Path,
    oracle: &str,
) -> (tokio::process::Child, Editor, String, std::path::PathBuf) {
    serve_binary_with(dir, oracle, &[], &[])
}

/// [`serve_binary`] with extra environment variables for `sorryfill serve` and extra
/// arguments for lean-sim.
pub(crate) fn serve_binary_with(
    dir: &std::path::Path,
    oracle: &str,
    env: &[(&str, &str)],
    lean_args: &[&str],
) -> (tokio::process::Child, Editor, String, std::path::PathBuf) {
    let oracle_path = dir.join("oracle.toml");
    std::fs::write(&oracle_path, oracle).expect("the temp dir is writable");
    let log = dir.join("proxy.log");
    let mut child = tokio::process::Command::new(sorryfill_bin())
        .arg("serve")
        .arg("--log-file")
        .arg(&log)
        .arg("--")
        .arg(lean_sim_bin())
        .arg("--oracle")
        .arg(&oracle_path)
        .args(lean_args)
        .current_dir(dir)
        // No user-level sorryfill.toml may change what runs.
        .env("XDG_CONFIG_HOME", dir)
        .env("HOME", dir)
        .env_remove("SORRYFILL_SETTINGS")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("sorryfill starts");
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let root = dir.canonicalize().expect("the temp dir exists");
    let uri = sorryfill::documents::file_uri(&root.join("Main.lean"));
    let editor = Editor::connect(
        Box::new(stdin),
        stdout,
        CheckLog::default(),
        EditorState::new(),
    );
    (child, editor, uri, log)
}

/// Asks for code actions at the hole of `TEXT` until the fill action comes.
async fn wait_for_fill(editor: &mut Editor, uri: &str) -> Value {
    wait_for_fill_on(editor, uri, 1).await
}

/// Asks for code actions on `line` until the fill action comes.
async fn wait_for_fill_on(editor: &mut Editor, uri: &str, line: u32) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let actions = editor.code_actions_in(uri, line, 2).await;
        if let Some(fill) = actions.iter().find(|a| a["title"] == FILL_TITLE) {
            return fill.clone();
        }
        assert!(Instant::now() < deadline, "no fill action: {actions:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The real `sorryfill serve` binary in front of lean-sim: model-free, the portfolio's
/// proof is checked by the real `LeanChecker` and offered with a versioned edit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorryfill_serve_offers_the_portfolio_proof_with_no_model() {
    let dir = fresh_dir();
    let (mut child, mut editor, uri, log) = serve_binary(dir.path(), ORACLE);
    editor.initialize(json!({}), &uri, TEXT).await;

    let fill = wait_for_fill(&mut editor, &uri).await;
    let change = &fill["edit"]["documentChanges"][0];
    assert_eq!(change["textDocument"]["version"], 1);
    assert_eq!(change["textDocument"]["uri"], uri.as_str());
    assert_eq!(apply(TEXT, &fill), TEXT.replace("sorry", "omega"));

    let raw = editor.raw.lock().expect("not poisoned").clone();
    for frame in raw {
        assert!(!frame.contains(".lake/sorryfill/shadow"), "{frame}");
    }
    editor.request("shutdown", Value::Null).await;
    editor
        .send(json!({"jsonrpc": "2.0", "method": "exit"}))
        .await;
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("sorryfill exits after `exit`")
        .expect("waitable");
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log.contains("model-free"), "{log}");
}

/// A declaration under `open … in` has no symbol in Lean's answer; `serve` checks it as Lean
/// expands it and offers the proof at the user's hole, prefix untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hole_under_open_in_is_filled() {
    let text = format!("open Nat in\nset_option maxRecDepth 1000 in\n{TEXT}");
    let dir = fresh_dir();
    let (mut child, mut editor, uri, _log) = serve_binary(dir.path(), ORACLE);
    editor.initialize(json!({}), &uri, &text).await;
    let fill = wait_for_fill_on(&mut editor, &uri, 3).await;
    assert_eq!(apply(&text, &fill), text.replace("sorry", "omega"));
    child.kill().await.expect("the proxy stops");
}

/// Regression: the checker of `serve` (on its own, confined checking server) refused every
/// joint check, so proofs for two holes of one declaration were never applied on save.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_holes_of_one_declaration_are_applied_together_on_save() {
    const PAIR: &str = "theorem pair (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  sorry\n  sorry\n";
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("sorryfill.toml"),
        "[editor]\napply_on_save = true\n",
    )
    .expect("the temp dir is writable");
    let (_child, mut editor, uri, _log) =
        serve_binary_with(dir.path(), ORACLE, &[], &["--accept-all"]);
    editor.initialize(json!({}), &uri, PAIR).await;
    for line in [2, 3] {
        wait_for_fill_on(&mut editor, &uri, line).await;
    }

    editor
        .send(json!({"jsonrpc": "2.0", "method": "textDocument/didSave", "params": {"textDocument": {"uri": uri}}}))
        .await;
    let apply = editor
        .wait_for(|f| f["method"] == "workspace/applyEdit")
        .await;
    let change = &apply["params"]["edit"]["documentChanges"][0];
    assert_eq!(change["textDocument"]["version"], 1);
    let edits = change["edits"].as_array().expect("edits");
    let lines: Vec<u64> = edits
        .iter()
        .filter_map(|edit| edit["range"]["start"]["line"].as_u64())
        .collect();
    assert_eq!(lines, [2, 3], "{apply}");
    for edit in edits {
        let proof = edit["newText"].as_str().expect("a proof");
        assert!(!proof.contains("sorry") && !proof.is_empty(), "{apply}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_action_answers_from_the_proxy_and_shows_a_message() {
    let (mut editor, _dir) = start(ORACLE, TEXT).await;
    editor.fill_action(1, 1).await;
    let actions = editor.code_actions(1).await;
    let status = actions
        .iter()
        .find(|a| {
            a["title"]
                .as_str()
                .is_some_and(|t| t.starts_with(STATUS_TITLE))
        })
        .expect("a status action on the hole");
    let command = status["command"].clone();
    let answer = editor
        .request(
            "workspace/executeCommand",
            json!({"command": command["command"], "arguments": command["arguments"]}),
        )
        .await;
    assert!(answer.get("error").is_none(), "Lean never saw it: {answer}");
    assert_eq!(answer["result"]["message"], "sorryfill: t#0: verified");
    let shown = editor
        .wait_for(|f| f["method"] == "window/showMessage")
        .await;
    assert_eq!(shown["params"]["message"], "sorryfill: t#0: verified");
}

/// Settings in the editor's `initializationOptions.sorryfill` apply over `sorryfill.toml`: the
/// file allows only `simp` (which Lean rejects here), the editor asks for `omega`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editor_settings_apply_over_sorryfill_toml() {
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("sorryfill.toml"),
        "[tactics]\nlist = [\"simp\"]\n",
    )
    .expect("write sorryfill.toml");
    let (mut child, mut editor, uri, _log) = serve_binary(dir.path(), ORACLE);
    let options = json!({"sorryfill": {"tactics": {"list": ["omega"]}}});
    editor.initialize_with(json!({}), options, &uri, TEXT).await;
    let fill = wait_for_fill(&mut editor, &uri).await;
    assert_eq!(apply(TEXT, &fill), TEXT.replace("sorry", "omega"));
    child.kill().await.expect("the proxy stops");
}

/// A `sorryfill.toml` that cannot be used turns sorryfill off, says so once, and Lean keeps
/// working for the editor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_sorryfill_toml_leaves_lean_working_and_says_so() {
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("sorryfill.toml"),
        "[prover]\nbase_urll = 1\n",
    )
    .expect("write sorryfill.toml");
    let (mut child, mut editor, uri, _log) = serve_binary(dir.path(), ORACLE);
    editor.initialize(json!({}), &uri, TEXT).await;
    let shown = editor
        .wait_for(|frame| frame["method"] == "window/showMessage")
        .await;
    let message = shown["params"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("sorryfill is off"), "{message}");
    assert!(
        message.contains("base_urll"),
        "the message names the bad key: {message}"
    );
    // Lean's own traffic still flows: its sorry warning reaches the editor.
    editor.lean_still_publishes(&uri).await;
    child.kill().await.expect("the proxy stops");
}

/// A `[prover]` whose API key variable is not set leaves the tactic portfolio running: the
/// editor gets one warning naming the variable, and still the portfolio's proof.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_api_key_warns_once_and_the_portfolio_still_runs() {
    const UNSET: &str = "SORRYFILL_EDITOR_TEST_UNSET_KEY";
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("sorryfill.toml"),
        format!(
            "[prover]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\napi_key_env = \"{UNSET}\"\n"
        ),
    )
    .expect("write sorryfill.toml");
    let (mut child, mut editor, uri, _log) = serve_binary(dir.path(), ORACLE);
    editor.initialize(json!({}), &uri, TEXT).await;
    let fill = wait_for_fill(&mut editor, &uri).await;
    assert_eq!(apply(TEXT, &fill), TEXT.replace("sorry", "omega"));
    let messages: Vec<Value> = editor
        .raw
        .lock()
        .expect("not poisoned")
        .iter()
        .filter_map(|frame| serde_json::from_str::<Value>(frame).ok())
        .filter(|frame| frame["method"] == "window/showMessage")
        .collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = messages[0]["params"]["message"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(messages[0]["params"]["type"], 2, "a warning: {message}");
    assert!(message.contains(UNSET), "{message}");
    assert!(!message.contains("is off:"), "{message}");
    assert_eq!(
        message.matches("is not set").count(),
        1,
        "said once: {message}"
    );
    child.kill().await.expect("the proxy stops");
}

/// The `cancel id=…` lines of every lean-sim log in `dir` (one log per server process).
fn lean_cancels(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("lean-"))
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .flat_map(|log| {
            log.lines()
                .filter(|line| line.starts_with("cancel "))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The user edits while Lean is still working out the goal at a hole of the old version:
/// Lean gets `$/cancelRequest` for that goal request instead of finishing work nobody uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goal_request_of_a_superseded_version_is_cancelled_in_lean() {
    let dir = fresh_dir();
    let lean_log = dir.path().join("lean-{pid}.log");
    let lean_log = lean_log.to_str().expect("a UTF-8 temp path");
    // Lean writes every message 600 ms late, so the goal's answer is still on its way when
    // the edit arrives (it queues behind the version's publish).
    let (mut child, mut editor, uri, _log) = serve_binary_with(
        dir.path(),
        ORACLE,
        &[],
        &["--slow-ms", "600", "--log", lean_log],
    );
    editor.initialize(json!({}), &uri, TEXT).await;
    editor
        .wait_for(|frame| {
            frame["method"] == "$/lean/fileProgress"
                && frame["params"]["textDocument"]["version"] == 1
                && frame["params"]["processing"]
                    .as_array()
                    .is_some_and(Vec::is_empty)
        })
        .await;
    // The proxy asks for the goal as version 1 is done; give the request time to reach Lean.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        lean_cancels(dir.path()).is_empty(),
        "nothing is cancelled while the version is current"
    );
    let edited = format!("{TEXT}\ntheorem u : True := trivial\n");
    editor
        .send(
            json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": 2},
                "contentChanges": [{"text": edited}],
            }}),
        )
        .await;
    let deadline = Instant::now() + WAIT;
    let cancels = loop {
        let cancels = lean_cancels(dir.path());
        if !cancels.is_empty() || Instant::now() > deadline {
            break cancels;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(cancels.len(), 1, "{cancels:?}");
    assert!(
        cancels[0].starts_with("cancel id=\"sorryfill:"),
        "the proxy's own request: {cancels:?}"
    );
    child.kill().await.expect("the proxy stops");
}
