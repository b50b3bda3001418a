-- SQL:2011 system versioning: the current version of a job lives only in
-- copy_jobs; the history table keeps only superseded versions.
--
-- Until now every version had a row in copy_job_snapshots, the current one
-- included (valid_to NULL), so a new job was written twice in full: its
-- current row and its first history row (100,000 jobs: `\copy copy_jobs`
-- 2.1 s, `\copy copy_job_snapshots` 1.4 s more). As in SQL Server's and
-- MariaDB's system-versioned tables, the current row now *is* the open
-- version, [last_changed_at, NULL):
--
-- - copy_job_history (the partitioned table, renamed) holds the closed
--   versions only: valid_to is NOT NULL. A new job writes nothing there; a
--   change moves the job's current row into it, closed at the time the new
--   version was observed.
-- - copy_job_snapshots becomes a view with the same columns as the table it
--   replaces: every version, the history's rows and copy_jobs' rows as open
--   intervals (valid_from = last_changed_at, valid_to NULL). Every query
--   written against the table reads the same rows; a query by job, or
--   bounded in valid_from, is index probes on both branches (the history's
--   primary key and partitions; copy_jobs' primary key, and a BRIN index on
--   last_changed_at for time windows).
-- - copy_jobs.run_id: the ingest run that wrote the current version (the
--   open history row's run_id until now).
--
-- This migration moves the data: copy_jobs takes run_id from each job's
-- open version, after checking that the two agree on every member (it
-- stops, changing nothing, if any job's do not); then the open versions are
-- deleted from the history. The views and functions built on the table
-- (copy_jobs_as_of, copy_job_snapshots_json, copy_jobs_json_as_of,
-- report_state_transitions, and any an auditor made) are made again over
-- the view, from their own definitions, with their privileges. The
-- partitions are renamed copy_job_history_YYYY_MM (and _default); the
-- partition functions keep their names and now work on copy_job_history.
-- Run sql/roles.sql again afterwards, as after every migration: the ingest
-- role writes copy_job_history, not the view. The deleted open versions
-- leave dead rows: a `VACUUM (ANALYZE) copy_job_history` after migrating
-- gives their space back to new versions.

ALTER TABLE copy_jobs ADD COLUMN run_id bigint;
COMMENT ON COLUMN copy_jobs.run_id IS
    'The ingest run that wrote the current version (the run_id of its open interval in copy_job_snapshots).';

-- copy_jobs and the open versions must be the same versions.
DO $check$
DECLARE
    without_open bigint;
    without_current bigint;
    differing bigint;
BEGIN
    SELECT count(*) FILTER (WHERE s.copy_job_id IS NULL),
           count(*) FILTER (WHERE c.copy_job_id IS NULL),
           count(*) FILTER (WHERE c.copy_job_id IS NOT NULL AND s.copy_job_id IS NOT NULL
               AND (s.valid_from <> c.last_changed_at OR ROW(
        c.account_id_in_job, c.backup_size_in_bytes, c.child_jobs_in_state,
        c.completion_date, c.composite_member_identifier,
        c.created_by_backup_plan_arn, c.created_by_backup_plan_id,
        c.created_by_backup_plan_name, c.created_by_backup_plan_version,
        c.created_by_backup_rule_cron, c.created_by_backup_rule_id,
        c.created_by_backup_rule_name, c.created_by_backup_rule_timezone,
        c.created_by_backup_job_id, c.creation_date,
        c.destination_backup_vault_arn, c.destination_encryption_key_arn,
        c.destination_recovery_point_arn, c.lifecycle_delete_after_days,
        c.lifecycle_delete_after_event,
        c.lifecycle_move_to_cold_storage_after_days,
        c.lifecycle_opt_in_to_archive_for_supported_resources,
        c.destination_vault_lock_state, c.destination_vault_type, c.iam_role_arn,
        c.is_parent, c.message_category, c.number_of_child_jobs, c.parent_job_id,
        c.resource_arn, c.resource_name, c.resource_type,
        c.source_backup_vault_arn, c.source_recovery_point_arn, c.state,
        c.status_message, c.unknown_members, c.created_by_unknown,
        c.lifecycle_unknown, c.content_hash, c.gone_at, c.hash_version) IS DISTINCT FROM ROW(
        s.account_id_in_job, s.backup_size_in_bytes, s.child_jobs_in_state,
        s.completion_date, s.composite_member_identifier,
        s.created_by_backup_plan_arn, s.created_by_backup_plan_id,
        s.created_by_backup_plan_name, s.created_by_backup_plan_version,
        s.created_by_backup_rule_cron, s.created_by_backup_rule_id,
        s.created_by_backup_rule_name, s.created_by_backup_rule_timezone,
        s.created_by_backup_job_id, s.creation_date,
        s.destination_backup_vault_arn, s.destination_encryption_key_arn,
        s.destination_recovery_point_arn, s.lifecycle_delete_after_days,
        s.lifecycle_delete_after_event,
        s.lifecycle_move_to_cold_storage_after_days,
        s.lifecycle_opt_in_to_archive_for_supported_resources,
        s.destination_vault_lock_state, s.destination_vault_type, s.iam_role_arn,
        s.is_parent, s.message_category, s.number_of_child_jobs, s.parent_job_id,
        s.resource_arn, s.resource_name, s.resource_type,
        s.source_backup_vault_arn, s.source_recovery_point_arn, s.state,
        s.status_message, s.unknown_members, s.created_by_unknown,
        s.lifecycle_unknown, s.content_hash, s.gone_at, s.hash_version)))
    INTO without_open, without_current, differing
    FROM copy_jobs c
    FULL JOIN (SELECT * FROM copy_job_snapshots WHERE valid_to IS NULL) s
      ON s.account_id = c.account_id AND s.region = c.region AND s.copy_job_id = c.copy_job_id;
    IF without_open + without_current + differing > 0 THEN
        RAISE EXCEPTION 'copy_jobs and the open versions of copy_job_snapshots disagree: % current rows without an open version, % open versions without a current row, % differing; nothing was changed',
            without_open, without_current, differing;
    END IF;
END;
$check$;

UPDATE copy_jobs c SET run_id = s.run_id
FROM copy_job_snapshots s
WHERE s.account_id = c.account_id AND s.region = c.region AND s.copy_job_id = c.copy_job_id
  AND s.valid_to IS NULL AND s.run_id IS NOT NULL;

DELETE FROM copy_job_snapshots WHERE valid_to IS NULL;

-- The views and SQL-standard functions bound to the table (or to its row
-- type), directly or through each other, read from the catalog as in 0003:
-- 'drop' the most dependent first, 'after' the least dependent first, each
-- with its comment, owner and privileges.
CREATE TEMPORARY TABLE audit_rebuild (
    phase text NOT NULL,
    seq serial,
    statement text NOT NULL
) ON COMMIT DROP;
CREATE TEMPORARY TABLE audit_dependents (
    kind text NOT NULL,
    oid oid NOT NULL,
    depth integer NOT NULL
) ON COMMIT DROP;

DO $capture$
DECLARE
    snapshots oid := 'copy_job_snapshots'::regclass;
    object record;
    grant_row record;
    object_name text;
    owner oid;
    acl aclitem[];
    description text;
BEGIN
    INSERT INTO audit_dependents (kind, oid, depth)
    WITH RECURSIVE objects(kind, oid, depth) AS (
        SELECT 'r'::text, snapshots, 0
        UNION ALL
        SELECT dependent.kind, dependent.oid, o.depth + 1
        FROM objects o
        JOIN pg_depend d
          ON (o.kind = 'r' AND ((d.refclassid = 'pg_class'::regclass AND d.refobjid = o.oid)
                             OR (d.refclassid = 'pg_type'::regclass
                                 AND d.refobjid = (SELECT reltype FROM pg_class WHERE oid = o.oid))))
          OR (o.kind = 'f' AND d.refclassid = 'pg_proc'::regclass AND d.refobjid = o.oid)
        CROSS JOIN LATERAL (
            SELECT 'r'::text AS kind, r.ev_class AS oid
            FROM pg_rewrite r
            WHERE d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid AND r.ev_class <> o.oid
            UNION ALL
            SELECT 'f'::text, d.objid
            WHERE d.classid = 'pg_proc'::regclass
        ) dependent
        WHERE o.depth < 50
    )
    SELECT kind, oid, max(depth) AS depth FROM objects WHERE depth > 0 GROUP BY kind, oid;

    FOR object IN SELECT * FROM audit_dependents ORDER BY depth DESC, oid LOOP
        IF object.kind = 'r' THEN
            IF (SELECT relkind FROM pg_class WHERE oid = object.oid) <> 'v' THEN
                RAISE EXCEPTION 'copy_job_snapshots is used by %, which is not a view: drop it, migrate, and create it again',
                    object.oid::regclass;
            END IF;
            INSERT INTO audit_rebuild (phase, statement)
            VALUES ('drop', format('DROP VIEW %s', object.oid::regclass));
        ELSE
            INSERT INTO audit_rebuild (phase, statement)
            VALUES ('drop', format('DROP FUNCTION %s', object.oid::regprocedure));
        END IF;
    END LOOP;

    FOR object IN SELECT * FROM audit_dependents ORDER BY depth, oid LOOP
        IF object.kind = 'r' THEN
            object_name := 'TABLE ' || object.oid::regclass::text;
            SELECT relacl, relowner, obj_description(c.oid, 'pg_class') INTO acl, owner, description
            FROM pg_class c WHERE c.oid = object.oid;
            INSERT INTO audit_rebuild (phase, statement)
            SELECT 'after', format('CREATE VIEW %s%s AS %s', c.oid::regclass,
                                   CASE WHEN c.reloptions IS NULL THEN ''
                                        ELSE ' WITH (' || array_to_string(c.reloptions, ', ') || ')' END,
                                   rtrim(pg_get_viewdef(c.oid), ';'))
            FROM pg_class c WHERE c.oid = object.oid;
            IF description IS NOT NULL THEN
                INSERT INTO audit_rebuild (phase, statement) VALUES ('after',
                    format('COMMENT ON VIEW %s IS %L', object.oid::regclass, description));
            END IF;
        ELSE
            object_name := 'FUNCTION ' || object.oid::regprocedure::text;
            SELECT proacl, proowner, obj_description(p.oid, 'pg_proc') INTO acl, owner, description
            FROM pg_proc p WHERE p.oid = object.oid;
            INSERT INTO audit_rebuild (phase, statement)
            VALUES ('after', pg_get_functiondef(object.oid));
            IF description IS NOT NULL THEN
                INSERT INTO audit_rebuild (phase, statement) VALUES ('after',
                    format('COMMENT ON FUNCTION %s IS %L', object.oid::regprocedure, description));
            END IF;
        END IF;
        IF owner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN
            INSERT INTO audit_rebuild (phase, statement) VALUES ('after', format('ALTER %s OWNER TO %I',
                CASE object.kind WHEN 'r' THEN 'VIEW ' || object.oid::regclass::text ELSE object_name END,
                pg_get_userbyid(owner)));
        END IF;
        IF acl IS NOT NULL THEN
            INSERT INTO audit_rebuild (phase, statement)
            VALUES ('after', format('REVOKE ALL ON %s FROM PUBLIC', object_name));
            FOR grant_row IN SELECT * FROM aclexplode(acl) WHERE grantee <> owner LOOP
                INSERT INTO audit_rebuild (phase, statement) VALUES ('after', format(
                    'GRANT %s ON %s TO %s%s',
                    grant_row.privilege_type, object_name,
                    CASE WHEN grant_row.grantee = 0 THEN 'PUBLIC'
                         ELSE quote_ident(pg_get_userbyid(grant_row.grantee)) END,
                    CASE WHEN grant_row.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END));
            END LOOP;
        END IF;
    END LOOP;

    -- Whoever could read the table reads the view.
    SELECT relacl, relowner INTO acl, owner FROM pg_class WHERE oid = snapshots;
    IF acl IS NOT NULL THEN
        FOR grant_row IN SELECT * FROM aclexplode(acl)
                         WHERE grantee <> owner AND privilege_type = 'SELECT' LOOP
            INSERT INTO audit_rebuild (phase, statement) VALUES ('view', format(
                'GRANT SELECT ON TABLE copy_job_snapshots TO %s%s',
                CASE WHEN grant_row.grantee = 0 THEN 'PUBLIC'
                     ELSE quote_ident(pg_get_userbyid(grant_row.grantee)) END,
                CASE WHEN grant_row.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END));
        END LOOP;
    END IF;
END;
$capture$;

DO $drop$
DECLARE
    step record;
BEGIN
    FOR step IN SELECT statement FROM audit_rebuild WHERE phase = 'drop' ORDER BY seq LOOP
        EXECUTE step.statement;
    END LOOP;
END;
$drop$;

-- The table, its partitions and its indexes take the history's name.
ALTER TABLE copy_job_snapshots RENAME TO copy_job_history;
ALTER INDEX copy_job_snapshots_pkey RENAME TO copy_job_history_pkey;
ALTER INDEX copy_job_snapshots_valid_from RENAME TO copy_job_history_valid_from;
DO $rename$
DECLARE
    part record;
BEGIN
    -- Partitions first, then their indexes (the primary key and BRIN index
    -- of each, named after the partition).
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'copy_job_history'::regclass
          AND c.relname LIKE 'copy\_job\_snapshots\_%'
        UNION ALL
        SELECT x.relname FROM pg_inherits i
        JOIN pg_index ix ON ix.indrelid = i.inhrelid
        JOIN pg_class x ON x.oid = ix.indexrelid
        WHERE i.inhparent = 'copy_job_history'::regclass
          AND x.relname LIKE 'copy\_job\_snapshots\_%'
    LOOP
        EXECUTE format('ALTER TABLE %I RENAME TO %I', part.relname,
                       'copy_job_history_' || substr(part.relname, length('copy_job_snapshots_') + 1));
    END LOOP;
END;
$rename$;

-- Superseded versions only.
ALTER TABLE copy_job_history ALTER COLUMN valid_to SET NOT NULL;
COMMENT ON TABLE copy_job_history IS
    'Superseded versions of copy jobs, each with its closed interval [valid_from, valid_to). The current version of a job is its row in copy_jobs; the view copy_job_snapshots gives every version.';

-- Every version of every job with its interval, as the table of that name
-- gave them: the history, and each current row as the open interval
-- [last_changed_at, NULL).
CREATE VIEW copy_job_snapshots AS
SELECT account_id, region, copy_job_id, valid_from, valid_to, run_id,
    account_id_in_job, backup_size_in_bytes, child_jobs_in_state, completion_date,
    composite_member_identifier, created_by_backup_plan_arn,
    created_by_backup_plan_id, created_by_backup_plan_name,
    created_by_backup_plan_version, created_by_backup_rule_cron,
    created_by_backup_rule_id, created_by_backup_rule_name,
    created_by_backup_rule_timezone, created_by_backup_job_id, creation_date,
    destination_backup_vault_arn, destination_encryption_key_arn,
    destination_recovery_point_arn, lifecycle_delete_after_days,
    lifecycle_delete_after_event, lifecycle_move_to_cold_storage_after_days,
    lifecycle_opt_in_to_archive_for_supported_resources,
    destination_vault_lock_state, destination_vault_type, iam_role_arn, is_parent,
    message_category, number_of_child_jobs, parent_job_id, resource_arn,
    resource_name, resource_type, source_backup_vault_arn,
    source_recovery_point_arn, state, status_message, unknown_members,
    created_by_unknown, lifecycle_unknown, content_hash, gone_at, hash_version
FROM copy_job_history
UNION ALL
SELECT account_id, region, copy_job_id, last_changed_at, NULL::timestamptz, run_id,
    account_id_in_job, backup_size_in_bytes, child_jobs_in_state, completion_date,
    composite_member_identifier, created_by_backup_plan_arn,
    created_by_backup_plan_id, created_by_backup_plan_name,
    created_by_backup_plan_version, created_by_backup_rule_cron,
    created_by_backup_rule_id, created_by_backup_rule_name,
    created_by_backup_rule_timezone, created_by_backup_job_id, creation_date,
    destination_backup_vault_arn, destination_encryption_key_arn,
    destination_recovery_point_arn, lifecycle_delete_after_days,
    lifecycle_delete_after_event, lifecycle_move_to_cold_storage_after_days,
    lifecycle_opt_in_to_archive_for_supported_resources,
    destination_vault_lock_state, destination_vault_type, iam_role_arn, is_parent,
    message_category, number_of_child_jobs, parent_job_id, resource_arn,
    resource_name, resource_type, source_backup_vault_arn,
    source_recovery_point_arn, state, status_message, unknown_members,
    created_by_unknown, lifecycle_unknown, content_hash, gone_at, hash_version
FROM copy_jobs;
COMMENT ON VIEW copy_job_snapshots IS
    'Every version of every copy job with its interval [valid_from, valid_to): copy_job_history''s superseded versions and copy_jobs'' current rows (valid_to NULL).';

DO $rebuild$
DECLARE
    step record;
BEGIN
    FOR step IN SELECT statement FROM audit_rebuild WHERE phase IN ('view', 'after')
                ORDER BY phase = 'after', seq LOOP
        EXECUTE step.statement;
    END LOOP;
END;
$rebuild$;

-- Time windows over current versions ("what changed this week") read only
-- the blocks of their window: rows are appended in about the order of
-- last_changed_at, which a BRIN index summarizes in a few pages.
CREATE INDEX copy_jobs_last_changed_at ON copy_jobs USING brin (last_changed_at)
    WITH (autosummarize = on);

-- The partition functions keep their names (schedulers call them) and work
-- on copy_job_history, whose partitions are copy_job_history_YYYY_MM.
CREATE OR REPLACE FUNCTION copy_job_snapshots_add_partitions(from_month date, through_month date)
    RETURNS SETOF text
    LANGUAGE plpgsql
AS $function$
DECLARE
    month date := date_trunc('month', from_month)::date;
    last_month date := date_trunc('month', through_month)::date;
    partition_name text;
    lower_bound timestamptz;
    upper_bound timestamptz;
    default_locked boolean := false;
BEGIN
    IF from_month IS NULL OR through_month IS NULL THEN
        RAISE EXCEPTION 'copy_job_snapshots_add_partitions: the months must not be NULL';
    END IF;
    IF last_month > month + interval '100 years' THEN
        RAISE EXCEPTION 'copy_job_snapshots_add_partitions: % to % is more than a hundred years of partitions',
            from_month, through_month;
    END IF;
    WHILE month <= last_month LOOP
        partition_name := 'copy_job_history_' || to_char(month, 'YYYY_MM');
        IF to_regclass(quote_ident(partition_name)) IS NULL THEN
            IF NOT default_locked THEN
                -- Writers wait while rows leave the DEFAULT partition, so none
                -- lands there between the move and the ATTACH (which checks).
                LOCK TABLE copy_job_history_default IN ACCESS EXCLUSIVE MODE;
                default_locked := true;
            END IF;
            lower_bound := month::timestamp AT TIME ZONE 'UTC';
            upper_bound := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
            -- Made apart and attached, rather than CREATE TABLE ... PARTITION OF,
            -- which would lock the whole history against readers.
            EXECUTE format(
                'CREATE TABLE %I (LIKE copy_job_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
                partition_name);
            EXECUTE format(
                'WITH moved AS (DELETE FROM copy_job_history_default WHERE valid_from >= $1 AND valid_from < $2 RETURNING *)
                 INSERT INTO %I SELECT * FROM moved',
                partition_name)
                USING lower_bound, upper_bound;
            EXECUTE format(
                'ALTER TABLE copy_job_history ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                partition_name, lower_bound, upper_bound);
            RETURN NEXT partition_name;
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
END;
$function$;

CREATE OR REPLACE FUNCTION copy_job_snapshots_maintain_partitions(months_ahead integer DEFAULT 12)
    RETURNS SETOF text
    LANGUAGE plpgsql
AS $function$
DECLARE
    this_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    waiting date;
BEGIN
    RETURN QUERY SELECT copy_job_snapshots_add_partitions(
        this_month, (this_month + make_interval(months => greatest(months_ahead, 0)))::date);
    FOR waiting IN
        SELECT DISTINCT date_trunc('month', valid_from AT TIME ZONE 'UTC')::date
        FROM copy_job_history_default ORDER BY 1
    LOOP
        RETURN QUERY SELECT copy_job_snapshots_add_partitions(waiting, waiting);
    END LOOP;
END;
$function$;

ANALYZE copy_jobs;
