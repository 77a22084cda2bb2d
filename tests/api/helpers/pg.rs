//! Several nodes on one PostgreSQL database (issue 11): nodes started on a database URL, and
//! the rows the multi-node audits read. Timestamps are read as the very text SQLite stores
//! (`to_char` in UTC with milliseconds), so the engine-independent checks of [`super::rows`]
//! and of the torture apply to both engines unchanged.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

use super::child::Server;
use super::clock::trunc_ms;
use super::rows::{AuditJob, AuditRun};

/// `column` as the stored text of an instant (`2026-11-28T12:00:00.000Z`).
fn text(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
}

/// Starts `schedlite serve` on the database `url` with `extra` flags; its log goes to `dir`.
/// `Server::launch` sets `SCHEDLITE_DB` to a path; the environment given here overrides it.
pub(crate) async fn start_node(bin: &str, url: &str, dir: &Path, extra: &[&str]) -> Server {
    Server::launch(bin, &dir.join("node"), extra, &[("SCHEDLITE_DB", url)])
        .await
        .unwrap_or_else(|logs| panic!("a node on PostgreSQL did not start; logs:\n{logs}"))
}

/// A pool on the test's database; each connection is tested before use, so a pool that saw
/// its connections terminated still reads.
pub(crate) async fn pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(4)
        .test_before_acquire(true)
        .connect(url)
        .await
        .expect("pool on the test database")
}

/// One connection of its own, for statements that end every other connection.
pub(crate) async fn connection(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .expect("a connection to the test database")
}

/// Ends every connection to the current database but this one (`pg_terminate_backend`): what
/// a network cut or an administrator does to the nodes. Returns how many were ended.
pub(crate) async fn terminate_other_connections(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(conn)
    .await
    .expect("pg_terminate_backend")
}

/// The node's id in `instances` (and `job_runs.owner_id`), found by its pid.
pub(crate) async fn instance_of(pool: &PgPool, server: &Server) -> String {
    sqlx::query_scalar(
        "SELECT id FROM instances WHERE pid = $1 ORDER BY started_at DESC, id LIMIT 1",
    )
    .bind(i64::from(server.pid()))
    .fetch_one(pool)
    .await
    .unwrap_or_else(|e| panic!("no instance row for pid {}: {e}", server.pid()))
}

/// Inserts `n` interval jobs `{prefix}-00000`… every `every` seconds doing `action` (JSON
/// text) in one statement; job `i` starts at `start_at + i × stagger`, its first `next_run_at`.
/// The PostgreSQL twin of `rows::insert_interval_jobs`. Returns the ids in order.
pub(crate) async fn insert_interval_jobs(
    pool: &PgPool,
    prefix: &str,
    n: usize,
    every: u32,
    (start_at, stagger): (DateTime<Utc>, chrono::Duration),
    action: &str,
) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i:05}")).collect();
    // Instants are stored to the millisecond, as the service writes them.
    let starts: Vec<DateTime<Utc>> = (0..n)
        .map(|i| trunc_ms(start_at + stagger * i32::try_from(i).expect("small")))
        .collect();
    let created = trunc_ms(Utc::now());
    sqlx::query(
        "INSERT INTO jobs (id, name, trigger_type, interval_seconds, start_at, action,
             next_run_at, created_at, updated_at)
         SELECT id, 'reliability job ' || id, 'interval', $3, start_at, $4::jsonb, start_at, $5, $5
         FROM unnest($1::text[], $2::timestamptz[]) AS u(id, start_at)",
    )
    .bind(&ids)
    .bind(&starts)
    .bind(i64::from(every))
    .bind(action)
    .bind(created)
    .execute(pool)
    .await
    .expect("insert jobs");
    ids
}

/// What a job's outcome writes on its row, which a definition leaves out.
const JOB_STATE: &str = "'next_run_at' - 'last_success_at' - 'consecutive_failures'";

