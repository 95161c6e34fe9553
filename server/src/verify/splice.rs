//! Splicing: putting a candidate proof body in place of a `sorry` or `admit` hole, and building
//! the shadow document Lean checks it in.
//!
//! Invariants:
//! - only the hole (or, for a multi-line block after `by`, the space between `by` and the hole)
//!   is replaced; every token before and after it lexes exactly as before, so a candidate
//!   cannot swallow the rest of the file with an open comment, string or line comment;
//! - the command structure ([`lean_syntax::outline`]) is unchanged: a candidate that ends the
//!   declaration early or opens a new command is rejected before Lean sees it. These two checks
//!   use our lexer and can only reject; whether the candidate stayed inside its declaration is
//!   decided from Lean's own answers (`super::judgement`);
//! - a hole whose declaration keeps other holes is filled by a focused block with a closing
//!   parenthesis of ours (`(· …)` for a tactic, `(by …)` for a term): Lean's parser, not ours,
//!   bounds the candidate, and the candidate can neither see nor close another goal;
//! - a term hole always gets a tactic block (`by …`): every candidate is a tactic proof;
//! - the statement cannot change, because only a proof body is ever spliced;
//! - every name the shadow adds carries a per-check nonce the candidate cannot guess.

use std::borrow::Cow;
use std::ops::Range;

use lean_syntax::{CommandKind, Outline, Token, TokenKind, lex, outline_tokens};

use super::gate::{GateRejection, RejectReason, SHADOW_NAME_PREFIX};
use crate::holes::{EXPANDABLE_IN_PREFIXES, HolePosition};

/// The document a candidate is spliced into, read once: its text, its tokens (`lex`) and its
/// holes (`holes::scan`). A version's snapshot provides all three, so the candidates of one
/// version share one reading of the document instead of each lexing it again.
#[derive(Debug, Clone)]
pub struct SourceText<'a> {
    text: &'a str,
    tokens: Cow<'a, [Token]>,
    holes: Cow<'a, [crate::holes::Hole]>,
}

impl<'a> SourceText<'a> {
    /// Reads `text`: lexes it and finds its holes.
    pub fn read(text: &'a str) -> Self {
        Self {
            text,
            tokens: Cow::Owned(lex(text)),
            holes: Cow::Owned(crate::holes::scan(text)),
        }
    }

    /// A reading done before: `tokens` must be `lex(text)` and `holes` `holes::scan(text)`.
    pub fn from_parts(text: &'a str, tokens: &'a [Token], holes: &'a [crate::holes::Hole]) -> Self {
        Self {
            text,
            tokens: Cow::Borrowed(tokens),
            holes: Cow::Borrowed(holes),
        }
    }

    /// The document's text.
    pub fn text(&self) -> &'a str {
        self.text
    }
}

/// A document with a candidate spliced in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spliced {
    /// The whole document text with the candidate in place.
    pub text: String,
    /// The byte range of the inserted text in `text`.
    pub proof_span: Range<usize>,
    /// The byte range of the original document that the inserted text replaced (the hole, or
    /// from the end of `by` to the end of the hole).
    pub replaced: Range<usize>,
    /// The declaration keeps other holes, so the candidate was spliced as a focused block.
    pub focused: bool,
    /// The byte range in `text` of each inserted proof (one, or several for
    /// [`splice_together`]); `proof_span` covers them all.
    pub filled: Vec<Range<usize>>,
}

impl Spliced {
    /// The inserted text: what an editor edit over `replaced` would insert.
    pub fn inserted(&self) -> &str {
        &self.text[self.proof_span.clone()]
    }
}

/// The text of a shadow document, ready for Lean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadow {
    /// The source's header and every command before the target byte for byte, the target with
    /// the candidate, and `#print axioms` for it.
    pub text: String,
    /// The target declaration's byte range in `text`: from its first byte (doc comment and
    /// modifiers included, an `… in` prefix not: that became sections) to its last
    /// non-whitespace byte.
    pub declaration_span: Range<usize>,
    /// Where the declaration's keyword starts in `text` (`theorem`, `def`, …).
    pub keyword_offset: usize,
    /// The first byte of `text` that differs from the source: everything before is the user's
    /// own text, so Lean's messages there are not the candidate's.
    pub checked_from: usize,
    /// The inserted proof's byte range in `text`.
    pub proof_span: Range<usize>,
    /// The target's full name, as Lean prints it in `#print axioms` (a nonce name for an
    /// `example` or an anonymous `instance`).
    pub full_name: String,
    /// Where the appended `#print axioms _root_.<full_name>` starts in `text`.
    pub print_offset: usize,
    /// Axioms this check alone allows: the nonce axiom that stands for the user's other holes
    /// of the declaration.
    pub extra_axioms: Vec<String>,
}

/// A fresh, unguessable nonce for the names of one check (128 bits from the standard library's
/// randomly keyed hasher, which is seeded from the operating system).
pub fn fresh_nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let half = |salt: u64| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(count);
        hasher.write_u64(salt);
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

fn structure_changed(detail: impl Into<String>) -> GateRejection {
    GateRejection::new(RejectReason::StructureChanged {
        detail: detail.into(),
    })
}

/// Splices `proof` in place of the `sorry` or `admit` at `hole_span` in `document`.
///
/// Layout (what a user would write by hand):
/// - a tactic hole: a leading `by` of the body is dropped; the first line replaces the hole and
///   later lines start at the hole's column. When the hole is the last thing on a line that
///   ends in `by` and the body has several lines, the block moves to its own lines, indented two
///   spaces more than the line of `by` (or than the first line of a statement it continues);
/// - a term hole: the body is a tactic block, so it becomes `by …` right after `:=` (on its
///   own lines when long) and `(by …)` anywhere else;
/// - a hole whose declaration keeps other holes (`sorry` or `admit`): `(· …)` for a tactic and
///   `(by …)` for a term, so the candidate works on its own goal only, must close it, and ends
///   at our `)`.
///
/// Bodies keep their relative indentation. A body whose first line was trimmed (no indentation
/// while every later line is indented) and is a complete line on its own (no open bracket, no
/// trailing `by`, `:=`, operator …) is read as a list of sibling tactics.
///
/// Rejects with [`RejectReason::StructureChanged`] when the tokens around the hole or the
/// command outline change, and with [`RejectReason::Empty`] for an empty body.
pub fn splice(
    document: &str,
    hole_span: Range<usize>,
    hole_position: HolePosition,
    proof: &str,
) -> Result<Spliced, GateRejection> {
    splice_in(&SourceText::read(document), hole_span, hole_position, proof)
}

