//! The judgement after Lean: what Lean said about a shadow document decides the verdict.
//!
//! Every check here reads Lean's own answers, never our reading of the text:
//! - the declaration's bounds come from `textDocument/documentSymbol` (a declaration's `range`
//!   is its whole command syntax, protocol §6.6): exactly one declaration must start at the
//!   target, and from the end of Lean's range to our `#print axioms` there may be nothing but
//!   what Lean's own whitespace rules skip. So the candidate ended inside the declaration and no
//!   command starts between it and ours, whatever our lexer thinks of the text;
//! - the axioms come only from the message whose range is our `#print` token (Lean reports
//!   there, `withRef tk`), and only when it names exactly the target's full name;
//! - errors and the sorry warning count from the first byte the shadow changed.
//!
//! Invariant: a missing, ambiguous or unreadable answer rejects.

use std::ops::Range;

use lean_syntax::LineIndex;
use lsp_types::{DiagnosticSeverity, Position};
use serde_json::Value;

use super::gate::{
    GatePolicy, GateRejection, RejectReason, check_axioms_with_policy, is_sorry_warning,
    parse_print_axioms,
};
use super::splice::Shadow;
use crate::lean::LeanDiagnostic;

/// How strictly a shadow check judges Lean's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateMode {
    /// The whole gate: no error, no sorry warning, only allowed axioms. The user's other holes
    /// of the declaration are a nonce axiom in the shadow, allowed for that check alone.
    Full,
    /// A decomposer's sketch (or a step inside one): its own `sorry`s are expected, so the
    /// sorry warning and `sorryAx` are tolerated; any error still rejects and so does any other
    /// axiom. Such a verdict is never offered as a complete proof.
    Sketch,
}

/// What the judgement learned from an accepted check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The axioms the declaration depends on, as Lean printed them.
    pub axioms: Vec<String>,
    /// Lean's `Try this:` suggestion inside the proof, if any.
    pub suggestion: Option<String>,
}

/// Judges Lean's answers for the checked version of `shadow`: its diagnostics and its
/// `textDocument/documentSymbol` result.
pub fn judge(
    shadow: &Shadow,
    diagnostics: &[LeanDiagnostic],
    symbols: &Value,
    mode: GateMode,
    policy: &GatePolicy,
) -> Result<Judged, GateRejection> {
    // One line index of the shadow serves every conversion of this judgement.
    let lines = LineIndex::new(&shadow.text);
    judge_messages_with(shadow, &lines, diagnostics, symbols, mode)?;
    let position = |byte: usize| lines.lsp_position(byte);
    let offset = |at: Position| lines.lsp_offset(at);

    let print_token = position(shadow.print_offset)..position(shadow.print_offset + "#print".len());
    let reports: Vec<Vec<String>> = diagnostics
        .iter()
        .filter(|d| d.range.start == print_token.start && d.range.end == print_token.end)
        .filter(|d| !d.is_error())
        .filter_map(|d| print_axioms_report(&d.message, &shadow.full_name))
        .collect();
    let [axioms] = reports.as_slice() else {
        return Err(GateRejection::new(RejectReason::AxiomsUnknown));
    };
    let judged: Vec<String> = axioms
        .iter()
        .filter(|a| !shadow.extra_axioms.contains(a))
        .filter(|a| mode == GateMode::Full || *a != "sorryAx")
        .cloned()
        .collect();
    check_axioms_with_policy(&judged, policy)?;

    let proof = shadow.proof_span.clone();
    let suggestion = diagnostics
        .iter()
        .filter(|d| proof.contains(&offset(d.range.start)) || offset(d.range.start) == proof.end)
        .find_map(|d| try_this(&d.message));
    Ok(Judged {
        axioms: axioms.clone(),
        suggestion,
    })
}

