//! `ApiError`: the one error type of the HTTP layer. Every failure a client can see goes through
//! it, so every error body has the DESIGN.md shape `{"detail":{"code","message"}}` with a stable
//! upper-case code. Store failures become 503 (busy, read-only, full: retry later) or 500 with a
//! generic message; their cause chain is logged once, here, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error_chain::error_chain;
use crate::store::StoreError;

/// Every code [`ApiError::code`] can return, as documented in the OpenAPI document.
pub const ERROR_CODES: &[&str] = &[
    "UNAUTHORIZED",
    "FORBIDDEN",
    "JOB_NOT_FOUND",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "JOB_ALREADY_EXISTS",
    "JOB_BROKEN",
    "REVISION_NOT_FOUND",
    "NOTHING_TO_APPROVE",
    "EXCLUSIVE_GROUP_BUSY",
    "INVALID_JSON",
    "UNSUPPORTED_MEDIA_TYPE",
    "PAYLOAD_TOO_LARGE",
    "VALIDATION_ERROR",
    "INVALID_TRIGGER",
    "COMMAND_JOBS_DISABLED",
    "SCHEDULER_NOT_RUNNING",
    "DATABASE_BUSY",
    "DATABASE_UNAVAILABLE",
    "RATE_LIMITED",
    "REQUEST_TIMEOUT",
    "URI_TOO_LONG",
    "HEADERS_TOO_LARGE",
    "BACKUP_FAILED",
    "INTERNAL_ERROR",
];

/// Errors returned by handlers and extractors.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no key, or a key that is unknown or revoked.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: the key's role is too low.
    #[error("Admin role required for this operation")]
    Forbidden,
    /// 404: no job with this id.
    #[error("Job '{0}' not found")]
    JobNotFound(String),
    /// 404: no such route.
    #[error("no route for {0}")]
    RouteNotFound(String),
    /// 405: the route exists but not for this method.
    #[error("method {0} is not allowed on this route")]
    MethodNotAllowed(String),
    /// 409: POST with an id that exists.
    #[error("Job '{0}' already exists")]
    JobExists(String),
    /// 409: the job's stored row cannot be read (a bad hand edit), so nothing can pause,
    /// resume, run or skip it: its definition is unknown. A valid PUT is the way out.
    #[error("Job '{id}' is broken ({problem}): a valid PUT /jobs/{id} repairs it")]
    JobBroken {
        /// The job.
        id: String,
        /// What is wrong with its row, as `GET /jobs/{id}` shows it.
        problem: String,
    },
    /// 409: a manual run of a job whose exclusive group another run holds.
    #[error("Job '{job_id}' cannot run now: {reason}")]
    GroupBusy {
        /// The job.
        job_id: String,
        /// Who holds the group.
        reason: String,
    },
    /// 404: the job has no revision with this number (never made, or pruned).
    #[error("Job '{job_id}' has no revision {revision}")]
    RevisionNotFound {
        /// The job.
        job_id: String,
        /// The revision asked for.
        revision: u32,
    },
    /// 409: `POST /jobs/{id}/catch-up` on a job with nothing awaiting approval (never missed a
    /// stretch, or it was decided already: two decisions at once decide once).
    #[error("Job '{0}' has no missed occurrences awaiting approval")]
    NothingToApprove(String),
    /// 400: the body is not JSON at all.
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// 415: the body is not declared as JSON.
    #[error("expected `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// 413: the body is larger than the limit.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 422: a field is missing, of the wrong type or out of range; the message names it.
    #[error("{field}: {message}")]
    Validation {
        /// Dotted path of the field (`trigger.seconds`), or the query parameter.
        field: String,
        /// What was expected.
        message: String,
    },
    /// 422: some jobs of a bulk request are invalid; nothing was written. Each is named, with
    /// its place in the request, in the body's `detail.errors`.
    #[error("{} of {total} jobs are invalid; nothing was changed", errors.len())]
    BulkInvalid {
        /// How many jobs the request held.
        total: usize,
        /// What is wrong with each invalid one.
        errors: Vec<BulkItemError>,
    },
    /// 422: the trigger cannot fire as given (bad cron, unknown timezone, date in the past...).
    #[error("{0}")]
    InvalidTrigger(String),
    /// 422: a command action while the server runs without `--allow-command-jobs`.
    #[error("command jobs are disabled: start the server with --allow-command-jobs to allow them")]
    CommandJobsDisabled,
    /// 429: too many failed authentications from this client; retry after the given seconds.
    #[error("too many failed authentications from this address: retry in {0} s")]
    RateLimited(u64),
    /// 414: the request target is longer than the limit.
    #[error("request URI is longer than {0} bytes")]
    UriTooLong(usize),
    /// 431: too many headers, or too many header bytes.
    #[error("request headers exceed the limits ({max_headers} headers, {max_bytes} bytes)")]
    HeadersTooLarge {
        /// Most headers.
        max_headers: usize,
        /// Most header bytes.
        max_bytes: usize,
    },
    /// 503: the request did not finish within the deadline and was abandoned.
    #[error("the request did not finish within {0:?} and was abandoned: retry shortly")]
    RequestTimeout(std::time::Duration),
    /// 503: this process runs no scheduler loop, so it cannot start a run.
    #[error("the scheduler is not running in this process: retry shortly")]
    SchedulerNotRunning,
    /// 503 or 500 depending on the store error.
    #[error("storage failure")]
    Store(#[from] StoreError),
}

