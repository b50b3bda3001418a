//! The report queries: typed rows read from the current state (`copy_jobs`)
//! and the views of `migrations/0002_report_views.sql` (and later ones).
//!
//! The rules are those of the views (see the migrations): counts, bytes and
//! durations are of non-parent jobs (standalone jobs and the children of
//! composite jobs), so that a composite copy is not counted twice; failures
//! list parents too, since PARTIAL is a parent's state. A duration is
//! `completion_date - creation_date` of a COMPLETED job, in seconds. Days are
//! UTC dates of `creation_date`. Byte sums are `numeric` in SQL and
//! [`Bytes`] (an `i128`) here: they never overflow.
//!
//! Every query takes a [`ReportFilter`] whose fields are bound as parameters
//! (`$1::timestamptz IS NULL OR ...`), never spliced into the SQL. An empty
//! database gives empty reports.
//!
//! A row type is one struct with `#[derive(sqlx::FromRow, Serialize)]`: its
//! fields are the query's column names, the CSV header and the JSON keys.

use backup_ingest::{DbTime, StoreError};
use serde::Serialize;
use sqlx::postgres::{PgArguments, PgPool};
use sqlx::query::QueryAs;
use sqlx::{FromRow, Postgres};

use crate::values::{Bytes, Time};
use backup_model::Timestamp;

/// Which jobs a report covers. `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    /// Jobs created at or after this instant.
    pub since: Option<Timestamp>,
    /// Jobs created before this instant.
    pub until: Option<Timestamp>,
    /// Jobs of this account (the key's account).
    pub account_id: Option<String>,
    /// Jobs of this region (the key's region).
    pub region: Option<String>,
}

/// A report row: printable in every format.
pub trait Row: Serialize + Default {
    /// The columns a table shows when none are asked for: those people read
    /// first. Empty: all of them.
    const TABLE_COLUMNS: &'static [&'static str] = &[];
}

/// `summary`: the jobs in one state.
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize)]
pub struct SummaryRow {
    /// The state (`COMPLETED`, `FAILED`, ...); `None` for jobs without one.
    pub state: Option<String>,
    /// How many non-parent jobs are in it.
    pub jobs: i64,
    /// The sum of their BackupSizeInBytes.
    pub bytes: Bytes,
}

impl Row for SummaryRow {}

/// `failures`: one FAILED or PARTIAL job (parents included).
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize)]
pub struct FailureRow {
    /// The job's id.
    pub copy_job_id: String,
    /// The key's account.
    pub account_id: String,
    /// The key's region.
    pub region: String,
    /// FAILED or PARTIAL.
    pub state: String,
    /// AWS's category of the status message.
    pub message_category: Option<String>,
    /// AWS's explanation.
    pub status_message: Option<String>,
    /// The resource whose recovery point was copied.
    pub resource_arn: Option<String>,
    /// Its readable name.
    pub resource_name: Option<String>,
    /// Its type (EBS, EC2, RDS, ...).
    pub resource_type: Option<String>,
    /// The vault copied from.
    pub source_backup_vault_arn: Option<String>,
    /// The vault copied to.
    pub destination_backup_vault_arn: Option<String>,
    /// When the job was created.
    pub creation_date: Option<Time>,
    /// When it ended.
    pub completion_date: Option<Time>,
    /// Whether it is a composite (parent) job.
    pub is_parent: bool,
    /// For a child, its parent's id.
    pub parent_job_id: Option<String>,
}

impl Row for FailureRow {
    const TABLE_COLUMNS: &'static [&'static str] = &[
        "creation_date",
        "account_id",
        "region",
        "resource_name",
        "resource_type",
        "state",
        "message_category",
        "status_message",
    ];
}

