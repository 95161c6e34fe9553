//! The shadow pool: private documents on the user's Lean server in which candidates are
//! elaborated.
//!
//! [`ShadowPool`] keeps a bounded pool of shadow documents (one per slot, config
//! `verify.workers`) under private URIs `<root>/.lake/sorryfill/shadow-<k>/<source path>`, so
//! Lake resolves imports as for the source file while nothing is written to disk. Each
//! elaboration sends ONE ranged `didChange` covering only the bytes that differ from the slot's
//! previous text: the header and every command before the target stay byte-identical, so Lean
//! reuses them. What Lean's report means for a candidate is decided elsewhere (the checker and
//! the gate); the pool only delivers the diagnostics of exactly the version it sent.
//!
//! A slot's document is opened with the header alone (`dependencyBuildMode: never`: a check
//! never builds anything) and the imports are waited for under their own limit
//! (`verify.import_timeout_s`, a Mathlib import takes tens of seconds); only then does the
//! check's time limit start, for the change that adds the rest of the text. A header that Lean
//! cannot load (an import error, "Imports are out of date", a fatal `fileProgress`, or imports
//! slower than their limit) makes the source uncheckable: every later check of it is refused at
//! once with the same [`RejectReason::HeaderFailed`] until its header changes or
//! [`ShadowPool::forget_header_failures`] is called (a file saved or reopened in the editor).
//!
//! Invariants:
//! - the diagnostics returned are the final set of exactly the version that was sent: the
//!   last set Lean published for it before answering `textDocument/waitForDiagnostics` (the
//!   done notification is no barrier: real Lean's final publish may follow it);
//! - a timed-out or crashed shadow document is closed and reopened on next use, never reused;
//! - a source whose header failed is not sent to Lean again until its header changes or the
//!   failures are forgotten;
//! - every shadow URI is registered private before the first document is opened, so nothing
//!   about it reaches the editor.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lean_syntax::LineIndex;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use super::gate::{GateRejection, RejectReason};
use crate::documents::{file_path, join_uri};
use crate::lean::{LeanDiagnostic, LeanError, LeanHandle, PrivateEvent};
use crate::transport::lsp;

/// How long the header phase keeps listening after a fatal `fileProgress`, for the error
/// that says why (Lean publishes it around the same time).
const FATAL_HEADER_GRACE: Duration = Duration::from_secs(2);

/// The JSON-RPC codes Lean uses for a crashed file worker.
const WORKER_CRASH_CODES: [i64; 2] = [
    lsp::error_code::LEAN_WORKER_EXITED,
    lsp::error_code::LEAN_WORKER_CRASHED,
];

/// A bounded pool of shadow documents on the user's Lean server. Cheap to clone; clones share
/// the pool. Make ONE per proxy session: the router delivers a private URI's events to one
/// subscriber of its prefix (the latest), so two pools on the same root would steal each
/// other's events.
#[derive(Clone)]
pub struct ShadowPool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ShadowPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowPool")
            .field("root_uri", &self.inner.root_uri)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

struct Inner {
    lean: LeanHandle,
    root_uri: String,
    limits: PoolLimits,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Slot>>,
    user_busy: watch::Receiver<bool>,
    counters: Counters,
    /// Sources whose header Lean could not load, with that header and the reason.
    header_failures: Mutex<HashMap<String, (String, RejectReason)>>,
}

/// The size and time limits of a [`ShadowPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Shadow documents checked at once (at least one).
    pub workers: usize,
    /// Limit of one check: from the change that adds the candidate to Lean's final report.
    pub check_timeout: Duration,
    /// Limit of loading a new shadow's header (its imports), before any check starts.
    pub import_timeout: Duration,
}

/// Lean's finished report of one shadow text.
#[derive(Debug, Clone)]
pub struct Elaborated {
    /// The shadow version the diagnostics belong to.
    pub version: i32,
    /// Lean's full set of diagnostics of that version.
    pub diagnostics: Vec<LeanDiagnostic>,
    /// Lean's `textDocument/documentSymbol` answer for that version: where Lean's parser put
    /// each declaration, which the gate's judgement compares with where the candidate is.
    pub symbols: Value,
    /// Time from taking a slot to Lean's finished report.
    pub elapsed: Duration,
}

