//! End-to-end figures for the whole pipeline, printed as a table.
//!
//! - `list`: the release binary lists N jobs from the emulator (jobs/s, peak RSS);
//! - `ingest`: the binary ingests the same jobs into a fresh database, then
//!   again with nothing changed, beside `psql \copy` of the same rows into the
//!   same tables in the same run (the floor any loader can reach) and the
//!   boto3 + psycopg script a user would write (`benches/boto3_psycopg.py`,
//!   reading the same emulator; skipped with a note when Python lacks boto3
//!   or psycopg);
//! - `org`: an organization at AWS's latency (every Backup call answered
//!   after 150 ms): 400 targets (100 accounts x 4 regions, 20 jobs each), a
//!   first and an incremental run with the default settings, read through a
//!   role per account; calls per target, AssumeRole calls, and the time of
//!   17,000 targets (1,000 accounts x 17 regions) extrapolated from it
//!   (`org-17k`, only when named, runs those 17,000 instead, mostly empty);
//! - `scale`: 10k, 100k and 1M jobs over 20 targets (4 accounts of an
//!   organization x 5 regions, found through Organizations and read through
//!   STS roles): time, API calls, peak RSS and database size, then a table of
//!   time per job and memory against the smallest size (BENCHMARKS.md);
//! - `scale-memory` (only when named): 400k jobs of the same organization
//!   with `--concurrency` 1, 2, 4 and 8, to show what memory depends on.
//!
//! Run with `cargo bench --bench pipeline` (all) or `-- list ingest` for some;
//! `BENCH_JOBS=100000` sets the size of `list` and `ingest`. Figures vary with
//! the machine's load: compare within one run.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use backup_emulator::{Emulator, EmulatorConfig, Faults};
use backup_model::Timestamp;
use pg_throwaway::TempPostgres;
use tokio::process::Command;

struct Measured {
    seconds: f64,
    peak_rss_mb: f64,
    /// CPU time (user + system) of backup-audit itself.
    cpu_seconds: f64,
    /// CPU time of this process meanwhile: the emulator, which stands for
    /// AWS and shares the machine's cores.
    emulator_cpu_seconds: f64,
    stderr: String,
}

/// CPU time (user + system, in seconds) of this process and of its
/// children that have been waited for: fields 14-17 of /proc/self/stat, in
/// clock ticks (100 a second on Linux).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after it don't.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    match fields[..] {
        [utime, stime, cutime, cstime] => ((utime + stime) / 100.0, (cutime + cstime) / 100.0),
        _ => (0.0, 0.0),
    }
}

/// Runs the binary, sampling its peak resident set (VmHWM) until it exits.
async fn measure(args: &[String], env: &[(&str, String)]) -> Measured {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_backup-audit"));
    cmd.args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (self_before, children_before) = cpu_seconds();
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run backup-audit");
    let pid = child.id().expect("pid");
    let mut peak_kb = 0u64;
    let stderr = child.stderr.take().expect("stderr");
    let reader = tokio::spawn(async move {
        let mut text = String::new();
        let mut stderr = stderr;
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text)
            .await
            .ok();
        text
    });
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kb) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        tokio::select! {
            status = child.wait() => break status.expect("wait"),
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let (self_after, children_after) = cpu_seconds();
    let cpu = children_after - children_before;
    let emulator_cpu = self_after - self_before;
    let stderr = reader.await.unwrap_or_default();
    assert!(status.success(), "backup-audit {args:?} failed: {stderr}");
    Measured {
        seconds,
        peak_rss_mb: peak_kb as f64 / 1024.0,
        cpu_seconds: cpu,
        emulator_cpu_seconds: emulator_cpu,
        stderr,
    }
}

/// A fresh database of `name`, migrated by the binary; its URL.
async fn migrated_database(pg: &TempPostgres, name: &str) -> String {
    let url = pg.create_database(name).expect("db");
    measure(
        &[
            "migrate".to_owned(),
            "--database-url".to_owned(),
            url.clone(),
        ],
        &[],
    )
    .await;
    url
}

