//! A fresh PostgreSQL database per test, on the server `SCHEDLITE_TEST_POSTGRES_URL` names
//! (`.ci/run` starts the machine's server and sets it to
//! `postgres://postgres@127.0.0.1:5432/test`). Each test creates a database of its own and
//! drops it when done, so tests run in parallel without seeing each other's rows.
//!
//! Without the variable, the tests start a throwaway server of their own from the machine's
//! PostgreSQL binaries (`throwaway_postgres.rs`), one per test process. When there are none, a
//! PostgreSQL test prints one "skipped: …" line and passes locally; under `CI=true` it fails,
//! since CI must check both engines.
//!
//! Shared by the test targets that need it (`#[path]`-included), not copied.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

#[path = "throwaway_postgres.rs"]
pub mod throwaway;

/// The variable naming the server (any database on it; tests create their own).
pub const URL_VAR: &str = "SCHEDLITE_TEST_POSTGRES_URL";

/// A database created for one test; dropped (with `FORCE`, closing any connection left) when
/// this is dropped.
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    admin_url: String,
    name: String,
}

/// The server's URL, or `None` after saying why the PostgreSQL tests are skipped (and failing
/// under `CI=true`).
pub fn server_url() -> Option<String> {
    if let Ok(url) = std::env::var(URL_VAR)
        && !url.is_empty()
    {
        return Some(url);
    }
    // One throwaway server for the whole test process; its watchdog stops it at exit.
    static THROWAWAY: OnceLock<Result<throwaway::Throwaway, String>> = OnceLock::new();
    match THROWAWAY.get_or_init(throwaway::Throwaway::start) {
        Ok(server) => Some(server.url()),
        Err(e) => {
            let why = format!(
                "skipped: PostgreSQL tests need {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test) or PostgreSQL's binaries for a throwaway server ({e})"
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{why}; under CI=true this is a failure");
            }
            eprintln!("{why}");
            None
        }
    }
}

/// Creates a fresh, empty database on the server, or `None` when there is no server to use.
pub async fn create() -> Option<TestDatabase> {
    Some(create_on(server_url()?).await)
}

/// Creates a fresh, empty database on the server `admin_url` names (a throwaway server of the
/// test's own, for one it stops and starts).
pub async fn create_on(admin_url: String) -> TestDatabase {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "schedlite_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {URL_VAR}: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    admin.close().await.ok();
    let url = with_database(&admin_url, &name);
    TestDatabase {
        url,
        admin_url,
        name,
    }
}

/// `url` pointing at database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{base}/{name}{query}")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime: the database is dropped from a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}
