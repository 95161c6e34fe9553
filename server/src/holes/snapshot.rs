//! [`DocumentSnapshot`]: one version of one document, its text and its hole index, built once
//! per version and shared read-only (`Arc`) by everything that reads that version: the
//! checker, the code actions, the editor's commands and `prove`.
//!
//! Invariant: a snapshot never changes after it is built; a new version is a new snapshot, so
//! a reader holding one can never see the text of another version under its version number.

use std::sync::OnceLock;

use lean_syntax::{Token, lex};

use super::{Hole, HoleId, HoleIndex};

/// One version of one document: its number, its text and its holes.
#[derive(Debug, Clone)]
pub struct DocumentSnapshot {
    version: i32,
    index: HoleIndex,
    /// Every token of the text, lexed when a candidate is first spliced into this version.
    tokens: OnceLock<Vec<Token>>,
}

impl DocumentSnapshot {
    /// Scans `text` as version `version` from scratch.
    pub fn new(version: i32, text: &str) -> Self {
        Self {
            version,
            index: HoleIndex::new(text),
            tokens: OnceLock::new(),
        }
    }

    /// The snapshot of version `version` with `text`, re-lexing only the commands that differ
    /// from this one.
    pub fn next(&self, version: i32, text: &str) -> Self {
        let mut index = self.index.clone();
        index.update(text);
        Self {
            version,
            index,
            tokens: OnceLock::new(),
        }
    }

    /// The document version.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// The text of this version.
    pub fn text(&self) -> &str {
        self.index.text()
    }

    /// The holes and commands of this version.
    pub fn index(&self) -> &HoleIndex {
        &self.index
    }

    /// Every token of the text (`lean_syntax::lex`), lexed once per version on first use: the
    /// splicer reads them for every candidate.
    pub fn tokens(&self) -> &[Token] {
        self.tokens.get_or_init(|| lex(self.text()))
    }

    /// The hole `id` of this version, if it has one.
    pub fn hole(&self, id: &HoleId) -> Option<&Hole> {
        self.index.holes().iter().find(|hole| &hole.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_version_equals_a_fresh_scan_and_the_old_one_is_unchanged() {
        let v1 = "theorem a : True := by\n  sorry\n\ntheorem b : True := sorry\n";
        let v2 = v1.replace(
            "theorem a : True := by\n  sorry\n",
            "theorem a : True := trivial\n",
        );
        let first = DocumentSnapshot::new(1, v1);
        let second = first.next(2, &v2);
        assert_eq!(first.text(), v1);
        assert_eq!(first.index().holes().len(), 2);
        assert_eq!(second.version(), 2);
        assert_eq!(second.index().holes(), HoleIndex::new(&v2).holes());
        assert_eq!(second.tokens(), lex(&v2).as_slice());
        assert_eq!(first.tokens(), lex(v1).as_slice());
        let b = HoleId {
            declaration: "b".into(),
            ordinal: 0,
        };
        assert!(second.hole(&b).is_some());
        assert!(
            second
                .hole(&HoleId {
                    declaration: "a".into(),
                    ordinal: 0
                })
                .is_none()
        );
    }
}
