//! Organization scale: targets found through AWS Organizations and split
//! between workers with `--shard`, the workers running at once (and
//! overlapping), and the database checked against the exact truth.

use std::collections::BTreeSet;
use std::time::Duration;

use backup_emulator::{Emulator, EmulatorConfig, Organization};
use backup_fetch::{shard_of, Target};
use serde_json::Value;
use tokio::process::Command;

use crate::support::*;

/// The organization's active accounts; the first manages it.
const ACCOUNTS: [&str; 6] = [
    "100000000001",
    "100000000002",
    "100000000003",
    "100000000004",
    "100000000005",
    "100000000006",
];
/// A suspended member: the emulator still has jobs for it, which must not
/// be read.
const SUSPENDED: &str = "100000000009";
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
const ROLE: &str = "arn:aws:iam::{account}:role/BackupAudit";

async fn organization(jobs: usize) -> Emulator {
    let mut accounts: Vec<String> = ACCOUNTS.map(String::from).to_vec();
    accounts.push(SUSPENDED.into());
    emulator_with(EmulatorConfig {
        seed: 23,
        jobs_per_target: jobs,
        accounts,
        regions: REGIONS.map(String::from).to_vec(),
        start: clock_start(),
        // Two days of jobs, so that some are running and a later run sees
        // them change.
        history: Duration::from_secs(2 * 86_400),
        organization: Organization {
            suspended_accounts: vec![SUSPENDED.into()],
            // Pages of two accounts: the organization is read page by page.
            page_size: 2,
            management_account: Some(ACCOUNTS[0].into()),
        },
        ..EmulatorConfig::default()
    })
    .await
}

/// The credentials of the management account: the emulator's access keys of
/// the form `ASIA` + account + 4 characters belong to that account.
const MANAGEMENT_KEY: &str = "ASIA100000000001TEST";

/// An `ingest` of the whole organization (or one shard of it).
fn worker(url: &str, emu: &Emulator, shard: Option<&str>) -> Command {
    let mut cmd = ingest_cmd(url, emu, &REGIONS);
    cmd.args(["--accounts-from-organization", "--role-arn", ROLE])
        .args([
            "--summary",
            "json",
            "--max-results",
            "40",
            "--batch-size",
            "100",
        ])
        .env("AWS_ACCESS_KEY_ID", MANAGEMENT_KEY);
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    cmd
}

fn target_names(summary: &Value) -> BTreeSet<String> {
    summary["per_target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap().to_owned())
        .collect()
}

fn all_targets() -> Vec<Target> {
    let accounts: Vec<String> = ACCOUNTS.map(String::from).to_vec();
    let regions: Vec<String> = REGIONS.map(String::from).to_vec();
    Target::cartesian(&accounts, &regions)
}

/// Three shards and a full run, all at once; returns their summaries.
async fn run_workers(url: &str, emu: &Emulator) -> [Value; 4] {
    let (mut a, mut b, mut c, mut full) = (
        worker(url, emu, Some("1/3")),
        worker(url, emu, Some("2/3")),
        worker(url, emu, Some("3/3")),
        worker(url, emu, None),
    );
    let (a, b, c, full) = tokio::join!(run(&mut a), run(&mut b), run(&mut c), run(&mut full));
    [a, b, c, full].map(|out| {
        assert!(out.status.success(), "{}", stderr(&out));
        summary(&out)
    })
}

async fn assert_organization_exact(pool: &sqlx::PgPool, emu: &Emulator) {
    for account in ACCOUNTS {
        for region in REGIONS {
            assert_exact_of(pool, emu, account, region).await;
        }
    }
    let suspended: i64 = sqlx::query_scalar("SELECT count(*) FROM copy_jobs WHERE account_id = $1")
        .bind(SUSPENDED)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(suspended, 0, "the suspended account is not read");
    assert_no_duplicate_history(pool).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sharded_workers_and_an_overlapping_full_run_record_the_organization_exactly() {
    let url = database();
    migrate(&url).await;
    let emu = organization(150).await;
    let pool = connect(&url).await;
    let everything: BTreeSet<String> = all_targets().iter().map(Target::to_string).collect();

    let [one, two, three, full] = run_workers(&url, &emu).await;
    // Each shard read exactly its documented share; together, every target once.
    let shards = [&one, &two, &three].map(target_names);
    for (k, names) in shards.iter().enumerate() {
        let expected: BTreeSet<String> = all_targets()
            .iter()
            .filter(|t| shard_of(t, 3) == k as u32 + 1)
            .map(Target::to_string)
            .collect();
        assert_eq!(names, &expected, "shard {}/3", k + 1);
        assert!(!names.is_empty(), "18 targets leave no shard of 3 empty");
    }
    assert_eq!(shards.iter().map(BTreeSet::len).sum::<usize>(), 18);
    let union: BTreeSet<String> = shards.iter().flatten().cloned().collect();
    assert_eq!(union, everything);
    assert_eq!(target_names(&full), everything);
    assert_eq!(full["targets"], 18);

    assert_organization_exact(&pool, &emu).await;
    // Every target was read twice at the same instant: one version per job.
    let jobs = count(&pool, "SELECT count(*) FROM copy_jobs").await;
    assert_eq!(
        jobs,
        18 * truth_of(&emu, ACCOUNTS[0], REGIONS[0]).len() as i64
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM copy_job_snapshots").await,
        jobs
    );
    let new: i64 = [&one, &two, &three, &full]
        .iter()
        .map(|s| s["jobs_new"].as_i64().unwrap())
        .sum();
    assert_eq!(new, jobs, "each job is new to exactly one worker");
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM ingest_runs WHERE status = 'succeeded'"
        )
        .await,
        36
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM ingest_checkpoints").await,
        18
    );

    // Three hours later, again all at once: running jobs have finished, new
    // ones started, and the history records each change once.
    emu.advance_clock(Duration::from_secs(3 * 3600));
    let again = run_workers(&url, &emu).await;
    let changed: i64 = again
        .iter()
        .map(|s| s["jobs_changed"].as_i64().unwrap())
        .sum();
    assert!(changed > 0, "{again:?}");
    assert_organization_exact(&pool, &emu).await;
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM ingest_runs WHERE status <> 'succeeded'"
        )
        .await,
        0
    );
}

