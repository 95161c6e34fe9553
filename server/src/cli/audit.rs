//! `sorryfill audit`: checks existing proofs the way the soundness gate does.
//!
//! Two halves:
//! - [`static_findings`] reads the source alone: `sorry`/`admit`, `native_decide`,
//!   `decide +native`, `axiom` declarations, `implemented_by`/`extern` attributes and
//!   `debug.skipKernelTC`. It needs no Lean and runs on any text.
//! - The Lean half asks `#print axioms` for every declaration [`audit_declarations`] lists,
//!   reads each answer with [`parse_print_axioms`] and turns it into at most one finding with
//!   [`classify_axioms`]: `sorryAx`, compiler-trusting axioms (`Lean.ofReduceBool`,
//!   `Lean.trustCompiler`, and the `…._native.…` axioms recent Lean adds for `native_decide`),
//!   and any axiom outside the allowed set.
//!
//! Invariants: only code tokens count (a `sorry` in a comment, string or syntax quotation is
//! not a finding); every finding carries an LSP range (0-based line, UTF-16 column) and, when it
//! sits inside a declaration, that declaration's qualified name as the hole scanner names it.

use lean_syntax::{CommandKind, LineIndex, TokenKind};
use serde::{Deserialize, Serialize};

use crate::config::{STANDARD_AXIOMS, VerifyConfig};
use crate::holes::{self, HoleKind};

/// What an audit finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A `sorry` in the source.
    Sorry,
    /// An `admit` in the source.
    Admit,
    /// A `native_decide` (or `decide +native`) in the source.
    NativeDecide,
    /// An `axiom` declaration.
    Axiom,
    /// An `@[implemented_by]` attribute: the compiled code is not the checked definition.
    ImplementedBy,
    /// An `@[extern]` attribute: the compiled code is foreign.
    Extern,
    /// `set_option debug.skipKernelTC`: the kernel does not check the declaration.
    SkipKernelTc,
    /// `#print axioms` shows `sorryAx`.
    DependsOnSorry,
    /// `#print axioms` shows an axiom that trusts the compiler.
    TrustsCompiler,
    /// `#print axioms` shows an axiom outside the allowed set.
    NonStandardAxiom,
}

/// One problem found by `audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// The qualified name of the declaration it is in or about, when there is one.
    pub declaration: Option<String>,
    /// Where (LSP range).
    pub range: lsp_types::Range,
    /// A sentence for the user: what it is, why it matters.
    pub message: String,
    /// For `#print axioms` findings: the offending axioms, in Lean's order.
    pub axioms: Vec<String>,
}

/// The `--json` output of `sorryfill audit` (schema in `docs/cli-report.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    /// [`AUDIT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Every file audited, with its findings in source order (possibly none).
    pub files: Vec<AuditFile>,
}

/// The version written in every audit report.
pub const AUDIT_SCHEMA_VERSION: u32 = 1;

/// One audited file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFile {
    /// The path as given or found.
    pub path: std::path::PathBuf,
    /// Its findings.
    pub findings: Vec<Finding>,
}

impl Default for AuditReport {
    fn default() -> Self {
        Self {
            schema_version: AUDIT_SCHEMA_VERSION,
            files: Vec::new(),
        }
    }
}

impl AuditReport {
    /// 0 without findings, 1 with any.
    pub fn exit_status(&self) -> crate::cli::report::ExitStatus {
        if self.files.iter().any(|file| !file.findings.is_empty()) {
            crate::cli::report::ExitStatus::HolesLeft
        } else {
            crate::cli::report::ExitStatus::Success
        }
    }

    /// Pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self)
            .expect("an audit report holds only strings, numbers and paths");
        json.push('\n');
        json
    }

    /// One `path:line:col: kind in declaration: message` line per finding (1-based positions,
    /// as compilers print them), then a total.
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let mut total = 0;
        for file in &self.files {
            for finding in &file.findings {
                total += 1;
                let _ = write!(
                    out,
                    "{}:{}:{}: ",
                    file.path.display(),
                    finding.range.start.line + 1,
                    finding.range.start.character + 1
                );
                if let Some(declaration) = &finding.declaration {
                    let _ = write!(out, "in {declaration}: ");
                }
                let _ = writeln!(out, "{}", finding.message);
            }
        }
        let files = self.files.len();
        let _ = writeln!(
            out,
            "{total} finding{} in {files} file{}",
            if total == 1 { "" } else { "s" },
            if files == 1 { "" } else { "s" }
        );
        out
    }
}