/// Every job's definition (all columns but what an outcome writes), one JSON text per job, by id.
pub(crate) async fn job_definitions(pool: &PgPool) -> BTreeMap<String, String> {
    let sql = format!("SELECT id, (to_jsonb(j) - {JOB_STATE})::text FROM jobs j ORDER BY id");
    let rows: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .expect("job definitions");
    rows.into_iter().collect()
}

/// The jobs and runs `rows::audit_history` reads, for the jobs `ids`.
pub(crate) async fn audit_rows(pool: &PgPool, ids: &[String]) -> (Vec<AuditJob>, Vec<AuditRun>) {
    let jobs: Vec<AuditJob> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT id, {}, {} FROM jobs WHERE id = ANY($1) ORDER BY id",
        text("start_at"),
        text("next_run_at")
    )))
    .bind(ids)
    .fetch_all(pool)
    .await
    .expect("jobs");
    let runs: Vec<AuditRun> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT job_id, {}, {}, occurrences, status, error FROM job_runs
         WHERE job_id = ANY($1) ORDER BY job_id, scheduled_at",
        text("scheduled_at"),
        text("last_scheduled_at")
    )))
    .bind(ids)
    .fetch_all(pool)
    .await
    .expect("runs");
    (jobs, runs)
}

/// `(job_id, scheduled_at, status)` of every run, as the key check of the torture reads them.
pub(crate) async fn key_rows(pool: &PgPool) -> Vec<(String, String, String)> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT job_id, {}, status FROM job_runs",
        text("scheduled_at")
    )))
    .fetch_all(pool)
    .await
    .expect("runs")
}

/// `(id, next_run_at)` of every job, as the tail check of the torture reads them.
pub(crate) async fn next_runs(pool: &PgPool) -> Vec<(String, Option<String>)> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT id, {} FROM jobs ORDER BY id",
        text("next_run_at")
    )))
    .fetch_all(pool)
    .await
    .expect("jobs")
}

/// How many `skipped` rows were decided although the run before them had already finished
/// (the twin of `rows::stale_skips`): `(by its own node, by another node)`. A node counts its
/// own runs from memory, so it never skips for one that has finished; another node's run reads
/// `running` until that node writes its outcome, and a skip it causes waits only up to the
/// scheduler's settle time (`scheduler/settle.rs`) for that write.
pub(crate) async fn stale_skips(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE p.owner_id = s.owner_id),
                count(*) FILTER (WHERE p.owner_id IS DISTINCT FROM s.owner_id)
         FROM job_runs s CROSS JOIN LATERAL (
             SELECT r.owner_id, r.finished_at FROM job_runs r WHERE r.job_id = s.job_id
             AND r.started_at IS NOT NULL AND r.scheduled_at < s.scheduled_at
             ORDER BY r.scheduled_at DESC LIMIT 1
         ) p
         WHERE s.status = 'skipped' AND p.finished_at <= s.finished_at",
    )
    .fetch_one(pool)
    .await
    .expect("stale skips")
}

/// `running` runs per owner.
pub(crate) async fn running_by_owner(pool: &PgPool) -> Vec<(Option<String>, i64)> {
    sqlx::query_as(
        "SELECT owner_id, count(*) FROM job_runs WHERE status = 'running'
         GROUP BY owner_id ORDER BY owner_id",
    )
    .fetch_all(pool)
    .await
    .expect("running runs by owner")
}

/// Rows and occurrences per owner, then per status: what the reports print.
pub(crate) async fn counts(
    pool: &PgPool,
) -> (Vec<(Option<String>, i64, i64)>, Vec<(String, i64, i64)>) {
    let per_owner = sqlx::query_as(
        "SELECT owner_id, count(*), sum(occurrences)::bigint FROM job_runs
         GROUP BY owner_id ORDER BY owner_id",
    )
    .fetch_all(pool)
    .await
    .expect("per owner");
    let per_status = sqlx::query_as(
        "SELECT status, count(*), sum(occurrences)::bigint FROM job_runs
         GROUP BY status ORDER BY status",
    )
    .fetch_all(pool)
    .await
    .expect("per status");
    (per_owner, per_status)
}
