//! The queries behind `backup-audit report`: typed rows read from the current
//! state (`copy_jobs`) and the views of `migrations/0002_report_views.sql`.
//!
//! The rules are those of the views (see the migration): counts, bytes and
//! durations are of non-parent jobs (standalone jobs and the children of
//! composite jobs), so that a composite copy is not counted twice; failures
//! list parents too, since PARTIAL is a parent's state. A duration is
//! `completion_date - creation_date` of a COMPLETED job, in seconds. Days are
//! UTC dates of `creation_date`.
//!
//! Every query takes a [`ReportFilter`] whose fields are bound as parameters
//! (`$1::timestamptz IS NULL OR ...`), never spliced into the SQL. An empty
//! database gives empty reports.
//!
//! Rows are plain data. [`ReportRow`] lists a row's columns and values as
//! [`Cell`]s in one order, so that every output format (table, CSV, JSON, the
//! HTML page) shows the same columns with the same names.

use backup_model::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::Row as _;

use crate::error::StoreError;
use crate::rows::DbTime;
use crate::store::Store;

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

/// One value of a report row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value (SQL NULL).
    Null,
    /// Text.
    Text(String),
    /// A whole number: a count, bytes.
    Int(i64),
    /// A number with a fraction: seconds, percentages.
    Float(f64),
    /// True or false.
    Bool(bool),
    /// An instant, written as RFC 3339 UTC with milliseconds.
    Time(Timestamp),
}

impl Cell {
    fn text(value: Option<String>) -> Cell {
        value.map_or(Cell::Null, Cell::Text)
    }

    fn time(value: Option<Timestamp>) -> Cell {
        value.map_or(Cell::Null, Cell::Time)
    }

    fn float(value: Option<f64>) -> Cell {
        value.map_or(Cell::Null, Cell::Float)
    }
}

/// A row of a report: its column names (snake_case, fixed) and its values in
/// the same order.
pub trait ReportRow {
    /// The column names.
    const COLUMNS: &'static [&'static str];

    /// The values, one per column.
    fn cells(&self) -> Vec<Cell>;
}

/// `summary`: the jobs in one state.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The state (`COMPLETED`, `FAILED`, ...); `None` for jobs without one.
    pub state: Option<String>,
    /// How many non-parent jobs are in it.
    pub jobs: i64,
    /// The sum of their BackupSizeInBytes.
    pub bytes: i64,
}

impl ReportRow for SummaryRow {
    const COLUMNS: &'static [&'static str] = &["state", "jobs", "bytes"];

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::text(self.state.clone()),
            Cell::Int(self.jobs),
            Cell::Int(self.bytes),
        ]
    }
}

/// `failures`: one FAILED or PARTIAL job (parents included).
#[derive(Debug, Clone, PartialEq)]
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
    pub creation_date: Option<Timestamp>,
    /// When it ended.
    pub completion_date: Option<Timestamp>,
    /// Whether it is a composite (parent) job.
    pub is_parent: bool,
    /// For a child, its parent's id.
    pub parent_job_id: Option<String>,
}

impl ReportRow for FailureRow {
    const COLUMNS: &'static [&'static str] = &[
        "copy_job_id",
        "account_id",
        "region",
        "state",
        "message_category",
        "status_message",
        "resource_arn",
        "resource_name",
        "resource_type",
        "source_backup_vault_arn",
        "destination_backup_vault_arn",
        "creation_date",
        "completion_date",
        "is_parent",
        "parent_job_id",
    ];

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Text(self.copy_job_id.clone()),
            Cell::Text(self.account_id.clone()),
            Cell::Text(self.region.clone()),
            Cell::Text(self.state.clone()),
            Cell::text(self.message_category.clone()),
            Cell::text(self.status_message.clone()),
            Cell::text(self.resource_arn.clone()),
            Cell::text(self.resource_name.clone()),
            Cell::text(self.resource_type.clone()),
            Cell::text(self.source_backup_vault_arn.clone()),
            Cell::text(self.destination_backup_vault_arn.clone()),
            Cell::time(self.creation_date),
            Cell::time(self.completion_date),
            Cell::Bool(self.is_parent),
            Cell::text(self.parent_job_id.clone()),
        ]
    }
}

