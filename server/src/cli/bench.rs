//! `sorryfill bench minif2f`: measures sorryfill on miniF2F-style statements with the user's
//! Lean, Mathlib and models. Each row of a JSONL file (`name` + `formal_statement`, the
//! Goedel-Prover-V2 layout, optionally with `header` and `split`) becomes a scratch file under
//! `.lake/sorryfill/bench/` in the project with one `sorry`, which the same engine and gate as
//! `sorryfill prove` try to prove. The result is a pass rate at the sample budget, the time per
//! problem, model tokens per problem (when the model client reports usage; today it does not,
//! so they are `null`) and how each proof was found.
//!
//! Invariants: only files below `.lake/sorryfill/bench/` are written; the cache and attempt
//! records of a benchmark live in that folder's own database, emptied at the start of each
//! run, so a previous run (or the user's proving) cannot inflate the pass rate; a problem
//! counts as passed only with a `verified` hole, which only the whole gate gives.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cli::progress::Progress;
use crate::cli::prove::{Overrides, ProveEngine, ProveError, effective_config, warning_line};
use crate::cli::report::{FileReport, HoleStatus, ReportSource, format_duration, source_name};
use crate::launch::lean_process::{StartError, start_lean};

/// The version written in every benchmark report. Bumped only for an incompatible change.
pub const BENCH_SCHEMA_VERSION: u32 = 1;

/// What `sorryfill bench minif2f` was asked to do.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The JSONL data set.
    pub data: PathBuf,
    /// Only rows whose `split` is this (rows without `split` are kept).
    pub split: Option<String>,
    /// At most this many problems (after the split filter), in file order.
    pub limit: Option<usize>,
    /// First-round prover samples per problem (default `[prover] samples`, at most `[budget] samples_per_hole`).
    pub samples: Option<u32>,
    /// Wall time per problem.
    pub budget: Option<Duration>,
    /// Tactics only.
    pub no_model: bool,
    /// Replaces `lake serve`.
    pub lean_cmd: Option<Vec<String>>,
    /// Replaces the `sorryfill.toml` found.
    pub config_file: Option<PathBuf>,
    /// The Lake project (with Mathlib) the statements are checked in.
    pub project_root: PathBuf,
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The data set could not be read.
    #[error("could not read the data set {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A row is not a usable problem.
    #[error("{path}:{line}: {reason}")]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The scratch folder could not be prepared.
    #[error("could not write the scratch files in {path}: {source}")]
    Scratch {
        /// The folder or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration, Lean or the engine could not start.
    #[error(transparent)]
    Prove(#[from] ProveError),
}

/// One statement to prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The row's `name`.
    pub name: String,
    /// The whole Lean file: header, statement and one `sorry`.
    pub text: String,
}

/// Reads the problems of a JSONL data set (blank lines are skipped), keeping rows of `split`
/// (and rows without one) and at most `limit` of them.
pub fn read_problems(
    path: &Path,
    split: Option<&str>,
    limit: Option<usize>,
) -> Result<Vec<Problem>, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|source| BenchError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if limit.is_some_and(|limit| problems.len() >= limit) {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let row_error = |reason: String| BenchError::Row {
            path: path.to_path_buf(),
            line: index + 1,
            reason,
        };
        let row: Value = serde_json::from_str(line)
            .map_err(|error| row_error(format!("not a JSON object: {error}")))?;
        let field = |name: &str| row.get(name).and_then(Value::as_str);
        if let (Some(wanted), Some(found)) = (split, field("split"))
            && wanted != found
        {
            continue;
        }
        let name = field("name").ok_or_else(|| row_error("no `name` string".to_owned()))?;
        let statement = field("formal_statement")
            .ok_or_else(|| row_error("no `formal_statement` string".to_owned()))?;
        problems.push(Problem {
            name: name.to_owned(),
            text: problem_text(field("header"), statement),
        });
    }
    Ok(problems)
}

/// The Lean file for a statement: `header` (when the row has one) then the statement, with
/// `sorry` as its proof unless it already has a hole. Goedel-Prover-V2 statements end in
/// `:= by`; bare statements get `:= by`.
pub fn problem_text(header: Option<&str>, statement: &str) -> String {
    let mut text = String::new();
    if let Some(header) = header {
        text.push_str(header);
        if !header.is_empty() && !header.ends_with('\n') {
            text.push('\n');
        }
    }
    if !crate::holes::scan(statement).is_empty() {
        text.push_str(statement);
        if !statement.ends_with('\n') {
            text.push('\n');
        }
        return text;
    }
    let statement = statement.trim_end();
    text.push_str(statement);
    if statement.ends_with(":= by") || statement.ends_with(":=by") {
        text.push_str("\n  sorry\n");
    } else if statement.ends_with(":=") {
        text.push_str(" by\n  sorry\n");
    } else {
        text.push_str(" := by\n  sorry\n");
    }
    text
}

