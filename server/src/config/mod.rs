//! `sorryfill.toml`: where the models are, how hard to try, and how strict verification is.
//!
//! The file is looked up in the project root, then in the user's config folder
//! (`dirs::config_dir()/sorryfill/sorryfill.toml`); the first found is used, and the editor's
//! settings (a JSON object, camelCase or snake_case keys) are merged on top.
//!
//! Invariants: an unknown key is an error that names the key and the file (a typo must never
//! silently fall back to a default); API keys are never in the file, only the *name* of the
//! environment variable holding one; with no `[prover]` the configuration is "model-free".

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::models::client::SampleMode;
use crate::models::prompt::{PromptError, PromptFormat};

/// Lean's three standard axioms, which every Mathlib proof may use: the default allow-list of
/// the gate and of `audit`. The one list of them in the product (lean-sim keeps its own, as it
/// stands in for Lean).
pub const STANDARD_AXIOMS: [&str; 3] = ["propext", "Classical.choice", "Quot.sound"];

/// The file name looked up in the project root and the user's config folder.
pub const FILE_NAME: &str = "sorryfill.toml";

/// Errors reading or checking the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file (or the editor settings) is not a valid configuration; the message names the
    /// offending key.
    #[error("invalid configuration in {origin}: {message}")]
    Invalid {
        /// The file, or "the editor settings".
        origin: String,
        /// What is wrong (from the TOML parser: the key, line and column).
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The model that writes whole proofs. `None`: model-free (the tactic portfolio only).
    #[serde(default)]
    pub prover: Option<ModelConfig>,
    /// The model that writes `have` plans. `None`: no decomposition (a CoT prover's sketch may
    /// still be used).
    #[serde(default)]
    pub decomposer: Option<ModelConfig>,
    /// The tactics tried before any model.
    #[serde(default)]
    pub tactics: TacticsConfig,
    /// How hard to try per hole.
    #[serde(default)]
    pub budget: BudgetConfig,
    /// How candidates are checked.
    #[serde(default)]
    pub verify: VerifyConfig,
    /// What the editor session does on its own (`[editor]`).
    #[serde(default)]
    pub editor: EditorConfig,
}

/// One model endpoint (`[prover]` or `[decomposer]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The OpenAI-compatible base URL, e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// The model name sent in requests.
    pub model: String,
    /// The prompt format; default `deepseek-prover-v2` for a prover, `decomposer` for a
    /// decomposer.
    #[serde(default)]
    pub format: Option<String>,
    /// The NAME of the environment variable holding the API key (never the key itself).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// First-round samples per hole asked of this prover; at most `[budget] samples_per_hole`,
    /// which is also the default. Not used for a decomposer (one plan per goal).
    #[serde(default)]
    pub samples: Option<u32>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Token limit per answer.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Requests in flight at once to this endpoint.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Seconds the server may stay silent (between streamed tokens, or for the whole answer
    /// when not streaming).
    #[serde(default = "default_model_timeout_s")]
    pub timeout_s: u64,
    /// Stream answers (recommended).
    #[serde(default = "default_true")]
    pub stream: bool,
    /// How several samples are obtained: `auto`, `n` or `parallel`.
    #[serde(default)]
    pub sample_mode: SampleMode,
    /// For `format = "chat"`: the user message template, with `{lean}` (and optionally
    /// `{informal}`).
    #[serde(default)]
    pub prompt_template: Option<String>,
    /// For `format = "chat"`: an optional system message.
    #[serde(default)]
    pub system_prompt: Option<String>,
}

/// The default `[tactics] list` and the portfolio's, cheapest first. `exact?` is core since
/// Lean 4.8; `grind` is core in recent toolchains (on older ones it costs one failed check).
pub const DEFAULT_TACTICS: &[&str] = &[
    "rfl",
    "decide",
    "omega",
    "simp",
    "norm_num",
    "linarith",
    "nlinarith",
    "positivity",
    "ring_nf",
    "aesop",
    "grind",
    "exact?",
    "simp_all",
    "tauto",
];

/// `[tactics]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TacticsConfig {
    /// Tactics tried, in order, before any model.
    #[serde(default = "default_tactics")]
    pub list: Vec<String>,
}

