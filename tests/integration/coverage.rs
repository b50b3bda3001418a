//! How complete the record is: checkpoints that never skip time, listings
//! that cannot end silently, open jobs reconciled, and the coverage ledger.
//! Each test is one of the ways a database used to end wrong with exit 0.

use std::time::Duration;

use backup_emulator::{BrokenPaging, EmulatorConfig, Endings, Faults};

use crate::support::*;

const REGION: &str = "us-east-1";

async fn ingest(
    url: &str,
    emu: &backup_emulator::Emulator,
    extra: &[&str],
) -> std::process::Output {
    run(ingest_cmd(url, emu, &[REGION])
        .args(["--summary", "json"])
        .args(extra))
    .await
}

async fn checkpoint(pool: &sqlx::PgPool) -> Option<String> {
    sqlx::query_scalar(
        "SELECT audit_rfc3339(listed_through) FROM ingest_checkpoints WHERE account_id = $1 AND region = $2",
    )
    .bind(ACCOUNT)
    .bind(REGION)
    .fetch_optional(pool)
    .await
    .unwrap()
}

type Ledger = (Option<String>, Option<String>, Option<String>, i64);

/// (covered_through, last_run_status, last_error, open_gaps) of the target.
async fn coverage(pool: &sqlx::PgPool) -> Ledger {
    try_coverage(pool).await.unwrap()
}

async fn try_coverage(pool: &sqlx::PgPool) -> Result<Ledger, sqlx::Error> {
    sqlx::query_as(
        "SELECT audit_rfc3339(covered_through), last_run_status, last_error, open_gaps \
         FROM report_coverage WHERE account_id = $1 AND region = $2",
    )
    .bind(ACCOUNT)
    .bind(REGION)
    .fetch_one(pool)
    .await
}

/// Jobs stored open (any state but a final one) that the emulator shows finished.
async fn stuck_open(pool: &sqlx::PgPool, emu: &backup_emulator::Emulator) -> usize {
    let stored = stored_jobs(pool, REGION).await;
    truth(emu, REGION)
        .iter()
        .filter(|(id, job)| {
            let finished = job.state.as_ref().is_some_and(|s| !s.is_open());
            let held_open = stored
                .get(*id)
                .and_then(|j| j.state.as_ref())
                .is_some_and(|s| matches!(s.as_str(), "CREATED" | "RUNNING"));
            finished && held_open
        })
        .count()
}

/// The first trial: `ingest --since` later than jobs that completed
/// after the last run used to move the checkpoint over them, and the next
/// plain run never listed them again: they stayed RUNNING for good.
#[tokio::test(flavor = "multi_thread")]
async fn a_since_later_than_the_checkpoint_leaves_it_and_the_next_run_fills_the_gap() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(3000, &[REGION], Faults::default()).await;
    let pool = connect(&url).await;

    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let first_checkpoint = checkpoint(&pool).await.expect("a checkpoint");

    // Six hours on, the jobs then running have finished; `--since` starts
    // after all of those completions.
    emu.advance_clock(Duration::from_secs(6 * 3600));
    let since = emu.now().add_millis(-60_000).to_string();
    let out = ingest(&url, &emu, &["--since", &since]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        checkpoint(&pool).await.as_deref(),
        Some(first_checkpoint.as_str()),
        "a --since later than the checkpoint must not move it"
    );
    let (covered, status, _, gaps) = coverage(&pool).await;
    assert_eq!(status.as_deref(), Some("succeeded"));
    assert_eq!(gaps, 1, "the skipped window is recorded as a gap");
    assert!(covered.is_some_and(|c| c < first_checkpoint));

    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stuck_open(&pool, &emu).await, 0, "jobs left RUNNING");
    assert_exact(&pool, &emu, REGION).await;
    assert_no_duplicate_history(&pool).await;
    let (covered, _, _, gaps) = coverage(&pool).await;
    assert_eq!(gaps, 0, "the next complete run filled the gap");
    assert!(covered.is_some_and(|c| c > first_checkpoint));
}

