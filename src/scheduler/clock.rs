//! Clock steps (DESIGN.md, *Definitions you can trust*: clock jumps). The wall clock can step
//! (an NTP correction, an operator, a VM resumed), the monotonic clock cannot: comparing how far
//! each moved between two passes of the loop tells a step from time passing. A step is logged,
//! counted and the loop re-plans from the new time at once; the firing rules need nothing more,
//! because an occurrence is claimed once by its unique key and `next_run_at` (a step back never
//! fires anything twice) and a step forward is downtime (grace, catch-up). Pure: the caller
//! passes both clocks, so tests inject them.

use std::time::Instant;

use chrono::{DateTime, Utc};

/// A wall clock that moved more than this beyond the monotonic one between two looks stepped.
/// Smaller differences are a slow pass or scheduling noise, not a step.
pub const STEP_THRESHOLD_MS: i64 = 1000;

/// A step of the wall clock: positive forward, negative back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// By how much, in milliseconds.
    pub millis: i64,
}

impl Step {
    /// `forward` or `backward`: the metric's label.
    pub fn direction(self) -> &'static str {
        if self.millis >= 0 {
            "forward"
        } else {
            "backward"
        }
    }
}

/// Both clocks as last seen.
#[derive(Debug, Clone, Copy)]
pub struct ClockWatch {
    mono: Instant,
    wall: DateTime<Utc>,
}

impl ClockWatch {
    /// Starts watching from this look at both clocks.
    pub fn new(mono: Instant, wall: DateTime<Utc>) -> ClockWatch {
        ClockWatch { mono, wall }
    }

    /// Looks at both clocks again: the step since the last look, if the wall clock moved more
    /// than [`STEP_THRESHOLD_MS`] beyond (or behind) the monotonic one.
    pub fn observe(&mut self, mono: Instant, wall: DateTime<Utc>) -> Option<Step> {
        let elapsed = i64::try_from(mono.saturating_duration_since(self.mono).as_millis())
            .unwrap_or(i64::MAX);
        let moved = (wall - self.wall).num_milliseconds();
        *self = ClockWatch { mono, wall };
        let millis = moved.saturating_sub(elapsed);
        (millis.abs() > STEP_THRESHOLD_MS).then_some(Step { millis })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    fn wall(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_800_000_000_000 + ms)
            .single()
            .expect("valid")
    }

    /// Both clocks advance together, however far: no step. A second of difference is noise.
    #[test]
    fn time_passing_is_not_a_step() {
        let t0 = Instant::now();
        let mut watch = ClockWatch::new(t0, wall(0));
        assert_eq!(
            watch.observe(t0 + Duration::from_secs(30), wall(30_000)),
            None
        );
        assert_eq!(
            watch.observe(t0 + Duration::from_secs(31), wall(32_000)),
            None,
            "1 s of difference is the threshold, not beyond it"
        );
    }

    /// A wall clock 5 s ahead of the monotonic is a forward step; set 3 s back, a backward one;
    /// each is seen once, and the next look compares with the stepped clock.
    #[test]
    fn steps_are_seen_once_each_way() {
        let t0 = Instant::now();
        let mut watch = ClockWatch::new(t0, wall(0));
        let forward = watch.observe(t0 + Duration::from_secs(1), wall(6_000));
        assert_eq!(forward, Some(Step { millis: 5_000 }));
        assert_eq!(forward.map(Step::direction), Some("forward"));
        assert_eq!(
            watch.observe(t0 + Duration::from_secs(2), wall(7_000)),
            None
        );
        let back = watch.observe(t0 + Duration::from_secs(3), wall(5_000));
        assert_eq!(back, Some(Step { millis: -3_000 }));
        assert_eq!(back.map(Step::direction), Some("backward"));
    }
}
