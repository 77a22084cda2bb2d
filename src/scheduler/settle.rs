//! A `max_instances` skip caused only by other processes' runs waits a moment before it is
//! decided. Another process's run reads `running` in the file until that process writes its
//! outcome; after the file was locked for a while (another writer, a slow disk), the action may
//! have long finished while its outcome still waits for the lock. A claim that won the lock
//! first would record a spurious `skipped` for an occurrence that overlaps nothing. So such a
//! skip is deferred for up to [`OTHERS_SETTLE`]: the job stays due (its `next_run_at` is left
//! alone) and the next passes look again; a run of another process that really is still going
//! is still there afterwards, and the skip is recorded then.
//!
//! This process's own runs need no wait: they are counted from memory (`InFlight`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest a skip caused by other processes' runs is deferred, per episode: long enough for an
/// outcome queued behind a released lock to be written, short enough that a genuinely long run
/// elsewhere delays the `skipped` row by no more than this.
pub const OTHERS_SETTLE: Duration = Duration::from_secs(1);

/// Since when each job has had its skip deferred, and when it was last deferred.
#[derive(Default)]
pub(super) struct Settling {
    since: Mutex<HashMap<String, (Instant, Instant)>>,
}

impl Settling {
    /// Whether the skip of `job_id` should still wait; the first call starts its episode. An
    /// episode not deferred for [`OTHERS_SETTLE`] has lapsed (this process stopped claiming the
    /// job: another process did, or its passes failed), and the next call starts a new one: an
    /// episode begun long ago must not turn a fresh wait into an immediate skip.
    pub(super) fn defer(&self, job_id: &str, now: Instant) -> bool {
        let Ok(mut since) = self.since.lock() else {
            return false;
        };
        let episode = since.entry(job_id.to_string()).or_insert((now, now));
        if now.duration_since(episode.1) > OTHERS_SETTLE {
            *episode = (now, now);
        }
        episode.1 = now;
        if now.duration_since(episode.0) < OTHERS_SETTLE {
            return true;
        }
        since.remove(job_id);
        false
    }

    /// Ends the episode of `job_id` (its claim no longer skips because of others).
    pub(super) fn settled(&self, job_id: &str) {
        if let Ok(mut since) = self.since.lock()
            && !since.is_empty()
        {
            since.remove(job_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_waits_at_most_the_settle_time_then_a_new_episode_starts() {
        let settling = Settling::default();
        let t0 = Instant::now();
        assert!(settling.defer("j", t0));
        assert!(settling.defer("j", t0 + OTHERS_SETTLE / 2));
        assert!(!settling.defer("j", t0 + OTHERS_SETTLE));
        // The skip was decided: the next one waits again.
        assert!(settling.defer("j", t0 + OTHERS_SETTLE * 2));
        settling.settled("j");
        assert!(settling.defer("j", t0 + OTHERS_SETTLE * 5));
        assert!(settling.defer("other", t0 + OTHERS_SETTLE * 5));
    }

    #[test]
    fn an_episode_left_alone_longer_than_the_settle_time_starts_anew() {
        // Found by the connection-cut test of several nodes (tests/api/nodes.rs): a node that
        // deferred a job, then stopped claiming it while another node did, skipped at once
        // when it met the job again, its old episode being more than the settle time old.
        let settling = Settling::default();
        let t0 = Instant::now();
        assert!(settling.defer("j", t0));
        let later = t0 + OTHERS_SETTLE * 3;
        assert!(settling.defer("j", later), "a lapsed episode starts again");
        assert!(settling.defer("j", later + OTHERS_SETTLE / 2));
        assert!(!settling.defer("j", later + OTHERS_SETTLE));
    }
}
