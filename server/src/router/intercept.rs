//! The hook through which later stages add their own code actions to Lean's answer.
//!
//! The router remembers each `textDocument/codeAction` request by the editor's id; when
//! Lean answers it, the provider is asked for extra actions. Invariants: when the provider
//! has nothing to add (or Lean answered with an error) the answer is forwarded byte for
//! byte; otherwise only the end of the `result` array changes: Lean's own actions and the
//! id keep their bytes. The proxy's actions are marked with [`OWN_ACTION_DATA_KEY`] in
//! their `data`; a `codeAction/resolve` for one is answered by the router (Lean routes a
//! resolve by `data.params.textDocument.uri` and fails without it). The provider's
//! commands are announced in Lean's `initialize` result, where editors look for them.

use std::collections::HashMap;
use std::ops::Range as ByteRange;

use crate::transport::lsp;
use lsp_types::Range;
use ropey::Rope;
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// What the editor asked for, with the proxy's text of the document at that moment.
#[derive(Debug)]
pub struct CodeActionQuery<'a> {
    /// The document.
    pub uri: &'a str,
    /// The range the editor asked about.
    pub range: Range,
    /// The document's version when the request was forwarded, if it was open.
    pub version: Option<i32>,
    /// The document's text at that version, if it was open.
    pub text: Option<&'a Rope>,
    /// The request params exactly as the editor sent them (context, diagnostics, ...).
    pub params: &'a Value,
}

/// The member of `data` that marks a code action as the proxy's own. Such an action must be
/// complete when offered (an eager `edit`, or a command of the provider's): a resolve for
/// it is answered with the action unchanged.
pub const OWN_ACTION_DATA_KEY: &str = "sorryfill";

/// Supplies the proxy's own code actions. It is called on the router task, so it must
/// answer at once (from state other tasks keep up to date) and never block.
pub trait CodeActionProvider: Send {
    /// The actions (LSP `CodeAction` objects) to append to Lean's answer.
    fn code_actions(&mut self, query: &CodeActionQuery<'_>) -> Vec<Value>;

    /// Runs one of the proxy's own commands (`workspace/executeCommand` whose command starts
    /// with `sorryfill.`); `Some(result)` answers the editor (a result or an error), and
    /// Lean never sees the request. `None`: the request goes to Lean as usual.
    fn execute_command(
        &mut self,
        command: &str,
        arguments: &[Value],
    ) -> Option<Result<Value, CommandError>> {
        let _ = (command, arguments);
        None
    }

    /// The commands [`CodeActionProvider::execute_command`] runs. The router adds them to
    /// Lean's `executeCommandProvider.commands`, because editors run a code action's command
    /// only when the server announced it.
    fn commands(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A JSON-RPC error answering one of the proxy's own commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// The JSON-RPC error code (`-32602` for arguments that name nothing to do).
    pub code: i64,
    /// One sentence for the user.
    pub message: String,
}

impl CommandError {
    /// Invalid params (`-32602`): the arguments name no document or hole the proxy can use.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self {
            code: lsp::error_code::INVALID_PARAMS,
            message: message.into(),
        }
    }

    /// Request failed (`-32803`, LSP 3.17): well-formed, but it cannot be done now.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            code: lsp::error_code::REQUEST_FAILED,
            message: message.into(),
        }
    }
}

/// The provider that adds nothing: Lean's answers pass through unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCodeActions;

impl CodeActionProvider for NoCodeActions {
    fn code_actions(&mut self, _query: &CodeActionQuery<'_>) -> Vec<Value> {
        Vec::new()
    }
}

/// A code action request waiting for Lean's answer.
#[derive(Debug)]
pub(crate) struct PendingCodeAction {
    pub uri: String,
    pub range: Range,
    pub version: Option<i32>,
    pub text: Option<Rope>,
    pub params: Value,
}

/// Appends `extra` to the `result` of a code action response. Returns `None` when the
/// response is not a successful one (an error passes through untouched) or its shape is
/// not one the proxy can extend.
///
/// Only the bytes of the `result` array's end change: Lean's own actions, the id and every
/// other member keep their exact bytes (escapes, number forms, key order), because editors
/// and Lean's `codeAction/resolve` read Lean's actions back.
pub(crate) fn merge_code_actions(response: &[u8], extra: Vec<Value>) -> Option<Vec<u8>> {
    let members = object_members(response)?;
    if members.contains_key("error") {
        return None;
    }
    let result = span_in(response, members.get("result")?.get())?;
    let mut added = Vec::new();
    for (i, action) in extra.iter().enumerate() {
        if i > 0 {
            added.push(b',');
        }
        serde_json::to_writer(&mut added, action).ok()?;
    }
    let text = &response[result.clone()];
    let mut merged = Vec::with_capacity(response.len() + added.len() + 2);
    if text == b"null" {
        merged.extend_from_slice(&response[..result.start]);
        merged.push(b'[');
        merged.extend_from_slice(&added);
        merged.push(b']');
    } else if text.first() == Some(&b'[') {
        // The array's own bytes up to its closing bracket, then the proxy's actions.
        let close = result.end - 1;
        merged.extend_from_slice(&response[..close]);
        let empty = response[result.start + 1..close]
            .iter()
            .all(u8::is_ascii_whitespace);
        if !empty && !added.is_empty() {
            merged.push(b',');
        }
        merged.extend_from_slice(&added);
        merged.push(b']');
    } else {
        return None;
    }
    merged.extend_from_slice(&response[result.end..]);
    Some(merged)
}

