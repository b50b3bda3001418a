//! `import` and `report` as a user runs them: files in, numbers, CSV, JSON and
//! an HTML page out, on a real PostgreSQL server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::support::*;

const REGION: &str = "eu-west-1";
const OTHER: &str = "111122223333";

/// The files of the data set and the jobs they hold (as JSON, API names).
struct DataSet {
    _dir: tempfile::TempDir,
    files: Vec<PathBuf>,
    jobs: Vec<Value>,
}

fn epoch(iso: &str) -> f64 {
    backup_model::Timestamp::parse_rfc3339(iso)
        .unwrap()
        .as_secs_f64()
}

/// `aws backup list-copy-jobs` output (ISO times) with 30 jobs over three
/// days, `describe-copy-job` output (epoch times) for one more, and an Audit
/// Manager report in JSON and in CSV with two jobs each.
fn dataset() -> DataSet {
    let dir = tempfile::tempdir().unwrap();
    let states = ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED", "RUNNING"];
    let mut listed = Vec::new();
    for i in 0..30u32 {
        let account = if i % 3 == 0 { OTHER } else { ACCOUNT };
        let state = states[(i % 5) as usize];
        let created = format!(
            "2026-03-{:02}T{:02}:{:02}:00.000Z",
            1 + i % 3,
            i % 24,
            (i * 7) % 60
        );
        let mut job = json!({
            "AccountId": account,
            "CopyJobId": format!("list-{i:02}"),
            "State": state,
            "CreationDate": created,
            "BackupSizeInBytes": 1_000_000u64 * u64::from(i + 1),
            "ResourceArn": format!("arn:aws:ec2:{REGION}:{account}:volume/vol-{:02}", i % 7),
            "ResourceType": "EBS",
            "SourceBackupVaultArn": format!("arn:aws:backup:{REGION}:{account}:backup-vault:Default"),
            "DestinationBackupVaultArn": format!("arn:aws:backup:eu-central-1:999999999999:backup-vault:dr-{}", i % 2),
        });
        if state != "RUNNING" {
            let done = backup_model::Timestamp::parse_rfc3339(&created)
                .unwrap()
                .add_millis(i64::from(60_000 + i * 45_000));
            job["CompletionDate"] = json!(done.to_string());
        }
        if state == "FAILED" {
            job["StatusMessage"] = json!("Insufficient privileges to perform this action.");
            job["MessageCategory"] = json!("ACCESS_DENIED");
        }
        listed.push(job);
    }
    let list = dir.path().join("list-copy-jobs.json");
    std::fs::write(
        &list,
        serde_json::to_string_pretty(&json!({"CopyJobs": listed})).unwrap(),
    )
    .unwrap();

    // describe-copy-job output: epoch timestamps and no vault ARN, so the
    // region must be given.
    let described = json!({
        "CopyJobId": "described-1",
        "AccountId": ACCOUNT,
        "State": "COMPLETED",
        "CreationDate": epoch("2026-03-02T10:00:00Z"),
        "CompletionDate": epoch("2026-03-02T10:30:00.250Z"),
        "BackupSizeInBytes": 5_000_000_000u64,
        "ResourceArn": "arn:aws:rds:eu-west-1:123456789012:db:orders",
        "ResourceType": "RDS",
        "DestinationBackupVaultArn": "arn:aws:backup:eu-central-1:999999999999:backup-vault:dr-0",
    });
    let describe = dir.path().join("describe-copy-job.json");
    std::fs::write(
        &describe,
        serde_json::to_string_pretty(&json!({"CopyJob": described})).unwrap(),
    )
    .unwrap();

    // Audit Manager COPY_JOB_REPORT, JSON: older jobs the API no longer lists.
    let report_items = json!({"reportItems": [
        {
            "reportTimePeriodStart": "2025-11-14T00:00:00Z",
            "reportTimePeriodEnd": "2025-11-15T00:00:00Z",
            "accountId": ACCOUNT, "region": REGION,
            "copyJobId": "audit-json-1", "jobStatus": "COMPLETED",
            "resourceType": "EFS", "resourceArn": "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-1",
            "resourceName": "shared", "backupPlanName": "daily", "isParentJob": false, "parentJobId": null,
            "creationDate": "2025-11-14T03:00:00.000Z", "completionDate": "2025-11-14T03:20:00.000Z",
            "backupSizeInBytes": 700, "sourceBackupVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:Default",
            "destinationBackupVaultArn": "arn:aws:backup:eu-central-1:999999999999:backup-vault:dr-1",
            "vaultType": "BACKUP_VAULT", "isEncrypted": true
        },
        {
            "reportTimePeriodStart": "2025-11-14T00:00:00Z",
            "reportTimePeriodEnd": "2025-11-15T00:00:00Z",
            "accountId": ACCOUNT, "region": REGION,
            "copyJobId": "audit-json-2", "jobStatus": "FAILED",
            "resourceType": "EFS", "resourceArn": "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-2",
            "creationDate": "2025-11-14T04:00:00.000Z", "completionDate": "2025-11-14T04:01:00.000Z",
            "backupSizeInBytes": 300, "sourceBackupVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:Default",
            "destinationBackupVaultArn": "arn:aws:backup:eu-central-1:999999999999:backup-vault:dr-1"
        }
    ]});
    let audit_json = dir.path().join("copy-job-report.json");
    std::fs::write(
        &audit_json,
        serde_json::to_string_pretty(&report_items).unwrap(),
    )
    .unwrap();

    let audit_csv = dir.path().join("copy-job-report.csv");
    std::fs::write(
        &audit_csv,
        "reportTimePeriodStart,reportTimePeriodEnd,accountId,region,copyJobId,jobStatus,resourceType,resourceArn,creationDate,completionDate,backupSizeInBytes,sourceBackupVaultArn,destinationBackupVaultArn,isParentJob\n\
         2025-11-15T00:00:00Z,2025-11-16T00:00:00Z,123456789012,eu-west-1,audit-csv-1,COMPLETED,EFS,arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-1,2025-11-15T03:00:00.000Z,2025-11-15T03:10:00.000Z,900,arn:aws:backup:eu-west-1:123456789012:backup-vault:Default,arn:aws:backup:eu-central-1:999999999999:backup-vault:dr-1,false\n\
         2025-11-15T00:00:00Z,2025-11-16T00:00:00Z,123456789012,eu-west-1,audit-csv-2,PARTIAL,EFS,arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-2,2025-11-15T04:00:00.000Z,2025-11-15T04:02:00.000Z,100,arn:aws:backup:eu-west-1:123456789012:backup-vault:Default,arn:aws:backup:eu-central-1:999999999999:backup-vault:dr-1,false\n",
    )
    .unwrap();

    let mut jobs = listed;
    jobs.push(described);
    for (id, state, size) in [
        ("audit-json-1", "COMPLETED", 700),
        ("audit-json-2", "FAILED", 300),
        ("audit-csv-1", "COMPLETED", 900),
        ("audit-csv-2", "PARTIAL", 100),
    ] {
        jobs.push(json!({"CopyJobId": id, "State": state, "BackupSizeInBytes": size}));
    }
    DataSet {
        files: vec![list, describe, audit_json, audit_csv],
        jobs,
        _dir: dir,
    }
}

