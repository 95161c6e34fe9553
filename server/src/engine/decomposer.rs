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
use crate::models::{ChatClient, PromptFormat, parse_output};
use crate::pipeline::{self, GoalSpec, ModelFailure, Sketch};

use super::prover::{ModelProver, Sampling, ask, proof_task};
use super::sketch_output::sketch_from_output;

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
    async fn sketch(&self, goal: &GoalSpec) -> Result<Option<Sketch>, ModelFailure> {
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
    async fn sketch(&self, goal: &GoalSpec) -> Result<Option<Sketch>, ModelFailure> {
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