/// Adds `commands` to `capabilities.executeCommandProvider.commands` of Lean's
/// `initialize` response. Every other capability, `experimental` and `serverInfo` keep their
/// exact bytes. Returns `None` (forward unchanged) for an error or an unexpected shape.
pub(crate) fn announce_commands(response: &[u8], commands: &[String]) -> Option<Vec<u8>> {
    let members = object_members(response)?;
    if members.contains_key("error") {
        return None;
    }
    let result = object_members(members.get("result")?.get().as_bytes())?;
    let capabilities_text = result.get("capabilities")?.get();
    let capabilities = object_members(capabilities_text.as_bytes())?;
    let (span, replacement) = match capabilities.get("executeCommandProvider") {
        Some(provider) => {
            let span = span_in(response, provider.get())?;
            let mut provider: Value = serde_json::from_str(provider.get()).ok()?;
            let listed = provider
                .as_object_mut()?
                .entry("commands")
                .or_insert_with(|| Value::Array(Vec::new()))
                .as_array_mut()?;
            for command in commands {
                if !listed.iter().any(|c| c.as_str() == Some(command)) {
                    listed.push(Value::String(command.clone()));
                }
            }
            (span, serde_json::to_vec(&provider).ok()?)
        }
        None => {
            // A new last member, just before the capabilities' closing brace.
            let whole = span_in(response, capabilities_text)?;
            let close = whole.end - 1;
            let empty = response[whole.start + 1..close]
                .iter()
                .all(u8::is_ascii_whitespace);
            let mut member = if empty { Vec::new() } else { b",".to_vec() };
            member.extend_from_slice(br#""executeCommandProvider":"#);
            serde_json::to_writer(&mut member, &json!({ "commands": commands })).ok()?;
            (close..close, member)
        }
    };
    let mut rewritten = Vec::with_capacity(response.len() + replacement.len());
    rewritten.extend_from_slice(&response[..span.start]);
    rewritten.extend_from_slice(&replacement);
    rewritten.extend_from_slice(&response[span.end..]);
    Some(rewritten)
}

/// The members of a JSON object, each value borrowed from `text` as its exact bytes.
/// `None` when `text` is not an object, or a key is escaped (it could not be borrowed).
fn object_members(text: &[u8]) -> Option<HashMap<&str, &RawValue>> {
    serde_json::from_slice(text).ok()
}

/// Where `part`, a slice borrowed from `whole`, lies in it. Borrowed raw values point into
/// the text they were read from, so their position is found from the addresses.
fn span_in(whole: &[u8], part: &str) -> Option<ByteRange<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len() && !part.is_empty()).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(response: &str) -> Option<Value> {
        let extra = vec![json!({"title": "own"})];
        let bytes = merge_code_actions(response.as_bytes(), extra)?;
        Some(serde_json::from_slice(&bytes).expect("the merge writes JSON"))
    }

    #[test]
    fn empty_and_null_results_become_the_proxys_actions_and_odd_ones_are_left_alone() {
        for response in [
            r#"{"id":1,"result":[]}"#,
            r#"{"id":1,"result":[ ]}"#,
            r#"{"id":1,"result": null }"#,
        ] {
            assert_eq!(
                merged(response),
                Some(json!({"id": 1, "result": [{"title": "own"}]})),
                "{response}"
            );
        }
        assert_eq!(merged(r#"{"id":1,"result":{}}"#), None);
        assert_eq!(merged(r#"{"id":1,"error":{"code":-32800}}"#), None);
        assert_eq!(merged(r#"[1]"#), None);
    }

    #[test]
    fn commands_are_added_to_empty_capabilities_once() {
        let commands = ["sorryfill.status".to_owned()];
        let announced = announce_commands(br#"{"id":0,"result":{"capabilities":{ }}}"#, &commands)
            .expect("a result to extend");
        let again = announce_commands(&announced, &commands).expect("still extendable");
        let again: Value = serde_json::from_slice(&again).expect("JSON");
        assert_eq!(
            again["result"]["capabilities"],
            json!({"executeCommandProvider": {"commands": ["sorryfill.status"]}})
        );
        assert_eq!(
            announce_commands(br#"{"id":0,"result":null}"#, &commands),
            None
        );
    }
}
