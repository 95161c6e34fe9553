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
    GatePolicy, RejectReason, Rejection, check_axioms_with_policy, is_sorry_warning,
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
) -> Result<Judged, Rejection> {
    let text = shadow.text.as_str();
    let lines = LineIndex::new(text);
    let position = |byte: usize| {
        let at = lines.position(byte);
        Position::new(at.line, at.character)
    };
    let offset = |at: Position| lines.offset(lean_syntax::Position::new(at.line, at.character));

    // Errors and the sorry warning anywhere from the first byte the shadow changed: the text
    // before is the user's own, byte for byte.
    let ours = |d: &&LeanDiagnostic| offset(d.full_range().start) >= shadow.checked_from;
    if let Some(error) = diagnostics.iter().filter(ours).find(|d| d.is_error()) {
        return Err(Rejection::new(RejectReason::LeanError {
            message: error.message.clone(),
            range: error.range,
        }));
    }
    if mode == GateMode::Full
        && diagnostics.iter().filter(ours).any(|d| {
            d.severity == Some(DiagnosticSeverity::WARNING) && is_sorry_warning(&d.message)
        })
    {
        return Err(Rejection::new(RejectReason::SorryWarning));
    }

    check_bounds(shadow, symbols, &offset)?;

    let print_token = position(shadow.print_offset)..position(shadow.print_offset + "#print".len());
    let reports: Vec<Vec<String>> = diagnostics
        .iter()
        .filter(|d| d.range.start == print_token.start && d.range.end == print_token.end)
        .filter(|d| !d.is_error())
        .filter_map(|d| print_axioms_report(&d.message, &shadow.full_name))
        .collect();
    let [axioms] = reports.as_slice() else {
        return Err(Rejection::new(RejectReason::AxiomsUnknown));
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

/// The axioms of a `#print axioms` message that names exactly `full_name` (a private
/// declaration prints as `_private.<module>.0.<full name>`).
fn print_axioms_report(message: &str, full_name: &str) -> Option<Vec<String>> {
    let printed = message.trim().strip_prefix('\'')?;
    let printed = &printed[..printed.find('\'')?];
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
) -> Result<(), Rejection> {
    let escaped = |detail: String| Rejection::new(RejectReason::StructureChanged { detail });
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
