//! SQLite: the `api_keys` table. Only hashes are stored or compared here; the key itself never
//! reaches this module.

use chrono::{DateTime, Utc};

use super::{SqliteStore, parse_opt_ts, parse_text, parse_ts, ts};
use crate::model::{KeyInfo, Role};
use crate::store::StoreError;

struct KeyRow {
    id: i64,
    name: String,
    role: String,
    key_hash: String,
    created_at: String,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
}

impl KeyRow {
    fn into_info(self) -> Result<(KeyInfo, String), StoreError> {
        let key = format!("id {}", self.id);
        let info = KeyInfo {
            id: self.id,
            role: parse_text::<Role>("api_keys", &key, &self.role)?,
            created_at: parse_ts("api_keys", &key, "created_at", &self.created_at)?,
            last_used_at: parse_opt_ts(
                "api_keys",
                &key,
                "last_used_at",
                self.last_used_at.as_deref(),
            )?,
            revoked_at: parse_opt_ts("api_keys", &key, "revoked_at", self.revoked_at.as_deref())?,
            name: self.name,
        };
        Ok((info, self.key_hash))
    }
}

impl SqliteStore {
    /// Stores a new key's hash under `name`. A live key with the same name gives
    /// [`StoreError::KeyNameTaken`].
    pub async fn create_key(
        &self,
        name: &str,
        role: Role,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyInfo, StoreError> {
        let role_s = role.as_str();
        let created = ts(now);
        let id = sqlx::query_scalar!(
            r#"INSERT INTO api_keys (name, role, key_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id AS "id!: i64""#,
            name,
            role_s,
            key_hash,
            created
        )
        .fetch_one(&self.writer)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(db) if db.is_unique_violation() => StoreError::KeyNameTaken(name.to_string()),
            _ => StoreError::from(e),
        })?;
        Ok(KeyInfo {
            id,
            name: name.to_string(),
            role,
            created_at: crate::timestamp::Timestamp::new(now).get(),
            last_used_at: None,
            revoked_at: None,
        })
    }

    /// Stores the first key: `key_hash` under `name`, only if no key was ever created. The
    /// check and the insert hold the write lock together (`BEGIN IMMEDIATE`), so of several
    /// processes starting together on a new file exactly one creates it. `None` when a key
    /// existed.
    pub async fn create_first_key(
        &self,
        name: &str,
        role: Role,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<KeyInfo>, StoreError> {
        let mut tx = self.begin_write().await?;
        let role_s = role.as_str();
        let created = ts(now);
        let id = sqlx::query_scalar!(
            r#"INSERT INTO api_keys (name, role, key_hash, created_at)
               SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM api_keys)
               RETURNING id AS "id!: i64""#,
            name,
            role_s,
            key_hash,
            created
        )
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id.map(|id| KeyInfo {
            id,
            name: name.to_string(),
            role,
            created_at: crate::timestamp::Timestamp::new(now).get(),
            last_used_at: None,
            revoked_at: None,
        }))
    }

    /// Every key, live and revoked, oldest first.
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
        let rows = sqlx::query_as!(
            KeyRow,
            r#"SELECT id AS "id!: i64", name, role, key_hash, created_at, last_used_at, revoked_at
               FROM api_keys ORDER BY id"#
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(KeyRow::into_info).collect()
    }

    /// Revokes the live key named `name`. Returns whether one was revoked.
    pub async fn revoke_key(&self, name: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let at = ts(now);
        let done = sqlx::query!(
            "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
            at,
            name
        )
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The key whose stored hash equals `key_hash`, revoked or not, with the stored hash so the
    /// caller can compare it in constant time.
    pub async fn find_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<(KeyInfo, String)>, StoreError> {
        let row = sqlx::query_as!(
            KeyRow,
            r#"SELECT id AS "id!: i64", name, role, key_hash, created_at, last_used_at, revoked_at
               FROM api_keys WHERE key_hash = ?"#,
            key_hash
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(KeyRow::into_info).transpose()
    }

    /// Records a use of key `id`, unless one was recorded after `unless_after` (so a busy key
    /// costs one write a minute, not one per request).
    pub async fn touch_key(
        &self,
        id: i64,
        now: DateTime<Utc>,
        unless_after: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = ts(now);
        let cutoff = ts(unless_after);
        sqlx::query!(
            "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
            at,
            id,
            cutoff
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// How many keys have ever been created (revoked ones included), to detect a first start.
    pub async fn count_keys(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar!(r#"SELECT count(*) AS "n!: i64" FROM api_keys"#)
                .fetch_one(&self.pool)
                .await?,
        )
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
        let mut tx = self.begin_write().await?;
        let role_s = role.as_str();
        let current = sqlx::query!(
            "SELECT key_hash, role FROM api_keys WHERE name = ? AND revoked_at IS NULL",
            name
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = &current
            && row.key_hash == key_hash
            && row.role == role_s
        {
            tx.rollback().await?;
            return Ok(false);
        }
        let at = ts(now);
        sqlx::query!(
            "UPDATE api_keys SET revoked_at = ? WHERE (name = ? AND revoked_at IS NULL) OR key_hash = ?",
            at,
            name,
            key_hash
        )
        .execute(&mut *tx)
        .await?;
        // A key hash is unique across rows: a previously revoked copy of this very key is
        // removed so the provisioned one can be stored live again.
        sqlx::query!("DELETE FROM api_keys WHERE key_hash = ?", key_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query!(
            "INSERT INTO api_keys (name, role, key_hash, created_at) VALUES (?, ?, ?, ?)",
            name,
            role_s,
            key_hash,
            at
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
