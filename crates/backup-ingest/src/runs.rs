//! The bookkeeping of ingest runs: one `ingest_runs` row per run and target.

use backup_model::Timestamp;

use crate::store::BatchOutcome;

/// How a run chose what to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunMode {
    /// Everything AWS still lists.
    Full,
    /// What changed since the target's checkpoint.
    Incremental,
    /// Jobs read from files rather than from AWS.
    Import,
}

impl RunMode {
    /// The value stored in `ingest_runs.mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Full => "full",
            RunMode::Incremental => "incremental",
            RunMode::Import => "import",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// It listed everything it meant to (some jobs may still have been rejected).
    Succeeded,
    /// It stopped early; `error` says why.
    Failed,
}

impl RunStatus {
    /// The value stored in `ingest_runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }
}

/// A run about to start, for [`Store::start_run`](crate::Store::start_run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    /// Shared by the runs of one process invocation.
    pub run_group: String,
    /// The target's account.
    pub account_id: String,
    /// The target's region.
    pub region: String,
    /// How the run chooses what to read.
    pub mode: RunMode,
    /// The start of the listed window, for incremental runs.
    pub since: Option<Timestamp>,
    /// When the run started.
    pub started_at: Timestamp,
}

/// How a run ended and what it counted, for
/// [`Store::finish_run`](crate::Store::finish_run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// Succeeded or failed.
    pub status: RunStatus,
    /// When it ended.
    pub finished_at: Timestamp,
    /// List pages read.
    pub pages: u64,
    /// API calls made (list and describe).
    pub api_calls: u64,
    /// Calls retried.
    pub retries: u64,
    /// Jobs read, including duplicates and rejected ones.
    pub jobs_seen: u64,
    /// Jobs stored for the first time.
    pub jobs_new: u64,
    /// Jobs whose content changed.
    pub jobs_changed: u64,
    /// Jobs seen again unchanged (and duplicates within a batch).
    pub jobs_unchanged: u64,
    /// Observations older than what was stored.
    pub jobs_stale: u64,
    /// Jobs that could not be stored.
    pub jobs_rejected: u64,
    /// Why the run failed. Stored redacted (no URL passwords, no AWS secrets).
    pub error: Option<String>,
}

impl RunOutcome {
    /// An outcome with all counts zero.
    pub fn new(status: RunStatus, finished_at: Timestamp) -> Self {
        RunOutcome {
            status,
            finished_at,
            pages: 0,
            api_calls: 0,
            retries: 0,
            jobs_seen: 0,
            jobs_new: 0,
            jobs_changed: 0,
            jobs_unchanged: 0,
            jobs_stale: 0,
            jobs_rejected: 0,
            error: None,
        }
    }

    /// Adds the counts of one written batch (jobs_seen included).
    pub fn record(&mut self, batch: &BatchOutcome) {
        self.jobs_seen += batch.total();
        self.jobs_new += batch.new;
        self.jobs_changed += batch.changed;
        self.jobs_unchanged += batch.unchanged + batch.duplicates;
        self.jobs_stale += batch.stale;
        self.jobs_rejected += batch.rejected.len() as u64;
    }
}

/// What the end of a run of a target leaves in the record, for
/// `Store::end_target_run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// Only the run's end: it failed, or listed nothing.
    Recorded,
    /// Every listing completed and the window joins the record: the
    /// checkpoint moves to `listed_through` and the coverage ledger to
    /// `covered_through` (neither ever moves back); the gaps from
    /// `listed_from` on (`None`: all) are filled.
    Covered {
        listed_through: Timestamp,
        covered_through: Timestamp,
        listed_from: Option<Timestamp>,
    },
    /// Every listing completed but the window started later than the
    /// record's end: `[from, to)` was not listed (`from` `None`: everything
    /// before `to`), and the checkpoint stays.
    Gap {
        from: Option<Timestamp>,
        to: Timestamp,
    },
}
