//! A local AWS Backup endpoint for copy jobs, speaking the real wire protocol.
//!
//! [`Emulator::start`] binds a port and serves, over plain HTTP:
//!
//! - `GET /copy-jobs/` (ListCopyJobs) with every query filter of the service
//!   model, exact `NextToken` paging and validation errors as AWS returns them;
//! - `GET /copy-jobs/{copyJobId}` (DescribeCopyJob);
//! - STS `POST /` with `Action=AssumeRole` and `Action=GetCallerIdentity`, so
//!   cross-account role assumption can be exercised;
//! - Organizations `POST /` with `X-Amz-Target: AWSOrganizationsV20161128.ListAccounts`
//!   (JSON 1.1), listing the configured accounts as an organization's, so
//!   targets can be found the way an organization-wide deployment does;
//! - control endpoints for tests and demos: `POST /_emulator/clock?advance=2h`
//!   and `GET /_emulator/stats`.
//!
//! Point the official `aws-sdk-backup` client at [`Emulator::endpoint_url`] with
//! any static credentials and it works as against AWS, which is the point: the
//! tests, benchmarks and demo of `backup-audit` exercise the real SDK, its
//! deserializer, retries and paginators, without an AWS account.
//!
//! The jobs are synthetic and deterministic: job `i` of an (account, region)
//! is computed from (seed, account, region, `i`) whenever it is asked for, so a
//! million jobs cost no memory, and its state follows a movable clock
//! (`CREATED`, then `RUNNING`, then `COMPLETED`, `FAILED` or `PARTIAL`). A
//! fixture of fixed jobs can be served instead. Faults (throttling, 503s,
//! latency, malformed bodies, denied accounts) are dealt evenly rather than at
//! random, so a test that survives them once survives them always.
//!
//! What it is not: a security boundary or a faithful AWS. SigV4 signatures are
//! **not verified**; the `Authorization` header is only read for its access key
//! (which names the account, see below) and its credential scope (which names
//! the region). It serves copy jobs (and the few STS and Organizations calls
//! around them) only, over HTTP only, and keeps no state but its clock and
//! counters.
//!
//! Accounts: an access key of the form `ASIA` + 12-digit account + 4 characters
//! (what the emulator's AssumeRole returns) is that account's; any other key
//! is the first configured account's. An account or region the emulator has
//! no data for lists as empty, as a real account with no copy jobs would.
//!
//! ```no_run
//! # async fn demo() -> Result<(), backup_emulator::EmulatorError> {
//! use backup_emulator::{Emulator, EmulatorConfig};
//!
//! let emulator = Emulator::start(EmulatorConfig::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("AWS_ENDPOINT_URL={}", emulator.endpoint_url());
//! emulator.advance_clock(std::time::Duration::from_secs(3600));
//! let truth = emulator.jobs("123456789012", "us-east-1");
//! # drop(truth);
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod catalog;
mod organizations;
mod request;
mod rng;
mod server;
mod sts;
mod synth;
mod wire;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use backup_model::{CopyJob, Timestamp};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use request::{
    parse_duration, DESCRIBE_COPY_JOB_URI, LIST_COPY_JOBS_QUERY_NAMES, LIST_COPY_JOBS_URI,
};

use catalog::{Catalog, Target};
use server::Shared;
use synth::{SynthTarget, Timeline};

/// What the emulator serves and how it misbehaves.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Seeds every synthetic value; the same seed serves the same jobs.
    pub seed: u64,
    /// How many jobs each (account, region) has at the start clock.
    pub jobs_per_target: usize,
    /// 12-digit account ids; the first is the account of callers whose access
    /// key does not name one.
    pub accounts: Vec<String>,
    /// Regions with data; the first is used when a request carries no
    /// credential scope.
    pub regions: Vec<String>,
    /// The clock's initial value.
    pub start: Timestamp,
    /// The start jobs are spread over `[start - history, start]`; later ones
    /// keep coming at the same pace as the clock advances.
    pub history: Duration,
    /// When set, exactly these jobs are served (and the clock does not change
    /// them) instead of synthetic ones.
    pub fixture: Option<Vec<CopyJob>>,
    /// Faults to inject from the start.
    pub faults: Faults,
    /// How Organizations ListAccounts presents the accounts.
    pub organization: Organization,
}

