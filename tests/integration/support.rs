//! What the end-to-end tests share: one PostgreSQL server per test binary, an
//! emulator per test, and a way to run the binary against both.

use std::collections::BTreeMap;
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use backup_emulator::{Emulator, EmulatorConfig, Faults};
use backup_model::{CopyJob, Decoder, Timestamp};
use pg_throwaway::TempPostgres;
use tokio::process::Command;

pub const ACCOUNT: &str = "123456789012";

/// The server shared by the tests of this binary; each test makes a database.
pub fn postgres() -> &'static TempPostgres {
    static SERVER: OnceLock<TempPostgres> = OnceLock::new();
    SERVER.get_or_init(|| TempPostgres::start().expect("start PostgreSQL"))
}

/// A fresh database on the shared server, returning its URL.
pub fn database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "e2e_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    postgres().create_database(&name).expect("create database")
}

/// The emulator's clock start, fixed so data are the same on every run.
pub fn clock_start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap()
}

pub async fn emulator(jobs: usize, regions: &[&str], faults: Faults) -> Emulator {
    let config = EmulatorConfig {
        seed: 11,
        jobs_per_target: jobs,
        accounts: vec![ACCOUNT.to_owned()],
        regions: regions.iter().map(|r| r.to_string()).collect(),
        start: clock_start(),
        // Two days of jobs: dense enough that some are still running at the
        // start, so that moving the clock changes them.
        history: Duration::from_secs(2 * 86_400),
        faults,
        ..EmulatorConfig::default()
    };
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start emulator")
}

/// The binary with test credentials and no inherited AWS or database settings.
///
/// `BACKUP_AUDIT_TEST_BIN` runs the tests against another build of the
/// binary, e.g. an older one, to see a regression test fail on it.
pub fn binary() -> Command {
    let program = std::env::var_os("BACKUP_AUDIT_TEST_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_backup-audit").into());
    let mut cmd = Command::new(program);
    for var in [
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BACKUP",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ENDPOINT_URL_ORGANIZATIONS",
        "AWS_SESSION_TOKEN",
        "DATABASE_URL",
        "PGPASSWORD",
        "BACKUP_AUDIT_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "AKIDTESTKEY")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .kill_on_drop(true);
    cmd
}

pub async fn run(cmd: &mut Command) -> Output {
    tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .expect("the command finished in time")
        .expect("the command ran")
}

/// The `--summary json` line of a run's stderr (the last line starting
/// with `{`), parsed.
pub fn summary(out: &Output) -> serde_json::Value {
    let text = stderr(out);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON summary in: {text}"));
    serde_json::from_str(line).unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub async fn migrate(url: &str) {
    let out = run(binary().args(["migrate", "--database-url", url])).await;
    assert!(out.status.success(), "migrate: {}", stderr(&out));
}

/// `ingest` against the emulator for `regions`, with quick retries.
pub fn ingest_cmd(url: &str, emu: &Emulator, regions: &[&str]) -> Command {
    let mut cmd = binary();
    cmd.args([
        "ingest",
        "--quiet",
        "--initial-backoff-ms",
        "5",
        "--endpoint-url",
    ])
    .arg(emu.endpoint_url())
    .env("DATABASE_URL", url);
    other_services_at(&mut cmd, &emu.endpoint_url());
    for region in regions {
        cmd.args(["--region", region]);
    }
    cmd
}

/// Points STS and Organizations at `endpoint` with the SDK's per-service
/// settings: `--endpoint-url` reaches AWS Backup only, as in the AWS CLI.
pub fn other_services_at<'a>(cmd: &'a mut Command, endpoint: &str) -> &'a mut Command {
    cmd.env("AWS_ENDPOINT_URL_STS", endpoint)
        .env("AWS_ENDPOINT_URL_ORGANIZATIONS", endpoint)
}

/// A SQL connection for assertions.
pub async fn connect(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .expect("connect for assertions")
}

/// Every job in `copy_jobs_json` for a region, by id, decoded with the model.
pub async fn stored_jobs(pool: &sqlx::PgPool, region: &str) -> BTreeMap<String, CopyJob> {
    let rows: Vec<(String, sqlx::types::Json<serde_json::Value>)> = sqlx::query_as(
        "SELECT copy_job_id, job FROM copy_jobs_json WHERE account_id = $1 AND region = $2",
    )
    .bind(ACCOUNT)
    .bind(region)
    .fetch_all(pool)
    .await
    .expect("read copy_jobs_json");
    rows.into_iter()
        .map(|(id, json)| {
            let text = serde_json::to_vec(&json.0).unwrap();
            let job = Decoder::new(&text[..]).next().unwrap().unwrap().job;
            (id, job)
        })
        .collect()
}