/// [`splice`] into a document read before (a version's snapshot).
pub fn splice_in(
    source: &SourceText<'_>,
    hole_span: Range<usize>,
    hole_position: HolePosition,
    proof: &str,
) -> Result<Spliced, GateRejection> {
    let document = source.text;
    if !matches!(document.get(hole_span.clone()), Some("sorry" | "admit")) {
        return Err(structure_changed(format!(
            "the hole at bytes {}..{} is not a `sorry` or `admit` token of the document",
            hole_span.start, hole_span.end
        )));
    }
    let layout = HoleLayout::of(document, &source.tokens, &hole_span);
    let focused = !other_holes(&source.holes, &hole_span).is_empty();
    let body = strip_leading_by(proof);
    let (replaced, inserted) = match (focused, hole_position) {
        (true, HolePosition::Tactic) => layout_enclosed(&layout, &hole_span, "(· ", body)?,
        (true, HolePosition::Term) => layout_enclosed(&layout, &hole_span, "(by ", body)?,
        (false, HolePosition::Tactic) => layout_tactic(&layout, &hole_span, body)?,
        (false, HolePosition::Term) => layout_term(&layout, &hole_span, body)?,
    };
    let mut text = String::with_capacity(document.len() + inserted.len());
    text.push_str(&document[..replaced.start]);
    text.push_str(&inserted);
    text.push_str(&document[replaced.end..]);
    let proof_span = replaced.start..replaced.start + inserted.len();
    // The spliced text is lexed once, for both checks.
    let spliced_tokens = lex(&text);
    check_tokens_around(&source.tokens, &spliced_tokens, &replaced, &proof_span)?;
    check_outline(
        &outline_tokens(document, &source.tokens),
        &outline_tokens(&text, &spliced_tokens),
    )?;
    Ok(Spliced {
        text,
        filled: vec![proof_span.clone()],
        proof_span,
        replaced,
        focused,
    })
}

/// Several proofs spliced into one document at once, each laid out exactly as [`splice`] lays
/// it out alone (so the text is what the editor or `prove --write` would write), for checking
/// them together. `fills` are (hole span, kind, proof) of the original document.
pub fn splice_together(
    document: &str,
    fills: &[(Range<usize>, HolePosition, &str)],
) -> Result<Spliced, GateRejection> {
    splice_together_in(&SourceText::read(document), fills)
}

/// [`splice_together`] into a document read before (a version's snapshot).
pub fn splice_together_in(
    source: &SourceText<'_>,
    fills: &[(Range<usize>, HolePosition, &str)],
) -> Result<Spliced, GateRejection> {
    let document = source.text;
    let mut edits: Vec<(Range<usize>, String, bool)> = Vec::with_capacity(fills.len());
    for (hole, kind, proof) in fills {
        let one = splice_in(source, hole.clone(), *kind, proof)?;
        edits.push((one.replaced.clone(), one.inserted().to_owned(), one.focused));
    }
    edits.sort_by_key(|(range, _, _)| range.start);
    if edits.windows(2).any(|pair| pair[0].0.end > pair[1].0.start) {
        return Err(structure_changed("two proofs replace overlapping text"));
    }
    let mut text = String::with_capacity(document.len());
    let mut filled = Vec::with_capacity(edits.len());
    let mut copied = 0;
    for (range, inserted, _) in &edits {
        text.push_str(&document[copied..range.start]);
        filled.push(text.len()..text.len() + inserted.len());
        text.push_str(inserted);
        copied = range.end;
    }
    text.push_str(&document[copied..]);
    let (Some(first), Some(last)) = (filled.first(), filled.last()) else {
        return Err(GateRejection::new(RejectReason::Empty));
    };
    let (Some(first_replaced), Some(last_replaced)) = (edits.first(), edits.last()) else {
        return Err(GateRejection::new(RejectReason::Empty));
    };
    check_outline(
        &outline_tokens(document, &source.tokens),
        &outline_tokens(&text, &lex(&text)),
    )?;
    Ok(Spliced {
        proof_span: first.start..last.end,
        replaced: first_replaced.0.start..last_replaced.0.end,
        focused: edits.iter().any(|(_, _, focused)| *focused),
        filled,
        text,
    })
}

/// The user's other holes in the declaration of the hole at `hole_span` (every `sorry` or
/// `admit` token our lexer sees, statements included), from all the document's `holes`. A hole
/// our lexer misses stays `sorry` in the shadow, where `sorryAx` rejects the check: a lexer
/// mistake can only cause a rejection.
fn other_holes<'h>(
    holes: &'h [crate::holes::Hole],
    hole_span: &Range<usize>,
) -> Vec<&'h crate::holes::Hole> {
    let Some(command) = holes
        .iter()
        .find(|hole| hole.span == *hole_span)
        .map(|hole| hole.command)
    else {
        return Vec::new();
    };
    holes
        .iter()
        .filter(|hole| hole.command == command && hole.span != *hole_span)
        .collect()
}

/// The column where a line's content starts: after its spaces and a leading bullet `· `, since
/// a block under `· have h : p := by` is indented relative to `have`.
fn content_column(line: &str) -> usize {
    let spaces = line.chars().take_while(|c| *c == ' ').count();
    let rest: String = line.chars().skip(spaces).collect();
    match rest.strip_prefix("· ").or_else(|| rest.strip_prefix(". ")) {
        Some(after_bullet) => {
            spaces + rest.chars().count() - after_bullet.trim_start().chars().count()
        }
        None => spaces,
    }
}

/// The hole's surroundings on its line.
struct HoleLayout<'a> {
    /// Column (in characters, Lean's convention) of the hole.
    column: usize,
    /// Indentation of the hole's line, a leading bullet counted as indentation.
    line_indent: usize,
    /// Text of the line before the hole.
    before: &'a str,
    /// Text of the line after the hole.
    after: &'a str,
    /// Byte offset where the hole's line starts.
    line_start: usize,
    /// The whole document.
    document: &'a str,
    /// Its tokens.
    tokens: &'a [Token],
}

