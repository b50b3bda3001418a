//! [`Store`]: the connection pool, migrations, batch writes of observed jobs,
//! per-target locks, checkpoints and run bookkeeping.
//!
//! # How a batch is written
//!
//! All in one transaction:
//!
//! 1. The batch is deduplicated in Rust (one observation per key, the latest)
//!    and sent with `COPY ... FROM STDIN` into a temporary staging table.
//! 2. The current rows of the batch's keys are locked (`FOR UPDATE`, in key
//!    order), so that concurrent writers of the same jobs take turns.
//! 3. One statement classifies every staged observation against the current
//!    row and, for observations older than it, against the history around the
//!    observation time (two primary-key probes), into a small plan table.
//! 4. Set-based statements apply the plan: insert new jobs, close and open
//!    history intervals, overwrite changed current rows, and update the
//!    bookkeeping columns.
//!
//! A concurrent writer that inserts a job this batch also thinks is new makes
//! the transaction fail with a unique violation; it is retried from the start
//! (as are deadlocks), and then sees the job as existing.

use std::collections::HashMap;
use std::fmt;
use std::ops::AddAssign;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use backup_model::{CopyJob, Timestamp};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Row as _};

use crate::error::{redact, redact_url, StoreError};
use crate::lock::TargetLock;
use crate::rows::{
    copy_stage_statement, DbTime, JobKey, StageEncoder, CREATE_PLAN, CREATE_STAGE,
    MEMBER_COLUMNS,
};
use crate::runs::{NewRun, RunOutcome};

/// The migrations of the top-level `migrations/` folder, built in.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// How many times a batch is tried when it collides with a concurrent writer.
const BATCH_ATTEMPTS: u32 = 5;
/// The longest error message stored in `ingest_runs.error`.
const MAX_ERROR_LEN: usize = 8 * 1024;

/// Settings of the connection pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// The most connections the pool opens (the ingest lock takes one more).
    pub max_connections: u32,
    /// How long to wait for a free connection of the pool.
    pub acquire_timeout: Duration,
    /// How long to wait for the server when connecting.
    pub connect_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// One sighting of a job: what AWS said about it, where and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The account of the target it was listed from (the key's account when
    /// the job has no AccountId).
    pub account_id: String,
    /// The region it was listed in.
    pub region: String,
    /// When it was read.
    pub observed_at: Timestamp,
    /// The job as received.
    pub job: CopyJob,
}

/// What [`Store::write_batch`] did with each observation of a batch.
///
/// `new + changed + unchanged + stale + duplicates + rejected.len()` is the
/// size of the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Jobs stored for the first time.
    pub new: u64,
    /// Jobs whose content differs from the current row and that were observed
    /// later than it: the current row was replaced, a history row added.
    pub changed: u64,
    /// Jobs with the same content as their current row.
    pub unchanged: u64,
    /// Observations with new content but older than the current row: placed
    /// in history where they belong, the current row untouched.
    pub stale: u64,
    /// Observations dropped because the batch held a later one of the same job.
    pub duplicates: u64,
    /// Observations that could not be stored: (job id, or `#position` in the
    /// batch when there is none; why).
    pub rejected: Vec<(String, String)>,
}

impl BatchOutcome {
    /// How many observations this outcome accounts for.
    pub fn total(&self) -> u64 {
        self.new
            + self.changed
            + self.unchanged
            + self.stale
            + self.duplicates
            + self.rejected.len() as u64
    }
}

impl AddAssign for BatchOutcome {
    fn add_assign(&mut self, other: BatchOutcome) {
        self.new += other.new;
        self.changed += other.changed;
        self.unchanged += other.unchanged;
        self.stale += other.stale;
        self.duplicates += other.duplicates;
        self.rejected.extend(other.rejected);
    }
}

impl AddAssign<&BatchOutcome> for BatchOutcome {
    fn add_assign(&mut self, other: &BatchOutcome) {
        *self += other.clone();
    }
}

/// One version of a job from its history.
#[derive(Debug, Clone, PartialEq)]
pub struct JobVersion {
    /// The observation time at which this version was first seen.
    pub valid_from: Timestamp,
    /// When the next version was first seen; `None` for the current version.
    pub valid_to: Option<Timestamp>,
    /// The run that wrote this history row.
    pub run_id: Option<i64>,
    /// The job as received.
    pub job: CopyJob,
}

