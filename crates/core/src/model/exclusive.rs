//! Exclusive groups (DESIGN.md, "Definitions you can trust"): at most one run of a group at a
//! time, across every process and node. A run holds its job's group from its claim until its
//! outcome is written, and an occurrence whose attempt failed keeps holding it while its retry
//! is pending (an occurrence holds the group from its first attempt to its last, as a pending
//! retry holds its job's `max_instances` slot).
//!
//! The store finds who holds each group a claim touches ([`Groups`]); the scheduler's plan
//! then respects it ([`gate`]): a conflicting occurrence is `skipped` with the holder named,
//! or, with the `wait` policy, left due until the group is free. No IO here.

use std::collections::HashMap;

use super::{ClaimPlan, Span};

/// The longest group name, in bytes.
pub const MAX_GROUP_LEN: usize = 128;

/// What happens to an occurrence due while its group is held by another run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExclusivePolicy {
    /// It is recorded `skipped`, naming the job whose run held the group.
    #[default]
    Skip,
    /// It stays due until the group is free (within the misfire grace, as any late
    /// occurrence; beyond it the job's catch-up policy applies).
    Wait,
}

impl ExclusivePolicy {
    /// Every policy.
    pub const ALL: [ExclusivePolicy; 2] = [ExclusivePolicy::Skip, ExclusivePolicy::Wait];

    /// The text stored in `jobs.exclusive_policy` and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ExclusivePolicy::Skip => "skip",
            ExclusivePolicy::Wait => "wait",
        }
    }
}

stored_as_text!(ExclusivePolicy, "exclusive policy");

/// A job's exclusive group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusive {
    /// The group's name: `[A-Za-z0-9._:-]{1,128}`, checked by the API.
    pub group: String,
    /// What a conflicting occurrence does.
    pub policy: ExclusivePolicy,
}

/// Whether `name` may name a group: 1 to [`MAX_GROUP_LEN`] bytes of `[A-Za-z0-9._:-]`.
pub fn valid_group(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_GROUP_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// What holds a group while a claim decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A run of this job, stored: running (in any process), or failed and waiting for its
    /// retry. Its row may still read `running` for a moment after its action ended, until its
    /// outcome is written; the scheduler allows for that before it skips (`settle`).
    Run {
        /// The job whose run holds the group.
        job_id: String,
        /// Whether the run failed and waits for its retry.
        retrying: bool,
    },
    /// This claim starts a run of this job in the group.
    Claimed {
        /// The job.
        job_id: String,
    },
    /// Another node's claim is deciding about the group right now (PostgreSQL: its group lock
    /// is taken); only approved catch-up stretches see this, and they wait.
    Locked,
}

impl Holder {
    /// Why an occurrence of group `group` was skipped: the text of its `skipped` row.
    pub fn skip_reason(&self, group: &str) -> String {
        self.describe(group, "was")
    }

    /// Why a run of group `group` cannot start now (a manual run's refusal).
    pub fn busy_reason(&self, group: &str) -> String {
        self.describe(group, "is")
    }

    fn describe(&self, group: &str, verb: &str) -> String {
        let what = match self {
            Holder::Run {
                job_id,
                retrying: false,
            } => format!("job `{job_id}` {verb} running"),
            Holder::Run {
                job_id,
                retrying: true,
            } => format!("job `{job_id}` {verb} waiting to retry"),
            Holder::Claimed { job_id } => format!("job `{job_id}` {verb} starting"),
            Holder::Locked => format!("another node {verb} starting a run in it"),
        };
        format!("exclusive group `{group}` {verb} busy: {what}")
    }

    /// The job holding the group, when known.
    pub fn job_id(&self) -> Option<&str> {
        match self {
            Holder::Run { job_id, .. } | Holder::Claimed { job_id } => Some(job_id),
            Holder::Locked => None,
        }
    }
}

/// Who holds each group one claim touches: first the stored runs, then what the claim itself
/// starts, so that two due jobs of one group in one batch do not both start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups {
    held: HashMap<String, Holder>,
    /// Groups whose holders were looked up (held or free).
    known: std::collections::HashSet<String>,
}

impl Groups {
    /// Notes that `group` was looked up; `holder` is its first stored holder, if any (a group
    /// already known keeps what it had: the claim's own starts come after the lookup).
    pub fn found(&mut self, group: &str, holder: Option<Holder>) {
        if !self.known.insert(group.to_string()) {
            return;
        }
        if let Some(holder) = holder {
            self.held.insert(group.to_string(), holder);
        }
    }

