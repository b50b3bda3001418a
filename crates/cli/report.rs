//! `backup-audit report`: reads the flags and hands the rows to the
//! `backup-report` crate, which runs the queries and renders every format.

use std::fs;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use backup_ingest::Store;
use backup_model::Timestamp;
use backup_report::html::{self, PageData};
use backup_report::{query, Columns, Format, ReportFilter, Row, TableOptions};
use clap::{Args, ValueEnum};

use crate::args::{parse_duration, parse_time, DbArgs};
use crate::Outcome;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportName {
    /// One row per state: state, jobs, bytes.
    Summary,
    /// One row per FAILED or PARTIAL job (composite parents included), with
    /// its message, resource and vaults.
    Failures,
    /// Per UTC day, account, region and destination vault: counts by state,
    /// bytes, median and 95th-percentile duration.
    Daily,
    /// Per resource type: how long completed copies took.
    Durations,
    /// Per destination vault: counts by state, resources, bytes, last
    /// completed copy.
    Vaults,
    /// Per source account, most failures first: counts by state, failure
    /// rate, bytes, last completed copy.
    Accounts,
    /// Resources whose last completed copy is older than --older-than (or that
    /// never had one).
    Stale,
    /// Per target (account, region): through when its record is complete,
    /// and how its last ingest run went; stale ones (--stale-after) first.
    Coverage,
    /// Jobs AWS no longer returns (aged out or removed), kept with the
    /// instant they were found gone; never deleted from the record.
    Gone,
    /// A self-contained HTML page of charts and tables (needs --out).
    Html,
}

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns for people, fitted to the terminal's width (or
    /// COLUMNS, or 100): the main columns, sizes and durations made readable.
    Table,
    /// Comma-separated values with a header row, every column.
    Csv,
    /// One JSON array of objects with snake_case keys, every column.
    Json,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Counts, bytes and durations are of non-parent jobs (standalone jobs \
and the children of composite jobs), so that a composite copy is not counted twice; `failures` \
lists parents too, since PARTIAL is a parent's state. A duration is CompletionDate - \
CreationDate of a COMPLETED job, in seconds. --since and --until select jobs by CreationDate \
(since <= created < until); days are UTC.\n\n\
The default format is `table` when stdout is a terminal (or --columns or --wide is given) and \
`json` otherwise. A table fits the terminal's width (else COLUMNS, else 100 characters), shows \
the main columns (--wide: all, --columns: those named) and shortens long values in the middle. \
CSV and JSON carry every column with raw values (bytes, seconds, RFC 3339 times). Byte sums are \
exact integers and may exceed 2^63: read them as big integers or decimals. A CSV text cell \
starting with = + - @ or a tab is written with a leading ' so that spreadsheets do not run it. \
An empty database gives an empty report.\n\n\
`report html --out report.html` writes one page (coverage and freshness, copies per day by \
state, bytes per day, failure rate, duration distribution, top failing resources and messages, \
failures by account and by vault) that needs no network: no scripts, fonts or images are \
loaded from anywhere.\n\n\
Exit codes: 0 done, 2 could not run (no database, schema not migrated)."
)]
pub struct ReportArgs {
    /// The report to print.
    #[arg(value_enum)]
    pub name: ReportName,

    #[command(flatten)]
    pub db: DbArgs,

    /// Only jobs created at or after this time (RFC 3339 or an age: 30d, 12h).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub since: Option<Timestamp>,

    /// Only jobs created before this time (RFC 3339 or an age).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub until: Option<Timestamp>,

    /// Only jobs of this account.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,

    /// Only jobs of this region.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Output format (default: table on a terminal, json otherwise).
    #[arg(long = "format", visible_alias = "output", value_enum)]
    pub format: Option<ReportFormat>,

