//! Alerts (DESIGN.md, *Job health, alerts, pause, skip, catch-up*). Every serving process, once
//! a second, compares the health of the jobs that expect something with the health last
//! alerted for each, records each change through the store's compare-and-set (so a change is
//! recorded once, however many processes or nodes look), and then sends the alerts that are
//! due and that it could take (so each is sent by one process at a time).
//!
//! Why a look every second rather than a hook on each outcome: `late` and `stuck` begin
//! without anything being written (they are the absence of a success, or of an end), so only
//! the clock can notice them. The look reads the jobs' rows and newest runs, never their
//! history. A flapping job is held to one alert per [`AlertSettings::min_interval`]: a change
//! within it waits, and is recorded at its end if the health still differs from the last one
//! alerted (so one alert per transition, never a storm).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::model::{Alert, Health, JobEntry, NewAlert, alert_reason, alert_retry_delay};
use crate::store::{AttemptResult, Store, StoreError, Watched};
use crate::timestamp::{self, Timestamp};

/// How often a process looks at health and sends due alerts.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Jobs read per page of the look.
const WATCH_PAGE: u32 = 500;
/// Pages one look reads at most; a look that stops there goes on from that job at the next
/// one, so with many thousands of jobs that expect something each is still looked at in turn.
const WATCH_PAGES_PER_LOOK: u32 = 10;
/// Alerts one process takes to send at a time.
const SEND_BATCH: u32 = 16;
/// How long a webhook may take to answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Where alerts go and how often a job may alert.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// The server's webhook (`--alert-webhook`), for jobs without one of their own.
    pub webhook: Option<String>,
    /// The least time between two alerts of one job (`--alert-min-interval-seconds`).
    pub min_interval: Duration,
}

/// What the alerts task of one process keeps between looks.
struct Alerts {
    store: Store,
    settings: AlertSettings,
    client: reqwest::Client,
    /// The last job the previous look read, when it stopped before the end.
    resume_after: Option<String>,
}

/// Looks and sends every [`LOOK_EVERY`] until `stop` turns true.
pub async fn run_alerts(store: Store, settings: AlertSettings, mut stop: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client for alerts; none are sent");
            return;
        }
    };
    let mut alerts = Alerts {
        store,
        settings,
        client,
        resume_after: None,
    };
    let mut tick = tokio::time::interval(LOOK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(e) = alerts.look(timestamp::now()).await {
            tracing::warn!(error = %e, "the look at job health for alerts failed");
        }
        if let Err(e) = alerts.send_due(timestamp::now()).await {
            tracing::warn!(error = %e, "sending alerts failed");
        }
    }
}

impl Alerts {
    /// Records the health changes seen at `now`; returns how many this process recorded.
    async fn look(&mut self, now: DateTime<Utc>) -> Result<u32, StoreError> {
        let mut recorded = 0;
        for _ in 0..WATCH_PAGES_PER_LOOK {
            let page = self
                .store
                .alert_watch(self.resume_after.as_deref(), WATCH_PAGE)
                .await?;
            let full = page.len() == WATCH_PAGE as usize;
            self.resume_after = page
                .last()
                .filter(|_| full)
                .map(|w| w.entry.id().to_string());
            if page.is_empty() {
                break;
            }
            let ids: Vec<&str> = page.iter().map(|w| w.entry.id()).collect();
            let runs = self.store.last_runs(&ids).await?;
            for watched in &page {
                let Some(alert) = self.change(watched, &runs, now) else {
                    continue;
                };
                if self
                    .store
                    .record_alert(&alert, watched.alerted)
                    .await?
                    .is_some()
                {
                    tracing::warn!(job.id = %alert.job_id, from = %alert.from, to = %alert.to,
                        reason = %alert.reason, "job health changed");
                    recorded += 1;
                }
            }
            if !full {
                break;
            }
        }
        Ok(recorded)
    }

    /// The alert to record for `watched` at `now`: `None` when its health is the one last
    /// alerted, or when its last alert is younger than the minimum interval.
    fn change(
        &self,
        watched: &Watched,
        runs: &std::collections::HashMap<String, crate::model::Run>,
        now: DateTime<Utc>,
    ) -> Option<NewAlert> {
        let (to, reason, own_webhook) = match &watched.entry {
            JobEntry::Readable(job) => {
                let run = runs.get(&job.id);
                let to = Health::of(job, run, now);
                let hook = job.expect.as_ref().and_then(|e| e.alert_webhook.clone());
                (to, alert_reason(to, job, run, now), hook)
            }
            JobEntry::Broken(broken) => (Health::Broken, broken.problem.clone(), None),
        };
        let from = watched.alerted.unwrap_or(Health::Ok);
        if to == from {
            return None;
        }
        let min = chrono::Duration::from_std(self.settings.min_interval).ok()?;
        if watched.alerted_at.is_some_and(|at| now - at < min) {
            return None;
        }
        Some(NewAlert {
            job_id: watched.entry.id().to_string(),
            from,
            to,
            reason,
            at: now,
            webhook: own_webhook.or_else(|| self.settings.webhook.clone()),
        })
    }

    /// Sends the due alerts this process could take, all at once, and records each outcome.
    async fn send_due(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let due = self.store.claim_alerts(now, SEND_BATCH).await?;
        let mut sends = tokio::task::JoinSet::new();
        for alert in due {
            let client = self.client.clone();
            sends.spawn(async move {
                let result = send(&client, &alert).await;
                (alert, result)
            });
        }
        while let Some(joined) = sends.join_next().await {
            let Ok((alert, result)) = joined else {
                continue;
            };
            let attempt = alert.attempts + 1;
            let settled = match result {
                Ok(()) => AttemptResult::Sent(timestamp::now()),
                Err(error) => {
                    let retry_at = alert_retry_delay(attempt).map(|d| timestamp::now() + d);
                    tracing::warn!(alert.id = alert.id, job.id = %alert.alert.job_id, attempt,
                        retry_at = %retry_at.map_or("never".into(), |t| Timestamp::new(t).to_string()),
                        error = %error, "an alert was not taken by its webhook");
                    AttemptResult::Failed { error, retry_at }
                }
            };
            self.store.settle_alert(alert.id, &settled).await?;
        }
        Ok(())
    }
}

/// POSTs `alert` to its webhook; `Err` says why it was not taken (never with the URL, which
/// may hold a token).
async fn send(client: &reqwest::Client, alert: &Alert) -> Result<(), String> {
    let Some(url) = &alert.alert.webhook else {
        return Ok(());
    };
    let answer = client
        .post(url)
        .header("Idempotency-Key", alert.idempotency_key())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(alert.payload().to_string())
        .send()
        .await
        .map_err(|e| crate::error_chain::error_chain(&e.without_url()))?;
    let status = answer.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the webhook answered HTTP {}", status.as_u16()))
    }
}
