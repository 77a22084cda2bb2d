//! schedlite's PostgreSQL backend: any number of nodes on any hosts share one database. All of
//! this engine's SQL is here, one module per table; the contract each method keeps is written
//! on the service's `Store` method of the same name, and `tests/store/` checks it on both
//! engines with the same test bodies.
//!
//! What differs from SQLite, and why:
//! - Claims lock the due job rows with `FOR UPDATE SKIP LOCKED` in one transaction per batch:
//!   nodes never wait for one another and no leader is elected; a job row is claimed by one
//!   node at a time, and the `UNIQUE (job_id, scheduled_at)` key backs that up.
//! - A change to a job notifies [`CHANGES_CHANNEL`] in its transaction, so every node's loop
//!   wakes as soon as it commits ([`PgStore::watch_changes`]).
//! - A lost connection is not fatal: the pool opens a new one on the next use, and the
//!   errors meanwhile are `StoreError::Unavailable` (503 with `Retry-After` at the API). When
//!   the change listener finds its connection lost, the pool's older connections are replaced
//!   rather than each failing one request (`losses.rs`).
//!
//! Queries are checked at compile time against PostgreSQL (sqlx.toml names the URL variable;
//! `.sqlx/` at the workspace root holds the offline data of both engines). Instants are
//! `timestamptz`, written truncated to the millisecond as the contract says.

mod alerts;
mod audit;
mod bulk;
mod catch_ups;
mod claims;
mod copy;
mod exclusive;
mod health;
mod instances;
mod jobs;
mod keys;
mod losses;
mod notify;
mod pauses;
mod retention;
mod retries;
mod revisions;
mod rows;
mod runs;
mod seed;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use schedlite_core::store::classify::from_migrate;
use schedlite_core::store::{MigrationReport, StorageCondition, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, Transaction};

use losses::LossMark;

pub use notify::CHANGES_CHANNEL;
pub use schedlite_core::redact::redact;

/// Embedded migrations from `migrations/postgres/`, numbered as SQLite's are.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long a caller waits for a pooled connection (or a new one to be made) before the store
/// reports the database unavailable: long enough to ride out a busy moment, short enough that
/// an API client gets a 503 rather than a hung request while the server is down.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long [`PgStore::acquire_failed`] waits for a connection of its own.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Connections per node: the API's reads and writes, the loop's claims and outcome writes, and
/// the change listener (which holds its own).
const POOL_SIZE: u32 = 12;

/// A statement running longer than this is cancelled by the server, so a lock held by a stuck
/// node cannot stall every other node's claims.
const STATEMENT_TIMEOUT: &str = "30s";

/// Handle on the PostgreSQL database; cheap to clone (it wraps a pool). Its `Debug` shows the
/// URL with its password masked, never the URL as given.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The URL with its password masked, for logs and messages.
    location: String,
    /// The URL as given, for the change listener's own connection. Never logged.
    url: Arc<str>,
    /// Set by [`PgStore::close`]: stops the change listener.
    closing: Arc<tokio::sync::watch::Sender<bool>>,
    /// When the change listener last found its connection lost.
    losses: Arc<LossMark>,
}

