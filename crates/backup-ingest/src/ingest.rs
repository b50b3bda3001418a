//! The ingest loop: list each target's copy jobs and record them.
//!
//! Per target, under a PostgreSQL advisory lock (so two overlapping runs of
//! the same target take turns instead of racing):
//!
//! - a **full** run (no checkpoint, no `--since`) lists every job AWS returns;
//! - an **incremental** run, from T (the checkpoint minus an overlap, for
//!   clock skew), lists the jobs created since T, the jobs created before T
//!   and completed since T, and the jobs created before T that AWS reports as
//!   `CREATED` or `RUNNING` (the jobs that can still change without
//!   completing). The four listings are disjoint, so no job is received
//!   twice ([`listings`]). Every filter is sent to AWS.
//!
//! A target's listings run at once, each in a task of its own, and many
//! targets run at once ([`IngestOptions::concurrency`]): the work mostly
//! waits on AWS. Memory is bounded by one budget shared by every target of
//! the run ([`MemoryBudget`]): a listing reserves room for a page before
//! asking for it, and the jobs keep their room until their batch is written.
//!
//! Pages are written in batches, one transaction each, while the next pages
//! are fetched. The checkpoint moves only when every listing of the target
//! finished, so a crash or a failure leaves the next run to list the same
//! window again; the writes are idempotent, so nothing is duplicated.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backup_fetch::{FetchError, Fetcher, ListFilter, Page, Target, TargetClient};
use backup_model::{CopyJob, CopyJobState, Timestamp};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::runs::RunEnd;
use crate::text::{text_digest, KnownTexts, TextKey};
use crate::{BatchOutcome, DbTime, Observation, RunMode, RunOutcome, RunStatus, Store, StoreError};

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
    /// Targets processed at once. A target in flight costs no database
    /// session of its own (the locks share one, the writes a small pool) and
    /// memory is bounded by `memory`, not by this.
    pub concurrency: usize,
    /// ListCopyJobs page size (1 to 1000).
    pub max_results: i32,
    /// The jobs every target of the run may hold in memory at once.
    pub memory: MemoryBudget,
    /// Identifies this invocation in `ingest_runs`.
    pub run_group: String,
}

/// The default number of targets processed at once: the work of a target
/// is mostly waiting on AWS (about 150 ms a call), so many run at once.
pub const DEFAULT_CONCURRENCY: usize = 128;

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            since: None,
            overlap: Duration::from_secs(3600),
            batch_size: 2000,
            lock_timeout: Duration::from_secs(600),
            concurrency: DEFAULT_CONCURRENCY,
            max_results: 1000,
            memory: MemoryBudget::default(),
            run_group: new_run_group(),
        }
    }
}

/// A run group no other invocation has: the time, and 64 random bits
/// (the standard library's per-instance random hasher keys), so that runs
/// started in the same millisecond on other hosts, or in other containers
/// with the same process id, are told apart. The CLI asks the database for
/// a UUID instead ([`crate::Store::new_run_group`]).
fn new_run_group() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("run-{}-{random:016x}", Timestamp::now().as_millis())
}

/// How many jobs all the targets of a run may hold in memory at once: pages
/// being fetched or waiting, and rows of batches not yet written. Clones
/// share the budget.
///
/// A listing reserves room for a whole page (its `MaxResults`) before asking
/// for it, keeps the room its jobs take, and gives it back when their batch
/// is written. A job costs about 5 kB on its way (its part of the response
/// body, the decoded job, its encoded row), so the default of 16,000 jobs
/// is about 80 MB, whatever the concurrency and the size of the organization.
#[derive(Clone)]
pub struct MemoryBudget {
    jobs: usize,
    permits: Arc<Semaphore>,
}

impl MemoryBudget {
    /// The default budget, in jobs.
    pub const DEFAULT_JOBS: usize = 16_000;

    /// A budget of `jobs` jobs (at least one page of the largest size, 1000).
    pub fn new(jobs: usize) -> MemoryBudget {
        let jobs = jobs.clamp(1000, Semaphore::MAX_PERMITS);
        MemoryBudget {
            jobs,
            permits: Arc::new(Semaphore::new(jobs)),
        }
    }

    /// The size of the budget, in jobs.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// Room for `jobs` jobs, waiting until it is free.
    async fn reserve(&self, jobs: usize) -> OwnedSemaphorePermit {
        let n = u32::try_from(jobs.clamp(1, self.jobs)).unwrap_or(u32::MAX);
        match self.permits.clone().acquire_many_owned(n).await {
            Ok(permit) => permit,
            // The semaphore is never closed.
            Err(_) => unreachable!("the memory budget's semaphore is never closed"),
        }
    }

    /// Room for `jobs` jobs if it is free now (`None` otherwise, or when it
    /// exceeds the budget).
    pub(crate) fn try_reserve(&self, jobs: usize) -> Option<OwnedSemaphorePermit> {
        let n = u32::try_from(jobs.max(1)).ok()?;
        self.permits.clone().try_acquire_many_owned(n).ok()
    }

    /// Whether a reservation of `jobs` would have to wait: someone may be
    /// waiting for room that a partly filled batch holds.
    fn is_short_of(&self, jobs: usize) -> bool {
        self.permits.available_permits() < jobs.clamp(1, self.jobs)
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::new(MemoryBudget::DEFAULT_JOBS)
    }
}