/// The `--json` output of `sorryfill bench minif2f` (schema in `docs/cli-report.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// [`BENCH_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The data set, as given.
    pub dataset: PathBuf,
    /// First-round prover samples per problem (0 without a prover).
    pub samples_per_problem: u32,
    /// The prover model, or `null` for tactics only.
    pub prover: Option<String>,
    /// Problems attempted.
    pub problems: usize,
    /// Problems with a verified proof.
    pub proved: usize,
    /// `proved / problems` (0 without problems).
    pub pass_rate: f64,
    /// Mean wall time per problem, in milliseconds.
    pub mean_ms: u64,
    /// Model tokens over the run, or `null` when the model client does not report usage.
    pub tokens: Option<u64>,
    /// Verified problems per way the proof was found.
    pub by_source: SourceCounts,
    /// One entry per problem, in data-set order.
    pub results: Vec<ProblemResult>,
}

/// Verified problems per source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCounts {
    /// By the tactic portfolio.
    pub tactic: usize,
    /// By a prover sample.
    pub prover: usize,
    /// By a decomposition whose steps were proved.
    pub decomposition: usize,
    /// From the cache (re-checked by Lean).
    pub cache: usize,
}

/// What happened to one problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemResult {
    /// The row's `name`.
    pub name: String,
    /// `verified`, `partial`, `failed`, `skipped` (as in the prove report), or `error` when
    /// the scratch file gave no hole to prove.
    pub status: String,
    /// How the proof was found (for `verified` and `partial`).
    pub source: Option<ReportSource>,
    /// The verified proof.
    pub proof: Option<String>,
    /// Why it is not proved.
    pub reason: Option<String>,
    /// Candidates Lean checked.
    pub attempts: u32,
    /// Wall time for the problem (elaboration, goal, proving), in milliseconds.
    pub elapsed_ms: u64,
    /// Model tokens, or `null` when not reported.
    pub tokens: Option<u64>,
}

impl BenchReport {
    /// Pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self)
            .expect("a bench report holds only strings, numbers and paths");
        json.push('\n');
        json
    }

    /// A table, one problem a line, then the pass rate and the totals.
    pub fn render_text(&self) -> String {
        let width = self
            .results
            .iter()
            .map(|result| result.name.chars().count())
            .max()
            .unwrap_or(0)
            .max("problem".len());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  {:<13}  {:>8}  {:>8}",
            "problem", "result", "found by", "attempts", "time"
        );
        for result in &self.results {
            let source = result.source.map_or("-", source_name);
            let _ = writeln!(
                out,
                "{:<width$}  {:<8}  {:<13}  {:>8}  {:>8}",
                result.name,
                result.status,
                source,
                result.attempts,
                format_duration(result.elapsed_ms)
            );
        }
        let percent = self.pass_rate * 100.0;
        // pass@0 would read as "no attempt": without a model, say what ran instead.
        let measure = if self.samples_per_problem == 0 {
            "tactics only (no model configured)".to_owned()
        } else {
            format!("pass@{}", self.samples_per_problem)
        };
        let _ = write!(
            out,
            "{measure}: {}/{} ({percent:.1}%), {} per problem",
            self.proved,
            self.problems,
            format_duration(self.mean_ms)
        );
        let counts = self.by_source;
        let found: Vec<String> = [
            (counts.tactic, "tactic"),
            (counts.prover, "prover"),
            (counts.decomposition, "decomposition"),
            (counts.cache, "cache"),
        ]
        .into_iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, name)| format!("{count} by {name}"))
        .collect();
        if !found.is_empty() {
            let _ = write!(out, "; {}", found.join(", "));
        }
        match self.tokens {
            Some(tokens) => {
                let _ = writeln!(out, "; {tokens} model tokens");
            }
            None if self.samples_per_problem == 0 => out.push('\n'),
            None => out.push_str("; model tokens not reported\n"),
        }
        out
    }
}

/// The scratch folder of benchmarks in a project.
pub fn scratch_dir(project_root: &Path) -> PathBuf {
    project_root.join(".lake").join("sorryfill").join("bench")
}

/// File stems for problem names: letters, digits and `_` kept, anything else `_`, and a
/// numeric suffix where two names would collide.
fn file_stems(problems: &[Problem]) -> Vec<String> {
    let mut used = HashSet::new();
    problems
        .iter()
        .map(|problem| {
            let base: String = problem
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let base = if base.is_empty() {
                "problem".to_owned()
            } else {
                base
            };
            let mut stem = base.clone();
            let mut suffix = 1;
            while !used.insert(stem.clone()) {
                suffix += 1;
                stem = format!("{base}_{suffix}");
            }
            stem
        })
        .collect()
}

