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
//! Two clocks: the **synthetic timeline** the jobs live in ([`Emulator::now`],
//! moved only by [`Emulator::advance_clock`]; every response carries it in
//! the `x-emulator-timeline` header, RFC 3339 with milliseconds), and the
//! **wall clock**, which the `Date` header always follows, as AWS's does, so
//! the SDK's clock-skew handling never fires because of the emulator. A
//! client that stamps observations with the service's time must read the
//! timeline header when it is there.
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
//! fixture of fixed jobs can be served instead. [`Emulator::jobs`] is the
//! truth a test compares with: what a complete listing shows now.
//!
//! It can behave as AWS does where a client must be careful, each behaviour
//! an option ([`EmulatorConfig`], [`Faults`], also settable while serving
//! with [`Emulator::set_faults`] and [`Emulator::set_retention`]):
//!
//! - jobs **age out** after a retention (not listed; DescribeCopyJob answers
//!   `ResourceNotFoundException`);
//! - some jobs end **`FAILED` without `CompletionDate`**, or in a **state the
//!   model does not know** (`CANCELLED`), after being open ([`Endings`]);
//! - **throttling** at a rate or in **bursts**, as 429 or 400
//!   `ThrottlingException`; 503s; latency; malformed bodies;
//! - **`NextToken`s that expire** (by synthetic time or by request count),
//!   refused with `InvalidParameterValueException`;
//! - a **listing that lags** behind DescribeCopyJob;
//! - **broken paging**: a token that comes back again, a cycle of tokens;
//! - **access denied** per account for Backup calls, and for STS AssumeRole
//!   per role account or without the right `ExternalId`;
//! - a **Backup-only endpoint** that refuses STS and Organizations, like an
//!   interface VPC endpoint of AWS Backup.
//!
//! Faults and odd endings are dealt evenly rather than at random, so a test
//! that survives them once survives them always.
//!
//! What it is not: a security boundary or a faithful AWS. SigV4 signatures are
//! **not verified**; the `Authorization` header is only read for its access key
//! (which names the account, see below) and its credential scope (which names
//! the region). It serves copy jobs (and the few STS and Organizations calls
//! around them) only, over HTTP only, and keeps no state but its clock,
//! counters and the keys AssumeRole issued (`NextToken`s carry their own
//! position, page and issue time). To send STS and Organizations calls to it
//! as well, set `AWS_ENDPOINT_URL`, which aws-config applies to every service.
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

use backup_model::{CopyJob, CopyJobState, Timestamp};
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
    /// How long the service keeps a copy job, as AWS Backup does: a job
    /// created longer ago than this (on the synthetic timeline) is no longer
    /// listed, and DescribeCopyJob answers `ResourceNotFoundException` for it.
    /// `None` keeps every job. Applies to synthetic jobs, not to fixtures;
    /// [`Emulator::set_retention`] changes it while serving.
    pub retention: Option<Duration>,
    /// Endings the model does not expect (failed without `CompletionDate`,
    /// states newer than the model); none by default.
    pub endings: Endings,
}

/// Ways a synthetic job can end that a client built from the service model
/// does not expect. Each share is dealt evenly over the job indices (job `i`
/// is hit when `floor((i+1)·rate) > floor(i·rate)`), among single jobs only
/// (not composite parents or their children). A hit job lives as every job
/// does, `CREATED` then `RUNNING`, and takes its odd ending only when it
/// finishes, so an incremental reader has seen it open first.
#[derive(Debug, Clone)]
pub struct Endings {
    /// The share of jobs that end `FAILED` with a failure message but **no
    /// `CompletionDate`** (so the `completeAfter` filters never list them).
    pub failed_without_completion_rate: f64,
    /// The share of jobs that end in [`Endings::unknown_state`], a state the
    /// model does not list, with no `CompletionDate`.
    pub unknown_state_rate: f64,
    /// The state name those jobs end in (`CANCELLED` by default). While
    /// `unknown_state_rate` is above zero, ListCopyJobs also accepts it as a
    /// `state` filter, as a service that has the state would.
    pub unknown_state: String,
}

