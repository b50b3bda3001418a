//! `backup-audit report`: the auditor's questions in one command, as a table,
//! CSV, JSON, or a self-contained HTML page of charts.

use std::fs;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use backup_ingest::report::{self, Cell, ReportFilter, ReportRow};
use backup_ingest::Store;
use backup_model::Timestamp;
use clap::{Args, ValueEnum};

use crate::args::{parse_duration, parse_time, DbArgs};
use crate::output::human_bytes;
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
    /// Resources whose last completed copy is older than --older-than (or that
    /// never had one).
    Stale,
    /// A self-contained HTML page of charts (needs --out).
    Html,
}

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns for people (sizes and durations made readable).
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON array of objects with snake_case keys.
    Json,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Counts, bytes and durations are of non-parent jobs (standalone jobs \
and the children of composite jobs), so that a composite copy is not counted twice; `failures` \
lists parents too, since PARTIAL is a parent's state. A duration is CompletionDate - \
CreationDate of a COMPLETED job, in seconds. --since and --until select jobs by CreationDate \
(since <= created < until); days are UTC.\n\n\
The default format is `table` when stdout is a terminal and `json` otherwise. CSV and JSON carry \
every column with raw values (bytes, seconds, RFC 3339 times); the table shortens long values. \
An empty database gives an empty report.\n\n\
`report html --out report.html` writes one page with charts (copies per day by state, bytes \
per day, failure rate, duration distribution, top failing resources and messages) that needs \
no network: no scripts, fonts or images are loaded from anywhere.\n\n\
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
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,

    /// For `stale` (and the page's stale list): how old the last completed
    /// copy may be.
    #[arg(long, value_parser = parse_duration, default_value = "7d", value_name = "AGE")]
    pub older_than: Duration,

    /// For `html`: the file to write (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(args: &ReportArgs) -> anyhow::Result<Outcome> {
    if args.name != ReportName::Html && args.out.is_some() {
        bail!("--out is for `report html`; other reports print to stdout");
    }
    if args.name == ReportName::Html && args.format.is_some() {
        bail!("--format does not apply to `report html`");
    }
    if args.name == ReportName::Stale && (args.since.is_some() || args.until.is_some()) {
        bail!("`stale` looks at every copy ever recorded; use --older-than instead of --since/--until");
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

    let store = crate::ingest::connect(&args.db).await?;
    store
        .ensure_migrated()
        .await
        .context("cannot report on this database")?;
    let filter = ReportFilter {
        since: args.since,
        until: args.until,
        account_id: args.account.clone(),
        region: args.region.clone(),
    };
    let older_than = i64::try_from(args.older_than.as_millis()).unwrap_or(i64::MAX);
    let now = Timestamp::now();
    let cutoff = now.add_millis(-older_than);
    let format = args.format.unwrap_or(if io::stdout().is_terminal() {
        ReportFormat::Table
    } else {
        ReportFormat::Json
    });

    let mut out = BufWriter::new(io::stdout().lock());
    let written = match args.name {
        ReportName::Summary => print(&mut out, format, &report::summary(&store, &filter).await?),
        ReportName::Failures => print(&mut out, format, &report::failures(&store, &filter).await?),
        ReportName::Daily => print(&mut out, format, &report::daily(&store, &filter).await?),
        ReportName::Durations => {
            print(&mut out, format, &report::durations(&store, &filter).await?)
        }
        ReportName::Vaults => print(&mut out, format, &report::vaults(&store, &filter).await?),
        ReportName::Stale => print(
            &mut out,
            format,
            &report::stale(&store, &filter, cutoff).await?,
        ),
        ReportName::Html => {
            let page = html_page(&store, &filter, args.older_than, now, cutoff).await?;
            match out_path.as_deref() {
                Some(path) if path.as_os_str() != "-" => {
                    fs::write(path, page)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                    Ok(())
                }
                _ => out.write_all(page.as_bytes()),
            }
        }
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write the report")
        }
        _ => Ok(Outcome::Done),
    }
}

