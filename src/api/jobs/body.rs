//! The body of `POST /jobs` and `PUT /jobs/{job_id}`, parsed once into the domain [`NewJob`]
//! with errors naming the field at fault.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::schema::AdditionalProperties;
use utoipa::openapi::{ObjectBuilder, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::exclusive::parse_exclusive;
use super::retry::{RetryBody, parse_retry};
use super::{
    MAX_GRACE_SECONDS, MAX_INSTANCES, MAX_JITTER_SECONDS, MAX_NAME_CHARS, check_range, first_run,
    validate_job_id,
};
use crate::actions::{Action, CommandAction, HttpAction};
use crate::api::objects::object_only;
use crate::api::openapi::tagged_one_of;
use crate::api::{ApiError, truncate};
use crate::model::{Expect, HistoryLimits, JobSettings, NewJob};
use crate::schedule::{DstPolicy, Fold, Gap, Trigger};
use crate::timestamp::Timestamp;

/// Body of `POST /jobs` and `PUT /jobs/{job_id}`. Unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "hourly ping",
    "trigger": {"type": "interval", "seconds": 3600},
    "action": {"type": "noop"}
}))]
pub(in crate::api) struct JobBody {
    /// `[A-Za-z0-9._-]{1,128}`, not only dots; POST generates one when absent; PUT takes it
    /// from the path.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$"
    )]
    pub(super) id: Option<String>,
    /// Free text, at most 256 characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 256, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    name: Option<String>,
    /// When the job fires.
    #[schema(value_type = TriggerBody)]
    trigger: Value,
    /// What the job does: `{"type":"noop"}`, `{"type":"http",…}` or `{"type":"command",…}`
    /// (DESIGN.md, *Actions*).
    #[schema(value_type = ActionSchema)]
    pub(super) action: Value,
    /// Later than this, an occurrence is recorded `missed` instead of run (default 60, max 604800).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 604_800)]
    misfire_grace_seconds: Option<u32>,
    /// Occurrences caught up within grace run once (default true).
    #[serde(default)]
    coalesce: Option<bool>,
    /// Occurrences missed beyond the grace (downtime): `coalesce` (default) records them as
    /// one `missed` row; `all` runs every one, in order, at most `max_instances` at a time;
    /// `none` runs nothing late, not even within grace; `ask` holds them until
    /// `POST /jobs/{job_id}/catch-up`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(coalesce|all|none|ask)$")]
    catch_up: Option<String>,
    /// Runs of this job that may run at once (default 1, max 1000); more are `skipped`.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    max_instances: Option<u32>,
    /// Random start delay bound in seconds (default 0, max 86400).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 86_400)]
    jitter_seconds: Option<u32>,
    /// Create the job paused (default false).
    #[serde(default)]
    paused: Option<bool>,
    /// What the job is expected to do, which decides its health (default: nothing).
    #[serde(default, deserialize_with = "object_only")]
    expect: Option<ExpectBody>,
    /// How long this job's runs are kept, where it should differ from the server's
    /// `--keep-days`, `--keep-failed-days` and `--keep-runs` (default: as the server says).
    #[serde(default, deserialize_with = "object_only")]
    history: Option<HistoryBody>,
    /// How a failed attempt is tried again (default: it is not; DESIGN.md, *Retries*).
    #[serde(default, deserialize_with = "object_only")]
    retry: Option<RetryBody>,
    /// At most one run of this group at a time, across every process and node (a failed
    /// attempt waiting for its retry holds it too); default: no group.
    #[serde(default)]
    #[schema(max_length = 128, pattern = "^[A-Za-z0-9._:-]{1,128}$")]
    exclusive_group: Option<String>,
    /// An occurrence due while its group is held: `skip` (default) records it `skipped`,
    /// naming the job holding the group; `wait` keeps it due until the group is free (within
    /// the misfire grace). Only with `exclusive_group`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(skip|wait)$")]
    exclusive_policy: Option<String>,
}

