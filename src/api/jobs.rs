//! `/jobs` (DESIGN.md, *API*): create, replace, list, read, delete, preview and run history.
//! All admin-only. Input is parsed once into domain types ([`NewJob`]); responses are built
//! from domain types by explicit conversions, so no struct serves both the file and the wire.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Admin, ApiJson, ApiQuery, JobIdPath};
use super::openapi::{Envelope, ErrorBody};
use super::{ApiError, AppState, cursor, ok, truncate};
use crate::actions::Action;
use crate::model::{Job, JobSettings, NewJob, Run};
use crate::schedule::Trigger;
use crate::store::{JobFilter, JobOrder};
use crate::timestamp::Timestamp;

/// Largest page for `GET /jobs` and run history.
pub const MAX_PAGE: u32 = 1000;
/// Default page size.
pub const DEFAULT_PAGE: u32 = 100;
/// Most fire times one preview returns.
pub const MAX_PREVIEW: u32 = 1000;
/// Upper bound of `misfire_grace_seconds` (one week).
pub const MAX_GRACE_SECONDS: u32 = 7 * 24 * 3600;
/// Upper bound of `max_instances`.
pub const MAX_INSTANCES: u32 = 1000;
/// Upper bound of `jitter_seconds` (one day).
pub const MAX_JITTER_SECONDS: u32 = 24 * 3600;
/// Upper bound of a job name's length, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// Routes of this module, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs, create_job))
        .routes(routes!(get_job, put_job, delete_job))
        .routes(routes!(preview_job))
        .routes(routes!(list_runs))
        .routes(routes!(pause_job))
        .routes(routes!(resume_job))
        .routes(routes!(run_job))
}

/// Body of `POST /jobs` and `PUT /jobs/{job_id}`. Unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct JobBody {
    /// `[A-Za-z0-9._-]{1,128}`; POST generates one when absent; PUT takes it from the path.
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    /// Free text, at most 256 characters.
    name: Option<String>,
    /// When the job fires.
    #[schema(value_type = TriggerDoc)]
    trigger: Value,
    /// What the job does: `{"type":"noop"}`, `{"type":"http",…}` or `{"type":"command",…}`
    /// (DESIGN.md, *Actions*).
    #[schema(value_type = ActionDoc)]
    action: Value,
    /// Later than this, an occurrence is recorded `missed` instead of run (default 60, max 604800).
    #[serde(default)]
    misfire_grace_seconds: Option<u32>,
    /// Occurrences caught up within grace run once (default true).
    #[serde(default)]
    coalesce: Option<bool>,
    /// Runs of this job that may run at once (default 1, max 1000); more are `skipped`.
    #[serde(default)]
    max_instances: Option<u32>,
    /// Random start delay bound in seconds (default 0, max 86400).
    #[serde(default)]
    jitter_seconds: Option<u32>,
    /// Create the job paused (default false).
    #[serde(default)]
    paused: Option<bool>,
}

/// A trigger, tagged by `type` (documentation of the accepted shapes).
#[derive(ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum TriggerDoc {
    /// Crontab syntax, 5 or 6 fields, evaluated in an IANA timezone (default UTC).
    Cron(CronBody),
    /// Every `seconds` from `start_at` (default: now + seconds) until `end_at`.
    Interval(IntervalBody),
    /// Once at `run_at`, which must be in the future.
    Date(DateBody),
}

/// An action, tagged by `type` (documentation of the accepted shapes; DESIGN.md, *Actions*).
#[derive(ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum ActionDoc {
    /// Does nothing.
    Noop,
    /// One HTTP request; success is a 2xx. Fields: method (default POST), url, headers,
    /// body, timeout_seconds (default 30, 1–86400).
    Http {
        /// GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS.
        method: Option<String>,
        /// http or https URL.
        url: String,
        /// Extra request headers (at most 32).
        headers: Option<std::collections::BTreeMap<String, String>>,
        /// Request body (at most 64 KiB).
        body: Option<String>,
        /// Seconds before the request is abandoned as `timed_out`.
        timeout_seconds: Option<u64>,
    },
    /// One program without a shell; success is exit code 0. Needs `--allow-command-jobs`.
    Command {
        /// The program.
        program: String,
        /// Its arguments.
        args: Option<Vec<String>>,
        /// Seconds before it is killed as `timed_out` (default 60).
        timeout_seconds: Option<u64>,
    },
}

