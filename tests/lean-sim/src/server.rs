//! The main loop: the watchdog's part of Lean's server.
//!
//! One task reads frames from stdin, one writes frames to stdout, one worker per open document
//! elaborates, and one task per pending request waits for the document state it needs. The main
//! loop owns the document table and the pending-request table; request tasks hand their answer
//! back to it, so a cancelled request is never answered twice.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::syntax::{LineIndex, Position};
use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle};

use crate::config::Config;
use crate::framing::{FrameError, encode_frame, read_frame};
use crate::json::to_sorted_string;
use crate::oracle::Oracle;
use crate::requests;
use crate::shared::{ClientCapabilities, Shared};
use crate::worker::{BuildMode, DocState, Phase, TextVersion, Worker, lsp_range};

/// JSON-RPC and Lean error codes.
pub mod codes {
    /// A request after `shutdown`.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No handler for the method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// `$/cancelRequest` for a pending cancellable request.
    pub const REQUEST_CANCELLED: i64 = -32800;
    /// A closed document, or a worker terminated while the request waited.
    pub const CONTENT_MODIFIED: i64 = -32801;
    /// An unknown or expired RPC session.
    pub const RPC_NEEDS_RECONNECT: i64 = -32900;
    /// The worker crashed.
    pub const WORKER_CRASHED: i64 = -32902;
}

/// Requests Lean really cancels (answering -32800) since v4.18; others run to completion.
const CANCELLABLE: [&str; 8] = [
    "textDocument/codeAction",
    "textDocument/completion",
    "textDocument/documentSymbol",
    "textDocument/foldingRange",
    "textDocument/semanticTokens/full",
    "textDocument/semanticTokens/range",
    "textDocument/inlayHint",
    "textDocument/documentHighlight",
];

enum Event {
    Message(Value),
    Unparsable(String),
    InputClosed,
    Reply { key: String, message: Value },
}

struct Document {
    version: i64,
    build_mode: BuildMode,
    text: String,
    latest: Arc<AtomicI64>,
    texts: watch::Sender<TextVersion>,
    state: Arc<watch::Sender<DocState>>,
    worker: JoinHandle<()>,
}

struct Pending {
    method: String,
    id: Value,
    abort: AbortHandle,
}