impl Default for TacticsConfig {
    fn default() -> Self {
        Self {
            list: default_tactics(),
        }
    }
}

/// `[editor]`: what the editor session does on its own initiative.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditorConfig {
    /// On `didSave` of the current version, apply every verified proof with
    /// `workspace/applyEdit` (off by default: proofs are offered as code actions only).
    #[serde(default)]
    pub apply_on_save: bool,
}

/// `[budget]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Prover samples per hole, all rounds together.
    #[serde(default = "default_samples_per_hole")]
    pub samples_per_hole: u32,
    /// How deep decomposition may recurse (0: never decompose).
    #[serde(default = "default_decomposition_depth")]
    pub decomposition_depth: u32,
    /// Wall time per hole, in seconds.
    #[serde(default = "default_wall_time_per_hole_s")]
    pub wall_time_per_hole_s: u64,
    /// Holes worked on at once.
    #[serde(default = "default_concurrent_holes")]
    pub concurrent_holes: usize,
    /// Model requests in flight at once, all endpoints together.
    #[serde(default = "default_concurrent_model_requests")]
    pub concurrent_model_requests: usize,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            samples_per_hole: default_samples_per_hole(),
            decomposition_depth: default_decomposition_depth(),
            wall_time_per_hole_s: default_wall_time_per_hole_s(),
            concurrent_holes: default_concurrent_holes(),
            concurrent_model_requests: default_concurrent_model_requests(),
        }
    }
}

/// `[verify]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// Lean processes checking candidates at once.
    #[serde(default = "default_verify_workers")]
    pub workers: usize,
    /// Seconds Lean may take to check one candidate (loading the imports not included).
    #[serde(default = "default_verify_timeout_s")]
    pub timeout_s: u64,
    /// Seconds Lean may take to load a file's imports in a new shadow document, before any
    /// check of that file starts (a Mathlib import takes tens of seconds).
    #[serde(default = "default_verify_import_timeout_s")]
    pub import_timeout_s: u64,
    /// Accept proofs using `native_decide` (it trusts the compiler: off by default).
    #[serde(default)]
    pub allow_native_decide: bool,
    /// Axioms a proof may depend on.
    #[serde(default = "default_allowed_axioms")]
    pub allowed_axioms: Vec<String>,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        Self {
            workers: default_verify_workers(),
            timeout_s: default_verify_timeout_s(),
            import_timeout_s: default_verify_import_timeout_s(),
            allow_native_decide: false,
            allowed_axioms: default_allowed_axioms(),
        }
    }
}

fn default_max_tokens() -> u32 {
    8192
}
fn default_concurrency() -> usize {
    4
}
fn default_model_timeout_s() -> u64 {
    120
}
fn default_true() -> bool {
    true
}
fn default_tactics() -> Vec<String> {
    DEFAULT_TACTICS
        .iter()
        .map(|tactic| (*tactic).to_owned())
        .collect()
}
fn default_samples_per_hole() -> u32 {
    16
}
fn default_decomposition_depth() -> u32 {
    2
}
fn default_wall_time_per_hole_s() -> u64 {
    300
}
fn default_concurrent_holes() -> usize {
    2
}
fn default_concurrent_model_requests() -> usize {
    4
}
fn default_verify_workers() -> usize {
    2
}
fn default_verify_timeout_s() -> u64 {
    20
}
fn default_verify_import_timeout_s() -> u64 {
    600
}
fn default_allowed_axioms() -> Vec<String> {
    STANDARD_AXIOMS.map(str::to_owned).to_vec()
}

/// Which role an endpoint plays (for its default prompt format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelRole {
    /// Writes whole proofs.
    Prover,
    /// Writes `have` plans.
    Decomposer,
}

impl ModelConfig {
    /// The prompt format, defaulting by role.
    pub fn prompt_format(&self, role: ModelRole) -> Result<PromptFormat, PromptError> {
        let default = match role {
            ModelRole::Prover => "deepseek-prover-v2",
            ModelRole::Decomposer => "decomposer",
        };
        PromptFormat::from_name(
            self.format.as_deref().unwrap_or(default),
            self.prompt_template.as_deref(),
            self.system_prompt.as_deref(),
        )
    }
}

