-- Sightings of unchanged jobs write nothing.
--
-- Until now every sighting of a job updated its current row (last_seen_at,
-- observed_at), so copy_jobs kept 30 % of each page free for those updates
-- to stay on the page (fillfactor 70). A job seen again with the same
-- content hash now writes nothing: the coverage ledger records that its
-- target was listed, which proves the sighting. The current row changes only
-- when the job does (the row is then replaced, not updated in place), so
-- the free room only costs space and write time: new pages are filled.
-- Pages written before this migration keep their free room until rewritten
-- (VACUUM FULL or pg_repack would pack them; nothing needs it).
ALTER TABLE copy_jobs SET (fillfactor = 100);

COMMENT ON COLUMN copy_jobs.observed_at IS
    'The latest observation written for this job: when its current version was first seen (or a later observation of a newer version). Sightings of unchanged content are not written; see the coverage ledger.';
COMMENT ON COLUMN copy_jobs.last_seen_at IS
    'The latest observation written for this job, as observed_at; a sighting of unchanged content writes nothing (the coverage ledger shows when the target was last listed completely).';
