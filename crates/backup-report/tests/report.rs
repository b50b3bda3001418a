//! The report queries and views against a real PostgreSQL server, on a known
//! data set: every number is compared with one computed here, in Rust, from
//! the same jobs.

#[path = "../../backup-ingest/tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};

use backup_ingest::{Observation, Store};
use backup_model::{CopyJob, Timestamp};
use backup_report::query::{self as report, ReportFilter};
use backup_report::Bytes;
use common::*;
use serde_json::json;

const ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const VAULTS: [&str; 3] = [
    "arn:aws:backup:eu-central-1:999999999999:backup-vault:dr",
    "arn:aws:backup:us-west-2:888888888888:backup-vault:vault-lock",
    "arn:aws:backup:eu-west-1:111111111111:backup-vault:local",
];
const STATES: [&str; 8] = [
    "COMPLETED",
    "COMPLETED",
    "COMPLETED",
    "FAILED",
    "COMPLETED",
    "RUNNING",
    "COMPLETED",
    "CREATED",
];
const DAY_MS: i64 = 86_400_000;

/// A row of `report_daily` without its percentiles (nor `partial`, which
/// is always 0 there: parents are not counted).
type DailyViewRow = (
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    i64,
    Bytes,
    Bytes,
);
/// A row of `report_state_transitions`: from, to, entered, left, seconds.
type Transition = (Option<String>, String, String, Option<String>, Option<f64>);

fn base() -> Timestamp {
    ts("2026-03-01T00:00:00Z")
}

/// A job as stored: its key's account and region, and its final version.
#[derive(Debug, Clone)]
struct Known {
    account: String,
    region: String,
    job: CopyJob,
}

impl Known {
    fn state(&self) -> Option<String> {
        self.job.state.as_ref().map(|s| s.to_string())
    }
    fn is_parent(&self) -> bool {
        self.job.is_parent == Some(true)
    }
    fn created(&self) -> Option<Timestamp> {
        self.job.creation_date
    }
    fn duration(&self) -> Option<f64> {
        if self.state().as_deref() != Some("COMPLETED") {
            return None;
        }
        let (c, d) = (self.job.creation_date?, self.job.completion_date?);
        Some((d.as_millis() - c.as_millis()) as f64 / 1000.0)
    }
    fn size(&self) -> i128 {
        i128::from(self.job.backup_size_in_bytes.unwrap_or(0))
    }
    fn day(&self) -> Option<String> {
        self.created().map(|t| t.to_string()[..10].to_owned())
    }
}

