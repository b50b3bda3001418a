-- Least-privilege roles for backup-audit. Run as the owner of the schema
-- (the role that ran `backup-audit migrate`), after migrating, stopping at
-- the first error:
--
--   psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 \
--        -v ingest_password="'...'" -v report_password="'...'" -f sql/roles.sql
--
-- It may be run again (after a migration that adds tables or columns): the
-- roles are created only if missing (their passwords then stay as they are)
-- and the grants are re-applied.
--
-- backup_audit_ingest: what `backup-audit ingest` and `import` need and
--   nothing more. It reads everything; it inserts jobs, superseded versions
--   (copy_job_history), runs, checkpoints and coverage; it updates only the
--   columns the write path changes (a history row's interval, a current
--   row's bookkeeping, a run's end); it deletes only current rows of
--   copy_jobs (a changed job's row is replaced, after its version was
--   copied into copy_job_history). It cannot rewrite or delete history,
--   truncate anything, or create, alter or drop anything.
-- backup_audit_report: reads only, for auditors, `report` and dashboards.
--
-- Neither role owns anything.

SELECT format('CREATE ROLE backup_audit_ingest LOGIN PASSWORD %L', :ingest_password)
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'backup_audit_ingest')
\gexec
SELECT format('CREATE ROLE backup_audit_report LOGIN PASSWORD %L', :report_password)
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'backup_audit_report')
\gexec

-- Before PostgreSQL 15 every role may create tables in `public`; a database
-- created then keeps that right after an upgrade. Only the owner creates.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO backup_audit_ingest;
GRANT CONNECT ON DATABASE :"DBNAME" TO backup_audit_report;
GRANT USAGE ON SCHEMA public TO backup_audit_ingest, backup_audit_report;

-- Exactly the privileges below, whatever earlier releases of this script
-- granted (table-wide UPDATE, or writes on copy_job_snapshots when it was a
-- table): revoking a table's privilege revokes its column privileges too.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM backup_audit_ingest, backup_audit_report;

-- Both read every table and view (the ingest role reads the migration table
-- to refuse an old schema, and the current rows to classify a batch); the
-- view copy_job_snapshots gives every version, history and current rows.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO backup_audit_ingest, backup_audit_report;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO backup_audit_ingest, backup_audit_report;

-- Current versions: a new job is inserted (COPY), a changed job's row
-- replaced (DELETE + COPY) once its version is in copy_job_history; an
-- older observation or a gone job updates bookkeeping only (gone: the
-- derived hash, gone_at and the run that found it). An unchanged job whose
-- row does not know its text yet gets its text digest.
GRANT INSERT, DELETE ON copy_jobs TO backup_audit_ingest;
GRANT UPDATE (observed_at, first_seen_at, last_seen_at, last_changed_at, versions,
              content_hash, gone_at, described_at, run_id, text_digest)
    ON copy_jobs TO backup_audit_ingest;

-- History grows: superseded versions are inserted; a row's interval
-- [valid_from, valid_to) is cut when an older observation is placed in it,
-- or started earlier by one. Its contents cannot change; no row can be
-- deleted.
GRANT INSERT ON copy_job_history TO backup_audit_ingest;
GRANT UPDATE (valid_from, valid_to) ON copy_job_history TO backup_audit_ingest;

-- Runs: started, then their end and counts recorded (or marked abandoned).
GRANT INSERT ON ingest_runs TO backup_audit_ingest;
GRANT UPDATE (status, finished_at, pages, api_calls, retries, jobs_seen, jobs_new,
              jobs_changed, jobs_unchanged, jobs_stale, jobs_rejected, error)
    ON ingest_runs TO backup_audit_ingest;
GRANT INSERT ON ingest_checkpoints TO backup_audit_ingest;
GRANT UPDATE (listed_through, run_id, updated_at) ON ingest_checkpoints TO backup_audit_ingest;

-- The coverage ledger: what each complete run covered, and the gaps.
GRANT INSERT ON target_coverage TO backup_audit_ingest;
GRANT UPDATE (covered_through, covered_by_run, updated_at) ON target_coverage TO backup_audit_ingest;
GRANT INSERT ON coverage_gaps TO backup_audit_ingest;
GRANT UPDATE (filled_by_run, filled_at) ON coverage_gaps TO backup_audit_ingest;

GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO backup_audit_ingest;
