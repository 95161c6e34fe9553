//! The result of `sorryfill prove` (and `--check`): the stable JSON schema written by
//! `--json REPORT`, the human summary printed at the end of a run, and the exit code.
//!
//! The schema is documented in `docs/cli-report.md`; other tools rely on it.
//! Invariants: fields are only ever added (never renamed, removed or retyped) within one
//! [`SCHEMA_VERSION`]; every field is always present (absent values are `null`, never omitted);
//! ranges are LSP ranges (0-based lines, UTF-16 columns), exactly what an editor would use.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::holes::HoleKind;
use crate::store::ProofSource;

/// The version written in every report. Bumped only for an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole report of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Every file looked at, in the order processed, including files without holes.
    pub files: Vec<FileReport>,
    /// Problems that stopped a file (or the run) from being processed; they make the exit code 2.
    pub errors: Vec<RunError>,
}

/// One file's holes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    /// The path as given on the command line or found below a given folder.
    pub path: PathBuf,
    /// Its holes in source order.
    pub holes: Vec<HoleReport>,
}

impl FileReport {
    /// Every hole of `text` as not attempted, with `reason` (what `prove --check` reports, and
    /// the starting point of a `prove` run before any hole is tried).
    pub fn unattempted(path: PathBuf, text: &str, reason: &str) -> Self {
        let holes = crate::holes::scan(text)
            .into_iter()
            .map(|hole| HoleReport {
                range: hole.range,
                kind: hole.kind.into(),
                declaration: hole.id.declaration,
                goal: None,
                status: HoleStatus::Skipped,
                source: None,
                proof: None,
                reason: Some(reason.to_owned()),
                attempts: 0,
                elapsed_ms: 0,
            })
            .collect();
        Self { path, holes }
    }
}

/// What happened to one hole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoleReport {
    /// Where the hole is in the file as read (LSP range: 0-based line, UTF-16 character).
    pub range: lsp_types::Range,
    /// `sorry` or `admit`.
    pub kind: ReportHoleKind,
    /// The qualified name of the enclosing declaration (`Foo.bar`), or `example@0`-style names
    /// for anonymous ones.
    pub declaration: String,
    /// The goal as Lean printed it, when it was asked.
    pub goal: Option<String>,
    /// The outcome.
    pub status: HoleStatus,
    /// Which stage found the proof (for `verified` and `partial`).
    pub source: Option<ReportSource>,
    /// The Lean-verified replacement text for the hole (for `partial`: with `sorry` left in the
    /// steps that were not proved).
    pub proof: Option<String>,
    /// Why the hole is not (fully) proved, for `partial`, `failed` and `skipped`.
    pub reason: Option<String>,
    /// Candidates checked by Lean for this hole.
    pub attempts: u32,
    /// Wall time spent on this hole, in milliseconds.
    pub elapsed_ms: u64,
}

/// The `kind` of a hole in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportHoleKind {
    /// `sorry`.
    Sorry,
    /// `admit`.
    Admit,
}

impl From<HoleKind> for ReportHoleKind {
    fn from(kind: HoleKind) -> Self {
        match kind {
            HoleKind::Sorry => Self::Sorry,
            HoleKind::Admit => Self::Admit,
        }
    }
}

/// The outcome for one hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoleStatus {
    /// A complete proof passed the gate.
    Verified,
    /// A decomposition was verified with some steps still `sorry`.
    Partial,
    /// Every attempt failed within the budget.
    Failed,
    /// Not attempted (`--check`, a cancelled run, or a hole Lean gave no goal for).
    Skipped,
}

impl HoleStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// The `source` of a proof in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportSource {
    /// The tactic portfolio.
    Tactic,
    /// A prover model sample.
    Prover,
    /// A decomposition whose steps were proved.
    Decomposition,
    /// The cache (re-checked by Lean in place).
    Cache,
}

