//! Which holes sorryfill may fill: only a `sorry` that stands for a *proof*. A `sorry` in a
//! theorem's statement is part of what is claimed (`answer(sorry)`, `↔ sorry`): filling it
//! would change the theorem, which the ground rules forbid. A `sorry` that is a definition's
//! value is data the user has yet to choose; any term of the type would "verify".

use super::{Hole, HoleIndex};

/// What a hole stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoleRole {
    /// Inside the proof of a `theorem`, `lemma` or `example`: sorryfill proves it.
    Proof,
    /// Inside a theorem's statement (its binders or type).
    Statement,
    /// The value of a `def`, `abbrev`, `instance`, structure field or the like.
    Definition,
    /// Not inside a declaration at all (`#check sorry`, a `macro`).
    Outside,
    /// Inside a proof that Lean cannot check on its own (in a `mutual` block, or under an
    /// `… in` prefix other than [`EXPANDABLE_IN_PREFIXES`]) or not fully (after a `debug.`
    /// option). Filling it is not attempted, so no model is asked for a proof no check could
    /// accept.
    Uncheckable(&'static str),
}

/// The `… in` prefixes of a declaration that a shadow expands as Lean does: `cmd in decl` is
/// `section cmd decl end` (`Lean.Elab.Command.expandInCmd`). A prefix with its own `in`, such as
/// `#guard_msgs … in`, is not that combinator and stays unchecked.
pub const EXPANDABLE_IN_PREFIXES: &[&str] = &[
    "open",
    "set_option",
    "variable",
    "include",
    "omit",
    "universe",
    "attribute",
];

const IN_MUTUAL_BLOCK: &str = "the hole is in a `mutual` block, whose declarations Lean checks together: sorryfill cannot check a proof of one of them alone";

const DEBUG_OPTION_SET: &str = "the file sets a `debug.` option before this declaration, which turns off part of Lean's checking, so sorryfill cannot check a proof of it";

const UNEXPANDABLE_IN_PREFIX: &str = "the declaration is under a `… in` prefix other than `open`, `set_option`, `variable`, `include`, `omit`, `universe` or `attribute`, so sorryfill cannot check a proof of it";

impl HoleRole {
    /// Why sorryfill leaves such a hole alone, for reports and logs (`None` for proofs).
    pub fn reason(self) -> Option<&'static str> {
        match self {
            HoleRole::Proof => None,
            HoleRole::Statement => Some(
                "the hole is in the theorem's statement: filling it would change what is proved",
            ),
            HoleRole::Definition => {
                Some("the hole is a definition's value, not a proof: sorryfill only fills proofs")
            }
            HoleRole::Outside => Some("the hole is not inside a theorem"),
            HoleRole::Uncheckable(why) => Some(why),
        }
    }
}

/// Keywords whose value is a proof.
const PROOF_KEYWORDS: &[&str] = &["theorem", "lemma", "example"];

impl HoleIndex {
    /// What `hole` (one of this index's holes) stands for.
    pub fn role(&self, hole: &Hole) -> HoleRole {
        let Some(command) = hole.declaration.and_then(|at| self.command(at)) else {
            return HoleRole::Outside;
        };
        if !PROOF_KEYWORDS.contains(&command.keyword.as_str()) {
            return HoleRole::Definition;
        }
        let text = self.text();
        match lean_syntax::parse_declaration(text, command).and_then(|d| d.value) {
            Some(value) if hole.span.start >= value.start => {}
            _ => return HoleRole::Statement,
        }
        let (prefixes, _) = lean_syntax::in_prefixes(text, command);
        if prefixes
            .iter()
            .any(|prefix| !EXPANDABLE_IN_PREFIXES.contains(&prefix.keyword.as_str()))
        {
            return HoleRole::Uncheckable(UNEXPANDABLE_IN_PREFIX);
        }
        let Some(at) = hole.declaration else {
            return HoleRole::Outside;
        };
        if self.scopes_before(at).in_mutual_block() {
            return HoleRole::Uncheckable(IN_MUTUAL_BLOCK);
        }
        // A `debug.` option such as `debug.skipKernelTC` turns off part of Lean's checking for
        // what follows: a proof that passes there may not pass the kernel.
        let sets_debug_option = |body: &str| body.contains("debug.");
        let earlier_sets_debug = (0..at)
            .filter_map(|earlier| self.command(earlier))
            .filter(|earlier| earlier.kind == lean_syntax::CommandKind::SetOption)
            .any(|earlier| sets_debug_option(text.get(earlier.span.clone()).unwrap_or("")));
        let prefix_sets_debug = prefixes.iter().any(|prefix| {
            prefix.keyword == "set_option"
                && sets_debug_option(text.get(prefix.command.clone()).unwrap_or(""))
        });
        if earlier_sets_debug || prefix_sets_debug {
            return HoleRole::Uncheckable(DEBUG_OPTION_SET);
        }
        HoleRole::Proof
    }
}

/// What `hole` of `text` stands for (see [`HoleIndex::role`]).
pub fn role(text: &str, hole: &Hole) -> HoleRole {
    HoleIndex::new(text).role(hole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(text: &str) -> Vec<HoleRole> {
        let index = HoleIndex::new(text);
        index.holes().iter().map(|hole| index.role(hole)).collect()
    }

    #[test]
    fn only_proofs_of_theorems_are_proofs() {
        let text = "\
theorem a (x : Nat) : x + 0 = x := by
  sorry

theorem b : (∃ n : Nat, n = sorry) ↔ sorry := by sorry

lemma c : True := sorry

example : 1 = 1 := by
  have h : 0 = 0 := by sorry
  sorry

def d : Nat := sorry

instance : Inhabited Nat := sorry

#check (sorry : Nat)
";
        assert_eq!(
            roles(text),
            [
                HoleRole::Proof,
                HoleRole::Statement,
                HoleRole::Statement,
                HoleRole::Proof,
                HoleRole::Proof,
                HoleRole::Proof,
                HoleRole::Proof,
                HoleRole::Definition,
                HoleRole::Definition,
                HoleRole::Outside,
            ]
        );
    }

    #[test]
    fn holes_lean_cannot_check_alone_are_uncheckable() {
        let text = "\
open Nat in
set_option maxHeartbeats 400000 in
theorem a (n : Nat) : n + 0 = n := by
  sorry

/-- info: -/
#guard_msgs in
theorem b : True := by
  sorry

mutual
theorem c : True := by
  sorry
end

theorem d : True := by
  sorry

set_option debug.skipKernelTC true in
theorem e : True := by
  sorry

set_option debug.skipKernelTC true

theorem f : True := by
  sorry
";
        assert_eq!(
            roles(text),
            [
                HoleRole::Proof,
                HoleRole::Uncheckable(UNEXPANDABLE_IN_PREFIX),
                HoleRole::Uncheckable(IN_MUTUAL_BLOCK),
                HoleRole::Proof,
                HoleRole::Uncheckable(DEBUG_OPTION_SET),
                HoleRole::Uncheckable(DEBUG_OPTION_SET),
            ]
        );
    }

    #[test]
    fn the_corpus_statement_holes_are_never_proofs() {
        // analysis_Appendix_A_1.lean, line 197: `↔ sorry` in the statement, then `by sorry`.
        let text = "theorem Exercise (P Q : Prop) : (P → Q) ↔ sorry := by sorry\n";
        assert_eq!(roles(text), [HoleRole::Statement, HoleRole::Proof]);
    }
}
