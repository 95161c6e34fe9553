//! [`Session`]: the editor documents' holes, their goals and their jobs.
//!
//! Invariants: the session's task is the only writer of document entries in
//! [`EditorState`]; a goal reply is used only if the document is still at the version it
//! was asked for; every edit decides, per job, between cancel (the declaration's text
//! changed), re-anchor with re-check (only text before it changed) and re-anchor alone
//! (only text after it changed).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use lsp_types::Range;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::actions::{describe, hole_edit, versioned_edit};
use super::commands::SessionCommand;
use super::state::{EditorState, JobSlot};
use crate::config::EditorConfig;
use crate::holes::{DocumentSnapshot, Goal, Hole, HoleId, parse_goal};
use crate::lean::{DocumentEvent, LeanDiagnostic, LeanHandle};
use crate::pipeline::{
    Attempts, Checker, Decomposer, GoalSpec, JobKey, JobRequest, JobState, Moved, Pipeline, Prover,
};
use crate::router::EditorHandle;
use crate::transport::lsp;
use crate::verify::checker::SourceDocuments;

struct LiveJob {
    slot: u64,
    watcher: JoinHandle<()>,
}

struct Document {
    /// The current version, the one the checker and the code actions read too.
    snapshot: Arc<DocumentSnapshot>,
    elaborated: bool,
    /// Holes whose goal was asked for at this version; dropping an entry (the version was
    /// superseded, the hole went away) cancels a request still waiting for Lean.
    asked: HashMap<HoleId, GoalRequest>,
    /// Holes the user asked for (`sorryfill.prove`): their jobs skip the background queue.
    urgent: HashSet<HoleId>,
    jobs: HashMap<HoleId, LiveJob>,
}

struct GoalReply {
    uri: String,
    version: i32,
    hole: Hole,
    goal: Option<Goal>,
}

/// The editor session of one proxy: consumes [`DocumentEvent`]s and drives the pipeline.
pub struct Session<C, P, D, A> {
    pipeline: Arc<Pipeline<C, P, D, A>>,
    lean: LeanHandle,
    state: EditorState,
    busy: watch::Sender<bool>,
    documents: HashMap<String, Document>,
    next_slot: u64,
    goals_tx: mpsc::UnboundedSender<GoalReply>,
    goals_rx: mpsc::UnboundedReceiver<GoalReply>,
    editor: Option<EditorHandle>,
    settings: EditorConfig,
    /// Whether the editor accepts `$/progress` from the server.
    work_done_progress: bool,
    next_progress: u64,
    /// The snapshots of the editor's documents, shared with the checker.
    sources: SourceDocuments,
    /// The plugins' commands, from the router's code action hook.
    commands: Option<mpsc::UnboundedReceiver<SessionCommand>>,
}

impl<C: Checker, P: Prover, D: Decomposer, A: Attempts> Session<C, P, D, A> {
    /// A session submitting to `pipeline`, asking Lean for goals through `lean`, publishing
    /// to `state`, and keeping `busy` true while a user document's latest version is not
    /// yet elaborated (background checks wait on it).
    pub fn new(
        pipeline: Arc<Pipeline<C, P, D, A>>,
        lean: LeanHandle,
        state: EditorState,
        busy: watch::Sender<bool>,
    ) -> Self {
        let (goals_tx, goals_rx) = mpsc::unbounded_channel();
        Self {
            pipeline,
            lean,
            state,
            busy,
            documents: HashMap::new(),
            next_slot: 1,
            goals_tx,
            goals_rx,
            editor: None,
            settings: EditorConfig::default(),
            work_done_progress: false,
            next_progress: 1,
            sources: SourceDocuments::new(),
            commands: None,
        }
    }

    /// Runs the plugins' commands (`sorryfill.prove`, `sorryfill.cancel`, …) that the
    /// router's code action hook hands over on `commands`.
    pub fn with_commands(mut self, commands: mpsc::UnboundedReceiver<SessionCommand>) -> Self {
        self.commands = Some(commands);
        self
    }

    /// Lets the session talk to the editor itself: `$/progress` per job (when the editor
    /// declares `window.workDoneProgress`) and, with `settings.apply_on_save`,
    /// `workspace/applyEdit` of every verified proof when a document is saved.
    pub fn with_editor(mut self, editor: EditorHandle, settings: EditorConfig) -> Self {
        self.editor = Some(editor);
        self.settings = settings;
        self
    }

    /// Builds each version's snapshot in `sources` (the checker's view of the editor's
    /// documents) before the session itself reacts to the event, so a re-anchored job never
    /// checks against a version the checker has not seen yet.
    pub fn with_source_documents(mut self, sources: SourceDocuments) -> Self {
        self.sources = sources;
        self
    }

