//! Noop actions: record a run and do nothing (tests, benchmarks, heartbeats).

use super::Outcome;

/// Always succeeds, with nothing to report.
pub(super) fn execute() -> Outcome {
    Outcome::succeeded()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::OutcomeStatus;

    #[test]
    fn noop_always_succeeds() {
        let outcome = execute();

        assert_eq!(outcome.status, OutcomeStatus::Succeeded);
        assert_eq!(outcome.error, None);
    }
}
