//! What `Store::write_batch` keeps: current rows, history, and the JSON views,
//! against a real PostgreSQL server.

mod common;

use backup_ingest::{BatchOutcome, JobKey, Observation};
use backup_model::CopyJob;
use common::*;
use serde_json::json;

fn counts(o: &BatchOutcome) -> (u64, u64, u64, u64) {
    (o.new, o.changed, o.unchanged, o.stale)
}

#[derive(Debug, sqlx::FromRow, PartialEq)]
struct Bookkeeping {
    versions: i32,
    first_seen: String,
    last_seen: String,
    last_changed: String,
    observed: String,
}

async fn bookkeeping(store: &backup_ingest::Store, id: &str) -> Bookkeeping {
    sqlx::query_as(
        "SELECT versions, audit_rfc3339(first_seen_at) AS first_seen,
            audit_rfc3339(last_seen_at) AS last_seen,
            audit_rfc3339(last_changed_at) AS last_changed, audit_rfc3339(observed_at) AS observed
         FROM copy_jobs WHERE copy_job_id = $1",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .unwrap()
}

async fn snapshot_count(store: &backup_ingest::Store) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM copy_job_snapshots")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn writing_the_same_batch_again_changes_nothing() {
    let store = migrated_store().await;
    let batch: Vec<Observation> = ["a", "b", "c"]
        .iter()
        .map(|id| obs("2026-01-01T00:00:00Z", listed(id, "RUNNING")))
        .collect();

    let first = store.write_batch(1, &batch).await.unwrap();
    assert_eq!(counts(&first), (3, 0, 0, 0));
    assert!(first.rejected.is_empty());
    let before = bookkeeping(&store, "a").await;

    let again = store.write_batch(2, &batch).await.unwrap();
    assert_eq!(counts(&again), (0, 0, 3, 0));
    assert_eq!(bookkeeping(&store, "a").await, before);
    assert_eq!(snapshot_count(&store).await, 3);

    // The same content seen later writes nothing either: the sighting is
    // the coverage ledger's to record, not the row's.
    let later: Vec<Observation> = batch
        .iter()
        .map(|o| Observation {
            observed_at: ts("2026-01-02T00:00:00Z"),
            ..o.clone()
        })
        .collect();
    let seen = store.write_batch(3, &later).await.unwrap();
    assert_eq!(counts(&seen), (0, 0, 3, 0));
    assert_eq!(bookkeeping(&store, "a").await, before);
    assert_eq!(snapshot_count(&store).await, 3);
    assert_history_consistent(&store).await;
}

#[tokio::test]
async fn history_grows_only_when_content_changes() {
    let store = migrated_store().await;
    let write = |at: &str, state: &str| {
        let batch = vec![obs(at, listed("j", state))];
        let store = store.clone();
        async move { store.write_batch(7, &batch).await.unwrap() }
    };
    assert_eq!(
        counts(&write("2026-01-01T00:00:00Z", "CREATED").await),
        (1, 0, 0, 0)
    );
    assert_eq!(
        counts(&write("2026-01-01T01:00:00Z", "CREATED").await),
        (0, 0, 1, 0)
    );
    assert_eq!(
        counts(&write("2026-01-01T02:00:00Z", "RUNNING").await),
        (0, 1, 0, 0)
    );
    assert_eq!(
        counts(&write("2026-01-01T03:00:00Z", "RUNNING").await),
        (0, 0, 1, 0)
    );
    assert_eq!(
        counts(&write("2026-01-01T04:00:00Z", "COMPLETED").await),
        (0, 1, 0, 0)
    );

    assert_eq!(
        intervals(&store, "j").await,
        vec![
            (
                "2026-01-01T00:00:00.000Z".into(),
                Some("2026-01-01T02:00:00.000Z".into()),
                "CREATED".into()
            ),
            (
                "2026-01-01T02:00:00.000Z".into(),
                Some("2026-01-01T04:00:00.000Z".into()),
                "RUNNING".into()
            ),
            ("2026-01-01T04:00:00.000Z".into(), None, "COMPLETED".into()),
        ]
    );
    let b = bookkeeping(&store, "j").await;
    assert_eq!(b.versions, 3);
    assert_eq!(b.first_seen, "2026-01-01T00:00:00.000Z");
    assert_eq!(b.last_changed, "2026-01-01T04:00:00.000Z");
    assert_eq!(b.last_seen, "2026-01-01T04:00:00.000Z");
    let run_ids: Vec<Option<i64>> =
        sqlx::query_scalar("SELECT run_id FROM copy_job_snapshots ORDER BY valid_from")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(run_ids, vec![Some(7), Some(7), Some(7)]);
    assert_history_consistent(&store).await;
}

