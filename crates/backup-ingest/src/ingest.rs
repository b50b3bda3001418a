//! The ingest loop: list each target's copy jobs and record them.
//!
//! Per target, under a PostgreSQL advisory lock (so two overlapping runs of
//! the same target take turns instead of racing):
//!
//! - a **full** run (no checkpoint, no `--since`) lists every job AWS returns;
//! - an **incremental** run lists the jobs created or completed since the
//!   checkpoint minus an overlap (for clock skew), plus every job AWS reports
//!   as `CREATED` or `RUNNING` (the jobs that can still change without
//!   completing). Every filter is sent to AWS: no job is described one by one.
//!
//! Pages are written in batches, one transaction each, while the next pages
//! are fetched. The checkpoint moves only when every listing of the target
//! finished, so a crash or a failure leaves the next run to list the same
//! window again; the writes are idempotent, so nothing is duplicated.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use backup_fetch::{FetchError, Fetcher, ListFilter, Target, TargetClient};
use backup_model::{CopyJobState, Timestamp};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::{BatchOutcome, NewRun, Observation, RunMode, RunOutcome, RunStatus, Store, StoreError};

/// How an ingest run behaves.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// List from this time instead of the stored checkpoint.
    pub since: Option<Timestamp>,
    /// How far before the checkpoint an incremental run starts listing.
    pub overlap: Duration,
    /// Jobs written per transaction.
    pub batch_size: usize,
    /// How long to wait for another run of the same target to finish.
    pub lock_timeout: Duration,
    /// Targets processed at once.
    pub concurrency: usize,
    /// ListCopyJobs page size (1 to 1000).
    pub max_results: i32,
    /// Identifies this invocation in `ingest_runs`.
    pub run_group: String,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            since: None,
            overlap: Duration::from_secs(3600),
            batch_size: 2000,
            lock_timeout: Duration::from_secs(600),
            concurrency: 4,
            max_results: 1000,
            run_group: format!("run-{}", Timestamp::now().as_millis()),
        }
    }
}

/// Counts of one target's run, or of a whole invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// ListCopyJobs pages received.
    pub pages: u64,
    /// HTTP requests sent to AWS, retries included.
    pub api_calls: u64,
    /// Requests that were retries (throttling, 5xx, timeouts).
    pub retries: u64,
    /// Distinct jobs received.
    pub jobs_seen: u64,
    /// Jobs recorded for the first time.
    pub jobs_new: u64,
    /// Jobs whose content changed (a new history row each).
    pub jobs_changed: u64,
    /// Jobs seen again unchanged.
    pub jobs_unchanged: u64,
    /// Observations older than what the database holds (kept in history only).
    pub jobs_stale: u64,
    /// Jobs that could not be recorded (no CopyJobId).
    pub jobs_rejected: u64,
}

impl Counts {
    fn add_batch(&mut self, outcome: &BatchOutcome) {
        self.jobs_new += outcome.new;
        self.jobs_changed += outcome.changed;
        self.jobs_unchanged += outcome.unchanged + outcome.duplicates;
        self.jobs_stale += outcome.stale;
        self.jobs_rejected += outcome.rejected.len() as u64;
    }

    /// Adds another target's counts.
    pub fn add(&mut self, other: &Counts) {
        self.pages += other.pages;
        self.api_calls += other.api_calls;
        self.retries += other.retries;
        self.jobs_seen += other.jobs_seen;
        self.jobs_new += other.jobs_new;
        self.jobs_changed += other.jobs_changed;
        self.jobs_unchanged += other.jobs_unchanged;
        self.jobs_stale += other.jobs_stale;
        self.jobs_rejected += other.jobs_rejected;
    }
}

/// The result of one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// `account/region`.
    pub target: String,
    /// `full` or `incremental`.
    pub mode: &'static str,
    /// What was done.
    #[serde(flatten)]
    pub counts: Counts,
    /// How long the target took, in milliseconds.
    pub duration_ms: u64,
    /// Why the target failed; `None` when it succeeded.
    pub error: Option<String>,
}

/// The result of an invocation: what cron monitors read (`--summary json`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Targets attempted.
    pub targets: usize,
    /// Targets that completed.
    pub succeeded: usize,
    /// Targets that failed, by name.
    pub failed: Vec<String>,
    /// Totals over all targets.
    #[serde(flatten)]
    pub counts: Counts,
    /// Wall-clock time, in milliseconds.
    pub duration_ms: u64,
    /// Per-target detail.
    pub per_target: Vec<TargetReport>,
}

