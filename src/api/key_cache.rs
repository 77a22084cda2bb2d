//! Keys that authenticated recently, so a busy client costs one key lookup a second rather
//! than one per request (each lookup is a query, and on SQLite two thread hand-offs: it was
//! 1.5× the instructions of a whole `GET /jobs/{id}`; BENCHMARKS.md).
//!
//! Revocation stays exact for `schedlite keys revoke`: an entry is trusted for
//! [`apikey::LOOKUP_TRUST`] counted from *before* its lookup was sent, and the command waits
//! that long after its commit before it returns. A lookup that saw the key live was sent before
//! the commit, so its entry has expired by the time the command returns, in every process and
//! on every node: from then on every request is refused. A key revoked by other means (SQL by
//! hand, a provisioned key replaced at another process's start) is refused within
//! [`apikey::LOOKUP_TRUST`]. Only successes are kept; a wrong key always goes to the database
//! (and to the failure limit).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::apikey;
use crate::model::Role;

/// Most keys cached at once; past it, expired entries are dropped first.
pub const MAX_CACHED_KEYS: usize = 10_000;

/// One cached lookup: the key's name and role, and when its lookup was sent.
#[derive(Debug)]
struct Entry {
    name: String,
    role: Role,
    asked_at: Instant,
}

/// Successful key lookups by key hash, each trusted for [`apikey::LOOKUP_TRUST`].
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, Entry>>,
}

impl KeyCache {
    /// The (name, role) of the key with this hash, if a lookup sent less than
    /// [`apikey::LOOKUP_TRUST`] ago found it live.
    pub fn get(&self, hash: &str) -> Option<(String, Role)> {
        let keys = self.keys.lock().ok()?;
        let entry = keys.get(hash)?;
        (entry.asked_at.elapsed() < apikey::LOOKUP_TRUST).then(|| (entry.name.clone(), entry.role))
    }

    /// Remembers a lookup, sent at `asked_at`, that found the key live.
    pub fn put(&self, hash: String, name: String, role: Role, asked_at: Instant) {
        if let Ok(mut keys) = self.keys.lock() {
            if keys.len() > MAX_CACHED_KEYS {
                keys.retain(|_, e| e.asked_at.elapsed() < apikey::LOOKUP_TRUST);
            }
            keys.insert(
                hash,
                Entry {
                    name,
                    role,
                    asked_at,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An entry is trusted for `LOOKUP_TRUST` from when its lookup was sent, not from when it
    /// was stored: a lookup answered late must not stretch the window past the revocation's.
    #[test]
    fn an_entry_expires_lookup_trust_after_its_lookup_was_sent() {
        let cache = KeyCache::default();
        let now = Instant::now();
        cache.put("fresh".into(), "a".into(), Role::Admin, now);
        let sent_long_ago = now
            .checked_sub(apikey::LOOKUP_TRUST + Duration::from_millis(1))
            .expect("the clock has run this long");
        cache.put("stale".into(), "b".into(), Role::Monitor, sent_long_ago);
        assert_eq!(cache.get("fresh"), Some(("a".to_string(), Role::Admin)));
        assert_eq!(cache.get("stale"), None);
        assert_eq!(cache.get("unknown"), None);
    }
}
