//! Events the router publishes for later stages (the pipeline, verification).
//!
//! Invariant: events for one URI are sent in the order the router saw the frames that
//! caused them, and a sync event is sent only after the document store applied the change.

use ropey::Rope;

use super::diagnostics::{LeanDiagnostic, ProcessingRange};

/// What happened to a document the EDITOR has open. Texts are rope snapshots of exactly
/// that version (cloning a rope is O(1)).
#[derive(Debug, Clone)]
pub enum DocumentEvent {
    /// `didOpen` was applied.
    Opened {
        /// The document.
        uri: String,
        /// Its version.
        version: i32,
        /// Its text at that version.
        text: Rope,
    },
    /// `didChange` was applied.
    Changed {
        /// The document.
        uri: String,
        /// The new version.
        version: i32,
        /// The text at that version.
        text: Rope,
    },
    /// `didClose` was applied.
    Closed {
        /// The document.
        uri: String,
    },
    /// Lean finished elaborating `version` (`fileProgress` with `processing: []`), and again
    /// for every publish of that version that arrives afterwards: real Lean sends the final
    /// set of a version that never blocked AFTER the done notification, so the last
    /// `Elaborated` of a version carries its final diagnostics. For a barrier, wait for
    /// Lean's `textDocument/waitForDiagnostics` answer: every `Elaborated` it covers has been
    /// sent by then. The version may already be outdated: compare with the latest `Changed`.
    Elaborated {
        /// The document.
        uri: String,
        /// The version Lean finished (0 when Lean sent none).
        version: i32,
        /// Every diagnostic Lean published for that version.
        diagnostics: Vec<LeanDiagnostic>,
    },
    /// The editor saved the document (`didSave`) at the proxy's current `version` of it.
    Saved {
        /// The document.
        uri: String,
        /// The version the proxy had when the save arrived.
        version: i32,
    },
    /// The editor's `initialized` went through: from now on the proxy may send the editor
    /// messages of its own (through [`crate::router::EditorHandle`]).
    EditorReady {
        /// Whether the editor declared `window.workDoneProgress` (server-initiated progress).
        work_done_progress: bool,
        /// The editor's `initializationOptions.sorryfill`: settings over `sorryfill.toml`.
        settings: Option<serde_json::Value>,
    },
    /// Lean stopped elaborating `version` for good (`fileProgress` kind 2: a failed header
    /// or a crashed worker); no `Elaborated` will follow for it.
    Failed {
        /// The document.
        uri: String,
        /// The version that failed (0 when Lean sent none).
        version: i32,
    },
}

/// A notification about a PRIVATE document, delivered to the subscriber of its prefix
/// instead of the editor.
#[derive(Debug, Clone, PartialEq)]
pub enum PrivateEvent {
    /// A `publishDiagnostics` arrived; `diagnostics` is the full set known so far for
    /// `version` (incremental publishes already merged).
    Diagnostics {
        /// The private document.
        uri: String,
        /// The version Lean published for.
        version: Option<i32>,
        /// The accumulated set.
        diagnostics: Vec<LeanDiagnostic>,
    },
    /// A `$/lean/fileProgress` arrived.
    Progress {
        /// The private document.
        uri: String,
        /// The version it is about.
        version: Option<i32>,
        /// Regions still processing; check [`ProcessingRange::is_fatal`].
        processing: Vec<ProcessingRange>,
    },
    /// The first "done" for `version`, with the diagnostics known at that moment. NOT the
    /// final set: real Lean may publish for the version after it; the final set is the last
    /// `Diagnostics` of the version before Lean's `waitForDiagnostics` answer.
    Elaborated {
        /// The private document.
        uri: String,
        /// The version finished.
        version: Option<i32>,
        /// Every diagnostic Lean published for it.
        diagnostics: Vec<LeanDiagnostic>,
    },
}
