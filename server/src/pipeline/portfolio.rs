//! Stage 1's tactic portfolio: one-line closers tried cheapest first, kept to what the
//! file's imports provide so a file without Mathlib never sees a Mathlib tactic.

use crate::config::DEFAULT_TACTICS;

/// What a tactic needs the file to import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Lean core (`rfl`, `decide`, `omega`, `simp`, `exact?`, `grind`, ...).
    Core,
    /// Aesop, imported directly or through Mathlib.
    Aesop,
    /// Mathlib.
    Mathlib,
}

/// Tactics that come from Mathlib (or Aesop), by their first word.
const MATHLIB_TACTICS: &[&str] = &[
    "norm_num",
    "linarith",
    "nlinarith",
    "positivity",
    "ring",
    "ring_nf",
    "field_simp",
    "tauto",
    "polyrith",
    "gcongr",
    "bound",
    "continuity",
    "measurability",
    "fun_prop",
    "norm_cast",
    "push_cast",
    "abel",
    "group",
    "noncomm_ring",
    "interval_cases",
    "fin_cases",
    "nlinarith!",
    "linarith!",
    "cancel_denoms",
    "zify",
    "qify",
    "rify",
    "lift",
    "compute_degree",
    "monicity",
];

/// Which imports a tactic needs, judged by its first word.
pub fn requirement(tactic: &str) -> Requirement {
    let head = tactic.split_whitespace().next().unwrap_or("");
    if head == "aesop" || head == "aesop?" {
        Requirement::Aesop
    } else if MATHLIB_TACTICS.contains(&head) {
        Requirement::Mathlib
    } else {
        Requirement::Core
    }
}

/// A configured list of tactics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Portfolio {
    tactics: Vec<String>,
}

impl Default for Portfolio {
    fn default() -> Self {
        Portfolio::new(DEFAULT_TACTICS.iter().map(|t| (*t).to_owned()))
    }
}

impl Portfolio {
    /// A portfolio of `tactics`, tried in the given order.
    pub fn new(tactics: impl IntoIterator<Item = String>) -> Self {
        Portfolio {
            tactics: tactics
                .into_iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect(),
        }
    }

    /// The tactics a file with these imports can run, in order.
    pub fn for_imports<S: AsRef<str>>(&self, imports: &[S]) -> Vec<String> {
        let mathlib = imports.iter().any(|i| {
            let module = i.as_ref().trim();
            module == "Mathlib" || module.starts_with("Mathlib.")
        });
        let aesop = mathlib
            || imports.iter().any(|i| {
                let module = i.as_ref().trim();
                module == "Aesop" || module.starts_with("Aesop.")
            });
        self.tactics
            .iter()
            .filter(|tactic| match requirement(tactic) {
                Requirement::Core => true,
                Requirement::Aesop => aesop,
                Requirement::Mathlib => mathlib,
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_mathlib_gets_only_core_tactics() {
        let tactics = Portfolio::default().for_imports::<&str>(&[]);
        assert!(tactics.iter().any(|t| t == "omega"));
        assert!(tactics.iter().any(|t| t == "exact?"));
        for mathlib_only in ["norm_num", "linarith", "positivity", "aesop", "tauto"] {
            assert!(!tactics.iter().any(|t| t == mathlib_only), "{mathlib_only}");
        }
    }

    #[test]
    fn mathlib_imports_enable_the_whole_list_in_order() {
        let tactics = Portfolio::default().for_imports(&["Mathlib.Tactic.Linarith"]);
        assert_eq!(tactics, DEFAULT_TACTICS);
    }

    #[test]
    fn aesop_alone_enables_aesop_but_not_mathlib() {
        let tactics = Portfolio::default().for_imports(&["Aesop"]);
        assert!(tactics.iter().any(|t| t == "aesop"));
        assert!(!tactics.iter().any(|t| t == "norm_num"));
    }

    #[test]
    fn configured_tactics_are_filtered_by_their_first_word() {
        let portfolio = Portfolio::new(["linarith [sq_nonneg x]".into(), "simp; omega".into()]);
        assert_eq!(portfolio.for_imports(&["Init"]), ["simp; omega"]);
    }
}
