//! PostgreSQL: the `api_keys` table. Only hashes are stored or compared here; the key itself
//! never reaches this module.

use chrono::{DateTime, Utc};
use schedlite_core::model::{KeyInfo, Role};
use schedlite_core::store::StoreError;

use super::{PgStore, ms};

/// One `api_keys` row, all columns.
struct KeyRow {
    id: i64,
    name: String,
    role: String,
    key_hash: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl KeyRow {
    fn into_info(self) -> Result<(KeyInfo, String), StoreError> {
        let key = format!("id {}", self.id);
        let role: Role = self
            .role
            .parse()
            .map_err(|e: String| StoreError::corrupt("api_keys", &key, e))?;
        let info = KeyInfo {
            id: self.id,
            name: self.name,
            role,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        };
        Ok((info, self.key_hash))
    }
}

impl PgStore {
    /// Stores a new key's hash; a live key with the same name gives `KeyNameTaken`.
    pub async fn create_key(
        &self,
        name: &str,
        role: Role,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyInfo, StoreError> {
        let row = sqlx::query_as!(
            KeyRow,
            "INSERT INTO api_keys (name, role, key_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING *",
            name,
            role.as_str(),
            key_hash,
            ms(now)
        )
        .fetch_one(&mut *self.conn().await?)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(db) if db.is_unique_violation() => StoreError::KeyNameTaken(name.to_string()),
            _ => StoreError::from(e),
        })?;
        row.into_info().map(|(info, _)| info)
    }

    /// Stores the first key: `key_hash` under `name`, only if no key was ever created. The
    /// table is locked against other writers for the check and the insert (READ COMMITTED
    /// alone would let two nodes both see it empty), so of several nodes starting together on
    /// an empty database exactly one creates it. `None` when a key existed.
    pub async fn create_first_key(
        &self,
        name: &str,
        role: Role,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<KeyInfo>, StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query!("LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query_as!(
            KeyRow,
            "INSERT INTO api_keys (name, role, key_hash, created_at)
             SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM api_keys)
             RETURNING *",
            name,
            role.as_str(),
            key_hash,
            ms(now)
        )
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(|row| row.into_info().map(|(info, _)| info))
            .transpose()
    }

    /// Every key, revoked ones included, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        Ok(self
            .export_keys()
            .await?
            .into_iter()
            .map(|(info, _)| info)
            .collect())
    }

    /// Every key with its stored hash, oldest first (for `schedlite copy`; nothing else reads
    /// hashes in bulk).
    pub async fn export_keys(&self) -> Result<Vec<(KeyInfo, String)>, StoreError> {
        let rows = sqlx::query_as!(KeyRow, "SELECT * FROM api_keys ORDER BY id")
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.into_iter().map(KeyRow::into_info).collect()
    }

    /// Revokes the live key named `name`; whether there was one.
    pub async fn revoke_key(&self, name: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query!(
            "UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
            ms(now),
            name
        )
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The key with this hash (revoked or not) and its stored hash.
    pub async fn find_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<(KeyInfo, String)>, StoreError> {
        let row = sqlx::query_as!(
            KeyRow,
            "SELECT * FROM api_keys WHERE key_hash = $1",
            key_hash
        )
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.map(KeyRow::into_info).transpose()
    }

    /// Records a use of key `id` at `now`, unless one after `unless_after` is recorded.
    pub async fn touch_key(
        &self,
        id: i64,
        now: DateTime<Utc>,
        unless_after: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
            ms(now),
            id,
            ms(unless_after)
        )
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// How many keys exist, revoked ones included.
    pub async fn count_keys(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM api_keys"#)
                .fetch_one(&mut *self.conn().await?)
                .await?,
        )
    }

    /// Makes `key_hash` the live key named `name` with `role`, revoking whatever held the name;
    /// whether anything changed.
    pub async fn provision_key(
        &self,
        name: &str,
        role: Role,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // Nodes starting together provision the same keys: one at a time.
        sqlx::query!("LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let current = sqlx::query!(
            "SELECT key_hash, role FROM api_keys WHERE name = $1 AND revoked_at IS NULL",
            name
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = &current
            && row.key_hash == key_hash
            && row.role == role.as_str()
        {
            tx.rollback().await?;
            return Ok(false);
        }
        let at = ms(now);
        sqlx::query!(
            "UPDATE api_keys SET revoked_at = $1 WHERE (name = $2 AND revoked_at IS NULL) OR key_hash = $3",
            at,
            name,
            key_hash
        )
        .execute(&mut *tx)
        .await?;
        // A key hash is unique across rows: a revoked copy of this very key makes way.
        sqlx::query!("DELETE FROM api_keys WHERE key_hash = $1", key_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query!(
            "INSERT INTO api_keys (name, role, key_hash, created_at) VALUES ($1, $2, $3, $4)",
            name,
            role.as_str(),
            key_hash,
            at
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
