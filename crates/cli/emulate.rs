//! `backup-audit emulate`: a local AWS Backup endpoint.

use std::fs::File;
use std::io::BufReader;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use backup_emulator::{
    BrokenPaging, Burst, Emulator, EmulatorConfig, Endings, Faults, Malformed, ThrottleStatus,
};
use backup_model::{Decoder, Timestamp};
use clap::Args;

use crate::args::parse_duration;
use crate::Outcome;

#[derive(Debug, Args)]
#[command(
    after_help = "Point any AWS SDK or the AWS CLI at it with --endpoint-url \
http://127.0.0.1:PORT (any access key works; signatures are not checked). The region of \
each request comes from its SigV4 credential scope, so one emulator serves every region \
given. To send STS and Organizations calls here too, set AWS_ENDPOINT_URL (aws-config \
applies it to every service); --backup-only refuses them, as a VPC endpoint of AWS Backup \
would. Control: POST /_emulator/clock?advance=2h moves the synthetic clock (jobs progress \
CREATED -> RUNNING -> COMPLETED/FAILED/PARTIAL, new jobs appear, old ones age out with \
--retention); GET /_emulator/stats returns request counters. The Date header is the wall \
clock; the synthetic time is in the x-emulator-timeline header."
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

    /// Share of Backup calls answered ThrottlingException (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub throttle_rate: f64,

    /// Throttle in bursts: LENGTH/EVERY, e.g. 5/100 answers the last 5 of
    /// every 100 Backup calls ThrottlingException, back to back.
    #[arg(long, value_name = "LENGTH/EVERY")]
    pub throttle_burst: Option<Burst>,

    /// HTTP status of ThrottlingException answers: 429 or 400.
    #[arg(long, default_value_t = ThrottleStatus::TooManyRequests, value_name = "STATUS")]
    pub throttle_status: ThrottleStatus,

    /// Share of Backup calls answered 503 ServiceUnavailableException (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub error_rate: f64,

    /// Added to every Backup response, e.g. 50ms.
    #[arg(long, value_parser = parse_duration, default_value = "0s", value_name = "DURATION")]
    pub latency: Duration,

    /// Added to every STS and Organizations response, e.g. 50ms.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub sts_latency: Option<Duration>,

    /// The former spelling of --latency, in milliseconds.
    #[arg(long, hide = true, value_name = "MS", conflicts_with = "latency")]
    pub latency_ms: Option<u64>,

    /// Break every ListCopyJobs response: truncated, wrong-type or html.
    #[arg(long)]
    pub malformed: Option<Malformed>,

    /// Write ListCopyJobs jobs with a space after each `,` and `:`: the same
    /// jobs in other text, as another JSON writer would send them
    #[arg(long)]
    pub spaced_json: bool,

    /// Answer Backup calls of these accounts 403 AccessDeniedException.
    #[arg(long, value_delimiter = ',', value_name = "ACCOUNTS")]
    pub deny_accounts: Vec<String>,

    /// Refuse STS AssumeRole into roles of these accounts (403 AccessDenied).
    #[arg(long, value_delimiter = ',', value_name = "ACCOUNTS")]
    pub deny_assume_role: Vec<String>,

    /// Require this ExternalId on every AssumeRole (missing or wrong: 403 AccessDenied).
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,

    /// Keep jobs this long on the synthetic timeline (e.g. 30d): older ones are
    /// no longer listed and DescribeCopyJob answers ResourceNotFoundException.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub retention: Option<Duration>,

    /// Share of single jobs (0 to 1) that end FAILED without a CompletionDate.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub failed_without_completion_rate: f64,

    /// Share of single jobs (0 to 1) that end in --unknown-state, without a CompletionDate.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub unknown_state_rate: f64,

    /// The state, unknown to the service model, of --unknown-state-rate jobs.
    #[arg(long, default_value = "CANCELLED", value_name = "STATE")]
    pub unknown_state: String,

    /// Refuse a NextToken issued longer ago than this on the synthetic clock
    /// (400 InvalidParameterValueException).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub token_ttl: Option<Duration>,

    /// Refuse a NextToken issued more than this many Backup calls ago.
    #[arg(long, value_name = "CALLS")]
    pub token_ttl_calls: Option<u64>,

    /// ListCopyJobs shows jobs as they were this long ago (e.g. 5m);
    /// DescribeCopyJob shows them as they are.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub listing_lag: Option<Duration>,

    /// Hand out broken NextToken sequences: repeat-token (page 2 returns its own
    /// token) or cycle (page 3 returns page 2's token: A -> B -> A).
    #[arg(long, value_name = "MODE")]
    pub broken_paging: Option<BrokenPaging>,

    /// Limit --broken-paging to these regions.
    #[arg(long, value_delimiter = ',', value_name = "REGIONS")]
    pub broken_paging_regions: Vec<String>,

    /// Limit --broken-paging to these accounts.
    #[arg(long, value_delimiter = ',', value_name = "ACCOUNTS")]
    pub broken_paging_accounts: Vec<String>,

    /// Serve AWS Backup only, like a VPC endpoint of it: STS and
    /// Organizations requests are answered 404 UnknownOperationException.
    #[arg(long)]
    pub backup_only: bool,

    /// Advance the clock by this much every real second (e.g. 10m), so jobs
    /// move on by themselves.
    #[arg(long, value_parser = parse_duration)]
    pub speed: Option<Duration>,
}

