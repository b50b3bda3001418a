//! `verify`: compares what AWS lists now with the current rows, job by job,
//! and writes nothing.
//!
//! For one target, every job AWS lists (all of them, or those created after
//! `since`) is looked up by key and compared member by member with the job
//! as the database gives it back (`copy_jobs_json`). Then the target's rows
//! in the same scope that AWS did not list are read: one stored open (and not
//! marked gone) is a difference; one stored finished is simply older than
//! AWS keeps, which is what the database is for. Every row read is also
//! checked against its own content hash, which catches a row edited outside
//! backup-audit even when AWS no longer has the job.
//!
//! The differences are facts of the moment: a job that changed after the
//! last ingest shows as different until the next ingest records it.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use backup_fetch::{FetchError, ListFilter, TargetClient};
use backup_model::{CopyJob, Timestamp};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use sqlx::Row as _;

use crate::coverage::FINAL_STATES_SQL;
use crate::rows::{content_hash, DbTime, JobKey};
use crate::{Store, StoreError};

/// What kind of difference a job shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// AWS lists the job; the database has no row for it.
    MissingInDatabase,
    /// Both have it, with different content.
    Different,
    /// The database holds it open; AWS shows it finished.
    OpenInDatabaseFinishedInAws,
    /// The database holds it open; AWS no longer lists it.
    OpenInDatabaseGoneFromAws,
    /// The database marked it gone; AWS lists it.
    GoneInDatabaseListedInAws,
    /// The row does not match its own content hash: it was changed outside
    /// backup-audit.
    HashMismatch,
}

impl DifferenceKind {
    /// The name printed and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            DifferenceKind::MissingInDatabase => "missing_in_database",
            DifferenceKind::Different => "different",
            DifferenceKind::OpenInDatabaseFinishedInAws => "open_in_database_finished_in_aws",
            DifferenceKind::OpenInDatabaseGoneFromAws => "open_in_database_gone_from_aws",
            DifferenceKind::GoneInDatabaseListedInAws => "gone_in_database_listed_in_aws",
            DifferenceKind::HashMismatch => "hash_mismatch",
        }
    }
}

impl fmt::Display for DifferenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One job that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What differs.
    pub kind: DifferenceKind,
    /// The job's account (its key's).
    pub account_id: String,
    /// The region it was listed in.
    pub region: String,
    /// The job.
    pub copy_job_id: String,
    /// Its state in the database, if it has a row.
    pub database_state: Option<String>,
    /// Its state in AWS, if AWS lists it.
    pub aws_state: Option<String>,
    /// The API members whose values differ (for `different` and its kin).
    pub members: Vec<String>,
}

/// The result of one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetVerification {
    /// `account/region`.
    pub target: String,
    /// Jobs AWS listed.
    pub jobs_listed: u64,
    /// Rows of the database in scope.
    pub rows_checked: u64,
    /// Every difference found, by kind and job id.
    pub differences: Vec<Difference>,
}

/// Why a target could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// AWS could not be listed.
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The database could not be read.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// A stored row as verify reads it.
struct StoredRow {
    state: Option<String>,
    gone: bool,
    job: CopyJob,
    hash_ok: bool,
}

fn stored_row(row: &sqlx::postgres::PgRow) -> Result<(String, StoredRow), StoreError> {
    let context = "reading rows to verify";
    let id: String = row
        .try_get("copy_job_id")
        .map_err(StoreError::db(context))?;
    let state: Option<String> = row.try_get("state").map_err(StoreError::db(context))?;
    let gone: Option<DbTime> = row.try_get("gone_at").map_err(StoreError::db(context))?;
    let json: String = row.try_get("job").map_err(StoreError::db(context))?;
    let hash: Vec<u8> = row
        .try_get("content_hash")
        .map_err(StoreError::db(context))?;
    let job: CopyJob = serde_json::from_str(&json).map_err(|e| StoreError::Database {
        context: "decoding a stored job",
        source: sqlx::Error::Decode(Box::new(e)),
    })?;
    // A gone row carries a hash derived from its content's (see mark_gone).
    let hash_ok = gone.is_some() || content_hash(&job)[..] == hash[..];
    Ok((
        id,
        StoredRow {
            state,
            gone: gone.is_some(),
            job,
            hash_ok,
        },
    ))
}

const STORED_COLUMNS: &str =
    "c.copy_job_id, c.state, c.gone_at, c.content_hash, j.job::text AS job";

fn key_hash(key: &JobKey) -> u128 {
    let text = format!(
        "{}\u{1f}{}\u{1f}{}",
        key.account_id, key.region, key.copy_job_id
    );
    xxhash_rust::xxh3::xxh3_128(text.as_bytes())
}

/// The API members whose values differ between two jobs.
fn differing_members(a: &CopyJob, b: &CopyJob) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return Vec::new();
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

fn state_of(job: &CopyJob) -> Option<String> {
    job.state.as_ref().map(|s| s.as_str().to_owned())
}

