//! The engine a test runs on, and what it needs on either: a fresh database ([`fresh`]) kept
//! alive by a [`DbGuard`], and a [`Pool`] to read rows back with SQL.
//!
//! Why two explicit pools rather than sqlx's `AnyPool`: the engines store instants in different
//! types (text on SQLite, `timestamptz` on PostgreSQL), which `Any` cannot decode; with both
//! pools a row check is one expression run on either ([`on_pool!`](super::on_pool)), and
//! instants are bound as [`Stamp`] and read as `DateTime<Utc>` on both. Placeholders are written
//! `$1`, `$2`…, which sqlx's SQLite driver binds by number as PostgreSQL does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use schedlite::store::Location;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{Database, Encode, Postgres, Sqlite, Type};
use tempfile::TempDir;

use super::clock::ts;
use super::postgres::{TestDatabase, create, server_url};

/// Which engine a test body runs against (`both_engines!` in main.rs passes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// Whether this engine's tests can run here; for PostgreSQL without
    /// `SCHEDLITE_TEST_POSTGRES_URL` the skip is printed (and fails under `CI=true`).
    pub fn available(self) -> bool {
        match self {
            Engine::Sqlite => true,
            Engine::Postgres => server_url().is_some(),
        }
    }
}

/// What keeps a test's database alive: the temp dir holding the SQLite file, or the PostgreSQL
/// database (dropped with it).
pub enum DbGuard {
    Dir(TempDir),
    /// Held for its `Drop`, which drops the database.
    Postgres {
        _database: TestDatabase,
    },
}

impl DbGuard {
    /// The temp dir of a SQLite test (backups and logs go there).
    pub fn path(&self) -> &Path {
        match self {
            DbGuard::Dir(dir) => dir.path(),
            DbGuard::Postgres { .. } => panic!("a PostgreSQL test database has no directory"),
        }
    }
}

impl From<TempDir> for DbGuard {
    fn from(dir: TempDir) -> DbGuard {
        DbGuard::Dir(dir)
    }
}

/// A fresh, empty database on `engine`: what `--db` takes (a file path, or the URL as a path:
/// `Location::of` reads it) and the guard that deletes it.
pub async fn fresh(engine: Engine) -> (PathBuf, DbGuard) {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            (dir.path().join("schedlite.db"), DbGuard::Dir(dir))
        }
        Engine::Postgres => {
            let db = create()
                .await
                .expect("both_engines! runs PostgreSQL bodies only with a server");
            (PathBuf::from(&db.url), DbGuard::Postgres { _database: db })
        }
    }
}

/// A pool on a test's database, to read (and seed) rows with SQL.
#[derive(Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    /// Connects to the database `db` names, as `--db` does.
    pub async fn connect(db: &Path) -> Pool {
        match Location::of(db) {
            Location::Sqlite(path) => Pool::Sqlite(
                SqlitePool::connect_with(
                    SqliteConnectOptions::new()
                        .filename(&path)
                        .busy_timeout(Duration::from_secs(10)),
                )
                .await
                .expect("pool on the same file"),
            ),
            Location::Postgres(url) => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(4)
                    .connect(&url)
                    .await
                    .expect("pool on the same database"),
            ),
        }
    }

    /// The SQLite pool of a SQLite-only test.
    pub fn sqlite(&self) -> &SqlitePool {
        match self {
            Pool::Sqlite(pool) => pool,
            Pool::Postgres(_) => panic!("this check reads a SQLite file"),
        }
    }

    /// The integer a query answers (`SELECT count(*) …`), in SQL both engines read.
    pub async fn count(&self, sql: &str) -> i64 {
        let text = sqlx::AssertSqlSafe(sql.to_string());
        super::on_pool!(self, p => sqlx::query_scalar::<_, i64>(text).fetch_one(p).await)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs a statement both engines read; returns the rows it changed.
    pub async fn execute(&self, sql: &str) -> u64 {
        let text = sqlx::AssertSqlSafe(sql.to_string());
        super::on_pool!(self, p => sqlx::query(text).execute(p).await.map(|done| done.rows_affected()))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub async fn close(&self) {
        super::on_pool!(self, p => p.close().await)
    }
}

/// An instant bound as each engine stores it: the service's text form on SQLite
/// ([`ts`]), a `timestamptz` on PostgreSQL.
#[derive(Clone, Copy, Debug)]
pub struct Stamp(pub DateTime<Utc>);

impl Type<Sqlite> for Stamp {
    fn type_info() -> <Sqlite as Database>::TypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for Stamp {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(ts(self.0), buf)
    }
}

impl Type<Postgres> for Stamp {
    fn type_info() -> <Postgres as Database>::TypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Stamp {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}