    /// Runs until the router stops sending events; then cancels every job.
    pub async fn run(mut self, mut events: mpsc::UnboundedReceiver<DocumentEvent>) {
        let mut commands = self.commands.take();
        loop {
            let command = async {
                match commands.as_mut() {
                    Some(commands) => commands.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.on_event(event),
                    None => break,
                },
                Some(reply) = self.goals_rx.recv() => self.on_goal(reply),
                Some(command) = command => self.on_command(command),
            }
        }
        let uris: Vec<String> = self.documents.keys().cloned().collect();
        for uri in uris {
            self.close(&uri);
        }
    }

    /// Handles one document event.
    pub fn on_event(&mut self, event: DocumentEvent) {
        let snapshot = self.sources.apply(&event);
        match (event, snapshot) {
            (DocumentEvent::Opened { uri, .. }, Some(snapshot)) => {
                self.close(&uri);
                Self::publish(&self.state, &uri, &snapshot);
                self.documents.insert(
                    uri,
                    Document {
                        snapshot,
                        elaborated: false,
                        asked: HashMap::new(),
                        urgent: HashSet::new(),
                        jobs: HashMap::new(),
                    },
                );
            }
            (DocumentEvent::Changed { uri, .. }, Some(snapshot)) => self.changed(&uri, snapshot),
            (DocumentEvent::Closed { uri }, _) => self.close(&uri),
            (
                DocumentEvent::Elaborated {
                    uri,
                    version,
                    diagnostics,
                },
                _,
            ) => self.elaborated(&uri, version, &diagnostics),
            (DocumentEvent::Saved { uri, version }, _) => self.saved(&uri, version),
            (
                DocumentEvent::EditorReady {
                    work_done_progress, ..
                },
                _,
            ) => {
                self.work_done_progress = work_done_progress;
            }
            (DocumentEvent::Failed { uri, version }, _) => {
                if let Some(doc) = self.documents.get_mut(&uri)
                    && doc.snapshot.version() == version
                {
                    doc.elaborated = true;
                }
            }
            // `apply` makes a snapshot of every open and change.
            (DocumentEvent::Opened { .. } | DocumentEvent::Changed { .. }, None) => {}
        }
        self.update_busy();
    }

    fn update_busy(&self) {
        let busy = self.documents.values().any(|doc| !doc.elaborated);
        self.busy.send_if_modified(|value| {
            let changed = *value != busy;
            *value = busy;
            changed
        });
    }

    fn publish(state: &EditorState, uri: &str, snapshot: &Arc<DocumentSnapshot>) {
        state
            .lock()
            .documents
            .insert(uri.to_owned(), Arc::clone(snapshot));
    }

    fn close(&mut self, uri: &str) {
        let Some(doc) = self.documents.remove(uri) else {
            return;
        };
        self.pipeline.cancel_document(uri);
        let mut state = self.state.lock();
        state.documents.remove(uri);
        state.blocked.remove(uri);
        for job in doc.jobs.values() {
            job.watcher.abort();
            state.jobs.remove(&job.slot);
        }
    }

    fn changed(&mut self, uri: &str, snapshot: Arc<DocumentSnapshot>) {
        let Some(doc) = self.documents.get_mut(uri) else {
            return;
        };
        let version = snapshot.version();
        let old_snapshot = Arc::clone(&doc.snapshot);
        let old_version = old_snapshot.version();
        let old_index = old_snapshot.index();
        let new_index = snapshot.index();
        let old_text = old_index.text();
        let new_text = new_index.text();
        let prefix = common_prefix(old_text, new_text);
        let suffix = common_suffix(old_text, new_text);
        let grown = new_text.len() as isize - old_text.len() as isize;
        let old_outline = old_index.outline();
        let new_outline = new_index.outline();
        let mut moved = Vec::new();
        let mut cancelled = Vec::new();
        for id in doc.jobs.keys() {
            let Some(old_hole) = old_index.holes().iter().find(|hole| &hole.id == id) else {
                cancelled.push(id.clone());
                continue;
            };
            let Some(command) = old_outline.commands.get(old_hole.command) else {
                cancelled.push(id.clone());
                continue;
            };
            let start = command.span.start;
            let declaration = old_text.get(command.span.clone()).unwrap_or("").trim_end();
            let end = start + declaration.len();
            // Only text after the declaration changed: the hole keeps its place.
            let after = prefix > end;
            // Only text before it changed: the hole moved by the length change.
            let before = suffix >= old_text.len() - start;
            let (shift, prefix_changed) = if after {
                (0, false)
            } else if before {
                (grown, true)
            } else {
                cancelled.push(id.clone());
                continue;
            };
            let new_start = old_hole.span.start.checked_add_signed(shift);
            // Text added right after the declaration can still belong to it (a new tactic
            // line): the declaration must read the same in the new text.
            let new_hole = new_index.holes().iter().find(|hole| {
                Some(hole.span.start) == new_start
                    && hole.kind == old_hole.kind
                    && new_outline
                        .commands
                        .get(hole.command)
                        .and_then(|command| new_index.text().get(command.span.clone()))
                        .is_some_and(|text| text.trim_end() == declaration)
            });
            match new_hole {
                Some(new_hole) => moved.push(Moved {
                    from: id.clone(),
                    to: new_hole.id.clone(),
                    prefix_changed,
                }),
                None => cancelled.push(id.clone()),
            }
        }
        for id in &cancelled {
            tracing::info!(%uri, hole = %id, version, "an edit touched the hole's declaration: job cancelled");
            self.pipeline.cancel(uri, id);
            if let Some(job) = doc.jobs.remove(id) {
                job.watcher.abort();
                self.state.lock().jobs.remove(&job.slot);
            }
        }
        doc.snapshot = Arc::clone(&snapshot);
        doc.elaborated = false;
        // Which declarations have errors is known again once the new version is elaborated.
        self.state.lock().blocked.remove(uri);
        // The goals asked at the old version can no longer be used: Lean is told to stop.
        doc.asked.clear();
        // Re-anchored jobs check against the new version at once: it must be visible first.
        Self::publish(&self.state, uri, &snapshot);
        let count = self.pipeline.reanchor(uri, old_version, version, &moved);
        tracing::debug!(%uri, version, moved = count, "jobs re-anchored");
        let mut jobs = HashMap::new();
        for m in &moved {
            let Some(job) = doc.jobs.remove(&m.from) else {
                continue;
            };
            // A re-check starts a new run of the job: follow that one from now on.
            job.watcher.abort();
            let watcher = match self.pipeline.watch(uri, &m.to) {
                Some(receiver) => {
                    let progress = progress_for(
                        self.editor.as_ref().filter(|_| self.work_done_progress),
                        &mut self.next_progress,
                        uri,
                        &m.to,
                    );
                    spawn_watcher(self.state.clone(), job.slot, receiver, progress)
                }
                None => continue,
            };
            if let Some(slot) = self.state.lock().jobs.get_mut(&job.slot) {
                slot.hole = m.to.clone();
            }
            jobs.insert(
                m.to.clone(),
                LiveJob {
                    slot: job.slot,
                    watcher,
                },
            );
        }
        for (_, job) in doc.jobs.drain() {
            job.watcher.abort();
            self.state.lock().jobs.remove(&job.slot);
        }
        doc.jobs = jobs;
    }

