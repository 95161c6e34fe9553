//! The decomposer behind [`pipeline::Decomposer`]: a `have … := by sorry` plan for a goal,
//! from the decomposer endpoint or from a chain-of-thought prover's own sketch.
//!
//! A prover in `deepseek-prover-v2-cot` or `goedel-prover-v2` format writes a
//! `### Lean 4 Proof with have Statements` block before its final proof. When no
//! `[decomposer]` is configured, [`ProverSketches`] serves those blocks as decompositions:
//! first one already seen in the goal's prover answers, otherwise one more prover request.
//!
//! Invariant: a sketch handed to the pipeline is the proof body after the theorem's
//! `:= by`, dedented, with at least one `sorry`; its statement is never used (a changed one
//! is logged), since the pipeline checks the body in place under the original statement.
//!
//! [`pipeline::Decomposer`]: crate::pipeline::Decomposer

use crate::config::ModelConfig;
use crate::models::{ChatClient, ParsedOutput, PromptFormat, parse_output};
use crate::pipeline::{self, GoalSpec, ModelError, Sketch};

use super::prover::{ModelProver, Sampling, ask, proof_task};

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

/// A decomposer model over the OpenAI-compatible client.
#[derive(Clone, Debug)]
pub struct ModelDecomposer {
    client: ChatClient,
    format: PromptFormat,
    sampling: Sampling,
}

impl ModelDecomposer {
    /// A decomposer asking `client` in `format` (normally [`PromptFormat::Decomposer`]).
    pub fn new(client: ChatClient, format: PromptFormat, config: &ModelConfig) -> Self {
        ModelDecomposer {
            client,
            format,
            sampling: Sampling::from_config(config),
        }
    }
}

impl pipeline::Decomposer for ModelDecomposer {
    async fn sketch(&self, goal: &GoalSpec) -> Result<Option<Sketch>, ModelError> {
        let request = self
            .sampling
            .request(self.format.messages(&proof_task(goal, None)));
        let answer = ask(&self.client, &request).await?;
        let parsed = parse_output(&answer.content, &goal.lemma());
        let sketch = sketch_from_output(&parsed);
        if sketch.is_none() {
            tracing::debug!("the decomposer's answer has no `have … := by sorry` sketch");
        }
        Ok(sketch)
    }
}

/// Decomposition by a chain-of-thought prover's own sketches (see the module docs).
#[derive(Clone, Debug)]
pub struct ProverSketches {
    prover: ModelProver,
}

impl ProverSketches {
    /// Sketches from `prover`, which should use a format that writes them
    /// ([`PromptFormat::yields_sketch`]).
    pub fn new(prover: ModelProver) -> Self {
        ProverSketches { prover }
    }
}

impl pipeline::Decomposer for ProverSketches {
    async fn sketch(&self, goal: &GoalSpec) -> Result<Option<Sketch>, ModelError> {
        if let Some(sketch) = self.prover.take_sketch(goal) {
            return Ok(Some(sketch));
        }
        let answer = self.prover.raw_answer(goal, None).await?;
        Ok(sketch_from_output(&parse_output(
            &answer.content,
            &goal.lemma(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
