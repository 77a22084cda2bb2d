//! How long the scheduler loop pauses after failed passes: briefly after one failure, whose
//! commonest cause (a lost PostgreSQL connection) the next pass cures, doubling while the
//! failures go on. Pure: no clock, no store.

use std::time::Duration;

/// How long the loop waits after a first failed pass (for a reason other than a busy
/// database) before trying again. Short: the commonest cause on PostgreSQL is a connection
/// lost with the pass (a node cut off, the server restarted), and the next pass, on a new
/// connection, succeeds; every occurrence due meanwhile is late by this pause.
const FIRST_FAILED_PASS_PAUSE: Duration = Duration::from_millis(50);

/// The longest pause between failed passes: the pause doubles with each failure in a row up to
/// this, so a lasting cause (disk full, file gone, server down) does not flood the log, and the
/// loop resumes within this of the cause going away. (While a PostgreSQL server cannot be
/// reached, each pass also waits out the pool's connect timeout first.)
const FAILED_PASS_PAUSE: Duration = Duration::from_secs(1);

/// The pause after the `failures`-th failed pass in a row (the first is 1).
pub(super) fn failed_pass_pause(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_FAILED_PASS_PAUSE
        .saturating_mul(1 << doublings)
        .min(FAILED_PASS_PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_from_50_ms_with_each_failure_in_a_row_up_to_1_s() {
        let cases = [
            (1, 50),
            (2, 100),
            (3, 200),
            (4, 400),
            (5, 800),
            (6, 1_000),
            (7, 1_000),
            (u32::MAX, 1_000),
        ];
        for (failures, ms) in cases {
            assert_eq!(
                failed_pass_pause(failures),
                Duration::from_millis(ms),
                "after {failures} failures"
            );
        }
        assert_eq!(failed_pass_pause(6), FAILED_PASS_PAUSE);
    }
}
