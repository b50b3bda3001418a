//! An existing database keeps its history across a change of the content
//! hash: rows written with the old hash are recomputed by `migrate`, and
//! seeing the same jobs again afterwards writes no version.

mod common;

use backup_ingest::{content_hash, Observation, HASH_VERSION};
use backup_model::CopyJob;
use common::*;
use serde_json::json;

/// The hash of version 1 (before the content form): xxh3-128 of the
/// canonical JSON.
fn hash_v1(job: &CopyJob) -> Vec<u8> {
    xxhash_rust::xxh3::xxh3_128(job.to_json_string().as_bytes())
        .to_be_bytes()
        .to_vec()
}

/// Jobs whose canonical JSON is not their content form: timestamps,
/// ChildJobsInState in the enum's order, unknown members (a big number,
/// nested objects), a null inside an unknown member.
fn jobs() -> Vec<CopyJob> {
    let mut parent = listed("parent", "PARTIAL");
    parent.child_jobs_in_state = Some(
        [("RUNNING", 1), ("COMPLETED", 2), ("QUEUED", 3)]
            .into_iter()
            .map(|(s, n)| (s.into(), n))
            .collect(),
    );
    parent
        .unknown_members
        .insert_json("Big", "123456789012345678901234567890")
        .unwrap();
    let mut child = listed("child", "COMPLETED");
    child.completion_date = Some(ts("2026-01-01T01:00:00.5Z"));
    child
        .unknown_members
        .insert_value(
            "Extra",
            &json!({"z": [1, {"y": null}], "a": "2026-01-01T00:00:00Z"}),
        )
        .unwrap();
    vec![parent, child, listed("plain", "RUNNING")]
}

fn batch(at: &str) -> Vec<Observation> {
    jobs().into_iter().map(|j| obs(at, j)).collect()
}

async fn count(store: &backup_ingest::Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_upgrade_recomputes_stored_hashes_and_writes_no_versions() {
    let store = migrated_store().await;
    let first = store
        .write_batch(1, &batch("2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(first.new, 3);
    // A second version of one job, so that history has more than one row.
    let mut running = listed("plain", "COMPLETED");
    running.completion_date = Some(ts("2026-01-01T02:00:00Z"));
    store
        .write_batch(2, &[obs("2026-01-01T02:00:00Z", running.clone())])
        .await
        .unwrap();

    // The database as the previous version of the program left it: every
    // hash of version 1.
    for j in jobs().iter().chain([&running]) {
        assert_ne!(
            hash_v1(j),
            content_hash(j).to_vec(),
            "the hashes must differ"
        );
    }
    // Current versions are the rows of copy_jobs; the only superseded one
    // is the first version of `plain`, in copy_job_history.
    for (table, j) in [
        ("copy_jobs", &jobs()[0]),
        ("copy_jobs", &jobs()[1]),
        ("copy_jobs", &running),
        ("copy_job_history", &jobs()[2]),
    ] {
        sqlx::query(&format!(
            "UPDATE {table} SET content_hash = $1, hash_version = 1 WHERE copy_job_id = $2"
        ))
        .bind(hash_v1(j))
        .bind(j.copy_job_id.as_deref())
        .execute(store.pool())
        .await
        .unwrap();
    }
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM copy_job_snapshots WHERE hash_version = 1"
        )
        .await,
        4
    );
    sqlx::query("UPDATE content_hash_state SET version = 1")
        .execute(store.pool())
        .await
        .unwrap();
    let versions = count(&store, "SELECT sum(versions)::int8 FROM copy_jobs").await;
    let history = count(&store, "SELECT count(*) FROM copy_job_snapshots").await;
    assert_eq!((versions, history), (4, 4));

    // Ingest refuses to run on hashes of another definition.
    let refused = store.ensure_migrated().await.unwrap_err();
    assert!(refused.to_string().contains("migrat"), "{refused}");

    // The upgrade: migrate recomputes every stored hash.
    store.migrate().await.unwrap();
    store.ensure_migrated().await.unwrap();
    assert_eq!(
        count(
            &store,
            &format!(
                "SELECT (SELECT count(*) FROM copy_jobs WHERE hash_version <> {HASH_VERSION})
                      + (SELECT count(*) FROM copy_job_snapshots WHERE hash_version <> {HASH_VERSION})"
            )
        )
        .await,
        0
    );

    // The same jobs seen again, as the new program hashes them: nothing new.
    let mut again = batch("2026-01-02T00:00:00Z");
    again[2] = obs("2026-01-02T00:00:00Z", running.clone());
    let outcome = store.write_batch(3, &again).await.unwrap();
    assert_eq!(
        (
            outcome.new,
            outcome.changed,
            outcome.unchanged,
            outcome.stale
        ),
        (0, 0, 3, 0),
        "{outcome:?}"
    );
    assert_eq!(
        count(&store, "SELECT sum(versions)::int8 FROM copy_jobs").await,
        versions
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM copy_job_snapshots").await,
        history
    );
    assert_history_consistent(&store).await;

    // A real change is still a new version.
    let mut failed = jobs()[1].clone();
    failed.state = Some("FAILED".into());
    let changed = store
        .write_batch(4, &[obs("2026-01-03T00:00:00Z", failed)])
        .await
        .unwrap();
    assert_eq!(changed.changed, 1);

    // Migrating again recomputes nothing.
    store.migrate().await.unwrap();
    assert_eq!(
        count(&store, "SELECT count(*) FROM copy_job_snapshots").await,
        history + 1
    );
}