/// The organization the accounts belong to, as Organizations ListAccounts
/// shows it: every configured account, plus the suspended ones.
#[derive(Debug, Clone)]
pub struct Organization {
    /// Accounts listed as `SUSPENDED` (`State` and the retired `Status`).
    /// Those among `accounts` still have copy jobs, as a suspended account's
    /// vaults do; others are listed only.
    pub suspended_accounts: Vec<String>,
    /// The most accounts a ListAccounts page holds, whatever `MaxResults`
    /// asks (1 to 20): small pages make clients follow `NextToken`.
    pub page_size: usize,
    /// The only account allowed to list (others get
    /// `AccessDeniedException`); the first of `accounts` when unset.
    pub management_account: Option<String>,
}

impl Default for Organization {
    /// No suspended account, pages of 20, the first account manages.
    fn default() -> Self {
        Organization {
            suspended_accounts: Vec::new(),
            page_size: organizations::MAX_RESULTS,
            management_account: None,
        }
    }
}

impl Default for EmulatorConfig {
    /// Seed 1, 1000 jobs in account `123456789012`, region `us-east-1`, over the
    /// 30 days before now (the wall clock when `default()` runs, to the
    /// second; set `start` for data that is the same on every run).
    fn default() -> Self {
        let now = Timestamp::now();
        EmulatorConfig {
            seed: 1,
            jobs_per_target: 1000,
            accounts: vec!["123456789012".to_owned()],
            regions: vec!["us-east-1".to_owned()],
            start: Timestamp::UNIX_EPOCH.add_millis(now.as_millis() / 1000 * 1000),
            history: Duration::from_secs(30 * 86_400),
            fixture: None,
            faults: Faults::default(),
            organization: Organization::default(),
        }
    }
}

/// Misbehaviour to inject into Backup API calls (never into STS or the
/// control endpoints). Rates are dealt evenly, not at random: with a rate of
/// 0.5, every second call is hit.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The share of calls answered 429 `ThrottlingException`.
    pub throttle_rate: f64,
    /// The share of calls answered 503 `ServiceUnavailableException`.
    pub error_rate: f64,
    /// Added to every Backup API response.
    pub latency: Duration,
    /// When set, every ListCopyJobs response is broken this way.
    pub malformed: Option<Malformed>,
    /// If non-empty, `malformed` applies only to these regions.
    pub malformed_regions: Vec<String>,
    /// These accounts get 403 `AccessDeniedException` naming the action.
    pub deny_accounts: Vec<String>,
}

/// Ways to break a ListCopyJobs response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// A 200 whose JSON body is cut in half.
    Truncated,
    /// A 200 whose `BackupSizeInBytes` values are strings.
    WrongType,
    /// A proxy's HTML error page, status 502, `text/html`.
    Html,
}

impl Malformed {
    /// The names [`FromStr`] accepts.
    pub const NAMES: &'static [&'static str] = &["truncated", "wrong-type", "html"];
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformed::Truncated => "truncated",
            Malformed::WrongType => "wrong-type",
            Malformed::Html => "html",
        })
    }
}

impl FromStr for Malformed {
    type Err = String;

    /// `truncated`, `wrong-type` (or `wrong_type`, `wrongtype`) or `html`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "truncated" => Ok(Malformed::Truncated),
            "wrong-type" | "wrongtype" => Ok(Malformed::WrongType),
            "html" => Ok(Malformed::Html),
            _ => Err(format!(
                "unknown malformation {s:?}: expected one of {}",
                Malformed::NAMES.join(", ")
            )),
        }
    }
}

/// Request counters since the emulator started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Every HTTP request, whatever it was.
    pub total_requests: u64,
    /// ListCopyJobs calls, including those answered with a fault.
    pub list_calls: u64,
    /// DescribeCopyJob calls, including those answered with a fault.
    pub describe_calls: u64,
    /// STS calls.
    pub sts_calls: u64,
    /// Organizations calls.
    pub organizations_calls: u64,
    /// Calls to the `/_emulator/` endpoints.
    pub control_calls: u64,
    /// Calls answered 429 `ThrottlingException`.
    pub throttled: u64,
    /// Calls answered 503 `ServiceUnavailableException`.
    pub errors: u64,
    /// ListCopyJobs responses broken on purpose.
    pub malformed: u64,
    /// Calls answered 403 `AccessDeniedException`.
    pub denied: u64,
    /// Requests refused as invalid (400) or for an unknown path.
    pub bad_requests: u64,
    /// DescribeCopyJob calls for an unknown id.
    pub not_found: u64,
    /// Jobs sent in list pages and describe answers.
    pub jobs_returned: u64,
    /// Backup API calls per region (from the credential scope).
    pub regions: BTreeMap<String, RegionStats>,
}

