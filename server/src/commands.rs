//! The shell subcommands (`prove`, `audit`, `bench`, `doctor`, `dataset`): argument parsing and output.
//! The work itself lives in the library (`sorryfill::cli`, `sorryfill::store`); this is the
//! `anyhow` edge. Exit codes: 0 all proved or nothing to do, 1 holes or findings left, 2 error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use sorryfill::cli::{audit_lean, bench, doctor, files, prove as prove_run, report};
use sorryfill::store;

/// How `--lean-cmd`'s argument is shown in every command's help.
const LEAN_CMD_VALUE: &str = "COMMAND";

/// Arguments of `sorryfill prove`.
#[derive(Args)]
pub struct ProveArgs {
    /// Files or folders (every `.lean` file below, honouring `.gitignore`); default `.`.
    paths: Vec<PathBuf>,
    /// Apply the proofs to the files in place (only to files unchanged since they were read).
    #[arg(long, conflicts_with = "check")]
    write: bool,
    /// Prove nothing: list the holes and exit 1 if there is any (for CI).
    #[arg(long)]
    check: bool,
    /// The Lean server command, split as a shell would (default `lake serve`).
    #[arg(long, value_name = LEAN_CMD_VALUE)]
    lean_cmd: Option<String>,
    /// Use this configuration file instead of the `sorryfill.toml` found.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Holes proved at the same time [default: `[budget] concurrent_holes`, which is 2].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,
    /// Wall time per hole, in seconds [default: `[budget] wall_time_per_hole_s`, which is 300].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    budget: Option<u64>,
    /// Use Lean's tactics only, even when models are configured.
    #[arg(long)]
    no_model: bool,
    /// Also write the JSON report (schema in docs/cli-report.md) to this file.
    #[arg(long, value_name = "REPORT")]
    json: Option<PathBuf>,
}

/// Arguments of `sorryfill audit`.
#[derive(Args)]
pub struct AuditArgs {
    /// Files or folders; default `.`.
    paths: Vec<PathBuf>,
    /// Print the JSON report (schema in docs/cli-report.md) instead of text.
    #[arg(long)]
    json: bool,
    /// Read the sources only: never start Lean (no `#print axioms`).
    #[arg(long = "static", conflicts_with = "lean_cmd")]
    static_only: bool,
    /// The Lean server command, split as a shell would (default `lake serve`).
    #[arg(long, value_name = LEAN_CMD_VALUE)]
    lean_cmd: Option<String>,
    /// Use this configuration file (its `[verify] allowed_axioms`) instead of the one found.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Arguments of `sorryfill bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// miniF2F-style statements from a JSONL file (`name`, `formal_statement`, optional
    /// `header` and `split`), each proved in a scratch file with the engine of `prove`.
    Minif2f(Minif2fArgs),
}

/// Arguments of `sorryfill bench minif2f`.
#[derive(Args)]
struct Minif2fArgs {
    /// The JSONL data set (the Goedel-Prover-V2 miniF2F layout).
    #[arg(long, value_name = "FILE.jsonl")]
    data: PathBuf,
    /// First-round prover samples per problem (default `[prover] samples`, at most `[budget] samples_per_hole`).
    #[arg(long, value_name = "K")]
    samples: Option<u32>,
    /// At most N problems, in file order.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Only rows whose `split` field is this.
    #[arg(long)]
    split: Option<String>,
    /// Also write the JSON report (schema in docs/cli-report.md) to this file.
    #[arg(long, value_name = "OUT")]
    json: Option<PathBuf>,
    /// The Lean server command, split as a shell would (default `lake serve`).
    #[arg(long, value_name = LEAN_CMD_VALUE)]
    lean_cmd: Option<String>,
    /// Use this configuration file instead of the `sorryfill.toml` found.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Wall time per problem, in seconds [default: `[budget] wall_time_per_hole_s`, which is 300].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    budget: Option<u64>,
    /// Use Lean's tactics only, even when models are configured.
    #[arg(long)]
    no_model: bool,
}

