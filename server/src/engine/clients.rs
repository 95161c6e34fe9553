//! The model clients of a configuration: an endpoint's settings from its `[prover]` or
//! `[decomposer]` table and the process environment, and the client made from them.
//!
//! Invariant: the API key is read only here, from the variable the configuration names, and
//! goes only into the endpoint's `Secret`.

use std::time::Duration;

use crate::config::ModelConfig;
use crate::models::client::{EndpointSettings, ModelError};
use crate::models::{ChatClient, Secret};

/// Endpoint settings for `model`, reading the API key from the environment through `env` (a
/// lookup such as `|name| std::env::var(name).ok()`).
pub fn endpoint_settings(
    model: &ModelConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<EndpointSettings, ModelError> {
    let api_key = match &model.api_key_env {
        Some(name) => Some(Secret::new(
            env(name).ok_or_else(|| ModelError::MissingKey(name.clone()))?,
        )),
        None => None,
    };
    let mut settings = EndpointSettings::new(&model.base_url, &model.model);
    settings.api_key = api_key;
    settings.api_key_env = model.api_key_env.clone();
    settings.idle_timeout = Duration::from_secs(model.timeout_s.max(1));
    settings.concurrency = model.concurrency.max(1);
    settings.sample_mode = model.sample_mode;
    Ok(settings)
}

/// A client for `model`'s endpoint, with the key from the process environment.
pub fn chat_client(model: &ModelConfig) -> Result<ChatClient, ModelError> {
    ChatClient::new(endpoint_settings(model, |name| std::env::var(name).ok())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_key_comes_from_the_named_variable_and_is_hidden() {
        let text = "[decomposer]\nbase_url = \"https://api.deepseek.com/v1\"\nmodel = \"deepseek-chat\"\napi_key_env = \"DEEPSEEK_API_KEY\"\n";
        let config = Config::from_toml(text, "f").expect("valid");
        let decomposer = config.decomposer.expect("a decomposer");
        let settings = endpoint_settings(&decomposer, |name| {
            (name == "DEEPSEEK_API_KEY").then(|| "sk-live-123".to_owned())
        })
        .expect("key present");
        assert_eq!(
            settings.api_key.as_ref().map(Secret::expose),
            Some("sk-live-123")
        );
        assert!(!format!("{settings:?}").contains("sk-live-123"));
        let missing = endpoint_settings(&decomposer, |_| None).expect_err("unset");
        assert!(missing.to_string().contains("DEEPSEEK_API_KEY"));
    }
}
