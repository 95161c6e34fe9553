//! Proof sketches: a tactic proof whose `have` steps end in `sorry` (DeepSeek-Prover-V2's
//! decomposition), and putting proofs back into its holes. The goal of a step is
//! `GoalSpec::step_goal`.
//!
//! Invariants: every step's `hole` is the byte range of a `sorry` token in `text`, steps are
//! ordered by position and do not overlap; placing a proof never moves the other steps'
//! text, because proofs are placed from the last step to the first.

use std::ops::Range;

use lean_syntax::{Token, TokenKind, lex, word_spans};

/// One `sorry` of a sketch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SketchStep {
    /// The `have`'s name, if it has one.
    pub name: Option<String>,
    /// The `have`'s statement; `None` for a closing `sorry` that proves the sketch's own goal.
    pub statement: Option<String>,
    /// Byte range of the `sorry` token in the sketch text.
    pub hole: Range<usize>,
}

/// A proof sketch and its steps in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sketch {
    /// The sketch as a proof body (tactics), with a `sorry` per step.
    pub text: String,
    /// Its steps, ordered by position.
    pub steps: Vec<SketchStep>,
}

/// A sketch's step list does not match its text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SketchError {
    /// A step's range is not a `sorry` token of the text.
    #[error("step {0} does not point at a `sorry` of the sketch")]
    NotASorry(usize),
    /// Steps overlap or are out of order.
    #[error("step {0} overlaps or precedes the step before it")]
    Unordered(usize),
    /// The sketch has no `sorry` at all, so it is no decomposition.
    #[error("the sketch has no `sorry` step")]
    NoSteps,
}

impl Sketch {
    /// A sketch from a text and steps found by someone else (the models' parser), checked
    /// against the invariants.
    pub fn new(text: String, steps: Vec<SketchStep>) -> Result<Self, SketchError> {
        if steps.is_empty() {
            return Err(SketchError::NoSteps);
        }
        let mut previous_end = 0;
        for (index, step) in steps.iter().enumerate() {
            if text.get(step.hole.clone()) != Some("sorry") {
                return Err(SketchError::NotASorry(index));
            }
            if step.hole.start < previous_end {
                return Err(SketchError::Unordered(index));
            }
            previous_end = step.hole.end;
        }
        Ok(Sketch { text, steps })
    }

    /// Finds the steps of a sketch written as `have name : P := by sorry` lines (plus any
    /// closing `sorry`), skipping comments and strings. A fallback for sketches that come
    /// without a step list.
    pub fn scan(text: &str) -> Result<Self, SketchError> {
        let tokens = lex(text);
        let holes = word_spans(text, &tokens, "sorry");
        let mut steps = Vec::with_capacity(holes.len());
        let mut segment_start = 0;
        for hole in holes {
            let (name, statement) = have_before(text, &tokens, segment_start, &hole);
            segment_start = hole.end;
            steps.push(SketchStep {
                name,
                statement,
                hole,
            });
        }
        Sketch::new(text.to_owned(), steps)
    }

    /// The sketch with `proof` at step `step` (the other steps keep their `sorry`).
    pub fn place(&self, step: usize, proof: &str) -> String {
        let mut proofs = vec![None; self.steps.len()];
        if let Some(slot) = proofs.get_mut(step) {
            *slot = Some(proof);
        }
        self.fill(&proofs)
    }

    /// The sketch with each `Some` proof put at its step, re-indented to fit; steps given
    /// `None` keep their `sorry`.
    pub fn fill(&self, proofs: &[Option<&str>]) -> String {
        let mut text = self.text.clone();
        // Last step first, so the earlier steps' byte ranges stay valid.
        for (step, proof) in self.steps.iter().zip(proofs).rev() {
            if let Some(proof) = proof {
                let mut range = step.hole.clone();
                let replacement = fit(&self.text, range.clone(), proof);
                if replacement.starts_with('\n') {
                    // The block starts on its own line: drop the spaces after `by`.
                    range.start = self.text[..range.start].trim_end_matches(' ').len();
                }
                text.replace_range(range, &replacement);
            }
        }
        text
    }
}

/// The text that replaces the `sorry` at `hole` of `text` with `proof`, so that a proof of
/// several lines stays a valid tactic block where it lands.
fn fit(text: &str, hole: Range<usize>, proof: &str) -> String {
    let lines = dedent(proof);
    let line_start = text[..hole.start].rfind('\n').map_or(0, |i| i + 1);
    let prefix = &text[line_start..hole.start];
    let line_indent = prefix.chars().take_while(|c| *c == ' ').count();
    let column = prefix.chars().count();
    let rest_of_line = text[hole.end..].split('\n').next().unwrap_or("");
    let before = prefix.trim_end();
    let after_by = ends_with_word(before, "by");
    let bullet = before.trim().is_empty() || before.ends_with('·') || before.ends_with("=>");
    let sequenced = before.ends_with(';');
    // In term position a bare `by` is only safe right after `:=` at the end of the line;
    // anywhere else (an argument, an anonymous constructor) it is parenthesised.
    let bare_term = before.ends_with(":=") && rest_of_line.trim().is_empty();
    match lines.as_slice() {
        [] => "sorry".to_owned(),
        [single] if after_by || bullet || sequenced => single.clone(),
        [single] if bare_term => format!("by {single}"),
        [single] => format!("(by {single})"),
        _ if after_by => block(&lines, line_indent + 2, "\n", ""),
        _ if bullet => indent_rest(&lines, column),
        _ if sequenced => format!("({})", indent_rest(&lines, column + 1)),
        _ if bare_term => block(&lines, line_indent + 2, "by\n", ""),
        _ => block(&lines, line_indent + 2, "(by\n", ")"),
    }
}

