//! The SQLite backend: one file shared by the processes of one host. All of its SQL is in this
//! module and its children, one per table; the contract each method keeps is written on the
//! [`crate::store::Store`] method of the same name.
//!
//! Every query goes through sqlx's compile-time checked macros; `.sqlx/` holds their offline
//! data so the crate builds without a database. Timestamps are bound and read as the
//! fixed-width text of [`crate::timestamp`].

mod alerts;
mod audit;
mod backup;
mod bulk;
mod catch_ups;
mod claims;
mod conditions;
mod copy;
mod error;
mod exclusive;
mod group;
mod health;
mod instances;
mod jobs;
mod keys;
mod outcomes;
mod pauses;
mod retention;
mod retries;
mod revisions;
mod rows;
mod run_rows;
mod runs;
mod seed;
mod tx;
mod write;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::store::{MigrationReport, OpenOptions, StoreError};
use crate::timestamp::{self, Timestamp};
use schedlite_core::store::classify::from_migrate;

/// Embedded migrations from `migrations/sqlite/`, applied by `serve` at start and by `migrate`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a statement waits for another connection's write lock before failing with
/// `DATABASE_BUSY`. Long enough to ride out another process's claim transaction, short enough
/// that an API client gets an answer.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a caller waits for a free pooled connection before failing: every connection is
/// open from the start, so this only passes when all are held by slow statements.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handle on the SQLite file; cheap to clone (it wraps pools).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Connections for reads. Kept apart from writers so that readers never queue behind
    /// writers waiting out another process's write lock (WAL lets reads go on meanwhile).
    pool: SqlitePool,
    /// The connection for API writes. One: SQLite runs one writer at a time anyway, and
    /// queueing here is first come first served, where SQLite's busy handler sleeps and retries
    /// (its backoff made the write tail 4× longer with several connections).
    writer: SqlitePool,
    /// The connection for the scheduler's writes (claims, outcomes, heartbeats, recovery), kept
    /// apart from the API's so a queue of API writes cannot hold up the loop. One, for the
    /// reason the API has one: with two, a claim and an outcome batch met in SQLite's busy
    /// handler, whose sleeps took half the writer's time in a burst of 100,000.
    loop_writer: SqlitePool,
    path: PathBuf,
    /// (device, inode) of the file when it was opened, to notice it being deleted or replaced.
    identity: Option<(u64, u64)>,
    /// The `max_page_count` cap every connection runs with, if any:
    /// [`SqliteStore::condition_persists`] compares the file's size with it.
    max_pages: Option<u32>,
    /// The API's single job writes waiting to share a transaction (`group.rs`).
    group: std::sync::Arc<group::GroupCommit>,
}