/// One invalid job of a bulk request.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BulkItemError {
    /// Its place in the request's `jobs`, from 0.
    pub index: usize,
    /// Its id, when it had a readable one.
    pub id: Option<String>,
    /// The code a single request with this job would have got.
    pub code: &'static str,
    /// What is wrong, naming the field (`trigger.seconds: must be …`).
    pub message: String,
}

impl ApiError {
    /// Shorthand for [`ApiError::Validation`].
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::JobNotFound(_)
            | ApiError::RouteNotFound(_)
            | ApiError::RevisionNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::JobExists(_)
            | ApiError::JobBroken { .. }
            | ApiError::NothingToApprove(_)
            | ApiError::GroupBusy { .. } => StatusCode::CONFLICT,
            ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation { .. }
            | ApiError::BulkInvalid { .. }
            | ApiError::InvalidTrigger(_)
            | ApiError::CommandJobsDisabled => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::SchedulerNotRunning | ApiError::RequestTimeout(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Store(e) => match e {
                StoreError::Busy
                | StoreError::ReadOnly
                | StoreError::Full
                | StoreError::Unavailable(_)
                | StoreError::FileGone { .. }
                | StoreError::Backup { .. } => StatusCode::SERVICE_UNAVAILABLE,
                StoreError::JobExists(_) => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// The stable code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::Forbidden => "FORBIDDEN",
            ApiError::JobNotFound(_) => "JOB_NOT_FOUND",
            ApiError::RevisionNotFound { .. } => "REVISION_NOT_FOUND",
            ApiError::RouteNotFound(_) => "NOT_FOUND",
            ApiError::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            ApiError::JobExists(_) => "JOB_ALREADY_EXISTS",
            ApiError::JobBroken { .. } => "JOB_BROKEN",
            ApiError::NothingToApprove(_) => "NOTHING_TO_APPROVE",
            ApiError::GroupBusy { .. } => "EXCLUSIVE_GROUP_BUSY",
            ApiError::InvalidJson(_) => "INVALID_JSON",
            ApiError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            ApiError::Validation { .. } | ApiError::BulkInvalid { .. } => "VALIDATION_ERROR",
            ApiError::InvalidTrigger(_) => "INVALID_TRIGGER",
            ApiError::CommandJobsDisabled => "COMMAND_JOBS_DISABLED",
            ApiError::SchedulerNotRunning => "SCHEDULER_NOT_RUNNING",
            ApiError::RateLimited(_) => "RATE_LIMITED",
            ApiError::RequestTimeout(_) => "REQUEST_TIMEOUT",
            ApiError::UriTooLong(_) => "URI_TOO_LONG",
            ApiError::HeadersTooLarge { .. } => "HEADERS_TOO_LARGE",
            ApiError::Store(e) => match e {
                StoreError::Busy => "DATABASE_BUSY",
                StoreError::ReadOnly
                | StoreError::Full
                | StoreError::Unavailable(_)
                | StoreError::FileGone { .. } => "DATABASE_UNAVAILABLE",
                StoreError::JobExists(_) => "JOB_ALREADY_EXISTS",
                StoreError::Backup { .. } => "BACKUP_FAILED",
                _ => "INTERNAL_ERROR",
            },
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::Store(StoreError::Busy) => {
                "the database is busy (another process holds its write lock): retry shortly"
                    .to_string()
            }
            ApiError::Store(StoreError::ReadOnly) => {
                "the database is read-only: writes are refused".to_string()
            }
            ApiError::Store(StoreError::Full) => {
                "the database or disk is full: writes are refused".to_string()
            }
            ApiError::Store(StoreError::JobExists(id)) => format!("Job '{id}' already exists"),
            ApiError::Store(StoreError::Unavailable(_)) => {
                "the database cannot be reached or read right now: retry shortly".to_string()
            }
            ApiError::Store(StoreError::FileGone { .. }) => {
                "the database file was deleted or replaced underneath the server: writes are refused".to_string()
            }
            ApiError::Store(e @ StoreError::Backup { .. }) => e.to_string(),
            ApiError::Store(_) => "internal error: see the server log".to_string(),
            other => other.to_string(),
        }
    }
}

