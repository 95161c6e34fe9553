//! The oracle: which proofs of which statements the simulated Lean accepts.
//!
//! Statements are keyed token-wise (whitespace and comments ignored, the declaration keyword and
//! name dropped), and proof bodies are compared token-wise as written (an entry without `by`
//! stands for both `by <entry>` and the term `<entry>`), with `:= by sorry` read as `:= sorry`
//! inside `have` steps. The format is documented in README.md; other crates' tests
//! and benchmarks write oracle files, so changes here must stay backward compatible.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use crate::syntax::TokenKind;
use serde::Deserialize;

/// The axioms a proof depends on when the oracle does not say otherwise.
pub const STANDARD_AXIOMS: [&str; 3] = ["propext", "Classical.choice", "Quot.sound"];

/// Why an oracle file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// The file could not be read.
    #[error("cannot read oracle {path}: {source}")]
    Read {
        /// The oracle path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid oracle TOML.
    #[error("invalid oracle {path}: {source}")]
    Parse {
        /// The oracle path.
        path: String,
        /// The TOML error.
        source: toml::de::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OracleFile {
    #[serde(default)]
    theorem: Vec<TheoremEntry>,
    #[serde(default)]
    unknown_identifiers: Vec<String>,
    #[serde(default)]
    accept_all: bool,
    #[serde(default)]
    suggestions: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TheoremEntry {
    statement: String,
    #[serde(default)]
    accept: Vec<String>,
    goal: Option<String>,
    #[serde(default)]
    axioms: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    kernel_reject: Vec<String>,
}

/// One statement's verdicts.
#[derive(Debug, Default, Clone)]
pub struct Entry {
    /// Accepted proof keys and the axioms each one uses.
    accepted: Vec<(String, Vec<String>)>,
    /// The goal to render instead of deriving it from the statement.
    pub goal: Option<String>,
    /// Proof keys the elaborator accepts but the kernel rejects.
    kernel_rejected: Vec<String>,
}

impl Entry {
    /// Whether the kernel rejects `proof` (the oracle's `kernel_reject`).
    pub fn kernel_rejects(&self, proof: &str) -> bool {
        let key = proof_key(proof);
        self.kernel_rejected
            .iter()
            .any(|rejected| *rejected == key || key.strip_prefix("by ") == Some(rejected.as_str()))
    }

    /// The axioms of `proof` (a declaration's value, exactly as written) if the oracle accepts
    /// it for this statement. An entry written without `by` stands for a tactic script (the
    /// value `by <entry>`) and for the term `<entry>`; the value itself is never rewritten, so
    /// `:= omega` is only ever compared as the term `omega` (which [`Judge`] rejects first as an
    /// unknown identifier).
    ///
    /// [`Judge`]: crate::elab
    pub fn accepts(&self, proof: &str) -> Option<&[String]> {
        let key = proof_key(proof);
        self.accepted
            .iter()
            .find(|(accepted, _)| {
                *accepted == key
                    || (!accepted.starts_with("by ")
                        && key.strip_prefix("by ") == Some(accepted.as_str()))
            })
            .map(|(_, axioms)| axioms.as_slice())
    }
}

/// Every statement the oracle knows, keyed by [`statement_key`].
#[derive(Debug, Default, Clone)]
pub struct Oracle {
    entries: HashMap<String, Entry>,
    unknown_identifiers: HashSet<String>,
    accept_all: bool,
    /// Tactic key → the "Try this" suggestion Lean makes for it.
    suggestions: HashMap<String, String>,
}

impl Oracle {
    /// Reads an oracle file.
    pub fn load(path: &Path) -> Result<Self, OracleError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| OracleError::Read {
            path: display.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|source| OracleError::Parse {
            path: display,
            source,
        })
    }

    /// Parses oracle TOML text.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        let file: OracleFile = toml::from_str(text)?;
        let mut oracle = Oracle {
            unknown_identifiers: file.unknown_identifiers.into_iter().collect(),
            accept_all: file.accept_all,
            suggestions: file
                .suggestions
                .into_iter()
                .map(|(tactic, suggestion)| (proof_key(&tactic), suggestion))
                .collect(),
            ..Oracle::default()
        };
        for theorem in file.theorem {
            let axioms_by_proof: Vec<(String, Vec<String>)> = theorem
                .axioms
                .into_iter()
                .map(|(proof, axioms)| (proof_key(&proof), axioms))
                .collect();
            let entry = oracle
                .entries
                .entry(statement_key(&theorem.statement))
                .or_default();
            for proof in theorem.accept {
                let key = proof_key(&proof);
                let axioms = axioms_by_proof
                    .iter()
                    .find(|(proof, _)| *proof == key)
                    .map(|(_, axioms)| axioms.clone())
                    .unwrap_or_else(|| STANDARD_AXIOMS.iter().map(|a| (*a).to_owned()).collect());
                entry.accepted.push((key, axioms));
            }
            if theorem.goal.is_some() {
                entry.goal = theorem.goal;
            }
            entry
                .kernel_rejected
                .extend(theorem.kernel_reject.iter().map(|proof| proof_key(proof)));
        }
        Ok(oracle)
    }

    /// The entry whose statement matches `statement` (binders and type; a leading keyword and
    /// name are ignored).
    pub fn entry(&self, statement: &str) -> Option<&Entry> {
        self.entries.get(&statement_key(statement))
    }

    /// Whether every sorry-free proof is accepted (`accept_all = true` or `--accept-all`).
    pub fn accepts_everything(&self) -> bool {
        self.accept_all
    }

    /// Makes every sorry-free proof acceptable.
    pub fn accept_everything(&mut self) {
        self.accept_all = true;
    }

    /// The "Try this" suggestion for a tactic (`exact?`, `simp?`, …), if the oracle has one.
    pub fn suggestion(&self, tactic: &str) -> Option<&str> {
        self.suggestions.get(&proof_key(tactic)).map(String::as_str)
    }

    /// Whether the oracle declares `name` an identifier Lean does not know.
    pub fn is_unknown_identifier(&self, name: &str) -> bool {
        self.unknown_identifiers.contains(name)
    }
}

/// The significant tokens of `text` (no whitespace, no comments), as text.
pub fn significant_tokens(text: &str) -> Vec<&str> {
    crate::syntax::lex(text)
        .into_iter()
        .filter(|token| {
            !matches!(
                token.kind,
                TokenKind::Whitespace
                    | TokenKind::LineComment
                    | TokenKind::BlockComment
                    | TokenKind::DocComment
                    | TokenKind::ModuleDoc
            )
        })
        .filter_map(|token| text.get(token.span))
        .collect()
}

const DECLARATION_KEYWORDS: [&str; 7] = [
    "theorem", "lemma", "problem", "example", "def", "abbrev", "instance",
];

/// The key a statement is looked up by: its tokens, without a leading keyword and name.
pub fn statement_key(statement: &str) -> String {
    let mut tokens = significant_tokens(statement);
    if let Some(first) = tokens.first().copied()
        && DECLARATION_KEYWORDS.contains(&first)
    {
        tokens.remove(0);
        let has_name = first != "example"
            && tokens
                .first()
                .is_some_and(|name| !matches!(*name, ":" | "(" | "{" | "[" | "⦃"));
        if has_name {
            tokens.remove(0);
        }
    }
    tokens.join(" ")
}

/// The key a proof body is compared by: its tokens (a leading `by` kept), with `:= by sorry`
/// read as `:= sorry` so that have-skeletons match either spelling.
pub fn proof_key(proof: &str) -> String {
    let tokens = significant_tokens(proof);
    let mut key: Vec<&str> = Vec::with_capacity(tokens.len());
    for (index, token) in tokens.iter().enumerate() {
        let sorry_after_by =
            *token == "by" && key.last() == Some(&":=") && tokens.get(index + 1) == Some(&"sorry");
        if !sorry_after_by {
            key.push(token);
        }
    }
    key.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORACLE: &str = r#"
unknown_identifiers = ["no"]

[[theorem]]
statement = "theorem foo (x : ℕ) (h₀ : x ≠ 0) : x + 0 = x"
accept = ["simp", "omega"]
axioms = { omega = ["propext"] }
"#;

    #[test]
    fn statements_match_without_name_and_whitespace() {
        let oracle = Oracle::parse(ORACLE).expect("the test oracle is valid");
        let entry = oracle
            .entry("(x : ℕ)\n    (h₀ : x ≠ 0) :\n  x + 0 = x")
            .expect("the statement is in the oracle");
        assert_eq!(
            entry.accepts("by\n  omega"),
            Some(&["propext".to_owned()][..])
        );
        assert_eq!(
            entry.accepts("by simp -- done"),
            Some(&STANDARD_AXIOMS.map(str::to_owned)[..])
        );
        assert_eq!(entry.accepts("by linarith"), None);
        assert!(oracle.entry("(x : ℕ) : x + 0 = x").is_none());
        assert!(oracle.is_unknown_identifier("no"));
    }

    #[test]
    fn a_leading_by_is_never_dropped_from_the_value() {
        let oracle = Oracle::parse(ORACLE).expect("the test oracle is valid");
        let entry = oracle
            .entry("(x : ℕ) (h₀ : x ≠ 0) : x + 0 = x")
            .expect("the statement is in the oracle");
        assert!(entry.accepts("by omega").is_some());
        assert_eq!(proof_key("by omega"), "by omega");
        let tactic_only =
            Oracle::parse("[[theorem]]\nstatement = \": True\"\naccept = [\"by trivial\"]\n")
                .expect("valid");
        let entry = tactic_only.entry(": True").expect("listed");
        assert!(entry.accepts("by trivial").is_some());
        assert!(
            entry.accepts("trivial").is_none(),
            "a `by` entry is a tactic block only"
        );
    }

    #[test]
    fn have_skeletons_match_with_or_without_by() {
        assert_eq!(
            proof_key("by\n  have h : x = 1 := by sorry\n  linarith"),
            proof_key("by have h : x = 1 := sorry\nlinarith")
        );
    }
}
