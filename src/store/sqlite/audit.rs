//! SQLite: the `audit_log` table: who changed which job, when, and how.

use chrono::{DateTime, Utc};

use super::{SqliteStore, parse_text, parse_ts, ts};
use crate::model::AuditAction;
use crate::store::{AuditEntry, StoreError};

struct AuditRow {
    id: i64,
    at: String,
    key_name: String,
    action: String,
    job_id: String,
    detail: Option<String>,
}

impl SqliteStore {
    /// Audit rows newest first, below `before_id` when given, for one job when `job_id` is set.
    pub async fn list_audit(
        &self,
        job_id: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let before = before_id.unwrap_or(i64::MAX);
        let limit = i64::from(limit);
        let rows = sqlx::query_as!(
            AuditRow,
            r#"SELECT id AS "id!: i64", at, key_name, action, job_id, detail FROM audit_log
               WHERE id < ?1 AND (?2 IS NULL OR job_id = ?2) ORDER BY id DESC LIMIT ?3"#,
            before,
            job_id,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let key = format!("id {}", r.id);
                Ok(AuditEntry {
                    at: parse_ts("audit_log", &key, "at", &r.at)?,
                    id: r.id,
                    key_name: r.key_name,
                    action: parse_text("audit_log", &key, &r.action)?,
                    job_id: r.job_id,
                    detail: r.detail,
                })
            })
            .collect()
    }
}

/// Appends an audit row on the connection of the change it records, so the change and its
/// audit row commit together or not at all.
pub(super) async fn write_audit(
    conn: &mut sqlx::SqliteConnection,
    at: DateTime<Utc>,
    key_name: &str,
    action: AuditAction,
    job_id: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    let at = ts(at);
    let action = action.as_str();
    sqlx::query!(
        "INSERT INTO audit_log (at, key_name, action, job_id, detail) VALUES (?, ?, ?, ?, ?)",
        at,
        key_name,
        action,
        job_id,
        detail
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
