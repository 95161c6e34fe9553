//! `sorryfill prove`: the editor's engine, driven from the shell. Lean runs behind the same
//! proxy as in the editor; an in-process editor opens each file, the holes of the elaborated
//! version get Lean's goals and become pipeline jobs, candidates are checked on a confined
//! checking server of their own (as in `serve`), and every verified proof is spliced into the
//! file exactly as Lean checked it.
//!
//! Invariants: a file is changed only with `--write`, atomically, and only if it is unchanged
//! since it was read; a hole counts as proved only with a `Verified` job state, which the
//! pipeline gives only after the whole soundness gate passed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::cli::edits::{self, Replacement, SourceFile};
use crate::cli::progress::{HoleLabel, HoleState, Progress};
use crate::cli::report::{FileReport, HoleReport, HoleStatus, Report, ReportSource, RunError};
use crate::config::Config;
use crate::documents::file_uri;
use crate::engine::{Engine, EngineWarning};
use crate::holes::{self, Hole, HoleId};
use crate::isolation::{CheckingServer, IsolatedChecker};
use crate::launch::lean_process::{LeanProcess, StartError, start_lean_with, wait_elaborated};
use crate::launch::virtual_editor::VirtualEditor;
use crate::lean::{DocumentEvent, LeanDiagnostic, LeanHandle, blocked_holes, goal_at};
use crate::pipeline::{
    Attempts, Checker, Decomposer, GoalSpec, JobKey, JobRequest, JobState, Pipeline,
    PipelineVerdict, Prover,
};
use crate::router::ProxyConfig;
use crate::verify::checker::SourceDocuments;

/// What `sorryfill prove` was asked to do.
#[derive(Debug, Clone)]
pub struct ProveOptions {
    /// The `.lean` files, already discovered.
    pub files: Vec<PathBuf>,
    /// Write the proofs into the files instead of printing a diff.
    pub write: bool,
    /// Replaces `lake serve`.
    pub lean_cmd: Option<Vec<String>>,
    /// Replaces the `sorryfill.toml` found.
    pub config_file: Option<PathBuf>,
    /// The Lake project: Lean's working directory.
    pub project_root: PathBuf,
    /// Holes proved at the same time.
    pub jobs: Option<usize>,
    /// Wall time per hole.
    pub budget: Option<Duration>,
    /// Tactics only.
    pub no_model: bool,
    /// Record every frame between the proxy and Lean in this folder (`--capture`).
    pub capture_dir: Option<PathBuf>,
}