/// Everything of [`judge`] but the axioms: no error and (in full mode) no sorry warning from
/// the first byte the shadow changed, and Lean's declaration symbols bound the candidate. For
/// a shadow whose axioms Lean reports elsewhere (a `module` on a release that refuses
/// `#print axioms` there).
pub fn judge_messages(
    shadow: &Shadow,
    diagnostics: &[LeanDiagnostic],
    symbols: &Value,
    mode: GateMode,
) -> Result<(), GateRejection> {
    judge_messages_with(
        shadow,
        &LineIndex::new(&shadow.text),
        diagnostics,
        symbols,
        mode,
    )
}

/// [`judge_messages`] with the line index of `shadow.text` already built.
fn judge_messages_with(
    shadow: &Shadow,
    lines: &LineIndex,
    diagnostics: &[LeanDiagnostic],
    symbols: &Value,
    mode: GateMode,
) -> Result<(), GateRejection> {
    let offset = |at: Position| lines.lsp_offset(at);

    // Errors and the sorry warning anywhere from the first byte the shadow changed: the text
    // before is the user's own, byte for byte.
    let ours = |d: &&LeanDiagnostic| offset(d.full_range().start) >= shadow.checked_from;
    if let Some(error) = diagnostics.iter().filter(ours).find(|d| d.is_error()) {
        return Err(GateRejection::new(RejectReason::LeanError {
            message: error.message.clone(),
            range: error.range,
        }));
    }
    if mode == GateMode::Full
        && diagnostics.iter().filter(ours).any(|d| {
            d.severity == Some(DiagnosticSeverity::WARNING) && is_sorry_warning(&d.message)
        })
    {
        return Err(GateRejection::new(RejectReason::SorryWarning));
    }

    check_bounds(shadow, symbols, &offset)
}

/// The axioms of a `#print axioms` message that names exactly `full_name` (a private
/// declaration prints as `_private.<module>.0.<full name>`).
fn print_axioms_report(message: &str, full_name: &str) -> Option<Vec<String>> {
    let quoted = message.trim().strip_prefix('\'')?;
    // A name may hold primes (`add_zero'`): it ends where Lean's sentence begins.
    let end = quoted
        .find("' depends on axioms:")
        .or_else(|| quoted.find("' does not depend on any axioms"))?;
    let printed = &quoted[..end];
    let exact = printed == full_name
        || (printed.starts_with("_private.") && printed.ends_with(&format!(".0.{full_name}")));
    if !exact {
        return None;
    }
    parse_print_axioms(message, printed)
}

