//! The proxy's own code actions on holes, answered from [`EditorState`] on the router task.
//!
//! Invariants: an action carrying an edit is offered only when the editor asked about the
//! document's current version AND the proof was verified at that same version; its edit is
//! a `documentChanges` `TextDocumentEdit` naming that version, so an editor refuses it on any
//! other text. The provider never blocks: it reads shared state under a short lock.

use lsp_types::Range;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::commands::{self, SessionCommand};
use super::state::EditorState;
use crate::holes::{Hole, HoleIndex};
use crate::pipeline::JobState;
use crate::router::{CodeActionProvider, CodeActionQuery, CommandError, EditorHandle};
use crate::transport::lsp;
use crate::verify::splice;

/// Title of the action that fills a hole with a verified proof.
pub const FILL_TITLE: &str = "Fill `sorry` with a Lean-checked proof (sorryfill)";
/// Title prefix of the action that shows a hole's job state.
pub const STATUS_TITLE: &str = "sorryfill: status of this hole";

/// The [`CodeActionProvider`] of the editor session.
#[derive(Debug, Clone)]
pub struct HoleActions {
    state: EditorState,
    editor: Option<EditorHandle>,
    /// Where the plugins' commands send their work.
    session: Option<mpsc::UnboundedSender<SessionCommand>>,
    /// This session's status command, announced in the `initialize` result.
    status_command: String,
}

/// The command behind the status action; each session announces it with its process id
/// appended (`sorryfill.status.<pid>`), because VS Code refuses a second registration of
/// a command id, and one window runs a Lean server per project.
pub const STATUS_COMMAND: &str = "sorryfill.status";

impl HoleActions {
    /// A provider reading `state`.
    pub fn new(state: EditorState) -> Self {
        Self {
            state,
            editor: None,
            session: None,
            status_command: format!("{STATUS_COMMAND}.{}", std::process::id()),
        }
    }

    /// Shows the status command's answer in the editor (`window/showMessage`).
    pub fn with_editor(mut self, editor: EditorHandle) -> Self {
        self.editor = Some(editor);
        self
    }

    /// Hands the work of the plugins' commands (`sorryfill.prove`, …) to the session.
    pub fn with_session(mut self, session: mpsc::UnboundedSender<SessionCommand>) -> Self {
        self.session = Some(session);
        self
    }

    /// The current status of a hole, in words.
    fn status_of(&self, uri: &str, hole: &str) -> String {
        let state = self
            .state
            .jobs_of(uri)
            .into_iter()
            .find(|slot| slot.hole.to_string() == hole)
            .map(|slot| describe(&slot.state))
            .or_else(|| {
                let blocked = self.state.blocked_of(uri)?;
                let (_, reason) = blocked.iter().find(|(id, _)| id.to_string() == hole)?;
                Some(format!("not proved: {reason}"))
            })
            .unwrap_or_else(|| "not being worked on".to_owned());
        format!("sorryfill: {hole}: {state}")
    }
}

/// The edit that puts `proof` at `hole` in `index`'s text, as a replaced LSP range and the
/// new text; `None` when the proof cannot be spliced there.
pub(crate) fn hole_edit(index: &HoleIndex, hole: &Hole, proof: &str) -> Option<(Range, String)> {
    let spliced = splice(index.text(), hole.span.clone(), hole.position, proof).ok()?;
    let range = index.line_index().lsp_range(spliced.replaced.clone());
    Some((range, spliced.inserted().to_owned()))
}

/// A `WorkspaceEdit` with one versioned `TextDocumentEdit`.
pub(crate) fn versioned_edit(uri: &str, version: i32, edits: &[(Range, String)]) -> Value {
    let edits: Vec<Value> = edits
        .iter()
        .map(|(range, text)| json!({"range": range, "newText": text}))
        .collect();
    json!({"documentChanges": [{
        "textDocument": {"uri": uri, "version": version},
        "edits": edits,
    }]})
}

/// Whether the lines of `a` and `b` overlap: a cursor anywhere on a hole's line asks about
/// it, as Lean's own quick fixes do.
fn touches(a: Range, b: Range) -> bool {
    a.start.line <= b.end.line && b.start.line <= a.end.line
}

