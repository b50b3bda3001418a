-- How complete is the record: the coverage ledger, gaps, and jobs AWS no
-- longer returns.
--
-- target_coverage: one row per target (account, region) that ingest ever
-- ran for. covered_through is the instant through which every copy job of
-- the target is known: the service time at the start of the last run whose
-- listings all completed, minus the overlap that run used. It is NULL until
-- such a run happens, and it never moves back. A run that fails, or one
-- whose `--since` left time unlisted, leaves it where it is.
CREATE TABLE target_coverage (
    account_id text NOT NULL,
    region text NOT NULL,
    covered_through timestamptz,
    -- The run that set covered_through.
    covered_by_run bigint,
    -- When the ledger row last changed.
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, region)
);

-- Time a run was asked not to list: a `--since` later than the target's
-- coverage skips [gap_from, gap_to) (gap_from NULL: everything before
-- gap_to, when the target had no coverage yet). The checkpoint stays, so
-- the next complete run lists the gap again and marks it filled.
CREATE TABLE coverage_gaps (
    id bigserial PRIMARY KEY,
    account_id text NOT NULL,
    region text NOT NULL,
    gap_from timestamptz,
    gap_to timestamptz NOT NULL,
    -- The run that skipped it.
    run_id bigint,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- The complete run that listed it again.
    filled_by_run bigint,
    filled_at timestamptz
);

CREATE INDEX coverage_gaps_open ON coverage_gaps (account_id, region) WHERE filled_at IS NULL;

-- A job AWS no longer returns (DescribeCopyJob answered
-- ResourceNotFoundException while the database held it open) is kept, with
-- gone_at set, and a version of its own in the history (same members,
-- gone_at set there too). A job listed again afterwards is a new version
-- with gone_at NULL.
ALTER TABLE copy_jobs ADD COLUMN gone_at timestamptz;
-- When reconciliation last described a job that the listings did not
-- return: a job in a state this version does not know is described again at
-- most once a day.
ALTER TABLE copy_jobs ADD COLUMN described_at timestamptz;
ALTER TABLE copy_job_snapshots ADD COLUMN gone_at timestamptz;

-- The function returns the table's row type: its body is parsed again so
-- that it returns the new column too.
CREATE OR REPLACE FUNCTION copy_jobs_as_of(at timestamptz) RETURNS SETOF copy_job_snapshots
    LANGUAGE sql STABLE PARALLEL SAFE
    BEGIN ATOMIC
        SELECT * FROM copy_job_snapshots
        WHERE valid_from <= at AND (valid_to IS NULL OR valid_to > at);
    END;

-- Reconciliation reads the open jobs of one target.
CREATE INDEX copy_jobs_open ON copy_jobs (account_id, region)
    WHERE gone_at IS NULL AND (state IS NULL OR state NOT IN ('COMPLETED', 'FAILED', 'PARTIAL'));

-- One row per target: how far its record is complete and how its last run
-- went. The last run is read from ingest_runs (imports aside), so a run that
-- is still going, or was killed, shows as `running` (or `abandoned`).
CREATE VIEW report_coverage AS
SELECT
    c.account_id,
    c.region,
    c.covered_through,
    r.started_at AS last_run_at,
    r.status AS last_run_status,
    r.error AS last_error,
    s.finished_at AS last_success_at,
    g.open_gaps,
    g.first_gap_from,
    g.last_gap_to
FROM target_coverage c
LEFT JOIN LATERAL (
    SELECT started_at, status, error FROM ingest_runs
    WHERE account_id = c.account_id AND region = c.region AND mode <> 'import'
    ORDER BY started_at DESC, id DESC LIMIT 1
) r ON true
LEFT JOIN LATERAL (
    SELECT finished_at FROM ingest_runs
    WHERE account_id = c.account_id AND region = c.region AND mode <> 'import'
      AND status = 'succeeded'
    ORDER BY started_at DESC, id DESC LIMIT 1
) s ON true
CROSS JOIN LATERAL (
    SELECT count(*) AS open_gaps, min(gap_from) AS first_gap_from, max(gap_to) AS last_gap_to
    FROM coverage_gaps
    WHERE account_id = c.account_id AND region = c.region AND filled_at IS NULL
) g;

-- Jobs AWS no longer returns, as the database last saw them.
CREATE VIEW report_gone_jobs AS
SELECT account_id, region, copy_job_id, state, creation_date, completion_date,
       resource_arn, destination_backup_vault_arn, observed_at, gone_at
FROM copy_jobs
WHERE gone_at IS NOT NULL;
