//! [`Store`]: the connection pool, migrations, batch writes of observed jobs
//! (the private `write` module says how), per-target locks, checkpoints and run
//! bookkeeping.

use std::fmt;
use std::ops::AddAssign;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use backup_model::{CopyJob, Timestamp};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Row as _};

use crate::error::{redact_url, scrub, url_passwords, StoreError};
use crate::lock::{LockSession, SessionSettings, TargetLock};
use crate::rows::{DbTime, JobKey};
use crate::runs::{NewRun, RunEnd, RunOutcome};

/// The migrations of the top-level `migrations/` folder, built in.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// The longest error message stored in `ingest_runs.error`.
const MAX_ERROR_LEN: usize = 8 * 1024;

/// Settings of the connection pool and of every database session.
///
/// A process uses at most `max_connections + 1` sessions: the pool, and one
/// session that holds the ingest locks of all its targets, however many
/// are in flight. The three session timeouts are PostgreSQL's own settings, given to the
/// server when each session starts (so a statement cannot outlive them even
/// if this process hangs); a zero duration turns one off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// The most connections the pool opens (`--db-connections`); the target
    /// locks take one more session, shared by every target.
    pub max_connections: u32,
    /// How long to wait for a free connection of the pool.
    pub acquire_timeout: Duration,
    /// How long to wait for the server when connecting.
    pub connect_timeout: Duration,
    /// `lock_timeout`: the longest a statement waits for a table or row lock
    /// another session holds (a long transaction, a migration).
    pub lock_timeout: Duration,
    /// `statement_timeout`: the longest one statement may run.
    pub statement_timeout: Duration,
    /// `idle_in_transaction_session_timeout`: the server ends a session left
    /// idle inside a transaction this long, releasing its locks.
    pub idle_in_transaction_timeout: Duration,
    /// How often a run checks that the lock session is still alive.
    pub lock_heartbeat: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_connections: ConnectOptions::DEFAULT_CONNECTIONS,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(60),
            statement_timeout: Duration::from_secs(30 * 60),
            idle_in_transaction_timeout: Duration::from_secs(10 * 60),
            lock_heartbeat: Duration::from_secs(10),
        }
    }
}

impl ConnectOptions {
    /// The default number of pooled connections of `ingest`
    /// (`--db-connections`): a target's statements are short, and most of a
    /// target's time is spent waiting on AWS, so a few sessions serve many
    /// targets in flight.
    pub const DEFAULT_CONNECTIONS: u32 = 4;