/// Running totals, for benches, `doctor` and the logs.
#[derive(Debug, Default)]
struct Counters {
    opened: AtomicU64,
    changes: AtomicU64,
    bytes_sent: AtomicU64,
}

/// What a [`ShadowPool`] has sent to Lean so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckerStats {
    /// Shadow documents opened (`didOpen`), including reopens after a timeout or crash.
    pub opened: u64,
    /// Ranged `didChange`s sent (one per check that reached Lean with a new text).
    pub changes: u64,
    /// Bytes of document text sent in `didOpen` and `didChange` params.
    pub bytes_sent: u64,
}

/// One shadow document of the pool, with its private event stream.
struct Slot {
    index: usize,
    prefix: String,
    events: mpsc::UnboundedReceiver<PrivateEvent>,
    /// The version of the next change; never reset, so a reopened document never reuses one.
    next_version: i32,
    open: Option<OpenShadow>,
}

/// What Lean holds for a slot's open shadow document.
struct OpenShadow {
    uri: String,
    text: String,
    version: i32,
    /// The diagnostics of `version`, once it finished: a check of the same text reuses them.
    finished: Option<Vec<LeanDiagnostic>>,
}

/// A slot taken from the pool; it returns itself (and then its permit) when dropped, also
/// when a check is cancelled midway, since later checks only look at newer versions.
struct Lease {
    slot: Option<Slot>,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take()
            && let Ok(mut idle) = self.pool.idle.lock()
        {
            idle.push(slot);
        }
    }
}

impl Lease {
    fn slot(&mut self) -> &mut Slot {
        self.slot
            .as_mut()
            .expect("a lease holds its slot until it is dropped")
    }
}