/// The data set: 96 generated standalone jobs over five days, two accounts,
/// two regions and three destination vaults; a composite job with three
/// children; a resource that never had a completed copy; a job without dates.
fn dataset() -> Vec<Known> {
    let mut out = Vec::new();
    for i in 0..96i64 {
        let account = ACCOUNTS[(i % 2) as usize];
        let region = REGIONS[((i / 2) % 2) as usize];
        let state = STATES[(i % 8) as usize];
        let created = base().add_millis((i % 5) * DAY_MS + (i * 7_919_000) % (20 * 3_600_000) + i);
        let duration_ms = 30_000 + (i * i * 104_729) % 7_200_000;
        let resource = i % 12;
        let resource_type = ["EBS", "EC2", "RDS"][(i % 3) as usize];
        let mut job = json!({
            "AccountId": account,
            "CopyJobId": format!("job-{i:03}"),
            "State": state,
            "CreationDate": created.to_string(),
            "ResourceArn": format!("arn:aws:ec2:{region}:{account}:volume/vol-{resource:02}"),
            "ResourceType": resource_type,
            "SourceBackupVaultArn": format!("arn:aws:backup:{region}:{account}:backup-vault:Default"),
            "DestinationBackupVaultArn": VAULTS[(i % 3) as usize],
        });
        if resource < 6 {
            job["ResourceName"] = json!(format!("volume-{resource}"));
        }
        if i % 11 != 0 {
            job["BackupSizeInBytes"] = json!((i + 1) * 123_456_789);
        }
        if matches!(state, "COMPLETED" | "FAILED") {
            job["CompletionDate"] = json!(created.add_millis(duration_ms).to_string());
        }
        if state == "FAILED" {
            if i % 2 == 0 {
                job["MessageCategory"] = json!("ACCESS_DENIED");
                job["StatusMessage"] = json!("Access denied to the destination vault");
            } else {
                job["MessageCategory"] = json!("INVALID_PARAMETERS");
                job["StatusMessage"] = json!("The KMS key is disabled");
            }
        }
        out.push(Known {
            account: account.to_owned(),
            region: region.to_owned(),
            job: common::job(job),
        });
    }

    // A composite copy: the parent is PARTIAL, one child of three failed.
    let parent_created = base().add_millis(DAY_MS + 3_600_000);
    out.push(Known {
        account: ACCOUNTS[0].to_owned(),
        region: REGIONS[0].to_owned(),
        job: common::job(json!({
            "AccountId": ACCOUNTS[0],
            "CopyJobId": "parent-1",
            "State": "PARTIAL",
            "IsParent": true,
            "NumberOfChildJobs": 3,
            "CreationDate": parent_created.to_string(),
            "CompletionDate": parent_created.add_millis(7_200_000).to_string(),
            "BackupSizeInBytes": 6_000_000_000i64,
            "ResourceArn": "arn:aws:cloudformation:eu-west-1:111111111111:stack/app/1",
            "ResourceType": "CloudFormation",
            "StatusMessage": "1 of 3 child jobs failed",
            "DestinationBackupVaultArn": VAULTS[0],
        })),
    });
    for k in 1..=3i64 {
        let created = parent_created.add_millis(k * 1000);
        let state = if k == 3 { "FAILED" } else { "COMPLETED" };
        let mut job = json!({
            "AccountId": ACCOUNTS[0],
            "CopyJobId": format!("child-{k}"),
            "ParentJobId": "parent-1",
            "State": state,
            "CreationDate": created.to_string(),
            "CompletionDate": created.add_millis(k * 600_000).to_string(),
            "BackupSizeInBytes": k * 1_000_000_000,
            "ResourceArn": format!("arn:aws:dynamodb:eu-west-1:111111111111:table/t{k}"),
            "ResourceType": "DynamoDB",
            "DestinationBackupVaultArn": VAULTS[0],
        });
        if state == "FAILED" {
            job["MessageCategory"] = json!("ACCESS_DENIED");
            job["StatusMessage"] = json!("Access denied to the destination vault");
        }
        out.push(Known {
            account: ACCOUNTS[0].to_owned(),
            region: REGIONS[0].to_owned(),
            job: common::job(job),
        });
    }

    // A database whose copies always fail.
    for k in 0..2i64 {
        let created = base().add_millis(2 * DAY_MS + k * 3_600_000);
        out.push(Known {
            account: ACCOUNTS[1].to_owned(),
            region: REGIONS[0].to_owned(),
            job: common::job(json!({
                "AccountId": ACCOUNTS[1],
                "CopyJobId": format!("never-{k}"),
                "State": "FAILED",
                "CreationDate": created.to_string(),
                "CompletionDate": created.add_millis(5_000).to_string(),
                "ResourceArn": "arn:aws:rds:eu-west-1:222222222222:db:never",
                "ResourceName": "never",
                "ResourceType": "RDS",
                "MessageCategory": "INVALID_PARAMETERS",
                "StatusMessage": "The KMS key is disabled",
                "DestinationBackupVaultArn": VAULTS[1],
            })),
        });
    }

    // A job AWS listed without any date.
    out.push(Known {
        account: ACCOUNTS[0].to_owned(),
        region: REGIONS[1].to_owned(),
        job: common::job(json!({
            "AccountId": ACCOUNTS[0],
            "CopyJobId": "undated",
            "State": "CREATED",
            "BackupSizeInBytes": 42,
        })),
    });
    out
}

fn observation(k: &Known, at: &str) -> Observation {
    Observation {
        account_id: k.account.clone(),
        region: k.region.clone(),
        observed_at: ts(at),
        job: k.job.clone(),
    }
}

