//! Parsing raw prover and decomposer output into something Lean can check.
//!
//! Real models wrap their Lean in Markdown: `<think>` reasoning, many fenced blocks (draft
//! tactics, a `have` sketch, the final proof), and sometimes output cut off by `max_tokens` or
//! stuck in a repetition loop. This module finds the one block that is the answer, says why
//! when there is none, extracts the proof body for splicing, and lists the `have` steps of a
//! sketch.
//!
//! Invariants: every position is a byte offset into the raw output (so callers can show the
//! exact text); a block cut off by the end of the output is never offered as a proof; a changed
//! theorem statement is recorded, never silently accepted or silently dropped.

use std::ops::Range;

use lean_syntax::{Token, TokenKind, closes_bracket, lex, opens_bracket, word_spans};

/// One Markdown fenced code block of the raw output (CommonMark backtick fences).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencedBlock {
    /// The first word of the info string (`lean4`, `lean`, `tactics`, or empty).
    pub lang: String,
    /// 1-based line of the opening fence in the raw output.
    pub start_line: usize,
    /// 1-based line of the closing fence, `None` when the output ends inside the block.
    pub end_line: Option<usize>,
    /// Byte range of the block's content (the lines between the fences).
    pub content: Range<usize>,
    /// Whether the block opens after the closing `</think>` (always true without `<think>`).
    pub after_think: bool,
}

impl FencedBlock {
    /// Whether the block is Lean (```` ```lean4 ```` or ```` ```lean ````).
    pub fn is_lean(&self) -> bool {
        self.lang == "lean4" || self.lang == "lean"
    }

    /// Whether the block has its closing fence.
    pub fn is_closed(&self) -> bool {
        self.end_line.is_some()
    }
}

/// Why a raw output yields no proof candidate. Messages say what the model did wrong and what
/// the user can change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseRejection {
    /// The output ended inside a code block.
    #[error(
        "the output was cut off inside a code block opened at line {opened_at_line} (raise max_tokens if this happens often)"
    )]
    TruncatedInBlock {
        /// 1-based line of the fence that was never closed.
        opened_at_line: usize,
    },
    /// The output ended inside `<think>` reasoning.
    #[error("the output was cut off while still reasoning inside <think> (raise max_tokens)")]
    TruncatedInThinking,
    /// The model fell into a loop, repeating the same text until it ran out of tokens.
    #[error("the output degenerated into a repetition loop ({repeated:?} repeated)")]
    RepetitionLoop {
        /// A sample of the repeated text.
        repeated: String,
    },
    /// No closed ```` ```lean4 ```` block where the answer should be.
    #[error("the output has no closed ```lean4 block to use as the proof")]
    NoLeanBlock,
    /// The final block still contains `sorry`: it is a sketch, not a proof.
    #[error("the final Lean block still contains `sorry` (a sketch, not a proof)")]
    ProofHasSorry,
    /// The final block has no `theorem`/`lemma` with a `:=`.
    #[error("the final Lean block has no theorem statement followed by `:=`")]
    NoStatement,
}

/// A theorem statement found in Lean text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The declaration name after `theorem`/`lemma`.
    pub name: String,
    /// The header text, from the keyword up to (not including) the top-level `:=`.
    pub header: String,
    /// Byte offset of the `theorem`/`lemma` keyword in the text searched.
    pub keyword_at: usize,
    /// Byte offset just after the top-level `:=`.
    pub body_at: usize,
}

/// A proof body extracted for splicing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofBody {
    /// Everything after the statement's `:=`, trimmed, up to the end of the declaration
    /// (e.g. `by\n  nlinarith [...]` or a term).
    pub term: String,
    /// When the body is `by <tactics>`: the tactic block, dedented to column 0.
    pub tactics: Option<String>,
}

