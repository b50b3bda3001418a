//! How fast `Store::write_batch` stores jobs, next to `psql \copy` of the same
//! rows into the same tables.
//!
//! ```text
//! cargo bench -p backup-ingest --bench store
//! BENCH_JOBS=100000 BENCH_BATCH=2000 BENCH_INDEX_COSTS=1 cargo bench -p backup-ingest --bench store
//! BENCH_DATABASE_URL=postgres://user:pw@host/postgres cargo bench ...   # an existing server
//! ```
//!
//! It prints figures; it asserts nothing about time. Passes:
//! 1. every job new (the first ingest of an account);
//! 2. every job seen again, unchanged (a routine re-list);
//! 3. every job changed (state moved on);
//! 4. the baseline: the rows pass 1 wrote, exported, then loaded with
//!    `psql \copy` into empty tables: `copy_jobs` alone (a new job is its
//!    current row only; `copy_job_history` holds superseded versions), the
//!    floor of a first ingest; and, for comparison with the layout before
//!    migration 0009, the same rows again as history rows;
//! 5. (BENCH_INDEX_COSTS=1) what each report index adds to a `\copy` of
//!    `copy_jobs`.

use std::process::Command;
use std::time::{Duration, Instant};

use backup_ingest::{BatchOutcome, ConnectOptions, Observation, Store};
use backup_model::{CopyJob, CopyJobState, Lifecycle, RecoveryPointCreator, Timestamp};

/// Builds a model structure (they are `#[non_exhaustive]`) from a default
/// and field assignments.
macro_rules! model {
    ($ty:ident { $($field:ident : $value:expr),* $(, ..Default::default())? $(,)? }) => {{
        let mut v = <$ty>::default();
        $( v.$field = $value; )*
        v
    }};
}

const ACCOUNTS: [&str; 4] = [
    "111122223333",
    "222233334444",
    "333344445555",
    "444455556666",
];
/// The content columns of a job (backup-ingest's `MEMBER_COLUMNS`).
const MEMBERS: &str = "account_id_in_job, backup_size_in_bytes, child_jobs_in_state, \
completion_date, composite_member_identifier, created_by_backup_plan_arn, \
created_by_backup_plan_id, created_by_backup_plan_name, created_by_backup_plan_version, \
created_by_backup_rule_cron, created_by_backup_rule_id, created_by_backup_rule_name, \
created_by_backup_rule_timezone, created_by_backup_job_id, creation_date, \
destination_backup_vault_arn, destination_encryption_key_arn, destination_recovery_point_arn, \
lifecycle_delete_after_days, lifecycle_delete_after_event, \
lifecycle_move_to_cold_storage_after_days, lifecycle_opt_in_to_archive_for_supported_resources, \
destination_vault_lock_state, destination_vault_type, iam_role_arn, is_parent, \
message_category, number_of_child_jobs, parent_job_id, resource_arn, resource_name, \
resource_type, source_backup_vault_arn, source_recovery_point_arn, state, status_message, \
unknown_members, created_by_unknown, lifecycle_unknown, content_hash, hash_version";