impl<'a> HoleLayout<'a> {
    fn of(document: &'a str, tokens: &'a [Token], hole: &Range<usize>) -> Self {
        let line_start = document[..hole.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = document[hole.end..]
            .find('\n')
            .map_or(document.len(), |i| hole.end + i);
        let before = &document[line_start..hole.start];
        Self {
            column: before.chars().count(),
            line_indent: content_column(before),
            before,
            after: &document[hole.end..line_end],
            line_start,
            document,
            tokens,
        }
    }

    /// The indentation a new block under this line is relative to: the line's own, unless the
    /// line continues a statement begun on a less indented line (`theorem t (a : ℕ)\n    (h :
    /// …) : … := by sorry`), in which case that line's. A line after one ending in `by`, `:=`,
    /// `=>` or `where`, or after a more indented block, begins something new and keeps its own.
    fn block_indent(&self) -> usize {
        let indent_of = |line: &str| line.chars().take_while(|c| *c == ' ').count();
        let begins_block = |line: &str| {
            ["by", ":=", "=>", "where", "do", "then", "else"]
                .iter()
                .any(|opener| line.ends_with(opener))
        };
        let earlier = self.document[..self.line_start]
            .lines()
            .rev()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
        // Walk back over lines at the same indentation (siblings or continuation lines) to the
        // first less indented line.
        if let Some(indent) = self.declaration_indent() {
            return indent;
        }
        let starts_with_bullet = matches!(self.before.trim_start().chars().next(), Some('·' | '.'));
        if starts_with_bullet {
            // A bullet always starts a new tactic; it continues nothing.
            return self.line_indent;
        }
        let mut current = self.line_indent;
        for line in earlier {
            if begins_block(line) {
                return current;
            }
            let indent = indent_of(line);
            if indent > current {
                // A nested block ended just above: the current line starts something new.
                return current;
            }
            // A less indented line that opens nothing: the current line continues it.
            current = indent;
        }
        current
    }

    /// When the `by` before the hole is the declaration's own `:= by` (the first `:=` outside
    /// brackets), the indentation of the line with the declaration's keyword.
    fn declaration_indent(&self) -> Option<usize> {
        let by_end = self.after_trailing_by()?;
        let tokens = self.tokens;
        let commands = outline_tokens(self.document, tokens).commands;
        let command = commands.iter().find(|c| c.span.contains(&by_end))?;
        let mut depth = 0i32;
        let mut assignments = 0;
        for token in tokens
            .iter()
            .filter(|t| t.span.start >= command.span.start && t.span.end <= by_end)
            .filter(|t| t.kind == TokenKind::Symbol)
        {
            match token.text(self.document) {
                "(" | "[" | "{" | "⟨" | "⦃" => depth += 1,
                ")" | "]" | "}" | "⟩" | "⦄" => depth -= 1,
                ":=" if depth == 0 => assignments += 1,
                _ => {}
            }
        }
        if assignments != 1 {
            return None;
        }
        let keyword_at = tokens
            .iter()
            .find(|t| {
                t.span.start >= command.span.start && t.text(self.document) == command.keyword
            })?
            .span
            .start;
        let line_start = self.document[..keyword_at].rfind('\n').map_or(0, |i| i + 1);
        Some(content_column(&self.document[line_start..keyword_at]))
    }

    /// Nothing but whitespace or a line comment follows the hole on its line.
    fn ends_line(&self) -> bool {
        let rest = self.after.trim_start();
        rest.is_empty() || rest.starts_with("--")
    }

    /// The byte offset just after a `by` that ends the text before the hole.
    fn after_trailing_by(&self) -> Option<usize> {
        let trimmed = self.before.trim_end();
        let head = trimmed.strip_suffix("by")?;
        let separated = head.is_empty() || head.ends_with(|c: char| c.is_whitespace() || c == '(');
        separated.then(|| self.line_start + trimmed.len())
    }

    /// The hole stands right after `:=` (on its line, or alone on a line).
    fn after_assignment(&self) -> bool {
        let trimmed = self.before.trim_end();
        trimmed.ends_with(":=") || trimmed.is_empty()
    }
}

fn layout_tactic(
    layout: &HoleLayout<'_>,
    hole: &Range<usize>,
    proof: &str,
) -> Result<(Range<usize>, String), GateRejection> {
    let lines = body_lines(proof)?;
    if lines.len() > 1
        && layout.ends_line()
        && let Some(by_end) = layout.after_trailing_by()
    {
        let indent = layout.block_indent() + 2;
        let mut text = String::new();
        for line in &lines {
            text.push('\n');
            push_indented(&mut text, line, indent);
        }
        return Ok((by_end..hole.end, text));
    }
    Ok((hole.clone(), place(&lines, layout.column)))
}

fn layout_term(
    layout: &HoleLayout<'_>,
    hole: &Range<usize>,
    body: &str,
) -> Result<(Range<usize>, String), GateRejection> {
    if !(layout.after_assignment() && layout.ends_line()) {
        return layout_enclosed(layout, hole, "(by ", body);
    }
    let lines = body_lines(body)?;
    let text = if lines.len() == 1 {
        format!("by {}", lines[0])
    } else {
        let mut text = String::from("by");
        for line in &lines {
            text.push('\n');
            push_indented(&mut text, line, layout.line_indent + 2);
        }
        text
    };
    Ok((hole.clone(), text))
}

/// `opener` (`(· ` or `(by `), the body lined up after it, and our closing `)`; on a line of
/// its own when the body ends in a line comment, which would swallow it.
fn layout_enclosed(
    layout: &HoleLayout<'_>,
    hole: &Range<usize>,
    opener: &str,
    body: &str,
) -> Result<(Range<usize>, String), GateRejection> {
    let lines = body_lines(body)?;
    let column = layout.column + opener.chars().count();
    let mut text = String::from(opener);
    text.push_str(&place(&lines, column));
    let ends_in_comment = lex(&text)
        .iter()
        .rev()
        .find(|t| t.kind != TokenKind::Whitespace)
        .is_some_and(|t| t.kind == TokenKind::LineComment);
    if ends_in_comment {
        text.push('\n');
        text.extend(std::iter::repeat_n(' ', layout.column));
    }
    text.push(')');
    Ok((hole.clone(), text))
}

/// The first line as is, later lines at `column` plus their own relative indentation.
fn place(lines: &[String], column: usize) -> String {
    let mut text = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            text.push_str(line);
        } else {
            text.push('\n');
            push_indented(&mut text, line, column);
        }
    }
    text
}

fn push_indented(text: &mut String, line: &str, indent: usize) {
    if !line.is_empty() {
        text.extend(std::iter::repeat_n(' ', indent));
        text.push_str(line);
    }
}

/// Drops a leading `by` (and the whitespace after it) from a body.
fn strip_leading_by(proof: &str) -> &str {
    let trimmed = proof.trim_start();
    match trimmed.strip_prefix("by") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest,
        _ => proof,
    }
}

