//! A seeded chaos run: many cron-like ingests against an emulator that
//! misbehaves as AWS does (throttling bursts as 429 and as 400, a lagging
//! listing, jobs ageing out, odd endings, one account's role refused for a
//! while, one run with `--since`, one broken listing, one run whose
//! NextTokens expire, one killed run).
//!
//! After every run the database is checked against the emulator's truth and
//! `verify` is run: every job differs from the truth only where `verify`
//! reports it or where the listing's lag hides the change (the next run
//! records it), and every failed target is named and kept its checkpoint.
//! At the end, with the faults gone, two runs make the database exact and
//! `verify` silent.
//!
//! Size: `CHAOS_RUNS` runs (default 8) over `CHAOS_JOBS` jobs per target
//! (default 300), seed `CHAOS_SEED` (default 7). `just chaos` runs a larger one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use backup_emulator::{
    BrokenPaging, Burst, Emulator, EmulatorConfig, Endings, Faults, ThrottleStatus,
};
use backup_model::CopyJob;
use serde_json::Value;

use crate::support::*;

const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// The account whose role is refused for a while.
const REFUSED: &str = "333333333333";
const LAG: Duration = Duration::from_secs(120);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn cmd(command: &str, url: &str, emu: &Emulator) -> tokio::process::Command {
    let mut cmd = binary();
    cmd.args([
        command,
        "--quiet",
        "--initial-backoff-ms",
        "5",
        "--endpoint-url",
    ])
    .arg(emu.endpoint_url())
    .args(["--role-arn", "arn:aws:iam::{account}:role/BackupAudit"])
    .args(["--account", &ACCOUNTS.join(",")])
    .env("DATABASE_URL", url);
    other_services_at(&mut cmd, &emu.endpoint_url());
    for region in REGIONS {
        cmd.args(["--region", region]);
    }
    cmd
}

async fn checkpoints(pool: &sqlx::PgPool) -> BTreeMap<String, String> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT account_id, region, audit_rfc3339(listed_through) FROM ingest_checkpoints",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(a, r, t)| (format!("{a}/{r}"), t))
        .collect()
}

/// `verify --format json`: its exit code and the ids it names.
async fn verify(url: &str, emu: &Emulator) -> (Option<i32>, BTreeSet<String>, String) {
    let out = run(cmd("verify", url, emu).args(["--format", "json", "--max-results", "25"])).await;
    let text = stderr(&out);
    let differences: Vec<Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify printed no JSON ({e}): {text}"));
    let ids = differences
        .iter()
        .map(|d| d["copy_job_id"].as_str().unwrap().to_owned())
        .collect();
    (out.status.code(), ids, text)
}

