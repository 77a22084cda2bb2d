//! After a lost connection the pool's other connections are likely dead too (every backend
//! ended by an administrator, the server restarted), and each would fail one request with a 503
//! before the pool replaced it: with a dozen pooled connections, a node answered 503 for a
//! second or two after a cut. So when the change listener finds its own connection lost, it
//! marks the moment ([`LossMark`]), and the pool discards, rather than hands out, every idle
//! connection made before it (`before_acquire` in `PgStore::open`). Turned down: sqlx's
//! `test_before_acquire`, a round trip on every acquire to catch what happens rarely.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The last moment a connection was found lost.
#[derive(Debug)]
pub(crate) struct LossMark {
    origin: Instant,
    /// Milliseconds from `origin` to the last loss, plus one; 0 for none yet.
    at_ms: AtomicU64,
}

impl LossMark {
    pub(crate) fn new() -> LossMark {
        LossMark {
            origin: Instant::now(),
            at_ms: AtomicU64::new(0),
        }
    }

    /// Records that a connection was found lost now.
    pub(crate) fn mark(&self) {
        self.at_ms
            .store(self.millis(Duration::ZERO) + 1, Ordering::Relaxed);
    }

    /// Whether a connection `age` old was made before the last loss (at the same millisecond
    /// counts as before: one connection too many is replaced, none kept that is dead).
    pub(crate) fn predates_loss(&self, age: Duration) -> bool {
        let at = self.at_ms.load(Ordering::Relaxed);
        at != 0 && self.millis(age) < at
    }

    /// Milliseconds from `origin` to `ago` before now.
    fn millis(&self, ago: Duration) -> u64 {
        let since = self.origin.elapsed().saturating_sub(ago);
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connections_made_before_the_last_loss_predate_it() {
        let mark = LossMark::new();
        let old = Duration::from_secs(3600);
        assert!(
            !mark.predates_loss(old),
            "no loss yet: every connection is kept"
        );
        std::thread::sleep(Duration::from_millis(5));
        mark.mark();
        assert!(
            mark.predates_loss(Duration::from_millis(4)),
            "made before the loss"
        );
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            !mark.predates_loss(Duration::from_millis(2)),
            "made after the loss"
        );
    }
}