#[tokio::test]
async fn an_older_observation_goes_into_history_and_leaves_the_current_row() {
    let store = migrated_store().await;
    let one = |at: &str, state: &str| vec![obs(at, listed("j", state))];

    // Newer first...
    store
        .write_batch(1, &one("2026-01-01T10:00:00Z", "COMPLETED"))
        .await
        .unwrap();
    // ...then an older one, from before the first version we know.
    let older = store
        .write_batch(2, &one("2026-01-01T08:00:00Z", "RUNNING"))
        .await
        .unwrap();
    assert_eq!(counts(&older), (0, 0, 0, 1));
    assert_eq!(
        store
            .job(&key("j"))
            .await
            .unwrap()
            .unwrap()
            .state
            .unwrap()
            .as_str(),
        "COMPLETED"
    );
    assert_eq!(
        intervals(&store, "j").await,
        vec![
            (
                "2026-01-01T08:00:00.000Z".into(),
                Some("2026-01-01T10:00:00.000Z".into()),
                "RUNNING".into()
            ),
            ("2026-01-01T10:00:00.000Z".into(), None, "COMPLETED".into()),
        ]
    );
    let b = bookkeeping(&store, "j").await;
    assert_eq!(
        (b.versions, b.first_seen.as_str()),
        (2, "2026-01-01T08:00:00.000Z")
    );
    assert_eq!(b.last_changed, "2026-01-01T10:00:00.000Z");
    assert_history_consistent(&store).await;

    // An older one inside a closed interval splits it.
    let split = store
        .write_batch(3, &one("2026-01-01T09:00:00Z", "PARTIAL"))
        .await
        .unwrap();
    assert_eq!(counts(&split), (0, 0, 0, 1));
    assert_eq!(
        intervals(&store, "j").await,
        vec![
            (
                "2026-01-01T08:00:00.000Z".into(),
                Some("2026-01-01T09:00:00.000Z".into()),
                "RUNNING".into()
            ),
            (
                "2026-01-01T09:00:00.000Z".into(),
                Some("2026-01-01T10:00:00.000Z".into()),
                "PARTIAL".into()
            ),
            ("2026-01-01T10:00:00.000Z".into(), None, "COMPLETED".into()),
        ]
    );

    // The version in force then, seen again: nothing changes.
    let same = store
        .write_batch(4, &one("2026-01-01T08:30:00Z", "RUNNING"))
        .await
        .unwrap();
    assert_eq!(counts(&same), (0, 0, 0, 1));
    assert_eq!(intervals(&store, "j").await.len(), 3);

    // The next version seen earlier than we knew: it started earlier.
    let earlier = store
        .write_batch(5, &one("2026-01-01T08:45:00Z", "PARTIAL"))
        .await
        .unwrap();
    assert_eq!(counts(&earlier), (0, 0, 0, 1));
    assert_eq!(
        intervals(&store, "j").await[1].0,
        "2026-01-01T08:45:00.000Z"
    );
    assert_eq!(
        intervals(&store, "j").await[0].1.as_deref(),
        Some("2026-01-01T08:45:00.000Z")
    );

    // The current content seen before its first sighting moves its start
    // back; it is unchanged, not stale.
    let current_earlier = store
        .write_batch(6, &one("2026-01-01T09:30:00Z", "COMPLETED"))
        .await
        .unwrap();
    assert_eq!(counts(&current_earlier), (0, 0, 1, 0));
    assert_eq!(
        intervals(&store, "j").await[2].0,
        "2026-01-01T09:30:00.000Z"
    );
    assert_eq!(
        bookkeeping(&store, "j").await.last_changed,
        "2026-01-01T09:30:00.000Z"
    );
    assert_history_consistent(&store).await;

    // Idempotent for older observations too.
    for (at, state) in [
        ("2026-01-01T08:00:00Z", "RUNNING"),
        ("2026-01-01T09:00:00Z", "PARTIAL"),
    ] {
        let again = store.write_batch(7, &one(at, state)).await.unwrap();
        assert_eq!(again.new + again.changed, 0);
    }
    assert_eq!(intervals(&store, "j").await.len(), 3);
    assert_eq!(bookkeeping(&store, "j").await.versions, 3);
    assert_history_consistent(&store).await;
}

