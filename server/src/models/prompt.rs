//! Prompt adapters: one [`ProofTask`] turned into the chat messages each model family was
//! trained on.
//!
//! The prover formats follow their authors' published prompts to the byte (see
//! `docs/architecture.md` for sources); a model sent a prompt it was not trained on proves far
//! less. The Lean sent is always a standalone theorem with the file's imports and `open`s,
//! never the user's whole file.

use serde::{Deserialize, Serialize};

/// What to prove: a standalone theorem ending in `:= by\n  sorry` and the context it needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProofTask {
    /// The file's imports and `open`s (and `set_option`s worth keeping).
    pub header: String,
    /// The standalone theorem, ending in `:= by\n  sorry`.
    pub theorem: String,
    /// An informal statement, sent as a `/-- … -/` docstring when the theorem has none.
    pub informal: Option<String>,
    /// Lean's error on the previous attempt, for a repair round.
    pub feedback: Option<String>,
}

impl ProofTask {
    /// The Lean text sent to a model: header, a blank line, optional docstring, the theorem.
    pub fn lean_code(&self) -> String {
        let mut code = String::new();
        let header = self.header.trim();
        if !header.is_empty() {
            code.push_str(header);
            code.push_str("\n\n");
        }
        let theorem = self.theorem.trim();
        if let Some(informal) = self.informal.as_deref().map(str::trim)
            && !informal.is_empty()
            && !theorem.starts_with("/--")
        {
            code.push_str("/-- ");
            code.push_str(informal);
            code.push_str(" -/\n");
        }
        code.push_str(theorem);
        code
    }
}

/// The role of a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions before the conversation.
    System,
    /// The user's turn.
    User,
    /// The model's turn.
    Assistant,
}

/// One chat message of an OpenAI-compatible request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// What they say.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
}

/// A named prompt format (`format = "..."` in `sorryfill.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptFormat {
    /// DeepSeek-Prover-V2, non-CoT: `Complete the following Lean 4 code:` and the block.
    DeepSeekProverV2,
    /// DeepSeek-Prover-V2 with the proof-plan instruction (chain of thought).
    DeepSeekProverV2Cot,
    /// Kimina-Prover: its system prompt and `Think about and solve …`.
    Kimina,
    /// Goedel-Prover-V2: the DeepSeek-Prover-V2 CoT prompt it was trained on.
    GoedelProverV2,
    /// A user-set template; `{lean}` is replaced by the Lean code, `{informal}` by the informal
    /// statement (or nothing).
    Chat {
        /// Optional system message.
        system: Option<String>,
        /// The user message template.
        template: String,
    },
    /// sorryfill's decomposer prompt: a plan, then one `have … := by sorry` sketch.
    Decomposer,
}

/// Errors naming a prompt format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// The name is not a known format.
    #[error(
        "unknown prompt format {0:?}: use one of deepseek-prover-v2, deepseek-prover-v2-cot, kimina, goedel-prover-v2, chat, decomposer"
    )]
    UnknownFormat(String),
    /// `chat` needs a template with `{lean}`.
    #[error("the chat prompt template must contain the placeholder {{lean}}")]
    TemplateWithoutLean,
}

/// The `Complete the following Lean 4 code:` prompt shared by DeepSeek and Goedel.
const COMPLETE_PREFIX: &str = "Complete the following Lean 4 code:\n\n```lean4\n";
/// DeepSeek-Prover-V2's chain-of-thought instruction, as published in its model card.
const PROOF_PLAN_INSTRUCTION: &str = "Before producing the Lean 4 code to formally prove the given theorem, provide a detailed proof plan outlining the main proof steps and strategies.\nThe plan should highlight key ideas, intermediate lemmas, and proof structures that will guide the construction of the final formal proof.";
/// Kimina-Prover's system prompt, as in its demo code.
const KIMINA_SYSTEM: &str = "You are an expert programmer and mathematician who helps formalizing mathematical problems in Lean 4.";
/// Kimina-Prover's user instruction, as in its demo code.
const KIMINA_INSTRUCTION: &str =
    "Think about and solve the following problems step by step in Lean 4.";

