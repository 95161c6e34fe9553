//! The vocabulary of the messages the proxy reads or writes itself: method names, message
//! types and error codes. Names the LSP defines come from `lsp-types`, so a misspelt method
//! cannot compile; Lean's own extensions are written once here, with where Lean defines them.
//!
//! Invariant: no other module spells a method name or an error code as a literal; a method
//! the proxy only forwards needs no name at all (unknown methods pass through untouched).

use lsp_types::notification::{self, Notification};
use lsp_types::request::{self, Request};

/// Method names.
pub mod method {
    use super::*;

    /// `initialize` (editor → Lean; the proxy reads the client's capabilities).
    pub const INITIALIZE: &str = request::Initialize::METHOD;
    /// `initialized` (editor → Lean; the proxy's own messages may flow after it).
    pub const INITIALIZED: &str = notification::Initialized::METHOD;
    /// `shutdown`.
    pub const SHUTDOWN: &str = request::Shutdown::METHOD;
    /// `exit`.
    pub const EXIT: &str = notification::Exit::METHOD;
    /// `$/cancelRequest`.
    pub const CANCEL_REQUEST: &str = notification::Cancel::METHOD;
    /// `$/progress`.
    pub const PROGRESS: &str = notification::Progress::METHOD;
    /// `textDocument/didOpen`.
    pub const DID_OPEN: &str = notification::DidOpenTextDocument::METHOD;
    /// `textDocument/didChange`.
    pub const DID_CHANGE: &str = notification::DidChangeTextDocument::METHOD;
    /// `textDocument/didSave`.
    pub const DID_SAVE: &str = notification::DidSaveTextDocument::METHOD;
    /// `textDocument/didClose`.
    pub const DID_CLOSE: &str = notification::DidCloseTextDocument::METHOD;
    /// `textDocument/publishDiagnostics`.
    pub const PUBLISH_DIAGNOSTICS: &str = notification::PublishDiagnostics::METHOD;
    /// `textDocument/codeAction`.
    pub const CODE_ACTION: &str = request::CodeActionRequest::METHOD;
    /// `codeAction/resolve`.
    pub const CODE_ACTION_RESOLVE: &str = request::CodeActionResolveRequest::METHOD;
    /// `textDocument/documentSymbol`.
    pub const DOCUMENT_SYMBOL: &str = request::DocumentSymbolRequest::METHOD;
    /// `workspace/executeCommand`.
    pub const EXECUTE_COMMAND: &str = request::ExecuteCommand::METHOD;
    /// `workspace/applyEdit`.
    pub const APPLY_EDIT: &str = request::ApplyWorkspaceEdit::METHOD;
    /// `window/showMessage`.
    pub const SHOW_MESSAGE: &str = notification::ShowMessage::METHOD;
    /// `window/workDoneProgress/create`.
    pub const WORK_DONE_PROGRESS_CREATE: &str = request::WorkDoneProgressCreate::METHOD;

    /// Lean's progress report (`Lean.Lsp.LeanFileProgressParams`, `Lean/Data/Lsp/Extra.lean`).
    pub const LEAN_FILE_PROGRESS: &str = "$/lean/fileProgress";
    /// Lean's tactic goal at a position (`Lean.Lsp.PlainGoalParams`).
    pub const LEAN_PLAIN_GOAL: &str = "$/lean/plainGoal";
    /// Lean's expected type at a term position (`Lean.Lsp.PlainTermGoalParams`).
    pub const LEAN_PLAIN_TERM_GOAL: &str = "$/lean/plainTermGoal";
    /// Lean's barrier: answered once the version named has been fully elaborated and its
    /// diagnostics published (`Lean.Lsp.WaitForDiagnosticsParams`).
    pub const LEAN_WAIT_FOR_DIAGNOSTICS: &str = "textDocument/waitForDiagnostics";
}

/// JSON-RPC and LSP error codes.
pub mod error_code {
    /// JSON-RPC: "Invalid JSON was received by the server."
    pub const PARSE_ERROR: i64 = -32700;
    /// JSON-RPC: "Invalid method parameter(s)."
    pub const INVALID_PARAMS: i64 = -32602;
    /// LSP: the client cancelled the request.
    pub const REQUEST_CANCELLED: i64 = lsp_types::error_codes::REQUEST_CANCELLED;
    /// LSP: the document changed while the request was computed.
    pub const CONTENT_MODIFIED: i64 = lsp_types::error_codes::CONTENT_MODIFIED;
    /// LSP 3.17: "A request failed but it was syntactically correct."
    pub const REQUEST_FAILED: i64 = lsp_types::error_codes::REQUEST_FAILED;
    /// Lean: the file worker exited (`Lean.Lsp.ErrorCode.workerExited`).
    pub const LEAN_WORKER_EXITED: i64 = -32901;
    /// Lean: the file worker crashed (`Lean.Lsp.ErrorCode.workerCrashed`).
    pub const LEAN_WORKER_CRASHED: i64 = -32902;
}

/// `window/showMessage` types.
pub use lsp_types::MessageType;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_are_the_specs() {
        assert_eq!(method::DID_OPEN, "textDocument/didOpen");
        assert_eq!(method::CANCEL_REQUEST, "$/cancelRequest");
        assert_eq!(method::CODE_ACTION_RESOLVE, "codeAction/resolve");
        assert_eq!(error_code::CONTENT_MODIFIED, -32801);
        assert_eq!(error_code::REQUEST_FAILED, -32803);
        assert_eq!(
            serde_json::to_value(MessageType::WARNING).ok(),
            Some(serde_json::json!(2))
        );
    }
}