/// `daily`: the copies of one UTC day, account, region and destination
/// vault. (No `partial` column: PARTIAL is a parent's state, and parents are
/// not counted here.)
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize)]
pub struct DailyRow {
    /// The UTC date of creation, `YYYY-MM-DD`.
    pub day: String,
    /// The key's account.
    pub account_id: String,
    /// The key's region.
    pub region: String,
    /// The destination vault.
    pub destination_backup_vault_arn: Option<String>,
    /// Non-parent jobs created that day.
    pub jobs: i64,
    /// Of which CREATED.
    pub created: i64,
    /// RUNNING.
    pub running: i64,
    /// COMPLETED.
    pub completed: i64,
    /// FAILED.
    pub failed: i64,
    /// BackupSizeInBytes of all of them.
    pub bytes: Bytes,
    /// BackupSizeInBytes of the COMPLETED ones.
    pub completed_bytes: Bytes,
    /// The median duration of the COMPLETED ones, in seconds.
    pub median_seconds: Option<f64>,
    /// Their 95th-percentile duration (interpolated, as `percentile_cont`).
    pub p95_seconds: Option<f64>,
}

impl Row for DailyRow {
    const TABLE_COLUMNS: &'static [&'static str] = &[
        "day",
        "account_id",
        "region",
        "destination_backup_vault_arn",
        "jobs",
        "completed",
        "failed",
        "completed_bytes",
        "median_seconds",
    ];
}

/// `durations`: how long COMPLETED copies of one resource type took.
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize)]
pub struct DurationRow {
    /// The resource type; `None` for jobs without one.
    pub resource_type: Option<String>,
    /// COMPLETED non-parent jobs with both dates.
    pub copies: i64,
    /// The shortest, in seconds.
    pub min_seconds: f64,
    /// The median.
    pub median_seconds: f64,
    /// The 95th percentile (interpolated).
    pub p95_seconds: f64,
    /// The longest.
    pub max_seconds: f64,
    /// The mean.
    pub mean_seconds: f64,
    /// BackupSizeInBytes of these copies.
    pub bytes: Bytes,
}

impl Row for DurationRow {}

/// `vaults`: the copies into one destination vault (non-parent jobs, so no
/// `partial` column).
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize)]
pub struct VaultRow {
    /// The destination vault; `None` for jobs without one.
    pub destination_backup_vault_arn: Option<String>,
    /// The vault's account, from its ARN.
    pub destination_account_id: Option<String>,
    /// The vault's region, from its ARN.
    pub destination_region: Option<String>,
    /// Non-parent jobs copying into it.
    pub jobs: i64,
    /// Of which COMPLETED.
    pub completed: i64,
    /// FAILED.
    pub failed: i64,
    /// Distinct resources copied into it.
    pub resources: i64,
    /// BackupSizeInBytes of all of them.
    pub bytes: Bytes,
    /// BackupSizeInBytes of the COMPLETED ones.
    pub completed_bytes: Bytes,
    /// When the last COMPLETED copy into it ended.
    pub last_completed_at: Option<Time>,
}

impl Row for VaultRow {
    const TABLE_COLUMNS: &'static [&'static str] = &[
        "destination_backup_vault_arn",
        "jobs",
        "completed",
        "failed",
        "resources",
        "completed_bytes",
        "last_completed_at",
    ];
}

/// `accounts`: the copies of one source account (the key's account),
/// most failures first.
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize)]
pub struct AccountRow {
    /// The account.
    pub account_id: String,
    /// Regions with copy jobs.
    pub regions: i64,
    /// Non-parent jobs.
    pub jobs: i64,
    /// Of which COMPLETED.
    pub completed: i64,
    /// FAILED.
    pub failed: i64,
    /// CREATED or RUNNING.
    pub open: i64,
    /// FAILED and PARTIAL composite (parent) jobs: a parent is PARTIAL when
    /// some of its children failed.
    pub failed_parents: i64,
    /// FAILED among finished (COMPLETED or FAILED) jobs, in percent.
    pub failure_percent: Option<f64>,
    /// BackupSizeInBytes of the COMPLETED ones.
    pub completed_bytes: Bytes,
    /// When its last COMPLETED copy ended.
    pub last_completed_at: Option<Time>,
}