/// A short description of a job state, for the status action and progress reports.
pub(crate) fn describe(state: &JobState) -> String {
    match state {
        JobState::Queued => "queued".into(),
        JobState::Tactics => "trying tactics".into(),
        JobState::Prover { received, samples } => format!("prover {received}/{samples}"),
        JobState::Decomposing => "decomposing".into(),
        JobState::Subgoals { proved, total } => format!("subgoals {proved}/{total}"),
        JobState::Reverifying => "checking again after an edit above".into(),
        JobState::Verified { .. } => "verified".into(),
        JobState::Partial { proved, total, .. } => format!("partial: {proved}/{total} steps"),
        JobState::Failed { reason } => format!("failed: {reason}"),
        JobState::Cancelled => "cancelled".into(),
    }
}

impl CodeActionProvider for HoleActions {
    fn code_actions(&mut self, query: &CodeActionQuery<'_>) -> Vec<Value> {
        let Some(snapshot) = self.state.document(query.uri) else {
            return Vec::new();
        };
        let (version, index) = (snapshot.version(), snapshot.index());
        // An answer about another version than the current one would offer a stale edit.
        if query.version != Some(version) {
            return Vec::new();
        }
        let jobs = self.state.jobs_of(query.uri);
        let blocked = self.state.blocked_of(query.uri);
        let blocked = blocked.as_ref();
        let mut actions = Vec::new();
        for hole in index.holes() {
            if !touches(hole.range, query.range) {
                continue;
            }
            let slot = jobs.iter().find(|slot| slot.hole == hole.id);
            let blocked = blocked.and_then(|blocked| blocked.get(&hole.id));
            let status = match (slot, blocked) {
                (Some(slot), _) => describe(&slot.state),
                (None, Some(reason)) => format!("not proved: {reason}"),
                (None, None) => continue,
            };
            let tag = json!({"uri": query.uri, "hole": hole.id.to_string(), "version": version});
            match slot.map(|slot| &slot.state) {
                Some(JobState::Verified {
                    proof,
                    version: checked,
                }) if *checked == version => {
                    if let Some(edit) = hole_edit(index, hole, proof) {
                        actions.push(json!({
                            "title": FILL_TITLE,
                            "kind": "quickfix",
                            "isPreferred": true,
                            "edit": versioned_edit(query.uri, version, &[edit]),
                            "data": {"sorryfill": {"fill": tag}},
                        }));
                    }
                }
                Some(JobState::Partial {
                    proof,
                    proved,
                    total,
                    version: checked,
                }) if *checked == version => {
                    if let Some(edit) = hole_edit(index, hole, proof) {
                        actions.push(json!({
                            "title": format!("Insert partial proof ({proved}/{total} steps)"),
                            "kind": "quickfix",
                            "edit": versioned_edit(query.uri, version, &[edit]),
                            "data": {"sorryfill": {"partial": tag}},
                        }));
                    }
                }
                _ => {}
            }
            actions.push(json!({
                "title": format!("{STATUS_TITLE}: {status}"),
                "command": {
                    "title": STATUS_TITLE,
                    "command": self.status_command,
                    "arguments": [{"uri": query.uri, "hole": hole.id.to_string(), "status": status}],
                },
                "data": {"sorryfill": {"status": tag}},
            }));
        }
        actions
    }

    fn execute_command(
        &mut self,
        command: &str,
        arguments: &[Value],
    ) -> Option<Result<Value, CommandError>> {
        if command != self.status_command {
            let ran = commands::run(&self.state, self.session.as_ref(), command, arguments);
            return Some(ran.unwrap_or_else(|| {
                Err(CommandError::invalid_params(format!(
                    "sorryfill has no command {command:?}"
                )))
            }));
        }
        let argument = arguments.first();
        let uri = argument.and_then(|a| a.get("uri")).and_then(Value::as_str);
        let hole = argument.and_then(|a| a.get("hole")).and_then(Value::as_str);
        let (Some(uri), Some(hole)) = (uri, hole) else {
            return Some(Err(CommandError::invalid_params(
                "expected [{\"uri\": …, \"hole\": …}]",
            )));
        };
        let message = self.status_of(uri, hole);
        if let Some(editor) = &self.editor {
            editor.notify(
                lsp::method::SHOW_MESSAGE,
                json!({"type": lsp::MessageType::INFO, "message": message}),
            );
        }
        Some(Ok(json!({"message": message})))
    }

