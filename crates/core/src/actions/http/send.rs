//! Sending one HTTP action: the request with its `Idempotency-Key`, the first KiB of the
//! answer, and every failure described (credentials removed from URLs) as an [`Outcome`].

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use super::{HeaderSpec, HttpAction, MAX_REDIRECTS};
use crate::actions::{ActionError, OUTPUT_LIMIT, Outcome, OutcomeStatus, lossy_head};

/// Builds the client shared by all HTTP actions.
pub(in crate::actions) fn build_client() -> Result<reqwest::Client, ActionError> {
    reqwest::Client::builder()
        .user_agent(concat!("schedlite/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .build()
        .map_err(ActionError::HttpClient)
}

/// `<job_id>@<scheduled_at>`, the instant as fixed-width RFC 3339 with millis and `Z`.
pub(in crate::actions) fn idempotency_key(job_id: &str, scheduled_at: DateTime<Utc>) -> String {
    format!(
        "{job_id}@{}",
        scheduled_at.to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

/// Sends `action` for the occurrence (`job_id`, `scheduled_at`) and reports how it went.
/// Expects a validated action; anything malformed still ends as a failed outcome.
pub(in crate::actions) async fn execute(
    client: &reqwest::Client,
    action: &HttpAction,
    job_id: &str,
    scheduled_at: DateTime<Utc>,
    attempt: u32,
) -> Outcome {
    let key = idempotency_key(job_id, scheduled_at);
    let request = match build_request(client, action, &key, attempt) {
        Ok(request) => request,
        Err(reason) => return Outcome::failed(reason),
    };
    let mut status = None;
    let mut body = Vec::new();
    let limit = Duration::from_secs(action.timeout_seconds);
    let result = tokio::time::timeout(
        limit,
        send_and_read_head(client, request, &mut status, &mut body),
    )
    .await;
    let output = (!body.is_empty()).then(|| lossy_head(&body, OUTPUT_LIMIT));
    let http_status = status.map(|status: StatusCode| status.as_u16());
    match (result, status) {
        (Err(_elapsed), _) => Outcome {
            http_status,
            output,
            ..Outcome::timed_out(action.timeout_seconds)
        },
        (Ok(Err(error)), None) => Outcome {
            output,
            ..Outcome::failed(describe_error(&error))
        },
        (Ok(result), Some(status)) => {
            if let Err(error) = result {
                // The target has answered; its status decides, the body is only a record.
                tracing::debug!(error = %describe_error(&error), "reading the response body failed");
            }
            let success = status.is_success();
            Outcome {
                status: if success {
                    OutcomeStatus::Succeeded
                } else {
                    OutcomeStatus::Failed
                },
                http_status,
                exit_code: None,
                output,
                error: (!success).then(|| describe_status(status)),
            }
        }
        (Ok(Ok(())), None) => {
            // send_and_read_head sets the status before it can return Ok.
            Outcome::failed("request ended without a response status")
        }
    }
}

/// Builds the request, or says why it cannot be built.
fn build_request(
    client: &reqwest::Client,
    action: &HttpAction,
    idempotency_key: &str,
    attempt: u32,
) -> Result<reqwest::Request, String> {
    let method = Method::from_bytes(action.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("invalid method {:?}", action.method))?;
    let url = Url::parse(&action.url).map_err(|error| format!("invalid url: {error}"))?;
    let mut headers = HeaderMap::with_capacity(action.headers.len() + 1);
    for (name, value) in &action.headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let value = match value {
            HeaderSpec::Value(value) => value.clone(),
            // Read now, on every request, so a rotated secret is used from the next run on.
            HeaderSpec::Env(env) => std::env::var(&env.from_env).map_err(|_| {
                format!(
                    "header {name:?}: the environment variable {:?} is not set (or not UTF-8) on this server",
                    env.from_env
                )
            })?,
        };
        let value = HeaderValue::from_str(&value)
            .map_err(|_| format!("invalid value for header {name:?}"))?;
        headers.append(header, value);
    }
    let key = HeaderValue::from_str(idempotency_key)
        .map_err(|_| format!("job id {idempotency_key:?} cannot be sent in a header"))?;
    headers.insert(HeaderName::from_static("idempotency-key"), key);
    // Set after the action's own headers, so a job cannot send a misleading attempt number.
    headers.insert(
        HeaderName::from_static("schedlite-attempt"),
        HeaderValue::from(attempt),
    );
    let mut builder = client.request(method, url).headers(headers);
    if let Some(body) = &action.body {
        builder = builder.body(body.clone());
    }
    builder
        .build()
        .map_err(|error| format!("invalid request: {}", describe_error(&error)))
}

/// Sends the request and reads at most [`OUTPUT_LIMIT`] bytes of the answer, then stops
/// (the rest is never downloaded). Writes through `status` and `body` so that what arrived
/// survives a timeout that cancels this future.
async fn send_and_read_head(
    client: &reqwest::Client,
    request: reqwest::Request,
    status: &mut Option<StatusCode>,
    body: &mut Vec<u8>,
) -> Result<(), reqwest::Error> {
    let mut response = client.execute(request).await?;
    *status = Some(response.status());
    while body.len() < OUTPUT_LIMIT {
        let Some(chunk) = response.chunk().await? else {
            break;
        };
        let take = chunk.len().min(OUTPUT_LIMIT - body.len());
        body.extend_from_slice(&chunk[..take]);
    }
    Ok(())
}

/// `HTTP 500 Internal Server Error`, or `HTTP 599` for a code without a standard reason.
fn describe_status(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// A short reason for a failed request, with the URL (credentials removed), e.g.
/// `connection refused (http://127.0.0.1:1/)`.
fn describe_error(error: &reqwest::Error) -> String {
    let innermost = innermost_cause(error);
    let refused = io_error_kind(error) == Some(std::io::ErrorKind::ConnectionRefused);
    let reason = if refused {
        "connection refused".to_owned()
    } else if error.is_redirect() {
        format!("too many redirects (more than {MAX_REDIRECTS})")
    } else if error.is_connect() {
        format!("connection failed: {innermost}")
    } else if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_builder() {
        innermost
    } else {
        format!("request failed: {innermost}")
    };
    match error.url() {
        Some(url) => format!("{reason} ({})", without_credentials(url)),
        None => reason,
    }
}

/// The message of the deepest error in the source chain: the most specific one
/// (the outer ones repeat the URL or say "client error (Connect)").
fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// The kind of the first `std::io::Error` in the source chain, if any.
fn io_error_kind(error: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cause = current.source();
    }
    None
}

/// The URL without user name and password, for messages stored in run rows.
fn without_credentials(url: &Url) -> Url {
    let mut url = url.clone();
    // Both fail only for URLs that cannot have credentials, which then have none.
    let _ = url.set_password(None);
    let _ = url.set_username("");
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{Action, Executor};
    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap as StubHeaders, Method as StubMethod, StatusCode as StubStatus};
    use axum::routing::any;
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::time::Instant;
    use tokio::sync::mpsc;

    /// What the stub server saw of one request.
    #[derive(Debug)]
    struct Received {
        method: String,
        headers: StubHeaders,
        body: String,
    }

    async fn spawn_stub(router: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stub");
        let address = listener.local_addr().expect("stub address");
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("stub serves");
        });
        address
    }

    /// A stub answering every request with `status` and `body`, reporting what it received.
    async fn recording_stub(
        status: StubStatus,
        body: String,
    ) -> (SocketAddr, mpsc::UnboundedReceiver<Received>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        // A fallback answers every path, `/` included.
        let router = Router::new()
            .fallback(
                move |State(sender): State<mpsc::UnboundedSender<Received>>,
                      method: StubMethod,
                      headers: StubHeaders,
                      received: String| async move {
                    let _ = sender.send(Received {
                        method: method.to_string(),
                        headers,
                        body: received,
                    });
                    (status, body)
                },
            )
            .with_state(sender);
        (spawn_stub(router).await, receiver)
    }

    fn action(url: String) -> HttpAction {
        HttpAction {
            method: "POST".to_owned(),
            url,
            headers: BTreeMap::new(),
            body: None,
            timeout_seconds: 10,
        }
    }

    fn scheduled_at() -> DateTime<Utc> {
        "2026-11-28T12:00:00Z".parse().expect("valid instant")
    }

    async fn execute(action: HttpAction) -> Outcome {
        let executor = Executor::new().expect("client builds");
        executor
            .execute(&Action::Http(action), "job-1", scheduled_at(), 1)
            .await
    }

    #[tokio::test]
    async fn a_200_succeeds_and_the_target_gets_key_method_headers_and_body() {
        let answer = "€".repeat(5 * 1024 / 3 + 1);
        assert!(answer.len() > 5 * 1024);
        let (address, mut received) = recording_stub(StubStatus::OK, answer).await;
        let mut action = action(format!("http://{address}/hook?x=1"));
        action.method = "PUT".to_owned();
        action.headers.insert("X-Custom".to_owned(), "hello".into());
        action.body = Some("payload".to_owned());

        let outcome = execute(action).await;

        assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:?}");
        assert_eq!(outcome.http_status, Some(200));
        assert_eq!(outcome.exit_code, None);
        assert_eq!(outcome.error, None);
        let output = outcome.output.expect("body kept");
        assert!(output.len() <= 1024, "{} bytes kept", output.len());
        assert_eq!(output, "€".repeat(341), "first KiB cut on a char boundary");
        let request = received.recv().await.expect("stub got the request");
        assert_eq!(request.method, "PUT");
        assert_eq!(request.body, "payload");
        assert_eq!(
            request.headers.get("idempotency-key").map(|v| v.as_bytes()),
            Some(&b"job-1@2026-11-28T12:00:00.000Z"[..])
        );
        assert_eq!(
            request.headers.get("x-custom").map(|v| v.as_bytes()),
            Some(&b"hello"[..])
        );
        let user_agent = request.headers.get("user-agent").expect("user agent sent");
        assert!(user_agent.as_bytes().starts_with(b"schedlite/"));
    }

    #[tokio::test]
    async fn a_500_fails_naming_the_status() {
        let (address, mut received) =
            recording_stub(StubStatus::INTERNAL_SERVER_ERROR, "boom".to_owned()).await;

        let outcome = execute(action(format!("http://{address}/"))).await;

        assert_eq!(outcome.status, OutcomeStatus::Failed);
        assert_eq!(outcome.http_status, Some(500));
        assert_eq!(
            outcome.error.as_deref(),
            Some("HTTP 500 Internal Server Error")
        );
        assert_eq!(outcome.output.as_deref(), Some("boom"));
        assert_eq!(
            received.recv().await.expect("request received").method,
            "POST",
            "POST is the default method"
        );
    }

    #[tokio::test]
    async fn an_empty_body_keeps_no_output() {
        let (address, _received) = recording_stub(StubStatus::NO_CONTENT, String::new()).await;
        let mut head = action(format!("http://{address}/"));
        head.method = "HEAD".to_owned();

        let outcome = execute(head).await;

        assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:?}");
        assert_eq!(outcome.http_status, Some(204));
        assert_eq!(outcome.output, None);
    }

    #[tokio::test]
    async fn a_slow_target_times_out() {
        let router = Router::new().route(
            "/slow",
            any(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        );
        let address = spawn_stub(router).await;
        let mut slow = action(format!("http://{address}/slow"));
        slow.timeout_seconds = 1;
        let started = Instant::now();

        let outcome = execute(slow).await;

        assert_eq!(outcome.status, OutcomeStatus::TimedOut, "{outcome:?}");
        assert_eq!(outcome.error.as_deref(), Some("timed out after 1 s"));
        assert_eq!(outcome.http_status, None);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_refused_connection_fails_with_the_reason() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);

        let outcome = execute(action(format!("http://127.0.0.1:{port}/"))).await;

        assert_eq!(outcome.status, OutcomeStatus::Failed);
        assert_eq!(outcome.http_status, None);
        assert_eq!(
            outcome.error.as_deref(),
            Some(format!("connection refused (http://127.0.0.1:{port}/)").as_str())
        );
    }

    #[tokio::test]
    async fn redirect_loops_stop_after_five() {
        let router = Router::new().route(
            "/loop",
            any(|| async { (StubStatus::FOUND, [("location", "/loop")]) }),
        );
        let address = spawn_stub(router).await;

        let outcome = execute(action(format!("http://{address}/loop"))).await;

        assert_eq!(outcome.status, OutcomeStatus::Failed, "{outcome:?}");
        let error = outcome.error.expect("a reason");
        assert!(error.starts_with("too many redirects"), "{error}");
    }

    #[test]
    fn error_urls_lose_their_credentials() {
        let url = Url::parse("https://user:secret@example.com/x?y=1").expect("url");
        assert_eq!(
            without_credentials(&url).as_str(),
            "https://example.com/x?y=1"
        );
    }

    #[test]
    fn idempotency_key_is_job_id_at_fixed_width_instant() {
        assert_eq!(
            idempotency_key("nightly", scheduled_at()),
            "nightly@2026-11-28T12:00:00.000Z"
        );
    }
}
