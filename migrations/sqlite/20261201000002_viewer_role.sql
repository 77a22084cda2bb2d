-- A third role, `viewer` (DESIGN.md, *API*): reads everything an admin can read and changes
-- nothing. SQLite cannot alter a CHECK constraint, so api_keys is rebuilt: the same columns,
-- every row copied with its id, and the indexes (the UNIQUE key_hash and the partial unique
-- index on live names) made again. No table refers to api_keys, so nothing else moves.
CREATE TABLE api_keys_new (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    role         TEXT NOT NULL CHECK (role IN ('admin', 'viewer', 'monitor')),
    key_hash     TEXT NOT NULL UNIQUE CHECK (length(key_hash) = 64),
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

INSERT INTO api_keys_new (id, name, role, key_hash, created_at, last_used_at, revoked_at)
SELECT id, name, role, key_hash, created_at, last_used_at, revoked_at FROM api_keys;

DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;

-- A name identifies one live key; a revoked key's name may be reused.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;