/// Runs the server until `exit`, end of input or a fatal protocol error; returns the exit code.
pub async fn run(config: Config) -> anyhow::Result<i32> {
    let mut oracle = match &config.oracle {
        Some(path) => Oracle::load(path)?,
        None => Oracle::default(),
    };
    if config.accept_all {
        oracle.accept_everything();
    }
    let log = match &config.log {
        Some(path) => {
            let path = crate::escape::with_pid(path);
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder)?;
            }
            Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )
        }
        None => None,
    };
    let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
    spawn_reader(events_tx.clone());
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(write_frames(out_rx, config.clone()));
    let mut received: u64 = 0;

    // Lean reads the first message as `initialize` and the next as `initialized`; anything
    // else is fatal.
    let Some(initialize) = next_message(&mut events, &config, &mut received).await else {
        return Ok(1);
    };
    if initialize.get("method").and_then(Value::as_str) != Some("initialize") {
        eprintln!("lean-sim: expected an 'initialize' request first, got {initialize}");
        return Ok(1);
    }
    let lean_caps = initialize.pointer("/params/capabilities/lean");
    let flag = |name: &str| {
        lean_caps
            .and_then(|caps| caps.get(name))
            .and_then(Value::as_bool)
            == Some(true)
    };
    let client = ClientCapabilities {
        silent_diagnostics: flag("silentDiagnosticSupport"),
        incremental_diagnostics: flag("incrementalDiagnosticSupport"),
    };
    let shared = Arc::new(Shared::new(config.clone(), oracle, client, out_tx, log));
    shared.send(json!({"jsonrpc": "2.0", "id": initialize.get("id").cloned().unwrap_or(Value::Null), "result": requests::initialize_result()}));
    let Some(initialized) = next_message(&mut events, &config, &mut received).await else {
        return Ok(1);
    };
    if initialized.get("method").and_then(Value::as_str) != Some("initialized") {
        eprintln!("lean-sim: expected an 'initialized' notification, got {initialized}");
        return Ok(1);
    }
    shared.send(json!({
        "jsonrpc": "2.0", "id": "register_lean_watcher", "method": "client/registerCapability",
        "params": {"registrations": [{"id": "lean_watcher", "method": "workspace/didChangeWatchedFiles",
            "registerOptions": {"watchers": [{"globPattern": "**/*.lean"}, {"globPattern": "**/*.ilean"}]}}]}
    }));

    let mut server = Server {
        shared: Arc::clone(&shared),
        events_tx,
        documents: HashMap::new(),
        pending: HashMap::new(),
        sessions: HashMap::new(),
        shut_down: false,
    };
    let code = loop {
        let Some(event) = events.recv().await else {
            break 0;
        };
        match event {
            Event::Message(message) => {
                received += 1;
                if config.stderr_noise {
                    eprintln!("lean-sim noise: message {received} received");
                }
                crash_if_asked(&config, received, &message);
                if server.handle(message) {
                    break 0;
                }
            }
            Event::Unparsable(error) => {
                eprintln!("lean-sim: cannot parse a client message: {error}");
                break 1;
            }
            Event::InputClosed => break 0,
            Event::Reply { key, message } => {
                if server.pending.remove(&key).is_some() {
                    shared.send(message);
                }
            }
        }
    };
    for document in server.documents.values() {
        document.worker.abort();
    }
    drop(server);
    drop(shared);
    // The writer ends once every sender is gone, after flushing what was queued.
    let _ = writer.await;
    Ok(code)
}

/// The whole-server crash faults: `--crash-after` (counted in `received`, this message
/// included) and `--crash-on-open`.
fn crash_if_asked(config: &Config, received: u64, message: &Value) {
    if config.crash_after.is_some_and(|limit| received > limit) {
        eprintln!("lean-sim: simulated server crash (--crash-after)");
        std::process::exit(1);
    }
    if let Some(marker) = &config.crash_on_open
        && message["method"] == "textDocument/didOpen"
        && message
            .pointer("/params/textDocument/uri")
            .and_then(Value::as_str)
            .is_some_and(|uri| uri.contains(marker.as_str()))
    {
        eprintln!("lean-sim: simulated server crash (--crash-on-open)");
        std::process::exit(1);
    }
}

async fn next_message(
    events: &mut mpsc::UnboundedReceiver<Event>,
    config: &Config,
    received: &mut u64,
) -> Option<Value> {
    match events.recv().await? {
        Event::Message(message) => {
            *received += 1;
            crash_if_asked(config, *received, &message);
            Some(message)
        }
        Event::Unparsable(error) => {
            eprintln!("lean-sim: cannot parse a client message: {error}");
            None
        }
        Event::InputClosed | Event::Reply { .. } => None,
    }
}

fn spawn_reader(events: mpsc::UnboundedSender<Event>) {
    tokio::spawn(async move {
        let mut stdin = BufReader::new(tokio::io::stdin());
        loop {
            let event = match read_frame(&mut stdin).await {
                Ok(body) => match serde_json::from_slice::<Value>(&body) {
                    Ok(message) => Event::Message(message),
                    Err(error) => Event::Unparsable(error.to_string()),
                },
                Err(FrameError::Eof) => Event::InputClosed,
                Err(error) => Event::Unparsable(error.to_string()),
            };
            let last = !matches!(event, Event::Message(_));
            if events.send(event).is_err() || last {
                return;
            }
        }
    });
}

