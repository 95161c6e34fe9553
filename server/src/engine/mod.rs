//! The engine: the pipeline wired to the real outside world. Models come from
//! `sorryfill.toml` (`models::ChatClient` in the configured prompt format), the cache and the
//! data set from the project's `store::Store`; Lean is the caller's [`Checker`].
//!
//! [`Engine::build`] is the one place that decides what runs: a missing `[prover]` means
//! model-free (the tactic portfolio only, said once in the log), a model whose API key
//! variable is not set is off (one warning for the caller to show), a missing `[decomposer]`
//! means a chain-of-thought prover's own sketches decompose (see [`decomposer`]) or nothing
//! does, and a database that cannot be opened means no cache (with a warning) rather than no
//! proving.
//!
//! Invariants: model requests are limited once, by the pipeline's workspace semaphore
//! (`[budget] concurrent_model_requests`), plus each endpoint's own `concurrency`; nothing
//! here adds a third limit. Dropping a job's futures drops its HTTP requests.

pub mod attempts;
mod clients;
pub mod decomposer;
pub mod prover;
mod sketch_output;

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

pub use attempts::{KeyParts, StoreAttempts};
pub use decomposer::{ModelDecomposer, ProverSketches};
pub use prover::{ModelProver, proof_task};
pub use sketch_output::sketch_from_output;

use crate::config::{Config, ModelRole};
use crate::models::prompt::PromptError;
use crate::pipeline::{
    AttemptRecord, Attempts, Candidate, Checker, Decomposer, GoalSpec, HoleBudget, ModelFailure,
    NoDecomposer, NoProver, NoStore, Pipeline, Portfolio, Prover, Repair, Sketch, WorkspaceLimits,
};
use crate::store::{self, ProjectFingerprint};

/// Why the engine could not be built from a configuration. The fields are not error
/// sources on purpose: the message already says everything, and a source would be printed
/// a second time by `{:#}`.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A model's prompt format is wrong.
    #[error("[{table}] format: {problem}")]
    Format {
        /// `prover` or `decomposer`.
        table: &'static str,
        /// What is wrong with it.
        problem: PromptError,
    },
    /// A model's client could not be made (the HTTP client could not be set up).
    #[error("[{table}]: {problem}")]
    Client {
        /// `prover` or `decomposer`.
        table: &'static str,
        /// The client's error; it never contains a key.
        problem: crate::models::ModelError,
    },
}

