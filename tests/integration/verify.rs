//! `backup-audit verify`: what AWS lists now against the database, job by
//! job. Nothing on an exact database; a tampered and a deleted row by id;
//! open jobs AWS shows finished; and it only reads.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backup_emulator::{Emulator, Faults};
use serde_json::Value;

use crate::support::*;

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn verify_cmd(url: &str, emu: &Emulator, extra: &[&str]) -> tokio::process::Command {
    let mut cmd = binary();
    cmd.args([
        "verify",
        "--quiet",
        "--initial-backoff-ms",
        "5",
        "--endpoint-url",
    ])
    .arg(emu.endpoint_url())
    .env("DATABASE_URL", url);
    other_services_at(&mut cmd, &emu.endpoint_url());
    for region in REGIONS {
        cmd.args(["--region", region]);
    }
    cmd.args(extra);
    cmd
}

async fn verify_json(url: &str, emu: &Emulator) -> (Option<i32>, Vec<Value>, String) {
    let out = run(&mut verify_cmd(url, emu, &["--format", "json"])).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let differences: Vec<Value> = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("verify printed no JSON ({e}): {stdout} {}", stderr(&out)));
    (out.status.code(), differences, stderr(&out))
}

/// A role that may only read, made for this database.
async fn read_only_url(url: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let role = format!(
        "verify_ro_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let pool = connect(url).await;
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    for sql in [
        format!("CREATE ROLE {role} LOGIN PASSWORD 'ro-pw'"),
        format!("GRANT CONNECT ON DATABASE {db} TO {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role}"),
    ] {
        sqlx::query(&sql).execute(&pool).await.unwrap();
    }
    format!(
        "postgres://{role}:ro-pw@127.0.0.1:{}/{db}",
        postgres().port()
    )
}

fn find<'a>(differences: &'a [Value], id: &str) -> Vec<&'a Value> {
    differences
        .iter()
        .filter(|d| d["copy_job_id"] == id)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_is_silent_on_an_exact_database_and_names_a_tampered_and_a_deleted_row() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(800, &REGIONS, Faults::default()).await;
    let out = run(&mut ingest_cmd(&url, &emu, &REGIONS)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let pool = connect(&url).await;
    let read_only = read_only_url(&url).await;

    let (code, differences, text) = verify_json(&read_only, &emu).await;
    assert_eq!(
        (code, differences.len()),
        (Some(0), 0),
        "{differences:?} {text}"
    );
    assert!(text.contains("0 difference(s)"), "{text}");

    // One row edited in place, one deleted, in different regions.
    let tampered: String = sqlx::query_scalar(
        "UPDATE copy_jobs SET backup_size_in_bytes = backup_size_in_bytes + 1 \
         WHERE copy_job_id = (SELECT min(copy_job_id) FROM copy_jobs \
                              WHERE region = 'us-east-1' AND state = 'COMPLETED') \
         RETURNING copy_job_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let deleted: String = sqlx::query_scalar(
        "DELETE FROM copy_jobs WHERE copy_job_id = (SELECT min(copy_job_id) FROM copy_jobs \
                                                    WHERE region = 'eu-west-1') \
         RETURNING copy_job_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let fingerprint = |pool: sqlx::PgPool| async move {
        count(
            &pool,
            "SELECT (SELECT count(*) FROM copy_jobs) * 1000000 + (SELECT count(*) FROM copy_job_snapshots) \
                    + (SELECT count(*) FROM ingest_runs)",
        )
        .await
    };
    let before = fingerprint(pool.clone()).await;

    let (code, differences, text) = verify_json(&read_only, &emu).await;
    assert_eq!(code, Some(1), "{text}");
    let t = find(&differences, &tampered);
    let kinds: Vec<&str> = t.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["different", "hash_mismatch"], "{t:?}");
    assert_eq!(t[0]["account_id"], ACCOUNT);
    assert_eq!(t[0]["region"], "us-east-1");
    assert_eq!(t[0]["members"], serde_json::json!(["BackupSizeInBytes"]));
    let d = find(&differences, &deleted);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["kind"], "missing_in_database");
    assert_eq!(d[0]["region"], "eu-west-1");
    assert_eq!(differences.len(), 3, "{differences:?}");
    assert_eq!(
        fingerprint(pool.clone()).await,
        before,
        "verify wrote nothing"
    );

    // The table names them too.
    let out = run(&mut verify_cmd(&read_only, &emu, &["--output", "table"])).await;
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&tampered) && table.contains(&deleted),
        "{table}"
    );
    assert!(table.starts_with("KIND"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_reports_open_jobs_that_aws_shows_finished_until_ingest_records_them() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(800, &REGIONS, Faults::default()).await;
    let out = run(&mut ingest_cmd(&url, &emu, &REGIONS)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let pool = connect(&url).await;
    let open: Vec<String> = sqlx::query_scalar(
        "SELECT copy_job_id FROM copy_jobs WHERE state IN ('CREATED', 'RUNNING')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!open.is_empty());

    emu.advance_clock(Duration::from_secs(6 * 3600));
    let (code, differences, _) = verify_json(&url, &emu).await;
    assert_eq!(code, Some(1));
    let finished = differences
        .iter()
        .filter(|d| d["kind"] == "open_in_database_finished_in_aws")
        .count();
    assert!(finished > 0, "{differences:?}");
    assert!(differences
        .iter()
        .any(|d| d["kind"] == "missing_in_database"));

    // --since limits the comparison to jobs created after it.
    let since = emu.now().add_millis(-60_000).to_string();
    let out = run(&mut verify_cmd(
        &url,
        &emu,
        &["--format", "json", "--since", &since],
    ))
    .await;
    let recent: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(recent.len() < differences.len());

    let out = run(&mut ingest_cmd(&url, &emu, &REGIONS)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (code, differences, text) = verify_json(&url, &emu).await;
    assert_eq!(
        (code, differences.len()),
        (Some(0), 0),
        "{differences:?} {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_exits_2_when_a_target_cannot_be_listed() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(50, &REGIONS, Faults::default()).await;
    emu.set_faults(Faults {
        deny_accounts: vec![ACCOUNT.to_owned()],
        ..Faults::default()
    });
    let out = run(&mut verify_cmd(&url, &emu, &["--format", "json"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{ACCOUNT}/us-east-1")),
        "{}",
        stderr(&out)
    );
}
