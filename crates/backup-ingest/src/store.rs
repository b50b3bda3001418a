//! [`Store`]: the connection pool, migrations, batch writes of observed jobs
//! (the private `write` module says how), per-target locks, checkpoints and run
//! bookkeeping.

use std::fmt;
use std::ops::AddAssign;
use std::str::FromStr;
use std::time::Duration;

use backup_model::{CopyJob, Timestamp};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Row as _};

use crate::error::{redact, redact_url, StoreError};
use crate::lock::TargetLock;
use crate::rows::{DbTime, JobKey};
use crate::runs::{NewRun, RunOutcome};

/// The migrations of the top-level `migrations/` folder, built in.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

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
    connect_timeout: Duration,
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
        Ok(Store {
            pool,
            connect,
            connect_timeout: opts.connect_timeout,
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
        crate::write::write_batch(&self.pool, run_id, batch).await
    }

    /// Takes the ingest lock of a target on a connection of its own, waiting
    /// up to `timeout` for another run to release it
    /// ([`StoreError::LockTimeout`] then).
    #[tracing::instrument(skip_all, fields(account = account, region = region))]
    pub async fn lock_target(
        &self,
        account: &str,
        region: &str,
        timeout: Duration,
    ) -> Result<TargetLock, StoreError> {
        // A connection of its own: the lock lives as long as this session.
        let conn = match tokio::time::timeout(
            self.connect_timeout,
            PgConnection::connect_with(&self.connect),
        )
        .await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(connect_error(&self.target, e, &|text| redact(&text))),
            Err(_) => {
                return Err(StoreError::Connect {
                    target: self.target.clone(),
                    message: format!("no answer within {:?}", self.connect_timeout),
                })
            }
        };
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
        let error = outcome
            .error
            .as_deref()
            .map(|e| truncate(&redact(e), MAX_ERROR_LEN));
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
        assert_eq!(scrub("bad p@ss here", Some("p@ss")), "bad *** here");
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