impl From<ProofSource> for ReportSource {
    fn from(source: ProofSource) -> Self {
        match source {
            ProofSource::Tactic => Self::Tactic,
            ProofSource::Prover => Self::Prover,
            ProofSource::Decomposition => Self::Decomposition,
            ProofSource::Cache => Self::Cache,
        }
    }
}

impl ReportSource {
    /// The report's name for the pipeline stage that found a proof (`None` for the stages
    /// that only confirm or polish one).
    pub fn from_stage(stage: &crate::pipeline::CandidateSource) -> Option<Self> {
        use crate::pipeline::CandidateSource as Stage;
        match stage {
            Stage::Tactic => Some(Self::Tactic),
            Stage::Prover { .. } | Stage::Repair => Some(Self::Prover),
            Stage::Assembled | Stage::Sketch => Some(Self::Decomposition),
            Stage::Cache => Some(Self::Cache),
            Stage::Recheck | Stage::Replacement | Stage::Cleanup => None,
        }
    }
}

/// A problem that kept a file (or the whole run) from being processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// The file concerned, or `null` for the whole run (Lean would not start, …).
    pub path: Option<PathBuf>,
    /// What went wrong and how to fix it.
    pub message: String,
}

/// Errors reading a report back.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Not a report of this schema.
    #[error("not a sorryfill report: {0}")]
    Invalid(#[from] serde_json::Error),
    /// Written by an incompatible sorryfill.
    #[error(
        "report schema version {found} is not supported (this sorryfill reads version {SCHEMA_VERSION})"
    )]
    Version {
        /// The version in the file.
        found: u32,
    },
}

impl Default for Report {
    fn default() -> Self {
        Self::new()
    }
}

impl Report {
    /// An empty report of the current schema version.
    pub fn new() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            files: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The report as pretty-printed JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self)
            .expect("a report holds only strings, numbers and paths, which always serialise");
        json.push('\n');
        json
    }

    /// Reads a report, refusing other schema versions.
    pub fn from_json(text: &str) -> Result<Self, ReportError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            schema_version: u32,
        }
        let VersionOnly { schema_version } = serde_json::from_str(text)?;
        if schema_version != SCHEMA_VERSION {
            return Err(ReportError::Version {
                found: schema_version,
            });
        }
        Ok(serde_json::from_str(text)?)
    }

    /// Counts of holes per status.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for hole in self.files.iter().flat_map(|file| &file.holes) {
            match hole.status {
                HoleStatus::Verified => totals.verified += 1,
                HoleStatus::Partial => totals.partial += 1,
                HoleStatus::Failed => totals.failed += 1,
                HoleStatus::Skipped => totals.skipped += 1,
            }
        }
        totals
    }

    /// The human summary printed at the end of a run: one line per hole that is not verified or
    /// was proved (`path:line:col`, 1-based as compilers print them), the errors, then totals.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            for hole in &file.holes {
                let kind = match hole.kind {
                    ReportHoleKind::Sorry => "sorry",
                    ReportHoleKind::Admit => "admit",
                };
                let _ = write!(
                    out,
                    "{}:{}:{}: {kind} in {}: {}",
                    file.path.display(),
                    hole.range.start.line + 1,
                    hole.range.start.character + 1,
                    hole.declaration,
                    hole.status.as_str(),
                );
                let mut details = Vec::new();
                if let Some(source) = hole.source {
                    details.push(format!("by {}", source_name(source)));
                }
                if hole.attempts > 0 {
                    let plural = if hole.attempts == 1 { "" } else { "s" };
                    details.push(format!("{} attempt{plural}", hole.attempts));
                }
                if hole.elapsed_ms > 0 {
                    details.push(format_duration(hole.elapsed_ms));
                }
                if !details.is_empty() {
                    let _ = write!(out, " ({})", details.join(", "));
                }
                if let Some(reason) = &hole.reason {
                    let _ = write!(out, ": {reason}");
                }
                out.push('\n');
            }
        }
        for error in &self.errors {
            match &error.path {
                Some(path) => {
                    let _ = writeln!(out, "error: {}: {}", path.display(), error.message);
                }
                None => {
                    let _ = writeln!(out, "error: {}", error.message);
                }
            }
        }
        let totals = self.totals();
        let holes = totals.holes();
        let files = self.files.len();
        let _ = write!(
            out,
            "{holes} hole{} in {files} file{}",
            if holes == 1 { "" } else { "s" },
            if files == 1 { "" } else { "s" },
        );
        if holes > 0 {
            let parts: Vec<String> = [
                (totals.verified, "verified"),
                (totals.partial, "partial"),
                (totals.failed, "failed"),
                (totals.skipped, "skipped"),
            ]
            .into_iter()
            .filter(|(count, _)| *count > 0)
            .map(|(count, name)| format!("{count} {name}"))
            .collect();
            let _ = write!(out, ": {}", parts.join(", "));
        }
        if !self.errors.is_empty() {
            let count = self.errors.len();
            let _ = write!(out, "; {count} error{}", if count == 1 { "" } else { "s" });
        }
        out.push('\n');
        out
    }
}