/// `daily`: the copies of one UTC day, account, region and destination vault.
#[derive(Debug, Clone, PartialEq)]
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
    /// PARTIAL.
    pub partial: i64,
    /// BackupSizeInBytes of all of them.
    pub bytes: i64,
    /// BackupSizeInBytes of the COMPLETED ones.
    pub completed_bytes: i64,
    /// The median duration of the COMPLETED ones, in seconds.
    pub median_seconds: Option<f64>,
    /// Their 95th-percentile duration (interpolated, as `percentile_cont`).
    pub p95_seconds: Option<f64>,
}

impl ReportRow for DailyRow {
    const COLUMNS: &'static [&'static str] = &[
        "day",
        "account_id",
        "region",
        "destination_backup_vault_arn",
        "jobs",
        "created",
        "running",
        "completed",
        "failed",
        "partial",
        "bytes",
        "completed_bytes",
        "median_seconds",
        "p95_seconds",
    ];

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Text(self.day.clone()),
            Cell::Text(self.account_id.clone()),
            Cell::Text(self.region.clone()),
            Cell::text(self.destination_backup_vault_arn.clone()),
            Cell::Int(self.jobs),
            Cell::Int(self.created),
            Cell::Int(self.running),
            Cell::Int(self.completed),
            Cell::Int(self.failed),
            Cell::Int(self.partial),
            Cell::Int(self.bytes),
            Cell::Int(self.completed_bytes),
            Cell::float(self.median_seconds),
            Cell::float(self.p95_seconds),
        ]
    }
}

/// `durations`: how long COMPLETED copies of one resource type took.
#[derive(Debug, Clone, PartialEq)]
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
    pub bytes: i64,
}

impl ReportRow for DurationRow {
    const COLUMNS: &'static [&'static str] = &[
        "resource_type",
        "copies",
        "min_seconds",
        "median_seconds",
        "p95_seconds",
        "max_seconds",
        "mean_seconds",
        "bytes",
    ];

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::text(self.resource_type.clone()),
            Cell::Int(self.copies),
            Cell::Float(self.min_seconds),
            Cell::Float(self.median_seconds),
            Cell::Float(self.p95_seconds),
            Cell::Float(self.max_seconds),
            Cell::Float(self.mean_seconds),
            Cell::Int(self.bytes),
        ]
    }
}

/// `vaults`: the copies into one destination vault.
#[derive(Debug, Clone, PartialEq)]
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
    /// PARTIAL.
    pub partial: i64,
    /// Distinct resources copied into it.
    pub resources: i64,
    /// BackupSizeInBytes of all of them.
    pub bytes: i64,
    /// BackupSizeInBytes of the COMPLETED ones.
    pub completed_bytes: i64,
    /// When the last COMPLETED copy into it ended.
    pub last_completed_at: Option<Timestamp>,
}

impl ReportRow for VaultRow {
    const COLUMNS: &'static [&'static str] = &[
        "destination_backup_vault_arn",
        "destination_account_id",
        "destination_region",
        "jobs",
        "completed",
        "failed",
        "partial",
        "resources",
        "bytes",
        "completed_bytes",
        "last_completed_at",
    ];

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::text(self.destination_backup_vault_arn.clone()),
            Cell::text(self.destination_account_id.clone()),
            Cell::text(self.destination_region.clone()),
            Cell::Int(self.jobs),
            Cell::Int(self.completed),
            Cell::Int(self.failed),
            Cell::Int(self.partial),
            Cell::Int(self.resources),
            Cell::Int(self.bytes),
            Cell::Int(self.completed_bytes),
            Cell::time(self.last_completed_at),
        ]
    }
}

/// `stale`: a resource whose last COMPLETED copy is older than the cutoff, or
/// that never had one.
#[derive(Debug, Clone, PartialEq)]
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
    pub last_completed_at: Option<Timestamp>,
    /// That copy's job.
    pub last_completed_copy_job_id: Option<String>,
    /// When its latest copy job was created.
    pub last_attempt_at: Option<Timestamp>,
    /// That job's state.
    pub last_attempt_state: Option<String>,
    /// All its copy jobs.
    pub copies: i64,
    /// Those FAILED or PARTIAL.
    pub failed_copies: i64,
}