/// The proof a model proposed, ready for the verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofCandidate {
    /// The whole content of the block taken as the answer.
    pub block: String,
    /// The statement as the model wrote it.
    pub statement: Statement,
    /// Whether that statement differs from the original (whitespace ignored). The body is
    /// still worth trying under the original statement; the gate decides.
    pub statement_changed: bool,
    /// The proof body.
    pub body: ProofBody,
    /// Declarations the model put before the theorem (auxiliary lemmas), without `import`s.
    pub preamble: String,
}

/// One `have name : statement := by sorry` step of a sketch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaveStep {
    /// The name (`this` when the model wrote `have : P`).
    pub name: String,
    /// The statement, as written (trimmed; may span lines).
    pub statement: String,
    /// Byte range of the whole step, from `have` through `sorry`, in the block.
    pub span: Range<usize>,
    /// Byte range of the `sorry` token in the block (what a sub-proof replaces).
    pub sorry: Range<usize>,
    /// 1-based line of `have`, counted from the first line of the block.
    pub have_line: usize,
    /// 1-based line of its `sorry`, counted from the first line of the block.
    pub sorry_line: usize,
}

/// A proof sketch: a theorem proved by `have … := by sorry` steps and a final step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSketch {
    /// The block content.
    pub block: String,
    /// 1-based line of the block's opening fence in the raw output.
    pub start_line: usize,
    /// The statement as the model wrote it.
    pub statement: Option<Statement>,
    /// Whether the statement differs from the original (whitespace ignored).
    pub statement_changed: bool,
    /// Ordered steps that end in `by sorry`.
    pub steps: Vec<HaveStep>,
    /// Byte ranges of every `sorry` token in the block (steps and the final step).
    pub sorries: Vec<Range<usize>>,
}

/// Everything learnt from one raw model output.
#[derive(Debug, Clone)]
pub struct ParsedOutput {
    /// Every fenced block, in order.
    pub blocks: Vec<FencedBlock>,
    /// Whether the output contains `<think>`.
    pub has_think: bool,
    /// Whether the output contains `</think>`.
    pub has_think_close: bool,
    /// Whether the output contains DeepSeek's `### Complete Lean 4 Proof` header.
    pub has_complete_proof_header: bool,
    /// Whether the last opened fence is never closed.
    pub ends_inside_code_block: bool,
    /// A repetition loop at the end of the output, if any (a sample of the repeated text).
    pub repetition: Option<String>,
    /// Index into `blocks` of the last closed Lean block after `</think>`.
    pub last_closed_lean_block: Option<usize>,
    /// The proof candidate, or why there is none.
    pub proof: Result<ProofCandidate, ParseRejection>,
    /// Every closed Lean block that contains `sorry`, as a sketch, in order.
    pub sketches: Vec<ParsedSketch>,
}

impl ParsedOutput {
    /// The sketch to decompose with: the last closed Lean block that has `have … := by sorry`
    /// steps (DeepSeek-Prover-V2's `### Lean 4 Proof with have Statements`, or a decomposer's
    /// answer).
    pub fn decomposition(&self) -> Option<&ParsedSketch> {
        self.sketches.iter().rev().find(|s| !s.steps.is_empty())
    }

    /// The text of a block.
    pub fn block_text<'a>(&self, raw: &'a str, index: usize) -> &'a str {
        &raw[self.blocks[index].content.clone()]
    }
}

