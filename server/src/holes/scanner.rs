//! Finding `sorry`/`admit` tokens inside one command and telling tactic from term position.
//!
//! Invariant: only code tokens count (never comments, strings, chars, name literals or
//! syntax quotations), and only identifiers spelled exactly `sorry` or `admit`.
//!
//! Tactic blocks are tracked the way Lean lays them out: a `by` opens a block whose column is
//! that of its first tactic; a later line starting left of that column, or a closing bracket
//! of an enclosing group, ends it.

use super::{HoleKind, HolePosition};
use lean_syntax::{Token, TokenKind};
use std::ops::Range;

/// A hole found in one command, with its span relative to the command start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalHole {
    pub kind: HoleKind,
    /// Byte range relative to the start of the command.
    pub span: Range<usize>,
    pub position: HolePosition,
}

/// An open `by` block.
struct TacticBlock {
    /// Column (in code points) of its first tactic, once seen.
    column: Option<usize>,
    /// Bracket depth at the `by`; a closer below it ends the block.
    depth: usize,
}

/// A significant token already seen, kept for looking back from `=>`.
struct Seen<'a> {
    text: &'a str,
    depth: usize,
}

/// Tactics whose argument is itself a tactic, so `try sorry` is a tactic `sorry`.
const TACTIC_COMBINATORS: &[&str] = &[
    "all_goals",
    "any_goals",
    "try",
    "repeat",
    "repeat'",
    "focus",
    "iterate",
    "first",
    "then",
    "else",
    "|",
    ".",
    "case",
    "next",
];

/// Scans the tokens of one command (`tokens` belong to `src`, the command starts at
/// `command_start`) and returns its holes in source order.
pub(crate) fn scan_command(src: &str, tokens: &[Token], command_start: usize) -> Vec<LocalHole> {
    let mut holes = Vec::new();
    let mut blocks: Vec<TacticBlock> = Vec::new();
    let mut seen: Vec<Seen<'_>> = Vec::new();
    let mut depth = 0usize;
    let mut at_line_start = false;
    for (index, token) in tokens.iter().enumerate() {
        match token.kind {
            TokenKind::Whitespace => {
                if token.text(src).contains('\n') {
                    at_line_start = true;
                }
                continue;
            }
            TokenKind::Ident | TokenKind::Symbol | TokenKind::Number if !token.in_quotation => {}
            _ => {
                // Comments, strings and quoted syntax are transparent for layout, but a
                // string or literal does occupy the line.
                if !token.is_comment() {
                    at_line_start = false;
                }
                continue;
            }
        }
        let text = token.text(src);
        let line_start = at_line_start || (index == 0);
        at_line_start = false;
        let column = || code_point_column(src, token.span.start);
        if line_start {
            let col = column();
            while blocks
                .last()
                .is_some_and(|b| b.column.is_some_and(|c| col < c))
            {
                blocks.pop();
            }
        }
        match text {
            ")" | "]" | "}" | "⟩" | "⦄" | "}}" => {
                depth = depth.saturating_sub(1);
                while blocks.last().is_some_and(|b| b.depth > depth) {
                    blocks.pop();
                }
            }
            _ => {}
        }
        if let Some(block) = blocks.last_mut()
            && block.column.is_none()
        {
            block.column = Some(column());
        }
        let kind = match text {
            "sorry" => Some(HoleKind::Sorry),
            "admit" => Some(HoleKind::Admit),
            _ => None,
        };
        if let Some(kind) = kind {
            let previous = seen.last().map_or("", |s| s.text);
            let in_block = blocks.last();
            let tactic = matches!(previous, "by" | "<;>" | "·" | ";")
                || in_block.is_some_and(|block| {
                    (line_start && block.column == Some(column()))
                        || (previous == "=>" && !is_fun_arrow(&seen[..seen.len() - 1], depth))
                        || TACTIC_COMBINATORS.contains(&previous)
                });
            holes.push(LocalHole {
                kind,
                span: token.span.start - command_start..token.span.end - command_start,
                position: if tactic {
                    HolePosition::Tactic
                } else {
                    HolePosition::Term
                },
            });
        }
        // `by`, a focusing dot, and a tactic alternative (`case _ =>`, `| zero =>`) each open
        // a nested tactic sequence laid out by the column of its first tactic.
        let opens_block = match text {
            "by" | "·" => true,
            "." => line_start && !blocks.is_empty(),
            "=>" => !blocks.is_empty() && !is_fun_arrow(&seen, depth),
            _ => false,
        };
        match text {
            open if lean_syntax::opens_bracket(open) => depth += 1,
            _ if opens_block => blocks.push(TacticBlock {
                column: None,
                depth,
            }),
            _ => {}
        }
        seen.push(Seen { text, depth });
    }
    holes
}