/// A job's own history limits; each field is optional and overrides the server's flag of the
/// same name for this job (DESIGN.md, *Run history retention*). The newest run and every
/// running one are kept whatever the limits.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct HistoryBody {
    /// Days its `succeeded`, `skipped` and `missed` runs are kept (1 to 36500).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 36_500)]
    keep_days: Option<u32>,
    /// Days its `failed`, `timed_out` and `interrupted` runs are kept (1 to 36500).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 36_500)]
    keep_failed_days: Option<u32>,
    /// Most runs it keeps, the newest (1 to 100000000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100_000_000)]
    keep_runs: Option<u32>,
}

/// Checks each field of `history` against its bounds, naming `history.<field>`; `{}` is the
/// same as no limits of its own.
fn parse_history(body: Option<HistoryBody>) -> Result<Option<HistoryLimits>, ApiError> {
    let Some(body) = body else {
        return Ok(None);
    };
    let limits = HistoryLimits {
        keep_days: body.keep_days,
        keep_failed_days: body.keep_failed_days,
        keep_runs: body.keep_runs,
    };
    for (field, value, max) in limits.fields() {
        if let Some(v) = value {
            check_range(&format!("history.{field}"), Some(v), 1, max, v)?;
        }
    }
    Ok(limits.some())
}

/// What a job is expected to do; each rule is optional (DESIGN.md, *Job health*).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct ExpectBody {
    /// A dead-man's switch: the job is `late` when no run succeeded for this many seconds
    /// (1 to 31622400, a leap year), counted from the last success or the job's last change.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 31_622_400)]
    success_within_seconds: Option<u32>,
    /// The job is `failing` once this many runs in a row failed or timed out (1 to 1000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    max_consecutive_failures: Option<u32>,
    /// The job is `stuck` while a run runs longer than this many seconds (1 to 31622400);
    /// alerted, never killed.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 31_622_400)]
    max_run_seconds: Option<u32>,
    /// Where this job's alerts (its health changes) are POSTed, instead of the server's
    /// `--alert-webhook`: an http or https URL of at most 2048 characters.
    #[serde(default)]
    alert_webhook: Option<String>,
}

/// Upper bound of `expect.success_within_seconds` and `expect.max_run_seconds` (a leap year:
/// a yearly job's dead-man's switch fits).
pub(super) const MAX_EXPECT_SECONDS: u32 = 366 * 24 * 3600;
/// Upper bound of `expect.max_consecutive_failures`.
pub(super) const MAX_EXPECT_FAILURES: u32 = 1000;

/// Checks each rule of `expect` against its bounds, naming `expect.<field>`.
fn parse_expect(body: Option<ExpectBody>) -> Result<Option<Expect>, ApiError> {
    let Some(body) = body else {
        return Ok(None);
    };
    let rule = |field: &str, value: Option<u32>, max: u32| -> Result<Option<u32>, ApiError> {
        value
            .map(|v| check_range(&format!("expect.{field}"), Some(v), 1, max, v))
            .transpose()
    };
    Ok(Expect {
        success_within_seconds: rule(
            "success_within_seconds",
            body.success_within_seconds,
            MAX_EXPECT_SECONDS,
        )?,
        max_consecutive_failures: rule(
            "max_consecutive_failures",
            body.max_consecutive_failures,
            MAX_EXPECT_FAILURES,
        )?,
        max_run_seconds: rule("max_run_seconds", body.max_run_seconds, MAX_EXPECT_SECONDS)?,
        alert_webhook: body
            .alert_webhook
            .map(|url| {
                crate::actions::check_url("expect.alert_webhook", &url)
                    .map(|()| url)
                    .map_err(|e| ApiError::validation(e.field(), e.message()))
            })
            .transpose()?,
    }
    .some())
}

