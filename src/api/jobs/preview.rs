//! `GET /jobs/{job_id}/preview`: the next fire times of a job, in UTC and in its timezone,
//! with DST adjustments marked. Reads the trigger only; never the clock beyond `from`'s default.

use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{MAX_PREVIEW, check_range, load_job_to_act};
use crate::api::extract::{ApiQuery, JobIdPath, Reader};
use crate::api::openapi::Envelope;
use crate::api::responses::{BadQuery, JobBroken, JobNotFound, ReadersOnly, Unavailable};
use crate::api::{ApiError, AppState, ok};
use crate::schedule::{DstMark, Trigger};
use crate::timestamp::Timestamp;

/// Fire times of a job.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct Preview {
    job_id: String,
    /// The job's timezone (UTC for interval and date jobs).
    timezone: String,
    /// Times are strictly after this instant.
    from: Timestamp,
    times: Vec<PreviewTime>,
}

/// One fire time.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct PreviewTime {
    /// The instant, in UTC.
    utc: Timestamp,
    /// The same instant in the job's timezone, with its offset.
    local: String,
    /// `shifted`: the local time does not exist (spring forward) and was moved past the gap;
    /// `repeated`: the second instant with this local time (fall back); null otherwise.
    dst: Option<Dst>,
}

/// A DST adjustment of one fire time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(in crate::api) enum Dst {
    /// The local time does not exist (spring forward) and was moved past the gap.
    Shifted,
    /// The second instant with this local time (fall back).
    Repeated,
}

impl From<DstMark> for Dst {
    fn from(mark: DstMark) -> Dst {
        match mark {
            DstMark::Shifted => Dst::Shifted,
            DstMark::Repeated => Dst::Repeated,
        }
    }
}

/// Query of `GET /jobs/{job_id}/preview`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PreviewParams {
    /// How many fire times, 1–1000 (default 10).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000, default = 10)]
    count: Option<u32>,
    /// RFC 3339 instant to start after (default now), from 1970 to 9999.
    #[serde(default)]
    #[param(value_type = Option<Timestamp>)]
    from: Option<Timestamp>,
}

/// `GET /jobs/{job_id}/preview?count=N&from=T`: the next N fire times strictly after T (default
/// now), each in UTC and in the job's timezone, with DST adjustments marked.
#[utoipa::path(
    get,
    path = "/jobs/{job_id}/preview",
    tag = "jobs",
    params(JobIdPath, PreviewParams),
    responses(
        (status = 200, description = "The next fire times", body = Envelope<Preview>),
        ReadersOnly,
        JobNotFound,
        JobBroken,
        BadQuery,
        Unavailable,
    )
)]
pub(super) async fn preview_job(
    _reader: Reader,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
    ApiQuery(params): ApiQuery<PreviewParams>,
) -> Result<impl IntoResponse, ApiError> {
    let job = load_job_to_act(&state, &job_id).await?;
    let count = check_range("count", params.count, 1, MAX_PREVIEW, 10)?;
    let from = params.from.map(Timestamp::get).unwrap_or_else(Utc::now);
    let tz = job.trigger.timezone();
    let times = fire_times(&job.trigger, from, count);
    Ok(ok(Preview {
        job_id: job.id,
        timezone: tz.name().to_string(),
        from: Timestamp::new(from),
        times,
    }))
}

/// The next `count` fire times of `trigger` strictly after `from`, in UTC and in the
/// trigger's timezone, DST adjustments marked. Shared by the job preview and
/// [`super::trigger_preview`], so both read the same.
pub(super) fn fire_times(
    trigger: &Trigger,
    from: chrono::DateTime<Utc>,
    count: u32,
) -> Vec<PreviewTime> {
    let tz = trigger.timezone();
    trigger
        .fires_after(from)
        .take(count as usize)
        .map(|fire| PreviewTime {
            utc: Timestamp::new(fire.at),
            local: fire
                .at
                .with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::Millis, false),
            dst: fire.dst.map(Dst::from),
        })
        .collect()
}
