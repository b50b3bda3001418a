//! Connecting, migrating, locking, runs and checkpoints, against a real
//! PostgreSQL server.

mod common;

use std::time::{Duration, Instant};

use backup_ingest::{ConnectOptions, NewRun, RunMode, RunOutcome, RunStatus, Store, StoreError};
use common::*;

#[tokio::test]
async fn migrations_apply_from_empty_and_then_do_nothing() {
    let store = Store::connect(&fresh_database(), ConnectOptions::default())
        .await
        .unwrap();
    let all: Vec<String> = backup_ingest::MIGRATOR
        .iter()
        .map(|m| format!("{:04}_{}", m.version, m.description.replace(' ', "_")))
        .collect();
    assert_eq!(all[0], "0001_audit_schema");
    assert_eq!(store.pending_migrations().await.unwrap(), all);
    let err = store.ensure_migrated().await.unwrap_err();
    assert!(matches!(err, StoreError::PendingMigrations { .. }));
    assert!(
        err.to_string().contains("run `backup-audit migrate`"),
        "{err}"
    );

    assert_eq!(store.migrate().await.unwrap(), all);
    assert!(store.pending_migrations().await.unwrap().is_empty());
    store.ensure_migrated().await.unwrap();
    assert!(store.migrate().await.unwrap().is_empty());

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace
         AND relkind IN ('r', 'p', 'v') ORDER BY 1",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    for want in [
        "copy_job_history",
        "copy_job_snapshots",
        "copy_job_snapshots_json",
        "copy_jobs",
        "copy_jobs_json",
        "ingest_checkpoints",
        "ingest_runs",
    ] {
        assert!(tables.iter().any(|t| t == want), "{want} in {tables:?}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error_without_the_password() {
    let url = fresh_database();
    let right = server().password().to_owned();
    let wrong_password = "Wr0ng-Passw0rd-Value";
    let wrong = url.replace(&right, wrong_password);
    let err = Store::connect(&wrong, ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Authentication { .. }), "{err:?}");
    for shown in [err.to_string(), format!("{err:?}"), error_chain(&err)] {
        assert!(!shown.contains(wrong_password), "{shown}");
        assert!(!shown.contains(&right), "{shown}");
        assert!(
            shown.contains("password authentication failed") || shown.contains("127.0.0.1"),
            "{shown}"
        );
    }
    assert!(err.to_string().contains("postgres:***@127.0.0.1"), "{err}");

    // A good connection does not show it either.
    let store = Store::connect(&url, ConnectOptions::default())
        .await
        .unwrap();
    assert!(!format!("{store:?}").contains(&right));
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres:s3cret-pw@127.0.0.1:{port}/postgres");
    let started = Instant::now();
    let err = Store::connect(&url, ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert!(err.is_connection_problem());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("s3cret-pw"), "{shown}");

    let bad = Store::connect(
        "postgres://u:s3cret-pw@127.0.0.1:notaport/db",
        ConnectOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(bad, StoreError::InvalidUrl { .. }), "{bad:?}");
    assert!(!format!("{bad} {bad:?}").contains("s3cret-pw"));
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[tokio::test]
async fn the_target_lock_blocks_a_second_locker_until_released() {
    let store = migrated_store().await;
    let held = store
        .lock_target("111122223333", "eu-west-1", Duration::ZERO)
        .await
        .unwrap();

    // A second locker times out cleanly...
    let started = Instant::now();
    let err = store
        .lock_target("111122223333", "eu-west-1", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LockTimeout { .. }), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(err.to_string().contains("eu-west-1"));
    let err = store
        .lock_target("111122223333", "eu-west-1", Duration::ZERO)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LockTimeout { .. }));

    // ...other targets are free...
    let other = store
        .lock_target("111122223333", "us-east-1", Duration::ZERO)
        .await
        .unwrap();
    other.release().await.unwrap();

    // ...and a waiter gets it once released.
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let lock = store
                .lock_target("111122223333", "eu-west-1", Duration::from_secs(10))
                .await;
            (lock, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut held = held;
    held.verify().await.unwrap();
    held.release().await.unwrap();
    let (lock, waited) = waiter.await.unwrap();
    let mut lock = lock.unwrap();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    lock.verify().await.unwrap();

    // Dropping a lock without releasing it frees it too (its session ends).
    drop(lock);
    let again = store
        .lock_target("111122223333", "eu-west-1", Duration::from_secs(5))
        .await
        .unwrap();
    again.release().await.unwrap();
}

