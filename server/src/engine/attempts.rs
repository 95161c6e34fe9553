//! The store behind [`pipeline::Attempts`]: every checked attempt goes to the data set and
//! every verified proof to the cache, without the async pipeline ever waiting on SQLite.
//!
//! Writes go over a channel to one writer thread that owns its own connection; `record`
//! only sends. `cached` answers from the proofs verified in this session (memory) and then
//! from the database on a second connection, which WAL mode lets read while the writer (or
//! another editor window) writes: one indexed lookup, no waiting on the writer, run on
//! tokio's blocking pool so a slow disk or a busy database never stalls a runtime thread.
//!
//! Invariants: a cache key is the goal (binders and target, not the lemma's name, which
//! differs from hole to hole), the header's non-import lines, its imports, the project's
//! toolchain and Mathlib revision, and the configured prover model and prompt format; only
//! `Full` verdicts fill the cache; a sketch check is recorded with reward 0, because a
//! sketch is not a proof.
//!
//! [`pipeline::Attempts`]: crate::pipeline::Attempts

use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use crate::pipeline::{self, AttemptRecord, CheckMode, GoalSpec, PipelineVerdict};
use crate::store::{self, CacheKey, KeyHash, ProjectFingerprint, Store, StoreError};

/// One piece of work for the writer thread.
enum Write {
    /// An attempt for the data set, and the key to cache it under when it verified.
    Attempt {
        attempt: Box<store::Attempt>,
        verified: Option<CacheKey>,
    },
    /// Answers once everything sent before it is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// What the cache keys of this workspace share.
#[derive(Clone, Debug, Default)]
pub struct KeyParts {
    /// The project's toolchain and Mathlib revision.
    pub fingerprint: ProjectFingerprint,
    /// The configured prover model, `None` when model-free.
    pub model: Option<String>,
    /// Its prompt format's name.
    pub prompt_format: Option<String>,
}

struct Inner {
    writes: mpsc::Sender<Write>,
    /// Shared with the blocking tasks that read the cache.
    reader: Arc<Store>,
    verified: Mutex<HashMap<KeyHash, String>>,
    keys: KeyParts,
}

/// The project's store as the pipeline's [`pipeline::Attempts`]. Cheap to clone; clones
/// share the writer thread and the session's memory.
#[derive(Clone)]
pub struct StoreAttempts {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StoreAttempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreAttempts")
            .field("path", &self.inner.reader.path())
            .finish()
    }
}

impl StoreAttempts {
    /// Opens the database at `path` twice (a writer thread's connection and a reader's) with
    /// keys made of `keys`.
    pub fn open(path: &std::path::Path, keys: KeyParts) -> Result<Self, StoreError> {
        let writer = Store::open(path)?;
        let reader = Store::open(path)?;
        let (writes, queue) = mpsc::channel();
        thread::Builder::new()
            .name("sorryfill-store".into())
            .spawn(move || write_loop(&writer, &queue))
            .map_err(|source| StoreError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        Ok(StoreAttempts {
            inner: Arc::new(Inner {
                writes,
                reader: Arc::new(reader),
                verified: Mutex::new(HashMap::new()),
                keys,
            }),
        })
    }

    /// The cache key of `goal` in this workspace.
    pub fn key(&self, goal: &GoalSpec) -> CacheKey {
        let (imports, context) = split_header(&goal.header);
        let mut key = CacheKey::new(
            goal_text(goal),
            context,
            imports,
            &self.inner.keys.fingerprint,
        );
        key.model = self.inner.keys.model.clone();
        key.prompt_format = self.inner.keys.prompt_format.clone();
        key
    }

    /// Waits until every attempt recorded so far is in the database (before an export, or
    /// before another process reads the cache).
    pub async fn flush(&self) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.inner.writes.send(Write::Flush(done)).is_ok() {
            // An error means the writer thread is gone, so there is nothing left to wait for.
            let _ = written.await;
        }
    }