/// Parses one raw output. `original_theorem` is the theorem that was sent (header, docstring
/// or imports around it are fine): it is used to detect a changed statement.
pub fn parse_output(raw: &str, original_theorem: &str) -> ParsedOutput {
    let think_open = raw.find("<think>");
    let think_close = raw.rfind("</think>");
    let answer_from = think_close.map_or(0, |at| at + "</think>".len());
    let blocks = fenced_blocks(raw, answer_from);
    let ends_inside_code_block = blocks.last().is_some_and(|b| !b.is_closed());
    let complete_header = raw[answer_from..]
        .rfind("### Complete Lean 4 Proof")
        .map(|at| at + answer_from);
    let repetition = detect_repetition(raw);
    let original = find_statement(original_theorem, None);

    let last_closed_lean_block = blocks
        .iter()
        .rposition(|b| b.after_think && b.is_lean() && b.is_closed());

    let sketches = blocks
        .iter()
        .filter(|b| b.after_think && b.is_lean() && b.is_closed())
        .filter_map(|b| {
            let text = &raw[b.content.clone()];
            let sorries = sorry_tokens(text);
            if sorries.is_empty() {
                return None;
            }
            let statement = original
                .as_ref()
                .and_then(|o| find_statement(text, Some(&o.name)))
                .or_else(|| find_statement(text, None));
            Some(ParsedSketch {
                block: text.to_owned(),
                start_line: b.start_line,
                statement_changed: statement_changed(statement.as_ref(), original.as_ref()),
                statement,
                steps: have_sorry_steps(text),
                sorries,
            })
        })
        .collect();

    let proof = choose_proof(
        raw,
        &blocks,
        think_open.is_some() && think_close.is_none(),
        ends_inside_code_block,
        complete_header,
        repetition.as_deref(),
        original.as_ref(),
    );

    ParsedOutput {
        has_think: think_open.is_some(),
        has_think_close: think_close.is_some(),
        has_complete_proof_header: complete_header.is_some(),
        ends_inside_code_block,
        repetition,
        last_closed_lean_block,
        proof,
        sketches,
        blocks,
    }
}

fn choose_proof(
    raw: &str,
    blocks: &[FencedBlock],
    unclosed_think: bool,
    ends_inside_code_block: bool,
    complete_header: Option<usize>,
    repetition: Option<&str>,
    original: Option<&Statement>,
) -> Result<ProofCandidate, ParseRejection> {
    // A loop explains a cut-off or missing answer better than "truncated" does.
    let cut_off = |other: ParseRejection| match repetition {
        Some(sample) => ParseRejection::RepetitionLoop {
            repeated: sample.to_owned(),
        },
        None => other,
    };
    if unclosed_think {
        return Err(cut_off(ParseRejection::TruncatedInThinking));
    }
    if let Some(open) = blocks.last().filter(|b| !b.is_closed()) {
        debug_assert!(ends_inside_code_block, "the last block is the open one");
        return Err(cut_off(ParseRejection::TruncatedInBlock {
            opened_at_line: open.start_line,
        }));
    }
    // DeepSeek's CoT answer sits under its header; never fall back to the sketch above it.
    let answer_from = complete_header.unwrap_or(0);
    let block = blocks
        .iter()
        .rev()
        .find(|b| b.after_think && b.is_lean() && b.is_closed() && b.content.start >= answer_from)
        .ok_or_else(|| cut_off(ParseRejection::NoLeanBlock))?;
    let text = &raw[block.content.clone()];
    if !sorry_tokens(text).is_empty() {
        return Err(ParseRejection::ProofHasSorry);
    }
    let statement = original
        .and_then(|o| find_statement(text, Some(&o.name)))
        .or_else(|| find_statement(text, None))
        .ok_or(ParseRejection::NoStatement)?;
    let body = proof_body(text, statement.body_at);
    let preamble = text[..statement.keyword_at]
        .lines()
        .filter(|line| !line.trim_start().starts_with("import "))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned();
    Ok(ProofCandidate {
        block: text.to_owned(),
        statement_changed: statement_changed(Some(&statement), original),
        statement,
        body,
        preamble,
    })
}

/// Whether the theorem in `block` differs from the one in `original_theorem` (whitespace
/// ignored). The block's declaration of the same name is compared, else its first theorem.
pub fn statement_differs(block: &str, original_theorem: &str) -> bool {
    let original = find_statement(original_theorem, None);
    let found = original
        .as_ref()
        .and_then(|o| find_statement(block, Some(&o.name)))
        .or_else(|| find_statement(block, None));
    statement_changed(found.as_ref(), original.as_ref())
}

