//! `StoreError`: what can go wrong below the API and scheduler, whatever the engine. Display
//! texts are for operators: they name the file, the migration or the row, never include SQL.
//! A driver error becomes one of these cases by its engine's codes (SQLite's result codes,
//! PostgreSQL's SQLSTATEs), in `classify.rs`, so that `?` on any backend's statement gives the
//! same cases to the API and the scheduler.

use std::path::PathBuf;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not a SQLite database.
    #[error("`{}` is not a SQLite database", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file cannot be opened or created.
    #[error("cannot open database `{}`: {reason}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// The file was migrated by a newer schedlite.
    #[error(
        "the database schema is newer than this binary (it has migration {0}, which this binary does not know): upgrade schedlite"
    )]
    SchemaTooNew(i64),
    /// An applied migration's file changed after it was applied.
    #[error(
        "migration {0} was changed after it was applied to this database: restore the released migration file"
    )]
    MigrationEdited(i64),
    /// A migration failed; its transaction was rolled back, earlier ones stay applied.
    #[error("migration {version} ({description}) failed and was rolled back: {reason}")]
    MigrationFailed {
        /// Its version.
        version: i64,
        /// Its description (file name without the version).
        description: String,
        /// The database's message.
        reason: String,
    },
    /// Applying migrations failed for another reason.
    #[error("applying migrations failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// Another connection held the write lock past the busy timeout.
    #[error("the database is busy (locked by another connection): retry")]
    Busy,
    /// The file or its directory is read-only.
    #[error("the database is read-only")]
    ReadOnly,
    /// The database cannot be reached or read right now (a SQLite file moved away or an I/O
    /// error; a PostgreSQL server down or restarting, a connection lost).
    #[error("the database cannot be reached or read: {0}")]
    Unavailable(String),
    /// The disk (or `max_page_count`) is full.
    #[error("the database or disk is full")]
    Full,
    /// The database file was deleted or replaced while the process had it open.
    #[error("the database file `{}` is no longer the one this process opened: {reason}; stop the process and restore the file", path.display())]
    FileGone {
        /// The file.
        path: PathBuf,
        /// What happened to it.
        reason: &'static str,
    },
    /// A row that violates what the code expects (a hand edit); names table, key and problem.
    #[error("unreadable row in `{table}` ({key}): {reason}")]
    Corrupt {
        /// Table name.
        table: &'static str,
        /// Primary key of the row.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A job with this id exists already.
    #[error("a job with id `{0}` already exists")]
    JobExists(String),
    /// A manual run was refused: its job's exclusive group is held by another run.
    #[error("job `{job_id}` cannot run now: {reason}")]
    GroupBusy {
        /// The job asked to run.
        job_id: String,
        /// Who holds the group ([`crate::model::Holder::busy_reason`]).
        reason: String,
    },
    /// A live API key with this name exists already.
    #[error("a live API key named `{0}` already exists")]
    KeyNameTaken(String),
    /// A backup could not be written to this destination.
    #[error("cannot write a backup to `{}`: {reason}", path.display())]
    Backup {
        /// The destination.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// Any other database failure.
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    /// A row the code cannot read: names its table, key and what is wrong with it.
    pub fn corrupt(table: &'static str, key: &str, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            table,
            key: key.to_string(),
            reason: reason.into(),
        }
    }

    /// Whether retrying later may succeed (busy), as opposed to a broken file or a bug.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Busy)
    }

    /// A copy of an error that the storage gives every write alike (busy, full, read-only,
    /// file gone, unreachable), for each of several writes that met it together; `None` for
    /// an error of one write's own (a bad row, a refused id).
    pub fn storage_wide(&self) -> Option<StoreError> {
        match self {
            StoreError::Busy => Some(StoreError::Busy),
            StoreError::ReadOnly => Some(StoreError::ReadOnly),
            StoreError::Full => Some(StoreError::Full),
            StoreError::Unavailable(reason) => Some(StoreError::Unavailable(reason.clone())),
            StoreError::FileGone { path, reason } => Some(StoreError::FileGone {
                path: path.clone(),
                reason,
            }),
            _ => None,
        }
    }

    /// The lasting condition of the storage this error reveals, if it is one that refuses
    /// writes until an operator or time mends it (and that `Store::condition_persists`
    /// can re-check), as opposed to a passing wait or a bad row.
    pub fn condition(&self) -> Option<StorageCondition> {
        match self {
            StoreError::Full => Some(StorageCondition::Full),
            StoreError::ReadOnly => Some(StorageCondition::ReadOnly),
            StoreError::FileGone { .. } => Some(StorageCondition::FileGone),
            StoreError::Unavailable(_) => Some(StorageCondition::Unavailable),
            _ => None,
        }
    }
}

/// A state of the storage that makes writes fail for a while: remembered by whoever saw a
/// write fail, and re-checked by the health probes so that they judge the present, not the
/// last failure (a disk cleared while nobody writes must not keep a node out of rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageCondition {
    /// No room: the disk, or the `max_page_count` cap, is full.
    Full,
    /// The file or its filesystem refuses writes.
    ReadOnly,
    /// The path no longer names the file the process opened.
    FileGone,
    /// The file cannot be read (an I/O error, moved away).
    Unavailable,
}

/// `?` on a driver error: classified by the codes of the engine that produced it.
impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        super::classify::classify(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lasting_storage_failures_are_conditions() {
        assert_eq!(StoreError::Full.condition(), Some(StorageCondition::Full));
        assert_eq!(
            StoreError::ReadOnly.condition(),
            Some(StorageCondition::ReadOnly)
        );
        assert_eq!(StoreError::Busy.condition(), None);
        assert_eq!(StoreError::corrupt("jobs", "x", "bad").condition(), None);
    }

    #[test]
    fn errors_every_write_meets_alike_are_copied_and_a_write_s_own_are_not() {
        assert!(matches!(
            StoreError::Busy.storage_wide(),
            Some(StoreError::Busy)
        ));
        assert!(matches!(
            StoreError::Unavailable("down".into()).storage_wide(),
            Some(StoreError::Unavailable(r)) if r == "down"
        ));
        assert!(StoreError::JobExists("a".into()).storage_wide().is_none());
        assert!(
            StoreError::corrupt("jobs", "a", "bad")
                .storage_wide()
                .is_none()
        );
    }

    #[test]
    fn pool_timeout_is_busy() {
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_transient());
    }
}
