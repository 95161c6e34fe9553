//! The router: the one task that owns all proxy state and decides, frame by frame, what
//! goes where.
//!
//! Invariants:
//! - The loop awaits only on its event receiver; everything it does per event is
//!   synchronous. Writer queues are unbounded channels so a send never blocks the loop;
//!   what they hold is bounded upstream: every frame is charged to the read budget of
//!   the reader that read it until it is written, so a peer that stops reading stops the
//!   other side's reader, not the router (see `transport/pool.rs`).
//! - Every frame not intercepted is forwarded with its body bytes unchanged, in arrival
//!   order, in both directions; ids are never rewritten.
//! - Intercepted: the proxy's own responses (`"sorryfill:<n>"` ids, consumed) and the
//!   notifications of private URIs (consumed). Read on the way through (and forwarded
//!   unchanged): `initialize` and its result (position encoding), document sync (applied
//!   to the store BEFORE forwarding), diagnostics and file progress, code action answers
//!   (extended only when a provider adds actions).
//! - The proxy sends nothing of its own before the editor's `initialized` has been
//!   forwarded (it is queued) and nothing after the editor's `shutdown`.

mod editor_handle;
mod intercept;
mod serve;

pub use editor_handle::{EditorCommand, EditorHandle};
pub use intercept::{
    CodeActionProvider, CodeActionQuery, CommandError, NoCodeActions, OWN_ACTION_DATA_KEY,
};
pub use serve::{Proxy, ProxyConfig, ServeError, exit_code};

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::documents::{DocumentStore, PositionEncoding};
use crate::lean::{
    DiagnosticsStore, DocumentEvent, FileProgressParams, LeanCommand, LeanCommandSink, LeanError,
    LeanResponseError, PRIVATE_ID_PREFIX, PrivateEvent, ProgressOutcome, PublishDiagnosticsParams,
};
use crate::transport::lsp;
use crate::transport::requests::RequestBook;
use crate::transport::{Frame, Incoming, Malformed, MessageKind};
use intercept::{PendingCodeAction, announce_commands, merge_code_actions};

/// Everything the router reacts to. The set is closed: tasks report back through it.
#[derive(Debug)]
pub enum Event {
    /// An item decoded from the editor.
    Client(Incoming),
    /// An item decoded from Lean.
    Server(Incoming),
    /// The editor closed its output (our stdin).
    ClientClosed,
    /// Lean closed its stdout.
    ServerClosed,
    /// A command from a [`crate::lean::LeanHandle`].
    Lean(LeanCommand),
    /// A message of the proxy's own for the editor, from an [`EditorHandle`].
    Editor(EditorCommand),
}

/// A [`crate::lean::LeanHandle`]'s commands reach the router as events, in order with the
/// frames.
impl LeanCommandSink for mpsc::UnboundedSender<Event> {
    fn send_command(&self, command: LeanCommand) -> Result<(), LeanError> {
        self.send(Event::Lean(command))
            .map_err(|_| LeanError::RouterGone)
    }

    fn is_closed(&self) -> bool {
        mpsc::UnboundedSender::is_closed(self)
    }
}

/// Why the router stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterExit {
    /// The editor went away; `exit` was sent to Lean and Lean's stdin closed.
    ClientClosed,
    /// Lean closed its stdout (it exited or crashed).
    ServerClosed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the editor's `initialized`: the proxy's own messages are queued.
    Starting,
    /// Normal operation.
    Running,
    /// After the editor's `shutdown`: the proxy sends nothing of its own.
    ShutDown,
}

/// A proxy message held back until `initialized`.
struct Queued {
    request: Option<u64>,
    body: Bytes,
}

/// Where the router's output goes.
pub struct RouterOutputs {
    /// Bodies for the editor's writer.
    pub to_client: mpsc::UnboundedSender<Bytes>,
    /// Bodies for Lean's writer.
    pub to_server: mpsc::UnboundedSender<Bytes>,
    /// Subscriber of [`DocumentEvent`]s, if any.
    pub documents: Option<mpsc::UnboundedSender<DocumentEvent>>,
    /// Supplier of the proxy's code actions.
    pub code_actions: Box<dyn CodeActionProvider>,
}