    /// With `apply_on_save`, applies every proof verified for the saved version in one
    /// versioned `workspace/applyEdit`. Proofs of one declaration were each verified with the
    /// others still holes, so Lean checks them together, as the text the edit writes, first;
    /// a combination Lean refuses is left out.
    fn saved(&mut self, uri: &str, version: i32) {
        if !self.settings.apply_on_save {
            return;
        }
        let (Some(editor), Some(doc)) = (&self.editor, self.documents.get(uri)) else {
            return;
        };
        if doc.snapshot.version() != version {
            return;
        }
        let index = doc.snapshot.index();
        let jobs = self.state.jobs_of(uri);
        // (declaration command, hole, proof, edit) of each proof verified at this version.
        let verified: Vec<(usize, HoleId, String, (Range, String))> = index
            .holes()
            .iter()
            .filter_map(|hole| {
                let slot = jobs.iter().find(|slot| slot.hole == hole.id)?;
                match &slot.state {
                    JobState::Verified {
                        proof,
                        version: checked,
                    } if *checked == version => {
                        let edit = hole_edit(index, hole, proof)?;
                        Some((hole.command, hole.id.clone(), proof.clone(), edit))
                    }
                    _ => None,
                }
            })
            .collect();
        if verified.is_empty() {
            return;
        }
        let editor = editor.clone();
        let pipeline = Arc::clone(&self.pipeline);
        let uri = uri.to_owned();
        tokio::spawn(async move {
            let mut edits = Vec::with_capacity(verified.len());
            let commands: std::collections::BTreeSet<usize> =
                verified.iter().map(|(command, ..)| *command).collect();
            for command in commands {
                let group: Vec<_> = verified.iter().filter(|(c, ..)| *c == command).collect();
                if group.len() > 1 {
                    let fills: Vec<(HoleId, String)> = group
                        .iter()
                        .map(|(_, hole, proof, _)| (hole.clone(), proof.clone()))
                        .collect();
                    let together = pipeline
                        .checker()
                        .check_together(&uri, version, &fills)
                        .await;
                    if !together.is_verified() {
                        tracing::info!(%uri, version, "proofs of one declaration refused together; not applied");
                        continue;
                    }
                }
                edits.extend(group.into_iter().map(|(.., edit)| edit.clone()));
            }
            if edits.is_empty() {
                return;
            }
            tracing::info!(%uri, version, holes = edits.len(), "applying verified proofs on save");
            // The edit names `version`, so an editor never applies it to another version.
            editor.request(
                lsp::method::APPLY_EDIT,
                json!({"label": "sorryfill: fill verified holes", "edit": versioned_edit(&uri, version, &edits)}),
            );
        });
    }