/// The body's lines, trailing whitespace and surrounding blank lines removed, dedented so the
/// least indented line starts at column 0 (see [`splice`] for a trimmed first line).
fn body_lines(proof: &str) -> Result<Vec<String>, GateRejection> {
    let lines: Vec<&str> = proof.lines().map(str::trim_end).collect();
    let first = lines.iter().position(|l| !l.is_empty());
    let last = lines.iter().rposition(|l| !l.is_empty());
    let (Some(first), Some(last)) = (first, last) else {
        return Err(GateRejection::new(RejectReason::Empty));
    };
    let lines = &lines[first..=last];
    let indent = |line: &str| line.chars().take_while(|c| *c == ' ').count();
    let later_min = lines[1..]
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| indent(l))
        .min();
    let all_min = lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| indent(l))
        .min()
        .unwrap_or(0);
    let first_trimmed_sibling =
        indent(lines[0]) == 0 && later_min.is_some_and(|k| k > 0) && line_is_complete(lines[0]);
    let later_dedent = if first_trimmed_sibling {
        later_min.unwrap_or(0)
    } else {
        all_min
    };
    Ok(lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let dedent = if i == 0 { all_min } else { later_dedent };
            line.chars().skip(dedent.min(indent(line))).collect()
        })
        .collect())
}

/// A line that neither opens a block (`·`, `case`, `calc` …), nor leaves a bracket open, nor ends
/// in something that continues on the next line (`by`, `:=`, `=>`, an operator, `fun`, …).
fn line_is_complete(line: &str) -> bool {
    let tokens = lex(line);
    // A bullet, `case`, `next` or `calc` line owns the more indented lines below it.
    let opens_block = tokens
        .iter()
        .find(|t| t.kind != TokenKind::Whitespace)
        .is_some_and(|t| matches!(t.text(line), "·" | "." | "case" | "next" | "calc" | "match"));
    if opens_block {
        return false;
    }
    let mut depth = 0i32;
    let mut last: Option<&Token> = None;
    for token in &tokens {
        if token.kind == TokenKind::Whitespace || token.is_comment() {
            continue;
        }
        match token.text(line) {
            "(" | "[" | "{" | "⟨" | "@[" | "⦃" => depth += 1,
            ")" | "]" | "}" | "⟩" | "⦄" => depth -= 1,
            _ => {}
        }
        last = Some(token);
    }
    let Some(last) = last else {
        return true;
    };
    let text = last.text(line);
    let continues = match last.kind {
        TokenKind::Symbol => !matches!(text, ")" | "]" | "}" | "⟩" | "⦄"),
        TokenKind::Ident => matches!(
            text,
            "by" | "calc" | "with" | "from" | "fun" | "then" | "else" | "do" | "at" | "using"
        ),
        _ => false,
    };
    depth == 0 && !continues
}

/// Every token before the replaced range and after it lexes exactly as in the original
/// (`original` and `spliced` are the tokens of the document and of the spliced text).
fn check_tokens_around(
    original: &[Token],
    spliced: &[Token],
    replaced: &Range<usize>,
    proof_span: &Range<usize>,
) -> Result<(), GateRejection> {
    let straddles = |t: &Token, at: usize| t.span.start < at && at < t.span.end;
    if let Some(token) = spliced
        .iter()
        .find(|t| straddles(t, proof_span.start) || straddles(t, proof_span.end))
    {
        let what = match token.kind {
            TokenKind::BlockComment | TokenKind::DocComment | TokenKind::ModuleDoc => {
                "a comment runs across the edge of the proof"
            }
            TokenKind::LineComment => "a line comment swallows the rest of the line",
            TokenKind::String | TokenKind::Char => "a string runs across the edge of the proof",
            _ => "a token of the proof merges with the text around it",
        };
        return Err(structure_changed(what));
    }
    let significant = |t: &&Token| t.kind != TokenKind::Whitespace;
    let before_original = original
        .iter()
        .filter(significant)
        .take_while(|t| t.span.end <= replaced.start);
    let before_spliced = spliced
        .iter()
        .filter(significant)
        .take_while(|t| t.span.end <= proof_span.start);
    if !before_original.eq(before_spliced) {
        return Err(structure_changed(
            "the text before the proof lexes differently",
        ));
    }
    let shift = |t: &Token| (t.kind, t.span.start - replaced.end, t.in_quotation);
    let after_original = original
        .iter()
        .filter(significant)
        .filter(|t| t.span.start >= replaced.end)
        .map(shift);
    let shift_spliced = |t: &Token| (t.kind, t.span.start - proof_span.end, t.in_quotation);
    let after_spliced = spliced
        .iter()
        .filter(significant)
        .filter(|t| t.span.start >= proof_span.end)
        .map(shift_spliced);
    if !after_original.eq(after_spliced) {
        return Err(structure_changed(
            "the text after the proof lexes differently (an unclosed comment, string or quotation?)",
        ));
    }
    Ok(())
}

/// The same commands, with the same keywords and names, in the same order.
fn check_outline(original: &Outline, spliced: &Outline) -> Result<(), GateRejection> {
    for (index, (was, now)) in original.commands.iter().zip(&spliced.commands).enumerate() {
        let was_name = was.name.as_ref().map(|(n, _)| n.as_str());
        let now_name = now.name.as_ref().map(|(n, _)| n.as_str());
        if was.keyword != now.keyword || was_name != now_name {
            return Err(structure_changed(format!(
                "command {} was `{}{}` and is now `{}{}`",
                index + 1,
                was.keyword,
                was_name.map(|n| format!(" {n}")).unwrap_or_default(),
                now.keyword,
                now_name.map(|n| format!(" {n}")).unwrap_or_default(),
            )));
        }
    }
    if original.commands.len() != spliced.commands.len() {
        let added = spliced.commands.len() as i64 - original.commands.len() as i64;
        let detail = match spliced.commands.get(original.commands.len()) {
            Some(extra) if added > 0 => {
                format!("the proof starts a new command `{}`", extra.keyword)
            }
            _ => format!(
                "the file had {} commands and now has {}",
                original.commands.len(),
                spliced.commands.len()
            ),
        };
        return Err(structure_changed(detail));
    }
    Ok(())
}