/// A trigger as accepted; parsed by [`parse_tagged`] so errors carry the full field path
/// (serde's internally tagged enums lose it).
#[derive(Debug)]
enum TriggerBody {
    Cron(CronBody),
    Interval(IntervalBody),
    Date(DateBody),
}

/// A cron trigger's fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CronBody {
    expr: String,
    #[serde(default)]
    timezone: Option<String>,
}

/// An interval trigger's fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct IntervalBody {
    seconds: u64,
    #[serde(default)]
    start_at: Option<Timestamp>,
    #[serde(default)]
    end_at: Option<Timestamp>,
}

/// A date trigger's fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DateBody {
    run_at: Timestamp,
}

/// Splits `{"type": "...", ...}` at `field` into its type and the other members.
fn split_tagged(value: Value, field: &str) -> Result<(String, Value), ApiError> {
    let Value::Object(mut map) = value else {
        return Err(ApiError::validation(
            field,
            "must be an object with a `type`",
        ));
    };
    match map.remove("type") {
        Some(Value::String(kind)) => Ok((kind, Value::Object(map))),
        Some(_) => Err(ApiError::validation(
            format!("{field}.type"),
            "must be a string",
        )),
        None => Err(ApiError::validation(
            format!("{field}.type"),
            "missing field `type`",
        )),
    }
}

/// Deserializes the members of a tagged object, naming `field.member` on error.
fn parse_members<T: serde::de::DeserializeOwned>(value: Value, field: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let full = if path == "." {
            field.to_string()
        } else {
            format!("{field}.{path}")
        };
        ApiError::validation(full, e.into_inner().to_string())
    })
}

fn parse_trigger(value: Value) -> Result<TriggerBody, ApiError> {
    let (kind, rest) = split_tagged(value, "trigger")?;
    match kind.as_str() {
        "cron" => parse_members(rest, "trigger").map(TriggerBody::Cron),
        "interval" => parse_members(rest, "trigger").map(TriggerBody::Interval),
        "date" => parse_members(rest, "trigger").map(TriggerBody::Date),
        other => Err(ApiError::validation(
            "trigger.type",
            format!(
                "unknown trigger type `{}`: expected `cron`, `interval` or `date`",
                truncate(other, 32)
            ),
        )),
    }
}

fn parse_action(value: Value) -> Result<Action, ApiError> {
    let (kind, rest) = split_tagged(value, "action")?;
    match kind.as_str() {
        "noop" => match rest.as_object().and_then(|m| m.keys().next()) {
            Some(extra) => Err(ApiError::validation(
                format!("action.{extra}"),
                "unknown field for a `noop` action",
            )),
            None => Ok(Action::Noop),
        },
        "http" => parse_members(rest, "action").map(Action::Http),
        "command" => parse_members(rest, "action").map(Action::Command),
        other => Err(ApiError::validation(
            "action.type",
            format!(
                "unknown action type `{}`: expected `noop`, `http` or `command`",
                truncate(other, 32)
            ),
        )),
    }
}

/// Checks a job id: `[A-Za-z0-9._-]{1,128}`, not only dots (so it is a safe path segment).
pub fn validate_job_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::validation("id", "must be 1 to 128 characters"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(ApiError::validation(
            "id",
            "may contain only letters, digits, `.`, `_` and `-`",
        ));
    }
    if id.bytes().all(|b| b == b'.') {
        return Err(ApiError::validation("id", "may not consist only of dots"));
    }
    Ok(())
}

fn generated_id() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("job-{}", hex::encode(bytes))
}

fn build_trigger(body: TriggerBody, now: DateTime<Utc>) -> Result<Trigger, ApiError> {
    let invalid = |field: &str, message: String| {
        ApiError::InvalidTrigger(format!("trigger.{field}: {message}"))
    };
    match body {
        TriggerBody::Cron(CronBody { expr, timezone }) => {
            let tz = timezone.unwrap_or_else(|| "UTC".to_string());
            Trigger::cron(&expr, &tz).map_err(|e| {
                let field = if crate::schedule::parse_timezone(&tz).is_err() {
                    "timezone"
                } else {
                    "expr"
                };
                invalid(field, e.to_string())
            })
        }
        TriggerBody::Interval(IntervalBody {
            seconds,
            start_at,
            end_at,
        }) => {
            let start = match start_at {
                Some(s) => s.get(),
                None => {
                    let step = i64::try_from(seconds).unwrap_or(i64::MAX);
                    chrono::Duration::try_seconds(step)
                        .and_then(|d| now.checked_add_signed(d))
                        .ok_or_else(|| invalid("seconds", format!("{seconds} is too large")))?
                }
            };
            let end = end_at.map(Timestamp::get);
            if let Some(end) = end
                && end <= now
            {
                return Err(invalid(
                    "end_at",
                    format!("{} is in the past", Timestamp::new(end)),
                ));
            }
            Trigger::interval(seconds, start, end).map_err(|e| invalid("seconds", e.to_string()))
        }
        TriggerBody::Date(DateBody { run_at }) => {
            if run_at.get() <= now {
                return Err(invalid("run_at", format!("{run_at} is in the past")));
            }
            Ok(Trigger::Date {
                run_at: run_at.get(),
            })
        }
    }
}