impl Default for Endings {
    /// No odd ending; the unknown state is `CANCELLED`.
    fn default() -> Self {
        Endings {
            failed_without_completion_rate: 0.0,
            unknown_state_rate: 0.0,
            unknown_state: "CANCELLED".to_owned(),
        }
    }
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
            retention: None,
            endings: Endings::default(),
        }
    }
}

/// Misbehaviour to inject. Unless a field says otherwise it hits Backup API
/// calls only (never STS, Organizations or the control endpoints). Rates are
/// dealt evenly, not at random: with a rate of 0.5, every second call is hit.
/// Calls are counted from the last [`Emulator::set_faults`], so a new plan
/// starts its own spread.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The share of calls answered `ThrottlingException` (status from
    /// [`Faults::throttle_status`]).
    pub throttle_rate: f64,
    /// Throttling in bursts: of every `every` calls, the last `length` are
    /// answered `ThrottlingException`, back to back. Combines with
    /// `throttle_rate` (a call hit by either is throttled).
    pub throttle_burst: Option<Burst>,
    /// The HTTP status of `ThrottlingException` answers: 429 (default) or
    /// 400, as AWS's JSON services often send it.
    pub throttle_status: ThrottleStatus,
    /// The share of calls answered 503 `ServiceUnavailableException`.
    pub error_rate: f64,
    /// Added to every Backup API response.
    pub latency: Duration,
    /// Added to every STS and Organizations response (a role assumption
    /// costs a round trip to STS as well).
    pub sts_latency: Duration,
    /// When set, every ListCopyJobs response is broken this way.
    pub malformed: Option<Malformed>,
    /// ListCopyJobs writes a space after each `,` and `:` between a job's
    /// members: the same jobs in other text (JSON writers differ, and AWS
    /// promises no layout). A client that recognises jobs by their text must
    /// fall back to their content.
    pub spaced_json: bool,
    /// If non-empty, `malformed` applies only to these regions.
    pub malformed_regions: Vec<String>,
    /// These accounts get 403 `AccessDeniedException` naming the action.
    pub deny_accounts: Vec<String>,
    /// STS: AssumeRole into a role of these accounts is refused with 403
    /// `AccessDenied`, as when the role's trust policy does not name the caller.
    pub deny_assume_role_accounts: Vec<String>,
    /// STS: when set, every AssumeRole must carry this `ExternalId`; a
    /// missing or different one is refused with 403 `AccessDenied`.
    pub external_id: Option<String>,
    /// ListCopyJobs refuses a `NextToken` issued longer ago than this on the
    /// synthetic timeline, with 400 `InvalidParameterValueException`, as AWS
    /// refuses a bad token.
    pub token_ttl: Option<Duration>,
    /// ListCopyJobs refuses a `NextToken` issued more than this many Backup
    /// API calls (ListCopyJobs and DescribeCopyJob, from any client) ago:
    /// the same expiry on a request-count clock, for tests that do not move
    /// the synthetic clock.
    pub token_ttl_calls: Option<u64>,
    /// ListCopyJobs shows every job as it was this long ago on the synthetic
    /// timeline (states, and jobs created since are not listed yet), while
    /// DescribeCopyJob shows it as it is now: an eventually consistent listing.
    pub listing_lag: Duration,
    /// When set, ListCopyJobs hands out broken `NextToken` sequences.
    pub broken_paging: Option<BrokenPaging>,
    /// If non-empty, `broken_paging` applies only to these regions.
    pub broken_paging_regions: Vec<String>,
    /// If non-empty, `broken_paging` applies only to these accounts.
    pub broken_paging_accounts: Vec<String>,
    /// Serve as a Backup-only endpoint (like an interface VPC endpoint of AWS
    /// Backup): STS and Organizations requests are answered 404
    /// `UnknownOperationException`, so a client that sends them here fails.
    pub backup_only: bool,
}

/// `length` throttled calls back to back in every `every` calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Burst {
    /// Throttled calls per burst (at least 1).
    pub length: u64,
    /// Calls per cycle, the burst included (at least `length`).
    pub every: u64,
}

