//! [`Executor`]: runs one occurrence of an action and reports its [`Outcome`]; never an
//! `Err` to the scheduler.

use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Action, ActionError, Outcome, command, http, noop};

/// Owns what executions share: one `reqwest::Client` (connection pooling, at most 5
/// redirects followed, user agent `schedlite/<version>`, proxies from the usual
/// environment variables). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Executor {
    client: reqwest::Client,
}

impl Executor {
    /// Builds the shared HTTP client; fails only if the TLS backend cannot be initialised.
    pub fn new() -> Result<Executor, ActionError> {
        Ok(Executor {
            client: http::build_client()?,
        })
    }

    /// Runs attempt `attempt` (from 1) at the occurrence (`job_id`, `scheduled_at`) of `action`
    /// and reports how it went.
    ///
    /// Never panics or returns `Err`: every failure is an [`Outcome`]. The action is
    /// validated again first (rows can be edited by hand), and an invalid one fails without
    /// running. http sends `Idempotency-Key: <job_id>@<scheduled_at>` (RFC 3339, millis,
    /// `Z`), the same for every attempt, and `Schedlite-Attempt: <attempt>`; its timeout
    /// covers the whole request including reading the first KiB of body. command runs the
    /// program without a shell, stdin null, environment inherited plus
    /// `SCHEDLITE_IDEMPOTENCY_KEY` and `SCHEDLITE_ATTEMPT`; on timeout the child is killed and
    /// reaped and the output so far is kept.
    /// Cancel-safe: dropping the future drops the request or kills the child.
    #[tracing::instrument(
        name = "execute_action",
        skip_all,
        fields(
            job.id = %job_id,
            scheduled_at = %scheduled_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            action = action.kind(),
            attempt,
        )
    )]
    pub async fn execute(
        &self,
        action: &Action,
        job_id: &str,
        scheduled_at: DateTime<Utc>,
        attempt: u32,
    ) -> Outcome {
        if let Err(error) = action.validate() {
            tracing::warn!(%error, "refusing to execute an invalid action");
            return Outcome::failed(format!("invalid action: {error}"));
        }
        let started = Instant::now();
        let outcome = match action {
            Action::Noop => noop::execute(),
            Action::Http(http) => {
                http::execute(&self.client, http, job_id, scheduled_at, attempt).await
            }
            Action::Command(command) => {
                let key = http::idempotency_key(job_id, scheduled_at);
                command::execute(command, &key, attempt).await
            }
        };
        tracing::debug!(
            status = outcome.status.as_str(),
            http_status = outcome.http_status,
            exit_code = outcome.exit_code,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "action finished"
        );
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{CommandAction, OutcomeStatus};

    #[tokio::test]
    async fn noop_succeeds_with_nothing_to_report() {
        let executor = Executor::new().expect("client builds");
        let scheduled_at = "2026-11-28T12:00:00Z".parse().expect("valid instant");

        let outcome = executor
            .execute(&Action::Noop, "job-1", scheduled_at, 1)
            .await;

        assert_eq!(outcome, Outcome::succeeded());
    }

    #[tokio::test]
    async fn an_invalid_stored_action_fails_without_running() {
        let executor = Executor::new().expect("client builds");
        let action = CommandAction {
            program: "true".to_owned(),
            args: Vec::new(),
            timeout_seconds: 0,
        };

        let outcome = executor
            .execute(&Action::Command(action), "job-1", Utc::now(), 1)
            .await;

        assert_eq!(outcome.status, OutcomeStatus::Failed);
        assert_eq!(
            outcome.error.as_deref(),
            Some("invalid action: action.timeout_seconds: must be between 1 and 86400, got 0")
        );
        assert_eq!(outcome.exit_code, None);
    }
}
