//! The engine: the pipeline wired to the real outside world. Models come from
//! `sorryfill.toml` (`models::ChatClient` in the configured prompt format), the cache and the
//! data set from the project's `store::Store`; Lean is the caller's [`Checker`].
//!
//! [`Engine::build`] is the one place that decides what runs: a missing `[prover]` means
//! model-free (the tactic portfolio only, said once in the log), a missing `[decomposer]`
//! means a chain-of-thought prover's own sketches decompose (see [`decomposer`]) or nothing
//! does, and a database that cannot be opened means no cache (with a warning) rather than no
//! proving.
//!
//! Invariants: model requests are limited once, by the pipeline's workspace semaphore
//! (`[budget] concurrent_model_requests`), plus each endpoint's own `concurrency`; nothing
//! here adds a third limit. Dropping a job's futures drops its HTTP requests.

pub mod attempts;
pub mod decomposer;
pub mod prover;

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

pub use attempts::{KeyParts, StoreAttempts};
pub use decomposer::{ModelDecomposer, ProverSketches, sketch_from_output};
pub use prover::{ModelProver, proof_task};

use crate::config::{Config, ModelRole};
use crate::models::prompt::PromptError;
use crate::pipeline::{
    AttemptRecord, Attempts, Candidate, Checker, Decomposer, GoalSpec, HoleBudget, ModelError,
    NoDecomposer, NoProver, NoStore, Pipeline, Portfolio, Prover, Repair, Sketch, WorkspaceLimits,
};
use crate::store::{self, ProjectFingerprint};

/// Why the engine could not be built from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A model's prompt format is wrong.
    #[error("[{table}] format: {source}")]
    Format {
        /// `prover` or `decomposer`.
        table: &'static str,
        /// What is wrong with it.
        source: PromptError,
    },
    /// A model's client could not be made (a missing API key variable, a bad URL).
    #[error("[{table}]: {source}")]
    Client {
        /// `prover` or `decomposer`.
        table: &'static str,
        /// The client's error; it never contains a key.
        source: crate::models::ModelError,
    },
}

/// The prover the configuration chose.
#[derive(Clone, Debug)]
pub enum ConfiguredProver {
    /// A model endpoint.
    Model(ModelProver),
    /// No `[prover]`: every request fails at once.
    Absent(NoProver),
}

impl Prover for ConfiguredProver {
    async fn sample(
        &self,
        goal: &GoalSpec,
        index: usize,
        repair: Option<&Repair>,
    ) -> Result<Candidate, ModelError> {
        match self {
            ConfiguredProver::Model(prover) => prover.sample(goal, index, repair).await,
            ConfiguredProver::Absent(prover) => prover.sample(goal, index, repair).await,
        }
    }
}

/// The decomposer the configuration chose.
#[derive(Clone, Debug)]
pub enum ConfiguredDecomposer {
    /// A `[decomposer]` endpoint.
    Model(ModelDecomposer),
    /// No `[decomposer]`, but a prover whose format writes sketches.
    ProverSketches(ProverSketches),
    /// Nothing decomposes.
    Absent(NoDecomposer),
}

impl Decomposer for ConfiguredDecomposer {
    async fn sketch(&self, goal: &GoalSpec) -> Result<Option<Sketch>, ModelError> {
        match self {
            ConfiguredDecomposer::Model(decomposer) => decomposer.sketch(goal).await,
            ConfiguredDecomposer::ProverSketches(decomposer) => decomposer.sketch(goal).await,
            ConfiguredDecomposer::Absent(decomposer) => decomposer.sketch(goal).await,
        }
    }
}

/// The store the engine could open.
#[derive(Clone, Debug)]
pub enum ConfiguredStore {
    /// The project's database.
    Store(StoreAttempts),
    /// The database could not be opened: nothing is cached or recorded.
    Absent(NoStore),
}

impl Attempts for ConfiguredStore {
    fn record(&self, attempt: AttemptRecord) {
        match self {
            ConfiguredStore::Store(store) => store.record(attempt),
            ConfiguredStore::Absent(store) => store.record(attempt),
        }
    }

    fn cached(&self, goal: &GoalSpec) -> Option<String> {
        match self {
            ConfiguredStore::Store(store) => store.cached(goal),
            ConfiguredStore::Absent(store) => store.cached(goal),
        }
    }
}

/// The pipeline as [`Engine::build`] wires it.
pub type ConfiguredPipeline<C> =
    Pipeline<C, ConfiguredProver, ConfiguredDecomposer, ConfiguredStore>;

/// A workspace's pipeline with its models and store.
pub struct Engine<C> {
    /// The pipeline: submit jobs here.
    pub pipeline: ConfiguredPipeline<C>,
    store: Option<StoreAttempts>,
    database: Option<PathBuf>,
    model_free: bool,
}