fn check_range(
    field: &str,
    value: Option<u32>,
    min: u32,
    max: u32,
    default: u32,
) -> Result<u32, ApiError> {
    let v = value.unwrap_or(default);
    if v < min || v > max {
        return Err(ApiError::validation(
            field,
            format!("must be between {min} and {max}, got {v}"),
        ));
    }
    Ok(v)
}

/// Parses a body into a job with `id`, and computes its first run from `now`.
fn new_job(
    body: JobBody,
    id: String,
    now: DateTime<Utc>,
    allow_command: bool,
) -> Result<(NewJob, Option<DateTime<Utc>>), ApiError> {
    validate_job_id(&id)?;
    if let Some(name) = &body.name
        && name.chars().any(char::is_control)
    {
        return Err(ApiError::validation(
            "name",
            "may not contain control characters",
        ));
    }
    if let Some(name) = &body.name
        && name.chars().count() > MAX_NAME_CHARS
    {
        return Err(ApiError::validation(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let action = parse_action(body.action)?;
    let trigger_body = parse_trigger(body.trigger)?;
    action
        .validate()
        .map_err(|e| ApiError::validation(e.field(), e.message()))?;
    if matches!(action, Action::Command(_)) && !allow_command {
        return Err(ApiError::CommandJobsDisabled);
    }
    let defaults = JobSettings::default();
    let settings = JobSettings {
        misfire_grace_seconds: check_range(
            "misfire_grace_seconds",
            body.misfire_grace_seconds,
            0,
            MAX_GRACE_SECONDS,
            defaults.misfire_grace_seconds,
        )?,
        coalesce: body.coalesce.unwrap_or(defaults.coalesce),
        max_instances: check_range(
            "max_instances",
            body.max_instances,
            1,
            MAX_INSTANCES,
            defaults.max_instances,
        )?,
        jitter_seconds: check_range(
            "jitter_seconds",
            body.jitter_seconds,
            0,
            MAX_JITTER_SECONDS,
            defaults.jitter_seconds,
        )?,
    };
    let trigger = build_trigger(trigger_body, now)?;
    let paused = body.paused.unwrap_or(false);
    let first = first_run(&trigger, now);
    if first.is_none() {
        return Err(ApiError::InvalidTrigger(
            "trigger: never fires after now".into(),
        ));
    }
    let job = NewJob {
        id,
        name: body.name,
        trigger,
        action,
        settings,
        paused,
    };
    Ok((job, if paused { None } else { first }))
}

/// The first occurrence at or after `now` (an occurrence exactly now is due at once).
pub fn first_run(trigger: &Trigger, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    trigger
        .next_fire_after(now - chrono::Duration::milliseconds(1))
        .map(|f| Timestamp::new(f.at).get())
}

/// The trigger as it is sent back: the same shape as it is accepted.
fn trigger_json(trigger: &Trigger) -> Value {
    match trigger {
        Trigger::Date { run_at } => json!({"type": "date", "run_at": Timestamp::new(*run_at)}),
        Trigger::Interval {
            seconds,
            start_at,
            end_at,
        } => json!({
            "type": "interval",
            "seconds": seconds,
            "start_at": Timestamp::new(*start_at),
            "end_at": end_at.map(Timestamp::new),
        }),
        Trigger::Cron { expr, timezone } => {
            json!({"type": "cron", "expr": expr.as_str(), "timezone": timezone.name()})
        }
    }
}

/// One run as sent on the wire.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RunResponse {
    id: i64,
    job_id: String,
    kind: &'static str,
    status: &'static str,
    scheduled_at: Timestamp,
    last_scheduled_at: Option<Timestamp>,
    occurrences: i64,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    duration_ms: Option<i64>,
    instance_id: Option<String>,
    http_status: Option<i64>,
    exit_code: Option<i64>,
    output: Option<String>,
    error: Option<String>,
}

impl From<Run> for RunResponse {
    fn from(run: Run) -> RunResponse {
        RunResponse {
            id: run.id,
            job_id: run.job_id,
            kind: run.kind.as_str(),
            status: run.status.as_str(),
            scheduled_at: run.scheduled_at.into(),
            last_scheduled_at: run.last_scheduled_at.map(Timestamp::new),
            occurrences: run.occurrences,
            started_at: run.started_at.map(Timestamp::new),
            finished_at: run.finished_at.map(Timestamp::new),
            duration_ms: run.duration_ms,
            instance_id: run.owner_id,
            http_status: run.http_status,
            exit_code: run.exit_code,
            output: run.output,
            error: run.error,
        }
    }
}

/// One job as sent on the wire; the first four fields are the seed story's `JobInfo`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct JobResponse {
    id: String,
    next_run_time: Option<Timestamp>,
    trigger_type: &'static str,
    trigger_details: String,
    name: Option<String>,
    #[schema(value_type = TriggerDoc)]
    trigger: Value,
    #[schema(value_type = ActionDoc)]
    action: Action,
    paused: bool,
    misfire_grace_seconds: u32,
    coalesce: bool,
    max_instances: u32,
    jitter_seconds: u32,
    created_at: Timestamp,
    updated_at: Timestamp,
    last_run: Option<RunResponse>,
}

impl JobResponse {
    fn new(job: Job, last_run: Option<Run>) -> JobResponse {
        JobResponse {
            next_run_time: job.next_run_at.map(Timestamp::new),
            trigger_type: job.trigger.kind().as_str(),
            trigger_details: job.trigger.details(),
            trigger: trigger_json(&job.trigger),
            name: job.name,
            action: job.action,
            paused: job.paused,
            misfire_grace_seconds: job.settings.misfire_grace_seconds,
            coalesce: job.settings.coalesce,
            max_instances: job.settings.max_instances,
            jitter_seconds: job.settings.jitter_seconds,
            created_at: job.created_at.into(),
            updated_at: job.updated_at.into(),
            last_run: last_run.map(RunResponse::from),
            id: job.id,
        }
    }
}

async fn job_response(state: &AppState, job: Job) -> Result<JobResponse, ApiError> {
    let last = state.store.last_run(&job.id).await?;
    Ok(JobResponse::new(job, last))
}

/// Query of `GET /jobs`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Page size, 1–1000 (default 100).
    #[serde(default)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
    /// Only paused (true) or only active (false) jobs.
    #[serde(default)]
    paused: Option<bool>,
    /// Only `date`, `interval` or `cron` jobs.
    #[serde(default)]
    trigger_type: Option<String>,
    /// `next_run` (default): by next run, paused and finished jobs last; the first page is the
    /// live view, and following its cursors lists every job that exists throughout exactly
    /// once, in the order as of the first page. `id`: by id, a complete and stable enumeration
    /// for exports and copies. A cursor continues only the order it came from.
    #[serde(default)]
    #[param(inline)]
    order: Option<ListOrder>,
}

