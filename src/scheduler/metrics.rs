//! What this process measures, in one prometheus-client registry (OpenMetrics text on
//! `GET /metrics`). The loop, the pruner and the API record here; gauges read from the
//! database are set at scrape time. Names and labels follow Prometheus conventions: base units
//! (seconds), `_total` counters, low-cardinality labels (a route template, never a raw path or
//! a job id).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::model::Health;
use crate::store::Gauges;

/// Label of runs by outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// `succeeded`, `failed`, `timed_out`, `interrupted`, `missed` or `skipped`.
    pub status: &'static str,
}

/// Label of run durations by action type.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    /// `noop`, `http` or `command`.
    pub action: &'static str,
}

/// Label of clock steps.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabel {
    /// `forward` or `backward`.
    pub direction: &'static str,
}

/// Label of storage failures.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// `busy` (another connection held the lock too long) or `unavailable` (full, read-only,
    /// gone, unreadable).
    pub kind: &'static str,
}

/// Labels of one HTTP request. Shared text rather than `String`s: a request's labels are built
/// for every answer, and cloning them for the second family must not copy the text again.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template (`/api/v1alpha1/jobs/{job_id}`), or `unmatched`.
    pub route: Arc<str>,
    /// The HTTP method.
    pub method: Cow<'static, str>,
    /// The status code.
    pub status: u16,
}

/// Labels of HTTP latency.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route template, or `unmatched`.
    pub route: Arc<str>,
    /// The HTTP method.
    pub method: Cow<'static, str>,
}

/// The method as label text: static for the standard methods, so labelling them allocates
/// nothing; any other method keeps its own name.
fn method_label(method: &str) -> Cow<'static, str> {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT",
    ];
    STANDARD
        .iter()
        .find(|s| **s == method)
        .map_or_else(|| Cow::Owned(method.to_owned()), |s| Cow::Borrowed(*s))
}

/// Label of jobs by health.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HealthLabel {
    /// `ok`, `late`, `failing`, `stuck`, `paused`, `finished` or `broken`.
    pub health: &'static str,
}

/// Label of pruned rows.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    /// `job_runs`, `audit_log` or `job_revisions`.
    pub table: &'static str,
}

/// Seconds buckets from 1 ms doubling to about 65 s: lateness and durations.
fn seconds_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 17)
}