/// What the audit accepts; by default exactly what the gate accepts by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPolicy {
    /// Axioms that are not findings.
    pub allowed_axioms: Vec<String>,
    /// Whether `native_decide` and the compiler-trusting axioms are accepted.
    pub allow_native_decide: bool,
}

impl Default for AuditPolicy {
    fn default() -> Self {
        Self {
            allowed_axioms: STANDARD_AXIOMS.map(str::to_owned).to_vec(),
            allow_native_decide: false,
        }
    }
}

impl AuditPolicy {
    /// The policy of the gate as configured in `[verify]`.
    pub fn from_config(verify: &VerifyConfig) -> Self {
        Self {
            allowed_axioms: verify.allowed_axioms.clone(),
            allow_native_decide: verify.allow_native_decide,
        }
    }
}

/// A declaration whose axioms the Lean half asks about with `#print axioms NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDeclaration {
    /// Qualified name, as `#print axioms` accepts it at the end of the file.
    pub name: String,
    /// The range of the name in the declaration header.
    pub range: lsp_types::Range,
}

/// Every finding visible in the source, with the default policy, in source order.
pub fn static_findings(text: &str) -> Vec<Finding> {
    static_findings_with(text, &AuditPolicy::default())
}

/// Every finding visible in the source under `policy`, in source order.
pub fn static_findings_with(text: &str, policy: &AuditPolicy) -> Vec<Finding> {
    let lines = LineIndex::new(text);
    let range_of = |span: std::ops::Range<usize>| lines.lsp_range(span);
    let scopes = Scopes::of(text);
    let mut findings = Vec::new();

    let index = holes::HoleIndex::new(text);
    for hole in index.holes() {
        let (kind, word) = match hole.kind {
            HoleKind::Sorry => (FindingKind::Sorry, "sorry"),
            HoleKind::Admit => (FindingKind::Admit, "admit"),
        };
        // Say what is missing: a definition's value is data, not a proof.
        let missing = match index.role(hole) {
            holes::HoleRole::Proof | holes::HoleRole::Uncheckable(_) => {
                "leaves this proof unfinished"
            }
            holes::HoleRole::Statement => "leaves part of this statement open",
            holes::HoleRole::Definition => "leaves this value undefined",
            holes::HoleRole::Outside => "stands for a missing term",
        };
        findings.push(Finding {
            kind,
            declaration: Some(hole.id.declaration.clone()),
            range: hole.range,
            message: format!("`{word}` {missing}"),
            axioms: Vec::new(),
        });
    }

    let tokens = lean_syntax::lex(text);
    let code: Vec<&lean_syntax::Token> = tokens
        .iter()
        .filter(|t| !t.is_trivia() && t.kind != TokenKind::DocComment)
        .collect();
    for (i, token) in code.iter().enumerate() {
        if !token.is_code() || token.kind != TokenKind::Ident {
            continue;
        }
        let word = token.text(text);
        let next_is = |offset: usize, expected: &str| {
            code.get(i + offset)
                .is_some_and(|t| t.is_code() && t.text(text) == expected)
        };
        let found = match word {
            "native_decide" if !policy.allow_native_decide => Some((
                FindingKind::NativeDecide,
                token.span.clone(),
                "`native_decide` trusts the compiler (Lean.ofReduceBool), which the kernel cannot check; prefer `decide` or `norm_num`",
            )),
            "decide" if !policy.allow_native_decide && next_is(1, "+") && next_is(2, "native") => {
                let end = code[i + 2].span.end;
                Some((
                    FindingKind::NativeDecide,
                    token.span.start..end,
                    "`decide +native` trusts the compiler (Lean.ofReduceBool), which the kernel cannot check; prefer `decide` or `norm_num`",
                ))
            }
            "implemented_by" => Some((
                FindingKind::ImplementedBy,
                token.span.clone(),
                "`@[implemented_by]` runs other code than the definition Lean checked",
            )),
            "extern" => Some((
                FindingKind::Extern,
                token.span.clone(),
                "`@[extern]` runs foreign code that Lean never checked",
            )),
            "debug.skipKernelTC" => Some((
                FindingKind::SkipKernelTc,
                token.span.clone(),
                "`debug.skipKernelTC` turns off the kernel's type check",
            )),
            _ => None,
        };
        if let Some((kind, span, message)) = found {
            findings.push(Finding {
                kind,
                declaration: scopes.declaration_at(span.start),
                range: range_of(span),
                message: message.to_owned(),
                axioms: Vec::new(),
            });
        }
    }

    for declaration in &scopes.declarations {
        if declaration.keyword != "axiom" {
            continue;
        }
        let Some((name, name_span)) = &declaration.name else {
            continue;
        };
        if policy.allowed_axioms.iter().any(|allowed| allowed == name) {
            continue;
        }
        findings.push(Finding {
            kind: FindingKind::Axiom,
            declaration: Some(name.clone()),
            range: range_of(name_span.clone()),
            message: format!(
                "`axiom {name}` is assumed, not proved: everything using it is only as sound as it"
            ),
            axioms: vec![name.clone()],
        });
    }

    findings.sort_by_key(|f| (f.range.start.line, f.range.start.character));
    findings
}

