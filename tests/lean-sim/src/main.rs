//! `lean-sim`: a simulated Lean 4 language server for sorryfill's tests and benchmarks.
//!
//! It speaks LSP on stdio like `lean --server` / `lake serve` (see README.md for what it models
//! and where it simplifies). stdout carries only protocol frames.

mod config;
mod elab;
mod escape;
mod framing;
mod json;
mod oracle;
mod requests;
mod server;
mod shared;
mod syntax;
mod worker;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let config = config::Config::parse();
    // Two worker threads are plenty: the simulator mostly sleeps, and tests start it often.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let code = runtime.block_on(server::run(config))?;
    runtime.shutdown_background();
    std::process::exit(code);
}
