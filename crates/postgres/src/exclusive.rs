//! PostgreSQL: who holds the exclusive groups a claim touches (module `model::exclusive`).
//!
//! Nodes claim different job rows at the same time, so two of them could each find a group
//! free and start a run in it. Before it looks, a claim therefore takes a transaction-scoped
//! advisory lock per group (a hash of its name; a collision only makes two groups wait for
//! each other). The first attempts of a claim wait for their locks, taken in name order, so
//! two claims never wait on each other in a circle; approved catch-up stretches, decided later
//! in the same transaction, only try theirs (a group another claim is deciding waits for a
//! later claim), and retries need none: a pending retry holds its group.

use schedlite_core::model::{Groups, Holder, Job};
use schedlite_core::store::StoreError;
use sqlx::PgConnection;

/// Calls a sqlx query macro on SQL given as pieces, where the bare name `NOT_WAITING` stands
/// for the condition that a row of `jobs` is not waiting for its exclusive group: the `wait`
/// policy leaves a job due while a run of its group is running or waiting to retry, and the
/// loop must not claim (or wake for) it over and over meanwhile. Pieces are joined with `+`,
/// the one way sqlx's macros take SQL that is not a single literal.
macro_rules! not_waiting {
    ($mac:ident!($ty:ident, [$($piece:tt)+] $(, $arg:expr)* $(,)?)) => {
        $crate::exclusive::not_waiting!(@munch $mac, [$ty,], [], [$($piece)+], [$($arg),*])
    };
    ($mac:ident!([$($piece:tt)+] $(, $arg:expr)* $(,)?)) => {
        $crate::exclusive::not_waiting!(@munch $mac, [], [], [$($piece)+], [$($arg),*])
    };
    (@munch $mac:ident, $lead:tt, [$($done:tt)*], [NOT_WAITING $($rest:tt)*], $args:tt) => {
        $crate::exclusive::not_waiting!(@munch $mac, $lead, [$($done)* +
            "NOT (coalesce(jobs.exclusive_policy = 'wait', false) AND EXISTS (
                 SELECT 1 FROM jobs AS g WHERE g.exclusive_group = jobs.exclusive_group
                 AND (EXISTS (SELECT 1 FROM job_runs AS r WHERE r.job_id = g.id AND r.status = 'running')
                      OR EXISTS (SELECT 1 FROM job_runs AS r
                                 WHERE r.job_id = g.id AND r.retry_at IS NOT NULL))))"
        ], [$($rest)*], $args)
    };
    (@munch $mac:ident, $lead:tt, [$($done:tt)*], [$sql:literal $($rest:tt)*], $args:tt) => {
        $crate::exclusive::not_waiting!(@munch $mac, $lead, [$($done)* + $sql], [$($rest)*], $args)
    };
    (@munch $mac:ident, [$($lead:tt)*], [+ $($done:tt)+], [], [$($arg:expr),*]) => {
        sqlx::$mac!($($lead)* $($done)+ $(, $arg)*)
    };
}
pub(crate) use not_waiting;

/// How a claim takes the lock of a group it has not looked at yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locking {
    /// Wait for it (a claim's first attempts, a manual run).
    Wait,
    /// Take it only if free; a group whose lock is taken counts as held ([`Holder::Locked`]).
    Try,
}

/// Locks the groups of `jobs` not yet in `groups` and looks up who holds them: a run of a job
/// of the group that is `running` (on any node) or waiting to be retried. Nothing is sent when
/// none of `jobs` is in a new group.
pub(crate) async fn find_holders(
    tx: &mut PgConnection,
    jobs: &[&Job],
    groups: &mut Groups,
    locking: Locking,
) -> Result<(), StoreError> {
    let mut wanted = groups.unknown(jobs);
    if wanted.is_empty() {
        return Ok(());
    }
    match locking {
        Locking::Wait => {
            sqlx::query!(
                "SELECT count(pg_advisory_xact_lock(hashtextextended('schedlite.exclusive:' || n, 0)))
                 FROM unnest($1::text[]) AS n",
                &wanted
            )
            .fetch_one(&mut *tx)
            .await?;
        }
        Locking::Try => {
            let taken = sqlx::query!(
                r#"SELECT n AS "name!",
                          pg_try_advisory_xact_lock(hashtextextended('schedlite.exclusive:' || n, 0))
                              AS "got!"
                   FROM unnest($1::text[]) AS n"#,
                &wanted
            )
            .fetch_all(&mut *tx)
            .await?;
            for row in taken.into_iter().filter(|r| !r.got) {
                groups.found(&row.name, Some(Holder::Locked));
            }
            wanted.retain(|g| !groups.knows(g));
        }
    }
    let held = sqlx::query!(
        r#"SELECT j.exclusive_group AS "group!", h.job_id AS "job_id!", h.retrying AS "retrying!"
           FROM (SELECT job_id, false AS retrying FROM job_runs WHERE status = 'running'
                   AND job_id IN (SELECT id FROM jobs WHERE exclusive_group = ANY($1))
                 UNION ALL
                 SELECT job_id, true FROM job_runs WHERE retry_at IS NOT NULL
                   AND job_id IN (SELECT id FROM jobs WHERE exclusive_group = ANY($1))) AS h
           JOIN jobs AS j ON j.id = h.job_id"#,
        &wanted
    )
    .fetch_all(&mut *tx)
    .await?;
    let held = held.into_iter().map(|h| (h.group, h.job_id, h.retrying));
    groups.record(&wanted, held);
    Ok(())
}