/// The router's state. Drive it with [`Router::run`], or event by event with
/// [`Router::handle`] (tests).
pub struct Router {
    to_client: mpsc::UnboundedSender<Bytes>,
    to_server: Option<mpsc::UnboundedSender<Bytes>>,
    observer: Option<mpsc::UnboundedSender<DocumentEvent>>,
    code_actions: Box<dyn CodeActionProvider>,
    phase: Phase,
    documents: DocumentStore,
    diagnostics: DiagnosticsStore,
    private_prefixes: Vec<(String, mpsc::UnboundedSender<PrivateEvent>)>,
    pending_requests: RequestBook<u64, Result<Value, LeanError>>,
    queued: Vec<Queued>,
    initialize_id: Option<String>,
    pending_code_actions: HashMap<String, PendingCodeAction>,
    exit_forwarded: bool,
    /// Whether the editor declared `window.workDoneProgress` in `initialize`.
    work_done_progress: bool,
    /// The editor's `initializationOptions.sorryfill`, settings over `sorryfill.toml`.
    editor_settings: Option<Value>,
    /// Number of the proxy's next request to the editor.
    next_editor_request: u64,
    /// Ids of the editor's requests to Lean that happen to have the proxy's private form:
    /// Lean's answers to them go to the editor, not to the proxy.
    editor_ids_of_private_form: HashSet<String>,
    /// The same for Lean's requests to the editor, whose answers go to Lean.
    lean_ids_of_private_form: HashSet<String>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ResponseBody {
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<ResponseError>,
}

#[derive(Deserialize)]
struct ResponseError {
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodeActionParams {
    text_document: UriOnly,
    range: lsp_types::Range,
}

#[derive(Deserialize)]
struct UriOnly {
    uri: String,
}

fn params_of(frame: &Frame) -> Option<&[u8]> {
    let parsed: Params<'_> = serde_json::from_slice(frame.body()).ok()?;
    parsed.params.map(|raw| raw.get().as_bytes())
}

impl Router {
    /// A router writing to `outputs`.
    pub fn new(outputs: RouterOutputs) -> Self {
        Self {
            to_client: outputs.to_client,
            to_server: Some(outputs.to_server),
            observer: outputs.documents,
            code_actions: outputs.code_actions,
            phase: Phase::Starting,
            documents: DocumentStore::new(),
            diagnostics: DiagnosticsStore::new(),
            private_prefixes: Vec::new(),
            pending_requests: RequestBook::default(),
            queued: Vec::new(),
            initialize_id: None,
            pending_code_actions: HashMap::new(),
            exit_forwarded: false,
            work_done_progress: false,
            editor_settings: None,
            next_editor_request: 1,
            editor_ids_of_private_form: HashSet::new(),
            lean_ids_of_private_form: HashSet::new(),
        }
    }

    /// Handles events until one side closes.
    pub async fn run(mut self, mut events: mpsc::UnboundedReceiver<Event>) -> RouterExit {
        while let Some(event) = events.recv().await {
            if let Some(exit) = self.handle(event) {
                return exit;
            }
        }
        // Every sender is gone, so no side can talk any more.
        self.handle(Event::ClientClosed)
            .unwrap_or(RouterExit::ClientClosed)
    }

    /// The documents as the router currently sees them.
    pub fn documents(&self) -> &DocumentStore {
        &self.documents
    }

    /// Handles one event; returns `Some` when the router must stop.
    pub fn handle(&mut self, event: Event) -> Option<RouterExit> {
        match event {
            Event::Client(Incoming::Frame(frame)) => self.on_client_frame(frame),
            Event::Server(Incoming::Frame(frame)) => self.on_server_frame(frame),
            Event::Client(Incoming::Malformed(malformed)) => self.malformed_from_client(&malformed),
            Event::Server(Incoming::Malformed(malformed)) => {
                tracing::warn!(?malformed, "dropped malformed input from Lean");
            }
            Event::Lean(command) => self.command(command),
            Event::Editor(command) => self.editor_command(command),
            Event::ClientClosed => {
                if !self.exit_forwarded {
                    self.send_to_server(Bytes::from_static(
                        br#"{"jsonrpc":"2.0","method":"exit"}"#,
                    ));
                    self.exit_forwarded = true;
                }
                // Dropping the sender lets Lean's writer flush and close Lean's stdin.
                self.to_server = None;
                self.fail_pending(&LeanError::ServerGone);
                return Some(RouterExit::ClientClosed);
            }
            Event::ServerClosed => {
                self.fail_pending(&LeanError::ServerGone);
                return Some(RouterExit::ServerClosed);
            }
        }
        None
    }