impl Row for AccountRow {
    const TABLE_COLUMNS: &'static [&'static str] = &[
        "account_id",
        "jobs",
        "completed",
        "failed",
        "failure_percent",
        "open",
        "completed_bytes",
        "last_completed_at",
    ];
}

/// `stale`: a resource whose last COMPLETED copy is older than the cutoff, or
/// that never had one.
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize)]
pub struct StaleRow {
    /// The key's account.
    pub account_id: String,
    /// The key's region.
    pub region: String,
    /// The resource.
    pub resource_arn: String,
    /// Its type, from its latest job.
    pub resource_type: Option<String>,
    /// Its name, from its latest job.
    pub resource_name: Option<String>,
    /// When its last COMPLETED copy ended; `None`: never.
    pub last_completed_at: Option<Time>,
    /// That copy's job.
    pub last_completed_copy_job_id: Option<String>,
    /// When its latest copy job was created.
    pub last_attempt_at: Option<Time>,
    /// That job's state.
    pub last_attempt_state: Option<String>,
    /// All its copy jobs.
    pub copies: i64,
    /// Those FAILED or PARTIAL.
    pub failed_copies: i64,
}

impl Row for StaleRow {
    const TABLE_COLUMNS: &'static [&'static str] = &[
        "account_id",
        "region",
        "resource_arn",
        "resource_type",
        "last_completed_at",
        "last_attempt_state",
        "failed_copies",
    ];
}

/// `coverage`: how far the record of one target (account, region) is
/// complete, from the coverage ledger (view `report_coverage`).
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize)]
pub struct CoverageRow {
    /// The target's account.
    pub account_id: String,
    /// The target's region.
    pub region: String,
    /// Every copy job of the target up to this instant is recorded; `None`:
    /// no run of the target ever completed.
    pub covered_through: Option<Time>,
    /// When its last run started.
    pub last_run_at: Option<Time>,
    /// How that run ended (`succeeded`, `failed`, `running`, ...).
    pub last_run_status: Option<String>,
    /// That run's error, if any.
    pub last_error: Option<String>,
    /// True when `covered_through` is missing or older than the staleness
    /// limit (`--stale-after`, 24 hours by default).
    pub stale: bool,
}

impl Row for CoverageRow {}

/// `gone`: a job AWS no longer returns (it aged out of AWS's retention or was
/// removed). It is never deleted: the record keeps its last version and the
/// instant it was found gone (view `report_gone_jobs`).
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize)]
pub struct GoneRow {
    /// The job's id.
    pub copy_job_id: String,
    /// The key's account.
    pub account_id: String,
    /// The key's region.
    pub region: String,
    /// Its last state as AWS showed it.
    pub state: Option<String>,
    /// When the job was created.
    pub creation_date: Option<Time>,
    /// When it ended, if AWS said.
    pub completion_date: Option<Time>,
    /// The resource whose recovery point was copied.
    pub resource_arn: Option<String>,
    /// The vault copied to.
    pub destination_backup_vault_arn: Option<String>,
    /// When a DescribeCopyJob first answered that AWS no longer has it.
    pub gone_at: Option<Time>,
}

impl Row for GoneRow {}

/// A bar of the duration histogram: COMPLETED copies whose duration is in
/// `[lower_seconds, upper_seconds)` (the last bar includes its upper bound).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HistogramBin {
    /// The lower bound, in seconds.
    pub lower_seconds: f64,
    /// The upper bound, in seconds.
    pub upper_seconds: f64,
    /// How many copies.
    pub copies: i64,
}

/// A label and how often it occurs: the top failing resources and messages.
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize)]
pub struct CountRow {
    /// What is counted (a resource, a status message), in full.
    pub label: String,
    /// How many FAILED or PARTIAL jobs.
    pub failures: i64,
}

