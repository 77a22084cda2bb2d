-- A cron job's own DST policy (issue 16, item 3): the same columns as the SQLite migration of
-- this version. NULL: the Time rules.
ALTER TABLE jobs ADD COLUMN dst_gap text
    CHECK (dst_gap IS NULL OR (dst_gap IN ('shift', 'skip') AND trigger_type = 'cron'));
ALTER TABLE jobs ADD COLUMN dst_fold text
    CHECK (dst_fold IS NULL OR (dst_fold IN ('first', 'last', 'both') AND trigger_type = 'cron'));
COMMENT ON COLUMN jobs.dst_gap IS 'cron: a local time in a spring-forward gap shifts to the first instant after it (shift) or does not fire (skip); NULL: shift';
COMMENT ON COLUMN jobs.dst_fold IS 'cron: which instants of a local time a fall-back fold repeats fire (first, last, both); NULL: first for fixed hours, both otherwise';