/// The database: current state and history of copy jobs, runs, checkpoints.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    connect: PgConnectOptions,
    /// The URL with its password hidden, for messages.
    target: String,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("target", &self.target)
            .field("connections", &self.pool.size())
            .finish()
    }
}

impl Store {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`).
    ///
    /// One connection is made at once so that a wrong password or an
    /// unreachable server is reported here, clearly; the URL's password never
    /// appears in an error.
    #[tracing::instrument(skip_all)]
    pub async fn connect(url: &str, opts: ConnectOptions) -> Result<Store, StoreError> {
        let target = redact_url(url);
        let password = url_password(url);
        let scrub = |text: String| scrub(&text, password.as_deref());
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl {
                url: target.clone(),
                reason: scrub(e.to_string()),
            })?
            .application_name("backup-audit");

        match tokio::time::timeout(opts.connect_timeout, PgConnection::connect_with(&connect))
            .await
        {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(e)) => return Err(connect_error(&target, e, &scrub)),
            Err(_) => {
                return Err(StoreError::Connect {
                    target,
                    message: format!("no answer within {:?}", opts.connect_timeout),
                })
            }
        }

        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    prepare_session(conn).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(connect.clone());
        tracing::debug!(%target, "connected");
        Ok(Store {
            pool,
            connect,
            target,
        })
    }

    /// The connection pool, for queries this type does not offer (reports).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the migrations not yet applied and returns their names
    /// (`0001_audit_schema`); an up-to-date database gives an empty list.
    #[tracing::instrument(skip_all)]
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let pending = self.pending_migrations().await?;
        MIGRATOR.run(&self.pool).await.map_err(StoreError::Migrate)?;
        Ok(pending)
    }

    /// The migrations this program has that the database has not applied.
    /// Ingest refuses to run while there are any ([`Store::ensure_migrated`]).
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let context = "reading the applied migrations";
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db(context))?;
        let applied: Vec<i64> = if exists {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db(context))?
        } else {
            Vec::new()
        };
        Ok(MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
            .map(|m| format!("{:04}_{}", m.version, m.description.replace(' ', "_")))
            .collect())
    }

    /// Fails with [`StoreError::PendingMigrations`] (which says to run
    /// `backup-audit migrate`) unless the schema is up to date.
    pub async fn ensure_migrated(&self) -> Result<(), StoreError> {
        let pending = self.pending_migrations().await?;
        if pending.is_empty() {
            Ok(())
        } else {
            Err(StoreError::PendingMigrations { pending })
        }
    }

    /// Writes a batch of observations in one transaction: new jobs, changes
    /// (with history), unchanged sightings and older observations, as
    /// described in the module docs. Writing the same batch twice changes
    /// nothing the second time but `last_seen_at`.
    #[tracing::instrument(skip_all, fields(run_id, observations = batch.len()))]
    pub async fn write_batch(
        &self,
        run_id: i64,
        batch: &[Observation],
    ) -> Result<BatchOutcome, StoreError> {
        let mut outcome = BatchOutcome::default();

        // One observation per key: the latest (the later in the batch on a tie).
        let mut latest: HashMap<JobKey, usize> = HashMap::with_capacity(batch.len());
        for (i, obs) in batch.iter().enumerate() {
            let Some(key) = JobKey::of(&obs.account_id, &obs.region, &obs.job) else {
                outcome
                    .rejected
                    .push((format!("#{i}"), "the job has no CopyJobId".to_owned()));
                continue;
            };
            match latest.entry(key) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(i);
                }
                std::collections::hash_map::Entry::Occupied(mut slot) => {
                    outcome.duplicates += 1;
                    if obs.observed_at >= batch[*slot.get()].observed_at {
                        slot.insert(i);
                    }
                }
            }
        }
        // Key order: the staging table is read in it, and rows are locked in it.
        let mut chosen: Vec<(JobKey, usize)> = latest.into_iter().collect();
        chosen.sort_unstable();

        let mut encoder = StageEncoder::new();
        encoder.reserve(chosen.len());
        let mut staged = 0u64;
        for (key, i) in &chosen {
            let obs = &batch[*i];
            match encoder.push(key, obs.observed_at, &obs.job) {
                Ok(()) => staged += 1,
                Err(why) => outcome.rejected.push((key.copy_job_id.clone(), why.0)),
            }
        }
        if staged == 0 {
            return Ok(outcome);
        }

        let mut attempt = 1;
        loop {
            match self.apply_batch(run_id, encoder.payload(), staged).await {
                Ok(applied) => {
                    outcome += applied;
                    return Ok(outcome);
                }
                Err(e) if attempt < BATCH_ATTEMPTS && e.is_retryable() => {
                    tracing::debug!(attempt, reason = %e, "batch collided with another writer; retrying");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e.into_store_error()),
            }
        }
    }

    /// One attempt at writing a staged batch.
    async fn apply_batch(
        &self,
        run_id: i64,
        payload: &[u8],
        staged: u64,
    ) -> Result<BatchOutcome, BatchError> {
        let mut tx = self.pool.begin().await.map_err(BatchError::db("starting a transaction"))?;
        let conn: &mut PgConnection = &mut tx;

        let mut copy = match conn.copy_in_raw(&COPY_STAGE).await {
            Ok(copy) => copy,
            // undefined_table: a session that lost its temporary tables.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => {
                return Err(BatchError::Retry(format!("staging table missing: {e}")));
            }
            Err(e) => return Err(BatchError::db("staging the batch")(e)),
        };
        if let Err(e) = copy.send(payload).await {
            let _ = copy.abort("sending failed").await;
            return Err(BatchError::db("staging the batch")(e));
        }
        let copied = copy.finish().await.map_err(BatchError::db("staging the batch"))?;
        if copied != staged {
            return Err(BatchError::Store(StoreError::Database {
                context: "staging the batch",
                source: sqlx::Error::Protocol(format!("COPY stored {copied} of {staged} rows")),
            }));
        }

        let locked: i64 = sqlx::query_scalar(LOCK_CURRENT)
            .fetch_one(&mut *conn)
            .await
            .map_err(BatchError::db("locking current rows"))?;

        let plan = sqlx::query(PLAN)
            .fetch_one(&mut *conn)
            .await
            .map_err(BatchError::db("classifying the batch"))?;
        let count = |name: &str| -> u64 { plan.try_get::<i64, _>(name).unwrap_or(0).max(0) as u64 };
        let (new, changed, unchanged, stale, conflicts, existing) = (
            count("new"),
            count("changed"),
            count("unchanged"),
            count("stale"),
            count("conflicts"),
            count("existing"),
        );
        let (inserts, closes, extends, current_updates, bookkeeping) = (
            count("inserts"),
            count("closes"),
            count("extends"),
            count("current_updates"),
            count("bookkeeping"),
        );
        if existing != locked.max(0) as u64 {
            // A job appeared between locking and classifying: another writer
            // committed it. Start again so that it is locked too.
            return Err(BatchError::Retry(format!(
                "{existing} existing jobs but {locked} locked"
            )));
        }

        if new > 0 {
            sqlx::query(&INSERT_NEW)
                .execute(&mut *conn)
                .await
                .map_err(BatchError::db("inserting new jobs"))?;
        }
        if closes > 0 {
            let done = sqlx::query(CLOSE_INTERVALS)
                .execute(&mut *conn)
                .await
                .map_err(BatchError::db("closing history intervals"))?
                .rows_affected();
            check_count("closing history intervals", done, closes)?;
        }
        if extends > 0 {
            let done = sqlx::query(EXTEND_INTERVALS)
                .execute(&mut *conn)
                .await
                .map_err(BatchError::db("extending history intervals"))?
                .rows_affected();
            check_count("extending history intervals", done, extends)?;
        }
        if inserts > 0 {
            let done = sqlx::query(&INSERT_SNAPSHOTS)
                .bind(run_id)
                .execute(&mut *conn)
                .await
                .map_err(BatchError::db("writing history"))?
                .rows_affected();
            check_count("writing history", done, inserts)?;
        }
        if current_updates > 0 {
            let done = sqlx::query(&UPDATE_CHANGED)
                .execute(&mut *conn)
                .await
                .map_err(BatchError::db("updating changed jobs"))?
                .rows_affected();
            check_count("updating changed jobs", done, current_updates)?;
        }
        if bookkeeping > 0 {
            sqlx::query(UPDATE_SEEN)
                .execute(&mut *conn)
                .await
                .map_err(BatchError::db("updating sightings"))?;
        }
        let mut rejected = Vec::new();
        if conflicts > 0 {
            let rows = sqlx::query(
                "SELECT copy_job_id, observed_at FROM copy_job_plan WHERE class = 'x' ORDER BY 1",
            )
            .fetch_all(&mut *conn)
            .await
            .map_err(BatchError::db("reading conflicts"))?;
            for row in rows {
                let id: String = row.try_get(0).map_err(BatchError::db("reading conflicts"))?;
                let at: DbTime = row.try_get(1).map_err(BatchError::db("reading conflicts"))?;
                rejected.push((
                    id,
                    format!("a different version of this job is already recorded as observed at {}", at.0),
                ));
            }
        }
        tx.commit().await.map_err(BatchError::db("committing the batch"))?;
        Ok(BatchOutcome {
            new,
            changed,
            unchanged,
            stale,
            duplicates: 0,
            rejected,
        })
    }

    /// Takes the ingest lock of a target on a connection of its own, waiting
    /// up to `timeout` for another run to release it
    /// ([`StoreError::LockTimeout`] then).
    #[tracing::instrument(skip_all, fields(account, region))]
    pub async fn lock_target(
        &self,
        account: &str,
        region: &str,
        timeout: Duration,
    ) -> Result<TargetLock, StoreError> {
        let conn = PgConnection::connect_with(&self.connect)
            .await
            .map_err(|e| connect_error(&self.target, e, &|text| text))?;
        TargetLock::acquire(conn, account, region, timeout).await
    }

    /// The instant up to which a complete run has listed the target.
    pub async fn checkpoint(
        &self,
        account: &str,
        region: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        let t: Option<DbTime> = sqlx::query_scalar(
            "SELECT listed_through FROM ingest_checkpoints WHERE account_id = $1 AND region = $2",
        )
        .bind(account)
        .bind(region)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("reading the checkpoint"))?;
        Ok(t.map(|t| t.0))
    }

    /// Records that run `run_id` listed the target completely up to
    /// `listed_through`. A checkpoint only moves forward: an earlier instant
    /// than the stored one is ignored.
    pub async fn set_checkpoint(
        &self,
        account: &str,
        region: &str,
        listed_through: Timestamp,
        run_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ingest_checkpoints (account_id, region, listed_through, run_id, updated_at) \
             VALUES ($1, $2, $3, $4, now()) \
             ON CONFLICT (account_id, region) DO UPDATE \
             SET listed_through = EXCLUDED.listed_through, run_id = EXCLUDED.run_id, updated_at = now() \
             WHERE ingest_checkpoints.listed_through <= EXCLUDED.listed_through",
        )
        .bind(account)
        .bind(region)
        .bind(DbTime(listed_through))
        .bind(run_id)
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("writing the checkpoint"))?;
        Ok(())
    }

    /// A fresh identifier for the runs of one process invocation (a UUID).
    pub async fn new_run_group(&self) -> Result<String, StoreError> {
        sqlx::query_scalar("SELECT gen_random_uuid()::text")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("making a run group id"))
    }

    /// Records the start of a run and returns its id.
    pub async fn start_run(&self, run: &NewRun) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO ingest_runs (run_group, account_id, region, mode, since, started_at, status) \
             VALUES ($1, $2, $3, $4, $5, $6, 'running') RETURNING id",
        )
        .bind(&run.run_group)
        .bind(&run.account_id)
        .bind(&run.region)
        .bind(run.mode.as_str())
        .bind(run.since.map(DbTime))
        .bind(DbTime(run.started_at))
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db("recording the start of a run"))
    }

    /// Records how a run ended. The error message is stored redacted.
    pub async fn finish_run(&self, run_id: i64, outcome: &RunOutcome) -> Result<(), StoreError> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let error = outcome.error.as_deref().map(|e| truncate(&redact(e), MAX_ERROR_LEN));
        let done = sqlx::query(
            "UPDATE ingest_runs SET status = $2, finished_at = $3, pages = $4, api_calls = $5, \
             retries = $6, jobs_seen = $7, jobs_new = $8, jobs_changed = $9, jobs_unchanged = $10, \
             jobs_stale = $11, jobs_rejected = $12, error = $13 \
             WHERE id = $1 AND status = 'running'",
        )
        .bind(run_id)
        .bind(outcome.status.as_str())
        .bind(DbTime(outcome.finished_at))
        .bind(n(outcome.pages))
        .bind(n(outcome.api_calls))
        .bind(n(outcome.retries))
        .bind(n(outcome.jobs_seen))
        .bind(n(outcome.jobs_new))
        .bind(n(outcome.jobs_changed))
        .bind(n(outcome.jobs_unchanged))
        .bind(n(outcome.jobs_stale))
        .bind(n(outcome.jobs_rejected))
        .bind(error)
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("recording the end of a run"))?
        .rows_affected();
        if done == 1 {
            Ok(())
        } else {
            Err(StoreError::UnknownRun(run_id))
        }
    }

    /// The current state of a job, as received.
    pub async fn job(&self, key: &JobKey) -> Result<Option<CopyJob>, StoreError> {
        let json: Option<String> = sqlx::query_scalar(
            "SELECT job::text FROM copy_jobs_json \
             WHERE account_id = $1 AND region = $2 AND copy_job_id = $3",
        )
        .bind(&key.account_id)
        .bind(&key.region)
        .bind(&key.copy_job_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("reading a job"))?;
        json.map(|j| decode_job(&j)).transpose()
    }

    /// The version of a job in force at instant `at`: the one whose interval
    /// `[valid_from, valid_to)` contains it. One primary-key probe.
    pub async fn job_as_of(
        &self,
        key: &JobKey,
        at: Timestamp,
    ) -> Result<Option<JobVersion>, StoreError> {
        let row = sqlx::query(
            "SELECT valid_from, valid_to, run_id, job::text FROM copy_job_snapshots_json \
             WHERE account_id = $1 AND region = $2 AND copy_job_id = $3 AND valid_from <= $4 \
             ORDER BY valid_from DESC LIMIT 1",
        )
        .bind(&key.account_id)
        .bind(&key.region)
        .bind(&key.copy_job_id)
        .bind(DbTime(at))
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("reading a job's history"))?;
        let Some(row) = row else { return Ok(None) };
        let version = version_from_row(&row)?;
        Ok(version.valid_to.is_none_or(|to| to > at).then_some(version))
    }

    /// Every version of a job, oldest first.
    pub async fn history(&self, key: &JobKey) -> Result<Vec<JobVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT valid_from, valid_to, run_id, job::text FROM copy_job_snapshots_json \
             WHERE account_id = $1 AND region = $2 AND copy_job_id = $3 ORDER BY valid_from",
        )
        .bind(&key.account_id)
        .bind(&key.region)
        .bind(&key.copy_job_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("reading a job's history"))?;
        rows.iter().map(version_from_row).collect()
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Sets up a new pool connection: room for a batch in temporary buffers and
/// the staging tables (which must exist before any temporary buffer is used).
async fn prepare_session(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    use sqlx::Executor as _;
    // Without bind parameters these go as simple queries.
    conn.execute("SET temp_buffers = '64MB'; SET work_mem = '32MB'")
        .await?;
    conn.execute(CREATE_STAGE).await?;
    conn.execute(CREATE_PLAN).await?;
    Ok(())
}

fn version_from_row(row: &sqlx::postgres::PgRow) -> Result<JobVersion, StoreError> {
    let context = "reading a job's history";
    let valid_from: DbTime = row.try_get(0).map_err(StoreError::db(context))?;
    let valid_to: Option<DbTime> = row.try_get(1).map_err(StoreError::db(context))?;
    let run_id: Option<i64> = row.try_get(2).map_err(StoreError::db(context))?;
    let json: String = row.try_get(3).map_err(StoreError::db(context))?;
    Ok(JobVersion {
        valid_from: valid_from.0,
        valid_to: valid_to.map(|t| t.0),
        run_id,
        job: decode_job(&json)?,
    })
}

fn decode_job(json: &str) -> Result<CopyJob, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Database {
        context: "decoding a stored job",
        source: sqlx::Error::Decode(Box::new(e)),
    })
}

fn check_count(context: &'static str, done: u64, expected: u64) -> Result<(), BatchError> {
    if done == expected {
        Ok(())
    } else {
        // The history of some job does not look as the current rows say:
        // refuse to write rather than make it worse.
        Err(BatchError::Store(StoreError::Database {
            context,
            source: sqlx::Error::Protocol(format!(
                "history is inconsistent: {done} rows affected, {expected} expected"
            )),
        }))
    }
}

/// An attempt's failure: retried, or given up.
enum BatchError {
    /// A collision with a concurrent writer, or a session to set up again.
    Retry(String),
    Store(StoreError),
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Retry(why) => f.write_str(why),
            BatchError::Store(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl BatchError {
    fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> BatchError {
        move |source| {
            if let sqlx::Error::Database(e) = &source {
                // deadlock_detected, serialization_failure, unique_violation
                // (a concurrent insert of a job we also found new).
                if matches!(e.code().as_deref(), Some("40P01" | "40001" | "23505")) {
                    return BatchError::Retry(e.message().to_owned());
                }
            }
            BatchError::Store(StoreError::Database { context, source })
        }
    }

    fn is_retryable(&self) -> bool {
        matches!(self, BatchError::Retry(_))
    }

    fn into_store_error(self) -> StoreError {
        match self {
            BatchError::Retry(why) => StoreError::Database {
                context: "writing a batch (concurrent writers kept colliding)",
                source: sqlx::Error::Protocol(why),
            },
            BatchError::Store(e) => e,
        }
    }
}

/// Turns a failed connection attempt into a clear error without the password.
fn connect_error(target: &str, e: sqlx::Error, scrub: &dyn Fn(String) -> String) -> StoreError {
    let target = target.to_owned();
    match e {
        sqlx::Error::Database(db) => {
            let message = scrub(db.message().to_owned());
            match db.code().as_deref() {
                // invalid_password, invalid_authorization_specification
                Some("28P01" | "28000") => StoreError::Authentication { target, message },
                _ => StoreError::Connect { target, message },
            }
        }
        sqlx::Error::Configuration(c) => StoreError::InvalidUrl {
            url: target,
            reason: scrub(c.to_string()),
        },
        other => StoreError::Connect {
            target,
            message: scrub(other.to_string()),
        },
    }
}

/// The password of a URL, decoded, to scrub it from messages.
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let rest = rest.split_once('?').map_or(rest, |(head, _)| head);
    let userinfo = rest.rsplit_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then(|| percent_decode(password))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` with every occurrence of `password` (as given and percent-encoded
/// forms aside) replaced by `***`.
fn scrub(text: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if !p.is_empty() => redact(&text.replace(p, "***")),
        _ => redact(text),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `a, b` with each column prefixed: `s.a, s.b`.
fn prefixed(prefix: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{prefix}{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

static COPY_STAGE: LazyLock<String> = LazyLock::new(copy_stage_statement);

/// Locks the current rows of the staged keys, in key order, and counts them.
const LOCK_CURRENT: &str = "SELECT count(*) FROM (
    SELECT c.copy_job_id
    FROM (SELECT account_id, region, copy_job_id FROM copy_job_stage
          ORDER BY account_id, region, copy_job_id) s
    CROSS JOIN LATERAL (
        SELECT c.copy_job_id FROM copy_jobs c
        WHERE c.account_id = s.account_id AND c.region = s.region AND c.copy_job_id = s.copy_job_id
        FOR UPDATE) c
) locked";

/// Classifies each staged observation (t, H) against the current row c and,
/// when t is older than c.observed_at, against the history around t: `at`, the
/// version with the latest valid_from <= t, and `nx`, the first one after t.
///
/// - n: a new job.
/// - u: the same content as the current row (seen again).
/// - c: new content, observed later than the current row: a change.
/// - x: new content observed at the very instant another version was: rejected.
/// - o: older, and the version in force at t has the same content: nothing to do.
/// - e: older, and the next version has the same content: that version
///   started earlier than we knew; move its valid_from back to t.
/// - r: older, inside the current version's interval but before its latest
///   sighting: split it into [at.valid_from, t), this version [t, c.observed_at),
///   and the current content again from c.observed_at.
/// - s: older, inside a closed interval or before the first version: insert
///   [t, nx.valid_from) and end the interval in force at t.
///
/// Returns the counts the statements that follow expect to touch.
const PLAN: &str = "WITH plan AS (
    INSERT INTO copy_job_plan (account_id, region, copy_job_id, class, same_as_current,
        observed_at, cur_observed_at, cur_valid_from, at_valid_from, next_valid_from, next_is_current)
    SELECT s.account_id, s.region, s.copy_job_id,
        CASE
            WHEN c.content_hash IS NULL THEN 'n'
            WHEN s.observed_at > c.observed_at THEN
                CASE WHEN s.content_hash = c.content_hash THEN 'u' ELSE 'c' END
            WHEN s.observed_at = c.observed_at THEN
                CASE WHEN s.content_hash = c.content_hash THEN 'u' ELSE 'x' END
            WHEN at.content_hash = s.content_hash THEN
                CASE WHEN s.content_hash = c.content_hash THEN 'u' ELSE 'o' END
            WHEN at.valid_from = s.observed_at THEN 'x'
            WHEN nx.content_hash = s.content_hash THEN 'e'
            WHEN nx.valid_from IS NULL THEN 'r'
            ELSE 's'
        END::\"char\",
        s.content_hash = c.content_hash,
        s.observed_at, c.observed_at, c.last_changed_at,
        at.valid_from, nx.valid_from, nx.valid_from IS NOT NULL AND nx.valid_to IS NULL
    FROM copy_job_stage s
    LEFT JOIN LATERAL (
        SELECT c.content_hash, c.observed_at, c.last_changed_at FROM copy_jobs c
        WHERE c.account_id = s.account_id AND c.region = s.region AND c.copy_job_id = s.copy_job_id
        LIMIT 1) c ON true
    LEFT JOIN LATERAL (
        SELECT h.valid_from, h.content_hash FROM copy_job_snapshots h
        WHERE s.observed_at < c.observed_at
          AND h.account_id = s.account_id AND h.region = s.region AND h.copy_job_id = s.copy_job_id
          AND h.valid_from <= s.observed_at
        ORDER BY h.valid_from DESC LIMIT 1) at ON true
    LEFT JOIN LATERAL (
        SELECT h.valid_from, h.valid_to, h.content_hash FROM copy_job_snapshots h
        WHERE s.observed_at < c.observed_at
          AND h.account_id = s.account_id AND h.region = s.region AND h.copy_job_id = s.copy_job_id
          AND h.valid_from > s.observed_at
        ORDER BY h.valid_from LIMIT 1) nx ON true
    RETURNING class, same_as_current, at_valid_from
)
SELECT
    count(*) FILTER (WHERE class = 'n') AS new,
    count(*) FILTER (WHERE class = 'c') AS changed,
    count(*) FILTER (WHERE class = 'u' OR (class = 'e' AND same_as_current)) AS unchanged,
    count(*) FILTER (WHERE class IN ('o', 's', 'r') OR (class = 'e' AND NOT same_as_current)) AS stale,
    count(*) FILTER (WHERE class = 'x') AS conflicts,
    count(*) FILTER (WHERE class <> 'n') AS existing,
    count(*) FILTER (WHERE class IN ('n', 'c', 's')) + 2 * count(*) FILTER (WHERE class = 'r') AS inserts,
    count(*) FILTER (WHERE class = 'c' OR (class IN ('s', 'r', 'e') AND at_valid_from IS NOT NULL)) AS closes,
    count(*) FILTER (WHERE class = 'e') AS extends,
    count(*) FILTER (WHERE class = 'c') AS current_updates,
    count(*) FILTER (WHERE class IN ('u', 'e', 's', 'r')) AS bookkeeping
FROM plan";

/// Ends the interval in force at t: the current version's for a change, the
/// one containing t for older observations.
const CLOSE_INTERVALS: &str = "UPDATE copy_job_snapshots h SET valid_to = p.observed_at
    FROM copy_job_plan p
    WHERE h.account_id = p.account_id AND h.region = p.region AND h.copy_job_id = p.copy_job_id
      AND ((p.class = 'c' AND h.valid_from = p.cur_valid_from AND h.valid_to IS NULL)
        OR (p.class IN ('s', 'r', 'e') AND h.valid_from = p.at_valid_from))";

/// Moves a version's start back to an earlier sighting of the same content.
const EXTEND_INTERVALS: &str = "UPDATE copy_job_snapshots h SET valid_from = p.observed_at
    FROM copy_job_plan p
    WHERE p.class = 'e'
      AND h.account_id = p.account_id AND h.region = p.region AND h.copy_job_id = p.copy_job_id
      AND h.valid_from = p.next_valid_from";

/// Bookkeeping of jobs seen again or placed in history: first/last seen, the
/// number of versions, and where the current version starts.
const UPDATE_SEEN: &str = "UPDATE copy_jobs c SET
        first_seen_at = least(c.first_seen_at, p.observed_at),
        last_seen_at = greatest(c.last_seen_at, p.observed_at),
        observed_at = CASE WHEN p.class = 'u' THEN greatest(c.observed_at, p.observed_at)
                           ELSE c.observed_at END,
        versions = c.versions + CASE p.class WHEN 's' THEN 1 WHEN 'r' THEN 2 ELSE 0 END,
        last_changed_at = CASE WHEN p.class = 'r' THEN c.observed_at
                               WHEN p.class = 'e' AND p.next_is_current THEN p.observed_at
                               ELSE c.last_changed_at END
    FROM copy_job_plan p
    WHERE p.class IN ('u', 'e', 's', 'r')
      AND c.account_id = p.account_id AND c.region = p.region AND c.copy_job_id = p.copy_job_id
      AND (p.class <> 'u' OR c.first_seen_at > p.observed_at OR c.last_seen_at < p.observed_at
           OR c.observed_at < p.observed_at)";

static INSERT_NEW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO copy_jobs (account_id, region, copy_job_id, {MEMBER_COLUMNS},
            observed_at, first_seen_at, last_seen_at, last_changed_at, versions)
        SELECT s.account_id, s.region, s.copy_job_id, {members},
            s.observed_at, s.observed_at, s.observed_at, s.observed_at, 1
        FROM copy_job_stage s
        JOIN copy_job_plan p
          ON p.account_id = s.account_id AND p.region = s.region AND p.copy_job_id = s.copy_job_id
        WHERE p.class = 'n'
        ORDER BY s.account_id, s.region, s.copy_job_id",
        members = prefixed("s.", MEMBER_COLUMNS),
    )
});