pub async fn run(args: &EmulateArgs) -> anyhow::Result<Outcome> {
    let config = config(args)?;
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

/// The emulator configuration the flags describe (the fixture file read).
fn config(args: &EmulateArgs) -> anyhow::Result<EmulatorConfig> {
    for rate in [
        args.throttle_rate,
        args.error_rate,
        args.failed_without_completion_rate,
        args.unknown_state_rate,
    ] {
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
            latency: args.latency_ms.map_or(args.latency, Duration::from_millis),
            malformed: args.malformed,
            spaced_json: args.spaced_json,
            sts_latency: args.sts_latency.unwrap_or_default(),
            throttle_burst: args.throttle_burst,
            throttle_status: args.throttle_status,
            deny_accounts: args.deny_accounts.clone(),
            deny_assume_role_accounts: args.deny_assume_role.clone(),
            external_id: args.external_id.clone(),
            token_ttl: args.token_ttl,
            token_ttl_calls: args.token_ttl_calls,
            listing_lag: args.listing_lag.unwrap_or_default(),
            broken_paging: args.broken_paging,
            broken_paging_regions: args.broken_paging_regions.clone(),
            broken_paging_accounts: args.broken_paging_accounts.clone(),
            backup_only: args.backup_only,
            ..Faults::default()
        },
        retention: args.retention,
        endings: Endings {
            failed_without_completion_rate: args.failed_without_completion_rate,
            unknown_state_rate: args.unknown_state_rate,
            unknown_state: args.unknown_state.clone(),
        },
        ..EmulatorConfig::default()
    };
    if let Some(start) = args.start {
        config.start = start;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulateArgs,
    }

    fn parse(flags: &[&str]) -> Result<EmulatorConfig, String> {
        let cli = Cli::try_parse_from(std::iter::once("emulate").chain(flags.iter().copied()))
            .map_err(|e| e.to_string())?;
        config(&cli.args).map_err(|e| e.to_string())
    }

    #[test]
    fn every_mode_has_a_flag() {
        let config = parse(&[
            "--accounts=111111111111,222222222222",
            "--retention=30d",
            "--failed-without-completion-rate=0.05",
            "--unknown-state-rate=0.02",
            "--unknown-state=ABORTED",
            "--deny-accounts=111111111111",
            "--deny-assume-role=222222222222",
            "--external-id=tenant-7",
            "--throttle-burst=5/100",
            "--throttle-status=400",
            "--token-ttl=1h",
            "--token-ttl-calls=50",
            "--listing-lag=5m",
            "--broken-paging=cycle",
            "--broken-paging-regions=eu-west-1",
            "--broken-paging-accounts=222222222222",
            "--backup-only",
            "--sts-latency=150ms",
        ])
        .unwrap();
        let f = &config.faults;
        assert_eq!(config.retention, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(config.endings.failed_without_completion_rate, 0.05);
        assert_eq!(config.endings.unknown_state_rate, 0.02);
        assert_eq!(config.endings.unknown_state, "ABORTED");
        assert_eq!(f.deny_accounts, ["111111111111"]);
        assert_eq!(f.deny_assume_role_accounts, ["222222222222"]);
        assert_eq!(f.external_id.as_deref(), Some("tenant-7"));
        assert_eq!(
            f.throttle_burst,
            Some(Burst {
                length: 5,
                every: 100
            })
        );
        assert_eq!(f.throttle_status, ThrottleStatus::BadRequest);
        assert_eq!(f.token_ttl, Some(Duration::from_secs(3600)));
        assert_eq!(f.token_ttl_calls, Some(50));
        assert_eq!(f.listing_lag, Duration::from_secs(300));
        assert_eq!(f.broken_paging, Some(BrokenPaging::Cycle));
        assert_eq!(f.broken_paging_regions, ["eu-west-1"]);
        assert_eq!(f.broken_paging_accounts, ["222222222222"]);
        assert!(f.backup_only);
        assert_eq!(f.sts_latency, Duration::from_millis(150));

        let plain = parse(&[]).unwrap();
        assert_eq!(plain.retention, None);
        assert_eq!(
            plain.faults.throttle_status,
            ThrottleStatus::TooManyRequests
        );
        assert_eq!(plain.endings.unknown_state, "CANCELLED");
        assert!(!plain.faults.backup_only);
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        for (flags, expected) in [
            (&["--throttle-burst=5"][..], "LENGTH/EVERY"),
            (&["--throttle-burst=9/5"], "at most EVERY"),
            (&["--throttle-status=503"], "429 or 400"),
            (&["--broken-paging=loop"], "repeat-token, cycle"),
            (&["--unknown-state-rate=2"], "between 0 and 1"),
        ] {
            let err = parse(flags).unwrap_err();
            assert!(err.contains(expected), "{flags:?}: {err}");
        }
    }
}