impl fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("jobs", &self.jobs)
            .field("free", &self.permits.available_permits())
            .finish()
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
    /// Of the unchanged jobs, those recognised by their text alone: listed
    /// byte for byte as when their current row was written, so neither
    /// decoded nor hashed.
    pub jobs_same_text: u64,
    /// Observations older than what the database holds (kept in history only).
    pub jobs_stale: u64,
    /// Jobs that could not be recorded (no CopyJobId).
    pub jobs_rejected: u64,
    /// Open jobs no listing returned, described one by one (DescribeCopyJob).
    pub jobs_described: u64,
    /// Open jobs AWS no longer returns, marked gone.
    pub jobs_gone: u64,
}

impl Counts {
    pub(crate) fn add_batch(&mut self, outcome: &BatchOutcome) {
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
        self.jobs_described += other.jobs_described;
        self.jobs_same_text += other.jobs_same_text;
        self.jobs_gone += other.jobs_gone;
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
pub(crate) enum TargetError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("{}", .0.detail())]
    Store(#[from] StoreError),
    /// A listing task ended without finishing its listing (a panic).
    #[error("{0}")]
    Listing(String),
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
///
/// The checkpoint and the coverage ledger move only when every listing of
/// the run ended without error, and never over time that was not listed: a
/// `--since` later than the checkpoint minus the overlap lists what it is
/// asked but records the skipped window as a gap and leaves the checkpoint,
/// so the next run lists the gap again. After the listings, the open jobs
/// the database holds that no listing returned are described one by one
/// ([`crate::reconcile`]).
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
    let mut reached = false;
    let result = async {
        let client = fetcher.client(target).await?;
        reached = true;
        name = client.target().to_string();
        let account = client.account().to_owned();
        let region = client.region().to_owned();
        let mut lock = store
            .lock_target(&account, &region, options.lock_timeout)
            .await?;
        let overlap_ms = i64::try_from(options.overlap.as_millis()).unwrap_or(i64::MAX / 4);
        let started_at = Timestamp::now();
        // One statement: the checkpoint, the run row, the ledger row.
        let (run_id, checkpoint, holds_jobs) = store
            .begin_target_run(
                &options.run_group,
                &account,
                &region,
                options.since,
                overlap_ms,
                started_at,
            )
            .await?;
        let window = Window::choose(options.since, checkpoint, overlap_ms);
        mode = if window.since.is_some() {
            RunMode::Incremental
        } else {
            RunMode::Full
        };
        // Stopped as soon as the lock's session is found gone (see `guard`).
        let listed = lock
            .guard(run_listings(
                store,
                &client,
                run_id,
                window.since,
                holds_jobs,
                options,
                &mut counts,
                &name,
                progress,
            ))
            .await
            .unwrap_or_else(|lost| Err(lost.into()));
        // Open jobs that no listing returned: only after complete listings,
        // when `seen` holds everything AWS lists in the window.
        let reconciled = match &listed {
            Ok(listed) => Some(
                crate::reconcile::reconcile(
                    store,
                    &client,
                    run_id,
                    &listed.seen,
                    // The service's time, as every other time of the record.
                    listed.first_observed.unwrap_or(started_at),
                    options,
                    &mut counts,
                    &name,
                )
                .await,
            ),
            Err(_) => None,
        };
        let metrics = client.metrics();
        counts.api_calls = metrics.api_calls;
        counts.retries = metrics.retries;
        counts.pages = metrics.pages;
        let error = match (&listed, &reconciled) {
            (Err(e), _) => Some(e.to_string()),
            (Ok(_), Some(Err(e))) => Some(format!("reconciling open jobs: {e}")),
            _ => None,
        };
        let status = if error.is_some() {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
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
        let database_gone = matches!(&listed, Err(TargetError::Store(e)) if e.is_connection_problem())
            || matches!(&reconciled, Some(Err(TargetError::Store(e))) if e.is_connection_problem());
        // Every listing completed: the listed window is known, and the
        // checkpoint and the ledger move with the run's end, or not at all.
        let end = match (&listed, window.complete) {
            (Err(_), _) => RunEnd::Recorded,
            (Ok(listed), true) => match listed.first_observed {
                Some(listed_through) => RunEnd::Covered {
                    listed_through,
                    covered_through: listed_through.add_millis(-overlap_ms),
                    listed_from: window.since,
                },
                None => RunEnd::Recorded,
            },
            (Ok(_), false) => match window.since {
                Some(gap_to) => {
                    tracing::warn!(
                        target = %name,
                        gap_from = ?window.resume.map(|t| t.to_string()),
                        gap_to = %gap_to,
                        "--since is later than the time this target is listed through: \
                         the checkpoint stays and the next run lists the gap"
                    );
                    RunEnd::Gap {
                        from: window.resume,
                        to: gap_to,
                    }
                }
                None => RunEnd::Recorded,
            },
        };
        let mut recorded = if database_gone {
            Ok(())
        } else {
            store.end_target_run(run_id, &run_outcome, &end).await
        };
        // A statement cut short when the lock was lost can leave a pooled
        // connection out of step with the server (sqlx then reports a
        // protocol error and drops it): the end is recorded on another.
        for _ in 0..3 {
            if !matches!(&recorded, Err(e) if e.is_protocol_error()) {
                break;
            }
            recorded = store.end_target_run(run_id, &run_outcome, &end).await;
        }
        if let (Err(e), Err(_)) = (&recorded, &listed) {
            // The listing's error is the target's; this one would be lost.
            tracing::error!(target = %name, run_id, error = %e.detail(), "could not record the end of the run");
        }
        // The lock is released once the run's end is recorded; dropping it
        // on an error path releases it too.
        let released = lock.release().await;
        listed?;
        if let Some(reconciled) = reconciled {
            reconciled?;
        }
        recorded?;
        released?;
        Ok::<(), TargetError>(())
    }
    .await;
    if let (false, Some(account), Err(error)) = (reached, &target.account, &result) {
        // No client (a refused role, no credentials): the run is still
        // recorded as failed, so the coverage ledger shows why the target
        // is not read, not only since when.
        record_unreached(store, options, account, &target.region, &error.to_string()).await;
    }
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
            described = report.counts.jobs_described,
            gone = report.counts.jobs_gone,
            api_calls = report.counts.api_calls,
            retries = report.counts.retries,
            "target done"
        ),
        Some(error) => tracing::error!(target = %report.target, %error, "target failed"),
    }
    progress.finish(&report);
    report
}

