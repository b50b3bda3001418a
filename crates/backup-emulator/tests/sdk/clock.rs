//! The movable clock: new jobs appear and open ones progress.

use std::time::Duration;

use aws_sdk_backup::primitives::{DateTime, DateTimeFormat as Format};
use backup_model::{CopyJob, CopyJobState, Timestamp};

use crate::common::{authorization, client, config, list_all, raw, start};

const ACCOUNT: &str = "123456789012";

#[tokio::test]
async fn advancing_the_clock_moves_jobs_through_their_states() {
    let emulator = start(config(1000)).await;
    let client = client(&emulator, "us-east-1");
    let initial = emulator.jobs(ACCOUNT, "us-east-1");
    assert_eq!(initial.len(), 1000);
    let start = emulator.now();

    // Wait, a minute at a time, for a new job: at under a minute old it is CREATED.
    let mut fresh: Option<CopyJob> = None;
    for _ in 0..24 * 60 {
        emulator.advance_clock(Duration::from_secs(60));
        let (newest, _) = list_all(client.list_copy_jobs().max_results(1)).await;
        let newest = &newest[0];
        if newest.copy_job_id != initial[0].copy_job_id && newest.parent_job_id.is_none() {
            fresh = Some(newest.clone());
            break;
        }
    }
    let fresh = fresh.expect("a new job within a day");
    assert_eq!(fresh.state, Some(CopyJobState::Created));
    assert!(fresh.creation_date.unwrap() > start);
    assert!(fresh.completion_date.is_none());
    let id = fresh.copy_job_id.clone().unwrap();

    // Then follow it through DescribeCopyJob, two minutes at a time (states
    // last at least a minute or five, so none is skipped).
    let mut seen = vec![CopyJobState::Created];
    let mut last = fresh;
    for step in 0..200 {
        if step % 10 == 0 {
            // Sometimes through the control endpoint, as a demo would.
            let response = raw(&emulator, "POST", "/_emulator/clock?advance=2m", &[], "").await;
            assert_eq!(response.status, 200);
            assert_eq!(response.json()["now"], emulator.now().to_string());
        } else {
            emulator.advance_clock(Duration::from_secs(120));
        }
        let out = client
            .describe_copy_job()
            .copy_job_id(&id)
            .send()
            .await
            .unwrap();
        let job = CopyJob::from(out.copy_job().unwrap());
        assert_eq!(job.creation_date, last.creation_date);
        if seen.last() != job.state.as_ref() {
            seen.push(job.state.clone().unwrap());
        }
        last = job;
        if !last.state.as_ref().unwrap().is_open() {
            break;
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[1], CopyJobState::Running);
    assert!(
        matches!(seen[2], CopyJobState::Completed | CopyJobState::Failed),
        "{seen:?}"
    );
    assert!(last.completion_date.unwrap() > last.creation_date.unwrap());
    assert!(last.message_category.is_some());

    // New jobs kept coming, at the configured pace (30 days / 1000 jobs).
    let now = emulator.jobs(ACCOUNT, "us-east-1");
    let elapsed = emulator.now().as_millis() - start.as_millis();
    let expected = 1000 + (elapsed / (30 * 86_400_000 / 1000)) as usize;
    assert!(
        now.len().abs_diff(expected) <= 6,
        "{} vs {expected}",
        now.len()
    );
    // Every job listed before is still there, possibly further along.
    let ids: std::collections::HashSet<_> = now.iter().map(|j| j.copy_job_id.clone()).collect();
    assert!(initial.iter().all(|j| ids.contains(&j.copy_job_id)));

    let bad = raw(&emulator, "POST", "/_emulator/clock?advance=soon", &[], "").await;
    assert_eq!(bad.status, 400);
    let stats = raw(&emulator, "GET", "/_emulator/stats", &[], "")
        .await
        .json();
    assert!(stats["describe_calls"].as_u64().unwrap() >= 3);
    assert!(stats["control_calls"].as_u64().unwrap() >= 3);
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_date_header_is_the_wall_clock_and_the_timeline_has_its_own() {
    // The synthetic timeline starts in January 2026, far from the wall clock.
    let emulator = start(config(10)).await;
    let auth = authorization("AKIDEMULATORTEST", "us-east-1");
    let wall_before = Timestamp::now();
    let first = raw(
        &emulator,
        "GET",
        "/copy-jobs/",
        &[("Authorization", &auth)],
        "",
    )
    .await;
    emulator.advance_clock(Duration::from_secs(2 * 3600));
    let second = raw(&emulator, "GET", "/_emulator/stats", &[], "").await;
    let wall_after = Timestamp::now();
    for response in [&first, &second] {
        let date = response.header("date").expect("a Date header");
        let date = DateTime::from_str(date, Format::HttpDate).unwrap();
        // IMF-fixdate has whole seconds.
        let secs = date.secs() * 1000;
        assert!(
            (wall_before.as_millis() / 1000 * 1000..=wall_after.as_millis()).contains(&secs),
            "{date} is not the wall clock"
        );
    }
    let timeline = |r: &crate::common::Raw| {
        Timestamp::parse_rfc3339(r.header("x-emulator-timeline").expect("a timeline header"))
            .unwrap()
    };
    assert_eq!(timeline(&first), crate::common::start_time());
    assert_eq!(
        timeline(&second),
        crate::common::start_time().add_millis(2 * 3600 * 1000)
    );
    assert_eq!(timeline(&second), emulator.now());
    emulator.shutdown().await;
}
