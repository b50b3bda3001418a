-- copy_job_snapshots, the history, partitioned by month of observation.
--
-- The history only grows: every version of every job, kept as long as the
-- database is. At 100 million rows one table is slow to vacuum, to index
-- and to back up piece by piece, and old rows sit among new ones. Partitioned
-- by RANGE (valid_from), one partition per UTC month:
--
-- - a query bounded in valid_from (an as-of query, a month's changes) reads
--   only the partitions of its months, and within them a BRIN index on
--   valid_from skips the blocks outside its window; the primary key, kept on
--   every partition, serves the probes by job ("job J at time D"; the write
--   path's lookups) in each partition left;
-- - a month that is over is never written again except by imports of old
--   jobs: it can be vacuumed, frozen and backed up once, and archived or
--   dropped as a whole by whoever decides the retention;
-- - rows of a month that has no partition yet (an import of years-old jobs,
--   a clock far ahead) go to the DEFAULT partition, so no write ever fails
--   for want of a partition; the next copy_job_snapshots_add_partitions call
--   for that month moves them into a partition of their own.
--
-- Declarative partitioning only: no extension, no superuser, nothing a
-- managed PostgreSQL (RDS, Aurora, Cloud SQL, Azure) lacks. Partitions are
-- made by the schema owner: `backup-audit migrate` (run it at least once a
-- month, or on each release) keeps the current month and the next twelve
-- ready and splits whatever the DEFAULT partition holds; a monthly
--   SELECT copy_job_snapshots_add_partitions(current_date, current_date + 365);
-- does the same from any SQL scheduler (pg_cron, a Lambda, cron and psql).
--
-- Privileges are the parent's: the ingest and report roles read and write
-- through copy_job_snapshots, and PostgreSQL checks their rights on it, not
-- on the partitions, so new partitions need no GRANT.
--
-- This migration converts an existing table in place: the views and
-- functions that use it are recreated from their own definitions (and keep
-- their privileges), the rows are copied into the partitions, then the
-- primary key and other indexes are built, once per partition. On a large
-- history that takes a while (see BENCHMARKS.md, "Organization scale") and
-- twice the table's disk space until it commits; ingest runs meanwhile stop
-- with "migrations pending" and can simply be retried.

-- Creates the monthly partitions of copy_job_snapshots, from the month of
-- from_month through the month of through_month (UTC months), that do not
-- exist yet, and returns their names. Rows of those months waiting in the
-- DEFAULT partition are moved into them. Run it as the owner of the table;
-- a second call for the same months does nothing.
CREATE FUNCTION copy_job_snapshots_add_partitions(from_month date, through_month date)
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
        partition_name := 'copy_job_snapshots_' || to_char(month, 'YYYY_MM');
        IF to_regclass(quote_ident(partition_name)) IS NULL THEN
            IF NOT default_locked THEN
                -- Writers wait while rows leave the DEFAULT partition, so none
                -- lands there between the move and the ATTACH (which checks).
                LOCK TABLE copy_job_snapshots_default IN ACCESS EXCLUSIVE MODE;
                default_locked := true;
            END IF;
            lower_bound := month::timestamp AT TIME ZONE 'UTC';
            upper_bound := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
            -- Made apart and attached, rather than CREATE TABLE ... PARTITION OF,
            -- which would lock the whole history against readers.
            EXECUTE format(
                'CREATE TABLE %I (LIKE copy_job_snapshots INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
                partition_name);
            EXECUTE format(
                'WITH moved AS (DELETE FROM copy_job_snapshots_default WHERE valid_from >= $1 AND valid_from < $2 RETURNING *)
                 INSERT INTO %I SELECT * FROM moved',
                partition_name)
                USING lower_bound, upper_bound;
            EXECUTE format(
                'ALTER TABLE copy_job_snapshots ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                partition_name, lower_bound, upper_bound);
            RETURN NEXT partition_name;
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
END;
$function$;

-- The partitions of every month that has rows in the DEFAULT partition, and
-- of the current month and the next `months_ahead` ones: what
-- `backup-audit migrate` calls after migrating. Returns the partitions made.
CREATE FUNCTION copy_job_snapshots_maintain_partitions(months_ahead integer DEFAULT 12)
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
        FROM copy_job_snapshots_default ORDER BY 1
    LOOP
        RETURN QUERY SELECT copy_job_snapshots_add_partitions(waiting, waiting);
    END LOOP;
END;
$function$;

-- What has to be rebuilt around the table, read from the catalog before
-- anything changes, as statements in the order they are to run:
-- 'drop': the views and SQL-standard functions that depend on the table,
--   directly or through each other, the most dependent first;
-- 'after': the table's keys and indexes, its privileges, then those views and
--   functions again, the least dependent first, each with its privileges.
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
    -- Keys and indexes, rebuilt after the rows are in (faster than
    -- maintaining them row by row).
    INSERT INTO audit_rebuild (phase, statement)
    SELECT 'after', format('ALTER TABLE copy_job_snapshots ADD CONSTRAINT %I %s',
                           c.conname, pg_get_constraintdef(c.oid))
    FROM pg_constraint c
    WHERE c.conrelid = snapshots AND c.contype IN ('p', 'u', 'x', 'f')
    ORDER BY c.contype <> 'p', c.conname;
    INSERT INTO audit_rebuild (phase, statement)
    SELECT 'after', pg_get_indexdef(i.indexrelid)
    FROM pg_index i
    WHERE i.indrelid = snapshots
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    ORDER BY i.indexrelid;

    -- The table's privileges and comment.
    SELECT relacl, relowner, obj_description(oid, 'pg_class') INTO acl, owner, description
    FROM pg_class WHERE oid = snapshots;
    IF acl IS NOT NULL THEN
        FOR grant_row IN SELECT * FROM aclexplode(acl) WHERE grantee <> owner LOOP
            INSERT INTO audit_rebuild (phase, statement) VALUES ('after', format(
                'GRANT %s ON TABLE copy_job_snapshots TO %s%s',
                grant_row.privilege_type,
                CASE WHEN grant_row.grantee = 0 THEN 'PUBLIC'
                     ELSE quote_ident(pg_get_userbyid(grant_row.grantee)) END,
                CASE WHEN grant_row.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END));
        END LOOP;
    END IF;
    IF description IS NOT NULL THEN
        INSERT INTO audit_rebuild (phase, statement)
        VALUES ('after', format('COMMENT ON TABLE copy_job_snapshots IS %L', description));
    END IF;

    -- Views and functions bound to the table (or to its row type), and
    -- those bound to them, with the length of their longest chain to it.
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
            -- Exactly the privileges it had: none but these, PUBLIC's included.
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

-- The partitioned table, with the same columns, defaults and checks.
ALTER TABLE copy_job_snapshots RENAME TO copy_job_snapshots_unpartitioned;

CREATE TABLE copy_job_snapshots (
    LIKE copy_job_snapshots_unpartitioned
    INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS
) PARTITION BY RANGE (valid_from);

CREATE TABLE copy_job_snapshots_default PARTITION OF copy_job_snapshots DEFAULT;

-- A partition for every month that has rows, and for last month through
-- twelve months ahead.
SELECT count(*) FROM (
    SELECT copy_job_snapshots_add_partitions(m, m)
    FROM (SELECT DISTINCT date_trunc('month', valid_from AT TIME ZONE 'UTC')::date AS m
          FROM copy_job_snapshots_unpartitioned) months
) made;
SELECT count(*) FROM copy_job_snapshots_add_partitions(
    (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date,
    (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '12 months')::date);

INSERT INTO copy_job_snapshots SELECT * FROM copy_job_snapshots_unpartitioned;

DROP TABLE copy_job_snapshots_unpartitioned;

DO $rebuild$
DECLARE
    step record;
BEGIN
    FOR step IN SELECT statement FROM audit_rebuild WHERE phase = 'after' ORDER BY seq LOOP
        EXECUTE step.statement;
    END LOOP;
END;
$rebuild$;

-- Time windows within a month (the versions of a day, the transitions
-- recorded in a week) read only the blocks of that window. Rows arrive in
-- about the order of valid_from, which a BRIN index summarizes in a few pages
-- per partition (24 kB for a month of 150,000 rows, against 19 MB for the
-- primary key), at almost no cost to writes; autovacuum summarizes new
-- blocks (autosummarize).
CREATE INDEX IF NOT EXISTS copy_job_snapshots_valid_from
    ON copy_job_snapshots USING brin (valid_from) WITH (autosummarize = on);

ANALYZE copy_job_snapshots;
