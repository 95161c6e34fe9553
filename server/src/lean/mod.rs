//! What the proxy knows about and asks of Lean: the accumulated diagnostics per document
//! version, the events the router publishes for the pipeline, and [`LeanHandle`], the
//! cloneable handle any task uses to send its own requests and notifications to Lean.
//!
//! Invariants: the proxy's own requests carry ids `"sorryfill:<n>"` (a string namespace
//! that neither the editor's nor Lean's ids use) and their responses are consumed, never
//! forwarded; notifications about PRIVATE URIs (registered prefixes) never reach the
//! editor; Lean's extra diagnostic fields (`fullRange`, `isSilent`, `leanTags`, ...) are
//! kept through every parse.

mod diagnostics;
mod events;
mod handle;

pub use diagnostics::{
    DiagnosticsStore, FileProgressParams, LeanDiagnostic, ProcessingRange, ProgressOutcome,
    PublishDiagnosticsParams, VersionDiagnostics, VersionedUri,
};
pub use events::{DocumentEvent, PrivateEvent};
pub use handle::{
    LeanCommand, LeanError, LeanHandle, LeanResponseError, PRIVATE_ID_PREFIX, private_request_id,
};
