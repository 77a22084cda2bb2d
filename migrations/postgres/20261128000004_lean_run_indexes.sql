-- On SQLite this version dropped two redundant job_runs indexes (see migrations/sqlite/). The
-- PostgreSQL schema never had them; the version exists so both engines number their schema
-- changes alike.
SELECT 1;
