//! Black-box tests: the real service on a random port against a fresh database, HTTP, then rows
//! read with SQL.
//!
//! Every test whose behaviour touches storage is written once as an `async fn(Engine)` and
//! instantiated per engine by [`both_engines!`], as `<module>::sqlite::<test>` and
//! `<module>::postgres::<test>` (`cargo test --test api postgres::` runs one engine). The
//! PostgreSQL instances take a fresh database from the server `SCHEDLITE_TEST_POSTGRES_URL` names
//! (`tests/support/postgres.rs`; `.ci/run` sets it), else from a throwaway server; with neither
//! they print "skipped: …" and fail under `CI=true`.
//!
//! Single-engine (SQLite) on purpose, and why:
//! - `backup.rs`: a backup is a SQLite file written with SQLite's online backup; a PostgreSQL
//!   store refuses (`pg_dump` is its tool).
//! - `faults.rs`, `full_disk.rs`: a full file (`max_page_count`, a full filesystem), the file
//!   moved away, replaced or read-only, and a hand edit only SQLite's type affinity lets in
//!   (PostgreSQL's typed columns refuse it).
//! - `migrations.rs`, `readme.rs`, most of `cli.rs`: fixtures of old SQLite files, the `sqlite3`
//!   shell and the README's `sqlite3` queries, bad database files, a first start on a new file.
//! - `processes.rs`, `torture.rs`, `failpoints.rs`, `mutation.rs`, `contention.rs`, `hosts.rs`,
//!   `load.rs`: several processes on one SQLite file, checked with its locks, busy timeout,
//!   same-host pid checks and `PRAGMA integrity_check`; PostgreSQL's several nodes on one
//!   database are the multi-node tests of issue 11 (item 7, second to fourth bullets).
//! - `manage.rs`'s `a_manual_run_never_takes_the_instant_of_a_scheduled_occurrence` and
//!   `a_heartbeat_clears_a_wrong_stop_mark` call the store directly on a file, with no server:
//!   store contract tests, whose home is the conformance suite (tests/store).
//! - No storage behaviour: `openapi.rs`, `security.rs`, `packaging.rs`, request ids in
//!   `requests.rs`, malformed bodies and unknown routes in `jobs.rs`, the dashboard in
//!   `browser/` (its 10,000 jobs are inserted into the SQLite file).
//! - `secrets.rs` landed while this suite was being ported: it reads its rows through a pool
//!   on the SQLite file and is the next to port.

mod alerts;
mod auth;
mod backup;
mod browser;
mod bulk;
mod catch_up;
mod cli;
mod clock_steps;
mod concurrent_writes;
mod contention;
mod copy;
mod dst;
mod exclusive;
mod failpoints;
mod faults;
mod firing;
mod full_disk;
mod health;
mod helpers;
mod hosts;
mod jobs;
mod listing;
mod load;
mod manage;
mod metrics;
mod migrations;
mod mutation;
mod nodes;
mod openapi;
mod orphans;
mod packaging;
mod pauses;
mod processes;
mod properties;
mod readme;
mod requests;
mod retention;
mod retries;
mod retry_kills;
mod revisions;
mod scheduler;
mod secrets;
mod security;
mod skips;
mod torture;

/// Instantiates each named test body (`async fn(Engine)`) once per engine, as
/// `<module>::sqlite::<test>` and `<module>::postgres::<test>`, like `conformance!` in
/// tests/store. Two worker threads: the server and the test share the runtime.
///
/// `both_engines!(sync: …)` does the same for plain `fn(Engine)` bodies that build their own
/// runtime (the property tests).
macro_rules! both_engines {
    (sync: $($test:ident),+ $(,)?) => {
        $crate::both_engines!(@sync sqlite, Sqlite, [$($test),+]);
        $crate::both_engines!(@sync postgres, Postgres, [$($test),+]);
    };
    ($($test:ident),+ $(,)?) => {
        $crate::both_engines!(@engine sqlite, Sqlite, [$($test),+]);
        $crate::both_engines!(@engine postgres, Postgres, [$($test),+]);
    };
    (@sync $module:ident, $engine:ident, [$($test:ident),+]) => {
        mod $module {
            $(
                #[test]
                fn $test() {
                    let engine = $crate::helpers::Engine::$engine;
                    if engine.available() {
                        super::$test(engine);
                    }
                }
            )+
        }
    };
    (@engine $module:ident, $engine:ident, [$($test:ident),+]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let engine = $crate::helpers::Engine::$engine;
                    // false: this engine's server is missing, and the skip was said.
                    if engine.available() {
                        super::$test(engine).await;
                    }
                }
            )+
        }
    };
}
pub(crate) use both_engines;
