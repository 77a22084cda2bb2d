//! Catch-up after downtime (DESIGN.md, *Job health, alerts, pause, skip, catch-up*): what
//! happens to a stretch of occurrences missed beyond the misfire grace. The default keeps the
//! old rule (one `missed` row); `all` runs every one of them in order; `ask` holds the stretch
//! until someone decides. Both of those go through a durable queue (`catch_ups`) so that a
//! week of missed occurrences is one row, not a storm of runs started at once.

use chrono::{DateTime, Utc};

use super::Span;
use crate::schedule::Trigger;

/// A job's catch-up policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUp {
    /// The stretch is recorded as one `missed` row; occurrences within grace run as `coalesce`
    /// says. The rule before this field existed.
    #[default]
    Coalesce,
    /// The stretch runs, every occurrence in order, at most `max_instances` at a time; the
    /// occurrences within grace queue behind it.
    All,
    /// Nothing late runs after downtime: the stretch and the occurrences within grace that
    /// follow it are one `missed` row, and the job resumes at its next occurrence.
    None,
    /// The stretch waits in one `awaiting_approval` row for `POST /jobs/{id}/catch-up`;
    /// occurrences within grace run as `coalesce` says.
    Ask,
}

impl CatchUp {
    /// Every policy.
    pub const ALL: [CatchUp; 4] = [CatchUp::Coalesce, CatchUp::All, CatchUp::None, CatchUp::Ask];

    /// The text stored in `jobs.catch_up` and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Coalesce => "coalesce",
            CatchUp::All => "all",
            CatchUp::None => "none",
            CatchUp::Ask => "ask",
        }
    }
}

stored_as_text!(CatchUp, "catch-up policy");

/// What an operator decided about the stretches of a job awaiting approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUpDecision {
    /// Run every occurrence, in order, at most `max_instances` at a time.
    All,
    /// Run the latest occurrence once; the others are recorded `missed`.
    Latest,
    /// Run none: they are recorded `missed`.
    None,
}

impl CatchUpDecision {
    /// Every decision.
    pub const ALL: [CatchUpDecision; 3] = [
        CatchUpDecision::All,
        CatchUpDecision::Latest,
        CatchUpDecision::None,
    ];

    /// The text sent on the wire and kept in the audit.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUpDecision::All => "all",
            CatchUpDecision::Latest => "latest",
            CatchUpDecision::None => "none",
        }
    }
}

stored_as_text!(CatchUpDecision, "catch-up decision");

/// Where a stretch of a job's catch-up queue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUpState {
    /// Waiting for `POST /jobs/{id}/catch-up`.
    AwaitingApproval,
    /// Its occurrences are being started, in order, from `next_at`.
    Approved,
}

impl CatchUpState {
    /// Every state.
    pub const ALL: [CatchUpState; 2] = [CatchUpState::AwaitingApproval, CatchUpState::Approved];

    /// The text stored in `catch_ups.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUpState::AwaitingApproval => "awaiting_approval",
            CatchUpState::Approved => "approved",
        }
    }
}

stored_as_text!(CatchUpState, "catch-up state");

/// A stretch a claim sends to the catch-up queue, and in which state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUpSpan {
    /// The occurrences.
    pub span: Span,
    /// `approved` at once with the `all` policy, `awaiting_approval` with `ask`.
    pub state: CatchUpState,
}

/// What is awaiting approval for one job, summed over its stretches (shown on the job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Awaiting {
    /// The first occurrence waiting.
    pub first: DateTime<Utc>,
    /// The last occurrence waiting.
    pub last: DateTime<Utc>,
    /// How many occurrences wait.
    pub occurrences: i64,
    /// When the first stretch was recorded.
    pub since: DateTime<Utc>,
}

/// What `POST /jobs/{id}/catch-up` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CatchUpOutcome {
    /// Occurrences that were awaiting approval.
    pub occurrences: i64,
    /// Of those, how many will run.
    pub to_run: i64,
    /// Of those, how many were recorded `missed`.
    pub missed: i64,
}

/// The most occurrences of one stretch started by one claim: a queue approved with
/// `max_instances` 1000 still starts in steps, like the catch-up cap of `coalesce: false`.
pub const MAX_CATCH_UP_STARTS: usize = 100;

/// The occurrences of `trigger` from `from` on, up to `last`, at most `limit` of them, and the
/// one after them (`None` when the stretch is done).
pub fn next_occurrences(
    trigger: &Trigger,
    from: DateTime<Utc>,
    last: DateTime<Utc>,
    limit: usize,
) -> (Vec<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let mut out = Vec::new();
    let mut at = Some(from);
    while let Some(t) = at {
        if t > last || out.len() >= limit {
            break;
        }
        out.push(t);
        at = trigger.next_fire_after(t).map(|f| f.at);
    }
    (out, at.filter(|t| *t <= last))
}

/// An approved stretch as the queue holds it: where it goes on, and its last occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Its row.
    pub id: i64,
    /// Its job.
    pub job_id: String,
    /// The next occurrence to start.
    pub next_at: DateTime<Utc>,
    /// The stretch's last occurrence.
    pub last_at: DateTime<Utc>,
}