/// Imports the data set (the describe output needs --region) and checks it
/// went in whole.
async fn import(url: &str, data: &DataSet) -> std::process::Output {
    let out = run(binary()
        .args([
            "import",
            "--quiet",
            "--database-url",
            url,
            "--region",
            REGION,
        ])
        .arg(&data.files[1]))
    .await;
    assert!(out.status.success(), "import describe: {}", stderr(&out));
    let out = run(binary()
        .args(["import", "--quiet", "--database-url", url])
        .arg(&data.files[0])
        .args(&data.files[2..]))
    .await;
    assert!(out.status.success(), "import: {}", stderr(&out));
    out
}

async fn report(url: &str, args: &[&str]) -> String {
    let out = run(binary().args(["report", "--database-url", url]).args(args)).await;
    assert!(out.status.success(), "report {args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// A JSON value as CSV writes it.
fn as_csv(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses CSV output into header and rows.
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

const REPORTS: [&str; 7] = [
    "summary",
    "failures",
    "daily",
    "durations",
    "vaults",
    "accounts",
    "stale",
];

#[tokio::test]
async fn reports_count_the_imported_jobs_and_csv_agrees_with_json() {
    let url = database();
    migrate(&url).await;
    let data = dataset();
    import(&url, &data).await;

    // summary: one row per state, computed here from the files' jobs.
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for job in &data.jobs {
        let e = expected
            .entry(job["State"].as_str().unwrap().to_owned())
            .or_default();
        e.0 += 1;
        e.1 += job["BackupSizeInBytes"].as_i64().unwrap();
    }
    let summary: Vec<Value> =
        serde_json::from_str(&report(&url, &["summary", "--format", "json"]).await).unwrap();
    let got: BTreeMap<String, (i64, i64)> = summary
        .iter()
        .map(|r| {
            (
                r["state"].as_str().unwrap().to_owned(),
                (r["jobs"].as_i64().unwrap(), r["bytes"].as_i64().unwrap()),
            )
        })
        .collect();
    assert_eq!(got, expected);

    // failures: every FAILED and PARTIAL job, with its message.
    let failures: Vec<Value> =
        serde_json::from_str(&report(&url, &["failures", "--format", "json"]).await).unwrap();
    let mut ids: Vec<&str> = failures
        .iter()
        .map(|r| r["copy_job_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want: Vec<&str> = data
        .jobs
        .iter()
        .filter(|j| matches!(j["State"].as_str(), Some("FAILED" | "PARTIAL")))
        .map(|j| j["CopyJobId"].as_str().unwrap())
        .collect();
    want.sort();
    assert_eq!(ids, want);
    let listed_failure = failures
        .iter()
        .find(|r| r["copy_job_id"] == "list-02")
        .unwrap();
    assert_eq!(
        listed_failure["status_message"],
        "Insufficient privileges to perform this action."
    );
    assert_eq!(listed_failure["message_category"], "ACCESS_DENIED");

    // Filters: one account, March 2 only.
    let march2: Vec<Value> = serde_json::from_str(
        &report(
            &url,
            &[
                "summary",
                "--format",
                "json",
                "--account",
                ACCOUNT,
                "--since",
                "2026-03-02T00:00:00Z",
                "--until",
                "2026-03-03T00:00:00Z",
            ],
        )
        .await,
    )
    .unwrap();
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for job in &data.jobs {
        let created = job["CreationDate"].as_str().map(str::to_owned).or_else(|| {
            job["CreationDate"].as_f64().map(|s| {
                backup_model::Timestamp::from_secs_f64(s)
                    .unwrap()
                    .to_string()
            })
        });
        let account = job["AccountId"].as_str().unwrap_or(ACCOUNT);
        if account == ACCOUNT && created.is_some_and(|c| c.starts_with("2026-03-02")) {
            *expected
                .entry(job["State"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let got: BTreeMap<String, i64> = march2
        .iter()
        .map(|r| {
            (
                r["state"].as_str().unwrap().to_owned(),
                r["jobs"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);

    // Every report: CSV and JSON carry the same columns and values.
    for name in REPORTS {
        let json_rows: Vec<Value> =
            serde_json::from_str(&report(&url, &[name, "--format", "json"]).await).unwrap();
        let (header, csv_rows) = parse_csv(&report(&url, &[name, "--format", "csv"]).await);
        assert!(!json_rows.is_empty(), "{name} has rows");
        assert_eq!(csv_rows.len(), json_rows.len(), "{name}: row count");
        for (json_row, csv_row) in json_rows.iter().zip(&csv_rows) {
            let object = json_row.as_object().unwrap();
            let keys: Vec<&String> = object.keys().collect();
            assert_eq!(keys.len(), header.len(), "{name}: columns");
            for (column, cell) in header.iter().zip(csv_row) {
                // serde_json reads decimals to the nearest double only
                // roughly: compare fractions as numbers.
                match (object[column].as_f64(), cell.parse::<f64>()) {
                    (Some(a), Ok(b)) if object[column].is_f64() => assert!(
                        (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                        "{name}.{column}: {a} {b}"
                    ),
                    _ => assert_eq!(&as_csv(&object[column]), cell, "{name}.{column}"),
                }
            }
        }
        // The table for people prints one line per row, under a header of
        // one line, or a few when long column names are wrapped to fit.
        let table = report(&url, &[name, "--format", "table"]).await;
        let header_lines = table.lines().count() - json_rows.len();
        assert!((1..=4).contains(&header_lines), "{name} table:\n{table}");
    }

    // stale: the resources whose last completed copy is older than 7 days
    // (all of them: the data set is in the past) or that never completed.
    let stale: Vec<Value> =
        serde_json::from_str(&report(&url, &["stale", "--format", "json"]).await).unwrap();
    let resources: std::collections::BTreeSet<String> = data
        .jobs
        .iter()
        .filter_map(|j| j["ResourceArn"].as_str().map(str::to_owned))
        .chain([
            "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-1".to_owned(),
            "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-2".to_owned(),
        ])
        .collect();
    assert_eq!(stale.len(), resources.len());
    let fs2 = stale
        .iter()
        .find(|r| r["resource_arn"].as_str().unwrap().ends_with("fs-2"))
        .unwrap();
    assert_eq!(
        fs2["last_completed_at"],
        Value::Null,
        "fs-2 never completed"
    );
    assert_eq!(fs2["failed_copies"], 2);
    let fs1 = stale
        .iter()
        .find(|r| r["resource_arn"].as_str().unwrap().ends_with("fs-1"))
        .unwrap();
    assert_eq!(fs1["last_completed_at"], "2025-11-15T03:10:00.000Z");
    assert_eq!(fs1["last_completed_copy_job_id"], "audit-csv-1");

    // A report on a database without the schema cannot run: exit code 2.
    let bare = database();
    let out = run(binary().args(["report", "summary", "--database-url", &bare])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("backup-audit migrate"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn importing_twice_changes_nothing() {
    let url = database();
    migrate(&url).await;
    let data = dataset();
    import(&url, &data).await;
    let pool = connect(&url).await;
    let fingerprint = |table: &'static str| {
        let pool = pool.clone();
        async move {
            let sql = format!(
                "SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')
                 FROM {table} t"
            );
            sqlx::query_scalar::<_, String>(&sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let jobs = fingerprint("copy_jobs").await;
    let history = fingerprint("copy_job_snapshots").await;
    assert!(jobs.starts_with("35:"), "{jobs}");

    let again = import(&url, &data).await;
    assert_eq!(
        fingerprint("copy_jobs").await,
        jobs,
        "current rows unchanged"
    );
    assert_eq!(
        fingerprint("copy_job_snapshots").await,
        history,
        "history unchanged"
    );
    let summary = stderr(&again);
    assert!(summary.contains("0 new, 0 changed"), "{summary}");
    // Each import is a run of its own, in mode `import`.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM ingest_runs WHERE mode = 'import' AND status = 'succeeded'"
        )
        .await,
        4
    );
}

#[tokio::test]
async fn an_older_version_goes_into_history_not_over_the_current_row() {
    let url = database();
    migrate(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let job = |state: &str, completion: Option<&str>| {
        let mut job = json!({
            "CopyJobId": "c-1",
            "AccountId": ACCOUNT,
            "State": state,
            "CreationDate": "2026-04-01T10:00:00.000Z",
            "SourceBackupVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:Default",
        });
        if let Some(c) = completion {
            job["CompletionDate"] = json!(c);
        }
        job
    };
    let newer = dir.path().join("completed.json");
    std::fs::write(
        &newer,
        job("COMPLETED", Some("2026-04-01T10:05:00.000Z")).to_string(),
    )
    .unwrap();
    let older = dir.path().join("running.json");
    std::fs::write(&older, job("RUNNING", None).to_string()).unwrap();
    for file in [&newer, &older] {
        let out = run(binary()
            .args(["import", "--quiet", "--database-url", &url])
            .arg(file))
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let pool = connect(&url).await;
    let current: String =
        sqlx::query_scalar("SELECT state FROM copy_jobs WHERE copy_job_id = 'c-1'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(current, "COMPLETED");
    let history: Vec<(String, String)> = sqlx::query_as(
        "SELECT state, audit_rfc3339(valid_from) FROM copy_job_snapshots
         WHERE copy_job_id = 'c-1' ORDER BY valid_from",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        history,
        [
            ("RUNNING".to_owned(), "2026-04-01T10:00:00.000Z".to_owned()),
            (
                "COMPLETED".to_owned(),
                "2026-04-01T10:05:00.000Z".to_owned()
            ),
        ]
    );
    assert_no_duplicate_history(&pool).await;
}

#[tokio::test]
async fn a_bad_record_is_named_and_the_others_imported() {
    let url = database();
    migrate(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("listing.json");
    let vault = "arn:aws:backup:eu-west-1:123456789012:backup-vault:Default";
    std::fs::write(
        &file,
        format!(
            "{{\"CopyJobs\": [\n  {{\"CopyJobId\": \"good-1\", \"SourceBackupVaultArn\": \"{vault}\"}},\n  \
             {{\"CopyJobId\": \"bad\", \"SourceBackupVaultArn\": \"{vault}\", \"BackupSizeInBytes\": \"huge\"}},\n  \
             {{\"CopyJobId\": \"good-2\", \"SourceBackupVaultArn\": \"{vault}\"}}\n]}}\n"
        ),
    )
    .unwrap();
    let report_file = dir.path().join("report.json");
    std::fs::write(
        &report_file,
        format!(
            "{{\"reportItems\": [\n{{\"copyJobId\": \"r-1\", \"region\": \"{REGION}\", \"accountId\": \"{ACCOUNT}\"}},\n\
             {{\"copyJobId\": \"r-2\", \"region\": \"{REGION}\", \"accountId\": \"{ACCOUNT}\",\n  \"backupSizeInBytes\": \"big\"}},\n\
             {{\"copyJobId\": \"r-3\", \"region\": \"{REGION}\", \"accountId\": \"{ACCOUNT}\"}}\n]}}\n"
        ),
    )
    .unwrap();
    let missing = dir.path().join("missing.json");
    let out = run(binary()
        .args(["import", "--quiet", "--database-url", &url])
        .arg(&file)
        .arg(&report_file)
        .arg(&missing))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:3:", file.display()))
            && err.contains("CopyJobs[1].BackupSizeInBytes: invalid type: string \"huge\""),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:3: reportItems[1].backupSizeInBytes: expected a whole number, found \"big\"",
            report_file.display()
        )),
        "{err}"
    );
    assert!(err.contains("missing.json: cannot open"), "{err}");
    assert!(err.contains("3 bad record(s)"), "{err}");
    let pool = connect(&url).await;
    let ids: Vec<String> = sqlx::query_scalar("SELECT copy_job_id FROM copy_jobs ORDER BY 1")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(ids, ["good-1", "good-2", "r-1", "r-3"]);
    let rejected = count(
        &pool,
        "SELECT jobs_rejected FROM ingest_runs WHERE mode = 'import'",
    )
    .await;
    assert_eq!(rejected, 3);
}

#[tokio::test]
async fn an_empty_database_gives_empty_reports() {
    let url = database();
    migrate(&url).await;
    for name in REPORTS {
        assert_eq!(
            report(&url, &[name, "--format", "json"]).await,
            "[]\n",
            "{name}"
        );
        let (header, rows) = parse_csv(&report(&url, &[name, "--format", "csv"]).await);
        assert!(!header.is_empty() && rows.is_empty(), "{name}");
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("empty.html");
    report(&url, &["html", "--out", page.to_str().unwrap()]).await;
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("No copy jobs in this period."));
    assert_no_external_references(&html);
}

fn assert_no_external_references(html: &str) {
    for needle in [
        "http://", "https://", "src=", "href=", "@import", "<script", "<link",
    ] {
        assert!(
            !html.contains(needle),
            "the page must load nothing, found {needle:?}"
        );
    }
    // `url(#id)` names a pattern of the page itself.
    assert_eq!(
        html.matches("url(").count(),
        html.matches("url(#").count(),
        "the page must load nothing"
    );
}

/// The first of `names` found on PATH, as `which` finds it.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Takes a screenshot of `page` with headless Chromium into `png`.
fn screenshot(chromium: &Path, page: &Path, png: &Path) {
    let profile = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1400,2600",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("chromium runs");
    assert!(status.success(), "chromium failed");
    let bytes = std::fs::read(png).expect("a screenshot was written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "a real screenshot"
    );
}

/// The page has its four charts, tables and no external reference. With
/// Chromium installed (`chromium` on PATH, or `CHROMIUM`), it is also
/// rendered to a PNG; `REPORT_SCREENSHOT=path.png` keeps that file and makes
/// Chromium required (`just report-screenshot`). Without Chromium and without
/// that variable, the rendering step is skipped: CI may lack a browser.
#[tokio::test]
async fn the_html_page_has_charts_and_loads_nothing() {
    let url = database();
    migrate(&url).await;
    let data = dataset();
    import(&url, &data).await;
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    report(&url, &["html", "--out", page.to_str().unwrap()]).await;
    let html = std::fs::read_to_string(&page).unwrap();

    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 4, "four charts");
    assert_eq!(html.matches("</svg>").count(), 4);
    for caption in [
        "Copies per day, by state",
        "Data copied per day",
        "Failure rate per day",
        "How long completed copies took",
        "Top failing resources",
        "Top failure messages",
    ] {
        assert!(html.contains(caption), "{caption}");
    }
    // The bars are there: rectangles in the state colours, day labels.
    assert!(html.contains("fill=\"#2E9D5B\"") || html.contains("fill=\"#2e9d5b\""));
    assert!(html.contains("03-01") && html.contains("03-02"));
    assert!(html.contains("Insufficient privileges to perform this action."));
    assert!(html.contains("Destination vaults") && html.contains("dr-1"));
    assert_no_external_references(&html);

    let keep = std::env::var_os("REPORT_SCREENSHOT").map(PathBuf::from);
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| on_path(&["chromium", "chromium-browser"]));
    match (chromium, keep) {
        (Some(chromium), keep) => {
            let png = match keep {
                Some(png) => {
                    // Keep the page beside its picture, to open in a browser.
                    std::fs::copy(&page, png.with_extension("html")).unwrap();
                    png
                }
                None => dir.path().join("report.png"),
            };
            screenshot(&chromium, &page, &png);
        }
        (None, Some(_)) => panic!(
            "REPORT_SCREENSHOT is set but Chromium is not installed (apt-get install chromium)"
        ),
        (None, None) => eprintln!(
            "skipped: Chromium is not installed (no `chromium` on PATH, no CHROMIUM): the page \
             was checked but not rendered"
        ),
    }
}

/// Imports `jobs` (CopyJob objects, API names) from one file.
async fn import_jobs(url: &str, jobs: &[Value]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.json");
    std::fs::write(&file, json!({ "CopyJobs": jobs }).to_string()).unwrap();
    let out = run(binary()
        .args([
            "import",
            "--quiet",
            "--database-url",
            url,
            "--region",
            REGION,
        ])
        .arg(&file))
    .await;
    assert!(out.status.success(), "import: {}", stderr(&out));
}

/// A FAILED job of `account` with `message`.
fn failed_job(id: &str, account: &str, vault: &str, message: &str) -> Value {
    json!({
        "AccountId": account,
        "CopyJobId": id,
        "State": "FAILED",
        "CreationDate": "2026-03-03T08:00:00.000Z",
        "CompletionDate": "2026-03-03T08:05:00.000Z",
        "BackupSizeInBytes": 10,
        "ResourceArn": format!("arn:aws:ec2:{REGION}:{account}:volume/vol-with-a-rather-long-name-{id}"),
        "ResourceName": format!("volume-{id}"),
        "ResourceType": "EBS",
        "SourceBackupVaultArn": format!("arn:aws:backup:{REGION}:{account}:backup-vault:Default"),
        "DestinationBackupVaultArn": format!("arn:aws:backup:eu-central-1:999999999999:backup-vault:{vault}"),
        "MessageCategory": "ACCESS_DENIED",
        "StatusMessage": message,
    })
}

/// Two messages that only differ after their first 60 characters.
const LONG_MESSAGES: [&str; 2] = [
    "The destination vault's access policy does not allow copies from this account: arn:aws:backup:eu-central-1:999999999999:backup-vault:dr-0",
    "The destination vault's access policy does not allow copies from this account: arn:aws:backup:eu-central-1:999999999999:backup-vault:dr-9",
];

/// Regression (`report failures --format table` printed 16 columns, lines
/// of 471 characters): the table fits `COLUMNS`, shows the columns people
/// read first, and `--wide` or `--columns` show the others.
#[tokio::test]
async fn the_failures_table_fits_the_width() {
    let url = database();
    migrate(&url).await;
    import(&url, &dataset()).await;
    import_jobs(
        &url,
        &[
            failed_job("long-1", ACCOUNT, "dr-0", LONG_MESSAGES[0]),
            failed_job("long-2", OTHER, "dr-9", LONG_MESSAGES[1]),
        ],
    )
    .await;
    for width in [120usize, 80] {
        let out = run(binary()
            .env("COLUMNS", width.to_string())
            .args(["report", "--database-url", &url])
            .args(["failures", "--format", "table"]))
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
        let table = String::from_utf8(out.stdout).unwrap();
        for line in table.lines() {
            assert!(
                line.chars().count() <= width,
                "a line over {width} characters ({}):\n{table}",
                line.chars().count()
            );
        }
        for column in ["ACCOUNT", "REGION", "STATE", "MESSAGE"] {
            assert!(table.contains(column), "{column} at {width}:\n{table}");
        }
        assert!(
            !table.contains("SOURCE_BACKUP_VAULT_ARN"),
            "not a default column:\n{table}"
        );
    }
    let out = run(binary()
        .env("COLUMNS", "400")
        .args(["report", "--database-url", &url])
        .args(["failures", "--format", "table", "--wide"]))
    .await;
    let wide = String::from_utf8(out.stdout).unwrap();
    assert!(
        wide.contains("COPY_JOB_ID") && wide.contains("long-2"),
        "{wide}"
    );
    let picked = report(
        &url,
        &[
            "failures",
            "--format",
            "table",
            "--columns",
            "copy_job_id,state",
        ],
    )
    .await;
    assert!(picked.lines().next().unwrap().contains("COPY_JOB_ID"));
    assert!(!picked.contains("ACCOUNT"), "{picked}");
    let out = run(binary().args(["report", "--database-url", &url]).args([
        "failures",
        "--columns",
        "colour",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("copy_job_id"), "{}", stderr(&out));
}

/// Regression (`report summary` failed with `bigint out of range` when the
/// sizes added up past 2^63): sums are exact however large.
#[tokio::test]
async fn sums_near_i64_max_do_not_overflow() {
    let url = database();
    migrate(&url).await;
    let size = i64::MAX - 7;
    let jobs: Vec<Value> = (0..3)
        .map(|i| {
            json!({
                "AccountId": ACCOUNT,
                "CopyJobId": format!("huge-{i}"),
                "State": "COMPLETED",
                "CreationDate": "2026-03-01T10:00:00.000Z",
                "CompletionDate": "2026-03-01T11:00:00.000Z",
                "BackupSizeInBytes": size,
                "ResourceArn": format!("arn:aws:s3:::bucket-{i}"),
                "ResourceType": "S3",
                "DestinationBackupVaultArn": "arn:aws:backup:eu-central-1:999999999999:backup-vault:dr-0",
            })
        })
        .collect();
    import_jobs(&url, &jobs).await;
    let total = (3 * i128::from(size)).to_string();
    let summary = report(&url, &["summary", "--format", "json"]).await;
    assert!(
        summary.contains(&format!("\"bytes\":{total}")),
        "exact sum {total}: {summary}"
    );
    let csv = report(&url, &["summary", "--format", "csv"]).await;
    assert!(csv.contains(&format!("COMPLETED,3,{total}")), "{csv}");
    for name in ["daily", "durations", "vaults", "accounts"] {
        let text = report(&url, &[name, "--format", "json"]).await;
        assert!(text.contains(&total), "{name}: {text}");
        report(&url, &[name, "--format", "table"]).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("huge.html");
    report(&url, &["html", "--out", page.to_str().unwrap()]).await;
}

/// Regression (CSV cells were not guarded): a text cell that a spreadsheet
/// would run as a formula is written with a leading `'`; JSON keeps the
/// value as it is.
#[tokio::test]
async fn csv_cells_cannot_start_a_formula() {
    let url = database();
    migrate(&url).await;
    let mut job = failed_job("formula", ACCOUNT, "dr-0", "=HYPERLINK(\"x\",\"y\")");
    job["ResourceName"] = json!("@SUM(A1)");
    job["MessageCategory"] = json!("+1");
    import_jobs(&url, &[job]).await;
    let (header, rows) = parse_csv(&report(&url, &["failures", "--format", "csv"]).await);
    let cell = |name: &str| {
        let i = header.iter().position(|h| h == name).unwrap();
        rows[0][i].clone()
    };
    assert_eq!(cell("status_message"), "'=HYPERLINK(\"x\",\"y\")");
    assert_eq!(cell("resource_name"), "'@SUM(A1)");
    assert_eq!(cell("message_category"), "'+1");
    let json: Vec<Value> =
        serde_json::from_str(&report(&url, &["failures", "--format", "json"]).await).unwrap();
    assert_eq!(json[0]["resource_name"], "@SUM(A1)");
}

/// Regression (the page cut messages to the same 30 characters, showed
/// always-zero `partial` columns, cut the vault table at 25 rows sorted by
/// ARN, had no breakdown by account and charts without text alternatives).
#[tokio::test]
async fn the_html_page_shows_accounts_vaults_by_failures_and_full_messages() {
    let url = database();
    migrate(&url).await;
    import(&url, &dataset()).await;
    let mut jobs = vec![
        failed_job("long-1", ACCOUNT, "dr-0", LONG_MESSAGES[0]),
        failed_job("long-2", OTHER, "dr-9", LONG_MESSAGES[1]),
    ];
    // 30 more vaults with one completed copy each: the one with failures
    // must still be shown.
    for i in 0..30 {
        let mut job = failed_job(&format!("ok-{i}"), ACCOUNT, &format!("aa-{i:02}"), "");
        job["State"] = json!("COMPLETED");
        job.as_object_mut().unwrap().remove("StatusMessage");
        job.as_object_mut().unwrap().remove("MessageCategory");
        jobs.push(job);
    }
    for i in 0..4 {
        jobs.push(failed_job(
            &format!("z-{i}"),
            OTHER,
            "zz-failing",
            "Copy failed.",
        ));
    }
    import_jobs(&url, &jobs).await;
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    report(&url, &["html", "--out", page.to_str().unwrap()]).await;
    let html = std::fs::read_to_string(&page).unwrap();

    for message in LONG_MESSAGES {
        assert!(html.contains(&message.replace('\'', "&#39;")), "{message}");
    }
    assert!(html.contains("Failures by account"), "an account section");
    assert!(html.contains(OTHER) && html.contains(ACCOUNT));
    assert!(
        html.contains("zz-failing"),
        "the vault with most failures is shown"
    );
    assert!(
        !html.contains(">Partial</th>"),
        "no always-zero partial column"
    );
    let svgs = html.matches("<svg").count();
    assert!(svgs >= 4, "charts");
    assert_eq!(
        html.matches("role=\"img\"").count(),
        svgs,
        "every chart is an image"
    );
    assert_eq!(
        html.matches("<title id=").count(),
        svgs,
        "every chart has a title"
    );
    assert_eq!(html.matches("<desc id=").count(), svgs, "and a description");
    assert!(
        html.contains("<pattern"),
        "states are told apart by pattern too"
    );
    assert!(html.contains("Coverage"), "a coverage section");
}

/// `report coverage` and the page's coverage section read the coverage
/// ledger: one row per ingested target, stale when its record is not
/// complete through `--stale-after` (the emulator's clock is in the past, so
/// 24 hours makes it stale and 1000 days does not).
#[tokio::test(flavor = "multi_thread")]
async fn coverage_shows_each_target_and_flags_stale_ones() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(50, &[REGION], backup_emulator::Faults::default()).await;
    let out = run(&mut ingest_cmd(&url, &emu, &[REGION])).await;
    assert!(out.status.success(), "ingest: {}", stderr(&out));

    let rows: Vec<Value> =
        serde_json::from_str(&report(&url, &["coverage", "--output", "json"]).await).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["account_id"], ACCOUNT);
    assert_eq!(rows[0]["region"], REGION);
    assert!(rows[0]["covered_through"].is_string(), "{rows:?}");
    assert_eq!(rows[0]["last_run_status"], "succeeded");
    assert_eq!(rows[0]["stale"], true);
    let fresh: Vec<Value> = serde_json::from_str(
        &report(
            &url,
            &["coverage", "--format", "json", "--stale-after", "1000d"],
        )
        .await,
    )
    .unwrap();
    assert_eq!(fresh[0]["stale"], false);
    let (header, csv_rows) = parse_csv(&report(&url, &["coverage", "--format", "csv"]).await);
    assert_eq!(&header[..3], ["account_id", "region", "covered_through"]);
    assert_eq!(csv_rows.len(), 1);
    let table = report(&url, &["coverage", "--format", "table"]).await;
    assert!(
        table.contains(ACCOUNT) && table.contains("COVERED_THROUGH"),
        "{table}"
    );

    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("coverage.html");
    report(&url, &["html", "--out", page.to_str().unwrap()]).await;
    let html = std::fs::read_to_string(&page).unwrap();
    let section = &html[html.find("id=\"coverage\"").expect("a coverage section")..];
    assert!(section.contains(ACCOUNT) && section.contains(REGION));
    assert!(section.contains("stale"), "flagged stale in words");
    assert!(html.contains("1 of 1"), "the tile counts stale targets");
}

/// A job AWS no longer returns stays in the record, and `report gone` names it.
#[tokio::test]
async fn gone_jobs_are_reported_not_deleted() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(20, &[REGION], backup_emulator::Faults::default()).await;
    let out = run(&mut ingest_cmd(&url, &emu, &[REGION])).await;
    assert!(out.status.success(), "ingest: {}", stderr(&out));
    let empty: Vec<Value> =
        serde_json::from_str(&report(&url, &["gone", "--output", "json"]).await).unwrap();
    assert!(empty.is_empty(), "{empty:?}");

    let pool = connect(&url).await;
    let id: String =
        sqlx::query_scalar("SELECT copy_job_id FROM copy_jobs ORDER BY copy_job_id LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    sqlx::query("UPDATE copy_jobs SET gone_at = '2026-02-01T00:00:00Z' WHERE copy_job_id = $1")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();

    let rows: Vec<Value> =
        serde_json::from_str(&report(&url, &["gone", "--format", "json"]).await).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["copy_job_id"], id.as_str());
    assert_eq!(rows[0]["account_id"], ACCOUNT);
    assert_eq!(rows[0]["gone_at"], "2026-02-01T00:00:00.000Z");
    let (header, csv_rows) = parse_csv(&report(&url, &["gone", "--format", "csv"]).await);
    assert_eq!(header.last().map(String::as_str), Some("gone_at"));
    assert_eq!(csv_rows.len(), 1);
}
