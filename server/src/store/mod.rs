//! The proof cache and the attempt data set: one embedded SQLite database per project, at
//! `<project>/.lake/sorryfill/sorryfill.db` (see [`database_path`]).
//!
//! What it holds:
//! - **verified proofs**, keyed by a normalised, hashed [`CacheKey`] (goal, context, imports,
//!   toolchain, Mathlib revision, model, prompt format). A hit is a *candidate*, not a verdict:
//!   the caller must still have Lean check it in place once before offering it, because the file
//!   around the hole may have changed in ways the key does not capture.
//! - **failed attempts**, with the same keys, so a goal that resisted recently is not retried with
//!   the same model and format; they expire after [`StoreOptions::failure_ttl`] (7 days by default).
//! - **every attempt** (goal, context, candidate, verdict, source, model, time) for the data set,
//!   exported as JSONL by [`Store::export`] / [`export_to_path`] (schema in [`export`]).
//!
//! Invariants:
//! - Two processes (two editor windows) may share the file: the database runs in WAL mode with a
//!   busy timeout, and every write is one short `BEGIN IMMEDIATE` transaction, so writers queue
//!   instead of failing with `database is locked`.
//! - The schema version is `PRAGMA user_version`; opening upgrades older databases (see
//!   [`schema`]) and refuses ones from a newer sorryfill instead of damaging them.
//! - Calls block on SQLite for at most the busy timeout; async callers should use
//!   `tokio::task::spawn_blocking`. A [`Store`] is `Send + Sync` and meant to be shared in an `Arc`.
//! - Every error names the database path.

pub mod export;
mod key;
mod schema;

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub use export::{ExportKind, export_to_path};
pub use key::{
    CacheKey, KeyHash, ProjectFingerprint, mathlib_rev_from_manifest, normalise_lean_text,
};

/// Where a project's database lives, relative to the project root (inside `.lake`, which Lean
/// projects already ignore in git).
pub fn database_path(project_root: &Path) -> PathBuf {
    project_root
        .join(".lake")
        .join("sorryfill")
        .join("sorryfill.db")
}

/// Everything that can go wrong with the database; each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory that should hold the database could not be created.
    #[error("cannot create the directory for the sorryfill database {path}: {source}")]
    CreateDir {
        /// The database path.
        path: PathBuf,
        /// The file-system error.
        source: io::Error,
    },
    /// SQLite could not open or configure the file.
    #[error("cannot open the sorryfill database {path}: {source}")]
    Open {
        /// The database path.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file carries a schema version this build does not know.
    #[error(
        "the sorryfill database {path} has schema version {found}, which this sorryfill does not \
         know (it writes version {supported}); upgrade sorryfill, or delete the file to start a \
         new cache"
    )]
    UnsupportedSchema {
        /// The database path.
        path: PathBuf,
        /// The version found in the file.
        found: i64,
        /// The newest version this build writes.
        supported: i64,
    },
    /// A query or update failed.
    #[error("the sorryfill database {path} failed while {action}: {source}")]
    Sqlite {
        /// The database path.
        path: PathBuf,
        /// What the store was doing, as a phrase ("recording an attempt").
        action: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A row holds a proof source this build does not know.
    #[error("the sorryfill database {path} holds an unknown proof source {value:?}")]
    UnknownSource {
        /// The database path.
        path: PathBuf,
        /// The stored value.
        value: String,
    },
    /// An export was asked for a project that has no database yet.
    #[error(
        "there is no sorryfill database at {path}: nothing has been recorded in this project yet"
    )]
    Missing {
        /// The database path.
        path: PathBuf,
    },
    /// Writing the exported data set failed.
    #[error("cannot write the data set exported from {path} to {destination}: {source}")]
    Write {
        /// The database path.
        path: PathBuf,
        /// The output file, or "standard output".
        destination: String,
        /// The I/O error.
        source: io::Error,
    },
}

/// Which stage produced a proof or an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProofSource {
    /// The embedded tactic portfolio.
    Tactic,
    /// A prover model sample.
    Prover,
    /// A decomposition whose steps were all proved.
    Decomposition,
    /// A proof taken from the cache and re-checked.
    Cache,
}