    /// The groups of `jobs` not looked up yet, sorted and once each (the order a claim takes
    /// their locks in).
    pub fn unknown(&self, jobs: &[&super::Job]) -> Vec<String> {
        let mut wanted: Vec<String> = jobs
            .iter()
            .filter_map(|j| j.exclusive.as_ref().map(|e| e.group.clone()))
            .filter(|g| !self.knows(g))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        wanted
    }

    /// Notes a lookup of `wanted`: the stored runs holding them, as (group, job, retrying),
    /// and the groups none holds as free.
    pub fn record(
        &mut self,
        wanted: &[String],
        held: impl IntoIterator<Item = (String, String, bool)>,
    ) {
        for (group, job_id, retrying) in held {
            self.found(&group, Some(Holder::Run { job_id, retrying }));
        }
        for name in wanted {
            self.found(name, None);
        }
    }

    /// Whether `group` was looked up.
    pub fn knows(&self, group: &str) -> bool {
        self.known.contains(group)
    }

    /// Who holds `group`, if anyone.
    pub fn holder(&self, group: &str) -> Option<&Holder> {
        self.held.get(group)
    }

    /// Notes that this claim starts a run of `job_id` in `group`.
    pub fn claim(&mut self, group: &str, job_id: &str) {
        self.held.insert(
            group.to_string(),
            Holder::Claimed {
                job_id: job_id.to_string(),
            },
        );
    }

    /// After a job's plan: when it starts a run and the job is in a group, the group is this
    /// claim's from now on.
    pub fn after_plan(&mut self, job_id: &str, exclusive: Option<&Exclusive>, plan: &ClaimPlan) {
        if let Some(ex) = exclusive
            && !plan.runs.is_empty()
        {
            self.claim(&ex.group, job_id);
        }
    }
}

/// Occurrences skipped because their group was busy: `skipped` rows with the holder named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExclusiveSkip {
    /// The occurrences, one row each.
    pub spans: Vec<Span>,
    /// The rows' reason ([`Holder::skip_reason`]).
    pub reason: String,
}