/// Every metric of the process; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Runs started (scheduled and manual).
    pub runs_started: Counter,
    /// Occurrences by outcome (a coalesced or missed row counts its occurrences).
    pub runs: Family<StatusLabel, Counter>,
    /// Start minus scheduled instant of each run.
    pub lateness: Histogram,
    /// Run durations by action type.
    pub duration: Family<ActionLabel, Histogram>,
    /// Jobs claimed per pass that claimed any.
    pub claim_batch: Histogram,
    /// Wall time of one claim pass.
    pub pass_duration: Histogram,
    /// Storage failures met by the loop or the API.
    pub database_errors: Family<KindLabel, Counter>,
    /// HTTP requests answered.
    pub http_requests: Family<RequestLabels, Counter>,
    /// HTTP latency, from the request's arrival to its answer's head.
    pub http_duration: Family<RouteLabels, Histogram>,
    /// Rows deleted by the retention policy.
    pub pruned: Family<TableLabel, Counter>,
    /// Retention passes completed: a pass over a large history takes a while, and an operator
    /// (or the benchmark) can tell when the one at start is done.
    pub prune_passes: Counter,
    /// Steps of the wall clock seen by the loop (module `scheduler::clock`).
    clock_steps: Family<DirectionLabel, Counter>,
    jobs: Gauge,
    paused: Gauge,
    running: Gauge,
    due: Gauge,
    retries_pending: Gauge,
    by_health: Family<HealthLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("schedlite");
        let m = Metrics {
            runs_started: Counter::default(),
            runs: Family::default(),
            lateness: Histogram::new(seconds_buckets()),
            duration: Family::new_with_constructor(|| Histogram::new(seconds_buckets())),
            claim_batch: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
            pass_duration: Histogram::new(seconds_buckets()),
            database_errors: Family::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(|| Histogram::new(seconds_buckets())),
            pruned: Family::default(),
            prune_passes: Counter::default(),
            clock_steps: Family::default(),
            jobs: Gauge::default(),
            paused: Gauge::default(),
            running: Gauge::default(),
            due: Gauge::default(),
            retries_pending: Gauge::default(),
            by_health: Family::default(),
            registry: Registry::default(),
        };
        // Both directions read 0 until a step: a dashboard can tell "none" from "not exported".
        for direction in ["forward", "backward"] {
            let _ = m.clock_steps.get_or_create(&DirectionLabel { direction });
        }
        m.register(&mut registry);
        Metrics { registry, ..m }
    }

    /// Registers every metric in `r` under its name, help and unit.
    fn register(&self, r: &mut Registry) {
        r.register(
            "runs_started",
            "Runs this process started",
            self.runs_started.clone(),
        );
        r.register(
            "runs",
            "Occurrences recorded by this process, by outcome",
            self.runs.clone(),
        );
        r.register_with_unit(
            "run_lateness",
            "Start of each run minus its scheduled instant",
            prometheus_client::registry::Unit::Seconds,
            self.lateness.clone(),
        );
        r.register_with_unit(
            "run_duration",
            "Duration of each run, by action type",
            prometheus_client::registry::Unit::Seconds,
            self.duration.clone(),
        );
        r.register(
            "claim_batch_size",
            "Jobs claimed by one pass",
            self.claim_batch.clone(),
        );
        r.register_with_unit(
            "loop_pass_duration",
            "Wall time of one claim pass",
            prometheus_client::registry::Unit::Seconds,
            self.pass_duration.clone(),
        );
        r.register(
            "database_errors",
            "Storage failures met, by kind",
            self.database_errors.clone(),
        );
        r.register(
            "http_requests",
            "HTTP requests answered",
            self.http_requests.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "HTTP latency to the answer's head",
            prometheus_client::registry::Unit::Seconds,
            self.http_duration.clone(),
        );
        r.register(
            "pruned_rows",
            "Rows deleted by the retention policy",
            self.pruned.clone(),
        );
        r.register(
            "prune_passes",
            "Retention passes completed",
            self.prune_passes.clone(),
        );
        r.register(
            "clock_steps",
            "Steps of the wall clock by more than 1 s, by direction",
            self.clock_steps.clone(),
        );
        self.register_gauges(r);
    }

    /// Registers the gauges, which a scrape reads from the database (`Store::gauges`).
    fn register_gauges(&self, r: &mut Registry) {
        r.register("jobs", "Jobs in the database", self.jobs.clone());
        r.register("jobs_paused", "Paused jobs", self.paused.clone());
        r.register(
            "runs_running",
            "Runs now running, in every process",
            self.running.clone(),
        );
        r.register(
            "jobs_by_health",
            "Jobs by health (ok, late, failing, stuck, paused, finished, broken)",
            self.by_health.clone(),
        );
        r.register(
            "due_backlog",
            "Jobs due now that no pass has claimed yet",
            self.due.clone(),
        );
        r.register(
            "retries_pending",
            "Attempts that failed and wait for their retry, in every process",
            self.retries_pending.clone(),
        );
    }

    /// Counts occurrences recorded with `status`.
    pub fn count_runs(&self, status: &'static str, n: u64) {
        if n > 0 {
            self.runs.get_or_create(&StatusLabel { status }).inc_by(n);
        }
    }

    /// Counts a step of the wall clock, `forward` or `backward`.
    pub fn clock_step(&self, direction: &'static str) {
        self.clock_steps
            .get_or_create(&DirectionLabel { direction })
            .inc();
    }

    /// Counts a storage failure.
    pub fn database_error(&self, kind: &'static str) {
        self.database_errors
            .get_or_create(&KindLabel { kind })
            .inc();
    }

    /// Records one answered HTTP request. The route template comes as shared text (one copy per
    /// request at most) and a standard method as static text (none).
    pub fn http_request(&self, route: Arc<str>, method: &str, status: u16, took: Duration) {
        let method = method_label(method);
        self.http_duration
            .get_or_create(&RouteLabels {
                route: Arc::clone(&route),
                method: method.clone(),
            })
            .observe(took.as_secs_f64());
        self.http_requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
    }

    /// The OpenMetrics text of every metric, with the database's gauges as given and the
    /// jobs counted by health (a health absent from `by_health` is 0).
    pub fn encode(&self, gauges: Gauges, by_health: &[(Health, i64)]) -> String {
        for health in Health::ALL {
            let n = by_health
                .iter()
                .find(|(h, _)| *h == health)
                .map_or(0, |(_, n)| *n);
            self.by_health
                .get_or_create(&HealthLabel {
                    health: health.as_str(),
                })
                .set(n);
        }
        self.jobs.set(gauges.jobs);
        self.paused.set(gauges.paused);
        self.running.set(gauges.running);
        self.due.set(gauges.due);
        self.retries_pending.set(gauges.retries_pending);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
