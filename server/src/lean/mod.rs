//! What the proxy knows about and asks of Lean: the accumulated diagnostics per document
//! version, the events the router publishes for the pipeline, and [`LeanHandle`], the
//! cloneable handle any task uses to send its own requests and notifications to Lean.
//!
//! Invariants: the proxy's own requests carry ids `"sorryfill:<n>"` (a string namespace
//! that neither the editor's nor Lean's ids use) and their responses are consumed, never
//! forwarded; notifications about PRIVATE URIs (registered prefixes) never reach the
//! editor; Lean's extra diagnostic fields (`fullRange`, `isSilent`, `leanTags`, ...) are
//! kept through every parse.
//!
//! How later stages use it (set up before [`crate::router::Proxy::serve`] runs):
//!
//! ```no_run
//! # async fn demo() -> Result<(), sorryfill::lean::LeanError> {
//! use sorryfill::lean::{DocumentEvent, PrivateEvent};
//! use sorryfill::router::{Proxy, ProxyConfig};
//! use serde_json::json;
//!
//! let mut proxy = Proxy::new(ProxyConfig::default());
//! let lean = proxy.lean_handle();                  // clone it into any task
//! let mut documents = proxy.observe_documents();   // editor documents: Opened/Changed/...
//! // Every URI under this prefix is private: its diagnostics and progress come here.
//! let mut shadow = lean.register_private("file:///project/.lake/sorryfill/")?;
//! let uri = "file:///project/.lake/sorryfill/Foo.lean";
//! lean.notify("textDocument/didOpen", json!({
//!     "textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": "example : True := trivial"},
//!     "dependencyBuildMode": "never"}))?;
//! // Lean's own barrier: it answers after every publish of the version, and the router
//! // forwards Lean's frames in order, so every event before the answer is already queued.
//! lean.wait_for_diagnostics(uri, 1).await?;
//! let mut last = Vec::new();
//! while let Ok(event) = shadow.try_recv() {
//!     if let PrivateEvent::Diagnostics { version: Some(1), diagnostics, .. } = event {
//!         last = diagnostics;
//!     }
//! }
//! let _errors = last.iter().filter(|d| d.is_error()).count();
//! let _goal = lean.request("$/lean/plainGoal", json!({
//!     "textDocument": {"uri": uri}, "position": {"line": 0, "character": 18}})).await?;
//! # drop(documents.try_recv().map(|_: DocumentEvent| ()));
//! # Ok(()) }
//! ```

mod diagnostics;
mod events;
mod goals;
mod handle;

pub use diagnostics::{
    DiagnosticsStore, FileProgressParams, LeanDiagnostic, ProcessingRange, ProgressOutcome,
    PublishDiagnosticsParams, VersionDiagnostics, VersionedUri, blocked_holes,
};
pub use events::{DocumentEvent, PrivateEvent};
pub use goals::goal_at;
pub use handle::{
    LeanCommand, LeanCommandSink, LeanError, LeanHandle, LeanResponseError, PRIVATE_ID_PREFIX,
    private_request_id,
};
