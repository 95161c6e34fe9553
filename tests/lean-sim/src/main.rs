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
    if config.version {
        // `--version` is the one answer not in a protocol frame, as with the real tools.
        use std::io::Write;
        writeln!(std::io::stdout(), "{}", version_line(&config.lean_version))?;
        return Ok(());
    }
    // Two worker threads are plenty: the simulator mostly sleeps, and tests start it often.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let code = runtime.block_on(server::run(config))?;
    runtime.shutdown_background();
    std::process::exit(code);
}

/// What `--version` prints: Lake's or Lean's own line when started as `lake` or `lean`.
fn version_line(lean_version: &str) -> String {
    let started_as = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    match started_as.as_str() {
        "lake" => format!("Lake version 5.0.0-src (Lean version {lean_version})"),
        "lean" => format!("Lean (version {lean_version}, x86_64-unknown-linux-gnu, Release)"),
        _ => format!("lean-sim {}", env!("CARGO_PKG_VERSION")),
    }
}
