//! The state the editor session shares with the router's code action hook, the checker and
//! the status reporter.
//!
//! Invariants: a document's entry always holds the snapshot of its LATEST version (the
//! session replaces it before anything else reacts to an edit), so readers comparing versions
//! with it never act on an outdated text. Every write goes through [`EditorState::lock`], whose
//! guard wakes the status reporter when it is dropped, so no change escapes the status.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::holes::{DocumentSnapshot, Hole, HoleId};
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

#[derive(Debug, Default)]
pub(crate) struct Inner {
    /// The snapshot of each open document's latest version (the one the checker reads).
    pub documents: HashMap<String, Arc<DocumentSnapshot>>,
    pub jobs: HashMap<u64, JobSlot>,
    /// Per document, the holes of its elaborated version that no proof can fill until the
    /// user fixes an error in their declaration, with why (`lean::blocked_holes`).
    pub blocked: HashMap<String, HashMap<HoleId, String>>,
    /// Why sorryfill is off for this session (a configuration it cannot use).
    pub off: Option<String>,
    /// The model endpoint that cannot be reached, in words.
    pub unreachable: Option<String>,
    /// The log file of `sorryfill serve`.
    pub log: Option<String>,
}

/// Cloneable handle on the editor's shared state.
#[derive(Debug, Clone)]
pub struct EditorState {
    inner: Arc<Mutex<Inner>>,
    /// Counts changes; the status reporter and the endpoint watcher follow it.
    changes: Arc<watch::Sender<u64>>,
}

impl Default for EditorState {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            changes: Arc::new(watch::channel(0).0),
        }
    }
}

/// The state, locked for a change: dropping it wakes whoever waits in
/// [`EditorState::changes`].
pub(crate) struct Changing<'a> {
    guard: MutexGuard<'a, Inner>,
    changes: &'a watch::Sender<u64>,
}

impl Deref for Changing<'_> {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.guard
    }
}

impl DerefMut for Changing<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.guard
    }
}

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.changes
            .send_modify(|count| *count = count.wrapping_add(1));
    }
}

impl EditorState {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state for reading only.
    pub(crate) fn read(&self) -> MutexGuard<'_, Inner> {
        // Every change under the lock is a single insert, remove or assignment, so a
        // poisoned lock still holds consistent data.
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The state for a change; the status reporter hears of it when the guard is dropped.
    pub(crate) fn lock(&self) -> Changing<'_> {
        Changing {
            guard: self.read(),
            changes: &self.changes,
        }
    }

    /// Follows the changes: its `changed()` resolves after the next one.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The editor's current version of `uri`, if the editor has it open.
    pub fn current_version(&self, uri: &str) -> Option<i32> {
        self.read().documents.get(uri).map(|doc| doc.version())
    }

    /// The snapshot of the current version of `uri` (its text and holes).
    pub fn document(&self, uri: &str) -> Option<Arc<DocumentSnapshot>> {
        self.read().documents.get(uri).cloned()
    }

    /// The hole `id` of `uri` at `version`, with the text of that version; `None` when the
    /// version is no longer current or the hole is gone.
    pub fn hole_at(
        &self,
        uri: &str,
        version: i32,
        id: &HoleId,
    ) -> Option<(Hole, Arc<DocumentSnapshot>)> {
        let snapshot = self.document(uri)?;
        if snapshot.version() != version {
            return None;
        }
        let hole = snapshot.hole(id)?.clone();
        Some((hole, snapshot))
    }

    /// The state of every job of `uri`.
    pub fn jobs_of(&self, uri: &str) -> Vec<JobSlot> {
        self.read()
            .jobs
            .values()
            .filter(|slot| slot.uri == uri)
            .cloned()
            .collect()
    }

    /// The holes of `uri` that wait for the user to fix an error in their declaration, with
    /// why; `None` until its current version is elaborated.
    pub fn blocked_of(&self, uri: &str) -> Option<HashMap<HoleId, String>> {
        self.read().blocked.get(uri).cloned()
    }
}
