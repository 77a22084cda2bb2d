//! `GET /auth/me`: who the presented key is. Any role.

use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Authenticated;
use super::openapi::{Envelope, ErrorBody};
use super::{AppState, ok};

/// Routes of this module, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// The key behind a request.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Me {
    /// The key's name.
    name: String,
    /// `admin`, `viewer` or `monitor`.
    role: &'static str,
}

/// The key's name and role.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, description = "The key's name and role", body = Envelope<Me>),
        (status = 401, description = "UNAUTHORIZED: no key, or an unknown or revoked key", body = ErrorBody)))]
async fn me(who: Authenticated) -> impl IntoResponse {
    ok(Me {
        name: who.name,
        role: who.role.as_str(),
    })
}