#[tokio::test]
async fn an_older_observation_inside_the_current_interval_reopens_the_current_content() {
    let store = migrated_store().await;
    let one = |at: &str, state: &str| vec![obs(at, listed("j", state))];
    // COMPLETED is recorded at 12:00, then an older observation of it at
    // 08:00 moves its start back (a sighting of unchanged content later than
    // the recorded one writes nothing, so it is the recorded observations
    // that bound the interval); RUNNING at 10:00 arrives late.
    store
        .write_batch(1, &one("2026-01-01T12:00:00Z", "COMPLETED"))
        .await
        .unwrap();
    store
        .write_batch(1, &one("2026-01-01T08:00:00Z", "COMPLETED"))
        .await
        .unwrap();
    let late = store
        .write_batch(2, &one("2026-01-01T10:00:00Z", "RUNNING"))
        .await
        .unwrap();
    assert_eq!(counts(&late), (0, 0, 0, 1));
    assert_eq!(
        intervals(&store, "j").await,
        vec![
            (
                "2026-01-01T08:00:00.000Z".into(),
                Some("2026-01-01T10:00:00.000Z".into()),
                "COMPLETED".into()
            ),
            (
                "2026-01-01T10:00:00.000Z".into(),
                Some("2026-01-01T12:00:00.000Z".into()),
                "RUNNING".into()
            ),
            ("2026-01-01T12:00:00.000Z".into(), None, "COMPLETED".into()),
        ]
    );
    assert_eq!(
        store
            .job(&key("j"))
            .await
            .unwrap()
            .unwrap()
            .state
            .unwrap()
            .as_str(),
        "COMPLETED"
    );
    assert_history_consistent(&store).await;
}

#[tokio::test]
async fn two_versions_at_the_same_instant_are_rejected_not_guessed() {
    let store = migrated_store().await;
    store
        .write_batch(1, &[obs("2026-01-01T08:00:00Z", listed("j", "RUNNING"))])
        .await
        .unwrap();
    let clash = store
        .write_batch(2, &[obs("2026-01-01T08:00:00Z", listed("j", "FAILED"))])
        .await
        .unwrap();
    assert_eq!(counts(&clash), (0, 0, 0, 0));
    assert_eq!(clash.rejected.len(), 1);
    assert_eq!(clash.rejected[0].0, "j");
    assert!(
        clash.rejected[0].1.contains("2026-01-01T08:00:00.000Z"),
        "{:?}",
        clash.rejected
    );
    assert_eq!(intervals(&store, "j").await.len(), 1);
    assert_history_consistent(&store).await;
}

