//! PostgreSQL: the `alerts` and `alert_state` tables: health changes recorded once, and their
//! delivery to webhooks, held by one node at a time.

use chrono::{DateTime, Utc};
use schedlite_core::model::{Alert, Health, NewAlert};
use schedlite_core::store::{ALERT_LEASE, AttemptResult, StoreError, Watched};

use super::jobs::entry;
use super::rows::JobRow;
use super::{PgStore, ms};

/// One `alerts` row, all columns but the lease.
struct AlertRow {
    id: i64,
    job_id: String,
    from_health: String,
    to_health: String,
    reason: String,
    at: DateTime<Utc>,
    webhook: Option<String>,
    delivery: String,
    attempts: i64,
    next_attempt_at: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

/// Parses a text column of `table` holding one of a fixed set of words.
fn text<T: std::str::FromStr<Err = String>>(
    table: &'static str,
    key: &str,
    s: &str,
) -> Result<T, StoreError> {
    s.parse()
        .map_err(|e: String| StoreError::corrupt(table, key, e))
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
                from: text(t, &key, &r.from_health)?,
                to: text(t, &key, &r.to_health)?,
                reason: r.reason,
                at: r.at,
                webhook: r.webhook,
            },
            delivery: text(t, &key, &r.delivery)?,
            attempts: u32::try_from(r.attempts)
                .map_err(|_| StoreError::corrupt(t, &key, "attempts is out of range"))?,
            next_attempt_at: r.next_attempt_at,
            sent_at: r.sent_at,
            last_error: r.last_error,
        })
    }
}

impl PgStore {
    /// The jobs that expect something (the `jobs_expecting` index) and those alerted before,
    /// merged in id order, each with the health last alerted.
    pub async fn alert_watch(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Watched>, StoreError> {
        let mut conn = self.conn().await?;
        let ids = sqlx::query_scalar!(
            r#"SELECT id AS "id!" FROM (
                   SELECT id FROM jobs WHERE expect IS NOT NULL AND id > $1
                   UNION SELECT job_id FROM alert_state WHERE job_id > $1) AS w
               ORDER BY 1 LIMIT $2"#,
            after.unwrap_or(""),
            i64::from(limit)
        )
        .fetch_all(&mut *conn)
        .await?;
        let rows = sqlx::query_as!(
            JobRow,
            "SELECT * FROM jobs WHERE id = ANY($1) ORDER BY id",
            &ids
        )
        .fetch_all(&mut *conn)
        .await?;
        let states = sqlx::query!(
            "SELECT job_id, health, changed_at FROM alert_state WHERE job_id = ANY($1)",
            &ids
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut by_job: std::collections::HashMap<String, (String, DateTime<Utc>)> = states
            .into_iter()
            .map(|s| (s.job_id, (s.health, s.changed_at)))
            .collect();
        rows.into_iter()
            .map(|row| {
                let state = by_job.remove(&row.id);
                let alerted = state
                    .as_ref()
                    .map(|(h, _)| text::<Health>("alert_state", &row.id, h))
                    .transpose()?;
                Ok(Watched {
                    alerted,
                    alerted_at: state.map(|(_, at)| at),
                    entry: entry(row)?,
                })
            })
            .collect()
    }

    /// Records `alert` if its job's alerted health is still `expected`. The compare-and-set is
    /// one statement on the job's `alert_state` row: a node that loses the race waits on the
    /// row lock, then finds the health changed and records nothing.
    pub async fn record_alert(
        &self,
        alert: &NewAlert,
        expected: Option<Health>,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin().await?;
        let job_id = alert.job_id.as_str();
        let changed = match expected {
            None => sqlx::query_scalar!(
                r#"INSERT INTO alert_state (job_id, health, changed_at)
                   SELECT id, $2, $3 FROM jobs WHERE id = $1
                   ON CONFLICT (job_id) DO NOTHING RETURNING 1 AS "one!""#,
                job_id,
                alert.to.as_str(),
                ms(alert.at)
            )
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
            Some(expected) => sqlx::query_scalar!(
                r#"UPDATE alert_state SET health = $2, changed_at = $3
                   WHERE job_id = $1 AND health = $4 RETURNING 1 AS "one!""#,
                job_id,
                alert.to.as_str(),
                ms(alert.at),
                expected.as_str()
            )
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
        };
        if !changed {
            tx.rollback().await?;
            return Ok(None);
        }
        let delivery = if alert.webhook.is_some() {
            "pending"
        } else {
            "none"
        };
        let id = sqlx::query_scalar!(
            "INSERT INTO alerts (job_id, from_health, to_health, reason, at, webhook, delivery,
                                 next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            job_id,
            alert.from.as_str(),
            alert.to.as_str(),
            alert.reason,
            ms(alert.at),
            alert.webhook,
            delivery,
            alert.webhook.as_ref().map(|_| ms(alert.at))
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Takes due pending alerts no node holds: `SKIP LOCKED` passes over rows another node is
    /// taking at this moment, and the outer conditions are checked again on the locked rows.
    pub async fn claim_alerts(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        let rows = sqlx::query_as!(
            AlertRow,
            r#"UPDATE alerts SET lease_until = $2
               WHERE id IN (SELECT id FROM alerts WHERE delivery = 'pending'
                              AND next_attempt_at <= $1
                              AND (lease_until IS NULL OR lease_until <= $1)
                            ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                 AND delivery = 'pending' AND (lease_until IS NULL OR lease_until <= $1)
               RETURNING id, job_id, from_health, to_health, reason, at, webhook, delivery,
                         attempts, next_attempt_at, sent_at, last_error"#,
            ms(now),
            ms(now + ALERT_LEASE),
            i64::from(limit)
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.into_iter().map(Alert::try_from).collect()
    }

    /// Records how a delivery attempt ended and lets the alert go.
    pub async fn settle_alert(&self, id: i64, result: &AttemptResult) -> Result<(), StoreError> {
        let (sent_at, error, retry_at) = match result {
            AttemptResult::Sent(at) => (Some(ms(*at)), None, None),
            AttemptResult::Failed { error, retry_at } => {
                (None, Some(error.as_str()), retry_at.map(ms))
            }
        };
        sqlx::query!(
            "UPDATE alerts SET attempts = attempts + 1, lease_until = NULL,
                delivery = CASE WHEN $2::timestamptz IS NOT NULL THEN 'sent'
                                WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                sent_at = $2, last_error = $3,
                next_attempt_at = CASE WHEN $2::timestamptz IS NULL THEN $4::timestamptz END
             WHERE id = $1 AND delivery = 'pending'",
            id,
            sent_at,
            error,
            retry_at
        )
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// Alerts newest first, below `before_id` when given, for one job when `job_id` is set.
    pub async fn list_alerts(
        &self,
        job_id: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        let rows = sqlx::query_as!(
            AlertRow,
            "SELECT id, job_id, from_health, to_health, reason, at, webhook, delivery, attempts,
                    next_attempt_at, sent_at, last_error
             FROM alerts WHERE id < $1 AND ($2::text IS NULL OR job_id = $2)
             ORDER BY id DESC LIMIT $3",
            before_id.unwrap_or(i64::MAX),
            job_id,
            i64::from(limit)
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.into_iter().map(Alert::try_from).collect()
    }
}
