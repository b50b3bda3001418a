//! A worker reading an organization wide: many targets in flight
//! on a few database sessions, against a server that allows few
//! connections, with one AssumeRole per account whatever the concurrency.

use std::collections::BTreeSet;
use std::time::Duration;

use backup_emulator::{Emulator, EmulatorConfig, Faults};
use pg_throwaway::TempPostgres;

use crate::support::*;

const ACCOUNTS: usize = 10;
const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"];

/// A server of its own whose `max_connections` is 20, a fifth of the default.
fn server_of_twenty_connections() -> TempPostgres {
    let mut pg = TempPostgres::start().expect("start PostgreSQL");
    pg.run_sql("postgres", "ALTER SYSTEM SET max_connections = 20")
        .expect("set max_connections");
    pg.stop().expect("stop PostgreSQL");
    pg.start_again().expect("start PostgreSQL again");
    assert_eq!(
        pg.run_sql("postgres", "SHOW max_connections")
            .unwrap()
            .trim(),
        "20"
    );
    pg
}

fn accounts() -> Vec<String> {
    (0..ACCOUNTS)
        .map(|i| format!("{:012}", 400_000_000_000u64 + i as u64))
        .collect()
}

/// `ACCOUNTS` x `REGIONS` targets, every call answered after 100 ms so that
/// the targets of a run are in flight together.
async fn organization() -> Emulator {
    let config = EmulatorConfig {
        seed: 17,
        jobs_per_target: 30,
        accounts: accounts(),
        regions: REGIONS.iter().map(|r| r.to_string()).collect(),
        start: clock_start(),
        history: Duration::from_secs(2 * 86_400),
        faults: Faults {
            latency: Duration::from_millis(100),
            sts_latency: Duration::from_millis(100),
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    };
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start emulator")
}

/// The ids the database holds for a target.
async fn stored_ids(pool: &sqlx::PgPool, account: &str, region: &str) -> BTreeSet<String> {
    sqlx::query_scalar("SELECT copy_job_id FROM copy_jobs WHERE account_id = $1 AND region = $2")
        .bind(account)
        .bind(region)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// 40 targets at once (`--concurrency 40`) against a server of 20
/// connections: every target is read, on a few sessions. On the old code
/// each target in flight opened a session of its own for its lock, beside a
/// pool of concurrency + 1, and targets failed with "too many clients".
#[tokio::test(flavor = "multi_thread")]
async fn forty_targets_at_once_fit_in_a_server_of_twenty_connections() {
    let pg = server_of_twenty_connections();
    let url = pg.create_database("workers").unwrap();
    migrate(&url).await;
    let emu = organization().await;
    let pool = connect(&url).await;
    for run_number in 0..2 {
        if run_number == 1 {
            emu.advance_clock(Duration::from_secs(3600));
        }
        let before = emu.stats();
        let out = run(ingest_cmd(&url, &emu, &REGIONS)
            .args(["--concurrency", "40", "--summary", "json"])
            .args(["--account", &accounts().join(",")])
            .args(["--role-arn", "arn:aws:iam::{account}:role/BackupAudit"]))
        .await;
        let err = stderr(&out);
        assert!(out.status.success(), "run {run_number}: {err}");
        let after = emu.stats();
        assert_eq!(
            after.assume_role_calls - before.assume_role_calls,
            ACCOUNTS as u64,
            "one AssumeRole per account, its regions starting at once"
        );
        for account in accounts() {
            for region in REGIONS {
                let want: BTreeSet<String> = emu
                    .jobs(&account, region)
                    .into_iter()
                    .filter_map(|job| job.copy_job_id)
                    .collect();
                assert!(!want.is_empty());
                assert_eq!(
                    stored_ids(&pool, &account, region).await,
                    want,
                    "{account}/{region}"
                );
            }
        }
    }
    let runs: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status || ' ' || mode, count(*) FROM ingest_runs GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        runs,
        [
            ("succeeded full".to_owned(), 40),
            ("succeeded incremental".to_owned(), 40)
        ]
    );
    assert_no_duplicate_history(&pool).await;
}

/// A target another run holds is waited for, up to `--lock-timeout`, while
/// the other targets go on: it fails when the holder keeps it, and is read
/// when the holder lets go in time. The waits take no session of their own.
#[tokio::test(flavor = "multi_thread")]
async fn a_target_held_by_another_run_is_waited_for_up_to_the_lock_timeout() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(40, &REGIONS, Faults::default()).await;
    let pool = connect(&url).await;
    // Another run holds eu-west-1 on a session of its own.
    let mut holder = pool.acquire().await.unwrap();
    let key = backup_ingest::target_lock_key(ACCOUNT, "eu-west-1");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut *holder)
        .await
        .unwrap();
    let out = run(ingest_cmd(&url, &emu, &REGIONS).args(["--lock-timeout", "1s"])).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("another run holds the ingest lock") && err.contains("eu-west-1"),
        "{err}"
    );
    for region in REGIONS.iter().filter(|r| **r != "eu-west-1") {
        assert_exact(&pool, &emu, region).await;
    }
    assert!(stored_jobs(&pool, "eu-west-1").await.is_empty());

    // Held again, and let go while the next run waits for it.
    let mut child = ingest_cmd(&url, &emu, &REGIONS)
        .args(["--lock-timeout", "2m"])
        .spawn()
        .unwrap();
    // The other targets' runs end while eu-west-1 waits.
    let others =
        "SELECT count(*) FROM ingest_runs WHERE region <> 'eu-west-1' AND status = 'succeeded'";
    while count(&pool, others).await < 6 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut *holder)
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(120), child.wait())
        .await
        .expect("the run ends")
        .unwrap();
    assert!(status.success());
    for region in REGIONS {
        assert_exact(&pool, &emu, region).await;
    }
}