    fn commands(&self) -> Vec<String> {
        vec![self.status_command.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::editor::state::JobSlot;
    use crate::holes::DocumentSnapshot;
    use lsp_types::Position;
    use serde_json::Value;
    use std::sync::Arc;

    fn state_with(text: &str, version: i32, job: JobState) -> EditorState {
        let state = EditorState::new();
        let snapshot = DocumentSnapshot::new(version, text);
        let hole = snapshot.index().holes()[0].id.clone();
        let mut inner = state.lock();
        inner
            .documents
            .insert("file:///a.lean".into(), Arc::new(snapshot));
        inner.jobs.insert(
            1,
            JobSlot {
                uri: "file:///a.lean".into(),
                hole,
                state: job,
            },
        );
        drop(inner);
        state
    }

    fn ask(state: &EditorState, version: i32, line: u32) -> Vec<Value> {
        let params = json!({});
        let text = ropey::Rope::new();
        HoleActions::new(state.clone()).code_actions(&CodeActionQuery {
            uri: "file:///a.lean",
            range: Range::new(Position::new(line, 0), Position::new(line, 0)),
            version: Some(version),
            text: Some(&text),
            params: &params,
        })
    }

    const TEXT: &str =
        "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n\ntheorem u : True := trivial\n";

    #[test]
    fn a_verified_proof_is_offered_with_an_edit_for_its_version() {
        let state = state_with(
            TEXT,
            4,
            JobState::Verified {
                proof: "omega".into(),
                version: 4,
            },
        );
        let actions = ask(&state, 4, 1);
        assert_eq!(actions[0]["title"], FILL_TITLE);
        assert_eq!(actions[0]["isPreferred"], true);
        let change = &actions[0]["edit"]["documentChanges"][0];
        assert_eq!(change["textDocument"]["version"], 4);
        assert_eq!(change["edits"][0]["newText"], "omega");
        assert_eq!(
            change["edits"][0]["range"]["start"],
            json!({"line": 1, "character": 2})
        );
        assert!(
            actions[1]["title"]
                .as_str()
                .is_some_and(|t| t.ends_with("verified"))
        );
        // Nothing on a line without a hole.
        assert!(ask(&state, 4, 3).is_empty());
    }

    #[test]
    fn nothing_is_offered_for_another_version() {
        let verified_at_3 = JobState::Verified {
            proof: "omega".into(),
            version: 3,
        };
        let state = state_with(TEXT, 4, verified_at_3);
        let actions = ask(&state, 4, 1);
        assert_eq!(actions.len(), 1, "only the status: {actions:?}");
        assert!(ask(&state, 3, 1).is_empty());
    }

    #[test]
    fn a_partial_proof_says_how_many_steps() {
        let state = state_with(
            TEXT,
            2,
            JobState::Partial {
                proof: "have h : True := trivial\nsorry".into(),
                proved: 1,
                total: 2,
                version: 2,
            },
        );
        let actions = ask(&state, 2, 1);
        assert_eq!(actions[0]["title"], "Insert partial proof (1/2 steps)");
    }

    /// Editors run the status action's command only if the server announced it, and
    /// resolve an action without an edit first: the router answers that resolve only for
    /// actions whose `data` carries its marker.
    #[test]
    fn every_action_is_marked_as_the_proxys_and_the_status_command_is_announced() {
        let verified = JobState::Verified {
            proof: "omega".into(),
            version: 1,
        };
        let state = state_with(TEXT, 1, verified);
        let actions = ask(&state, 1, 1);
        assert_eq!(actions.len(), 2, "the fill and the status: {actions:?}");
        for action in &actions {
            assert!(action["data"][crate::router::OWN_ACTION_DATA_KEY].is_object());
            if let Some(command) = action["command"]["command"].as_str() {
                let provider = HoleActions::new(state.clone());
                assert!(provider.commands().iter().any(|c| c == command));
            }
        }
        assert!(actions.iter().any(|a| a["command"].is_object()));
    }
}
