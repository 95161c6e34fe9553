//! Bench: what the checker does to one candidate before Lean sees it (find the hole in the
//! document's current version, splice the proof in, build the shadow text), with the document
//! read again for every candidate (copy the text out of the rope, index it, lex it and scan its
//! holes: the cost structure before snapshots) and with the version's shared snapshot (indexed
//! once, lexed once at its first candidate). Prints both medians and their ratio; the machine
//! is noisy, so only the ratio measured in the same run means anything.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::sync::Arc;
mod common;

use common::median;

use ropey::Rope;
use sorryfill::holes::{DocumentSnapshot, HoleId, HoleIndex};
use sorryfill::lean::DocumentEvent;
use sorryfill::verify::{SourceDocuments, SourceText, fresh_nonce, shadow_text, splice_in};

const URI: &str = "file:///bench/Bench.lean";
const DECLARATIONS: usize = 1000;
const PROOF: &str = "have h2 : b ≤ b + 1 := Nat.le_succ b\nexact Nat.le_trans h h2";

/// A Mathlib-style file: many proved declarations, then the target with its hole.
fn document() -> String {
    let mut text = String::from("import Mathlib\n\nopen Nat\n\nnamespace Bench\n\n");
    for k in 0..DECLARATIONS {
        text.push_str(&format!(
            "/-- Helper {k}. -/\ntheorem helper{k} (a : ℕ) : a ≤ a + {k} + 1 := by\n  -- by arithmetic\n  omega\n\n"
        ));
    }
    text.push_str("theorem target (a b : ℕ) (h : a ≤ b) : a ≤ b + 1 := by\n  sorry\n\nend Bench\n");
    text
}

/// Finds `hole` in `index` and builds the shadow text of `PROOF` there, as the checker does;
/// `source` is the same text, read for the splicer.
fn prepare(index: &HoleIndex, source: &SourceText<'_>, hole: &HoleId) -> usize {
    let found = index
        .holes()
        .iter()
        .find(|candidate| &candidate.id == hole)
        .expect("the target hole");
    assert!(index.role(found).reason().is_none(), "a proof hole");
    let declaration = found
        .declaration
        .and_then(|at| index.command(at))
        .map(|command| command.span.clone())
        .expect("a declaration");
    let spliced = splice_in(source, found.span.clone(), found.position, PROOF).expect("splices");
    let shadow =
        shadow_text(index.text(), declaration, &spliced, &fresh_nonce()).expect("a shadow");
    shadow.text.len()
}

fn main() {
    let text = document();
    let rope = Rope::from_str(&text);
    let sources = SourceDocuments::new();
    sources.apply(&DocumentEvent::Opened {
        uri: URI.into(),
        version: 1,
        text: rope.clone(),
    });
    let hole = HoleId {
        declaration: "Bench.target".into(),
        ordinal: 0,
    };

    // Before: every candidate copied the current text out of the rope and read it anew.
    let before = median(31, || {
        let text = black_box(&rope).to_string();
        let index = HoleIndex::new(&text);
        black_box(prepare(&index, &SourceText::read(&text), &hole));
    });
    // After: every candidate reads the snapshot built once for the version.
    let after = median(31, || {
        let snapshot: Arc<DocumentSnapshot> = sources.snapshot_at(black_box(URI), 1).expect("open");
        let source =
            SourceText::from_parts(snapshot.text(), snapshot.tokens(), snapshot.index().holes());
        black_box(prepare(snapshot.index(), &source, &hole));
    });

    println!(
        "checker bench: {} lines, {} bytes; preparing one candidate (hole lookup, splice, shadow text)",
        text.lines().count(),
        text.len()
    );
    println!("  re-scan per candidate (before): {before:?}");
    println!("  shared snapshot (after):        {after:?}");
    println!(
        "  ratio before/after: {:.2}x",
        before.as_secs_f64() / after.as_secs_f64().max(1e-9)
    );
}
