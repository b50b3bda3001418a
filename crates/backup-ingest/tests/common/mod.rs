//! One PostgreSQL server per test binary, a fresh database per test.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use backup_ingest::{ConnectOptions, Observation, Store};
use backup_model::{CopyJob, Timestamp};
use pg_throwaway::TempPostgres;

static SERVER: OnceLock<TempPostgres> = OnceLock::new();

/// The shared server (started on first use; its watchdog stops it when the
/// test binary exits).
pub fn server() -> &'static TempPostgres {
    SERVER.get_or_init(|| TempPostgres::start().expect("throwaway PostgreSQL starts"))
}

/// The URL of a new, empty database.
pub fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    server().create_database(&name).expect("database created")
}

/// A store on a new database with the schema applied.
pub async fn migrated_store() -> Store {
    let store = Store::connect(&fresh_database(), ConnectOptions::default())
        .await
        .expect("connects");
    store.migrate().await.expect("migrates");
    store
}

pub fn ts(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

pub fn job(json: serde_json::Value) -> CopyJob {
    serde_json::from_value(json).unwrap()
}

/// A job as AWS lists it, with `id` and `state`.
pub fn listed(id: &str, state: &str) -> CopyJob {
    job(serde_json::json!({
        "AccountId": "111122223333",
        "CopyJobId": id,
        "State": state,
        "CreationDate": 1_767_225_600.123,
        "ResourceArn": format!("arn:aws:ec2:eu-west-1:111122223333:volume/vol-{id}"),
        "ResourceType": "EBS",
        "SourceBackupVaultArn": "arn:aws:backup:eu-west-1:111122223333:backup-vault:Default",
        "DestinationBackupVaultArn": "arn:aws:backup:eu-central-1:444455556666:backup-vault:dr",
        "CreatedBy": {"BackupPlanId": "plan-1", "BackupRuleId": "rule-1"},
    }))
}

pub fn obs(at: &str, job: CopyJob) -> Observation {
    Observation {
        account_id: "111122223333".to_owned(),
        region: "eu-west-1".to_owned(),
        observed_at: ts(at),
        job,
    }
}

/// Checks the invariants that tie history to current rows:
/// - per job, intervals are contiguous (valid_to = next valid_from), only the
///   last is open, and consecutive versions differ;
/// - the current row's hash, versions, last_changed_at and first_seen_at
///   agree with its history.
pub async fn assert_history_consistent(store: &Store) {
    let broken: Vec<(String, String)> = sqlx::query_as(
        "WITH h AS (
            SELECT account_id, region, copy_job_id, valid_from, valid_to, content_hash,
                lead(valid_from) OVER w AS next_from, lag(content_hash) OVER w AS prev_hash
            FROM copy_job_snapshots
            WINDOW w AS (PARTITION BY account_id, region, copy_job_id ORDER BY valid_from))
        SELECT copy_job_id, 'interval ' || valid_from::text FROM h
        WHERE valid_to IS DISTINCT FROM next_from OR content_hash = prev_hash
        UNION ALL
        SELECT c.copy_job_id, 'current row' FROM copy_jobs c
        LEFT JOIN LATERAL (
            SELECT count(*) AS n, min(valid_from) AS first_from,
                max(valid_from) FILTER (WHERE valid_to IS NULL) AS open_from,
                count(*) FILTER (WHERE valid_to IS NULL) AS open,
                (array_agg(content_hash) FILTER (WHERE valid_to IS NULL))[1] AS open_hash
            FROM copy_job_snapshots h
            WHERE (h.account_id, h.region, h.copy_job_id) = (c.account_id, c.region, c.copy_job_id)
        ) h ON true
        WHERE h.n <> c.versions OR h.open <> 1 OR h.open_from <> c.last_changed_at
           OR h.open_hash <> c.content_hash OR h.first_from <> c.first_seen_at
           OR c.observed_at < c.last_changed_at OR c.last_seen_at < c.observed_at",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(broken.is_empty(), "history is inconsistent: {broken:?}");
}

/// Rows of a job's history: (valid_from, valid_to, State).
pub async fn intervals(store: &Store, id: &str) -> Vec<(String, Option<String>, String)> {
    let key = backup_ingest::JobKey {
        account_id: "111122223333".to_owned(),
        region: "eu-west-1".to_owned(),
        copy_job_id: id.to_owned(),
    };
    store
        .history(&key)
        .await
        .unwrap()
        .into_iter()
        .map(|v| {
            (
                v.valid_from.to_string(),
                v.valid_to.map(|t| t.to_string()),
                v.job.state.map(|s| s.to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

pub fn key(id: &str) -> backup_ingest::JobKey {
    backup_ingest::JobKey {
        account_id: "111122223333".to_owned(),
        region: "eu-west-1".to_owned(),
        copy_job_id: id.to_owned(),
    }
}