/// Stores the data set with some history: jobs 0, 8, 16, ... were seen
/// RUNNING on March 9 and 10 (with a size change in between) before their
/// final version on March 11; every other job is seen once on March 10 and
/// again, unchanged, on March 11.
async fn loaded(jobs: &[Known]) -> Store {
    let store = migrated_store().await;
    let early = |k: &Known, size: i64| {
        let mut running = k.clone();
        running.job.state = Some("RUNNING".into());
        running.job.completion_date = None;
        running.job.backup_size_in_bytes = Some(size);
        running
    };
    let revisited: Vec<&Known> = jobs
        .iter()
        .filter(|k| {
            k.job.copy_job_id.as_deref().is_some_and(|id| {
                id.strip_prefix("job-")
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|n| n % 8 == 0)
            })
        })
        .collect();
    let first: Vec<Observation> = revisited
        .iter()
        .map(|k| observation(&early(k, 1), "2026-03-09T00:00:00Z"))
        .collect();
    store.write_batch(1, &first).await.unwrap();
    let second: Vec<Observation> = jobs
        .iter()
        .map(|k| {
            if revisited
                .iter()
                .any(|r| r.job.copy_job_id == k.job.copy_job_id)
            {
                observation(&early(k, 2), "2026-03-10T00:00:00Z")
            } else {
                observation(k, "2026-03-10T00:00:00Z")
            }
        })
        .collect();
    store.write_batch(2, &second).await.unwrap();
    let third: Vec<Observation> = jobs
        .iter()
        .map(|k| observation(k, "2026-03-11T00:00:00Z"))
        .collect();
    let outcome = store.write_batch(3, &third).await.unwrap();
    assert_eq!(outcome.changed, revisited.len() as u64);
    assert!(outcome.rejected.is_empty());
    store
}

fn selected<'a>(jobs: &'a [Known], f: &ReportFilter) -> Vec<&'a Known> {
    jobs.iter()
        .filter(|k| {
            f.since.is_none_or(|s| k.created().is_some_and(|c| c >= s))
                && f.until.is_none_or(|u| k.created().is_some_and(|c| c < u))
                && f.account_id.as_ref().is_none_or(|a| *a == k.account)
                && f.region.as_ref().is_none_or(|r| *r == k.region)
        })
        .collect()
}

/// `percentile_cont`: linear interpolation between the closest ranks.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = p * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (pos - lo as f64) * (v[hi] - v[lo]))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * (1.0 + a.abs().max(b.abs()))
}

fn close_opt(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => close(a, b),
        (None, None) => true,
        _ => false,
    }
}

fn filters() -> Vec<ReportFilter> {
    vec![
        ReportFilter::default(),
        ReportFilter {
            since: Some(base().add_millis(DAY_MS)),
            until: Some(base().add_millis(4 * DAY_MS)),
            account_id: Some(ACCOUNTS[0].to_owned()),
            region: None,
        },
        ReportFilter {
            region: Some(REGIONS[1].to_owned()),
            ..ReportFilter::default()
        },
        ReportFilter {
            since: Some(base().add_millis(2 * DAY_MS + 1)),
            ..ReportFilter::default()
        },
    ]
}

