//! `backup-audit migrate` and `backup-audit ingest`.

use std::time::Duration;

use anyhow::{bail, Context};
use backup_ingest::{Counts, IngestOptions, ProgressSink, Store, TargetReport};
use backup_model::Timestamp;
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::args::{parse_duration, parse_time, AwsArgs, DbArgs};
use crate::output::Progress;
use crate::Outcome;

#[derive(Debug, Args)]
#[command(
    after_help = "Applies the migrations in migrations/ that the database lacks. \
A second run applies nothing. It also makes the monthly partitions of the history \
(copy_job_history) for this month and the next twelve, and moves rows waiting in its DEFAULT \
partition into partitions of their own: run it at least monthly (or on each release). Run it \
with a role that may create tables; `ingest` itself never changes the schema (see README: \
least privilege)."
)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub db: DbArgs,
}

/// How the final summary is printed on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    /// Lines for people.
    Text,
    /// One JSON object, for monitoring.
    Json,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The first run of a target (account x region) reads every copy job AWS \
still shows (or those since --since). Later runs are incremental: jobs created or completed \
since the last complete run (minus --overlap), plus those AWS reports as CREATED or RUNNING. \
A job's current version is its row of copy_jobs; a change moves the version it supersedes \
into copy_job_history. The view copy_job_snapshots gives every distinct version.\n\n\
Runs of the same target take turns (PostgreSQL advisory lock), so overlapping cron runs are safe. \
The database must be migrated first (`backup-audit migrate`): ingest stops with exit code 2 \
when migrations are pending.\n\n\
Exit codes: 0 every target succeeded, 1 some targets failed (named on stderr), 2 could not run."
)]
pub struct IngestArgs {
    #[command(flatten)]
    pub db: DbArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    /// List from this time (RFC 3339 or an age: 7d, 12h) instead of the stored
    /// checkpoint.
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub since: Option<Timestamp>,

    /// How far before the checkpoint an incremental run starts (clock skew).
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    pub overlap: Duration,

    /// Jobs written per transaction.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    pub batch_size: u32,

    /// How long to wait for another run of the same target to finish.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    pub lock_timeout: Duration,

    /// ListCopyJobs page size.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub max_results: i32,

    /// The most copy jobs held in memory at once, over all targets: pages
    /// being fetched and rows not yet written (about 5 kB a job; the default
    /// is about 80 MB). Lower it on a small worker; it bounds memory
    /// whatever --concurrency and the number of targets.
    #[arg(
        long,
        value_name = "JOBS",
        default_value_t = backup_ingest::ingest::MemoryBudget::DEFAULT_JOBS as u64,
        value_parser = clap::value_parser!(u64).range(1000..=10_000_000)
    )]
    pub max_jobs_in_memory: u64,

    /// Final summary format (on stderr).
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub summary: SummaryFormat,
}

/// Connects, naming the server but never the password, with the session
/// limits and the pool size (`--db-connections`) of the flags.
pub async fn connect(db: &DbArgs) -> anyhow::Result<Store> {
    Store::connect(&db.database_url, db.session.connect_options())
        .await
        .with_context(|| {
            format!(
                "cannot connect to the database {}",
                crate::args::redact_url(&db.database_url)
            )
        })
}

pub async fn migrate(args: &MigrateArgs) -> anyhow::Result<Outcome> {
    let store = connect(&args.db).await?;
    let applied = store.migrate().await.context("migration failed")?;
    if applied.is_empty() {
        eprintln!("schema is up to date; nothing to apply");
    } else {
        for name in &applied {
            eprintln!("applied {name}");
        }
    }
    // The history's monthly partitions: this month and the next twelve, and
    // the months whose rows wait in the DEFAULT partition.
    let made = store
        .maintain_partitions(backup_ingest::PARTITION_MONTHS_AHEAD)
        .await
        .context("cannot make the partitions of copy_job_history")?;
    for name in &made {
        eprintln!("made partition {name}");
    }
    Ok(Outcome::Done)
}

/// Spinners per target on a terminal.
struct Bars {
    progress: Progress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl ProgressSink for Bars {
    fn update(&self, target: &str, counts: &Counts) {
        if !self.progress.is_visible() {
            return;
        }
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars
            .entry(target.to_owned())
            .or_insert_with(|| self.progress.spinner(target.to_owned()));
        bar.set_message(format!(
            "{} jobs: {} new, {} changed, {} unchanged",
            counts.jobs_seen, counts.jobs_new, counts.jobs_changed, counts.jobs_unchanged
        ));
    }

    fn finish(&self, report: &TargetReport) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = bars.remove(&report.target) {
            bar.finish_and_clear();
        }
    }
}

pub async fn ingest(args: &IngestArgs, progress: &Progress) -> anyhow::Result<Outcome> {
    // A few sessions for every target in flight (--db-connections), and
    // one for their locks.
    let store = connect(&args.db).await?;
    let pending = store
        .pending_migrations()
        .await
        .context("cannot read the schema version")?;
    if !pending.is_empty() {
        bail!(
            "the database schema is not up to date ({} migration(s) pending: {}); run `backup-audit migrate` first",
            pending.len(),
            pending.join(", ")
        );
    }
    match store.months_without_partition().await {
        Ok(months) if !months.is_empty() => tracing::warn!(
            months = %months.join(", "),
            "copy_job_history has no partition for these months (rows go to its DEFAULT \
             partition): run `backup-audit migrate` as the schema owner"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot check the partitions of copy_job_history"),
    }
    let (fetcher, targets) = args.aws.fetcher_and_targets().await?;
    let options = IngestOptions {
        since: args.since,
        overlap: args.overlap,
        batch_size: args.batch_size as usize,
        lock_timeout: args.lock_timeout,
        concurrency: usize::from(args.aws.concurrency),
        max_results: args.max_results,
        memory: backup_ingest::ingest::MemoryBudget::new(
            usize::try_from(args.max_jobs_in_memory).unwrap_or(usize::MAX),
        ),
        run_group: store.new_run_group().await?,
    };
    let bars = Bars {
        progress: progress.clone(),
        bars: Mutex::new(HashMap::new()),
    };
    let summary = backup_ingest::ingest(&store, &fetcher, &targets, &options, &bars).await;
    match args.summary {
        SummaryFormat::Json => eprintln!("{}", serde_json::to_string(&summary)?),
        SummaryFormat::Text => {
            let c = &summary.counts;
            eprintln!(
                "ingest: {} target(s), {} succeeded, {} failed; {} pages, {} jobs seen: {} new, {} changed, {} unchanged, {} stale, {} rejected; {} API calls, {} retries; {:.1} s",
                summary.targets,
                summary.succeeded,
                summary.failed.len(),
                c.pages,
                c.jobs_seen,
                c.jobs_new,
                c.jobs_changed,
                c.jobs_unchanged,
                c.jobs_stale,
                c.jobs_rejected,
                c.api_calls,
                c.retries,
                summary.duration_ms as f64 / 1000.0
            );
            for report in &summary.per_target {
                if let Some(error) = &report.error {
                    eprintln!("  failed {}: {error}", report.target);
                }
            }
        }
    }
    Ok(Outcome::from_failures(summary.failed.len() as u64))
}