/// The second trial: jobs that end FAILED without a CompletionDate,
/// or in a state the model does not know, are in none of an incremental
/// run's listings; they used to stay RUNNING for ever.
#[tokio::test(flavor = "multi_thread")]
async fn jobs_ending_without_completion_or_in_unknown_states_are_reconciled() {
    let url = database();
    migrate(&url).await;
    let emu = emulator_with(EmulatorConfig {
        seed: 11,
        jobs_per_target: 3000,
        accounts: vec![ACCOUNT.to_owned()],
        regions: vec![REGION.to_owned()],
        start: clock_start(),
        history: Duration::from_secs(2 * 86_400),
        endings: Endings {
            failed_without_completion_rate: 0.2,
            unknown_state_rate: 0.1,
            ..Endings::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let pool = connect(&url).await;
    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let open_then: Vec<String> = sqlx::query_scalar(
        "SELECT copy_job_id FROM copy_jobs WHERE state IN ('CREATED', 'RUNNING')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();

    emu.advance_clock(Duration::from_secs(6 * 3600));
    // Among the jobs the database holds open, some now end oddly.
    let want = truth(&emu, REGION);
    let odd = open_then
        .iter()
        .filter_map(|id| want.get(id))
        .filter(|job| {
            job.completion_date.is_none()
                && job
                    .state
                    .as_ref()
                    .is_some_and(|s| !matches!(s.as_str(), "CREATED" | "RUNNING"))
        })
        .count();
    assert!(odd > 0, "the trial needs open jobs that end oddly");
    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stuck_open(&pool, &emu).await, 0, "jobs left open");
    assert_exact(&pool, &emu, REGION).await;
    assert_no_duplicate_history(&pool).await;
    let failed_without = count(
        &pool,
        "SELECT count(*) FROM copy_jobs WHERE state = 'FAILED' AND completion_date IS NULL",
    )
    .await;
    let cancelled = count(
        &pool,
        "SELECT count(*) FROM copy_jobs WHERE state = 'CANCELLED'",
    )
    .await;
    assert!(
        failed_without > 0 && cancelled > 0,
        "{failed_without} {cancelled}"
    );

    // A job in a state the model does not know is described once (when no
    // listing returns it), then not again for a day, not at every run.
    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let described = summary(&out)["jobs_described"].as_i64().unwrap();
    assert!(described <= cancelled, "{described} > {cancelled}");
    let before = emu.stats().describe_calls;
    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        emu.stats().describe_calls,
        before,
        "described again too soon"
    );
    assert_eq!(summary(&out)["jobs_described"], 0);
}

/// The third trial: a NextToken that came back again ended the
/// listing as if it were complete, exit 0, checkpoint moved, the jobs behind
/// it never recorded. Now it is an error of the target, named, exit 1.
#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_or_cycling_next_token_fails_the_target_and_keeps_the_checkpoint() {
    for broken in [BrokenPaging::RepeatToken, BrokenPaging::Cycle] {
        let url = database();
        migrate(&url).await;
        let emu = emulator(3000, &[REGION], Faults::default()).await;
        let pool = connect(&url).await;
        let out = ingest(&url, &emu, &["--max-results", "200"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        let first = checkpoint(&pool).await;
        let ledger = try_coverage(&pool).await;

        emu.advance_clock(Duration::from_secs(3 * 3600));
        emu.set_faults(Faults {
            broken_paging: Some(broken),
            ..Faults::default()
        });
        // A full re-read (an early --since) has enough pages to break.
        let out = ingest(
            &url,
            &emu,
            &["--max-results", "200", "--since", "2000-01-01T00:00:00Z"],
        )
        .await;
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{broken}: {text}");
        assert!(
            text.contains("NextToken") && text.contains(&format!("{ACCOUNT}/{REGION}")),
            "{broken}: {text}"
        );
        assert_eq!(checkpoint(&pool).await, first, "{broken}: checkpoint moved");
        let (covered_now, status, error, _) = coverage(&pool).await;
        assert_eq!(covered_now, ledger.unwrap().0);
        assert_eq!(status.as_deref(), Some("failed"));
        assert!(error.is_some_and(|e| e.contains("NextToken")));

        emu.set_faults(Faults::default());
        let out = ingest(&url, &emu, &["--max-results", "200"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert_exact(&pool, &emu, REGION).await;
    }
}

/// Open jobs that age out of AWS before the database sees them finish are
/// kept and marked gone (with a version in the history), never deleted.
#[tokio::test(flavor = "multi_thread")]
async fn open_jobs_aws_no_longer_returns_are_marked_gone_not_deleted() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(2000, &[REGION], Faults::default()).await;
    let pool = connect(&url).await;
    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let open = count(
        &pool,
        "SELECT count(*) FROM copy_jobs WHERE state IN ('CREATED', 'RUNNING')",
    )
    .await;
    assert!(open > 0, "the first run holds open jobs");
    let total = count(&pool, "SELECT count(*) FROM copy_jobs").await;

    // A week later with a retention of one day: every job the database
    // holds open has finished and aged out.
    emu.set_retention(Some(Duration::from_secs(86_400)));
    emu.advance_clock(Duration::from_secs(7 * 86_400));
    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(summary(&out)["jobs_gone"].as_i64(), Some(open));
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM copy_jobs WHERE gone_at IS NOT NULL"
        )
        .await,
        open
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM report_gone_jobs").await,
        open
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM copy_job_snapshots WHERE gone_at IS NOT NULL AND valid_to IS NULL"
        )
        .await,
        open,
        "a gone version in the history"
    );
    assert!(count(&pool, "SELECT count(*) FROM copy_jobs").await >= total);
    assert_no_duplicate_history(&pool).await;
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM copy_job_snapshots s JOIN copy_jobs c \
             USING (account_id, region, copy_job_id) \
             WHERE s.gone_at IS NOT NULL AND s.hash_version <> c.hash_version"
        )
        .await,
        0,
        "a gone version carries the hash version of the hash it is derived from"
    );

    // An upgrade that re-hashes every row keeps a gone version's hash
    // derived, different from the version before it.
    let gone_hashes = "SELECT string_agg(encode(content_hash, 'hex'), ',' \
                       ORDER BY account_id, region, copy_job_id, valid_from) \
                       FROM copy_job_snapshots WHERE gone_at IS NOT NULL";
    let before: String = sqlx::query_scalar(gone_hashes)
        .fetch_one(&pool)
        .await
        .unwrap();
    for sql in [
        "UPDATE copy_jobs SET hash_version = 1",
        "UPDATE copy_job_history SET hash_version = 1",
        "UPDATE content_hash_state SET version = 1",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    migrate(&url).await;
    let after: String = sqlx::query_scalar(gone_hashes)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(after, before, "gone versions keep their derived hashes");
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM copy_job_snapshots s JOIN copy_job_snapshots p \
             ON p.account_id = s.account_id AND p.region = s.region \
             AND p.copy_job_id = s.copy_job_id AND p.valid_to = s.valid_from \
             WHERE s.gone_at IS NOT NULL AND p.content_hash = s.content_hash"
        )
        .await,
        0
    );

    // Gone jobs are not described again.
    let before = emu.stats().describe_calls;
    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(emu.stats().describe_calls, before);
}

