//! The proxy's copy of every document the editor has open, kept in step with the
//! editor's `didOpen` / `didChange` / `didClose` so that it matches what Lean sees.
//!
//! Invariants: the router applies a sync notification here BEFORE forwarding it, so any
//! later event already sees the new text; positions are counted in the encoding the
//! server announced ([`PositionEncoding`], UTF-16 unless it said otherwise); a change for a
//! document that is not open is ignored, as Lean ignores it. Texts are `ropey::Rope`s, so a
//! snapshot for another task is an O(1) clone.

mod position;
mod uri;

pub use position::{PositionEncoding, char_to_position, position_to_char};
pub use uri::{file_path, file_uri, join_uri};

use std::collections::HashMap;

use crate::transport::lsp;
use lsp_types::{Range, TextDocumentContentChangeEvent};
use ropey::Rope;
use serde::Deserialize;

/// One open document.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document's text at `version`.
    pub text: Rope,
    /// The version of the last `didOpen`/`didChange` (0 when the editor sent none).
    pub version: i32,
    /// The `languageId` from `didOpen`.
    pub language_id: String,
}

/// A sync notification that could not be read; the frame is still forwarded.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The params did not have the shape the LSP specification gives.
    #[error("unreadable {method} params: {source}")]
    BadParams {
        /// The notification.
        method: &'static str,
        /// What serde found wrong.
        source: serde_json::Error,
    },
}

/// All open documents, keyed by the URI text exactly as the editor wrote it.
#[derive(Debug, Default)]
pub struct DocumentStore {
    documents: HashMap<String, Document>,
    encoding: PositionEncoding,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpenParams {
    text_document: OpenItem,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpenItem {
    uri: String,
    #[serde(default)]
    language_id: String,
    #[serde(default)]
    version: i32,
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeParams {
    text_document: VersionedId,
    content_changes: Vec<TextDocumentContentChangeEvent>,
}

#[derive(Deserialize)]
struct VersionedId {
    uri: String,
    #[serde(default)]
    version: Option<i32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CloseParams {
    text_document: VersionedId,
}

impl DocumentStore {
    /// An empty store counting positions in UTF-16.
    pub fn new() -> Self {
        Self::default()
    }

    /// The encoding positions are counted in.
    pub fn encoding(&self) -> PositionEncoding {
        self.encoding
    }

    /// Sets the encoding from the server's `initialize` result.
    pub fn set_encoding(&mut self, encoding: PositionEncoding) {
        self.encoding = encoding;
    }

    /// The open document at `uri`.
    pub fn get(&self, uri: &str) -> Option<&Document> {
        self.documents.get(uri)
    }

    /// The URIs of all open documents.
    pub fn uris(&self) -> impl Iterator<Item = &str> {
        self.documents.keys().map(String::as_str)
    }

    /// Applies `textDocument/didOpen` params; returns the URI opened.
    pub fn did_open(&mut self, params: &[u8]) -> Result<String, SyncError> {
        let params: OpenParams = parse(lsp::method::DID_OPEN, params)?;
        let item = params.text_document;
        let document = Document {
            text: Rope::from_str(&item.text),
            version: item.version,
            language_id: item.language_id,
        };
        self.documents.insert(item.uri.clone(), document);
        Ok(item.uri)
    }

    /// Applies `textDocument/didChange` params (full and incremental changes, in order);
    /// returns the URI changed, or `None` when the document is not open.
    pub fn did_change(&mut self, params: &[u8]) -> Result<Option<String>, SyncError> {
        let params: ChangeParams = parse(lsp::method::DID_CHANGE, params)?;
        let encoding = self.encoding;
        let uri = params.text_document.uri;
        let Some(document) = self.documents.get_mut(&uri) else {
            return Ok(None);
        };
        for change in &params.content_changes {
            apply_change(&mut document.text, change.range, &change.text, encoding);
        }
        // Lean takes a missing version as 0; so does the store.
        document.version = params.text_document.version.unwrap_or(0);
        Ok(Some(uri))
    }

    /// Applies `textDocument/didClose` params; returns the closed document, if it was open.
    pub fn did_close(&mut self, params: &[u8]) -> Result<Option<(String, Document)>, SyncError> {
        let params: CloseParams = parse(lsp::method::DID_CLOSE, params)?;
        Ok(self.documents.remove_entry(&params.text_document.uri))
    }
}

fn parse<'a, T: Deserialize<'a>>(method: &'static str, params: &'a [u8]) -> Result<T, SyncError> {
    serde_json::from_slice(params).map_err(|source| SyncError::BadParams { method, source })
}

/// Applies one content change: a range replaces that range (clamped, swapped if reversed),
/// no range replaces the whole text.
pub fn apply_change(
    text: &mut Rope,
    range: Option<Range>,
    new_text: &str,
    encoding: PositionEncoding,
) {
    match range {
        Some(range) => {
            let a = position_to_char(text, range.start, encoding);
            let b = position_to_char(text, range.end, encoding);
            let (start, end) = (a.min(b), a.max(b));
            text.remove(start..end);
            text.insert(start, new_text);
        }
        None => *text = Rope::from_str(new_text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(text: &str) -> DocumentStore {
        let mut store = DocumentStore::new();
        let params = serde_json::json!({
            "textDocument": {"uri": "file:///A.lean", "languageId": "lean4", "version": 1, "text": text},
            "dependencyBuildMode": "never"
        });
        store
            .did_open(params.to_string().as_bytes())
            .expect("valid didOpen");
        store
    }

    #[test]
    fn incremental_and_full_changes_apply_in_order_with_utf16_columns() {
        let mut store = store_with("theorem 𝔽 : True := sorry\n");
        let change = serde_json::json!({
            "textDocument": {"uri": "file:///A.lean", "version": 2},
            "contentChanges": [
                // `sorry` starts at UTF-16 column 21: the 𝔽 counts two units.
                {"range": {"start": {"line": 0, "character": 21}, "end": {"line": 0, "character": 26}}, "text": "trivial"},
                {"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}}, "text": "-- é\n"}
            ]
        });
        store
            .did_change(change.to_string().as_bytes())
            .expect("valid didChange");
        let doc = store.get("file:///A.lean").expect("still open");
        assert_eq!(doc.text.to_string(), "theorem 𝔽 : True := trivial\n-- é\n");
        assert_eq!(doc.version, 2);

        let full = serde_json::json!({
            "textDocument": {"uri": "file:///A.lean", "version": 3},
            "contentChanges": [{"text": "example : True := trivial"}]
        });
        store
            .did_change(full.to_string().as_bytes())
            .expect("valid didChange");
        assert_eq!(
            store.get("file:///A.lean").expect("open").text.to_string(),
            "example : True := trivial"
        );
    }

    #[test]
    fn changes_to_unknown_documents_are_ignored_and_close_forgets() {
        let mut store = store_with("x");
        let change = serde_json::json!({
            "textDocument": {"uri": "file:///Other.lean", "version": 2},
            "contentChanges": [{"text": "y"}]
        });
        assert!(
            store
                .did_change(change.to_string().as_bytes())
                .expect("valid")
                .is_none()
        );
        let close = serde_json::json!({"textDocument": {"uri": "file:///A.lean"}});
        assert!(
            store
                .did_close(close.to_string().as_bytes())
                .expect("valid")
                .is_some()
        );
        assert!(store.get("file:///A.lean").is_none());
    }
}