const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A realistic job (about 1.5 KB of JSON): long ARNs, a backup plan, a
/// lifecycle, sometimes a failure message.
fn synthetic_job(i: usize, state: CopyJobState) -> (String, String, CopyJob) {
    let account = ACCOUNTS[i % ACCOUNTS.len()];
    let region = REGIONS[(i / ACCOUNTS.len()) % REGIONS.len()];
    let dest_region = if region == "eu-west-1" {
        "eu-central-1"
    } else {
        "us-west-2"
    };
    let dest_account = "999988887777";
    let created = Timestamp::from_millis(1_767_225_600_000 + (i as i64) * 25_913).unwrap();
    let uuid = |salt: usize| {
        let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (salt as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            x >> 32,
            (x >> 16) & 0xffff,
            x & 0xfff,
            (x >> 20) & 0xfff,
            x & 0xffff_ffff_ffff
        )
    };
    let resource_kind = i % 3;
    let (resource_arn, resource_type, recovery_point) = match resource_kind {
        0 => (
            format!(
                "arn:aws:ec2:{region}:{account}:instance/i-0{:016x}",
                i * 7919
            ),
            "EC2",
            format!("arn:aws:ec2:{region}::image/ami-0{:016x}", i * 104_729),
        ),
        1 => (
            format!(
                "arn:aws:rds:{region}:{account}:db:orders-db-{:05}",
                i % 20_000
            ),
            "RDS",
            format!(
                "arn:aws:rds:{region}:{account}:snapshot:awsbackup:job-{}",
                uuid(1)
            ),
        ),
        _ => (
            format!(
                "arn:aws:ec2:{region}:{account}:volume/vol-0{:016x}",
                i * 6173
            ),
            "EBS",
            format!("arn:aws:ec2:{region}::snapshot/snap-0{:016x}", i * 3571),
        ),
    };
    let failed = state == CopyJobState::Failed;
    let job = model!(CopyJob {
        account_id: Some(account.to_owned()),
        backup_size_in_bytes: Some(((i as i64) * 7_340_033) % 900_000_000_000),
        completion_date: (!state.is_open())
            .then(|| created.add_millis(600_000 + (i as i64 % 3_600) * 1000)),
        copy_job_id: Some(uuid(0)),
        created_by: Some(model!(RecoveryPointCreator {
            backup_plan_arn: Some(format!(
                "arn:aws:backup:{region}:{account}:backup-plan:{}",
                uuid(2 + i % 5)
            )),
            backup_plan_id: Some(uuid(2 + i % 5)),
            backup_plan_name: Some(format!("daily-35d-retention-with-dr-copy-{}", i % 5)),
            backup_plan_version: Some(
                "NjQ5ZTk2ZjEtYmQyOS00MWI0LTg2YmItZjYxNjU0ZWY5ZGE4LWQ5NWM0YzUxLTk4ZTktNGQ4My05ZWFh"
                    .to_owned(),
            ),
            backup_rule_cron: Some("cron(0 5 ? * * *)".to_owned()),
            backup_rule_id: Some(uuid(10 + i % 5)),
            backup_rule_name: Some("daily-copy-to-dr-region".to_owned()),
            backup_rule_timezone: Some("Etc/UTC".to_owned()),
            ..Default::default()
        })),
        created_by_backup_job_id: Some(uuid(20)),
        creation_date: Some(created),
        destination_backup_vault_arn: Some(format!(
            "arn:aws:backup:{dest_region}:{dest_account}:backup-vault:disaster-recovery-vault-{}",
            i % 4
        )),
        destination_encryption_key_arn: Some(format!(
            "arn:aws:kms:{dest_region}:{dest_account}:key/{}",
            uuid(30 + i % 4)
        )),
        destination_recovery_point_arn: (!state.is_open()).then(|| {
            format!(
                "arn:aws:ec2:{dest_region}::snapshot/snap-0{:016x}",
                i * 7_907
            )
        }),
        destination_recovery_point_lifecycle: Some(model!(Lifecycle {
            delete_after_days: Some(35),
            move_to_cold_storage_after_days: None,
            opt_in_to_archive_for_supported_resources: Some(false),
            ..Default::default()
        })),
        destination_vault_type: Some("BACKUP_VAULT".to_owned()),
        iam_role_arn: Some(format!(
            "arn:aws:iam::{account}:role/service-role/AWSBackupDefaultServiceRole"
        )),
        is_parent: Some(false),
        message_category: Some(if failed { "ACCESS_DENIED" } else { "SUCCESS" }.to_owned()),
        number_of_child_jobs: Some(0),
        resource_arn: Some(resource_arn),
        resource_name: Some(format!(
            "prod-{}-{:05}",
            resource_type.to_lowercase(),
            i % 20_000
        )),
        resource_type: Some(resource_type.to_owned()),
        source_backup_vault_arn: Some(format!(
            "arn:aws:backup:{region}:{account}:backup-vault:Default"
        )),
        source_recovery_point_arn: Some(recovery_point),
        state: Some(state),
        status_message: failed.then(|| {
            "Access denied to the destination vault: the vault access policy does not allow \
             backup:CopyIntoBackupVault for the role. Check the policy.\tCode: 403\n"
                .to_owned()
        }),
        ..Default::default()
    });
    (account.to_owned(), region.to_owned(), job)
}

