//! sorryfill: an LSP proxy in front of Lean 4 that finds `sorry` holes, proves them, and
//! offers only proofs that Lean itself accepted. See `docs/architecture.md` for the map.

pub mod cli;
pub mod config;
pub mod documents;
pub mod editor;
pub mod engine;
pub mod holes;
pub mod lean;
pub mod models;
pub mod pipeline;
pub mod router;
pub mod store;
pub mod transport;
pub mod verify;
