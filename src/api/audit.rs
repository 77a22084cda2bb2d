//! `GET /audit`: who changed which job, newest first. Admin only.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Admin, ApiQuery};
use super::{ApiError, AppState, ok};
use crate::timestamp::Timestamp;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list_audit))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    job_id: Option<String>,
}

/// Audit rows newest first; `job_id` filters, `limit` (1–1000, default 100) and `cursor` page.
async fn list_audit(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("must be between 1 and 1000, got {limit}"),
        ));
    }
    let before = match params.cursor.as_deref() {
        None => None,
        Some(c) => {
            let bad = || ApiError::validation("cursor", "is not a cursor returned by this API");
            let text = String::from_utf8(URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?)
                .map_err(|_| bad())?;
            Some(
                text.strip_prefix("audit:")
                    .and_then(|n| n.parse::<i64>().ok())
                    .ok_or_else(bad)?,
            )
        }
    };
    let entries = state
        .store
        .list_audit(params.job_id.as_deref(), before, limit)
        .await?;
    let next_cursor = (entries.len() as u32 == limit)
        .then(|| {
            entries
                .last()
                .map(|e| URL_SAFE_NO_PAD.encode(format!("audit:{}", e.id)))
        })
        .flatten();
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id,
                "at": Timestamp::new(e.at),
                "key_name": e.key_name,
                "action": e.action,
                "job_id": e.job_id,
                "detail": e.detail.and_then(|d| serde_json::from_str::<Value>(&d).ok()),
            })
        })
        .collect();
    Ok(ok(json!({"entries": entries, "next_cursor": next_cursor})))
}