    fn verified_memory(&self) -> std::sync::MutexGuard<'_, HashMap<KeyHash, String>> {
        // Every change is one insert, so a poisoned map is still consistent.
        self.inner
            .verified
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

fn write_loop(store: &Store, queue: &mpsc::Receiver<Write>) {
    // The loop ends when every sender is dropped, after the queue is drained.
    while let Ok(write) = queue.recv() {
        match write {
            Write::Attempt { attempt, verified } => {
                if let Err(error) = store.record_attempt(&attempt) {
                    tracing::warn!(%error, "an attempt could not be recorded");
                }
                if let Some(key) = verified
                    && let Err(error) =
                        store.record_verified(&key, &attempt.candidate, attempt.source)
                {
                    tracing::warn!(%error, "a verified proof could not be cached");
                }
            }
            Write::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// The goal as Lean would print it: one hypothesis per line, then `⊢ target`. The lemma's
/// name is left out so the same goal in two places shares its key.
fn goal_text(goal: &GoalSpec) -> String {
    let mut text = String::new();
    for binder in &goal.binders {
        text.push_str(binder);
        text.push('\n');
    }
    text.push_str("⊢ ");
    text.push_str(&goal.target);
    text
}

/// The header's `import` lines and the rest (`open`s, `set_option`s, …).
fn split_header(header: &str) -> (String, String) {
    let (imports, context): (Vec<&str>, Vec<&str>) = header
        .lines()
        .filter(|line| !line.trim().is_empty())
        .partition(|line| line.trim_start().starts_with("import "));
    (imports.join("\n"), context.join("\n"))
}

/// The stage name the data set uses for a pipeline source.
fn store_source(source: &pipeline::CandidateSource, model: Option<&str>) -> store::ProofSource {
    use pipeline::CandidateSource as Stage;
    match source {
        Stage::Cache | Stage::Recheck => store::ProofSource::Cache,
        Stage::Tactic => store::ProofSource::Tactic,
        Stage::Prover { .. } | Stage::Repair => store::ProofSource::Prover,
        Stage::Sketch | Stage::Assembled => store::ProofSource::Decomposition,
        // Lean's replacements and shortened proofs descend from a model's proof when a
        // model is named, else from a tactic.
        Stage::Replacement | Stage::Cleanup => match model {
            Some(_) => store::ProofSource::Prover,
            None => store::ProofSource::Tactic,
        },
    }
}

impl pipeline::Attempts for StoreAttempts {
    fn record(&self, record: AttemptRecord) {
        let proof_verified = record.mode == CheckMode::Full && record.verdict.is_verified();
        let verdict = match (&record.verdict, record.mode) {
            (PipelineVerdict::Verified { .. }, CheckMode::Full) => store::StoredVerdict::verified(),
            (PipelineVerdict::Verified { .. }, CheckMode::Sketch) => {
                store::StoredVerdict::rejected(
                    "a sketch that Lean accepted, with its steps left as `sorry`",
                )
            }
            (PipelineVerdict::Rejected(rejection), _) => {
                store::StoredVerdict::rejected(rejection.message.clone())
            }
        };
        let statement = record
            .goal
            .lemma()
            .strip_suffix(" := by\n  sorry")
            .map(str::to_owned);
        let attempt = store::Attempt {
            goal: goal_text(&record.goal),
            context: record.goal.header.clone(),
            statement,
            candidate: record.candidate.clone(),
            verdict,
            source: store_source(&record.source, record.model.as_deref()),
            model: record.model.clone(),
            prompt_format: record
                .model
                .as_ref()
                .and(self.inner.keys.prompt_format.clone()),
            elapsed_ms: u64::try_from(record.elapsed.as_millis()).unwrap_or(u64::MAX),
            created_at: None,
        };
        let verified = proof_verified.then(|| {
            let key = self.key(&record.goal);
            self.verified_memory()
                .insert(key.hash(), record.candidate.clone());
            key
        });
        let sent = self.inner.writes.send(Write::Attempt {
            attempt: Box::new(attempt),
            verified,
        });
        if sent.is_err() {
            tracing::warn!("the store's writer thread has stopped; an attempt was not recorded");
        }
    }

    async fn cached(&self, goal: &GoalSpec) -> Option<String> {
        let key = self.key(goal);
        let hash = key.hash();
        if let Some(proof) = self.verified_memory().get(&hash) {
            return Some(proof.clone());
        }
        let reader = Arc::clone(&self.inner.reader);
        let lookup = tokio::task::spawn_blocking(move || reader.lookup_verified(&key));
        match lookup.await {
            Ok(Ok(found)) => found.map(|cached| cached.proof),
            Ok(Err(error)) => {
                tracing::warn!(%error, "the proof cache could not be read");
                None
            }
            Err(error) => {
                tracing::warn!(%error, "the proof cache lookup stopped");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Attempts;

    fn goal(name: &str) -> GoalSpec {
        GoalSpec {
            header: "import Mathlib\nimport Aesop\n\nopen Real".into(),
            name: name.into(),
            binders: vec!["(x : ℝ)".into(), "(h : 0 < x)".into()],
            target: "0 < x ^ 2".into(),
        }
    }

    #[test]
    fn the_lemma_name_is_not_part_of_the_key_but_the_model_is() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("a.db");
        let with_model = |model: &str| KeyParts {
            model: Some(model.into()),
            prompt_format: Some("deepseek-prover-v2".into()),
            ..KeyParts::default()
        };
        let store = StoreAttempts::open(&path, with_model("m1")).expect("opens");
        let other = StoreAttempts::open(&path, with_model("m2")).expect("opens");
        assert_eq!(store.key(&goal("a")).hash(), store.key(&goal("b")).hash());
        assert_ne!(store.key(&goal("a")).hash(), other.key(&goal("a")).hash());
        let key = store.key(&goal("a"));
        assert_eq!(key.imports, "import Mathlib\nimport Aesop");
        assert_eq!(key.context, "open Real");
    }

    #[tokio::test]
    async fn a_verified_proof_is_cached_and_reaches_another_connection() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("a.db");
        let store = StoreAttempts::open(&path, KeyParts::default()).expect("opens");
        let record = |candidate: &str, verdict: PipelineVerdict, mode: CheckMode| AttemptRecord {
            job: pipeline::JobKey {
                doc: "file:///A.lean".into(),
                hole: pipeline::HoleId {
                    declaration: "t".into(),
                    ordinal: 0,
                },
                version: 1,
            },
            goal: goal("t"),
            depth: 0,
            candidate: candidate.into(),
            source: pipeline::CandidateSource::Tactic,
            model: None,
            mode,
            verdict,
            elapsed: std::time::Duration::from_millis(3),
        };
        store.record(record(
            "simp",
            PipelineVerdict::rejected(pipeline::RejectKind::Lean, "simp failed"),
            CheckMode::Full,
        ));
        store.record(record(
            "have : 1 = 1 := by sorry\npositivity",
            PipelineVerdict::verified(),
            CheckMode::Sketch,
        ));
        assert_eq!(store.cached(&goal("t")).await, None);
        store.record(record(
            "positivity",
            PipelineVerdict::verified(),
            CheckMode::Full,
        ));
        assert_eq!(
            store.cached(&goal("u")).await.as_deref(),
            Some("positivity")
        );
        store.flush().await;
        let fresh = StoreAttempts::open(&path, KeyParts::default()).expect("opens");
        assert_eq!(
            fresh.cached(&goal("t")).await.as_deref(),
            Some("positivity")
        );
        let stats = Store::open(&path).and_then(|s| s.stats()).expect("stats");
        assert_eq!((stats.attempts, stats.verified), (3, 1));
    }
}
