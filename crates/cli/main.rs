//! The `backup-audit` command line.
//!
//! This is the binary, not a library: each command lives in its own module and
//! calls the workspace crates (`backup-model`, `backup-fetch`,
//! `backup-ingest`, `backup-emulator`). Data goes to stdout, logs and progress
//! to stderr. Exit codes, for cron monitors: 0 done, 1 done with per-item
//! failures (counted and named on stderr), 2 could not run.

mod args;
mod decode;
mod demo;
mod emulate;
mod fetch;
mod import;
mod ingest;
mod output;
mod report;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Keeps a permanent, queryable history of AWS Backup copy jobs.
///
/// AWS Backup shows copy jobs for a limited time. backup-audit reads them
/// through the official SDK (any account, any region) and keeps every job,
/// and every version of it, in PostgreSQL for audits and SQL reporting.
#[derive(Debug, Parser)]
#[command(
    name = "backup-audit",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// More log output on stderr (-v info from the AWS SDK, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// Only errors on stderr; no progress display.
    #[arg(short, long, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read copy jobs from files in any shape AWS or the AWS CLI writes and print
    /// one canonical JSON object per line.
    Decode(decode::DecodeArgs),
    /// Describe copy jobs by id (DescribeCopyJob) and print them.
    Describe(fetch::DescribeArgs),
    /// List copy jobs (ListCopyJobs) across accounts and regions and print them.
    List(fetch::ListArgs),
    /// Create or upgrade the database schema (a second run does nothing).
    Migrate(ingest::MigrateArgs),
    /// Fetch copy jobs from AWS and record them, with history, in PostgreSQL.
    Ingest(ingest::IngestArgs),
    /// Run a local AWS Backup endpoint with synthetic or fixture copy jobs.
    Emulate(emulate::EmulateArgs),
    /// Run the whole pipeline on this machine: emulator, throwaway PostgreSQL,
    /// two ingests, reports and the HTML page. No AWS account needed.
    Demo(demo::DemoArgs),
    /// Load copy jobs from files (AWS CLI output, API bodies, Audit Manager
    /// copy job reports) into the database, with history, as `ingest` does.
    Import(import::ImportArgs),
    /// Answer the auditor's questions: summary, failures, daily, durations,
    /// vaults, accounts, stale resources, coverage, or an HTML page.
    Report(report::ReportArgs),
    /// Compare what AWS lists now with the database, job by job, and print
    /// every difference (for audits; writes nothing).
    Verify(verify::VerifyArgs),
}

/// How a command that ran ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything succeeded.
    Done,
    /// The command finished but some items failed; they were named on stderr.
    SomeFailed,
}

impl Outcome {
    /// `SomeFailed` when any failure was counted.
    pub fn from_failures(failures: u64) -> Outcome {
        if failures == 0 {
            Outcome::Done
        } else {
            Outcome::SomeFailed
        }
    }
}

/// Log lines on stderr, written around the progress bars. The filter comes
/// from `BACKUP_AUDIT_LOG`, else `RUST_LOG` (the `tracing` syntax, e.g.
/// `info,backup_fetch=debug`), else -v/-q. Colour only when stderr is a
/// terminal and `NO_COLOR` is not set.
fn init_logging(verbose: u8, quiet: bool, colour: bool, progress: &output::Progress) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => {
            "warn,backup_audit=info,backup_ingest=info,backup_fetch=info,backup_emulator=info"
        }
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_env("BACKUP_AUDIT_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(progress.log_writer())
        .with_target(false)
        .compact()
        .init();
}

async fn run(cli: Cli, progress: output::Progress) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Describe(args) => fetch::describe(&args).await,
        Command::List(args) => fetch::list(&args, &progress).await,
        Command::Migrate(args) => ingest::migrate(&args).await,
        Command::Ingest(args) => ingest::ingest(&args, &progress).await,
        Command::Emulate(args) => emulate::run(&args).await,
        Command::Demo(args) => demo::run(&args).await,
        Command::Import(args) => import::run(&args, &progress).await,
        Command::Report(args) => report::run(&args).await,
        Command::Verify(args) => verify::run(&args).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let colour = output::colour_wanted(
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let progress = output::Progress::new(cli.quiet, colour);
    init_logging(cli.verbose, cli.quiet, colour, &progress);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli, progress)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::SomeFailed) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