/// What a run produced: the report, and one unified diff per changed file (empty with
/// `--write`, where the files were changed instead).
#[derive(Debug, Default)]
pub struct ProveOutcome {
    /// The report (`--json` writes it).
    pub report: Report,
    /// Unified diffs to print.
    pub diffs: Vec<String>,
    /// With `--write`: each file written and how many holes it had filled.
    pub written: Vec<(PathBuf, usize)>,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Lean could not be started or did not initialise (the message says what to do).
    #[error(transparent)]
    Lean(#[from] StartError),
    /// The configuration names something the engine cannot use.
    #[error("the configuration needs fixing: {0}")]
    Engine(#[from] crate::engine::EngineError),
}

/// What the command line may change in the configuration found.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Tactics only: no prover, no decomposer.
    pub no_model: bool,
    /// Holes proved at the same time.
    pub jobs: Option<usize>,
    /// Wall time per hole.
    pub budget: Option<Duration>,
    /// First-round prover samples per hole.
    pub samples: Option<u32>,
}

/// The configuration of a run: `config_file` or the `sorryfill.toml` found for `root`, with
/// the command line's `overrides` applied.
pub fn effective_config(
    root: &Path,
    config_file: Option<&Path>,
    overrides: &Overrides,
) -> Result<Config, ProveError> {
    let loaded = match config_file {
        Some(file) => Config::load_first(&[file.to_path_buf()])?,
        None => Config::load(root)?,
    };
    let mut config = loaded.config;
    if overrides.no_model {
        config.prover = None;
        config.decomposer = None;
    }
    if let Some(jobs) = overrides.jobs {
        config.budget.concurrent_holes = jobs.max(1);
    }
    if let Some(budget) = overrides.budget {
        config.budget.wall_time_per_hole_s = budget.as_secs().max(1);
    }
    if let Some(samples) = overrides.samples {
        // The command line asks for exactly this many: neither setting may cap it.
        config.budget.samples_per_hole = samples;
        if let Some(prover) = &mut config.prover {
            prover.samples = Some(samples);
        }
    }
    Ok(config)
}

/// Runs `prove`: starts Lean behind an in-process proxy in the project, proves every hole of
/// every file, shuts Lean down, and returns the report and diffs. Lean is not started when
/// no file has a hole (nothing to do is a success, even without Lean).
pub async fn run(options: ProveOptions) -> Result<ProveOutcome, ProveError> {
    let root = std::path::absolute(&options.project_root)
        .map_err(|error| StartError(format!("no project folder: {error}")))?;
    let overrides = Overrides {
        no_model: options.no_model,
        jobs: options.jobs,
        budget: options.budget,
        samples: None,
    };
    let config = effective_config(&root, options.config_file.as_deref(), &overrides)?;
    if !options.files.iter().any(|path| may_have_holes(path)) {
        let mut outcome = ProveOutcome::default();
        outcome.report.files = options
            .files
            .iter()
            .map(|path| FileReport {
                path: path.clone(),
                holes: Vec::new(),
            })
            .collect();
        return Ok(outcome);
    }
    let progress = Progress::for_stderr(0);
    let command = options
        .lean_cmd
        .as_ref()
        .map_or_else(|| "lake serve".to_owned(), |words| words.join(" "));
    progress.phase(&format!("starting Lean (`{command}`)"));
    let proxy_config = ProxyConfig {
        capture_dir: options.capture_dir.clone(),
        ..ProxyConfig::default()
    };
    let started = start_lean_with(&root, options.lean_cmd.as_deref(), proxy_config).await;
    let mut lean = match started {
        Ok(lean) => {
            progress.phase_done("Lean started");
            lean
        }
        Err(error) => {
            progress.finish();
            return Err(error.into());
        }
    };
    let outcome = match ProveEngine::new(&lean, &config, &root).await {
        Ok(engine) => {
            for warning in engine.warnings() {
                progress.message(&warning_line(warning));
            }
            let outcome = engine
                .prove_files(&mut lean, &options.files, options.write, &progress)
                .await;
            engine.stop().await;
            Ok(outcome)
        }
        Err(error) => Err(error),
    };
    progress.finish();
    if let Some(problem) = lean.stop().await {
        progress.message(&format!("sorryfill: {problem}"));
    }
    outcome
}

/// A configuration warning as the shell commands print it, with what a shell user can do.
pub fn warning_line(warning: &EngineWarning) -> String {
    let advice = match warning {
        EngineWarning::MissingKey { .. } => "; or pass --no-model to use Lean's tactics only",
        EngineWarning::Setting(_) | EngineWarning::NoCache { .. } => "",
    };
    format!("sorryfill: warning: {warning}{advice}")
}

/// Whether `path` may have a hole: any `sorry` or `admit` token, or a file that cannot be
/// read (its error is reported by the run).
fn may_have_holes(path: &Path) -> bool {
    std::fs::read_to_string(path).map_or(true, |text| {
        !holes::HoleIndex::new(&text).holes().is_empty()
    })
}

/// The pipeline as `prove` wires it to a running Lean: the configured models and store, and
/// candidate checks on a checking Lean server of their own, confined where the machine allows
/// (as in `serve`, see `crate::isolation`): the user's Lean only ever elaborates the user's
/// own text, and model output reaches only the confined one.
pub struct ProveEngine {
    sources: SourceDocuments,
    engine: Engine<IsolatedChecker>,
    checking: Arc<CheckingServer>,
    _user_busy: watch::Sender<bool>,
}

impl ProveEngine {
    /// Builds the engine for `lean` under `config`; the cache and attempt records live in
    /// `store_root`'s database (the project's, or a scratch folder's for a benchmark). The
    /// checking server is started with `lean`'s command at the first check. The database is
    /// opened (and migrated) on the blocking pool, not on a runtime thread.
    pub async fn new(
        lean: &LeanProcess,
        config: &Config,
        store_root: &Path,
    ) -> Result<Self, ProveError> {
        // Nothing else edits documents during a run, so checks never wait for the user; the
        // sender is kept so the checker sees a live, never-busy signal.
        let (user_busy, user_busy_rx) = watch::channel(false);
        let sources = SourceDocuments::new();
        let checking = CheckingServer::new(lean.command_line.clone(), lean.root.clone());
        let checker = IsolatedChecker::new(
            Arc::clone(&checking),
            &config.verify,
            lean.lean.clone(),
            user_busy_rx,
            sources.clone(),
            // The run reports why proving is off as an error (see `prove_files`).
            |_: &str| {},
        );
        let (config, store_root) = (config.clone(), store_root.to_path_buf());
        let building =
            tokio::task::spawn_blocking(move || Engine::build(&config, &store_root, checker));
        let engine = match building.await {
            Ok(built) => built?,
            // A panic while building is a bug: it stays a panic.
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        };
        Ok(Self {
            sources,
            engine,
            checking,
            _user_busy: user_busy,
        })
    }