impl ReportRow for StaleRow {
    const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "region",
        "resource_arn",
        "resource_type",
        "resource_name",
        "last_completed_at",
        "last_completed_copy_job_id",
        "last_attempt_at",
        "last_attempt_state",
        "copies",
        "failed_copies",
    ];

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Text(self.account_id.clone()),
            Cell::Text(self.region.clone()),
            Cell::Text(self.resource_arn.clone()),
            Cell::text(self.resource_type.clone()),
            Cell::text(self.resource_name.clone()),
            Cell::time(self.last_completed_at),
            Cell::text(self.last_completed_copy_job_id.clone()),
            Cell::time(self.last_attempt_at),
            Cell::text(self.last_attempt_state.clone()),
            Cell::Int(self.copies),
            Cell::Int(self.failed_copies),
        ]
    }
}

/// A bar of the duration histogram: COMPLETED copies whose duration is in
/// `[lower_seconds, upper_seconds)` (the last bar includes its upper bound).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramBin {
    /// The lower bound, in seconds.
    pub lower_seconds: f64,
    /// The upper bound, in seconds.
    pub upper_seconds: f64,
    /// How many copies.
    pub copies: i64,
}

/// A label and how often it occurs: the top failing resources and messages.
#[derive(Debug, Clone, PartialEq)]
pub struct CountRow {
    /// What is counted (a resource ARN, a status message).
    pub label: String,
    /// How many FAILED or PARTIAL jobs.
    pub failures: i64,
}

/// The filter's parameters, in the order `$1..$4` of [`FILTER`].
fn bind_filter<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    filter: &'q ReportFilter,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(filter.since.map(DbTime))
        .bind(filter.until.map(DbTime))
        .bind(filter.account_id.as_deref())
        .bind(filter.region.as_deref())
}

/// The conditions of a [`ReportFilter`] on `copy_jobs` (alias-free), `$1..$4`.
const FILTER: &str = "($1::timestamptz IS NULL OR creation_date >= $1::timestamptz)
    AND ($2::timestamptz IS NULL OR creation_date < $2::timestamptz)
    AND ($3::text IS NULL OR account_id = $3::text)
    AND ($4::text IS NULL OR region = $4::text)";

async fn fetch(
    store: &Store,
    context: &'static str,
    sql: &str,
    filter: &ReportFilter,
) -> Result<Vec<PgRow>, StoreError> {
    bind_filter(sqlx::query(sql), filter)
        .fetch_all(store.pool())
        .await
        .map_err(StoreError::db(context))
}

fn get<'r, T>(row: &'r PgRow, column: &str, context: &'static str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(StoreError::db(context))
}

fn time(row: &PgRow, column: &str, context: &'static str) -> Result<Option<Timestamp>, StoreError> {
    Ok(get::<Option<DbTime>>(row, column, context)?.map(|t| t.0))
}

/// One row per state: non-parent jobs and their bytes.
pub async fn summary(store: &Store, filter: &ReportFilter) -> Result<Vec<SummaryRow>, StoreError> {
    let context = "reading the summary report";
    let sql = format!(
        "SELECT state, count(*) AS jobs, coalesce(sum(backup_size_in_bytes), 0)::bigint AS bytes
         FROM copy_jobs
         WHERE is_parent IS NOT TRUE AND {FILTER}
         GROUP BY state
         ORDER BY state COLLATE \"C\" NULLS LAST"
    );
    fetch(store, context, &sql, filter)
        .await?
        .iter()
        .map(|row| {
            Ok(SummaryRow {
                state: get(row, "state", context)?,
                jobs: get(row, "jobs", context)?,
                bytes: get(row, "bytes", context)?,
            })
        })
        .collect()
}

/// The columns of [`FailureRow`], as `report_failures` names them.
const FAILURE_COLUMNS: &str = "copy_job_id, account_id, region, state, message_category,
    status_message, resource_arn, resource_name, resource_type, source_backup_vault_arn,
    destination_backup_vault_arn, creation_date, completion_date, is_parent, parent_job_id";