/// Records a failed run of a target that could not be reached, under the
/// target's lock like any run. Best effort: a failure here is only logged.
async fn record_unreached(
    store: &Store,
    options: &IngestOptions,
    account: &str,
    region: &str,
    error: &str,
) {
    let recorded = async {
        let lock = store
            .lock_target(account, region, options.lock_timeout)
            .await?;
        let overlap_ms = i64::try_from(options.overlap.as_millis()).unwrap_or(i64::MAX / 4);
        let (run_id, _, _) = store
            .begin_target_run(
                &options.run_group,
                account,
                region,
                options.since,
                overlap_ms,
                Timestamp::now(),
            )
            .await?;
        let outcome = RunOutcome {
            error: Some(error.to_owned()),
            ..RunOutcome::new(RunStatus::Failed, Timestamp::now())
        };
        store
            .end_target_run(run_id, &outcome, &RunEnd::Recorded)
            .await?;
        lock.release().await
    }
    .await;
    if let Err(e) = recorded {
        tracing::warn!(account, region, error = %e, "cannot record the failed run");
    }
}

/// What a run lists, and whether listing it completes the target's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    /// Where the listings start (`None`: a full listing).
    since: Option<Timestamp>,
    /// Where the record is complete through: the checkpoint minus the
    /// overlap (`None`: no complete run yet).
    resume: Option<Timestamp>,
    /// Whether listing from `since` leaves no time unlisted after `resume`,
    /// so that the checkpoint may move.
    complete: bool,
}

impl Window {
    fn choose(since: Option<Timestamp>, checkpoint: Option<Timestamp>, overlap_ms: i64) -> Window {
        let resume = checkpoint.map(|cp| cp.add_millis(-overlap_ms));
        match (since, resume) {
            // An explicit start no later than the record's end joins it.
            (Some(since), Some(resume)) => Window {
                since: Some(since),
                resume: Some(resume),
                complete: since <= resume,
            },
            // Without any record, a window from `since` leaves everything
            // before it unlisted.
            (Some(since), None) => Window {
                since: Some(since),
                resume: None,
                complete: false,
            },
            (None, resume) => Window {
                since: resume,
                resume,
                complete: true,
            },
        }
    }
}

/// The listings a run makes, each with a name for the logs.
///
/// An incremental run from T makes four **disjoint** listings, so no job is
/// received twice: created since T; created before T and completed since T;
/// created before T and `CREATED`; created before T and `RUNNING`. Together
/// they hold every job created or completed since T and every job still open.
///
/// Neither the service model nor AWS's documentation says whether the
/// `ByCreatedAfter`/`ByCreatedBefore` bounds are inclusive (the emulator, like
/// the service as observed, reads them strictly). The created-since listing
/// starts one millisecond before T and the others end at T, so that however
/// each bound is read no job created around T falls between two listings:
/// read strictly they are exactly disjoint; read inclusively, a job created
/// in the millisecond before T or at T comes twice and is counted once.
///
/// The created-since listing (or, without T, the listing of everything) is
/// cut at `splits`, instants of creation in increasing order, into slices
/// listed side by side: a listing's pages come one after another (each
/// `NextToken` comes with the page before), so a long one is as slow as its
/// pages times AWS's latency, while slices run at once. A slice from S
/// starts one millisecond before S, as the created-since listing does.
fn listings(
    since: Option<Timestamp>,
    splits: &[Timestamp],
    max_results: i32,
) -> Vec<(&'static str, ListFilter)> {
    let base = ListFilter {
        max_results: Some(max_results),
        ..ListFilter::default()
    };
    let splits: Vec<Timestamp> = splits
        .iter()
        .copied()
        .filter(|&s| since.is_none_or(|since| s > since))
        .collect();
    let slices = |name: &'static str, from: Option<Timestamp>| {
        let starts = std::iter::once(from).chain(splits.iter().map(|&s| Some(s)));
        let ends = splits.iter().map(|&s| Some(s)).chain(std::iter::once(None));
        starts
            .zip(ends)
            .map(|(start, end)| {
                (
                    name,
                    ListFilter {
                        created_after: start.map(|s| s.add_millis(-1)),
                        created_before: end,
                        ..base.clone()
                    },
                )
            })
            .collect::<Vec<_>>()
    };
    let Some(since) = since else {
        return slices("all", None);
    };
    let mut all = slices("created", Some(since));
    all.extend([
        (
            "completed",
            ListFilter {
                created_before: Some(since),
                complete_after: Some(since.add_millis(-1)),
                ..base.clone()
            },
        ),
        (
            "open-created",
            ListFilter {
                state: Some(CopyJobState::Created),
                created_before: Some(since),
                ..base.clone()
            },
        ),
        (
            "open-running",
            ListFilter {
                state: Some(CopyJobState::Running),
                created_before: Some(since),
                ..base
            },
        ),
    ]);
    all
}

