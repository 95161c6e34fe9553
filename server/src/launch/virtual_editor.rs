//! An in-process editor for the shell commands: it drives a [`Proxy`] over an in-memory
//! pipe exactly as VS Code or Neovim would drive `sorryfill serve` over stdio, so `prove`
//! runs the same engine (router, shadow checks, gate) as the editor does.
//!
//! Invariant: it sends `initialize` and waits for the answer before `initialized`, and it
//! answers every request the server sends (with `null`), so Lean never waits on it.

use std::process::ExitStatus;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::router::{Proxy, ServeError};
use crate::transport::lsp;
use crate::transport::requests::RequestBook;
use crate::transport::{DEFAULT_MAX_FRAME_BYTES, read_frames, sniff_envelope, write_frames};

/// Why the in-process editor could not talk to Lean.
#[derive(Debug, thiserror::Error)]
pub enum EditorError {
    /// The proxy (and so Lean) went away before answering.
    #[error("the Lean server stopped before answering `{0}`")]
    Closed(String),
    /// Lean answered with an error.
    #[error("Lean answered `{method}` with an error: {error}")]
    Response {
        /// The request.
        method: String,
        /// The error object as Lean sent it.
        error: Value,
    },
    /// No answer within the time limit.
    #[error("Lean did not answer `{0}` in time")]
    Timeout(String),
}

type Pending = Arc<Mutex<RequestBook<i64, Value>>>;

/// The editor side of an in-process proxy session.
pub struct VirtualEditor {
    to_proxy: mpsc::UnboundedSender<Bytes>,
    pending: Pending,
    next_id: AtomicI64,
}

impl VirtualEditor {
    /// Starts `proxy` in front of `server` and connects to it. The returned task ends with
    /// Lean's exit status once the editor side is dropped (or Lean exits).
    pub fn connect(
        proxy: Proxy,
        server: Command,
    ) -> (Self, JoinHandle<Result<ExitStatus, ServeError>>) {
        let (editor_end, proxy_end) = tokio::io::duplex(1 << 20);
        let (proxy_read, proxy_write) = tokio::io::split(proxy_end);
        let session = tokio::spawn(proxy.serve(proxy_read, proxy_write, server));

        let (editor_read, editor_write) = tokio::io::split(editor_end);
        let (to_proxy, outgoing) = mpsc::unbounded_channel::<Bytes>();
        tokio::spawn(write_frames(editor_write, outgoing));

        let pending: Pending = Arc::default();
        let replies = to_proxy.clone();
        let waiting = pending.clone();
        tokio::spawn(async move {
            let outcome = read_frames(editor_read, DEFAULT_MAX_FRAME_BYTES, |incoming| {
                if let crate::transport::Incoming::Frame(frame) = incoming {
                    dispatch(frame.body(), &waiting, &replies);
                }
                true
            })
            .await;
            if let Err(error) = outcome {
                tracing::debug!(%error, "in-process editor: reading from the proxy ended");
            }
            // Dropping the senders wakes every waiting request with `Closed`.
            lock(&waiting).close_all();
        });
        (
            Self {
                to_proxy,
                pending,
                next_id: AtomicI64::new(1),
            },
            session,
        )
    }

    /// `initialize` (as a Lean-aware editor sends it, answered within `limit`) followed by
    /// `initialized`.
    pub async fn initialize(&self, root_uri: &str, limit: Duration) -> Result<Value, EditorError> {
        let params = json!({
            "processId": std::process::id(),
            "rootUri": root_uri,
            "capabilities": {
                "textDocument": {"publishDiagnostics": {"relatedInformation": true}},
                "lean": {"silentDiagnosticSupport": true}
            },
            "initializationOptions": {"hasWidgets": false}
        });
        let result = self.request(lsp::method::INITIALIZE, params, limit).await?;
        self.notify(lsp::method::INITIALIZED, json!({}));
        Ok(result)
    }

    /// The version every document is opened with.
    pub const OPENED_VERSION: i32 = 1;

    /// Opens a document as an editor would (without building dependencies), as version
    /// [`Self::OPENED_VERSION`].
    pub fn open(&self, uri: &str, text: &str) {
        self.notify(
            lsp::method::DID_OPEN,
            json!({
                "textDocument": {"uri": uri, "languageId": "lean4", "version": Self::OPENED_VERSION, "text": text},
                "dependencyBuildMode": "never"
            }),
        );
    }

    /// Closes a document.
    pub fn close(&self, uri: &str) {
        self.notify(
            lsp::method::DID_CLOSE,
            json!({"textDocument": {"uri": uri}}),
        );
    }

    /// `shutdown` then `exit`: Lean stops its workers and exits.
    pub async fn shutdown(&self) {
        let answered = self
            .request(lsp::method::SHUTDOWN, Value::Null, Duration::from_secs(10))
            .await;
        if let Err(error) = answered {
            tracing::debug!(%error, "shutdown was not answered");
        }
        self.notify(lsp::method::EXIT, Value::Null);
    }

    /// Sends a request and waits for its result, at most `limit`.
    pub async fn request(
        &self,
        method: &str,
        params: Value,
        limit: Duration,
    ) -> Result<Value, EditorError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, method, tx);
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let response = match tokio::time::timeout(limit, rx).await {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => return Err(EditorError::Closed(method.to_owned())),
            Err(_) => {
                lock(&self.pending).cancel(&id);
                return Err(EditorError::Timeout(method.to_owned()));
            }
        };
        match response.get("error") {
            Some(error) => Err(EditorError::Response {
                method: method.to_owned(),
                error: error.clone(),
            }),
            None => Ok(response.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Sends a notification.
    pub fn notify(&self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn send(&self, message: Value) {
        // The proxy may already be gone; every request then ends with `Closed`.
        let _ = self.to_proxy.send(Bytes::from(message.to_string()));
    }
}

/// Routes one frame from the proxy: answers to our requests wake their waiters, requests
/// from the server get an empty answer, notifications need nothing.
fn dispatch(body: &[u8], pending: &Pending, replies: &mpsc::UnboundedSender<Bytes>) {
    let envelope = sniff_envelope(body);
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let id = message.get("id").cloned();
    match (id, message.get("method")) {
        (Some(id), Some(_)) if envelope.is_request() => {
            let answer = json!({"jsonrpc": "2.0", "id": id, "result": null});
            let _ = replies.send(Bytes::from(answer.to_string()));
        }
        (Some(Value::Number(id)), None) => {
            if let Some(id) = id.as_i64() {
                lock(pending).settle(&id, message);
            }
        }
        _ => {}
    }
}

fn lock(pending: &Pending) -> std::sync::MutexGuard<'_, RequestBook<i64, Value>> {
    // A panic while holding this lock cannot leave the map inconsistent: take it anyway.
    pending
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