fn failure_row(row: &PgRow, context: &'static str) -> Result<FailureRow, StoreError> {
    Ok(FailureRow {
        copy_job_id: get(row, "copy_job_id", context)?,
        account_id: get(row, "account_id", context)?,
        region: get(row, "region", context)?,
        state: get(row, "state", context)?,
        message_category: get(row, "message_category", context)?,
        status_message: get(row, "status_message", context)?,
        resource_arn: get(row, "resource_arn", context)?,
        resource_name: get(row, "resource_name", context)?,
        resource_type: get(row, "resource_type", context)?,
        source_backup_vault_arn: get(row, "source_backup_vault_arn", context)?,
        destination_backup_vault_arn: get(row, "destination_backup_vault_arn", context)?,
        creation_date: time(row, "creation_date", context)?,
        completion_date: time(row, "completion_date", context)?,
        is_parent: get(row, "is_parent", context)?,
        parent_job_id: get(row, "parent_job_id", context)?,
    })
}

/// Every FAILED or PARTIAL job, parents included, oldest first.
pub async fn failures(store: &Store, filter: &ReportFilter) -> Result<Vec<FailureRow>, StoreError> {
    let context = "reading the failures report";
    let sql = format!(
        "SELECT {FAILURE_COLUMNS}
         FROM report_failures
         WHERE {FILTER}
         ORDER BY creation_date NULLS FIRST, account_id COLLATE \"C\", region COLLATE \"C\",
            copy_job_id COLLATE \"C\""
    );
    fetch(store, context, &sql, filter)
        .await?
        .iter()
        .map(|row| failure_row(row, context))
        .collect()
}

/// The `limit` latest FAILED or PARTIAL jobs (newest first, in the reverse
/// order of [`failures`]) and how many there are in all.
pub async fn latest_failures(
    store: &Store,
    filter: &ReportFilter,
    limit: u32,
) -> Result<(Vec<FailureRow>, i64), StoreError> {
    let context = "reading the latest failures";
    let sql = format!(
        "SELECT {FAILURE_COLUMNS}, count(*) OVER () AS total
         FROM report_failures
         WHERE {FILTER}
         ORDER BY creation_date DESC NULLS LAST, account_id COLLATE \"C\" DESC,
            region COLLATE \"C\" DESC, copy_job_id COLLATE \"C\" DESC
         LIMIT $5"
    );
    let rows = bind_filter(sqlx::query(&sql), filter)
        .bind(i64::from(limit))
        .fetch_all(store.pool())
        .await
        .map_err(StoreError::db(context))?;
    let total = match rows.first() {
        Some(row) => get(row, "total", context)?,
        None => 0,
    };
    let rows = rows
        .iter()
        .map(|row| failure_row(row, context))
        .collect::<Result<_, _>>()?;
    Ok((rows, total))
}

