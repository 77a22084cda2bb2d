//! What to do with one due job at `now`: which occurrences run, which are missed (later than the
//! misfire grace), which are merged (coalesce), which are skipped (`max_instances`), and where
//! the next run lies. Pure: no IO, no clock; `now` is a parameter.

use chrono::{DateTime, Duration, Utc};

use crate::model::{CatchUp, CatchUpSpan, CatchUpState, ClaimPlan, JobSettings, SkipRequest, Span};
use crate::schedule::Trigger;
use crate::timestamp::Timestamp;

/// Most separate runs one claim starts for one job when coalescing is off; earlier
/// occurrences beyond it are recorded missed, with a reason naming this cap
/// (`OVERFLOW_REASON`): a catch-up storm is never what anyone wants. README.md, *Missed
/// occurrences and catch-up*, documents it.
pub const MAX_RUNS_PER_CLAIM: usize = 100;

/// Most occurrences walked one by one when counting a stretch of missed ones of a non-interval
/// trigger (a year of an every-second cron); beyond it the stretch is closed and the rest
/// counted on the next pass.
pub const MAX_WALK: u64 = 40_000_000;

fn ms(at: DateTime<Utc>) -> DateTime<Utc> {
    Timestamp::new(at).get()
}

/// The last instant the fixed-width text form can hold; a trigger whose next occurrence lies
/// beyond it is finished (the alternative, a 5-digit year, would break text ordering).
fn representable(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (chrono::Datelike::year(&at) <= 9999).then_some(at)
}

fn extend(span: &mut Option<Span>, at: DateTime<Utc>, count: i64, last: DateTime<Utc>) {
    match span {
        Some(s) => {
            s.last = last;
            s.count += count;
        }
        None => {
            *span = Some(Span {
                first: at,
                last,
                count,
            });
        }
    }
}

/// Decides what happens to the occurrences of a job from `next_run_at` up to `now`.
///
/// - An occurrence earlier than `now - misfire_grace_seconds` is missed; consecutive missed
///   ones form one span (one `missed` row, however many).
/// - Occurrences within grace run: once, as one span, with `coalesce`; otherwise each on its
///   own, at most [`MAX_RUNS_PER_CLAIM`]; the older ones are the `overflow` span, recorded
///   `missed` with their own reason.
/// - With `running` runs already going, only `max_instances - running` new runs start; the
///   others are skipped.
/// - `next_run_at` becomes the first occurrence after `now`, or `None` when the trigger ends.
pub fn plan(
    trigger: &Trigger,
    settings: &JobSettings,
    next_run_at: DateTime<Utc>,
    now: DateTime<Utc>,
    running: u32,
) -> ClaimPlan {
    let mut walk = walk_due(trigger, settings, next_run_at, now);
    let catch_up = catch_up(settings.catch_up, &mut walk);
    let (mut runs, overflow) = runs_within_grace(walk.within_span, walk.within);
    let available = settings.max_instances.saturating_sub(running) as usize;
    let skipped = if runs.len() > available {
        runs.split_off(available)
    } else {
        Vec::new()
    };
    ClaimPlan {
        missed: walk.missed,
        overflow,
        runs,
        skipped,
        next_run_at: walk.next.and_then(representable),
        catch_up,
        ..ClaimPlan::default()
    }
}

/// Applies the job's catch-up policy to a walk that found a stretch missed beyond grace:
/// `coalesce` leaves it missed; `none` adds the occurrences within grace to it (nothing late
/// runs); `ask` sends the stretch to the queue awaiting approval; `all` sends it to the queue
/// approved, with the occurrences within grace behind it, so that they run in order.
fn catch_up(policy: CatchUp, walk: &mut DueWalk) -> Option<CatchUpSpan> {
    let missed = walk.missed?;
    match policy {
        CatchUp::Coalesce => None,
        CatchUp::None => {
            fold_within(walk);
            None
        }
        CatchUp::Ask => {
            walk.missed = None;
            Some(CatchUpSpan {
                span: missed,
                state: CatchUpState::AwaitingApproval,
            })
        }
        CatchUp::All => {
            fold_within(walk);
            let span = walk.missed.take()?;
            Some(CatchUpSpan {
                span,
                state: CatchUpState::Approved,
            })
        }
    }
}