/// A configuration and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: Config,
    /// The file it was read from; `None` when no file exists (all defaults).
    pub source: Option<PathBuf>,
}

impl Config {
    /// The files looked at, in order: the project root, then the user's config folder.
    pub fn candidate_paths(project_root: &Path) -> Vec<PathBuf> {
        let mut paths = vec![project_root.join(FILE_NAME)];
        if let Some(dir) = dirs::config_dir() {
            paths.push(dir.join("sorryfill").join(FILE_NAME));
        }
        paths
    }

    /// Loads the configuration for a project (see [`Config::candidate_paths`]).
    pub fn load(project_root: &Path) -> Result<LoadedConfig, ConfigError> {
        Self::load_first(&Self::candidate_paths(project_root))
    }

    /// Loads the first existing file of `paths`, or the defaults when none exists.
    pub fn load_first(paths: &[PathBuf]) -> Result<LoadedConfig, ConfigError> {
        for path in paths {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let config = Self::from_toml(&text, &path.display().to_string())?;
                    return Ok(LoadedConfig {
                        config,
                        source: Some(path.clone()),
                    });
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(ConfigError::Read {
                        path: path.clone(),
                        source,
                    });
                }
            }
        }
        Ok(LoadedConfig {
            config: Self::default(),
            source: None,
        })
    }

    /// Parses and checks TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            origin: origin.to_owned(),
            message: e.to_string().trim().to_owned(),
        })?;
        config.check(origin)?;
        Ok(config)
    }

    /// The configuration with the editor's settings merged on top. `settings` is the
    /// `sorryfill` object of the editor settings, e.g. `{"prover": {"baseUrl": "…"}}`;
    /// camelCase keys are accepted, `null` values are ignored.
    pub fn with_editor_settings(&self, settings: &serde_json::Value) -> Result<Self, ConfigError> {
        self.with_settings_from(settings, "the editor settings")
    }

    /// [`Config::with_editor_settings`] for settings from `origin` (named in errors), e.g.
    /// the `SORRYFILL_SETTINGS` environment variable.
    pub fn with_settings_from(
        &self,
        settings: &serde_json::Value,
        origin: &str,
    ) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        let mut base = toml::Value::try_from(self).map_err(|e| invalid(e.to_string()))?;
        let overlay = json_to_toml(settings).ok_or_else(|| {
            invalid("the settings must be an object such as {\"prover\": {…}}".to_owned())
        })?;
        merge(&mut base, overlay);
        let merged: Self = base
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.to_string().trim().to_owned()))?;
        merged.check(origin)?;
        Ok(merged)
    }

    /// Whether no prover is configured: only the tactic portfolio runs.
    pub fn is_model_free(&self) -> bool {
        self.prover.is_none()
    }

    /// A one-line description of what runs, for the log and `sorryfill doctor`.
    pub fn summary(&self) -> String {
        match (&self.prover, &self.decomposer) {
            (None, _) => {
                "model-free: no [prover] in sorryfill.toml, so only the tactic portfolio runs"
                    .to_owned()
            }
            (Some(prover), None) => format!(
                "prover {} at {}; no decomposer",
                prover.model, prover.base_url
            ),
            (Some(prover), Some(decomposer)) => format!(
                "prover {} at {}; decomposer {} at {}",
                prover.model, prover.base_url, decomposer.model, decomposer.base_url
            ),
        }
    }

    /// First-round prover samples per hole: `[prover] samples`, capped by `[budget]
    /// samples_per_hole` (see [`Config::setting_warnings`]).
    pub fn prover_samples_per_hole(&self) -> u32 {
        let cap = self.budget.samples_per_hole;
        self.prover
            .as_ref()
            .and_then(|prover| prover.samples)
            .map_or(cap, |samples| samples.min(cap))
    }

    /// Settings that have less effect than their value says, in words (for one warning
    /// each): a value capped by another setting, or a key that does nothing where it is.
    pub fn setting_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let cap = self.budget.samples_per_hole;
        if let Some(samples) = self.prover.as_ref().and_then(|prover| prover.samples)
            && samples > cap
        {
            warnings.push(format!(
                "[prover] samples = {samples} is capped by [budget] samples_per_hole = {cap}: each hole gets {cap} prover samples; raise samples_per_hole to allow more"
            ));
        }
        if self
            .decomposer
            .as_ref()
            .is_some_and(|decomposer| decomposer.samples.is_some())
        {
            warnings.push(
                "[decomposer] samples has no effect: the decomposer writes one plan per goal"
                    .to_owned(),
            );
        }
        warnings
    }

    fn check(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        for (table, model, role) in [
            ("prover", &self.prover, ModelRole::Prover),
            ("decomposer", &self.decomposer, ModelRole::Decomposer),
        ] {
            let Some(model) = model else { continue };
            if !(model.base_url.starts_with("http://") || model.base_url.starts_with("https://")) {
                return Err(invalid(format!(
                    "[{table}] base_url must start with http:// or https:// (got {:?})",
                    model.base_url
                )));
            }
            if model.samples == Some(0) {
                return Err(invalid(format!("[{table}] samples must be at least 1")));
            }
            if let Some(name) = &model.api_key_env
                && (name.is_empty() || name.contains(char::is_whitespace) || name.len() > 100)
            {
                // A key pasted here by mistake must not be echoed back: do not print it.
                return Err(invalid(format!(
                    "[{table}] api_key_env must be the NAME of an environment variable (e.g. \"OPENAI_API_KEY\"), not the key"
                )));
            }
            model
                .prompt_format(role)
                .map_err(|e| invalid(format!("[{table}] format: {e}")))?;
        }
        if self.verify.workers == 0 {
            return Err(invalid("[verify] workers must be at least 1".to_owned()));
        }
        Ok(())
    }
}