/// The most slices a long listing is cut into.
const MAX_SLICES: usize = 8;
/// Recorded jobs a slice should hold at least: ten full pages.
const JOBS_PER_SLICE: u64 = 10_000;

/// Where to cut a window whose recorded jobs number `known`, given the
/// instants that cut them into [`MAX_SLICES`] equal parts: into 1, 2, 4 or
/// 8 slices of at least [`JOBS_PER_SLICE`] jobs each.
fn choose_splits(known: u64, quantiles: &[Timestamp]) -> Vec<Timestamp> {
    let wanted = (known / JOBS_PER_SLICE).clamp(1, MAX_SLICES as u64) as usize;
    let slices = 1usize << wanted.ilog2();
    if quantiles.len() + 1 != MAX_SLICES {
        return Vec::new();
    }
    let step = MAX_SLICES / slices;
    let mut splits: Vec<Timestamp> = (1..slices).map(|j| quantiles[j * step - 1]).collect();
    splits.dedup();
    splits
}

/// A page received by a listing task, with the room its jobs take in the
/// run's [`MemoryBudget`].
struct Fetched {
    page: Page,
    /// The page's jobs, when the listing decoded them, and the digests of
    /// their texts.
    jobs: Option<(Vec<CopyJob>, Vec<[u8; 16]>)>,
    room: OwnedSemaphorePermit,
}

/// What a listing task sends.
type Message = Result<Fetched, FetchError>;

/// Runs every listing of a target at once and writes what they find.
#[allow(clippy::too_many_arguments)]
async fn run_listings(
    store: &Store,
    client: &TargetClient,
    run_id: i64,
    since: Option<Timestamp>,
    holds_jobs: bool,
    options: &IngestOptions,
    counts: &mut Counts,
    name: &str,
    progress: &dyn ProgressSink,
) -> Result<Listed, TargetError> {
    // A full run, or a re-read from an explicit --since, is listed in
    // slices cut where the record's jobs of the window split evenly (an
    // incremental run's window is short: one listing of each kind). With
    // no job of the target (or of the window) recorded, no job can be
    // recognised by its text: the listings decode the jobs as they come.
    let mut splits = Vec::new();
    let mut check_texts = holds_jobs;
    // Room to read the window's recorded texts at once.
    let mut texts_room = None;
    if holds_jobs && (since.is_none() || options.since.is_some()) {
        let (known, quantiles) = store
            .creation_splits(client.account(), client.region(), since, MAX_SLICES)
            .await?;
        splits = choose_splits(known, &quantiles);
        check_texts = known > 0;
        if check_texts {
            texts_room = KnownTexts::reserve(known, &options.memory);
        }
    }
    let filters = listings(since, &splits, options.max_results);
    let (tx, rx) = mpsc::channel(2 * filters.len());
    // Each listing in a task of its own: the next pages download (and
    // decode) while a batch is being written, and the listings of a target
    // wait on AWS side by side.
    let mut tasks = JoinSet::new();
    for (listing, filter) in filters {
        tasks.spawn(list_into(
            client.clone(),
            listing,
            filter,
            !check_texts,
            options.memory.clone(),
            tx.clone(),
        ));
    }
    drop(tx);
    // Read while the first pages download (dropping `tasks` on an error
    // stops the listings).
    // Imports take no target lock: one that ran beside this run is found
    // at the end (a margin covers clocks a little apart).
    let texts_read_at = Timestamp::now().add_millis(-IMPORT_CLOCK_MARGIN_MS);
    let texts = match texts_room {
        Some(room) => {
            Some(KnownTexts::load(store, client.account(), client.region(), since, room).await?)
        }
        None => None,
    };
    let preloaded = texts.is_some();
    let mut sink = StoreSink {
        store,
        run_id,
        check_texts,
        texts,
        account: client.account(),
        region: client.region(),
        counts,
        name,
        progress,
    };
    let listed = pump(
        tasks,
        rx,
        client.account(),
        client.region(),
        options,
        &mut sink,
    )
    .await?;
    if preloaded
        && store
            .import_overlaps(client.account(), client.region(), texts_read_at)
            .await?
    {
        return Err(TargetError::Listing(
            "an import ran during this run and may have replaced jobs that this run found \
             unchanged by the texts it read at its start; the run is not trusted and its \
             checkpoint did not move: run it again once the import is done"
                .to_owned(),
        ));
    }
    Ok(listed)
}

/// How far apart the clocks of an import and an ingest may be (see
/// [`Store::import_overlaps`]).
const IMPORT_CLOCK_MARGIN_MS: i64 = 60_000;