/// What one claim starts of the approved stretches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Starts {
    /// The occurrences to start, each with its job, stretch by stretch in queue order.
    pub runs: Vec<(String, DateTime<Utc>)>,
    /// Stretches with occurrences left, and where each goes on.
    pub moved: Vec<(i64, DateTime<Utc>)>,
    /// Stretches whose last occurrence starts now (or whose job's trigger no longer reaches
    /// them): their rows go.
    pub done: Vec<i64>,
    /// Whether a stretch still has occurrences to start.
    pub waiting: bool,
}

/// Decides what the approved stretches `queue` (in queue order) start now: for each, the next
/// occurrences of its job's trigger up to the job's free slots (`max_instances` less `busy`,
/// its runs running or waiting to be retried on every process), at most
/// [`MAX_CATCH_UP_STARTS`]. A stretch whose job is not in `jobs` (unreadable) waits. A job in
/// an exclusive group starts one occurrence, and only while `groups` says the group is free
/// (it waits otherwise, whatever its policy: an approved occurrence is never skipped); the
/// group is the claim's from then on.
pub fn plan_starts(
    queue: &[Queued],
    jobs: &std::collections::HashMap<&str, &super::Job>,
    mut busy: std::collections::HashMap<String, i64>,
    groups: &mut super::Groups,
) -> Starts {
    let mut starts = Starts::default();
    for stretch in queue {
        let Some(job) = jobs.get(stretch.job_id.as_str()) else {
            continue;
        };
        let used = busy.entry(stretch.job_id.clone()).or_insert(0);
        let mut free = i64::from(job.settings.max_instances) - *used;
        if let Some(ex) = &job.exclusive {
            if groups.holder(&ex.group).is_some() {
                free = 0;
            } else {
                free = free.min(1);
            }
        }
        if free <= 0 {
            starts.waiting = true;
            continue;
        }
        if let Some(ex) = &job.exclusive {
            groups.claim(&ex.group, &job.id);
        }
        let limit = usize::try_from(free).unwrap_or(0).min(MAX_CATCH_UP_STARTS);
        let (ats, next) = next_occurrences(&job.trigger, stretch.next_at, stretch.last_at, limit);
        *used += i64::try_from(ats.len()).unwrap_or(i64::MAX);
        starts
            .runs
            .extend(ats.into_iter().map(|at| (stretch.job_id.clone(), at)));
        match next {
            Some(next) => {
                starts.waiting = true;
                starts.moved.push((stretch.id, next));
            }
            None => starts.done.push(stretch.id),
        }
    }
    starts
}

/// How `latest` splits `span`: the occurrences before its last (`None` when it holds one),
/// found by walking the trigger (a stretch holds at most the walk limit of the plan).
pub fn all_but_last(trigger: &Trigger, span: Span) -> Option<Span> {
    if span.count <= 1 || span.first >= span.last {
        return None;
    }
    let mut before = span.first;
    let mut at = span.first;
    while let Some(next) = trigger.next_fire_after(at).map(|f| f.at) {
        if next >= span.last {
            break;
        }
        before = next;
        at = next;
    }
    Some(Span {
        first: span.first,
        last: before,
        count: span.count - 1,
    })
}

/// How a decision splits the stretches awaiting approval of one job (oldest first): the
/// stretches recorded `missed`, and those approved to run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// Recorded `missed`, with the decision as the reason.
    pub missed: Vec<Span>,
    /// Approved: their occurrences start in order.
    pub run: Vec<Span>,
}

impl Split {
    /// `all` runs every stretch; `none` runs none; `latest` runs the last occurrence of the
    /// last stretch and records the rest missed.
    pub fn of(trigger: &Trigger, spans: &[Span], decision: CatchUpDecision) -> Split {
        match decision {
            CatchUpDecision::All => Split {
                missed: Vec::new(),
                run: spans.to_vec(),
            },
            CatchUpDecision::None => Split {
                missed: spans.to_vec(),
                run: Vec::new(),
            },
            CatchUpDecision::Latest => {
                let Some((last, older)) = spans.split_last() else {
                    return Split::default();
                };
                let mut missed = older.to_vec();
                missed.extend(all_but_last(trigger, *last));
                Split {
                    missed,
                    run: vec![Span {
                        first: last.last,
                        last: last.last,
                        count: 1,
                    }],
                }
            }
        }
    }

    /// What the decision did, counted.
    pub fn outcome(&self) -> CatchUpOutcome {
        let to_run: i64 = self.run.iter().map(|s| s.count).sum();
        let missed: i64 = self.missed.iter().map(|s| s.count).sum();
        CatchUpOutcome {
            occurrences: to_run + missed,
            to_run,
            missed,
        }
    }
}

