//! `backup-audit emulate`: a local AWS Backup endpoint.

use std::fs::File;
use std::io::BufReader;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use backup_emulator::{Emulator, EmulatorConfig, Faults, Malformed};
use backup_model::{Decoder, Timestamp};
use clap::Args;

use crate::args::parse_duration;
use crate::Outcome;

#[derive(Debug, Args)]
#[command(
    after_help = "Point any AWS SDK or the AWS CLI at it with --endpoint-url \
http://127.0.0.1:PORT (any access key works; signatures are not checked). The region of \
each request comes from its SigV4 credential scope, so one emulator serves every region \
given. Control: POST /_emulator/clock?advance=2h moves the clock (jobs progress \
CREATED -> RUNNING -> COMPLETED/FAILED/PARTIAL and new jobs appear); GET /_emulator/stats \
returns request counters."
)]
pub struct EmulateArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 4566)]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,

    /// Synthetic jobs per (account, region) at the start.
    #[arg(long, default_value_t = 1000)]
    pub jobs: usize,

    /// Seed of the synthetic data: the same seed serves the same jobs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Regions with data (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', default_value = "us-east-1")]
    pub regions: Vec<String>,

    /// Accounts with data; the first answers callers whose key names none.
    #[arg(long, value_delimiter = ',', default_value = "123456789012")]
    pub accounts: Vec<String>,

    /// The clock's start (RFC 3339); now by default.
    #[arg(long, value_parser = crate::args::parse_time)]
    pub start: Option<Timestamp>,

    /// Serve exactly the jobs in this file (any shape `decode` reads).
    #[arg(long, value_name = "FILE")]
    pub fixture: Option<PathBuf>,

    /// Share of Backup calls answered 429 ThrottlingException (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,

    /// Share of Backup calls answered 503 ServiceUnavailableException (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,

    /// Added to every Backup response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,

    /// Break every ListCopyJobs response: truncated, wrong-type or html.
    #[arg(long)]
    pub malformed: Option<Malformed>,

    /// Advance the clock by this much every real second (e.g. 10m), so jobs
    /// move on by themselves.
    #[arg(long, value_parser = parse_duration)]
    pub speed: Option<Duration>,
}

pub async fn run(args: &EmulateArgs) -> anyhow::Result<Outcome> {
    for rate in [args.throttle_rate, args.error_rate] {
        if !(0.0..=1.0).contains(&rate) {
            bail!("rates are between 0 and 1, got {rate}");
        }
    }
    let fixture = match &args.fixture {
        None => None,
        Some(path) => {
            let file =
                File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let mut jobs = Vec::new();
            for record in Decoder::new(BufReader::new(file)) {
                let record = record.map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))?;
                jobs.push(record.job);
            }
            Some(jobs)
        }
    };
    let mut config = EmulatorConfig {
        seed: args.seed,
        jobs_per_target: args.jobs,
        accounts: args.accounts.clone(),
        regions: args.regions.clone(),
        fixture,
        faults: Faults {
            throttle_rate: args.throttle_rate,
            error_rate: args.error_rate,
            latency: Duration::from_millis(args.latency_ms),
            malformed: args.malformed,
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    };
    if let Some(start) = args.start {
        config.start = start;
    }
    let emulator = Emulator::start(config, SocketAddr::new(args.bind, args.port))
        .await
        .context("cannot start the emulator")?;
    eprintln!(
        "AWS Backup emulator listening on {} (regions {}, accounts {}); Ctrl-C stops it",
        emulator.endpoint_url(),
        args.regions.join(","),
        args.accounts.join(",")
    );
    // The endpoint URL alone on stdout, for scripts.
    println!("{}", emulator.endpoint_url());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            result = tokio::signal::ctrl_c() => {
                result.context("cannot wait for Ctrl-C")?;
                break;
            }
            _ = tick.tick(), if args.speed.is_some() => {
                if let Some(step) = args.speed {
                    emulator.advance_clock(step);
                }
            }
        }
    }
    eprintln!(
        "stopping; served {} requests",
        emulator.stats().total_requests
    );
    emulator.shutdown().await;
    Ok(Outcome::Done)
}
