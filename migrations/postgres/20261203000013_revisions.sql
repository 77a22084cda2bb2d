-- Revisions (issue 16, item 1; DESIGN.md, "Definitions you can trust"): the same table as the
-- SQLite migration of this version, in PostgreSQL's types.
CREATE TABLE job_revisions (
    job_id        text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    revision      integer NOT NULL CHECK (revision >= 1),
    definition    jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    changed_by    text NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 64),
    changed_at    timestamptz NOT NULL,
    change        text NOT NULL CHECK (change IN ('create', 'replace', 'restore')),
    restored_from integer CHECK (restored_from IS NULL OR restored_from >= 1),
    CHECK ((change = 'restore') = (restored_from IS NOT NULL)),
    PRIMARY KEY (job_id, revision)
);
COMMENT ON TABLE job_revisions IS 'Every definition a job had: one row per create, replace or restore, as the body of a PUT /jobs/{id}; pruned with the audit trail, never a job''s newest';
COMMENT ON COLUMN job_revisions.definition IS 'The job as a PUT body (secret header values included: the API redacts them)';
COMMENT ON COLUMN job_revisions.changed_by IS 'The name of the API key that made the change';
COMMENT ON COLUMN job_revisions.restored_from IS 'For a restore: the revision restored';
CREATE INDEX job_revisions_by_time ON job_revisions (changed_at);
