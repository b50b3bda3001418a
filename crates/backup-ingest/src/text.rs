//! Jobs recognised by their text.
//!
//! A current row keeps the digest of the JSON text it was decoded from
//! (`copy_jobs.text_digest`, migration 0010). A job listed again with the
//! same text, byte for byte, decodes to the same job, so it is the current
//! content: a re-read of unchanged jobs looks their digests up and decodes,
//! hashes and writes none of them. A job whose text differs in any byte
//! (another member order, spacing, a new member) is decoded and compared by
//! its content hash, as every job was before.
//!
//! The digest is seeded with this crate's version and the content-form and
//! hash versions, so that a text is never taken for the content an older
//! decoder made of it; and any update that changes what a row records
//! forgets its digest (a trigger), so that it only ever vouches for the
//! content it was stored with.

use std::collections::HashMap;
use std::sync::LazyLock;

use backup_model::Timestamp;
use futures::TryStreamExt;
use sqlx::Row as _;
use tokio::sync::OwnedSemaphorePermit;

use crate::ingest::MemoryBudget;
use crate::rows::HASH_VERSION;
use crate::{DbTime, Store, StoreError};

/// The seed of [`text_digest`]: the decoder's version.
static SEED: LazyLock<u64> = LazyLock::new(|| {
    let version = format!(
        "backup-ingest {} content form {} hash {}",
        env!("CARGO_PKG_VERSION"),
        backup_model::CONTENT_FORM_VERSION,
        HASH_VERSION
    );
    xxhash_rust::xxh3::xxh3_64(version.as_bytes())
});

/// The digest of a job's JSON text, as stored in `copy_jobs.text_digest`.
pub(crate) fn text_digest(text: &[u8]) -> [u8; 16] {
    xxhash_rust::xxh3::xxh3_128_with_seed(text, *SEED).to_be_bytes()
}

/// A listed job to look up by its text: its key and digest, and when it was
/// listed.
#[derive(Clone, Copy)]
pub(crate) struct TextKey<'a> {
    pub account_id: &'a str,
    pub copy_job_id: &'a str,
    pub digest: [u8; 16],
    pub observed_at: DbTime,
}

impl Store {
    /// Whether an import that may have written the target's jobs ended
    /// since `since` (on the writers' clock) or is running (an import row
    /// left `running` for more than a day is taken for a crashed import):
    /// jobs recognised by the texts read at the start of a run may then have
    /// been compared with rows the import replaced since.
    pub(crate) async fn import_overlaps(
        &self,
        account: &str,
        region: &str,
        since: Timestamp,
    ) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM ingest_runs \
             WHERE mode = 'import' AND account_id IN ($1, '*') AND region IN ($2, '*') \
               AND ((status = 'running' AND started_at >= $3::timestamptz - interval '1 day') \
                    OR finished_at >= $3))",
        )
        .bind(account)
        .bind(region)
        .bind(DbTime(since))
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::db("looking for imports during the run"))
    }

    /// Which of `keys` (all of `region`) are their current row's text, listed
    /// no earlier than the current version began: those are unchanged, with
    /// nothing to decode or write. One query; the answer is the positions of
    /// those that are, in one array.
    pub(crate) async fn same_text(
        &self,
        region: &str,
        keys: &[TextKey<'_>],
    ) -> Result<Vec<bool>, StoreError> {
        let mut same = vec![false; keys.len()];
        if keys.is_empty() {
            return Ok(same);
        }
        let accounts: Vec<&str> = keys.iter().map(|k| k.account_id).collect();
        let ids: Vec<&str> = keys.iter().map(|k| k.copy_job_id).collect();
        let digests: Vec<&[u8]> = keys.iter().map(|k| &k.digest[..]).collect();
        let times: Vec<DbTime> = keys.iter().map(|k| k.observed_at).collect();
        let positions: Option<Vec<i64>> = sqlx::query_scalar(
            "SELECT array_agg(k.i)
             FROM unnest($2::text[], $3::text[], $4::bytea[], $5::timestamptz[])
                  WITH ORDINALITY AS k(account_id, copy_job_id, d, t, i)
             JOIN copy_jobs c
               ON c.account_id = k.account_id AND c.region = $1
              AND c.copy_job_id = k.copy_job_id
             WHERE c.text_digest = k.d AND k.t >= c.last_changed_at",
        )
        .bind(region)
        .bind(&accounts)
        .bind(&ids)
        .bind(&digests)
        .bind(&times)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::db("looking up jobs by their text"))?;
        for i in positions.unwrap_or_default() {
            let slot = usize::try_from(i - 1)
                .ok()
                .and_then(|i| same.get_mut(i))
                .ok_or_else(|| StoreError::Database {
                    context: "looking up jobs by their text",
                    source: sqlx::Error::Protocol(format!("row number {i} out of range")),
                })?;
            *slot = true;
        }
        Ok(same)
    }
}

