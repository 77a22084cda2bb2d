//! SQLite: reading and writing whole tables for `schedlite copy`. Rows keep their ids and
//! instants, so history, audit and keys are the same rows on the other side.

use super::rows::{RunRow, decode, json_column, shaped};
use super::{SqliteStore, ts};
use crate::model::{Job, KeyInfo, Run};
use crate::store::columns::{TriggerColumns, exclusive_columns};
use crate::store::{AuditEntry, StoreError, TableCounts};

impl SqliteStore {
    /// How many rows each copied table holds.
    pub async fn table_counts(&self) -> Result<TableCounts, StoreError> {
        let row = sqlx::query!(
            r#"SELECT (SELECT count(*) FROM jobs) AS "jobs!: i64",
                      (SELECT count(*) FROM api_keys) AS "keys!: i64",
                      (SELECT count(*) FROM job_runs) AS "runs!: i64",
                      (SELECT count(*) FROM audit_log) AS "audit!: i64""#
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(TableCounts {
            jobs: row.jobs,
            keys: row.keys,
            runs: row.runs,
            audit: row.audit,
        })
    }

    /// Up to `limit` runs with ids above `after`, by id.
    pub async fn export_runs(&self, after: i64, limit: u32) -> Result<Vec<Run>, StoreError> {
        let limit = i64::from(limit);
        let page = shaped!(query_scalar!(
            [r#"SELECT json_group_array(json("# RUN r#")) AS "rows!: String"
                FROM (SELECT * FROM job_runs WHERE id > ? ORDER BY id LIMIT ?)"#],
            after,
            limit
        ))
        .fetch_one(&self.pool)
        .await?;
        let rows: Vec<RunRow> = decode("job_runs", "copy page", &page)?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// Inserts jobs as they are (ids, instants, paused state), in one transaction.
    pub async fn import_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for job in jobs {
            let c = TriggerColumns::of(&job.trigger);
            let action = serde_json::to_string(&job.action)
                .map_err(|e| StoreError::corrupt("jobs", &job.id, e.to_string()))?;
            let (start_at, end_at, run_at) =
                (c.start_at.map(ts), c.end_at.map(ts), c.run_at.map(ts));
            let next = job.next_run_at.map(ts);
            let (created, updated) = (ts(job.created_at), ts(job.updated_at));
            let (grace, max_instances, jitter) = (
                i64::from(job.settings.misfire_grace_seconds),
                i64::from(job.settings.max_instances),
                i64::from(job.settings.jitter_seconds),
            );
            let pause = job.pause.as_ref();
            let (paused_by, pause_reason) = (
                pause.map(|p| p.by.as_str()),
                pause.and_then(|p| p.reason.as_deref()),
            );
            let (paused_at, paused_until) =
                (pause.map(|p| ts(p.at)), pause.and_then(|p| p.until).map(ts));
            let skip_count = job.skip.as_ref().map_or(0, |s| i64::from(s.count));
            let skip_reason = job.skip.as_ref().and_then(|s| s.reason.as_deref());
            let expect = json_column(&job.id, job.expect.as_ref())?;
            let history = json_column(&job.id, job.history)?;
            let retry = json_column(&job.id, job.retry.some())?;
            let catch_up = job.settings.catch_up.as_str();
            let (group, policy) = exclusive_columns(job.exclusive.as_ref());
            let last_success_at = job.counters.last_success_at.map(ts);
            let failures = i64::from(job.counters.consecutive_failures);
            sqlx::query!(
                "INSERT INTO jobs (id, name, trigger_type, cron_expr, timezone, interval_seconds,
                    start_at, end_at, run_at, action, next_run_at, paused, misfire_grace_seconds,
                    coalesce_missed, max_instances, jitter_seconds, created_at, updated_at,
                    paused_by, paused_at, pause_reason, paused_until, skip_count, skip_reason,
                    expect, last_success_at, consecutive_failures, history, retry, catch_up,
                    dst_gap, dst_fold, exclusive_group, exclusive_policy)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                    ?, ?, ?, ?, ?, ?, ?)",
                job.id,
                job.name,
                c.trigger_type,
                c.cron_expr,
                c.timezone,
                c.interval_seconds,
                start_at,
                end_at,
                run_at,
                action,
                next,
                job.paused,
                grace,
                job.settings.coalesce,
                max_instances,
                jitter,
                created,
                updated,
                paused_by,
                paused_at,
                pause_reason,
                paused_until,
                skip_count,
                skip_reason,
                expect,
                last_success_at,
                failures,
                history,
                retry,
                catch_up,
                c.dst_gap,
                c.dst_fold,
                group,
                policy,
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Inserts keys as they are (ids, hashes, revocations), in one transaction.
    pub async fn import_keys(&self, keys: &[(KeyInfo, String)]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for (info, hash) in keys {
            let role = info.role.as_str();
            let created = ts(info.created_at);
            let used = info.last_used_at.map(ts);
            let revoked = info.revoked_at.map(ts);
            sqlx::query!(
                "INSERT INTO api_keys (id, name, role, key_hash, created_at, last_used_at, revoked_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                info.id,
                info.name,
                role,
                hash,
                created,
                used,
                revoked
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Inserts runs as they are, in one transaction.
    pub async fn import_runs(&self, runs: &[Run]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for run in runs {
            let scheduled = ts(run.scheduled_at);
            let last = run.last_scheduled_at.map(ts);
            let (kind, status) = (run.kind.as_str(), run.status.as_str());
            let (started, finished) = (run.started_at.map(ts), run.finished_at.map(ts));
            let retry_at = run.retry_at.map(ts);
            sqlx::query!(
                "INSERT INTO job_runs (id, job_id, scheduled_at, last_scheduled_at, occurrences,
                    kind, status, started_at, finished_at, duration_ms, owner_id, http_status,
                    exit_code, output, error, attempt, retry_delay_ms, retry_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                run.id,
                run.job_id,
                scheduled,
                last,
                run.occurrences,
                kind,
                status,
                started,
                finished,
                run.duration_ms,
                run.owner_id,
                run.http_status,
                run.exit_code,
                run.output,
                run.error,
                run.attempt,
                run.retry_delay_ms,
                retry_at
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Inserts audit rows as they are, in one transaction.
    pub async fn import_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for entry in entries {
            let at = ts(entry.at);
            let action = entry.action.as_str();
            sqlx::query!(
                "INSERT INTO audit_log (id, at, key_name, action, job_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
                entry.id,
                at,
                entry.key_name,
                action,
                entry.job_id,
                entry.detail
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}