/// The audit row's detail of a decision: what was decided, on how many occurrences, and why.
pub fn decision_detail(
    decision: CatchUpDecision,
    outcome: &CatchUpOutcome,
    reason: Option<&str>,
) -> String {
    serde_json::json!({
        "decision": decision.as_str(),
        "occurrences": outcome.occurrences,
        "to_run": outcome.to_run,
        "missed": outcome.missed,
        "reason": reason,
    })
    .to_string()
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
    fn texts_round_trip() {
        for p in CatchUp::ALL {
            assert_eq!(p.as_str().parse::<CatchUp>(), Ok(p));
        }
        for d in CatchUpDecision::ALL {
            assert_eq!(d.as_str().parse::<CatchUpDecision>(), Ok(d));
        }
        for s in CatchUpState::ALL {
            assert_eq!(s.as_str().parse::<CatchUpState>(), Ok(s));
        }
        assert_eq!(
            "sometimes".parse::<CatchUpDecision>(),
            Err("unknown catch-up decision `sometimes`".to_string())
        );
    }

    #[test]
    fn next_occurrences_stop_at_the_limit_and_the_last() {
        let every_10 = Trigger::interval(10, at(0), None).expect("valid");
        assert_eq!(
            next_occurrences(&every_10, at(10), at(40), 2),
            (vec![at(10), at(20)], Some(at(30)))
        );
        assert_eq!(
            next_occurrences(&every_10, at(30), at(40), 5),
            (vec![at(30), at(40)], None)
        );
    }

    #[test]
    fn all_but_last_drops_exactly_the_last() {
        let every_10 = Trigger::interval(10, at(0), None).expect("valid");
        let span = Span {
            first: at(10),
            last: at(50),
            count: 5,
        };
        assert_eq!(
            all_but_last(&every_10, span),
            Some(Span {
                first: at(10),
                last: at(40),
                count: 4
            })
        );
        let one = Span {
            first: at(10),
            last: at(10),
            count: 1,
        };
        assert_eq!(all_but_last(&every_10, one), None);
    }

    #[test]
    fn latest_runs_only_the_last_occurrence_of_the_last_stretch() {
        let every_10 = Trigger::interval(10, at(0), None).expect("valid");
        let older = Span {
            first: at(10),
            last: at(30),
            count: 3,
        };
        let newer = Span {
            first: at(100),
            last: at(120),
            count: 3,
        };
        let split = Split::of(&every_10, &[older, newer], CatchUpDecision::Latest);
        assert_eq!(
            split.missed,
            vec![
                older,
                Span {
                    first: at(100),
                    last: at(110),
                    count: 2
                }
            ]
        );
        assert_eq!(
            split.run,
            vec![Span {
                first: at(120),
                last: at(120),
                count: 1
            }]
        );
        assert_eq!(
            split.outcome(),
            CatchUpOutcome {
                occurrences: 6,
                to_run: 1,
                missed: 5
            }
        );
        let none = Split::of(&every_10, &[older], CatchUpDecision::None);
        assert_eq!((none.missed.len(), none.run.len()), (1, 0));
        let all = Split::of(&every_10, &[older, newer], CatchUpDecision::All);
        assert_eq!(all.outcome().to_run, 6);
    }

    fn grouped(id: &str, max_instances: u32) -> super::super::Job {
        super::super::Job {
            id: id.into(),
            name: None,
            trigger: Trigger::interval(10, at(0), None).expect("valid"),
            action: crate::actions::Action::Noop,
            settings: super::super::JobSettings {
                max_instances,
                ..Default::default()
            },
            paused: false,
            next_run_at: None,
            created_at: at(0),
            updated_at: at(0),
            pause: None,
            skip: None,
            expect: None,
            history: None,
            retry: Default::default(),
            exclusive: Some(super::super::Exclusive {
                group: "g".into(),
                policy: super::super::ExclusivePolicy::Skip,
            }),
            counters: Default::default(),
        }
    }

    #[test]
    fn an_approved_stretch_in_a_group_starts_one_at_a_time_and_only_when_the_group_is_free() {
        let (a, b) = (grouped("a", 5), grouped("b", 5));
        let jobs: std::collections::HashMap<&str, &super::super::Job> =
            [("a", &a), ("b", &b)].into_iter().collect();
        let queue = |id: &str, n: i64| Queued {
            id: n,
            job_id: id.into(),
            next_at: at(10),
            last_at: at(50),
        };
        let mut groups = super::super::Groups::default();
        groups.found("g", None);
        let starts = plan_starts(
            &[queue("a", 1), queue("b", 2)],
            &jobs,
            Default::default(),
            &mut groups,
        );
        assert_eq!(
            starts.runs,
            vec![("a".to_string(), at(10))],
            "one, of the first"
        );
        assert_eq!(starts.moved, vec![(1, at(20))]);
        assert!(starts.waiting);
        let mut held = super::super::Groups::default();
        held.found(
            "g",
            Some(super::super::Holder::Run {
                job_id: "z".into(),
                retrying: false,
            }),
        );
        let none = plan_starts(&[queue("a", 1)], &jobs, Default::default(), &mut held);
        assert!(none.runs.is_empty() && none.moved.is_empty() && none.waiting);
    }
}