/// The order of `GET /jobs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum ListOrder {
    /// By next run time, paused and finished jobs last, then by id.
    #[default]
    NextRun,
    /// By id.
    Id,
}

impl From<ListOrder> for JobOrder {
    fn from(order: ListOrder) -> JobOrder {
        match order {
            ListOrder::NextRun => JobOrder::NextRun,
            ListOrder::Id => JobOrder::Id,
        }
    }
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct JobList {
    jobs: Vec<JobResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// A confirmation.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Message {
    message: String,
}

/// Fire times of a job.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Preview {
    job_id: String,
    /// The job's timezone (UTC for interval and date jobs).
    timezone: String,
    /// Times are strictly after this instant.
    from: Timestamp,
    times: Vec<PreviewTime>,
}

/// One fire time.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct PreviewTime {
    /// The instant, in UTC.
    utc: Timestamp,
    /// The same instant in the job's timezone, with its offset.
    local: String,
    /// `shifted`: the local time does not exist (spring forward) and was moved past the gap;
    /// `repeated`: the second instant with this local time (fall back); null otherwise.
    dst: Option<&'static str>,
}

/// A page of runs.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RunList {
    runs: Vec<RunResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// The run started by `POST /jobs/{job_id}/run`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RunNow {
    run: Option<RunResponse>,
}

fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    check_range("limit", limit, 1, MAX_PAGE, DEFAULT_PAGE)
}

