//! `POST /admin/backup`: a consistent copy of the database while the service keeps serving and
//! firing (DESIGN.md, *Command line*: `schedlite backup`). Admin only. The copy goes into the
//! server's backup directory under a name the server chooses, so an API key can never make the
//! server write, or overwrite, a path of the caller's choosing.

use std::path::PathBuf;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Admin;
use super::openapi::{Envelope, ErrorBody};
use super::responses::AdminOnly;
use super::{ApiError, AppState, ok};
use crate::store::StoreError;
use crate::timestamp::Timestamp;

/// Routes of this module, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_backup))
}

/// A backup just written.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct BackupResponse {
    /// Where the copy is, on the server's disk.
    path: String,
    /// Its size in bytes.
    bytes: u64,
    /// When the copy's snapshot was taken.
    at: Timestamp,
}

#[utoipa::path(post, path = "/admin/backup", tag = "admin",
    responses((status = 201, description = "The copy was written", body = Envelope<BackupResponse>),
        AdminOnly,
        (status = 503, description = "BACKUP_FAILED, DATABASE_BUSY or DATABASE_UNAVAILABLE",
            body = ErrorBody)))]
/// Writes a consistent copy of the database into the backup directory (`--backup-dir`,
/// default `backups/` beside the file) as `schedlite-<UTC instant>.db`. Restore: stop the
/// service, put the copy in place of the file, start it.
async fn create_backup(
    Admin(who): Admin,
    State(state): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    let dir = state.config.backup_dir();
    std::fs::create_dir_all(&dir).map_err(|e| {
        ApiError::Store(StoreError::Backup {
            path: dir.clone(),
            reason: format!("cannot create the backup directory: {e}"),
        })
    })?;
    let at = chrono::Utc::now();
    let path: PathBuf = dir.join(format!("schedlite-{}.db", at.format("%Y%m%dT%H%M%S%.3fZ")));
    let bytes = state.store.backup_to(&path).await?;
    tracing::info!(key = %who.name, path = %path.display(), bytes, "backup written");
    Ok((
        StatusCode::CREATED,
        ok(BackupResponse {
            path: path.display().to_string(),
            bytes,
            at: Timestamp::new(at),
        }),
    ))
}