/// Arguments of `sorryfill doctor`.
#[derive(Args)]
pub struct DoctorArgs {
    /// The project to look at; default the current folder.
    #[arg(long)]
    project: Option<PathBuf>,
    /// Use this configuration file instead of the `sorryfill.toml` found.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The Lean server command that would replace `lake serve`, split as a shell would.
    #[arg(long, value_name = LEAN_CMD_VALUE)]
    lean_cmd: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `sorryfill dataset`.
#[derive(Args)]
pub struct DatasetArgs {
    #[command(subcommand)]
    command: DatasetCommand,
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// Write the recorded proofs and attempts as JSONL.
    Export {
        /// `sft`: verified prompt/completion pairs; `rl`: every attempt with its Lean reward.
        #[arg(long, value_enum)]
        format: DatasetFormat,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The project whose `.lake/sorryfill/sorryfill.db` to read; default the current folder.
        #[arg(long)]
        project: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DatasetFormat {
    Sft,
    Rl,
}

/// Prints an error as one line on stderr and maps the outcome to the documented exit code.
/// A reader that closed the pipe (`… | head`) got what it wanted: that ends quietly with 0.
pub fn report_errors(outcome: anyhow::Result<report::ExitStatus>) -> ExitCode {
    match outcome {
        Ok(status) => status.into(),
        Err(error) if is_closed_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sorryfill: {error:#}");
            report::ExitStatus::Error.into()
        }
    }
}

fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub fn prove(args: ProveArgs) -> anyhow::Result<report::ExitStatus> {
    let paths = default_paths(args.paths);
    let found = files::discover(&paths).context("could not list the files to prove")?;
    if args.check {
        let mut report = report::Report::new();
        for path in found {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("could not read {}", path.display()))?;
            report.files.push(report::FileReport::unattempted(
                path,
                &text,
                "--check proves nothing",
            ));
        }
        write_report_json(&report, args.json.as_deref())?;
        eprint!("{}", report.render_check_text());
        return Ok(report::ExitStatus::for_report(&report));
    }
    let lean_cmd = args.lean_cmd.as_deref().map(split_command).transpose()?;
    let options = prove_run::ProveOptions {
        files: found,
        write: args.write,
        lean_cmd,
        config_file: args.config,
        project_root: std::env::current_dir().context("no current folder")?,
        jobs: args.jobs.and_then(|jobs| usize::try_from(jobs).ok()),
        budget: args.budget.map(std::time::Duration::from_secs),
        no_model: args.no_model,
    };
    let runtime = runtime()?;
    // Ctrl-C drops the run: model requests are cancelled with their futures, and shutting the
    // runtime down drops the proxy task, whose Lean child is killed with it. Files are only
    // ever replaced atomically, so none is left half-written.
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = prove_run::run(options) => Some(outcome),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    let Some(outcome) = outcome else {
        eprintln!("sorryfill: interrupted; the file being proved was left as it was");
        return Ok(report::ExitStatus::Error);
    };
    let outcome = outcome?;
    for diff in &outcome.diffs {
        write_stdout(diff)?;
    }
    for (path, holes) in &outcome.written {
        let plural = if *holes == 1 { "" } else { "s" };
        eprintln!(
            "sorryfill: wrote {}: {holes} hole{plural} filled",
            path.display()
        );
    }
    if args.write && outcome.written.is_empty() && outcome.report.errors.is_empty() {
        eprintln!("sorryfill: no file written: no proof was found");
    }
    finish_report(&outcome.report, args.json.as_deref())
}

pub fn audit(args: AuditArgs) -> anyhow::Result<report::ExitStatus> {
    let paths = default_paths(args.paths);
    let found = files::discover(&paths).context("could not list the files to audit")?;
    let options = audit_lean::AuditOptions {
        files: found,
        lean_cmd: args.lean_cmd.as_deref().map(split_command).transpose()?,
        config_file: args.config,
        project_root: std::env::current_dir().context("no current folder")?,
        static_only: args.static_only,
    };
    let outcome = if args.static_only {
        // The static half needs no async runtime and no Lean.
        futures::executor::block_on(audit_lean::run(options))?
    } else {
        let runtime = runtime()?;
        let outcome = runtime.block_on(async {
            tokio::select! {
                outcome = audit_lean::run(options) => Some(outcome),
                _ = tokio::signal::ctrl_c() => None,
            }
        });
        runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        let Some(outcome) = outcome else {
            eprintln!("sorryfill: interrupted");
            return Ok(report::ExitStatus::Error);
        };
        outcome?
    };
    if let Some(reason) = &outcome.lean_unavailable {
        eprintln!("sorryfill: {reason}; audited the sources only (static findings)");
    }
    for (path, reason) in &outcome.incomplete {
        eprintln!(
            "sorryfill: {}: {reason}; only its static findings are reported",
            path.display()
        );
    }
    let rendered = if args.json {
        outcome.report.to_json()
    } else {
        outcome.report.render_text()
    };
    write_stdout(&rendered)?;
    let status = outcome.report.exit_status();
    // An audit that could not ask Lean about a file is not a clean bill of health.
    if status == report::ExitStatus::Success && !outcome.incomplete.is_empty() {
        return Ok(report::ExitStatus::Error);
    }
    Ok(status)
}

pub fn bench(args: BenchArgs) -> anyhow::Result<report::ExitStatus> {
    let BenchCommand::Minif2f(args) = args.command;
    let options = bench::BenchOptions {
        data: args.data,
        split: args.split,
        limit: args.limit,
        samples: args.samples,
        budget: args.budget.map(std::time::Duration::from_secs),
        no_model: args.no_model,
        lean_cmd: args.lean_cmd.as_deref().map(split_command).transpose()?,
        config_file: args.config,
        project_root: std::env::current_dir().context("no current folder")?,
    };
    let runtime = runtime()?;
    let outcome = runtime.block_on(async {
        let progress = |done: usize, total: usize, result: &bench::ProblemResult| {
            eprintln!(
                "sorryfill: [{done}/{total}] {}: {}",
                result.name, result.status
            );
        };
        tokio::select! {
            outcome = bench::run(options, progress) => Some(outcome),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    let Some(outcome) = outcome else {
        eprintln!("sorryfill: interrupted; no report written");
        return Ok(report::ExitStatus::Error);
    };
    let bench_report = outcome?;
    if let Some(path) = &args.json {
        std::fs::write(path, bench_report.to_json())
            .with_context(|| format!("could not write the report to {}", path.display()))?;
    }
    write_stdout(&bench_report.render_text())?;
    Ok(report::ExitStatus::Success)
}

pub fn doctor(args: DoctorArgs) -> anyhow::Result<report::ExitStatus> {
    let project = match args.project {
        Some(project) => project,
        None => std::env::current_dir().context("no current folder")?,
    };
    let lean_cmd = args.lean_cmd.as_deref().map(split_command).transpose()?;
    let options = doctor::DoctorOptions::from_process(&project, args.config, lean_cmd);
    let doctor_report = runtime()?.block_on(doctor::run(&options));
    let rendered = if args.json {
        doctor_report.to_json()
    } else {
        doctor_report.render_text()
    };
    write_stdout(&rendered)?;
    Ok(doctor_report.exit_status())
}

pub fn dataset(args: DatasetArgs) -> anyhow::Result<report::ExitStatus> {
    match args.command {
        DatasetCommand::Export {
            format,
            out,
            project,
        } => {
            let project = match project {
                Some(project) => project,
                None => std::env::current_dir().context("no current folder")?,
            };
            let kind = match format {
                DatasetFormat::Sft => store::ExportKind::Sft,
                DatasetFormat::Rl => store::ExportKind::Rl,
            };
            let db = store::database_path(&project);
            let written = store::export_to_path(&db, kind, out.as_deref())?;
            eprintln!("sorryfill: wrote {written} records");
            Ok(report::ExitStatus::Success)
        }
    }
}

fn finish_report(
    full_report: &report::Report,
    json: Option<&Path>,
) -> anyhow::Result<report::ExitStatus> {
    write_report_json(full_report, json)?;
    eprint!("{}", full_report.render_text());
    Ok(report::ExitStatus::for_report(full_report))
}

fn write_report_json(full_report: &report::Report, json: Option<&Path>) -> anyhow::Result<()> {
    if let Some(path) = json {
        std::fs::write(path, full_report.to_json())
            .with_context(|| format!("could not write the report to {}", path.display()))?;
    }
    Ok(())
}

fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    }
}

fn split_command(command: &str) -> anyhow::Result<Vec<String>> {
    match shlex::split(command) {
        Some(words) if !words.is_empty() => Ok(words),
        _ => anyhow::bail!("--lean-cmd `{command}` is not a command line"),
    }
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")
}
