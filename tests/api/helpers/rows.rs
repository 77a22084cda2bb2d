//! Rows read back with SQL, as an operator would (the run rows of one job on either engine;
//! the rest on the SQLite file of the multi-process tests): a pool patient with the
//! servers' locks, jobs inserted in bulk, counts, the integrity check, the run rows of one job
//! and the occurrence audit that every multi-process test ends with.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Row, SqlitePool};

use super::clock::{parse_ts, ts};
use super::{Pool, wait_for};

/// A pool on the same file, patient with the servers' write locks.
pub(crate) async fn open_pool(db: &Path) -> SqlitePool {
    SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(db)
            .busy_timeout(Duration::from_secs(30)),
    )
    .await
    .expect("pool on the file")
}

/// A pool on `db` with sqlx's defaults (no WAL), creating the file if missing: what an
/// operator's tool would open.
pub(crate) async fn create_pool(db: &Path) -> SqlitePool {
    SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(db)
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10)),
    )
    .await
    .expect("pool")
}

/// The stored text of a noop action.
pub(crate) const NOOP: &str = r#"{"type":"noop"}"#;

/// Inserts `n` interval jobs `{prefix}-00000`… every `every` seconds doing `action` (its stored
/// JSON text, e.g. [`NOOP`]) in one transaction. Job `i` starts at `start_at + i × stagger`
/// (zero: all at `start_at`), and its `next_run_at` is its start. Returns the ids in order.
pub(crate) async fn insert_interval_jobs(
    pool: &SqlitePool,
    prefix: &str,
    n: usize,
    every: u32,
    (start_at, stagger): (DateTime<Utc>, chrono::Duration),
    action: &str,
) -> Vec<String> {
    let created = ts(Utc::now());
    let mut tx = pool.begin().await.expect("begin");
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("{prefix}-{i:05}");
        let start = ts(start_at + stagger * i32::try_from(i).expect("small"));
        sqlx::query(
            "INSERT INTO jobs (id, name, trigger_type, interval_seconds, start_at, action,
                 next_run_at, created_at, updated_at)
             VALUES (?, ?, 'interval', ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(format!("reliability job {i}"))
        .bind(i64::from(every))
        .bind(&start)
        .bind(action)
        .bind(&start)
        .bind(&created)
        .bind(&created)
        .execute(&mut *tx)
        .await
        .expect("insert job");
        ids.push(id);
    }
    tx.commit().await.expect("commit jobs");
    ids
}

/// Every job's definition (all columns but `next_run_at`), one JSON text per job, by id.
pub(crate) async fn job_definitions(pool: &SqlitePool) -> BTreeMap<String, String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, json_object('name', name, 'trigger_type', trigger_type, 'cron_expr', cron_expr,
            'timezone', timezone, 'interval_seconds', interval_seconds, 'start_at', start_at,
            'end_at', end_at, 'run_at', run_at, 'action', action, 'paused', paused,
            'misfire_grace_seconds', misfire_grace_seconds, 'coalesce_missed', coalesce_missed,
            'max_instances', max_instances, 'jitter_seconds', jitter_seconds,
            'created_at', created_at, 'updated_at', updated_at)
         FROM jobs ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("job definitions");
    rows.into_iter().collect()
}

/// One integer from a constant query.
pub(crate) async fn scalar(pool: &SqlitePool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// How many runs read `running` (none once every server has stopped or been recovered).
pub(crate) async fn running_runs(pool: &SqlitePool) -> i64 {
    scalar(
        pool,
        "SELECT count(*) FROM job_runs WHERE status = 'running'",
    )
    .await
}

/// How many `skipped` rows were decided although the run before them (the last one that
/// started) had already finished: a skip that `max_instances` does not justify. A skip whose
/// previous run was still going (a slow action) is legitimate and not counted.
pub(crate) async fn stale_skips(pool: &SqlitePool) -> i64 {
    scalar(
        pool,
        "SELECT count(*) FROM job_runs s
         WHERE s.status = 'skipped' AND (
             SELECT r.finished_at FROM job_runs r WHERE r.job_id = s.job_id
             AND r.started_at IS NOT NULL AND r.scheduled_at < s.scheduled_at
             ORDER BY r.scheduled_at DESC LIMIT 1
         ) <= s.finished_at",
    )
    .await
}

/// `PRAGMA integrity_check` answers `ok`.
pub(crate) async fn assert_integrity_ok(pool: &SqlitePool) {
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(pool)
        .await
        .expect("integrity_check");
    assert_eq!(check, vec!["ok".to_string()], "PRAGMA integrity_check");
}

/// Prints rows and occurrences per status.
pub(crate) async fn print_counts(pool: &SqlitePool) {
    let per_status: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT status, count(*), sum(occurrences) FROM job_runs GROUP BY status ORDER BY status",
    )
    .fetch_all(pool)
    .await
    .expect("per status");
    eprintln!("(status, rows, occurrences): {per_status:?}");
}

