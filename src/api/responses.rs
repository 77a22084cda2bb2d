//! Error responses that many operations share, documented once: each type here is a set of
//! responses an operation lists by name in its `#[utoipa::path(responses(...))]`, so the same
//! status carries the same description everywhere and the attributes stay short. Every error
//! body is the [`ErrorBody`](super::openapi::ErrorBody) shape.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// One error response with the shared error body.
fn error(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

fn responses(list: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, description)| (status.to_string(), error(description)))
        .collect()
}

/// 401: no key, or an unknown or revoked key.
const UNAUTHORIZED: (&str, &str) = ("401", "UNAUTHORIZED: no key, or an unknown or revoked key");
/// 429: too many wrong keys.
const RATE_LIMITED: (&str, &str) = (
    "429",
    "RATE_LIMITED: too many wrong keys from this address; retry after `Retry-After`",
);

/// 401, 403 and 429: the route changes something, so it needs an admin key. The 403's
/// description names the roles allowed; the OpenAPI role test holds the server to it.
pub struct AdminOnly;

impl IntoResponses for AdminOnly {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            UNAUTHORIZED,
            ("403", "FORBIDDEN: only an admin key may do this"),
            RATE_LIMITED,
        ])
    }
}

/// 401, 403 and 429: the route reads jobs, runs or the audit trail, which an admin or viewer
/// key may do and a monitor key may not.
pub struct ReadersOnly;

impl IntoResponses for ReadersOnly {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            UNAUTHORIZED,
            (
                "403",
                "FORBIDDEN: only an admin or viewer key may read this",
            ),
            RATE_LIMITED,
        ])
    }
}

/// 404: no job has the id in the path.
pub struct JobNotFound;

impl IntoResponses for JobNotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[("404", "JOB_NOT_FOUND")])
    }
}

/// 409: the job's stored row cannot be read (a bad hand edit), so it cannot be acted on until
/// a valid PUT repairs it.
pub struct JobBroken;

impl IntoResponses for JobBroken {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[(
            "409",
            "JOB_BROKEN: the job's stored definition cannot be read; a valid PUT repairs it",
        )])
    }
}

/// 422: a query parameter is invalid.
pub struct BadQuery;

impl IntoResponses for BadQuery {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[("422", "VALIDATION_ERROR: a query parameter is invalid")])
    }
}

/// 400, 413, 415 and 422: a job body that is not JSON, too large, not declared JSON, or not a
/// valid job.
pub struct BadJobBody;

impl IntoResponses for BadJobBody {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            ("400", "INVALID_JSON"),
            ("413", "PAYLOAD_TOO_LARGE"),
            ("415", "UNSUPPORTED_MEDIA_TYPE"),
            (
                "422",
                "VALIDATION_ERROR, INVALID_TRIGGER or COMMAND_JOBS_DISABLED",
            ),
        ])
    }
}

/// 400, 413 and 415: a body that is not JSON, too large, or not declared JSON, for actions
/// whose 422 is described beside them (pause, skip).
pub struct BadBody;

impl IntoResponses for BadBody {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            ("400", "INVALID_JSON"),
            ("413", "PAYLOAD_TOO_LARGE"),
            ("415", "UNSUPPORTED_MEDIA_TYPE"),
        ])
    }
}

/// 503: the database is busy or cannot be read; retry later (`Retry-After` says when).
pub struct Unavailable;

impl IntoResponses for Unavailable {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[("503", "DATABASE_BUSY or DATABASE_UNAVAILABLE: retry later")])
    }
}
