//! [`EditorHandle`]: how tasks send the proxy's own messages to the editor (progress,
//! `workspace/applyEdit`).
//!
//! Invariants: the router sends them only between the editor's `initialized` and its
//! `shutdown`; requests get private ids (`"sorryfill:<n>"`) and the editor's answers to them
//! are consumed by the router, never forwarded to Lean.

use serde_json::Value;
use tokio::sync::mpsc;

use super::Event;

/// A message of the proxy's own for the editor.
#[derive(Debug)]
pub enum EditorCommand {
    /// A request with a private id; the editor's answer is consumed.
    Request {
        /// The method.
        method: String,
        /// The params.
        params: Value,
    },
    /// A notification.
    Notify {
        /// The method.
        method: String,
        /// The params.
        params: Value,
    },
}

/// A cloneable handle feeding the router's event channel with messages for the editor.
#[derive(Debug, Clone)]
pub struct EditorHandle {
    events: mpsc::UnboundedSender<Event>,
}

impl EditorHandle {
    /// A handle on the router's event channel.
    pub fn new(events: mpsc::UnboundedSender<Event>) -> Self {
        Self { events }
    }

    /// Sends a request to the editor; its answer is dropped. Returns false when the router
    /// has stopped.
    pub fn request(&self, method: &str, params: Value) -> bool {
        self.events
            .send(Event::Editor(EditorCommand::Request {
                method: method.to_owned(),
                params,
            }))
            .is_ok()
    }

    /// Sends a notification to the editor. Returns false when the router has stopped.
    pub fn notify(&self, method: &str, params: Value) -> bool {
        self.events
            .send(Event::Editor(EditorCommand::Notify {
                method: method.to_owned(),
                params,
            }))
            .is_ok()
    }
}