/// Applies job `job_id`'s group to its plan, given who holds the group (`None`: free): the plan
/// to write, or `None` when the job waits for its group (leave it due, write nothing).
///
/// - Not in a group, or nothing to start: the plan as it is.
/// - Group held: the runs are skipped naming the holder, or with `wait` the job waits.
/// - Group free: the first run takes it. Runs after the first (coalescing off, or
///   `max_instances` above one) would overlap it: skipped naming this job, or with `wait` left
///   for later: the job's next run becomes the first of them.
pub fn gate(
    mut plan: ClaimPlan,
    job_id: &str,
    exclusive: Option<&Exclusive>,
    holder: Option<&Holder>,
) -> Option<ClaimPlan> {
    let Some(ex) = exclusive else {
        return Some(plan);
    };
    if plan.runs.is_empty() {
        return Some(plan);
    }
    if let Some(holder) = holder {
        return match ex.policy {
            ExclusivePolicy::Wait => None,
            ExclusivePolicy::Skip => {
                let spans = std::mem::take(&mut plan.runs);
                plan.exclusive_skipped = Some(ExclusiveSkip {
                    spans,
                    reason: holder.skip_reason(&ex.group),
                });
                Some(plan)
            }
        };
    }
    if plan.runs.len() > 1 {
        let rest = plan.runs.split_off(1);
        match ex.policy {
            ExclusivePolicy::Skip => {
                let own = Holder::Claimed {
                    job_id: job_id.to_string(),
                };
                plan.exclusive_skipped = Some(ExclusiveSkip {
                    spans: rest,
                    reason: own.skip_reason(&ex.group),
                });
            }
            ExclusivePolicy::Wait => {
                // What `max_instances` skipped comes after these in time: planned again later.
                plan.skipped.clear();
                plan.next_run_at = rest.first().map(|s| s.first);
            }
        }
    }
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0)
            .single()
            .expect("valid")
    }

    fn one(s: i64) -> Span {
        Span {
            first: at(s),
            last: at(s),
            count: 1,
        }
    }

    fn group(policy: ExclusivePolicy) -> Exclusive {
        Exclusive {
            group: "reports".into(),
            policy,
        }
    }

    fn plan_of(runs: Vec<Span>) -> ClaimPlan {
        ClaimPlan {
            runs,
            next_run_at: Some(at(10)),
            ..ClaimPlan::default()
        }
    }

    fn running(job: &str) -> Holder {
        Holder::Run {
            job_id: job.into(),
            retrying: false,
        }
    }

    #[test]
    fn a_job_outside_any_group_or_with_nothing_to_start_is_untouched() {
        let plan = plan_of(vec![one(1), one(2)]);
        assert_eq!(
            gate(plan.clone(), "a", None, Some(&running("b"))),
            Some(plan)
        );
        let idle = plan_of(vec![]);
        let ex = group(ExclusivePolicy::Wait);
        assert_eq!(
            gate(idle.clone(), "a", Some(&ex), Some(&running("b"))),
            Some(idle)
        );
    }

    #[test]
    fn a_held_group_skips_naming_the_holder_or_waits() {
        let plan = plan_of(vec![one(1)]);
        let skip = group(ExclusivePolicy::Skip);
        let Some(skipped) = gate(plan.clone(), "a", Some(&skip), Some(&running("b"))) else {
            panic!("skip policy must write a plan");
        };
        assert!(skipped.runs.is_empty());
        assert_eq!(skipped.next_run_at, Some(at(10)), "the job moves on");
        assert_eq!(
            skipped.exclusive_skipped,
            Some(ExclusiveSkip {
                spans: vec![one(1)],
                reason: "exclusive group `reports` was busy: job `b` was running".into(),
            })
        );
        let retrying = Holder::Run {
            job_id: "b".into(),
            retrying: true,
        };
        let Some(skipped) = gate(plan.clone(), "a", Some(&skip), Some(&retrying)) else {
            panic!("skip policy must write a plan");
        };
        assert_eq!(
            skipped.exclusive_skipped.map(|s| s.reason),
            Some("exclusive group `reports` was busy: job `b` was waiting to retry".into())
        );
        let wait = group(ExclusivePolicy::Wait);
        assert_eq!(gate(plan, "a", Some(&wait), Some(&running("b"))), None);
    }

    #[test]
    fn a_free_group_starts_one_run_and_the_rest_skip_or_wait() {
        let mut plan = plan_of(vec![one(1), one(2), one(3)]);
        plan.skipped = vec![one(4)];
        let Some(skipped) = gate(plan.clone(), "a", Some(&group(ExclusivePolicy::Skip)), None)
        else {
            panic!("a free group writes the plan");
        };
        assert_eq!(skipped.runs, vec![one(1)]);
        assert_eq!(skipped.skipped, vec![one(4)]);
        assert_eq!(
            skipped.exclusive_skipped,
            Some(ExclusiveSkip {
                spans: vec![one(2), one(3)],
                reason: "exclusive group `reports` was busy: job `a` was starting".into(),
            })
        );
        let Some(waited) = gate(plan, "a", Some(&group(ExclusivePolicy::Wait)), None) else {
            panic!("a free group writes the plan");
        };
        assert_eq!(waited.runs, vec![one(1)]);
        assert!(waited.skipped.is_empty());
        assert_eq!(waited.exclusive_skipped, None);
        assert_eq!(waited.next_run_at, Some(at(2)), "the second waits its turn");
    }

    #[test]
    fn a_claim_takes_the_group_for_the_jobs_after_it() {
        let ex = group(ExclusivePolicy::Skip);
        let mut groups = Groups::default();
        groups.found("reports", None);
        groups.found("other", Some(running("z")));
        assert!(groups.knows("reports") && groups.knows("other") && !groups.knows("x"));
        assert_eq!(groups.holder("reports"), None);
        groups.after_plan("a", Some(&ex), &plan_of(vec![]));
        assert_eq!(groups.holder("reports"), None, "nothing started");
        groups.after_plan("a", Some(&ex), &plan_of(vec![one(1)]));
        assert_eq!(
            groups.holder("reports"),
            Some(&Holder::Claimed { job_id: "a".into() })
        );
        // A later lookup does not undo the claim's own start.
        groups.found("reports", None);
        assert_eq!(groups.holder("reports").and_then(Holder::job_id), Some("a"));
        assert_eq!(groups.holder("other").and_then(Holder::job_id), Some("z"));
    }

    #[test]
    fn group_names() {
        assert!(valid_group("reports"));
        assert!(valid_group("db:primary.nightly_1-a"));
        assert!(valid_group(&"g".repeat(MAX_GROUP_LEN)));
        assert!(!valid_group(""));
        assert!(!valid_group(&"g".repeat(MAX_GROUP_LEN + 1)));
        assert!(!valid_group("two words"));
        assert!(!valid_group("slash/ed"));
        for policy in ExclusivePolicy::ALL {
            assert_eq!(policy.as_str().parse::<ExclusivePolicy>(), Ok(policy));
        }
        assert!("queue".parse::<ExclusivePolicy>().is_err());
    }
}