/// Prints rows and occurrences per owner and per status, and asserts that every server of
/// the test claimed at least one run (two servers where one does all the work would pass every
/// other check).
pub(crate) async fn assert_each_owner_claimed(pool: &SqlitePool, owners: &[String]) {
    let per_owner: Vec<(Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT owner_id, count(*), sum(occurrences) FROM job_runs GROUP BY owner_id ORDER BY owner_id",
    )
    .fetch_all(pool)
    .await
    .expect("per owner");
    eprintln!("owners {owners:?}\n(owner, rows, occurrences): {per_owner:?}");
    print_counts(pool).await;
    for owner in owners {
        assert!(
            per_owner
                .iter()
                .any(|(o, rows, _)| o.as_deref() == Some(owner) && *rows > 0),
            "server {owner} claimed no run: {per_owner:?}"
        );
    }
}

/// What [`audit_occurrences`] found.
pub(crate) struct OccurrenceAudit {
    /// Occurrences counted over the jobs audited.
    pub(crate) occurrences: i64,
    /// Everything wrong, one line each, prefixed with the job id.
    pub(crate) problems: Vec<String>,
}

impl OccurrenceAudit {
    /// The first `n` problems, enough to diagnose without flooding the output.
    pub(crate) fn first_problems(&self, n: usize) -> Vec<String> {
        self.problems.iter().take(n).cloned().collect()
    }
}

/// Checks the run history of each job in `ids` (interval jobs every `every` seconds, stopped:
/// no server is running): the rows sorted by `scheduled_at` start at the job's `start_at`;
/// each row stands for `occurrences` instants `every` seconds apart from `scheduled_at` to
/// `last_scheduled_at`; each row starts `every` seconds after the previous one ends; the sum of
/// occurrences matches the span; `next_run_at` is the occurrence after the last row; every
/// status is in `statuses`, and a `missed` or `skipped` row says why in `error`. So every
/// occurrence between the first start and the last stop is run, missed, skipped or
/// interrupted, and none is silently absent or doubled.
pub(crate) async fn audit_occurrences(
    pool: &SqlitePool,
    ids: &[String],
    every: i64,
    statuses: &[&str],
) -> OccurrenceAudit {
    let ids_json = serde_json::to_string(ids).expect("ids as JSON");
    let jobs: Vec<AuditJob> = sqlx::query_as(
        "SELECT id, start_at, next_run_at FROM jobs WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(&ids_json)
    .fetch_all(pool)
    .await
    .expect("jobs");
    let rows: Vec<AuditRun> = sqlx::query_as(
        "SELECT job_id, scheduled_at, last_scheduled_at, occurrences, status, error FROM job_runs
         WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY job_id, scheduled_at",
    )
    .bind(&ids_json)
    .fetch_all(pool)
    .await
    .expect("runs");
    audit_history(ids.len(), &jobs, &rows, every, statuses)
}

/// One job as the audit reads it: id, `start_at` and `next_run_at` in their stored text.
pub(crate) type AuditJob = (String, String, Option<String>);

/// One run as the audit reads it: job id, `scheduled_at`, `last_scheduled_at`, `occurrences`,
/// `status` and `error`, timestamps in their stored text.
pub(crate) type AuditRun = (String, String, Option<String>, i64, String, Option<String>);

/// [`audit_occurrences`] on rows already read (from either engine, timestamps as the stored
/// text of SQLite): `jobs` should hold `expected` jobs, `rows` their runs sorted by job and
/// `scheduled_at`.
pub(crate) fn audit_history(
    expected: usize,
    jobs: &[AuditJob],
    rows: &[AuditRun],
    every: i64,
    statuses: &[&str],
) -> OccurrenceAudit {
    type RunRow = AuditRun;
    let mut by_job: HashMap<&str, Vec<&RunRow>> = HashMap::new();
    for row in rows {
        by_job.entry(row.0.as_str()).or_default().push(row);
    }
    let step = chrono::Duration::seconds(every);
    let mut audit = OccurrenceAudit {
        occurrences: 0,
        problems: Vec::new(),
    };
    if jobs.len() != expected {
        audit
            .problems
            .push(format!("{} of {expected} jobs exist", jobs.len()));
    }
    for (id, start_at, next_run_at) in jobs {
        let mut problem = |p: String| audit.problems.push(format!("{id}: {p}"));
        let Some(runs) = by_job.get(id.as_str()) else {
            problem("no rows at all".to_string());
            continue;
        };
        let start = parse_ts(start_at);
        // The same text, not only the same instant: stored timestamps have one fixed format.
        if runs[0].1 != *start_at {
            problem(format!(
                "first row at {} but the job starts at {start_at}",
                runs[0].1
            ));
        }
        let mut previous_end: Option<DateTime<Utc>> = None;
        let mut sum = 0;
        for (_, scheduled_at, last_scheduled_at, occurrences, status, error) in runs.iter().copied()
        {
            let from = parse_ts(scheduled_at);
            let to = last_scheduled_at.as_deref().map_or(from, parse_ts);
            let span_ms = (to - from).num_milliseconds();
            let covered = span_ms / step.num_milliseconds() + 1;
            if span_ms < 0 || span_ms % step.num_milliseconds() != 0 || covered != *occurrences {
                problem(format!(
                    "row {scheduled_at}..{last_scheduled_at:?} says {occurrences} occurrences"
                ));
            }
            if !statuses.contains(&status.as_str()) {
                problem(format!("row {scheduled_at} reads {status} ({error:?})"));
            }
            if (status == "missed" || status == "skipped") && error.is_none() {
                problem(format!("{status} row {scheduled_at} does not say why"));
            }
            if let Some(end) = previous_end
                && from != end + step
            {
                problem(format!("{scheduled_at} follows {}", ts(end)));
            }
            previous_end = Some(to);
            sum += *occurrences;
        }
        let end = previous_end.expect("at least one row");
        let span = (end - start).num_milliseconds() / step.num_milliseconds() + 1;
        if sum != span {
            problem(format!(
                "{sum} occurrences recorded for the {span} from {start_at} to {}",
                ts(end)
            ));
        }
        match next_run_at.as_deref().map(parse_ts) {
            Some(next) if next == end + step => {}
            other => problem(format!(
                "next_run_at {:?} after last occurrence {}",
                other.map(ts),
                ts(end)
            )),
        }
        audit.occurrences += sum;
    }
    audit
}

/// Waits (25 s at most) until every job in the file has at least `n` occurrences recorded.
pub(crate) async fn wait_for_occurrences(pool: &SqlitePool, n: i64) {
    wait_for(
        &format!("every job to have {n} occurrences"),
        Duration::from_secs(25),
        || async move {
            let least = scalar(
                pool,
                "SELECT ifnull(min(n), 0) FROM (SELECT j.id, (SELECT ifnull(sum(occurrences), 0)
                    FROM job_runs r WHERE r.job_id = j.id) AS n FROM jobs j)",
            )
            .await;
            (least >= n).then_some(())
        },
    )
    .await;
}