    fn elaborated(&mut self, uri: &str, version: i32, diagnostics: &[LeanDiagnostic]) {
        let Some(doc) = self.documents.get_mut(uri) else {
            return;
        };
        let current = doc.snapshot.version();
        if current != version {
            tracing::debug!(%uri, version, current, "elaboration of an old version ignored");
            return;
        }
        doc.elaborated = true;
        let snapshot = Arc::clone(&doc.snapshot);
        let index = snapshot.index();
        // Lean drops the sorry warning of a declaration with errors: a proof there could not
        // pass the gate anyway. The same version can report again with a later set (real Lean
        // publishes after its done notification), so work started on an earlier, emptier set
        // for such a hole is dropped.
        let blocked = crate::lean::blocked_holes(index, diagnostics);
        // A job whose check raced with an edit (the checker saw the new version before the
        // job was re-anchored) ended as stale; its hole is still here, so it starts again.
        let dropped: Vec<HoleId> = {
            let state = self.state.lock();
            doc.jobs
                .iter()
                .filter(|(id, job)| {
                    blocked.contains_key(*id)
                        || state.jobs.get(&job.slot).is_some_and(|slot| {
                            matches!(&slot.state, JobState::Failed { reason } if reason.contains("no longer current"))
                        })
                })
                .map(|(id, _)| id.clone())
                .collect()
        };
        for id in dropped {
            self.pipeline.cancel(uri, &id);
            if let Some(job) = doc.jobs.remove(&id) {
                job.watcher.abort();
                self.state.lock().jobs.remove(&job.slot);
            }
        }
        doc.asked.retain(|id, _| !blocked.contains_key(id));
        for hole in index.holes() {
            // `admit` holes are filled like `sorry` ones (the splicer replaces both).
            if doc.jobs.contains_key(&hole.id) || doc.asked.contains_key(&hole.id) {
                continue;
            }
            // A `sorry` in a statement or a definition's value is not a proof to find.
            if let Some(reason) = index.role(hole).reason() {
                tracing::debug!(%uri, hole = %hole.id, reason, "hole left alone");
                continue;
            }
            if blocked.contains_key(&hole.id) {
                tracing::debug!(%uri, hole = %hole.id, "declaration has errors; hole skipped");
                continue;
            }
            let request = ask_goal(&self.lean, &self.goals_tx, uri, version, hole.clone());
            doc.asked.insert(hole.id.clone(), request);
        }
        // The status and the hole's status action say why these wait.
        self.state.lock().blocked.insert(uri.to_owned(), blocked);
    }

    fn on_command(&mut self, command: SessionCommand) {
        match command {
            SessionCommand::Prove {
                uri,
                version,
                holes,
            } => {
                // A hole waiting for an error in its declaration to be fixed gets no job: no
                // check could pass. One message says so, however many holes were asked for.
                let blocked = self.state.blocked_of(&uri).unwrap_or_default();
                let (waiting, provable): (Vec<HoleId>, Vec<HoleId>) =
                    holes.into_iter().partition(|id| blocked.contains_key(id));
                let first = waiting.first().and_then(|id| Some((id, blocked.get(id)?)));
                if let (Some((first, reason)), Some(editor)) = (first, &self.editor) {
                    let message = match waiting.len() {
                        1 => format!("sorryfill: {first}: {reason}"),
                        n => format!(
                            "sorryfill: {n} holes wait for an error Lean reports in their declaration to be fixed; {first}: {reason}"
                        ),
                    };
                    editor.notify(
                        lsp::method::SHOW_MESSAGE,
                        json!({"type": lsp::MessageType::WARNING, "message": message}),
                    );
                }
                for hole in provable {
                    self.prove_now(&uri, version, hole);
                }
            }
            SessionCommand::Cancel { uri } => {
                let uris: Vec<String> = match uri {
                    Some(uri) => vec![uri],
                    None => self.documents.keys().cloned().collect(),
                };
                for uri in uris {
                    let Some(doc) = self.documents.get_mut(&uri) else {
                        continue;
                    };
                    doc.urgent.clear();
                    // The job's watcher stays and shows it as cancelled; an edit or
                    // `sorryfill.prove` starts the hole again.
                    for id in doc.jobs.keys() {
                        if self
                            .pipeline
                            .state(&uri, id)
                            .is_some_and(|state| !state.is_final())
                        {
                            tracing::info!(%uri, hole = %id, "job cancelled by the user");
                            self.pipeline.cancel(&uri, id);
                        }
                    }
                }
            }
        }
    }