impl FromStr for Burst {
    type Err = String;

    /// `LENGTH/EVERY`, e.g. `5/100`: 5 throttled calls in every 100.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid burst {s:?}: expected LENGTH/EVERY, e.g. 5/100");
        let (length, every) = s.split_once('/').ok_or_else(bad)?;
        let burst = Burst {
            length: length.trim().parse().map_err(|_| bad())?,
            every: every.trim().parse().map_err(|_| bad())?,
        };
        if burst.length == 0 || burst.every < burst.length {
            return Err(format!(
                "invalid burst {s:?}: LENGTH must be at least 1 and at most EVERY"
            ));
        }
        Ok(burst)
    }
}

impl fmt::Display for Burst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.length, self.every)
    }
}

/// The HTTP status of a `ThrottlingException` answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ThrottleStatus {
    /// 429 Too Many Requests.
    #[default]
    TooManyRequests,
    /// 400 Bad Request, the error code alone saying it is throttling.
    BadRequest,
}

impl ThrottleStatus {
    /// The status code.
    pub fn code(self) -> u16 {
        match self {
            ThrottleStatus::TooManyRequests => 429,
            ThrottleStatus::BadRequest => 400,
        }
    }
}

impl FromStr for ThrottleStatus {
    type Err = String;

    /// `429` or `400`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "429" => Ok(ThrottleStatus::TooManyRequests),
            "400" => Ok(ThrottleStatus::BadRequest),
            _ => Err(format!(
                "invalid throttle status {s:?}: expected 429 or 400"
            )),
        }
    }
}

impl fmt::Display for ThrottleStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// Broken `NextToken` sequences, as a faulty service or proxy could send.
/// Pages are counted from 0 (the request without a token); a listing too
/// short to reach the broken page is served correctly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokenPaging {
    /// Page 2 answers with the very `NextToken` it was asked with, so the
    /// same token comes back twice in a row (and again for ever). The SDK's
    /// paginator takes that for the end of the listing.
    RepeatToken,
    /// Page 3 (token B) answers with the token of page 2 (token A), which
    /// again leads to B: a cycle A -> B -> A longer than one page. Without a
    /// token lifetime the tokens are the same strings each time round.
    Cycle,
}

impl BrokenPaging {
    /// The names [`FromStr`] accepts.
    pub const NAMES: &'static [&'static str] = &["repeat-token", "cycle"];
}

impl fmt::Display for BrokenPaging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrokenPaging::RepeatToken => "repeat-token",
            BrokenPaging::Cycle => "cycle",
        })
    }
}

impl FromStr for BrokenPaging {
    type Err = String;

