//! `bulk` (issue 15, item 3): jobs created over HTTP with `POST /jobs:bulk`, 1,000 per request,
//! one client, on an empty file; against the direct-driver probe writing the same rows on an
//! empty file of the same schema in the same run: per job its `jobs` row, its audit row and its
//! first revision (the definition as JSON, numbered as the server numbers it), prepared
//! statements, one transaction per 1,000 jobs, WAL and `synchronous=NORMAL` as the
//! server has. The ratio is what parsing, checking, HTTP and sqlx cost over SQLite's own insert
//! rate. A request that is not answered 200, or a count of rows short of what was sent, fails
//! the scenario.

use rusqlite::{Connection, TransactionBehavior, params};
use serde_json::{Value, json};

use crate::*;

/// Jobs per request, the endpoint's maximum.
const PER_REQUEST: usize = 1000;

/// The scenario's name in the table.
fn name(total: usize) -> String {
    format!("bulk create {total} jobs, {PER_REQUEST} per request")
}

/// One request's jobs: every-hour noop jobs, as the API would be given them.
fn request(round: usize) -> Value {
    let jobs: Vec<Value> = (0..PER_REQUEST)
        .map(|i| {
            json!({"id": format!("bulk-{round:04}-{i:04}"),
                   "trigger": {"type": "interval", "seconds": 3600},
                   "action": {"type": "noop"}})
        })
        .collect();
    json!({ "jobs": jobs })
}

/// Creates `total` jobs through the server on `db`; returns jobs per second.
async fn over_http(ctx: &mut Ctx, db: &Path, total: usize) -> Result<f64> {
    let server = ctx.start_server(db).await?;
    let bodies: Vec<Vec<u8>> = (0..total / PER_REQUEST)
        .map(|r| serde_json::to_vec(&request(r)))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    for (round, body) in bodies.into_iter().enumerate() {
        let resp = ctx
            .http
            .post(server.url("/jobs:bulk"))
            .header("X-API-Key", ADMIN_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            return Err(format!("bulk request {round} answered {status}: {text}").into());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    server.stop().await?;
    let pool = open_pool(db).await?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&pool)
        .await?;
    close_pool(pool).await?;
    if stored != total as i64 {
        return Err(format!("bulk: {stored} jobs stored of {total} sent").into());
    }
    Ok(total as f64 / secs)
}

/// The probe: the same rows written straight into SQLite; returns jobs per second. Blocking.
fn probe_inserts(db: &Path, total: usize) -> rusqlite::Result<f64> {
    let mut conn = Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let action = r#"{"type":"noop"}"#;
    let started = Instant::now();
    for round in 0..total / PER_REQUEST {
        let now = ts(Utc::now());
        let next = ts(Utc::now() + chrono::Duration::hours(1));
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut job = tx.prepare_cached(
                "INSERT INTO jobs (id, name, trigger_type, cron_expr, timezone, interval_seconds,
                    start_at, end_at, run_at, action, next_run_at, paused, misfire_grace_seconds,
                    coalesce_missed, max_instances, jitter_seconds, created_at, updated_at,
                    expect, history, retry)
                 VALUES (?1, NULL, 'interval', NULL, 'UTC', 3600, ?2, NULL, NULL, ?3, ?4, 0, 60,
                    1, 1, 0, ?2, ?2, NULL, NULL, NULL)",
            )?;
            let mut audit = tx.prepare_cached(
                "INSERT INTO audit_log (at, key_name, action, job_id, detail)
                 VALUES (?1, 'probe', 'create', ?2, NULL)",
            )?;
            let mut revision = tx.prepare_cached(
                "INSERT INTO job_revisions (job_id, revision, definition, changed_by, changed_at,
                     change)
                 VALUES (?1, (SELECT ifnull(max(revision), 0) + 1 FROM job_revisions
                              WHERE job_id = ?1), ?2, 'probe', ?3, 'create')",
            )?;
            for i in 0..PER_REQUEST {
                let id = format!("bulk-{round:04}-{i:04}");
                job.execute(params![id, now, action, next])?;
                audit.execute(params![now, id])?;
                revision.execute(params![id, definition(&now), now])?;
            }
        }
        tx.commit()?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// A definition of the size and shape the server keeps for each bulk job (every field, as a
/// `PUT` body), so the probe writes as many bytes per revision.
fn definition(start_at: &str) -> String {
    json!({"name": null,
           "trigger": {"type": "interval", "seconds": 3600, "start_at": start_at, "end_at": null},
           "action": {"type": "noop"}, "misfire_grace_seconds": 60, "coalesce": true,
           "catch_up": "coalesce", "max_instances": 1, "jitter_seconds": 0, "paused": false,
           "expect": null, "history": null,
           "retry": {"max_attempts": 1, "initial_delay_seconds": 10, "max_delay_seconds": 3600,
                     "multiplier": 2.0, "jitter": true}})
    .to_string()
}

/// `bulk`: `--runs` rounds of the HTTP figure and the probe's, then their ratio.
pub(crate) async fn scenario_bulk(ctx: &mut Ctx) -> Result<()> {
    let total = ctx.sizes.bursts[0].max(PER_REQUEST) / PER_REQUEST * PER_REQUEST;
    let scenario = name(total);
    eprintln!("== bulk");
    for _ in 0..ctx.runs {
        let (db, pool) = ctx.new_db("bulk.db").await?;
        pool.close().await;
        let rate = over_http(ctx, &db, total).await?;
        ctx.report
            .add(&scenario, "jobs created per second (HTTP)", "jobs/s", rate);
        let (probe_db, pool) = ctx.new_db("bulk-probe.db").await?;
        pool.close().await;
        let probe = tokio::task::spawn_blocking(move || probe_inserts(&probe_db, total))
            .await?
            .map_err(|e| format!("bulk probe: {e}"))?;
        ctx.report.add(
            &scenario,
            "direct-driver inserts per second",
            "jobs/s",
            probe,
        );
        eprintln!("   {rate:.0} jobs/s over HTTP, probe {probe:.0} jobs/s");
    }
    if let (Some(http), Some(probe)) = (
        ctx.report
            .median(&scenario, "jobs created per second (HTTP)"),
        ctx.report
            .median(&scenario, "direct-driver inserts per second"),
    ) {
        ctx.report
            .add(&scenario, "median rate / median probe", "", http / probe);
    }
    Ok(())
}
