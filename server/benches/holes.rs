//! Bench: scanning a generated 10 000-line Lean file from scratch versus re-scanning it with
//! `HoleIndex::update` after a one-line edit. Prints times and their ratio (the machine is
//! noisy, so only the ratio measured in the same run is meaningful).
#![allow(clippy::print_stdout)]

use sorryfill::holes::{HoleIndex, scan};
use std::hint::black_box;
mod common;

use common::median;

/// A Mathlib-style file of about `lines` lines with a hole in every declaration.
fn generated_file(lines: usize) -> String {
    let mut text = String::from("import Mathlib\n\nopen Nat Real\n\nnamespace Bench\n\n");
    let mut n = 0;
    while text.lines().count() < lines {
        text.push_str(&format!(
            "/-- Lemma {n}: a doc comment mentioning sorry. -/\ntheorem lemma_{n} (x y : ℕ) (h₀ : x ≠ 0) : x + y = y + x := by\n  -- a comment with sorry\n  have h : x ≤ x + y := by\n    omega\n  · sorry\n\ndef value_{n} : ℕ := s!\"{{1}} sorry\".length + sorry\n\n"
        ));
        n += 1;
    }
    text.push_str("end Bench\n");
    text
}

fn main() {
    let text = generated_file(10_000);
    let line_count = text.lines().count();
    // A one-line edit in the middle of the file, and its undo, alternate so every update is real.
    let middle = text.len() / 2;
    let line_start = text[..middle].rfind('\n').map_or(0, |i| i + 1);
    let mut edited = text.clone();
    edited.insert_str(line_start, "  -- edited line\n");

    let full = median(21, || {
        black_box(scan(black_box(&text)));
    });
    let mut index = HoleIndex::new(&text);
    let mut flip = false;
    let incremental = median(21, || {
        flip = !flip;
        index.update(black_box(if flip { &edited } else { &text }));
        black_box(index.holes().len());
    });
    let stats = index.stats();
    let holes = index.holes().len();

    println!(
        "holes bench: {line_count} lines, {} bytes, {holes} holes",
        text.len()
    );
    println!(
        "  full scan            {:>10.3} ms",
        full.as_secs_f64() * 1e3
    );
    println!(
        "  HoleIndex re-scan    {:>10.3} ms  (re-lexed {} bytes, reused {} commands)",
        incremental.as_secs_f64() * 1e3,
        stats.relexed_bytes,
        stats.reused_commands
    );
    println!(
        "  ratio full / re-scan {:>10.1}x",
        full.as_secs_f64() / incremental.as_secs_f64().max(1e-9)
    );
}