    /// Stops the checking server, if a check started it.
    pub async fn stop(&self) {
        self.checking.stop().await;
    }

    /// Proves every hole of `files` with `lean` (see [`ProveRun::prove_files`]), showing each
    /// hole's state on `progress`.
    pub async fn prove_files(
        &self,
        lean: &mut LeanProcess,
        files: &[PathBuf],
        write: bool,
        progress: &Progress,
    ) -> ProveOutcome {
        let mut run = ProveRun {
            editor: &lean.editor,
            lean: &lean.lean,
            documents: &mut lean.documents,
            sources: &self.sources,
            pipeline: &self.engine.pipeline,
            progress,
        };
        let mut outcome = run.prove_files(files, write).await;
        // Every hole's own line says "proving is off"; the run says why, once, as an error.
        if let Some(why) = self.engine.pipeline.checker().off_reason() {
            outcome.report.errors.push(RunError {
                path: None,
                message: why.to_owned(),
            });
        }
        for endpoint in self.engine.unreachable_endpoints() {
            progress.message(&format!(
                "sorryfill: warning: {endpoint}; the holes went on without it"
            ));
        }
        // The store writes on its own thread, which the process does not wait for: without
        // this the last attempts, and the cache the next run relies on, could be lost.
        self.engine.flush().await;
        outcome
    }

    /// Whether no model is configured (the tactic portfolio only).
    pub fn is_model_free(&self) -> bool {
        self.engine.is_model_free()
    }

