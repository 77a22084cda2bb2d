-- A cron job's own DST policy (issue 16, item 3; DESIGN.md, "Definitions you can trust"): what
-- a local time in a spring-forward gap does (shift, skip) and which instants of a local time a
-- fall-back fold repeats fire (first, last, both). NULL: the Time rules (a gap shifts; a fold
-- fires first for fixed-hour schedules, both for the others). Only cron jobs have them.
ALTER TABLE jobs ADD COLUMN dst_gap TEXT
    CHECK (dst_gap IS NULL OR (dst_gap IN ('shift', 'skip') AND trigger_type = 'cron'));
ALTER TABLE jobs ADD COLUMN dst_fold TEXT
    CHECK (dst_fold IS NULL OR (dst_fold IN ('first', 'last', 'both') AND trigger_type = 'cron'));