/// The named declarations of `text` to ask `#print axioms` about, in source order. Anonymous
/// ones (`example`, unnamed instances) cannot be named; their holes are static findings.
pub fn audit_declarations(text: &str) -> Vec<AuditDeclaration> {
    let lines = LineIndex::new(text);
    Scopes::of(text)
        .declarations
        .into_iter()
        .filter_map(|declaration| {
            let (name, span) = declaration.name?;
            Some(AuditDeclaration {
                name,
                range: lines.lsp_range(span),
            })
        })
        .collect()
}

/// The answer to `#print axioms NAME`, as read from Lean's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedAxioms {
    /// The declaration, as Lean printed it.
    pub name: String,
    /// The axioms it depends on, in Lean's order.
    pub axioms: Vec<String>,
}

/// Reads Lean's answer to `#print axioms`: `'foo' depends on axioms: [propext, sorryAx]` or
/// `'foo' does not depend on any axioms`. `None` for any other message.
pub fn parse_print_axioms(message: &str) -> Option<PrintedAxioms> {
    let message = message.trim();
    let rest = message.strip_prefix('\'')?;
    let (name, rest) = rest.split_once('\'')?;
    let rest = rest.trim_start();
    if rest.starts_with("does not depend on any axioms") {
        return Some(PrintedAxioms {
            name: name.to_owned(),
            axioms: Vec::new(),
        });
    }
    let list = rest.strip_prefix("depends on axioms:")?.trim();
    let list = list.strip_prefix('[')?;
    let list = &list[..list.find(']')?];
    let axioms = list
        .split(',')
        .map(|axiom| axiom.trim().to_owned())
        .filter(|axiom| !axiom.is_empty())
        .collect();
    Some(PrintedAxioms {
        name: name.to_owned(),
        axioms,
    })
}

/// Turns the axioms a declaration depends on into at most one finding: the most serious kind
/// (`sorryAx`, then a non-standard axiom, then compiler trust), listing every offending axiom.
pub fn classify_axioms(
    declaration: &AuditDeclaration,
    axioms: &[String],
    policy: &AuditPolicy,
) -> Option<Finding> {
    let mut sorry = false;
    let mut non_standard = false;
    let mut compiler = false;
    let mut offending = Vec::new();
    for axiom in axioms {
        if axiom == "sorryAx" {
            sorry = true;
        } else if is_compiler_axiom(axiom) {
            if policy.allow_native_decide {
                continue;
            }
            compiler = true;
        } else if policy.allowed_axioms.iter().any(|allowed| allowed == axiom) {
            continue;
        } else {
            non_standard = true;
        }
        offending.push(axiom.clone());
    }
    let name = &declaration.name;
    let list = offending.join(", ");
    let (kind, message) = if sorry {
        (
            FindingKind::DependsOnSorry,
            format!("`{name}` depends on sorryAx: it or something it uses is not proved ({list})"),
        )
    } else if non_standard {
        (
            FindingKind::NonStandardAxiom,
            format!("`{name}` depends on axioms outside the allowed set: {list}"),
        )
    } else if compiler {
        (
            FindingKind::TrustsCompiler,
            format!(
                "`{name}` trusts the compiler ({list}), typically through native_decide; the kernel did not check it"
            ),
        )
    } else {
        return None;
    };
    Some(Finding {
        kind,
        declaration: Some(name.clone()),
        range: declaration.range,
        message,
        axioms: offending,
    })
}

