-- Byte sums that cannot overflow. Each BackupSizeInBytes is a bigint (the
-- API's Long, up to 2^63 - 1), and PostgreSQL sums bigints into numeric, but
-- report_daily cast its sums back to bigint: a day whose sizes added up past
-- 2^63 made the view, and every query on it, fail with "bigint out of
-- range". The view keeps its columns and their order; bytes and
-- completed_bytes are now numeric, exact however large.
--
-- A view cannot change a column's type in place, so it is dropped and made
-- again: re-run the GRANTs of sql/roles.sql afterwards, as after every
-- migration.
DROP VIEW report_daily;

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
    -- Always 0 (PARTIAL is a composite parent's state, and parents are not
    -- counted here); kept so that queries written against 0002 still run.
    count(*) FILTER (WHERE state = 'PARTIAL') AS partial,
    coalesce(sum(backup_size_in_bytes), 0) AS bytes,
    coalesce(sum(backup_size_in_bytes) FILTER (WHERE state = 'COMPLETED'), 0) AS completed_bytes,
    percentile_cont(0.5) WITHIN GROUP (
        ORDER BY extract(epoch FROM completion_date - creation_date)::double precision)
        FILTER (WHERE state = 'COMPLETED' AND completion_date IS NOT NULL) AS median_seconds,
    percentile_cont(0.95) WITHIN GROUP (
        ORDER BY extract(epoch FROM completion_date - creation_date)::double precision)
        FILTER (WHERE state = 'COMPLETED' AND completion_date IS NOT NULL) AS p95_seconds
FROM copy_jobs
WHERE is_parent IS NOT TRUE AND creation_date IS NOT NULL
GROUP BY 1, 2, 3, 4;