/// Converts editor JSON to TOML, turning camelCase keys into snake_case and dropping nulls.
/// `None` when the top level is not an object.
fn json_to_toml(value: &serde_json::Value) -> Option<toml::Value> {
    fn convert(value: &serde_json::Value) -> Option<toml::Value> {
        Some(match value {
            serde_json::Value::Null => return None,
            serde_json::Value::Bool(b) => toml::Value::Boolean(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => toml::Value::Integer(i),
                None => toml::Value::Float(n.as_f64()?),
            },
            serde_json::Value::String(s) => toml::Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                toml::Value::Array(items.iter().filter_map(convert).collect())
            }
            serde_json::Value::Object(map) => toml::Value::Table(
                map.iter()
                    .filter_map(|(k, v)| Some((snake_case(k), convert(v)?)))
                    .collect(),
            ),
        })
    }
    value.is_object().then(|| convert(value)).flatten()
}

fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Merges `overlay` into `base`: tables recursively, anything else replaced.
fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[prover]
base_url = "http://127.0.0.1:8000/v1"
model = "deepseek-ai/DeepSeek-Prover-V2-7B"
format = "deepseek-prover-v2-cot"
samples = 8
temperature = 0.6

[decomposer]
base_url = "https://api.deepseek.com/v1"
model = "deepseek-chat"
api_key_env = "DEEPSEEK_API_KEY"

[tactics]
list = ["simp", "omega"]

[budget]
decomposition_depth = 1

