//! SQLite: the `alerts` and `alert_state` tables: health changes recorded once, and their
//! delivery to webhooks, held by one process at a time.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::rows::{decode, shaped};
use super::{SqliteStore, parse_opt_ts, parse_text, parse_ts, ts};
use crate::model::{Alert, Health, NewAlert};
use crate::store::{ALERT_LEASE, AttemptResult, StoreError, Watched};

/// One `alerts` row, all columns but the lease.
struct AlertRow {
    id: i64,
    job_id: String,
    from_health: String,
    to_health: String,
    reason: String,
    at: String,
    webhook: Option<String>,
    delivery: String,
    attempts: i64,
    next_attempt_at: Option<String>,
    sent_at: Option<String>,
    last_error: Option<String>,
}

impl TryFrom<AlertRow> for Alert {
    type Error = StoreError;

    fn try_from(r: AlertRow) -> Result<Alert, StoreError> {
        let key = format!("id {}", r.id);
        let t = "alerts";
        Ok(Alert {
            id: r.id,
            alert: NewAlert {
                job_id: r.job_id,
                from: parse_text(t, &key, &r.from_health)?,
                to: parse_text(t, &key, &r.to_health)?,
                reason: r.reason,
                at: parse_ts(t, &key, "at", &r.at)?,
                webhook: r.webhook,
            },
            delivery: parse_text(t, &key, &r.delivery)?,
            attempts: u32::try_from(r.attempts)
                .map_err(|_| StoreError::corrupt(t, &key, "attempts is negative"))?,
            next_attempt_at: parse_opt_ts(
                t,
                &key,
                "next_attempt_at",
                r.next_attempt_at.as_deref(),
            )?,
            sent_at: parse_opt_ts(t, &key, "sent_at", r.sent_at.as_deref())?,
            last_error: r.last_error,
        })
    }
}

/// A job and the health last alerted for it, as the watch reads them in one row.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchedRow<'a> {
    #[serde(borrow)]
    job: &'a RawValue,
    alerted: Option<String>,
    alerted_at: Option<String>,
}

