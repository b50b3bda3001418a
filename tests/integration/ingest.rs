//! `migrate` and `ingest` end to end, and the faults they must survive: each
//! test checks the database against the exact truth the emulator serves.

use std::time::{Duration, Instant};

use backup_emulator::{Faults, Malformed};
use pg_throwaway::TempPostgres;
use serde_json::Value;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn migrate_twice_is_a_no_op_and_ingest_refuses_an_unmigrated_database() {
    let url = database();
    let emu = emulator(10, &["us-east-1"], Faults::default()).await;
    let out = run(&mut ingest_cmd(&url, &emu, &["us-east-1"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("backup-audit migrate"),
        "{}",
        stderr(&out)
    );

    migrate(&url).await;
    let again = run(binary().args(["migrate", "--database-url", &url])).await;
    assert!(again.status.success());
    assert!(
        stderr(&again).contains("nothing to apply"),
        "{}",
        stderr(&again)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn first_run_then_incremental_runs_are_exact_with_history() {
    let regions = ["us-east-1", "eu-west-1"];
    let url = database();
    migrate(&url).await;
    let emu = emulator(400, &regions, Faults::default()).await;
    let pool = connect(&url).await;

    let out = run(ingest_cmd(&url, &emu, &regions).args(["--summary", "json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let first = summary(&out);
    assert_eq!(first["targets"], 2);
    assert_eq!(first["failed"], Value::Array(vec![]));
    for region in regions {
        assert_exact(&pool, &emu, region).await;
    }
    let jobs = count(&pool, "SELECT count(*) FROM copy_jobs").await;
    assert_eq!(first["jobs_new"].as_i64(), Some(jobs));
    assert_eq!(
        count(&pool, "SELECT count(*) FROM copy_job_snapshots").await,
        jobs
    );

    // Nothing moved: a rerun adds no history.
    let out = run(ingest_cmd(&url, &emu, &regions).args(["--summary", "json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let rerun = summary(&out);
    assert_eq!(rerun["jobs_new"], 0);
    assert_eq!(rerun["jobs_changed"], 0);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM copy_job_snapshots").await,
        jobs
    );

    // Three hours later, open jobs have finished and new ones started.
    emu.advance_clock(Duration::from_secs(3 * 3600));
    let calls_before = emu.stats().list_calls;
    let out = run(ingest_cmd(&url, &emu, &regions).args(["--summary", "json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let incremental = summary(&out);
    assert!(
        incremental["jobs_changed"].as_i64().unwrap() > 0,
        "{incremental}"
    );
    assert!(
        incremental["jobs_new"].as_i64().unwrap() > 0,
        "{incremental}"
    );
    for region in regions {
        assert_exact(&pool, &emu, region).await;
    }
    assert_no_duplicate_history(&pool).await;
    // Incremental: a handful of filtered listings per target, not a full re-read.
    let calls = emu.stats().list_calls - calls_before;
    assert!(calls <= 2 * 6, "{calls} ListCopyJobs calls");
    let runs = count(
        &pool,
        "SELECT count(*) FROM ingest_runs WHERE status = 'succeeded'",
    )
    .await;
    assert_eq!(runs, 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_overlapping_runs_take_turns_and_both_succeed() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(
        1500,
        &["us-east-1"],
        Faults {
            latency: Duration::from_millis(20),
            ..Faults::default()
        },
    )
    .await;
    let mut a = ingest_cmd(&url, &emu, &["us-east-1"]);
    a.args(["--max-results", "100"]);
    let mut b = ingest_cmd(&url, &emu, &["us-east-1"]);
    b.args(["--max-results", "100"]);
    let (out_a, out_b) = tokio::join!(run(&mut a), run(&mut b));
    assert!(out_a.status.success(), "{}", stderr(&out_a));
    assert!(out_b.status.success(), "{}", stderr(&out_b));
    let pool = connect(&url).await;
    // They took turns: a run of the target is recorded from the moment it
    // holds the target's lock until it ends, so the two intervals follow
    // each other; and the second, finding the first's checkpoint, was
    // incremental.
    let runs: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT run_group, mode, status, \
                coalesce(finished_at <= lead(started_at) OVER (ORDER BY started_at), true) \
         FROM ingest_runs ORDER BY started_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_ne!(runs[0].0, runs[1].0, "one run per process: {runs:?}");
    assert!(runs[0].3, "the runs overlapped: {runs:?}");
    assert_eq!(
        (runs[0].1.as_str(), runs[1].1.as_str()),
        ("full", "incremental"),
        "{runs:?}"
    );
    assert!(runs.iter().all(|r| r.2 == "succeeded"), "{runs:?}");
    assert_exact(&pool, &emu, "us-east-1").await;
    let jobs = count(&pool, "SELECT count(*) FROM copy_jobs").await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM copy_job_snapshots").await,
        jobs
    );
    assert_no_duplicate_history(&pool).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttling_storm_and_503s_still_give_exact_contents() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(
        600,
        &["us-east-1", "eu-west-1"],
        Faults {
            throttle_rate: 0.5,
            error_rate: 0.1,
            ..Faults::default()
        },
    )
    .await;
    let out = run(ingest_cmd(&url, &emu, &["us-east-1", "eu-west-1"]).args([
        "--max-results",
        "50",
        "--max-attempts",
        "10",
        "--summary",
        "json",
    ]))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert!(s["retries"].as_i64().unwrap() > 0, "{s}");
    let pool = connect(&url).await;
    assert_exact(&pool, &emu, "us-east-1").await;
    assert_exact(&pool, &emu, "eu-west-1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_responses_fail_their_target_only_and_commit_nothing_from_it() {
    for malformed in [Malformed::Truncated, Malformed::WrongType, Malformed::Html] {
        let url = database();
        migrate(&url).await;
        let emu = emulator(
            200,
            &["us-east-1", "eu-west-1"],
            Faults {
                malformed: Some(malformed),
                malformed_regions: vec!["eu-west-1".into()],
                ..Faults::default()
            },
        )
        .await;
        let out =
            run(ingest_cmd(&url, &emu, &["us-east-1", "eu-west-1"]).args(["--max-attempts", "2"]))
                .await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "{malformed:?}: {}",
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(err.contains("eu-west-1"), "{malformed:?}: {err}");
        let pool = connect(&url).await;
        assert_exact(&pool, &emu, "us-east-1").await;
        assert_eq!(
            count(
                &pool,
                "SELECT count(*) FROM copy_jobs WHERE region = 'eu-west-1'"
            )
            .await,
            0,
            "{malformed:?}"
        );
        assert_eq!(
            count(&pool, "SELECT count(*) FROM ingest_runs WHERE region = 'eu-west-1' AND status = 'failed' AND error IS NOT NULL").await,
            1
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_run_is_completed_exactly_by_the_next() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(
        3000,
        &["us-east-1"],
        Faults {
            latency: Duration::from_millis(30),
            ..Faults::default()
        },
    )
    .await;
    let pool = connect(&url).await;
    let mut child = ingest_cmd(&url, &emu, &["us-east-1"])
        .args(["--max-results", "100", "--batch-size", "100"])
        .spawn()
        .unwrap();
    // Kill it once some batches are committed, mid-run.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = count(&pool, "SELECT count(*) FROM copy_jobs").await;
        if n >= 300 {
            break;
        }
        assert!(Instant::now() < deadline, "the run never committed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    let partial = count(&pool, "SELECT count(*) FROM copy_jobs").await;
    let total = truth(&emu, "us-east-1").len() as i64;
    assert!(
        partial < total,
        "killed before the end ({partial} of {total})"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM ingest_checkpoints").await,
        0,
        "no checkpoint from an unfinished run"
    );
    let statuses = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, String>("SELECT status FROM ingest_runs ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    assert_eq!(statuses(pool.clone()).await, ["running"], "the killed run");

    let out = run(&mut ingest_cmd(&url, &emu, &["us-east-1"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // The next run of the target knows the killed one is over.
    assert_eq!(
        statuses(pool.clone()).await,
        ["abandoned", "succeeded"],
        "the killed run is marked abandoned"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM ingest_runs WHERE finished_at IS NULL"
        )
        .await,
        0
    );
    assert_exact(&pool, &emu, "us-east-1").await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM copy_job_snapshots").await,
        total
    );
    assert_no_duplicate_history(&pool).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_stopped_mid_run_fails_in_time_and_a_rerun_is_exact() {
    // Its own server: stopping the shared one would break the other tests.
    let mut pg = TempPostgres::start().unwrap();
    let url = pg.create_database("stopped").unwrap();
    migrate(&url).await;
    let emu = emulator(
        3000,
        &["us-east-1"],
        Faults {
            latency: Duration::from_millis(30),
            ..Faults::default()
        },
    )
    .await;
    let mut child = {
        let pool = connect(&url).await;
        let child = ingest_cmd(&url, &emu, &["us-east-1"])
            .args(["--max-results", "100", "--batch-size", "100"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(&pool, "SELECT count(*) FROM copy_jobs").await < 200 {
            assert!(Instant::now() < deadline, "the run never committed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        pool.close().await;
        child
    };
    let stopped_at = Instant::now();
    pg.stop().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(90), child.wait())
        .await
        .expect("ingest ends in bounded time")
        .unwrap();
    assert!(!status.success());
    let mut err = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut err)
        .await
        .unwrap();
    assert!(
        stopped_at.elapsed() < Duration::from_secs(60),
        "{:?}",
        stopped_at.elapsed()
    );
    assert!(
        err.to_lowercase().contains("database") || err.contains("connection"),
        "{err}"
    );
    assert!(!err.contains(pg.password()), "the password leaked: {err}");

    pg.start_again().unwrap();
    let out = run(&mut ingest_cmd(&url, &emu, &["us-east-1"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let pool = connect(&url).await;
    assert_exact(&pool, &emu, "us-east-1").await;
    let total = truth(&emu, "us-east-1").len() as i64;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM copy_job_snapshots").await,
        total
    );
    assert_no_duplicate_history(&pool).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_a_clear_error_without_the_password() {
    let url = database();
    let wrong = url.replace(postgres().password(), "Wr0ngPassw0rd-xyz");
    assert_ne!(wrong, url);
    let emu = emulator(5, &["us-east-1"], Faults::default()).await;
    let endpoint = emu.endpoint_url();
    for args in [
        vec!["migrate"],
        vec![
            "ingest",
            "--region",
            "us-east-1",
            "--endpoint-url",
            &endpoint,
        ],
    ] {
        let out = run(binary().args(&args).env("DATABASE_URL", &wrong)).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("password") || err.contains("authentication"),
            "{err}"
        );
        assert!(!err.contains("Wr0ngPassw0rd-xyz"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_and_hung_endpoints_fail_their_targets_in_time() {
    let url = database();
    migrate(&url).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_addr = hung.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            held.push(s);
        }
    });
    // STS answers (the account is checked before reading); AWS Backup does not.
    let sts = emulator(1, &["us-east-1"], Faults::default()).await;
    for addr in [dead, hung_addr] {
        let started = Instant::now();
        let out = run(binary()
            .env("AWS_ENDPOINT_URL_STS", sts.endpoint_url())
            .args(["ingest", "--region", "us-east-1", "--account", ACCOUNT])
            .args(["--attempt-timeout", "3s", "--operation-timeout", "8s"])
            .arg("--endpoint-url")
            .arg(format!("http://{addr}"))
            .env("DATABASE_URL", &url))
        .await;
        assert!(started.elapsed() < Duration::from_secs(60));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("us-east-1"), "{}", stderr(&out));
    }
    holder.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn losing_the_target_lock_stops_the_run_and_the_checkpoint_stays() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(
        3000,
        &["us-east-1"],
        Faults {
            latency: Duration::from_millis(30),
            ..Faults::default()
        },
    )
    .await;
    let pool = connect(&url).await;
    let child = ingest_cmd(&url, &emu, &["us-east-1"])
        .args(["--max-results", "100", "--batch-size", "100"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&pool, "SELECT count(*) FROM copy_jobs").await < 300 {
        assert!(Instant::now() < deadline, "the run never committed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // An operator (or a failover) ends the session that holds the lock.
    let key = backup_ingest::target_lock_key(ACCOUNT, "us-east-1");
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND ((classid::bigint << 32) | objid::bigint) = $1",
    )
    .bind(key)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(ended, [true], "one session held the target's lock");
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the run ends")
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "the target failed: {err}");
    assert!(err.contains("ingest lock"), "{err}");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM ingest_checkpoints").await,
        0,
        "no checkpoint from a run that lost its lock"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM ingest_runs WHERE status = 'failed' AND error LIKE '%ingest lock%'").await,
        1
    );
    // The next run completes the target exactly.
    let out = run(&mut ingest_cmd(&url, &emu, &["us-east-1"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact(&pool, &emu, "us-east-1").await;
    assert_no_duplicate_history(&pool).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_locked_by_someone_else_fails_the_target_after_the_lock_timeout() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(50, &["us-east-1"], Faults::default()).await;
    let pool = connect(&url).await;
    // A long transaction (a manual fix, a migration) holds ingest_runs.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE ingest_runs IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(90),
        ingest_cmd(&url, &emu, &["us-east-1"])
            .args(["--db-lock-timeout", "2s"])
            .output(),
    )
    .await
    .expect("ingest does not wait for ever on a locked table")
    .unwrap();
    blocker.rollback().await.unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lock timeout"), "{err}");
    // Once the table is free, the target is read.
    let out = run(&mut ingest_cmd(&url, &emu, &["us-east-1"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact(&pool, &emu, "us-east-1").await;
}

/// Every row of every ordinary table (and partition) whose name starts with
/// `copy_job`: the rows physically stored for jobs, whatever the layout.
async fn stored_job_rows(pool: &sqlx::PgPool) -> i64 {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(relname) FROM pg_class \
         WHERE relkind = 'r' AND relname LIKE 'copy\\_job%' \
           AND relnamespace = 'public'::regnamespace",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut rows = 0;
    for table in tables {
        rows += count(pool, &format!("SELECT count(*) FROM ONLY {table}")).await;
    }
    rows
}

/// System versioning: a new job is written once (its current row), and a
/// change moves exactly one row, the superseded version, into the history.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_job_is_one_row_and_a_change_moves_one_row_to_history() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(300, &["us-east-1"], Faults::default()).await;
    let pool = connect(&url).await;

    let out = run(ingest_cmd(&url, &emu, &["us-east-1"]).args(["--summary", "json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let jobs = count(&pool, "SELECT count(*) FROM copy_jobs").await;
    assert_eq!(summary(&out)["jobs_new"].as_i64(), Some(jobs));
    assert_eq!(
        stored_job_rows(&pool).await,
        jobs,
        "rows stored for {jobs} new jobs"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM copy_job_history").await,
        0,
        "a first run writes no history row"
    );
    // Readers still see one version per job, open, written by the run.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM copy_job_snapshots s JOIN ingest_runs r ON r.id = s.run_id \
             WHERE s.valid_to IS NULL"
        )
        .await,
        jobs
    );

    emu.advance_clock(Duration::from_secs(3 * 3600));
    let out = run(ingest_cmd(&url, &emu, &["us-east-1"]).args(["--summary", "json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let second = summary(&out);
    let changed = second["jobs_changed"].as_i64().unwrap();
    let new = second["jobs_new"].as_i64().unwrap();
    assert!(changed > 0, "{second}");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM copy_job_history").await,
        changed,
        "one history row per changed job"
    );
    assert_eq!(
        stored_job_rows(&pool).await,
        jobs + new + changed,
        "rows stored after the second run"
    );
    // Each history row is the version its job's current row superseded.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM copy_job_history h JOIN copy_jobs c \
             USING (account_id, region, copy_job_id) \
             WHERE h.valid_to = c.last_changed_at AND h.content_hash <> c.content_hash \
               AND c.versions = 2"
        )
        .await,
        changed
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM copy_job_snapshots").await,
        jobs + new + changed
    );
    assert_exact(&pool, &emu, "us-east-1").await;
    assert_no_duplicate_history(&pool).await;
}

/// A fresh database after a first run of `jobs` jobs in us-east-1: its URL,
/// the emulator, a pool, and the jobs stored.
async fn first_run(jobs: usize) -> (String, backup_emulator::Emulator, sqlx::PgPool, i64) {
    let url = database();
    migrate(&url).await;
    let emu = emulator(jobs, &["us-east-1"], Faults::default()).await;
    let pool = connect(&url).await;
    let out = run(ingest_cmd(&url, &emu, &["us-east-1"]).args(["--summary", "json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let stored = count(&pool, "SELECT count(*) FROM copy_jobs").await;
    (url, emu, pool, stored)
}

/// The summary of a full re-read that succeeded.
async fn reread_summary(url: &str, emu: &backup_emulator::Emulator) -> Value {
    let out = run(&mut reread(url, emu)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    summary(&out)
}

/// A full re-read, every job listed again.
fn reread(url: &str, emu: &backup_emulator::Emulator) -> tokio::process::Command {
    let mut cmd = ingest_cmd(url, emu, &["us-east-1"]);
    cmd.args(["--summary", "json", "--since", "2000-01-01T00:00:00Z"]);
    cmd
}

/// Versions stored, and the rows that know their text.
async fn versions_and_texts(pool: &sqlx::PgPool) -> (i64, i64) {
    (
        count(pool, "SELECT count(*) FROM copy_job_snapshots").await,
        count(
            pool,
            "SELECT count(*) FROM copy_jobs WHERE text_digest IS NOT NULL",
        )
        .await,
    )
}

#[tokio::test]
async fn an_unchanged_job_listed_in_the_same_text_is_recognised_without_decoding() {
    let (url, emu, pool, jobs) = first_run(400).await;
    assert_eq!(versions_and_texts(&pool).await, (jobs, jobs));

    let s = reread_summary(&url, &emu).await;
    assert_eq!(s["jobs_seen"].as_i64(), Some(jobs), "{s}");
    assert_eq!(s["jobs_unchanged"].as_i64(), Some(jobs), "{s}");
    assert_eq!(
        s["jobs_same_text"].as_i64(),
        Some(jobs),
        "every job recognised by its text: {s}"
    );
    assert_eq!(versions_and_texts(&pool).await, (jobs, jobs));
    assert_exact(&pool, &emu, "us-east-1").await;
}

#[tokio::test]
async fn the_same_jobs_in_other_text_are_compared_by_content_and_their_text_remembered() {
    let (url, emu, pool, jobs) = first_run(300).await;
    let rows_before: i64 = count(&pool, "SELECT sum(versions) FROM copy_jobs").await;

    // Another layout: no text matches, every job is decoded, none changed.
    emu.set_faults(Faults {
        spaced_json: true,
        ..Faults::default()
    });
    let s = reread_summary(&url, &emu).await;
    assert_eq!(s["jobs_same_text"].as_i64(), Some(0), "{s}");
    assert_eq!(s["jobs_unchanged"].as_i64(), Some(jobs), "{s}");
    assert_eq!(s["jobs_changed"].as_i64(), Some(0), "{s}");
    assert_eq!(versions_and_texts(&pool).await, (jobs, jobs));
    assert_eq!(
        count(&pool, "SELECT sum(versions) FROM copy_jobs").await,
        rows_before
    );

    // The rows learned the new text: the next re-read recognises it.
    let s = reread_summary(&url, &emu).await;
    assert_eq!(s["jobs_same_text"].as_i64(), Some(jobs), "{s}");

    // Rows written before texts were kept learn theirs the same way.
    execute(&pool, "UPDATE copy_jobs SET text_digest = NULL").await;
    emu.set_faults(Faults::default());
    let s = reread_summary(&url, &emu).await;
    assert_eq!(
        (s["jobs_same_text"].as_i64(), s["jobs_unchanged"].as_i64()),
        (Some(0), Some(jobs)),
        "{s}"
    );
    assert_eq!(
        reread_summary(&url, &emu).await["jobs_same_text"].as_i64(),
        Some(jobs)
    );
    assert_exact(&pool, &emu, "us-east-1").await;
}

#[tokio::test]
async fn a_text_never_vouches_for_content_its_row_no_longer_records() {
    let (url, emu, pool, jobs) = first_run(200).await;

    // A job marked gone (as reconciliation does: its hash derived, gone_at
    // set) that AWS lists again, in the very text it was stored from, is
    // back: a new version, not "unchanged".
    execute(
        &pool,
        "UPDATE copy_jobs SET gone_at = observed_at + interval '1 second', \
             observed_at = observed_at + interval '1 second', \
             last_changed_at = observed_at + interval '1 second', versions = versions + 1, \
             content_hash = decode(md5('gone:' || encode(content_hash, 'hex')), 'hex') \
         WHERE copy_job_id = (SELECT min(copy_job_id) FROM copy_jobs)",
    )
    .await;
    // Bookkeeping alone keeps the text; a re-hash forgets it.
    execute(
        &pool,
        "UPDATE copy_jobs SET described_at = now() \
         WHERE copy_job_id = (SELECT max(copy_job_id) FROM copy_jobs)",
    )
    .await;
    execute(
        &pool,
        "UPDATE copy_jobs SET hash_version = hash_version \
         WHERE copy_job_id = (SELECT max(copy_job_id) FROM copy_jobs)",
    )
    .await;
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM copy_jobs WHERE text_digest IS NULL"
        )
        .await,
        1,
        "only the row whose content changed forgot its text"
    );

    // Listed after it was marked gone.
    emu.advance_clock(Duration::from_secs(2));
    let s = reread_summary(&url, &emu).await;
    let changed = s["jobs_changed"].as_i64().unwrap();
    assert!(changed >= 1, "the gone job came back: {s}");
    assert!(
        s["jobs_same_text"].as_i64().unwrap() <= jobs - changed,
        "{s}"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM copy_jobs WHERE gone_at IS NULL AND versions = 3 \
             AND copy_job_id = (SELECT min(copy_job_id) FROM copy_jobs)"
        )
        .await,
        1,
        "the gone job is current again, in a version of its own"
    );
    assert_exact(&pool, &emu, "us-east-1").await;
}

#[tokio::test]
async fn a_long_reread_is_listed_in_slices_side_by_side_and_misses_nothing() {
    // A first run: nothing recorded to cut the window by, one listing.
    let (url, emu, pool, _) = first_run(21_000).await;
    assert_eq!(emu.stats().listings_started, 1);

    // Jobs end, and new ones start, on both sides of the cuts.
    emu.advance_clock(Duration::from_secs(6 * 3600));
    let before = emu.stats().listings_started;
    let s = reread_summary(&url, &emu).await;
    // 21,000 recorded jobs: two slices of the created listing, then the
    // completed and the two open listings.
    assert_eq!(emu.stats().listings_started - before, 5, "{s}");
    assert!(s["jobs_changed"].as_i64().unwrap() > 0, "{s}");
    assert!(
        s["jobs_same_text"].as_i64().unwrap() > 20_000 - 1_000,
        "{s}"
    );
    assert_exact(&pool, &emu, "us-east-1").await;
    assert_no_duplicate_history(&pool).await;
}

#[tokio::test]
async fn a_reread_beside_an_import_is_not_trusted() {
    let (url, emu, pool, _) = first_run(300).await;

    // An import that ended long ago changes nothing.
    execute(
        &pool,
        "INSERT INTO ingest_runs (run_group, account_id, region, mode, started_at, finished_at, status) \
         VALUES ('old-import', '*', '*', 'import', '2000-01-01', '2000-01-01', 'succeeded')",
    )
    .await;
    let out = run(&mut reread(&url, &emu)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let checkpoint = count(
        &pool,
        "SELECT (extract(epoch FROM listed_through) * 1000)::int8 FROM ingest_checkpoints",
    )
    .await;

    // An import writing (any account, any region) while the re-read
    // compares jobs with the texts it read at its start: the run fails and
    // its checkpoint stays.
    execute(
        &pool,
        "INSERT INTO ingest_runs (run_group, account_id, region, mode, started_at) \
         VALUES ('import', '*', '*', 'import', now())",
    )
    .await;
    emu.advance_clock(Duration::from_secs(3600));
    let out = run(&mut reread(&url, &emu)).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("an import ran during this run"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(
            &pool,
            "SELECT (extract(epoch FROM listed_through) * 1000)::int8 FROM ingest_checkpoints",
        )
        .await,
        checkpoint
    );
    // A plain incremental run compares each batch with the record as it is:
    // it is not affected.
    let out = run(ingest_cmd(&url, &emu, &["us-east-1"]).args(["--summary", "json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
}