fn statement_changed(found: Option<&Statement>, original: Option<&Statement>) -> bool {
    match (found, original) {
        (Some(found), Some(original)) => {
            strip_whitespace(&found.header) != strip_whitespace(&original.header)
        }
        // Without an original there is nothing to compare with; without a statement the
        // model certainly did not keep it.
        (None, Some(_)) => true,
        (_, None) => false,
    }
}

fn strip_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Splits text into CommonMark backtick fenced blocks. Blocks opening before `answer_from`
/// are marked as not after `</think>`.
pub fn fenced_blocks(raw: &str, answer_from: usize) -> Vec<FencedBlock> {
    let mut blocks = Vec::new();
    // (lang, opening line, fence length, content start)
    let mut open: Option<(String, usize, usize, usize, usize)> = None;
    let mut offset = 0;
    for (index, line) in raw.split_inclusive('\n').enumerate() {
        let line_no = index + 1;
        let line_start = offset;
        offset += line.len();
        let text = line.trim_end_matches(['\n', '\r']);
        let indent = text.len() - text.trim_start_matches(' ').len();
        if indent > 3 {
            continue;
        }
        let rest = &text[indent..];
        let ticks = rest.len() - rest.trim_start_matches('`').len();
        if ticks < 3 {
            continue;
        }
        let info = &rest[ticks..];
        match &open {
            Some((lang, start_line, fence_len, content_start, fence_at)) => {
                if ticks >= *fence_len && info.trim().is_empty() {
                    blocks.push(FencedBlock {
                        lang: lang.clone(),
                        start_line: *start_line,
                        end_line: Some(line_no),
                        content: *content_start..line_start,
                        after_think: *fence_at >= answer_from,
                    });
                    open = None;
                }
            }
            None => {
                if !info.contains('`') {
                    let lang = info.split_whitespace().next().unwrap_or("").to_owned();
                    open = Some((lang, line_no, ticks, offset, line_start));
                }
            }
        }
    }
    if let Some((lang, start_line, _, content_start, fence_at)) = open {
        blocks.push(FencedBlock {
            lang,
            start_line,
            end_line: None,
            content: content_start.min(raw.len())..raw.len(),
            after_think: fence_at >= answer_from,
        });
    }
    blocks
}

/// Detects a model stuck in a loop at the end of its output: the last lines are a handful of
/// distinct lines repeated over and over, or the last kilobyte is one short string repeated.
/// Returns a sample of the repeated text.
pub fn detect_repetition(raw: &str) -> Option<String> {
    const WINDOW_LINES: usize = 40;
    const MAX_DISTINCT: usize = 3;
    let tail: Vec<&str> = raw
        .lines()
        .rev()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(WINDOW_LINES)
        .collect();
    if tail.len() == WINDOW_LINES {
        let mut distinct: Vec<&str> = Vec::new();
        for line in &tail {
            if !distinct.contains(line) {
                distinct.push(line);
            }
        }
        if distinct.len() <= MAX_DISTINCT {
            return Some(distinct.join(" / "));
        }
    }
    // One long line looping on itself (no newlines to count).
    const WINDOW_BYTES: usize = 1024;
    const MAX_PERIOD: usize = 256;
    let bytes = raw.trim_end().as_bytes();
    if bytes.len() >= WINDOW_BYTES {
        let window = &bytes[bytes.len() - WINDOW_BYTES..];
        for period in 1..=MAX_PERIOD {
            if (0..WINDOW_BYTES - period).all(|i| window[i] == window[i + period]) {
                let sample = String::from_utf8_lossy(&window[WINDOW_BYTES - period..]);
                return Some(sample.trim().to_owned());
            }
        }
    }
    None
}

