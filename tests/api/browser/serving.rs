//! How the page is served, over plain HTTP (no browser needed): the redirect, the content
//! types and the security headers of every file, and a JSON 404 for a file that is not there.

use serde_json::json;

use crate::helpers::{parse, spawn_app};

const CSP: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'; object-src 'none'";

/// `/` and `/ui` redirect to `/ui/`; the page and each module it loads come with their type,
/// the strict policy, `nosniff`, `no-referrer` and `DENY`.
#[tokio::test]
async fn the_page_is_served_with_its_types_and_a_strict_policy() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for path in ["/", "/ui"] {
        let resp = client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 308, "{path}");
        assert_eq!(resp.headers()["location"], "/ui/", "{path}");
    }
    let files = [
        ("/ui/", "text/html; charset=utf-8"),
        ("/ui/app.css", "text/css; charset=utf-8"),
        ("/ui/main.js", "text/javascript; charset=utf-8"),
        ("/ui/form.js", "text/javascript; charset=utf-8"),
    ];
    for (path, content_type) in files {
        let resp = client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let headers = resp.headers();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["content-security-policy"], CSP, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(headers.get("set-cookie").is_none(), "{path}");
        let body = resp.text().await.expect("body");
        assert!(!body.contains("<script>"), "{path} has no inline script");
    }
    let (status, body) = parse(
        client
            .get(format!("{}/ui/../Cargo.toml", app.address))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = parse(
        client
            .get(format!("{}/ui/secret.js", app.address))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"detail": {"code": "NOT_FOUND", "message": "no route for /ui/secret.js"}})
        )
    );
}
