//! `sorryfill prove`: the editor's engine, driven from the shell. Lean runs behind the same
//! proxy as in the editor; an in-process editor opens each file, the holes of the elaborated
//! version get Lean's goals and become pipeline jobs, and every verified proof is spliced into
//! the file exactly as Lean checked it.
//!
//! Invariants: a file is changed only with `--write`, atomically, and only if it is unchanged
//! since it was read; a hole counts as proved only with a `Verified` job state, which the
//! pipeline gives only after the whole soundness gate passed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::cli::edits::{self, Replacement, SourceFile};
use crate::cli::progress::{HoleLabel, HoleState, Progress};
use crate::cli::report::{FileReport, HoleReport, HoleStatus, Report, ReportSource, RunError};
use crate::cli::virtual_editor::VirtualEditor;
use crate::engine::Engine;
use crate::holes::{self, Hole, HolePosition};
use crate::lean::{DocumentEvent, LeanHandle, goal_at};
use crate::pipeline::{
    Attempts, Checker, Decomposer, GoalSpec, JobKey, JobRequest, JobState, Pipeline, Prover,
};
use crate::router::{Proxy, ProxyConfig};
use crate::verify::checker::{
    CheckerSettings, LeanChecker, ShadowChecker, SourceDocuments, file_uri,
};

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
}

/// What a run produced: the report, and one unified diff per changed file (empty with
/// `--write`, where the files were changed instead).
#[derive(Debug, Default)]
pub struct ProveOutcome {
    /// The report (`--json` writes it).
    pub report: Report,
    /// Unified diffs to print.
    pub diffs: Vec<String>,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Lean could not be started or did not initialise.
    #[error("could not start Lean: {0}")]
    Lean(String),
}

/// Runs `prove`: starts Lean behind an in-process proxy in the project, proves every hole of
/// every file, shuts Lean down, and returns the report and diffs.
pub async fn run(options: ProveOptions) -> Result<ProveOutcome, ProveError> {
    let root = std::path::absolute(&options.project_root)
        .map_err(|error| ProveError::Lean(format!("no project folder: {error}")))?;
    let loaded = match &options.config_file {
        Some(file) => crate::config::Config::load_first(std::slice::from_ref(file))?,
        None => crate::config::Config::load(&root)?,
    };
    let mut config = loaded.config;
    if options.no_model {
        config.prover = None;
        config.decomposer = None;
    }
    if let Some(jobs) = options.jobs {
        config.budget.concurrent_holes = jobs.max(1);
    }
    if let Some(budget) = options.budget {
        config.budget.wall_time_per_hole_s = budget.as_secs().max(1);
    }

    let command_line = options
        .lean_cmd
        .clone()
        .unwrap_or_else(|| vec!["lake".to_owned(), "serve".to_owned()]);
    let Some((program, args)) = command_line.split_first() else {
        return Err(ProveError::Lean("the Lean command is empty".to_owned()));
    };
    let mut server = tokio::process::Command::new(program);
    server.args(args).current_dir(&root);

    let mut proxy = Proxy::new(ProxyConfig::default());
    let lean = proxy.lean_handle();
    let lean_for_goals = lean.clone();
    let mut documents = proxy.observe_documents();
    let (editor, session) = VirtualEditor::connect(proxy, server);
    let root_uri = file_uri(&root);
    if let Err(error) = editor.initialize(&root_uri).await {
        drop(editor);
        let status = session.await;
        let detail = match status {
            Ok(Err(serve_error)) => serve_error.to_string(),
            _ => error.to_string(),
        };
        return Err(ProveError::Lean(detail));
    }

    // Nothing else edits documents during a run, so checks never wait for the user.
    let (_user_busy, user_busy_rx) = watch::channel(false);
    let sources = SourceDocuments::new();
    let shadow = ShadowChecker::new(
        lean,
        &root_uri,
        CheckerSettings::from_config(&config.verify),
        user_busy_rx,
        sources.version_source(),
    )
    .map_err(|error| ProveError::Lean(error.to_string()))?;
    let checker = LeanChecker::new(shadow, sources.clone());
    let engine = Engine::build(&config, &root, checker)
        .map_err(|error| ProveError::Lean(error.to_string()))?;

    let progress = Progress::for_stderr(0);
    let mut run = Session {
        progress: &progress,
        editor: &editor,
        lean: &lean_for_goals,
        documents: &mut documents,
        sources: &sources,
        pipeline: &engine.pipeline,
    };
    let outcome = run.prove_files(&options.files, options.write).await;
    // The store writes on a thread of its own that the process does not wait for: without
    // this the last attempts (and the cache a second run relies on) could be lost at exit.
    engine.flush().await;
    progress.finish();
    editor.shutdown().await;
    drop(editor);
    if let Ok(Err(error)) = session.await {
        tracing::warn!(%error, "the Lean session ended with an error");
    }
    Ok(outcome)
}