/// Gathers what the page shows and renders it.
async fn html_page(
    store: &Store,
    filter: &ReportFilter,
    older_than: Duration,
    now: Timestamp,
    cutoff: Timestamp,
) -> anyhow::Result<String> {
    let (failures, failures_total) =
        report::latest_failures(store, filter, crate::html::TABLE_ROWS as u32).await?;
    let data = crate::html::PageData {
        generated_at: now,
        filter: filter.clone(),
        older_than: crate::html::describe_age(older_than),
        summary: report::summary(store, filter).await?,
        daily: report::daily(store, filter).await?,
        durations: report::duration_histogram(store, filter, 24).await?,
        top_resources: report::top_failing_resources(store, filter, 10).await?,
        top_messages: report::top_failure_messages(store, filter, 10).await?,
        vaults: report::vaults(store, filter).await?,
        failures,
        failures_total,
        stale: report::stale(store, filter, cutoff).await?,
    };
    crate::html::render(&data)
}

/// What `demo` shows: the summary and failures reports as tables on stdout
/// (failures cut to the latest few), and the HTML page written to `out`.
pub async fn demo_reports(store: &Store, out: &std::path::Path) -> anyhow::Result<()> {
    const FAILURES_SHOWN: u32 = 15;
    let filter = ReportFilter::default();
    let now = Timestamp::now();
    let older_than = Duration::from_secs(7 * 86_400);
    let mut stdout = BufWriter::new(io::stdout().lock());
    writeln!(stdout, "\nsummary: copy jobs by state")?;
    print(
        &mut stdout,
        ReportFormat::Table,
        &report::summary(store, &filter).await?,
    )?;
    let (failures, total) = report::latest_failures(store, &filter, FAILURES_SHOWN).await?;
    writeln!(
        stdout,
        "\nfailures: the latest {} of {total} FAILED or PARTIAL jobs (all: backup-audit report failures)",
        failures.len()
    )?;
    print(&mut stdout, ReportFormat::Table, &failures)?;
    stdout.flush()?;
    let page = html_page(
        store,
        &filter,
        older_than,
        now,
        now.add_millis(-(older_than.as_millis() as i64)),
    )
    .await?;
    fs::write(out, page).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

/// Prints rows in `format`.
pub fn print<R: ReportRow>(
    out: &mut impl Write,
    format: ReportFormat,
    rows: &[R],
) -> io::Result<()> {
    match format {
        ReportFormat::Json => write_json(out, rows),
        ReportFormat::Csv => write_csv(out, rows),
        ReportFormat::Table => write_table(out, rows),
    }
}

/// A cell as JSON.
fn json_value(cell: &Cell) -> String {
    match cell {
        Cell::Null => "null".to_owned(),
        Cell::Text(s) => serde_json::Value::from(s.as_str()).to_string(),
        Cell::Int(n) => n.to_string(),
        Cell::Float(f) if f.is_finite() => serde_json::Value::from(*f).to_string(),
        Cell::Float(_) => "null".to_owned(),
        Cell::Bool(b) => b.to_string(),
        Cell::Time(t) => format!("\"{t}\""),
    }
}

/// A cell as a CSV field: the JSON value's text (numbers written the same
/// way), strings unquoted, null empty.
fn csv_field(cell: &Cell) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Text(s) => s.clone(),
        Cell::Time(t) => t.to_string(),
        other => json_value(other),
    }
}

/// `[` one object per line `]`, keys in column order.
fn write_json<R: ReportRow>(out: &mut impl Write, rows: &[R]) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "[]");
    }
    writeln!(out, "[")?;
    for (i, row) in rows.iter().enumerate() {
        let members: Vec<String> = R::COLUMNS
            .iter()
            .zip(row.cells())
            .map(|(name, cell)| format!("\"{name}\":{}", json_value(&cell)))
            .collect();
        let comma = if i + 1 < rows.len() { "," } else { "" };
        writeln!(out, "{{{}}}{comma}", members.join(","))?;
    }
    writeln!(out, "]")
}

fn write_csv<R: ReportRow>(out: &mut impl Write, rows: &[R]) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(R::COLUMNS)?;
    for row in rows {
        writer.write_record(row.cells().iter().map(csv_field))?;
    }
    writer.flush()
}

/// The longest value a table cell shows; the rest becomes `…`.
const TABLE_CELL_MAX: usize = 64;

