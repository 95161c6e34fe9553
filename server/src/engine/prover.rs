//! The prover model behind [`pipeline::Prover`]: one chat request per sample, the hole shown
//! as a standalone lemma, the answer parsed into a proof body for splicing.
//!
//! Invariants: the model sees `GoalSpec::standalone` (the file's header and the hole as a
//! lemma), never the user's file; an answer cut off or stuck in a loop never reaches Lean
//! (it fails the sample with the parser's reason); a changed statement is logged and its
//! body is still tried in place, where the gate judges it.
//!
//! [`pipeline::Prover`]: crate::pipeline::Prover

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::ModelConfig;
use crate::models::{ChatClient, ChatRequest, Completion, PromptFormat, ProofTask, parse_output};
use crate::pipeline::{self, Candidate, GoalSpec, ModelFailure, Repair, Sketch};

use super::sketch_output::sketch_from_output;

/// Sketches remembered from chain-of-thought answers, at most this many goals at once.
const REMEMBERED_SKETCHES: usize = 64;

/// A request's sampling settings, taken from the endpoint's configuration.
#[derive(Clone, Debug)]
pub(crate) struct Sampling {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<u32>,
    pub stream: bool,
}

impl Sampling {
    pub(crate) fn from_config(config: &ModelConfig) -> Self {
        Sampling {
            temperature: config.temperature,
            top_p: config.top_p,
            max_tokens: Some(config.max_tokens),
            stream: config.stream,
        }
    }

    /// A one-sample request for `messages`.
    pub(crate) fn request(&self, messages: Vec<crate::models::ChatMessage>) -> ChatRequest {
        ChatRequest {
            messages,
            n: 1,
            temperature: self.temperature,
            top_p: self.top_p,
            max_tokens: self.max_tokens,
            stream: self.stream,
        }
    }
}

/// What the model is asked to prove for `goal`: the header and the hole as a lemma ending in
/// `:= by\n  sorry`, plus the failed proof and Lean's message for a repair round.
pub fn proof_task(goal: &GoalSpec, repair: Option<&Repair>) -> ProofTask {
    ProofTask {
        header: goal.header.clone(),
        theorem: goal.lemma(),
        informal: None,
        feedback: repair.map(|repair| {
            format!(
                "{}\n\nThe proof that failed:\n{}",
                repair.error.trim(),
                repair.previous.trim()
            )
        }),
    }
}

/// One request to `client`, cancelled by dropping the returned future (the client then drops
/// the connection, so the server stops generating).
pub(crate) async fn ask(
    client: &ChatClient,
    request: &ChatRequest,
) -> Result<Completion, ModelFailure> {
    let mut answers = client
        .complete(request)
        .await
        .map_err(|error| ModelFailure(error.to_string()))?;
    if answers.is_empty() {
        return Err(ModelFailure("the model server returned no answer".into()));
    }
    Ok(answers.swap_remove(0))
}

/// A prover model over the OpenAI-compatible client, in its configured prompt format.
#[derive(Clone)]
pub struct ModelProver {
    client: ChatClient,
    format: PromptFormat,
    model: String,
    sampling: Sampling,
    /// Sketches found in chain-of-thought answers, by goal, for [`super::ProverSketches`].
    sketches: Arc<Mutex<HashMap<GoalSpec, Sketch>>>,
}

impl std::fmt::Debug for ModelProver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelProver")
            .field("client", &self.client)
            .field("format", &self.format.name())
            .finish()
    }
}

impl ModelProver {
    /// A prover asking `client` for proofs in `format`, with the endpoint's sampling settings.
    pub fn new(client: ChatClient, format: PromptFormat, config: &ModelConfig) -> Self {
        ModelProver {
            client,
            format,
            model: config.model.clone(),
            sampling: Sampling::from_config(config),
            sketches: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The prompt format, for cache keys and records.
    pub fn format(&self) -> &PromptFormat {
        &self.format
    }

    /// The model name, for cache keys and records.
    pub fn model(&self) -> &str {
        &self.model
    }

    fn remember_sketch(&self, goal: &GoalSpec, sketch: Sketch) {
        let mut sketches = self
            .sketches
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        // A full map is emptied rather than evicted piecemeal: sketches are only a shortcut
        // that saves one request, so losing them is harmless.
        if sketches.len() >= REMEMBERED_SKETCHES && !sketches.contains_key(goal) {
            sketches.clear();
        }
        sketches.insert(goal.clone(), sketch);
    }

    /// A sketch seen in one of this prover's answers for `goal`, taken out of the memory.
    pub(crate) fn take_sketch(&self, goal: &GoalSpec) -> Option<Sketch> {
        self.sketches
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .remove(goal)
    }

    /// Asks the prover once for `goal` and returns its raw answer.
    pub(crate) async fn raw_answer(
        &self,
        goal: &GoalSpec,
        repair: Option<&Repair>,
    ) -> Result<Completion, ModelFailure> {
        let request = self
            .sampling
            .request(self.format.messages(&proof_task(goal, repair)));
        ask(&self.client, &request).await
    }
}

impl pipeline::Prover for ModelProver {
    async fn sample(
        &self,
        goal: &GoalSpec,
        index: usize,
        repair: Option<&Repair>,
    ) -> Result<Candidate, ModelFailure> {
        let answer = self.raw_answer(goal, repair).await?;
        let lemma = goal.lemma();
        let parsed = parse_output(&answer.content, &lemma);
        if self.format.yields_sketch()
            && let Some(sketch) = sketch_from_output(&parsed)
        {
            self.remember_sketch(goal, sketch);
        }
        let proof = parsed.proof.map_err(|rejection| {
            tracing::debug!(sample = index, %rejection, "prover answer rejected before Lean");
            ModelFailure(rejection.to_string())
        })?;
        if proof.statement_changed {
            tracing::info!(
                sample = index,
                written = %proof.statement.header,
                "the prover changed the theorem statement; its proof is tried under the original"
            );
        }
        if !proof.preamble.is_empty() {
            tracing::debug!(
                sample = index,
                "the prover wrote auxiliary declarations, which are not spliced at the hole"
            );
        }
        let body = match proof.body.tactics {
            Some(tactics) => tactics,
            None => format!("exact {}", proof.body.term),
        };
        Ok(Candidate {
            body,
            model: Some(self.model.clone()),
        })
    }
}