/// The conditions of a [`ReportFilter`] on `copy_jobs` (alias-free), `$1..$4`.
const FILTER: &str = "($1::timestamptz IS NULL OR creation_date >= $1::timestamptz)
    AND ($2::timestamptz IS NULL OR creation_date < $2::timestamptz)
    AND ($3::text IS NULL OR account_id = $3::text)
    AND ($4::text IS NULL OR region = $4::text)";

type Query<'q, R> = QueryAs<'q, Postgres, R, PgArguments>;

/// `sql` with the filter's parameters bound as `$1..$4` (see [`FILTER`]).
fn filtered<'q, R>(sql: &'q str, filter: &'q ReportFilter) -> Query<'q, R>
where
    R: for<'r> FromRow<'r, sqlx::postgres::PgRow>,
{
    sqlx::query_as(sql)
        .bind(filter.since.map(DbTime))
        .bind(filter.until.map(DbTime))
        .bind(filter.account_id.as_deref())
        .bind(filter.region.as_deref())
}

fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}

async fn all<R>(
    pool: &PgPool,
    context: &'static str,
    sql: &str,
    filter: &ReportFilter,
) -> Result<Vec<R>, StoreError>
where
    R: for<'r> FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    filtered(sql, filter)
        .fetch_all(pool)
        .await
        .map_err(db(context))
}

/// One row per state: non-parent jobs and their bytes.
pub async fn summary(pool: &PgPool, filter: &ReportFilter) -> Result<Vec<SummaryRow>, StoreError> {
    let sql = format!(
        "SELECT state, count(*) AS jobs, coalesce(sum(backup_size_in_bytes), 0) AS bytes
         FROM copy_jobs
         WHERE is_parent IS NOT TRUE AND {FILTER}
         GROUP BY state
         ORDER BY state COLLATE \"C\" NULLS LAST"
    );
    all(pool, "reading the summary report", &sql, filter).await
}

/// Every FAILED or PARTIAL job, parents included, oldest first.
pub async fn failures(pool: &PgPool, filter: &ReportFilter) -> Result<Vec<FailureRow>, StoreError> {
    let sql = format!(
        "SELECT * FROM report_failures
         WHERE {FILTER}
         ORDER BY creation_date NULLS FIRST, account_id COLLATE \"C\", region COLLATE \"C\",
            copy_job_id COLLATE \"C\""
    );
    all(pool, "reading the failures report", &sql, filter).await
}

/// The jobs marked gone, oldest first (filtered by creation date, account
/// and region like the other reports).
pub async fn gone(pool: &PgPool, filter: &ReportFilter) -> Result<Vec<GoneRow>, StoreError> {
    let sql = format!(
        "SELECT copy_job_id, account_id, region, state, creation_date, completion_date,
            resource_arn, destination_backup_vault_arn, gone_at
         FROM report_gone_jobs
         WHERE {FILTER}
         ORDER BY creation_date NULLS FIRST, account_id COLLATE \"C\", region COLLATE \"C\",
            copy_job_id COLLATE \"C\""
    );
    all(pool, "reading the gone jobs", &sql, filter).await
}

/// A failure and the number of rows the query would give without its limit.
#[derive(FromRow)]
struct CountedFailure {
    #[sqlx(flatten)]
    row: FailureRow,
    total: i64,
}

/// The `limit` latest FAILED or PARTIAL jobs (newest first, in the reverse
/// order of [`failures`]) and how many there are in all.
pub async fn latest_failures(
    pool: &PgPool,
    filter: &ReportFilter,
    limit: u32,
) -> Result<(Vec<FailureRow>, i64), StoreError> {
    let sql = format!(
        "SELECT *, count(*) OVER () AS total
         FROM report_failures
         WHERE {FILTER}
         ORDER BY creation_date DESC NULLS LAST, account_id COLLATE \"C\" DESC,
            region COLLATE \"C\" DESC, copy_job_id COLLATE \"C\" DESC
         LIMIT $5"
    );
    let rows: Vec<CountedFailure> = filtered(&sql, filter)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(db("reading the latest failures"))?;
    let total = rows.first().map_or(0, |r| r.total);
    Ok((rows.into_iter().map(|r| r.row).collect(), total))
}

