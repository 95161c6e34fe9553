//! The sketch in a model's answer: the `have … := by sorry` plan of a decomposer, or the one a
//! chain-of-thought prover writes before its proof, as the pipeline's [`Sketch`].
//!
//! Invariant: a sketch is the proof body after the theorem's `:= by`, dedented, with at least
//! one `sorry`; its statement is never used (a changed one is logged).

use crate::models::ParsedOutput;
use crate::pipeline::Sketch;

/// The pipeline's sketch for the decomposition in a parsed answer, if it has one.
pub fn sketch_from_output(parsed: &ParsedOutput) -> Option<Sketch> {
    let found = parsed.decomposition()?;
    if found.statement_changed {
        tracing::info!("the sketch changed the theorem statement; its steps are tried in place");
    }
    let body = match &found.statement {
        Some(statement) => found.block.get(statement.body_at..)?,
        None => found.block.as_str(),
    };
    let body = body.trim_start();
    let tactics = match body.strip_prefix("by") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest,
        // A term-mode proof has no tactic block to put steps in.
        _ if found.statement.is_some() => return None,
        _ => body,
    };
    Sketch::scan(&dedent(tactics)).ok()
}

/// Removes the common indentation of the non-blank lines and the blank lines around them.
fn dedent(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let dedented: Vec<&str> = lines
        .iter()
        .map(|line| line.get(indent..).unwrap_or_else(|| line.trim_start()))
        .collect();
    dedented.join("\n").trim_matches('\n').trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::parse_output;

    #[test]
    fn a_decomposer_answer_becomes_the_body_of_its_theorem() {
        let raw = "Plan: split.\n\n```lean4\ntheorem t (a : ℕ) (h : a = 2) : a + a = 4 := by\n  have h1 : a = 2 := by sorry\n  have h2 : a + a = 2 + 2 := by\n    sorry\n  omega\n```\n";
        let parsed = parse_output(
            raw,
            "theorem t (a : ℕ) (h : a = 2) : a + a = 4 := by\n  sorry",
        );
        let sketch = sketch_from_output(&parsed).expect("a sketch");
        assert_eq!(
            sketch.text,
            "have h1 : a = 2 := by sorry\nhave h2 : a + a = 2 + 2 := by\n  sorry\nomega"
        );
        let names: Vec<_> = sketch.steps.iter().map(|s| s.name.clone()).collect();
        assert_eq!(names, [Some("h1".to_owned()), Some("h2".to_owned())]);
        assert_eq!(sketch.steps[1].statement.as_deref(), Some("a + a = 2 + 2"));
    }

    #[test]
    fn an_answer_without_sorry_steps_is_no_sketch() {
        let raw = "```lean4\ntheorem t : 1 = 1 := by\n  rfl\n```";
        let parsed = parse_output(raw, "theorem t : 1 = 1 := by\n  sorry");
        assert!(sketch_from_output(&parsed).is_none());
    }
}