/// A trigger as accepted, tagged by `type`; parsed by [`parse_trigger`] so errors carry the
/// full field path (serde's internally tagged enums lose it). Its schema is built from the
/// variants' own fields types ([`tagged_one_of`]).
#[derive(Debug)]
pub(in crate::api) enum TriggerBody {
    Cron(CronBody),
    Interval(IntervalBody),
    Date(DateBody),
}

impl PartialSchema for TriggerBody {
    fn schema() -> RefOr<Schema> {
        tagged_one_of(
            "type",
            "When the job fires: `cron` (crontab syntax, 5 or 6 fields, in an IANA timezone, \
             default UTC), `interval` (every `seconds` from `start_at`, default now + seconds, \
             until `end_at`) or `date` (once at `run_at`, in the future).",
            vec![
                ("cron", CronBody::schema()),
                ("interval", IntervalBody::schema()),
                ("date", DateBody::schema()),
            ],
        )
    }
}

impl ToSchema for TriggerBody {}

/// The schema of an [`Action`], from the real types the body is parsed into (DESIGN.md,
/// *Actions*). Lives here, with the parser, rather than in `actions/`, which knows nothing of
/// HTTP documents; fields typed `Action` name it with `#[schema(value_type = ActionSchema)]`.
pub(in crate::api) struct ActionSchema;

impl PartialSchema for ActionSchema {
    fn schema() -> RefOr<Schema> {
        let noop = ObjectBuilder::new()
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into();
        tagged_one_of(
            "type",
            "What the job does: `noop`, one HTTP request (`http`, success is a 2xx) or one \
             program without a shell (`command`, success is exit code 0; needs \
             `--allow-command-jobs`).",
            vec![
                ("noop", noop),
                ("http", HttpAction::schema()),
                ("command", CommandAction::schema()),
            ],
        )
    }
}

impl ToSchema for ActionSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "Action".into()
    }
}

/// A cron trigger's fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct CronBody {
    /// Crontab syntax: 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds
    /// first).
    expr: String,
    /// IANA timezone the expression is read in (default UTC).
    #[serde(default)]
    timezone: Option<String>,
    /// What its local times in DST gaps and folds do (default: the Time rules).
    #[serde(default, deserialize_with = "object_only")]
    #[schema(inline)]
    dst: Option<DstBody>,
}

/// A cron trigger's own DST policy; each field is optional.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct DstBody {
    /// A local time in a spring-forward gap: `shift` (default) fires once at the first instant
    /// after the gap, `skip` does not fire.
    #[serde(default)]
    #[schema(pattern = "^(shift|skip)$")]
    gap: Option<String>,
    /// A local time a fall-back fold repeats fires at its `first` instant, its `last`, or
    /// `both` (default: first for fixed hours, both for schedules repeating hourly or faster).
    #[serde(default)]
    #[schema(pattern = "^(first|last|both)$")]
    fold: Option<String>,
}

/// The policy a DST body asks for, each value checked and named.
fn parse_dst(body: Option<DstBody>) -> Result<DstPolicy, ApiError> {
    let Some(body) = body else {
        return Ok(DstPolicy::default());
    };
    let gap = body
        .gap
        .map(|g| g.parse::<Gap>())
        .transpose()
        .map_err(|e| ApiError::validation("trigger.dst.gap", e))?;
    let fold = body
        .fold
        .map(|f| f.parse::<Fold>())
        .transpose()
        .map_err(|e| ApiError::validation("trigger.dst.fold", e))?;
    Ok(DstPolicy {
        gap: gap.unwrap_or_default(),
        fold,
    })
}

/// An interval trigger's fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct IntervalBody {
    /// Seconds between occurrences, 1 to 315360000 (ten years).
    #[schema(minimum = 1, maximum = 315_360_000)]
    seconds: u64,
    #[serde(default)]
    start_at: Option<Timestamp>,
    #[serde(default)]
    end_at: Option<Timestamp>,
}