/// `lines` each indented by `indent` spaces, joined by newlines, between `open` and `close`.
fn block(lines: &[String], indent: usize, open: &str, close: &str) -> String {
    let pad = " ".repeat(indent);
    let body: Vec<String> = lines
        .iter()
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("{pad}{line}")
            }
        })
        .collect();
    format!("{open}{}{close}", body.join("\n"))
}

/// The first line as is and the others indented to `column`, joined by newlines.
fn indent_rest(lines: &[String], column: usize) -> String {
    let mut out = lines.first().cloned().unwrap_or_default();
    if lines.len() > 1 {
        out.push('\n');
        out.push_str(&block(&lines[1..], column, "", ""));
    }
    out
}

/// The proof's lines without their common indentation and without blank edges.
pub(crate) fn dedent(proof: &str) -> Vec<String> {
    let lines: Vec<&str> = proof.trim_matches('\n').lines().collect();
    let first_indent = lines.first().map_or(0, |l| l.len() - l.trim_start().len());
    // The first line is often already trimmed by whoever cut the proof out of a theorem, so
    // the common indentation is taken from the lines after it when there are any.
    let common = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .map_or(first_indent, |rest| {
            if first_indent == 0 {
                rest
            } else {
                rest.min(first_indent)
            }
        });
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                line.trim().to_owned()
            } else if line.trim().is_empty() {
                String::new()
            } else {
                let cut = (line.len() - line.trim_start().len()).min(common);
                line[cut..].trim_end().to_owned()
            }
        })
        .collect()
}

fn ends_with_word(text: &str, word: &str) -> bool {
    text.strip_suffix(word).is_some_and(|head| {
        head.chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'))
    })
}

