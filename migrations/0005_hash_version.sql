-- Which definition of the content hash each row's content_hash follows.
--
-- Version 1 hashed the canonical JSON, which changed with the model (member
-- order, a timestamp known or not, the order of states in ChildJobsInState);
-- version 2 hashes the content form, which depends only on what AWS sent
-- (backup-ingest rows.rs HASH_VERSION). Rows written before this migration
-- are version 1.
--
-- `migrate` recomputes the hashes of rows of an older version from the
-- stored content (which gives the job back exactly as received) and only
-- then records the new version in content_hash_state; `ingest` refuses to
-- run while content_hash_state is behind, so a job seen again after an
-- upgrade is compared with a hash of the same definition and no spurious
-- version is written. Adding a column with a constant default rewrites no
-- table.

ALTER TABLE copy_jobs ADD COLUMN hash_version smallint NOT NULL DEFAULT 1;
ALTER TABLE copy_job_snapshots ADD COLUMN hash_version smallint NOT NULL DEFAULT 1;

-- One row: the hash version every stored row has reached.
CREATE TABLE content_hash_state (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version smallint NOT NULL
);
INSERT INTO content_hash_state (version) VALUES (1);

-- A function body written with SELECT * holds the columns it had when it was
-- created: made again so that it returns the new column too.
CREATE OR REPLACE FUNCTION copy_jobs_as_of(at timestamptz) RETURNS SETOF copy_job_snapshots
    LANGUAGE sql STABLE PARALLEL SAFE
    BEGIN ATOMIC
        SELECT * FROM copy_job_snapshots
        WHERE valid_from <= at AND (valid_to IS NULL OR valid_to > at);
    END;
