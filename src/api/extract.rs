//! Extractors owned by the API so that every rejection speaks our error shape: the API key
//! (authentication, then role), JSON bodies (with the path of the offending field) and query
//! strings. The key extractor comes first among handler arguments, so 401/403 win over 422.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use chrono::Duration;
use serde::de::DeserializeOwned;

use super::objects::ObjectBody;
use super::{ApiError, AppState};
use crate::apikey;
use crate::model::Role;

/// A request authenticated by a live API key of any role.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The key's name (recorded in audit rows; the key itself is never kept).
    pub name: String,
    /// The key's role.
    pub role: Role,
}

/// A request authenticated by an admin key, as every change needs; a viewer or monitor key is
/// refused with 403.
#[derive(Debug, Clone)]
pub struct Admin(pub Authenticated);

/// A request authenticated by a key that may read jobs, runs, previews and the audit trail:
/// an admin or viewer key. A monitor key is refused with 403, as on every `/jobs` route. Reads
/// are not audited, so who read is not kept.
#[derive(Debug, Clone)]
pub struct Reader;

/// Finds the presented key: `X-API-Key`, else `Authorization: Bearer`. A header that is present
/// but unreadable counts as a wrong key, not a missing one.
fn presented_key(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let invalid = ApiError::Unauthorized("Invalid API key");
    if let Some(value) = parts.headers.get("x-api-key") {
        return value.to_str().map(|v| Some(v.trim())).map_err(|_| invalid);
    }
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| ApiError::Unauthorized("Invalid API key"))?;
        let mut words = text.splitn(2, ' ');
        let scheme = words.next().unwrap_or_default();
        let token = words.next().unwrap_or_default().trim();
        if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
            return Ok(Some(token));
        }
        return Err(ApiError::Unauthorized("Invalid API key"));
    }
    Ok(None)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    #[tracing::instrument(name = "authenticate", skip_all)]
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        if let Some(wait) = client.and_then(|ip| state.auth_failures.blocked_for(ip)) {
            // A key that authenticated in the last second is known good: behind a proxy or NAT
            // one address carries everyone, and a guesser must not lock the admins out.
            let known = presented_key(parts)
                .ok()
                .flatten()
                .and_then(|key| state.key_cache.get(&apikey::hash(key)));
            return match known {
                Some((name, role)) => Ok(Authenticated { name, role }),
                None => Err(ApiError::RateLimited(wait.as_secs().max(1))),
            };
        }
        let result = authenticate(parts, state).await;
        // Only wrong keys count: a request without a key guesses nothing.
        if let (Err(ApiError::Unauthorized("Invalid API key")), Some(ip)) = (&result, client) {
            state.auth_failures.record_failure(ip);
        }
        result
    }
}

/// Checks the presented key against the stored hashes.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Authenticated, ApiError> {
    let key = presented_key(parts)?.ok_or(ApiError::Unauthorized("API key required"))?;
    if key.is_empty() {
        return Err(ApiError::Unauthorized("API key required"));
    }
    // A recent lookup is trusted for a second; `schedlite keys revoke` waits that out, so a
    // key it revoked is refused from the next request on (`key_cache`).
    let hash = apikey::hash(key);
    if let Some((name, role)) = state.key_cache.get(&hash) {
        return Ok(Authenticated { name, role });
    }
    let asked_at = std::time::Instant::now();
    let (info, stored_hash) = state
        .store
        .find_key_by_hash(&hash)
        .await?
        .ok_or(ApiError::Unauthorized("Invalid API key"))?;
    if !apikey::hashes_equal(&hash, &stored_hash) || info.revoked_at.is_some() {
        return Err(ApiError::Unauthorized("Invalid API key"));
    }
    // Recording last use is bookkeeping: it must not slow the request or fail it.
    let now = chrono::Utc::now();
    if info
        .last_used_at
        .is_none_or(|t| now - t > Duration::seconds(60))
    {
        let store = state.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store
                .touch_key(info.id, now, now - Duration::seconds(60))
                .await
            {
                tracing::debug!(error = %e, "could not record key use");
            }
        });
    }
    state
        .key_cache
        .put(hash, info.name.clone(), info.role, asked_at);
    Ok(Authenticated {
        name: info.name,
        role: info.role,
    })
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let who = Authenticated::from_request_parts(parts, state).await?;
        if who.role != Role::Admin {
            return Err(ApiError::Forbidden);
        }
        Ok(Admin(who))
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let who = Authenticated::from_request_parts(parts, state).await?;
        if !who.role.reads_jobs() {
            return Err(ApiError::Forbidden);
        }
        Ok(Reader)
    }
}