    /// Proves `hole` of `uri` ahead of the background queue: a queued or running job is let
    /// through at once; a job that ended without a proof starts again; a hole without a
    /// job gets one as soon as its goal is known.
    fn prove_now(&mut self, uri: &str, version: i32, id: HoleId) {
        let Some(doc) = self.documents.get_mut(uri) else {
            return;
        };
        // Hole ids survive edits elsewhere: a command that crossed an edit still names the
        // hole, now at the current version.
        let asked_at = version;
        let version = doc.snapshot.version();
        let Some(hole) = doc.snapshot.hole(&id).cloned() else {
            tracing::debug!(%uri, hole = %id, asked_at, version, "the hole asked for is gone");
            return;
        };
        tracing::info!(%uri, hole = %id, version, "the user asked for this hole");
        let finished = self.pipeline.state(uri, &id);
        match finished {
            Some(JobState::Verified { .. } | JobState::Partial { .. }) => return,
            Some(state) if !state.is_final() => {
                self.pipeline.prioritise(uri, &id);
                return;
            }
            _ => {}
        }
        // Failed, cancelled or never started: forget the old job and ask for the goal; the
        // job it gets skips the queue.
        doc.urgent.insert(id.clone());
        self.pipeline.cancel(uri, &id);
        if let Some(job) = doc.jobs.remove(&id) {
            job.watcher.abort();
            self.state.lock().jobs.remove(&job.slot);
        }
        doc.asked.remove(&id);
        // Before the version is elaborated Lean's goal would wait for it anyway; the
        // elaboration asks for every hole, this one included.
        if doc.elaborated {
            let request = ask_goal(&self.lean, &self.goals_tx, uri, version, hole);
            doc.asked.insert(id, request);
        }
    }

    fn on_goal(&mut self, reply: GoalReply) {
        let Some(doc) = self.documents.get_mut(&reply.uri) else {
            return;
        };
        if doc.snapshot.version() != reply.version || !doc.asked.contains_key(&reply.hole.id) {
            tracing::debug!(uri = %reply.uri, version = reply.version, "goal for an old version dropped");
            return;
        }
        let Some(goal) = reply.goal else {
            tracing::info!(uri = %reply.uri, hole = %reply.hole.id, "Lean gave no goal at the hole");
            return;
        };
        if doc.jobs.contains_key(&reply.hole.id) {
            return;
        }
        let request = JobRequest {
            key: JobKey {
                doc: reply.uri.clone(),
                hole: reply.hole.id.clone(),
                version: reply.version,
            },
            goal: GoalSpec::for_hole(
                &goal,
                doc.snapshot.index().context(&reply.hole).as_ref(),
                &reply.hole.id,
            ),
            imports: crate::holes::imported_modules(doc.snapshot.text()),
        };
        tracing::info!(uri = %reply.uri, hole = %reply.hole.id, version = reply.version, "job submitted");
        let receiver = self.pipeline.submit(request);
        if doc.urgent.remove(&reply.hole.id) {
            self.pipeline.prioritise(&reply.uri, &reply.hole.id);
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        self.state.lock().jobs.insert(
            slot,
            JobSlot {
                uri: reply.uri.clone(),
                hole: reply.hole.id.clone(),
                state: receiver.borrow().clone(),
            },
        );
        let progress = progress_for(
            self.editor.as_ref().filter(|_| self.work_done_progress),
            &mut self.next_progress,
            &reply.uri,
            &reply.hole.id,
        );
        let watcher = spawn_watcher(self.state.clone(), slot, receiver, progress);
        doc.jobs.insert(reply.hole.id, LiveJob { slot, watcher });
    }
}

/// A goal request in flight. Dropping it aborts its task, and the request dropped with the
/// task sends Lean `$/cancelRequest` (see [`LeanHandle::request`]) if Lean has not answered.
struct GoalRequest(tokio::task::AbortHandle);

impl Drop for GoalRequest {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Asks Lean for the goal at `hole` of `uri` at `version`; the answer comes back to
/// [`Session::on_goal`] through `replies`.
fn ask_goal(
    lean: &LeanHandle,
    replies: &mpsc::UnboundedSender<GoalReply>,
    uri: &str,
    version: i32,
    hole: Hole,
) -> GoalRequest {
    let lean = lean.clone();
    let replies = replies.clone();
    let uri = uri.to_owned();
    let task = tokio::spawn(async move {
        let goal = match crate::lean::goal_at(&lean, &uri, &hole).await {
            Ok(goal) => goal.map(|goal| parse_goal(&goal)),
            Err(error) => {
                tracing::info!(%uri, hole = %hole.id, %error, "no goal from Lean");
                None
            }
        };
        let _ = replies.send(GoalReply {
            uri,
            version,
            hole,
            goal,
        });
    });
    GoalRequest(task.abort_handle())
}

/// A job's `$/progress` in the editor: begun at the first state, reported on each change,
/// ended at the final state or when the watcher is dropped (the job was cancelled or
/// restarted), so the editor never keeps a spinner for a job that is gone.
struct Progress {
    editor: EditorHandle,
    token: String,
    title: String,
    begun: bool,
    ended: bool,
}

impl Progress {
    fn send(&self, value: Value) {
        self.editor.notify(
            lsp::method::PROGRESS,
            json!({"token": self.token, "value": value}),
        );
    }