/// Runs the benchmark: writes the scratch files, starts Lean once, proves each problem in
/// turn and measures it. `progress` is called after each problem with its result.
pub async fn run(
    options: BenchOptions,
    mut progress: impl FnMut(usize, usize, &ProblemResult),
) -> Result<BenchReport, BenchError> {
    let problems = read_problems(&options.data, options.split.as_deref(), options.limit)?;
    let root = std::path::absolute(&options.project_root)
        .map_err(|error| ProveError::Lean(StartError(format!("no project folder: {error}"))))?;
    let overrides = Overrides {
        no_model: options.no_model,
        jobs: None,
        budget: options.budget,
        samples: options.samples,
    };
    let config = effective_config(&root, options.config_file.as_deref(), &overrides)?;

    let scratch = scratch_dir(&root);
    let scratch_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BenchError::Scratch { path, source }
    };
    std::fs::create_dir_all(&scratch).map_err(scratch_error(&scratch))?;
    // A fresh database for every run: the pass rate must not come from an earlier run's cache.
    let database = crate::store::database_path(&scratch);
    for suffix in ["", "-wal", "-shm"] {
        let mut name = database.clone().into_os_string();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(scratch_error(&database)(error));
            }
            _ => {}
        }
    }
    let mut files = Vec::with_capacity(problems.len());
    for (problem, stem) in problems.iter().zip(file_stems(&problems)) {
        let path = scratch.join(format!("{stem}.lean"));
        std::fs::write(&path, &problem.text).map_err(scratch_error(&path))?;
        files.push(path);
    }

    let mut lean = start_lean(&root, options.lean_cmd.as_deref())
        .await
        .map_err(ProveError::Lean)?;
    let engine = match ProveEngine::new(&lean, &config, &scratch).await {
        Ok(engine) => engine,
        Err(error) => {
            lean.stop().await;
            return Err(error.into());
        }
    };
    // The harness's own lines are about problems; a configuration warning comes first.
    let notices = Progress::plain(Box::new(std::io::stderr()));
    for warning in engine.warnings() {
        notices.message(&warning_line(warning));
    }
    let samples = if engine.is_model_free() {
        0
    } else {
        config.prover_samples_per_hole()
    };
    // The harness prints one line per problem itself.
    let quiet = Progress::hidden();
    let mut results = Vec::with_capacity(problems.len());
    for (index, (problem, path)) in problems.iter().zip(&files).enumerate() {
        let started = Instant::now();
        let outcome = engine
            .prove_files(&mut lean, std::slice::from_ref(path), false, &quiet)
            .await;
        let elapsed = started.elapsed();
        let error = outcome
            .report
            .errors
            .first()
            .map(|error| error.message.clone());
        let result = problem_result(&problem.name, outcome.report.files.first(), error, elapsed);
        progress(index + 1, problems.len(), &result);
        results.push(result);
    }
    engine.stop().await;
    lean.stop().await;
    Ok(summarise(
        options.data,
        samples,
        config.prover.as_ref().map(|model| model.model.clone()),
        results,
    ))
}

/// One problem's result from its file report (one hole expected).
fn problem_result(
    name: &str,
    file: Option<&FileReport>,
    error: Option<String>,
    elapsed: Duration,
) -> ProblemResult {
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    let hole = file.and_then(|file| file.holes.first());
    let Some(hole) = hole else {
        return ProblemResult {
            name: name.to_owned(),
            status: "error".to_owned(),
            source: None,
            proof: None,
            reason: Some(error.unwrap_or_else(|| "the statement gave no hole to prove".to_owned())),
            attempts: 0,
            elapsed_ms,
            tokens: None,
        };
    };
    let status = match hole.status {
        HoleStatus::Verified => "verified",
        HoleStatus::Partial => "partial",
        HoleStatus::Failed => "failed",
        HoleStatus::Skipped => "skipped",
    };
    ProblemResult {
        name: name.to_owned(),
        status: status.to_owned(),
        source: hole.source,
        proof: hole.proof.clone(),
        reason: hole.reason.clone(),
        attempts: hole.attempts,
        elapsed_ms,
        tokens: None,
    }
}

