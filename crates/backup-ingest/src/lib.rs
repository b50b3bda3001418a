//! Keeps the current state and the full history of AWS Backup copy jobs in
//! PostgreSQL.
//!
//! [`Store`] is the database layer: it applies the migrations of the
//! top-level `migrations/` folder, writes batches of [`Observation`]s (current
//! state in `copy_jobs`, superseded versions in `copy_job_history`),
//! serializes runs per target with an advisory lock ([`TargetLock`]), and
//! records runs and checkpoints. A batch of thousands of jobs is classified
//! in Rust against one lookup of the stored state and written with binary
//! `COPY` and a few set-based statements: a handful of round trips.
//!
//! This crate is the only part of backup-audit that writes to PostgreSQL. It
//! does not fetch from AWS (backup-fetch does) and does not report
//! (backup-report reads, through [`Store::pool`]).

mod coverage;
mod error;
pub mod ingest;
mod lock;
mod partitions;
pub mod reconcile;
mod rehash;
mod rows;
mod runs;
mod store;
mod text;
pub mod verify;
mod write;

pub use error::{redact, redact_url, StoreError};
pub use ingest::{ingest, Counts, IngestOptions, NoProgress, ProgressSink, Summary, TargetReport};
pub use lock::{target_lock_key, TargetLock};
pub use partitions::PARTITION_MONTHS_AHEAD;
pub use rows::{content_hash, DbTime, JobKey, HASH_VERSION};
pub use runs::{NewRun, RunMode, RunOutcome, RunStatus};
pub use store::{BatchOutcome, ConnectOptions, JobVersion, Observation, Store, MIGRATOR};
