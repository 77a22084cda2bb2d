//! Protections in front of the handlers: a cap on URI and header sizes (414/431 in our error
//! shape instead of memory spent on them), and a per-client limit on failed authentications
//! (429 with `Retry-After`), so API keys cannot be guessed at line rate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Longest accepted request target (path and query), in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most bytes of header names and values in one request.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most headers in one request.
pub const MAX_HEADERS: usize = 64;

/// Most client addresses tracked for failed authentications; past it, expired windows are
/// dropped before a new address is added, so a scan from many addresses cannot grow memory
/// without bound.
pub const MAX_TRACKED_CLIENTS: usize = 10_000;

/// Refuses oversized request targets (414) and header sets (431) before any handler runs.
pub async fn enforce_sizes(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let target = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    if target > MAX_URI_BYTES {
        return ApiError::UriTooLong(MAX_URI_BYTES).into_response();
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge {
            max_headers: MAX_HEADERS,
            max_bytes: MAX_HEADER_BYTES,
        }
        .into_response();
    }
    next.run(request).await
}

/// Failed authentications per client address in a fixed window. A client that reaches the
/// limit gets 429 for every request until its window ends, before its key is even looked at,
/// so a guess during the block learns nothing.
#[derive(Debug)]
pub struct AuthFailures {
    clients: Mutex<HashMap<IpAddr, Window>>,
    limit: u32,
    window: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl AuthFailures {
    /// At most `limit` failures per `window` per client address.
    pub fn new(limit: u32, window: Duration) -> AuthFailures {
        AuthFailures {
            clients: Mutex::new(HashMap::new()),
            limit,
            window,
        }
    }

    /// How long `ip` must wait, when it has used up its failures.
    pub fn blocked_for(&self, ip: IpAddr) -> Option<Duration> {
        let clients = self.clients.lock().ok()?;
        let w = clients.get(&ip)?;
        let elapsed = w.started.elapsed();
        (w.failures >= self.limit && elapsed < self.window).then(|| self.window - elapsed)
    }

    /// Counts a failed authentication of `ip`.
    pub fn record_failure(&self, ip: IpAddr) {
        let Ok(mut clients) = self.clients.lock() else {
            return;
        };
        if clients.len() > MAX_TRACKED_CLIENTS {
            let window = self.window;
            clients.retain(|_, w| w.started.elapsed() < window);
        }
        let now = Instant::now();
        let w = clients.entry(ip).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(w.started) >= self.window {
            *w = Window {
                started: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_blocked_after_the_limit_and_others_are_not() {
        let limiter = AuthFailures::new(3, Duration::from_secs(60));
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        let b: IpAddr = "127.0.0.2".parse().expect("ip");
        for _ in 0..2 {
            limiter.record_failure(a);
        }
        assert!(limiter.blocked_for(a).is_none());
        limiter.record_failure(a);
        let wait = limiter.blocked_for(a).expect("blocked");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(58));
        assert!(limiter.blocked_for(b).is_none());
    }

    #[test]
    fn the_block_ends_with_the_window() {
        let limiter = AuthFailures::new(1, Duration::from_millis(20));
        let a: IpAddr = "::1".parse().expect("ip");
        limiter.record_failure(a);
        assert!(limiter.blocked_for(a).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limiter.blocked_for(a).is_none());
    }
}