/// The report over every problem's result.
pub fn summarise(
    dataset: PathBuf,
    samples_per_problem: u32,
    prover: Option<String>,
    results: Vec<ProblemResult>,
) -> BenchReport {
    let mut by_source = SourceCounts::default();
    let mut proved = 0;
    for result in results.iter().filter(|result| result.status == "verified") {
        proved += 1;
        match result.source {
            Some(ReportSource::Tactic) => by_source.tactic += 1,
            Some(ReportSource::Prover) => by_source.prover += 1,
            Some(ReportSource::Decomposition) => by_source.decomposition += 1,
            Some(ReportSource::Cache) => by_source.cache += 1,
            None => {}
        }
    }
    let problems = results.len();
    let total_ms: u64 = results.iter().map(|result| result.elapsed_ms).sum();
    let tokens = results
        .iter()
        .map(|result| result.tokens)
        .sum::<Option<u64>>()
        .filter(|_| problems > 0);
    BenchReport {
        schema_version: BENCH_SCHEMA_VERSION,
        dataset,
        samples_per_problem,
        prover,
        problems,
        proved,
        pass_rate: if problems == 0 {
            0.0
        } else {
            proved as f64 / problems as f64
        },
        mean_ms: if problems == 0 {
            0
        } else {
            total_ms / problems as u64
        },
        tokens,
        by_source,
        results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goedel_statements_ending_in_by_get_a_sorry_line() {
        let text = problem_text(None, "import Mathlib\n\ntheorem t (x : ℕ) : x = x := by\n");
        assert_eq!(
            text,
            "import Mathlib\n\ntheorem t (x : ℕ) : x = x := by\n  sorry\n"
        );
        assert_eq!(crate::holes::scan(&text).len(), 1);
    }

    #[test]
    fn header_and_bare_statements_are_completed() {
        let text = problem_text(Some("import Mathlib"), "theorem t : 1 + 1 = 2");
        assert_eq!(
            text,
            "import Mathlib\ntheorem t : 1 + 1 = 2 := by\n  sorry\n"
        );
        let with_hole = problem_text(None, "theorem t : True := by sorry");
        assert_eq!(with_hole, "theorem t : True := by sorry\n");
    }

    #[test]
    fn rows_are_filtered_by_split_and_limited() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("rows.jsonl");
        let rows = [
            r#"{"name": "a", "formal_statement": "theorem a : True := by\n", "split": "valid"}"#,
            "",
            r#"{"name": "b", "formal_statement": "theorem b : True := by\n", "split": "test"}"#,
            r#"{"name": "c", "formal_statement": "theorem c : True := by\n"}"#,
            r#"{"name": "d", "formal_statement": "theorem d : True := by\n", "split": "test"}"#,
        ];
        std::fs::write(&path, rows.join("\n")).expect("write rows");
        let names = |split: Option<&str>, limit: Option<usize>| -> Vec<String> {
            read_problems(&path, split, limit)
                .expect("rows read")
                .into_iter()
                .map(|problem| problem.name)
                .collect()
        };
        assert_eq!(names(None, None), vec!["a", "b", "c", "d"]);
        assert_eq!(names(Some("test"), None), vec!["b", "c", "d"]);
        assert_eq!(names(Some("test"), Some(2)), vec!["b", "c"]);
    }

    #[test]
    fn a_row_without_a_statement_names_its_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("rows.jsonl");
        std::fs::write(
            &path,
            "{\"name\": \"a\", \"formal_statement\": \"theorem a : True\"}\n{\"name\": \"b\"}\n",
        )
        .expect("write rows");
        let error = read_problems(&path, None, None).expect_err("row 2 has no statement");
        assert!(
            error
                .to_string()
                .ends_with("rows.jsonl:2: no `formal_statement` string"),
            "{error}"
        );
    }

    #[test]
    fn colliding_names_get_distinct_files() {
        let problem = |name: &str| Problem {
            name: name.to_owned(),
            text: String::new(),
        };
        let stems = file_stems(&[problem("a/b"), problem("a_b"), problem("")]);
        assert_eq!(stems, vec!["a_b", "a_b_2", "problem"]);
    }

    #[test]
    fn summary_counts_pass_rate_sources_and_unknown_tokens() {
        let result = |name: &str, status: &str, source: Option<ReportSource>| ProblemResult {
            name: name.to_owned(),
            status: status.to_owned(),
            source,
            proof: None,
            reason: None,
            attempts: 2,
            elapsed_ms: 1000,
            tokens: None,
        };
        let report = summarise(
            PathBuf::from("d.jsonl"),
            4,
            None,
            vec![
                result("a", "verified", Some(ReportSource::Tactic)),
                result("b", "failed", None),
                result("c", "verified", Some(ReportSource::Prover)),
                result("d", "partial", Some(ReportSource::Decomposition)),
            ],
        );
        assert_eq!(report.proved, 2);
        assert!((report.pass_rate - 0.5).abs() < 1e-9);
        assert_eq!(report.by_source.tactic, 1);
        assert_eq!(report.by_source.prover, 1);
        assert_eq!(report.by_source.decomposition, 0, "partial is not a pass");
        assert_eq!(report.tokens, None);
        let text = report.render_text();
        assert!(
            text.ends_with("pass@4: 2/4 (50.0%), 1.0 s per problem; 1 by tactic, 1 by prover; model tokens not reported\n"),
            "{text}"
        );
    }
}
