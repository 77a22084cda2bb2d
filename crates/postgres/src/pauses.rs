//! PostgreSQL: pausing with a note (who, why, until when), the end of timed pauses, and skip
//! requests (DESIGN.md, *Job health, alerts, pause, skip, catch-up*). Every change notifies the
//! other nodes in its own transaction (`notify.rs`).

use chrono::{DateTime, Utc};
use schedlite_core::model::{AuditAction, Job, PauseNote};
use schedlite_core::store::StoreError;
use schedlite_core::store::pauses::{PAUSE_ENDED_BY, pause_detail, pause_end_detail, skip_detail};

use super::jobs::read_job;
use super::rows::JobRow;
use super::{PgStore, ms};

impl PgStore {
    /// Pauses a job with a note, audited `pause` as `note.by`'s.
    pub async fn pause_job(
        &self,
        id: &str,
        note: &PauseNote,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query!(
            "UPDATE jobs SET paused = true, next_run_at = NULL, updated_at = $1, paused_by = $2,
                paused_at = $3, pause_reason = $4, paused_until = $5
             WHERE id = $6",
            ms(now),
            note.by,
            ms(note.at),
            note.reason,
            note.until.map(ms),
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
        super::notify::job_changed(&mut tx, id).await?;
        let job = read_job(&mut tx, id).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// Jobs on a timed pause that has ended by `now`, earliest end first, at most `limit`.
    pub async fn ended_pauses(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query_as!(
            JobRow,
            "SELECT * FROM jobs WHERE paused_until <= $1 AND paused ORDER BY paused_until LIMIT $2",
            ms(now),
            i64::from(limit)
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.into_iter().map(Job::try_from).collect()
    }

    /// Ends the timed pause of `id` that ends at `until`, if it is still the job's pause.
    pub async fn end_pause(
        &self,
        id: &str,
        until: DateTime<Utc>,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // Compare and set: only the pause that was read ends, once, whichever node gets here
        // first (the row lock makes the others wait, then find it changed).
        let done = sqlx::query!(
            "UPDATE jobs SET paused = false, next_run_at = $1, updated_at = $2, paused_by = NULL,
                paused_at = NULL, pause_reason = NULL, paused_until = NULL
             WHERE id = $3 AND paused AND paused_until = $4",
            next_run_at.map(ms),
            ms(now),
            id,
            ms(until)
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
            super::notify::job_changed(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// Sets how many of the next occurrences of `id` are skipped, and why.
    pub async fn set_skip(
        &self,
        id: &str,
        count: u32,
        reason: Option<&str>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Option<Job>, StoreError> {
        let reason = reason.filter(|_| count > 0);
        let mut tx = self.begin().await?;
        let done = sqlx::query!(
            "UPDATE jobs SET skip_count = $1, skip_reason = $2, updated_at = $3 WHERE id = $4",
            i64::from(count),
            reason,
            ms(now),
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
        super::notify::job_changed(&mut tx, id).await?;
        let job = read_job(&mut tx, id).await?;
        tx.commit().await?;
        Ok(job)
    }
}
