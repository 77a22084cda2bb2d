//! How SQLite's failures become [`StoreError`]s: result codes to the cases the API and an
//! operator tell apart when opening a file (not a database, cannot open). Statement failures
//! are classified in `schedlite_core::store::classify`, shared with PostgreSQL.

use std::path::Path;

use crate::store::StoreError;
use schedlite_core::store::classify::{database_message, sqlite_primary_code as primary_code};

/// SQLite result codes we tell apart (primary codes; extended codes share the low byte).
const SQLITE_READONLY: i64 = 8;
const SQLITE_IOERR: i64 = 10;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_NOTADB: i64 = 26;

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

#[cfg(test)]
mod tests {
    use super::*;
    use schedlite_core::store::classify::from_migrate;

    fn from_migrate_(e: sqlx::migrate::MigrateError) -> StoreError {
        from_migrate(e, &super::super::MIGRATOR)
    }

    #[test]
    fn migrate_errors_map_to_operator_cases() {
        use sqlx::migrate::MigrateError as M;
        assert!(matches!(
            from_migrate_(M::VersionMissing(7)),
            StoreError::SchemaTooNew(7)
        ));
        assert!(matches!(
            from_migrate_(M::VersionMismatch(3)),
            StoreError::MigrationEdited(3)
        ));
        assert!(
            from_migrate_(M::VersionMissing(7))
                .to_string()
                .contains("upgrade schedlite")
        );
    }
}