/// `GET /jobs`: jobs in next-run order (paused and finished last) or id order,
/// keyset-paginated; a listing in either order terminates (README, *Listing jobs*).
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(ListParams),
    responses((status = 200, description = "A page of jobs in next-run order", body = Envelope<JobList>), (status = 401, description = "UNAUTHORIZED: no key, or an unknown or revoked key", body = ErrorBody), (status = 403, description = "FORBIDDEN: the key is not an admin key", body = ErrorBody), (status = 422, description = "VALIDATION_ERROR: a query parameter is invalid", body = ErrorBody), (status = 503, description = "DATABASE_BUSY or DATABASE_UNAVAILABLE: retry later", body = ErrorBody)))]
async fn list_jobs(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = page_limit(params.limit)?;
    let order = JobOrder::from(params.order.unwrap_or_default());
    let after = params
        .cursor
        .as_deref()
        .map(cursor::decode_jobs)
        .transpose()?;
    if let Some(after) = &after
        && after.order() != order
    {
        return Err(ApiError::validation(
            "cursor",
            "belongs to a listing in another order: pass the same `order` as its first page",
        ));
    }
    if let Some(t) = &params.trigger_type
        && !matches!(t.as_str(), "date" | "interval" | "cron")
    {
        return Err(ApiError::validation(
            "trigger_type",
            "must be one of `date`, `interval`, `cron`",
        ));
    }
    let filter = JobFilter {
        paused: params.paused,
        trigger_type: params.trigger_type,
    };
    let page = state
        .store
        .list_jobs(&filter, order, after.as_ref(), limit)
        .await?;
    let ids: Vec<&str> = page.jobs.iter().map(|j| j.id.as_str()).collect();
    let mut last_runs = state.store.last_runs(&ids).await?;
    let jobs = page
        .jobs
        .into_iter()
        .map(|job| {
            let last = last_runs.remove(&job.id);
            JobResponse::new(job, last)
        })
        .collect();
    Ok(ok(JobList {
        jobs,
        next_cursor: page.next.as_ref().map(cursor::encode_jobs),
    }))
}

/// `POST /jobs`: creates a job; 409 when the id exists.
#[utoipa::path(post, path = "/jobs", tag = "jobs", request_body = JobBody,
    responses((status = 201, description = "Created", body = Envelope<JobResponse>), (status = 401, description = "UNAUTHORIZED: no key, or an unknown or revoked key", body = ErrorBody), (status = 403, description = "FORBIDDEN: the key is not an admin key", body = ErrorBody), (status = 400, description = "INVALID_JSON", body = ErrorBody), (status = 409, description = "JOB_ALREADY_EXISTS", body = ErrorBody), (status = 413, description = "PAYLOAD_TOO_LARGE", body = ErrorBody), (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = ErrorBody), (status = 422, description = "VALIDATION_ERROR, INVALID_TRIGGER or COMMAND_JOBS_DISABLED", body = ErrorBody), (status = 503, description = "DATABASE_BUSY or DATABASE_UNAVAILABLE: retry later", body = ErrorBody)))]
async fn create_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<JobBody>,
) -> Result<impl IntoResponse, ApiError> {
    let now = Timestamp::now().get();
    let id = body.id.clone().unwrap_or_else(generated_id);
    let (job, next) = new_job(body, id, now, state.config.allow_command_jobs)?;
    let stored = state
        .store
        .insert_job(&job, next, now, &who.name)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::JobExists(id) => ApiError::JobExists(id),
            other => ApiError::from(other),
        })?;
    state.scheduler.wake();
    tracing::info!(job.id = %stored.id, key.name = %who.name, "job created");
    Ok((StatusCode::CREATED, ok(job_response(&state, stored).await?)))
}

/// `PUT /jobs/{job_id}`: creates (201) or replaces (200) the job. A replaced job keeps its run
/// history; its next run is recomputed from the new trigger.
#[utoipa::path(put, path = "/jobs/{job_id}", tag = "jobs", params(("job_id" = String, Path, description = "The job id")), request_body = JobBody,
    responses((status = 200, description = "Replaced (history kept)", body = Envelope<JobResponse>),
        (status = 201, description = "Created", body = Envelope<JobResponse>), (status = 401, description = "UNAUTHORIZED: no key, or an unknown or revoked key", body = ErrorBody), (status = 403, description = "FORBIDDEN: the key is not an admin key", body = ErrorBody), (status = 400, description = "INVALID_JSON", body = ErrorBody), (status = 413, description = "PAYLOAD_TOO_LARGE", body = ErrorBody), (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = ErrorBody), (status = 422, description = "VALIDATION_ERROR, INVALID_TRIGGER or COMMAND_JOBS_DISABLED", body = ErrorBody), (status = 503, description = "DATABASE_BUSY or DATABASE_UNAVAILABLE: retry later", body = ErrorBody)))]
