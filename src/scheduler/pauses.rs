//! The end of timed pauses (DESIGN.md, *Job health, alerts, pause, skip, catch-up*): every
//! serving process looks once a second (with its heartbeat) for pauses whose end has come and
//! resumes those jobs, each with its next run computed from the pause's end, so the
//! occurrences that fell inside the pause are neither run nor recorded (no burst). The store's
//! compare-and-set (`Store::end_pause`) makes each pause end once, audited once, however many
//! processes or nodes look at the same moment.

use chrono::{DateTime, Utc};

use super::Scheduler;
use crate::schedule::Trigger;
use crate::store::StoreError;
use crate::timestamp::Timestamp;
use schedlite_core::store::pauses::PAUSE_ENDS_PER_LOOK;

/// The job's first occurrence at or after `until` (an occurrence exactly at the end of the pause
/// runs), or `None` when the trigger has none left.
pub fn next_run_from(trigger: &Trigger, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
    trigger
        .next_fire_after(until - chrono::Duration::milliseconds(1))
        .map(|f| Timestamp::new(f.at).get())
}

impl Scheduler {
    /// Resumes the jobs whose timed pause ended by `now`; returns how many this process
    /// resumed (those another process resumed first are not counted).
    pub(super) async fn end_timed_pauses(&self, now: DateTime<Utc>) -> Result<u32, StoreError> {
        let jobs = self.store.ended_pauses(now, PAUSE_ENDS_PER_LOOK).await?;
        let mut ended = 0;
        for job in jobs {
            let Some(until) = job.pause.as_ref().and_then(|p| p.until) else {
                // A hand edit left `paused_until` without who paused it: not ours to guess.
                tracing::warn!(job.id = %job.id, "a timed pause has no pause note; resume it by hand");
                continue;
            };
            let next = next_run_from(&job.trigger, until);
            if self.store.end_pause(&job.id, until, next, now).await? {
                tracing::info!(job.id = %job.id, until = %Timestamp::new(until), "timed pause ended");
                ended += 1;
            }
        }
        if ended > 0 {
            self.handle.wake();
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn the_next_run_after_a_pause_is_the_first_occurrence_from_its_end() {
        let every_ten = Trigger::interval(10, at(0), None).expect("valid");
        assert_eq!(
            next_run_from(&every_ten, at(20)),
            Some(at(20)),
            "an occurrence at the end runs"
        );
        assert_eq!(next_run_from(&every_ten, at(21)), Some(at(30)));
        let once = Trigger::Date { run_at: at(5) };
        assert_eq!(
            next_run_from(&once, at(6)),
            None,
            "a date passed during the pause is gone"
        );
    }
}
