//! Write transactions on our own terms. sqlx's `Transaction` keeps a depth counter that goes
//! wrong when SQLite rolls a transaction back by itself (it does on SQLITE_FULL and some I/O
//! errors): the explicit ROLLBACK then fails, the counter stays at 1, and the pooled connection
//! refuses every later `BEGIN`. Here BEGIN/COMMIT/ROLLBACK are plain statements.
//!
//! A transaction ends one of three ways. [`WriteTx::commit`] keeps the changes;
//! [`WriteTx::rollback`] is the expected way out of a write that is refused (a duplicate id,
//! nothing to change) — both hand the connection back to the pool. Only a transaction that
//! could not be ended (the ROLLBACK failed and one may still be open), or one dropped on an
//! error path, closes its connection (closing rolls back whatever is open). Closing is the
//! exception because the pools never open connections after start (see `SqliteStore::open`):
//! a connection closed is one the pool has to replace, and a new one opened after the file
//! was moved or replaced is what crashes readers with SIGBUS.

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
    // The connection is guarded before BEGIN is sent: a caller that gives up while BEGIN waits
    // for the lock (a request past its deadline, a client gone) drops the guard, and the
    // connection is closed rather than returned to the pool where that BEGIN could still
    // complete and leave every later write "within a transaction".
    let mut tx = WriteTx {
        conn: pool.acquire().await?,
        open: true,
    };
    if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *tx.conn).await {
        // BEGIN failed (busy, read-only): no transaction is open, the connection is reusable.
        tx.open = false;
        return Err(StoreError::from(e));
    }
    Ok(tx)
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

impl WriteTx {
    /// Rolls back: the expected end of a write that changed its mind (the caller returns a
    /// refusal, not a storage failure). The connection goes back to the pool; it is closed
    /// only when ROLLBACK fails and a transaction may still be open.
    pub(super) async fn rollback(mut self) -> Result<(), StoreError> {
        let rolled_back = sqlx::query("ROLLBACK").execute(&mut *self.conn).await;
        if rolled_back.is_ok() || !in_transaction(&mut self.conn).await {
            self.open = false;
        }
        rolled_back.map(|_| ()).map_err(StoreError::from)
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
            // Neither committed nor rolled back (an error path, or a failed ROLLBACK): closing
            // the connection rolls the transaction back, and a connection in an unknown state
            // never goes back to the pool.
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

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::actions::Action;
    use crate::model::{JobSettings, NewJob, Role};
    use crate::schedule::Trigger;

    /// Marks the writer pool's one connection with a temp table (temp tables live and die with
    /// their connection): while the mark is there, the pool still holds that connection.
    async fn mark_writer(store: &SqliteStore) {
        sqlx::query("CREATE TEMP TABLE original_connection (x)")
            .execute(&store.writer)
            .await
            .expect("mark the writer connection");
    }

    async fn writer_is_original(store: &SqliteStore) -> bool {
        sqlx::query("SELECT count(*) FROM temp.original_connection")
            .execute(&store.writer)
            .await
            .is_ok()
    }

    /// Expected refusals (a duplicate job id, a manual run of a job that does not exist, an
    /// unchanged provisioned key) roll back and return the writer's connection to the pool:
    /// the pool never has to open a new one, which after a file swap could crash readers.
    #[tokio::test]
    async fn expected_rollbacks_keep_the_writer_connection() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open(&dir.path().join("t.db"), true)
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        let now = Utc::now();
        let hash = "a".repeat(64);
        let job = NewJob {
            id: "dup".into(),
            name: None,
            trigger: Trigger::Date { run_at: now },
            action: Action::Noop,
            settings: JobSettings::default(),
            paused: false,
            expect: None,
            history: None,
            retry: Default::default(),
            exclusive: None,
        };
        store
            .insert_job(&job, Some(now), now, "k")
            .await
            .expect("insert");
        store
            .provision_key("ops", Role::Admin, &hash, now)
            .await
            .expect("provision");
        mark_writer(&store).await;

        for _ in 0..50 {
            let refused = store.insert_job(&job, Some(now), now, "k").await;
            assert!(matches!(refused, Err(StoreError::JobExists(ref id)) if id == "dup"));
            let missing = store.insert_manual_run("nope", now, "me", "k").await;
            assert!(matches!(missing, Ok(None)), "{missing:?}");
            let changed = store.provision_key("ops", Role::Admin, &hash, now).await;
            assert!(matches!(changed, Ok(false)), "{changed:?}");
        }

        assert_eq!(store.writer.size(), 1);
        assert!(
            writer_is_original(&store).await,
            "the writer's connection was closed and replaced"
        );
        // And the connection is usable: not left inside a transaction.
        store
            .insert_job(
                &NewJob {
                    id: "after".into(),
                    ..job.clone()
                },
                Some(now),
                now,
                "k",
            )
            .await
            .expect("insert after the storm");
    }
}