[verify]
timeout_s = 60
"#;

    #[test]
    fn a_full_file_reads_with_defaults_filled_in() {
        let config = Config::from_toml(FULL, "sorryfill.toml").expect("valid");
        let prover = config.prover.as_ref().expect("a prover");
        assert_eq!(prover.samples, Some(8));
        assert_eq!(config.prover_samples_per_hole(), 8);
        assert_eq!(prover.max_tokens, 8192);
        assert_eq!(config.tactics.list, ["simp", "omega"]);
        assert_eq!(config.budget.decomposition_depth, 1);
        assert_eq!(config.verify.timeout_s, 60);
        assert_eq!(config.verify.workers, 2);
        assert!(!config.verify.allow_native_decide);
        assert_eq!(
            config.verify.allowed_axioms,
            ["propext", "Classical.choice", "Quot.sound"]
        );
        assert!(!config.is_model_free());
        assert_eq!(
            config
                .decomposer
                .as_ref()
                .expect("a decomposer")
                .prompt_format(ModelRole::Decomposer),
            Ok(PromptFormat::Decomposer)
        );
    }

    #[test]
    fn an_unknown_key_names_the_key_and_the_file() {
        let text = "[prover]\nbase_url = \"http://x/v1\"\nmodel = \"m\"\ntemprature = 0.5\n";
        let error = Config::from_toml(text, "/p/sorryfill.toml").expect_err("a typo");
        let message = error.to_string();
        assert!(message.contains("temprature"), "{message}");
        assert!(message.contains("/p/sorryfill.toml"), "{message}");
        let top = Config::from_toml("[provers]\n", "f.toml").expect_err("unknown table");
        assert!(top.to_string().contains("provers"));
    }

    #[test]
    fn prover_samples_are_capped_by_the_budget_with_a_warning() {
        let prover = "[prover]\nbase_url = \"http://x/v1\"\nmodel = \"m\"\n";
        let unset = Config::from_toml(prover, "f").expect("valid");
        assert_eq!(
            unset.prover_samples_per_hole(),
            16,
            "the budget's by default"
        );
        assert!(unset.setting_warnings().is_empty());
        let capped = Config::from_toml(&format!("{prover}samples = 31\n"), "f").expect("valid");
        assert_eq!(capped.prover_samples_per_hole(), 16);
        let warnings = capped.setting_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("samples_per_hole = 16"),
            "{warnings:?}"
        );
        let raised = Config::from_toml(
            &format!("{prover}samples = 31\n[budget]\nsamples_per_hole = 40\n"),
            "f",
        )
        .expect("valid");
        assert_eq!(raised.prover_samples_per_hole(), 31);
        assert!(raised.setting_warnings().is_empty());
    }

    #[test]
    fn no_prover_means_model_free() {
        let config = Config::from_toml("[verify]\nworkers = 1\n", "f").expect("valid");
        assert!(config.is_model_free());
        assert!(config.summary().starts_with("model-free"));
    }

    #[test]
    fn editor_settings_override_the_file() {
        let config = Config::from_toml(FULL, "f").expect("valid");
        let merged = config
            .with_editor_settings(&serde_json::json!({
                "prover": {"baseUrl": "http://127.0.0.1:9000/v1", "samples": 2, "topP": null},
                "verify": {"allowNativeDecide": true}
            }))
            .expect("valid settings");
        let prover = merged.prover.expect("still a prover");
        assert_eq!(prover.base_url, "http://127.0.0.1:9000/v1");
        assert_eq!(prover.samples, Some(2));
        assert_eq!(prover.model, "deepseek-ai/DeepSeek-Prover-V2-7B");
        assert!(merged.verify.allow_native_decide);
        let error = config
            .with_editor_settings(&serde_json::json!({"prover": {"baseUrll": "x"}}))
            .expect_err("a typo in the editor settings");
        assert!(error.to_string().contains("base_urll"));
    }

    #[test]
    fn editor_settings_can_add_a_prover_to_a_model_free_config() {
        let merged = Config::default()
            .with_editor_settings(&serde_json::json!({
                "prover": {"baseUrl": "http://127.0.0.1:8000/v1", "model": "m"}
            }))
            .expect("valid");
        assert!(!merged.is_model_free());
    }

    #[test]
    fn the_project_file_wins_over_the_user_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let project = dir.path().join("project.toml");
        let user = dir.path().join("user.toml");
        std::fs::write(&user, "[verify]\nworkers = 7\n").expect("write");
        let loaded = Config::load_first(&[project.clone(), user.clone()]).expect("loads");
        assert_eq!(loaded.config.verify.workers, 7);
        assert_eq!(loaded.source.as_deref(), Some(user.as_path()));
        std::fs::write(&project, "[verify]\nworkers = 3\n").expect("write");
        let loaded = Config::load_first(&[project.clone(), user]).expect("loads");
        assert_eq!(loaded.config.verify.workers, 3);
        let none = Config::load_first(&[dir.path().join("absent.toml")]).expect("defaults");
        assert_eq!(none.source, None);
        assert!(none.config.is_model_free());
    }

    #[test]
    fn a_key_pasted_into_api_key_env_is_rejected_without_echoing_it() {
        let text =
            "[prover]\nbase_url = \"http://x/v1\"\nmodel = \"m\"\napi_key_env = \"sk-abc def\"\n";
        let error = Config::from_toml(text, "f").expect_err("not a variable name");
        assert!(!error.to_string().contains("sk-abc"));
    }
}
