//! Jobs as AWS keeps them: they age out after the retention, and some end in
//! ways the service model does not promise (FAILED without a CompletionDate,
//! states newer than the model).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_backup::error::ProvideErrorMetadata;
use backup_emulator::{EmulatorConfig, Endings};
use backup_model::{CopyJob, Timestamp};

use crate::common::{client, config, list_all, start};

const ACCOUNT: &str = "123456789012";
const DAY: u64 = 86_400;

fn at(t: Timestamp) -> aws_sdk_backup::primitives::DateTime {
    aws_sdk_backup::primitives::DateTime::from_millis(t.as_millis())
}

#[tokio::test]
async fn jobs_age_out_after_the_retention() {
    // 30 days of jobs, 10 of them kept.
    let emulator = start(EmulatorConfig {
        retention: Some(Duration::from_secs(10 * DAY)),
        ..config(900)
    })
    .await;
    let client = client(&emulator, "us-east-1");
    let oldest_kept = emulator.now().add_millis(-10 * DAY as i64 * 1000);
    let truth = emulator.jobs(ACCOUNT, "us-east-1");
    assert!((280..320).contains(&truth.len()), "{}", truth.len());
    assert!(truth
        .iter()
        .all(|j| j.creation_date.unwrap() >= oldest_kept));
    let (listed, _) = list_all(client.list_copy_jobs().max_results(100)).await;
    assert_eq!(listed, truth);
    // A filter reaching further back finds nothing older either.
    let (old, _) = list_all(
        client
            .list_copy_jobs()
            .by_created_after(at(oldest_kept.add_millis(-20 * DAY as i64 * 1000))),
    )
    .await;
    assert_eq!(old, truth);

    // A day later the oldest day of jobs is gone: not listed, and
    // DescribeCopyJob answers ResourceNotFoundException, as the model says.
    let oldest = truth.last().unwrap().clone();
    let id = oldest.copy_job_id.as_deref().unwrap();
    let described = client.describe_copy_job().copy_job_id(id).send().await;
    assert!(described.is_ok(), "{described:?}");
    emulator.advance_clock(Duration::from_secs(DAY));
    let (listed, _) = list_all(client.list_copy_jobs().max_results(100)).await;
    assert_eq!(listed, emulator.jobs(ACCOUNT, "us-east-1"));
    assert!(listed.iter().all(|j| j.copy_job_id != oldest.copy_job_id));
    let err = client
        .describe_copy_job()
        .copy_job_id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
    assert!(err.into_service_error().is_resource_not_found_exception());
    assert_eq!(emulator.stats().not_found, 1);
    // Aged out means gone from the service, not from the history.
    let then = emulator.jobs_as_of(
        ACCOUNT,
        "us-east-1",
        emulator.now().add_millis(-(DAY as i64) * 1000),
    );
    assert!(then.iter().any(|j| j.copy_job_id == oldest.copy_job_id));

    // The retention can change while serving; without one, every job is back.
    emulator.set_retention(None);
    assert!(emulator.jobs(ACCOUNT, "us-east-1").len() > 900);
    emulator.shutdown().await;
}

/// How a job ends, for counting.
fn ending(job: &CopyJob) -> &'static str {
    let state = job.state.as_ref().expect("a state").as_str();
    match (state, job.completion_date.is_some()) {
        ("FAILED", false) => "failed-open",
        ("CANCELLED", false) => "cancelled",
        ("CREATED" | "RUNNING", false) => "open",
        ("COMPLETED" | "FAILED" | "PARTIAL", true) => "normal",
        other => panic!("unexpected ending {other:?}: {job:?}"),
    }
}

#[tokio::test]
async fn open_jobs_end_failed_without_completion_or_in_unknown_states() {
    // Two days of 2000 jobs: a job every 86 s, so dozens are open at the start.
    let emulator = start(EmulatorConfig {
        history: Duration::from_secs(2 * DAY),
        endings: Endings {
            failed_without_completion_rate: 0.1,
            unknown_state_rate: 0.1,
            ..Endings::default()
        },
        ..config(2000)
    })
    .await;
    let client = client(&emulator, "us-east-1");
    let start_time = emulator.now();
    let (before, _) = list_all(client.list_copy_jobs()).await;
    let open: Vec<&CopyJob> = before
        .iter()
        .filter(|j| ending(j) == "open" && j.parent_job_id.is_none())
        .collect();
    assert!(open.len() >= 20, "{} open", open.len());

    // Six hours on, every job open before has ended: describe each.
    emulator.advance_clock(Duration::from_secs(6 * 3600));
    let mut endings: HashMap<&str, Vec<CopyJob>> = HashMap::new();
    for job in &open {
        let out = client
            .describe_copy_job()
            .copy_job_id(job.copy_job_id.as_deref().unwrap())
            .send()
            .await
            .unwrap();
        let now = CopyJob::from(out.copy_job().unwrap());
        endings.entry(ending(&now)).or_default().push(now);
    }
    let count = |k: &str| endings.get(k).map_or(0, Vec::len);
    assert!(count("failed-open") >= 1, "{:?}", endings.keys());
    assert!(count("cancelled") >= 1, "{:?}", endings.keys());
    assert_eq!(count("open"), 0);
    for job in &endings["failed-open"] {
        assert!(job.status_message.is_some() && job.message_category.is_some());
    }

    // The incremental listings a reader would use never show them: they were
    // created before the last look, and completed never.
    let created_since = list_all(client.list_copy_jobs().by_created_after(at(start_time)))
        .await
        .0;
    let completed_since = list_all(client.list_copy_jobs().by_complete_after(at(start_time)))
        .await
        .0;
    for odd in endings["failed-open"].iter().chain(&endings["cancelled"]) {
        let seen = |list: &[CopyJob]| list.iter().any(|j| j.copy_job_id == odd.copy_job_id);
        assert!(!seen(&created_since) && !seen(&completed_since), "{odd:?}");
    }

    // Over every job, the shares are close to the rates, and the listing,
    // DescribeCopyJob and the truth agree.
    let truth = emulator.jobs(ACCOUNT, "us-east-1");
    let (listed, _) = list_all(client.list_copy_jobs()).await;
    assert_eq!(listed, truth);
    let mut all: HashMap<&str, usize> = HashMap::new();
    for job in &truth {
        *all.entry(ending(job)).or_default() += 1;
    }
    let share = |k: &str| all.get(k).copied().unwrap_or(0) as f64 / truth.len() as f64;
    assert!((0.07..0.11).contains(&share("failed-open")), "{all:?}");
    assert!((0.07..0.11).contains(&share("cancelled")), "{all:?}");
    // The service knows its new state: it filters by it.
    let (by_state, _) = list_all(
        client
            .list_copy_jobs()
            .by_state(aws_sdk_backup::types::CopyJobState::from("CANCELLED")),
    )
    .await;
    let cancelled: Vec<CopyJob> = truth
        .iter()
        .filter(|j| ending(j) == "cancelled")
        .cloned()
        .collect();
    assert_eq!(by_state, cancelled);
    // The wire carries the unknown state as it is.
    let cancelled = &endings["cancelled"][0];
    let out = client
        .describe_copy_job()
        .copy_job_id(cancelled.copy_job_id.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.copy_job().unwrap().state().map(|s| s.as_str()),
        Some("CANCELLED")
    );
    emulator.shutdown().await;
}
