//! A worker reading an organization wide (issue 11): many targets in flight
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