/// Moves the occurrences within grace into the missed span (they follow it in time), as one
/// stretch with it.
fn fold_within(walk: &mut DueWalk) {
    if let Some(span) = walk.within_span.take() {
        extend(&mut walk.missed, span.first, span.count, span.last);
    }
    for at in std::mem::take(&mut walk.within) {
        extend(&mut walk.missed, at, 1, at);
    }
}

/// The due occurrences of a job sorted by [`walk_due`]: missed beyond grace, within grace
/// (merged into one span with `coalesce`, one by one otherwise), and the next after `now`.
struct DueWalk {
    missed: Option<Span>,
    within: Vec<DateTime<Utc>>,
    within_span: Option<Span>,
    next: Option<DateTime<Utc>>,
}

/// Walks the occurrences from `next_run_at` up to `now`, sorting each into missed (earlier
/// than `now - misfire_grace_seconds`) or within grace; stops early after [`MAX_WALK`] missed
/// ones of a non-interval trigger, whose stretch the next pass goes on counting.
fn walk_due(
    trigger: &Trigger,
    settings: &JobSettings,
    next_run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DueWalk {
    let cutoff = now - Duration::seconds(i64::from(settings.misfire_grace_seconds));
    let mut walk = DueWalk {
        missed: None,
        within: Vec::new(),
        within_span: None,
        next: Some(ms(next_run_at)),
    };
    let mut walked: u64 = 0;
    while let Some(at) = walk.next {
        if at > now {
            break;
        }
        if at < cutoff {
            // Interval triggers jump over a whole stretch of missed occurrences at once.
            if let Trigger::Interval {
                seconds, end_at, ..
            } = trigger
            {
                let (n, last) = missed_interval_stretch(*seconds, *end_at, at, cutoff);
                extend(&mut walk.missed, at, n, last);
                walk.next = trigger.next_fire_after(last).map(|f| ms(f.at));
                continue;
            }
            extend(&mut walk.missed, at, 1, at);
            walked += 1;
            if walked >= MAX_WALK {
                walk.next = trigger.next_fire_after(at).map(|f| ms(f.at));
                break;
            }
        } else if settings.coalesce {
            extend(&mut walk.within_span, at, 1, at);
        } else {
            walk.within.push(at);
        }
        walk.next = trigger.next_fire_after(at).map(|f| ms(f.at));
    }
    walk
}

/// How many occurrences of an every-`seconds` trigger, from `at`, lie before `cutoff` (at
/// least one, none past `end_at`), and the last of them: counted, not walked, so a week of
/// downtime of an every-second job costs one division.
fn missed_interval_stretch(
    seconds: u64,
    end_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
    cutoff: DateTime<Utc>,
) -> (i64, DateTime<Utc>) {
    let step = Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX));
    let step_ms = step.num_milliseconds().max(1);
    let gap_ms = (cutoff - at).num_milliseconds();
    let mut n = (gap_ms + step_ms - 1) / step_ms; // occurrences in [at, cutoff)
    if let Some(end) = end_at {
        let to_end = (end - at).num_milliseconds() / step_ms + 1;
        n = n.min(to_end.max(1));
    }
    let n = n.max(1);
    (n, at + Duration::milliseconds(step_ms * (n - 1)))
}