/// A date trigger's fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct DateBody {
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

pub(super) fn parse_trigger(value: Value) -> Result<TriggerBody, ApiError> {
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

pub(super) fn generated_id() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("job-{}", hex::encode(bytes))
}

pub(super) fn build_trigger(body: TriggerBody, now: DateTime<Utc>) -> Result<Trigger, ApiError> {
    let invalid = |field: &str, message: String| {
        ApiError::InvalidTrigger(format!("trigger.{field}: {message}"))
    };
    match body {
        TriggerBody::Cron(CronBody {
            expr,
            timezone,
            dst,
        }) => {
            let dst = parse_dst(dst)?;
            let tz = timezone.unwrap_or_else(|| "UTC".to_string());
            Trigger::cron(&expr, &tz)
                .map(|t| t.with_dst(dst))
                .map_err(|e| {
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

/// A job name: no control characters, at most [`MAX_NAME_CHARS`] characters.
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "name",
            "may not contain control characters",
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::validation(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

/// The firing settings of a body: each given one checked against its range, the others the
/// defaults.
fn job_settings(
    misfire_grace_seconds: Option<u32>,
    coalesce: Option<bool>,
    max_instances: Option<u32>,
    jitter_seconds: Option<u32>,
    catch_up: Option<&str>,
) -> Result<JobSettings, ApiError> {
    let defaults = JobSettings::default();
    let catch_up = match catch_up {
        None => defaults.catch_up,
        Some(text) => text.parse().map_err(|_| {
            ApiError::validation(
                "catch_up",
                format!(
                    "must be `coalesce`, `all`, `none` or `ask`, got `{}`",
                    crate::api::truncate(text, 64)
                ),
            )
        })?,
    };
    Ok(JobSettings {
        catch_up,
        misfire_grace_seconds: check_range(
            "misfire_grace_seconds",
            misfire_grace_seconds,
            0,
            MAX_GRACE_SECONDS,
            defaults.misfire_grace_seconds,
        )?,
        coalesce: coalesce.unwrap_or(defaults.coalesce),
        max_instances: check_range(
            "max_instances",
            max_instances,
            1,
            MAX_INSTANCES,
            defaults.max_instances,
        )?,
        jitter_seconds: check_range(
            "jitter_seconds",
            jitter_seconds,
            0,
            MAX_JITTER_SECONDS,
            defaults.jitter_seconds,
        )?,
    })
}

/// Parses a body into a job with `id`, and computes its first run from `now`.
pub(super) fn new_job(
    body: JobBody,
    id: String,
    now: DateTime<Utc>,
    allow_command: bool,
    stored: Option<&Action>,
) -> Result<(NewJob, Option<DateTime<Utc>>), ApiError> {
    validate_job_id(&id)?;
    if let Some(name) = &body.name {
        check_name(name)?;
    }
    let mut action = parse_action(body.action)?;
    // Header values read back from a GET come as the redaction marker: they mean "keep".
    if let Some(stored) = stored {
        action.keep_redacted_from(stored);
    }
    let trigger_body = parse_trigger(body.trigger)?;
    action
        .validate()
        .map_err(|e| ApiError::validation(e.field(), e.message()))?;
    if matches!(action, Action::Command(_)) && !allow_command {
        return Err(ApiError::CommandJobsDisabled);
    }
    let settings = job_settings(
        body.misfire_grace_seconds,
        body.coalesce,
        body.max_instances,
        body.jitter_seconds,
        body.catch_up.as_deref(),
    )?;
    let expect = parse_expect(body.expect)?;
    let history = parse_history(body.history)?;
    let retry = parse_retry(body.retry)?;
    let exclusive = parse_exclusive(body.exclusive_group, body.exclusive_policy.as_deref())?;
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
        expect,
        history,
        retry,
        exclusive,
    };
    Ok((job, if paused { None } else { first }))
}