async fn put_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
    ApiJson(body): ApiJson<JobBody>,
) -> Result<impl IntoResponse, ApiError> {
    validate_job_id(&job_id)?;
    if let Some(id) = &body.id
        && id != &job_id
    {
        return Err(ApiError::validation(
            "id",
            "must equal the id in the path (or be left out)",
        ));
    }
    let now = Timestamp::now().get();
    let (job, next) = new_job(body, job_id, now, state.config.allow_command_jobs)?;
    let (stored, created) = state.store.upsert_job(&job, next, now, &who.name).await?;
    state.scheduler.wake();
    tracing::info!(job.id = %stored.id, created, key.name = %who.name, "job put");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ok(job_response(&state, stored).await?)))
}

/// Loads a job or answers 404 `JOB_NOT_FOUND` (also for ids that cannot exist).
async fn load_job(state: &AppState, job_id: &str) -> Result<Job, ApiError> {
    let not_found = || ApiError::JobNotFound(truncate(job_id, 128));
    if validate_job_id(job_id).is_err() {
        return Err(not_found());
    }
    state.store.get_job(job_id).await?.ok_or_else(not_found)
}

/// `GET /jobs/{job_id}`: the job with its definition, next run and last run.
#[utoipa::path(get, path = "/jobs/{job_id}", tag = "jobs", params(("job_id" = String, Path, description = "The job id")),
    responses((status = 200, description = "The job with its last run", body = Envelope<JobResponse>), (status = 401, description = "UNAUTHORIZED: no key, or an unknown or revoked key", body = ErrorBody), (status = 403, description = "FORBIDDEN: the key is not an admin key", body = ErrorBody), (status = 404, description = "JOB_NOT_FOUND", body = ErrorBody), (status = 503, description = "DATABASE_BUSY or DATABASE_UNAVAILABLE: retry later", body = ErrorBody)))]
async fn get_job(
    _admin: Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
) -> Result<impl IntoResponse, ApiError> {
    let not_found = || ApiError::JobNotFound(truncate(&job_id, 128));
    if validate_job_id(&job_id).is_err() {
        return Err(not_found());
    }
    let (job, last) = state
        .store
        .get_job_with_last_run(&job_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(ok(JobResponse::new(job, last)))
}

/// `DELETE /jobs/{job_id}`: removes the job and its history (seed story AC 2 and 3).
#[utoipa::path(delete, path = "/jobs/{job_id}", tag = "jobs", params(("job_id" = String, Path, description = "The job id")),
    responses((status = 200, description = "Deleted, with its history", body = Envelope<Message>), (status = 401, description = "UNAUTHORIZED: no key, or an unknown or revoked key", body = ErrorBody), (status = 403, description = "FORBIDDEN: the key is not an admin key", body = ErrorBody), (status = 404, description = "JOB_NOT_FOUND", body = ErrorBody), (status = 503, description = "DATABASE_BUSY or DATABASE_UNAVAILABLE: retry later", body = ErrorBody)))]
async fn delete_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
) -> Result<impl IntoResponse, ApiError> {
    let not_found = || ApiError::JobNotFound(truncate(&job_id, 128));
    if validate_job_id(&job_id).is_err()
        || !state
            .store
            .delete_job(&job_id, Utc::now(), &who.name)
            .await?
    {
        return Err(not_found());
    }
    state.scheduler.wake();
    tracing::info!(job.id = %job_id, key.name = %who.name, "job deleted");
    Ok(ok(Message {
        message: format!("Job '{job_id}' deleted"),
    }))
}

/// `POST /jobs/{job_id}/pause`: the job keeps its definition and history but does not fire
/// until resumed. Pausing a paused job changes nothing.
#[utoipa::path(post, path = "/jobs/{job_id}/pause", tag = "jobs", params(("job_id" = String, Path, description = "The job id")),
    responses((status = 200, description = "Paused (or already paused)", body = Envelope<JobResponse>), (status = 401, description = "UNAUTHORIZED: no key, or an unknown or revoked key", body = ErrorBody), (status = 403, description = "FORBIDDEN: the key is not an admin key", body = ErrorBody), (status = 404, description = "JOB_NOT_FOUND", body = ErrorBody), (status = 503, description = "DATABASE_BUSY or DATABASE_UNAVAILABLE: retry later", body = ErrorBody)))]