#[tokio::test]
async fn a_batch_keeps_the_latest_observation_of_a_job_and_rejects_what_it_cannot_store() {
    let store = migrated_store().await;
    let batch = vec![
        obs("2026-01-01T02:00:00Z", listed("j", "COMPLETED")),
        obs("2026-01-01T01:00:00Z", listed("j", "RUNNING")),
        obs("2026-01-01T01:00:00Z", job(json!({"State": "RUNNING"}))),
        obs(
            "2026-01-01T01:00:00Z",
            job(json!({"CopyJobId": "nul", "StatusMessage": "bad\u{0}byte"})),
        ),
        obs("2026-01-01T01:00:00Z", listed("k", "RUNNING")),
    ];
    let outcome = store.write_batch(1, &batch).await.unwrap();
    assert_eq!(counts(&outcome), (2, 0, 0, 0));
    assert_eq!(outcome.duplicates, 1);
    assert_eq!(outcome.total(), batch.len() as u64);
    let mut rejected = outcome.rejected.clone();
    rejected.sort();
    assert_eq!(rejected[0].0, "#2");
    assert!(rejected[0].1.contains("CopyJobId"));
    assert_eq!(rejected[1].0, "nul");
    assert!(rejected[1].1.contains("StatusMessage"));
    assert_eq!(
        store
            .job(&key("j"))
            .await
            .unwrap()
            .unwrap()
            .state
            .unwrap()
            .as_str(),
        "COMPLETED"
    );
    assert_eq!(intervals(&store, "j").await.len(), 1);
}

