//! The editor session: turns the editor's documents into holes, holes into pipeline jobs,
//! and verified jobs into code actions (and, on request, edits applied on save).
//!
//! - [`Session`] consumes the router's [`crate::lean::DocumentEvent`]s on its own task. It
//!   keeps, per editor document, the latest version, its text and its [`crate::holes::HoleIndex`];
//!   asks Lean for each hole's goal once a version is fully elaborated; submits one job per
//!   hole; and on every edit cancels, re-anchors or keeps each job.
//! - [`EditorState`] is the state the session shares with the router's code action hook
//!   ([`HoleActions`]) and with the checker (current versions and texts).
//! - [`commands`] answers the plugins' `sorryfill.*` commands on the router task and hands
//!   their work to the session; [`report_status`] sends `$/sorryfill/status`.
//! - [`run_serve`] wires `sorryfill serve`: configuration, pipeline, session and proxy.
//!
//! Invariants: goals are used only for the version they were asked for (a reply that
//! arrives after an edit is dropped); a proof is offered only when the version it was
//! verified at is the document's current one, and its edit names that version; jobs of a
//! closed document are cancelled.

mod actions;
pub mod commands;
mod serve;
mod session;
mod state;
mod status;

pub use actions::{FILL_TITLE, HoleActions, STATUS_COMMAND, STATUS_TITLE};
pub use commands::SessionCommand;
pub use serve::{RunServeError, ServeOptions, run_serve};
pub use session::Session;
pub use state::{EditorState, JobSlot};
pub use status::{STATUS_METHOD, Status, StatusState, report_status};