fn observations(
    n: usize,
    at: Timestamp,
    state: impl Fn(usize) -> CopyJobState,
) -> Vec<Observation> {
    (0..n)
        .map(|i| {
            let (account_id, region, job) = synthetic_job(i, state(i));
            Observation {
                account_id,
                region,
                observed_at: at,
                job,
            }
        })
        .collect()
}

async fn write_all(store: &Store, obs: &[Observation], batch: usize) -> (BatchOutcome, Duration) {
    let started = Instant::now();
    let mut total = BatchOutcome::default();
    for chunk in obs.chunks(batch) {
        total += store.write_batch(1, chunk).await.expect("batch written");
    }
    (total, started.elapsed())
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn report(label: &str, jobs: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{label:<46} {jobs:>7} jobs  {secs:>7.3} s  {:>9.0} jobs/s",
        jobs as f64 / secs
    );
}

/// Runs `psql URL -c SQL`, timing it.
fn psql(url: &str, sql: &str) -> Duration {
    let started = Instant::now();
    let output = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed()
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

async fn fresh_database(admin: &Store, url: &str, name: &str) -> Store {
    // Names are constants of this program, not input.
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(admin.pool())
        .await
        .unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await
        .unwrap();
    let store = Store::connect(&with_database(url, name), ConnectOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::main]
async fn main() {
    let jobs = env_usize("BENCH_JOBS", 100_000);
    let batch = env_usize("BENCH_BATCH", 2_000);
    let server = match std::env::var("BENCH_DATABASE_URL") {
        Ok(_) => None,
        Err(_) => Some(pg_throwaway::TempPostgres::start().expect("throwaway PostgreSQL starts")),
    };
    let url = match (&server, std::env::var("BENCH_DATABASE_URL")) {
        (_, Ok(url)) => url,
        (Some(server), _) => server.url(),
        (None, Err(_)) => unreachable!(),
    };
    let admin = Store::connect(&url, ConnectOptions::default())
        .await
        .unwrap();

    let started = Instant::now();
    let first = observations(
        jobs,
        Timestamp::parse_rfc3339("2026-02-01T00:00:00Z").unwrap(),
        |i| {
            if i % 10 == 0 {
                CopyJobState::Running
            } else {
                CopyJobState::Completed
            }
        },
    );
    let json_bytes: usize = first.iter().map(|o| o.job.to_json_string().len()).sum();
    println!(
        "built {jobs} jobs in {:.2} s, {:.0} bytes of JSON each on average; batches of {batch}",
        started.elapsed().as_secs_f64(),
        json_bytes as f64 / jobs as f64
    );

    let store = fresh_database(&admin, &url, "bench_store").await;
    let (outcome, elapsed) = write_all(&store, &first, batch).await;
    assert_eq!(outcome.new as usize, jobs, "{:?}", outcome.rejected.first());
    report("write_batch, all new", jobs, elapsed);
    let history_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM copy_job_history")
        .fetch_one(store.pool())
        .await
        .unwrap();
    println!("  history rows written for {jobs} new jobs: {history_rows}");

    // The baseline: the same rows, loaded by psql.
    let dir = std::env::temp_dir().join(format!("backup-ingest-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let current_file = dir.join("copy_jobs.tsv");
    let history_file = dir.join("copy_job_history.tsv");
    let store_url = with_database(&url, "bench_store");
    // (A partitioned table or a view is copied out through a query.)
    psql(
        &store_url,
        &format!(
            "\\copy (SELECT * FROM copy_jobs) TO '{}'",
            current_file.display()
        ),
    );
    psql(
        &store_url,
        &format!(
            "\\copy (SELECT * FROM copy_job_history) TO '{}'",
            history_file.display()
        ),
    );

    // The same jobs seen a day later.
    let mut again = first;
    let later = Timestamp::parse_rfc3339("2026-02-02T00:00:00Z").unwrap();
    for o in &mut again {
        o.observed_at = later;
    }
    let (outcome, elapsed) = write_all(&store, &again, batch).await;
    assert_eq!(outcome.unchanged as usize, jobs);
    report("write_batch, all seen again unchanged", jobs, elapsed);
    drop(again);

    let changed = observations(
        jobs,
        Timestamp::parse_rfc3339("2026-02-03T00:00:00Z").unwrap(),
        |i| {
            if i % 10 == 0 {
                CopyJobState::Completed
            } else {
                CopyJobState::Failed
            }
        },
    );
    let (outcome, elapsed) = write_all(&store, &changed, batch).await;
    assert_eq!(outcome.changed as usize, jobs);
    report("write_batch, all changed", jobs, elapsed);
    drop(changed);

    let baseline = fresh_database(&admin, &url, "bench_baseline").await;
    let baseline_url = with_database(&url, "bench_baseline");
    let current = psql(
        &baseline_url,
        &format!("\\copy copy_jobs FROM '{}'", current_file.display()),
    );
    let history = psql(
        &baseline_url,
        &format!("\\copy copy_job_history FROM '{}'", history_file.display()),
    );
    // The layout before 0009 also wrote each new job as a history row: the
    // same rows, closed a day later, into the history table.
    psql(
        &baseline_url,
        &format!(
            "\\copy (SELECT account_id, region, copy_job_id, last_changed_at, \
             last_changed_at + interval '1 day', run_id, {MEMBERS}, gone_at FROM copy_jobs) TO '{}'",
            history_file.display()
        ),
    );
    let old_history = psql(
        &baseline_url,
        &format!(
            "\\copy copy_job_history (account_id, region, copy_job_id, valid_from, valid_to, \
             run_id, {MEMBERS}, gone_at) FROM '{}'",
            history_file.display()
        ),
    );
    report("psql \\copy into copy_jobs: the floor", jobs, current);
    println!(
        "{:<46} {:>7} rows  {:>7.3} s",
        "psql \\copy into copy_job_history",
        history_rows,
        history.as_secs_f64()
    );
    report(
        "psql \\copy, both tables (before 0009)",
        jobs,
        current + old_history,
    );
    baseline.close().await;

    if std::env::var_os("BENCH_INDEX_COSTS").is_some() {
        println!("\nwhat each index of copy_jobs adds to a \\copy of {jobs} rows:");
        let indexes = [
            ("none but the primary key", ""),
            (
                "(creation_date, account_id, region)",
                "CREATE INDEX ON t (creation_date, account_id, region)",
            ),
            (
                "(state, creation_date)",
                "CREATE INDEX ON t (state, creation_date)",
            ),
            (
                "(destination_backup_vault_arn, creation_date)",
                "CREATE INDEX ON t (destination_backup_vault_arn, creation_date)",
            ),
            (
                "hash (resource_arn)",
                "CREATE INDEX ON t USING hash (resource_arn)",
            ),
            (
                "brin (last_changed_at)",
                "CREATE INDEX ON t USING brin (last_changed_at) WITH (autosummarize = on)",
            ),
            (
                "not kept: (creation_date)",
                "CREATE INDEX ON t (creation_date)",
            ),
            (
                "not kept: (account_id, region, creation_date)",
                "CREATE INDEX ON t (account_id, region, creation_date)",
            ),
            (
                "not kept: (resource_arn, completion_date)",
                "CREATE INDEX ON t (resource_arn, completion_date)",
            ),
        ];
        let mut base = 0.0;
        for (label, index) in indexes {
            let mut best = f64::MAX;
            for _ in 0..2 {
                psql(
                    &baseline_url,
                    "DROP TABLE IF EXISTS t; \
                     CREATE TABLE t (LIKE copy_jobs INCLUDING DEFAULTS INCLUDING CONSTRAINTS); \
                     ALTER TABLE t ADD PRIMARY KEY (account_id, region, copy_job_id)",
                );
                if !index.is_empty() {
                    psql(&baseline_url, index);
                }
                let took = psql(
                    &baseline_url,
                    &format!("\\copy t FROM '{}'", current_file.display()),
                );
                best = best.min(took.as_secs_f64());
            }
            if index.is_empty() {
                base = best;
                println!("  {label:<48} {best:>6.3} s");
            } else {
                println!("  {label:<48} {best:>6.3} s  (+{:.3} s)", best - base);
            }
        }
        psql(&baseline_url, "DROP TABLE t");
    }

    let _ = std::fs::remove_dir_all(&dir);
    store.close().await;
    admin.close().await;
    println!("peak RSS of this process: {:.0} MiB", peak_rss_mib());
    // Other work on the machine shows in every figure above.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "load average (1, 5, 15 min): {}",
            load.split(' ').take(3).collect::<Vec<_>>().join(" ")
        );
    }
}
