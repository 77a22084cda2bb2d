//! PostgreSQL: reading and writing whole tables for `schedlite copy`. Rows keep their ids and
//! instants; after rows with explicit ids are written, each identity sequence is moved past the
//! largest id so that new rows never collide with copied ones.

use schedlite_core::model::{Job, KeyInfo, Run};
use schedlite_core::store::columns::{TriggerColumns, exclusive_columns};
use schedlite_core::store::{AuditEntry, StoreError, TableCounts};

use super::rows::{RunRow, action_value, json_column};
use super::{PgStore, ms};

impl PgStore {
    /// How many rows each copied table holds.
    pub async fn table_counts(&self) -> Result<TableCounts, StoreError> {
        let row = sqlx::query!(
            r#"SELECT (SELECT count(*) FROM jobs) AS "jobs!", (SELECT count(*) FROM api_keys) AS "keys!",
                      (SELECT count(*) FROM job_runs) AS "runs!", (SELECT count(*) FROM audit_log) AS "audit!""#
        )
        .fetch_one(&mut *self.conn().await?)
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
        let rows = sqlx::query_as!(
            RunRow,
            "SELECT * FROM job_runs WHERE id > $1 ORDER BY id LIMIT $2",
            after,
            i64::from(limit)
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// Inserts jobs as they are (ids, instants, paused state), in one transaction.
    pub async fn import_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for job in jobs {
            let c = TriggerColumns::of(&job.trigger);
            let pause = job.pause.as_ref();
            let skip = job.skip.as_ref();
            let expect = json_column(&job.id, job.expect.as_ref())?;
            let history = json_column(&job.id, job.history)?;
            let retry = json_column(&job.id, job.retry.some())?;
            let (group, policy) = exclusive_columns(job.exclusive.as_ref());
            sqlx::query!(
                "INSERT INTO jobs (id, name, trigger_type, cron_expr, timezone, interval_seconds,
                    start_at, end_at, run_at, action, next_run_at, paused, misfire_grace_seconds,
                    coalesce_missed, max_instances, jitter_seconds, created_at, updated_at,
                    paused_by, paused_at, pause_reason, paused_until, skip_count, skip_reason,
                    expect, last_success_at, consecutive_failures, history, retry, catch_up,
                    dst_gap, dst_fold, exclusive_group, exclusive_policy)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                    $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33,
                    $34)",
                job.id,
                job.name,
                c.trigger_type,
                c.cron_expr,
                c.timezone,
                c.interval_seconds,
                c.start_at.map(ms),
                c.end_at.map(ms),
                c.run_at.map(ms),
                action_value(&job.action)?,
                job.next_run_at.map(ms),
                job.paused,
                i64::from(job.settings.misfire_grace_seconds),
                job.settings.coalesce,
                i64::from(job.settings.max_instances),
                i64::from(job.settings.jitter_seconds),
                ms(job.created_at),
                ms(job.updated_at),
                pause.map(|p| p.by.as_str()),
                pause.map(|p| ms(p.at)),
                pause.and_then(|p| p.reason.as_deref()),
                pause.and_then(|p| p.until).map(ms),
                skip.map_or(0, |s| i64::from(s.count)),
                skip.and_then(|s| s.reason.as_deref()),
                expect,
                job.counters.last_success_at.map(ms),
                i64::from(job.counters.consecutive_failures),
                history,
                retry,
                job.settings.catch_up.as_str(),
                c.dst_gap,
                c.dst_fold,
                group,
                policy,
            )
            .execute(&mut *tx)
            .await?;
        }
        super::notify::job_changed(&mut tx, "*").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts keys as they are (ids, hashes, revocations), in one transaction.
    pub async fn import_keys(&self, keys: &[(KeyInfo, String)]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for (info, hash) in keys {
            sqlx::query!(
                "INSERT INTO api_keys (id, name, role, key_hash, created_at, last_used_at, revoked_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                info.id,
                info.name,
                info.role.as_str(),
                hash,
                ms(info.created_at),
                info.last_used_at.map(ms),
                info.revoked_at.map(ms)
            )
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query!(
            "SELECT setval(pg_get_serial_sequence('api_keys', 'id'), coalesce(max(id), 0) + 1, false) AS v FROM api_keys"
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts runs as they are, in one transaction.
    pub async fn import_runs(&self, runs: &[Run]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for run in runs {
            sqlx::query!(
                "INSERT INTO job_runs (id, job_id, scheduled_at, last_scheduled_at, occurrences,
                    kind, status, started_at, finished_at, duration_ms, owner_id, http_status,
                    exit_code, output, error, attempt, retry_delay_ms, retry_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                    $18)",
                run.id,
                run.job_id,
                ms(run.scheduled_at),
                run.last_scheduled_at.map(ms),
                run.occurrences,
                run.kind.as_str(),
                run.status.as_str(),
                run.started_at.map(ms),
                run.finished_at.map(ms),
                run.duration_ms,
                run.owner_id,
                run.http_status,
                run.exit_code,
                run.output,
                run.error,
                i64::from(run.attempt),
                run.retry_delay_ms,
                run.retry_at.map(ms)
            )
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query!(
            "SELECT setval(pg_get_serial_sequence('job_runs', 'id'), coalesce(max(id), 0) + 1, false) AS v FROM job_runs"
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts audit rows as they are, in one transaction.
    pub async fn import_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for entry in entries {
            sqlx::query!(
                "INSERT INTO audit_log (id, at, key_name, action, job_id, detail)
                 VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)",
                entry.id,
                ms(entry.at),
                entry.key_name,
                entry.action.as_str(),
                entry.job_id,
                entry.detail
            )
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query!(
            "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), coalesce(max(id), 0) + 1, false) AS v FROM audit_log"
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