/// Backup API calls to one region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RegionStats {
    /// ListCopyJobs calls.
    pub list_calls: u64,
    /// DescribeCopyJob calls.
    pub describe_calls: u64,
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The configuration cannot be served.
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// A running emulator. Dropping it stops the server; [`Emulator::shutdown`]
/// also waits for it to finish.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("now", &self.now())
            .finish_non_exhaustive()
    }
}

fn validate(config: &EmulatorConfig) -> Result<(), EmulatorError> {
    let bad = |m: String| Err(EmulatorError::Config(m));
    if config.accounts.is_empty() {
        return bad("at least one account is needed".into());
    }
    if let Some(a) = config.accounts.iter().find(|a| !request::is_account_id(a)) {
        return bad(format!("account {a:?} is not a 12-digit account id"));
    }
    if config.regions.is_empty() {
        return bad("at least one region is needed".into());
    }
    if let Some(r) = config
        .regions
        .iter()
        .find(|r| r.is_empty() || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return bad(format!("region {r:?} is not a region name"));
    }
    for (name, rate) in [
        ("throttle_rate", config.faults.throttle_rate),
        ("error_rate", config.faults.error_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            return bad(format!("{name} {rate} is not between 0 and 1"));
        }
    }
    let org = &config.organization;
    if let Some(a) = org
        .suspended_accounts
        .iter()
        .chain(&org.management_account)
        .find(|a| !request::is_account_id(a))
    {
        return bad(format!(
            "organization account {a:?} is not a 12-digit account id"
        ));
    }
    if !(1..=organizations::MAX_RESULTS).contains(&org.page_size) {
        return bad(format!(
            "organization page size {} is not between 1 and {}",
            org.page_size,
            organizations::MAX_RESULTS
        ));
    }
    let history_ms = config.history.as_millis();
    if config.fixture.is_none() && history_ms < config.jobs_per_target as u128 {
        return bad(format!(
            "{} jobs cannot be spread over {history_ms} ms: give at least one millisecond per job",
            config.jobs_per_target
        ));
    }
    Ok(())
}

fn build_catalog(config: &EmulatorConfig) -> Catalog {
    if let Some(jobs) = &config.fixture {
        return Catalog::from_fixture(
            config.seed,
            jobs.clone(),
            &config.accounts[0],
            &config.regions[0],
        );
    }
    let mut catalog = Catalog::default();
    if config.jobs_per_target == 0 {
        return catalog;
    }
    let history_ms = i64::try_from(config.history.as_millis()).unwrap_or(i64::MAX / 4);
    let jobs = config.jobs_per_target as u64;
    let step_ms = (history_ms / jobs as i64).max(1);
    let timeline = Timeline {
        base_ms: config.start.as_millis() - step_ms.saturating_mul(jobs as i64),
        step_ms,
        start_jobs: jobs,
    };
    let resources = synth::resource_count(jobs, history_ms);
    for account in &config.accounts {
        for region in &config.regions {
            let target = SynthTarget::new(
                config.seed,
                account,
                region,
                &config.accounts,
                timeline,
                resources,
            );
            catalog.insert(account, region, Target::Synthetic(target));
        }
    }
    catalog
}

