//! Correlating holes with Lean's `declaration uses 'sorry'` warnings.
//!
//! Lean (≤ v4.23) says ``declaration uses 'sorry'``, newer Lean ``declaration uses `sorry` ``,
//! and the newest ``declaration `NAME` uses `sorry` ``; all are matched. The warning's range is on the declaration name (for `example`, on the
//! keyword), one per declaration, and only when the declaration has no errors.

use super::HoleIndex;
use lsp_types::Range;

/// Whether a diagnostic message is Lean's "declaration uses sorry" warning, in any of its
/// spellings. The soundness gate relies on this too, so it errs on the side of matching.
pub fn is_sorry_warning(message: &str) -> bool {
    let message = message.trim();
    if message.contains("declaration uses 'sorry'") || message.contains("declaration uses `sorry`")
    {
        return true;
    }
    message
        .strip_prefix("declaration `")
        .and_then(|rest| rest.strip_suffix("` uses `sorry`"))
        .is_some_and(|name| !name.is_empty())
}

/// The ranges of every "declaration uses sorry" warning among `diagnostics`
/// (`(range, message)` pairs), in order.
pub fn sorry_warning_declarations(diagnostics: &[(Range, String)]) -> Vec<Range> {
    diagnostics
        .iter()
        .filter(|(_, message)| is_sorry_warning(message))
        .map(|(range, _)| *range)
        .collect()
}

impl HoleIndex {
    /// Indexes of the commands (into [`HoleIndex::outline`]) that carry a "declaration uses
    /// sorry" warning among `diagnostics`, deduplicated and sorted.
    pub fn warned_commands(&self, diagnostics: &[(Range, String)]) -> Vec<usize> {
        let outline = self.outline();
        let mut warned: Vec<usize> = sorry_warning_declarations(diagnostics)
            .into_iter()
            .filter_map(|range| {
                let byte = self.line_index().lsp_offset(range.start);
                outline
                    .commands
                    .iter()
                    .position(|c| c.span.start <= byte && byte < c.span.end)
            })
            .collect();
        warned.sort_unstable();
        warned.dedup();
        warned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsp_types::Position;

    #[test]
    fn every_spelling_of_the_sorry_warning_is_recognised() {
        assert!(is_sorry_warning("declaration uses 'sorry'"));
        assert!(is_sorry_warning("declaration uses `sorry`"));
        assert!(is_sorry_warning("declaration `Foo.bar` uses `sorry`"));
        assert!(!is_sorry_warning("declaration `` uses `sorry`"));
        assert!(!is_sorry_warning("unsolved goals"));
    }

    #[test]
    fn both_quotings_map_to_the_declaration() {
        let src = "theorem a : True := by\n  sorry\n\ntheorem b : True := sorry\n\ntheorem c : True := trivial\n";
        let index = HoleIndex::new(src);
        let on =
            |line, start, end| Range::new(Position::new(line, start), Position::new(line, end));
        let diagnostics = vec![
            (on(0, 8, 9), "declaration uses 'sorry'".to_owned()),
            (on(3, 8, 9), "declaration uses `sorry`".to_owned()),
            (on(5, 8, 9), "unknown identifier 'sorry'".to_owned()),
        ];
        assert_eq!(sorry_warning_declarations(&diagnostics).len(), 2);
        assert_eq!(index.warned_commands(&diagnostics), vec![0, 1]);
        assert_eq!(index.holes()[1].command, 1);
    }
}