#[tokio::test]
async fn special_characters_survive_copy() {
    let store = migrated_store().await;
    let message = "tab\there\nnewline\r\nbackslash \\ \\N \\. end\\\nünïcødé ✓ 🦀 \u{7f}\u{1}";
    let mut j = listed("esc\tape\\id", "FAILED");
    j.status_message = Some(message.to_owned());
    j.resource_name = Some("\\".to_owned());
    j.unknown_members
        .insert_value("Odd\tKey\\", &json!({"v": "a\\b\n\"c\"", "n": null}))
        .unwrap();
    let outcome = store
        .write_batch(1, &[obs("2026-01-01T00:00:00Z", j.clone())])
        .await
        .unwrap();
    assert_eq!(counts(&outcome), (1, 0, 0, 0));
    let back = store.job(&key("esc\tape\\id")).await.unwrap().unwrap();
    assert_eq!(back.status_message.as_deref(), Some(message));
    assert_eq!(back, j);
    let typed: String =
        sqlx::query_scalar("SELECT status_message FROM copy_jobs WHERE resource_name = '\\'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(typed, message);
}

/// Jobs that use every member, unknown members at every level, nulls and
/// odd values inside them, and absent structures.
fn rich_jobs() -> Vec<CopyJob> {
    vec![
        job(json!({
            "AccountId": "111122223333",
            "BackupSizeInBytes": 9_007_199_254_740_993_i64,
            "ChildJobsInState": {"RUNNING": 2, "COMPLETED": 5, "QUEUED_FOR_ARCHIVE": 1},
            "CompletionDate": "2018-01-26T00:11:30.087Z",
            "CompositeMemberIdentifier": "member-1",
            "CopyJobId": "rich-1",
            "CreatedBy": {
                "BackupPlanArn": "arn:aws:backup:eu-west-1:111122223333:backup-plan:p",
                "BackupPlanId": "p",
                "BackupPlanName": "daily",
                "BackupPlanVersion": "v1",
                "BackupRuleCron": "cron(0 5 ? * * *)",
                "BackupRuleId": "r",
                "BackupRuleName": "rule",
                "BackupRuleTimezone": "Europe/Paris",
                "FutureCreatorField": {"nested": [1, null, "x"], "empty": {}},
                "NullHere": null
            },
            "CreatedByBackupJobId": "bj-1",
            "CreationDate": 1_516_925_490.087,
            "DestinationBackupVaultArn": "arn:aws:backup:eu-central-1:444455556666:backup-vault:dr",
            "DestinationEncryptionKeyArn": "arn:aws:kms:eu-central-1:444455556666:key/k",
            "DestinationRecoveryPointArn": "arn:aws:ec2:eu-central-1::snapshot/snap-1",
            "DestinationRecoveryPointLifecycle": {
                "DeleteAfterDays": 35,
                "DeleteAfterEvent": "SOMETHING_NEW",
                "MoveToColdStorageAfterDays": 7,
                "OptInToArchiveForSupportedResources": false,
                "ArchiveTier": "deep"
            },
            "DestinationVaultLockState": "LOCKED",
            "DestinationVaultType": "LOGICALLY_AIR_GAPPED_BACKUP_VAULT",
            "IamRoleArn": "arn:aws:iam::111122223333:role/backup",
            "IsParent": true,
            "MessageCategory": "SUCCESS",
            "NumberOfChildJobs": 8,
            "ParentJobId": "parent",
            "ResourceArn": "arn:aws:ec2:eu-west-1:111122223333:volume/vol-1",
            "ResourceName": "données ✓",
            "ResourceType": "EBS",
            "SourceBackupVaultArn": "arn:aws:backup:eu-west-1:111122223333:backup-vault:Default",
            "SourceRecoveryPointArn": "arn:aws:ec2:eu-west-1::snapshot/snap-0",
            "State": "A_STATE_FROM_NEXT_YEAR",
            "StatusMessage": "ok",
            "TopLevelNew": [{"a": 1.5, "b": null}, true, -0.25, 1e300],
            "AnotherNew": null
        })),
        // No AccountId (the key takes the target's), CreatedBy and lifecycle
        // present but empty, nothing unknown.
        job(json!({
            "CopyJobId": "rich-2",
            "CreatedBy": {},
            "DestinationRecoveryPointLifecycle": {},
            "IsParent": false,
            "State": "CREATED",
            "CreationDate": "0001-01-01T00:00:00.000Z"
        })),
        // Only unknown members inside the structures.
        job(json!({
            "AccountId": "999988887777",
            "CopyJobId": "rich-3",
            "CreatedBy": {"OnlyUnknown": "x"},
            "DestinationRecoveryPointLifecycle": {"OnlyUnknown": 1},
            "CompletionDate": "9999-12-31T23:59:59.999Z"
        })),
        // The bare minimum.
        job(json!({"CopyJobId": "rich-4"})),
    ]
}

#[tokio::test]
async fn jobs_come_back_exactly_as_received() {
    let store = migrated_store().await;
    let jobs = rich_jobs();
    let batch: Vec<Observation> = jobs
        .iter()
        .map(|j| obs("2026-01-01T00:00:00Z", j.clone()))
        .collect();
    let outcome = store.write_batch(1, &batch).await.unwrap();
    assert_eq!(counts(&outcome), (4, 0, 0, 0), "{:?}", outcome.rejected);

    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT copy_job_id, job::text FROM copy_jobs_json ORDER BY copy_job_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(rows.len(), jobs.len());
    for ((id, text), original) in rows.iter().zip(&jobs) {
        let decoded: CopyJob = serde_json::from_str(text).unwrap();
        assert_eq!(&decoded, original, "{id}");
        // The same content: jsonb spells numbers its own way (1e+300 comes
        // back as its 301 digits) and orders object members by length.
        let form = |j: &CopyJob| {
            let mut out = Vec::new();
            j.write_content_form(&mut out);
            out
        };
        assert_eq!(form(&decoded), form(original), "{id}");
    }
    // The history view agrees.
    for original in &jobs {
        let key = JobKey::of("111122223333", "eu-west-1", original).unwrap();
        let history = store.history(&key).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(&history[0].job, original);
    }
    // rich-2 had no AccountId: keyed under the target's account, and still without one.
    let two = store.job(&key("rich-2")).await.unwrap().unwrap();
    assert_eq!(two.account_id, None);
    // Absent structures are NULL, present-but-empty ones '{}'.
    type Shape = (String, Option<String>, Option<String>, Option<String>);
    let shapes: Vec<Shape> = sqlx::query_as(
        "SELECT copy_job_id, unknown_members::text, created_by_unknown::text, lifecycle_unknown::text
         FROM copy_jobs ORDER BY copy_job_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        shapes[1],
        ("rich-2".into(), None, Some("{}".into()), Some("{}".into()))
    );
    assert_eq!(shapes[3], ("rich-4".into(), None, None, None));
    // Same content again: unchanged (the hash is of the canonical encoding).
    let again = store.write_batch(2, &batch).await.unwrap();
    assert_eq!(counts(&again), (0, 0, 4, 0));
}

#[tokio::test]
async fn the_version_in_force_at_an_instant() {
    let store = migrated_store().await;
    for (at, state) in [
        ("2026-01-01T01:00:00Z", "CREATED"),
        ("2026-01-01T02:00:00Z", "RUNNING"),
        ("2026-01-01T03:00:00Z", "COMPLETED"),
    ] {
        store
            .write_batch(1, &[obs(at, listed("j", state))])
            .await
            .unwrap();
        store
            .write_batch(1, &[obs(at, listed("other", state))])
            .await
            .unwrap();
    }
    let state_at = |at: &'static str| {
        let store = store.clone();
        async move {
            store
                .job_as_of(&key("j"), ts(at))
                .await
                .unwrap()
                .map(|v| v.job.state.unwrap().to_string())
        }
    };
    assert_eq!(state_at("2026-01-01T00:59:59.999Z").await, None);
    assert_eq!(
        state_at("2026-01-01T01:00:00Z").await.as_deref(),
        Some("CREATED")
    );
    assert_eq!(
        state_at("2026-01-01T01:59:59.999Z").await.as_deref(),
        Some("CREATED")
    );
    assert_eq!(
        state_at("2026-01-01T02:00:00Z").await.as_deref(),
        Some("RUNNING")
    );
    assert_eq!(
        state_at("2030-01-01T00:00:00Z").await.as_deref(),
        Some("COMPLETED")
    );

    // The SQL function gives every job in force then.
    let states: Vec<(String, String)> = sqlx::query_as(
        "SELECT copy_job_id, state FROM copy_jobs_as_of('2026-01-01T02:30:00Z') ORDER BY 1",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        states,
        vec![
            ("j".into(), "RUNNING".into()),
            ("other".into(), "RUNNING".into())
        ]
    );
    let json: serde_json::Value = sqlx::query_scalar(
        "SELECT job FROM copy_jobs_json_as_of('2026-01-01T01:30:00Z') WHERE copy_job_id = 'j'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(json["State"], "CREATED");

    // "Job J at D" is a primary-key probe (in each partition of the months
    // up to D). Sequential scans are ruled out because, on a table this
    // small, the planner rightly prefers one; the point is that the key
    // serves the query.
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT * FROM copy_jobs_as_of('2026-01-01T02:30:00Z')
         WHERE account_id = '111122223333' AND region = 'eu-west-1' AND copy_job_id = 'j'",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let plan = plan.join("\n");
    // Both tables of the view: the history's partitions and copy_jobs.
    assert!(
        plan.contains("Index Scan using copy_job_history_") && plan.contains("_pkey"),
        "{plan}"
    );
    assert!(plan.contains("using copy_jobs_pkey"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
}

#[tokio::test]
async fn concurrent_writers_of_overlapping_batches_make_no_duplicate_history() {
    let store = migrated_store().await;
    let ids: Vec<String> = (0..300).map(|i| format!("job-{i:03}")).collect();
    // Two writers, each with several rounds over overlapping ranges of jobs,
    // with states that move on and observation times that interleave.
    let mut tasks = Vec::new();
    for writer in 0..2u32 {
        let store = store.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut total = BatchOutcome::default();
            for round in 0..6u32 {
                let state = ["CREATED", "RUNNING", "COMPLETED"][(round / 2) as usize];
                let minute = round * 2 + writer;
                let at = format!("2026-01-01T00:{minute:02}:00Z");
                let range = if writer == 0 { 0..200 } else { 100..300 };
                let batch: Vec<Observation> = ids[range]
                    .iter()
                    .map(|id| obs(&at, listed(id, state)))
                    .collect();
                total += store.write_batch(i64::from(writer), &batch).await.unwrap();
            }
            total
        }));
    }
    let mut total = BatchOutcome::default();
    for task in tasks {
        total += task.await.unwrap();
    }
    assert!(total.rejected.is_empty(), "{:?}", total.rejected);
    assert_eq!(total.new, 300);
    assert_history_consistent(&store).await;
    // Every job went CREATED -> RUNNING -> COMPLETED exactly once.
    let per_job: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM copy_job_snapshots GROUP BY copy_job_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(per_job.len(), 300);
    assert!(per_job.iter().all(|&n| n == 3), "{per_job:?}");
}