impl Report {
    /// The text of `prove --check`, which proves nothing: one `path:line:col: sorry in
    /// declaration: not proved` line per hole, then how many holes are left, in words a CI
    /// log reader understands.
    pub fn render_check_text(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            for hole in &file.holes {
                let kind = match hole.kind {
                    ReportHoleKind::Sorry => "sorry",
                    ReportHoleKind::Admit => "admit",
                };
                let _ = writeln!(
                    out,
                    "{}:{}:{}: {kind} in {}: not proved",
                    file.path.display(),
                    hole.range.start.line + 1,
                    hole.range.start.character + 1,
                    hole.declaration,
                );
            }
        }
        let holes = self.totals().holes();
        let files = self.files.len();
        let files_text = format!("{files} file{}", if files == 1 { "" } else { "s" });
        if holes == 0 {
            let _ = writeln!(out, "check passed: no sorry or admit left in {files_text}");
        } else {
            let _ = writeln!(
                out,
                "check failed: {holes} hole{} (sorry or admit) left to prove in {files_text}; run `sorryfill prove` to fill them",
                if holes == 1 { "" } else { "s" }
            );
        }
        out
    }
}

/// The report's word for a stage, as in the JSON (`tactic`, `prover`, …).
pub fn source_name(source: ReportSource) -> &'static str {
    match source {
        ReportSource::Tactic => "tactic",
        ReportSource::Prover => "prover",
        ReportSource::Decomposition => "decomposition",
        ReportSource::Cache => "cache",
    }
}

/// Milliseconds as a person reads them: `420 ms`, `3.2 s`.
pub fn format_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// Holes per status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Verified holes.
    pub verified: usize,
    /// Partially proved holes.
    pub partial: usize,
    /// Failed holes.
    pub failed: usize,
    /// Skipped holes.
    pub skipped: usize,
}

impl Totals {
    /// All holes.
    pub fn holes(&self) -> usize {
        self.verified + self.partial + self.failed + self.skipped
    }
}

/// The process exit code of `prove`, `prove --check` and `audit` (documented in
/// `docs/cli-report.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: every hole proved, or nothing to do.
    Success,
    /// 1: holes are left (not verified, or found by `--check`), or `audit`/`doctor` found problems.
    HolesLeft,
    /// 2: an error kept sorryfill from doing its job (a file could not be read, Lean would not
    /// start, bad arguments or configuration).
    Error,
}

impl ExitStatus {
    /// The exit code for a finished report: errors win over holes left.
    pub fn for_report(report: &Report) -> Self {
        if !report.errors.is_empty() {
            Self::Error
        } else if report
            .files
            .iter()
            .flat_map(|file| &file.holes)
            .any(|hole| hole.status != HoleStatus::Verified)
        {
            Self::HolesLeft
        } else {
            Self::Success
        }
    }

    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::HolesLeft => 1,
            Self::Error => 2,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsp_types::{Position, Range};