/// The jobs of a target where the database differs from the truth now and
/// from the truth as the lagging listing shows it.
async fn unexplained(
    pool: &sqlx::PgPool,
    emu: &Emulator,
    lag: Duration,
) -> BTreeSet<(String, String)> {
    let mut ids = BTreeSet::new();
    for account in ACCOUNTS {
        for region in REGIONS {
            let stored = stored_jobs_of(pool, account, region).await;
            let now: BTreeMap<String, CopyJob> = truth_of(emu, account, region);
            let lagged: BTreeMap<String, CopyJob> = emu
                .jobs_as_of(
                    account,
                    region,
                    emu.now()
                        .add_millis(-i64::try_from(lag.as_millis()).unwrap()),
                )
                .into_iter()
                .map(|j| (j.copy_job_id.clone().unwrap(), j))
                .collect();
            for (id, job) in &now {
                let db = stored.get(id);
                if db != Some(job) && db != lagged.get(id) {
                    ids.insert((format!("{account}/{region}"), id.clone()));
                }
            }
            // Rows AWS no longer has: fine when finished or marked gone.
            let open_unknown: Vec<String> = sqlx::query_scalar(
                "SELECT copy_job_id FROM copy_jobs WHERE account_id = $1 AND region = $2 \
                 AND gone_at IS NULL AND (state IS NULL OR state NOT IN ('COMPLETED', 'FAILED', 'PARTIAL'))",
            )
            .bind(account)
            .bind(region)
            .fetch_all(pool)
            .await
            .unwrap();
            for id in open_unknown {
                if !now.contains_key(&id) && !lagged.contains_key(&id) {
                    ids.insert((format!("{account}/{region}"), id));
                }
            }
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn cron_like_ingests_under_chaos_end_exact() {
    let runs = env_number("CHAOS_RUNS", 8).max(7);
    let jobs = env_number("CHAOS_JOBS", 300) as usize;
    let seed = env_number("CHAOS_SEED", 7);
    let mut rng = Rng(seed);
    let url = database();
    migrate(&url).await;
    let pool = connect(&url).await;
    let emu = emulator_with(EmulatorConfig {
        seed,
        jobs_per_target: jobs,
        accounts: ACCOUNTS.map(String::from).to_vec(),
        regions: REGIONS.map(String::from).to_vec(),
        start: clock_start(),
        history: Duration::from_secs(2 * 86_400),
        retention: Some(Duration::from_secs(86_400)),
        endings: Endings {
            failed_without_completion_rate: 0.05,
            unknown_state_rate: 0.03,
            ..Endings::default()
        },
        ..EmulatorConfig::default()
    })
    .await;

    // Which run does what: distinct runs after the first.
    let special = |k: u64| 1 + (seed + k) % (runs - 1);
    let since_run = special(0);
    let broken_run = special(1).max(1);
    let killed_run = special(2);
    let refused = special(3)..special(3) + 2;
    let expiring_run = special(5);
    for i in 0..runs {
        let lag = if i % 2 == 1 { LAG } else { Duration::ZERO };
        let faults = Faults {
            throttle_burst: Some(Burst {
                length: 2,
                every: 15 + rng.below(10),
            }),
            throttle_status: if rng.below(2) == 0 {
                ThrottleStatus::TooManyRequests
            } else {
                ThrottleStatus::BadRequest
            },
            listing_lag: lag,
            deny_assume_role_accounts: if refused.contains(&i) {
                vec![REFUSED.to_owned()]
            } else {
                Vec::new()
            },
            broken_paging: (i == broken_run).then_some(BrokenPaging::Cycle),
            // NextTokens that expire two calls after they were issued: the
            // listings of concurrent targets interleave, so most fail.
            token_ttl_calls: (i == expiring_run).then_some(2),
            broken_paging_regions: vec![REGIONS[1].to_owned()],
            ..Faults::default()
        };
        emu.set_faults(faults);
        // Cron every 30 to 150 minutes; once, a day and a half while the
        // refused account cannot be read, so its open jobs end and age out
        // (the retention is a day).
        let step = if i == refused.start + 1 {
            36 * 3600
        } else {
            1800 + rng.below(7200)
        };
        emu.advance_clock(Duration::from_secs(step));
        let before = checkpoints(&pool).await;

        let mut ingest = cmd("ingest", &url, &emu);
        ingest.args(["--summary", "json", "--max-results", "25"]);
        if i == since_run {
            let since = emu.now().add_millis(-600_000).to_string();
            ingest.args(["--since", &since]);
        }
        if i == broken_run || i == expiring_run {
            // A re-read from long ago: enough pages for the fault to show.
            ingest.args(["--since", "2000-01-01T00:00:00Z"]);
        }
        let (code, text) = if i == killed_run {
            // Killed once it has started listing.
            let calls = emu.stats().list_calls;
            let mut child = ingest.spawn().unwrap();
            while emu.stats().list_calls < calls + 3 {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            child.kill().await.unwrap();
            (None, String::new())
        } else {
            let out = run(&mut ingest).await;
            (out.status.code(), stderr(&out))
        };
        eprintln!("chaos run {i}: exit {code:?}");
        if i != killed_run {
            assert!(matches!(code, Some(0 | 1)), "run {i}: {text}");
            let summary: Value =
                serde_json::from_str(text.lines().rev().find(|l| l.starts_with('{')).unwrap())
                    .unwrap();
            let failed: Vec<&str> = summary["failed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert_eq!(code == Some(1), !failed.is_empty(), "run {i}: {text}");
            let after = checkpoints(&pool).await;
            for target in &failed {
                assert_eq!(
                    after.get(*target),
                    before.get(*target),
                    "run {i}: failed target {target} moved its checkpoint"
                );
            }
            if refused.contains(&i) {
                assert!(
                    failed.iter().any(|t| t.starts_with(REFUSED)),
                    "run {i}: {text}"
                );
                // The ledger says why the account is not read.
                let ledger: Vec<(String, Option<String>)> = sqlx::query_as(
                    "SELECT last_run_status, last_error FROM report_coverage WHERE account_id = $1",
                )
                .bind(REFUSED)
                .fetch_all(&pool)
                .await
                .unwrap();
                assert_eq!(ledger.len(), REGIONS.len(), "run {i}");
                for (status, error) in ledger {
                    assert_eq!(status, "failed", "run {i}");
                    assert!(error.is_some_and(|e| !e.is_empty()), "run {i}");
                }
            }
            if i == broken_run {
                assert!(text.contains("NextToken"), "run {i}: {text}");
            }
            if i == expiring_run {
                assert!(
                    !failed.is_empty(),
                    "run {i}: no listing met an expired token"
                );
            }
            if i == since_run {
                assert_eq!(after, before, "run {i}: --since moved a checkpoint");
            }
        }

        // Every difference from the truth is reported by verify, or hidden
        // by the listing's lag (the next run records it); a target verify
        // cannot list is named on stderr (exit 2).
        let (vcode, reported, vtext) = verify(&url, &emu).await;
        if refused.contains(&i) || i == broken_run {
            assert_eq!(vcode, Some(2), "run {i} verify: {vtext}");
        } else {
            let want = if vtext.contains("cannot verify") {
                2
            } else if reported.is_empty() {
                0
            } else {
                1
            };
            assert_eq!(vcode, Some(want), "run {i} verify: {vtext}");
        }
        let silent: Vec<(String, String)> = unexplained(&pool, &emu, lag)
            .await
            .into_iter()
            .filter(|(target, id)| {
                !reported.contains(id) && !vtext.contains(&format!("cannot verify {target}:"))
            })
            .collect();
        assert!(
            silent.is_empty(),
            "run {i}: differences verify does not report: {silent:?}"
        );
    }

    // Calm: no fault, no lag, a day later (jobs in a state the model does
    // not know are described again after a day). Two runs later the record
    // is exact.
    emu.set_faults(Faults::default());
    emu.advance_clock(Duration::from_secs(25 * 3600));
    for _ in 0..2 {
        let out = run(cmd("ingest", &url, &emu).args(["--max-results", "100"])).await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // Every job AWS shows is stored exactly; the rows it no longer shows are
    // finished or marked gone.
    for account in ACCOUNTS {
        for region in REGIONS {
            let stored = stored_jobs_of(&pool, account, region).await;
            let want = truth_of(&emu, account, region);
            assert!(
                !want.is_empty(),
                "{account}/{region}: the emulator serves jobs"
            );
            for (id, job) in &want {
                assert_eq!(stored.get(id), Some(job), "{account}/{region}: job {id}");
            }
        }
    }
    let left = unexplained(&pool, &emu, Duration::ZERO).await;
    assert!(left.is_empty(), "{left:?}");
    assert_no_duplicate_history(&pool).await;
    let (code, reported, text) = verify(&url, &emu).await;
    assert_eq!((code, reported.len()), (Some(0), 0), "{text}");
    let gone = count(
        &pool,
        "SELECT count(*) FROM copy_jobs WHERE gone_at IS NOT NULL",
    )
    .await;
    let uncovered = count(
        &pool,
        "SELECT count(*) FROM report_coverage WHERE covered_through IS NULL OR open_gaps > 0",
    )
    .await;
    eprintln!("chaos: {runs} runs, {jobs} jobs per target, seed {seed}: {gone} jobs gone");
    assert_eq!(uncovered, 0, "every target covered, no gap left");
}
