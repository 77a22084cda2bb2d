//! Online backup of the SQLite file with `VACUUM INTO`: one read transaction on the live file,
//! so the copy is a consistent snapshot however many processes keep writing meanwhile, and it
//! is written compacted and complete (no WAL beside it) — a plain file that opens as it is.
//! Turned down: SQLite's page-by-page backup API (not exposed by sqlx, and restarted from the
//! beginning by every write of another connection during a busy burst).

use std::path::Path;

use super::SqliteStore;
use crate::store::StoreError;

impl SqliteStore {
    /// Writes a consistent copy of the database to `dest`, which must not exist; returns the
    /// copy's size in bytes. A copy that could not be finished is removed.
    pub async fn backup_to(&self, dest: &Path) -> Result<u64, StoreError> {
        let refuse = |reason: &str| StoreError::Backup {
            path: dest.to_path_buf(),
            reason: reason.to_string(),
        };
        if dest.exists() {
            return Err(refuse("it already exists; choose a new path"));
        }
        match dest.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
                return Err(refuse("its directory does not exist"));
            }
            _ => {}
        }
        let target = dest.to_string_lossy().to_string();
        let copied = sqlx::query!("VACUUM INTO ?", target)
            .execute(&self.pool)
            .await;
        match copied {
            Ok(_) => std::fs::metadata(dest)
                .map(|m| m.len())
                .map_err(|e| refuse(&e.to_string())),
            Err(e) => {
                let _ = std::fs::remove_file(dest);
                let text = e.to_string();
                Err(match StoreError::from(e) {
                    e @ (StoreError::Full | StoreError::Busy) => e,
                    _ => refuse(&text),
                })
            }
        }
    }
}
