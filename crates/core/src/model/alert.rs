//! Alerts (DESIGN.md, *Job health, alerts, pause, skip, catch-up*): a change of a job's health,
//! recorded once and POSTed to a webhook until it is taken. This module holds what is pure:
//! the alert's shape, the words of its reason, the body sent, and when a failed delivery is
//! tried again. Who looks and who sends is the scheduler's; where it is kept, the store's.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{Health, Job, Run, RunStatus};
use crate::timestamp;

/// How often one alert is tried before it is given up (`failed`): with [`retry_delay`]'s
/// doubling from 1 s up to an hour, the last try is about 14 hours after the first.
pub const MAX_ALERT_ATTEMPTS: u32 = 20;

/// Where an alert's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// To be sent at its next attempt.
    Pending,
    /// A webhook answered 2xx.
    Sent,
    /// Given up after [`MAX_ALERT_ATTEMPTS`] attempts.
    Failed,
    /// Recorded only: neither the job nor the server that recorded it had a webhook.
    None,
}

impl Delivery {
    /// Every state, in the order the API documents them.
    pub const ALL: [Delivery; 4] = [
        Delivery::Pending,
        Delivery::Sent,
        Delivery::Failed,
        Delivery::None,
    ];

    /// The text stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Sent => "sent",
            Delivery::Failed => "failed",
            Delivery::None => "none",
        }
    }
}

stored_as_text!(Delivery, "alert delivery");

/// A health change to record: `from` is the health alerted last (`ok` when none was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    /// The job whose health changed.
    pub job_id: String,
    /// The health alerted before.
    pub from: Health,
    /// The health now.
    pub to: Health,
    /// Why, in words ([`reason`]).
    pub reason: String,
    /// When the change was seen.
    pub at: DateTime<Utc>,
    /// Where to POST it; `None`: recorded only.
    pub webhook: Option<String>,
}

/// A recorded alert and its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Its id, increasing: the order alerts were recorded in.
    pub id: i64,
    /// What was recorded.
    pub alert: NewAlert,
    /// Where its delivery stands.
    pub delivery: Delivery,
    /// Deliveries tried so far.
    pub attempts: u32,
    /// When it is tried next (`pending` only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When a webhook took it.
    pub sent_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl Alert {
    /// The `Idempotency-Key` every attempt of this alert carries, so a receiver that got it
    /// once can tell a repeat (sent again after a process died mid-send).
    pub fn idempotency_key(&self) -> String {
        format!("schedlite-alert-{}", self.id)
    }

    /// The JSON body POSTed to the webhook.
    pub fn payload(&self) -> Value {
        json!({
            "id": self.id,
            "job": self.alert.job_id,
            "from": self.alert.from.as_str(),
            "to": self.alert.to.as_str(),
            "reason": self.alert.reason,
            "at": timestamp::format(self.alert.at),
        })
    }
}

/// How long after its `attempts`-th failed delivery an alert is tried again (1 s, doubling,
/// at most an hour), or `None` once [`MAX_ALERT_ATTEMPTS`] have failed.
pub fn retry_delay(attempts: u32) -> Option<Duration> {
    if attempts >= MAX_ALERT_ATTEMPTS {
        return None;
    }
    let doublings = attempts.saturating_sub(1).min(12);
    Some(Duration::seconds(1 << doublings).min(Duration::hours(1)))
}

/// Why a readable job has the health `to` at `now`, in words, from what `Health::of` read.
pub fn reason(to: Health, job: &Job, newest_run: Option<&Run>, now: DateTime<Utc>) -> String {
    let expect = job.expect.clone().unwrap_or_default();
    match to {
        Health::Ok => "back to ok".to_string(),
        Health::Paused => match &job.pause {
            Some(note) => {
                let why = note
                    .reason
                    .as_deref()
                    .map_or(String::new(), |r| format!(": {r}"));
                let until = note.until.map_or(String::new(), |u| {
                    format!(" until {}", timestamp::format(u))
                });
                format!("paused by {}{until}{why}", note.by)
            }
            None => "paused".to_string(),
        },
        Health::Stuck => match newest_run.filter(|r| r.status == RunStatus::Running) {
            Some(run) => {
                let began = run.started_at.unwrap_or(run.scheduled_at);
                format!(
                    "the run of {} has been running for {} s (max_run_seconds {})",
                    timestamp::format(run.scheduled_at),
                    (now - began).num_seconds(),
                    expect.max_run_seconds.unwrap_or_default()
                )
            }
            None => "a run has been running too long".to_string(),
        },
        Health::Failing => format!(
            "{} runs in a row failed or timed out (max_consecutive_failures {})",
            job.counters.consecutive_failures,
            expect.max_consecutive_failures.unwrap_or_default()
        ),
        Health::Finished => "its trigger will not fire again".to_string(),
        Health::Late => {
            let within = expect.success_within_seconds.unwrap_or_default();
            match job.counters.last_success_at {
                Some(at) => format!(
                    "no success within {within} s (last success {})",
                    timestamp::format(at)
                ),
                None => format!("no success within {within} s (none yet)"),
            }
        }
        Health::Broken => "its stored definition cannot be read".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_retried_with_doubling_delays_then_given_up() {
        let delays: Vec<i64> = (1..=14)
            .map(|n| retry_delay(n).expect("retried").num_seconds())
            .collect();
        assert_eq!(
            delays,
            [
                1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600
            ]
        );
        assert_eq!(
            retry_delay(MAX_ALERT_ATTEMPTS - 1),
            Some(Duration::hours(1))
        );
        assert_eq!(retry_delay(MAX_ALERT_ATTEMPTS), None);
    }

    #[test]
    fn delivery_states_read_back_from_their_text() {
        for d in Delivery::ALL {
            assert_eq!(d.as_str().parse::<Delivery>(), Ok(d));
        }
        assert!("lost".parse::<Delivery>().is_err());
    }
}
