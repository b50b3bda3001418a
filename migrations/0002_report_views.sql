-- Views for reporting in plain SQL. `backup-audit report` answers the same
-- questions with the same rules (its queries add exact time, account and
-- region filters); the README shows an example query for each view.
--
-- Rules shared by every view and report:
--
-- - Composite jobs: a parent job (is_parent) stands for its children, which
--   are jobs of their own. Counting both would count every copied recovery
--   point twice (and its bytes), so counts, bytes and durations are of
--   non-parent jobs (standalone jobs and children). Parents appear in
--   report_failures, because PARTIAL is a parent's state, and in
--   report_last_successful_copy, because a composite resource (a stack) is a
--   resource of its own.
-- - A job's day is the UTC date of its creation_date.
-- - A duration is completion_date - creation_date in seconds, of COMPLETED
--   jobs only: how long a copy takes, not how fast a failure is reported.
-- - bytes sums backup_size_in_bytes of every job counted; completed_bytes of
--   COMPLETED jobs only, which is what reached the destination.

-- Copies per UTC day, account, region and destination vault.
CREATE VIEW report_daily AS
SELECT
    (creation_date AT TIME ZONE 'UTC')::date AS day,
    account_id,
    region,
    destination_backup_vault_arn,
    count(*) AS jobs,
    count(*) FILTER (WHERE state = 'CREATED') AS created,
    count(*) FILTER (WHERE state = 'RUNNING') AS running,
    count(*) FILTER (WHERE state = 'COMPLETED') AS completed,
    count(*) FILTER (WHERE state = 'FAILED') AS failed,
    count(*) FILTER (WHERE state = 'PARTIAL') AS partial,
    coalesce(sum(backup_size_in_bytes), 0)::bigint AS bytes,
    coalesce(sum(backup_size_in_bytes) FILTER (WHERE state = 'COMPLETED'), 0)::bigint AS completed_bytes,
    percentile_cont(0.5) WITHIN GROUP (
        ORDER BY extract(epoch FROM completion_date - creation_date)::double precision)
        FILTER (WHERE state = 'COMPLETED' AND completion_date IS NOT NULL) AS median_seconds,
    percentile_cont(0.95) WITHIN GROUP (
        ORDER BY extract(epoch FROM completion_date - creation_date)::double precision)
        FILTER (WHERE state = 'COMPLETED' AND completion_date IS NOT NULL) AS p95_seconds
FROM copy_jobs
WHERE is_parent IS NOT TRUE AND creation_date IS NOT NULL
GROUP BY 1, 2, 3, 4;

-- Every FAILED or PARTIAL job (parents included), as it is now.
CREATE VIEW report_failures AS
SELECT
    account_id,
    region,
    copy_job_id,
    state,
    message_category,
    status_message,
    resource_arn,
    resource_name,
    resource_type,
    source_backup_vault_arn,
    destination_backup_vault_arn,
    creation_date,
    completion_date,
    coalesce(is_parent, false) AS is_parent,
    parent_job_id
FROM copy_jobs
WHERE state IN ('FAILED', 'PARTIAL');

-- The states each job went through, from its history: one row per stretch of
-- versions in the same state. entered_at is when backup-audit first recorded
-- the state (an observation time, so as precise as the ingest schedule; an
-- imported job is placed at its own CompletionDate or CreationDate), left_at
-- when it recorded the next state (NULL: the job is still in it), and
-- seconds_in_state the difference.
CREATE VIEW report_state_transitions AS
WITH versions AS (
    SELECT
        account_id, region, copy_job_id, state, valid_from,
        lag(state) OVER w AS previous_state,
        row_number() OVER w AS n
    FROM copy_job_snapshots
    WINDOW w AS (PARTITION BY account_id, region, copy_job_id ORDER BY valid_from)
),
changes AS (
    SELECT account_id, region, copy_job_id, previous_state, state, valid_from
    FROM versions
    WHERE n = 1 OR state IS DISTINCT FROM previous_state
)
SELECT
    account_id,
    region,
    copy_job_id,
    previous_state AS from_state,
    state,
    valid_from AS entered_at,
    lead(valid_from) OVER w AS left_at,
    extract(epoch FROM lead(valid_from) OVER w - valid_from)::double precision AS seconds_in_state
FROM changes
WINDOW w AS (PARTITION BY account_id, region, copy_job_id ORDER BY valid_from);

-- Per resource (account, region, resource ARN): its last COMPLETED copy and
-- its last attempt. "No completed copy in 7 days" is
--   WHERE last_completed_at IS NULL OR last_completed_at < now() - interval '7 days'.
CREATE VIEW report_last_successful_copy AS
WITH attempts AS (
    SELECT
        account_id, region, resource_arn,
        count(*) AS copies,
        count(*) FILTER (WHERE state = 'COMPLETED') AS completed_copies,
        count(*) FILTER (WHERE state IN ('FAILED', 'PARTIAL')) AS failed_copies
    FROM copy_jobs
    WHERE resource_arn IS NOT NULL
    GROUP BY account_id, region, resource_arn
),
latest AS (
    SELECT DISTINCT ON (account_id, region, resource_arn)
        account_id, region, resource_arn, resource_type, resource_name,
        copy_job_id AS last_attempt_copy_job_id,
        creation_date AS last_attempt_at,
        state AS last_attempt_state
    FROM copy_jobs
    WHERE resource_arn IS NOT NULL
    ORDER BY account_id, region, resource_arn, creation_date DESC NULLS LAST, copy_job_id DESC
),
last_completed AS (
    SELECT DISTINCT ON (account_id, region, resource_arn)
        account_id, region, resource_arn,
        copy_job_id AS last_completed_copy_job_id,
        coalesce(completion_date, creation_date) AS last_completed_at,
        destination_backup_vault_arn AS last_completed_destination_vault_arn
    FROM copy_jobs
    WHERE resource_arn IS NOT NULL AND state = 'COMPLETED'
    ORDER BY account_id, region, resource_arn,
        coalesce(completion_date, creation_date) DESC NULLS LAST, copy_job_id DESC
)
SELECT
    a.account_id,
    a.region,
    a.resource_arn,
    l.resource_type,
    l.resource_name,
    c.last_completed_at,
    c.last_completed_copy_job_id,
    c.last_completed_destination_vault_arn,
    l.last_attempt_at,
    l.last_attempt_copy_job_id,
    l.last_attempt_state,
    a.copies,
    a.completed_copies,
    a.failed_copies
FROM attempts a
JOIN latest l USING (account_id, region, resource_arn)
LEFT JOIN last_completed c USING (account_id, region, resource_arn);
