//! Reconciliation of open jobs: after a target's listings, the jobs the
//! database holds open that no listing returned are described one by one.
//!
//! An incremental run lists the jobs created or completed in its window and
//! those AWS reports `CREATED` or `RUNNING`. A job that leaves those states
//! without a `CompletionDate` (AWS does that for some `FAILED` jobs), or for
//! a state newer than this program (`CANCELLED`...), or that ages out of
//! AWS, is in none of those listings: without this step it would stay
//! `RUNNING` in the database for ever.
//!
//! - A job stored `CREATED` or `RUNNING` (or with no state) that was not seen
//!   is described at every run until it is recorded in another state; in a
//!   healthy target there is none, and reconciliation makes no call.
//! - A job stored in a state the model does not know is described at most
//!   once per [`UNKNOWN_STATE_INTERVAL`] (a day): nothing tells us it will
//!   ever change, and describing every such job at every run would grow
//!   without bound.
//! - DescribeCopyJob's answer is written like a listed job (a new version
//!   when it changed). `ResourceNotFoundException` marks the job gone
//!   (`copy_jobs.gone_at` and a version in the history); it is never deleted.
//!
//! The calls go through the target's client, so they count in the run's API
//! calls, `concurrency` at a time.

use std::time::Duration;

use backup_fetch::{FetchErrorKind, TargetClient};
use backup_model::{CopyJobState, Timestamp};
use futures::StreamExt;

use crate::coverage::OpenJob;
use crate::ingest::{report_rejected, Counts, IngestOptions, SeenIds, TargetError};
use crate::{Observation, Store};

/// How often a job in a state the model does not know is described again.
pub const UNKNOWN_STATE_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Whether an open job that no listing returned is to be described now.
fn due(job: &OpenJob, seen: &SeenIds, now: Timestamp) -> bool {
    if seen.contains(&job.copy_job_id) {
        return false;
    }
    let known_open = match job.state.as_deref() {
        None => true,
        Some(state) => matches!(
            CopyJobState::from(state),
            CopyJobState::Created | CopyJobState::Running
        ),
    };
    if known_open {
        return true;
    }
    let interval = i64::try_from(UNKNOWN_STATE_INTERVAL.as_millis()).unwrap_or(i64::MAX);
    job.described_at
        .is_none_or(|at| at.add_millis(interval) <= now)
}

/// Describes and records the target's open jobs that `seen` lacks (see the
/// module docs). `now` is the service's time at the start of the listings:
/// the once-a-day bound of unknown states is measured on the service's
/// clock, like checkpoints, and `described_at` is recorded in it. A failed DescribeCopyJob (other than
/// not found) fails the reconciliation after the others are recorded; the
/// job stays open and is described again by the next run.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn reconcile(
    store: &Store,
    client: &TargetClient,
    run_id: i64,
    seen: &SeenIds,
    now: Timestamp,
    options: &IngestOptions,
    counts: &mut Counts,
    name: &str,
) -> Result<(), TargetError> {
    let account = client.account().to_owned();
    let region = client.region().to_owned();
    let open = store.open_jobs(&account, &region).await?;
    let due: Vec<String> = open
        .into_iter()
        .filter(|job| due(job, seen, now))
        .map(|job| job.copy_job_id)
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    tracing::info!(
        target = name,
        jobs = due.len(),
        "describing open jobs no listing returned"
    );

    let mut observations = Vec::with_capacity(due.len());
    let mut described = Vec::with_capacity(due.len());
    let mut gone: Vec<String> = Vec::new();
    let mut gone_at = None::<Timestamp>;
    let mut failure = None;
    let mut failures = 0u64;
    let mut answers = futures::stream::iter(&due)
        .map(|id| async move { (id, client.describe_observed(id).await) })
        .buffer_unordered(options.concurrency.max(1));
    while let Some((id, (observed_at, answer))) = answers.next().await {
        counts.jobs_described += 1;
        match answer {
            Ok(job) => {
                described.push(id.clone());
                observations.push(Observation {
                    account_id: account.clone(),
                    region: region.clone(),
                    observed_at,
                    job,
                });
            }
            Err(e) if matches!(e.kind, FetchErrorKind::NotFound { .. }) => {
                // The service's time of the latest not-found answer stands
                // for when the jobs were found gone.
                gone_at = Some(gone_at.map_or(observed_at, |t: Timestamp| t.max(observed_at)));
                gone.push(id.clone());
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(target = name, job = %id, error = %e, "cannot describe an open job");
                failure.get_or_insert(e);
            }
        }
    }
    drop(answers);

    for chunk in observations.chunks(options.batch_size.max(1)) {
        let outcome = store.write_batch(run_id, chunk).await?;
        report_rejected(name, &outcome);
        counts.add_batch(&outcome);
    }
    store
        .mark_described(&account, &region, &described, now)
        .await?;
    if let Some(at) = gone_at {
        let marked = store
            .mark_gone(&account, &region, &gone, at, run_id)
            .await?;
        counts.jobs_gone += marked;
        tracing::info!(
            target = name,
            jobs = marked,
            "open jobs AWS no longer returns marked gone"
        );
    }
    match failure {
        None => Ok(()),
        Some(e) => {
            tracing::warn!(
                target = name,
                failures,
                "some open jobs could not be described"
            );
            Err(TargetError::Fetch(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: Option<&str>, described_at: Option<i64>) -> OpenJob {
        OpenJob {
            copy_job_id: "j".into(),
            state: state.map(str::to_owned),
            described_at: described_at.map(|ms| Timestamp::from_millis(ms).unwrap()),
        }
    }

    #[test]
    fn unseen_open_jobs_are_due_and_unknown_states_once_a_day() {
        let day = 86_400_000;
        let now = Timestamp::from_millis(10 * day).unwrap();
        let none = SeenIds::default();
        assert!(due(&job(Some("RUNNING"), Some(10 * day)), &none, now));
        assert!(due(&job(None, None), &none, now));
        assert!(due(&job(Some("CANCELLED"), None), &none, now));
        assert!(!due(
            &job(Some("CANCELLED"), Some(10 * day - 1)),
            &none,
            now
        ));
        assert!(due(&job(Some("CANCELLED"), Some(9 * day)), &none, now));
        let mut seen = SeenIds::default();
        seen.insert("j");
        assert!(!due(&job(Some("RUNNING"), None), &seen, now));
    }
}