/// Lean's declaration symbols must bound the candidate: exactly one declaration starts at the
/// target, nothing but Lean whitespace lies between its end and our `#print`, and no other
/// declaration starts in between.
fn check_bounds(
    shadow: &Shadow,
    symbols: &Value,
    offset: &dyn Fn(Position) -> usize,
) -> Result<(), GateRejection> {
    let escaped = |detail: String| GateRejection::new(RejectReason::StructureChanged { detail });
    let mut ranges = Vec::new();
    collect_symbol_ranges(symbols, &mut ranges);
    let spans: Vec<Range<usize>> = ranges
        .iter()
        .map(|(start, end)| offset(*start)..offset(*end))
        .collect();
    let target = shadow.declaration_span.start..shadow.keyword_offset + 1;
    let starting_here: Vec<&Range<usize>> = spans
        .iter()
        .filter(|span| target.contains(&span.start))
        .collect();
    let [declaration] = starting_here.as_slice() else {
        return Err(escaped(format!(
            "Lean sees {} declarations where the target starts, not one",
            starting_here.len()
        )));
    };
    if let Some(other) = spans.iter().find(|span| {
        span.start > declaration.start && span.start < shadow.print_offset && *span != *declaration
    }) {
        return Err(escaped(format!(
            "Lean sees another declaration starting inside the target, at byte {}",
            other.start
        )));
    }
    if declaration.end < shadow.proof_span.end
        || lean_whitespace_end(&shadow.text, declaration.end) != shadow.print_offset
    {
        return Err(escaped(
            "Lean ends the declaration before the end of the proof; the rest would be a command of its own"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Every `range` of a `DocumentSymbol[]` answer, children included.
fn collect_symbol_ranges(value: &Value, out: &mut Vec<(Position, Position)>) {
    match value {
        Value::Array(items) => {
            for item in items {
                collect_symbol_ranges(item, out);
            }
        }
        Value::Object(symbol) => {
            let position = |key: &str| -> Option<Position> {
                let at = symbol.get("range")?.get(key)?;
                Some(Position::new(
                    u32::try_from(at.get("line")?.as_u64()?).ok()?,
                    u32::try_from(at.get("character")?.as_u64()?).ok()?,
                ))
            };
            if let (Some(start), Some(end)) = (position("start"), position("end")) {
                out.push((start, end));
            }
            if let Some(children) = symbol.get("children") {
                collect_symbol_ranges(children, out);
            }
        }
        _ => {}
    }
}

/// Where Lean's whitespace parser stops when it starts at `from`: it skips spaces, newlines,
/// `--` line comments and nested `/- … -/` block comments, but not a doc comment (`/--`,
/// `/-!`), which is a token (`Lean.Parser.Basic`, `whitespace` and `finishCommentBlock`).
/// Written from Lean's function, without our lexer, so a lexer mistake cannot widen it.
pub fn lean_whitespace_end(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = from.min(bytes.len());
    loop {
        match bytes.get(at..at + 2) {
            _ if bytes.get(at).is_some_and(|b| matches!(b, b' ' | b'\n')) => at += 1,
            _ if bytes.get(at..at + 2) == Some(b"\r\n") => at += 2,
            Some(b"--") => {
                at = text[at..].find('\n').map_or(bytes.len(), |i| at + i);
            }
            Some(b"/-") if !matches!(bytes.get(at + 2), Some(b'-' | b'!')) => {
                let mut depth = 1usize;
                at += 2;
                while depth > 0 {
                    match bytes.get(at..at + 2) {
                        Some(b"-/") => {
                            depth -= 1;
                            at += 2;
                        }
                        Some(b"/-") => {
                            depth += 1;
                            at += 2;
                        }
                        _ if at < bytes.len() => at += 1,
                        // An unterminated comment: Lean reports an error there.
                        _ => return at,
                    }
                }
            }
            _ => return at,
        }
    }
}

/// The replacement of a `Try this: …` message (`Try this:\n  [apply] …` since Lean 4.25).
pub fn try_this(message: &str) -> Option<String> {
    let rest = message.trim().strip_prefix("Try this:")?.trim();
    let rest = rest.strip_prefix("[apply]").unwrap_or(rest).trim();
    (!rest.is_empty()).then(|| rest.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holes::HolePosition;
    use crate::verify::{shadow_text, splice};
    use serde_json::json;

    const SOURCE: &str =
        "theorem before : p := bad\n\ntheorem t (a : ℕ) : a = a := by\n  sorry -- todo\n";

    /// The shadow of `proof` spliced into `source`'s only hole, in its last declaration.
    fn shadow_of(source: &str, proof: &str) -> Shadow {
        let hole = source.find("sorry").expect("a hole");
        let start = source.rfind("theorem").expect("a declaration");
        let spliced = splice(source, hole..hole + 5, HolePosition::Tactic, proof).expect("splices");
        shadow_text(source, start..source.len(), &spliced, "n0").expect("builds")
    }

    fn range_json(text: &str, span: Range<usize>) -> Value {
        let index = LineIndex::new(text);
        let at = |byte: usize| {
            let p = index.position(byte);
            json!({"line": p.line, "character": p.character})
        };
        json!({"start": at(span.start), "end": at(span.end)})
    }

    /// What Lean's `documentSymbol` says when the target declaration's syntax is `span`.
    fn symbols(shadow: &Shadow, spans: &[Range<usize>]) -> Value {
        Value::Array(
            spans
                .iter()
                .map(|span| {
                    json!({"name": "t", "kind": 6, "range": range_json(&shadow.text, span.clone()),
                           "selectionRange": range_json(&shadow.text, span.clone())})
                })
                .collect(),
        )
    }

    fn message(
        shadow: &Shadow,
        span: Range<usize>,
        severity: DiagnosticSeverity,
        text: &str,
    ) -> LeanDiagnostic {
        LeanDiagnostic {
            range: LineIndex::new(&shadow.text).lsp_range(span),
            full_range: None,
            severity: Some(severity),
            message: text.to_owned(),
            is_silent: None,
            lean_tags: None,
            extra: serde_json::Map::new(),
        }
    }

    fn report(shadow: &Shadow, text: &str) -> LeanDiagnostic {
        let print = shadow.print_offset..shadow.print_offset + "#print".len();
        message(shadow, print, DiagnosticSeverity::INFORMATION, text)
    }

    /// Lean's syntax of the target: from its start to the end of its last token.
    fn lean_declaration(shadow: &Shadow) -> Range<usize> {
        let text = &shadow.text[..shadow.declaration_span.end];
        let code_end = text
            .rfind(" -- todo")
            .filter(|at| *at > shadow.proof_span.start)
            .unwrap_or(text.len());
        shadow.declaration_span.start..code_end
    }

    fn verdict(
        shadow: &Shadow,
        diagnostics: &[LeanDiagnostic],
        symbols: &Value,
    ) -> Result<Judged, RejectReason> {
        judge(
            shadow,
            diagnostics,
            symbols,
            GateMode::Full,
            &GatePolicy::default(),
        )
        .map_err(|rejection| rejection.reason)
    }

    #[test]
    fn a_clean_report_naming_the_target_on_our_print_token_verifies() {
        let shadow = shadow_of(SOURCE, "rfl");
        let bounds = symbols(&shadow, &[lean_declaration(&shadow)]);
        let clean = report(&shadow, "'t' depends on axioms: [propext]");
        let judged = verdict(&shadow, &[clean], &bounds).expect("verifies");
        assert_eq!(judged.axioms, ["propext"]);
    }

    #[test]
    fn a_declaration_lean_ends_before_the_proof_ends_is_rejected_without_any_error() {
        // The candidate pushed its first tactic right, so Lean ends the tactic block at the
        // next line at the hole's column: `open Evil` is a command of its own, and Lean
        // reports nothing at all about it.
        let shadow = shadow_of(SOURCE, "/- -/   skip\nopen Evil");
        let escape = shadow.text.find("open Evil").expect("spliced");
        let lean_end = shadow.text[..escape].trim_end().len();
        let lean_range = shadow.declaration_span.start..lean_end;
        let bounds = symbols(&shadow, std::slice::from_ref(&lean_range));
        let clean = report(&shadow, "'t' does not depend on any axioms");
        assert!(matches!(
            verdict(&shadow, &[clean], &bounds),
            Err(RejectReason::StructureChanged { .. })
        ));
    }

    #[test]
    fn a_second_declaration_or_none_at_the_target_is_rejected() {
        let shadow = shadow_of(SOURCE, "rfl");
        let clean = report(&shadow, "'t' does not depend on any axioms");
        let whole = lean_declaration(&shadow);
        let inner = shadow.proof_span.clone();
        for spans in [
            vec![],
            vec![whole.clone(), inner],
            vec![whole.clone(), whole],
        ] {
            assert!(
                matches!(
                    verdict(
                        &shadow,
                        std::slice::from_ref(&clean),
                        &symbols(&shadow, &spans)
                    ),
                    Err(RejectReason::StructureChanged { .. })
                ),
                "{spans:?}"
            );
        }
    }

    #[test]
    fn only_the_report_on_our_print_token_naming_exactly_the_target_counts() {
        let shadow = shadow_of(SOURCE, "rfl");
        let bounds = symbols(&shadow, &[lean_declaration(&shadow)]);
        let info = DiagnosticSeverity::INFORMATION;
        let in_proof = message(
            &shadow,
            shadow.proof_span.clone(),
            info,
            "'t' does not depend on any axioms",
        );
        let over_command = message(
            &shadow,
            shadow.print_offset..shadow.text.trim_end().len(),
            info,
            "'t' does not depend on any axioms",
        );
        for spoof in [
            in_proof,
            over_command,
            report(&shadow, "'Evil.t' does not depend on any axioms"),
            report(&shadow, "'t.t' does not depend on any axioms"),
        ] {
            assert_eq!(
                verdict(&shadow, std::slice::from_ref(&spoof), &bounds).map(|j| j.axioms),
                Err(RejectReason::AxiomsUnknown),
                "{}",
                spoof.message
            );
        }
        let private = report(
            &shadow,
            "'_private.Demo.Basic.0.t' depends on axioms: [propext]",
        );
        assert!(verdict(&shadow, &[private], &bounds).is_ok());
    }

    #[test]
    fn errors_and_sorry_count_from_the_target_on_and_not_before_it() {
        let shadow = shadow_of(SOURCE, "rfl");
        let bounds = symbols(&shadow, &[lean_declaration(&shadow)]);
        let clean = report(&shadow, "'t' does not depend on any axioms");
        let bad = shadow.text.find("bad").expect("present");
        let before = message(
            &shadow,
            bad..bad + 3,
            DiagnosticSeverity::ERROR,
            "unknown identifier 'bad'",
        );
        assert!(verdict(&shadow, &[before, clean.clone()], &bounds).is_ok());
        let name = shadow.keyword_offset + "theorem ".len();
        let sorry = message(
            &shadow,
            name..name + 1,
            DiagnosticSeverity::WARNING,
            "declaration uses `sorry`",
        );
        assert_eq!(
            verdict(&shadow, &[sorry.clone(), clean.clone()], &bounds).map(|j| j.axioms),
            Err(RejectReason::SorryWarning)
        );
        let sketch = judge(
            &shadow,
            &[sorry, report(&shadow, "'t' depends on axioms: [sorryAx]")],
            &bounds,
            GateMode::Sketch,
            &GatePolicy::default(),
        );
        assert!(sketch.is_ok(), "a sketch tolerates its own sorries");
        let error = message(
            &shadow,
            shadow.proof_span.clone(),
            DiagnosticSeverity::ERROR,
            "The rfl tactic failed",
        );
        assert!(matches!(
            verdict(&shadow, &[error, clean], &bounds),
            Err(RejectReason::LeanError { .. })
        ));
    }

    #[test]
    fn the_hole_axiom_is_allowed_for_its_check_but_sorry_never_is() {
        let source = "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  · sorry\n  · sorry\n";
        let shadow = shadow_of(source, "exact hp");
        let bounds = symbols(&shadow, std::slice::from_ref(&shadow.declaration_span));
        let with_hole = report(&shadow, "'t' depends on axioms: [_sorryfill_hole_n0]");
        assert!(verdict(&shadow, &[with_hole], &bounds).is_ok());
        let with_sorry = report(
            &shadow,
            "'t' depends on axioms: [_sorryfill_hole_n0, sorryAx]",
        );
        assert_eq!(
            verdict(&shadow, &[with_sorry], &bounds).map(|j| j.axioms),
            Err(RejectReason::Axiom {
                name: "sorryAx".into()
            })
        );
        let other_nonce = report(&shadow, "'t' depends on axioms: [_sorryfill_hole_n1]");
        assert!(verdict(&shadow, &[other_nonce], &bounds).is_err());
    }

    #[test]
    fn lean_whitespace_stops_at_code_and_doc_comments() {
        let text = "x  -- a\n /- b /- c -/ d -/\n#print";
        assert_eq!(lean_whitespace_end(text, 1), text.len() - "#print".len());
        assert_eq!(lean_whitespace_end("x /-- doc -/ y", 1), 2);
        assert_eq!(
            lean_whitespace_end("x //- y -/ z", 1),
            2,
            "`//` is a token, no comment"
        );
        assert_eq!(lean_whitespace_end("x \t y", 1), 2, "Lean refuses tabs");
    }

    #[test]
    fn try_this_in_both_spellings() {
        assert_eq!(
            try_this("Try this: exact Nat.le_refl n").as_deref(),
            Some("exact Nat.le_refl n")
        );
        assert_eq!(
            try_this("Try this:\n  [apply] exact h").as_deref(),
            Some("exact h")
        );
        assert_eq!(try_this("unsolved goals"), None);
    }
}