#[tokio::test]
async fn summary_and_failures_match_the_data_set() {
    let jobs = dataset();
    let store = loaded(&jobs).await;
    for f in filters() {
        let chosen = selected(&jobs, &f);

        let mut expected: BTreeMap<String, (i64, i128)> = BTreeMap::new();
        for k in chosen.iter().filter(|k| !k.is_parent()) {
            let e = expected.entry(k.state().unwrap()).or_default();
            e.0 += 1;
            e.1 += k.size();
        }
        assert!(!expected.is_empty(), "summary expectations with {f:?}");
        let got = report::summary(store.pool(), &f).await.unwrap();
        let got: BTreeMap<String, (i64, i128)> = got
            .into_iter()
            .map(|r| (r.state.unwrap(), (r.jobs, r.bytes.0)))
            .collect();
        assert_eq!(got, expected, "summary with {f:?}");

        let mut expected: Vec<(Option<Timestamp>, String, String, String)> = chosen
            .iter()
            .filter(|k| matches!(k.state().as_deref(), Some("FAILED" | "PARTIAL")))
            .map(|k| {
                (
                    k.created(),
                    k.account.clone(),
                    k.region.clone(),
                    k.job.copy_job_id.clone().unwrap(),
                )
            })
            .collect();
        expected.sort();
        let got = report::failures(store.pool(), &f).await.unwrap();
        let ids: Vec<_> = got
            .iter()
            .map(|r| {
                (
                    r.creation_date.map(|t| t.0),
                    r.account_id.clone(),
                    r.region.clone(),
                    r.copy_job_id.clone(),
                )
            })
            .collect();
        assert_eq!(ids, expected, "failures with {f:?}");
        for row in &got {
            let k = jobs
                .iter()
                .find(|k| k.job.copy_job_id.as_deref() == Some(&row.copy_job_id))
                .unwrap();
            assert_eq!(row.state, k.state().unwrap());
            assert_eq!(row.status_message, k.job.status_message);
            assert_eq!(row.message_category, k.job.message_category);
            assert_eq!(row.resource_arn, k.job.resource_arn);
            assert_eq!(
                row.destination_backup_vault_arn,
                k.job.destination_backup_vault_arn
            );
            assert_eq!(row.completion_date.map(|t| t.0), k.job.completion_date);
            assert_eq!(row.is_parent, k.is_parent());
            assert_eq!(row.parent_job_id, k.job.parent_job_id);
        }
    }
    // The unfiltered failures: 12 generated, the failed child, the parent,
    // and the two copies of the database that never completes.
    assert_eq!(
        report::failures(store.pool(), &ReportFilter::default())
            .await
            .unwrap()
            .len(),
        16
    );
}

