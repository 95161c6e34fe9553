//! Which holes sorryfill may fill: only a `sorry` that stands for a *proof*. A `sorry` in a
//! theorem's statement is part of what is claimed (`answer(sorry)`, `↔ sorry`): filling it
//! would change the theorem, which the ground rules forbid. A `sorry` that is a definition's
//! value is data the user has yet to choose; any term of the type would "verify".

use std::borrow::Cow;

use super::{Hole, HoleIndex};

/// What a hole stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoleRole {
    /// Inside the proof of a `theorem`, `lemma` or `example`: sorryfill proves it.
    Proof,
    /// Inside a theorem's statement (its binders or type).
    Statement,
    /// The value of a `def`, `abbrev`, `instance`, structure field or the like.
    Definition,
    /// Not inside a declaration at all (`#check sorry`, a `macro`).
    Outside,
    /// Inside a proof that no check can accept: Lean cannot check it on its own (in a
    /// `mutual` block, or under an `… in` prefix other than [`EXPANDABLE_IN_PREFIXES`]), not
    /// fully (after a `debug.` option), or counts a `sorry` among the axioms of any proof of it
    /// (its statement uses an unfinished declaration). Filling it is not attempted, so no model
    /// is asked for a proof no check could accept.
    Uncheckable(Cow<'static, str>),
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
    pub fn reason(&self) -> Option<&str> {
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
const PROOF_KEYWORDS: &[&str] = &["theorem", "lemma", "example", "problem"];

impl HoleIndex {
    /// What `hole` (one of this index's holes) stands for.
    pub fn role(&self, hole: &Hole) -> HoleRole {
        let Some((at, command)) = hole
            .declaration
            .and_then(|at| Some((at, self.command(at)?)))
        else {
            return HoleRole::Outside;
        };
        if !PROOF_KEYWORDS.contains(&command.keyword.as_str()) {
            return HoleRole::Definition;
        }
        let Some(declaration) = lean_syntax::parse_declaration(self.text(), command) else {
            return HoleRole::Statement;
        };
        match &declaration.value {
            Some(value) if hole.span.start >= value.start => {}
            _ => return HoleRole::Statement,
        }
        match self.why_uncheckable(at, command, &declaration) {
            Some(why) => HoleRole::Uncheckable(why),
            None => HoleRole::Proof,
        }
    }

    /// Why no check can accept a proof of the `at`-th command, `command`, whose declaration
    /// is `declaration`; `None` when one can.
    fn why_uncheckable(
        &self,
        at: usize,
        command: &lean_syntax::Command,
        declaration: &lean_syntax::Declaration,
    ) -> Option<Cow<'static, str>> {
        let text = self.text();
        let (prefixes, _) = lean_syntax::in_prefixes(text, command);
        if prefixes
            .iter()
            .any(|prefix| !EXPANDABLE_IN_PREFIXES.contains(&prefix.keyword.as_str()))
        {
            return Some(UNEXPANDABLE_IN_PREFIX.into());
        }
        if self.scopes_before(at).in_mutual_block() {
            return Some(IN_MUTUAL_BLOCK.into());
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
            return Some(DEBUG_OPTION_SET.into());
        }
        let unfinished = self.unfinished_in_statement(at, declaration)?;
        Some(
            format!(
                "the statement uses `{unfinished}`, which still has a `sorry`: Lean counts it among the axioms of every proof of this theorem, so none can pass until `{unfinished}` is finished"
            )
            .into(),
        )
    }

    /// An earlier declaration of the file that still has a hole and that the statement of
    /// `declaration` (the `at`-th command) names: every proof of it then depends on `sorryAx`,
    /// as `#print axioms` follows the constants of the statement too. By name, as written; a
    /// name our reading matches wrongly only leaves a hole unproved.
    fn unfinished_in_statement(
        &self,
        at: usize,
        declaration: &lean_syntax::Declaration,
    ) -> Option<String> {
        let unfinished: Vec<&str> = self
            .holes()
            .iter()
            .filter(|earlier| {
                earlier
                    .declaration
                    .filter(|&command| command < at)
                    .and_then(|command| self.command(command))
                    .is_some_and(|command| REFERABLE_KEYWORDS.contains(&command.keyword.as_str()))
            })
            .map(|earlier| earlier.id.declaration.as_str())
            .collect();
        if unfinished.is_empty() {
            return None;
        }
        let text = self.text();
        let statement_end = declaration.value.as_ref()?.start;
        let statement = text.get(declaration.header.start..statement_end)?;
        lean_syntax::lex(statement)
            .iter()
            .filter(|token| token.kind == lean_syntax::TokenKind::Ident)
            .map(|token| token.text(statement))
            .map(|name| name.trim_start_matches('@'))
            .map(|name| name.strip_prefix("_root_.").unwrap_or(name))
            .find_map(|name| {
                unfinished.iter().find(|unfinished| {
                    **unfinished == name
                        || unfinished
                            .strip_suffix(name)
                            .is_some_and(|namespace| namespace.ends_with('.'))
                })
            })
            .map(|unfinished| (*unfinished).to_owned())
    }
}

/// Keywords of the declarations a statement can name whose `sorry` then reaches its axioms.
const REFERABLE_KEYWORDS: &[&str] = &[
    "def",
    "abbrev",
    "theorem",
    "lemma",
    "opaque",
    // compfiles' answer and statement.
    "determine",
    "problem",
];

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
                HoleRole::Uncheckable(UNEXPANDABLE_IN_PREFIX.into()),
                HoleRole::Uncheckable(IN_MUTUAL_BLOCK.into()),
                HoleRole::Proof,
                HoleRole::Uncheckable(DEBUG_OPTION_SET.into()),
                HoleRole::Uncheckable(DEBUG_OPTION_SET.into()),
            ]
        );
    }

    #[test]
    fn a_statement_that_names_an_unfinished_declaration_is_uncheckable() {
        // PutnamBench's shape: the answer is still `sorry`, so is every proof's axiom set.
        let text = "\
namespace P
noncomputable abbrev answer : ℝ := sorry
theorem helper : True := sorry
end P

theorem main (h : ℝ) (hh : h = 2) : h = P.answer :=
sorry

open P in
theorem other : answer = answer := by
  sorry

theorem fine (x : ℕ) : x = x := by
  sorry
";
        let uses = |name: &str| {
            HoleRole::Uncheckable(
                format!("the statement uses `{name}`, which still has a `sorry`: Lean counts it among the axioms of every proof of this theorem, so none can pass until `{name}` is finished")
                    .into(),
            )
        };
        assert_eq!(
            roles(text),
            [
                HoleRole::Definition,
                HoleRole::Proof,
                uses("P.answer"),
                uses("P.answer"),
                HoleRole::Proof,
            ]
        );
    }

    #[test]
    fn a_compfiles_problem_about_an_unfinished_answer_is_uncheckable() {
        let text = "\
determine solution_value : ℕ := sorry

problem p : solution_value = 9 := by
  sorry

problem q : 2 = 2 := by
  sorry
";
        assert_eq!(
            roles(text),
            [
                HoleRole::Definition,
                HoleRole::Uncheckable(
                    "the statement uses `solution_value`, which still has a `sorry`: Lean counts it among the axioms of every proof of this theorem, so none can pass until `solution_value` is finished".into()
                ),
                HoleRole::Proof,
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