/// What the emulator serves in a region now, by id.
pub fn truth(emu: &Emulator, region: &str) -> BTreeMap<String, CopyJob> {
    emu.jobs(ACCOUNT, region)
        .into_iter()
        .map(|job| (job.copy_job_id.clone().unwrap(), job))
        .collect()
}

/// Asserts the database holds exactly what the emulator serves.
pub async fn assert_exact(pool: &sqlx::PgPool, emu: &Emulator, region: &str) {
    let stored = stored_jobs(pool, region).await;
    let want = truth(emu, region);
    assert_eq!(stored.len(), want.len(), "{region}: job count");
    for (id, job) in &want {
        assert_eq!(stored.get(id), Some(job), "{region}: job {id}");
    }
}

/// History rows per job must be distinct versions: no two rows of a job with
/// the same content hash next to each other, no duplicate valid_from.
pub async fn assert_no_duplicate_history(pool: &sqlx::PgPool) {
    let duplicates: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
             SELECT content_hash = lag(content_hash) OVER w AS same
             FROM copy_job_snapshots
             WINDOW w AS (PARTITION BY account_id, region, copy_job_id ORDER BY valid_from)
         ) v WHERE same",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(duplicates, 0, "consecutive identical history rows");
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM copy_jobs c
         WHERE versions <> (SELECT count(*) FROM copy_job_snapshots s
                            WHERE (s.account_id, s.region, s.copy_job_id) = (c.account_id, c.region, c.copy_job_id))",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(mismatched, 0, "versions counts match history rows");
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM copy_job_snapshots WHERE valid_to IS NULL
          GROUP BY account_id, region, copy_job_id HAVING count(*) > 1) x",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(open, 0, "one current history row per job");
}

pub async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Runs one statement (as the database's owner), or fails the test.
pub async fn execute(pool: &sqlx::PgPool, sql: &str) {
    if let Err(e) = sqlx::query(sql).execute(pool).await {
        panic!("{sql}: {e}");
    }
}

/// An emulator for several accounts: `config` with the clock and history of
/// [`emulator`] unless it sets its own.
pub async fn emulator_with(config: EmulatorConfig) -> Emulator {
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start emulator")
}

/// Every job in `copy_jobs_json` for an account and region, by id.
pub async fn stored_jobs_of(
    pool: &sqlx::PgPool,
    account: &str,
    region: &str,
) -> BTreeMap<String, CopyJob> {
    let rows: Vec<(String, sqlx::types::Json<serde_json::Value>)> = sqlx::query_as(
        "SELECT copy_job_id, job FROM copy_jobs_json WHERE account_id = $1 AND region = $2",
    )
    .bind(account)
    .bind(region)
    .fetch_all(pool)
    .await
    .expect("read copy_jobs_json");
    rows.into_iter()
        .map(|(id, json)| {
            let text = serde_json::to_vec(&json.0).unwrap();
            let job = Decoder::new(&text[..]).next().unwrap().unwrap().job;
            (id, job)
        })
        .collect()
}

/// What the emulator serves for an account and region now, by id.
pub fn truth_of(emu: &Emulator, account: &str, region: &str) -> BTreeMap<String, CopyJob> {
    emu.jobs(account, region)
        .into_iter()
        .map(|job| (job.copy_job_id.clone().unwrap(), job))
        .collect()
}

/// Asserts the database holds exactly what the emulator serves for an
/// account and region.
pub async fn assert_exact_of(pool: &sqlx::PgPool, emu: &Emulator, account: &str, region: &str) {
    let stored = stored_jobs_of(pool, account, region).await;
    let want = truth_of(emu, account, region);
    assert!(
        !want.is_empty(),
        "{account}/{region}: the emulator serves jobs"
    );
    assert_eq!(stored.len(), want.len(), "{account}/{region}: job count");
    for (id, job) in &want {
        assert_eq!(stored.get(id), Some(job), "{account}/{region}: job {id}");
    }
}
