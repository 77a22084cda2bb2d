//! SQLite: pausing with a note (who, why, until when), the end of timed pauses, and skip
//! requests (DESIGN.md, *Job health, alerts, pause, skip, catch-up*).

use chrono::{DateTime, Utc};

use super::rows::{JobRow, decode, shaped};
use super::{SqliteStore, ts};
use crate::model::{AuditAction, Job, PauseNote};
use crate::store::StoreError;
use schedlite_core::store::pauses::{PAUSE_ENDED_BY, pause_detail, pause_end_detail, skip_detail};

impl SqliteStore {
    /// [`crate::store::Store::pause_job`] on SQLite.
    pub async fn pause_job(
        &self,
        id: &str,
        note: &PauseNote,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>, StoreError> {
        let (at, until, updated) = (ts(note.at), note.until.map(ts), ts(now));
        let mut tx = self.begin_write().await?;
        let done = sqlx::query!(
            "UPDATE jobs SET paused = 1, next_run_at = NULL, updated_at = ?, paused_by = ?,
                paused_at = ?, pause_reason = ?, paused_until = ?
             WHERE id = ?",
            updated,
            note.by,
            at,
            note.reason,
            until,
            id
        )
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.commit().await?;
            return Ok(None);
        }
        let detail = pause_detail(note);
        super::audit::write_audit(
            &mut tx,
            now,
            &note.by,
            AuditAction::Pause,
            id,
            detail.as_deref(),
        )
        .await?;
        tx.commit().await?;
        self.get_job(id).await
    }

    /// [`crate::store::Store::ended_pauses`] on SQLite: seeks the partial `jobs_pause_ends`.
    pub async fn ended_pauses(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        let now = ts(now);
        let limit = i64::from(limit);
        let batch = shaped!(query_scalar!(
            [r#"SELECT json_group_array("# JOB r#") AS "rows!: String" FROM (
                    SELECT * FROM jobs WHERE paused_until <= ? AND paused = 1
                    ORDER BY paused_until LIMIT ? + 0)"#],
            now,
            limit
        ))
        .fetch_one(&self.pool)
        .await?;
        let rows: Vec<JobRow> = decode("jobs", "ended pauses", &batch)?;
        rows.into_iter().map(Job::try_from).collect()
    }

    /// [`crate::store::Store::end_pause`] on SQLite.
    pub async fn end_pause(
        &self,
        id: &str,
        until: DateTime<Utc>,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (until_s, next, updated) = (ts(until), next_run_at.map(ts), ts(now));
        let mut tx = self.begin_write().await?;
        // Compare and set: only the pause that was read ends, once, whoever gets here first.
        let done = sqlx::query!(
            "UPDATE jobs SET paused = 0, next_run_at = ?, updated_at = ?, paused_by = NULL,
                paused_at = NULL, pause_reason = NULL, paused_until = NULL
             WHERE id = ? AND paused = 1 AND paused_until = ?",
            next,
            updated,
            id,
            until_s
        )
        .execute(&mut *tx)
        .await?;
        let ended = done.rows_affected() > 0;
        if ended {
            let detail = pause_end_detail(until);
            super::audit::write_audit(
                &mut tx,
                now,
                PAUSE_ENDED_BY,
                AuditAction::Resume,
                id,
                Some(&detail),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// [`crate::store::Store::set_skip`] on SQLite.
    pub async fn set_skip(
        &self,
        id: &str,
        count: u32,
        reason: Option<&str>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Option<Job>, StoreError> {
        let (count_i, updated) = (i64::from(count), ts(now));
        let reason = reason.filter(|_| count > 0);
        let mut tx = self.begin_write().await?;
        let done = sqlx::query!(
            "UPDATE jobs SET skip_count = ?, skip_reason = ?, updated_at = ? WHERE id = ?",
            count_i,
            reason,
            updated,
            id
        )
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.commit().await?;
            return Ok(None);
        }
        let detail = skip_detail(count, reason);
        super::audit::write_audit(&mut tx, now, key_name, AuditAction::Skip, id, Some(&detail))
            .await?;
        tx.commit().await?;
        self.get_job(id).await
    }
}
