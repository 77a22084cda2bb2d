//! How a driver's failure becomes a [`StoreError`]: each engine's codes mapped to the cases the
//! API and an operator tell apart (busy, read-only, full, unavailable). The error carries its
//! engine (sqlx's database error downcasts to the driver's type), so one `From` serves both
//! backends and `?` works the same on each.

use super::StoreError;

/// SQLite result codes we tell apart (primary codes; extended codes share the low byte).
mod sqlite_codes {
    pub const BUSY: i64 = 5;
    pub const LOCKED: i64 = 6;
    pub const READONLY: i64 = 8;
    pub const IOERR: i64 = 10;
    pub const FULL: i64 = 13;
    pub const CANTOPEN: i64 = 14;
}

/// Classifies a failure of a statement on either engine.
pub(crate) fn classify(error: sqlx::Error) -> StoreError {
    if let Some(code) = sqlite_primary_code(&error) {
        use sqlite_codes::*;
        return match code {
            BUSY | LOCKED => StoreError::Busy,
            READONLY => StoreError::ReadOnly,
            FULL => StoreError::Full,
            CANTOPEN | IOERR => StoreError::Unavailable(database_message(&error)),
            _ => StoreError::Database(error),
        };
    }
    if let Some(state) = postgres_sqlstate(&error) {
        return classify_sqlstate(&state, error);
    }
    match error {
        // Every pooled connection is held by a slow statement: a wait, not a failure.
        sqlx::Error::PoolTimedOut => StoreError::Busy,
        // A connection that broke or could not be made (a PostgreSQL server restarting, a
        // network cut): the database is unreachable for now, and reconnecting may mend it.
        sqlx::Error::Io(ref io) => StoreError::Unavailable(io.to_string()),
        sqlx::Error::Tls(ref tls) => StoreError::Unavailable(tls.to_string()),
        sqlx::Error::PoolClosed => StoreError::Unavailable("the connection pool is closed".into()),
        sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable("the database connection's worker stopped".into())
        }
        other => StoreError::Database(other),
    }
}

/// PostgreSQL's SQLSTATE classes and codes that are not bugs: the server going away or
/// refusing for now, lock waits, full disks, read-only standbys.
fn classify_sqlstate(state: &str, error: sqlx::Error) -> StoreError {
    match state {
        // 53100 disk_full; 53200 out_of_memory and 53300 too_many_connections are waits.
        "53100" => StoreError::Full,
        "53200" | "53300" | "55P03" | "40001" | "40P01" => StoreError::Busy,
        // 25006 read_only_sql_transaction: a standby or default_transaction_read_only.
        "25006" => StoreError::ReadOnly,
        // Class 08 connection exception; 57P01..57P03 admin/crash shutdown, cannot connect now.
        s if s.starts_with("08") || matches!(s, "57P01" | "57P02" | "57P03") => {
            StoreError::Unavailable(database_message(&error))
        }
        _ => StoreError::Database(error),
    }
}

/// Classifies a migration failure of `migrator` into the cases an operator must act on.
pub fn from_migrate(
    error: sqlx::migrate::MigrateError,
    migrator: &sqlx::migrate::Migrator,
) -> StoreError {
    use sqlx::migrate::MigrateError as M;
    match error {
        M::VersionMissing(v) => StoreError::SchemaTooNew(v),
        M::VersionMismatch(v) => StoreError::MigrationEdited(v),
        M::Execute(e) => StoreError::from(e),
        M::ExecuteMigration(e, version) => StoreError::MigrationFailed {
            version,
            description: migrator
                .iter()
                .find(|m| m.version == version)
                .map(|m| m.description.to_string())
                .unwrap_or_default(),
            reason: database_message(&e),
        },
        other => StoreError::Migrate(other),
    }
}

/// The primary SQLite result code of an error from the SQLite driver (`None` for another
/// driver's error, whose codes mean something else).
pub fn sqlite_primary_code(error: &sqlx::Error) -> Option<i64> {
    let db = error.as_database_error()?;
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    let code = db.code()?;
    code.parse::<i64>().ok().map(|c| c & 0xff)
}

/// The SQLSTATE of an error from the PostgreSQL driver.
pub fn postgres_sqlstate(error: &sqlx::Error) -> Option<String> {
    let db = error.as_database_error()?;
    let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    Some(pg.code().to_string())
}

/// The database's own message, or the driver's description of the failure.
pub fn database_message(error: &sqlx::Error) -> String {
    match error.as_database_error() {
        Some(db) => db.message().to_string(),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_unavailable_not_bugs() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        assert!(matches!(
            classify(sqlx::Error::Io(io)),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            classify(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            classify(sqlx::Error::RowNotFound),
            StoreError::Database(_)
        ));
    }
}