    /// For tables: the columns to show, by their CSV/JSON names
    /// (comma-separated), e.g. copy_job_id,state,status_message.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        conflicts_with = "wide"
    )]
    pub columns: Vec<String>,

    /// For tables: every column, not only the main ones.
    #[arg(long)]
    pub wide: bool,

    /// For `stale` (and the page's stale list): how old the last completed
    /// copy may be.
    #[arg(long, value_parser = parse_duration, default_value = "7d", value_name = "AGE")]
    pub older_than: Duration,

    /// For `coverage` (and the page's coverage section): a target whose
    /// record is not complete through this long ago is stale.
    #[arg(long, value_parser = parse_duration, default_value = "24h", value_name = "AGE")]
    pub stale_after: Duration,

    /// For `html`: the file to write (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl ReportArgs {
    /// The format the flags ask for, or the default.
    fn format(&self) -> anyhow::Result<Format> {
        let for_table = self.wide || !self.columns.is_empty();
        let chosen = self
            .format
            .unwrap_or(if for_table || io::stdout().is_terminal() {
                ReportFormat::Table
            } else {
                ReportFormat::Json
            });
        if for_table && chosen != ReportFormat::Table {
            bail!("--columns and --wide are for tables; CSV and JSON carry every column");
        }
        Ok(match chosen {
            ReportFormat::Csv => Format::Csv,
            ReportFormat::Json => Format::Json,
            ReportFormat::Table => Format::Table(TableOptions {
                columns: if self.wide {
                    Columns::All
                } else if self.columns.is_empty() {
                    Columns::Default
                } else {
                    Columns::Named(self.columns.clone())
                },
                width: None,
            }),
        })
    }
}