    fn send_to_client(&self, body: Bytes) {
        if self.to_client.send(body).is_err() {
            tracing::debug!("the editor's writer is gone; dropped a frame");
        }
    }

    fn send_to_server(&self, body: Bytes) {
        match &self.to_server {
            Some(to_server) if to_server.send(body).is_ok() => {}
            _ => tracing::debug!("Lean's writer is gone; dropped a frame"),
        }
    }

    fn emit(&self, event: DocumentEvent) {
        if let Some(observer) = &self.observer {
            // A gone observer only means nobody listens any more.
            let _ = observer.send(event);
        }
    }

    fn malformed_from_client(&mut self, malformed: &Malformed) {
        tracing::warn!(?malformed, "dropped malformed input from the editor");
        if let Some(id) = &malformed.sniffed.id
            && malformed.sniffed.is_request()
        {
            let message = format!(
                "sorryfill could not read this message: {:?}",
                malformed.kind
            );
            self.reply_parse_error(id, &message);
        }
    }

    fn reply_parse_error(&self, id_text: &str, message: &str) {
        let Ok(id) = serde_json::from_str::<Value>(id_text) else {
            return;
        };
        let reply = json!({"jsonrpc": "2.0", "id": id, "error": {"code": lsp::error_code::PARSE_ERROR, "message": message}});
        if let Ok(body) = serde_json::to_vec(&reply) {
            self.send_to_client(Bytes::from(body));
        }
    }

    /// Answers the editor's request `id_text` (its id as JSON text) with `result`; returns
    /// whether the answer went out.
    fn reply_to_client(&self, id_text: &str, result: &Value) -> bool {
        self.answer_client(id_text, "result", result)
    }

