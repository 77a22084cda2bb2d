-- Exclusive groups (issue 16, item 2): the same columns as the SQLite migration of this
-- version. Claims take a transaction-scoped advisory lock per group (hashed from its name)
-- before they look at who holds it, so two nodes never start two runs of one group.
ALTER TABLE jobs ADD COLUMN exclusive_group text
    CHECK (exclusive_group IS NULL OR exclusive_group ~ '^[A-Za-z0-9._:-]{1,128}$');
ALTER TABLE jobs ADD COLUMN exclusive_policy text
    CHECK ((exclusive_policy IS NULL AND exclusive_group IS NULL)
           OR (exclusive_policy IN ('skip', 'wait') AND exclusive_group IS NOT NULL));
CREATE INDEX jobs_by_exclusive_group ON jobs (exclusive_group) WHERE exclusive_group IS NOT NULL;
COMMENT ON COLUMN jobs.exclusive_group IS 'at most one run of this group at a time across every node (a pending retry holds it too); NULL: no group';
COMMENT ON COLUMN jobs.exclusive_policy IS 'an occurrence due while its group is held: skip (recorded skipped, naming the holder) or wait (stays due until the group is free)';