/// Copies per UTC day, account, region and destination vault: the
/// `report_daily` view with exact time bounds.
pub async fn daily(store: &Store, filter: &ReportFilter) -> Result<Vec<DailyRow>, StoreError> {
    let context = "reading the daily report";
    let sql = format!(
        "SELECT to_char((creation_date AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day,
            account_id, region, destination_backup_vault_arn,
            count(*) AS jobs,
            count(*) FILTER (WHERE state = 'CREATED') AS created,
            count(*) FILTER (WHERE state = 'RUNNING') AS running,
            count(*) FILTER (WHERE state = 'COMPLETED') AS completed,
            count(*) FILTER (WHERE state = 'FAILED') AS failed,
            count(*) FILTER (WHERE state = 'PARTIAL') AS partial,
            coalesce(sum(backup_size_in_bytes), 0)::bigint AS bytes,
            coalesce(sum(backup_size_in_bytes) FILTER (WHERE state = 'COMPLETED'), 0)::bigint
                AS completed_bytes,
            percentile_cont(0.5) WITHIN GROUP ({DURATION_ORDER}) FILTER ({DURATION_JOBS})
                AS median_seconds,
            percentile_cont(0.95) WITHIN GROUP ({DURATION_ORDER}) FILTER ({DURATION_JOBS})
                AS p95_seconds
         FROM copy_jobs
         WHERE is_parent IS NOT TRUE AND creation_date IS NOT NULL AND {FILTER}
         GROUP BY 1, 2, 3, 4
         ORDER BY day, account_id COLLATE \"C\", region COLLATE \"C\",
            destination_backup_vault_arn COLLATE \"C\" NULLS LAST"
    );
    fetch(store, context, &sql, filter)
        .await?
        .iter()
        .map(|row| {
            Ok(DailyRow {
                day: get(row, "day", context)?,
                account_id: get(row, "account_id", context)?,
                region: get(row, "region", context)?,
                destination_backup_vault_arn: get(row, "destination_backup_vault_arn", context)?,
                jobs: get(row, "jobs", context)?,
                created: get(row, "created", context)?,
                running: get(row, "running", context)?,
                completed: get(row, "completed", context)?,
                failed: get(row, "failed", context)?,
                partial: get(row, "partial", context)?,
                bytes: get(row, "bytes", context)?,
                completed_bytes: get(row, "completed_bytes", context)?,
                median_seconds: get(row, "median_seconds", context)?,
                p95_seconds: get(row, "p95_seconds", context)?,
            })
        })
        .collect()
}

/// The duration of a job in seconds, as the views compute it.
const DURATION: &str = "extract(epoch FROM completion_date - creation_date)::double precision";
/// `ORDER BY` the duration, for `percentile_cont`.
const DURATION_ORDER: &str =
    "ORDER BY extract(epoch FROM completion_date - creation_date)::double precision";
/// The jobs that have a duration.
const DURATION_JOBS: &str = "WHERE state = 'COMPLETED' AND completion_date IS NOT NULL";

/// Durations of COMPLETED copies per resource type.
pub async fn durations(
    store: &Store,
    filter: &ReportFilter,
) -> Result<Vec<DurationRow>, StoreError> {
    let context = "reading the durations report";
    let sql = format!(
        "SELECT resource_type,
            count(*) AS copies,
            min({DURATION}) AS min_seconds,
            percentile_cont(0.5) WITHIN GROUP ({DURATION_ORDER}) AS median_seconds,
            percentile_cont(0.95) WITHIN GROUP ({DURATION_ORDER}) AS p95_seconds,
            max({DURATION}) AS max_seconds,
            avg({DURATION}) AS mean_seconds,
            coalesce(sum(backup_size_in_bytes), 0)::bigint AS bytes
         FROM copy_jobs
         WHERE is_parent IS NOT TRUE AND state = 'COMPLETED'
           AND creation_date IS NOT NULL AND completion_date IS NOT NULL AND {FILTER}
         GROUP BY resource_type
         ORDER BY resource_type COLLATE \"C\" NULLS LAST"
    );
    fetch(store, context, &sql, filter)
        .await?
        .iter()
        .map(|row| {
            Ok(DurationRow {
                resource_type: get(row, "resource_type", context)?,
                copies: get(row, "copies", context)?,
                min_seconds: get(row, "min_seconds", context)?,
                median_seconds: get(row, "median_seconds", context)?,
                p95_seconds: get(row, "p95_seconds", context)?,
                max_seconds: get(row, "max_seconds", context)?,
                mean_seconds: get(row, "mean_seconds", context)?,
                bytes: get(row, "bytes", context)?,
            })
        })
        .collect()
}