impl Emulator {
    /// Binds `addr` (port 0 picks a free port), spawns the server on the
    /// current Tokio runtime and returns at once.
    pub async fn start(
        config: EmulatorConfig,
        addr: SocketAddr,
    ) -> Result<Emulator, EmulatorError> {
        validate(&config)?;
        let catalog = build_catalog(&config);
        let shared = Arc::new(
            Shared::new(
                catalog,
                config.accounts[0].clone(),
                config.regions[0].clone(),
                config.start,
                config.faults.clone(),
                config.seed,
            )
            .with_directory(organizations::Directory::new(
                config.seed,
                &config.accounts,
                &config.organization,
                config.start,
            )),
        );
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = server::router(shared.clone());
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "backup emulator stopped");
            }
        });
        tracing::debug!(%local, "backup emulator listening");
        Ok(Emulator {
            shared,
            addr: local,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to give the SDK as `endpoint_url` (`http://127.0.0.1:PORT`).
    pub fn endpoint_url(&self) -> String {
        let ip = self.addr.ip();
        let host = if ip.is_unspecified() {
            "127.0.0.1".to_owned()
        } else if ip.is_ipv6() {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        format!("http://{host}:{}", self.addr.port())
    }

    /// The emulator's clock.
    pub fn now(&self) -> Timestamp {
        self.shared.now()
    }

    /// Moves the clock forward: new jobs appear, open ones progress.
    pub fn advance_clock(&self, by: Duration) {
        self.shared
            .advance(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
    }

    /// Replaces the faults; the even spread of rates starts again.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// The request counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Every job of `account` in `region` visible at the current clock,
    /// newest first: exactly what ListCopyJobs without filters pages through.
    pub fn jobs(&self, account: &str, region: &str) -> Vec<CopyJob> {
        self.shared
            .catalog
            .get(account, region)
            .map(|t| t.all(self.shared.now()))
            .unwrap_or_default()
    }

    /// Stops accepting requests, lets those in flight finish (for up to five
    /// seconds) and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                // A client holding a connection open must not hang shutdown.
                abort.abort();
            }
        }
    }

    /// Serves until Ctrl-C (SIGINT), then shuts down: the `emulate` command.
    pub async fn run_until_ctrl_c(self) {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot wait for Ctrl-C; stopping now");
        }
        self.shutdown().await;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_names_round_trip() {
        for m in [Malformed::Truncated, Malformed::WrongType, Malformed::Html] {
            assert_eq!(m.to_string().parse::<Malformed>(), Ok(m));
        }
        assert_eq!("WRONG_TYPE".parse::<Malformed>(), Ok(Malformed::WrongType));
        assert!("broken".parse::<Malformed>().is_err());
    }

    #[test]
    fn configs_are_validated() {
        let ok = EmulatorConfig::default();
        assert!(validate(&ok).is_ok());
        let cases = [
            EmulatorConfig {
                accounts: vec![],
                ..ok.clone()
            },
            EmulatorConfig {
                accounts: vec!["12".into()],
                ..ok.clone()
            },
            EmulatorConfig {
                regions: vec!["us east".into()],
                ..ok.clone()
            },
            EmulatorConfig {
                history: Duration::from_millis(10),
                ..ok.clone()
            },
            EmulatorConfig {
                organization: Organization {
                    suspended_accounts: vec!["1234".into()],
                    ..Organization::default()
                },
                ..ok.clone()
            },
            EmulatorConfig {
                organization: Organization {
                    page_size: 21,
                    ..Organization::default()
                },
                ..ok.clone()
            },
            EmulatorConfig {
                faults: Faults {
                    throttle_rate: 1.5,
                    ..Faults::default()
                },
                ..ok.clone()
            },
        ];
        for config in cases {
            assert!(matches!(validate(&config), Err(EmulatorError::Config(_))));
        }
    }

    #[test]
    fn a_million_jobs_over_twenty_targets_cost_little() {
        let config = EmulatorConfig {
            jobs_per_target: 50_000,
            accounts: (0..4)
                .map(|n| format!("{:012}", 100_000_000_000u64 + n))
                .collect(),
            regions: [
                "us-east-1",
                "us-west-2",
                "eu-west-1",
                "eu-central-1",
                "ap-southeast-2",
            ]
            .map(String::from)
            .to_vec(),
            ..EmulatorConfig::default()
        };
        let catalog = build_catalog(&config);
        let target = catalog.get("100000000003", "eu-central-1").unwrap();
        let range = target.range(config.start, &catalog::Filter::default());
        assert_eq!(range, 0..50_000);
        let newest = target.job(range.end - 1, config.start);
        assert!(newest.creation_date.unwrap() <= config.start);
    }
}