#[tokio::test]
async fn daily_durations_and_vaults_match_the_data_set() {
    let jobs = dataset();
    let store = loaded(&jobs).await;
    for f in filters() {
        let chosen: Vec<&Known> = selected(&jobs, &f)
            .into_iter()
            .filter(|k| !k.is_parent())
            .collect();

        // daily
        type DayKey = (String, String, String, Option<String>);
        let mut groups: BTreeMap<DayKey, Vec<&Known>> = BTreeMap::new();
        for k in chosen.iter().filter(|k| k.created().is_some()) {
            groups
                .entry((
                    k.day().unwrap(),
                    k.account.clone(),
                    k.region.clone(),
                    k.job.destination_backup_vault_arn.clone(),
                ))
                .or_default()
                .push(k);
        }
        assert!(!groups.is_empty(), "daily expectations with {f:?}");
        let got = report::daily(store.pool(), &f).await.unwrap();
        assert_eq!(got.len(), groups.len(), "daily rows with {f:?}");
        for (row, (key, group)) in got.iter().zip(&groups) {
            let count = |s: &str| {
                group
                    .iter()
                    .filter(|k| k.state().as_deref() == Some(s))
                    .count() as i64
            };
            let durations: Vec<f64> = group.iter().filter_map(|k| k.duration()).collect();
            assert_eq!(
                (
                    &row.day,
                    &row.account_id,
                    &row.region,
                    &row.destination_backup_vault_arn
                ),
                (&key.0, &key.1, &key.2, &key.3)
            );
            assert_eq!(row.jobs, group.len() as i64);
            assert_eq!(row.created, count("CREATED"));
            assert_eq!(row.running, count("RUNNING"));
            assert_eq!(row.completed, count("COMPLETED"));
            assert_eq!(row.failed, count("FAILED"));
            assert_eq!(row.bytes, Bytes(group.iter().map(|k| k.size()).sum()));
            assert_eq!(
                row.completed_bytes.0,
                group
                    .iter()
                    .filter(|k| k.state().as_deref() == Some("COMPLETED"))
                    .map(|k| k.size())
                    .sum::<i128>()
            );
            assert!(
                close_opt(row.median_seconds, percentile(&durations, 0.5)),
                "{row:?}"
            );
            assert!(
                close_opt(row.p95_seconds, percentile(&durations, 0.95)),
                "{row:?}"
            );
        }

        // durations
        let mut by_type: BTreeMap<Option<String>, Vec<&Known>> = BTreeMap::new();
        for k in chosen.iter().filter(|k| k.duration().is_some()) {
            by_type
                .entry(k.job.resource_type.clone())
                .or_default()
                .push(k);
        }
        assert!(!by_type.is_empty(), "duration expectations with {f:?}");
        let got = report::durations(store.pool(), &f).await.unwrap();
        assert_eq!(got.len(), by_type.len(), "duration rows with {f:?}");
        for (row, (kind, group)) in got.iter().zip(&by_type) {
            let d: Vec<f64> = group.iter().filter_map(|k| k.duration()).collect();
            assert_eq!(&row.resource_type, kind);
            assert_eq!(row.copies, d.len() as i64);
            assert!(close(
                row.min_seconds,
                d.iter().copied().fold(f64::INFINITY, f64::min)
            ));
            assert!(close(
                row.max_seconds,
                d.iter().copied().fold(0.0, f64::max)
            ));
            assert!(close(
                row.mean_seconds,
                d.iter().sum::<f64>() / d.len() as f64
            ));
            assert!(close(row.median_seconds, percentile(&d, 0.5).unwrap()));
            assert!(close(row.p95_seconds, percentile(&d, 0.95).unwrap()));
            assert_eq!(row.bytes, Bytes(group.iter().map(|k| k.size()).sum()));
        }

        // vaults
        let mut by_vault: BTreeMap<Option<String>, Vec<&Known>> = BTreeMap::new();
        for k in &chosen {
            by_vault
                .entry(k.job.destination_backup_vault_arn.clone())
                .or_default()
                .push(k);
        }
        let got = report::vaults(store.pool(), &f).await.unwrap();
        // BTreeMap puts None first; the report puts it last.
        let mut expected: Vec<_> = by_vault.into_iter().collect();
        let unnamed = usize::from(expected.first().is_some_and(|e| e.0.is_none()));
        expected.rotate_left(unnamed);
        assert_eq!(got.len(), expected.len(), "vault rows with {f:?}");
        for (row, (vault, group)) in got.iter().zip(&expected) {
            let count = |s: &str| {
                group
                    .iter()
                    .filter(|k| k.state().as_deref() == Some(s))
                    .count() as i64
            };
            let completed: Vec<&&Known> = group
                .iter()
                .filter(|k| k.state().as_deref() == Some("COMPLETED"))
                .collect();
            assert_eq!(&row.destination_backup_vault_arn, vault);
            let part = |n: usize| {
                vault
                    .as_ref()
                    .map(|v| v.split(':').nth(n).unwrap().to_owned())
            };
            assert_eq!(row.destination_account_id, part(4));
            assert_eq!(row.destination_region, part(3));
            assert_eq!(row.jobs, group.len() as i64);
            assert_eq!(row.completed, count("COMPLETED"));
            assert_eq!(row.failed, count("FAILED"));
            let resources: BTreeSet<_> = group
                .iter()
                .filter_map(|k| k.job.resource_arn.clone())
                .collect();
            assert_eq!(row.resources, resources.len() as i64);
            assert_eq!(row.bytes, Bytes(group.iter().map(|k| k.size()).sum()));
            assert_eq!(
                row.completed_bytes.0,
                completed.iter().map(|k| k.size()).sum::<i128>()
            );
            assert_eq!(
                row.last_completed_at.map(|t| t.0),
                completed
                    .iter()
                    .map(|k| k.job.completion_date.or(k.created()).unwrap())
                    .max()
            );
        }
    }
}

