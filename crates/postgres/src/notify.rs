//! Waking every node when any node changes a job: the change's transaction notifies
//! [`CHANGES_CHANNEL`] (delivered only if it commits), and each node listens on its own
//! connection and wakes its loop. Without it a job created on node A due in 200 ms would start
//! late on node B, whose loop sleeps until the next instant it knew of.

use std::sync::Arc;
use std::time::Duration;

use schedlite_core::store::StoreError;
use sqlx::PgConnection;
use sqlx::postgres::PgListener;

use super::PgStore;
use super::losses::LossMark;

/// The channel job changes are notified on; the payload is the job's id.
pub const CHANGES_CHANNEL: &str = "schedlite_jobs";

/// How long the listener waits before connecting again after losing its connection.
const RELISTEN_DELAY: Duration = Duration::from_millis(500);

/// Notifies the other nodes, in the change's own transaction, that job `id` changed.
pub(crate) async fn job_changed(conn: &mut PgConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query!("SELECT pg_notify($1, $2) AS sent", CHANGES_CHANNEL, id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl PgStore {
    /// Calls `on_change` whenever a job changes through any node, until the store is closed;
    /// also after the listening connection was lost and made again (notifications sent in
    /// between are gone, so the caller must look afresh). The listener has a connection of its
    /// own, outside the pool, so that closing the pool never waits for it.
    pub fn watch_changes(&self, on_change: Arc<dyn Fn() + Send + Sync>) {
        let url = self.url.clone();
        let losses = self.losses.clone();
        let mut closing = self.closing.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = closing.changed() => return,
                    () = listen(&url, on_change.as_ref(), &losses) => {}
                }
                tokio::select! {
                    _ = closing.changed() => return,
                    () = tokio::time::sleep(RELISTEN_DELAY) => {}
                }
            }
        });
    }
}

/// Listens until the connection fails, calling `on_change` for each notification and once
/// when listening begins; a lost connection is marked in `losses`, so that the pool replaces
/// its connections of the same age.
async fn listen(url: &str, on_change: &(dyn Fn() + Send + Sync), losses: &LossMark) {
    let mut listener = match PgListener::connect(url).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::debug!(error = %e, "cannot listen for job changes yet");
            return;
        }
    };
    if let Err(e) = listener.listen(CHANGES_CHANNEL).await {
        tracing::debug!(error = %e, "cannot listen for job changes yet");
        return;
    }
    on_change();
    loop {
        // `None`: the connection was lost; something may have been missed meanwhile.
        match listener.try_recv().await {
            Ok(Some(_)) => on_change(),
            Ok(None) => {
                losses.mark();
                on_change();
            }
            Err(e) => {
                tracing::debug!(error = %e, "lost the job change listener");
                losses.mark();
                on_change();
                return;
            }
        }
    }
}
