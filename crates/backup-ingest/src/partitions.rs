//! The monthly partitions of the history (`copy_job_history`, superseded
//! versions), made ahead of time by the schema owner (see
//! `migrations/0003_partition_snapshots.sql` and `0009_system_versioning.sql`).

use sqlx::Row as _;

use crate::error::StoreError;
use crate::store::Store;

/// How many months ahead `backup-audit migrate` makes partitions.
pub const PARTITION_MONTHS_AHEAD: u32 = 12;

impl Store {
    /// Makes the history's partitions for the current month and the next
    /// `months_ahead` (UTC months), and for every month whose rows wait in the
    /// DEFAULT partition (moving them in); returns the names of those made.
    /// Needs the owner of the tables, as migrating does; a second call makes
    /// nothing.
    #[tracing::instrument(skip_all)]
    pub async fn maintain_partitions(&self, months_ahead: u32) -> Result<Vec<String>, StoreError> {
        let months = i32::try_from(months_ahead).unwrap_or(i32::MAX);
        sqlx::query_scalar("SELECT copy_job_snapshots_maintain_partitions($1)")
            .bind(months)
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::db("making the partitions of copy_job_history"))
    }

    /// The UTC months, of this one and the next, that have no partition of
    /// their own: their rows would go to the DEFAULT partition, which works
    /// but is not pruned. Reads the catalog only, so any role may ask.
    #[tracing::instrument(skip_all)]
    pub async fn months_without_partition(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT to_char(m, 'YYYY-MM')
             FROM (VALUES (date_trunc('month', now() AT TIME ZONE 'UTC')),
                          (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month')) AS v(m)
             WHERE to_regclass('copy_job_history_default') IS NOT NULL
               AND NOT EXISTS (
                   SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                   WHERE i.inhparent = to_regclass('copy_job_history')
                     AND c.relname = 'copy_job_history_' || to_char(v.m, 'YYYY_MM'))
             ORDER BY 1",
        )
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("reading the partitions of copy_job_history"))?;
        rows.iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(StoreError::db("reading the partitions of copy_job_history"))
    }
}