/// A cell for people: sizes in binary units, durations in h/m/s.
fn table_field(column: &str, cell: &Cell) -> String {
    match cell {
        Cell::Null => "-".to_owned(),
        Cell::Int(n) if column == "bytes" || column.ends_with("_bytes") => human_bytes(*n),
        Cell::Float(f) if column.ends_with("_seconds") => human_seconds(*f),
        Cell::Float(f) => format!("{f:.2}"),
        Cell::Text(s) => shorten(s, TABLE_CELL_MAX),
        other => csv_field(other),
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    // Keep both ends: an ARN's account and its name are what tell rows apart.
    let head: String = text.chars().take(max / 2 - 1).collect();
    let tail: Vec<char> = text.chars().rev().take(max - max / 2).collect();
    let tail: String = tail.into_iter().rev().collect();
    format!("{head}…{tail}")
}

/// `42.5s`, `12m 05s`, `3h 20m`.
pub fn human_seconds(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "-".to_owned();
    }
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let whole = seconds.round() as i64;
    let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else {
        format!("{m}m {s:02}s")
    }
}

fn write_table<R: ReportRow>(out: &mut impl Write, rows: &[R]) -> io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            R::COLUMNS
                .iter()
                .zip(row.cells())
                .map(|(column, cell)| table_field(column, &cell))
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = match rows.first() {
        Some(row) => row
            .cells()
            .iter()
            .map(|c| matches!(c, Cell::Int(_) | Cell::Float(_)))
            .collect(),
        None => vec![false; R::COLUMNS.len()],
    };
    let headers: Vec<String> = R::COLUMNS.iter().map(|c| c.to_ascii_uppercase()).collect();
    let widths: Vec<usize> = (0..R::COLUMNS.len())
        .map(|i| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |out: &mut dyn Write, values: &[String]| -> io::Result<()> {
        let mut text = String::new();
        for (i, value) in values.iter().enumerate() {
            let pad = widths[i].saturating_sub(value.chars().count());
            if i > 0 {
                text.push_str("  ");
            }
            if numeric[i] {
                text.extend(std::iter::repeat_n(' ', pad));
                text.push_str(value);
            } else {
                text.push_str(value);
                if i + 1 < values.len() {
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &headers)?;
    for row in &cells {
        line(out, row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use backup_ingest::report::SummaryRow;

    fn rows() -> Vec<SummaryRow> {
        vec![
            SummaryRow {
                state: Some("COMPLETED".into()),
                jobs: 3,
                bytes: 3 * 1024 * 1024,
            },
            SummaryRow {
                state: None,
                jobs: 1,
                bytes: 0,
            },
        ]
    }

    fn printed(format: ReportFormat, rows: &[SummaryRow]) -> String {
        let mut out = Vec::new();
        print(&mut out, format, rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_print_the_same_values() {
        assert_eq!(
            printed(ReportFormat::Json, &rows()),
            "[\n{\"state\":\"COMPLETED\",\"jobs\":3,\"bytes\":3145728},\n{\"state\":null,\"jobs\":1,\"bytes\":0}\n]\n"
        );
        assert_eq!(
            printed(ReportFormat::Csv, &rows()),
            "state,jobs,bytes\nCOMPLETED,3,3145728\n,1,0\n"
        );
        assert_eq!(
            printed(ReportFormat::Table, &rows()),
            "STATE      JOBS    BYTES\nCOMPLETED     3  3.0 MiB\n-             1      0 B\n"
        );
    }

    #[test]
    fn empty_reports_are_empty_not_errors() {
        assert_eq!(printed(ReportFormat::Json, &[]), "[]\n");
        assert_eq!(printed(ReportFormat::Csv, &[]), "state,jobs,bytes\n");
        assert_eq!(printed(ReportFormat::Table, &[]), "STATE  JOBS  BYTES\n");
    }

    #[test]
    fn people_read_durations_and_long_values() {
        assert_eq!(human_seconds(42.25), "42.2s");
        assert_eq!(human_seconds(725.0), "12m 05s");
        assert_eq!(human_seconds(12_000.0), "3h 20m");
        let arn = "arn:aws:backup:eu-central-1:999999999999:backup-vault:a-very-long-vault-name-for-disaster-recovery";
        let short = shorten(arn, 32);
        assert_eq!(short.chars().count(), 32);
        assert!(short.starts_with("arn:aws:backup:") && short.ends_with("isaster-recovery"));
    }
}