/// One listing: every page of `filter`, each sent with its room in the
/// budget. A page's room is reserved before the page is asked for (the
/// response can hold `MaxResults` jobs), then cut to what the page holds.
///
/// With `decode`, the listing decodes each page's jobs as it receives them
/// (a run that will decode every job does it here, beside the writes);
/// otherwise the jobs are left as text for the writer to look up.
async fn list_into(
    client: TargetClient,
    listing: &'static str,
    filter: ListFilter,
    decode: bool,
    memory: MemoryBudget,
    tx: mpsc::Sender<Message>,
) {
    let mut pages = if decode {
        client.list_decoded(filter.clone()).boxed()
    } else {
        client.list(filter.clone()).boxed()
    };
    let mut index = 0;
    loop {
        let mut room = memory.reserve(filter.page_capacity(index)).await;
        let Some(page) = pages.next().await else {
            return;
        };
        index += 1;
        let (page, jobs) = match page {
            Ok(mut page) => {
                let jobs = page.take_jobs().map(|jobs| {
                    // The digests while the texts are still in the cache.
                    let digests = (0..jobs.len())
                        .map(|i| text_digest(page.job_text(i)))
                        .collect();
                    (jobs, digests)
                });
                (page, jobs)
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let spare = room.num_permits().saturating_sub(page.len());
        drop(room.split(spare));
        let last = page.next_token.is_none();
        tracing::trace!(listing, page = index, jobs = page.len(), "page received");
        if tx.send(Ok(Fetched { page, jobs, room })).await.is_err() || last {
            return;
        }
    }
}

/// A job as listed, not yet decoded: its page and place on it, its key,
/// and the digest of its text.
struct ListedJob {
    page: Arc<Page>,
    index: usize,
    /// The job's AccountId: its key's account (the target's when `None`).
    account_id: Option<String>,
    /// `None` for a job without (or with an empty) CopyJobId: it is decoded
    /// and refused by the write.
    copy_job_id: Option<String>,
    digest: [u8; 16],
}

/// A batch being gathered: jobs the listings decoded, ready to write, and
/// jobs listed as text, to look up first.
#[derive(Default)]
struct Batch {
    decoded: Vec<Observation>,
    /// The digest of each decoded job's text (then of each job decoded from
    /// `listed`).
    digests: Vec<Option<[u8; 16]>>,
    listed: Vec<ListedJob>,
}

impl Batch {
    fn with_capacity(jobs: usize) -> Batch {
        Batch {
            decoded: Vec::with_capacity(jobs),
            digests: Vec::with_capacity(jobs),
            listed: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.decoded.len() + self.listed.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn clear(&mut self) {
        self.decoded.clear();
        self.digests.clear();
        self.listed.clear();
    }
}

/// Where the jobs of a target's listings go, a batch at a time.
trait BatchSink {
    /// Writes `batch`: jobs received once each in this run (the jobs of
    /// `listed` that are decoded join `decoded`).
    async fn write(&mut self, batch: &mut Batch) -> Result<(), TargetError>;
}

/// Writes batches to the store and keeps the target's counts.
struct StoreSink<'a> {
    store: &'a Store,
    run_id: i64,
    /// Whether to look jobs up by their text before decoding them.
    check_texts: bool,
    /// The window's recorded texts, when read at once: then jobs are looked
    /// up in memory, not with a query per batch.
    texts: Option<KnownTexts>,
    account: &'a str,
    region: &'a str,
    counts: &'a mut Counts,
    name: &'a str,
    progress: &'a dyn ProgressSink,
}

impl BatchSink for StoreSink<'_> {
    /// Jobs listed with their current row's text are unchanged: one lookup
    /// finds them, and only the others are decoded, hashed and written.
    async fn write(&mut self, batch: &mut Batch) -> Result<(), TargetError> {
        self.counts.jobs_seen += batch.len() as u64;
        let keyed: Vec<(usize, TextKey<'_>)> = batch
            .listed
            .iter()
            .enumerate()
            .filter_map(|(i, job)| {
                Some((
                    i,
                    TextKey {
                        account_id: job.account_id.as_deref().unwrap_or(self.account),
                        copy_job_id: job.copy_job_id.as_deref()?,
                        digest: job.digest,
                        observed_at: DbTime(job.page.observed_at),
                    },
                ))
            })
            .collect();
        let same = match (&self.texts, self.check_texts) {
            (_, false) => Vec::new(),
            (Some(texts), true) => keyed.iter().map(|(_, k)| texts.same(k)).collect(),
            (None, true) => {
                let keys: Vec<TextKey<'_>> = keyed.iter().map(|(_, k)| *k).collect();
                self.store.same_text(self.region, &keys).await?
            }
        };
        let mut skip = vec![false; batch.listed.len()];
        for ((i, _), same) in keyed.iter().zip(same) {
            skip[*i] = same;
        }
        let same_text = skip.iter().filter(|&&s| s).count() as u64;
        for (job, _) in batch.listed.iter().zip(&skip).filter(|(_, &skip)| !skip) {
            batch.decoded.push(Observation {
                account_id: self.account.to_owned(),
                region: self.region.to_owned(),
                observed_at: job.page.observed_at,
                job: job.page.job(job.index)?,
            });
            batch.digests.push(Some(job.digest));
        }
        let outcome = self
            .store
            .write_listed(self.run_id, &batch.decoded, &batch.digests)
            .await?;
        report_rejected(self.name, &outcome);
        self.counts.add_batch(&outcome);
        self.counts.jobs_unchanged += same_text;
        self.counts.jobs_same_text += same_text;
        self.progress.update(self.name, self.counts);
        Ok(())
    }
}

/// How long a target holding a partly filled batch waits for its next page
/// before it looks whether the budget is short (see [`pump`]).
const SHORT_CHECK: Duration = Duration::from_millis(20);

/// Receives the pages of a target's listing tasks, writes them in batches,
/// and returns what was received. Every task is awaited: an error or a panic
/// of any of them is the target's error, so the checkpoint never moves over
/// a listing that did not finish.
///
/// A partly filled batch holds room in the budget that a listing (of this
/// target or another) may be waiting for; a target whose next page is slow
/// to come writes its batch as soon as the budget is short, so the targets
/// never wait on each other for good.
async fn pump(
    mut tasks: JoinSet<()>,
    mut rx: mpsc::Receiver<Message>,
    account: &str,
    region: &str,
    options: &IngestOptions,
    sink: &mut impl BatchSink,
) -> Result<Listed, TargetError> {
    let mut listed = Listed {
        first_observed: None,
        seen: SeenIds::default(),
    };
    let page_room = usize::try_from(options.max_results).unwrap_or(1000);
    let result = async {
        let mut batch = Batch::with_capacity(options.batch_size + page_room);
        let mut room: Option<OwnedSemaphorePermit> = None;
        loop {
            let next = if batch.is_empty() {
                rx.recv().await
            } else {
                match tokio::time::timeout(SHORT_CHECK, rx.recv()).await {
                    Ok(next) => next,
                    Err(_) => {
                        if options.memory.is_short_of(page_room) {
                            sink.write(&mut batch).await?;
                            batch.clear();
                            room = None;
                        }
                        continue;
                    }
                }
            };
            let Some(message) = next else { break };
            let Fetched {
                page,
                jobs,
                room: page_room,
            } = message?;
            listed.first_observed = Some(
                listed
                    .first_observed
                    .map_or(page.observed_at, |t| t.min(page.observed_at)),
            );
            if let Some((jobs, digests)) = jobs {
                // Decoded by the listing: ready to write.
                for (job, digest) in jobs.into_iter().zip(digests) {
                    // The listings are disjoint, but a bound read inclusively
                    // can let a job come twice: it is recorded once.
                    if let Some(id) = &job.copy_job_id {
                        if !listed.seen.insert(id) {
                            continue;
                        }
                    }
                    batch.decoded.push(Observation {
                        account_id: account.to_owned(),
                        region: region.to_owned(),
                        observed_at: page.observed_at,
                        job,
                    });
                    batch.digests.push(Some(digest));
                }
            } else {
                // Read for their names only, to be looked up by their text.
                let page = Arc::new(page);
                for index in 0..page.len() {
                    let names = page.job_names(index)?;
                    if let Some(id) = &names.copy_job_id {
                        if !listed.seen.insert(id) {
                            continue;
                        }
                    }
                    batch.listed.push(ListedJob {
                        account_id: names.account_id.map(Cow::into_owned),
                        copy_job_id: names
                            .copy_job_id
                            .filter(|id| !id.is_empty())
                            .map(Cow::into_owned),
                        digest: text_digest(page.job_text(index)),
                        page: Arc::clone(&page),
                        index,
                    });
                }
            }
            match &mut room {
                Some(room) => room.merge(page_room),
                None => room = Some(page_room),
            }
            if batch.len() >= options.batch_size {
                sink.write(&mut batch).await?;
                batch.clear();
                room = None;
            }
        }
        if !batch.is_empty() {
            sink.write(&mut batch).await?;
        }
        drop(room);
        Ok::<(), TargetError>(())
    }
    .await;
    if result.is_err() {
        tasks.abort_all();
    }
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            if e.is_panic() && failure.is_none() {
                failure = Some(TargetError::Listing(format!(
                    "a listing of the target stopped: it panicked ({}); the listing is incomplete",
                    panic_message(e.into_panic())
                )));
            }
        }
    }
    result?;
    match failure {
        Some(failure) => Err(failure),
        None => Ok(listed),
    }
}

/// The text of a panic's payload.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "no message".to_owned(), |s| (*s).to_owned()),
    }
}