impl ProofSource {
    /// The name stored in the database and written in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            ProofSource::Tactic => "tactic",
            ProofSource::Prover => "prover",
            ProofSource::Decomposition => "decomposition",
            ProofSource::Cache => "cache",
        }
    }

    /// The source with this stored name, if any.
    pub fn from_name(name: &str) -> Option<ProofSource> {
        [
            ProofSource::Tactic,
            ProofSource::Prover,
            ProofSource::Decomposition,
            ProofSource::Cache,
        ]
        .into_iter()
        .find(|source| source.as_str() == name)
    }
}

impl fmt::Display for ProofSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verified proof found in the cache. It still has to pass Lean in place before it is offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedProof {
    /// The proof text as it was spliced at the hole.
    pub proof: String,
    /// The stage that first found it.
    pub source: ProofSource,
    /// When it was recorded.
    pub created_at: SystemTime,
}

/// Lean's verdict on one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredVerdict {
    /// Whether the candidate passed the full gate.
    pub verified: bool,
    /// Why it was rejected (Lean's first error, or the gate rule it broke).
    pub reason: Option<String>,
}

impl StoredVerdict {
    /// A candidate that passed the gate.
    pub fn verified() -> Self {
        StoredVerdict {
            verified: true,
            reason: None,
        }
    }

    /// A candidate rejected for `reason`.
    pub fn rejected(reason: impl Into<String>) -> Self {
        StoredVerdict {
            verified: false,
            reason: Some(reason.into()),
        }
    }
}

/// One candidate checked by Lean: a row of the data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Lean's goal at the hole (hypotheses, then `⊢ target`).
    pub goal: String,
    /// The file prefix a standalone lemma needs: imports, `open`s, `namespace`s, `variable`s.
    pub context: String,
    /// The standalone lemma shown to the model, `theorem NAME (binders) : TARGET` without
    /// `:= by sorry`. When absent the export derives one from [`Attempt::goal`].
    pub statement: Option<String>,
    /// The proof text that replaced the `sorry`: a tactic sequence, or a term starting with `by`.
    pub candidate: String,
    /// What Lean said.
    pub verdict: StoredVerdict,
    /// Which stage produced the candidate.
    pub source: ProofSource,
    /// The model that wrote it, if any.
    pub model: Option<String>,
    /// The prompt format the model was asked in, if any (`deepseek-prover-v2`, `kimina`, …).
    pub prompt_format: Option<String>,
    /// Wall time from request to verdict.
    pub elapsed_ms: u64,
    /// When the attempt finished; `None` means "now" by the store's clock.
    pub created_at: Option<SystemTime>,
}

/// Sizes of what the database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Cached verified proofs.
    pub verified: u64,
    /// Failed attempts that have not expired yet.
    pub failed: u64,
    /// Attempts recorded for the data set.
    pub attempts: u64,
    /// Bytes on disk, write-ahead log included.
    pub bytes: u64,
}

/// The time source for expiry, replaceable in tests.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// How a [`Store`] behaves.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a failed attempt keeps a goal from being retried with the same model and format.
    pub failure_ttl: Duration,
    /// How long a write waits for another process's write before giving up.
    pub busy_timeout: Duration,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            failure_ttl: Duration::from_secs(7 * 24 * 60 * 60),
            busy_timeout: Duration::from_secs(10),
            clock: Arc::new(SystemClock),
        }
    }
}

/// The project's proof cache and attempt log.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
    options: StoreOptions,
}

/// Milliseconds since the Unix epoch, the unit stored in `created_at` columns.
pub(crate) fn to_unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    })
}

