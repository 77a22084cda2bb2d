//! The store seam: the one interface through which the service reads and writes its state, and
//! the only place that knows which engine holds it.
//!
//! [`Store`] is an enum over backends, each a module of its own holding all of that engine's
//! SQL (today [`sqlite`]; PostgreSQL is the next). Its methods are use cases — what the service
//! does (claim due occurrences, page jobs, record outcomes) — not SQL helpers, so each backend
//! is free to do them in its own SQL, and the firing rules (misfire, coalesce, retries) stay
//! above the seam. Every method dispatches with an exhaustive `match`: a new backend does not
//! compile until it has every method, and api/ and scheduler/ stay non-generic.
//!
//! The contract is written on each method; `tests/store/` checks it against every backend
//! with the same test bodies. Rules that hold for every method:
//! - Instants are UTC with millisecond precision ([`crate::timestamp`]); an instant read back
//!   equals the one written, truncated to the millisecond.
//! - A change made through the API and its audit row commit together or not at all.
//! - An occurrence (job id, scheduled instant) has at most one run row, whatever the number of
//!   processes or handles working on one database.
//! - Failures are [`StoreError`]s: `Busy` (retry later), `ReadOnly`, `Full`, `Unavailable`,
//!   `FileGone` (stop writing), `Corrupt` (a row the code cannot read, named), and the rest.
//!
//! The methods are grouped by part of the contract in the sibling modules (jobs, runs, claims,
//! instances, keys, audit, retention); the types they take and return live in
//! `schedlite_core::store`, which every backend shares.

pub mod sqlite;

/// Calls the same method on whichever backend `$store` is: every backend has every method of
/// the contract, with the same signature, so a new backend does not compile until it does.
macro_rules! dispatch {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            Store::Sqlite($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

mod alerts;
mod audit;
mod catch_ups;
mod claims;
mod copy;
mod health;
mod instances;
mod jobs;
mod keys;
mod pauses;
mod retention;
mod revisions;
mod runs;
mod seed;

use std::path::{Path, PathBuf};

pub use copy::{CopyError, CopyReport, copy_store};
pub use schedlite_core::store::columns;
pub use schedlite_core::store::{
    ALERT_LEASE, AgeCutoffs, AttemptResult, AuditEntry, Busy, COPY_PAGE, ClaimReport, ClaimedRun,
    Gauges, Instance, JobCursor, JobFilter, JobOrder, JobPage, MigrationReport, OpenOptions,
    PRUNE_BATCH, PRUNE_JOBS_PER_STEP, PruneStep, RunCursor, RunRecord, SeedHistory, SeedTrigger,
    StorageCondition, StoreError, TableCounts, Watched,
};
pub use schedlite_postgres::PgStore;
pub use sqlite::SqliteStore;

/// A handle on the service's database, whichever engine holds it; cheap to clone.
#[derive(Debug, Clone)]
pub enum Store {
    /// A SQLite file shared by the processes of one host.
    Sqlite(SqliteStore),
    /// A PostgreSQL database shared by any number of nodes (the `schedlite-postgres` crate).
    Postgres(PgStore),
}

/// Where a store lives, as `--db` / `SCHEDLITE_DB` names it: a `postgres://` or
/// `postgresql://` URL is PostgreSQL; anything else is a SQLite file, given as a path or as
/// `sqlite://path`.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

/// Written by hand, not derived: a PostgreSQL URL is shown with its password masked.
impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Location::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&crate::redact::redact(url))
                .finish(),
        }
    }
}

impl Location {
    /// Reads `--db`'s value.
    pub fn of(db: &Path) -> Location {
        let text = db.to_string_lossy();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Location::Postgres(text.into_owned());
        }
        match text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
        {
            Some(path) => Location::Sqlite(PathBuf::from(path)),
            None => Location::Sqlite(db.to_path_buf()),
        }
    }
}