/// sorryfill's own decomposer instructions (DeepSeek did not publish the prompt of theirs).
const DECOMPOSER_SYSTEM: &str = "You are an expert in Lean 4 and Mathlib who plans formal proofs by breaking them into intermediate lemmas.";
const DECOMPOSER_INSTRUCTION: &str =
    "Plan a proof of the following Lean 4 theorem, then write the plan as a Lean 4 proof sketch.";
const DECOMPOSER_RULES: &str = "First explain in plain language how the proof goes and which intermediate facts it needs.\n\
Then write exactly one ```lean4 code block that:\n\
- repeats the theorem statement exactly as given (same name, binders and goal), without imports;\n\
- proves it with a sequence of steps `have name : statement := by sorry`, one per intermediate fact, each stated in full so it can be proved on its own;\n\
- ends with a final step that closes the goal using those facts (for example `linarith [h1, h2]` or `exact h_main`).\n\
Leave every `have` proved by `sorry`; do not prove the steps yourself.";

impl PromptFormat {
    /// The format named in the configuration. `chat` takes its template and system prompt.
    pub fn from_name(
        name: &str,
        template: Option<&str>,
        system: Option<&str>,
    ) -> Result<Self, PromptError> {
        Ok(match name {
            "deepseek-prover-v2" => Self::DeepSeekProverV2,
            "deepseek-prover-v2-cot" => Self::DeepSeekProverV2Cot,
            "kimina" => Self::Kimina,
            "goedel-prover-v2" => Self::GoedelProverV2,
            "decomposer" => Self::Decomposer,
            "chat" => {
                let template = template.unwrap_or("{lean}");
                if !template.contains("{lean}") {
                    return Err(PromptError::TemplateWithoutLean);
                }
                Self::Chat {
                    system: system.map(str::to_owned),
                    template: template.to_owned(),
                }
            }
            other => return Err(PromptError::UnknownFormat(other.to_owned())),
        })
    }

    /// The configuration name of the format.
    pub fn name(&self) -> &'static str {
        match self {
            Self::DeepSeekProverV2 => "deepseek-prover-v2",
            Self::DeepSeekProverV2Cot => "deepseek-prover-v2-cot",
            Self::Kimina => "kimina",
            Self::GoedelProverV2 => "goedel-prover-v2",
            Self::Chat { .. } => "chat",
            Self::Decomposer => "decomposer",
        }
    }

    /// Whether answers in this format carry a `have … := by sorry` sketch usable as a
    /// decomposition.
    pub fn yields_sketch(&self) -> bool {
        matches!(
            self,
            Self::DeepSeekProverV2Cot | Self::GoedelProverV2 | Self::Decomposer
        )
    }

    /// The chat messages for a task.
    pub fn messages(&self, task: &ProofTask) -> Vec<ChatMessage> {
        let lean = task.lean_code();
        let mut messages = Vec::with_capacity(2);
        let user = match self {
            Self::DeepSeekProverV2 => format!("{COMPLETE_PREFIX}{lean}\n```"),
            Self::DeepSeekProverV2Cot | Self::GoedelProverV2 => {
                format!("{COMPLETE_PREFIX}{lean}\n```\n\n{PROOF_PLAN_INSTRUCTION}")
            }
            Self::Kimina => {
                messages.push(ChatMessage::system(KIMINA_SYSTEM));
                format!("{KIMINA_INSTRUCTION}\n\n{lean}")
            }
            Self::Chat { system, template } => {
                if let Some(system) = system {
                    messages.push(ChatMessage::system(system.clone()));
                }
                template
                    .replace("{informal}", task.informal.as_deref().unwrap_or(""))
                    .replace("{lean}", &lean)
            }
            Self::Decomposer => {
                messages.push(ChatMessage::system(DECOMPOSER_SYSTEM));
                format!("{DECOMPOSER_INSTRUCTION}\n\n```lean4\n{lean}\n```\n\n{DECOMPOSER_RULES}")
            }
        };
        messages.push(ChatMessage::user(with_feedback(user, task)));
        messages
    }
}