/// The one session holding every target's lock is ended while the targets
/// are read: every target it guarded stops, none moves its checkpoint, and
/// the next run reads them all exactly.
#[tokio::test(flavor = "multi_thread")]
async fn losing_the_lock_session_stops_every_target_it_guards() {
    let url = database();
    migrate(&url).await;
    let regions = ["us-east-1", "eu-west-1"];
    let emu = emulator(
        3000,
        &regions,
        Faults {
            latency: Duration::from_millis(30),
            ..Faults::default()
        },
    )
    .await;
    let pool = connect(&url).await;
    let child = ingest_cmd(&url, &emu, &regions)
        .args(["--max-results", "100", "--batch-size", "100"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let counts: Vec<i64> = sqlx::query_scalar(
            "SELECT count(c.*) FROM unnest($1::text[]) r(region) \
             LEFT JOIN copy_jobs c USING (region) GROUP BY r.region",
        )
        .bind(regions.map(String::from).to_vec())
        .fetch_all(&pool)
        .await
        .unwrap();
        if counts.iter().all(|&n| n >= 200) {
            assert!(counts.iter().all(|&n| n < 3000), "{counts:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never committed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // An operator (or a failover) ends the session that holds the locks.
    let keys: Vec<i64> = regions
        .iter()
        .map(|r| backup_ingest::target_lock_key(ACCOUNT, r))
        .collect();
    let sessions: Vec<i32> = sqlx::query_scalar(
        "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND ((classid::bigint << 32) | objid::bigint) = ANY($1)",
    )
    .bind(&keys)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(sessions.len(), 1, "one session holds both targets' locks");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(sessions[0])
        .execute(&pool)
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the run ends")
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for region in regions {
        assert!(
            err.lines()
                .any(|l| l.contains("lost the ingest lock") && l.contains(region)),
            "{region}: {err}"
        );
    }
    assert_eq!(
        count(&pool, "SELECT count(*) FROM ingest_checkpoints").await,
        0,
        "no checkpoint from a run that lost its lock"
    );
    let runs: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status, error FROM ingest_runs ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        runs.iter()
            .filter(|(status, error)| status == "failed"
                && error.as_deref().is_some_and(|e| e.contains("ingest lock")))
            .count(),
        2,
        "{runs:?}\n{err}"
    );
    let out = run(&mut ingest_cmd(&url, &emu, &regions)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    for region in regions {
        assert_exact(&pool, &emu, region).await;
    }
    assert_no_duplicate_history(&pool).await;
}