static INSERT_SNAPSHOTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO copy_job_snapshots (account_id, region, copy_job_id, valid_from, valid_to,
            run_id, {MEMBER_COLUMNS})
        SELECT s.account_id, s.region, s.copy_job_id, s.observed_at,
            CASE p.class WHEN 's' THEN p.next_valid_from WHEN 'r' THEN p.cur_observed_at END,
            $1, {stage_members}
        FROM copy_job_stage s
        JOIN copy_job_plan p
          ON p.account_id = s.account_id AND p.region = s.region AND p.copy_job_id = s.copy_job_id
        WHERE p.class IN ('n', 'c', 's', 'r')
        UNION ALL
        SELECT c.account_id, c.region, c.copy_job_id, c.observed_at, NULL, $1, {current_members}
        FROM copy_job_plan p
        JOIN copy_jobs c
          ON c.account_id = p.account_id AND c.region = p.region AND c.copy_job_id = p.copy_job_id
        WHERE p.class = 'r'",
        stage_members = prefixed("s.", MEMBER_COLUMNS),
        current_members = prefixed("c.", MEMBER_COLUMNS),
    )
});

static UPDATE_CHANGED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE copy_jobs c SET ({MEMBER_COLUMNS},
            observed_at, first_seen_at, last_seen_at, last_changed_at, versions)
        = ({members},
            s.observed_at, least(c.first_seen_at, s.observed_at),
            greatest(c.last_seen_at, s.observed_at), s.observed_at, c.versions + 1)
        FROM copy_job_stage s
        JOIN copy_job_plan p
          ON p.account_id = s.account_id AND p.region = s.region AND p.copy_job_id = s.copy_job_id
        WHERE p.class = 'c'
          AND c.account_id = s.account_id AND c.region = s.region AND c.copy_job_id = s.copy_job_id",
        members = prefixed("s.", MEMBER_COLUMNS),
    )
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_found_and_scrubbed() {
        assert_eq!(
            url_password("postgres://u:p%40ss@h:5432/db").as_deref(),
            Some("p@ss")
        );
        assert_eq!(url_password("postgres://u@h/db"), None);
        assert_eq!(
            scrub("bad p@ss here", Some("p@ss")),
            "bad *** here"
        );
    }

    #[test]
    fn outcomes_add_up() {
        let mut a = BatchOutcome {
            new: 1,
            rejected: vec![("#0".into(), "x".into())],
            ..Default::default()
        };
        a += BatchOutcome {
            changed: 2,
            duplicates: 1,
            ..Default::default()
        };
        assert_eq!(a.total(), 5);
    }

    #[test]
    fn columns_are_prefixed() {
        assert_eq!(prefixed("s.", "a, b,\nc"), "s.a, s.b, s.c");
    }
}