    /// `repeat-token` or `cycle`, any case, `_` for `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "repeat-token" | "repeat" => Ok(BrokenPaging::RepeatToken),
            "cycle" => Ok(BrokenPaging::Cycle),
            _ => Err(format!(
                "unknown paging fault {s:?}: expected one of {}",
                BrokenPaging::NAMES.join(", ")
            )),
        }
    }
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
    /// STS AssumeRole calls, refused ones included.
    pub assume_role_calls: u64,
    /// AssumeRole calls by the account of the role asked for (valid
    /// requests only, refused ones included).
    pub assume_role_by_account: BTreeMap<String, u64>,
    /// AssumeRole calls refused with `AccessDenied` (denied account or
    /// missing/wrong `ExternalId`).
    pub assume_role_denied: u64,
    /// Organizations calls.
    pub organizations_calls: u64,
    /// Calls to the `/_emulator/` endpoints.
    pub control_calls: u64,
    /// Calls answered `ThrottlingException` (rate and bursts, 429 or 400).
    pub throttled: u64,
    /// Calls answered 503 `ServiceUnavailableException`.
    pub errors: u64,
    /// ListCopyJobs responses broken on purpose.
    pub malformed: u64,
    /// Calls refused for access: 403 `AccessDeniedException` (Backup,
    /// Organizations) and 403 `AccessDenied` (STS AssumeRole).
    pub denied: u64,
    /// Requests refused as invalid (400) or for an unknown path.
    pub bad_requests: u64,
    /// DescribeCopyJob calls for an unknown (or aged-out) id.
    pub not_found: u64,
    /// ListCopyJobs calls refused for an expired `NextToken`.
    pub expired_tokens: u64,
    /// ListCopyJobs pages answered with a broken `NextToken` on purpose.
    pub broken_pages: u64,
    /// ListCopyJobs calls without a `NextToken`: listings started.
    pub listings_started: u64,
    /// STS and Organizations calls refused by a Backup-only endpoint.
    pub refused_off_service: u64,
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
    validate_faults(&config.faults).map_err(EmulatorError::Config)?;
    let endings = &config.endings;
    for (name, rate) in [
        (
            "failed_without_completion_rate",
            endings.failed_without_completion_rate,
        ),
        ("unknown_state_rate", endings.unknown_state_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            return bad(format!("{name} {rate} is not between 0 and 1"));
        }
    }
    if endings.failed_without_completion_rate + endings.unknown_state_rate > 1.0 {
        return bad(
            "failed_without_completion_rate and unknown_state_rate add up to more than 1".into(),
        );
    }
    let unknown = &endings.unknown_state;
    if unknown.is_empty()
        || !unknown.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        || CopyJobState::values().contains(&unknown.as_str())
    {
        return bad(format!(
            "unknown_state {unknown:?} must be an upper-case state name the model does not know (not one of {})",
            CopyJobState::values().join(", ")
        ));
    }
    if config.retention.is_some_and(|r| r.is_zero()) {
        return bad("a retention of zero keeps no job; leave it unset to keep every job".into());
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

/// Checks what [`Emulator::set_faults`] and the start both accept.
fn validate_faults(faults: &Faults) -> Result<(), String> {
    for (name, rate) in [
        ("throttle_rate", faults.throttle_rate),
        ("error_rate", faults.error_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            return Err(format!("{name} {rate} is not between 0 and 1"));
        }
    }
    if let Some(b) = faults.throttle_burst {
        if b.length == 0 || b.every < b.length {
            return Err(format!(
                "throttle burst {b}: LENGTH must be at least 1 and at most EVERY"
            ));
        }
    }
    if faults.token_ttl.is_some_and(|t| t.is_zero()) || faults.token_ttl_calls == Some(0) {
        return Err("a token lifetime of zero refuses every token; leave it unset".into());
    }
    for a in faults
        .deny_accounts
        .iter()
        .chain(&faults.deny_assume_role_accounts)
        .chain(&faults.broken_paging_accounts)
    {
        if !request::is_account_id(a) {
            return Err(format!("account {a:?} is not a 12-digit account id"));
        }
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
    let endings = synth::OddEndings {
        failed_open_rate: config.endings.failed_without_completion_rate,
        unknown_rate: config.endings.unknown_state_rate,
        unknown: CopyJobState::from(config.endings.unknown_state.as_str()),
    };
    for account in &config.accounts {
        for region in &config.regions {
            let target = SynthTarget::new(
                config.seed,
                account,
                region,
                &config.accounts,
                timeline,
                resources,
            )
            .with_endings(endings.clone());
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
            .with_retention(config.retention)
            .with_extra_state(
                (config.endings.unknown_state_rate > 0.0)
                    .then(|| config.endings.unknown_state.clone()),
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

    /// The emulator's synthetic clock: the time the jobs live in, which
    /// [`Emulator::advance_clock`] moves. Responses carry it in the
    /// `x-emulator-timeline` header; their `Date` is the wall clock.
    pub fn now(&self) -> Timestamp {
        self.shared.now()
    }

    /// Moves the synthetic clock forward: new jobs appear, open ones
    /// progress, old ones age out (with a retention).
    pub fn advance_clock(&self, by: Duration) {
        self.shared
            .advance(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
    }

    /// Replaces the faults; the even spread of rates and bursts starts again.
    ///
    /// # Panics
    /// On faults [`Emulator::start`] would refuse (a rate outside 0 to 1,
    /// an empty burst, a zero token lifetime, a malformed account id).
    pub fn set_faults(&self, faults: Faults) {
        if let Err(e) = validate_faults(&faults) {
            panic!("invalid faults: {e}");
        }
        self.shared.set_faults(faults);
    }

    /// Changes how long jobs are kept ([`EmulatorConfig::retention`]).
    pub fn set_retention(&self, retention: Option<Duration>) {
        self.shared
            .set_retention(retention.filter(|r| !r.is_zero()));
    }

    /// The request counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The truth: every job of `account` in `region` at the current
    /// synthetic time, newest first, exactly as a complete ListCopyJobs
    /// without filters and without [`Faults::listing_lag`] pages through it
    /// (retention and odd endings applied), and as DescribeCopyJob shows each.
    pub fn jobs(&self, account: &str, region: &str) -> Vec<CopyJob> {
        self.jobs_as_of(account, region, self.shared.now())
    }

    /// Every job of `account` in `region` as the service showed it at `at`
    /// on the synthetic timeline (retention counted from `at`), newest first.
    pub fn jobs_as_of(&self, account: &str, region: &str, at: Timestamp) -> Vec<CopyJob> {
        self.shared
            .catalog
            .get(account, region)
            .map(|t| t.all(self.shared.view_at(at)))
            .unwrap_or_default()
    }

    /// What ListCopyJobs without filters shows now, with the current
    /// [`Faults::listing_lag`]: [`Emulator::jobs_as_of`] `now - lag`.
    pub fn listed_jobs(&self, account: &str, region: &str) -> Vec<CopyJob> {
        let lag = i64::try_from(self.shared.faults().listing_lag.as_millis()).unwrap_or(i64::MAX);
        self.jobs_as_of(account, region, self.shared.now().add_millis(-lag))
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
    fn option_names_round_trip() {
        for b in [BrokenPaging::RepeatToken, BrokenPaging::Cycle] {
            assert_eq!(b.to_string().parse::<BrokenPaging>(), Ok(b));
        }
        for t in [ThrottleStatus::TooManyRequests, ThrottleStatus::BadRequest] {
            assert_eq!(t.to_string().parse::<ThrottleStatus>(), Ok(t));
        }
        let burst = Burst {
            length: 5,
            every: 100,
        };
        assert_eq!(burst.to_string().parse::<Burst>(), Ok(burst));
        for bad in ["5", "0/5", "6/5", "a/b"] {
            assert!(bad.parse::<Burst>().is_err(), "{bad}");
        }
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
            EmulatorConfig {
                faults: Faults {
                    throttle_burst: Some(Burst {
                        length: 0,
                        every: 5,
                    }),
                    ..Faults::default()
                },
                ..ok.clone()
            },
            EmulatorConfig {
                faults: Faults {
                    token_ttl_calls: Some(0),
                    ..Faults::default()
                },
                ..ok.clone()
            },
            EmulatorConfig {
                faults: Faults {
                    deny_assume_role_accounts: vec!["x".into()],
                    ..Faults::default()
                },
                ..ok.clone()
            },
            EmulatorConfig {
                retention: Some(Duration::ZERO),
                ..ok.clone()
            },
            EmulatorConfig {
                endings: Endings {
                    failed_without_completion_rate: 0.6,
                    unknown_state_rate: 0.6,
                    ..Endings::default()
                },
                ..ok.clone()
            },
            EmulatorConfig {
                endings: Endings {
                    unknown_state: "FAILED".into(),
                    ..Endings::default()
                },
                ..ok.clone()
            },
            EmulatorConfig {
                endings: Endings {
                    unknown_state: "cancelled".into(),
                    ..Endings::default()
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
        let range = target.range(catalog::View::at(config.start), &catalog::Filter::default());
        assert_eq!(range, 0..50_000);
        let newest = target.job(range.end - 1, config.start);
        assert!(newest.creation_date.unwrap() <= config.start);
    }
}
