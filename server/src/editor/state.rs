//! The state the editor session shares with the router's code action hook and the checker.
//!
//! Invariant: a document's entry always holds the index of its LATEST version (the session
//! replaces it before anything else reacts to an edit), so readers comparing versions with
//! it never act on an outdated text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::holes::{Hole, HoleId, HoleIndex};
use crate::pipeline::JobState;

/// One job as the editor shows it: which hole of which document, and its latest state.
#[derive(Debug, Clone)]
pub struct JobSlot {
    /// The document.
    pub uri: String,
    /// The hole's identity in the document's current version.
    pub hole: HoleId,
    /// The job's latest state.
    pub state: JobState,
}

#[derive(Debug, Clone)]
pub(crate) struct DocumentEntry {
    pub version: i32,
    pub index: Arc<HoleIndex>,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub documents: HashMap<String, DocumentEntry>,
    pub jobs: HashMap<u64, JobSlot>,
}

/// Cloneable handle on the editor's shared state.
#[derive(Debug, Clone, Default)]
pub struct EditorState {
    inner: Arc<Mutex<Inner>>,
}

impl EditorState {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change under the lock is a single insert, remove or assignment, so a
        // poisoned lock still holds consistent data.
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The editor's current version of `uri`, if the editor has it open.
    pub fn current_version(&self, uri: &str) -> Option<i32> {
        self.lock().documents.get(uri).map(|doc| doc.version)
    }

    /// The current version of `uri` and its hole index (which holds the text).
    pub fn document(&self, uri: &str) -> Option<(i32, Arc<HoleIndex>)> {
        self.lock()
            .documents
            .get(uri)
            .map(|doc| (doc.version, Arc::clone(&doc.index)))
    }

    /// The hole `id` of `uri` at `version`, with the text of that version; `None` when the
    /// version is no longer current or the hole is gone.
    pub fn hole_at(&self, uri: &str, version: i32, id: &HoleId) -> Option<(Hole, Arc<HoleIndex>)> {
        let (current, index) = self.document(uri)?;
        if current != version {
            return None;
        }
        let hole = index.holes().iter().find(|hole| &hole.id == id)?.clone();
        Some((hole, index))
    }

    /// The state of every job of `uri`.
    pub fn jobs_of(&self, uri: &str) -> Vec<JobSlot> {
        self.lock()
            .jobs
            .values()
            .filter(|slot| slot.uri == uri)
            .cloned()
            .collect()
    }
}