/// How long Lean may take to elaborate one file before its holes are given up.
const ELABORATION_LIMIT: Duration = Duration::from_secs(600);

/// Everything `prove` needs from a running session, generic over the pipeline's parts so
/// tests and the binary share the same code.
pub struct Session<'a, C, P, D, A>
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

/// One hole of a file on its way through the pipeline.
struct Pending {
    hole: Hole,
    goal: Option<String>,
    started: Instant,
    state: Option<watch::Receiver<JobState>>,
    skipped: Option<String>,
}

impl<C, P, D, A> Session<'_, C, P, D, A>
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
            match self.prove_file(path, write).await {
                Ok((file_report, diff)) => {
                    outcome.report.files.push(file_report);
                    if let Some(diff) = diff {
                        outcome.diffs.push(diff);
                    }
                }
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
    ) -> Result<(FileReport, Option<String>), String> {
        let source = SourceFile::read(path).map_err(|error| error.to_string())?;
        let absolute = std::path::absolute(path).map_err(|error| error.to_string())?;
        let uri = file_uri(&absolute);
        let text = source.text.clone();
        let holes = holes::scan(&text);
        if holes.is_empty() {
            return Ok((
                FileReport {
                    path: path.to_path_buf(),
                    holes: Vec::new(),
                },
                None,
            ));
        }
        self.editor.open(&uri, &text);
        let elaborated = self.wait_elaborated(&uri).await;
        let mut pending = Vec::with_capacity(holes.len());
        let imports = holes::imported_modules(&text);
        for hole in holes {
            let mut entry = Pending {
                hole,
                goal: None,
                started: Instant::now(),
                state: None,
                skipped: None,
            };
            if let Err(reason) = &elaborated {
                entry.skipped = Some(reason.clone());
            } else {
                self.submit(&uri, &text, &imports, &mut entry).await;
            }
            pending.push(entry);
        }
        self.progress.add_holes(pending.len() as u64);
        let mut reports = Vec::with_capacity(pending.len());
        let mut replacements = Vec::new();
        for entry in pending {
            let hole = entry.hole.id.clone();
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
            reports.push(report);
        }
        self.editor.close(&uri);
        let diff = self.apply(&source, path, replacements, write)?;
        Ok((
            FileReport {
                path: path.to_path_buf(),
                holes: reports,
            },
            diff,
        ))
    }

    /// Asks Lean for the goal at `entry`'s hole and submits its job.
    async fn submit(&self, uri: &str, text: &str, imports: &[String], entry: &mut Pending) {
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
        let context = holes::context(text, &entry.hole);
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
    async fn wait_elaborated(&mut self, uri: &str) -> Result<(), String> {
        let deadline = tokio::time::sleep(ELABORATION_LIMIT);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                event = self.documents.recv() => match event.inspect(|event| self.sources.apply(event)) {
                    Some(DocumentEvent::Elaborated { uri: done, .. }) if done == uri => return Ok(()),
                    Some(DocumentEvent::Failed { uri: failed, .. }) if failed == uri => {
                        return Err("Lean could not elaborate the file (header or worker failure)".to_owned());
                    }
                    Some(_) => {}
                    None => return Err("the Lean server stopped".to_owned()),
                },
                () = &mut deadline => return Err("Lean did not finish elaborating the file in time".to_owned()),
            }
        }
    }

    fn apply(
        &self,
        source: &SourceFile,
        path: &Path,
        replacements: Vec<Replacement>,
        write: bool,
    ) -> Result<Option<String>, String> {
        if replacements.is_empty() {
            return Ok(None);
        }
        let new_text = edits::apply_replacements(&source.text, &replacements)
            .map_err(|error| error.to_string())?;
        if write {
            edits::write_atomically(path, &source.fingerprint, &new_text)
                .map_err(|error| error.to_string())?;
            Ok(None)
        } else {
            Ok(Some(edits::unified_diff(path, &source.text, &new_text)))
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
        match crate::verify::splice(
            text,
            entry.hole.span.clone(),
            splice_kind(&entry.hole),
            &proof,
        ) {
            Ok(spliced) => {
                replacements.push(Replacement {
                    range: spliced.replaced.clone(),
                    text: spliced.text[spliced.proof_span.clone()].to_owned(),
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

fn splice_kind(hole: &Hole) -> crate::verify::HoleKind {
    match hole.position {
        HolePosition::Tactic => crate::verify::HoleKind::Tactic,
        HolePosition::Term => crate::verify::HoleKind::Term,
    }
}
