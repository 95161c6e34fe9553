//! `[editor]` settings: what the session does on its own initiative.

use serde::{Deserialize, Serialize};

/// `[editor]` in `sorryfill.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditorConfig {
    /// On `didSave` of the current version, apply every verified proof with
    /// `workspace/applyEdit` (off by default: proofs are offered as code actions only).
    #[serde(default)]
    pub apply_on_save: bool,
}
