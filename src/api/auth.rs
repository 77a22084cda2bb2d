//! `GET /auth/me`: who the presented key is. Any role.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use super::extract::Authenticated;
use super::{AppState, ok};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/auth/me", get(me))
}

/// The key's name and role.
async fn me(who: Authenticated) -> impl IntoResponse {
    ok(json!({"name": who.name, "role": who.role.as_str()}))
}