/// Written by hand, not derived: a derived `Debug` would print `url`, password and all, into
/// any log line or panic message that formats the store.
impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.location)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://…` or `postgresql://…`). Connections are
    /// made lazily and remade after a failure, so a node starts and serves 503s while the
    /// database is down, and recovers without a restart; the first round trip here proves the
    /// URL right when the server is up.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let store = PgStore::connect_lazy(url)?;
        store.ping().await.map_err(|e| StoreError::Open {
            path: store.location.clone().into(),
            reason: e.to_string(),
        })?;
        Ok(store)
    }

    /// The store for `url` with no connection made yet (the first query makes one).
    fn connect_lazy(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Open {
            path: redact(url).into(),
            reason: format!("not a valid PostgreSQL URL: {e}"),
        })?;
        let options = options.application_name("schedlite").options([
            ("statement_timeout", STATEMENT_TIMEOUT),
            ("timezone", "UTC"),
        ]);
        let losses = Arc::new(LossMark::new());
        let marked = losses.clone();
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(move |_conn, meta| {
                // Made before a loss the listener saw: likely dead, replaced (see `losses`).
                let keep = !marked.predates_loss(meta.age);
                Box::pin(async move { Ok(keep) })
            })
            .connect_lazy_with(options);
        Ok(PgStore {
            pool,
            location: redact(url),
            url: url.into(),
            closing: Arc::new(tokio::sync::watch::channel(false).0),
            losses,
        })
    }

    /// The URL, password masked.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Applies pending migrations (under an advisory lock, so nodes starting together apply
    /// each once). Refuses a database migrated by a newer binary, or one whose applied
    /// migrations were edited since.
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let before = self.schema_version().await.unwrap_or(0);
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| from_migrate(e, &MIGRATOR))?;
        let current = self.schema_version().await?;
        let applied = MIGRATOR
            .iter()
            .map(|m| m.version)
            .filter(|v| *v > before && *v <= current)
            .collect();
        Ok(MigrationReport { applied, current })
    }

    /// The newest migration version applied, 0 for a database never migrated.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let exists = sqlx::query_scalar!(
            r#"SELECT to_regclass('_sqlx_migrations') IS NOT NULL AS "exists!""#
        )
        .fetch_one(&mut *self.conn().await?)
        .await?;
        if !exists {
            return Ok(0);
        }
        // Not a macro: the table is sqlx's and may not exist where the queries are checked.
        let version: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut *self.conn().await?)
                .await?;
        Ok(version.unwrap_or(0))
    }

    /// The newest migration this binary knows.
    pub fn latest_known_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Whether `condition` still holds: a round trip answers for an unreachable server; a
    /// full disk or a read-only server is only seen by writing, so those are assumed to hold
    /// until a write succeeds (errs towards "still holds", as the contract asks).
    pub async fn condition_persists(&self, condition: StorageCondition) -> bool {
        match condition {
            StorageCondition::Unavailable | StorageCondition::FileGone => {
                self.ping().await.is_err()
            }
            StorageCondition::Full | StorageCondition::ReadOnly => true,
        }
    }

    /// A cheap round trip proving the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar!(r#"SELECT 1 AS "one!""#)
            .fetch_one(&mut *self.conn().await?)
            .await?;
        Ok(())
    }

    /// A pooled connection. Every statement here takes its connection through this (or
    /// [`PgStore::begin`]), so that a pool that gave none within [`ACQUIRE_TIMEOUT`] is told
    /// apart: sqlx says "timed out" both when every connection was busy and when none could be
    /// made (the server down or restarting, where it retries a refused connection until the
    /// timeout), and only the first is [`StoreError::Busy`].
    async fn conn(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        match self.pool.acquire().await {
            Ok(conn) => Ok(conn),
            Err(e) => Err(self.acquire_failed(e).await),
        }
    }

    /// A transaction on a pooled connection; see [`PgStore::conn`].
    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        match self.pool.begin().await {
            Ok(tx) => Ok(tx),
            Err(e) => Err(self.acquire_failed(e).await),
        }
    }

    /// What the failure to get a connection means: after a timeout, a connection of its own
    /// made at once says the server answers and the pool was busy; a refused or slow one says
    /// it is unreachable.
    async fn acquire_failed(&self, error: sqlx::Error) -> StoreError {
        if !matches!(error, sqlx::Error::PoolTimedOut) {
            return error.into();
        }
        let options = self.pool.connect_options();
        match tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect_with(&options)).await {
            Ok(Ok(probe)) => {
                let _ = probe.close().await;
                StoreError::Busy
            }
            Ok(Err(e)) => match StoreError::from(e) {
                StoreError::Database(e) => StoreError::Unavailable(e.to_string()),
                classified => classified,
            },
            Err(_) => StoreError::Unavailable(format!(
                "no connection to the database within {} s",
                (ACQUIRE_TIMEOUT + PROBE_TIMEOUT).as_secs()
            )),
        }
    }

    /// Closes every connection of this handle.
    pub async fn close(&self) {
        self.closing.send_replace(true);
        self.pool.close().await;
    }
}

/// An instant as the contract stores it: UTC, truncated to the millisecond.
fn ms(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{:?}` of a store, as a log line or a panic message would print it, shows where it
    /// points and never the password.
    #[tokio::test]
    async fn debug_output_masks_the_password() {
        let store = PgStore::connect_lazy("postgres://app:s3cret@db.example:5432/sched")
            .expect("a valid URL");
        let shown = format!("{store:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains(r#"location: "postgres://app:***@db.example:5432/sched""#),
            "{shown}"
        );
        let shown = format!("{store:#?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