/// Live progress of one target, for a progress display.
pub trait ProgressSink: Send + Sync {
    /// Called after each written batch with the counts so far.
    fn update(&self, target: &str, counts: &Counts);
    /// Called when the target ends.
    fn finish(&self, report: &TargetReport);
}

/// A sink that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn update(&self, _target: &str, _counts: &Counts) {}
    fn finish(&self, _report: &TargetReport) {}
}

/// Why a target failed.
#[derive(Debug, thiserror::Error)]
enum TargetError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Ingests every target, `options.concurrency` at a time.
pub async fn ingest(
    store: &Store,
    fetcher: &Fetcher,
    targets: &[Target],
    options: &IngestOptions,
    progress: &dyn ProgressSink,
) -> Summary {
    let started = Instant::now();
    let per_target: Vec<TargetReport> = futures::stream::iter(targets)
        .map(|target| ingest_target(store, fetcher, target, options, progress))
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    let mut counts = Counts::default();
    let mut failed = Vec::new();
    for report in &per_target {
        counts.add(&report.counts);
        if report.error.is_some() {
            failed.push(report.target.clone());
        }
    }
    Summary {
        targets: targets.len(),
        succeeded: targets.len() - failed.len(),
        failed,
        counts,
        duration_ms: started.elapsed().as_millis() as u64,
        per_target,
    }
}

/// Ingests one target; failures are reported in the result, not raised.
pub async fn ingest_target(
    store: &Store,
    fetcher: &Fetcher,
    target: &Target,
    options: &IngestOptions,
    progress: &dyn ProgressSink,
) -> TargetReport {
    let started = Instant::now();
    let mut counts = Counts::default();
    let mut mode = RunMode::Full;
    let mut name = target.to_string();
    let result = async {
        let client = fetcher.client(target).await?;
        name = client.target().to_string();
        let account = client.account().to_owned();
        let region = client.region().to_owned();
        let _lock = store
            .lock_target(&account, &region, options.lock_timeout)
            .await?;
        let checkpoint = store.checkpoint(&account, &region).await?;
        let since = match (options.since, checkpoint) {
            (Some(since), _) => Some(since),
            (None, Some(cp)) => Some(cp.add_millis(-(options.overlap.as_millis() as i64))),
            (None, None) => None,
        };
        mode = if since.is_some() {
            RunMode::Incremental
        } else {
            RunMode::Full
        };
        let run_id = store
            .start_run(&NewRun {
                run_group: options.run_group.clone(),
                account_id: account.clone(),
                region: region.clone(),
                mode,
                since,
                started_at: Timestamp::now(),
            })
            .await?;
        let outcome = run_listings(
            store,
            &client,
            run_id,
            since,
            options,
            &mut counts,
            &name,
            progress,
        )
        .await;
        let metrics = client.metrics();
        counts.api_calls = metrics.api_calls;
        counts.retries = metrics.retries;
        counts.pages = metrics.pages;
        let (status, error) = match &outcome {
            Ok(_) => (RunStatus::Succeeded, None),
            Err(e) => (RunStatus::Failed, Some(e.to_string())),
        };
        let run_outcome = RunOutcome {
            error,
            pages: counts.pages,
            api_calls: counts.api_calls,
            retries: counts.retries,
            jobs_seen: counts.jobs_seen,
            jobs_new: counts.jobs_new,
            jobs_changed: counts.jobs_changed,
            jobs_unchanged: counts.jobs_unchanged,
            jobs_stale: counts.jobs_stale,
            jobs_rejected: counts.jobs_rejected,
            ..RunOutcome::new(status, Timestamp::now())
        };
        // When the database itself went away, recording the run's end would
        // only wait out another connection timeout: the run stays `running`
        // in ingest_runs, which is what it was.
        let database_gone =
            matches!(&outcome, Err(TargetError::Store(e)) if e.is_connection_problem());
        let recorded = if database_gone {
            Ok(())
        } else {
            store.finish_run(run_id, &run_outcome).await
        };
        let listed_through = outcome?;
        if let Some(listed_through) = listed_through {
            store
                .set_checkpoint(&account, &region, listed_through, run_id)
                .await?;
        }
        recorded?;
        Ok::<(), TargetError>(())
    }
    .await;
    let report = TargetReport {
        target: name,
        mode: mode.as_str(),
        counts,
        duration_ms: started.elapsed().as_millis() as u64,
        error: result.err().map(|e| e.to_string()),
    };
    match &report.error {
        None => tracing::info!(
            target = %report.target,
            mode = report.mode,
            seen = report.counts.jobs_seen,
            new = report.counts.jobs_new,
            changed = report.counts.jobs_changed,
            unchanged = report.counts.jobs_unchanged,
            api_calls = report.counts.api_calls,
            retries = report.counts.retries,
            "target done"
        ),
        Some(error) => tracing::error!(target = %report.target, %error, "target failed"),
    }
    progress.finish(&report);
    report
}