    /// What the user should know about the configuration (see [`Engine::warnings`]).
    pub fn warnings(&self) -> &[EngineWarning] {
        self.engine.warnings()
    }
}

/// One `prove` run over its files: everything it needs from the running Lean and engine,
/// generic over the pipeline's parts so tests and the binary share the same code.
pub struct ProveRun<'a, C, P, D, A>
where
    C: Checker,
    P: Prover,
    D: Decomposer,
    A: Attempts,
{
    /// The in-process editor in front of the proxy.
    pub editor: &'a VirtualEditor,
    /// The proxy's own channel to Lean, for goals.
    pub lean: &'a LeanHandle,
    /// Editor-document events from the router.
    pub documents: &'a mut mpsc::UnboundedReceiver<DocumentEvent>,
    /// The checker's view of the editor documents, fed from `documents`.
    pub sources: &'a SourceDocuments,
    /// The pipeline that proves holes.
    pub pipeline: &'a Pipeline<C, P, D, A>,
    /// Where hole states are shown as they change.
    pub progress: &'a Progress,
}

/// What became of a file's proofs.
enum Applied {
    /// No proof to apply.
    Nothing,
    /// A unified diff to print.
    Diff(String),
    /// The file was written with this many holes filled.
    Written(usize),
}

/// One hole of a file on its way through the pipeline.
struct Pending {
    hole: Hole,
    goal: Option<String>,
    started: Instant,
    state: Option<watch::Receiver<JobState>>,
    skipped: Option<String>,
}

impl<C, P, D, A> ProveRun<'_, C, P, D, A>
where
    C: Checker,
    P: Prover,
    D: Decomposer,
    A: Attempts,
{
    /// Proves every hole of `files`, one file after another (the holes of a file in parallel,
    /// as the pipeline's limits allow), and returns the report and the diffs.
    pub async fn prove_files(&mut self, files: &[PathBuf], write: bool) -> ProveOutcome {
        let mut outcome = ProveOutcome::default();
        for path in files {
            let (file_report, applied) = match self.prove_file(path, write).await {
                Ok(proved) => proved,
                Err(message) => {
                    outcome.report.errors.push(RunError {
                        path: Some(path.clone()),
                        message,
                    });
                    continue;
                }
            };
            // The holes are reported even when the file could not be changed: the proofs
            // were found (and cached), only the edit was refused.
            outcome.report.files.push(file_report);
            match applied {
                Ok(Applied::Nothing) => {}
                Ok(Applied::Diff(diff)) => outcome.diffs.push(diff),
                Ok(Applied::Written(holes)) => outcome.written.push((path.clone(), holes)),
                Err(message) => outcome.report.errors.push(RunError {
                    path: Some(path.clone()),
                    message,
                }),
            }
        }
        outcome
    }

    async fn prove_file(
        &mut self,
        path: &Path,
        write: bool,
    ) -> Result<(FileReport, Result<Applied, String>), String> {
        let source = SourceFile::read(path).map_err(|error| error.to_string())?;
        let absolute = std::path::absolute(path).map_err(|error| error.to_string())?;
        let uri = file_uri(&absolute);
        let text = source.text.clone();
        // The one scan of this version: the checker reads the same snapshot.
        let snapshot = Arc::new(holes::DocumentSnapshot::new(
            VirtualEditor::OPENED_VERSION,
            &text,
        ));
        let index = snapshot.index();
        let holes = index.holes().to_vec();
        if holes.is_empty() {
            return Ok((
                FileReport {
                    path: path.to_path_buf(),
                    holes: Vec::new(),
                },
                Ok(Applied::Nothing),
            ));
        }
        let imports = holes::imported_modules(&text);
        let importing = if imports.is_empty() {
            String::new()
        } else {
            format!(", importing {}", imports.join(", "))
        };
        self.progress.phase(&format!(
            "{}: Lean is elaborating the file{importing}",
            path.display()
        ));
        self.sources.publish(&uri, Arc::clone(&snapshot));
        self.editor.open(&uri, &text);
        let elaborated = self.wait_elaborated(&uri).await;
        if elaborated.is_ok() {
            self.progress
                .phase_done(&format!("{}: elaborated", path.display()));
        }
        let blocked = match &elaborated {
            Ok(diagnostics) => blocked_holes(index, diagnostics),
            Err(_) => HashMap::new(),
        };
        let mut pending = Vec::with_capacity(holes.len());
        for hole in holes {
            let role = index.role(&hole);
            let mut entry = Pending {
                hole,
                goal: None,
                started: Instant::now(),
                state: None,
                skipped: None,
            };
            if let Some(reason) = role.reason() {
                entry.skipped = Some(reason.to_owned());
            } else if let Err(reason) = &elaborated {
                entry.skipped = Some(reason.clone());
            } else if let Some(reason) = blocked.get(&entry.hole.id) {
                entry.skipped = Some(reason.clone());
            } else {
                self.submit(&uri, index, &imports, &mut entry).await;
            }
            pending.push(entry);
        }
        self.progress.add_holes(pending.len() as u64);
        let mut reports = Vec::with_capacity(pending.len());
        let mut replacements = Vec::new();
        // (declaration command, hole, proof, report index, replacement index) of each
        // verified proof, to check the proofs of one declaration together before writing.
        let mut verified = Vec::new();
        for entry in pending {
            let hole = entry.hole.id.clone();
            let command = entry.hole.command;
            let written_before = replacements.len();
            let label = HoleLabel::new(path, entry.hole.range.start, &hole.declaration);
            let mut report = finish(entry, &text, &mut replacements, |state| {
                self.progress.update(&label, state);
            })
            .await;
            if let Some(tally) = self.pipeline.tally(&uri, &hole) {
                report.attempts = tally.checks;
                if report.proof.is_some() {
                    report.source = match report.status {
                        HoleStatus::Partial => Some(ReportSource::Decomposition),
                        _ => tally.found_by.as_ref().and_then(ReportSource::from_stage),
                    };
                }
            }
            if report.status == HoleStatus::Verified
                && replacements.len() > written_before
                && let Some(proof) = &report.proof
            {
                verified.push((command, hole, proof.clone(), reports.len(), written_before));
            }
            reports.push(report);
        }
        let refused = self.check_together(&uri, &verified, &mut reports).await;
        let replacements: Vec<Replacement> = replacements
            .into_iter()
            .enumerate()
            .filter(|(at, _)| !refused.contains(at))
            .map(|(_, replacement)| replacement)
            .collect();
        self.editor.close(&uri);
        let applied = self.apply(&source, path, replacements, write);
        Ok((
            FileReport {
                path: path.to_path_buf(),
                holes: reports,
            },
            applied,
        ))
    }

    /// Checks the verified proofs of each declaration that got more than one together, as
    /// the text that will be written; a combination Lean refuses is not written (its holes
    /// are reported failed). Returns the indexes of the replacements to drop.
    async fn check_together(
        &self,
        uri: &str,
        verified: &[(usize, HoleId, String, usize, usize)],
        reports: &mut [HoleReport],
    ) -> std::collections::HashSet<usize> {
        let mut refused = std::collections::HashSet::new();
        let commands: std::collections::BTreeSet<usize> =
            verified.iter().map(|(command, ..)| *command).collect();
        for command in commands {
            let group: Vec<_> = verified.iter().filter(|(c, ..)| *c == command).collect();
            if group.len() < 2 {
                continue;
            }
            let fills: Vec<(HoleId, String)> = group
                .iter()
                .map(|(_, hole, proof, ..)| (hole.clone(), proof.clone()))
                .collect();
            if let PipelineVerdict::Rejected(rejection) =
                self.pipeline.checker().check_together(uri, 1, &fills).await
            {
                for (_, _, _, report, replacement) in group {
                    refused.insert(*replacement);
                    if let Some(report) = reports.get_mut(*report) {
                        report.status = HoleStatus::Failed;
                        report.reason = Some(format!(
                            "verified alone, but refused together with the declaration's other proofs: {}",
                            rejection.message
                        ));
                    }
                }
            }
        }
        refused
    }

    /// Asks Lean for the goal at `entry`'s hole and submits its job.
    async fn submit(
        &self,
        uri: &str,
        index: &holes::HoleIndex,
        imports: &[String],
        entry: &mut Pending,
    ) {
        let goal = match goal_at(self.lean, uri, &entry.hole).await {
            Ok(Some(goal)) => goal,
            Ok(None) => {
                entry.skipped = Some("Lean reported no goal at this hole".to_owned());
                return;
            }
            Err(error) => {
                entry.skipped = Some(error.to_string());
                return;
            }
        };
        let context = index.context(&entry.hole);
        let spec = GoalSpec::for_hole(&holes::parse_goal(&goal), context.as_ref(), &entry.hole.id);
        entry.goal = Some(goal);
        let request = JobRequest {
            key: JobKey {
                doc: uri.to_owned(),
                hole: entry.hole.id.clone(),
                version: 1,
            },
            goal: spec,
            imports: imports.to_vec(),
        };
        entry.started = Instant::now();
        entry.state = Some(self.pipeline.submit(request));
    }

    /// Waits until Lean has elaborated the opened version of `uri`.
    /// Waits until Lean has elaborated `uri`; its final diagnostics.
    async fn wait_elaborated(&mut self, uri: &str) -> Result<Vec<LeanDiagnostic>, String> {
        let sources = self.sources;
        wait_elaborated(
            self.lean,
            self.documents,
            uri,
            VirtualEditor::OPENED_VERSION,
            |event| {
                sources.apply(event);
            },
        )
        .await
    }

    fn apply(
        &self,
        source: &SourceFile,
        path: &Path,
        replacements: Vec<Replacement>,
        write: bool,
    ) -> Result<Applied, String> {
        if replacements.is_empty() {
            return Ok(Applied::Nothing);
        }
        let new_text = edits::apply_replacements(&source.text, &replacements)
            .map_err(|error| error.to_string())?;
        if write {
            edits::write_atomically(path, &source.fingerprint, &new_text)
                .map_err(|error| error.to_string())?;
            Ok(Applied::Written(replacements.len()))
        } else {
            Ok(Applied::Diff(edits::unified_diff(
                path,
                &source.text,
                &new_text,
            )))
        }
    }
}

/// Waits for a hole's job to end and turns it into its report line, collecting the edit a
/// verified (or partial) proof makes.
async fn finish(
    entry: Pending,
    text: &str,
    replacements: &mut Vec<Replacement>,
    show: impl Fn(HoleState),
) -> HoleReport {
    let mut report = HoleReport {
        range: entry.hole.range,
        kind: entry.hole.kind.into(),
        declaration: entry.hole.id.declaration.clone(),
        goal: entry.goal.clone(),
        status: HoleStatus::Skipped,
        source: None,
        proof: None,
        reason: entry.skipped.clone(),
        attempts: 0,
        elapsed_ms: 0,
    };
    let Some(mut state) = entry.state else {
        show(HoleState::Skipped);
        return report;
    };
    let final_state = loop {
        let current = state.borrow_and_update().clone();
        show(progress_state(&current));
        if current.is_final() {
            break current;
        }
        if state.changed().await.is_err() {
            break state.borrow().clone();
        }
    };
    report.elapsed_ms = u64::try_from(entry.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (status, proof) = match final_state {
        JobState::Verified { proof, .. } => (HoleStatus::Verified, Some(proof)),
        JobState::Partial {
            proof,
            proved,
            total,
            ..
        } => {
            report.reason = Some(format!("{proved} of {total} steps proved"));
            (HoleStatus::Partial, Some(proof))
        }
        JobState::Failed { reason } => {
            report.reason = Some(reason);
            (HoleStatus::Failed, None)
        }
        JobState::Cancelled => {
            report.reason = Some("cancelled".to_owned());
            (HoleStatus::Skipped, None)
        }
        other => {
            report.reason = Some(format!("stopped while {other:?}"));
            (HoleStatus::Failed, None)
        }
    };
    report.status = status;
    if let Some(proof) = proof {
        match crate::verify::splice(text, entry.hole.span.clone(), entry.hole.position, &proof) {
            Ok(spliced) => {
                replacements.push(Replacement {
                    range: spliced.replaced.clone(),
                    text: spliced.inserted().to_owned(),
                });
                report.proof = Some(proof);
            }
            Err(rejection) => {
                report.status = HoleStatus::Failed;
                report.reason = Some(rejection.to_string());
            }
        }
    }
    report
}

/// How a job's state reads on the progress line.
fn progress_state(state: &JobState) -> HoleState {
    match state {
        JobState::Queued => HoleState::Queued,
        JobState::Tactics => HoleState::Proving("tactics".to_owned()),
        JobState::Prover { received, samples } => {
            HoleState::Proving(format!("prover {received}/{samples}"))
        }
        JobState::Decomposing => HoleState::Proving("decomposing".to_owned()),
        JobState::Subgoals { proved, total } => {
            HoleState::Proving(format!("subgoals {proved}/{total}"))
        }
        JobState::Reverifying => HoleState::Proving("re-checking".to_owned()),
        JobState::Verified { .. } => HoleState::Verified,
        JobState::Partial { .. } => HoleState::Partial,
        JobState::Failed { .. } => HoleState::Failed,
        JobState::Cancelled => HoleState::Skipped,
    }
}