impl ShadowPool {
    /// A pool of shadow documents below `root_uri` (the project root as a `file://` URI, e.g.
    /// from [`crate::documents::file_uri`]). Registers every slot's URI prefix as private at
    /// once. Elaborations wait while `user_busy` is `true`.
    pub fn new(
        lean: LeanHandle,
        root_uri: &str,
        limits: PoolLimits,
        user_busy: watch::Receiver<bool>,
    ) -> Result<Self, LeanError> {
        let root_uri = root_uri.trim_end_matches('/').to_owned();
        let workers = limits.workers.max(1);
        let mut slots = Vec::with_capacity(workers);
        for index in 0..workers {
            let prefix = format!("{root_uri}/.lake/sorryfill/shadow-{index}/");
            let events = lean.register_private(prefix.clone())?;
            slots.push(Slot {
                index,
                prefix,
                events,
                next_version: 1,
                open: None,
            });
        }
        // Slots are taken from the end: keep slot 0 there so a lone check uses it.
        slots.reverse();
        Ok(Self {
            inner: Arc::new(Inner {
                lean,
                root_uri,
                limits,
                permits: Arc::new(Semaphore::new(workers)),
                idle: Mutex::new(slots),
                user_busy,
                counters: Counters::default(),
                header_failures: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The URI prefix under which every shadow document lives.
    pub fn shadow_prefix(&self) -> String {
        format!("{}/.lake/sorryfill/", self.inner.root_uri)
    }

    /// What has been sent to Lean so far.
    pub fn stats(&self) -> CheckerStats {
        let counters = &self.inner.counters;
        CheckerStats {
            opened: counters.opened.load(Ordering::Relaxed),
            changes: counters.changes.load(Ordering::Relaxed),
            bytes_sent: counters.bytes_sent.load(Ordering::Relaxed),
        }
    }

    /// The Lean server the shadows live on.
    pub fn lean(&self) -> &LeanHandle {
        &self.inner.lean
    }

    /// Forgets every header failure, so the next check of those sources tries Lean again
    /// (call it when files may have been rebuilt: a save, a reopened document).
    pub fn forget_header_failures(&self) {
        if let Ok(mut failures) = self.inner.header_failures.lock() {
            failures.clear();
        }
    }

    /// Elaborates `text` as the shadow of `source_uri` and returns Lean's finished report.
    /// Waits while the user's own documents are busy (Lean elaborates them on the same
    /// cores), then for a free slot, then for the header of a newly opened shadow (under the
    /// import limit); the check's time limit runs from then on.
    pub async fn elaborate(
        &self,
        source_uri: &str,
        text: &str,
    ) -> Result<Elaborated, GateRejection> {
        let header = header_of(text);
        self.refuse_failed_header(source_uri, header)?;
        let mut busy = self.inner.user_busy.clone();
        let _ = busy.wait_for(|busy| !*busy).await;

        let mut lease = self.lease(source_uri).await?;
        // Another check may have found the header broken while this one waited for a slot.
        self.refuse_failed_header(source_uri, header)?;
        let uri = shadow_uri(&self.inner.root_uri, &lease.slot().prefix, source_uri);
        if let Err(rejection) = self.load_header(lease.slot(), &uri, header).await {
            if matches!(rejection.reason, RejectReason::HeaderFailed { .. })
                && let Ok(mut failures) = self.inner.header_failures.lock()
            {
                tracing::info!(source = source_uri, reason = %rejection.reason, "shadow header failed");
                failures.insert(
                    source_uri.to_owned(),
                    (header.to_owned(), rejection.reason.clone()),
                );
            }
            return Err(rejection);
        }
        let limit = self.inner.limits.check_timeout;
        let started = Instant::now();
        let lean = self.inner.lean.clone();
        let slot = lease.slot();
        let elaborated = tokio::time::timeout(limit, async {
            let (version, diagnostics) = self.send(slot, &uri, text, Phase::Check).await?;
            // The slot is leased, so Lean answers for exactly the version just finished.
            let symbols = lean
                .request(
                    lsp::method::DOCUMENT_SYMBOL,
                    json!({"textDocument": {"uri": uri}}),
                )
                .await
                .map_err(infrastructure)?;
            Ok::<_, GateRejection>((version, diagnostics, symbols))
        })
        .await;
        let (version, diagnostics, symbols) = match elaborated {
            Ok(Ok(done)) => done,
            Ok(Err(rejection)) => {
                if rejection.reason == RejectReason::WorkerCrashed {
                    self.close(lease.slot());
                }
                return Err(rejection);
            }
            Err(_) => {
                self.close(lease.slot());
                return Err(GateRejection::new(RejectReason::Timeout { after: limit }));
            }
        };
        drop(lease);
        Ok(Elaborated {
            version,
            diagnostics,
            symbols,
            elapsed: started.elapsed(),
        })
    }

    /// The recorded header failure of `source_uri`, while its header is still `header`.
    fn refuse_failed_header(&self, source_uri: &str, header: &str) -> Result<(), GateRejection> {
        let Ok(mut failures) = self.inner.header_failures.lock() else {
            return Ok(());
        };
        match failures.get(source_uri) {
            Some((failed, reason)) if failed == header => Err(GateRejection::new(reason.clone())),
            Some(_) => {
                failures.remove(source_uri);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Makes sure the slot holds a shadow `uri` whose header `header` Lean has loaded: keeps
    /// one that is open with that header, else opens the header alone and waits for it under
    /// the import limit.
    async fn load_header(
        &self,
        slot: &mut Slot,
        uri: &str,
        header: &str,
    ) -> Result<(), GateRejection> {
        let reusable = slot
            .open
            .as_ref()
            .is_some_and(|open| open.uri == uri && header_of(&open.text) == header);
        if reusable {
            return Ok(());
        }
        self.close(slot);
        let limit = self.inner.limits.import_timeout;
        let loaded = tokio::time::timeout(limit, self.send(slot, uri, header, Phase::Header)).await;
        let failure = match loaded {
            Ok(Ok((_, diagnostics))) => {
                let Some(error) = diagnostics.iter().find(|d| d.is_error()) else {
                    return Ok(());
                };
                RejectReason::HeaderFailed {
                    message: error.message.clone(),
                }
            }
            Ok(Err(rejection)) => rejection.reason,
            Err(_) => RejectReason::HeaderFailed {
                message: format!(
                    "Lean did not load the imports within {} s (`[verify] import_timeout_s`)",
                    limit.as_secs()
                ),
            },
        };
        self.close(slot);
        Err(GateRejection::new(failure))
    }

    /// Takes a slot, preferring one that already holds a shadow of `source_uri` (its prefix is
    /// elaborated), then one with no document open, then any.
    async fn lease(&self, source_uri: &str) -> Result<Lease, GateRejection> {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| GateRejection::new(RejectReason::WorkerCrashed))?;
        let mut idle = self
            .inner
            .idle
            .lock()
            .map_err(|_| GateRejection::new(RejectReason::WorkerCrashed))?;
        let wanted = |slot: &Slot| {
            let uri = shadow_uri(&self.inner.root_uri, &slot.prefix, source_uri);
            slot.open.as_ref().is_some_and(|open| open.uri == uri)
        };
        let position = idle
            .iter()
            .rposition(wanted)
            .or_else(|| idle.iter().rposition(|slot| slot.open.is_none()))
            .or_else(|| idle.len().checked_sub(1));
        // A permit guarantees an idle slot, since a lease returns its slot before its permit;
        // only a poisoned pool could lose one, and then the check cannot run.
        let slot = position
            .map(|at| idle.remove(at))
            .ok_or_else(|| GateRejection::new(RejectReason::WorkerCrashed))?;
        drop(idle);
        Ok(Lease {
            slot: Some(slot),
            pool: Arc::clone(&self.inner),
            _permit: permit,
        })
    }

    /// Closes the slot's document, so the next check opens it afresh.
    fn close(&self, slot: &mut Slot) {
        if let Some(open) = slot.open.take() {
            tracing::debug!(slot = slot.index, uri = %open.uri, "closing a shadow document");
            let _ = self.inner.lean.notify(
                lsp::method::DID_CLOSE,
                json!({"textDocument": {"uri": open.uri}}),
            );
        }
    }

    /// Brings the slot's document to `text` and waits until Lean finished it. Returns the
    /// version and its diagnostics.
    async fn send(
        &self,
        slot: &mut Slot,
        uri: &str,
        text: &str,
        phase: Phase,
    ) -> Result<(i32, Vec<LeanDiagnostic>), GateRejection> {
        let lean = &self.inner.lean;
        if slot.open.as_ref().is_some_and(|open| open.uri != uri) {
            self.close(slot);
        }
        if let Some(open) = &slot.open
            && open.text == text
            && let Some(diagnostics) = &open.finished
        {
            return Ok((open.version, diagnostics.clone()));
        }
        let version = slot.next_version;
        slot.next_version += 1;
        let counters = &self.inner.counters;
        let sent = match &slot.open {
            Some(open) => {
                let change = ranged_change(&open.text, text);
                let bytes = change["text"].as_str().map_or(0, str::len);
                counters.changes.fetch_add(1, Ordering::Relaxed);
                counters
                    .bytes_sent
                    .fetch_add(bytes as u64, Ordering::Relaxed);
                lean.notify(
                    lsp::method::DID_CHANGE,
                    json!({
                        "textDocument": {"uri": uri, "version": version},
                        "contentChanges": [change],
                    }),
                )
            }
            None => {
                counters.opened.fetch_add(1, Ordering::Relaxed);
                counters
                    .bytes_sent
                    .fetch_add(text.len() as u64, Ordering::Relaxed);
                lean.notify(
                    lsp::method::DID_OPEN,
                    // `never`: a check must not build (Lean's default, `always`, would run Lake and
                    // report its output as diagnostics of the shadow).
                    json!({
                        "textDocument": {
                            "uri": uri, "languageId": "lean4", "version": version, "text": text,
                        },
                        "dependencyBuildMode": "never",
                    }),
                )
            }
        };
        sent.map_err(infrastructure)?;
        slot.open = Some(OpenShadow {
            uri: uri.to_owned(),
            text: text.to_owned(),
            version,
            finished: None,
        });
        let diagnostics = barrier(lean, &mut slot.events, uri, version, phase).await?;
        if let Some(open) = &mut slot.open {
            open.finished = Some(diagnostics.clone());
        }
        Ok((version, diagnostics))
    }
}

/// A failure to talk to Lean at all: the check cannot conclude, so it rejects.
fn infrastructure(error: LeanError) -> GateRejection {
    if error
        .code()
        .is_some_and(|code| WORKER_CRASH_CODES.contains(&code))
        || matches!(error, LeanError::ServerGone)
    {
        return GateRejection::new(RejectReason::WorkerCrashed);
    }
    GateRejection::new(RejectReason::LeanError {
        message: error.to_string(),
        range: lsp_types::Range::default(),
    })
}

/// What a shadow version is for, which decides what a fatal `fileProgress` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The header alone: a fatal progress is a header that cannot be loaded.
    Header,
    /// The whole text with the candidate: a fatal progress is a crash.
    Check,
}

/// Waits for Lean's completion barrier of `version`, the `waitForDiagnostics` answer, and
/// returns the version's final diagnostics: the last set published for it. Lean writes the
/// answer after every publish of the version (the last one may come AFTER the done
/// notification), and the router forwards Lean's frames in order, so when the answer arrives
/// every event it covers is already queued. A crash code ends the wait as
/// [`RejectReason::WorkerCrashed`]; so does a fatal `fileProgress` while checking. While
/// loading a header a fatal progress ends it as [`RejectReason::HeaderFailed`], with Lean's
/// error if it arrives within a short grace.
async fn barrier(
    lean: &LeanHandle,
    events: &mut mpsc::UnboundedReceiver<PrivateEvent>,
    uri: &str,
    version: i32,
    phase: Phase,
) -> Result<Vec<LeanDiagnostic>, GateRejection> {
    let wait = lean.wait_for_diagnostics(uri, version);
    tokio::pin!(wait);
    let grace = tokio::time::sleep(Duration::from_secs(u64::from(u32::MAX)));
    tokio::pin!(grace);
    let mut last = Vec::new();
    let mut fatal = false;
    loop {
        let fatal_now = tokio::select! {
            answer = &mut wait => {
                answer.map_err(infrastructure)?;
                break;
            }
            () = &mut grace, if fatal => break,
            event = events.recv() => match event {
                None => return Err(infrastructure(LeanError::RouterGone)),
                Some(event) => note_event(event, uri, version, &mut last),
            },
        };
        if fatal_now && !fatal {
            if phase == Phase::Check {
                return Err(GateRejection::new(RejectReason::WorkerCrashed));
            }
            fatal = true;
            grace
                .as_mut()
                .reset(tokio::time::Instant::now() + FATAL_HEADER_GRACE);
        }
    }
    while let Ok(event) = events.try_recv() {
        fatal |= note_event(event, uri, version, &mut last);
    }
    match (fatal, phase) {
        (false, _) => Ok(last),
        (true, Phase::Check) => Err(GateRejection::new(RejectReason::WorkerCrashed)),
        (true, Phase::Header) => Err(GateRejection::new(RejectReason::HeaderFailed {
            message: last.iter().find(|d| d.is_error()).map_or_else(
                || "Lean stopped processing the file's header".to_owned(),
                |error| error.message.clone(),
            ),
        })),
    }
}

/// Keeps `last` at the newest diagnostics of `version` of `uri`; true for a fatal progress
/// about it.
fn note_event(
    event: PrivateEvent,
    uri: &str,
    version: i32,
    last: &mut Vec<LeanDiagnostic>,
) -> bool {
    match event {
        PrivateEvent::Diagnostics {
            uri: about,
            version: Some(at),
            diagnostics,
        } if about == uri && at == version => {
            *last = diagnostics;
            false
        }
        PrivateEvent::Progress {
            uri: about,
            version: at,
            processing,
        } => {
            about == uri
                && at.is_none_or(|at| at == version)
                && processing.iter().any(|p| p.is_fatal())
        }
        _ => false,
    }
}

/// `<slot prefix><source path relative to the root>`, or the file name when the source is
/// outside the root. An editor may percent-encode the root differently from us (VS Code
/// encodes `@` and `:`), so the paths the two URIs name are compared too.
fn shadow_uri(root_uri: &str, prefix: &str, source_uri: &str) -> String {
    let relative = source_uri
        .strip_prefix(root_uri)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|rest| !rest.is_empty());
    if let Some(relative) = relative {
        return format!("{prefix}{relative}");
    }
    let below_root = file_path(source_uri).zip(file_path(root_uri));
    if let Some(uri) = below_root.and_then(|(source, root)| {
        let relative = source.strip_prefix(root).ok()?;
        join_uri(prefix, relative)
    }) {
        return uri;
    }
    let name = source_uri.rsplit('/').next().unwrap_or("Shadow.lean");
    format!("{prefix}{name}")
}

/// The header of a shadow text: its leading `module`/`prelude`/`import` commands with the
/// whitespace and comments after them, exactly as Lean's header syntax ends, so a document
/// opened with this prefix alone keeps its imports when the rest is added.
fn header_of(text: &str) -> &str {
    let header = lean_syntax::outline(text).header;
    text.get(..header.end).unwrap_or("")
}

/// The one ranged change that turns `old` into `new`: only the bytes between their common
/// prefix and common suffix are sent.
fn ranged_change(old: &str, new: &str) -> Value {
    let (start, old_end, new_end) = differing_span(old, new);
    json!({
        "range": LineIndex::new(old).lsp_range(start..old_end),
        "text": &new[start..new_end],
    })
}

/// `(start, old_end, new_end)`: `old[start..old_end]` is replaced by `new[start..new_end]`.
/// All three are char boundaries.
fn differing_span(old: &str, new: &str) -> (usize, usize, usize) {
    let mut start = old
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    while !old.is_char_boundary(start) || !new.is_char_boundary(start) {
        start -= 1;
    }
    let room = old.len().min(new.len()) - start;
    let mut suffix = old
        .bytes()
        .rev()
        .zip(new.bytes().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    while !old.is_char_boundary(old.len() - suffix) || !new.is_char_boundary(new.len() - suffix) {
        suffix -= 1;
    }
    (start, old.len() - suffix, new.len() - suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_covers_only_the_differing_bytes() {
        let old = "import A\n\ntheorem t : p := by\n  simp\n\n#print axioms t\n";
        let new = "import A\n\ntheorem t : p := by\n  omega\n\n#print axioms t\n";
        let (start, old_end, new_end) = differing_span(old, new);
        assert_eq!(&old[start..old_end], "simp");
        assert_eq!(&new[start..new_end], "omega");
        let change = ranged_change(old, new);
        assert_eq!(change["range"]["start"], json!({"line": 3, "character": 2}));
        assert_eq!(change["text"], "omega");
    }

    #[test]
    fn the_change_never_splits_a_character() {
        // `α` and `β` share their first UTF-8 byte.
        let (start, old_end, new_end) = differing_span("x α y", "x β y");
        assert_eq!((start, old_end, new_end), (2, 4, 4));
        let (start, old_end, new_end) = differing_span("aaa", "aaaa");
        assert_eq!(&"aaaa"[start..new_end], "a");
        assert_eq!(start, old_end);
    }

    #[test]
    fn a_shadow_keeps_the_source_path_below_the_root_however_the_editor_encodes_it() {
        let root = crate::documents::file_uri(std::path::Path::new("/p/a@b"));
        let prefix = format!("{root}/.lake/sorryfill/shadow-0/");
        let expected = format!("{prefix}Sub%20Dir/A.lean");
        assert_eq!(
            shadow_uri(&root, &prefix, &format!("{root}/Sub%20Dir/A.lean")),
            expected
        );
        // The same file as VS Code writes its URI (`@` encoded).
        assert_eq!(
            shadow_uri(&root, &prefix, "file:///p/a%40b/Sub%20Dir/A.lean"),
            expected
        );
        assert_eq!(
            shadow_uri(&root, &prefix, "file:///elsewhere/B.lean"),
            format!("{prefix}B.lean")
        );
    }

    #[test]
    fn the_change_counts_utf16_units() {
        let change = ranged_change("ab\n𝔽x", "ab\n𝔽y");
        assert_eq!(change["range"]["start"], json!({"line": 1, "character": 2}));
        assert_eq!(change["range"]["end"], json!({"line": 1, "character": 3}));
    }

    #[test]
    fn the_header_keeps_what_follows_the_imports_up_to_the_first_command() {
        let text = "import A\nimport B -- why\n\n/- note -/\ntheorem t : True := trivial\n";
        assert_eq!(header_of(text), "import A\nimport B -- why\n\n/- note -/\n");
        assert_eq!(header_of("theorem t : True := trivial\n"), "");
        let module = "module\n\nimport A\n\ntheorem t : True := trivial\n";
        assert_eq!(header_of(module), "module\n\nimport A\n\n");
        let public = "module\n\npublic import A\n\ntheorem t : True := trivial\n";
        assert_eq!(header_of(public), "module\n\npublic import A\n\n");
    }
}
