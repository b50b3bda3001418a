-- A run that died without recording its end (killed, crashed, cut off from
-- the database) stays `running`. The next run of its target, which holds the
-- target's lock and so knows no other run of it is alive, marks it
-- `abandoned` (finished_at: when that was found).
ALTER TABLE ingest_runs DROP CONSTRAINT ingest_runs_status;
ALTER TABLE ingest_runs ADD CONSTRAINT ingest_runs_status
    CHECK (status IN ('running', 'succeeded', 'failed', 'abandoned'));