/// One `job_runs` row as read from the file.
#[derive(Debug, Clone)]
pub(crate) struct RunRow {
    pub(crate) id: i64,
    pub(crate) scheduled_at: DateTime<Utc>,
    pub(crate) last_scheduled_at: Option<DateTime<Utc>>,
    pub(crate) occurrences: i64,
    pub(crate) kind: String,
    pub(crate) status: String,
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) http_status: Option<i64>,
    pub(crate) exit_code: Option<i64>,
    pub(crate) output: Option<String>,
    pub(crate) error: Option<String>,
}

impl RunRow {
    /// `started_at - scheduled_at` in milliseconds.
    pub(crate) fn lateness_ms(&self) -> i64 {
        let started = self.started_at.expect("a started run");
        (started - self.scheduled_at).num_milliseconds()
    }

    /// The fields compared with the API's run objects.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "scheduled_at": ts(self.scheduled_at),
            "last_scheduled_at": self.last_scheduled_at.map(ts),
            "occurrences": self.occurrences,
            "started_at": self.started_at.map(ts),
            "finished_at": self.finished_at.map(ts),
            "duration_ms": self.duration_ms,
            "http_status": self.http_status,
            "exit_code": self.exit_code,
            "output": self.output,
            "error": self.error,
        })
    }
}

/// The runs of a job, oldest first (by row id), on either engine.
pub(crate) async fn runs_of(pool: &Pool, job_id: &str) -> Vec<RunRow> {
    let sql = "SELECT id, scheduled_at, last_scheduled_at, occurrences, kind, status, started_at,
                finished_at, duration_ms, http_status, exit_code, output, error
         FROM job_runs WHERE job_id = $1 ORDER BY id";
    super::on_pool!(pool, p => {
        let rows = sqlx::query(sql)
            .bind(job_id)
            .fetch_all(p)
            .await
            .expect("read job_runs");
        rows.iter()
            .map(|row| RunRow {
                id: row.get("id"),
                scheduled_at: row.get("scheduled_at"),
                last_scheduled_at: row.get("last_scheduled_at"),
                occurrences: row.get("occurrences"),
                kind: row.get("kind"),
                status: row.get("status"),
                started_at: row.get("started_at"),
                finished_at: row.get("finished_at"),
                duration_ms: row.get("duration_ms"),
                http_status: row.get("http_status"),
                exit_code: row.get("exit_code"),
                output: row.get("output"),
                error: row.get("error"),
            })
            .collect()
    })
}