/// Something the user should know about the configuration, which does not stop proving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineWarning {
    /// An endpoint's `api_key_env` names a variable that is not set: that model is off.
    #[error(
        "[{table}] api_key_env names the environment variable {variable}, which is not set, so the {table} is off and {fallback}; set it (export {variable}=...) before starting sorryfill"
    )]
    MissingKey {
        /// `prover` or `decomposer`.
        table: &'static str,
        /// The variable's name (never its value).
        variable: String,
        /// What runs instead, in words.
        fallback: &'static str,
    },
    /// A setting has less effect than its value says (capped by another, or unused).
    #[error("{0}")]
    Setting(String),
    /// The project's database cannot be used (corrupt, locked, unwritable): proving goes on
    /// without the cache and the attempt log.
    #[error(
        "the cache at {database} cannot be used ({reason}), so proving goes on without a cache or data set"
    )]
    NoCache {
        /// The database file.
        database: String,
        /// Why, in SQLite's words.
        reason: String,
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
    ) -> Result<Candidate, ModelFailure> {
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
    async fn sketch(&self, goal: &GoalSpec) -> Result<Option<Sketch>, ModelFailure> {
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

    async fn cached(&self, goal: &GoalSpec) -> Option<String> {
        match self {
            ConfiguredStore::Store(store) => store.cached(goal).await,
            ConfiguredStore::Absent(store) => store.cached(goal).await,
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
    warnings: Vec<EngineWarning>,
    /// The model clients (clones share their state), to tell which could not be reached.
    endpoints: Vec<crate::models::ChatClient>,
}

/// Model-free mode is announced once per process, not once per workspace folder.
static MODEL_FREE_NOTICE: Once = Once::new();

impl<C: Checker> Engine<C> {
    /// Wires the pipeline for the project at `project_root` as `config` says, with Lean
    /// behind `checker`. Fails only on a configuration the user must fix (a prompt format);
    /// a model whose API key variable is not set is left out with a warning
    /// ([`Engine::warnings`]), so the rest still runs.
    pub fn build(config: &Config, project_root: &Path, checker: C) -> Result<Self, EngineError> {
        let mut warnings = Vec::new();
        let mut endpoints = Vec::new();
        let prover = match &config.prover {
            Some(model) => {
                let format = model.prompt_format(ModelRole::Prover).map_err(|problem| {
                    EngineError::Format {
                        table: "prover",
                        problem,
                    }
                })?;
                model_client(model, "prover", &mut warnings)?
                    .inspect(|client| endpoints.push(client.clone()))
                    .map(|client| ModelProver::new(client, format, model))
            }
            None => None,
        };
        let decomposer_client = match &config.decomposer {
            Some(model) => {
                let format = model
                    .prompt_format(ModelRole::Decomposer)
                    .map_err(|problem| EngineError::Format {
                        table: "decomposer",
                        problem,
                    })?;
                model_client(model, "decomposer", &mut warnings)?
                    .inspect(|client| endpoints.push(client.clone()))
                    .map(|client| ModelDecomposer::new(client, format, model))
            }
            None => None,
        };
        let decomposer = match (decomposer_client, &prover) {
            (Some(decomposer), _) => ConfiguredDecomposer::Model(decomposer),
            (None, Some(prover)) if prover.format().yields_sketch() => {
                ConfiguredDecomposer::ProverSketches(ProverSketches::new(prover.clone()))
            }
            (None, _) => ConfiguredDecomposer::Absent(NoDecomposer),
        };
        let what_runs = match (&prover, &decomposer) {
            (None, ConfiguredDecomposer::Absent(_)) => "only Lean's tactics run",
            (None, _) => "the decomposer's plans and Lean's tactics still run",
            (Some(_), _) => "the prover and Lean's tactics still run",
        };
        for warning in &mut warnings {
            if let EngineWarning::MissingKey { fallback, .. } = warning {
                *fallback = what_runs;
            }
        }
        warnings.extend(
            config
                .setting_warnings()
                .into_iter()
                .map(EngineWarning::Setting),
        );
        let keys = KeyParts {
            fingerprint: ProjectFingerprint::read(project_root),
            model: prover.as_ref().map(|p| p.model().to_owned()),
            prompt_format: prover.as_ref().map(|p| p.format().name().to_owned()),
        };
        let database = store::database_path(project_root);
        let store = match StoreAttempts::open(&database, keys) {
            Ok(store) => Some(store),
            Err(error) => {
                warnings.push(EngineWarning::NoCache {
                    database: database.display().to_string(),
                    reason: error.to_string(),
                });
                None
            }
        };
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        let model_free = prover.is_none() && matches!(decomposer, ConfiguredDecomposer::Absent(_));
        if model_free {
            MODEL_FREE_NOTICE.call_once(|| tracing::info!("{}", config.summary()));
        } else {
            tracing::info!("{}", config.summary());
        }

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
            warnings,
            endpoints,
        })
    }
}

impl<C> Engine<C> {
    /// Whether no model is configured (the tactic portfolio only).
    pub fn is_model_free(&self) -> bool {
        self.model_free
    }

    /// What the user should know about the configuration (a model that is off and why);
    /// already logged, for the caller to show once.
    pub fn warnings(&self) -> &[EngineWarning] {
        &self.warnings
    }

    /// One line for each model endpoint that could not be reached at some point of the run.
    pub fn unreachable_endpoints(&self) -> Vec<String> {
        self.endpoints
            .iter()
            .filter_map(crate::models::ChatClient::unreachable)
            .collect()
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

/// The client of one endpoint; `None` with a warning when its API key variable is not set
/// (the rest of the engine still runs).
fn model_client(
    model: &crate::config::ModelConfig,
    table: &'static str,
    warnings: &mut Vec<EngineWarning>,
) -> Result<Option<crate::models::ChatClient>, EngineError> {
    match clients::chat_client(model) {
        Ok(client) => Ok(Some(client)),
        Err(crate::models::ModelError::MissingKey(variable)) => {
            warnings.push(EngineWarning::MissingKey {
                table,
                variable,
                fallback: "",
            });
            Ok(None)
        }
        Err(problem) => Err(EngineError::Client { table, problem }),
    }
}

/// What each hole may spend under `config`: `[prover] samples` first-round prover samples
/// (at most `[budget] samples_per_hole`) (the pipeline adds at most two repair requests for samples Lean explained),
/// decomposition only when something can decompose.
fn hole_budget(config: &Config, has_prover: bool, decomposer: &ConfiguredDecomposer) -> HoleBudget {
    let defaults = HoleBudget::default();
    let samples = if has_prover {
        config.prover_samples_per_hole() as usize
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