#[tokio::test]
async fn stale_lists_resources_without_a_recent_completed_copy() {
    let jobs = dataset();
    let store = loaded(&jobs).await;
    for (cutoff, f) in [
        (base().add_millis(3 * DAY_MS), ReportFilter::default()),
        (
            base().add_millis(2 * DAY_MS + 43_200_000),
            ReportFilter::default(),
        ),
        (
            base().add_millis(4 * DAY_MS),
            ReportFilter {
                account_id: Some(ACCOUNTS[1].to_owned()),
                region: Some(REGIONS[0].to_owned()),
                ..ReportFilter::default()
            },
        ),
    ] {
        // Every job with a resource counts here, parents included.
        let mut per: BTreeMap<(String, String, String), Vec<&Known>> = BTreeMap::new();
        for k in selected(&jobs, &f) {
            if let Some(arn) = &k.job.resource_arn {
                per.entry((k.account.clone(), k.region.clone(), arn.clone()))
                    .or_default()
                    .push(k);
            }
        }
        let mut expected = Vec::new();
        for (key, group) in &per {
            let last_ok = group
                .iter()
                .filter(|k| k.state().as_deref() == Some("COMPLETED"))
                .max_by_key(|k| k.job.completion_date.or(k.created()));
            let last_ok_at = last_ok.and_then(|k| k.job.completion_date.or(k.created()));
            if last_ok_at.is_some_and(|t| t >= cutoff) {
                continue;
            }
            let latest = group.iter().max_by_key(|k| k.created()).unwrap();
            expected.push((
                last_ok_at,
                key.clone(),
                last_ok.and_then(|k| k.job.copy_job_id.clone()),
                latest.created(),
                latest.state(),
                group.len() as i64,
                group
                    .iter()
                    .filter(|k| matches!(k.state().as_deref(), Some("FAILED" | "PARTIAL")))
                    .count() as i64,
                latest.job.resource_name.clone(),
            ));
        }
        expected.sort();
        let got: Vec<_> = report::stale(store.pool(), &f, cutoff)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.last_completed_at.map(|t| t.0),
                    (r.account_id, r.region, r.resource_arn),
                    r.last_completed_copy_job_id,
                    r.last_attempt_at.map(|t| t.0),
                    r.last_attempt_state,
                    r.copies,
                    r.failed_copies,
                    r.resource_name,
                )
            })
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(got, expected, "stale before {cutoff} with {f:?}");
    }
    // Before any copy, the stale resources are those never copied
    // successfully: three volumes (only FAILED and CREATED jobs), the
    // database, the failed child's table and the PARTIAL stack.
    let never = report::stale(store.pool(), &ReportFilter::default(), base())
        .await
        .unwrap();
    let arns: Vec<&str> = never.iter().map(|r| r.resource_arn.as_str()).collect();
    assert_eq!(
        arns,
        [
            "arn:aws:cloudformation:eu-west-1:111111111111:stack/app/1",
            "arn:aws:dynamodb:eu-west-1:111111111111:table/t3",
            "arn:aws:rds:eu-west-1:222222222222:db:never",
            "arn:aws:ec2:us-east-1:222222222222:volume/vol-03",
            "arn:aws:ec2:us-east-1:222222222222:volume/vol-07",
            "arn:aws:ec2:us-east-1:222222222222:volume/vol-11",
        ]
    );
    assert!(never.iter().all(|r| r.last_completed_at.is_none()));
    assert_eq!(never[2].failed_copies, 2);
}

#[tokio::test]
async fn chart_queries_match_the_data_set() {
    let jobs = dataset();
    let store = loaded(&jobs).await;
    let f = ReportFilter::default();
    let durations: Vec<f64> = jobs
        .iter()
        .filter(|k| !k.is_parent())
        .filter_map(|k| k.duration())
        .collect();
    let bins = report::duration_histogram(store.pool(), &f, 12)
        .await
        .unwrap();
    assert_eq!(bins.len(), 12);
    let max = durations.iter().copied().fold(0.0, f64::max);
    assert!(close(bins[11].upper_seconds, max));
    for (i, bin) in bins.iter().enumerate() {
        let inside = durations
            .iter()
            .filter(|d| {
                **d >= bin.lower_seconds && (**d < bin.upper_seconds || (i == 11 && **d <= max))
            })
            .count() as i64;
        assert_eq!(bin.copies, inside, "bin {i}: {bin:?}");
    }
    assert_eq!(
        bins.iter().map(|b| b.copies).sum::<i64>(),
        durations.len() as i64
    );

    let all = report::failures(store.pool(), &f).await.unwrap();
    let (latest, total) = report::latest_failures(store.pool(), &f, 5).await.unwrap();
    assert_eq!(total, all.len() as i64);
    let newest: Vec<_> = all.iter().rev().take(5).cloned().collect();
    assert_eq!(latest, newest);

    let failed: Vec<&Known> = jobs
        .iter()
        .filter(|k| matches!(k.state().as_deref(), Some("FAILED" | "PARTIAL")))
        .collect();
    let mut messages: BTreeMap<String, i64> = BTreeMap::new();
    let mut resources: BTreeMap<String, i64> = BTreeMap::new();
    for k in &failed {
        let message = k
            .job
            .status_message
            .clone()
            .or(k.job.message_category.clone())
            .unwrap_or_else(|| "(no message)".into());
        *messages.entry(message).or_default() += 1;
        let resource = k
            .job
            .resource_name
            .clone()
            .or(k.job.resource_arn.clone())
            .unwrap_or_else(|| "(no resource)".into());
        *resources.entry(resource).or_default() += 1;
    }
    let top = |counts: BTreeMap<String, i64>, n: usize| {
        let mut v: Vec<(String, i64)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    };
    let got: Vec<(String, i64)> = report::top_failure_messages(store.pool(), &f, 5)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.label, r.failures))
        .collect();
    assert_eq!(got, top(messages, 5));
    let got: Vec<(String, i64)> = report::top_failing_resources(store.pool(), &f, 4)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.label, r.failures))
        .collect();
    assert_eq!(got, top(resources, 4));
}