/// The duration of a job in seconds, as the views compute it.
const DURATION: &str = "extract(epoch FROM completion_date - creation_date)::double precision";
/// The jobs that have a duration.
const DURATION_JOBS: &str = "state = 'COMPLETED' AND completion_date IS NOT NULL";

/// Copies per UTC day, account, region and destination vault: the
/// `report_daily` view with exact time bounds.
pub async fn daily(pool: &PgPool, filter: &ReportFilter) -> Result<Vec<DailyRow>, StoreError> {
    let sql = format!(
        "SELECT to_char((creation_date AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day,
            account_id, region, destination_backup_vault_arn,
            count(*) AS jobs,
            count(*) FILTER (WHERE state = 'CREATED') AS created,
            count(*) FILTER (WHERE state = 'RUNNING') AS running,
            count(*) FILTER (WHERE state = 'COMPLETED') AS completed,
            count(*) FILTER (WHERE state = 'FAILED') AS failed,
            coalesce(sum(backup_size_in_bytes), 0) AS bytes,
            coalesce(sum(backup_size_in_bytes) FILTER (WHERE state = 'COMPLETED'), 0)
                AS completed_bytes,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY {DURATION}) FILTER (WHERE {DURATION_JOBS})
                AS median_seconds,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY {DURATION}) FILTER (WHERE {DURATION_JOBS})
                AS p95_seconds
         FROM copy_jobs
         WHERE is_parent IS NOT TRUE AND creation_date IS NOT NULL AND {FILTER}
         GROUP BY 1, 2, 3, 4
         ORDER BY day, account_id COLLATE \"C\", region COLLATE \"C\",
            destination_backup_vault_arn COLLATE \"C\" NULLS LAST"
    );
    all(pool, "reading the daily report", &sql, filter).await
}

/// Durations of COMPLETED copies per resource type.
pub async fn durations(
    pool: &PgPool,
    filter: &ReportFilter,
) -> Result<Vec<DurationRow>, StoreError> {
    let sql = format!(
        "SELECT resource_type,
            count(*) AS copies,
            min({DURATION}) AS min_seconds,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY {DURATION}) AS median_seconds,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY {DURATION}) AS p95_seconds,
            max({DURATION}) AS max_seconds,
            avg({DURATION}) AS mean_seconds,
            coalesce(sum(backup_size_in_bytes), 0) AS bytes
         FROM copy_jobs
         WHERE is_parent IS NOT TRUE AND {DURATION_JOBS}
           AND creation_date IS NOT NULL AND {FILTER}
         GROUP BY resource_type
         ORDER BY resource_type COLLATE \"C\" NULLS LAST"
    );
    all(pool, "reading the durations report", &sql, filter).await
}

/// Copies per destination vault, by ARN.
pub async fn vaults(pool: &PgPool, filter: &ReportFilter) -> Result<Vec<VaultRow>, StoreError> {
    // arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME
    let sql = format!(
        "SELECT destination_backup_vault_arn,
            nullif(split_part(destination_backup_vault_arn, ':', 5), '') AS destination_account_id,
            nullif(split_part(destination_backup_vault_arn, ':', 4), '') AS destination_region,
            count(*) AS jobs,
            count(*) FILTER (WHERE state = 'COMPLETED') AS completed,
            count(*) FILTER (WHERE state = 'FAILED') AS failed,
            count(DISTINCT resource_arn) AS resources,
            coalesce(sum(backup_size_in_bytes), 0) AS bytes,
            coalesce(sum(backup_size_in_bytes) FILTER (WHERE state = 'COMPLETED'), 0)
                AS completed_bytes,
            max(coalesce(completion_date, creation_date)) FILTER (WHERE state = 'COMPLETED')
                AS last_completed_at
         FROM copy_jobs
         WHERE is_parent IS NOT TRUE AND {FILTER}
         GROUP BY destination_backup_vault_arn
         ORDER BY destination_backup_vault_arn COLLATE \"C\" NULLS LAST"
    );
    all(pool, "reading the vaults report", &sql, filter).await
}