/// The name and statement of the `have` that the text up to the `sorry` at `hole` ends in,
/// when the `sorry` is that `have`'s proof. `segment_start` is where the text after the
/// previous step begins; `tokens` are the whole sketch's.
fn have_before(
    text: &str,
    tokens: &[Token],
    segment_start: usize,
    hole: &Range<usize>,
) -> (Option<String>, Option<String>) {
    let in_segment = |span: &Range<usize>| span.start >= segment_start && span.end <= hole.start;
    let Some(have) = word_spans(text, tokens, "have")
        .into_iter()
        .rfind(|span| in_segment(span))
    else {
        return (None, None);
    };
    let Some(assign) = tokens
        .iter()
        .rfind(|token| {
            token.kind == TokenKind::Symbol
                && token.span.start >= have.end
                && in_segment(&token.span)
                && token.text(text) == ":="
        })
        .map(|token| token.span.clone())
    else {
        return (None, None);
    };
    // The `sorry` must be the `have`'s own proof, with at most `by` in between.
    let between: Vec<&str> = tokens
        .iter()
        .filter(|token| token.span.start >= assign.end && token.span.end <= hole.start)
        .filter(|token| !token.is_trivia())
        .map(|token| token.text(text))
        .collect();
    if !(between.is_empty() || between == ["by"]) {
        return (None, None);
    }
    let head = text[have.end..assign.start].trim();
    let (name, statement) = match head.split_once(':') {
        Some((name, statement)) => {
            let name = name.trim();
            let is_name = lex(name).first().is_some_and(|token| {
                token.kind == TokenKind::Ident && token.span.len() == name.len()
            });
            (is_name.then(|| name.into()), statement)
        }
        None => return (None, None),
    };
    let statement = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    (name, (!statement.is_empty()).then_some(statement))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKETCH: &str = "have h₀ : 0 < x := by sorry\nhave h₁ : x ^ 2 > 0 := by\n  sorry\n-- sorry in a comment\nnlinarith [h₀, h₁, sorry]";

    #[test]
    fn scan_finds_named_steps_and_a_closing_sorry_but_not_comments() {
        let sketch = Sketch::scan(SKETCH).expect("the sketch has steps");
        let names: Vec<_> = sketch.steps.iter().map(|s| s.name.as_deref()).collect();
        assert_eq!(names, [Some("h₀"), Some("h₁"), None]);
        assert_eq!(sketch.steps[1].statement.as_deref(), Some("x ^ 2 > 0"));
        assert_eq!(sketch.steps[2].statement, None);
    }

    /// Steps are the `sorry`s Lean reads: a char literal holding `"` opens no string, and a
    /// name literal or a comment holds no step.
    #[test]
    fn scan_reads_sorries_with_the_lexer() {
        let text =
            "have h : c = '\"' := by sorry\n-- `have g : P := by sorry`\nexact ``sorry\nsorry";
        let sketch = Sketch::scan(text).expect("two steps");
        let holes: Vec<usize> = sketch.steps.iter().map(|s| s.hole.start).collect();
        assert_eq!(
            holes,
            [
                text.find("sorry").unwrap_or_default(),
                text.rfind("sorry").unwrap_or_default()
            ]
        );
        assert_eq!(sketch.steps[0].name.as_deref(), Some("h"));
        assert_eq!(sketch.steps[0].statement.as_deref(), Some("c = '\"'"));
        assert_eq!(sketch.steps[1].statement, None);
    }

    #[test]
    fn new_rejects_steps_that_are_not_sorries() {
        let steps = vec![SketchStep {
            name: None,
            statement: None,
            hole: 0..5,
        }];
        assert_eq!(
            Sketch::new("simp".into(), steps),
            Err(SketchError::NotASorry(0))
        );
        assert_eq!(Sketch::scan("simp"), Err(SketchError::NoSteps));
    }

    #[test]
    fn fill_places_single_and_multi_line_proofs_as_valid_blocks() {
        let sketch = Sketch::scan(SKETCH).expect("the sketch has steps");
        let filled = sketch.fill(&[Some("linarith"), Some("have := h₀\n  positivity"), None]);
        assert_eq!(
            filled,
            "have h₀ : 0 < x := by linarith\nhave h₁ : x ^ 2 > 0 := by\n  have := h₀\n  positivity\n-- sorry in a comment\nnlinarith [h₀, h₁, sorry]"
        );
    }

    #[test]
    fn multi_line_proof_after_by_goes_on_indented_lines() {
        let sketch = Sketch::scan("  have h : P := by sorry\n  exact h").expect("one step");
        assert_eq!(
            sketch.place(0, "constructor\nsimp\nsimp"),
            "  have h : P := by\n    constructor\n    simp\n    simp\n  exact h"
        );
    }

    #[test]
    fn term_position_gets_a_by_block() {
        let sketch = Sketch::scan("have h : P := sorry\nexact h").expect("one step");
        assert_eq!(sketch.place(0, "simp"), "have h : P := by simp\nexact h");
        assert_eq!(
            sketch.place(0, "intro a\nsimp"),
            "have h : P := by\n  intro a\n  simp\nexact h"
        );
    }

    /// The proof sketches real DeepSeek-Prover-V2 outputs contain (`../shared/corpus`):
    /// every `sorry` becomes a step and every `have … := by sorry` a named one.
    #[test]
    fn scan_finds_the_subgoals_of_real_deepseek_sketches() {
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");
        let Ok(expected) =
            std::fs::read_to_string(format!("{corpus}/model_outputs/expected_outputs.json"))
        else {
            crate::test_support::skip_line(format_args!(
                "skipped: ../shared/corpus is absent, so real model sketches are not scanned"
            ));
            return;
        };
        let expected: serde_json::Value =
            serde_json::from_str(&expected).expect("the corpus's expected_outputs.json is JSON");
        let outputs = expected["outputs"]
            .as_object()
            .expect("`outputs` is an object");
        let mut sketches = 0;
        for (path, facts) in outputs {
            let raw = std::fs::read_to_string(format!("{corpus}/{path}"))
                .expect("every listed output is in the corpus");
            let lines: Vec<&str> = raw.lines().collect();
            for block in facts["lean4_blocks_with_sorry"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let start = block["start_line"].as_u64().expect("a line number") as usize;
                let end = block["end_line"].as_u64().expect("a line number") as usize;
                let code = lines[start..end - 1].join("\n");
                // The proof body is what follows the theorem's `:= by`.
                let Some((_, body)) = code.split_once(":= by") else {
                    continue;
                };
                let sketch = Sketch::scan(body).expect("a block with sorries is a sketch");
                assert_eq!(
                    sketch.steps.len() as u64,
                    block["sorries"].as_u64().expect("a count"),
                    "{path}"
                );
                let named: Vec<&str> = sketch
                    .steps
                    .iter()
                    .filter_map(|s| s.name.as_deref())
                    .collect();
                let expected_names: Vec<&str> = block["have_sorry_subgoals"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|g| g["name"].as_str())
                    .collect();
                assert_eq!(named, expected_names, "{path}");
                for step in sketch.steps.iter().filter(|s| s.name.is_some()) {
                    let statement = step.statement.as_deref().unwrap_or("");
                    assert!(
                        !statement.is_empty() && !statement.contains(":="),
                        "{path}: {step:?}"
                    );
                }
                sketches += 1;
            }
        }
        assert!(sketches > 0, "the corpus has DeepSeek sketches");
    }
}
