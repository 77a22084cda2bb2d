//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! wire types' `ToSchema` derives: routes are registered through `utoipa_axum::routes!`, which
//! adds each handler to the router and to the document in one step, so the two cannot drift.
//! Served at `GET /api/v1alpha1/openapi.json` without a key.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::error::ERROR_CODES;
use crate::actions::{FromEnv, HeaderSpec};

/// `{"status":"ok","data":…}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T: Serialize> {
    /// Always `ok`.
    pub(super) status: &'static str,
    /// The payload.
    pub(super) data: T,
}

/// `{"detail":{"code","message"}}`: every error the API returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    detail: ErrorDetail,
}

/// The error's stable code and a message that names what is wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    code: ErrorCode,
    /// For people: names the field or value at fault; never a stack trace or SQL.
    message: String,
    /// `POST /jobs:bulk` only: every invalid job of the request (nothing was written).
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<super::error::BulkItemError>>,
}

/// One of the stable error codes ([`ERROR_CODES`]).
#[derive(Debug, Serialize)]
pub struct ErrorCode(String);

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ERROR_CODES.iter().copied()))
            .description(Some("Stable upper-case error code"))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// The document's fixed parts; paths and schemas come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "schedlite",
        description = "A persistent job scheduler: jobs and their triggers in one SQLite file, managed over REST. \
            Authenticate with `X-API-Key: <key>` or `Authorization: Bearer <key>`. Reading jobs, runs, \
            previews, alerts and the audit trail (`GET`) takes an admin or viewer key; every change needs an admin key; \
            `/auth/me` and `/metrics` take any key; health probes and this document need none."
    ),
    modifiers(&SecurityAddon),
    components(schemas(ErrorBody, ErrorDetail, HeaderSpec, FromEnv)),
    tags(
        (name = "jobs", description = "Create, change, pause, run and delete jobs (one at a time or up to 1,000 at once); run history and previews"),
        (name = "auth", description = "Who a key is"),
        (name = "audit", description = "Who changed what"),
        (name = "alerts", description = "Changes of job health, and their delivery to webhooks"),
        (name = "admin", description = "Backups while serving"),
        (name = "health", description = "Probes, no key needed"),
    )
)]
pub struct ApiDoc;

/// Declares the two ways to present a key and requires one on every operation that has no
/// `security` of its own.
struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        openapi.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("api_key", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new()),
        ]);
    }
}

/// The document, serialized once at start.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<serde_json::Value>);

/// `GET /api/v1alpha1/openapi.json`.
pub async fn openapi_json(State(doc): State<OpenApiJson>) -> Json<serde_json::Value> {
    Json((*doc.0).clone())
}

/// The schema of an internally tagged enum (`{"type": "<tag>", ...fields}`), built from each
/// variant's own fields type: a `oneOf` whose branches are those derived object schemas with
/// the tag added as a required property of the same object. Deriving `ToSchema` on the enum
/// itself would put the tag beside a `$ref` to a struct that denies unknown fields, which no
/// value satisfies.
pub fn tagged_one_of(
    tag: &str,
    description: &str,
    variants: Vec<(&str, RefOr<Schema>)>,
) -> RefOr<Schema> {
    use utoipa::openapi::schema::{AdditionalProperties, OneOfBuilder};
    let mut one_of = OneOfBuilder::new().description(Some(description));
    for (name, schema) in variants {
        let mut object = match schema {
            RefOr::T(Schema::Object(object)) => object,
            _ => ObjectBuilder::new()
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .build(),
        };
        let tag_schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([name]))
            .build();
        object.properties.insert(tag.to_string(), tag_schema.into());
        object.required.insert(0, tag.to_string());
        one_of = one_of.item(Schema::Object(object));
    }
    one_of.into()
}

/// Operations that take the `job_id` a job response carries, by operation id: the targets of
/// the OpenAPI links from creating and listing jobs, which let a client (or a stateful test
/// tool) follow a created job to everything it can do.
const JOB_LINKS: [(&str, &str); 7] = [
    ("GetJob", "get_job"),
    ("PauseJob", "pause_job"),
    ("ResumeJob", "resume_job"),
    ("RunJob", "run_job"),
    ("ListRuns", "list_runs"),
    ("PreviewJob", "preview_job"),
    ("DeleteJob", "delete_job"),
];

/// Adds the links of [`JOB_LINKS`] to the document: from `POST /jobs` (201, the created
/// job's id) and `GET /jobs` (200, the first listed job's id). utoipa's `links(...)` would
/// need the same seven entries written out on each of the two operations.
pub fn with_links(mut doc: serde_json::Value) -> serde_json::Value {
    let sources = [
        (
            "/api/v1alpha1/jobs",
            "post",
            "201",
            "$response.body#/data/id",
        ),
        (
            "/api/v1alpha1/jobs",
            "get",
            "200",
            "$response.body#/data/jobs/0/id",
        ),
    ];
    for (path, method, status, id) in sources {
        let links: serde_json::Map<String, serde_json::Value> = JOB_LINKS
            .iter()
            .map(|(name, operation)| {
                let link = serde_json::json!({
                    "operationId": operation,
                    "parameters": {"job_id": id},
                });
                (name.to_string(), link)
            })
            .collect();
        if let Some(response) = doc
            .pointer_mut(&format!(
                "/paths/{}/{method}/responses/{status}",
                path.replace('/', "~1")
            ))
            .and_then(serde_json::Value::as_object_mut)
        {
            response.insert("links".to_string(), links.into());
        }
    }
    doc
}
