//! What a batch costs the database: a job seen again with the same content
//! writes nothing (issue: organization scale, "unchanged jobs cost no write").

mod common;

use backup_ingest::Observation;
use common::*;

/// The row version (`xmin`, `ctid`) of every current row and history row:
/// any write to a row, even an UPDATE that sets a column to its own value,
/// gives it a new one.
async fn row_versions(store: &backup_ingest::Store) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT copy_job_id, 'current ' || xmin::text || ' ' || ctid::text FROM copy_jobs
         UNION ALL
         SELECT copy_job_id, 'history ' || xmin::text || ' ' || ctid::text || ' ' || tableoid::regclass::text
         FROM copy_job_history
         ORDER BY 1, 2",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn an_unchanged_job_seen_again_later_writes_nothing() {
    let store = migrated_store().await;
    let batch: Vec<Observation> = ["a", "b", "c"]
        .iter()
        .map(|id| obs("2026-01-01T00:00:00Z", listed(id, "COMPLETED")))
        .collect();
    let first = store.write_batch(1, &batch).await.unwrap();
    assert_eq!(first.new, 3);
    let before = row_versions(&store).await;
    // New jobs: their current rows only.
    assert_eq!(before.len(), 3);

    // The same content, seen a day later by another run.
    let later: Vec<Observation> = batch
        .iter()
        .map(|o| Observation {
            observed_at: ts("2026-01-02T00:00:00Z"),
            ..o.clone()
        })
        .collect();
    let again = store.write_batch(2, &later).await.unwrap();
    assert_eq!((again.new, again.changed, again.unchanged), (0, 0, 3));
    assert_eq!(
        row_versions(&store).await,
        before,
        "a sighting of unchanged jobs must not write any row"
    );
    assert_history_consistent(&store).await;
}
