//! The Lean half of `sorryfill audit`: Lean itself says what each declaration depends on.
//!
//! Each file is opened through the in-process editor as a document whose text is the file
//! followed by one `#print axioms NAME` line per declaration of
//! [`audit::audit_declarations`]; Lean's answers (information messages on those lines) are
//! read with [`audit::parse_print_axioms`] and judged with [`audit::classify_axioms`] under
//! the `[verify]` policy. The static findings of the same text are always included.
//!
//! Invariants: the user's files are only read, never written (the extra lines live in the
//! editor document only); an answer is matched to its declaration by the line it is on, so
//! a name Lean prints differently cannot be attributed to the wrong declaration.

use std::path::{Path, PathBuf};

use crate::cli::audit::{self, AuditDeclaration, AuditFile, AuditPolicy, AuditReport, Finding};
use crate::config::Config;
use crate::documents::file_uri;
use crate::launch::lean_process::{LeanProcess, start_lean, wait_elaborated};
use crate::launch::virtual_editor::VirtualEditor;
use crate::lean::LeanDiagnostic;

/// What `sorryfill audit` was asked to do.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// The `.lean` files, already discovered.
    pub files: Vec<PathBuf>,
    /// Replaces `lake serve`.
    pub lean_cmd: Option<Vec<String>>,
    /// Replaces the `sorryfill.toml` found (for `[verify] allowed_axioms`).
    pub config_file: Option<PathBuf>,
    /// The Lake project: Lean's working directory.
    pub project_root: PathBuf,
    /// Read the sources only; never start Lean.
    pub static_only: bool,
}

/// The result of an audit.
#[derive(Debug, Default)]
pub struct AuditOutcome {
    /// Every file with its findings.
    pub report: AuditReport,
    /// Why Lean was not used although asked for: the audit fell back to the static half.
    pub lean_unavailable: Option<String>,
    /// Files whose Lean half could not be done (only their static findings are in the
    /// report), with the reason.
    pub incomplete: Vec<(PathBuf, String)>,
}

/// Why an audit could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A file could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The audit policy of the configuration `config_file` or the one found for `root`.
pub fn policy(root: &Path, config_file: Option<&Path>) -> Result<AuditPolicy, AuditError> {
    let loaded = match config_file {
        Some(file) => Config::load_first(&[file.to_path_buf()])?,
        None => Config::load(root)?,
    };
    Ok(AuditPolicy::from_config(&loaded.config.verify))
}

/// Runs the audit: the static half always, the Lean half unless `static_only` or Lean cannot
/// start (then [`AuditOutcome::lean_unavailable`] says why).
pub async fn run(options: AuditOptions) -> Result<AuditOutcome, AuditError> {
    let policy = policy(&options.project_root, options.config_file.as_deref())?;
    let mut sources = Vec::with_capacity(options.files.len());
    for path in &options.files {
        let text = std::fs::read_to_string(path).map_err(|source| AuditError::Read {
            path: path.clone(),
            source,
        })?;
        sources.push((path.clone(), text));
    }
    let mut outcome = AuditOutcome::default();
    let mut lean = None;
    let needs_lean = sources
        .iter()
        .any(|(_, text)| !audit::audit_declarations(text).is_empty());
    if !options.static_only && needs_lean {
        match start_lean(&options.project_root, options.lean_cmd.as_deref()).await {
            Ok(started) => lean = Some(started),
            Err(error) => outcome.lean_unavailable = Some(error.to_string()),
        }
    }
    for (path, text) in sources {
        let mut findings = audit::static_findings_with(&text, &policy);
        if let Some(lean) = lean.as_mut() {
            match axiom_findings(lean, &path, &text, &policy).await {
                Ok(found) => findings.extend(without_repeated_sorries(&findings, found)),
                Err(reason) => outcome.incomplete.push((path.clone(), reason)),
            }
        }
        findings.sort_by_key(|finding| (finding.range.start.line, finding.range.start.character));
        outcome.report.files.push(AuditFile { path, findings });
    }
    if let Some(lean) = lean {
        lean.stop().await;
    }
    Ok(outcome)
}