    fn hole(status: HoleStatus) -> HoleReport {
        HoleReport {
            range: Range::new(Position::new(2, 4), Position::new(2, 9)),
            kind: ReportHoleKind::Sorry,
            declaration: "Foo.bar".to_owned(),
            goal: Some("⊢ 1 + 1 = 2".to_owned()),
            status,
            source: (status == HoleStatus::Verified).then_some(ReportSource::Tactic),
            proof: (status == HoleStatus::Verified).then(|| "norm_num".to_owned()),
            reason: (status != HoleStatus::Verified).then(|| "budget exhausted".to_owned()),
            attempts: 3,
            elapsed_ms: 1500,
        }
    }

    fn report(statuses: &[HoleStatus]) -> Report {
        Report {
            files: vec![FileReport {
                path: PathBuf::from("Foo.lean"),
                holes: statuses.iter().map(|s| hole(*s)).collect(),
            }],
            ..Report::new()
        }
    }

    #[test]
    fn exit_codes_follow_the_documented_rules() {
        assert_eq!(ExitStatus::for_report(&Report::new()), ExitStatus::Success);
        assert_eq!(ExitStatus::for_report(&report(&[])).code(), 0);
        assert_eq!(
            ExitStatus::for_report(&report(&[HoleStatus::Verified])).code(),
            0
        );
        for left in [HoleStatus::Partial, HoleStatus::Failed, HoleStatus::Skipped] {
            assert_eq!(
                ExitStatus::for_report(&report(&[HoleStatus::Verified, left])).code(),
                1,
                "{left:?}"
            );
        }
        let mut with_error = report(&[HoleStatus::Failed]);
        with_error.errors.push(RunError {
            path: None,
            message: "lake not found".to_owned(),
        });
        assert_eq!(ExitStatus::for_report(&with_error).code(), 2);
    }

    #[test]
    fn text_summary_names_each_hole_one_based_and_totals() {
        let text = report(&[HoleStatus::Verified, HoleStatus::Failed]).render_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            vec![
                "Foo.lean:3:5: sorry in Foo.bar: verified (by tactic, 3 attempts, 1.5 s)",
                "Foo.lean:3:5: sorry in Foo.bar: failed (3 attempts, 1.5 s): budget exhausted",
                "2 holes in 1 file: 1 verified, 1 failed",
            ]
        );
    }

    #[test]
    fn check_mode_lists_every_hole_as_skipped_and_fails() {
        let text = "theorem a : True := by\n  sorry\nexample : True := by admit\n";
        let file = FileReport::unattempted(PathBuf::from("A.lean"), text, "found by --check");
        let seen: Vec<(ReportHoleKind, &str, u32)> = file
            .holes
            .iter()
            .map(|h| (h.kind, h.declaration.as_str(), h.range.start.line))
            .collect();
        assert_eq!(
            seen,
            vec![
                (ReportHoleKind::Sorry, "a", 1),
                (ReportHoleKind::Admit, "example@0", 2)
            ]
        );
        let report = Report {
            files: vec![file],
            ..Report::new()
        };
        assert_eq!(ExitStatus::for_report(&report), ExitStatus::HolesLeft);
        let clean = Report {
            files: vec![FileReport::unattempted(
                PathBuf::from("B.lean"),
                "theorem b : True := trivial\n",
                "found by --check",
            )],
            ..Report::new()
        };
        assert_eq!(ExitStatus::for_report(&clean), ExitStatus::Success);
    }

    #[test]
    fn other_schema_versions_are_refused() {
        let mut json: serde_json::Value =
            serde_json::from_str(&report(&[HoleStatus::Failed]).to_json()).expect("json");
        json["schema_version"] = serde_json::json!(SCHEMA_VERSION + 1);
        let error = Report::from_json(&json.to_string()).expect_err("newer version");
        assert!(matches!(error, ReportError::Version { .. }), "{error}");
    }
}
