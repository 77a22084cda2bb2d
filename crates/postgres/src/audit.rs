//! PostgreSQL: the `audit_log` table: who changed which job, when, and how.

use chrono::{DateTime, Utc};
use schedlite_core::model::AuditAction;
use schedlite_core::store::{AuditEntry, StoreError};
use sqlx::PgConnection;

use super::{PgStore, ms};

impl PgStore {
    /// Audit rows newest first, below `before_id` when given, for one job when `job_id` is set.
    pub async fn list_audit(
        &self,
        job_id: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT id, at, key_name, action, job_id, detail::text AS detail FROM audit_log
               WHERE id < $1 AND ($2::text IS NULL OR job_id = $2) ORDER BY id DESC LIMIT $3"#,
            before_id.unwrap_or(i64::MAX),
            job_id,
            i64::from(limit)
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.into_iter()
            .map(|r| {
                let key = format!("id {}", r.id);
                Ok(AuditEntry {
                    id: r.id,
                    at: r.at,
                    key_name: r.key_name,
                    action: r
                        .action
                        .parse()
                        .map_err(|e: String| StoreError::corrupt("audit_log", &key, e))?,
                    job_id: r.job_id,
                    detail: r.detail,
                })
            })
            .collect()
    }
}

/// Appends an audit row on the connection of the change it records, so the change and its
/// audit row commit together or not at all. `detail` is JSON text.
pub(crate) async fn write_audit(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    key_name: &str,
    action: AuditAction,
    job_id: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO audit_log (at, key_name, action, job_id, detail) VALUES ($1, $2, $3, $4, $5::text::jsonb)",
        ms(at),
        key_name,
        action.as_str(),
        job_id,
        detail
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