/// Reconciliation costs one DescribeCopyJob per unseen open job and nothing
/// when every open job was seen: the 5,000-job incremental run stays within
/// 60 API calls.
#[tokio::test(flavor = "multi_thread")]
async fn reconciliation_costs_nothing_when_every_open_job_is_seen() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(5000, &[REGION], Faults::default()).await;
    let pool = connect(&url).await;
    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));

    emu.advance_clock(Duration::from_secs(3600));
    let before = emu.stats();
    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let after = emu.stats();
    let calls =
        (after.list_calls + after.describe_calls) - (before.list_calls + before.describe_calls);
    eprintln!("the 5,000-job incremental run: {calls} API calls");
    assert!(calls <= 60, "{calls} API calls");
    assert_eq!(after.describe_calls, before.describe_calls, "no describe");
    assert_eq!(summary(&out)["api_calls"].as_u64(), Some(calls));
    assert_exact(&pool, &emu, REGION).await;

    // Three jobs the database holds RUNNING that AWS lists no more (their
    // rows edited back to RUNNING as if the listings had missed the end):
    // exactly three DescribeCopyJob calls put them right.
    let ids: Vec<String> = sqlx::query_scalar(
        "UPDATE copy_jobs SET state = 'RUNNING', content_hash = decode(repeat('00', 16), 'hex') \
         WHERE copy_job_id IN ( \
             SELECT copy_job_id FROM copy_jobs WHERE state = 'COMPLETED' \
             ORDER BY creation_date LIMIT 3) RETURNING copy_job_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(ids.len(), 3);
    let before = emu.stats().describe_calls;
    let out = ingest(&url, &emu, &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(emu.stats().describe_calls - before, 3);
    assert_eq!(summary(&out)["jobs_described"], 3);
    let stored = stored_jobs(&pool, REGION).await;
    let want = truth(&emu, REGION);
    for id in &ids {
        assert_eq!(stored.get(id), want.get(id), "{id}");
    }
}

/// The ledger: a complete run sets covered_through (its start minus the
/// overlap); a failed run leaves it and says why.
#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_records_coverage_and_the_last_run() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(500, &[REGION], Faults::default()).await;
    let pool = connect(&url).await;

    let out = ingest(&url, &emu, &["--overlap", "30m"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (covered, status, error, gaps) = coverage(&pool).await;
    let listed_through = checkpoint(&pool).await.unwrap();
    let expected = backup_model::Timestamp::parse_rfc3339(&listed_through)
        .unwrap()
        .add_millis(-30 * 60_000)
        .to_string();
    assert_eq!(covered.as_deref(), Some(expected.as_str()));
    assert_eq!(
        (status.as_deref(), error, gaps),
        (Some("succeeded"), None, 0)
    );

    emu.set_faults(Faults {
        deny_accounts: vec![ACCOUNT.to_owned()],
        ..Faults::default()
    });
    emu.advance_clock(Duration::from_secs(3600));
    let out = ingest(&url, &emu, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let (after, status, error, _) = coverage(&pool).await;
    assert_eq!(after, covered, "a failed run does not move coverage");
    assert_eq!(status.as_deref(), Some("failed"));
    assert!(error.is_some_and(|e| e.contains("AccessDenied")));

    // A first run with --since has no record to join: no coverage, a gap
    // from the beginning.
    let url = database();
    migrate(&url).await;
    let pool = connect(&url).await;
    emu.set_faults(Faults::default());
    let since = emu.now().add_millis(-6 * 3600 * 1000).to_string();
    let out = ingest(&url, &emu, &["--since", &since]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (covered, _, _, gaps) = coverage(&pool).await;
    assert_eq!((covered, gaps), (None, 1));
    assert_eq!(checkpoint(&pool).await, None);
}
