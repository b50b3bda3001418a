//! Listings of an incremental run: each job received once, few calls
//! (issue: organization scale at AWS's latency).

use std::time::Duration;

use backup_emulator::Faults;

use crate::support::*;

/// The created-since, completed-since and open-state listings used to return
/// the same jobs (a job created and completed in the window came twice, a
/// running one too): now the emulator returns each job of the window once,
/// and a 5,000-job target's incremental run stays within 60 calls.
#[tokio::test]
async fn an_incremental_run_receives_each_job_once() {
    let emu = emulator(5000, &["eu-west-1"], Faults::default()).await;
    let url = database();
    migrate(&url).await;
    let out = run(ingest_cmd(&url, &emu, &["eu-west-1"]).args(["--summary", "json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));

    emu.advance_clock(Duration::from_secs(3 * 3600));
    let before = emu.stats();
    let out = run(ingest_cmd(&url, &emu, &["eu-west-1"]).args(["--summary", "json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let after = emu.stats();
    let s = summary(&out);
    let seen = s["jobs_seen"].as_u64().unwrap();
    assert!(
        s["jobs_changed"].as_u64().unwrap() + s["jobs_new"].as_u64().unwrap() > 0,
        "the window holds new and changed jobs: {s}"
    );
    assert_eq!(
        after.jobs_returned - before.jobs_returned,
        seen,
        "every job the service returned was a job not yet received in this run: {s}"
    );
    assert!(s["api_calls"].as_u64().unwrap() <= 60, "{s}");
    let pool = connect(&url).await;
    assert_exact(&pool, &emu, "eu-west-1").await;
}