/// Whether a `=>` following the tokens `before` ends a `fun x =>` binder rather than a tactic
/// alternative: looks back at the same bracket depth for `fun`/`λ` before any alternative
/// marker.
fn is_fun_arrow(before: &[Seen<'_>], depth: usize) -> bool {
    for s in before.iter().rev().take(64) {
        if s.depth < depth {
            return false;
        }
        if s.depth > depth {
            continue;
        }
        match s.text {
            "fun" | "λ" => return true,
            "|" | "case" | "next" | "with" | "by" | ":=" | "=>" | "on_goal" | "case'" => {
                return false;
            }
            _ => {}
        }
    }
    false
}

/// Column of `byte` in Unicode code points, Lean's own convention for layout.
fn code_point_column(src: &str, byte: usize) -> usize {
    let line_start = src[..byte].rfind('\n').map_or(0, |i| i + 1);
    src[line_start..byte].chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(src: &str) -> Vec<(usize, HolePosition)> {
        let tokens = lean_syntax::lex(src);
        scan_command(src, &tokens, 0)
            .into_iter()
            .map(|h| (src[..h.span.start].lines().count().max(1), h.position))
            .collect()
    }

    use HolePosition::{Tactic, Term};

    #[test]
    fn tactic_positions() {
        let src = "theorem t : P := by\n  constructor\n  · sorry\n  all_goals sorry\n  simp <;> sorry\n  sorry\n";
        assert_eq!(
            positions(src),
            vec![(3, Tactic), (4, Tactic), (5, Tactic), (6, Tactic)]
        );
        let src = "theorem t : P := by\n  induction n with\n  | zero => sorry\n  | succ n ih =>\n    sorry\n";
        assert_eq!(positions(src), vec![(3, Tactic), (5, Tactic)]);
        assert_eq!(positions("theorem t : P := by sorry"), vec![(1, Tactic)]);
        assert_eq!(positions("def f : Nat := by admit"), vec![(1, Tactic)]);
    }

    #[test]
    fn term_positions() {
        let src = "theorem t : P :=\n  sorry\ndef x : Nat := sorry\n";
        assert_eq!(positions(src), vec![(2, Term), (3, Term)]);
        let src = "def f : Nat → Nat\n  | 0 => sorry\n  | n + 1 => f n + sorry\n";
        assert_eq!(positions(src), vec![(2, Term), (3, Term)]);
        let src = "theorem t : P := by\n  have h : Q := sorry\n  exact foo sorry (fun x => sorry) ⟨sorry, 1⟩\n";
        assert_eq!(
            positions(src),
            vec![(2, Term), (3, Term), (3, Term), (3, Term)]
        );
        let src = "abbrev answer : ℕ := answer(sorry)\n";
        assert_eq!(positions(src), vec![(1, Term)]);
    }

    #[test]
    fn focused_and_alternative_blocks() {
        let src = "theorem t : P := by\n  constructor\n  · rw [h]\n    refine ⟨by simp, ?_⟩\n    intro c\n    sorry\n  case b =>\n    simp\n    sorry\n  exact fun x =>\n    sorry\n";
        assert_eq!(positions(src), vec![(6, Tactic), (9, Tactic), (11, Term)]);
    }

    #[test]
    fn nested_by_blocks_end_by_layout() {
        let src =
            "theorem t : P := by\n  have h : Q := by\n    simp\n  exact (by simp) sorry\n  sorry\n";
        assert_eq!(positions(src), vec![(4, Term), (5, Tactic)]);
    }
}