/// Byte ranges of every `sorry` token in code, as the one lexer reads it (see
/// [`lean_syntax::word_spans`]: `sorry.elim` and `«sorry»` count too).
pub fn sorry_tokens(text: &str) -> Vec<Range<usize>> {
    word_spans(text, &lex(text), "sorry")
}

/// Offsets of the keyword `word` as a token in code.
fn keyword_positions(text: &str, tokens: &[Token], word: &str) -> Vec<usize> {
    word_spans(text, tokens, word)
        .into_iter()
        .map(|span| span.start)
        .collect()
}

/// Finds the first top-level `:=` from `from`, skipping brackets (so binder defaults such as
/// `(n : ℕ := 3)` do not count), comments and strings.
fn top_level_assign(text: &str, tokens: &[Token], from: usize) -> Option<usize> {
    let mut depth = 0i32;
    for token in tokens
        .iter()
        .filter(|token| token.span.start >= from && token.kind == TokenKind::Symbol)
    {
        let symbol = token.text(text);
        if opens_bracket(symbol) {
            depth += 1;
        } else if closes_bracket(symbol) {
            depth -= 1;
        } else if symbol == ":=" && depth <= 0 {
            return Some(token.span.start);
        }
    }
    None
}

/// The name declared right after the keyword token that ends at `after`.
fn declared_name(text: &str, tokens: &[Token], after: usize) -> Option<String> {
    let mut rest = tokens.iter().skip_while(|token| token.span.start < after);
    let mut next = rest.next()?;
    if next.kind == TokenKind::Whitespace {
        next = rest.next()?;
    }
    (next.kind == TokenKind::Ident).then(|| next.text(text).to_owned())
}

/// Finds a `theorem`/`lemma` statement in Lean text: the one named `name` when given, else
/// the first.
pub fn find_statement(text: &str, name: Option<&str>) -> Option<Statement> {
    let tokens = lex(text);
    let mut keywords: Vec<(usize, &str)> = keyword_positions(text, &tokens, "theorem")
        .into_iter()
        .map(|at| (at, "theorem"))
        .chain(
            keyword_positions(text, &tokens, "lemma")
                .into_iter()
                .map(|at| (at, "lemma")),
        )
        .collect();
    keywords.sort_unstable();
    keywords.into_iter().find_map(|(at, keyword)| {
        let after = at + keyword.len();
        let decl_name = declared_name(text, &tokens, after)?;
        if name.is_some_and(|wanted| wanted != decl_name) {
            return None;
        }
        let assign = top_level_assign(text, &tokens, after)?;
        Some(Statement {
            name: decl_name,
            header: text[at..assign].trim_end().to_owned(),
            keyword_at: at,
            body_at: assign + ":=".len(),
        })
    })
}

/// The proof after the statement's `:=` at `body_at`, up to the next command of the block that
/// starts in column 0 (the one outline of `lean_syntax`: a declaration, `#eval`, `end`, …). An
/// indented command stays in the body, so the gate sees it and refuses the candidate: cutting
/// there would hide what a model wrote after `//-` from every scan.
fn proof_body(text: &str, body_at: usize) -> ProofBody {
    let end = lean_syntax::outline(text)
        .commands
        .iter()
        .map(|command| command.span.start)
        .find(|&start| start > body_at && text[..start].ends_with('\n'))
        .unwrap_or(text.len());
    let term = text[body_at..end].trim().to_owned();
    let tactics = term
        .strip_prefix("by")
        .filter(|after| after.is_empty() || after.starts_with(char::is_whitespace))
        .map(|after| {
            dedent(
                after
                    .trim_start_matches([' ', '\t'])
                    .trim_start_matches('\n'),
            )
        });
    ProofBody { term, tactics }
}

/// Removes the common leading indentation of non-blank lines.
fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_owned()
}

fn line_of(text: &str, at: usize) -> usize {
    1 + memchr::memchr_iter(b'\n', &text.as_bytes()[..at]).count()
}

