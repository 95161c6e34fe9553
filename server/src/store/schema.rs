//! The database schema and its migrations.
//!
//! The schema version lives in SQLite's `PRAGMA user_version`. Migration `n` (1-based) upgrades
//! a database from version `n - 1` to `n`; [`migrate`] applies the missing ones inside one
//! `BEGIN IMMEDIATE` transaction, so two processes opening an old database at once cannot both
//! upgrade it: the second waits, then sees the new version and does nothing.
//!
//! Invariant: migrations are append-only. A released migration is never edited, because
//! databases in users' projects have already run it.

use rusqlite::{Connection, TransactionBehavior};

/// Each entry upgrades the schema by one version; the index plus one is the version it produces.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: verified proofs, failed attempts and the attempt log.
    "CREATE TABLE verified (
        key TEXT PRIMARY KEY NOT NULL,
        goal TEXT NOT NULL,
        proof TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE failures (
        key TEXT PRIMARY KEY NOT NULL,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        goal TEXT NOT NULL,
        context TEXT NOT NULL,
        candidate TEXT NOT NULL,
        verified INTEGER NOT NULL,
        reason TEXT,
        source TEXT NOT NULL,
        model TEXT,
        prompt_format TEXT,
        elapsed_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );",
    // 2: keep the standalone lemma the model was shown, so the SFT export can reproduce the
    // prompt exactly; index verified attempts for the export and failures for expiry.
    "ALTER TABLE attempts ADD COLUMN statement TEXT;
    CREATE INDEX attempts_by_verdict ON attempts (verified, id);
    CREATE INDEX failures_by_age ON failures (created_at);",
];

/// The schema version this build writes.
pub(crate) const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why [`migrate`] could not bring a database up to date.
#[derive(Debug)]
pub(crate) enum MigrateError {
    /// The database has a schema version this build does not know (written by a newer
    /// sorryfill, or not by sorryfill at all).
    Unsupported { found: i64 },
    /// SQLite refused a statement.
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(error: rusqlite::Error) -> Self {
        MigrateError::Sqlite(error)
    }
}

/// The schema version recorded in the database (0 for a new, empty file).
pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Upgrades the database to `target` (at most [`LATEST_VERSION`]), returning the version it
/// found before upgrading.
pub(crate) fn migrate_to(conn: &mut Connection, target: i64) -> Result<i64, MigrateError> {
    let transaction = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = user_version(&transaction)?;
    if !(0..=LATEST_VERSION).contains(&found) {
        return Err(MigrateError::Unsupported { found });
    }
    let target = target.min(LATEST_VERSION);
    for version in found..target {
        let index = usize::try_from(version).expect("versions were checked to lie in 0..=LATEST");
        transaction.execute_batch(MIGRATIONS[index])?;
    }
    if target > found {
        transaction.pragma_update(None, "user_version", target)?;
    }
    transaction.commit()?;
    Ok(found)
}

/// Upgrades the database to [`LATEST_VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<i64, MigrateError> {
    migrate_to(conn, LATEST_VERSION)
}
