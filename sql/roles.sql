-- Least-privilege roles for backup-audit. Run once, as the owner of the
-- schema (the role that ran `backup-audit migrate`), after migrating:
--
--   psql "$OWNER_DATABASE_URL" -v ingest_password="'...'" -v report_password="'...'" -f sql/roles.sql
--
-- backup_audit_ingest: what `backup-audit ingest` and `import` need and
--   nothing more: read and write the audit tables, read the migration table
--   (to refuse to run on an old schema), create temporary staging tables.
--   It cannot create, alter or drop anything, nor delete history (it may
--   replace a job's current row in copy_jobs).
-- backup_audit_report: read-only, for auditors, `report` and dashboards.
--
-- Neither role owns anything; re-run the GRANTs after a migration that adds
-- tables or views (the README says which releases do).

CREATE ROLE backup_audit_ingest LOGIN PASSWORD :ingest_password;
CREATE ROLE backup_audit_report LOGIN PASSWORD :report_password;

GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO backup_audit_ingest;
GRANT CONNECT ON DATABASE :"DBNAME" TO backup_audit_report;
GRANT USAGE ON SCHEMA public TO backup_audit_ingest, backup_audit_report;

-- Ingest: current state and history are written, never deleted.
GRANT SELECT, INSERT, UPDATE ON copy_jobs, copy_job_snapshots, ingest_runs, ingest_checkpoints
    TO backup_audit_ingest;
-- A changed job's current row is replaced (delete + COPY, faster than an
-- UPDATE of every column); its history rows are never deleted.
GRANT DELETE ON copy_jobs TO backup_audit_ingest;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO backup_audit_ingest;
GRANT SELECT ON _sqlx_migrations TO backup_audit_ingest;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO backup_audit_ingest;

-- Reporting: every table and view, read only.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO backup_audit_report;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO backup_audit_ingest, backup_audit_report;