/// Copies per destination vault.
pub async fn vaults(store: &Store, filter: &ReportFilter) -> Result<Vec<VaultRow>, StoreError> {
    let context = "reading the vaults report";
    // arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME
    let sql = format!(
        "SELECT destination_backup_vault_arn,
            nullif(split_part(destination_backup_vault_arn, ':', 5), '') AS destination_account_id,
            nullif(split_part(destination_backup_vault_arn, ':', 4), '') AS destination_region,
            count(*) AS jobs,
            count(*) FILTER (WHERE state = 'COMPLETED') AS completed,
            count(*) FILTER (WHERE state = 'FAILED') AS failed,
            count(*) FILTER (WHERE state = 'PARTIAL') AS partial,
            count(DISTINCT resource_arn) AS resources,
            coalesce(sum(backup_size_in_bytes), 0)::bigint AS bytes,
            coalesce(sum(backup_size_in_bytes) FILTER (WHERE state = 'COMPLETED'), 0)::bigint
                AS completed_bytes,
            max(coalesce(completion_date, creation_date)) FILTER (WHERE state = 'COMPLETED')
                AS last_completed_at
         FROM copy_jobs
         WHERE is_parent IS NOT TRUE AND {FILTER}
         GROUP BY destination_backup_vault_arn
         ORDER BY destination_backup_vault_arn COLLATE \"C\" NULLS LAST"
    );
    fetch(store, context, &sql, filter)
        .await?
        .iter()
        .map(|row| {
            Ok(VaultRow {
                destination_backup_vault_arn: get(row, "destination_backup_vault_arn", context)?,
                destination_account_id: get(row, "destination_account_id", context)?,
                destination_region: get(row, "destination_region", context)?,
                jobs: get(row, "jobs", context)?,
                completed: get(row, "completed", context)?,
                failed: get(row, "failed", context)?,
                partial: get(row, "partial", context)?,
                resources: get(row, "resources", context)?,
                bytes: get(row, "bytes", context)?,
                completed_bytes: get(row, "completed_bytes", context)?,
                last_completed_at: time(row, "last_completed_at", context)?,
            })
        })
        .collect()
}

/// Resources whose last COMPLETED copy ended before `cutoff`, or that never
/// had one: the `report_last_successful_copy` view. `since` and `until` do
/// not apply (every job counts); account and region do.
pub async fn stale(
    store: &Store,
    filter: &ReportFilter,
    cutoff: Timestamp,
) -> Result<Vec<StaleRow>, StoreError> {
    let context = "reading the stale report";
    let rows = sqlx::query(
        "SELECT account_id, region, resource_arn, resource_type, resource_name,
            last_completed_at, last_completed_copy_job_id, last_attempt_at, last_attempt_state,
            copies, failed_copies
         FROM report_last_successful_copy
         WHERE (last_completed_at IS NULL OR last_completed_at < $1)
           AND ($2::text IS NULL OR account_id = $2::text)
           AND ($3::text IS NULL OR region = $3::text)
         ORDER BY last_completed_at NULLS FIRST, account_id COLLATE \"C\", region COLLATE \"C\",
            resource_arn COLLATE \"C\"",
    )
    .bind(DbTime(cutoff))
    .bind(filter.account_id.as_deref())
    .bind(filter.region.as_deref())
    .fetch_all(store.pool())
    .await
    .map_err(StoreError::db(context))?;
    rows.iter()
        .map(|row| {
            Ok(StaleRow {
                account_id: get(row, "account_id", context)?,
                region: get(row, "region", context)?,
                resource_arn: get(row, "resource_arn", context)?,
                resource_type: get(row, "resource_type", context)?,
                resource_name: get(row, "resource_name", context)?,
                last_completed_at: time(row, "last_completed_at", context)?,
                last_completed_copy_job_id: get(row, "last_completed_copy_job_id", context)?,
                last_attempt_at: time(row, "last_attempt_at", context)?,
                last_attempt_state: get(row, "last_attempt_state", context)?,
                copies: get(row, "copies", context)?,
                failed_copies: get(row, "failed_copies", context)?,
            })
        })
        .collect()
}

