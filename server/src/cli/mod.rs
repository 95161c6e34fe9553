//! The engine-independent parts of the command line (`prove`, `audit`, `doctor`): which files
//! to work on, how changes reach them, the report and exit codes, the static audit, the
//! environment check, and progress output. `main.rs` wires these into clap subcommands.
//!
//! Invariants: nothing here writes to stdout (callers print diffs and reports with explicit
//! writes); a user's file is only ever replaced atomically and only when unchanged since read.

pub mod audit;
pub mod audit_lean;
pub mod bench;
pub mod doctor;
pub mod edits;
pub mod files;
pub mod progress;
pub mod prove;
pub mod report;