/// Builds the shadow document for checking `spliced`: the text up to the end of the target
/// declaration (whose span in the original `document` is `target`), then
/// `#print axioms _root_.<full name>`.
///
/// Names the shadow adds carry `nonce`: an `example` becomes `noncomputable def
/// _sorryfill_example_<nonce>` and an anonymous `instance` gets the name
/// `_sorryfill_instance_<nonce>`, so that its axioms can be printed and Lean lists it as a
/// symbol; `noncomputable` because an `example` is never compiled either. The user's other
/// holes of the declaration become the axiom `_sorryfill_hole_<nonce>`, declared just before
/// the declaration and allowed for this check alone (see [`Shadow::extra_axioms`]). A
/// declaration under `open Foo in` (or another of [`EXPANDABLE_IN_PREFIXES`]) is written as
/// Lean expands it, `section open Foo … end`, with the `#print` inside.
pub fn shadow_text(
    document: &str,
    target: Range<usize>,
    spliced: &Spliced,
    nonce: &str,
) -> Result<Shadow, GateRejection> {
    let grown = spliced.text.len() as isize - document.len() as isize;
    let target_end = target.end.checked_add_signed(grown).unwrap_or(0);
    let inside = target.start <= spliced.proof_span.start && spliced.proof_span.end <= target_end;
    if !inside || target_end > spliced.text.len() {
        return Err(structure_changed(
            "the proof is not inside the target declaration",
        ));
    }
    let source = &spliced.text[..target_end];
    let tokens = lex(source);
    let outline = lean_syntax::outline_tokens(source, &tokens);
    let Some((index, command)) = outline
        .commands
        .iter()
        .enumerate()
        .find(|(_, c)| c.span.start == target.start)
    else {
        return Err(structure_changed(
            "the target is not a command of the document",
        ));
    };
    if command.kind != CommandKind::Declaration {
        return Err(structure_changed(format!(
            "the target `{}` is not a declaration",
            command.keyword
        )));
    }
    let keyword_token = tokens
        .iter()
        .find(|t| t.span.start >= command.span.start && t.text(source) == command.keyword)
        .ok_or_else(|| structure_changed("the target declaration has no keyword"))?;
    let prefix_tokens: Vec<&str> = tokens
        .iter()
        .filter(|t| {
            t.span.start >= command.span.start
                && t.span.end <= keyword_token.span.start
                && t.kind == TokenKind::Ident
        })
        .map(|t| t.text(source))
        .collect();
    let mut scopes = lean_syntax::Scopes::default();
    for earlier in &outline.commands[..index] {
        scopes.step(earlier);
    }

    // Edits inside the declaration, as (range in `source`, replacement).
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    // Lean gives a declaration under `cmd in` no symbol, so the judgement could not bound it.
    // Lean expands `cmd in decl` to `section cmd decl end` (`expandInCmd`); the shadow writes
    // that expansion out, and our `#print` goes before its `end`s.
    let (prefixes, inner_start) = lean_syntax::in_prefixes(source, command);
    if let Some(prefix) = prefixes
        .iter()
        .find(|prefix| !EXPANDABLE_IN_PREFIXES.contains(&prefix.keyword.as_str()))
    {
        return Err(structure_changed(format!(
            "the declaration is under `{} … in`, which sorryfill cannot check",
            prefix.keyword
        )));
    }
    if !prefixes.is_empty() {
        let mut sections = String::new();
        for prefix in &prefixes {
            sections.push_str("section\n");
            sections.push_str(&source[prefix.command.clone()]);
            sections.push('\n');
        }
        edits.push((command.span.start..inner_start, sections));
    }
    // Mathlib's `lemma` and compfiles' `problem` are `theorem` under a syntax of their own,
    // but Lean lists a declaration as a symbol only when its syntax is a `declaration`
    // (lean4#10190): without this the judgement could bound neither. The shadow spells each
    // as the `theorem` it elaborates as.
    if SPELLED_AS_THEOREM.contains(&command.keyword.as_str()) {
        edits.push((keyword_token.span.clone(), "theorem".to_owned()));
    }
    let name = match (&command.name, command.keyword.as_str()) {
        (Some((name, _)), _) => name.clone(),
        (None, "example") => {
            let name = format!("{SHADOW_NAME_PREFIX}example_{nonce}");
            let modifier = if prefix_tokens.contains(&"noncomputable") {
                ""
            } else {
                "noncomputable "
            };
            edits.push((keyword_token.span.clone(), format!("{modifier}def {name}")));
            name
        }
        (None, "instance") => {
            let name = format!("{SHADOW_NAME_PREFIX}instance_{nonce}");
            let at = instance_name_position(source, &tokens, keyword_token);
            edits.push((at..at, format!(" {name}")));
            name
        }
        (None, keyword) => {
            return Err(structure_changed(format!(
                "the target `{keyword}` has no name to print axioms for"
            )));
        }
    };
    let full_name = scopes.qualify(&name);

    // The user's other holes stand for goals the candidate must not touch: in the shadow they
    // become a nonce axiom (allowed for this check only), so `sorryAx` never has to be.
    let hole_axiom = format!("{SHADOW_NAME_PREFIX}hole_{nonce}");
    let mut replaced_holes = false;
    for hole in crate::holes::scan(source) {
        let in_target = hole.span.start >= command.span.start && hole.span.end <= target_end;
        let in_proof = spliced
            .filled
            .iter()
            .any(|filled| hole.span.start < filled.end && filled.start < hole.span.end);
        if !in_target || in_proof {
            continue;
        }
        let replacement = match hole.position {
            HolePosition::Tactic => format!("exact {hole_axiom}"),
            HolePosition::Term => hole_axiom.clone(),
        };
        edits.push((hole.span.clone(), replacement));
        replaced_holes = true;
    }
    edits.sort_by_key(|(range, _)| range.start);

    let mut declaration = String::with_capacity(source.len() - command.span.start + 64);
    let mut copied = command.span.start;
    let mut shift_at = Vec::with_capacity(edits.len());
    for (range, replacement) in &edits {
        declaration.push_str(&source[copied..range.start]);
        declaration.push_str(replacement);
        copied = range.end;
        shift_at.push((range.end, replacement.len() as isize - range.len() as isize));
    }
    declaration.push_str(&source[copied..]);
    let declaration = declaration.trim_end();

    let mut text = String::with_capacity(target_end + declaration.len() + 256);
    text.push_str(&source[..command.span.start]);
    let mut extra_axioms = Vec::new();
    if replaced_holes {
        text.push_str(&format!(
            "axiom _root_.{hole_axiom}.{{sorryfill_u}} {{α : Sort sorryfill_u}} : α\n\n"
        ));
        extra_axioms.push(hole_axiom);
    }
    let declaration_start = text.len();
    let moved = |offset: usize| {
        let shift: isize = shift_at
            .iter()
            .filter(|(end, _)| *end <= offset)
            .map(|(_, delta)| delta)
            .sum();
        (offset + declaration_start - command.span.start).saturating_add_signed(shift)
    };
    text.push_str(declaration);
    let declaration_end = text.len();
    text.push_str("\n\n");
    let print_offset = text.len();
    text.push_str("#print axioms _root_.");
    text.push_str(&full_name);
    text.push('\n');
    for _ in &prefixes {
        text.push_str("end\n");
    }
    let keyword_offset = if command.keyword == "example" && command.name.is_none() {
        // `example` became `[noncomputable ]def NAME`: the keyword is `def`.
        let start = moved(keyword_token.span.start);
        text[start..].find("def ").map_or(start, |at| start + at)
    } else {
        moved(keyword_token.span.start)
    };
    Ok(Shadow {
        checked_from: command.span.start,
        declaration_span: moved(inner_start)..declaration_end,
        keyword_offset,
        proof_span: moved(spliced.proof_span.start)..moved(spliced.proof_span.end),
        full_name,
        print_offset,
        extra_axioms,
        text,
    })
}

