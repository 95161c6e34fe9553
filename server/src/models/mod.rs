//! Model endpoints: the OpenAI-compatible HTTP client, the prompt adapters of each prover
//! family, and the parsing of what models answer.
//!
//! Invariants: API keys live only in [`Secret`] and never reach a log line, an error message or
//! Debug output; nothing here touches the editor or Lean; parsing never trusts a model's output
//! (a truncated block is never a candidate, a changed statement is always recorded).

pub mod client;
pub mod parse;
pub mod prompt;

pub use client::{ChatClient, ChatRequest, Completion, EndpointSettings, ModelError, SampleMode};
pub use parse::{ParseRejection, ParsedOutput, ParsedSketch, ProofCandidate, parse_output};
pub use prompt::{ChatMessage, PromptFormat, ProofTask};

/// A secret value (an API key). Debug and Display print `***` so it cannot leak into logs,
/// errors or reports by formatting.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it (the `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}
