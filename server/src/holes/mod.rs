//! Holes: every `sorry` (and `admit`) in a Lean document, with a stable identity, its
//! declaration, the context a standalone lemma needs, goal parsing, and correlation with
//! Lean's `declaration uses 'sorry'` warnings.
//!
//! Invariants:
//! - A hole is a code token spelled exactly `sorry` or `admit`, never one inside a comment,
//!   string, char or name literal, or syntax quotation (see `lean_syntax::lex`).
//! - A [`HoleId`] is the qualified declaration name plus the hole's ordinal inside that
//!   declaration, so an edit in another declaration never changes it. Anonymous commands
//!   (`example`, unnamed `instance`, `#check`) get `keyword@k`, `k` counting such commands of the
//!   same keyword from the top of the file.
//! - [`HoleIndex::update`] gives exactly what [`scan`] gives on the same text.

mod context;
mod goal;
mod index;
mod role;
mod scanner;
mod snapshot;
mod warnings;

pub use context::{HoleContext, context, imported_modules};
pub use goal::{Goal, Hypothesis, LemmaParts, parse_goal, parse_rendered_goals};
pub use index::{HoleIndex, UpdateStats};
pub use role::{EXPANDABLE_IN_PREFIXES, HoleRole, role};
pub use snapshot::DocumentSnapshot;
pub use warnings::{is_sorry_warning, sorry_warning_declarations};

use lsp_types::Range as LspRange;
use std::ops::Range;

/// What kind of hole a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoleKind {
    /// `sorry`.
    Sorry,
    /// The `admit` tactic, reported separately from `sorry`.
    Admit,
}

/// Whether a hole stands where a tactic or a term is expected; tactic holes are asked about
/// with `$/lean/plainGoal`, term holes with `$/lean/plainTermGoal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HolePosition {
    /// `by sorry`, a `sorry` tactic line, `· sorry`, `<;> sorry`, `| zero => sorry` in tactics.
    Tactic,
    /// `:= sorry`, `exact foo sorry`, `answer(sorry)`, structure fields, term match arms.
    Term,
}

/// Stable identity of a hole across edits elsewhere in the file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HoleId {
    /// Qualified declaration name (`Foo.bar`), or a synthetic `example@2` for anonymous ones.
    pub declaration: String,
    /// Zero-based ordinal of the hole among the holes of that declaration.
    pub ordinal: u32,
}

impl std::fmt::Display for HoleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.declaration, self.ordinal)
    }
}

/// One hole in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hole {
    /// `sorry` or `admit`.
    pub kind: HoleKind,
    /// Byte range of the token in the document text.
    pub span: Range<usize>,
    /// LSP range of the token (UTF-16 columns).
    pub range: LspRange,
    /// Stable identity.
    pub id: HoleId,
    /// Tactic or term position.
    pub position: HolePosition,
    /// Index of the enclosing command in the outline, when that command is a declaration.
    pub declaration: Option<usize>,
    /// Index of the enclosing command in the outline.
    pub command: usize,
}

/// Finds every hole in `text`, in source order.
pub fn scan(text: &str) -> Vec<Hole> {
    HoleIndex::new(text).holes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_qualified_and_anonymous_ones_numbered() {
        let src = "namespace Foo\nmutual\n  def m : Nat := 0\nend\ntheorem a : P := by\n  sorry\n  sorry\nexample : Q := sorry\nsection\nexample : R := by admit\nend\nend Foo\ntheorem b : P := sorry\n";
        let ids: Vec<String> = scan(src).iter().map(|h| h.id.to_string()).collect();
        assert_eq!(
            ids,
            vec!["Foo.a#0", "Foo.a#1", "example@0#0", "example@1#0", "b#0"]
        );
        let holes = scan(src);
        assert_eq!(holes[3].kind, HoleKind::Admit);
        assert_eq!(holes[1].range.start, lsp_types::Position::new(6, 2));
    }

    #[test]
    fn non_holes_are_ignored() {
        let src = "/-- uses sorry -/\ndef sorryAx' := \"sorry\" -- sorry\n/- /- sorry -/ sorry -/\ndef q := `sorry\ndef m := `(tactic| sorry)\ndef s := s!\"{1} sorry\"\ndef so_sorry := 'c'\n";
        assert!(scan(src).is_empty(), "{:?}", scan(src));
    }
}