/// The `have name : statement := by sorry` steps of a sketch block, in order. `sorry` may be on
/// the same line as `by` or the next.
pub fn have_sorry_steps(text: &str) -> Vec<HaveStep> {
    let tokens = lex(text);
    let sorries = keyword_positions(text, &tokens, "sorry");
    let mut steps = Vec::new();
    for at in keyword_positions(text, &tokens, "have") {
        let after = at + "have".len();
        let Some(assign) = top_level_assign(text, &tokens, after) else {
            continue;
        };
        let head = &text[after..assign];
        // `have name : P` or `have : P`; binders before the colon are kept in the statement.
        let Some(colon) = head.find(':') else {
            continue;
        };
        let statement = head[colon + 1..].trim().to_owned();
        let name = declared_name(text, &tokens, after).unwrap_or_else(|| "this".to_owned());
        // The proof must be `by sorry` (next token after `by` is `sorry`).
        let proof = &text[assign + 2..];
        let Some(after_by) = proof
            .trim_start()
            .strip_prefix("by")
            .filter(|r| r.starts_with(char::is_whitespace))
        else {
            continue;
        };
        let by_end = text.len() - after_by.len();
        let sorry_at = by_end + (after_by.len() - after_by.trim_start().len());
        if !sorries.contains(&sorry_at) {
            continue;
        }
        let have_line = line_of(text, at);
        let sorry_line = line_of(text, sorry_at);
        if sorry_line > have_line + 1 && line_of(text, by_end) != sorry_line {
            continue;
        }
        steps.push(HaveStep {
            name,
            statement,
            span: at..sorry_at + "sorry".len(),
            sorry: sorry_at..sorry_at + "sorry".len(),
            have_line,
            sorry_line,
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    const THEOREM: &str = "theorem t (a : ℕ) (h : a = 1) : a + 0 = 1 := by\n  sorry";

    #[test]
    fn takes_the_last_closed_block_not_the_sketch() {
        let raw = "Plan.\n```lean4\ntheorem t (a : ℕ) (h : a = 1) : a + 0 = 1 := by\n  have h1 : a = 1 := by sorry\n  sorry\n```\n### Complete Lean 4 Proof\n```lean4\ntheorem t (a : ℕ) (h : a = 1) : a + 0 = 1 := by\n  simp [h]\n```\n";
        let parsed = parse_output(raw, THEOREM);
        let proof = parsed.proof.clone().expect("a closed final block");
        assert_eq!(proof.body.tactics.as_deref(), Some("simp [h]"));
        assert!(!proof.statement_changed);
        let sketch = parsed.decomposition().expect("the first block is a sketch");
        assert_eq!(sketch.steps.len(), 1);
        assert_eq!(sketch.steps[0].name, "h1");
        assert_eq!(sketch.steps[0].statement, "a = 1");
        assert_eq!(&sketch.block[sketch.steps[0].sorry.clone()], "sorry");
    }

    #[test]
    fn an_unclosed_block_is_rejected_as_truncated() {
        let raw = "```lean4\ntheorem t (a : ℕ) (h : a = 1) : a + 0 = 1 := by\n  simp [h]\n```\n### Complete Lean 4 Proof\n```lean4\ntheorem t (a : ℕ) (h : a = 1) : a + 0 = 1 := by\n  nlin";
        let parsed = parse_output(raw, THEOREM);
        assert_eq!(
            parsed.proof,
            Err(ParseRejection::TruncatedInBlock { opened_at_line: 6 })
        );
    }

    #[test]
    fn think_text_is_skipped_and_an_unclosed_think_is_truncation() {
        let raw =
            "<think>\n```lean4\ntheorem t (a : ℕ) (h : a = 1) : a + 0 = 1 := by\n  rfl\n```\n";
        assert_eq!(
            parse_output(raw, THEOREM).proof,
            Err(ParseRejection::TruncatedInThinking)
        );
        let closed = format!("{raw}</think>\nNo code after thinking.");
        assert_eq!(
            parse_output(&closed, THEOREM).proof,
            Err(ParseRejection::NoLeanBlock)
        );
    }

    #[test]
    fn a_changed_statement_is_recorded_and_the_body_kept() {
        let raw = "```lean\ntheorem t (a : ℕ) (h : a = 1) : a + 0 = 2 := by\n  omega\n```";
        let proof = parse_output(raw, THEOREM).proof.expect("a closed block");
        assert!(proof.statement_changed);
        assert_eq!(proof.body.term, "by\n  omega");
    }

    #[test]
    fn sorry_in_comments_strings_and_names_is_not_a_sorry() {
        let text = "-- sorry\n/- /- sorry -/ sorry -/ \"sorry\" `sorry sorryAx h.sorry x'\nsorry";
        let tokens = sorry_tokens(text);
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].start, text.rfind("sorry").expect("present"));
    }

    /// The lexer finds every `sorry` the old scanner found and more (the soundness side of
    /// replacing it: a proof with any of these is never a candidate).
    #[test]
    fn a_sorry_anywhere_lean_may_read_one_makes_the_block_a_sketch() {
        for body in [
            "exact sorry",
            "exact sorry.elim",
            "exact «sorry»",
            "exact (s!\"{sorry}\").length",
            "exact '\"' = sorry",
            "exact жsorry",
            "/- -/ sorry",
        ] {
            let raw = format!("```lean4\ntheorem t : 1 = 1 := by\n  {body}\n```\n");
            assert_eq!(
                parse_output(&raw, THEOREM).proof.map(|p| p.body.term),
                Err(ParseRejection::ProofHasSorry),
                "{body}"
            );
        }
        let text = "`sorry ``Foo.sorry h.sorry sorryAx x' \"sorry\" 'a' -- sorry";
        assert_eq!(sorry_tokens(text), Vec::<Range<usize>>::new());
    }

    #[test]
    fn the_body_ends_at_the_next_command_of_the_block() {
        let raw = "```lean4\ntheorem t (a : ℕ) (h : a = 1) : a + 0 = 1 := by\n  simp [h]\n/- end\n-/\n  omega\n\nprivate lemma aux : True := trivial\n```\n";
        let proof = parse_output(raw, THEOREM).proof.expect("a closed block");
        assert_eq!(proof.body.term, "by\n  simp [h]\n/- end\n-/\n  omega");
        let raw = "```lean4\ntheorem t (a : ℕ) (h : a = 1) : a + 0 = 1 := by\n  simp [h]\nset_option maxHeartbeats 0\n#eval 1\n```\n";
        let proof = parse_output(raw, THEOREM).proof.expect("a closed block");
        assert_eq!(proof.body.tactics.as_deref(), Some("simp [h]"));
    }

    /// Lean reads `//-` as `//` then `-`, so the indented `axiom` below is a command of its
    /// own; it stays in the body so that the gate refuses the candidate.
    #[test]
    fn an_indented_command_stays_in_the_body() {
        let raw = "```lean4\ntheorem t (a : ℕ) (h : a = 1) : a + 0 = 1 := by\n  omega //-\n  axiom cheat : False\n  -/\n```\n";
        let proof = parse_output(raw, THEOREM).proof.expect("a closed block");
        assert_eq!(
            proof.body.tactics.as_deref(),
            Some("omega //-\naxiom cheat : False\n-/")
        );
    }

    #[test]
    fn repetition_loops_are_detected_and_normal_text_is_not() {
        let looping = format!("Proof idea.\n{}", "But the identity.\n\n".repeat(60));
        assert!(detect_repetition(&looping).is_some());
        let one_line = format!("x = {}", "1 + ".repeat(600));
        assert!(detect_repetition(&one_line).is_some());
        let normal: String = (0..100)
            .map(|i| format!("have h{i} : {i} = {i} := rfl\n"))
            .collect();
        assert_eq!(detect_repetition(&normal), None);
    }
}