/// Declaration keywords of a syntax of their own that elaborate as `theorem`.
const SPELLED_AS_THEOREM: &[&str] = &["lemma", "problem"];

/// After `instance` and an optional `(priority := …)`.
fn instance_name_position(source: &str, tokens: &[Token], keyword: &Token) -> usize {
    let mut after = tokens
        .iter()
        .skip_while(|t| t.span.start < keyword.span.end)
        .filter(|t| t.kind != TokenKind::Whitespace && !t.is_comment());
    let Some(first) = after.next() else {
        return keyword.span.end;
    };
    if first.text(source) != "(" {
        return keyword.span.end;
    }
    let mut depth = 1usize;
    for token in after {
        match token.text(source) {
            "(" => depth += 1,
            ")" => {
                depth -= 1;
                if depth == 0 {
                    return token.span.end;
                }
            }
            _ => {}
        }
    }
    keyword.span.end
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn hole(document: &str, nth: usize) -> Range<usize> {
        let start = document
            .match_indices("sorry")
            .nth(nth)
            .map(|(i, _)| i)
            .expect("the test document has this sorry");
        start..start + "sorry".len()
    }

    fn spliced(document: &str, kind: HolePosition, proof: &str) -> Result<String, RejectReason> {
        splice(document, hole(document, 0), kind, proof)
            .map(|s| s.text)
            .map_err(|r| r.reason)
    }

    #[test]
    fn a_tactic_block_lines_up_with_the_hole() {
        let doc =
            "theorem t (p : Prop) (h : p) : p ∧ p := by\n  constructor\n  · sorry\n  · exact h\n";
        let text = spliced(doc, HolePosition::Tactic, "have h' := h\nexact h'").expect("splices");
        assert_eq!(
            text,
            "theorem t (p : Prop) (h : p) : p ∧ p := by\n  constructor\n  · have h' := h\n    exact h'\n  · exact h\n"
        );
    }

    #[test]
    fn a_multi_line_block_after_by_moves_to_its_own_lines() {
        let doc = "theorem t : 1 + 1 = 2 := by sorry\n\ntheorem u : True := trivial\n";
        let text = spliced(doc, HolePosition::Tactic, "by\n  norm_num\n  done").expect("splices");
        assert_eq!(
            text,
            "theorem t : 1 + 1 = 2 := by\n  norm_num\n  done\n\ntheorem u : True := trivial\n"
        );
    }

    #[test]
    fn a_block_after_a_bullet_or_a_long_statement_is_indented_as_by_hand() {
        let bullet = "theorem t (p : Prop) (h : p) : p ∧ p := by\n  constructor\n  · have h' : p := by sorry\n    exact h'\n  · exact h\n";
        let text = spliced(bullet, HolePosition::Tactic, "have := h\nexact this").expect("splices");
        assert!(
            text.contains("  · have h' : p := by\n      have := h\n      exact this\n    exact h'"),
            "{text}"
        );
        let long = "theorem t (a : ℕ)\n    (h : a = 1)\n    (h' : a = 1) : a = 1 := by sorry\n";
        let text = spliced(long, HolePosition::Tactic, "subst h\nrfl").expect("splices");
        assert!(text.ends_with(":= by\n  subst h\n  rfl\n"), "{text}");
    }

    #[test]
    fn a_trimmed_first_line_is_read_as_a_sibling() {
        let doc = "example : True ∧ True := by\n  sorry\n";
        let text = spliced(
            doc,
            HolePosition::Tactic,
            "constructor\n  · trivial\n  · trivial",
        )
        .expect("splices");
        assert_eq!(
            text,
            "example : True ∧ True := by\n  constructor\n  · trivial\n  · trivial\n"
        );
        let open = "nlinarith [sq_nonneg (a - b),\n  sq_nonneg (a + b)]";
        let text = spliced(doc, HolePosition::Tactic, open).expect("splices");
        assert!(text.contains("(a - b),\n    sq_nonneg"), "{text}");
    }

    #[test]
    fn a_term_hole_gets_parentheses_unless_it_stands_alone() {
        let doc = "theorem t (h : 0 < 1) : 0 < 1 ∧ True := ⟨sorry, trivial⟩\n";
        assert_eq!(
            spliced(doc, HolePosition::Term, "by omega").expect("splices"),
            "theorem t (h : 0 < 1) : 0 < 1 ∧ True := ⟨(by omega), trivial⟩\n"
        );
        assert_eq!(
            spliced(doc, HolePosition::Term, "exact h").expect("splices"),
            "theorem t (h : 0 < 1) : 0 < 1 ∧ True := ⟨(by exact h), trivial⟩\n"
        );
        let alone = "theorem t (p : Prop) (h : p) : p :=\n  sorry\n";
        assert_eq!(
            spliced(alone, HolePosition::Term, "by\n  have := h\n  exact this").expect("splices"),
            "theorem t (p : Prop) (h : p) : p :=\n  by\n    have := h\n    exact this\n"
        );
        let inline = "theorem t (p : Prop) (h : p) : p := sorry\n";
        assert_eq!(
            spliced(inline, HolePosition::Term, "exact id h").expect("splices"),
            "theorem t (p : Prop) (h : p) : p := by exact id h\n"
        );
    }

    #[test]
    fn a_term_hole_gets_a_tactic_block_never_a_bare_tactic() {
        let doc = "theorem t (n : ℕ) : n + 0 = n := sorry\n";
        assert_eq!(
            spliced(doc, HolePosition::Term, "omega").expect("splices"),
            "theorem t (n : ℕ) : n + 0 = n := by omega\n"
        );
    }

    #[test]
    fn an_admit_hole_is_filled_like_a_sorry() {
        let doc = "theorem t : True := by\n  admit\n";
        let at = doc.find("admit").expect("present");
        let result = splice(doc, at..at + 5, HolePosition::Tactic, "trivial").expect("splices");
        assert_eq!(result.text, "theorem t : True := by\n  trivial\n");
    }

    #[test]
    fn a_hole_beside_other_holes_gets_a_focused_block_closed_by_our_parenthesis() {
        let doc = "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  · sorry\n  · admit\n";
        let result = splice(
            doc,
            hole(doc, 0),
            HolePosition::Tactic,
            "have h := hp\nexact h",
        )
        .expect("splices");
        assert!(result.focused);
        assert!(
            result
                .text
                .contains("  · (· have h := hp\n       exact h)\n  · admit\n"),
            "{}",
            result.text
        );
        let term = "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := ⟨sorry, sorry⟩\n";
        let result =
            splice(term, hole(term, 0), HolePosition::Term, "exact hp -- done").expect("splices");
        let column = term[..hole(term, 0).start].chars().count();
        assert_eq!(
            result.text,
            format!(
                "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := ⟨(by exact hp -- done\n{}), sorry⟩\n",
                " ".repeat(column)
            ),
            "a line comment would swallow our parenthesis"
        );
    }

    #[test]
    fn splicing_into_an_edited_versions_snapshot_is_splicing_into_its_text() {
        let v1 = "theorem a : True := by\n  sorry\n\ntheorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  · sorry\n  · exact hq\n";
        // The second version is indexed from the first, as the editor session does.
        let v2 = v1.replace("  · exact hq\n", "  · admit\n");
        let snapshot = crate::holes::DocumentSnapshot::new(1, v1).next(2, &v2);
        let source =
            SourceText::from_parts(snapshot.text(), snapshot.tokens(), snapshot.index().holes());
        for (nth, kind, proof) in [
            (0, HolePosition::Tactic, "trivial"),
            (1, HolePosition::Tactic, "exact hp"),
            (1, HolePosition::Term, "exact hp"),
        ] {
            let from_snapshot = splice_in(&source, hole(&v2, nth), kind, proof);
            assert_eq!(from_snapshot, splice(&v2, hole(&v2, nth), kind, proof));
        }
        let focused = splice_in(&source, hole(&v2, 1), HolePosition::Tactic, "exact hp");
        assert!(
            focused.is_ok_and(|spliced| spliced.focused),
            "`admit` is another hole"
        );
    }

    #[test]
    fn the_proof_span_covers_exactly_the_inserted_text() {
        let doc = "theorem t : True := by\n  sorry -- todo\n";
        let result = splice(doc, hole(doc, 0), HolePosition::Tactic, "trivial").expect("splices");
        assert_eq!(result.inserted(), "trivial");
        assert_eq!(result.replaced, hole(doc, 0));
    }

    #[test]
    fn a_new_command_or_a_swallowed_suffix_is_a_structure_change() {
        let doc = "theorem t : True := by\n  sorry\n\ntheorem u : True := trivial\n";
        for proof in [
            "trivial\ntheorem v : False := by\n  exact?",
            "trivial /- swallow",
            "exact (\"unterminated",
        ] {
            let result = spliced(doc, HolePosition::Tactic, proof);
            assert!(
                matches!(result, Err(RejectReason::StructureChanged { .. })),
                "{proof}: {result:?}"
            );
        }
        let mid_line = "theorem t : True ∧ True := ⟨by sorry, trivial⟩\n";
        let result = spliced(mid_line, HolePosition::Tactic, "trivial -- done");
        assert!(
            matches!(result, Err(RejectReason::StructureChanged { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn a_span_that_is_not_a_sorry_is_refused() {
        let doc = "theorem t : True := trivial\n";
        assert!(splice(doc, 0..5, HolePosition::Term, "trivial").is_err());
        assert!(splice(doc, 100..105, HolePosition::Term, "trivial").is_err());
    }

    #[test]
    fn the_shadow_keeps_the_prefix_and_cuts_the_rest() {
        let doc = "import Mathlib\n\ntheorem a : True := trivial\n\ntheorem t : True := by\n  sorry\n\ntheorem z : True := trivial\n";
        let target_start = doc.find("theorem t").expect("present");
        let target = target_start..doc.find("theorem z").expect("present");
        let result = splice(doc, hole(doc, 0), HolePosition::Tactic, "trivial").expect("splices");
        let shadow = shadow_text(doc, target, &result, "n0").expect("builds");
        assert_eq!(
            shadow.text,
            "import Mathlib\n\ntheorem a : True := trivial\n\ntheorem t : True := by\n  trivial\n\n#print axioms _root_.t\n"
        );
        assert_eq!(shadow.full_name, "t");
        assert_eq!(
            &shadow.text[shadow.print_offset..],
            "#print axioms _root_.t\n"
        );
        assert_eq!(&shadow.text[shadow.keyword_offset..][..7], "theorem");
        assert!(shadow.extra_axioms.is_empty());
        assert_eq!(&shadow.text[shadow.proof_span.clone()], "trivial");
        assert_eq!(&shadow.text[..target_start], &doc[..target_start]);
    }

    #[test]
    fn an_example_is_renamed_so_its_axioms_can_be_printed() {
        let doc = "example : True := by\n  sorry\n";
        let result = splice(doc, hole(doc, 0), HolePosition::Tactic, "trivial").expect("splices");
        let shadow = shadow_text(doc, 0..doc.len(), &result, "n0nce").expect("builds");
        assert_eq!(
            shadow.text,
            "noncomputable def _sorryfill_example_n0nce : True := by\n  trivial\n\n#print axioms _root_._sorryfill_example_n0nce\n"
        );
        assert_eq!(&shadow.text[shadow.keyword_offset..][..3], "def");
        assert_eq!(&shadow.text[shadow.proof_span.clone()], "trivial");
    }

    #[test]
    fn a_lemma_is_checked_as_the_theorem_it_expands_to() {
        let doc = "/-- doc -/\n@[simp] lemma l : True := by\n  sorry\n";
        let result = splice(doc, hole(doc, 0), HolePosition::Tactic, "trivial").expect("splices");
        let shadow = shadow_text(doc, 0..doc.len(), &result, "n0nce").expect("builds");
        assert_eq!(
            shadow.text,
            "/-- doc -/\n@[simp] theorem l : True := by\n  trivial\n\n#print axioms _root_.l\n"
        );
        assert_eq!(&shadow.text[shadow.keyword_offset..][..7], "theorem");
        assert_eq!(&shadow.text[shadow.proof_span.clone()], "trivial");
    }

    #[test]
    fn a_compfiles_problem_is_checked_as_a_theorem() {
        let doc = "determine answer : Nat := 9\n\nproblem p : answer = 9 := by\n  sorry\n";
        let target = doc.find("problem").expect("the problem")..doc.len();
        let result = splice(doc, hole(doc, 0), HolePosition::Tactic, "rfl").expect("splices");
        let shadow = shadow_text(doc, target, &result, "n0nce").expect("builds");
        assert_eq!(
            shadow.text,
            "determine answer : Nat := 9\n\ntheorem p : answer = 9 := by\n  rfl\n\n#print axioms _root_.p\n"
        );
    }

    #[test]
    fn an_anonymous_instance_gets_a_name_after_its_priority() {
        let doc = "instance (priority := low) : Inhabited Nat := sorry\n";
        let result = splice(doc, hole(doc, 0), HolePosition::Term, "exact ⟨0⟩").expect("splices");
        let shadow = shadow_text(doc, 0..doc.len(), &result, "n0").expect("builds");
        assert!(
            shadow.text.starts_with(
                "instance (priority := low) _sorryfill_instance_n0 : Inhabited Nat := by exact ⟨0⟩"
            ),
            "{}",
            shadow.text
        );
        assert!(
            shadow
                .text
                .ends_with("#print axioms _root_._sorryfill_instance_n0\n")
        );
    }

    #[test]
    fn a_protected_theorem_is_printed_by_its_full_name() {
        let doc = "namespace Foo\n\nprotected theorem t : True := by\n  sorry\n\nend Foo\n";
        let start = doc.find("protected").expect("present");
        let end = doc.find("end Foo").expect("present");
        let result = splice(doc, hole(doc, 0), HolePosition::Tactic, "trivial").expect("splices");
        let shadow = shadow_text(doc, start..end, &result, "n0").expect("builds");
        assert_eq!(shadow.full_name, "Foo.t");
    }

    #[test]
    fn the_users_other_holes_become_a_nonce_axiom_in_the_shadow_only() {
        let doc = "namespace N\n\ntheorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  · sorry\n  · admit\n\nend N\n";
        let start = doc.find("theorem").expect("present");
        let end = doc.find("end N").expect("present");
        let result = splice(doc, hole(doc, 0), HolePosition::Tactic, "exact hp").expect("splices");
        let shadow = shadow_text(doc, start..end, &result, "n0").expect("builds");
        assert_eq!(
            &shadow.text[start..],
            "axiom _root_._sorryfill_hole_n0.{sorryfill_u} {α : Sort sorryfill_u} : α\n\ntheorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  · (· exact hp)\n  · exact _sorryfill_hole_n0\n\n#print axioms _root_.N.t\n"
        );
        assert_eq!(shadow.extra_axioms, ["_sorryfill_hole_n0"]);
        assert_eq!(&shadow.text[shadow.proof_span.clone()], "(· exact hp)");
        assert_eq!(shadow.checked_from, start);
        assert_eq!(
            &shadow.text[shadow.declaration_span.start..][..7],
            "theorem"
        );
    }

    #[test]
    fn a_declaration_under_in_prefixes_is_written_as_lean_expands_it() {
        let doc = "open Nat in\nset_option maxHeartbeats 400000 in -- slow\n/-- doc -/\nexample (n : Nat) : n + 0 = n ∧ True := by\n  constructor\n  · sorry\n  · sorry\n";
        let result = splice(doc, hole(doc, 0), HolePosition::Tactic, "omega").expect("splices");
        let shadow = shadow_text(doc, 0..doc.len(), &result, "n0").expect("builds");
        assert_eq!(
            shadow.text,
            "axiom _root_._sorryfill_hole_n0.{sorryfill_u} {α : Sort sorryfill_u} : α\n\nsection\nopen Nat\nsection\nset_option maxHeartbeats 400000\n/-- doc -/\nnoncomputable def _sorryfill_example_n0 (n : Nat) : n + 0 = n ∧ True := by\n  constructor\n  · (· omega)\n  · exact _sorryfill_hole_n0\n\n#print axioms _root_._sorryfill_example_n0\nend\nend\n"
        );
        // The judgement looks for Lean's symbol of the declaration itself, not of our sections.
        assert!(
            shadow.text[shadow.declaration_span.clone()]
                .starts_with("/-- doc -/\nnoncomputable def")
        );
        assert_eq!(&shadow.text[shadow.keyword_offset..][..3], "def");
        assert_eq!(&shadow.text[shadow.proof_span.clone()], "(· omega)");
        assert_eq!(shadow.checked_from, 0);
    }

    #[test]
    fn a_prefix_with_an_in_of_its_own_is_not_expanded() {
        let doc = "/-- info: -/\n#guard_msgs in\ntheorem t : True := by\n  sorry\n";
        let result = splice(doc, hole(doc, 0), HolePosition::Tactic, "trivial").expect("splices");
        let rejection = shadow_text(doc, 0..doc.len(), &result, "n0")
            .err()
            .map(|rejection| rejection.to_string());
        assert_eq!(
            rejection.as_deref(),
            Some(
                "the proof changes the structure of the file: the declaration is under `#guard_msgs … in`, which sorryfill cannot check"
            )
        );
    }

    #[test]
    fn proofs_spliced_together_are_what_each_splice_writes_and_leave_no_hole_axiom() {
        let doc = "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  sorry\n  admit\n";
        let first = hole(doc, 0);
        let second = doc.find("admit").expect("present");
        let together = splice_together(
            doc,
            &[
                (second..second + 5, HolePosition::Tactic, "exact hq"),
                (first.clone(), HolePosition::Tactic, "exact hp"),
            ],
        )
        .expect("splices");
        assert_eq!(
            together.text,
            "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  (· exact hp)\n  (· exact hq)\n"
        );
        assert_eq!(together.filled.len(), 2);
        let shadow = shadow_text(doc, 0..doc.len(), &together, "n0").expect("builds");
        assert!(shadow.extra_axioms.is_empty(), "{}", shadow.text);
        let overlapping = splice_together(
            doc,
            &[
                (first.clone(), HolePosition::Tactic, "exact hp"),
                (first, HolePosition::Tactic, "exact hq"),
            ],
        );
        assert!(overlapping.is_err());
    }

    #[test]
    fn nonces_differ_between_checks() {
        let (a, b) = (fresh_nonce(), fresh_nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }
}
