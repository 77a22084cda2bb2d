//! The direct-driver probe: what SQLite itself allows for the per-occurrence work of a burst,
//! measured in this process on the same file as the server would use (issue 15, item 1).
//!
//! It is the yardstick for every burst figure. The `raw` scenario runs our own store code in a
//! loop, so it measures our driver path (sqlx's worker thread, JSON batches), not the limit.
//! This probe has nothing between it and SQLite: one synchronous rusqlite connection on one
//! thread, prepared (cached) statements, the schema from `migrations/` (the file was made by the
//! store), WAL with `synchronous=NORMAL` like the server. Per occurrence it does what a claim
//! and an outcome do at the least: insert one `running` row and clear the job's `next_run_at`,
//! in transactions of `CLAIM_BATCH` jobs, then write each run's outcome in transactions of
//! `RAW_RECORD_BATCH` rows.

use crate::*;
use rusqlite::{Connection, TransactionBehavior, params};

/// What one probe run gave.
pub(crate) struct Probe {
    pub(crate) claimed: usize,
    pub(crate) secs: f64,
}

impl Probe {
    pub(crate) fn rate(&self) -> f64 {
        self.claimed as f64 / self.secs
    }
}

/// Runs the probe on `db`, whose date jobs are all due at or before `due` (a timestamp in the
/// store's text format). Blocking: call it from `spawn_blocking`.
pub(crate) fn run_probe(db: &Path, due: &str) -> rusqlite::Result<Probe> {
    let mut conn = Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let owner = "bench-probe";
    let started = Instant::now();
    let mut claimed = 0usize;
    let mut pending: Vec<i64> = Vec::with_capacity(RAW_RECORD_BATCH * 2);
    loop {
        let now = ts(Utc::now());
        let batch = claim_batch(&mut conn, due, &now, owner, &mut pending)?;
        claimed += batch;
        let done = batch == 0;
        while pending.len() >= RAW_RECORD_BATCH || (done && !pending.is_empty()) {
            let take = pending.len().min(RAW_RECORD_BATCH);
            let ids: Vec<i64> = pending.drain(..take).collect();
            record_batch(&mut conn, &ids)?;
        }
        if done {
            break;
        }
    }
    Ok(Probe {
        claimed,
        secs: started.elapsed().as_secs_f64(),
    })
}

/// One claim transaction: up to `CLAIM_BATCH` due jobs, a `running` row each, `next_run_at`
/// cleared (a date job fires once). Pushes the new run ids onto `pending`.
fn claim_batch(
    conn: &mut Connection,
    due: &str,
    now: &str,
    owner: &str,
    pending: &mut Vec<i64>,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut count = 0;
    {
        let mut select = tx.prepare_cached(
            "SELECT id, next_run_at FROM jobs WHERE next_run_at IS NOT NULL AND next_run_at <= ?1
             ORDER BY next_run_at LIMIT ?2",
        )?;
        let rows: Vec<(String, String)> = select
            .query_map(params![due, CLAIM_BATCH], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO job_runs (job_id, scheduled_at, kind, status, started_at, owner_id)
             VALUES (?1, ?2, 'scheduled', 'running', ?3, ?4)",
        )?;
        let mut advance = tx.prepare_cached("UPDATE jobs SET next_run_at = NULL WHERE id = ?1")?;
        for (job, at) in &rows {
            insert.execute(params![job, at, now, owner])?;
            pending.push(tx.last_insert_rowid());
            advance.execute(params![job])?;
            count += 1;
        }
    }
    tx.commit()?;
    Ok(count)
}

/// One outcome transaction: each run `succeeded`, as the server records a noop.
fn record_batch(conn: &mut Connection, ids: &[i64]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut update = tx.prepare_cached(
            "UPDATE job_runs SET status = 'succeeded', finished_at = ?2, duration_ms = 0
             WHERE id = ?1 AND status = 'running'",
        )?;
        let at = ts(Utc::now());
        for id in ids {
            update.execute(params![id, at])?;
        }
    }
    tx.commit()
}

/// Runs the probe on a fresh copy of `template` (whose jobs with `prefix` wait at the
/// placeholder instant), with the jobs made due now. Returns its rate, occurrences per second.
pub(crate) async fn probe_copy(
    ctx: &Ctx,
    template: &Path,
    prefix: &str,
    n: usize,
) -> Result<Probe> {
    let (db, pool) = ctx.copy_db(template, "probe.db").await?;
    let due = ts(Utc::now());
    let changed = set_due(&pool, prefix, &due).await?;
    close_pool(pool).await?;
    if changed as usize != n {
        return Err(format!("probe: expected {n} jobs, made {changed} due").into());
    }
    let probe = tokio::task::spawn_blocking(move || run_probe(&db, &due))
        .await
        .map_err(|e| format!("probe thread: {e}"))?
        .map_err(|e| format!("probe: {e}"))?;
    if probe.claimed != n {
        return Err(format!("probe: claimed {} of {n} jobs", probe.claimed).into());
    }
    Ok(probe)
}
