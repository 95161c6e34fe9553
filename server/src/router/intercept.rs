//! The hook through which later stages add their own code actions to Lean's answer.
//!
//! The router remembers each `textDocument/codeAction` request by the editor's id; when
//! Lean answers it, the provider is asked for extra actions. Invariant: when the provider
//! has nothing to add (or Lean answered with an error) the answer is forwarded byte for
//! byte; otherwise only the `result` array is extended, the id is kept.

use lsp_types::Range;
use ropey::Rope;
use serde_json::Value;

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

/// Supplies the proxy's own code actions. It is called on the router task, so it must
/// answer at once (from state other tasks keep up to date) and never block.
pub trait CodeActionProvider: Send {
    /// The actions (LSP `CodeAction` objects) to append to Lean's answer.
    fn code_actions(&mut self, query: &CodeActionQuery<'_>) -> Vec<Value>;

    /// Runs one of the proxy's own commands (`workspace/executeCommand` whose command starts
    /// with `sorryfill.`); `Some(result)` answers the editor, and Lean never sees the
    /// request. `None`: the request goes to Lean as usual.
    fn execute_command(&mut self, command: &str, arguments: &[Value]) -> Option<Value> {
        let _ = (command, arguments);
        None
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
/// response is not a successful one (an error passes through untouched).
pub(crate) fn merge_code_actions(response: &[u8], extra: Vec<Value>) -> Option<Vec<u8>> {
    let mut message: serde_json::Map<String, Value> = serde_json::from_slice(response).ok()?;
    if message.contains_key("error") {
        return None;
    }
    let result = message.entry("result").or_insert(Value::Null);
    match result {
        Value::Array(actions) => actions.extend(extra),
        Value::Null => *result = Value::Array(extra),
        _ => return None,
    }
    serde_json::to_vec(&message).ok()
}
