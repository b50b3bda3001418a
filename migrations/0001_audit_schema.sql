-- The audit schema: the current state of every copy job, one history row per
-- distinct version, and the bookkeeping of ingest runs.
--
-- Every member of the API's CopyJob has a typed column named after it in
-- snake_case (CreatedBy's members prefixed `created_by_`,
-- DestinationRecoveryPointLifecycle's prefixed `lifecycle_`). The raw JSON is
-- not stored: it would cost about four times the write time of the typed
-- columns. Instead the members this version does not know are kept as JSONB,
-- and the views `copy_jobs_json` and `copy_job_snapshots_json` rebuild each job
-- exactly as received from the typed columns and those.
--
-- Keys: (account_id, region, copy_job_id). account_id is the job's AccountId,
-- or the account of the target it was listed from when the job has none
-- (account_id_in_job tells which, so that the JSON is rebuilt exactly).
--
-- A member added here must be added in four places: both tables, both views.

-- Timestamps as the API model writes them: RFC 3339, UTC, milliseconds.
CREATE FUNCTION audit_rfc3339(t timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');

CREATE TABLE copy_jobs (
    account_id text NOT NULL,
    region text NOT NULL,
    copy_job_id text NOT NULL,
    -- Whether the job itself carried AccountId (false: account_id is the target's).
    account_id_in_job boolean NOT NULL,

    backup_size_in_bytes bigint,
    child_jobs_in_state jsonb,
    completion_date timestamptz,
    composite_member_identifier text,
    created_by_backup_plan_arn text,
    created_by_backup_plan_id text,
    created_by_backup_plan_name text,
    created_by_backup_plan_version text,
    created_by_backup_rule_cron text,
    created_by_backup_rule_id text,
    created_by_backup_rule_name text,
    created_by_backup_rule_timezone text,
    created_by_backup_job_id text,
    creation_date timestamptz,
    destination_backup_vault_arn text,
    destination_encryption_key_arn text,
    destination_recovery_point_arn text,
    lifecycle_delete_after_days bigint,
    lifecycle_delete_after_event text,
    lifecycle_move_to_cold_storage_after_days bigint,
    lifecycle_opt_in_to_archive_for_supported_resources boolean,
    destination_vault_lock_state text,
    destination_vault_type text,
    iam_role_arn text,
    is_parent boolean,
    message_category text,
    number_of_child_jobs bigint,
    parent_job_id text,
    resource_arn text,
    resource_name text,
    resource_type text,
    source_backup_vault_arn text,
    source_recovery_point_arn text,
    state text,
    status_message text,

    -- Top-level members this version does not know; NULL when there are none.
    unknown_members jsonb,
    -- CreatedBy's unknown members: NULL when CreatedBy is absent, '{}' when it
    -- is present with known members only.
    created_by_unknown jsonb,
    -- The same for DestinationRecoveryPointLifecycle.
    lifecycle_unknown jsonb,

    -- xxh3-128 of the job's canonical JSON (backup_model's encoding).
    content_hash bytea NOT NULL,
    -- The latest observation of the current version.
    observed_at timestamptz NOT NULL,
    first_seen_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    -- valid_from of the current version's history row.
    last_changed_at timestamptz NOT NULL,
    -- How many history rows the job has.
    versions integer NOT NULL,

    PRIMARY KEY (account_id, region, copy_job_id),
    CONSTRAINT copy_jobs_created_by_present CHECK (
        created_by_unknown IS NOT NULL OR num_nonnulls(
            created_by_backup_plan_arn, created_by_backup_plan_id,
            created_by_backup_plan_name, created_by_backup_plan_version,
            created_by_backup_rule_cron, created_by_backup_rule_id,
            created_by_backup_rule_name, created_by_backup_rule_timezone) = 0),
    CONSTRAINT copy_jobs_lifecycle_present CHECK (
        lifecycle_unknown IS NOT NULL OR num_nonnulls(
            lifecycle_delete_after_days, lifecycle_delete_after_event,
            lifecycle_move_to_cold_storage_after_days,
            lifecycle_opt_in_to_archive_for_supported_resources) = 0)
)
-- Every sighting of a job updates its bookkeeping columns (last_seen_at...).
-- Free room in each page lets those updates stay on the page (HOT) without
-- new index entries: measured twice as fast as with full pages.
WITH (fillfactor = 70);

-- Reports filter by day, account and region, state, vault and resource. Each
-- index costs write time on every new job: measured with backup-ingest's
-- bench (BENCH_INDEX_COSTS=1), a COPY of 100,000 jobs into copy_jobs with the
-- primary key alone takes about 1.5 s, and each of these adds 0.05 to 0.3 s
-- (the long ARN keys the most).
--
-- - Day ranges, of all targets or of some: one index led by creation_date
--   serves both (account and region are checked inside the index). It is not
--   led by (account_id, region): the write path looks jobs up by primary key,
--   and before the first ANALYZE the planner cannot tell such an index from
--   the key and took it, filtering thousands of rows per lookup (measured 50
--   times slower).
-- - Resources are only ever looked up by equality, so theirs is a hash index:
--   4 bytes an entry instead of a 90-byte ARN.
CREATE INDEX copy_jobs_creation_date_account_region ON copy_jobs (creation_date, account_id, region);
CREATE INDEX copy_jobs_state_creation_date ON copy_jobs (state, creation_date);
CREATE INDEX copy_jobs_destination_vault_creation_date ON copy_jobs (destination_backup_vault_arn, creation_date);
CREATE INDEX copy_jobs_resource_arn ON copy_jobs USING hash (resource_arn);

-- One row per distinct version of a job, valid from the observation at which
-- it was first seen until the next version's (valid_to NULL: the current one).
-- valid_from is in every unique key so that the table can be partitioned by
-- month of valid_from later.
CREATE TABLE copy_job_snapshots (
    account_id text NOT NULL,
    region text NOT NULL,
    copy_job_id text NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    -- The ingest run that wrote the row (not a foreign key: a check per
    -- history row costs more than it protects).
    run_id bigint,
    account_id_in_job boolean NOT NULL,

    backup_size_in_bytes bigint,
    child_jobs_in_state jsonb,
    completion_date timestamptz,
    composite_member_identifier text,
    created_by_backup_plan_arn text,
    created_by_backup_plan_id text,
    created_by_backup_plan_name text,
    created_by_backup_plan_version text,
    created_by_backup_rule_cron text,
    created_by_backup_rule_id text,
    created_by_backup_rule_name text,
    created_by_backup_rule_timezone text,
    created_by_backup_job_id text,
    creation_date timestamptz,
    destination_backup_vault_arn text,
    destination_encryption_key_arn text,
    destination_recovery_point_arn text,
    lifecycle_delete_after_days bigint,
    lifecycle_delete_after_event text,
    lifecycle_move_to_cold_storage_after_days bigint,
    lifecycle_opt_in_to_archive_for_supported_resources boolean,
    destination_vault_lock_state text,
    destination_vault_type text,
    iam_role_arn text,
    is_parent boolean,
    message_category text,
    number_of_child_jobs bigint,
    parent_job_id text,
    resource_arn text,
    resource_name text,
    resource_type text,
    source_backup_vault_arn text,
    source_recovery_point_arn text,
    state text,
    status_message text,

    unknown_members jsonb,
    created_by_unknown jsonb,
    lifecycle_unknown jsonb,
    content_hash bytea NOT NULL,

    -- The primary key also serves "job J at time D" (the latest valid_from <= D)
    -- and the state transitions of a job in order (lag() over valid_from).
    PRIMARY KEY (account_id, region, copy_job_id, valid_from),
    CONSTRAINT copy_job_snapshots_interval CHECK (valid_to IS NULL OR valid_to > valid_from)
);

-- The versions in force at instant `at`: one row per job that existed then.
-- Filter by key for one job; the primary key serves it.
CREATE FUNCTION copy_jobs_as_of(at timestamptz) RETURNS SETOF copy_job_snapshots
    LANGUAGE sql STABLE PARALLEL SAFE
    BEGIN ATOMIC
        SELECT * FROM copy_job_snapshots
        WHERE valid_from <= at AND (valid_to IS NULL OR valid_to > at);
    END;

-- The current state of every job as the API sent it.
CREATE VIEW copy_jobs_json AS
SELECT
    account_id,
    region,
    copy_job_id,
    jsonb_strip_nulls(jsonb_build_object(
        'AccountId', CASE WHEN account_id_in_job THEN account_id END,
        'BackupSizeInBytes', backup_size_in_bytes,
        'ChildJobsInState', child_jobs_in_state,
        'CompletionDate', audit_rfc3339(completion_date),
        'CompositeMemberIdentifier', composite_member_identifier,
        'CopyJobId', copy_job_id,
        'CreatedByBackupJobId', created_by_backup_job_id,
        'CreationDate', audit_rfc3339(creation_date),
        'DestinationBackupVaultArn', destination_backup_vault_arn,
        'DestinationEncryptionKeyArn', destination_encryption_key_arn,
        'DestinationRecoveryPointArn', destination_recovery_point_arn,
        'DestinationVaultLockState', destination_vault_lock_state,
        'DestinationVaultType', destination_vault_type,
        'IamRoleArn', iam_role_arn,
        'IsParent', is_parent,
        'MessageCategory', message_category,
        'NumberOfChildJobs', number_of_child_jobs,
        'ParentJobId', parent_job_id,
        'ResourceArn', resource_arn,
        'ResourceName', resource_name,
        'ResourceType', resource_type,
        'SourceBackupVaultArn', source_backup_vault_arn,
        'SourceRecoveryPointArn', source_recovery_point_arn,
        'State', state,
        'StatusMessage', status_message))
    -- Nested objects are added after stripping, so that a null inside an
    -- unknown member survives.
    || CASE WHEN created_by_unknown IS NULL THEN '{}'::jsonb
       ELSE jsonb_build_object('CreatedBy', jsonb_strip_nulls(jsonb_build_object(
            'BackupPlanArn', created_by_backup_plan_arn,
            'BackupPlanId', created_by_backup_plan_id,
            'BackupPlanName', created_by_backup_plan_name,
            'BackupPlanVersion', created_by_backup_plan_version,
            'BackupRuleCron', created_by_backup_rule_cron,
            'BackupRuleId', created_by_backup_rule_id,
            'BackupRuleName', created_by_backup_rule_name,
            'BackupRuleTimezone', created_by_backup_rule_timezone)) || created_by_unknown)
       END
    || CASE WHEN lifecycle_unknown IS NULL THEN '{}'::jsonb
       ELSE jsonb_build_object('DestinationRecoveryPointLifecycle', jsonb_strip_nulls(jsonb_build_object(
            'DeleteAfterDays', lifecycle_delete_after_days,
            'DeleteAfterEvent', lifecycle_delete_after_event,
            'MoveToColdStorageAfterDays', lifecycle_move_to_cold_storage_after_days,
            'OptInToArchiveForSupportedResources', lifecycle_opt_in_to_archive_for_supported_resources)) || lifecycle_unknown)
       END
    || coalesce(unknown_members, '{}'::jsonb) AS job
FROM copy_jobs;

-- Every version of every job as the API sent it, with its interval. "Job J as
-- of D": WHERE (account_id, region, copy_job_id) = (...) AND valid_from <= D
-- AND (valid_to IS NULL OR valid_to > D).
CREATE VIEW copy_job_snapshots_json AS
SELECT
    account_id,
    region,
    copy_job_id,
    valid_from,
    valid_to,
    run_id,
    jsonb_strip_nulls(jsonb_build_object(
        'AccountId', CASE WHEN account_id_in_job THEN account_id END,
        'BackupSizeInBytes', backup_size_in_bytes,
        'ChildJobsInState', child_jobs_in_state,
        'CompletionDate', audit_rfc3339(completion_date),
        'CompositeMemberIdentifier', composite_member_identifier,
        'CopyJobId', copy_job_id,
        'CreatedByBackupJobId', created_by_backup_job_id,
        'CreationDate', audit_rfc3339(creation_date),
        'DestinationBackupVaultArn', destination_backup_vault_arn,
        'DestinationEncryptionKeyArn', destination_encryption_key_arn,
        'DestinationRecoveryPointArn', destination_recovery_point_arn,
        'DestinationVaultLockState', destination_vault_lock_state,
        'DestinationVaultType', destination_vault_type,
        'IamRoleArn', iam_role_arn,
        'IsParent', is_parent,
        'MessageCategory', message_category,
        'NumberOfChildJobs', number_of_child_jobs,
        'ParentJobId', parent_job_id,
        'ResourceArn', resource_arn,
        'ResourceName', resource_name,
        'ResourceType', resource_type,
        'SourceBackupVaultArn', source_backup_vault_arn,
        'SourceRecoveryPointArn', source_recovery_point_arn,
        'State', state,
        'StatusMessage', status_message))
    || CASE WHEN created_by_unknown IS NULL THEN '{}'::jsonb
       ELSE jsonb_build_object('CreatedBy', jsonb_strip_nulls(jsonb_build_object(
            'BackupPlanArn', created_by_backup_plan_arn,
            'BackupPlanId', created_by_backup_plan_id,
            'BackupPlanName', created_by_backup_plan_name,
            'BackupPlanVersion', created_by_backup_plan_version,
            'BackupRuleCron', created_by_backup_rule_cron,
            'BackupRuleId', created_by_backup_rule_id,
            'BackupRuleName', created_by_backup_rule_name,
            'BackupRuleTimezone', created_by_backup_rule_timezone)) || created_by_unknown)
       END
    || CASE WHEN lifecycle_unknown IS NULL THEN '{}'::jsonb
       ELSE jsonb_build_object('DestinationRecoveryPointLifecycle', jsonb_strip_nulls(jsonb_build_object(
            'DeleteAfterDays', lifecycle_delete_after_days,
            'DeleteAfterEvent', lifecycle_delete_after_event,
            'MoveToColdStorageAfterDays', lifecycle_move_to_cold_storage_after_days,
            'OptInToArchiveForSupportedResources', lifecycle_opt_in_to_archive_for_supported_resources)) || lifecycle_unknown)
       END
    || coalesce(unknown_members, '{}'::jsonb) AS job
FROM copy_job_snapshots;

-- Every job as the API sent it at instant `at`.
CREATE FUNCTION copy_jobs_json_as_of(at timestamptz)
    RETURNS TABLE (account_id text, region text, copy_job_id text, valid_from timestamptz, job jsonb)
    LANGUAGE sql STABLE PARALLEL SAFE
    BEGIN ATOMIC
        SELECT s.account_id, s.region, s.copy_job_id, s.valid_from, s.job
        FROM copy_job_snapshots_json s
        WHERE s.valid_from <= at AND (s.valid_to IS NULL OR s.valid_to > at);
    END;

-- One row per run and target (account, region). Holds counts and a redacted
-- error message; never credentials.
CREATE TABLE ingest_runs (
    id bigserial PRIMARY KEY,
    -- One per process invocation; groups the targets of one command.
    run_group text NOT NULL,
    account_id text NOT NULL,
    region text NOT NULL,
    mode text NOT NULL CONSTRAINT ingest_runs_mode CHECK (mode IN ('full', 'incremental', 'import')),
    -- The start of the listed window (incremental runs).
    since timestamptz,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    status text NOT NULL DEFAULT 'running'
        CONSTRAINT ingest_runs_status CHECK (status IN ('running', 'succeeded', 'failed')),
    pages bigint NOT NULL DEFAULT 0,
    api_calls bigint NOT NULL DEFAULT 0,
    retries bigint NOT NULL DEFAULT 0,
    jobs_seen bigint NOT NULL DEFAULT 0,
    jobs_new bigint NOT NULL DEFAULT 0,
    jobs_changed bigint NOT NULL DEFAULT 0,
    jobs_unchanged bigint NOT NULL DEFAULT 0,
    jobs_stale bigint NOT NULL DEFAULT 0,
    jobs_rejected bigint NOT NULL DEFAULT 0,
    error text,
    CONSTRAINT ingest_runs_finished CHECK ((status = 'running') = (finished_at IS NULL))
);

CREATE INDEX ingest_runs_target_started_at ON ingest_runs (account_id, region, started_at);
CREATE INDEX ingest_runs_run_group ON ingest_runs (run_group);

-- Per target: the instant up to which a complete run has listed. It only moves
-- forward.
CREATE TABLE ingest_checkpoints (
    account_id text NOT NULL,
    region text NOT NULL,
    listed_through timestamptz NOT NULL,
    run_id bigint REFERENCES ingest_runs (id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, region)
);