/// What a target's listings found.
pub(crate) struct Listed {
    /// The service's time of the first page: the instant through which the
    /// target is now listed (`None` when no page came back).
    pub first_observed: Option<Timestamp>,
    /// Every CopyJobId received by this run of the target.
    pub seen: SeenIds,
}

/// The CopyJobIds a run of a target received, kept until the target ends
/// (to count each job once and to find the open jobs no listing returned).
/// Each is kept as its 128-bit xxh3 hash: 20 to 40 bytes a job in the set
/// instead of about 100 for the string, which matters for a target of a million jobs.
/// Two ids of a target sharing a hash is a chance of about n²/2¹²⁹.
#[derive(Debug, Default)]
pub(crate) struct SeenIds(HashSet<u128>);

impl SeenIds {
    /// Adds `id`; whether it was new.
    pub fn insert(&mut self, id: &str) -> bool {
        self.0.insert(xxhash_rust::xxh3::xxh3_128(id.as_bytes()))
    }

    /// Whether `id` was received.
    pub fn contains(&self, id: &str) -> bool {
        self.0.contains(&xxhash_rust::xxh3::xxh3_128(id.as_bytes()))
    }

    /// How many ids were received.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

pub(crate) fn report_rejected(target: &str, outcome: &BatchOutcome) {
    for (job, why) in &outcome.rejected {
        tracing::warn!(target, job, why, "job not recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn every_invocation_has_a_run_group_of_its_own() {
        // Runs started in the same millisecond (two cron jobs, two pods)
        // are told apart in ingest_runs.
        let groups: HashSet<String> = (0..100)
            .map(|_| IngestOptions::default().run_group)
            .collect();
        assert_eq!(groups.len(), 100, "{groups:?}");
    }

    #[test]
    fn a_window_joins_the_record_or_leaves_the_checkpoint() {
        let cp = ts("2026-03-01T12:00:00Z");
        let hour = 3_600_000;
        let resume = ts("2026-03-01T11:00:00Z");
        // Plain runs: full, then from the checkpoint minus the overlap.
        assert_eq!(
            Window::choose(None, None, hour),
            Window {
                since: None,
                resume: None,
                complete: true
            }
        );
        assert_eq!(Window::choose(None, Some(cp), hour).since, Some(resume));
        assert!(Window::choose(None, Some(cp), hour).complete);
        // --since up to the record's end joins it; later leaves a gap.
        assert!(Window::choose(Some(resume), Some(cp), hour).complete);
        assert!(Window::choose(Some(ts("2026-01-01T00:00:00Z")), Some(cp), hour).complete);
        let late = Window::choose(Some(ts("2026-03-01T11:00:00.001Z")), Some(cp), hour);
        assert!(!late.complete);
        assert_eq!(late.resume, Some(resume));
        // Without a record, any --since leaves everything before it unlisted.
        assert!(!Window::choose(Some(ts("2000-01-01T00:00:00Z")), None, hour).complete);
    }

    /// Whether `filter` selects a job, with the time bounds read strictly
    /// (`inclusive` false, as the emulator reads them) or inclusively.
    fn selects(
        filter: &ListFilter,
        inclusive: bool,
        created: Timestamp,
        completed: Option<Timestamp>,
        state: &CopyJobState,
    ) -> bool {
        let after = |bound: Option<Timestamp>, t: Option<Timestamp>| {
            bound.is_none_or(|b| t.is_some_and(|t| t > b || (inclusive && t == b)))
        };
        let before = |bound: Option<Timestamp>, t: Option<Timestamp>| {
            bound.is_none_or(|b| t.is_some_and(|t| t < b || (inclusive && t == b)))
        };
        after(filter.created_after, Some(created))
            && before(filter.created_before, Some(created))
            && after(filter.complete_after, completed)
            && before(filter.complete_before, completed)
            && filter.state.as_ref().is_none_or(|s| s == state)
    }

    #[test]
    fn incremental_listings_are_disjoint_and_leave_no_gap() {
        let since = ts("2026-01-01T00:00:00Z");
        let split = since.add_millis(2);
        assert_eq!(listings(Some(since), &[], 1000).len(), 4);
        assert_eq!(listings(None, &[], 1000).len(), 1);
        // Splits at or before T cut nothing.
        assert_eq!(listings(Some(since), &[since, split], 1000).len(), 5);
        assert_eq!(listings(None, &[since, split], 1000).len(), 3);
        for (since, filters) in [
            (Some(since), listings(Some(since), &[], 1000)),
            (Some(since), listings(Some(since), &[split], 1000)),
            (None, listings(None, &[since, split], 1000)),
        ] {
            listings_cover_the_window_once(since, split, &filters);
        }
    }

    #[test]
    fn a_window_is_cut_into_slices_of_ten_pages_or_more() {
        let q: Vec<Timestamp> = (1..8)
            .map(|h| ts("2026-01-01T00:00:00Z").add_millis(h * 3_600_000))
            .collect();
        assert_eq!(choose_splits(0, &q), []);
        assert_eq!(choose_splits(19_999, &q), []);
        assert_eq!(choose_splits(20_000, &q), [q[3]]);
        assert_eq!(choose_splits(79_999, &q), [q[1], q[3], q[5]]);
        assert_eq!(choose_splits(10_000_000, &q), q);
        // Jobs created at one instant are not cut.
        assert_eq!(choose_splits(100_000, &[q[0]; 7]), [q[0]]);
        assert_eq!(choose_splits(100_000, &[]), []);
    }

    /// Checks every combination of times around `t` and `split`.
    fn listings_cover_the_window_once(
        since: Option<Timestamp>,
        split: Timestamp,
        filters: &[(&'static str, ListFilter)],
    ) {
        let t = since.unwrap_or(split);
        let around: Vec<Timestamp> = (-3..=5).map(|ms| t.add_millis(ms)).collect();
        let states = [
            CopyJobState::Created,
            CopyJobState::Running,
            CopyJobState::Completed,
            CopyJobState::Failed,
        ];
        for &created in &around {
            for completed in around.iter().map(|&t| Some(t)).chain([None]) {
                if completed.is_some_and(|c| c < created) {
                    continue;
                }
                for state in &states {
                    let open = matches!(state, CopyJobState::Created | CopyJobState::Running);
                    if open && completed.is_some() {
                        // An open job has no CompletionDate.
                        continue;
                    }
                    // What an incremental run must see: created or completed
                    // since T, or still open; a full run, everything.
                    let wanted = since.is_none_or(|since| {
                        created >= since || completed.is_some_and(|c| c >= since) || open
                    });
                    let strict = filters
                        .iter()
                        .filter(|(_, f)| selects(f, false, created, completed, state))
                        .count();
                    let inclusive = filters
                        .iter()
                        .filter(|(_, f)| selects(f, true, created, completed, state))
                        .count();
                    let case = format!("created {created}, completed {completed:?}, {state:?}");
                    if wanted {
                        assert_eq!(strict, 1, "strict bounds, {case}");
                        assert!(inclusive >= 1, "inclusive bounds, {case}");
                    } else {
                        assert_eq!(strict, 0, "strict bounds, {case}");
                    }
                }
            }
        }
    }

    /// Collects what [`pump`] writes.
    #[derive(Default)]
    struct Collect {
        ids: Vec<String>,
        batches: usize,
    }

    impl BatchSink for Collect {
        async fn write(&mut self, batch: &mut Batch) -> Result<(), TargetError> {
            self.batches += 1;
            for job in &batch.listed {
                let decoded = job.page.job(job.index)?;
                assert_eq!(decoded.copy_job_id, job.copy_job_id);
                assert_eq!(job.digest, text_digest(job.page.job_text(job.index)));
                self.ids.extend(decoded.copy_job_id);
            }
            for observation in &batch.decoded {
                self.ids.extend(observation.job.copy_job_id.clone());
            }
            // Let other targets run between batches, as a database write does.
            tokio::task::yield_now().await;
            Ok(())
        }
    }

    fn page(ids: impl IntoIterator<Item = String>, last: bool) -> Page {
        let jobs: Vec<_> = ids
            .into_iter()
            .map(|id| serde_json::json!({ "CopyJobId": id }))
            .collect();
        let mut body = serde_json::json!({ "CopyJobs": jobs });
        if !last {
            body["NextToken"] = "more".into();
        }
        let target = Target {
            account: Some("111122223333".to_owned()),
            region: "eu-west-1".to_owned(),
        };
        Page::from_body(
            serde_json::to_vec(&body).unwrap().into(),
            &target,
            None,
            ts("2026-01-01T00:00:00Z"),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_listing_task_that_panics_fails_the_target() {
        let options = IngestOptions::default();
        let (tx, rx) = mpsc::channel(4);
        let mut tasks = JoinSet::new();
        let memory = options.memory.clone();
        tasks.spawn(async move {
            let room = memory.reserve(1).await;
            let first = page(["job-1".to_owned()], false);
            tx.send(Ok(Fetched {
                page: first,
                jobs: None,
                room,
            }))
            .await
            .ok();
            panic!("the listing broke after its first page");
        });
        let mut sink = Collect::default();
        let result = pump(tasks, rx, "111122223333", "eu-west-1", &options, &mut sink).await;
        let error = result
            .err()
            .expect("a panic in a listing is the target's error");
        assert!(
            error
                .to_string()
                .contains("the listing broke after its first page"),
            "{error}"
        );
        assert_eq!(sink.ids, ["job-1"], "what was received is still written");
    }

    #[tokio::test]
    async fn a_listing_error_fails_the_target() {
        let options = IngestOptions::default();
        let (tx, rx) = mpsc::channel(4);
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let error = FetchError::other(
                "ListCopyJobs",
                backup_fetch::FetchErrorKind::Other,
                "the service is gone",
            );
            tx.send(Err(error)).await.ok();
        });
        let result = pump(
            tasks,
            rx,
            "111122223333",
            "eu-west-1",
            &options,
            &mut Collect::default(),
        )
        .await;
        assert!(result.is_err());
    }

    /// Many targets, each holding batches larger than the whole budget,
    /// share one small budget: each writes early rather than wait for room
    /// another holds, so all of them finish and every job is written once.
    #[tokio::test]
    async fn targets_sharing_a_small_budget_all_finish() {
        let options = IngestOptions {
            batch_size: 50_000,
            max_results: 300,
            memory: MemoryBudget::new(1000),
            ..IngestOptions::default()
        };
        let targets = (0..8).map(|t| {
            let options = options.clone();
            async move {
                let (tx, rx) = mpsc::channel(4);
                let mut tasks = JoinSet::new();
                for listing in 0..2 {
                    let tx = tx.clone();
                    let memory = options.memory.clone();
                    tasks.spawn(async move {
                        for p in 0..5 {
                            let mut room = memory.reserve(300).await;
                            let ids: Vec<String> = (0..250)
                                .map(|j| format!("t{t}-l{listing}-p{p}-j{j}"))
                                .collect();
                            drop(room.split(room.num_permits() - ids.len()));
                            let page = page(ids, p == 4);
                            // One listing decodes its jobs, the other leaves
                            // them as text.
                            let jobs = (listing == 1).then(|| {
                                let jobs = page.jobs().unwrap();
                                let digests = (0..jobs.len())
                                    .map(|i| text_digest(page.job_text(i)))
                                    .collect();
                                (jobs, digests)
                            });
                            if tx.send(Ok(Fetched { page, jobs, room })).await.is_err() {
                                return;
                            }
                        }
                    });
                }
                drop(tx);
                let mut sink = Collect::default();
                let listed = pump(tasks, rx, "111122223333", "eu-west-1", &options, &mut sink)
                    .await
                    .expect("the target finishes");
                (listed.seen.len(), sink.ids.len())
            }
        });
        let done = futures::future::join_all(targets).await;
        assert!(
            done.iter()
                .all(|&(seen, written)| seen == 2500 && written == 2500),
            "{done:?}"
        );
        assert_eq!(
            options.memory.permits.available_permits(),
            1000,
            "all room given back"
        );
    }
}
