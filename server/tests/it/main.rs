//! The one integration-test binary of sorryfill: each module drives the real `sorryfill`
//! binary (and `lean-sim`, and mock model servers) over real pipes and sockets.

mod support;

mod adversarial;
mod barrier;
mod bench_cli;
mod cli;
mod editor;
mod editor_protocol;
#[cfg(unix)]
mod editors;
mod engine;
#[cfg(unix)]
mod faults;
mod first_run;
mod holes;
mod isolation;
mod layers;
mod models;
#[cfg(unix)]
mod nvim;
mod pipeline_e2e;
mod prove;
mod proxy;
mod real_lean;
mod verify;
mod verify_lean;
#[cfg(unix)]
mod vscode;