    /// The session settings, as the server takes them at start-up.
    fn session_settings(&self) -> [(&'static str, String); 3] {
        let millis = |d: Duration| d.as_millis().min(i32::MAX as u128).to_string();
        [
            ("lock_timeout", millis(self.lock_timeout)),
            ("statement_timeout", millis(self.statement_timeout)),
            (
                "idle_in_transaction_session_timeout",
                millis(self.idle_in_transaction_timeout),
            ),
        ]
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
    /// The session holding the ingest locks of every target.
    locks: Arc<LockSession>,
    /// The passwords of the URL, to scrub them from messages.
    secrets: Vec<String>,
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
    /// unreachable server is reported here, clearly; no password (of the
    /// URL's user info, its query string or `PGPASSWORD`) ever appears in an
    /// error. Every session gets the timeouts of `opts`.
    #[tracing::instrument(skip_all)]
    pub async fn connect(url: &str, opts: ConnectOptions) -> Result<Store, StoreError> {
        let target = redact_url(url);
        let secrets = url_passwords(url);
        let scrub = |text: String| scrub(&text, &secrets);
        let url = without_unknown_parameters(url);
        let connect = PgConnectOptions::from_str(&url)
            .map_err(|e| StoreError::InvalidUrl {
                url: target.clone(),
                reason: scrub(e.to_string()),
            })?
            .application_name("backup-audit")
            .options(opts.session_settings());

        match tokio::time::timeout(opts.connect_timeout, PgConnection::connect_with(&connect)).await
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
            .connect_lazy_with(connect.clone());
        tracing::debug!(%target, "connected");
        let locks = Arc::new(LockSession::new(SessionSettings {
            connect,
            connect_timeout: opts.connect_timeout,
            heartbeat: opts.lock_heartbeat,
            connect_error: {
                let (target, secrets) = (target.clone(), secrets.clone());
                Box::new(move |e| {
                    connect_error(&target, e, &|text| crate::error::scrub(&text, &secrets))
                })
            },
            no_answer: {
                let (target, timeout) = (target.clone(), opts.connect_timeout);
                Box::new(move || StoreError::Connect {
                    target: target.clone(),
                    message: format!("no answer within {timeout:?}"),
                })
            },
        }));
        Ok(Store {
            pool,
            locks,
            secrets,
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
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(StoreError::Migrate)?;
        // Stored hashes of an older definition are recomputed before ingest
        // may run again (see `rehash`).
        crate::rehash::rehash(&self.pool).await?;
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
            crate::rehash::ensure_current(&self.pool).await
        } else {
            Err(StoreError::PendingMigrations { pending })
        }
    }

    /// Writes a batch of observations in one transaction: new jobs, changes
    /// (with history), unchanged sightings and older observations. Writing
    /// the same batch again, at any later time, writes nothing: a job seen
    /// again with the same content costs no write.
    ///
    /// Per key, only the batch's latest observation counts (the others are
    /// `duplicates`). Observations without a CopyJobId, or with a NUL
    /// character, are `rejected` and the rest is written. Concurrent writers
    /// of the same targets take turns (a transaction-scoped advisory lock).
    #[tracing::instrument(skip_all, fields(run_id = run_id, observations = batch.len()))]
    pub async fn write_batch(
        &self,
        run_id: i64,
        batch: &[Observation],
    ) -> Result<BatchOutcome, StoreError> {
        crate::write::write_batch(&self.pool, run_id, batch, &[]).await
    }

    /// [`Store::write_batch`] for jobs decoded from listed text:
    /// `text_digests[i]` is the digest of the text `batch[i]` was decoded
    /// from, kept with the current row written from it.
    pub(crate) async fn write_listed(
        &self,
        run_id: i64,
        batch: &[Observation],
        text_digests: &[Option<[u8; 16]>],
    ) -> Result<BatchOutcome, StoreError> {
        crate::write::write_batch(&self.pool, run_id, batch, text_digests).await
    }

    /// Takes the ingest lock of a target on the store's lock session (one
    /// session for every target), waiting up to `timeout` for another run to
    /// release it ([`StoreError::LockTimeout`] then).
    #[tracing::instrument(skip_all, fields(account = account, region = region))]
    pub async fn lock_target(
        &self,
        account: &str,
        region: &str,
        timeout: Duration,
    ) -> Result<TargetLock, StoreError> {
        TargetLock::acquire(&self.locks, account, region, timeout).await
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

    /// How many jobs of the target the record holds created since `since`
    /// (all of them without it), and the instants of creation that cut them
    /// into `slices` parts of about the same size (`slices - 1` instants in
    /// increasing order, none when no job has a creation date).
    pub(crate) async fn creation_splits(
        &self,
        account: &str,
        region: &str,
        since: Option<Timestamp>,
        slices: usize,
    ) -> Result<(u64, Vec<Timestamp>), StoreError> {
        let fractions: Vec<f64> = (1..slices.max(1))
            .map(|i| i as f64 / slices as f64)
            .collect();
        let (known, splits): (i64, Option<Vec<Option<DbTime>>>) = sqlx::query_as(
            "SELECT count(*), \
                    percentile_disc($4::float8[]) WITHIN GROUP (ORDER BY creation_date) \
             FROM copy_jobs \
             WHERE account_id = $1 AND region = $2 \
               AND ($3::timestamptz IS NULL OR creation_date >= $3)",
        )
        .bind(account)
        .bind(region)
        .bind(since.map(DbTime))
        .bind(&fractions)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db(
            "reading when the target's jobs were created",
        ))?;
        let splits: Vec<Timestamp> = splits
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.map(|t| t.0))
            .collect::<Option<_>>()
            .unwrap_or_default();
        Ok((u64::try_from(known).unwrap_or(0), splits))
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
    ///
    /// An ingest run (full or incremental) is started under its target's
    /// lock, so no other run of the target is alive: rows of that target
    /// still `running` are from runs that died (killed, crashed, lost their
    /// database) and are marked `abandoned` first.
    pub async fn start_run(&self, run: &NewRun) -> Result<i64, StoreError> {
        if run.mode != crate::RunMode::Import {
            let abandoned: Vec<i64> = sqlx::query_scalar(
                "UPDATE ingest_runs SET status = 'abandoned', finished_at = $3, \
                 error = 'abandoned: the run ended without recording its end (killed or crashed); \
                 found by a later run of the target' \
                 WHERE account_id = $1 AND region = $2 AND status = 'running' \
                 AND mode IN ('full', 'incremental') RETURNING id",
            )
            .bind(&run.account_id)
            .bind(&run.region)
            .bind(DbTime(run.started_at))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("marking abandoned runs"))?;
            for id in abandoned {
                tracing::warn!(
                    run_id = id,
                    account = %run.account_id,
                    region = %run.region,
                    "an earlier run of this target never finished; marked abandoned"
                );
            }
        }
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
    /// Nothing else moves: no checkpoint, coverage or gap (an import's run,
    /// or a run that found nothing to vouch for).
    pub async fn finish_run(&self, run_id: i64, outcome: &RunOutcome) -> Result<(), StoreError> {
        self.end_target_run(run_id, outcome, &RunEnd::Recorded)
            .await
    }

    /// Starts a run of a target under its lock, in one statement: reads the
    /// checkpoint, marks the target's dead runs `abandoned` (as
    /// [`Store::start_run`]), makes sure the target has a coverage ledger
    /// row, and records the run, listing from `since` or else from the
    /// checkpoint minus `overlap_ms` (a full run without either). Returns
    /// the run's id, the checkpoint it read, and whether the record holds
    /// any job of the target.
    pub(crate) async fn begin_target_run(
        &self,
        run_group: &str,
        account: &str,
        region: &str,
        since: Option<Timestamp>,
        overlap_ms: i64,
        started_at: Timestamp,
    ) -> Result<(i64, Option<Timestamp>, bool), StoreError> {
        let (run_id, checkpoint, abandoned, holds_jobs): (i64, Option<DbTime>, Vec<i64>, bool) =
            sqlx::query_as(
            "WITH checkpoint AS ( \
                 SELECT listed_through FROM ingest_checkpoints \
                 WHERE account_id = $1 AND region = $2 \
             ), abandoned AS ( \
                 UPDATE ingest_runs SET status = 'abandoned', finished_at = $4, \
                 error = 'abandoned: the run ended without recording its end (killed or crashed); \
                 found by a later run of the target' \
                 WHERE account_id = $1 AND region = $2 AND status = 'running' \
                 AND mode IN ('full', 'incremental') RETURNING id \
             ), ledger AS ( \
                 INSERT INTO target_coverage (account_id, region) VALUES ($1, $2) \
                 ON CONFLICT (account_id, region) DO NOTHING \
             ), listing AS ( \
                 SELECT coalesce($5::timestamptz, \
                     (SELECT listed_through FROM checkpoint) - $6::bigint * interval '1 millisecond') \
                     AS since \
             ), run AS ( \
                 INSERT INTO ingest_runs (run_group, account_id, region, mode, since, started_at, status) \
                 SELECT $3, $1, $2, CASE WHEN since IS NULL THEN 'full' ELSE 'incremental' END, \
                     since, $4, 'running' FROM listing \
                 RETURNING id \
             ) \
             SELECT (SELECT id FROM run), (SELECT listed_through FROM checkpoint), \
                    ARRAY(SELECT id FROM abandoned), \
                    EXISTS (SELECT 1 FROM copy_jobs WHERE account_id = $1 AND region = $2)",
        )
        .bind(account)
        .bind(region)
        .bind(run_group)
        .bind(DbTime(started_at))
        .bind(since.map(DbTime))
        .bind(overlap_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db("recording the start of a run"))?;
        for id in abandoned {
            tracing::warn!(
                run_id = id,
                account,
                region,
                "an earlier run of this target never finished; marked abandoned"
            );
        }
        Ok((run_id, checkpoint.map(|t| t.0), holds_jobs))
    }

    /// Records how a run of a target ended and what it leaves in the record
    /// ([`RunEnd`]: the checkpoint and the coverage ledger move, a gap is
    /// noted, or nothing), in one statement: all of it or none. The error
    /// message is stored redacted. Nothing but the run's end is written
    /// when the run is no longer `running` (a later run found it abandoned):
    /// [`StoreError::UnknownRun`] then.
    pub(crate) async fn end_target_run(
        &self,
        run_id: i64,
        outcome: &RunOutcome,
        end: &RunEnd,
    ) -> Result<(), StoreError> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let error = outcome
            .error
            .as_deref()
            .map(|e| truncate(&scrub(e, &self.secrets), MAX_ERROR_LEN));
        let (listed_through, covered_through, listed_from, gap_from, gap_to) = match *end {
            RunEnd::Recorded => (None, None, None, None, None),
            RunEnd::Covered {
                listed_through,
                covered_through,
                listed_from,
            } => (
                Some(listed_through),
                Some(covered_through),
                listed_from,
                None,
                None,
            ),
            RunEnd::Gap { from, to } => (None, None, None, from, Some(to)),
        };
        let done: i64 = sqlx::query_scalar(
            "WITH run AS ( \
                 UPDATE ingest_runs SET status = $2, finished_at = $3, pages = $4, api_calls = $5, \
                 retries = $6, jobs_seen = $7, jobs_new = $8, jobs_changed = $9, \
                 jobs_unchanged = $10, jobs_stale = $11, jobs_rejected = $12, error = $13 \
                 WHERE id = $1 AND status = 'running' RETURNING account_id, region \
             ), checkpoint AS ( \
                 INSERT INTO ingest_checkpoints (account_id, region, listed_through, run_id, updated_at) \
                 SELECT account_id, region, $14, $1, now() FROM run \
                 WHERE $14::timestamptz IS NOT NULL \
                 ON CONFLICT (account_id, region) DO UPDATE \
                 SET listed_through = EXCLUDED.listed_through, run_id = EXCLUDED.run_id, \
                     updated_at = now() \
                 WHERE ingest_checkpoints.listed_through <= EXCLUDED.listed_through \
             ), coverage AS ( \
                 INSERT INTO target_coverage \
                     (account_id, region, covered_through, covered_by_run, updated_at) \
                 SELECT account_id, region, $15, $1, now() FROM run \
                 WHERE $15::timestamptz IS NOT NULL \
                 ON CONFLICT (account_id, region) DO UPDATE \
                 SET covered_through = EXCLUDED.covered_through, \
                     covered_by_run = EXCLUDED.covered_by_run, updated_at = now() \
                 WHERE target_coverage.covered_through IS NULL \
                    OR target_coverage.covered_through <= EXCLUDED.covered_through \
             ), filled AS ( \
                 UPDATE coverage_gaps g SET filled_by_run = $1, filled_at = now() \
                 FROM run \
                 WHERE $15::timestamptz IS NOT NULL \
                   AND g.account_id = run.account_id AND g.region = run.region \
                   AND g.filled_at IS NULL \
                   AND ($16::timestamptz IS NULL OR (g.gap_from IS NOT NULL AND g.gap_from >= $16)) \
             ), gap AS ( \
                 INSERT INTO coverage_gaps (account_id, region, gap_from, gap_to, run_id) \
                 SELECT account_id, region, $17, $18, $1 FROM run \
                 WHERE $18::timestamptz IS NOT NULL \
             ) \
             SELECT count(*) FROM run",
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
        .bind(listed_through.map(DbTime))
        .bind(covered_through.map(DbTime))
        .bind(listed_from.map(DbTime))
        .bind(gap_from.map(DbTime))
        .bind(gap_to.map(DbTime))
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db("recording the end of a run"))?;
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

    /// What the database holds besides the runs of `run_group_prefix` over
    /// `accounts` (what `backup-audit demo` writes): `None` when nothing
    /// (an empty database, or one a demo filled), else a description of the
    /// rest. Reads only. A database whose schema is not backup-audit's counts
    /// as holding something whenever it has any table.
    pub async fn data_besides(
        &self,
        run_group_prefix: &str,
        accounts: &[&str],
    ) -> Result<Option<String>, StoreError> {
        let context = "reading what the database holds";
        let migrated: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::db(context))?;
        if !migrated {
            let relations: Vec<String> = sqlx::query_scalar(
                "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
                   AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                   AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1 LIMIT 6",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db(context))?;
            return Ok((!relations.is_empty()).then(|| {
                format!(
                    "tables that are not backup-audit's ({})",
                    relations.join(", ")
                )
            }));
        }
        let accounts: Vec<String> = accounts.iter().map(|a| (*a).to_owned()).collect();
        let (runs, jobs): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM ingest_runs WHERE left(run_group, length($1)) <> $1), \
                    (SELECT count(*) FROM copy_jobs WHERE account_id <> ALL($2))",
        )
        .bind(run_group_prefix)
        .bind(&accounts)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db(context))?;
        Ok((runs > 0 || jobs > 0).then(|| {
            format!("{runs} ingest or import run(s) and {jobs} copy job(s) of other accounts")
        }))
    }

