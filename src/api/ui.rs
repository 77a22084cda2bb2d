//! The dashboard (DESIGN.md, *API*, last item): `GET /ui/` serves a page embedded in this
//! binary, `/` redirects there. The page is plain ES modules and CSS read with `include_str!`
//! (no bundler, no build step, nothing fetched from elsewhere); it talks only to the public JSON
//! API with the key the user typed, so it holds no logic or privilege the API lacks.
//!
//! Every answer here carries a strict Content-Security-Policy (`default-src 'self'`, no inline
//! script or style, no framing), `X-Content-Type-Options: nosniff` and `Referrer-Policy:
//! no-referrer`. The alternative of a crate that embeds a directory (rust-embed, memory-serve)
//! was turned down: a dozen small text files need no compression or ETag machinery.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::ApiError;

/// The policy of every dashboard answer: only this origin, no inline code, no framing, forms
/// and `<base>` pinned, so injected markup could neither run nor send data elsewhere.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; img-src 'self' data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// One embedded file: its name under `/ui/`, its content type and its text.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file of the page. A new file is added here and nowhere else.
const ASSETS: &[Asset] = &[
    asset("index.html", HTML, include_str!("ui/index.html")),
    asset("app.css", CSS, include_str!("ui/app.css")),
    asset("main.js", JS, include_str!("ui/main.js")),
    asset("api.js", JS, include_str!("ui/api.js")),
    asset("dom.js", JS, include_str!("ui/dom.js")),
    asset("format.js", JS, include_str!("ui/format.js")),
    asset("login.js", JS, include_str!("ui/login.js")),
    asset("jobs.js", JS, include_str!("ui/jobs.js")),
    asset("job.js", JS, include_str!("ui/job.js")),
    asset("form.js", JS, include_str!("ui/form.js")),
    asset("audit.js", JS, include_str!("ui/audit.js")),
    asset("health.js", JS, include_str!("ui/health.js")),
    asset("charts.js", JS, include_str!("ui/charts.js")),
    asset("timeline.js", JS, include_str!("ui/timeline.js")),
];

const fn asset(name: &'static str, content_type: &'static str, body: &'static str) -> Asset {
    Asset {
        name,
        content_type,
        body,
    }
}

/// Routes of the dashboard; stateless, merged beside the API.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(to_dashboard))
        .route("/ui", get(to_dashboard))
        .route("/ui/", get(index))
        .route("/ui/{file}", get(file))
}

/// `/` and `/ui`: 308 to `/ui/`, so relative module paths resolve under `/ui/`.
async fn to_dashboard() -> Redirect {
    Redirect::permanent("/ui/")
}

async fn index() -> Response {
    serve(find("index.html").expect("BUG: index.html is embedded"))
}

/// One embedded file by name; anything else is the API's JSON 404, so no path reaches the disk.
async fn file(Path(name): Path<String>) -> Response {
    match find(&name) {
        Some(asset) => serve(asset),
        None => {
            ApiError::RouteNotFound(super::truncate(&format!("/ui/{name}"), 200)).into_response()
        }
    }
}

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The file with its type and the page's security headers. `no-cache` makes the browser
/// revalidate, so a new binary's page is never mixed with an old one's modules.
fn serve(asset: &Asset) -> Response {
    (
        [
            (CONTENT_TYPE, asset.content_type),
            (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (REFERRER_POLICY, "no-referrer"),
            (X_FRAME_OPTIONS, "DENY"),
            (CACHE_CONTROL, "no-cache"),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        for asset in ASSETS {
            for line in asset.body.lines() {
                let Some(rest) = line.trim().strip_prefix("import ") else {
                    continue;
                };
                let Some(from) = rest.split("from './").nth(1) else {
                    continue;
                };
                let name = from.split('\'').next().unwrap_or_default();
                assert!(
                    find(name).is_some(),
                    "{} imports unembedded {name}",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn no_asset_carries_inline_script_or_html_injection_sinks() {
        for asset in ASSETS {
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!asset.body.contains(sink), "{} uses {sink}", asset.name);
            }
            if asset.content_type == HTML {
                assert!(
                    !asset.body.contains("<script>"),
                    "inline script in {}",
                    asset.name
                );
                assert!(
                    !asset.body.contains("style="),
                    "inline style in {}",
                    asset.name
                );
            }
        }
    }
}