impl SqliteStore {
    /// [`crate::store::Store::alert_watch`] on SQLite: the jobs that expect something (the
    /// `jobs_expecting` index) and those alerted before, merged in id order.
    pub async fn alert_watch(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Watched>, StoreError> {
        let after = after.unwrap_or("");
        let limit = i64::from(limit);
        let batch = shaped!(query_scalar!(
            [r#"SELECT json_group_array(json_object('job', "# JOB r#",
                       'alerted', health, 'alerted_at', changed_at)) AS "rows!: String"
                FROM (SELECT jobs.*, s.health, s.changed_at
                      FROM jobs LEFT JOIN alert_state AS s ON s.job_id = jobs.id
                      WHERE jobs.id IN (SELECT id FROM (
                          SELECT id FROM jobs WHERE expect IS NOT NULL AND id > ?1
                          UNION SELECT job_id FROM alert_state WHERE job_id > ?1
                          ORDER BY 1 LIMIT ?2 + 0)))"#],
            after,
            limit
        ))
        .fetch_one(&self.pool)
        .await?;
        let rows: Vec<WatchedRow> = decode("jobs", "alert watch", &batch)?;
        let mut watched = rows
            .into_iter()
            .map(|r| {
                let entry = super::jobs::entry(r.job)?;
                let key = entry.id().to_string();
                Ok(Watched {
                    alerted: r
                        .alerted
                        .map(|h| parse_text::<Health>("alert_state", &key, &h))
                        .transpose()?,
                    alerted_at: parse_opt_ts(
                        "alert_state",
                        &key,
                        "changed_at",
                        r.alerted_at.as_deref(),
                    )?,
                    entry,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        watched.sort_unstable_by(|a, b| a.entry.id().cmp(b.entry.id()));
        Ok(watched)
    }

    /// [`crate::store::Store::record_alert`] on SQLite: the write lock makes the read of the
    /// alerted health and its change one step, whichever process gets there first.
    pub async fn record_alert(
        &self,
        alert: &NewAlert,
        expected: Option<Health>,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin_loop_write().await?;
        let job_id = alert.job_id.as_str();
        let exists = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!: i64" FROM jobs WHERE id = ?"#,
            job_id
        )
        .fetch_one(&mut *tx)
        .await?;
        let current =
            sqlx::query_scalar!("SELECT health FROM alert_state WHERE job_id = ?", job_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|h| parse_text::<Health>("alert_state", job_id, &h))
                .transpose()?;
        if exists == 0 || current != expected {
            tx.rollback().await?;
            return Ok(None);
        }
        let (to, at) = (alert.to.as_str(), ts(alert.at));
        sqlx::query!(
            "INSERT INTO alert_state (job_id, health, changed_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (job_id) DO UPDATE SET health = ?2, changed_at = ?3",
            job_id,
            to,
            at
        )
        .execute(&mut *tx)
        .await?;
        let from = alert.from.as_str();
        let delivery = if alert.webhook.is_some() {
            "pending"
        } else {
            "none"
        };
        let next = alert.webhook.as_ref().map(|_| at.clone());
        let id = sqlx::query_scalar!(
            r#"INSERT INTO alerts (job_id, from_health, to_health, reason, at, webhook, delivery,
                                   next_attempt_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id AS "id!: i64""#,
            job_id,
            from,
            to,
            alert.reason,
            at,
            alert.webhook,
            delivery,
            next
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// [`crate::store::Store::claim_alerts`] on SQLite. A read first: with nothing due (the
    /// usual case), no process takes the write lock for it.
    pub async fn claim_alerts(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        let (now_s, lease, limit) = (ts(now), ts(now + ALERT_LEASE), i64::from(limit));
        let due = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM alerts WHERE delivery = 'pending'
                   AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1))
               AS "due!: bool""#,
            now_s
        )
        .fetch_one(&self.pool)
        .await?;
        if !due {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_loop_write().await?;
        let rows = sqlx::query_as!(
            AlertRow,
            r#"UPDATE alerts SET lease_until = ?2
               WHERE id IN (SELECT id FROM alerts WHERE delivery = 'pending'
                              AND next_attempt_at <= ?1
                              AND (lease_until IS NULL OR lease_until <= ?1)
                            ORDER BY next_attempt_at LIMIT ?3)
               RETURNING id AS "id!: i64", job_id, from_health, to_health, reason, at, webhook,
                         delivery, attempts, next_attempt_at, sent_at, last_error"#,
            now_s,
            lease,
            limit
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.into_iter().map(Alert::try_from).collect()
    }

    /// [`crate::store::Store::settle_alert`] on SQLite.
    pub async fn settle_alert(&self, id: i64, result: &AttemptResult) -> Result<(), StoreError> {
        let (sent_at, error, retry_at) = match result {
            AttemptResult::Sent(at) => (Some(ts(*at)), None, None),
            AttemptResult::Failed { error, retry_at } => {
                (None, Some(error.as_str()), retry_at.map(ts))
            }
        };
        let mut tx = self.begin_loop_write().await?;
        sqlx::query!(
            "UPDATE alerts SET attempts = attempts + 1, lease_until = NULL,
                delivery = CASE WHEN ?2 IS NOT NULL THEN 'sent'
                                WHEN ?4 IS NULL THEN 'failed' ELSE 'pending' END,
                sent_at = ?2, last_error = ?3, next_attempt_at = CASE WHEN ?2 IS NULL THEN ?4 END
             WHERE id = ?1 AND delivery = 'pending'",
            id,
            sent_at,
            error,
            retry_at
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`crate::store::Store::list_alerts`] on SQLite.
    pub async fn list_alerts(
        &self,
        job_id: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        let (before, limit) = (before_id.unwrap_or(i64::MAX), i64::from(limit));
        let rows = sqlx::query_as!(
            AlertRow,
            r#"SELECT id AS "id!: i64", job_id, from_health, to_health, reason, at, webhook,
                      delivery, attempts, next_attempt_at, sent_at, last_error
               FROM alerts WHERE id < ?1 AND (?2 IS NULL OR job_id = ?2)
               ORDER BY id DESC LIMIT ?3"#,
            before,
            job_id,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Alert::try_from).collect()
    }
}
