//! Verification: every candidate proof takes one path to the user, and this module is its
//! gate. `splice` puts a candidate proof body in place of a hole without changing anything else
//! in the file; `gate` holds the static scan, the axiom allow-list and the typed verdict;
//! `judgement` reads Lean's answers for a shadow (diagnostics, the declaration's bounds, the
//! `#print axioms` report); `shadow` is the pool of private documents Lean elaborates them in;
//! `checker` ties these together. Invariant: nothing is offered to the user unless it passed
//! every check here.

pub mod checker;
pub mod gate;
pub mod judgement;
pub mod shadow;
pub mod splice;

pub use checker::{
    CheckOutcome, CheckRequest, CheckerSettings, CheckerStats, CurrentVersion, GateMode,
    LeanChecker, ShadowChecker, SourceDocuments, to_pipeline,
};
pub use gate::{
    GatePolicy, GateRejection, GateVerdict, RejectReason, SHADOW_NAME_PREFIX, check_axioms,
    check_axioms_with_policy, parse_print_axioms, scan_candidate, scan_focused_candidate,
};

pub use judgement::{Judged, judge, lean_whitespace_end};
pub use splice::{
    Shadow, SourceText, Spliced, fresh_nonce, shadow_text, splice, splice_in, splice_together,
    splice_together_in,
};