/// `now - age`, in milliseconds.
fn before(now: Timestamp, age: Duration) -> Timestamp {
    now.add_millis(-i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
}

pub async fn run(args: &ReportArgs) -> anyhow::Result<Outcome> {
    if args.name != ReportName::Html && args.out.is_some() {
        bail!("--out is for `report html`; other reports print to stdout");
    }
    if args.name == ReportName::Html
        && (args.format.is_some() || args.wide || !args.columns.is_empty())
    {
        bail!("--format, --columns and --wide do not apply to `report html`");
    }
    if matches!(args.name, ReportName::Stale | ReportName::Coverage)
        && (args.since.is_some() || args.until.is_some())
    {
        bail!(
            "`stale` and `coverage` look at every copy ever recorded; use --older-than or \
             --stale-after instead of --since/--until"
        );
    }
    if let (Some(since), Some(until)) = (args.since, args.until) {
        if since >= until {
            bail!("--since ({since}) must be before --until ({until})");
        }
    }
    let out_path = match (args.name, &args.out) {
        (ReportName::Html, None) => bail!("`report html` needs --out FILE (or --out - for stdout)"),
        (ReportName::Html, Some(path)) => Some(path.clone()),
        _ => None,
    };
    let format = args.format()?;

    let store = crate::ingest::connect(&args.db).await?;
    store
        .ensure_migrated()
        .await
        .context("cannot report on this database")?;
    let pool = store.pool();
    let filter = ReportFilter {
        since: args.since,
        until: args.until,
        account_id: args.account.clone(),
        region: args.region.clone(),
    };
    let now = Timestamp::now();

    let mut out = BufWriter::new(io::stdout().lock());
    let written = match args.name {
        ReportName::Summary => print(&mut out, &format, &query::summary(pool, &filter).await?),
        ReportName::Failures => print(&mut out, &format, &query::failures(pool, &filter).await?),
        ReportName::Daily => print(&mut out, &format, &query::daily(pool, &filter).await?),
        ReportName::Durations => print(&mut out, &format, &query::durations(pool, &filter).await?),
        ReportName::Vaults => print(&mut out, &format, &query::vaults(pool, &filter).await?),
        ReportName::Accounts => print(&mut out, &format, &query::accounts(pool, &filter).await?),
        ReportName::Gone => print(&mut out, &format, &query::gone(pool, &filter).await?),
        ReportName::Stale => {
            let cutoff = before(now, args.older_than);
            print(
                &mut out,
                &format,
                &query::stale(pool, &filter, cutoff).await?,
            )
        }
        ReportName::Coverage => {
            let fresh_after = before(now, args.stale_after);
            let rows = query::coverage(pool, &filter, fresh_after)
                .await
                .context("cannot read the coverage ledger")?;
            print(&mut out, &format, &rows)
        }
        ReportName::Html => {
            let page = html_page(&store, &filter, args.older_than, args.stale_after, now).await?;
            match out_path.as_deref() {
                Some(path) if path.as_os_str() != "-" => {
                    fs::write(path, page)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                    Ok(())
                }
                _ => out.write_all(page.as_bytes()).map_err(Into::into),
            }
        }
    };
    match written.and_then(|()| out.flush().map_err(Into::into)) {
        Err(e) if is_broken_pipe(&e) => Ok(Outcome::Done),
        Err(e) => Err(e.context("cannot write the report")),
        Ok(()) => Ok(Outcome::Done),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// Prints rows; a bad `--columns` name is a usage error that lists the
/// columns there are.
fn print<R: Row>(out: &mut impl Write, format: &Format, rows: &[R]) -> anyhow::Result<()> {
    if let Format::Table(options) = format {
        backup_report::table::select_columns::<R>(&options.columns).map_err(anyhow::Error::msg)?;
    }
    Ok(backup_report::print(out, format, rows)?)
}

/// Gathers what the page shows and renders it.
async fn html_page(
    store: &Store,
    filter: &ReportFilter,
    older_than: Duration,
    stale_after: Duration,
    now: Timestamp,
) -> anyhow::Result<String> {
    let pool = store.pool();
    let (failures, failures_total) =
        query::latest_failures(pool, filter, html::TABLE_ROWS as u32).await?;
    // A database migrated before the coverage ledger existed has no view:
    // the page says so instead of failing.
    let coverage = match query::coverage(pool, filter, before(now, stale_after)).await {
        Ok(rows) => Some(rows),
        Err(e) if e.sqlstate().as_deref() == Some("42P01") => None,
        Err(e) => return Err(e.into()),
    };
    let data = PageData {
        generated_at: now,
        filter: filter.clone(),
        older_than: html::describe_age(older_than),
        stale_after: html::describe_age(stale_after),
        summary: query::summary(pool, filter).await?,
        daily: query::daily(pool, filter).await?,
        durations: query::duration_histogram(pool, filter, 24).await?,
        top_resources: query::top_failing_resources(pool, filter, 10).await?,
        top_messages: query::top_failure_messages(pool, filter, 10).await?,
        vaults: query::vaults(pool, filter).await?,
        accounts: query::accounts(pool, filter).await?,
        coverage,
        failures,
        failures_total,
        stale: query::stale(pool, filter, before(now, older_than)).await?,
    };
    Ok(html::render(&data)?)
}

/// What `demo` shows: the summary and failures reports as tables on stdout
/// (failures cut to the latest few), and the HTML page written to `out`.
pub async fn demo_reports(store: &Store, out: &std::path::Path) -> anyhow::Result<()> {
    const FAILURES_SHOWN: u32 = 15;
    let filter = ReportFilter::default();
    let table = Format::Table(TableOptions::default());
    let mut stdout = BufWriter::new(io::stdout().lock());
    writeln!(stdout, "\nsummary: copy jobs by state")?;
    print(
        &mut stdout,
        &table,
        &query::summary(store.pool(), &filter).await?,
    )?;
    let (failures, total) = query::latest_failures(store.pool(), &filter, FAILURES_SHOWN).await?;
    writeln!(
        stdout,
        "\nfailures: the latest {} of {total} FAILED or PARTIAL jobs (all: backup-audit report failures)",
        failures.len()
    )?;
    print(&mut stdout, &table, &failures)?;
    stdout.flush()?;
    let page = html_page(
        store,
        &filter,
        Duration::from_secs(7 * 86_400),
        Duration::from_secs(86_400),
        Timestamp::now(),
    )
    .await?;
    fs::write(out, page).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}
