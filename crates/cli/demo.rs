//! `backup-audit demo`: the whole pipeline on one machine, no AWS account and
//! no database set-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use backup_emulator::{Emulator, EmulatorConfig};
use backup_fetch::{FetchConfig, Fetcher, Target};
use backup_ingest::{IngestOptions, NoProgress, Store, Summary};
use clap::Args;
use pg_throwaway::TempPostgres;

use crate::Outcome;

const ACCOUNTS: [&str; 2] = ["123456789012", "210987654321"];
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

#[derive(Args)]
#[command(
    after_help = "Starts the AWS Backup emulator in-process (two accounts, three regions, \
realistic synthetic jobs) and a throwaway PostgreSQL server, migrates, ingests, moves the emulator's clock so running jobs finish, ingests again so the \
history shows the transitions, then prints the summary and failures reports and writes the \
HTML report.\n\n\
The demo never writes into a database it did not create: it ignores DATABASE_URL, and a \
database given with --database-url must be empty or hold only what an earlier demo wrote \
(anything else is refused, exit code 2)."
)]
pub struct DemoArgs {
    /// Synthetic jobs per (account, region).
    #[arg(long, default_value_t = 2000)]
    pub jobs: usize,

    /// Where to write the HTML report.
    #[arg(long, default_value = "backup-audit-demo.html")]
    pub out: PathBuf,

    /// Use this database instead of a throwaway server: it must be empty
    /// or hold only an earlier demo's data (it is migrated). DATABASE_URL is
    /// deliberately not read.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Keep the throwaway database running until Ctrl-C, to query it with psql.
    #[arg(long)]
    pub keep: bool,
}

impl std::fmt::Debug for DemoArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoArgs")
            .field("jobs", &self.jobs)
            .field("out", &self.out)
            .field(
                "database_url",
                &self.database_url.as_deref().map(crate::args::redact_url),
            )
            .field("keep", &self.keep)
            .finish()
    }
}

/// What the runs of a demo are called in `ingest_runs`: how a database a
/// demo filled is told from one holding anything else.
const RUN_GROUP_PREFIX: &str = "demo-";

fn line(summary: &Summary) -> String {
    let c = &summary.counts;
    format!(
        "{} targets, {} jobs seen ({} new, {} changed, {} unchanged), {} API calls, {:.1} s",
        summary.targets,
        c.jobs_seen,
        c.jobs_new,
        c.jobs_changed,
        c.jobs_unchanged,
        c.api_calls,
        summary.duration_ms as f64 / 1000.0
    )
}

pub async fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let emulator = Emulator::start(
        EmulatorConfig {
            seed: 2026,
            jobs_per_target: args.jobs,
            accounts: ACCOUNTS.iter().map(|a| a.to_string()).collect(),
            regions: REGIONS.iter().map(|r| r.to_string()).collect(),
            ..EmulatorConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .context("cannot start the emulator")?;
    eprintln!(
        "[demo] emulator on {}: {} accounts x {} regions, {} jobs each",
        emulator.endpoint_url(),
        ACCOUNTS.len(),
        REGIONS.len(),
        args.jobs
    );

    // A throwaway server unless the user gave a database.
    let (_server, url) = match &args.database_url {
        Some(url) => (None, url.clone()),
        None => {
            let server = tokio::task::spawn_blocking(TempPostgres::start)
                .await?
                .context(
                    "cannot start a throwaway PostgreSQL (are initdb and pg_ctl installed?)",
                )?;
            let url = server.create_database("backup_audit_demo")?;
            eprintln!(
                "[demo] throwaway PostgreSQL on port {} (data in {})",
                server.port(),
                server.data_dir().display()
            );
            (Some(server), url)
        }
    };
    let store = Store::connect(&url, Default::default())
        .await
        .context("cannot connect to the database")?;
    if args.database_url.is_some() {
        let foreign = store
            .data_besides(RUN_GROUP_PREFIX, &ACCOUNTS)
            .await
            .context("cannot read what the database holds")?;
        if let Some(what) = foreign {
            bail!(
                "the database {} holds {what}: not demo data. The demo writes only into \
                 an empty database or one an earlier demo filled; leave out --database-url \
                 to run it on a throwaway server",
                crate::args::redact_url(&url)
            );
        }
    }
    let applied = store.migrate().await.context("migration failed")?;
    eprintln!("[demo] migrated ({} migrations applied)", applied.len());

    // The emulator takes any key; the role template makes every account a
    // target through STS, as a cross-account deployment would. The
    // configuration's endpoint (as AWS_ENDPOINT_URL would) sends STS there
    // too; --endpoint-url alone would be AWS Backup's only.
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint_url())
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDDEMO",
            "demo-secret",
            None,
            None,
            "demo",
        )))
        .region(Region::new(REGIONS[0]))
        .load()
        .await;
    let fetcher = Fetcher::with_sdk_config(
        sdk,
        FetchConfig {
            endpoint_url: Some(emulator.endpoint_url()),
            role_arn_template: Some("arn:aws:iam::{account}:role/BackupAudit".to_owned()),
            ..FetchConfig::default()
        },
    );
    let accounts: Vec<String> = ACCOUNTS.iter().map(|a| a.to_string()).collect();
    let regions: Vec<String> = REGIONS.iter().map(|r| r.to_string()).collect();
    let targets = Target::cartesian(&accounts, &regions);
    let options = IngestOptions {
        run_group: format!(
            "{RUN_GROUP_PREFIX}{}",
            backup_model::Timestamp::now().as_millis()
        ),
        ..IngestOptions::default()
    };

    let first = backup_ingest::ingest(&store, &fetcher, &targets, &options, &NoProgress).await;
    eprintln!("[demo] first ingest: {}", line(&first));
    emulator.advance_clock(Duration::from_secs(6 * 3600));
    eprintln!("[demo] emulator clock moved 6 hours: running jobs finished, new ones started");
    let second = backup_ingest::ingest(&store, &fetcher, &targets, &options, &NoProgress).await;
    eprintln!("[demo] second ingest (incremental): {}", line(&second));

    crate::report::demo_reports(&store, &args.out).await?;
    let path = std::fs::canonicalize(&args.out).unwrap_or_else(|_| args.out.clone());
    eprintln!(
        "[demo] done in {:.1} s; HTML report: {}",
        started.elapsed().as_secs_f64(),
        path.display()
    );
    println!("{}", path.display());

    if args.keep {
        eprintln!(
            "[demo] database: {} (Ctrl-C stops it)",
            crate::args::redact_url(&url)
        );
        tokio::signal::ctrl_c().await?;
    }
    let failed = first.failed.len() + second.failed.len();
    Ok(Outcome::from_failures(failed as u64))
}