fn regions(n: usize) -> Vec<String> {
    const ALL: [&str; 20] = [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "eu-south-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "sa-east-1",
        "me-south-1",
        "af-south-1",
    ];
    ALL.iter().take(n).map(|r| r.to_string()).collect()
}

async fn emulator(jobs_per_target: usize, regions: &[String]) -> Emulator {
    Emulator::start(
        EmulatorConfig {
            seed: 99,
            jobs_per_target,
            regions: regions.to_vec(),
            start: Timestamp::parse_rfc3339("2026-06-01T00:00:00Z").unwrap(),
            // Long enough that every job has finished: a steady state.
            history: Duration::from_secs(365 * 86_400),
            ..EmulatorConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("emulator")
}

fn region_args(regions: &[String]) -> Vec<String> {
    regions
        .iter()
        .flat_map(|r| ["--region".to_owned(), r.clone()])
        .collect()
}

fn summary_field(stderr: &str, field: &str) -> u64 {
    stderr
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v[field].as_u64())
        .unwrap_or(0)
}

async fn bench_list(jobs: usize) {
    let regions = regions(1);
    let emu = emulator(jobs, &regions).await;
    let mut args = vec![
        "list".to_owned(),
        "--quiet".to_owned(),
        "--endpoint-url".to_owned(),
        emu.endpoint_url(),
    ];
    args.extend(region_args(&regions));
    // STS (the credentials' account) at the emulator too: `--endpoint-url`
    // is for AWS Backup only.
    let m = measure(&args, &[("AWS_ENDPOINT_URL_STS", emu.endpoint_url())]).await;
    println!(
        "list      {jobs:>9} jobs  {:>7.2} s  {:>9.0} jobs/s  peak RSS {:>6.1} MB  ({} ListCopyJobs calls)",
        m.seconds,
        jobs as f64 / m.seconds,
        m.peak_rss_mb,
        emu.stats().list_calls
    );
}

fn psql_seconds(pg: &TempPostgres, db: &str, script: &str) -> f64 {
    let started = Instant::now();
    let out = pg
        .psql_command(db)
        .arg("-c")
        .arg(script)
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed().as_secs_f64()
}

async fn bench_ingest(pg: &TempPostgres, jobs: usize) {
    let regions = regions(1);
    let emu = emulator(jobs, &regions).await;
    let url = migrated_database(pg, "bench_ingest").await;
    let mut args = vec![
        "ingest".to_owned(),
        "--quiet".to_owned(),
        "--summary".to_owned(),
        "json".to_owned(),
        "--endpoint-url".to_owned(),
        emu.endpoint_url(),
    ];
    args.extend(region_args(&regions));
    let env = [
        ("DATABASE_URL", url.clone()),
        ("AWS_ENDPOINT_URL_STS", emu.endpoint_url()),
    ];
    let first = measure(&args, &env).await;
    let rerun = measure(&args, &env).await;
    // Incremental reruns need the clock to have moved for a realistic
    // window; a full re-read with nothing changed is the harder case.
    let mut full_args = args.clone();
    full_args.extend(["--since".to_owned(), "2000-01-01T00:00:00Z".to_owned()]);
    let full_rerun = measure(&full_args, &env).await;

    // The same rows through psql \copy into the same (empty) tables.
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs_file = dir.path().join("copy_jobs.tsv");
    let history_file = dir.path().join("copy_job_history.tsv");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .ok();
    psql_seconds(
        pg,
        "bench_ingest",
        &format!("\\copy copy_jobs to '{}'", jobs_file.display()),
    );
    psql_seconds(
        pg,
        "bench_ingest",
        &format!(
            "\\copy (SELECT * FROM copy_job_history) to '{}'",
            history_file.display()
        ),
    );
    migrated_database(pg, "bench_copy").await;
    let copy_jobs = psql_seconds(
        pg,
        "bench_copy",
        &format!("\\copy copy_jobs from '{}'", jobs_file.display()),
    );
    let copy_history = psql_seconds(
        pg,
        "bench_copy",
        &format!("\\copy copy_job_history from '{}'", history_file.display()),
    );
    let python = python_baseline(pg, &emu, &regions).await;
    let rows = summary_field(&first.stderr, "jobs_new");
    println!(
        "ingest    {rows:>9} jobs  {:>7.2} s  {:>9.0} jobs/s  peak RSS {:>6.1} MB  (first run, emulator -> PostgreSQL; {} pages, {} API calls)",
        first.seconds,
        rows as f64 / first.seconds,
        first.peak_rss_mb,
        summary_field(&first.stderr, "pages"),
        summary_field(&first.stderr, "api_calls"),
    );
    println!(
        "          CPU: backup-audit {:.2} s, emulator {:.2} s (first run); backup-audit {:.2} s, emulator {:.2} s (full re-read)",
        first.cpu_seconds,
        first.emulator_cpu_seconds,
        full_rerun.cpu_seconds,
        full_rerun.emulator_cpu_seconds,
    );
    println!(
        "          rerun, incremental, nothing changed: {:>7.2} s ({:.1}x faster)  peak RSS {:>6.1} MB",
        rerun.seconds,
        first.seconds / rerun.seconds,
        rerun.peak_rss_mb
    );
    println!(
        "          rerun, incremental: {} pages, {} API calls, {} jobs seen",
        summary_field(&rerun.stderr, "pages"),
        summary_field(&rerun.stderr, "api_calls"),
        summary_field(&rerun.stderr, "jobs_seen"),
    );
    println!(
        "          rerun, full re-read, nothing changed: {:>6.2} s ({:.1}x faster)  peak RSS {:>6.1} MB  ({} pages for {} jobs, {} unchanged, {} recognised by their text)",
        full_rerun.seconds,
        first.seconds / full_rerun.seconds,
        full_rerun.peak_rss_mb,
        summary_field(&full_rerun.stderr, "pages"),
        summary_field(&full_rerun.stderr, "jobs_seen"),
        summary_field(&full_rerun.stderr, "jobs_unchanged"),
        summary_field(&full_rerun.stderr, "jobs_same_text"),
    );
    match python {
        Some((seconds, written)) => println!(
            "baseline  boto3 + psycopg upsert (benches/boto3_psycopg.py): {written} jobs in {seconds:.2} s; ingest / boto3 = {:.3}",
            first.seconds / seconds
        ),
        None => println!("baseline  boto3 + psycopg: skipped (python3 with boto3 and psycopg not found: pip install boto3 'psycopg[binary]')"),
    }
    println!(
        "baseline  psql \\copy of the same rows: copy_jobs {copy_jobs:.2} s + copy_job_history {copy_history:.2} s = {:.2} s; ingest / \\copy = {:.2}x",
        copy_jobs + copy_history,
        first.seconds / (copy_jobs + copy_history)
    );
}

/// Runs `benches/boto3_psycopg.py` against the emulator into a fresh
/// database: (seconds, jobs written), or `None` when Python lacks boto3 or
/// psycopg.
async fn python_baseline(
    pg: &TempPostgres,
    emu: &Emulator,
    regions: &[String],
) -> Option<(f64, u64)> {
    let check = std::process::Command::new("python3")
        .args(["-c", "import boto3, psycopg"])
        .output()
        .ok()?;
    if !check.status.success() {
        return None;
    }
    let url = pg.create_database("bench_python").expect("db");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/boto3_psycopg.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .args(["--endpoint-url", &emu.endpoint_url()])
        .args(["--database-url", &url])
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for region in regions {
        cmd.args(["--region", region]);
    }
    let started = Instant::now();
    let out = cmd.output().await.expect("run python3");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "boto3_psycopg.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    Some((seconds, written))
}

/// The organization of `scale`: 4 accounts x 5 regions = 20 targets, found
/// through Organizations ListAccounts and read through an STS role per
/// account, as an organization-wide deployment reads them.
const SCALE_ACCOUNTS: [&str; 4] = [
    "100000000001",
    "100000000002",
    "100000000003",
    "100000000004",
];

/// One size of `scale`.
struct ScaleRow {
    jobs: u64,
    seconds: f64,
    list_calls: u64,
    requests: u64,
    peak_rss_mb: f64,
    database_mb: f64,
}

/// Ingests `total` jobs of the `scale` organization into a fresh database,
/// with `extra` arguments, and measures it.
async fn ingest_organization(
    pg: &TempPostgres,
    total: usize,
    extra: &[&str],
    db: &str,
) -> ScaleRow {
    let regions = regions(5);
    let accounts: Vec<String> = SCALE_ACCOUNTS.map(String::from).to_vec();
    let targets = accounts.len() * regions.len();
    let emu = Emulator::start(
        EmulatorConfig {
            seed: 99,
            jobs_per_target: total / targets,
            accounts,
            regions: regions.clone(),
            start: Timestamp::parse_rfc3339("2026-06-01T00:00:00Z").unwrap(),
            // Long enough that every job has finished: a steady state.
            history: Duration::from_secs(365 * 86_400),
            ..EmulatorConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("emulator");
    let url = migrated_database(pg, db).await;
    let mut args = vec![
        "ingest".to_owned(),
        "--quiet".to_owned(),
        "--summary".to_owned(),
        "json".to_owned(),
        "--endpoint-url".to_owned(),
        emu.endpoint_url(),
        "--accounts-from-organization".to_owned(),
        "--role-arn".to_owned(),
        "arn:aws:iam::{account}:role/BackupAudit".to_owned(),
    ];
    args.extend(region_args(&regions));
    args.extend(extra.iter().map(|a| a.to_string()));
    // STS and Organizations too (`--endpoint-url` is for AWS Backup only).
    let m = measure(
        &args,
        &[
            ("DATABASE_URL", url),
            ("AWS_ENDPOINT_URL", emu.endpoint_url()),
        ],
    )
    .await;
    assert_eq!(
        summary_field(&m.stderr, "targets"),
        targets as u64,
        "{}",
        m.stderr
    );
    let stats = emu.stats();
    let database_bytes: f64 = pg
        .run_sql(db, "SELECT pg_database_size(current_database())")
        .ok()
        .and_then(|out| out.trim().parse().ok())
        .unwrap_or(0.0);
    let row = ScaleRow {
        jobs: summary_field(&m.stderr, "jobs_seen"),
        seconds: m.seconds,
        list_calls: summary_field(&m.stderr, "api_calls"),
        requests: stats.total_requests,
        peak_rss_mb: m.peak_rss_mb,
        database_mb: database_bytes / 1_048_576.0,
    };
    assert_eq!(
        row.jobs,
        (total / targets * targets) as u64,
        "every job was read"
    );
    emu.shutdown().await;
    pg.run_sql("postgres", &format!("DROP DATABASE {db}")).ok();
    row
}

async fn bench_scale(pg: &TempPostgres, sizes: &[usize]) {
    let targets = SCALE_ACCOUNTS.len() * 5;
    let mut rows: Vec<ScaleRow> = Vec::new();
    for (i, &total) in sizes.iter().enumerate() {
        let row = ingest_organization(pg, total, &[], &format!("bench_scale_{i}")).await;
        println!(
            "scale     {:>9} jobs over {targets} targets  {:>7.2} s  {:>9.0} jobs/s  {:>5} ListCopyJobs calls  {:>5} requests  peak RSS {:>6.1} MB",
            row.jobs,
            row.seconds,
            row.jobs as f64 / row.seconds,
            row.list_calls,
            row.requests,
            row.peak_rss_mb
        );
        rows.push(row);
    }
    // The table for BENCHMARKS.md: time per job and memory against the
    // smallest size show whether time grows linearly and memory stays flat.
    if let Some(base) = rows.first() {
        let base_us = base.seconds * 1e6 / base.jobs.max(1) as f64;
        println!();
        println!("| jobs | targets | time | jobs/s | µs per job (vs. smallest) | ListCopyJobs calls | all requests | peak RSS | database size |");
        println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for row in &rows {
            let us = row.seconds * 1e6 / row.jobs.max(1) as f64;
            println!(
                "| {} | {targets} | {:.1} s | {:.0} | {:.0} ({:.2}x) | {} | {} | {:.1} MB | {:.0} MB |",
                row.jobs,
                row.seconds,
                row.jobs as f64 / row.seconds,
                us,
                us / base_us,
                row.list_calls,
                row.requests,
                row.peak_rss_mb,
                row.database_mb
            );
        }
    }
}

/// What memory depends on: the same jobs with 1, 2, 4 and 8 targets at once.
async fn bench_scale_memory(pg: &TempPostgres, total: usize) {
    println!();
    println!("| `--concurrency` | jobs | time | peak RSS |");
    println!("| ---: | ---: | ---: | ---: |");
    for concurrency in ["1", "2", "4", "8"] {
        let db = format!("bench_scale_memory_{concurrency}");
        let row = ingest_organization(pg, total, &["--concurrency", concurrency], &db).await;
        println!(
            "| {concurrency} | {} | {:.1} s | {:.1} MB |",
            row.jobs, row.seconds, row.peak_rss_mb
        );
    }
}

/// One run of `org`.
struct OrgRun {
    seconds: f64,
    peak_rss_mb: f64,
    list_calls: u64,
    assume_role_calls: u64,
    jobs_seen: u64,
    failed: u64,
    /// The most database sessions the run had open at once (sampled).
    sessions: i64,
}

/// An organization at AWS's latency: `accounts` x `regions` targets of
/// `jobs` jobs each, every call (Backup and STS) answered after 150 ms, read through a
/// role per account with the default settings (`BENCH_ORG_ARGS` adds flags,
/// e.g. `--concurrency 1024`); a first run into a fresh database, then an
/// incremental one an hour later. The database sessions of the run are
/// counted every 20 ms (`pg_stat_activity`).
async fn bench_org(pg: &TempPostgres, accounts: usize, regions: usize, jobs: usize) -> [OrgRun; 2] {
    let account_ids: Vec<String> = (0..accounts)
        .map(|i| format!("{:012}", 300_000_000_000u64 + i as u64))
        .collect();
    let region_names = if regions <= 20 {
        self::regions(regions)
    } else {
        (0..regions).map(|i| format!("xx-test-{i}")).collect()
    };
    let emu = Emulator::start(
        EmulatorConfig {
            seed: 5,
            jobs_per_target: jobs,
            accounts: account_ids.clone(),
            regions: region_names.clone(),
            start: Timestamp::parse_rfc3339("2026-06-01T00:00:00Z").unwrap(),
            history: Duration::from_secs(7 * 86_400),
            faults: Faults {
                latency: Duration::from_millis(150),
                sts_latency: Duration::from_millis(150),
                ..Faults::default()
            },
            ..EmulatorConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("emulator");
    let db = format!("bench_org_{accounts}_{regions}");
    let url = migrated_database(pg, &db).await;
    let mut args = vec![
        "ingest".to_owned(),
        "--quiet".to_owned(),
        "--summary".to_owned(),
        "json".to_owned(),
        "--endpoint-url".to_owned(),
        emu.endpoint_url(),
        "--account".to_owned(),
        account_ids.join(","),
        "--role-arn".to_owned(),
        "arn:aws:iam::{account}:role/BackupAudit".to_owned(),
    ];
    args.extend(region_args(&region_names));
    if let Ok(extra) = std::env::var("BENCH_ORG_ARGS") {
        args.extend(extra.split_whitespace().map(str::to_owned));
    }
    let watcher = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("connect to count sessions");
    // STS too (`--endpoint-url` is for AWS Backup only).
    let env = [
        ("DATABASE_URL", url),
        ("AWS_ENDPOINT_URL", emu.endpoint_url()),
    ];
    let mut runs = Vec::new();
    for i in 0..2 {
        if i == 1 {
            emu.advance_clock(Duration::from_secs(3600));
        }
        let before = emu.stats();
        let most_seen = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
        let sampler = {
            let watcher = watcher.clone();
            let most_seen = most_seen.clone();
            tokio::spawn(async move {
                let mut most = 0i64;
                loop {
                    let now: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = current_database() AND application_name = 'backup-audit'",
                    )
                    .fetch_one(&watcher)
                    .await
                    .unwrap_or(0);
                    most = most.max(now);
                    most_seen.store(most, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        let m = measure(&args, &env).await;
        sampler.abort();
        let _ = sampler.await;
        let sessions = most_seen.load(std::sync::atomic::Ordering::Relaxed);
        let after = emu.stats();
        runs.push(OrgRun {
            seconds: m.seconds,
            peak_rss_mb: m.peak_rss_mb,
            list_calls: after.list_calls - before.list_calls,
            assume_role_calls: after.assume_role_calls - before.assume_role_calls,
            jobs_seen: summary_field(&m.stderr, "jobs_seen"),
            failed: summary_field_len(&m.stderr, "failed"),
            sessions,
        });
    }
    emu.shutdown().await;
    watcher.close().await;
    pg.run_sql("postgres", &format!("DROP DATABASE {db}")).ok();
    let [first, incremental]: [OrgRun; 2] = runs.try_into().ok().expect("two runs");
    [first, incremental]
}

fn summary_field_len(stderr: &str, field: &str) -> u64 {
    stderr
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v[field].as_array().map(|a| a.len() as u64))
        .unwrap_or(0)
}

fn print_org(accounts: usize, regions: usize, runs: &[OrgRun; 2]) {
    let targets = (accounts * regions) as f64;
    for (name, run) in ["first", "incremental"].iter().zip(runs) {
        println!(
            "org       {accounts} accounts x {regions} regions ({targets} targets), 150 ms a call, {name:<11}: {:>6.2} s  {:>5} jobs  {:>5} ListCopyJobs ({:.2} per target)  {:>4} AssumeRole  {} failed  peak RSS {:>6.1} MB  {:>3} DB sessions",
            run.seconds,
            run.jobs_seen,
            run.list_calls,
            run.list_calls as f64 / targets,
            run.assume_role_calls,
            run.failed,
            run.peak_rss_mb,
            run.sessions,
        );
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    let jobs: usize = std::env::var("BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!(
        "backup-audit pipeline benchmark ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if want("list") {
        bench_list(jobs).await;
    }
    let named = |name: &str| args.iter().any(|a| a == name);
    if want("ingest") || want("scale") || want("scale-memory") || want("org") || named("org-17k") {
        let pg = TempPostgres::start().expect("PostgreSQL");
        println!(
            "PostgreSQL: {}",
            pg.run_sql("postgres", "SHOW server_version")
                .unwrap_or_default()
                .trim()
        );
        if want("ingest") {
            bench_ingest(&pg, jobs).await;
        }
        if want("scale") {
            // BENCH_SCALE=10000,100000 runs other sizes.
            let sizes: Vec<usize> = std::env::var("BENCH_SCALE")
                .ok()
                .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
                .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
            bench_scale(&pg, &sizes).await;
        }
        if want("org") {
            let runs = bench_org(&pg, 100, 4, 20).await;
            print_org(100, 4, &runs);
            // Targets run `--concurrency` at a time and each waits on the
            // same calls, so time grows with the number of targets.
            let per_target = |run: &OrgRun| run.seconds / 400.0;
            println!(
                "org       1000 accounts x 17 regions (17000 targets), extrapolated: first {:.0} s, incremental {:.0} s, {} AssumeRole",
                per_target(&runs[0]) * 17_000.0,
                per_target(&runs[1]) * 17_000.0,
                1000
            );
        }
        if named("org-17k") {
            let runs = bench_org(&pg, 1000, 17, 0).await;
            print_org(1000, 17, &runs);
        }
        if args.iter().any(|a| a == "scale-memory") {
            // Enough jobs per target that every pipeline fills up.
            bench_scale_memory(&pg, 400_000).await;
        }
    }
}