/// Lean's findings without those that only repeat a hole the source already shows: a
/// declaration with its own `sorry` depends on `sorryAx`, and one finding per hole is enough.
fn without_repeated_sorries(source: &[Finding], lean: Vec<Finding>) -> Vec<Finding> {
    lean.into_iter()
        .filter(|finding| {
            let only_sorry = finding.kind == audit::FindingKind::DependsOnSorry
                && finding.axioms.iter().all(|axiom| axiom == "sorryAx");
            !(only_sorry
                && source.iter().any(|hole| {
                    matches!(
                        hole.kind,
                        audit::FindingKind::Sorry | audit::FindingKind::Admit
                    ) && hole.declaration == finding.declaration
                }))
        })
        .collect()
}

/// Asks Lean `#print axioms` for every declaration of `text` and returns the findings.
/// `Err` says why Lean gave no answers (the file did not elaborate).
pub async fn axiom_findings(
    lean: &mut LeanProcess,
    path: &Path,
    text: &str,
    policy: &AuditPolicy,
) -> Result<Vec<Finding>, String> {
    let declarations = audit::audit_declarations(text);
    if declarations.is_empty() {
        return Ok(Vec::new());
    }
    let absolute = std::path::absolute(path).map_err(|error| error.to_string())?;
    let uri = file_uri(&absolute);
    let (document, first_line) = with_print_axioms(text, &declarations);
    lean.editor.open(&uri, &document);
    let elaborated = wait_elaborated(
        &lean.lean,
        &mut lean.documents,
        &uri,
        VirtualEditor::OPENED_VERSION,
        |_| {},
    )
    .await;
    lean.editor.close(&uri);
    let diagnostics = elaborated?;
    Ok(findings_from_answers(
        &diagnostics,
        first_line,
        &declarations,
        policy,
    ))
}

/// `text` followed by one `#print axioms NAME` line per declaration, and the 0-based line of
/// the first of them (the answer to declaration `i` is on line `first_line + i`).
pub fn with_print_axioms(text: &str, declarations: &[AuditDeclaration]) -> (String, u32) {
    let mut document = text.to_owned();
    if !document.is_empty() && !document.ends_with('\n') {
        document.push('\n');
    }
    let first_line = u32::try_from(document.matches('\n').count()).unwrap_or(u32::MAX);
    for declaration in declarations {
        document.push_str("#print axioms ");
        document.push_str(&declaration.name);
        document.push('\n');
    }
    (document, first_line)
}

