//! Verification: every candidate proof takes one path to the user, and this module is its
//! gate. `splice` puts a candidate proof body in place of a hole without changing anything else
//! in the file; `gate` holds the static scan, the diagnostics and axiom checks, and the typed
//! verdict; `checker` runs candidates through Lean in private shadow documents. Invariant:
//! nothing is offered to the user unless it passed every check here.

pub mod checker;
pub mod gate;
pub mod shadow;
pub mod splice;

pub use checker::{
    CheckOutcome, CheckRequest, CheckerSettings, CheckerStats, CurrentVersion, GateMode,
    LeanChecker, ShadowChecker, SourceDocuments, file_uri, to_pipeline,
};
pub use gate::{
    GatePolicy, RejectReason, Rejection, Verdict, check_axioms, check_axioms_with_policy,
    diagnostics_verdict, parse_print_axioms, scan_candidate,
};

pub use splice::{HoleKind, Shadow, Spliced, shadow_text, splice};
