//! The coverage ledger (`target_coverage`, `coverage_gaps`; the view
//! `report_coverage` reads them) and the bookkeeping of reconciliation: the open jobs of
//! a target, jobs described, jobs AWS no longer returns.
//!
//! `covered_through` of a target is the instant through which every copy job
//! of the target is known: the service time at the start of the last run
//! whose listings all completed, minus that run's overlap. It only moves
//! forward, and only [`crate::ingest::ingest_target`] moves it, with the
//! run's end and the checkpoint in one statement (`Store::end_target_run`);
//! the ledger row is made with the run's start (`Store::begin_target_run`).

use backup_model::Timestamp;

use crate::error::StoreError;
use crate::rows::{DbTime, MEMBER_COLUMNS};
use crate::store::Store;

/// A job the database holds in a state that may still change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenJob {
    pub copy_job_id: String,
    /// As stored; `None` when the job had no State.
    pub state: Option<String>,
    /// When reconciliation last described it.
    pub described_at: Option<Timestamp>,
}

/// The states the model knows as final, as SQL literals: every other state,
/// unknown ones included, is open.
pub(crate) const FINAL_STATES_SQL: &str = "('COMPLETED', 'FAILED', 'PARTIAL')";

impl Store {
    /// The jobs of a target the database holds open (any state but a final
    /// one the model knows) and not gone.
    pub(crate) async fn open_jobs(
        &self,
        account: &str,
        region: &str,
    ) -> Result<Vec<OpenJob>, StoreError> {
        let rows: Vec<(String, Option<String>, Option<DbTime>)> = sqlx::query_as(&format!(
            "SELECT copy_job_id, state, described_at FROM copy_jobs \
             WHERE account_id = $1 AND region = $2 AND gone_at IS NULL \
               AND (state IS NULL OR state NOT IN {FINAL_STATES_SQL})"
        ))
        .bind(account)
        .bind(region)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("reading the open jobs of a target"))?;
        Ok(rows
            .into_iter()
            .map(|(copy_job_id, state, described_at)| OpenJob {
                copy_job_id,
                state,
                described_at: described_at.map(|t| t.0),
            })
            .collect())
    }

    /// Notes when these jobs of a target were last described.
    pub(crate) async fn mark_described(
        &self,
        account: &str,
        region: &str,
        ids: &[String],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE copy_jobs SET described_at = $4 \
             WHERE account_id = $1 AND region = $2 AND copy_job_id = ANY($3)",
        )
        .bind(account)
        .bind(region)
        .bind(ids)
        .bind(DbTime(at))
        .execute(self.pool())
        .await
        .map_err(StoreError::db("recording described jobs"))?;
        Ok(())
    }

    /// Marks jobs AWS no longer returns as gone at `at`, in one transaction:
    /// the current version goes into the history, closed at `at`; the
    /// current row keeps its members and becomes a version of its own from
    /// `at`, with `gone_at` set. Its content hash is derived from the job's
    /// (MD5 of `gone:` and the hash), so it differs from every job's, and a
    /// job listed again later is a change, a new version. Jobs already gone,
    /// or with a version at or after `at`, are left alone. Returns how many
    /// were marked.
    pub(crate) async fn mark_gone(
        &self,
        account: &str,
        region: &str,
        ids: &[String],
        at: Timestamp,
        run_id: i64,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let members = MEMBER_COLUMNS;
        let gone_hash = gone_hash_sql("c.content_hash");
        let context = "marking jobs gone";
        let mut tx = self.pool().begin().await.map_err(StoreError::db(context))?;
        // `old` locks the rows and keeps their versions as they were; the
        // UPDATE sees them through it.
        let marked = sqlx::query(&format!(
            "WITH old AS ( \
                 SELECT * FROM copy_jobs c \
                 WHERE c.account_id = $1 AND c.region = $2 AND c.copy_job_id = ANY($3) \
                   AND c.gone_at IS NULL AND c.last_changed_at < $4 AND c.observed_at < $4 \
                 FOR UPDATE \
             ), gone AS ( \
                 UPDATE copy_jobs c \
                 SET gone_at = $4, \
                     content_hash = {gone_hash}, \
                     observed_at = $4, last_changed_at = $4, versions = c.versions + 1, \
                     run_id = $5 \
                 FROM old o \
                 WHERE c.account_id = o.account_id AND c.region = o.region \
                   AND c.copy_job_id = o.copy_job_id \
                 RETURNING o.* \
             ) \
             INSERT INTO copy_job_history \
                 (account_id, region, copy_job_id, valid_from, valid_to, run_id, {members}, \
                  gone_at) \
             SELECT account_id, region, copy_job_id, last_changed_at, $4, run_id, {members}, \
                 gone_at \
             FROM gone"
        ))
        .bind(account)
        .bind(region)
        .bind(ids)
        .bind(DbTime(at))
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(context))?
        .rows_affected();
        tx.commit().await.map_err(StoreError::db(context))?;
        Ok(marked)
    }
}

/// The SQL expression of a gone version's content hash, derived from the
/// hash `of` the job's content (MD5 of `gone:` and its hex), so that it
/// differs from every job's hash and a job listed again is a change. The
/// re-hash of `migrate` derives it the same way from the recomputed hash.
pub(crate) fn gone_hash_sql(of: &str) -> String {
    format!("decode(md5('gone:' || encode({of}, 'hex')), 'hex')")
}