#[tokio::test]
async fn the_views_agree_with_the_reports() {
    let jobs = dataset();
    let store = loaded(&jobs).await;

    // report_daily is the daily report without filters.
    let rows: Vec<DailyViewRow> = sqlx::query_as(
        "SELECT to_char(day, 'YYYY-MM-DD'), account_id, region, destination_backup_vault_arn,
                jobs, created, running, completed, failed, bytes, completed_bytes
             FROM report_daily
             ORDER BY day, account_id, region, destination_backup_vault_arn",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let percentiles: Vec<(Option<f64>, Option<f64>)> = sqlx::query_as(
        "SELECT median_seconds, p95_seconds FROM report_daily
         ORDER BY day, account_id, region, destination_backup_vault_arn",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let daily = report::daily(store.pool(), &ReportFilter::default())
        .await
        .unwrap();
    assert_eq!(rows.len(), daily.len());
    for ((view, (median, p95)), row) in rows.iter().zip(&percentiles).zip(&daily) {
        assert_eq!(
            view,
            &(
                row.day.clone(),
                row.account_id.clone(),
                row.region.clone(),
                row.destination_backup_vault_arn.clone(),
                row.jobs,
                row.created,
                row.running,
                row.completed,
                row.failed,
                row.bytes,
                row.completed_bytes
            )
        );
        assert_eq!((*median, *p95), (row.median_seconds, row.p95_seconds));
    }

    // report_failures holds the failures report's jobs.
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT copy_job_id FROM report_failures ORDER BY copy_job_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let mut expected: Vec<String> = report::failures(store.pool(), &ReportFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.copy_job_id)
        .collect();
    expected.sort();
    assert_eq!(ids, expected);

    // report_state_transitions collapses versions in the same state: job-008
    // was RUNNING (two versions) from March 9, COMPLETED from March 11.
    let transitions: Vec<Transition> = sqlx::query_as(
        "SELECT from_state, state, audit_rfc3339(entered_at), audit_rfc3339(left_at),
                seconds_in_state
             FROM report_state_transitions WHERE copy_job_id = 'job-008' ORDER BY entered_at",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        transitions,
        vec![
            (
                None,
                "RUNNING".to_owned(),
                "2026-03-09T00:00:00.000Z".to_owned(),
                Some("2026-03-11T00:00:00.000Z".to_owned()),
                Some(172_800.0)
            ),
            (
                Some("RUNNING".to_owned()),
                "COMPLETED".to_owned(),
                "2026-03-11T00:00:00.000Z".to_owned(),
                None,
                None
            ),
        ]
    );
    // A job seen in one state only has one row.
    let single: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM report_state_transitions WHERE copy_job_id = 'job-001'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(single, 1);

    // report_last_successful_copy answers "no completed copy in N days".
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT resource_arn FROM report_last_successful_copy
         WHERE last_completed_at IS NULL OR last_completed_at < $1 ORDER BY 1",
    )
    .bind(backup_ingest::DbTime(base().add_millis(3 * DAY_MS)))
    .fetch_all(store.pool())
    .await
    .unwrap();
    let mut expected: Vec<String> = report::stale(
        store.pool(),
        &ReportFilter::default(),
        base().add_millis(3 * DAY_MS),
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.resource_arn)
    .collect();
    expected.sort();
    assert_eq!(stale, expected);
}