/// Appends Lean's error from the previous attempt, for a repair round.
fn with_feedback(mut user: String, task: &ProofTask) -> String {
    if let Some(feedback) = task.feedback.as_deref().map(str::trim)
        && !feedback.is_empty()
    {
        user.push_str("\n\nA previous attempt failed. Lean reported:\n```\n");
        user.push_str(feedback);
        user.push_str("\n```\nWrite a corrected proof that avoids this error.");
    }
    user
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> ProofTask {
        ProofTask {
            header: "import Mathlib\nimport Aesop\n\nopen BigOperators Real Nat Topology Rat\n"
                .into(),
            theorem: "theorem t (x : ℝ) (h : x = 2) : x ^ 2 = 4 := by\n  sorry".into(),
            informal: Some("Show that 2 squared is 4.".into()),
            feedback: None,
        }
    }

    #[test]
    fn deepseek_non_cot_is_the_published_prompt() {
        let messages = PromptFormat::DeepSeekProverV2.messages(&task());
        assert_eq!(
            messages,
            vec![ChatMessage::user(
                "Complete the following Lean 4 code:\n\n```lean4\nimport Mathlib\nimport Aesop\n\nopen BigOperators Real Nat Topology Rat\n\n/-- Show that 2 squared is 4. -/\ntheorem t (x : ℝ) (h : x = 2) : x ^ 2 = 4 := by\n  sorry\n```"
            )]
        );
    }

    #[test]
    fn cot_and_goedel_add_the_proof_plan_instruction() {
        for format in [
            PromptFormat::DeepSeekProverV2Cot,
            PromptFormat::GoedelProverV2,
        ] {
            let messages = format.messages(&task());
            assert_eq!(messages.len(), 1);
            assert!(messages[0].content.ends_with("  sorry\n```\n\nBefore producing the Lean 4 code to formally prove the given theorem, provide a detailed proof plan outlining the main proof steps and strategies.\nThe plan should highlight key ideas, intermediate lemmas, and proof structures that will guide the construction of the final formal proof."));
        }
    }

    #[test]
    fn kimina_has_its_system_prompt_and_unfenced_code() {
        let messages = PromptFormat::Kimina.messages(&task());
        assert_eq!(messages[0].role, Role::System);
        assert!(messages[1].content.starts_with(
            "Think about and solve the following problems step by step in Lean 4.\n\nimport Mathlib\n"
        ));
    }

    #[test]
    fn chat_template_needs_lean_and_fills_it() {
        assert_eq!(
            PromptFormat::from_name("chat", Some("no placeholder"), None),
            Err(PromptError::TemplateWithoutLean)
        );
        let format = PromptFormat::from_name("chat", Some("Prove ({informal}):\n{lean}"), None)
            .expect("a valid template");
        let messages = format.messages(&task());
        assert!(
            messages[0]
                .content
                .starts_with("Prove (Show that 2 squared is 4.):\nimport Mathlib")
        );
    }

    #[test]
    fn feedback_is_appended_for_a_repair_round() {
        let mut repair = task();
        repair.feedback = Some("unknown identifier 'foo'".into());
        let messages = PromptFormat::DeepSeekProverV2.messages(&repair);
        assert!(
            messages[0]
                .content
                .contains("Lean reported:\n```\nunknown identifier 'foo'\n```")
        );
    }

    #[test]
    fn unknown_format_names_the_choices() {
        let error = PromptFormat::from_name("gpt", None, None).expect_err("not a format");
        assert!(error.to_string().contains("deepseek-prover-v2-cot"));
    }
}
