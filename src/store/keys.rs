//! The API-key part of the store contract. Only hashes cross this seam; the key itself never
//! reaches the store.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};
use crate::model::{KeyInfo, Role};

impl Store {
    /// Stores a new key's hash under `name`. A live key with the same name gives
    /// [`StoreError::KeyNameTaken`].
    pub async fn create_key(
        &self,
        name: &str,
        role: Role,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyInfo, StoreError> {
        dispatch!(self, s => s.create_key(name, role, key_hash, now).await)
    }

    /// Stores `key_hash` under `name` only if no key was ever created (revoked ones count),
    /// checked and written atomically: of several processes starting together on an empty
    /// database exactly one creates the first admin key, and prints it. `None` when a key
    /// existed.
    pub async fn create_first_key(
        &self,
        name: &str,
        role: Role,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<KeyInfo>, StoreError> {
        dispatch!(self, s => s.create_first_key(name, role, key_hash, now).await)
    }

    /// Every key, live and revoked, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        dispatch!(self, s => s.list_keys().await)
    }

    /// Revokes the live key named `name`. Returns whether one was revoked.
    pub async fn revoke_key(&self, name: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        dispatch!(self, s => s.revoke_key(name, now).await)
    }

    /// The key whose stored hash equals `key_hash`, revoked or not, with the stored hash so the
    /// caller can compare it in constant time.
    pub async fn find_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<(KeyInfo, String)>, StoreError> {
        dispatch!(self, s => s.find_key_by_hash(key_hash).await)
    }

    /// Records a use of key `id`, unless one was recorded after `unless_after` (so a busy key
    /// costs one write a minute, not one per request).
    pub async fn touch_key(
        &self,
        id: i64,
        now: DateTime<Utc>,
        unless_after: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.touch_key(id, now, unless_after).await)
    }

    /// How many keys have ever been created (revoked ones included), to detect a first start.
    pub async fn count_keys(&self) -> Result<i64, StoreError> {
        dispatch!(self, s => s.count_keys().await)
    }

    /// Makes `name` a live key with exactly this hash and role: nothing changes when it already
    /// is; otherwise the old live key of that name is revoked and the new one stored, in one
    /// transaction. Used for keys provisioned from the environment at every start.
    pub async fn provision_key(
        &self,
        name: &str,
        role: Role,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.provision_key(name, role, key_hash, now).await)
    }
}