/// Attached to a response whose request the storage refused, so the storage-tracking
/// middleware can report it on `/healthz`.
#[derive(Debug, Clone)]
pub struct StorageFailure {
    /// The store's error, for operators.
    pub message: String,
    /// The lasting condition behind it, which the probes re-check.
    pub condition: Option<crate::store::StorageCondition>,
}

/// Attached to a response refused because the database was busy, for the metrics.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseBusy;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error.code = self.code(), error.chain = %error_chain(&self), "request failed");
        }
        let mut detail = json!({"code": self.code(), "message": self.message()});
        if let ApiError::BulkInvalid { errors, .. } = &self {
            detail["errors"] = json!(errors);
        }
        let mut response = (status, axum::Json(json!({"detail": detail}))).into_response();
        if self.code() == "DATABASE_BUSY" {
            response.extensions_mut().insert(DatabaseBusy);
        }
        if self.code() == "DATABASE_UNAVAILABLE"
            && let ApiError::Store(e) = &self
        {
            response.extensions_mut().insert(StorageFailure {
                message: e.to_string(),
                condition: e.condition(),
            });
        }
        let retry_after = match &self {
            ApiError::RateLimited(seconds) => Some(seconds.to_string()),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some("1".to_string()),
            _ => None,
        };
        if let Some(value) = retry_after.and_then(|v| axum::http::HeaderValue::from_str(&v).ok()) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of each kind, for checking that codes and documentation agree.
    fn one_of_each() -> Vec<ApiError> {
        vec![
            ApiError::Unauthorized("API key required"),
            ApiError::Forbidden,
            ApiError::JobNotFound("x".into()),
            ApiError::RouteNotFound("/x".into()),
            ApiError::MethodNotAllowed("PATCH".into()),
            ApiError::JobExists("x".into()),
            ApiError::JobBroken {
                id: "x".into(),
                problem: "bad".into(),
            },
            ApiError::RevisionNotFound {
                job_id: "x".into(),
                revision: 1,
            },
            ApiError::NothingToApprove("x".into()),
            ApiError::GroupBusy {
                job_id: "x".into(),
                reason: "busy".into(),
            },
            ApiError::InvalidJson("eof".into()),
            ApiError::UnsupportedMediaType,
            ApiError::PayloadTooLarge(1),
            ApiError::validation("f", "bad"),
            ApiError::InvalidTrigger("bad".into()),
            ApiError::CommandJobsDisabled,
            ApiError::SchedulerNotRunning,
            ApiError::RequestTimeout(std::time::Duration::from_secs(30)),
            ApiError::RateLimited(5),
            ApiError::UriTooLong(1),
            ApiError::HeadersTooLarge {
                max_headers: 1,
                max_bytes: 1,
            },
            ApiError::Store(StoreError::Busy),
            ApiError::Store(StoreError::Full),
            ApiError::Store(StoreError::Backup {
                path: "/b".into(),
                reason: "no room".into(),
            }),
            ApiError::Store(StoreError::corrupt("jobs", "x", "bad")),
        ]
    }

    #[test]
    fn documented_codes_are_exactly_the_codes_returned() {
        let mut returned: Vec<&str> = one_of_each().iter().map(ApiError::code).collect();
        returned.sort_unstable();
        returned.dedup();
        let mut documented = ERROR_CODES.to_vec();
        documented.sort_unstable();
        assert_eq!(returned, documented);
    }

    #[test]
    fn a_busy_exclusive_group_is_a_conflict() {
        let busy = ApiError::GroupBusy {
            job_id: "x".into(),
            reason: "exclusive group `g` is busy: job `y` is running".into(),
        };
        assert_eq!(
            (busy.status().as_u16(), busy.code(), busy.message()),
            (
                409,
                "EXCLUSIVE_GROUP_BUSY",
                "Job 'x' cannot run now: exclusive group `g` is busy: job `y` is running".into()
            )
        );
    }

    #[test]
    fn each_error_maps_to_its_status_and_code() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                ApiError::Unauthorized("API key required"),
                401,
                "UNAUTHORIZED",
            ),
            (ApiError::Forbidden, 403, "FORBIDDEN"),
            (ApiError::JobNotFound("x".into()), 404, "JOB_NOT_FOUND"),
            (ApiError::JobExists("x".into()), 409, "JOB_ALREADY_EXISTS"),
            (
                ApiError::JobBroken {
                    id: "x".into(),
                    problem: "bad".into(),
                },
                409,
                "JOB_BROKEN",
            ),
            (
                ApiError::RevisionNotFound {
                    job_id: "x".into(),
                    revision: 2,
                },
                404,
                "REVISION_NOT_FOUND",
            ),
            (
                ApiError::NothingToApprove("x".into()),
                409,
                "NOTHING_TO_APPROVE",
            ),
            (
                ApiError::validation("trigger", "missing"),
                422,
                "VALIDATION_ERROR",
            ),
            (
                ApiError::InvalidTrigger("bad".into()),
                422,
                "INVALID_TRIGGER",
            ),
            (ApiError::CommandJobsDisabled, 422, "COMMAND_JOBS_DISABLED"),
            (ApiError::PayloadTooLarge(10), 413, "PAYLOAD_TOO_LARGE"),
            (
                ApiError::RequestTimeout(std::time::Duration::from_secs(30)),
                503,
                "REQUEST_TIMEOUT",
            ),
            (ApiError::Store(StoreError::Busy), 503, "DATABASE_BUSY"),
            (
                ApiError::Store(StoreError::ReadOnly),
                503,
                "DATABASE_UNAVAILABLE",
            ),
            (
                ApiError::Store(StoreError::Unavailable("x".into())),
                503,
                "DATABASE_UNAVAILABLE",
            ),
            (
                ApiError::Store(StoreError::FileGone {
                    path: "x.db".into(),
                    reason: "it was deleted",
                }),
                503,
                "DATABASE_UNAVAILABLE",
            ),
            (ApiError::RateLimited(3), 429, "RATE_LIMITED"),
            (
                ApiError::Store(StoreError::corrupt("jobs", "x", "bad")),
                500,
                "INTERNAL_ERROR",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status().as_u16(), status, "status of {error:?}");
            assert_eq!(error.code(), code, "code of {error:?}");
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let error = ApiError::Store(StoreError::corrupt("jobs", "secret-row", "SELECT * FROM x"));
        assert!(!error.message().contains("SELECT"));
        assert!(!error.message().contains("secret-row"));
    }
}