/// The listings a run makes.
fn listings(since: Option<Timestamp>, max_results: i32) -> Vec<ListFilter> {
    let base = ListFilter {
        max_results: Some(max_results),
        ..ListFilter::default()
    };
    match since {
        None => vec![base],
        Some(since) => vec![
            ListFilter {
                created_after: Some(since),
                ..base.clone()
            },
            ListFilter {
                complete_after: Some(since),
                ..base.clone()
            },
            ListFilter {
                state: Some(CopyJobState::Created),
                ..base.clone()
            },
            ListFilter {
                state: Some(CopyJobState::Running),
                ..base
            },
        ],
    }
}

/// Runs every listing of a target and writes what it finds. Returns the
/// instant through which the target is now listed (the service's time of
/// the first page), or `None` when no page came back.
#[allow(clippy::too_many_arguments)]
async fn run_listings(
    store: &Store,
    client: &TargetClient,
    run_id: i64,
    since: Option<Timestamp>,
    options: &IngestOptions,
    counts: &mut Counts,
    name: &str,
    progress: &dyn ProgressSink,
) -> Result<Option<Timestamp>, TargetError> {
    let filters = listings(since, options.max_results);
    // Several listings can return the same job; the set keeps it from being
    // counted twice. A full run has one listing and needs no set.
    let mut seen: Option<HashSet<String>> = (filters.len() > 1).then(HashSet::new);
    let (tx, mut rx) = mpsc::channel(2);
    let fetcher_client = client.clone();
    // Fetching runs in its own task so the next pages download (and decode)
    // while a batch is being written.
    let fetch = tokio::spawn(async move {
        for filter in filters {
            let mut pages = std::pin::pin!(fetcher_client.list(filter));
            while let Some(page) = pages.next().await {
                let failed = page.is_err();
                if tx.send(page).await.is_err() || failed {
                    return;
                }
            }
        }
    });
    let mut first_observed: Option<Timestamp> = None;
    let mut batch: Vec<Observation> = Vec::with_capacity(options.batch_size);
    let account = client.account().to_owned();
    let region = client.region().to_owned();
    let result = async {
        while let Some(page) = rx.recv().await {
            let page = page?;
            first_observed =
                Some(first_observed.map_or(page.observed_at, |t| t.min(page.observed_at)));
            for job in page.jobs {
                if let (Some(seen), Some(id)) = (seen.as_mut(), job.copy_job_id.as_ref()) {
                    if !seen.insert(id.clone()) {
                        continue;
                    }
                }
                counts.jobs_seen += 1;
                batch.push(Observation {
                    account_id: account.clone(),
                    region: region.clone(),
                    observed_at: page.observed_at,
                    job,
                });
            }
            if batch.len() >= options.batch_size {
                let outcome = store.write_batch(run_id, &batch).await?;
                report_rejected(name, &outcome);
                counts.add_batch(&outcome);
                batch.clear();
                progress.update(name, counts);
            }
        }
        if !batch.is_empty() {
            let outcome = store.write_batch(run_id, &batch).await?;
            report_rejected(name, &outcome);
            counts.add_batch(&outcome);
            progress.update(name, counts);
        }
        Ok::<(), TargetError>(())
    }
    .await;
    if result.is_err() {
        fetch.abort();
    }
    let _ = fetch.await;
    result?;
    Ok(first_observed)
}

fn report_rejected(target: &str, outcome: &BatchOutcome) {
    for (job, why) in &outcome.rejected {
        tracing::warn!(target, job, why, "job not recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_runs_list_by_time_and_open_states() {
        let since = Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let filters = listings(Some(since), 1000);
        assert_eq!(filters.len(), 4);
        assert_eq!(filters[0].created_after, Some(since));
        assert_eq!(filters[1].complete_after, Some(since));
        assert_eq!(filters[2].state, Some(CopyJobState::Created));
        assert_eq!(filters[3].state, Some(CopyJobState::Running));
        assert_eq!(listings(None, 1000).len(), 1);
    }
}