/// `list` of one shard: the job ids it prints.
async fn listed_ids(emu: &Emulator, shard: Option<&str>) -> BTreeSet<String> {
    let mut cmd = binary();
    cmd.args([
        "list",
        "--quiet",
        "--initial-backoff-ms",
        "5",
        "--endpoint-url",
    ])
    .arg(emu.endpoint_url())
    .args(["--accounts-from-organization", "--role-arn", ROLE])
    .env("AWS_ACCESS_KEY_ID", MANAGEMENT_KEY);
    other_services_at(&mut cmd, &emu.endpoint_url());
    for region in REGIONS {
        cmd.args(["--region", region]);
    }
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    let out = run(&mut cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let job: Value = serde_json::from_str(line).unwrap();
            job["CopyJobId"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_splits_the_organization_and_bad_settings_are_refused() {
    let emu = organization(20).await;
    let all = listed_ids(&emu, None).await;
    let expected: usize = ACCOUNTS
        .iter()
        .flat_map(|a| REGIONS.map(|r| emu.jobs(a, r).len()))
        .sum();
    assert_eq!(all.len(), expected);
    let first = listed_ids(&emu, Some("1/2")).await;
    let second = listed_ids(&emu, Some("2/2")).await;
    assert!(first.is_disjoint(&second));
    assert_eq!(&first | &second, all);

    let endpoint = emu.endpoint_url();
    for (args, says) in [
        (vec!["--shard", "0/3"], "shard"),
        (vec!["--shard", "4/3"], "shard"),
        (vec!["--shard", "half"], "shard"),
        (vec![], "--role-arn"),
    ] {
        let out = run(binary()
            .args(["list", "--region", "us-east-1", "--endpoint-url", &endpoint])
            .env("AWS_ENDPOINT_URL_STS", &endpoint)
            .env("AWS_ENDPOINT_URL_ORGANIZATIONS", &endpoint)
            .arg("--accounts-from-organization")
            .args(&args)
            .env("AWS_ACCESS_KEY_ID", MANAGEMENT_KEY))
        .await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }

    // A member account's credentials may not list the organization: the run
    // stops before reading anything, and says which permission is missing.
    let out = run(binary()
        .args(["list", "--region", "us-east-1", "--endpoint-url", &endpoint])
        .env("AWS_ENDPOINT_URL_STS", &endpoint)
        .env("AWS_ENDPOINT_URL_ORGANIZATIONS", &endpoint)
        .args(["--accounts-from-organization", "--role-arn", ROLE])
        .args(["--initial-backoff-ms", "5"])
        .env("AWS_ACCESS_KEY_ID", "ASIA100000000002TEST"))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("organizations:ListAccounts"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}