/// Model-free mode is announced once per process, not once per workspace folder.
static MODEL_FREE_NOTICE: Once = Once::new();

impl<C: Checker> Engine<C> {
    /// Wires the pipeline for the project at `project_root` as `config` says, with Lean
    /// behind `checker`. Fails only on a configuration the user must fix (a prompt format,
    /// an API key variable that is not set).
    pub fn build(config: &Config, project_root: &Path, checker: C) -> Result<Self, EngineError> {
        let prover = match &config.prover {
            Some(model) => {
                let format = model.prompt_format(ModelRole::Prover).map_err(|source| {
                    EngineError::Format {
                        table: "prover",
                        source,
                    }
                })?;
                let client = model.client().map_err(|source| EngineError::Client {
                    table: "prover",
                    source,
                })?;
                Some(ModelProver::new(client, format, model))
            }
            None => None,
        };
        let decomposer = match (&config.decomposer, &prover) {
            (Some(model), _) => {
                let format = model
                    .prompt_format(ModelRole::Decomposer)
                    .map_err(|source| EngineError::Format {
                        table: "decomposer",
                        source,
                    })?;
                let client = model.client().map_err(|source| EngineError::Client {
                    table: "decomposer",
                    source,
                })?;
                ConfiguredDecomposer::Model(ModelDecomposer::new(client, format, model))
            }
            (None, Some(prover)) if prover.format().yields_sketch() => {
                ConfiguredDecomposer::ProverSketches(ProverSketches::new(prover.clone()))
            }
            (None, _) => ConfiguredDecomposer::Absent(NoDecomposer),
        };
        let model_free = prover.is_none() && config.decomposer.is_none();
        if model_free {
            MODEL_FREE_NOTICE.call_once(|| tracing::info!("{}", config.summary()));
        } else {
            tracing::info!("{}", config.summary());
        }

        let keys = KeyParts {
            fingerprint: ProjectFingerprint::read(project_root),
            model: prover.as_ref().map(|p| p.model().to_owned()),
            prompt_format: prover.as_ref().map(|p| p.format().name().to_owned()),
        };
        let database = store::database_path(project_root);
        let store = match StoreAttempts::open(&database, keys) {
            Ok(store) => Some(store),
            Err(error) => {
                tracing::warn!(%error, "proving without a cache or data set");
                None
            }
        };

        let budget = hole_budget(config, prover.is_some(), &decomposer);
        let limits = WorkspaceLimits {
            concurrent_holes: config.budget.concurrent_holes.max(1),
            concurrent_model_requests: config.budget.concurrent_model_requests.max(1),
        };
        let pipeline = Pipeline::new(
            checker,
            prover.map_or(ConfiguredProver::Absent(NoProver), ConfiguredProver::Model),
            decomposer,
            store
                .clone()
                .map_or(ConfiguredStore::Absent(NoStore), ConfiguredStore::Store),
            Portfolio::new(config.tactics.list.iter().cloned()),
            budget,
            limits,
        );
        Ok(Engine {
            pipeline,
            database: store.as_ref().map(|_| database),
            store,
            model_free,
        })
    }
}

impl<C> Engine<C> {
    /// Whether no model is configured (the tactic portfolio only).
    pub fn is_model_free(&self) -> bool {
        self.model_free
    }

    /// The database attempts are recorded in, when it could be opened.
    pub fn database(&self) -> Option<&Path> {
        self.database.as_deref()
    }

    /// Waits until every attempt recorded so far is written (before an export).
    pub async fn flush(&self) {
        if let Some(store) = &self.store {
            store.flush().await;
        }
    }
}

/// What each hole may spend under `config`: `[budget] samples_per_hole` first-round prover
/// samples (the pipeline adds at most two repair requests for samples Lean explained),
/// decomposition only when something can decompose.
fn hole_budget(config: &Config, has_prover: bool, decomposer: &ConfiguredDecomposer) -> HoleBudget {
    let defaults = HoleBudget::default();
    let samples = if has_prover {
        config.budget.samples_per_hole as usize
    } else {
        0
    };
    let can_decompose = !matches!(decomposer, ConfiguredDecomposer::Absent(_));
    HoleBudget {
        use_models: has_prover || can_decompose,
        samples,
        repairs: if has_prover { defaults.repairs } else { 0 },
        decomposition_depth: if can_decompose {
            config.budget.decomposition_depth as usize
        } else {
            0
        },
        wall_time: Duration::from_secs(config.budget.wall_time_per_hole_s.max(1)),
        ..defaults
    }
}