async fn pause_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
) -> Result<impl IntoResponse, ApiError> {
    set_paused(&state, &who.name, &job_id, true).await
}

/// `POST /jobs/{job_id}/resume`: the next run is the first occurrence after now, so a long
/// pause causes no burst of misfires. Resuming an active job changes nothing.
#[utoipa::path(post, path = "/jobs/{job_id}/resume", tag = "jobs", params(("job_id" = String, Path, description = "The job id")),
    responses((status = 200, description = "Resumed; next run computed from now", body = Envelope<JobResponse>), (status = 401, description = "UNAUTHORIZED: no key, or an unknown or revoked key", body = ErrorBody), (status = 403, description = "FORBIDDEN: the key is not an admin key", body = ErrorBody), (status = 404, description = "JOB_NOT_FOUND", body = ErrorBody), (status = 503, description = "DATABASE_BUSY or DATABASE_UNAVAILABLE: retry later", body = ErrorBody)))]
async fn resume_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
) -> Result<impl IntoResponse, ApiError> {
    set_paused(&state, &who.name, &job_id, false).await
}

/// Pauses (no next run) or resumes (next run strictly after now) a job, waking the loop and
/// auditing the change; a job already in that state is returned unchanged.
async fn set_paused(
    state: &AppState,
    key_name: &str,
    job_id: &str,
    pause: bool,
) -> Result<axum::Json<Envelope<JobResponse>>, ApiError> {
    let job = load_job(state, job_id).await?;
    if job.paused == pause {
        return Ok(ok(job_response(state, job).await?));
    }
    let now = Timestamp::now().get();
    let next = if pause {
        None
    } else {
        job.trigger
            .next_fire_after(now)
            .map(|f| Timestamp::new(f.at).get())
    };
    let changed = state
        .store
        .set_paused(&job.id, pause, next, now, key_name)
        .await?
        .ok_or_else(|| ApiError::JobNotFound(truncate(job_id, 128)))?;
    state.scheduler.wake();
    Ok(ok(job_response(state, changed).await?))
}

/// `POST /jobs/{job_id}/run`: one extra occurrence now, recorded in the history like any
/// other (kind `manual`); the schedule and the paused state are unchanged. Answers 202 with
/// the run, which is `running` until its outcome is recorded.
#[utoipa::path(post, path = "/jobs/{job_id}/run", tag = "jobs", params(("job_id" = String, Path, description = "The job id")),
    responses((status = 202, description = "A manual run was started", body = Envelope<RunNow>), (status = 401, description = "UNAUTHORIZED: no key, or an unknown or revoked key", body = ErrorBody), (status = 403, description = "FORBIDDEN: the key is not an admin key", body = ErrorBody), (status = 404, description = "JOB_NOT_FOUND", body = ErrorBody), (status = 503, description = "SCHEDULER_NOT_RUNNING, DATABASE_BUSY or DATABASE_UNAVAILABLE", body = ErrorBody)))]
async fn run_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
) -> Result<impl IntoResponse, ApiError> {
    let job = load_job(&state, &job_id).await?;
    let status = state.scheduler.status();
    let instance = status
        .instance_id
        .filter(|_| status.running)
        .ok_or(ApiError::SchedulerNotRunning)?;
    let now = Timestamp::now().get();
    // Inserting the run and handing it to the loop happen in a task of their own: a client
    // that disconnects mid-request drops this handler, and a committed run row that never
    // reached the loop would stay `running` for as long as this process lives.
    let started = {
        let state = state.clone();
        let job_id = job.id.clone();
        let key_name = who.name.clone();
        tokio::spawn(async move {
            let claimed = state
                .store
                .insert_manual_run(&job_id, now, &instance, &key_name)
                .await?
                .ok_or_else(|| ApiError::JobNotFound(truncate(&job_id, 128)))?;
            let run_id = claimed.run_id;
            if !state.scheduler.submit(claimed) {
                // The loop stopped between the check and the hand-over.
                state
                    .store
                    .interrupt_runs(
                        &[run_id],
                        Utc::now(),
                        "the scheduler stopped before the run could start",
                    )
                    .await?;
                return Err(ApiError::SchedulerNotRunning);
            }
            Ok(run_id)
        })
    };
    let run_id = started.await.map_err(|_| ApiError::SchedulerNotRunning)??;
    let run = state.store.get_run(run_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        ok(RunNow {
            run: run.map(RunResponse::from),
        }),
    ))
}