impl SqliteStore {
    /// Opens (and with `create`, creates) the SQLite file and checks that it is a database.
    ///
    /// Every connection runs in WAL mode with `synchronous=NORMAL` (durable across process
    /// crashes; a power cut may lose the last transactions but never corrupts), foreign keys on,
    /// and [`BUSY_TIMEOUT`].
    pub async fn open(path: &Path, create: bool) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, create, &OpenOptions::default()).await
    }

    /// [`SqliteStore::open`] with limits.
    pub async fn open_with(
        path: &Path,
        create: bool,
        limits: &OpenOptions,
    ) -> Result<SqliteStore, StoreError> {
        if path.is_dir() {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                reason: "it is a directory, not a file".into(),
            });
        }
        if !create && !path.exists() {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                reason: "no such file".into(),
            });
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // SQLite reports SQLITE_FULL once the file would pass this many pages; applied on every
        // connection (the pragma is per connection).
        let options = match limits.max_pages {
            Some(pages) => options.pragma("max_page_count", pages.to_string()),
            None => options,
        };
        // The file is created (and put in WAL mode) once, here. The pools below never create
        // it and open all their connections now, never recycling them: a connection opened
        // later, after the file was moved or replaced underneath, would create an empty
        // database or reset the shared-memory index (-shm) that the open connections have
        // mapped, and SQLite's readers crash with SIGBUS when that mapping is truncated.
        {
            use sqlx::Connection;
            let first = sqlx::SqliteConnection::connect_with(&options)
                .await
                .map_err(|e| error::from_open(path, e))?;
            first.close().await.map_err(|e| error::from_open(path, e))?;
        }
        let options = options.create_if_missing(false);
        let connect = |size: u32, options: SqliteConnectOptions| async move {
            SqlitePoolOptions::new()
                .max_connections(size)
                .min_connections(size)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(|e| error::from_open(path, e))
        };
        let writer = connect(1, options.clone()).await?;
        let loop_writer = connect(1, options.clone()).await?;
        let pool = connect(8, options).await?;
        let store = SqliteStore {
            pool,
            writer,
            loop_writer,
            path: path.to_path_buf(),
            identity: file_identity(path),
            max_pages: limits.max_pages,
            group: std::sync::Arc::default(),
        };
        // Reading the schema forces SQLite to read the header: a file that is not a database
        // fails here rather than on the first request.
        sqlx::query!("SELECT count(*) AS n FROM sqlite_schema")
            .fetch_one(&store.pool)
            .await
            .map_err(|e| error::from_open(path, e))?;
        Ok(store)
    }

    /// The file this store works on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies pending migrations. Refuses a file whose schema is newer than this binary, or
    /// whose applied migrations were edited since, naming the version.
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let before = self.schema_version().await.unwrap_or(0);
        // SQLite has no lock for the migrator to take: processes starting together on a new
        // file apply the same migration at once, and all but one fail on its tables ("already
        // exists"; each migration commits with its `_sqlx_migrations` row). A failure after
        // which the schema has moved on is that race: the next run skips what was applied. A
        // failure that leaves the schema where it was is real.
        let mut last = before;
        while let Err(e) = MIGRATOR.run(&self.pool).await {
            let reached = self.schema_version().await.unwrap_or(0);
            if reached <= last {
                return Err(from_migrate(e, &MIGRATOR));
            }
            tracing::debug!(error = %e, reached, "the file was migrated meanwhile; again");
            last = reached;
        }
        let current = self.schema_version().await?;
        let applied = MIGRATOR
            .iter()
            .map(|m| m.version)
            .filter(|v| *v > before && *v <= current)
            .collect();
        Ok(MigrationReport { applied, current })
    }

    /// The newest migration version applied to the file, 0 for a file never migrated.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let exists = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!: i64" FROM sqlite_schema WHERE type = 'table' AND name = '_sqlx_migrations'"#
        )
        .fetch_one(&self.pool)
        .await?;
        if exists == 0 {
            return Ok(0);
        }
        let version = sqlx::query_scalar!(
            r#"SELECT max(version) AS "v: i64" FROM _sqlx_migrations WHERE success = 1"#
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(version.unwrap_or(0))
    }

    /// The newest migration this binary knows.
    pub fn latest_known_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Checks that the path still names the file this store opened. A file deleted or replaced
    /// underneath a running process keeps being written through the open handle, and those
    /// writes would be lost: callers stop writing when this fails.
    pub fn check_file(&self) -> Result<(), StoreError> {
        let Some(opened) = self.identity else {
            return Ok(());
        };
        match file_identity(&self.path) {
            None => Err(StoreError::FileGone {
                path: self.path.clone(),
                reason: "it was deleted",
            }),
            Some(now) if now != opened => Err(StoreError::FileGone {
                path: self.path.clone(),
                reason: "it was replaced by another file",
            }),
            Some(_) => Ok(()),
        }
    }

    /// A cheap round trip proving the file is readable.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query!("SELECT 1 AS one")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes every connection (checkpointing the WAL when this is the last one).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
        self.loop_writer.close().await;
    }
}

#[cfg(unix)]
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_identity(_path: &Path) -> Option<(u64, u64)> {
    None
}

/// Formats an instant for a TEXT column.
fn ts(at: DateTime<Utc>) -> String {
    timestamp::format(at)
}

/// Reads a TEXT timestamp column, naming the row and column when it is malformed.
fn parse_ts(
    table: &'static str,
    key: &str,
    column: &str,
    text: &str,
) -> Result<DateTime<Utc>, StoreError> {
    Timestamp::parse(text)
        .map(Timestamp::get)
        .map_err(|e| StoreError::corrupt(table, key, format!("{column}: {e}")))
}

/// [`parse_ts`] for a nullable column.
fn parse_opt_ts(
    table: &'static str,
    key: &str,
    column: &str,
    text: Option<&str>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.map(|t| parse_ts(table, key, column, t)).transpose()
}

/// Parses an enum-like TEXT column (role, status), naming the row when it holds junk.
fn parse_text<T: FromStr<Err = String>>(
    table: &'static str,
    key: &str,
    text: &str,
) -> Result<T, StoreError> {
    text.parse()
        .map_err(|e: String| StoreError::corrupt(table, key, e))
}
