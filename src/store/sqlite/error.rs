//! How SQLite's failures become [`StoreError`]s: result codes to the cases the API and an
//! operator tell apart (busy, read-only, full, not a database, a migration edited).

use std::path::Path;

use crate::store::StoreError;

/// SQLite result codes we tell apart (primary codes; extended codes share the low byte).
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_READONLY: i64 = 8;
const SQLITE_IOERR: i64 = 10;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_NOTADB: i64 = 26;

impl StoreError {
    /// Classifies an error met while opening `path`.
    pub(crate) fn from_open(path: &Path, error: sqlx::Error) -> StoreError {
        match primary_code(&error) {
            Some(SQLITE_NOTADB) => StoreError::NotADatabase {
                path: path.to_path_buf(),
            },
            Some(SQLITE_CANTOPEN)
            | Some(SQLITE_IOERR)
            | Some(SQLITE_READONLY)
            | Some(SQLITE_CORRUPT) => StoreError::Open {
                path: path.to_path_buf(),
                reason: database_message(&error),
            },
            _ => match error {
                sqlx::Error::Io(io) => StoreError::Open {
                    path: path.to_path_buf(),
                    reason: io.to_string(),
                },
                other => StoreError::from(other),
            },
        }
    }

    /// Classifies a migration failure into the cases an operator must act on.
    pub(crate) fn from_migrate(error: sqlx::migrate::MigrateError) -> StoreError {
        use sqlx::migrate::MigrateError as M;
        match error {
            M::VersionMissing(v) => StoreError::SchemaTooNew(v),
            M::VersionMismatch(v) => StoreError::MigrationEdited(v),
            M::Execute(e) => StoreError::from(e),
            M::ExecuteMigration(e, version) => StoreError::MigrationFailed {
                version,
                description: super::MIGRATOR
                    .iter()
                    .find(|m| m.version == version)
                    .map(|m| m.description.to_string())
                    .unwrap_or_default(),
                reason: database_message(&e),
            },
            other => StoreError::Migrate(other),
        }
    }
}

/// Classifies a failure of a statement on SQLite.
pub(crate) fn classify(error: sqlx::Error) -> StoreError {
    match primary_code(&error) {
        Some(SQLITE_BUSY) | Some(SQLITE_LOCKED) => StoreError::Busy,
        Some(SQLITE_READONLY) => StoreError::ReadOnly,
        Some(SQLITE_FULL) => StoreError::Full,
        Some(SQLITE_CANTOPEN) | Some(SQLITE_IOERR) => {
            StoreError::Unavailable(database_message(&error))
        }
        _ => match error {
            sqlx::Error::PoolTimedOut => StoreError::Busy,
            other => StoreError::Database(other),
        },
    }
}

/// The primary SQLite result code of an error from the SQLite driver (`None` for another
/// driver's error, whose codes mean something else).
fn primary_code(error: &sqlx::Error) -> Option<i64> {
    let db = error.as_database_error()?;
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    let code = db.code()?;
    code.parse::<i64>().ok().map(|c| c & 0xff)
}

fn database_message(error: &sqlx::Error) -> String {
    match error.as_database_error() {
        Some(db) => db.message().to_string(),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_errors_map_to_operator_cases() {
        use sqlx::migrate::MigrateError as M;
        assert!(matches!(
            StoreError::from_migrate(M::VersionMissing(7)),
            StoreError::SchemaTooNew(7)
        ));
        assert!(matches!(
            StoreError::from_migrate(M::VersionMismatch(3)),
            StoreError::MigrationEdited(3)
        ));
        assert!(
            StoreError::from_migrate(M::VersionMissing(7))
                .to_string()
                .contains("upgrade schedlite")
        );
    }
}