    fn update(&mut self, state: &JobState) {
        if self.ended {
            return;
        }
        let message = describe(state);
        if !self.begun {
            self.editor.request(
                lsp::method::WORK_DONE_PROGRESS_CREATE,
                json!({"token": self.token}),
            );
            self.send(json!({"kind": "begin", "title": self.title, "message": message, "cancellable": false}));
            self.begun = true;
        } else if !state.is_final() {
            self.send(json!({"kind": "report", "message": message}));
        }
        if state.is_final() {
            self.send(json!({"kind": "end", "message": message}));
            self.ended = true;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.begun && !self.ended {
            self.send(json!({"kind": "end", "message": "stopped"}));
        }
    }
}

fn progress_for(
    editor: Option<&EditorHandle>,
    next: &mut u64,
    uri: &str,
    hole: &HoleId,
) -> Option<Progress> {
    let editor = editor?.clone();
    let token = format!("sorryfill:progress:{next}");
    *next += 1;
    let file = uri.rsplit('/').next().unwrap_or(uri);
    Some(Progress {
        editor,
        token,
        title: format!("sorryfill: {hole} in {file}"),
        begun: false,
        ended: false,
    })
}

/// Follows a job's state into its slot of the shared state (and the editor's progress).
fn spawn_watcher(
    state: EditorState,
    slot: u64,
    mut receiver: watch::Receiver<JobState>,
    mut progress: Option<Progress>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let current = receiver.borrow_and_update().clone();
            if let Some(progress) = &mut progress {
                progress.update(&current);
            }
            if let Some(entry) = state.lock().jobs.get_mut(&slot) {
                entry.state = current;
            }
            if receiver.changed().await.is_err() {
                break;
            }
        }
    })
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

fn common_suffix(a: &str, b: &str) -> usize {
    a.bytes()
        .rev()
        .zip(b.bytes().rev())
        .take_while(|(x, y)| x == y)
        .count()
        .min(a.len())
        .min(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::lean::LeanCommand;
    use crate::pipeline::RejectKind;
    use crate::pipeline::{
        HoleBudget, NoDecomposer, NoProver, NoStore, Portfolio, WorkspaceLimits,
    };
    use crate::router::Event;
    use std::time::Duration;

    const URI: &str = "file:///a.lean";

    /// Refuses everything with one kind of rejection: these tests look at goals and jobs.
    struct Refuse(RejectKind);

    impl Checker for Refuse {
        async fn check(
            &self,
            _target: &crate::pipeline::Target,
            _proof: &str,
            _mode: crate::pipeline::CheckMode,
        ) -> crate::pipeline::PipelineVerdict {
            crate::pipeline::PipelineVerdict::rejected(self.0, "refused")
        }

        async fn check_together(
            &self,
            _doc: &str,
            _version: i32,
            _fills: &[(crate::holes::HoleId, String)],
        ) -> crate::pipeline::PipelineVerdict {
            crate::pipeline::PipelineVerdict::rejected(self.0, "refused")
        }
    }

    fn warning_on_t() -> Vec<LeanDiagnostic> {
        let diagnostic = json!({
            "range": {"start": {"line": 0, "character": 8}, "end": {"line": 0, "character": 9}},
            "severity": 2,
            "message": "declaration `t` uses `sorry`",
        });
        vec![serde_json::from_value(diagnostic).expect("a valid diagnostic")]
    }

    struct Harness {
        documents: mpsc::UnboundedSender<DocumentEvent>,
        lean: mpsc::UnboundedReceiver<Event>,
        state: EditorState,
        busy: watch::Receiver<bool>,
    }

    fn harness() -> Harness {
        harness_refusing(RejectKind::Lean)
    }

    fn harness_refusing(kind: RejectKind) -> Harness {
        let (router_tx, lean) = mpsc::unbounded_channel();
        let state = EditorState::new();
        let (busy_tx, busy) = watch::channel(false);
        let pipeline = Arc::new(Pipeline::new(
            Refuse(kind),
            NoProver,
            NoDecomposer,
            NoStore,
            Portfolio::default(),
            HoleBudget::default(),
            WorkspaceLimits::default(),
        ));
        let session = Session::new(pipeline, LeanHandle::new(router_tx), state.clone(), busy_tx);
        let (documents, events) = mpsc::unbounded_channel();
        tokio::spawn(session.run(events));
        Harness {
            documents,
            lean,
            state,
            busy,
        }
    }

    impl Harness {
        fn send(&self, event: DocumentEvent) {
            self.documents.send(event).expect("the session runs");
        }

        /// Opens `text` as `version` of [`URI`] and has Lean elaborate it with the sorry
        /// warning on `t`.
        fn open_elaborated(&self, version: i32, text: &str) {
            self.send(DocumentEvent::Opened {
                uri: URI.into(),
                version,
                text: text.into(),
            });
            self.send(DocumentEvent::Elaborated {
                uri: URI.into(),
                version,
                diagnostics: warning_on_t(),
            });
        }

        /// The next goal request the session sends to Lean, with its reply channel.
        async fn goal_request(
            &mut self,
        ) -> (
            String,
            tokio::sync::oneshot::Sender<Result<Value, crate::lean::LeanError>>,
        ) {
            let (_, method, reply) = self.numbered_goal_request().await;
            (method, reply)
        }

        /// [`Self::goal_request`] with the request's number.
        async fn numbered_goal_request(
            &mut self,
        ) -> (
            u64,
            String,
            tokio::sync::oneshot::Sender<Result<Value, crate::lean::LeanError>>,
        ) {
            loop {
                let event = tokio::time::timeout(Duration::from_secs(5), self.lean.recv())
                    .await
                    .expect("the session asks Lean in time")
                    .expect("the session keeps its handle");
                if let Event::Lean(LeanCommand::Request {
                    n, method, reply, ..
                }) = event
                {
                    return (n, method, reply);
                }
            }
        }

        /// The numbers of the requests the session cancels, until nothing comes for a while.
        async fn cancelled(&mut self) -> Vec<u64> {
            let mut cancelled = Vec::new();
            while let Ok(Some(event)) =
                tokio::time::timeout(Duration::from_millis(200), self.lean.recv()).await
            {
                if let Event::Lean(LeanCommand::Cancel { n }) = event {
                    cancelled.push(n);
                }
            }
            cancelled
        }

        async fn settle(&self) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn goal(target: &str) -> Value {
        json!({"goals": [format!("x : Nat\n⊢ {target}")], "rendered": ""})
    }

    #[tokio::test]
    async fn a_late_publish_after_done_updates_the_holes_of_that_version() {
        let mut h = harness();
        let text = "theorem t (x : Nat) : x + 0 = x := by\n  simp [nope]\n  sorry\n";
        h.send(DocumentEvent::Opened {
            uri: URI.into(),
            version: 1,
            text: text.into(),
        });
        // Real Lean's order for a version that never blocked: done with nothing published yet,
        // so the hole looks clean and gets its goal and a job ...
        h.send(DocumentEvent::Elaborated {
            uri: URI.into(),
            version: 1,
            diagnostics: Vec::new(),
        });
        let (_, reply) = h.goal_request().await;
        let _ = reply.send(Ok(goal("x + 0 = x")));
        h.settle().await;
        assert_eq!(h.state.jobs_of(URI).len(), 1);
        // ... then the final set: the declaration has an error and no sorry warning, so no
        // proof of this hole can pass and its job goes.
        let error = json!({
            "range": {"start": {"line": 1, "character": 8}, "end": {"line": 1, "character": 12}},
            "severity": 1,
            "message": "Unknown identifier `nope`",
        });
        h.send(DocumentEvent::Elaborated {
            uri: URI.into(),
            version: 1,
            diagnostics: vec![serde_json::from_value(error).expect("a valid diagnostic")],
        });
        h.settle().await;
        assert!(
            h.state.jobs_of(URI).is_empty(),
            "{:?}",
            h.state.jobs_of(URI)
        );
    }

    #[tokio::test]
    async fn a_goal_for_an_old_version_is_never_used() {
        let mut h = harness();
        let v1 = "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n";
        h.send(DocumentEvent::Opened {
            uri: URI.into(),
            version: 1,
            text: v1.into(),
        });
        h.settle().await;
        assert!(*h.busy.borrow(), "the user's document is elaborating");
        h.send(DocumentEvent::Elaborated {
            uri: URI.into(),
            version: 1,
            diagnostics: warning_on_t(),
        });
        let (method, reply) = h.goal_request().await;
        assert_eq!(method, "$/lean/plainGoal");
        assert!(!*h.busy.borrow());
        // The user types before Lean answers: the answer belongs to version 1 and is dropped.
        let v2 = v1.replace("x + 0 = x", "0 + x = x");
        h.send(DocumentEvent::Changed {
            uri: URI.into(),
            version: 2,
            text: v2.as_str().into(),
        });
        h.settle().await;
        let _ = reply.send(Ok(goal("x + 0 = x")));
        h.settle().await;
        assert!(h.state.jobs_of(URI).is_empty());
        assert!(*h.busy.borrow());

        h.send(DocumentEvent::Elaborated {
            uri: URI.into(),
            version: 2,
            diagnostics: warning_on_t(),
        });
        let (_, reply) = h.goal_request().await;
        let _ = reply.send(Ok(goal("0 + x = x")));
        h.settle().await;
        let jobs = h.state.jobs_of(URI);
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert_eq!(jobs[0].hole.to_string(), "t#0");
    }

    #[tokio::test]
    async fn a_goal_request_of_a_superseded_version_is_cancelled() {
        let mut h = harness();
        let v1 = "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n";
        h.open_elaborated(1, v1);
        let (asked, _, _reply) = h.numbered_goal_request().await;
        assert!(
            h.cancelled().await.is_empty(),
            "nothing cancelled while current"
        );
        // The user types before Lean answers: Lean is told to stop working on version 1.
        let v2 = format!("{v1}\ntheorem u : True := trivial\n");
        h.send(DocumentEvent::Changed {
            uri: URI.into(),
            version: 2,
            text: v2.as_str().into(),
        });
        assert_eq!(h.cancelled().await, vec![asked]);

        // Closing the document cancels what was asked for its last version too.
        h.send(DocumentEvent::Elaborated {
            uri: URI.into(),
            version: 2,
            diagnostics: warning_on_t(),
        });
        let (asked, _, _reply) = h.numbered_goal_request().await;
        h.send(DocumentEvent::Closed { uri: URI.into() });
        assert_eq!(h.cancelled().await, vec![asked]);
    }

    #[tokio::test]
    async fn an_answered_goal_request_is_not_cancelled_by_a_later_edit() {
        let mut h = harness();
        let v1 = "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n";
        h.open_elaborated(1, v1);
        let (_, reply) = h.goal_request().await;
        let _ = reply.send(Ok(goal("x + 0 = x")));
        h.settle().await;
        let v2 = format!("{v1}\ntheorem u : True := trivial\n");
        h.send(DocumentEvent::Changed {
            uri: URI.into(),
            version: 2,
            text: v2.as_str().into(),
        });
        assert!(h.cancelled().await.is_empty());
    }

    #[tokio::test]
    async fn term_holes_ask_for_the_term_goal_and_erroneous_declarations_are_skipped() {
        let mut h = harness();
        let text = "theorem t (x : Nat) : x + 0 = x := sorry\n\ntheorem u : False := by\n  exact foo\n  sorry\n";
        h.send(DocumentEvent::Opened {
            uri: URI.into(),
            version: 1,
            text: text.into(),
        });
        let error = json!({
            "range": {"start": {"line": 3, "character": 8}, "end": {"line": 3, "character": 11}},
            "severity": 1,
            "message": "Unknown identifier `foo`",
        });
        let mut diagnostics = warning_on_t();
        diagnostics.push(serde_json::from_value(error).expect("a valid diagnostic"));
        h.send(DocumentEvent::Elaborated {
            uri: URI.into(),
            version: 1,
            diagnostics,
        });
        let (method, _reply) = h.goal_request().await;
        assert_eq!(method, "$/lean/plainTermGoal");
        h.settle().await;
        assert!(
            h.lean.try_recv().is_err(),
            "no goal asked in the failing `u`"
        );
    }

    #[tokio::test]
    async fn closing_the_document_drops_its_jobs() {
        let mut h = harness();
        let text = "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n";
        h.open_elaborated(1, text);
        let (_, reply) = h.goal_request().await;
        let _ = reply.send(Ok(goal("x + 0 = x")));
        h.settle().await;
        assert_eq!(h.state.jobs_of(URI).len(), 1);
        h.send(DocumentEvent::Closed { uri: URI.into() });
        h.settle().await;
        assert!(h.state.jobs_of(URI).is_empty());
        assert_eq!(h.state.current_version(URI), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_that_ended_stale_starts_again_at_the_next_elaboration() {
        let mut h = harness_refusing(RejectKind::Stale);
        let v1 = "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n";
        h.open_elaborated(1, v1);
        let (_, reply) = h.goal_request().await;
        let _ = reply.send(Ok(goal("x + 0 = x")));
        // No re-anchor comes within the grace a stale check waits for one.
        tokio::time::sleep(crate::pipeline::REANCHOR_GRACE).await;
        h.settle().await;
        let jobs = h.state.jobs_of(URI);
        assert!(
            matches!(&jobs[0].state, JobState::Failed { reason } if reason.contains("no longer current")),
            "{jobs:?}"
        );
        let v2 = format!("{v1}\ntheorem u : True := trivial\n");
        h.send(DocumentEvent::Changed {
            uri: URI.into(),
            version: 2,
            text: v2.as_str().into(),
        });
        h.send(DocumentEvent::Elaborated {
            uri: URI.into(),
            version: 2,
            diagnostics: warning_on_t(),
        });
        let (method, _reply) = h.goal_request().await;
        assert_eq!(method, "$/lean/plainGoal");
    }

    #[tokio::test]
    async fn a_line_added_to_the_end_of_the_proof_cancels_its_job() {
        let mut h = harness();
        let v1 = "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n\ntheorem u : True := trivial\n";
        h.open_elaborated(1, v1);
        let (_, reply) = h.goal_request().await;
        let _ = reply.send(Ok(goal("x + 0 = x")));
        h.settle().await;
        assert_eq!(h.state.jobs_of(URI).len(), 1);
        // Below the declaration: the job stays.
        let v2 = v1.replace("trivial", "by trivial");
        h.send(DocumentEvent::Changed {
            uri: URI.into(),
            version: 2,
            text: v2.as_str().into(),
        });
        h.settle().await;
        assert_eq!(h.state.jobs_of(URI).len(), 1);
        // A new last line of the proof belongs to the declaration: the job goes.
        let v3 = v2.replace("  sorry\n", "  sorry\n  simp\n");
        h.send(DocumentEvent::Changed {
            uri: URI.into(),
            version: 3,
            text: v3.as_str().into(),
        });
        h.settle().await;
        assert!(h.state.jobs_of(URI).is_empty());
    }
}
