//! Write transactions on our own terms. sqlx's `Transaction` keeps a depth counter that goes
//! wrong when SQLite rolls a transaction back by itself (it does on SQLITE_FULL and some I/O
//! errors): the explicit ROLLBACK then fails, the counter stays at 1, and the pooled connection
//! refuses every later `BEGIN`. Here BEGIN/COMMIT/ROLLBACK are plain statements, and a
//! connection whose transaction could not be ended cleanly is closed instead of returned to the
//! pool (closing rolls back whatever is open).

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection};

use super::SqliteStore;
use crate::store::StoreError;

/// A `BEGIN IMMEDIATE` transaction: the write lock is taken at once, so two writers never
/// deadlock upgrading read locks. Dereferences to the connection for queries.
pub(super) struct WriteTx {
    conn: PoolConnection<Sqlite>,
    open: bool,
}

impl SqliteStore {
    /// Starts a write transaction for an API change.
    pub(super) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        self.check_file()?;
        begin_on(&self.writer).await
    }

    /// Starts a write transaction for the scheduler's own bookkeeping (claims, recovery).
    pub(super) async fn begin_loop_write(&self) -> Result<WriteTx, StoreError> {
        self.check_file()?;
        begin_on(&self.loop_writer).await
    }
}

async fn begin_on(pool: &sqlx::SqlitePool) -> Result<WriteTx, StoreError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    Ok(WriteTx { conn, open: true })
}

impl WriteTx {
    /// Commits; on failure rolls back and returns the commit's error.
    pub(super) async fn commit(mut self) -> Result<(), StoreError> {
        match sqlx::query("COMMIT").execute(&mut *self.conn).await {
            Ok(_) => {
                self.open = false;
                Ok(())
            }
            Err(e) => {
                if sqlx::query("ROLLBACK")
                    .execute(&mut *self.conn)
                    .await
                    .is_ok()
                    || !in_transaction(&mut self.conn).await
                {
                    self.open = false;
                }
                Err(StoreError::from(e))
            }
        }
    }
}

/// Whether the connection still has a transaction open (SQLite may have ended it by itself).
async fn in_transaction(conn: &mut SqliteConnection) -> bool {
    // `BEGIN` fails exactly when a transaction is open; a successful probe is ended at once.
    match sqlx::query("BEGIN").execute(&mut *conn).await {
        Ok(_) => sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err(),
        Err(_) => true,
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.open {
            // Not committed (an error or an early return): closing the connection rolls the
            // transaction back, and a half-finished connection never goes back to the pool.
            self.conn.close_on_drop();
        }
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}
