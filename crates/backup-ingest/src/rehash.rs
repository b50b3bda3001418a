//! Recomputing stored content hashes when their definition changes.
//!
//! Each row keeps the version of the hash it holds (`hash_version`,
//! [`HASH_VERSION`]); `content_hash_state` records the version every row has
//! reached. When a new program defines the hash differently, `migrate`
//! recomputes the hash of every older row from the stored content, which
//! the views `copy_jobs_json` and `copy_job_snapshots_json` give back
//! exactly as received, writing no version and changing no interval; only
//! then does it record the new version. `ingest` refuses to run until that
//! is done ([`ensure_current`]): a job seen again is always compared with a
//! hash of the same definition, so an upgrade writes no spurious versions.
//!
//! Chosen over recomputing the stored version's hash during ingest: that
//! would read and decode the stored JSON of every unchanged job on every
//! sighting, for ever, to save a one-time pass.

use backup_model::CopyJob;
use sqlx::PgPool;

use crate::coverage::gone_hash_sql;
use crate::error::StoreError;
use crate::rows::{content_hash, DbTime, HASH_VERSION};

/// Rows recomputed per transaction.
const BATCH: i64 = 2000;

/// The hash version every stored row has reached.
async fn stored_version(pool: &PgPool) -> Result<i16, StoreError> {
    sqlx::query_scalar("SELECT version FROM content_hash_state")
        .fetch_one(pool)
        .await
        .map_err(StoreError::db("reading the content hash version"))
}

/// Fails with [`StoreError::PendingMigrations`] while stored hashes are of an
/// older definition (a `migrate` has not finished).
pub(crate) async fn ensure_current(pool: &PgPool) -> Result<(), StoreError> {
    let version = stored_version(pool).await?;
    if version >= HASH_VERSION {
        Ok(())
    } else {
        Err(StoreError::PendingMigrations {
            pending: vec![format!(
                "recomputing content hashes (version {version} to {HASH_VERSION})"
            )],
        })
    }
}

/// Recomputes the hashes of rows older than [`HASH_VERSION`], in batches of
/// one transaction each (an interrupted run resumes where it stopped), then
/// records the version. Returns how many rows were recomputed.
pub(crate) async fn rehash(pool: &PgPool) -> Result<u64, StoreError> {
    if stored_version(pool).await? >= HASH_VERSION {
        return Ok(0);
    }
    let mut done = 0;
    loop {
        let n = rehash_current(pool).await?;
        done += n;
        if n == 0 {
            break;
        }
    }
    loop {
        let n = rehash_history(pool).await?;
        done += n;
        if n == 0 {
            break;
        }
    }
    sqlx::query("UPDATE content_hash_state SET version = $1")
        .bind(HASH_VERSION)
        .execute(pool)
        .await
        .map_err(StoreError::db("recording the content hash version"))?;
    if done > 0 {
        tracing::info!(
            rows = done,
            version = HASH_VERSION,
            "content hashes recomputed"
        );
    }
    Ok(done)
}

/// The hash of a stored job's JSON.
fn hash_of(json: &str, context: &'static str) -> Result<Vec<u8>, StoreError> {
    let job: CopyJob = serde_json::from_str(json).map_err(|e| StoreError::Database {
        context,
        source: sqlx::Error::Decode(Box::new(e)),
    })?;
    Ok(content_hash(&job).to_vec())
}

/// One batch of current rows; returns how many.
async fn rehash_current(pool: &PgPool) -> Result<u64, StoreError> {
    const CONTEXT: &str = "recomputing the content hashes of current rows";
    let mut tx = pool.begin().await.map_err(StoreError::db(CONTEXT))?;
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.account_id, c.region, c.copy_job_id, j.job::text
         FROM copy_jobs c
         JOIN copy_jobs_json j USING (account_id, region, copy_job_id)
         WHERE c.hash_version < $1
         LIMIT $2
         FOR UPDATE OF c",
    )
    .bind(HASH_VERSION)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db(CONTEXT))?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut accounts = Vec::with_capacity(rows.len());
    let mut regions = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    let mut hashes = Vec::with_capacity(rows.len());
    for (account, region, id, json) in rows {
        hashes.push(hash_of(&json, CONTEXT)?);
        accounts.push(account);
        regions.push(region);
        ids.push(id);
    }
    // A gone job's hash is derived from its content's (see `mark_gone`).
    let sql = format!(
        "UPDATE copy_jobs c
         SET content_hash = CASE WHEN c.gone_at IS NULL THEN v.h ELSE {} END, hash_version = $5
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS v(a, r, i, h)
         WHERE c.account_id = v.a AND c.region = v.r AND c.copy_job_id = v.i",
        gone_hash_sql("v.h")
    );
    let updated = sqlx::query(&sql)
        .bind(&accounts)
        .bind(&regions)
        .bind(&ids)
        .bind(&hashes)
        .bind(HASH_VERSION)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(CONTEXT))?
        .rows_affected();
    tx.commit().await.map_err(StoreError::db(CONTEXT))?;
    Ok(updated)
}

/// One batch of history rows; returns how many.
async fn rehash_history(pool: &PgPool) -> Result<u64, StoreError> {
    const CONTEXT: &str = "recomputing the content hashes of history rows";
    let mut tx = pool.begin().await.map_err(StoreError::db(CONTEXT))?;
    let rows: Vec<(String, String, String, DbTime, String)> = sqlx::query_as(
        "SELECT h.account_id, h.region, h.copy_job_id, h.valid_from, j.job::text
         FROM copy_job_history h
         CROSS JOIN LATERAL (
             SELECT s.job FROM copy_job_snapshots_json s
             WHERE s.account_id = h.account_id AND s.region = h.region
               AND s.copy_job_id = h.copy_job_id AND s.valid_from = h.valid_from) j
         WHERE h.hash_version < $1
         LIMIT $2
         FOR UPDATE OF h",
    )
    .bind(HASH_VERSION)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db(CONTEXT))?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut accounts = Vec::with_capacity(rows.len());
    let mut regions = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    let mut froms = Vec::with_capacity(rows.len());
    let mut hashes = Vec::with_capacity(rows.len());
    for (account, region, id, from, json) in rows {
        hashes.push(hash_of(&json, CONTEXT)?);
        accounts.push(account);
        regions.push(region);
        ids.push(id);
        froms.push(from);
    }
    // A gone version's hash is derived from its content's (see `mark_gone`).
    let sql = format!(
        "UPDATE copy_job_history h
         SET content_hash = CASE WHEN h.gone_at IS NULL THEN v.h ELSE {} END, hash_version = $6
         FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bytea[])
              AS v(a, r, i, f, h)
         WHERE h.account_id = v.a AND h.region = v.r AND h.copy_job_id = v.i
           AND h.valid_from = v.f",
        gone_hash_sql("v.h")
    );
    let updated = sqlx::query(&sql)
        .bind(&accounts)
        .bind(&regions)
        .bind(&ids)
        .bind(&froms)
        .bind(&hashes)
        .bind(HASH_VERSION)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(CONTEXT))?
        .rows_affected();
    tx.commit().await.map_err(StoreError::db(CONTEXT))?;
    Ok(updated)
}