impl Store {
    /// Opens the store `path` names ([`Location::of`]): with `create`, a SQLite file is
    /// created when missing; either engine is checked to be a database that answers. See
    /// [`SqliteStore::open`] and [`PgStore::open`] for the connection settings.
    pub async fn open(path: &Path, create: bool) -> Result<Store, StoreError> {
        Store::open_with(path, create, &OpenOptions::default()).await
    }

    /// [`Store::open`] with limits.
    pub async fn open_with(
        path: &Path,
        create: bool,
        limits: &OpenOptions,
    ) -> Result<Store, StoreError> {
        match Location::of(path) {
            Location::Sqlite(path) => Ok(Store::Sqlite(
                SqliteStore::open_with(&path, create, limits).await?,
            )),
            Location::Postgres(url) => Ok(Store::Postgres(PgStore::open(&url).await?)),
        }
    }

    /// Where the data lives, for logs and messages (the file's path, or the URL with its
    /// password masked).
    pub fn location(&self) -> String {
        match self {
            Store::Sqlite(s) => s.path().display().to_string(),
            Store::Postgres(s) => s.location().to_string(),
        }
    }

    /// Calls `on_change` whenever another node changes a job, so the loop wakes for it at once
    /// (PostgreSQL's `LISTEN/NOTIFY`). SQLite's processes share one host and find changes on
    /// their loop's next look, so there this does nothing.
    pub fn watch_changes(&self, on_change: std::sync::Arc<dyn Fn() + Send + Sync>) {
        match self {
            Store::Sqlite(_) => {}
            Store::Postgres(s) => s.watch_changes(on_change),
        }
    }

    /// Applies pending migrations. Refuses a database whose schema is newer than this binary
    /// ([`StoreError::SchemaTooNew`]) or whose applied migrations were edited since
    /// ([`StoreError::MigrationEdited`]), naming the version. A failing migration is rolled
    /// back entirely. Running it twice is a no-op.
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        dispatch!(self, s => s.migrate().await)
    }

    /// The newest migration version applied, 0 for a database never migrated.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        dispatch!(self, s => s.schema_version().await)
    }

    /// The newest migration this binary knows. Every engine's migration set carries the same
    /// version numbers, one per schema change, so this does not depend on the engine.
    pub fn latest_known_version() -> i64 {
        SqliteStore::latest_known_version().max(PgStore::latest_known_version())
    }

    /// Checks that the database is still the one this handle opened (a SQLite file deleted or
    /// replaced underneath keeps being written through the open handle, and those writes would
    /// be lost): callers stop writing when this fails, with [`StoreError::FileGone`]. Cheap (no
    /// round trip). The store's write transactions check it before they begin.
    pub fn check_file(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.check_file(),
            Store::Postgres(_) => Ok(()),
        }
    }

    /// Whether `condition` (remembered from a failed write) still holds now, re-checked
    /// without writing: cheap enough for every health probe. Errs towards "still holds" when
    /// it cannot tell, so a probe never reports health it did not see.
    pub async fn condition_persists(&self, condition: StorageCondition) -> bool {
        dispatch!(self, s => s.condition_persists(condition).await)
    }

    /// Writes a consistent copy of the whole database to the new file `dest` while other
    /// handles and processes go on writing, and returns its size in bytes. The copy is a
    /// complete SQLite file that `serve --db` opens as it is (restore = stop, replace, start).
    /// Refuses an existing `dest` or a missing directory ([`StoreError::Backup`]); a copy that
    /// could not be finished is removed.
    ///
    /// A PostgreSQL database is backed up with the server's own tools (`pg_dump`, or base
    /// backups with WAL archiving): this refuses, saying so.
    pub async fn backup_to(&self, dest: &Path) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.backup_to(dest).await,
            Store::Postgres(_) => Err(StoreError::Backup {
                path: dest.to_path_buf(),
                reason: "the database is PostgreSQL: back it up with pg_dump (README, Backups)"
                    .into(),
            }),
        }
    }

    /// A cheap round trip proving the database is readable.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }

    /// Closes every connection of this handle (and its clones).
    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }
}