/// A JSON body deserialized into `T`; failures name the field (`trigger.seconds: invalid type`).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = json_body(req, state, state.config.max_body_bytes).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body of up to [`BULK_BODY_BYTES`], for the bulk endpoint (its route lifts the body
/// limit to that); read and refused as [`ApiJson`] is.
#[derive(Debug)]
pub struct BulkJson<T>(pub T);

/// The largest body `POST /jobs:bulk` takes: 1,000 jobs of about 8 KiB each.
pub const BULK_BODY_BYTES: usize = 8 * 1024 * 1024;

impl<T: DeserializeOwned> FromRequest<AppState> for BulkJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = json_body(req, state, BULK_BODY_BYTES).await?;
        parse_json(&bytes).map(BulkJson)
    }
}

/// The bytes of a body declared as JSON, refused with 415 when it is not declared so and with
/// 413 naming `limit` when the route's body limit cut it short.
async fn json_body(req: Request, state: &AppState, limit: usize) -> Result<Bytes, ApiError> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(limit)
        } else {
            ApiError::InvalidJson(rejection.body_text())
        }
    })
}

/// An optional JSON body: `None` when the request has no body at all (a bare `POST` keeps the
/// endpoint's behaviour from before it took one); a body present is read as [`ApiJson`] is.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let has_type = req.headers().contains_key(CONTENT_TYPE);
        let (parts, body) = req.into_parts();
        let limit = state.config.max_body_bytes;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(limit)
                } else {
                    ApiError::InvalidJson(rejection.body_text())
                }
            })?;
        if bytes.is_empty() && !has_type {
            return Ok(OptionalJson(None));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        ApiJson::from_request(req, state)
            .await
            .map(|ApiJson(value)| OptionalJson(Some(value)))
    }
}

/// Deserializes JSON, telling a syntax error (400) from a field that is missing, unknown or of
/// the wrong type (422, with the dotted path of the field).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, ObjectBody<T>>(&mut de) {
        Ok(ObjectBody(value)) => value,
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            return match inner.classify() {
                serde_json::error::Category::Data => {
                    let field = if path == "." {
                        "body".to_string()
                    } else {
                        path
                    };
                    Err(ApiError::validation(
                        field,
                        strip_position(&inner.to_string()),
                    ))
                }
                _ => Err(ApiError::InvalidJson(inner.to_string())),
            };
        }
    };
    // Text after the JSON value (`{...} x`) is an error, not something to ignore.
    de.end().map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    Ok(value)
}

/// serde_json appends " at line 1 column 42" to data errors; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A query string deserialized into `T`; failures name the parameter.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|error| {
                let path = error.path().to_string();
                let field = if path == "." {
                    "query".to_string()
                } else {
                    path
                };
                ApiError::validation(field, error.into_inner().to_string())
            })
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// The `{job_id}` path segment, with a rejection in our error shape (axum's own `Path`
/// answers a segment that is not UTF-8 with plain text).
#[derive(Debug)]
pub struct JobIdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for JobIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(JobIdPath(id)),
            Err(_) => Err(ApiError::validation(
                "job_id",
                "must be 1 to 128 characters from `A-Z a-z 0-9 . _ -`",
            )),
        }
    }
}

/// Documents `{job_id}`: 1 to 128 of `A-Z a-z 0-9 . _ -` (an id of dots only is refused too,
/// which a pattern without look-ahead cannot say; such a path answers 404 or 422).
impl utoipa::IntoParams for JobIdPath {
    fn into_params(
        _parameter_in_provider: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ObjectBuilder, Required, Type};
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(128))
            .pattern(Some("^[A-Za-z0-9._-]{1,128}$"));
        vec![
            ParameterBuilder::new()
                .name("job_id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("The job id"))
                .schema(Some(schema))
                .build(),
        ]
    }
}