#[tokio::test]
async fn an_empty_database_gives_empty_reports() {
    let store = migrated_store().await;
    let f = ReportFilter::default();
    assert!(report::summary(store.pool(), &f).await.unwrap().is_empty());
    assert!(report::failures(store.pool(), &f).await.unwrap().is_empty());
    assert_eq!(
        report::latest_failures(store.pool(), &f, 5).await.unwrap(),
        (Vec::new(), 0)
    );
    assert!(report::daily(store.pool(), &f).await.unwrap().is_empty());
    assert!(report::durations(store.pool(), &f)
        .await
        .unwrap()
        .is_empty());
    assert!(report::vaults(store.pool(), &f).await.unwrap().is_empty());
    assert!(report::stale(store.pool(), &f, Timestamp::now())
        .await
        .unwrap()
        .is_empty());
    assert!(report::duration_histogram(store.pool(), &f, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(report::top_failing_resources(store.pool(), &f, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(report::top_failure_messages(store.pool(), &f, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Regression: sums of sizes near `i64::MAX` (legal `Long` values) failed
/// with `bigint out of range`; they are exact now, in every report.
#[tokio::test]
async fn sums_near_i64_max_are_exact() {
    let store = migrated_store().await;
    let size = i64::MAX - 7;
    let observations: Vec<Observation> = (0..3)
        .map(|i| Observation {
            account_id: ACCOUNTS[0].to_owned(),
            region: REGIONS[0].to_owned(),
            observed_at: ts("2026-03-02T00:00:00Z"),
            job: common::job(json!({
                "AccountId": ACCOUNTS[0],
                "CopyJobId": format!("huge-{i}"),
                "State": "COMPLETED",
                "CreationDate": "2026-03-01T10:00:00.000Z",
                "CompletionDate": "2026-03-01T11:00:00.000Z",
                "BackupSizeInBytes": size,
                "ResourceArn": format!("arn:aws:s3:::bucket-{i}"),
                "ResourceType": "S3",
                "DestinationBackupVaultArn": VAULTS[0],
            })),
        })
        .collect();
    store.write_batch(1, &observations).await.unwrap();
    let total = Bytes(3 * i128::from(size));
    let f = ReportFilter::default();
    let pool = store.pool();
    assert_eq!(report::summary(pool, &f).await.unwrap()[0].bytes, total);
    let daily = &report::daily(pool, &f).await.unwrap()[0];
    assert_eq!((daily.bytes, daily.completed_bytes), (total, total));
    assert_eq!(report::durations(pool, &f).await.unwrap()[0].bytes, total);
    let vault = &report::vaults(pool, &f).await.unwrap()[0];
    assert_eq!((vault.bytes, vault.completed_bytes), (total, total));
    let account = &report::accounts(pool, &f).await.unwrap()[0];
    assert_eq!(account.completed_bytes, total);
    let (bytes,): (Bytes,) = sqlx::query_as("SELECT sum(bytes) FROM report_daily")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(bytes, total, "the view sums without overflow too");
}

#[tokio::test]
async fn accounts_are_sorted_by_failures() {
    let jobs = dataset();
    let store = loaded(&jobs).await;
    let got = report::accounts(store.pool(), &ReportFilter::default())
        .await
        .unwrap();
    assert_eq!(got.len(), ACCOUNTS.len());
    for row in &got {
        let mine: Vec<&Known> = jobs
            .iter()
            .filter(|k| k.account == row.account_id && !k.is_parent())
            .collect();
        let count = |s: &str| {
            mine.iter()
                .filter(|k| k.state().as_deref() == Some(s))
                .count() as i64
        };
        assert_eq!(row.jobs, mine.len() as i64);
        assert_eq!(row.completed, count("COMPLETED"));
        assert_eq!(row.failed, count("FAILED"));
        assert_eq!(row.open, count("CREATED") + count("RUNNING"));
    }
    assert!(got.windows(2).all(|w| w[0].failed >= w[1].failed));
}
