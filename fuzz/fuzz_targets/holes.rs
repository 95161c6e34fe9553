//! The hole scanner never panics, finds holes only on `sorry`/`admit` text, and the
//! incremental index agrees with a full scan after any edit; reading a hole's role and context
//! (run on every version in the editor) never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sorryfill::holes::{HoleIndex, scan};

fuzz_target!(|data: (&str, &str)| {
    let (before, after) = data;
    let holes = scan(before);
    for hole in &holes {
        let text = before.get(hole.span.clone()).unwrap_or_default();
        assert!(text == "sorry" || text == "admit", "a hole on {text:?}");
    }
    let mut index = HoleIndex::new(before);
    index.update(after);
    let fresh = HoleIndex::new(after);
    let spans = |index: &HoleIndex| {
        index
            .holes()
            .iter()
            .map(|h| h.span.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        spans(&index),
        spans(&fresh),
        "incremental and full scans differ"
    );
    for hole in fresh.holes() {
        let _ = fresh.role(hole);
        let _ = fresh.context(hole);
    }
});