    /// Closes the pool's connections and the lock session.
    pub async fn close(&self) {
        self.locks.close().await;
        self.pool.close().await;
    }
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

/// The query parameters sqlx reads from a URL (sqlx-postgres 0.8,
/// `PgConnectOptions::parse_from_url`).
const URL_PARAMETERS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// `url` without the query parameters sqlx does not read: sqlx logs each
/// such parameter with its value, which may be a password under another
/// spelling (`PassWord=`, `sslpassword=`). They are named here, never
/// their values.
fn without_unknown_parameters(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.query().is_none() {
        return url.to_owned();
    }
    type Pairs = Vec<(String, String)>;
    let (known, unknown): (Pairs, Pairs) = parsed
        .query_pairs()
        .into_owned()
        .partition(|(name, _)| URL_PARAMETERS.contains(&name.as_str()));
    if unknown.is_empty() {
        return url.to_owned();
    }
    for (name, _) in &unknown {
        tracing::warn!(
            parameter = %name,
            "ignoring a connection parameter of the database URL that is not read (its value is not shown)"
        );
    }
    if known.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(known);
    }
    parsed.to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_sqlx_does_not_read_are_dropped_unseen() {
        assert_eq!(
            without_unknown_parameters("postgres://u@h/db?sslmode=require&PassWord=x&password=y"),
            "postgres://u@h/db?sslmode=require&password=y"
        );
        assert_eq!(
            without_unknown_parameters("postgres://u@h/db?sslpassword=k"),
            "postgres://u@h/db"
        );
        let plain = "postgres://u:p%40ss@h/db?sslmode=verify-full&options=-c%20x%3Dy";
        assert_eq!(without_unknown_parameters(plain), plain);
    }

    #[test]
    fn sessions_get_their_timeouts_and_the_pool_its_size() {
        let opts = ConnectOptions {
            lock_timeout: Duration::from_secs(2),
            statement_timeout: Duration::ZERO,
            ..ConnectOptions::default()
        };
        assert_eq!(opts.max_connections, ConnectOptions::DEFAULT_CONNECTIONS);
        assert_eq!(
            opts.session_settings(),
            [
                ("lock_timeout", "2000".to_owned()),
                ("statement_timeout", "0".to_owned()),
                ("idle_in_transaction_session_timeout", "600000".to_owned()),
            ]
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
}
