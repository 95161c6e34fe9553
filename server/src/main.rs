//! The `sorryfill` command line: a thin edge over the library. `serve` runs the LSP proxy
//! on stdin/stdout in front of Lean's server. Invariant: nothing but the protocol is ever
//! written to stdout, and the proxy itself writes nothing to stderr (vscode-lean4 shows
//! every stderr line as an error); its log goes to a file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sorryfill::editor::{RunServeError, ServeOptions, run_serve};
use sorryfill::router::{ProxyConfig, ServeError, exit_code};
use sorryfill::transport::DEFAULT_MAX_FRAME_BYTES;

mod commands;

#[derive(Parser)]
#[command(
    name = "sorryfill",
    version,
    about = "Proves Lean `sorry`s behind your editor's back, offering only what Lean accepted."
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the LSP proxy on stdin/stdout in front of Lean's server.
    Serve(ServeArgs),
    /// Prove the holes of Lean files from the shell (a diff by default; `--write`, `--check`).
    Prove(commands::ProveArgs),
    /// Report declarations that rely on `sorry`, `native_decide` or non-standard axioms.
    Audit(commands::AuditArgs),
    /// Measure sorryfill on a benchmark (`bench minif2f --data FILE.jsonl`).
    Bench(commands::BenchArgs),
    /// Check what is installed and reachable: Lean, Lake, the configuration, the models.
    Doctor(commands::DoctorArgs),
    /// Work with the data set of verified proofs and attempts.
    Dataset(commands::DatasetArgs),
    /// Internal: run a command under the checking server's confinement (`isolation`).
    #[command(name = "confined-exec", hide = true)]
    ConfinedExec(sorryfill::isolation::ConfinedExecArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Where the proxy writes its log (default: <cache dir>/sorryfill/serve.log).
    #[arg(long, env = "SORRYFILL_LOG_FILE")]
    log_file: Option<PathBuf>,
    /// Log filter, e.g. `info` or `sorryfill=debug`.
    #[arg(long, env = "SORRYFILL_LOG", default_value = "info")]
    log_level: String,
    /// Largest message body accepted from either side, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_FRAME_BYTES)]
    max_frame_bytes: usize,
    /// Record every frame, both ways, in a new file in this folder (format and privacy:
    /// docs/capture.md).
    #[arg(long, value_name = "DIR", env = "SORRYFILL_CAPTURE")]
    capture: Option<PathBuf>,
    /// The Lean server command (default: `lake serve`).
    #[arg(last = true)]
    server_command: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Commands::Serve(args) => match serve(args) {
            // The process exits with Lean's status so the editor's restart logic takes over.
            Ok(code) => std::process::exit(code),
            Err(error) => {
                // Startup failures are the one thing worth a stderr line: the editor shows it.
                eprintln!("sorryfill: {error:#}");
                ExitCode::FAILURE
            }
        },
        Commands::Prove(args) => commands::report_errors(commands::prove(args)),
        Commands::Audit(args) => commands::report_errors(commands::audit(args)),
        Commands::Bench(args) => commands::report_errors(commands::bench(args)),
        Commands::Doctor(args) => commands::report_errors(commands::doctor(args)),
        Commands::Dataset(args) => commands::report_errors(commands::dataset(args)),
        Commands::ConfinedExec(args) => {
            // Reached only when the command could not be run: nothing ran unconfined.
            let error = sorryfill::isolation::exec_confined(args);
            eprintln!("sorryfill: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    let log_file = args.log_file.or_else(default_log_file);
    let _log_guard = init_logging(log_file.clone(), &args.log_level);
    let mut command_line = args.server_command;
    if command_line.is_empty() {
        command_line = vec!["lake".into(), "serve".into()];
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let options = ServeOptions {
        server_command: command_line,
        project_root: std::env::current_dir().context("could not read the current folder")?,
        proxy: ProxyConfig {
            max_frame_bytes: args.max_frame_bytes,
            capture_dir: args.capture,
            ..ProxyConfig::default()
        },
        log_file,
    };
    let status = runtime.block_on(run_serve(options));
    // A read from stdin may still block a runtime thread; do not wait for it.
    runtime.shutdown_background();
    // The log has it too (while its writer is alive), for whoever reads the log.
    let status = status
        .map_err(with_fix)
        .inspect_err(|error| tracing::error!("{error:#}"))?;
    tracing::info!(%status, "proxy exiting");
    Ok(exit_code(status))
}

/// `<cache dir>/sorryfill/serve.log`.
fn default_log_file() -> Option<PathBuf> {
    dirs::cache_dir().map(|dir| dir.join("sorryfill").join("serve.log"))
}

/// A Lean server that could not be started, with `doctor`'s fix when the program is missing.
fn with_fix(error: RunServeError) -> anyhow::Error {
    if let RunServeError::Proxy(ServeError::Spawn { program, source }) = &error
        && source.kind() == std::io::ErrorKind::NotFound
    {
        let fix = sorryfill::launch::missing_program_fix(program, program != "lake");
        return anyhow::anyhow!("{:#}. To fix: {fix}", anyhow::Error::new(error));
    }
    anyhow::Error::new(error)
}

/// Logs to a file only; without a usable file the proxy stays silent. Messages are whole
/// sentences, so the module path is left out of each line.
fn init_logging(
    log_file: Option<PathBuf>,
    filter: &str,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let path = log_file?;
    let dir = path.parent()?;
    std::fs::create_dir_all(dir).ok()?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}