/// Copies per source account, most failures first.
pub async fn accounts(pool: &PgPool, filter: &ReportFilter) -> Result<Vec<AccountRow>, StoreError> {
    let sql = format!(
        "SELECT account_id,
            count(DISTINCT region) AS regions,
            count(*) FILTER (WHERE is_parent IS NOT TRUE) AS jobs,
            count(*) FILTER (WHERE is_parent IS NOT TRUE AND state = 'COMPLETED') AS completed,
            count(*) FILTER (WHERE is_parent IS NOT TRUE AND state = 'FAILED') AS failed,
            count(*) FILTER (WHERE is_parent IS NOT TRUE AND state IN ('CREATED', 'RUNNING'))
                AS open,
            count(*) FILTER (WHERE is_parent IS TRUE AND state IN ('FAILED', 'PARTIAL'))
                AS failed_parents,
            100.0::double precision
                * count(*) FILTER (WHERE is_parent IS NOT TRUE AND state = 'FAILED')
                / nullif(count(*) FILTER (WHERE is_parent IS NOT TRUE
                    AND state IN ('COMPLETED', 'FAILED')), 0)
                AS failure_percent,
            coalesce(sum(backup_size_in_bytes)
                FILTER (WHERE is_parent IS NOT TRUE AND state = 'COMPLETED'), 0) AS completed_bytes,
            max(coalesce(completion_date, creation_date))
                FILTER (WHERE is_parent IS NOT TRUE AND state = 'COMPLETED') AS last_completed_at
         FROM copy_jobs
         WHERE {FILTER}
         GROUP BY account_id
         ORDER BY 5 DESC, 7 DESC, account_id COLLATE \"C\""
    );
    all(pool, "reading the accounts report", &sql, filter).await
}

/// Resources whose last COMPLETED copy ended before `cutoff`, or that never
/// had one: the `report_last_successful_copy` view. `since` and `until` do
/// not apply (every job counts); account and region do.
pub async fn stale(
    pool: &PgPool,
    filter: &ReportFilter,
    cutoff: Timestamp,
) -> Result<Vec<StaleRow>, StoreError> {
    sqlx::query_as(
        "SELECT * FROM report_last_successful_copy
         WHERE (last_completed_at IS NULL OR last_completed_at < $1)
           AND ($2::text IS NULL OR account_id = $2::text)
           AND ($3::text IS NULL OR region = $3::text)
         ORDER BY last_completed_at NULLS FIRST, account_id COLLATE \"C\", region COLLATE \"C\",
            resource_arn COLLATE \"C\"",
    )
    .bind(DbTime(cutoff))
    .bind(filter.account_id.as_deref())
    .bind(filter.region.as_deref())
    .fetch_all(pool)
    .await
    .map_err(db("reading the stale report"))
}

/// One row per target of the coverage ledger (view `report_coverage`),
/// stale ones first: a target is stale when its record is not complete
/// through `fresh_after` (or at all). `since` and `until` do not apply;
/// account and region do.
pub async fn coverage(
    pool: &PgPool,
    filter: &ReportFilter,
    fresh_after: Timestamp,
) -> Result<Vec<CoverageRow>, StoreError> {
    sqlx::query_as(
        "SELECT account_id, region, covered_through, last_run_at, last_run_status, last_error,
            (covered_through IS NULL OR covered_through < $1) AS stale
         FROM report_coverage
         WHERE ($2::text IS NULL OR account_id = $2::text)
           AND ($3::text IS NULL OR region = $3::text)
         ORDER BY 7 DESC, covered_through NULLS FIRST, account_id COLLATE \"C\",
            region COLLATE \"C\"",
    )
    .bind(DbTime(fresh_after))
    .bind(filter.account_id.as_deref())
    .bind(filter.region.as_deref())
    .fetch_all(pool)
    .await
    .map_err(db("reading the coverage report"))
}