/// How many recorded texts take the room of one job in the memory budget
/// (an entry is about 64 bytes with the table's overhead; a job held for
/// writing, a few kilobytes).
const TEXTS_PER_JOB: u64 = 32;

/// The key of a job in [`KnownTexts`]: account and id (the region is the
/// target's).
fn key_of(account_id: &str, copy_job_id: &str) -> u128 {
    let mut key = Vec::with_capacity(account_id.len() + copy_job_id.len() + 1);
    key.extend_from_slice(account_id.as_bytes());
    key.push(0x1f);
    key.extend_from_slice(copy_job_id.as_bytes());
    xxhash_rust::xxh3::xxh3_128(&key)
}

/// Room in the memory budget for [`KnownTexts`].
pub(crate) struct TextsRoom {
    permit: OwnedSemaphorePermit,
    known: u64,
}

/// The texts the record holds for a target's window, read in one query when
/// a run re-reads a long window, so that every listed job is looked up in
/// memory rather than with a query per batch. Holds its room in the run's
/// memory budget.
pub(crate) struct KnownTexts {
    /// Digest and start of the current version, by [`key_of`].
    rows: HashMap<u128, ([u8; 16], Timestamp)>,
    _room: OwnedSemaphorePermit,
}

impl KnownTexts {
    /// Room in `memory` for the texts of `known` jobs, if it is free now
    /// (otherwise the caller queries a batch at a time).
    pub(crate) fn reserve(known: u64, memory: &MemoryBudget) -> Option<TextsRoom> {
        let jobs = usize::try_from(known.div_ceil(TEXTS_PER_JOB)).unwrap_or(usize::MAX);
        Some(TextsRoom {
            permit: memory.try_reserve(jobs)?,
            known,
        })
    }

    /// The texts of the target's current rows created since `since` (all
    /// without it), in the room reserved for them.
    pub(crate) async fn load(
        store: &Store,
        account: &str,
        region: &str,
        since: Option<Timestamp>,
        room: TextsRoom,
    ) -> Result<KnownTexts, StoreError> {
        let known = room.known;
        let context = "reading the texts of recorded jobs";
        let mut rows = HashMap::with_capacity(usize::try_from(known).unwrap_or(0));
        let mut stream = sqlx::query(
            "SELECT account_id, copy_job_id, text_digest, last_changed_at FROM copy_jobs \
             WHERE account_id = $1 AND region = $2 AND text_digest IS NOT NULL \
               AND ($3::timestamptz IS NULL OR creation_date >= $3)",
        )
        .bind(account)
        .bind(region)
        .bind(since.map(DbTime))
        .fetch(store.pool());
        while let Some(row) = stream.try_next().await.map_err(StoreError::db(context))? {
            let account_id: &str = row.try_get(0).map_err(StoreError::db(context))?;
            let copy_job_id: &str = row.try_get(1).map_err(StoreError::db(context))?;
            let digest: &[u8] = row.try_get(2).map_err(StoreError::db(context))?;
            let since: DbTime = row.try_get(3).map_err(StoreError::db(context))?;
            if let Ok(digest) = <[u8; 16]>::try_from(digest) {
                rows.insert(key_of(account_id, copy_job_id), (digest, since.0));
            }
        }
        Ok(KnownTexts {
            rows,
            _room: room.permit,
        })
    }

    /// Whether `key` is its current row's text, listed no earlier than the
    /// current version began (as [`Store::same_text`] answers).
    pub(crate) fn same(&self, key: &TextKey<'_>) -> bool {
        self.rows
            .get(&key_of(key.account_id, key.copy_job_id))
            .is_some_and(|(digest, since)| *digest == key.digest && key.observed_at.0 >= *since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_of_the_exact_text() {
        let a = text_digest(br#"{"CopyJobId":"a","State":"COMPLETED"}"#);
        assert_eq!(a, text_digest(br#"{"CopyJobId":"a","State":"COMPLETED"}"#));
        assert_ne!(a, text_digest(br#"{"CopyJobId":"a", "State":"COMPLETED"}"#));
        assert_ne!(a, text_digest(br#"{"State":"COMPLETED","CopyJobId":"a"}"#));
        // Seeded: not the plain xxh3 of the text.
        assert_ne!(
            a,
            xxhash_rust::xxh3::xxh3_128(br#"{"CopyJobId":"a","State":"COMPLETED"}"#).to_be_bytes()
        );
    }
}
