//! `lean-sim`: a simulated Lean 4 language server for sorryfill's tests and benchmarks.
//!
//! It speaks LSP on stdio like `lean --server` / `lake serve` (see README.md for what it models
//! and where it simplifies). stdout carries only protocol frames.

mod config;
mod elab;
mod framing;
mod json;
mod oracle;

fn main() {}