    /// Answers the editor's request `id_text` with `member` (`result` or `error`) set to
    /// `value`; returns whether the answer went out.
    fn answer_client(&self, id_text: &str, member: &str, value: &Value) -> bool {
        let Ok(id) = serde_json::from_str::<Value>(id_text) else {
            return false;
        };
        match serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, member: value})) {
            Ok(body) => {
                self.send_to_client(Bytes::from(body));
                true
            }
            Err(_) => false,
        }
    }

    fn on_client_frame(&mut self, frame: Frame) {
        let envelope = match frame.envelope() {
            Ok(envelope) => envelope,
            Err(error) => {
                let sniffed = crate::transport::sniff_envelope(frame.body());
                tracing::warn!(%error, ?sniffed, "dropped invalid JSON from the editor");
                if let Some(id) = &sniffed.id
                    && sniffed.is_request()
                {
                    self.reply_parse_error(id, &format!("invalid JSON: {error}"));
                }
                return;
            }
        };
        let kind = envelope.kind();
        let id = envelope.id_text().map(str::to_owned);
        let method = envelope.method.as_deref().map(str::to_owned);
        drop(envelope);
        let mut after_forward = None;
        match (kind, method.as_deref()) {
            (MessageKind::Response, _) if id.as_deref().and_then(parse_private_id).is_some() => {
                let asked_by_lean = id
                    .as_deref()
                    .is_some_and(|id| self.lean_ids_of_private_form.remove(id));
                if !asked_by_lean {
                    // The editor's answer to one of the proxy's own requests: Lean never asked.
                    tracing::debug!(?id, "the editor answered the proxy's request");
                    return;
                }
            }
            (MessageKind::Request, _) if id.as_deref().and_then(parse_private_id).is_some() => {
                if let Some(id) = &id {
                    self.editor_ids_of_private_form.insert(id.clone());
                }
                if method.as_deref() == Some(lsp::method::CODE_ACTION_RESOLVE)
                    && let Some(id) = &id
                    && self.resolve_own_action(id, &frame)
                {
                    return;
                }
            }
            (MessageKind::Request, Some(lsp::method::CODE_ACTION_RESOLVE)) => {
                if let Some(id) = &id
                    && self.resolve_own_action(id, &frame)
                {
                    return;
                }
            }
            (MessageKind::Request, Some(lsp::method::INITIALIZE)) => {
                self.initialize_id = id;
                let params =
                    params_of(&frame).and_then(|raw| serde_json::from_slice::<Value>(raw).ok());
                self.work_done_progress = params
                    .as_ref()
                    .and_then(|params| params.pointer("/capabilities/window/workDoneProgress"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                self.editor_settings = params
                    .as_ref()
                    .and_then(|params| params.pointer("/initializationOptions/sorryfill"))
                    .cloned();
            }
            (MessageKind::Notification, Some(lsp::method::DID_SAVE)) => self.did_save(&frame),
            (MessageKind::Request, Some(lsp::method::EXECUTE_COMMAND)) => {
                if let Some(id) = &id
                    && self.own_command(id, &frame)
                {
                    return;
                }
            }
            (MessageKind::Notification, Some(lsp::method::INITIALIZED)) => {
                after_forward = Some(Phase::Running)
            }
            (MessageKind::Request, Some(lsp::method::SHUTDOWN)) => {
                self.phase = Phase::ShutDown;
                for queued in std::mem::take(&mut self.queued) {
                    if let Some(n) = queued.request {
                        self.finish_request(n, Err(LeanError::ShuttingDown));
                    }
                }
            }
            (MessageKind::Notification, Some(lsp::method::EXIT)) => {
                // An editor may exit without `shutdown`; the proxy stays silent from here on.
                self.phase = Phase::ShutDown;
                self.exit_forwarded = true;
            }
            (MessageKind::Notification, Some(lsp::method::DID_OPEN)) => self.did_open(&frame),
            (MessageKind::Notification, Some(lsp::method::DID_CHANGE)) => self.did_change(&frame),
            (MessageKind::Notification, Some(lsp::method::DID_CLOSE)) => self.did_close(&frame),
            (MessageKind::Request, Some(lsp::method::CODE_ACTION)) => {
                if let Some(id) = id {
                    self.remember_code_action(id, &frame);
                }
            }
            _ => {}
        }
        self.send_to_server(frame.into_bytes());
        if after_forward == Some(Phase::Running) && self.phase == Phase::Starting {
            self.phase = Phase::Running;
            for queued in std::mem::take(&mut self.queued) {
                self.send_to_server(queued.body);
            }
            let settings = self.editor_settings.take();
            self.emit(DocumentEvent::EditorReady {
                work_done_progress: self.work_done_progress,
                settings,
            });
        }
    }

    /// Answers a `workspace/executeCommand` for one of the proxy's own commands; returns
    /// whether it did (then the request is not forwarded).
    fn own_command(&mut self, id_text: &str, frame: &Frame) -> bool {
        let Some(params) =
            params_of(frame).and_then(|raw| serde_json::from_slice::<Value>(raw).ok())
        else {
            return false;
        };
        let Some(command) = params.get("command").and_then(Value::as_str) else {
            return false;
        };
        if !command.starts_with("sorryfill.") {
            return false;
        }
        let arguments = params
            .get("arguments")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        match self.code_actions.execute_command(command, arguments) {
            Some(Ok(result)) => self.reply_to_client(id_text, &result),
            Some(Err(error)) => self.answer_client(
                id_text,
                "error",
                &json!({"code": error.code, "message": error.message}),
            ),
            None => false,
        }
    }

    /// Answers a `codeAction/resolve` for one of the proxy's own actions with the action
    /// itself (it is complete when offered); returns whether it did. Lean would route the
    /// resolve by `data.params.textDocument.uri`, which the proxy's actions do not have.
    fn resolve_own_action(&mut self, id_text: &str, frame: &Frame) -> bool {
        let Some(action) =
            params_of(frame).and_then(|raw| serde_json::from_slice::<Value>(raw).ok())
        else {
            return false;
        };
        let own = action
            .get("data")
            .and_then(|data| data.get(OWN_ACTION_DATA_KEY))
            .is_some();
        own && self.reply_to_client(id_text, &action)
    }

    fn did_save(&mut self, frame: &Frame) {
        let uri = params_of(frame)
            .and_then(|raw| serde_json::from_slice::<Value>(raw).ok())
            .and_then(|params| {
                params
                    .pointer("/textDocument/uri")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        if let Some(uri) = uri
            && let Some(doc) = self.documents.get(&uri)
        {
            let version = doc.version;
            self.emit(DocumentEvent::Saved { uri, version });
        }
    }

    /// Sends one of the proxy's own messages to the editor: only between the editor's
    /// `initialized` and its `shutdown`.
    fn editor_command(&mut self, command: EditorCommand) {
        if self.phase != Phase::Running {
            tracing::debug!(
                ?command,
                "dropped a message for the editor outside the session"
            );
            return;
        }
        let body = match command {
            EditorCommand::Request { method, params } => {
                let id = crate::lean::private_request_id(self.next_editor_request);
                self.next_editor_request += 1;
                json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
            }
            EditorCommand::Notify { method, params } => {
                json!({"jsonrpc": "2.0", "method": method, "params": params})
            }
        };
        match serde_json::to_vec(&body) {
            Ok(body) => self.send_to_client(Bytes::from(body)),
            Err(error) => tracing::error!(%error, "could not serialise a message for the editor"),
        }
    }

    fn did_open(&mut self, frame: &Frame) {
        let Some(params) = params_of(frame) else {
            return;
        };
        match self.documents.did_open(params) {
            Ok(uri) => {
                self.diagnostics.forget(&uri);
                if let Some(doc) = self.documents.get(&uri) {
                    let event = DocumentEvent::Opened {
                        version: doc.version,
                        text: doc.text.clone(),
                        uri,
                    };
                    self.emit(event);
                }
            }
            Err(error) => tracing::warn!(%error, "could not track a didOpen"),
        }
    }

    fn did_change(&mut self, frame: &Frame) {
        let Some(params) = params_of(frame) else {
            return;
        };
        match self.documents.did_change(params) {
            Ok(Some(uri)) => {
                if let Some(doc) = self.documents.get(&uri) {
                    let event = DocumentEvent::Changed {
                        version: doc.version,
                        text: doc.text.clone(),
                        uri,
                    };
                    self.emit(event);
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "could not track a didChange"),
        }
    }

    fn did_close(&mut self, frame: &Frame) {
        let Some(params) = params_of(frame) else {
            return;
        };
        match self.documents.did_close(params) {
            Ok(Some((uri, _))) => {
                self.diagnostics.forget(&uri);
                self.emit(DocumentEvent::Closed { uri });
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "could not track a didClose"),
        }
    }

    fn remember_code_action(&mut self, id: String, frame: &Frame) {
        let Some(raw) = params_of(frame) else { return };
        let Ok(params) = serde_json::from_slice::<Value>(raw) else {
            return;
        };
        let Ok(parsed) = CodeActionParams::deserialize(&params) else {
            return;
        };
        let doc = self.documents.get(&parsed.text_document.uri);
        let pending = PendingCodeAction {
            version: doc.map(|d| d.version),
            text: doc.map(|d| d.text.clone()),
            uri: parsed.text_document.uri,
            range: parsed.range,
            params,
        };
        self.pending_code_actions.insert(id, pending);
    }

    fn on_server_frame(&mut self, frame: Frame) {
        let envelope = match frame.envelope() {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::warn!(%error, "dropped invalid JSON from Lean");
                return;
            }
        };
        let kind = envelope.kind();
        let id = envelope.id_text().map(str::to_owned);
        let method = envelope.method.as_deref().map(str::to_owned);
        drop(envelope);
        match (kind, method.as_deref(), id) {
            (MessageKind::Response, _, Some(id)) => self.response_from_server(frame, &id),
            (MessageKind::Request, _, Some(id)) if parse_private_id(&id).is_some() => {
                self.lean_ids_of_private_form.insert(id);
                self.send_to_client(frame.into_bytes());
            }
            (MessageKind::Notification, Some(lsp::method::PUBLISH_DIAGNOSTICS), _) => {
                self.publish_diagnostics(frame);
            }
            (MessageKind::Notification, Some(lsp::method::LEAN_FILE_PROGRESS), _) => {
                self.file_progress(frame)
            }
            _ => self.send_to_client(frame.into_bytes()),
        }
    }

    fn response_from_server(&mut self, frame: Frame, id: &str) {
        if let Some(n) = parse_private_id(id)
            && !self.editor_ids_of_private_form.remove(id)
        {
            let result = match serde_json::from_slice::<ResponseBody>(frame.body()) {
                Ok(ResponseBody {
                    error: Some(error), ..
                }) => {
                    let method = self
                        .pending_requests
                        .method_of(&n)
                        .unwrap_or_default()
                        .to_owned();
                    Err(LeanError::Response(Box::new(LeanResponseError {
                        method,
                        code: error.code,
                        message: error.message,
                        data: error.data,
                    })))
                }
                Ok(ResponseBody { result, .. }) => Ok(result.unwrap_or(Value::Null)),
                Err(error) => {
                    tracing::warn!(%error, "unreadable answer to the proxy's request {n}");
                    Err(LeanError::ServerGone)
                }
            };
            self.finish_request(n, result);
            return;
        }
        if self.initialize_id.as_deref() == Some(id) {
            self.initialize_id = None;
            self.read_initialize_result(&frame);
            let commands = self.code_actions.commands();
            if !commands.is_empty()
                && let Some(announced) = announce_commands(frame.body(), &commands)
            {
                self.send_to_client(Bytes::from(announced));
                return;
            }
        }
        if let Some(pending) = self.pending_code_actions.remove(id) {
            let query = CodeActionQuery {
                uri: &pending.uri,
                range: pending.range,
                version: pending.version,
                text: pending.text.as_ref(),
                params: &pending.params,
            };
            let extra = self.code_actions.code_actions(&query);
            if !extra.is_empty()
                && let Some(merged) = merge_code_actions(frame.body(), extra)
            {
                self.send_to_client(Bytes::from(merged));
                return;
            }
        }
        self.send_to_client(frame.into_bytes());
    }

    fn read_initialize_result(&mut self, frame: &Frame) {
        let encoding = serde_json::from_slice::<Value>(frame.body())
            .ok()
            .and_then(|message| {
                message
                    .pointer("/result/capabilities/positionEncoding")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        let encoding = PositionEncoding::from_lsp(encoding.as_deref());
        tracing::info!(?encoding, "server position encoding");
        self.documents.set_encoding(encoding);
    }

    fn private_subscriber(&self, uri: &str) -> Option<&mpsc::UnboundedSender<PrivateEvent>> {
        self.private_prefixes
            .iter()
            .filter(|(prefix, _)| uri.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, events)| events)
    }

    /// Forwards a document notification the proxy's types could not read, unless the
    /// document (its URI at `uri_pointer` in the params) is a private one: nothing about a
    /// shadow document may reach the editor, readable or not.
    fn forward_unreadable(&self, frame: Frame, uri_pointer: &str) {
        let uri = params_of(&frame)
            .and_then(|raw| serde_json::from_slice::<Value>(raw).ok())
            .and_then(|params| {
                params
                    .pointer(uri_pointer)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        if let Some(uri) = uri
            && self.private_subscriber(&uri).is_some()
        {
            tracing::warn!(%uri, "dropped an unreadable notification about a private document");
            return;
        }
        tracing::warn!("unreadable document notification from Lean; forwarded as is");
        self.send_to_client(frame.into_bytes());
    }

    fn publish_diagnostics(&mut self, frame: Frame) {
        let parsed = params_of(&frame)
            .map(serde_json::from_slice::<PublishDiagnosticsParams>)
            .transpose();
        let params = match parsed {
            Ok(Some(params)) => params,
            Ok(None) | Err(_) => {
                self.forward_unreadable(frame, "/uri");
                return;
            }
        };
        let uri = params.uri.clone();
        let version = params.version;
        let private = self.private_subscriber(&uri).is_some();
        // Private subscribers get every set; editor documents only the sets that arrive after
        // the version's done notification (the late final publish of real Lean).
        let known = self
            .diagnostics
            .publish(params)
            .filter(|known| private || known.reported_done())
            .map(|known| known.diagnostics.clone());
        if let Some(subscriber) = self.private_subscriber(&uri) {
            if let Some(diagnostics) = known {
                let _ = subscriber.send(PrivateEvent::Diagnostics {
                    uri,
                    version,
                    diagnostics,
                });
            }
            return;
        }
        self.send_to_client(frame.into_bytes());
        if let Some(diagnostics) = known {
            self.emit(DocumentEvent::Elaborated {
                uri,
                version: version.unwrap_or(0),
                diagnostics,
            });
        }
    }

    fn file_progress(&mut self, frame: Frame) {
        let parsed = params_of(&frame)
            .map(serde_json::from_slice::<FileProgressParams>)
            .transpose();
        let params = match parsed {
            Ok(Some(params)) => params,
            Ok(None) | Err(_) => {
                self.forward_unreadable(frame, "/textDocument/uri");
                return;
            }
        };
        let outcome = self.diagnostics.progress(&params);
        let uri = params.text_document.uri;
        let version = params.text_document.version;
        if let Some(subscriber) = self.private_subscriber(&uri) {
            let _ = subscriber.send(PrivateEvent::Progress {
                uri: uri.clone(),
                version,
                processing: params.processing,
            });
            if let ProgressOutcome::Elaborated(diagnostics) = outcome {
                let _ = subscriber.send(PrivateEvent::Elaborated {
                    uri,
                    version,
                    diagnostics,
                });
            }
            return;
        }
        self.send_to_client(frame.into_bytes());
        let version = version.unwrap_or(0);
        match outcome {
            ProgressOutcome::Elaborated(diagnostics) => self.emit(DocumentEvent::Elaborated {
                uri,
                version,
                diagnostics,
            }),
            ProgressOutcome::Failed => self.emit(DocumentEvent::Failed { uri, version }),
            ProgressOutcome::Running => {}
        }
    }

    fn command(&mut self, command: LeanCommand) {
        match command {
            LeanCommand::Request {
                n,
                method,
                params,
                reply,
            } => {
                if self.phase == Phase::ShutDown || self.to_server.is_none() {
                    let _ = reply.send(Err(LeanError::ShuttingDown));
                    return;
                }
                let id = crate::lean::private_request_id(n);
                let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
                self.pending_requests.insert(n, method, reply);
                self.send_own(Some(n), body);
            }
            LeanCommand::Cancel { n } => {
                if !self.pending_requests.cancel(&n) {
                    return;
                }
                let queued_before = self.queued.len();
                self.queued.retain(|queued| queued.request != Some(n));
                if self.queued.len() == queued_before && self.phase == Phase::Running {
                    let id = crate::lean::private_request_id(n);
                    let body = json!({"jsonrpc": "2.0", "method": lsp::method::CANCEL_REQUEST, "params": {"id": id}});
                    self.send_own(None, body);
                }
            }
            LeanCommand::Notify { method, params } => {
                if self.phase == Phase::ShutDown {
                    tracing::debug!(%method, "dropped the proxy's notification after shutdown");
                    return;
                }
                if matches!(
                    method.as_str(),
                    lsp::method::DID_OPEN | lsp::method::DID_CLOSE
                ) && let Some(uri) = params.pointer("/textDocument/uri").and_then(Value::as_str)
                {
                    // A reopened private document starts its versions afresh; without this
                    // its new publishes would look older than the old ones and be ignored.
                    self.diagnostics.forget(uri);
                }
                let body = json!({"jsonrpc": "2.0", "method": method, "params": params});
                self.send_own(None, body);
            }
            LeanCommand::RegisterPrivate { prefix, events } => {
                self.private_prefixes.push((prefix, events));
            }
        }
    }

    /// Sends (or, before `initialized`, queues) one of the proxy's own messages.
    fn send_own(&mut self, request: Option<u64>, message: Value) {
        let body = match serde_json::to_vec(&message) {
            Ok(body) => Bytes::from(body),
            Err(error) => {
                tracing::error!(%error, "could not serialise the proxy's own message");
                return;
            }
        };
        if self.phase == Phase::Starting {
            self.queued.push(Queued { request, body });
        } else {
            self.send_to_server(body);
        }
    }

    fn finish_request(&mut self, n: u64, result: Result<Value, LeanError>) {
        self.pending_requests.settle(&n, result);
    }

    fn fail_pending(&mut self, error: &LeanError) {
        self.pending_requests.fail_all(|_| Err(error.clone()));
        self.queued.clear();
    }
}

/// The request number of a proxy-owned id (`"sorryfill:<n>"` as JSON text).
fn parse_private_id(id_text: &str) -> Option<u64> {
    let id: String = serde_json::from_str(id_text).ok()?;
    id.strip_prefix(PRIVATE_ID_PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests;