/// Axioms that mean "the compiler evaluated this": the classic two, and the per-declaration
/// auxiliary axioms (`foo._native.native_decide.ax_1_1`) that recent Lean adds instead.
fn is_compiler_axiom(axiom: &str) -> bool {
    axiom == "Lean.ofReduceBool" || axiom == "Lean.trustCompiler" || axiom.contains("._native.")
}

/// The declarations of a file with their qualified names.
struct Scopes {
    declarations: Vec<ScopedDeclaration>,
}

struct ScopedDeclaration {
    keyword: String,
    span: std::ops::Range<usize>,
    /// Qualified name and the byte range of the name as written.
    name: Option<(String, std::ops::Range<usize>)>,
}

impl Scopes {
    fn of(text: &str) -> Self {
        let mut scopes = lean_syntax::Scopes::default();
        let mut declarations = Vec::new();
        for command in lean_syntax::outline(text).commands {
            scopes.step(&command);
            if command.kind == CommandKind::Declaration {
                declarations.push(ScopedDeclaration {
                    name: command
                        .name
                        .as_ref()
                        .map(|(name, span)| (scopes.qualify(name), span.clone())),
                    keyword: command.keyword,
                    span: command.span,
                });
            }
        }
        Self { declarations }
    }

    fn declaration_at(&self, offset: usize) -> Option<String> {
        self.declarations
            .iter()
            .find(|d| d.span.contains(&offset))
            .and_then(|d| d.name.as_ref().map(|(name, _)| name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
import Mathlib

namespace Foo

axiom cheat : False

theorem uses_native : 2 ^ 10 = 1024 := by
  native_decide

theorem uses_decide_native : 2 ^ 10 = 1024 := by decide +native

/-- A doc comment mentioning sorry and native_decide. -/
theorem holes (n : ℕ) : n = n := by
  -- sorry in a comment
  have h : \"sorry\" = \"sorry\" := rfl
  sorry

@[implemented_by fastImpl] def slow (n : ℕ) : ℕ := n

end Foo

set_option debug.skipKernelTC true in
theorem unchecked : True := by admit
";

    fn kinds(findings: &[Finding]) -> Vec<(FindingKind, Option<&str>, u32)> {
        findings
            .iter()
            .map(|f| (f.kind, f.declaration.as_deref(), f.range.start.line))
            .collect()
    }

    #[test]
    fn static_findings_cover_every_unsound_construct_with_names_and_lines() {
        let findings = static_findings(FILE);
        assert_eq!(
            kinds(&findings),
            vec![
                (FindingKind::Axiom, Some("Foo.cheat"), 4),
                (FindingKind::NativeDecide, Some("Foo.uses_native"), 7),
                (FindingKind::NativeDecide, Some("Foo.uses_decide_native"), 9),
                (FindingKind::Sorry, Some("Foo.holes"), 15),
                (FindingKind::ImplementedBy, Some("Foo.slow"), 17),
                (FindingKind::SkipKernelTc, Some("unchecked"), 21),
                (FindingKind::Admit, Some("unchecked"), 22),
            ]
        );
        let decide_native = &findings[2];
        let column = FILE
            .lines()
            .nth(9)
            .and_then(|line| line.find("decide +native"))
            .expect("the test file has `decide +native` on line 9") as u32;
        assert_eq!(decide_native.range.start.character, column);
        assert_eq!(
            decide_native.range.end.character,
            column + "decide +native".len() as u32
        );
    }

    #[test]
    fn policy_can_allow_native_decide_and_extra_axioms() {
        let policy = AuditPolicy {
            allowed_axioms: vec!["Foo.cheat".to_owned()],
            allow_native_decide: true,
        };
        let kinds: Vec<FindingKind> = static_findings_with(FILE, &policy)
            .iter()
            .map(|f| f.kind)
            .collect();
        assert!(!kinds.contains(&FindingKind::NativeDecide), "{kinds:?}");
        assert!(!kinds.contains(&FindingKind::Axiom), "{kinds:?}");
        assert!(kinds.contains(&FindingKind::Sorry), "{kinds:?}");
    }

    #[test]
    fn declarations_are_qualified_for_print_axioms() {
        let names: Vec<String> = audit_declarations(FILE)
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(
            names,
            vec![
                "Foo.cheat",
                "Foo.uses_native",
                "Foo.uses_decide_native",
                "Foo.holes",
                "Foo.slow",
                "unchecked"
            ]
        );
    }

    #[test]
    fn a_mutual_block_does_not_close_the_namespace_around_it() {
        let text = "namespace A\nmutual\ntheorem x : True := trivial\nend\ntheorem y : True := trivial\nend A\n";
        let names: Vec<String> = audit_declarations(text)
            .into_iter()
            .map(|d| d.name)
            .collect();
        // The hole scanner names them the same way (one `Scopes` walk for both).
        assert_eq!(names, ["A.x", "A.y"]);
    }

    #[test]
    fn audit_report_lines_and_exit_status() {
        let report = AuditReport {
            files: vec![AuditFile {
                path: "Foo.lean".into(),
                findings: static_findings("theorem t : 2 = 2 := by native_decide\n"),
            }],
            ..AuditReport::default()
        };
        assert_eq!(
            report.render_text(),
            "Foo.lean:1:25: in t: `native_decide` trusts the compiler (Lean.ofReduceBool), which the kernel cannot check; prefer `decide` or `norm_num`\n1 finding in 1 file\n"
        );
        assert_eq!(report.exit_status().code(), 1);
        assert_eq!(AuditReport::default().exit_status().code(), 0);
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
        assert_eq!(json["files"][0]["findings"][0]["kind"], "native_decide");
    }

    #[test]
    fn print_axioms_answers_are_read() {
        assert_eq!(
            parse_print_axioms("'flt' depends on axioms: [sorryAx]"),
            Some(PrintedAxioms {
                name: "flt".to_owned(),
                axioms: vec!["sorryAx".to_owned()]
            })
        );
        assert_eq!(
            parse_print_axioms("'Nat.add_comm' does not depend on any axioms"),
            Some(PrintedAxioms {
                name: "Nat.add_comm".to_owned(),
                axioms: vec![]
            })
        );
        assert_eq!(parse_print_axioms("unknown constant 'foo'"), None);
    }

    #[test]
    fn axioms_are_classified_by_seriousness() {
        let declaration = AuditDeclaration {
            name: "t".to_owned(),
            range: lsp_types::Range::default(),
        };
        let policy = AuditPolicy::default();
        let axioms = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            classify_axioms(&declaration, &axioms(&STANDARD_AXIOMS), &policy),
            None
        );
        let finding = classify_axioms(
            &declaration,
            &axioms(&["propext", "Lean.ofReduceBool", "sorryAx"]),
            &policy,
        )
        .expect("sorryAx is a finding");
        assert_eq!(finding.kind, FindingKind::DependsOnSorry);
        assert_eq!(finding.axioms, axioms(&["Lean.ofReduceBool", "sorryAx"]));
        let native = classify_axioms(
            &declaration,
            &axioms(&["false_theorem._native.native_decide.ax_1_1"]),
            &policy,
        )
        .expect("native axiom is a finding");
        assert_eq!(native.kind, FindingKind::TrustsCompiler);
        let custom = classify_axioms(
            &declaration,
            &axioms(&["Foo.cheat", "Lean.trustCompiler"]),
            &policy,
        )
        .expect("custom axiom is a finding");
        assert_eq!(custom.kind, FindingKind::NonStandardAxiom);
        let lenient = AuditPolicy {
            allow_native_decide: true,
            ..AuditPolicy::default()
        };
        assert_eq!(
            classify_axioms(&declaration, &axioms(&["Lean.ofReduceBool"]), &lenient),
            None
        );
    }
}
