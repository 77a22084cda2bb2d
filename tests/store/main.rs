//! The store contract (the docs on `schedlite::store::Store`), checked against every engine.
//!
//! Each test is written once, against `Store` only (no HTTP, no SQL), as an `async fn` taking a
//! fresh empty database; [`conformance!`] instantiates it once per engine, on a database of its
//! own. So a new engine passes or fails the same bodies: adding PostgreSQL is one line in
//! [`conformance!`] plus its constructor in [`engines`].
//!
//! Why a test target of its own rather than a module of tests/api: these tests need no server,
//! so they run in about a second and can be run alone while a backend is written
//! (`cargo test --test store`, or `cargo test --test store sqlite::` for one engine); CI runs
//! them with the rest under `cargo test`.

mod alerts;
mod audit;
mod bulk;
mod claims;
mod jobs;
mod keys;
mod liveness;
mod pauses;
mod seed;
mod support;
#[path = "../support/postgres.rs"]
mod test_postgres;

/// Instantiates each named test body once per engine, as `<module>::<engine>::<test>`.
macro_rules! conformance {
    ($($test:ident),+ $(,)?) => {
        $crate::conformance!(@engine sqlite, $crate::engines::sqlite, [$($test),+]);
        $crate::conformance!(@engine postgres, $crate::engines::postgres, [$($test),+]);
    };
    (@engine $engine:ident, $fresh:path, [$($test:ident),+]) => {
        mod $engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    // `None`: this engine's server is missing, and the skip was said.
                    if let Some(db) = $fresh().await {
                        super::$test(db).await;
                    }
                }
            )+
        }
    };
}
pub(crate) use conformance;

/// How each engine gives a test a fresh, empty, migrated database.
pub mod engines {
    use std::path::PathBuf;

    use schedlite::store::Store;

    /// A fresh database for one test, dropped (deleted) with it.
    pub struct Db {
        /// The handle the test works through.
        pub store: Store,
        at: Location,
    }

    enum Location {
        /// The file, in a temp dir deleted with the test.
        SqliteFile {
            path: PathBuf,
            _dir: tempfile::TempDir,
        },
        Postgres(crate::test_postgres::TestDatabase),
    }

    impl Db {
        /// Another handle on the same database, with its own connections, as a second process
        /// would have.
        pub async fn another_handle(&self) -> Store {
            match &self.at {
                Location::SqliteFile { path, .. } => {
                    Store::open(path, false).await.expect("reopen")
                }
                Location::Postgres(db) => {
                    Store::open(db.url.as_ref(), false).await.expect("reopen")
                }
            }
        }
    }

    /// A new SQLite file in a temp dir of its own.
    pub async fn sqlite() -> Option<Db> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("conformance.db");
        let store = Store::open(&path, true).await.expect("open");
        store.migrate().await.expect("migrate");
        Some(Db {
            store,
            at: Location::SqliteFile { path, _dir: dir },
        })
    }

    /// A new database on the PostgreSQL server of the tests (`tests/support/postgres.rs`).
    pub async fn postgres() -> Option<Db> {
        let db = crate::test_postgres::create().await?;
        let store = Store::open(db.url.as_ref(), false).await.expect("open");
        store.migrate().await.expect("migrate");
        Some(Db {
            store,
            at: Location::Postgres(db),
        })
    }
}
