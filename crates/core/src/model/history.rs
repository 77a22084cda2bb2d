//! A job's own history limits (DESIGN.md, *Run history retention*): a job may keep its runs
//! longer or shorter than the server's flags say, per field. Pure: the pruner turns them into
//! cut-offs; the store only records them.

use serde::{Deserialize, Serialize};

/// Largest number of days a run or audit row may be kept (a hundred years): the bound of the
/// server flags and of a job's own limits, so that a cut-off instant is always representable.
pub const MAX_KEEP_DAYS: u32 = 36_500;

/// Largest number of runs a job may keep.
pub const MAX_KEEP_RUNS: u32 = 100_000_000;

/// How long a job keeps its runs, overriding the server's defaults field by field; a field
/// left out follows the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryLimits {
    /// Days its `succeeded`, `skipped` and `missed` runs are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_days: Option<u32>,
    /// Days its `failed`, `timed_out` and `interrupted` runs are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_failed_days: Option<u32>,
    /// Most runs it keeps (the newest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_runs: Option<u32>,
}

impl HistoryLimits {
    /// `None` when no field is set: a job that follows the server stores NULL, and the pruner's
    /// passes over all jobs then cover it.
    pub fn some(self) -> Option<HistoryLimits> {
        (self != HistoryLimits::default()).then_some(self)
    }

    /// Each field with its allowed range, for checks that name the field.
    pub fn fields(&self) -> [(&'static str, Option<u32>, u32); 3] {
        [
            ("keep_days", self.keep_days, MAX_KEEP_DAYS),
            ("keep_failed_days", self.keep_failed_days, MAX_KEEP_DAYS),
            ("keep_runs", self.keep_runs, MAX_KEEP_RUNS),
        ]
    }

    /// What is wrong with these limits, naming the first field out of its range (1 to its
    /// maximum); `None` when they are usable. The API checks a body with it, and the store a
    /// hand-edited row, so a zero can never make the pruner empty a job's history.
    pub fn problem(&self) -> Option<String> {
        self.fields().into_iter().find_map(|(field, value, max)| {
            value
                .filter(|v| !(1..=max).contains(v))
                .map(|v| format!("{field}: must be between 1 and {max}, got {v}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_with_no_field_are_none() {
        assert_eq!(HistoryLimits::default().some(), None);
        let one = HistoryLimits {
            keep_runs: Some(5),
            ..HistoryLimits::default()
        };
        assert_eq!(one.some(), Some(one));
    }

    #[test]
    fn a_problem_names_the_first_field_out_of_range() {
        let ok = HistoryLimits {
            keep_days: Some(1),
            keep_failed_days: Some(MAX_KEEP_DAYS),
            keep_runs: Some(MAX_KEEP_RUNS),
        };
        assert_eq!(ok.problem(), None);
        let zero = HistoryLimits {
            keep_failed_days: Some(0),
            ..HistoryLimits::default()
        };
        assert_eq!(
            zero.problem().as_deref(),
            Some("keep_failed_days: must be between 1 and 36500, got 0")
        );
        let many = HistoryLimits {
            keep_runs: Some(MAX_KEEP_RUNS + 1),
            ..HistoryLimits::default()
        };
        assert_eq!(
            many.problem().as_deref(),
            Some("keep_runs: must be between 1 and 100000000, got 100000001")
        );
    }

    #[test]
    fn limits_read_back_from_their_json() {
        let limits: HistoryLimits = serde_json::from_str(r#"{"keep_days":7}"#).expect("json");
        assert_eq!(limits.keep_days, Some(7));
        assert_eq!(
            serde_json::to_string(&limits).expect("json"),
            r#"{"keep_days":7}"#
        );
        let unknown = serde_json::from_str::<HistoryLimits>(r#"{"keep_weeks":1}"#);
        assert!(unknown.is_err(), "{unknown:?}");
    }
}
