//! The editor plugins' commands (`workspace/executeCommand`, never announced in
//! `executeCommandProvider`; see `docs/editor-protocol.md`): `sorryfill.prove`,
//! `sorryfill.proveFile`, `sorryfill.cancel` and `sorryfill.getStatus`.
//!
//! They are answered on the router task from [`EditorState`] at once; the work itself is
//! handed to the session's task as a [`SessionCommand`]. Invariant: a command names holes
//! only by their identity in the document's current version, and only holes sorryfill may
//! fill (a `sorry` in a proof).

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::state::EditorState;
use crate::holes::{Hole, HoleId, HoleIndex, HoleKind};
use crate::router::CommandError;

/// Proves the hole at (or nearest before) a position.
pub const PROVE: &str = "sorryfill.prove";
/// Proves every hole of a document.
pub const PROVE_FILE: &str = "sorryfill.proveFile";
/// Cancels running jobs.
pub const CANCEL: &str = "sorryfill.cancel";
/// Answers the current status.
pub const GET_STATUS: &str = "sorryfill.getStatus";

/// Work the router hands to the session's task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// Prove these holes of `uri` now, ahead of the background queue.
    Prove {
        /// The document.
        uri: String,
        /// The version the holes were found in.
        version: i32,
        /// The holes.
        holes: Vec<HoleId>,
    },
    /// Cancel the running jobs of `uri`, or of every document.
    Cancel {
        /// The document, or `None` for all.
        uri: Option<String>,
    },
}

/// Runs one of the commands above; `None` for any other command.
pub(crate) fn run(
    state: &EditorState,
    session: Option<&mpsc::UnboundedSender<SessionCommand>>,
    command: &str,
    arguments: &[Value],
) -> Option<Result<Value, CommandError>> {
    let result = match command {
        GET_STATUS => serde_json::to_value(state.status())
            .map_err(|error| CommandError::failed(error.to_string())),
        PROVE => prove(state, arguments, true).and_then(|work| send(session, work)),
        PROVE_FILE => prove(state, arguments, false).and_then(|work| send(session, work)),
        CANCEL => cancel(state, arguments).and_then(|work| send(session, work)),
        _ => return None,
    };
    Some(result)
}

/// What a command hands to the session, and what the editor is told.
struct Work {
    command: SessionCommand,
    answer: Value,
}

fn send(
    session: Option<&mpsc::UnboundedSender<SessionCommand>>,
    work: Work,
) -> Result<Value, CommandError> {
    let sent = session.is_some_and(|session| session.send(work.command).is_ok());
    if sent {
        Ok(work.answer)
    } else {
        Err(CommandError::failed(
            "sorryfill is not running in this session",
        ))
    }
}

fn uri_argument(arguments: &[Value]) -> Result<&str, CommandError> {
    arguments
        .first()
        .and_then(|argument| argument.pointer("/textDocument/uri"))
        .and_then(Value::as_str)
        .ok_or_else(|| CommandError::invalid_params("expected [{\"textDocument\": {\"uri\": …}}]"))
}

fn refuse_when_off(state: &EditorState) -> Result<(), CommandError> {
    match &state.read().off {
        Some(reason) => Err(CommandError::failed(format!("sorryfill is off: {reason}"))),
        None => Ok(()),
    }
}

/// Whether sorryfill may fill `hole`: a `sorry` in the proof of a theorem, lemma or example.
pub(crate) fn fillable(index: &HoleIndex, hole: &Hole) -> bool {
    hole.kind == HoleKind::Sorry && index.role(hole).reason().is_none()
}

fn prove(state: &EditorState, arguments: &[Value], at_cursor: bool) -> Result<Work, CommandError> {
    refuse_when_off(state)?;
    let uri = uri_argument(arguments)?;
    let snapshot = state
        .document(uri)
        .ok_or_else(|| CommandError::invalid_params(format!("{uri} is not open")))?;
    let (version, index) = (snapshot.version(), snapshot.index());
    let holes: Vec<HoleId> = if at_cursor {
        let position = arguments
            .first()
            .and_then(|argument| argument.get("position"))
            .and_then(|position| {
                serde_json::from_value::<lsp_types::Position>(position.clone()).ok()
            })
            .ok_or_else(|| {
                CommandError::invalid_params("expected a \"position\" {\"line\", \"character\"}")
            })?;
        vec![hole_at(index, position)?.id.clone()]
    } else {
        index
            .holes()
            .iter()
            .filter(|hole| fillable(index, hole))
            .map(|hole| hole.id.clone())
            .collect()
    };
    let answer = json!({"holes": holes.len()});
    Ok(Work {
        command: SessionCommand::Prove {
            uri: uri.to_owned(),
            version,
            holes,
        },
        answer,
    })
}

/// The hole under `position`, or else the nearest one before it in the same declaration.
fn hole_at(index: &HoleIndex, position: lsp_types::Position) -> Result<&Hole, CommandError> {
    let offset = index.line_index().lsp_offset(position);
    let outline = index.outline();
    let command = outline
        .commands
        .iter()
        .position(|command| command.span.start <= offset && offset < command.span.end);
    let under = index
        .holes()
        .iter()
        .find(|hole| hole.span.start <= offset && offset <= hole.span.end);
    let before = || {
        index
            .holes()
            .iter()
            .rev()
            .find(|hole| hole.span.end <= offset && Some(hole.command) == command)
    };
    let hole = under.or_else(before).ok_or_else(|| {
        CommandError::invalid_params("no `sorry` at the cursor or before it in this declaration")
    })?;
    if !fillable(index, hole) {
        let why = match index.role(hole).reason() {
            Some(reason) => reason.to_owned(),
            None => "`admit` is left to the user".to_owned(),
        };
        return Err(CommandError::invalid_params(format!(
            "the hole {} is not one sorryfill fills: {why}",
            hole.id
        )));
    }
    Ok(hole)
}

fn cancel(state: &EditorState, arguments: &[Value]) -> Result<Work, CommandError> {
    let uri = match arguments.first() {
        None => None,
        Some(_) => Some(uri_argument(arguments)?.to_owned()),
    };
    let running = state
        .read()
        .jobs
        .values()
        .filter(|slot| uri.as_deref().is_none_or(|uri| slot.uri == uri))
        .filter(|slot| !slot.state.is_final())
        .count();
    Ok(Work {
        command: SessionCommand::Cancel { uri },
        answer: json!({"cancelled": running}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "theorem t (x : Nat) : x + 0 = x := by\n  skip\n  sorry\n  skip\n\ntheorem s : (sorry : Prop) := by\n  trivial\n\ndef d : Nat := sorry\n";

    fn hole_id(line: u32, character: u32) -> Result<String, CommandError> {
        let index = HoleIndex::new(TEXT);
        hole_at(&index, lsp_types::Position::new(line, character)).map(|hole| hole.id.to_string())
    }

    #[test]
    fn the_hole_under_or_before_the_cursor_in_its_declaration_is_chosen() {
        assert_eq!(hole_id(2, 3), Ok("t#0".to_owned()), "on the hole");
        assert_eq!(hole_id(3, 2), Ok("t#0".to_owned()), "after it, same proof");
        let before = hole_id(0, 0).expect_err("nothing before the cursor");
        assert_eq!(before.code, -32602);
    }

    #[test]
    fn holes_sorryfill_never_fills_are_refused_with_the_reason() {
        let statement = hole_id(5, 14).expect_err("a statement hole");
        assert!(statement.message.contains("statement"), "{statement:?}");
        let definition = hole_id(8, 16).expect_err("a definition's value");
        assert_eq!(definition.code, -32602);
    }
}
