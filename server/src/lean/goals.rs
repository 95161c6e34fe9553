//! The goal Lean shows at a hole, asked through the proxy's own requests:
//! `$/lean/plainGoal` before a tactic `sorry` (its first goal), `$/lean/plainTermGoal` at a
//! term `sorry` (the expected type). The editor session, the checker and `prove` all ask here.

use serde_json::{Value, json};

use super::{LeanError, LeanHandle};
use crate::holes::{Hole, HoleKind, HolePosition};
use crate::transport::lsp;

/// Lean's rendered goal at `hole` of the current version of `uri`, or `None` when Lean shows
/// no goal there (`null`, `no goals`, an empty target).
pub async fn goal_at(
    lean: &LeanHandle,
    uri: &str,
    hole: &Hole,
) -> Result<Option<String>, LeanError> {
    let params = json!({
        "textDocument": {"uri": uri},
        "position": {"line": hole.range.start.line, "character": hole.range.start.character},
    });
    let (method, pointer) = match (hole.kind, hole.position) {
        (_, HolePosition::Tactic) | (HoleKind::Admit, _) => {
            (lsp::method::LEAN_PLAIN_GOAL, "/goals/0")
        }
        (HoleKind::Sorry, HolePosition::Term) => (lsp::method::LEAN_PLAIN_TERM_GOAL, "/goal"),
    };
    let answer = lean.request(method, params).await?;
    Ok(answer
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|goal| goal.contains('⊢'))
        .map(str::to_owned))
}