#[tokio::test]
async fn runs_and_checkpoints_are_recorded() {
    let store = migrated_store().await;
    let group = store.new_run_group().await.unwrap();
    assert_eq!(group.len(), 36);
    let run = NewRun {
        run_group: group.clone(),
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        mode: RunMode::Incremental,
        since: Some(ts("2026-01-01T00:00:00Z")),
        started_at: ts("2026-01-02T00:00:00Z"),
    };
    let id = store.start_run(&run).await.unwrap();
    // Another target's run leaves this one alone (a new run of the same
    // target would mark it abandoned: see below).
    let second = store
        .start_run(&NewRun {
            region: "us-east-1".into(),
            ..run.clone()
        })
        .await
        .unwrap();
    assert!(second > id);

    let outcome = store
        .write_batch(id, &[obs("2026-01-02T00:00:01Z", listed("j", "RUNNING"))])
        .await
        .unwrap();
    let mut finished = RunOutcome::new(RunStatus::Failed, ts("2026-01-02T00:05:00Z"));
    finished.pages = 3;
    finished.api_calls = 4;
    finished.record(&outcome);
    finished.error =
        Some("connect failed: postgres://audit:hunter2@db/audit and secret_access_key=abc".into());
    store.finish_run(id, &finished).await.unwrap();
    // A run finishes once.
    assert!(matches!(
        store.finish_run(id, &finished).await,
        Err(StoreError::UnknownRun(_))
    ));

    let row: (String, String, i64, i64, i64, Option<String>, String) = sqlx::query_as(
        "SELECT status, mode, pages, jobs_seen, jobs_new, error, run_group FROM ingest_runs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        (row.0.as_str(), row.1.as_str(), row.2, row.3, row.4),
        ("failed", "incremental", 3, 1, 1,)
    );
    let error = row.5.unwrap();
    assert!(
        !error.contains("hunter2") && !error.contains("abc"),
        "{error}"
    );
    assert_eq!(row.6, group);

    assert_eq!(
        store.checkpoint("111122223333", "eu-west-1").await.unwrap(),
        None
    );
    store
        .set_checkpoint("111122223333", "eu-west-1", ts("2026-01-02T00:00:00Z"), id)
        .await
        .unwrap();
    assert_eq!(
        store.checkpoint("111122223333", "eu-west-1").await.unwrap(),
        Some(ts("2026-01-02T00:00:00Z"))
    );
    // It only moves forward.
    store
        .set_checkpoint(
            "111122223333",
            "eu-west-1",
            ts("2026-01-01T00:00:00Z"),
            second,
        )
        .await
        .unwrap();
    assert_eq!(
        store.checkpoint("111122223333", "eu-west-1").await.unwrap(),
        Some(ts("2026-01-02T00:00:00Z"))
    );
    store
        .set_checkpoint(
            "111122223333",
            "eu-west-1",
            ts("2026-01-03T12:34:56.789Z"),
            second,
        )
        .await
        .unwrap();
    assert_eq!(
        store.checkpoint("111122223333", "eu-west-1").await.unwrap(),
        Some(ts("2026-01-03T12:34:56.789Z"))
    );
    assert_eq!(
        store.checkpoint("111122223333", "us-east-1").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_server_that_goes_away_gives_connection_errors_and_writes_resume_after() {
    // A server of its own: this test stops it.
    let mut pg = pg_throwaway::TempPostgres::start().unwrap();
    let url = pg.create_database("gone").unwrap();
    let opts = ConnectOptions {
        acquire_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        ..ConnectOptions::default()
    };
    let store = Store::connect(&url, opts).await.unwrap();
    store.migrate().await.unwrap();
    let batch = vec![obs("2026-01-01T00:00:00Z", listed("j", "RUNNING"))];
    assert_eq!(store.write_batch(1, &batch).await.unwrap().new, 1);

    pg.stop().unwrap();
    let later = vec![obs("2026-01-01T01:00:00Z", listed("j", "COMPLETED"))];
    let err = store.write_batch(1, &later).await.unwrap_err();
    assert!(err.is_connection_problem(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(pg.password()));
    let err = store
        .lock_target("111122223333", "eu-west-1", Duration::ZERO)
        .await
        .unwrap_err();
    assert!(err.is_connection_problem(), "{err:?}");

    pg.start_again().unwrap();
    // The pool reconnects; nothing was half written.
    let outcome = store.write_batch(1, &later).await.unwrap();
    assert_eq!(outcome.changed, 1);
    assert_eq!(intervals(&store, "j").await.len(), 2);
    assert_history_consistent(&store).await;
}

#[tokio::test]
async fn a_new_run_of_a_target_marks_its_dead_runs_abandoned() {
    let store = migrated_store().await;
    let run = |region: &str, mode: RunMode| NewRun {
        run_group: "g".into(),
        account_id: "111122223333".into(),
        region: region.into(),
        mode,
        since: None,
        started_at: ts("2026-01-02T00:00:00Z"),
    };
    let dead = store
        .start_run(&run("eu-west-1", RunMode::Full))
        .await
        .unwrap();
    let import = store
        .start_run(&run("eu-west-1", RunMode::Import))
        .await
        .unwrap();
    let other = store
        .start_run(&run("us-east-1", RunMode::Full))
        .await
        .unwrap();
    let next = store
        .start_run(&run("eu-west-1", RunMode::Incremental))
        .await
        .unwrap();
    let status = |id: i64| {
        let pool = store.pool().clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM ingest_runs WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(status(dead).await, "abandoned");
    // Imports take no target lock; other targets are not this one.
    assert_eq!(status(import).await, "running");
    assert_eq!(status(other).await, "running");
    assert_eq!(status(next).await, "running");
    assert!(matches!(
        store
            .finish_run(
                dead,
                &RunOutcome::new(RunStatus::Succeeded, ts("2026-01-02T01:00:00Z"))
            )
            .await,
        Err(StoreError::UnknownRun(_))
    ));
}

#[tokio::test]
async fn work_under_a_lost_lock_is_stopped() {
    let store = Store::connect(
        &fresh_database(),
        ConnectOptions {
            lock_heartbeat: Duration::from_millis(50),
            ..ConnectOptions::default()
        },
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let mut lock = store
        .lock_target("111122223333", "eu-west-1", Duration::ZERO)
        .await
        .unwrap();
    // Work that ends is returned, the lock still held.
    assert_eq!(lock.guard(async { 7 }).await.unwrap(), 7);
    // The lock's session is ended from outside while work goes on: the
    // work is stopped (it would never end) and the loss reported.
    let key = backup_ingest::target_lock_key("111122223333", "eu-west-1");
    let pool = store.pool().clone();
    let ended = lock
        .guard(async move {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND ((classid::bigint << 32) | objid::bigint) = $1",
            )
            .bind(key)
            .execute(&pool)
            .await
            .unwrap();
            std::future::pending::<()>().await
        })
        .await
        .unwrap_err();
    assert!(matches!(ended, StoreError::LockLost { .. }), "{ended:?}");
    assert!(ended.to_string().contains("eu-west-1"), "{ended}");
    // The target is free for the next run.
    store
        .lock_target("111122223333", "eu-west-1", Duration::from_secs(5))
        .await
        .unwrap();
}