/// Reads Lean's answers on the `#print axioms` lines and classifies each under `policy`.
/// Messages elsewhere in the file, and lines Lean did not answer (an unknown constant), give
/// nothing.
pub fn findings_from_answers(
    diagnostics: &[LeanDiagnostic],
    first_line: u32,
    declarations: &[AuditDeclaration],
    policy: &AuditPolicy,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for diagnostic in diagnostics {
        let Some(index) = diagnostic.range.start.line.checked_sub(first_line) else {
            continue;
        };
        let Some(declaration) = usize::try_from(index)
            .ok()
            .and_then(|index| declarations.get(index))
        else {
            continue;
        };
        let Some(answer) = audit::parse_print_axioms(&diagnostic.message) else {
            continue;
        };
        if let Some(finding) = audit::classify_axioms(declaration, &answer.axioms, policy) {
            findings.push(finding);
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::audit::FindingKind;

    const FILE: &str = "namespace Foo\n\ntheorem a : True := by\n  sorry\n\ntheorem b : 2 ^ 10 = 1024 := by native_decide\n\nend Foo\n\ntheorem c : True := trivial";

    fn info(line: u32, message: &str) -> LeanDiagnostic {
        let position = lsp_types::Position::new(line, 0);
        LeanDiagnostic {
            range: lsp_types::Range::new(position, position),
            full_range: None,
            severity: Some(lsp_types::DiagnosticSeverity::INFORMATION),
            message: message.to_owned(),
            is_silent: None,
            lean_tags: None,
            extra: serde_json::Map::new(),
        }
    }

    #[test]
    fn lean_repeating_a_hole_the_source_shows_is_dropped_but_other_axioms_are_kept() {
        let declarations = audit::audit_declarations(FILE);
        let (_, first_line) = with_print_axioms(FILE, &declarations);
        let policy = AuditPolicy::default();
        let source = audit::static_findings_with(FILE, &policy);
        let only_sorry = findings_from_answers(
            &[info(first_line, "'Foo.a' depends on axioms: [sorryAx]")],
            first_line,
            &declarations,
            &policy,
        );
        assert_eq!(only_sorry.len(), 1);
        assert!(without_repeated_sorries(&source, only_sorry).is_empty());
        let more = findings_from_answers(
            &[info(
                first_line,
                "'Foo.a' depends on axioms: [sorryAx, Foo.magic]",
            )],
            first_line,
            &declarations,
            &policy,
        );
        assert_eq!(
            without_repeated_sorries(&source, more).len(),
            1,
            "an axiom besides sorryAx is news"
        );
        let elsewhere = findings_from_answers(
            &[info(first_line + 2, "'c' depends on axioms: [sorryAx]")],
            first_line,
            &declarations,
            &policy,
        );
        assert_eq!(
            without_repeated_sorries(&source, elsewhere).len(),
            1,
            "a declaration without its own hole depends on one elsewhere"
        );
    }

    #[test]
    fn print_axioms_lines_follow_the_file_one_per_declaration() {
        let declarations = audit::audit_declarations(FILE);
        let (document, first_line) = with_print_axioms(FILE, &declarations);
        assert!(document.starts_with(FILE), "the file's text is unchanged");
        let appended: Vec<&str> = document.lines().skip(first_line as usize).collect();
        assert_eq!(
            appended,
            vec![
                "#print axioms Foo.a",
                "#print axioms Foo.b",
                "#print axioms c"
            ]
        );
    }

    #[test]
    fn answers_are_matched_to_declarations_by_line() {
        let declarations = audit::audit_declarations(FILE);
        let (_, first_line) = with_print_axioms(FILE, &declarations);
        let diagnostics = vec![
            // A warning inside the file is not an answer.
            info(3, "declaration uses 'sorry'"),
            info(first_line, "'Foo.a' depends on axioms: [sorryAx]"),
            info(
                first_line + 1,
                "'Foo.b' depends on axioms: [propext, Lean.ofReduceBool]",
            ),
            info(first_line + 2, "'c' does not depend on any axioms"),
        ];
        let findings = findings_from_answers(
            &diagnostics,
            first_line,
            &declarations,
            &AuditPolicy::default(),
        );
        let seen: Vec<(FindingKind, Option<&str>, u32)> = findings
            .iter()
            .map(|f| (f.kind, f.declaration.as_deref(), f.range.start.line))
            .collect();
        assert_eq!(
            seen,
            vec![
                (FindingKind::DependsOnSorry, Some("Foo.a"), 2),
                (FindingKind::TrustsCompiler, Some("Foo.b"), 5),
            ]
        );
        assert_eq!(findings[1].axioms, vec!["Lean.ofReduceBool".to_owned()]);
    }

    #[test]
    fn allowed_axioms_come_from_the_policy() {
        let declarations = audit::audit_declarations("theorem t : True := trivial\n");
        let (_, first_line) = with_print_axioms("theorem t : True := trivial\n", &declarations);
        let answer = [info(
            first_line,
            "'t' depends on axioms: [propext, Foo.cheat]",
        )];
        let strict =
            findings_from_answers(&answer, first_line, &declarations, &AuditPolicy::default());
        assert_eq!(strict.len(), 1);
        assert_eq!(strict[0].kind, FindingKind::NonStandardAxiom);
        let mut lenient = AuditPolicy::default();
        lenient.allowed_axioms.push("Foo.cheat".to_owned());
        assert!(findings_from_answers(&answer, first_line, &declarations, &lenient).is_empty());
    }
}