/// The durations of COMPLETED non-parent copies in `bins` equal bars from 0
/// to the longest. Empty when there is none.
pub async fn duration_histogram(
    pool: &PgPool,
    filter: &ReportFilter,
    bins: u32,
) -> Result<Vec<HistogramBin>, StoreError> {
    let context = "reading the duration histogram";
    let bins = bins.max(1);
    let jobs = format!(
        "SELECT {DURATION} AS d FROM copy_jobs
         WHERE is_parent IS NOT TRUE AND {DURATION_JOBS}
           AND creation_date IS NOT NULL AND {FILTER}"
    );
    let max_sql = format!("SELECT max(d) FROM ({jobs}) j");
    let (max,): (Option<f64>,) = filtered(&max_sql, filter)
        .fetch_one(pool)
        .await
        .map_err(db(context))?;
    let Some(max) = max else {
        return Ok(Vec::new());
    };
    // A range of zero (every copy took the same time) still needs a bar.
    let upper = if max > 0.0 { max } else { 1.0 };
    let width = upper / f64::from(bins);
    let sql = format!(
        "SELECT least(greatest(width_bucket(d, 0::double precision, $5::double precision, $6::int), 1), $6::int) AS bin,
            count(*) AS copies
         FROM ({jobs}) j
         GROUP BY 1"
    );
    let rows: Vec<(i32, i64)> = filtered(&sql, filter)
        .bind(upper)
        .bind(bins as i32)
        .fetch_all(pool)
        .await
        .map_err(db(context))?;
    let mut out: Vec<HistogramBin> = (0..bins)
        .map(|i| HistogramBin {
            lower_seconds: width * f64::from(i),
            upper_seconds: width * f64::from(i + 1),
            copies: 0,
        })
        .collect();
    for (bin, copies) in rows {
        if let Some(slot) = usize::try_from(bin - 1).ok().and_then(|i| out.get_mut(i)) {
            slot.copies += copies;
        }
    }
    Ok(out)
}

/// The resources with the most FAILED or PARTIAL jobs (parents included),
/// most first; the label is the resource name when there is one, else its ARN.
pub async fn top_failing_resources(
    pool: &PgPool,
    filter: &ReportFilter,
    limit: u32,
) -> Result<Vec<CountRow>, StoreError> {
    top_failures(
        pool,
        filter,
        limit,
        "coalesce(resource_name, resource_arn, '(no resource)')",
        "reading the top failing resources",
    )
    .await
}

/// The status messages of the most FAILED or PARTIAL jobs, most first
/// (`(no message)` for jobs without one).
pub async fn top_failure_messages(
    pool: &PgPool,
    filter: &ReportFilter,
    limit: u32,
) -> Result<Vec<CountRow>, StoreError> {
    top_failures(
        pool,
        filter,
        limit,
        "coalesce(status_message, message_category, '(no message)')",
        "reading the top failure messages",
    )
    .await
}

async fn top_failures(
    pool: &PgPool,
    filter: &ReportFilter,
    limit: u32,
    label: &str,
    context: &'static str,
) -> Result<Vec<CountRow>, StoreError> {
    let sql = format!(
        "SELECT {label} AS label, count(*) AS failures
         FROM report_failures
         WHERE {FILTER}
         GROUP BY 1
         ORDER BY count(*) DESC, {label} COLLATE \"C\"
         LIMIT $5"
    );
    filtered(&sql, filter)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(db(context))
}