async fn write_frames(mut messages: mpsc::UnboundedReceiver<Value>, config: Config) {
    let mut stdout = tokio::io::stdout();
    let mut written: u64 = 0;
    while let Some(message) = messages.recv().await {
        if config.slow_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(config.slow_ms)).await;
        }
        let frame = encode_frame(&to_sorted_string(&message));
        if stdout.write_all(&frame).await.is_err() || stdout.flush().await.is_err() {
            return;
        }
        written += 1;
        if config.malformed_frame_after == Some(written) {
            // A frame whose body is cut off mid-JSON; the framing itself stays intact.
            let broken = encode_frame("{\"jsonrpc");
            if stdout.write_all(&broken).await.is_err() || stdout.flush().await.is_err() {
                return;
            }
        }
    }
}

fn uri_of(params: &Value) -> Option<String> {
    params
        .pointer("/textDocument/uri")
        .or_else(|| params.get("uri"))
        .or_else(|| params.pointer("/data/params/textDocument/uri"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn error_message(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

struct Server {
    shared: Arc<Shared>,
    events_tx: mpsc::UnboundedSender<Event>,
    documents: HashMap<String, Document>,
    pending: HashMap<String, Pending>,
    sessions: HashMap<String, String>,
    shut_down: bool,
}

impl Server {
    /// Handles one client message; returns true on `exit`.
    fn handle(&mut self, message: Value) -> bool {
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let id = message.get("id").cloned();
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        match (method, id) {
            (Some(method), Some(id)) => self.request(&method, id, params),
            (Some(method), None) => return self.notification(&method, params),
            // Responses to our own requests (register_lean_watcher, refresh) need no action.
            (None, _) => {}
        }
        false
    }

    fn notification(&mut self, method: &str, params: Value) -> bool {
        match method {
            "exit" => return true,
            "textDocument/didOpen" => self.did_open(&params),
            "textDocument/didChange" => self.did_change(&params),
            "textDocument/didClose" => {
                if let Some(uri) = uri_of(&params) {
                    self.close(&uri);
                }
            }
            "$/cancelRequest" => self.cancel(&params),
            "textDocument/didSave"
            | "workspace/didChangeWatchedFiles"
            | "workspace/didChangeConfiguration" => {}
            "$/lean/rpc/keepAlive" | "$/lean/rpc/release" => {}
            other if other.starts_with("$/") => {}
            other => eprintln!("Got unsupported notification: {other}"),
        }
        false
    }

    fn did_open(&mut self, params: &Value) {
        let Some(uri) = uri_of(params) else { return };
        let text = params
            .pointer("/textDocument/text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .replace("\r\n", "\n");
        let version = params
            .pointer("/textDocument/version")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if let Some(old) = self.documents.remove(&uri) {
            old.worker.abort();
        }
        let build_mode =
            BuildMode::parse(params.get("dependencyBuildMode").and_then(Value::as_str));
        let latest = Arc::new(AtomicI64::new(version));
        let state = Arc::new(
            watch::channel(DocState {
                version,
                phase: Phase::Working,
                crashes: 0,
                text: Arc::new(text.clone()),
                results: Arc::new(Vec::new()),
            })
            .0,
        );
        let (texts, texts_rx) = watch::channel((version, Arc::new(text.clone())));
        let worker = self.start_worker(&uri, texts_rx, &state, &latest, build_mode);
        self.documents.insert(
            uri,
            Document {
                version,
                build_mode,
                text,
                latest,
                texts,
                state,
                worker,
            },
        );
    }

    fn start_worker(
        &self,
        uri: &str,
        texts: watch::Receiver<TextVersion>,
        state: &Arc<watch::Sender<DocState>>,
        latest: &Arc<AtomicI64>,
        build_mode: BuildMode,
    ) -> JoinHandle<()> {
        // The watchdog reports the whole document as processing whenever it starts a worker.
        let (version, text) = texts.borrow().clone();
        let index = LineIndex::new(&text);
        self.shared.notify(
            "$/lean/fileProgress",
            json!({"textDocument": {"uri": uri, "version": version},
                   "processing": [{"range": lsp_range(&index, &(0..text.len())), "kind": 1}]}),
        );
        let worker = Worker::new(
            Arc::clone(&self.shared),
            uri.to_owned(),
            texts,
            Arc::clone(state),
            Arc::clone(latest),
            build_mode,
        );
        tokio::spawn(worker.run())
    }

    fn did_change(&mut self, params: &Value) {
        let Some(uri) = uri_of(params) else { return };
        // Lean ignores changes to documents it does not have open.
        let Some(mut document) = self.documents.remove(&uri) else {
            return;
        };
        let version = params
            .pointer("/textDocument/version")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let changes = params
            .get("contentChanges")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if changes.is_empty() {
            // Lean ignores a change without content changes, its version included.
            self.documents.insert(uri, document);
            return;
        }
        for change in changes {
            let new_text = change
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .replace("\r\n", "\n");
            match change.get("range") {
                Some(range) => {
                    let index = LineIndex::new(&document.text);
                    let start = index.offset(position(range.get("start")));
                    let end = index.offset(position(range.get("end"))).max(start);
                    document.text.replace_range(start..end, &new_text);
                }
                None => document.text = new_text,
            }
        }
        document.version = version;
        document.latest.store(version, Ordering::SeqCst);
        let text = Arc::new(document.text.clone());
        if document.worker.is_finished() {
            // A crashed worker restarts only on the next change, as in Lean.
            let (texts, texts_rx) = watch::channel((version, Arc::clone(&text)));
            document.texts = texts;
            document.worker = self.start_worker(
                &uri,
                texts_rx,
                &document.state,
                &document.latest,
                document.build_mode,
            );
        } else {
            document.texts.send_replace((version, text));
        }
        self.documents.insert(uri, document);
    }

    fn close(&mut self, uri: &str) {
        let Some(document) = self.documents.remove(uri) else {
            return;
        };
        document.worker.abort();
        document
            .state
            .send_modify(|state| state.phase = Phase::Closed);
        self.shared.notify(
            "textDocument/publishDiagnostics",
            json!({"uri": uri, "version": document.version, "diagnostics": []}),
        );
    }

    fn cancel(&mut self, params: &Value) {
        let Some(id) = params.get("id") else { return };
        let key = id.to_string();
        let pending = self
            .pending
            .get(&key)
            .map(|pending| pending.method.as_str());
        self.shared.log(&format!(
            "cancel id={key} pending={}",
            pending.unwrap_or("none")
        ));
        let cancellable = self
            .pending
            .get(&key)
            .is_some_and(|pending| CANCELLABLE.contains(&pending.method.as_str()));
        if cancellable && let Some(pending) = self.pending.remove(&key) {
            pending.abort.abort();
            self.shared
                .send(error_message(&pending.id, codes::REQUEST_CANCELLED, ""));
        }
    }

    fn request(&mut self, method: &str, id: Value, params: Value) {
        let reply = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result});
        if self.shut_down {
            self.shared.send(error_message(
                &id,
                codes::INVALID_REQUEST,
                "Request received after 'shutdown' request.",
            ));
            return;
        }
        match method {
            "initialize" => self.shared.send(error_message(
                &id,
                codes::INVALID_REQUEST,
                "server already initialized",
            )),
            "shutdown" => {
                for uri in self.documents.keys().cloned().collect::<Vec<_>>() {
                    if let Some(document) = self.documents.remove(&uri) {
                        document.worker.abort();
                        document
                            .state
                            .send_modify(|state| state.phase = Phase::Closed);
                    }
                }
                self.shut_down = true;
                self.shared.send(reply(Value::Null));
            }
            "$/leanSim/stats" => self.shared.send(reply(self.shared.stats_json())),
            "$/lean/waitForILeans" => self.shared.send(reply(json!({}))),
            "workspace/symbol" => self.shared.send(reply(json!([]))),
            _ => match uri_of(&params) {
                Some(uri) => self.document_request(method, id, params, uri),
                None => self.shared.send(error_message(
                    &id,
                    codes::METHOD_NOT_FOUND,
                    &format!("No request handler found for '{method}'"),
                )),
            },
        }
    }

    fn document_request(&mut self, method: &str, id: Value, params: Value, uri: String) {
        let Some(document) = self.documents.get(&uri) else {
            self.shared.send(error_message(
                &id,
                codes::CONTENT_MODIFIED,
                &format!("Cannot process request to closed file '{uri}'"),
            ));
            return;
        };
        if method == "$/lean/rpc/connect" {
            let session = RandomState::new()
                .hash_one((&uri, self.sessions.len()))
                .to_string();
            self.sessions.insert(session.clone(), uri);
            self.shared
                .send(json!({"jsonrpc": "2.0", "id": id, "result": {"sessionId": session}}));
            return;
        }
        if method == "$/lean/rpc/call" {
            let session = params
                .get("sessionId")
                .and_then(Value::as_str)
                .unwrap_or("");
            if self.sessions.get(session) != Some(&uri) {
                self.shared.send(error_message(
                    &id,
                    codes::RPC_NEEDS_RECONNECT,
                    "Outdated RPC session",
                ));
                return;
            }
        }
        if !requests::handles(method) {
            self.shared.send(error_message(
                &id,
                codes::METHOD_NOT_FOUND,
                &format!("No request handler found for '{method}'"),
            ));
            return;
        }
        let mut states = document.state.subscribe();
        let (arrival_crashes, target) = {
            let state = states.borrow();
            (state.crashes, document.version)
        };
        let target = params
            .get("version")
            .and_then(Value::as_i64)
            .filter(|_| method == "textDocument/waitForDiagnostics")
            .unwrap_or(target);
        let key = id.to_string();
        let events = self.events_tx.clone();
        let shared = Arc::clone(&self.shared);
        let method_owned = method.to_owned();
        let request_id = id.clone();
        let task = tokio::spawn(async move {
            // A request is answered on the version it arrived for; an edit before that version
            // is done cancels it (-32801), as Lean's per-version cancellation does.
            // `waitForDiagnostics` waits for its version or any newer one instead.
            let waits_for_newer = method_owned == "textDocument/waitForDiagnostics";
            let snapshot = states
                .wait_for(|state| {
                    state.phase == Phase::Closed
                        || state.crashes > arrival_crashes
                        || (!waits_for_newer && state.version > target)
                        || (state.phase == Phase::Done && state.version >= target)
                })
                .await
                .map(|state| state.clone());
            let message = match snapshot {
                Ok(state)
                    if !waits_for_newer
                        && state.version > target
                        && state.phase != Phase::Closed
                        && state.crashes == arrival_crashes =>
                {
                    error_message(&request_id, codes::CONTENT_MODIFIED, "File changed.")
                }
                Err(_) => error_message(
                    &request_id,
                    codes::CONTENT_MODIFIED,
                    &format!("The file worker for {uri} has been terminated."),
                ),
                Ok(state) if state.phase == Phase::Closed => error_message(
                    &request_id,
                    codes::CONTENT_MODIFIED,
                    &format!("The file worker for {uri} has been terminated."),
                ),
                Ok(state) if state.crashes > arrival_crashes => error_message(
                    &request_id,
                    codes::WORKER_CRASHED,
                    &format!(
                        "Server process for {uri} crashed, likely due to a stack overflow or a bug."
                    ),
                ),
                Ok(state) => {
                    let result = requests::answer(&shared, &method_owned, &params, &uri, &state);
                    json!({"jsonrpc": "2.0", "id": request_id, "result": result})
                }
            };
            let _ = events.send(Event::Reply {
                key: request_id.to_string(),
                message,
            });
        });
        self.pending.insert(
            key,
            Pending {
                method: method.to_owned(),
                id,
                abort: task.abort_handle(),
            },
        );
    }
}

fn position(value: Option<&Value>) -> Position {
    let field = |name: &str| {
        value
            .and_then(|v| v.get(name))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Position::new(field("line") as u32, field("character") as u32)
}