/// The durations of COMPLETED non-parent copies in `bins` equal bars from 0
/// to the longest. Empty when there is none.
pub async fn duration_histogram(
    store: &Store,
    filter: &ReportFilter,
    bins: u32,
) -> Result<Vec<HistogramBin>, StoreError> {
    let context = "reading the duration histogram";
    let bins = bins.max(1);
    let jobs = format!(
        "SELECT {DURATION} AS d FROM copy_jobs
         WHERE is_parent IS NOT TRUE AND state = 'COMPLETED'
           AND creation_date IS NOT NULL AND completion_date IS NOT NULL AND {FILTER}"
    );
    let max_sql = format!("SELECT max(d) FROM ({jobs}) j");
    let max: Option<f64> = bind_filter(sqlx::query(&max_sql), filter)
        .fetch_one(store.pool())
        .await
        .map_err(StoreError::db(context))?
        .try_get(0)
        .map_err(StoreError::db(context))?;
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
    let rows = bind_filter(sqlx::query(&sql), filter)
        .bind(upper)
        .bind(bins as i32)
        .fetch_all(store.pool())
        .await
        .map_err(StoreError::db(context))?;
    let mut out: Vec<HistogramBin> = (0..bins)
        .map(|i| HistogramBin {
            lower_seconds: width * f64::from(i),
            upper_seconds: width * f64::from(i + 1),
            copies: 0,
        })
        .collect();
    for row in &rows {
        let bin: i32 = get(row, "bin", context)?;
        let copies: i64 = get(row, "copies", context)?;
        if let Some(slot) = usize::try_from(bin - 1).ok().and_then(|i| out.get_mut(i)) {
            slot.copies += copies;
        }
    }
    Ok(out)
}

/// The resources with the most FAILED or PARTIAL jobs (parents included),
/// most first; the label is the resource name when there is one, else its ARN.
pub async fn top_failing_resources(
    store: &Store,
    filter: &ReportFilter,
    limit: u32,
) -> Result<Vec<CountRow>, StoreError> {
    top_failures(
        store,
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
    store: &Store,
    filter: &ReportFilter,
    limit: u32,
) -> Result<Vec<CountRow>, StoreError> {
    top_failures(
        store,
        filter,
        limit,
        "coalesce(status_message, message_category, '(no message)')",
        "reading the top failure messages",
    )
    .await
}

async fn top_failures(
    store: &Store,
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
    let rows = bind_filter(sqlx::query(&sql), filter)
        .bind(i64::from(limit))
        .fetch_all(store.pool())
        .await
        .map_err(StoreError::db(context))?;
    rows.iter()
        .map(|row| {
            Ok(CountRow {
                label: get(row, "label", context)?,
                failures: get(row, "failures", context)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns_match<R: ReportRow>(row: &R) {
        assert_eq!(row.cells().len(), R::COLUMNS.len());
        for name in R::COLUMNS {
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name} is not snake_case"
            );
        }
    }

    #[test]
    fn every_row_has_one_cell_per_column() {
        columns_match(&SummaryRow {
            state: None,
            jobs: 0,
            bytes: 0,
        });
        columns_match(&FailureRow {
            copy_job_id: String::new(),
            account_id: String::new(),
            region: String::new(),
            state: String::new(),
            message_category: None,
            status_message: None,
            resource_arn: None,
            resource_name: None,
            resource_type: None,
            source_backup_vault_arn: None,
            destination_backup_vault_arn: None,
            creation_date: None,
            completion_date: None,
            is_parent: false,
            parent_job_id: None,
        });
        columns_match(&DailyRow {
            day: String::new(),
            account_id: String::new(),
            region: String::new(),
            destination_backup_vault_arn: None,
            jobs: 0,
            created: 0,
            running: 0,
            completed: 0,
            failed: 0,
            partial: 0,
            bytes: 0,
            completed_bytes: 0,
            median_seconds: None,
            p95_seconds: None,
        });
        columns_match(&DurationRow {
            resource_type: None,
            copies: 0,
            min_seconds: 0.0,
            median_seconds: 0.0,
            p95_seconds: 0.0,
            max_seconds: 0.0,
            mean_seconds: 0.0,
            bytes: 0,
        });
        columns_match(&VaultRow {
            destination_backup_vault_arn: None,
            destination_account_id: None,
            destination_region: None,
            jobs: 0,
            completed: 0,
            failed: 0,
            partial: 0,
            resources: 0,
            bytes: 0,
            completed_bytes: 0,
            last_completed_at: None,
        });
        columns_match(&StaleRow {
            account_id: String::new(),
            region: String::new(),
            resource_arn: String::new(),
            resource_type: None,
            resource_name: None,
            last_completed_at: None,
            last_completed_copy_job_id: None,
            last_attempt_at: None,
            last_attempt_state: None,
            copies: 0,
            failed_copies: 0,
        });
    }
}