/// Query of `GET /jobs/{job_id}/preview`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PreviewParams {
    /// How many fire times, 1–1000 (default 10).
    #[serde(default)]
    count: Option<u32>,
    /// RFC 3339 instant to start after (default now).
    #[serde(default)]
    #[param(value_type = Option<String>)]
    from: Option<Timestamp>,
}

/// `GET /jobs/{job_id}/preview?count=N&from=T`: the next N fire times strictly after T (default
/// now), each in UTC and in the job's timezone, with DST adjustments marked.
#[utoipa::path(get, path = "/jobs/{job_id}/preview", tag = "jobs", params(("job_id" = String, Path, description = "The job id"), PreviewParams),
    responses((status = 200, description = "The next fire times", body = Envelope<Preview>), (status = 401, description = "UNAUTHORIZED: no key, or an unknown or revoked key", body = ErrorBody), (status = 403, description = "FORBIDDEN: the key is not an admin key", body = ErrorBody), (status = 404, description = "JOB_NOT_FOUND", body = ErrorBody), (status = 422, description = "VALIDATION_ERROR: a query parameter is invalid", body = ErrorBody), (status = 503, description = "DATABASE_BUSY or DATABASE_UNAVAILABLE: retry later", body = ErrorBody)))]
async fn preview_job(
    _admin: Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
    ApiQuery(params): ApiQuery<PreviewParams>,
) -> Result<impl IntoResponse, ApiError> {
    let job = load_job(&state, &job_id).await?;
    let count = check_range("count", params.count, 1, MAX_PREVIEW, 10)?;
    let from = params.from.map(Timestamp::get).unwrap_or_else(Utc::now);
    let tz = job.trigger.timezone();
    let times: Vec<PreviewTime> = job
        .trigger
        .fires_after(from)
        .take(count as usize)
        .map(|fire| PreviewTime {
            utc: Timestamp::new(fire.at),
            local: fire
                .at
                .with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::Millis, false),
            dst: fire.dst.map(|d| d.as_str()),
        })
        .collect();
    Ok(ok(Preview {
        job_id: job.id,
        timezone: tz.name().to_string(),
        from: Timestamp::new(from),
        times,
    }))
}

/// Query of `GET /jobs/{job_id}/runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RunsParams {
    /// Page size, 1–1000 (default 100).
    #[serde(default)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /jobs/{job_id}/runs`: run history, newest first, keyset-paginated.
#[utoipa::path(get, path = "/jobs/{job_id}/runs", tag = "jobs", params(("job_id" = String, Path, description = "The job id"), RunsParams),
    responses((status = 200, description = "Run history, newest first", body = Envelope<RunList>), (status = 401, description = "UNAUTHORIZED: no key, or an unknown or revoked key", body = ErrorBody), (status = 403, description = "FORBIDDEN: the key is not an admin key", body = ErrorBody), (status = 404, description = "JOB_NOT_FOUND", body = ErrorBody), (status = 422, description = "VALIDATION_ERROR: a query parameter is invalid", body = ErrorBody), (status = 503, description = "DATABASE_BUSY or DATABASE_UNAVAILABLE: retry later", body = ErrorBody)))]
async fn list_runs(
    _admin: Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
    ApiQuery(params): ApiQuery<RunsParams>,
) -> Result<impl IntoResponse, ApiError> {
    let job = load_job(&state, &job_id).await?;
    let limit = page_limit(params.limit)?;
    let before = match params.cursor.as_deref() {
        None => None,
        Some(c) => {
            let bad = || ApiError::validation("cursor", "is not a cursor returned by this API");
            let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
            let text = String::from_utf8(bytes).map_err(|_| bad())?;
            let at = text.strip_prefix("run:").ok_or_else(bad)?;
            Timestamp::parse(at).map_err(|_| bad())?;
            Some(at.to_string())
        }
    };
    let runs = state
        .store
        .list_runs(&job.id, before.as_deref(), limit)
        .await?;
    let next_cursor = if runs.len() as u32 == limit {
        runs.last()
            .map(|r| URL_SAFE_NO_PAD.encode(format!("run:{}", Timestamp::new(r.scheduled_at))))
    } else {
        None
    };
    let runs: Vec<RunResponse> = runs.into_iter().map(RunResponse::from).collect();
    Ok(ok(RunList { runs, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_checked() {
        for good in ["a", "nightly-backup", "A.b_c-9", &"x".repeat(128)] {
            assert!(validate_job_id(good).is_ok(), "{good:?} should be accepted");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(129), "a%2Fb"] {
            assert!(validate_job_id(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