/// The runs to start for the occurrences within grace: the coalesced span, or one run each,
/// at most [`MAX_RUNS_PER_CLAIM`], the older ones beyond it returned as the overflow span.
fn runs_within_grace(
    within_span: Option<Span>,
    mut within: Vec<DateTime<Utc>>,
) -> (Vec<Span>, Option<Span>) {
    if let Some(span) = within_span {
        return (vec![span], None);
    }
    let mut overflow = None;
    if within.len() > MAX_RUNS_PER_CLAIM {
        let excess = within.len() - MAX_RUNS_PER_CLAIM;
        for at in within.drain(..excess) {
            extend(&mut overflow, at, 1, at);
        }
    }
    let runs = within
        .into_iter()
        .map(|at| Span {
            first: at,
            last: at,
            count: 1,
        })
        .collect();
    (runs, overflow)
}

/// Applies a skip request (`POST /jobs/{id}/skip`) to a plan: the runs it would start, earliest
/// first, are recorded skipped on request instead while the request has occurrences left, each
/// using up as many as it stands for (a coalesced run of three uses three; the last one may
/// use fewer than it holds). Occurrences missed beyond grace use none: they were not going to
/// run. `max_instances` then applies to the runs that remain, as before.
pub fn apply_skip(mut decided: ClaimPlan, skip: Option<&SkipRequest>) -> ClaimPlan {
    let Some(skip) = skip else {
        return decided;
    };
    // When `max_instances` skipped some, the runs were exactly the ones that fitted.
    let fit = if decided.skipped.is_empty() {
        usize::MAX
    } else {
        decided.runs.len()
    };
    let mut left = i64::from(skip.count);
    let mut rest = Vec::new();
    // Runs then max_instances skips: time order, as `plan` split them.
    for span in decided.runs.drain(..).chain(decided.skipped.drain(..)) {
        if left > 0 {
            left -= span.count;
            decided.skipped_on_request.push(span);
        } else {
            rest.push(span);
        }
    }
    decided.skipped = rest.split_off(fit.min(rest.len()));
    decided.runs = rest;
    if !decided.skipped_on_request.is_empty() {
        decided.skips_left = Some(u32::try_from(left.max(0)).unwrap_or(0));
    }
    decided
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

    fn every_second() -> Trigger {
        Trigger::interval(1, at(0), None).expect("valid")
    }

    fn settings(grace: u32, coalesce: bool, max_instances: u32) -> JobSettings {
        JobSettings {
            misfire_grace_seconds: grace,
            coalesce,
            max_instances,
            jitter_seconds: 0,
            catch_up: CatchUp::Coalesce,
        }
    }

    #[test]
    fn on_time_occurrence_runs_once_and_advances() {
        let p = plan(&every_second(), &settings(60, true, 1), at(10), at(10), 0);
        assert_eq!(
            p.runs,
            vec![Span {
                first: at(10),
                last: at(10),
                count: 1
            }]
        );
        assert_eq!(p.missed, None);
        assert_eq!(p.next_run_at, Some(at(11)));
    }

    #[test]
    fn downtime_within_grace_coalesces_into_one_run() {
        let p = plan(&every_second(), &settings(60, true, 1), at(10), at(15), 0);
        assert_eq!(
            p.runs,
            vec![Span {
                first: at(10),
                last: at(15),
                count: 6
            }]
        );
        assert_eq!(p.missed, None);
        assert_eq!(p.next_run_at, Some(at(16)));
    }

    #[test]
    fn without_coalesce_each_occurrence_runs_but_only_max_instances_start() {
        let p = plan(&every_second(), &settings(60, false, 2), at(10), at(14), 0);
        assert_eq!(p.runs.len(), 2);
        assert_eq!(p.skipped.len(), 3);
        assert_eq!(p.runs[0].first, at(10));
    }

    #[test]
    fn occurrences_beyond_grace_are_one_missed_span() {
        let p = plan(&every_second(), &settings(1, true, 1), at(10), at(15), 0);
        assert_eq!(
            p.missed,
            Some(Span {
                first: at(10),
                last: at(13),
                count: 4
            })
        );
        assert_eq!(
            p.runs,
            vec![Span {
                first: at(14),
                last: at(15),
                count: 2
            }]
        );
    }

    #[test]
    fn a_week_of_downtime_is_one_missed_row_computed_without_walking() {
        let week = 7 * 24 * 3600;
        let p = plan(&every_second(), &settings(60, true, 1), at(0), at(week), 0);
        let missed = p.missed.expect("missed span");
        assert_eq!(missed.first, at(0));
        assert_eq!(missed.last, at(week - 61));
        assert_eq!(missed.count, week - 60);
        assert_eq!(p.runs[0].count, 61);
        let total: i64 = missed.count + p.runs.iter().map(|s| s.count).sum::<i64>();
        assert_eq!(total, week + 1, "every occurrence is accounted for");
    }

    #[test]
    fn cron_missed_stretch_is_walked_and_counted() {
        let trigger = Trigger::cron("* * * * * *", "UTC").expect("valid");
        let p = plan(&trigger, &settings(0, true, 1), at(0), at(3600), 0);
        let missed = p.missed.expect("missed");
        assert_eq!(
            missed.count + p.runs.iter().map(|s| s.count).sum::<i64>(),
            3601
        );
    }

    #[test]
    fn max_instances_reached_skips() {
        let p = plan(&every_second(), &settings(60, true, 1), at(10), at(10), 1);
        assert!(p.runs.is_empty());
        assert_eq!(
            p.skipped,
            vec![Span {
                first: at(10),
                last: at(10),
                count: 1
            }]
        );
        assert_eq!(p.next_run_at, Some(at(11)));
    }

    #[test]
    fn date_trigger_runs_once_then_finishes() {
        let trigger = Trigger::Date { run_at: at(5) };
        let p = plan(&trigger, &settings(60, true, 1), at(5), at(5), 0);
        assert_eq!(p.runs.len(), 1);
        assert_eq!(p.next_run_at, None);
    }

    #[test]
    fn a_next_run_past_year_9999_finishes_the_trigger() {
        let start = Utc
            .with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
            .single()
            .expect("valid");
        let trigger = Trigger::interval(315_360_000, start, None).expect("valid");
        let p = plan(&trigger, &settings(60, true, 1), start, start, 0);
        assert_eq!(p.runs.len(), 1);
        assert_eq!(p.next_run_at, None);
    }

    #[test]
    fn a_skip_request_takes_the_first_runs_and_counts_down() {
        let skip = SkipRequest {
            count: 2,
            reason: None,
        };
        let p = plan(&every_second(), &settings(60, false, 1), at(10), at(12), 0);
        assert_eq!((p.runs.len(), p.skipped.len()), (1, 2));
        let p = apply_skip(p, Some(&skip));
        let firsts = |spans: &[Span]| spans.iter().map(|s| s.first).collect::<Vec<_>>();
        assert_eq!(firsts(&p.skipped_on_request), vec![at(10), at(11)]);
        assert_eq!(
            firsts(&p.runs),
            vec![at(12)],
            "max_instances applies to the rest"
        );
        assert!(p.skipped.is_empty());
        assert_eq!(p.skips_left, Some(0));
        let many = SkipRequest {
            count: 5,
            reason: None,
        };
        let p = plan(&every_second(), &settings(60, true, 1), at(10), at(12), 0);
        let p = apply_skip(p, Some(&many));
        assert_eq!(p.skipped_on_request.len(), 1, "a coalesced run is one run");
        assert_eq!(p.skips_left, Some(2), "standing for three occurrences");
        assert!(p.runs.is_empty());
        let untouched = plan(&every_second(), &settings(60, true, 1), at(10), at(10), 0);
        assert_eq!(apply_skip(untouched.clone(), None), untouched);
    }

    #[test]
    fn interval_with_end_stops() {
        let trigger = Trigger::interval(1, at(0), Some(at(3))).expect("valid");
        let p = plan(&trigger, &settings(0, true, 1), at(0), at(100), 0);
        assert_eq!(p.missed.map(|m| m.count), Some(4));
        assert_eq!(p.next_run_at, None);
    }

    /// With coalescing off, 150 occurrences due, the oldest 9 beyond the grace: those 9 are
    /// missed for lateness, the newest 100 run, and the 41 between overflow the cap in a span
    /// of their own (a row with its own reason), apart from the late ones.
    #[test]
    fn without_coalesce_the_catch_up_cap_overflows_into_its_own_span() {
        let p = plan(
            &every_second(),
            &settings(140, false, 1000),
            at(0),
            at(149),
            0,
        );
        assert_eq!(
            p.missed,
            Some(Span {
                first: at(0),
                last: at(8),
                count: 9
            })
        );
        assert_eq!(
            p.overflow,
            Some(Span {
                first: at(9),
                last: at(49),
                count: 41
            })
        );
        assert_eq!(p.runs.len(), MAX_RUNS_PER_CLAIM);
        assert_eq!(p.runs[0].first, at(50));
        assert_eq!(p.skipped, vec![]);
    }

    /// The overflow's reason names the cap, so the two cannot drift apart.
    #[test]
    fn the_overflow_reason_names_the_cap() {
        let reason = schedlite_core::store::claims::OVERFLOW_REASON;
        assert!(
            reason.contains(&format!("at most {MAX_RUNS_PER_CLAIM} ")),
            "{reason}"
        );
    }

    fn with_policy(policy: CatchUp) -> JobSettings {
        JobSettings {
            catch_up: policy,
            ..settings(5, true, 1)
        }
    }

    /// Down from 0 to 20 with an every-second job and a grace of 5: 0..=14 lie beyond grace,
    /// 15..=20 within it. Each policy sends them where its doc says.
    #[test]
    fn each_catch_up_policy_sends_the_stretch_where_it_says() {
        let beyond = Span {
            first: at(0),
            last: at(14),
            count: 15,
        };
        let within = Span {
            first: at(15),
            last: at(20),
            count: 6,
        };
        let coalesce = plan(
            &every_second(),
            &with_policy(CatchUp::Coalesce),
            at(0),
            at(20),
            0,
        );
        assert_eq!(
            (coalesce.missed, coalesce.runs.clone(), coalesce.catch_up),
            (Some(beyond), vec![within], None)
        );

        let none = plan(
            &every_second(),
            &with_policy(CatchUp::None),
            at(0),
            at(20),
            0,
        );
        let all_of_them = Span {
            first: at(0),
            last: at(20),
            count: 21,
        };
        assert_eq!(
            (none.missed, none.runs.len(), none.catch_up),
            (Some(all_of_them), 0, None)
        );

        let ask = plan(
            &every_second(),
            &with_policy(CatchUp::Ask),
            at(0),
            at(20),
            0,
        );
        let awaiting = CatchUpSpan {
            span: beyond,
            state: CatchUpState::AwaitingApproval,
        };
        assert_eq!(
            (ask.missed, ask.runs.clone(), ask.catch_up),
            (None, vec![within], Some(awaiting))
        );

        let all = plan(
            &every_second(),
            &with_policy(CatchUp::All),
            at(0),
            at(20),
            0,
        );
        let queued = CatchUpSpan {
            span: all_of_them,
            state: CatchUpState::Approved,
        };
        assert_eq!(
            (all.missed, all.runs.len(), all.catch_up),
            (None, 0, Some(queued))
        );
        for p in [&coalesce, &none, &ask, &all] {
            assert_eq!(p.next_run_at, Some(at(21)));
        }
    }

    /// Without downtime every policy is the old rule: nothing goes to the queue.
    #[test]
    fn on_time_occurrences_ignore_the_catch_up_policy() {
        for policy in CatchUp::ALL {
            let p = plan(&every_second(), &with_policy(policy), at(10), at(12), 0);
            assert_eq!(
                (p.missed, p.runs.len(), p.catch_up),
                (None, 1, None),
                "{policy}"
            );
        }
    }
}