pub(crate) fn from_unix_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Opens and configures one connection: WAL so readers never block the writer, a busy timeout
/// so writers from other processes queue, and `synchronous = NORMAL`, which WAL makes safe.
pub(crate) fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let open_error = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(open_error)?;
    conn.busy_timeout(busy_timeout).map_err(open_error)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(open_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            path = %path.display(),
            mode,
            "the sorryfill database could not switch to WAL mode; concurrent editors will wait longer"
        );
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_error)?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the database at `path` with default options.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, StoreOptions::default())
    }

    /// Opens the database of the project rooted at `project_root` (see [`database_path`]).
    pub fn open_project(project_root: &Path) -> Result<Store, StoreError> {
        Store::open(&database_path(project_root))
    }

    /// Opens (creating if needed) the database at `path`, upgrades its schema, and drops
    /// failed attempts that have expired.
    pub fn open_with(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        }
        let mut conn = connect(path, options.busy_timeout)?;
        schema::migrate(&mut conn).map_err(|error| match error {
            schema::MigrateError::Unsupported { found } => StoreError::UnsupportedSchema {
                path: path.to_owned(),
                found,
                supported: schema::LATEST_VERSION,
            },
            schema::MigrateError::Sqlite(source) => StoreError::Sqlite {
                path: path.to_owned(),
                action: "upgrading its schema",
                source,
            },
        })?;
        let store = Store {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            options,
        };
        store.prune_expired_failures()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current time by this store's clock.
    pub fn now(&self) -> SystemTime {
        self.options.clock.now()
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (rusqlite rolls back on
        // drop), so the connection is still usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sqlite_error(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            action,
            source,
        }
    }

    /// Runs `write` in one `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so a
    /// concurrent writer makes this wait (up to the busy timeout) rather than fail midway.
    fn write<T>(
        &self,
        action: &'static str,
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection();
        let transaction = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.sqlite_error(action))?;
        let value = write(&transaction).map_err(self.sqlite_error(action))?;
        transaction.commit().map_err(self.sqlite_error(action))?;
        Ok(value)
    }

    fn failure_cutoff_ms(&self) -> i64 {
        let ttl_ms = i64::try_from(self.options.failure_ttl.as_millis()).unwrap_or(i64::MAX);
        to_unix_ms(self.now()).saturating_sub(ttl_ms)
    }

    fn prune_expired_failures(&self) -> Result<(), StoreError> {
        let cutoff = self.failure_cutoff_ms();
        self.write("dropping expired failures", |tx| {
            tx.execute(
                "DELETE FROM failures WHERE created_at <= ?1",
                params![cutoff],
            )
        })?;
        Ok(())
    }

    /// The cached verified proof for `key`, if any. The caller must re-check it with Lean in
    /// place before offering it.
    pub fn lookup_verified(&self, key: &CacheKey) -> Result<Option<CachedProof>, StoreError> {
        let hash = key.hash();
        let row: Option<(String, String, i64)> = self
            .connection()
            .prepare_cached("SELECT proof, source, created_at FROM verified WHERE key = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row(params![hash.as_str()], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .optional()
            })
            .map_err(self.sqlite_error("looking up a cached proof"))?;
        let Some((proof, source, created_at)) = row else {
            return Ok(None);
        };
        let source = ProofSource::from_name(&source).ok_or_else(|| StoreError::UnknownSource {
            path: self.path.clone(),
            value: source,
        })?;
        Ok(Some(CachedProof {
            proof,
            source,
            created_at: from_unix_ms(created_at),
        }))
    }

    /// Caches `proof` as verified for `key` (replacing an older proof, which lets a cleaned-up,
    /// shorter proof take the place of the first one found) and forgets any failure for it.
    pub fn record_verified(
        &self,
        key: &CacheKey,
        proof: &str,
        source: ProofSource,
    ) -> Result<(), StoreError> {
        let hash = key.hash();
        let now = to_unix_ms(self.now());
        self.write("recording a verified proof", |tx| {
            tx.execute(
                "INSERT INTO verified (key, goal, proof, source, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (key) DO UPDATE SET
                    goal = excluded.goal, proof = excluded.proof,
                    source = excluded.source, created_at = excluded.created_at",
                params![hash.as_str(), key.goal, proof, source.as_str(), now],
            )?;
            tx.execute(
                "DELETE FROM failures WHERE key = ?1",
                params![hash.as_str()],
            )
        })?;
        Ok(())
    }

    /// Remembers that every stage allowed for `key` failed, for `reason`.
    pub fn record_failure(&self, key: &CacheKey, reason: &str) -> Result<(), StoreError> {
        let hash = key.hash();
        let now = to_unix_ms(self.now());
        self.write("recording a failure", |tx| {
            tx.execute(
                "INSERT INTO failures (key, reason, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET
                    reason = excluded.reason, created_at = excluded.created_at",
                params![hash.as_str(), reason, now],
            )
        })?;
        Ok(())
    }

    /// Whether `key` failed within the failure TTL.
    pub fn recent_failure(&self, key: &CacheKey) -> Result<bool, StoreError> {
        let hash = key.hash();
        let cutoff = self.failure_cutoff_ms();
        self.connection()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM failures WHERE key = ?1 AND created_at > ?2)",
            )
            .and_then(|mut statement| {
                statement.query_row(params![hash.as_str(), cutoff], |row| row.get(0))
            })
            .map_err(self.sqlite_error("looking up a failure"))
    }

    /// Appends `attempt` to the data set and returns its row id.
    pub fn record_attempt(&self, attempt: &Attempt) -> Result<i64, StoreError> {
        let created_at = to_unix_ms(attempt.created_at.unwrap_or_else(|| self.now()));
        let elapsed_ms = i64::try_from(attempt.elapsed_ms).unwrap_or(i64::MAX);
        self.write("recording an attempt", |tx| {
            tx.execute(
                "INSERT INTO attempts (goal, context, statement, candidate, verified, reason,
                    source, model, prompt_format, elapsed_ms, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    attempt.goal,
                    attempt.context,
                    attempt.statement,
                    attempt.candidate,
                    attempt.verdict.verified,
                    attempt.verdict.reason,
                    attempt.source.as_str(),
                    attempt.model,
                    attempt.prompt_format,
                    elapsed_ms,
                    created_at,
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Counts of what the database holds and its size on disk.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let cutoff = self.failure_cutoff_ms();
        let (verified, failed, attempts): (i64, i64, i64) = self
            .connection()
            .query_row(
                "SELECT (SELECT COUNT(*) FROM verified),
                        (SELECT COUNT(*) FROM failures WHERE created_at > ?1),
                        (SELECT COUNT(*) FROM attempts)",
                params![cutoff],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .map_err(self.sqlite_error("counting its rows"))?;
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let bytes = [self.path.as_os_str(), wal.as_os_str()]
            .into_iter()
            .filter_map(|file| fs::metadata(file).ok())
            .map(|metadata| metadata.len())
            .sum();
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(StoreStats {
            verified: count(verified),
            failed: count(failed),
            attempts: count(attempts),
            bytes,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    /// A clock the test moves by hand.
    #[derive(Debug, Default)]
    pub(crate) struct ManualClock(AtomicI64);

    impl ManualClock {
        pub(crate) fn at_ms(ms: i64) -> Arc<ManualClock> {
            Arc::new(ManualClock(AtomicI64::new(ms)))
        }

        fn advance(&self, by: Duration) {
            let by = i64::try_from(by.as_millis()).expect("test durations are small");
            self.0.fetch_add(by, Ordering::SeqCst);
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> SystemTime {
            from_unix_ms(self.0.load(Ordering::SeqCst))
        }
    }

    pub(crate) fn fingerprint() -> ProjectFingerprint {
        ProjectFingerprint {
            toolchain: "leanprover/lean4:v4.21.0".to_owned(),
            mathlib_rev: Some("308445d7985027f538e281e18df29ca16ede2ba3".to_owned()),
        }
    }

    pub(crate) fn sample_key() -> CacheKey {
        CacheKey::new(
            "x y : ℕ\nh : x < y\n⊢ x + 1 ≤ y",
            "open Nat",
            "import Mathlib",
            &fingerprint(),
        )
    }

    pub(crate) fn attempt(
        goal: &str,
        candidate: &str,
        verdict: StoredVerdict,
        source: ProofSource,
    ) -> Attempt {
        Attempt {
            goal: goal.to_owned(),
            context: "import Mathlib\nopen Nat".to_owned(),
            statement: None,
            candidate: candidate.to_owned(),
            verdict,
            source,
            model: (source == ProofSource::Prover).then(|| "DeepSeek-Prover-V2-7B".to_owned()),
            prompt_format: (source == ProofSource::Prover).then(|| "deepseek-prover-v2".to_owned()),
            elapsed_ms: 120,
            created_at: None,
        }
    }

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn verified_proof_round_trips_and_survives_reopening() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = database_path(dir.path());
        let store = Store::open(&path)?;
        let key = sample_key();
        assert_eq!(store.lookup_verified(&key)?, None);
        store.record_verified(&key, "omega", ProofSource::Tactic)?;
        let hit = store
            .lookup_verified(&key)?
            .ok_or("the proof just recorded is missing")?;
        assert_eq!(
            (hit.proof.as_str(), hit.source),
            ("omega", ProofSource::Tactic)
        );
        drop(store);

        let reopened = Store::open_project(dir.path())?;
        let hit = reopened
            .lookup_verified(&key)?
            .ok_or("the proof was lost on reopening")?;
        assert_eq!(hit.proof, "omega");
        Ok(())
    }

    #[test]
    fn whitespace_variants_hit_and_other_toolchains_miss() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&dir.path().join("cache.db"))?;
        store.record_verified(&sample_key(), "omega", ProofSource::Tactic)?;

        let mut respaced = sample_key();
        respaced.goal = "x  y : ℕ\nh :   x < y\n⊢ x + 1\n    ≤ y\n".to_owned();
        respaced.context = "  open   Nat \n".to_owned();
        assert!(store.lookup_verified(&respaced)?.is_some());

        let mut other_toolchain = sample_key();
        other_toolchain.toolchain = "leanprover/lean4:v4.22.0".to_owned();
        assert_eq!(store.lookup_verified(&other_toolchain)?, None);

        let mut other_mathlib = sample_key();
        other_mathlib.mathlib_rev = Some("0000000000000000000000000000000000000000".to_owned());
        assert_eq!(store.lookup_verified(&other_mathlib)?, None);

        let other_model = sample_key().with_model("Goedel-Prover-V2-8B", "goedel-prover-v2");
        assert_eq!(store.lookup_verified(&other_model)?, None);
        Ok(())
    }

    #[test]
    fn failures_expire_after_the_ttl_and_a_proof_clears_them() -> TestResult {
        let dir = tempfile::tempdir()?;
        let clock = ManualClock::at_ms(1_700_000_000_000);
        let options = StoreOptions {
            failure_ttl: Duration::from_secs(3600),
            clock: clock.clone(),
            ..StoreOptions::default()
        };
        let store = Store::open_with(&dir.path().join("cache.db"), options.clone())?;
        let key = sample_key();
        assert!(!store.recent_failure(&key)?);
        store.record_failure(&key, "8 samples rejected")?;
        assert!(store.recent_failure(&key)?);
        assert_eq!(store.stats()?.failed, 1);

        clock.advance(Duration::from_secs(3599));
        assert!(
            store.recent_failure(&key)?,
            "the failure expired before its TTL"
        );
        clock.advance(Duration::from_secs(2));
        assert!(!store.recent_failure(&key)?, "the failure outlived its TTL");
        assert_eq!(store.stats()?.failed, 0);

        // A fresh failure counts again, and a later proof of the same key clears it.
        store.record_failure(&key, "timeout")?;
        assert!(store.recent_failure(&key)?);
        store.record_verified(&key, "omega", ProofSource::Tactic)?;
        assert!(!store.recent_failure(&key)?);

        // Reopening after the TTL drops expired rows from the file, not only from answers.
        store.record_failure(&sample_key().with_model("m", "kimina"), "rejected")?;
        clock.advance(Duration::from_secs(7200));
        drop(store);
        let reopened = Store::open_with(&dir.path().join("cache.db"), options)?;
        let rows: i64 =
            reopened
                .connection()
                .query_row("SELECT COUNT(*) FROM failures", [], |row| row.get(0))?;
        assert_eq!(rows, 0);
        Ok(())
    }

    #[test]
    fn stats_count_rows_and_bytes() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&dir.path().join("cache.db"))?;
        store.record_verified(&sample_key(), "omega", ProofSource::Tactic)?;
        for candidate in ["simp", "omega"] {
            let verdict = if candidate == "omega" {
                StoredVerdict::verified()
            } else {
                StoredVerdict::rejected("simp made no progress")
            };
            store.record_attempt(&attempt(
                "⊢ 1 + 1 = 2",
                candidate,
                verdict,
                ProofSource::Tactic,
            ))?;
        }
        let stats = store.stats()?;
        assert_eq!((stats.verified, stats.failed, stats.attempts), (1, 0, 2));
        assert!(stats.bytes > 0);
        Ok(())
    }

    #[test]
    fn errors_name_the_database_path() -> TestResult {
        let dir = tempfile::tempdir()?;
        // A directory where the database file should be cannot be opened as a database.
        let path = dir.path().join("occupied.db");
        fs::create_dir(&path)?;
        let error = Store::open(&path)
            .err()
            .ok_or("opening a directory as a database succeeded")?;
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
        Ok(())
    }

    const WRITES_PER_WRITER: usize = 150;
    const CHILD_DB_VAR: &str = "SORRYFILL_STORE_TEST_CHILD_DB";
    const CHILD_TAG_VAR: &str = "SORRYFILL_STORE_TEST_CHILD_TAG";

    /// Writes one writer's share: attempts, a verified proof and a failure per round.
    fn write_rounds(store: &Store, tag: &str) -> Result<(), StoreError> {
        for round in 0..WRITES_PER_WRITER {
            let goal = format!("n : ℕ\n⊢ n + {round} = {round} + n -- {tag}");
            store.record_attempt(&attempt(
                &goal,
                "omega",
                StoredVerdict::verified(),
                ProofSource::Tactic,
            ))?;
            let key = CacheKey::new(goal, "", "import Mathlib", &fingerprint());
            store.record_verified(&key, "omega", ProofSource::Tactic)?;
            store.record_failure(&key.with_model("m", "kimina"), "rejected")?;
        }
        Ok(())
    }

    /// Not a test on its own: the body of the child processes spawned by
    /// `two_processes_and_two_threads_write_concurrently`. Without the variable it does nothing.
    #[test]
    fn child_process_writer() -> TestResult {
        let (Ok(path), Ok(tag)) = (std::env::var(CHILD_DB_VAR), std::env::var(CHILD_TAG_VAR))
        else {
            return Ok(());
        };
        let store = Store::open(Path::new(&path))?;
        write_rounds(&store, &tag)?;
        Ok(())
    }

    #[test]
    fn two_processes_and_two_threads_write_concurrently() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("shared.db");
        let children = ["process-a", "process-b"]
            .into_iter()
            .map(|tag| {
                std::process::Command::new(std::env::current_exe()?)
                    .args(["--exact", "store::tests::child_process_writer", "--quiet"])
                    .env(CHILD_DB_VAR, &path)
                    .env(CHILD_TAG_VAR, tag)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let threads = ["thread-a", "thread-b"].map(|tag| {
            let path = path.clone();
            std::thread::spawn(move || -> Result<(), StoreError> {
                // Each thread has its own handle, as two editor windows would.
                let store = Store::open(&path)?;
                write_rounds(&store, tag)
            })
        });
        for thread in threads {
            thread.join().map_err(|_| "a writer thread panicked")??;
        }
        for child in children {
            let output = child.wait_with_output()?;
            assert!(
                output.status.success(),
                "a writer process failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let stats = Store::open(&path)?.stats()?;
        let expected = u64::try_from(4 * WRITES_PER_WRITER)?;
        assert_eq!(
            (stats.attempts, stats.verified, stats.failed),
            (expected, expected, expected)
        );
        Ok(())
    }

    #[test]
    fn opening_an_older_database_upgrades_it_and_keeps_its_rows() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("old.db");
        {
            let mut conn = connect(&path, Duration::from_secs(1))?;
            schema::migrate_to(&mut conn, 1).map_err(|error| format!("{error:?}"))?;
            assert_eq!(schema::user_version(&conn)?, 1);
            conn.execute(
                "INSERT INTO attempts (goal, context, candidate, verified, reason, source, model,
                    prompt_format, elapsed_ms, created_at)
                 VALUES ('⊢ 2 + 2 = 4', 'import Mathlib', 'norm_num', 1, NULL, 'tactic', NULL,
                    NULL, 5, 1700000000000)",
                [],
            )?;
        }
        let store = Store::open(&path)?;
        assert_eq!(
            schema::user_version(&store.connection())?,
            schema::LATEST_VERSION
        );
        assert_eq!(store.stats()?.attempts, 1);
        // The column added by the upgrade is usable.
        let mut with_statement = attempt(
            "⊢ True",
            "trivial",
            StoredVerdict::verified(),
            ProofSource::Tactic,
        );
        with_statement.statement = Some("theorem t : True".to_owned());
        store.record_attempt(&with_statement)?;
        assert_eq!(store.stats()?.attempts, 2);
        Ok(())
    }

    #[test]
    fn a_database_from_a_newer_sorryfill_is_refused_untouched() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("future.db");
        {
            let conn = Connection::open(&path)?;
            conn.pragma_update(None, "user_version", 99)?;
        }
        let error = Store::open(&path)
            .err()
            .ok_or("a future schema was accepted")?;
        assert!(
            matches!(error, StoreError::UnsupportedSchema { found: 99, .. }),
            "{error}"
        );
        assert!(error.to_string().contains(&path.display().to_string()));
        assert_eq!(schema::user_version(&Connection::open(&path)?)?, 99);
        Ok(())
    }
}
