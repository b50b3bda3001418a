//! `backup-audit verify`: compares what AWS lists now with the database, job
//! by job, and prints every difference. Writes nothing.

use anyhow::{bail, Context};
use backup_ingest::verify::{verify_target, Difference, TargetVerification, VerifyError};
use backup_model::Timestamp;
use clap::{Args, ValueEnum};
use futures::StreamExt;
use std::io::Write;

use crate::args::{parse_time, AwsArgs, DbArgs};
use crate::Outcome;

/// How differences are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON array of differences (kind, account_id, region, copy_job_id,
    /// database_state, aws_state, members).
    Json,
}

#[derive(Debug, Args)]
#[command(
    after_help = "For each target (account x region), lists every copy job AWS shows now \
(or those created after --since) and compares each, member by member, with the job's current \
row in the database. Prints every difference with the job id, account and region:\n\n  \
missing_in_database              AWS lists it, the database has no row\n  \
different                        both have it, with different content (members named)\n  \
open_in_database_finished_in_aws the database holds it CREATED/RUNNING, AWS shows it finished\n  \
open_in_database_gone_from_aws   the database holds it open, AWS no longer lists it\n  \
gone_in_database_listed_in_aws   the database marked it gone, AWS lists it\n  \
hash_mismatch                    the row does not match its own content hash (edited outside \
backup-audit)\n\n\
Finished jobs AWS no longer shows are not differences: keeping them is what the database is \
for. A job that changed after the last ingest is different until the next ingest; run verify \
right after an ingest. verify only reads: the read-only report role is enough.\n\n\
Exit codes: 0 no difference, 1 differences (printed on stdout), 2 could not run (or could not \
list some target: named on stderr)."
)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub db: DbArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    /// Compare only the jobs created after this time (RFC 3339 or an age: 30d, 12h).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub since: Option<Timestamp>,

    /// How differences are printed on stdout.
    #[arg(long = "format", visible_alias = "output", value_enum, default_value_t = VerifyFormat::Table)]
    pub format: VerifyFormat,

    /// ListCopyJobs page size.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub max_results: i32,
}

pub async fn run(args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let store = crate::ingest::connect(&args.db).await?;
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
    let (fetcher, targets) = args.aws.fetcher_and_targets().await?;
    let store = &store;
    let fetcher = &fetcher;
    let results: Vec<(String, Result<TargetVerification, VerifyError>)> =
        futures::stream::iter(&targets)
            .map(|target| async move {
                let mut name = target.to_string();
                let result = async {
                    let client = fetcher.client(target).await?;
                    name = client.target().to_string();
                    verify_target(store, &client, args.since, args.max_results).await
                }
                .await;
                (name, result)
            })
            .buffer_unordered(usize::from(args.aws.concurrency))
            .collect()
            .await;

    let mut differences: Vec<&Difference> = Vec::new();
    let mut failed = Vec::new();
    let (mut listed, mut checked) = (0u64, 0u64);
    for (target, result) in &results {
        match result {
            Ok(v) => {
                listed += v.jobs_listed;
                checked += v.rows_checked;
                differences.extend(&v.differences);
            }
            Err(e) => {
                eprintln!("cannot verify {target}: {e}");
                failed.push(target.as_str());
            }
        }
    }
    differences.sort_by(|a, b| {
        (&a.account_id, &a.region, &a.copy_job_id, a.kind).cmp(&(
            &b.account_id,
            &b.region,
            &b.copy_job_id,
            b.kind,
        ))
    });
    let mut out = std::io::stdout().lock();
    match args.format {
        VerifyFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &differences)?;
            writeln!(out)?;
        }
        VerifyFormat::Table if !differences.is_empty() => write_table(&mut out, &differences)?,
        VerifyFormat::Table => {}
    }
    out.flush()?;
    eprintln!(
        "verify: {} target(s), {} verified, {} failed; {listed} jobs listed in AWS, {checked} rows \
         checked; {} difference(s)",
        targets.len(),
        targets.len() - failed.len(),
        failed.len(),
        differences.len()
    );
    if !failed.is_empty() {
        bail!(
            "could not verify {} target(s): {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(Outcome::from_failures(differences.len() as u64))
}

/// Differences as aligned columns.
fn write_table(out: &mut impl Write, differences: &[&Difference]) -> std::io::Result<()> {
    let header = [
        "KIND",
        "ACCOUNT",
        "REGION",
        "COPY JOB ID",
        "DATABASE",
        "AWS",
        "MEMBERS",
    ];
    let rows: Vec<[String; 7]> = differences
        .iter()
        .map(|d| {
            [
                d.kind.to_string(),
                d.account_id.clone(),
                d.region.clone(),
                d.copy_job_id.clone(),
                d.database_state.clone().unwrap_or_else(|| "-".into()),
                d.aws_state.clone().unwrap_or_else(|| "-".into()),
                d.members.join(","),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[&str]| -> std::io::Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &header)?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(out, &cells)?;
    }
    Ok(())
}