/// Verifies one target (see the module docs). `since` limits both sides to
/// jobs created after it.
pub async fn verify_target(
    store: &Store,
    client: &TargetClient,
    since: Option<Timestamp>,
    max_results: i32,
) -> Result<TargetVerification, VerifyError> {
    let account = client.account().to_owned();
    let region = client.region().to_owned();
    let filter = ListFilter {
        created_after: since,
        max_results: Some(max_results),
        ..ListFilter::default()
    };
    let mut differences = Vec::new();
    // The keys AWS listed, as 128-bit hashes: 16 bytes a job, whatever the
    // size of the target.
    let mut listed: HashSet<u128> = HashSet::new();
    let mut rows_checked = 0u64;
    let mut pages = std::pin::pin!(client.list_decoded(filter));
    while let Some(page) = pages.next().await {
        let jobs = page?.into_jobs()?;
        let mut keys: Vec<(JobKey, CopyJob)> = Vec::with_capacity(jobs.len());
        for job in jobs {
            if let Some(key) = JobKey::of(&account, &region, &job) {
                if listed.insert(key_hash(&key)) {
                    keys.push((key, job));
                }
            }
        }
        let accounts: Vec<&str> = keys.iter().map(|(k, _)| k.account_id.as_str()).collect();
        let regions: Vec<&str> = keys.iter().map(|(k, _)| k.region.as_str()).collect();
        let ids: Vec<&str> = keys.iter().map(|(k, _)| k.copy_job_id.as_str()).collect();
        let rows = sqlx::query(&format!(
            "SELECT c.account_id, {STORED_COLUMNS} \
             FROM unnest($1::text[], $2::text[], $3::text[]) AS k(account_id, region, copy_job_id) \
             JOIN copy_jobs c USING (account_id, region, copy_job_id) \
             JOIN copy_jobs_json j USING (account_id, region, copy_job_id)"
        ))
        .bind(&accounts)
        .bind(&regions)
        .bind(&ids)
        .fetch_all(store.pool())
        .await
        .map_err(StoreError::db("reading rows to verify"))?;
        let mut stored = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let owner: String = row
                .try_get("account_id")
                .map_err(StoreError::db("reading rows to verify"))?;
            let (id, row) = stored_row(row)?;
            stored.insert((owner, id), row);
        }
        rows_checked += stored.len() as u64;
        for (key, aws) in keys {
            let difference = |kind, database_state, members| Difference {
                kind,
                account_id: key.account_id.clone(),
                region: key.region.clone(),
                copy_job_id: key.copy_job_id.clone(),
                database_state,
                aws_state: state_of(&aws),
                members,
            };
            let Some(row) = stored.get(&(key.account_id.clone(), key.copy_job_id.clone())) else {
                differences.push(difference(
                    DifferenceKind::MissingInDatabase,
                    None,
                    Vec::new(),
                ));
                continue;
            };
            if row.gone {
                differences.push(difference(
                    DifferenceKind::GoneInDatabaseListedInAws,
                    row.state.clone(),
                    Vec::new(),
                ));
            } else if row.job != aws {
                let db_open = row.job.state.as_ref().is_none_or(|s| s.is_open());
                let aws_final = aws.state.as_ref().is_some_and(|s| !s.is_open());
                let kind = if db_open && aws_final {
                    DifferenceKind::OpenInDatabaseFinishedInAws
                } else {
                    DifferenceKind::Different
                };
                differences.push(difference(
                    kind,
                    row.state.clone(),
                    differing_members(&row.job, &aws),
                ));
            }
            if !row.hash_ok {
                differences.push(difference(
                    DifferenceKind::HashMismatch,
                    row.state.clone(),
                    Vec::new(),
                ));
            }
        }
    }
    let jobs_listed = listed.len() as u64;

    // The rows in scope that AWS did not list.
    let unlisted = format!(
        "SELECT {STORED_COLUMNS}, (c.gone_at IS NULL AND (c.state IS NULL OR c.state NOT IN {FINAL_STATES_SQL})) AS open \
         FROM copy_jobs c JOIN copy_jobs_json j USING (account_id, region, copy_job_id) \
         WHERE c.account_id = $1 AND c.region = $2 \
           AND ($3::timestamptz IS NULL OR c.creation_date > $3)"
    );
    let mut rows = sqlx::query(&unlisted)
        .bind(&account)
        .bind(&region)
        .bind(since.map(DbTime))
        .fetch(store.pool())
        .map_err(|e| StoreError::db("reading rows to verify")(e));
    while let Some(row) = rows.try_next().await? {
        let open: bool = row
            .try_get("open")
            .map_err(StoreError::db("reading rows to verify"))?;
        let (id, stored) = stored_row(&row)?;
        let key = JobKey {
            account_id: account.clone(),
            region: region.clone(),
            copy_job_id: id,
        };
        if listed.contains(&key_hash(&key)) {
            continue;
        }
        rows_checked += 1;
        let difference = |kind| Difference {
            kind,
            account_id: key.account_id.clone(),
            region: key.region.clone(),
            copy_job_id: key.copy_job_id.clone(),
            database_state: stored.state.clone(),
            aws_state: None,
            members: Vec::new(),
        };
        if open {
            differences.push(difference(DifferenceKind::OpenInDatabaseGoneFromAws));
        }
        if !stored.hash_ok {
            differences.push(difference(DifferenceKind::HashMismatch));
        }
    }
    differences.sort_by(|a, b| {
        (&a.account_id, &a.region, &a.copy_job_id, a.kind).cmp(&(
            &b.account_id,
            &b.region,
            &b.copy_job_id,
            b.kind,
        ))
    });
    Ok(TargetVerification {
        target: client.target().to_string(),
        jobs_listed,
        rows_checked,
        differences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_members_are_named() {
        let a: CopyJob =
            serde_json::from_str(r#"{"CopyJobId":"j","State":"RUNNING","BackupSizeInBytes":1}"#)
                .unwrap();
        let b: CopyJob = serde_json::from_str(
            r#"{"CopyJobId":"j","State":"FAILED","BackupSizeInBytes":1,"StatusMessage":"x"}"#,
        )
        .unwrap();
        assert_eq!(differing_members(&a, &b), ["State", "StatusMessage"]);
        assert!(differing_members(&a, &a).is_empty());
    }
}
