//! [`LeanHandle`]: how any task talks to Lean through the router.
//!
//! The handle only queues commands for the router; the router owns the pipe to Lean. It
//! holds the commands back until the editor's `initialized` has been forwarded (Lean
//! reads the message after `initialize` as `initialized` and fails on anything else) and
//! refuses them once the editor's `shutdown` went through.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::events::PrivateEvent;
use crate::transport::lsp;

/// The prefix of the proxy's own request ids, `"sorryfill:<n>"`.
pub const PRIVATE_ID_PREFIX: &str = "sorryfill:";

/// The JSON id string of the proxy's request number `n`.
pub fn private_request_id(n: u64) -> String {
    format!("{PRIVATE_ID_PREFIX}{n}")
}

/// Why a request through [`LeanHandle`] did not produce a result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LeanError {
    /// Lean answered with a JSON-RPC error (e.g. -32801 content modified, -32800
    /// cancelled, -32901/-32902 worker crashed).
    #[error("Lean answered {} with error {}: {}", .0.method, .0.code, .0.message)]
    Response(Box<LeanResponseError>),
    /// The editor already sent `shutdown`: nothing more is sent to Lean.
    #[error("the editor has shut the server down")]
    ShuttingDown,
    /// Lean exited before answering.
    #[error("the Lean server exited before answering")]
    ServerGone,
    /// The router has stopped (the proxy is exiting).
    #[error("the proxy's router has stopped")]
    RouterGone,
}

/// A JSON-RPC error Lean sent in answer to one of the proxy's requests.
#[derive(Debug, Clone, PartialEq)]
pub struct LeanResponseError {
    /// The method that was asked.
    pub method: String,
    /// The JSON-RPC error code.
    pub code: i64,
    /// The error message.
    pub message: String,
    /// The optional `data` field.
    pub data: Option<Value>,
}

impl LeanError {
    /// The JSON-RPC error code, when Lean answered with one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Response(error) => Some(error.code),
            _ => None,
        }
    }
}

/// A command from a [`LeanHandle`] to the router.
#[derive(Debug)]
pub enum LeanCommand {
    /// Send request number `n` (id `"sorryfill:<n>"`) and deliver its answer to `reply`.
    Request {
        /// The request number.
        n: u64,
        /// The method.
        method: String,
        /// The params.
        params: Value,
        /// Where the result goes.
        reply: oneshot::Sender<Result<Value, LeanError>>,
    },
    /// The requester stopped waiting: send `$/cancelRequest` if it is still pending.
    Cancel {
        /// The request number.
        n: u64,
    },
    /// Send a notification.
    Notify {
        /// The method.
        method: String,
        /// The params.
        params: Value,
    },
    /// Make every URI starting with `prefix` private: its `publishDiagnostics` and
    /// `$/lean/fileProgress` go to `events` and never to the editor.
    RegisterPrivate {
        /// The URI prefix, e.g. `file:///project/.lake/sorryfill/`.
        prefix: String,
        /// The subscriber.
        events: mpsc::UnboundedSender<PrivateEvent>,
    },
}

/// Where a [`LeanHandle`]'s commands go: the router's event queue. A trait, implemented by
/// the router, so that what the proxy knows of Lean does not depend on the router.
pub trait LeanCommandSink: std::fmt::Debug + Send + Sync {
    /// Queues `command` for the router; [`LeanError::RouterGone`] once it has stopped.
    fn send_command(&self, command: LeanCommand) -> Result<(), LeanError>;

    /// Whether the router has stopped (its Lean exited, or the proxy ended).
    fn is_closed(&self) -> bool;
}

/// A cloneable handle through which any task sends its own traffic to Lean.
#[derive(Debug, Clone)]
pub struct LeanHandle {
    commands: Arc<dyn LeanCommandSink>,
    next_request: Arc<AtomicU64>,
}

impl LeanHandle {
    /// A handle feeding the router's event channel. Crate-private: all handles of one
    /// router must share one request counter, so they are cloned from the one
    /// [`crate::router::Proxy::lean_handle`] makes.
    pub(crate) fn new(commands: impl LeanCommandSink + 'static) -> Self {
        Self {
            commands: Arc::new(commands),
            next_request: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Whether the router behind this handle has stopped: its Lean exited (or crashed, or was
    /// killed) or the proxy ended. Nothing sent through the handle is answered any more.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }

    fn send(&self, command: LeanCommand) -> Result<(), LeanError> {
        self.commands.send_command(command)
    }

    /// Sends a request to Lean and waits for its result. The response is consumed by the
    /// router and never reaches the editor. Dropping the returned future before it
    /// finishes (e.g. under `tokio::time::timeout`) sends `$/cancelRequest` for it.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, LeanError> {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.send(LeanCommand::Request {
            n,
            method: method.to_owned(),
            params,
            reply,
        })?;
        let mut cancel = CancelOnDrop {
            handle: self,
            n,
            armed: true,
        };
        let result = answer.await.unwrap_or(Err(LeanError::RouterGone));
        cancel.armed = false;
        result
    }

    /// Sends a notification to Lean (held back until the editor's `initialized`, dropped
    /// after `shutdown`).
    pub fn notify(&self, method: &str, params: Value) -> Result<(), LeanError> {
        self.send(LeanCommand::Notify {
            method: method.to_owned(),
            params,
        })
    }

    /// Makes every URI that starts with `prefix` private for the rest of the session and
    /// returns the stream of its notifications. The registration outlives the receiver, so
    /// a private document can never leak to the editor.
    pub fn register_private(
        &self,
        prefix: impl Into<String>,
    ) -> Result<mpsc::UnboundedReceiver<PrivateEvent>, LeanError> {
        let (events, receiver) = mpsc::unbounded_channel();
        self.send(LeanCommand::RegisterPrivate {
            prefix: prefix.into(),
            events,
        })?;
        Ok(receiver)
    }

    /// `textDocument/waitForDiagnostics {uri, version}`: resolves once Lean has finished
    /// elaborating that version (Lean's own barrier).
    pub async fn wait_for_diagnostics(&self, uri: &str, version: i32) -> Result<(), LeanError> {
        self.request(
            lsp::method::LEAN_WAIT_FOR_DIAGNOSTICS,
            serde_json::json!({"uri": uri, "version": version}),
        )
        .await
        .map(drop)
    }
}

/// Cancels a request whose future is dropped before the answer arrived.
struct CancelOnDrop<'a> {
    handle: &'a LeanHandle,
    n: u64,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            // The router may already be gone; then there is nothing left to cancel.
            let _ = self.handle.send(LeanCommand::Cancel { n: self.n });
        }
    }
}
