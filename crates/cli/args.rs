//! Argument groups shared by several commands.

use std::time::Duration;

use anyhow::{bail, Context};
use backup_fetch::{FetchConfig, Fetcher, ListFilter, Shard, Target};
use backup_model::{CopyJobState, Timestamp};
use clap::{Args, ValueEnum};

/// Where and as whom to call AWS Backup.
#[derive(Debug, Args, Clone)]
pub struct AwsArgs {
    /// AWS region to read; repeat for several. Each (account, region) pair is a
    /// target. Defaults to the profile's or AWS_REGION's region.
    #[arg(
        long = "region",
        value_name = "REGION",
        env = "AWS_REGION",
        value_delimiter = ','
    )]
    pub regions: Vec<String>,

    /// Named profile from ~/.aws/config (otherwise the standard credential chain).
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,

    /// Send AWS Backup requests to this endpoint (a VPC endpoint, the
    /// emulator), as the AWS CLI's --endpoint-url: STS and Organizations keep
    /// their own endpoints. Those follow the SDK's settings:
    /// AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_ORGANIZATIONS,
    /// AWS_ENDPOINT_URL_BACKUP, or AWS_ENDPOINT_URL for every service.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Account to read; repeat for several. Without --role-arn, each must be
    /// the credentials' own account (checked with STS GetCallerIdentity
    /// before anything is read).
    #[arg(long = "account", value_name = "ID", value_delimiter = ',')]
    pub accounts: Vec<String>,

    /// Role to assume in each account; {account} stands for the account id,
    /// e.g. arn:aws:iam::{account}:role/BackupAudit.
    #[arg(long, value_name = "TEMPLATE")]
    pub role_arn: Option<String>,

    /// Also read every active account of the AWS Organization
    /// (organizations:ListAccounts, called with the credentials themselves:
    /// the management account or a delegated administrator). Needs
    /// --role-arn; suspended and closed accounts are skipped.
    #[arg(long)]
    pub accounts_from_organization: bool,

    /// Read only shard K of N of the (account, region) targets, e.g. 2/3: N
    /// workers given 1/N to N/N split the targets between them, each target
    /// to exactly one, by a stable hash of its name.
    #[arg(long, value_name = "K/N", env = "BACKUP_AUDIT_SHARD")]
    pub shard: Option<Shard>,

    /// External id required by the role's trust policy.
    #[arg(
        long,
        value_name = "ID",
        env = "BACKUP_AUDIT_EXTERNAL_ID",
        hide_env_values = true
    )]
    pub external_id: Option<String>,

    /// Role session name, as CloudTrail shows it.
    #[arg(long, default_value = "backup-audit")]
    pub session_name: String,

    /// How many targets (or DescribeCopyJob calls) run at once. The work
    /// mostly waits on AWS, so many run at once. Neither database sessions
    /// (see --db-connections) nor memory (see `ingest --max-jobs-in-memory`)
    /// grow with it.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// Attempts per AWS call, the first included (throttling and 5xx are retried
    /// with exponential backoff).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,

    /// Backoff before the first retry (later ones grow), e.g. 1s, 500ms.
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DURATION")]
    pub initial_backoff: Duration,

    /// The former spelling of --initial-backoff, in milliseconds.
    #[arg(
        long,
        hide = true,
        value_name = "MS",
        conflicts_with = "initial_backoff"
    )]
    pub initial_backoff_ms: Option<u64>,

    /// How long one attempt may take before it is abandoned, e.g. 20s.
    #[arg(long, value_parser = parse_duration, default_value = "20s", value_name = "DURATION")]
    pub attempt_timeout: Duration,

    /// How long one call may take, retries included, e.g. 50s, 2m.
    #[arg(long, value_parser = parse_duration, default_value = "50s", value_name = "DURATION")]
    pub operation_timeout: Duration,
}

impl AwsArgs {
    /// The fetch configuration these flags describe.
    pub fn fetch_config(&self) -> anyhow::Result<FetchConfig> {
        if self.role_arn.is_some() && self.accounts.is_empty() && !self.accounts_from_organization {
            bail!("--role-arn needs at least one --account (or --accounts-from-organization)");
        }
        if self.accounts_from_organization && self.role_arn.is_none() {
            bail!(
                "--accounts-from-organization needs --role-arn, the role to assume in each \
                 account, e.g. 'arn:aws:iam::{{account}}:role/BackupAudit'"
            );
        }
        if let Some(template) = &self.role_arn {
            if !template.contains("{account}")
                && (self.accounts.len() > 1 || self.accounts_from_organization)
            {
                bail!("--role-arn must contain {{account}} when several accounts are given");
            }
        }
        for account in &self.accounts {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                bail!("--account {account:?} is not a 12-digit AWS account id");
            }
        }
        Ok(FetchConfig {
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            region: self.regions.first().cloned(),
            role_arn_template: self.role_arn.clone(),
            external_id: self.external_id.clone(),
            session_name: self.session_name.clone(),
            max_attempts: self.max_attempts,
            initial_backoff: self
                .initial_backoff_ms
                .map_or(self.initial_backoff, Duration::from_millis),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: self.attempt_timeout,
            operation_timeout: self.operation_timeout,
            concurrency: usize::from(self.concurrency),
        })
    }

    /// Loads the AWS configuration and lists the targets.
    pub async fn fetcher_and_targets(&self) -> anyhow::Result<(Fetcher, Vec<Target>)> {
        let fetcher = Fetcher::new(self.fetch_config()?).await;
        let mut regions = self.regions.clone();
        if regions.is_empty() {
            match fetcher.default_region() {
                Some(region) => regions.push(region),
                None => bail!(
                    "no region: pass --region (repeatable) or set AWS_REGION or a profile region"
                ),
            }
        }
        regions.sort();
        regions.dedup();
        let mut accounts = self.accounts.clone();
        if self.role_arn.is_none() {
            // Without a role, every target is read with the credentials
            // themselves: an --account of another account would be recorded
            // as read when it was not. Asked once, before anything is read.
            let own = fetcher
                .caller_account(&regions[0])
                .await
                .context("cannot learn the account of the credentials (sts:GetCallerIdentity)")?;
            if let Some(other) = accounts.iter().find(|a| **a != own) {
                bail!(
                    "--account {other} is not the account of the credentials ({own}); \
                     to read another account, pass --role-arn with a role to assume in it, \
                     e.g. 'arn:aws:iam::{{account}}:role/BackupAudit'"
                );
            }
            accounts = vec![own];
        }
        if self.accounts_from_organization {
            let listed = fetcher
                .organization_accounts()
                .await
                .context("cannot list the accounts of the organization")?;
            if listed.is_empty() {
                bail!("the organization lists no active account");
            }
            accounts.extend(listed);
        }
        accounts.sort();
        accounts.dedup();
        let mut targets = Target::cartesian(&accounts, &regions);
        if let Some(shard) = self.shard {
            let all = targets.len();
            targets = shard.select(&targets);
            tracing::info!(%shard, targets = targets.len(), of = all, "this worker's share of the targets");
        }
        Ok((fetcher, targets))
    }
}

/// Reads a time given as RFC 3339 or as an age before now, in the grammar
/// of [`parse_duration`] (`7d`, `12h`, `1h30m`).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    time_or_age(text, Timestamp::now())
}

/// `text` as an RFC 3339 time, or as an age before `now`.
pub fn time_or_age(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    if let Ok(age) = parse_duration(text) {
        let millis = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        return Ok(now.add_millis(-millis));
    }
    Timestamp::parse_rfc3339(text).map_err(|e| {
        format!(
            "invalid time {text:?} ({e}): expected RFC 3339 (2026-03-01T00:00:00Z) or an age \
             such as 7d, 12h, 1h30m"
        )
    })
}

/// Reads a copy job state, accepting the five the API names.
fn parse_state(text: &str) -> Result<CopyJobState, String> {
    let state = CopyJobState::from(text.to_ascii_uppercase().as_str());
    match state {
        CopyJobState::Unknown(_) => Err(format!(
            "unknown state {text:?}; expected one of {}",
            CopyJobState::values().join(", ")
        )),
        known => Ok(known),
    }
}

/// The ListCopyJobs filters, named as the model's members and accepted under
/// the AWS CLI's names too (`--by-state`, `--by-created-after`, ...).
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Only jobs in this state (CREATED, RUNNING, COMPLETED, FAILED, PARTIAL).
    #[arg(long, visible_alias = "by-state", value_parser = parse_state)]
    pub state: Option<CopyJobState>,
    /// Only jobs created after this time (RFC 3339 or an age: 7d, 12h, 30m).
    #[arg(long, visible_alias = "by-created-after", value_parser = parse_time, value_name = "TIME")]
    pub created_after: Option<Timestamp>,
    /// Only jobs created before this time.
    #[arg(long, visible_alias = "by-created-before", value_parser = parse_time, value_name = "TIME")]
    pub created_before: Option<Timestamp>,
    /// Only jobs completed after this time.
    #[arg(long, visible_alias = "by-complete-after", value_parser = parse_time, value_name = "TIME")]
    pub complete_after: Option<Timestamp>,
    /// Only jobs completed before this time.
    #[arg(long, visible_alias = "by-complete-before", value_parser = parse_time, value_name = "TIME")]
    pub complete_before: Option<Timestamp>,
    /// Only jobs for this resource type (EC2, EBS, RDS, S3, ...).
    #[arg(long, visible_alias = "by-resource-type")]
    pub resource_type: Option<String>,
    /// Only jobs for this resource.
    #[arg(long, visible_alias = "by-resource-arn", value_name = "ARN")]
    pub resource_arn: Option<String>,
    /// Only jobs copying into this vault.
    #[arg(long, visible_alias = "by-destination-vault-arn", value_name = "ARN")]
    pub destination_vault_arn: Option<String>,
    /// Only jobs of this account (for an organization's management account).
    #[arg(long, visible_alias = "by-account-id", value_name = "ID")]
    pub account_id: Option<String>,
    /// Only the children of this composite job.
    #[arg(long, visible_alias = "by-parent-job-id", value_name = "ID")]
    pub parent_job_id: Option<String>,
    /// Only jobs whose status message is in this category (e.g. AccessDenied).
    #[arg(long, visible_alias = "by-message-category")]
    pub message_category: Option<String>,
    /// Only copies of this recovery point.
    #[arg(
        long,
        visible_alias = "by-source-recovery-point-arn",
        value_name = "ARN"
    )]
    pub source_recovery_point_arn: Option<String>,
    /// Jobs per page, 1 to 1000.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub max_results: i32,
}

impl FilterArgs {
    /// The filter to send.
    pub fn to_filter(&self) -> ListFilter {
        ListFilter {
            state: self.state.clone(),
            created_after: self.created_after,
            created_before: self.created_before,
            complete_after: self.complete_after,
            complete_before: self.complete_before,
            resource_type: self.resource_type.clone(),
            resource_arn: self.resource_arn.clone(),
            destination_vault_arn: self.destination_vault_arn.clone(),
            account_id: self.account_id.clone(),
            parent_job_id: self.parent_job_id.clone(),
            message_category: self.message_category.clone(),
            source_recovery_point_arn: self.source_recovery_point_arn.clone(),
            max_results: Some(self.max_results),
        }
    }
}

/// How jobs are printed: `--format` (or `--output`, as the AWS CLI spells
/// it) and `--wide`.
#[derive(Debug, Args, Clone)]
pub struct JobOutput {
    /// Output format: one canonical CopyJob JSON object per line, or a table
    /// for people fitted to the terminal's width.
    #[arg(long = "format", visible_alias = "output", value_enum, default_value_t = JobFormat::Json)]
    pub format: JobFormat,

    /// For tables: also the job id and the status message, nothing shortened.
    #[arg(long)]
    pub wide: bool,
}

/// How jobs are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JobFormat {
    /// One canonical CopyJob JSON object per line.
    Json,
    /// A table for people.
    Table,
}

/// The PostgreSQL database.
#[derive(Args, Clone)]
pub struct DbArgs {
    /// PostgreSQL URL, e.g. postgres://backup_audit@db.example.com/audit?sslmode=verify-full.
    /// Prefer the DATABASE_URL environment variable: a password on the command
    /// line is visible to other users of the machine.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: String,

    #[command(flatten)]
    pub session: SessionArgs,
}

impl std::fmt::Debug for DbArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbArgs")
            .field("database_url", &redact_url(&self.database_url))
            .field("session", &self.session)
            .finish()
    }
}

/// Limits of every database session, set by the server itself so that no
/// wait lasts for ever. `0s` turns one off.
#[derive(Debug, Args, Clone)]
pub struct SessionArgs {
    /// Longest wait for a table or row lock another session holds
    /// (PostgreSQL lock_timeout), e.g. behind a long transaction or a
    /// migration; the statement then fails and its target with it.
    #[arg(long, value_parser = parse_duration, default_value = "1m", value_name = "DURATION")]
    pub db_lock_timeout: Duration,

    /// Longest one statement may run (statement_timeout). A `migrate` that
    /// rebuilds a very large history may need more.
    #[arg(long, value_parser = parse_duration, default_value = "30m", value_name = "DURATION")]
    pub db_statement_timeout: Duration,

    /// How long a session may stay idle inside a transaction before the
    /// server ends it and releases its locks
    /// (idle_in_transaction_session_timeout).
    #[arg(long, value_parser = parse_duration, default_value = "10m", value_name = "DURATION")]
    pub db_idle_in_transaction_timeout: Duration,

    /// The most database connections of the pool, whatever --concurrency:
    /// writes and run bookkeeping take turns on them. `ingest` opens one
    /// more session, which holds the ingest locks of all its targets.
    #[arg(
        long,
        value_name = "N",
        default_value_t = backup_ingest::ConnectOptions::DEFAULT_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub db_connections: u32,
}

impl SessionArgs {
    /// The connection options these flags describe.
    pub fn connect_options(&self) -> backup_ingest::ConnectOptions {
        backup_ingest::ConnectOptions {
            lock_timeout: self.db_lock_timeout,
            statement_timeout: self.db_statement_timeout,
            idle_in_transaction_timeout: self.db_idle_in_transaction_timeout,
            max_connections: self.db_connections,
            ..backup_ingest::ConnectOptions::default()
        }
    }
}

/// Reads a duration, the one grammar of every duration flag: numbers with
/// units, one after another (`90s`, `500ms`, `1h30m`, `7d`, `2w`), as
/// humantime reads them. A number without a unit is refused rather than
/// guessed.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid duration {text:?}: give a unit, e.g. {text}s, {text}m or {text}h"
        ));
    }
    humantime::parse_duration(text).map_err(|e| {
        format!(
            "invalid duration {text:?} ({e}): expected numbers with units, e.g. 90s, 500ms, \
             1h30m, 7d"
        )
    })
}

/// The URL with its passwords replaced by `***`, for messages and `Debug`
/// (one implementation, backup-ingest's, parses the URL).
pub use backup_ingest::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_in_debug() {
        for url in [
            "postgres://audit:s3cr3t@db:5432/x?sslmode=require",
            "postgres://audit@db:5432/x?sslmode=require&password=s3cr3t",
        ] {
            let db = DbArgs {
                database_url: url.to_owned(),
                session: SessionArgs {
                    db_lock_timeout: Duration::from_secs(1),
                    db_statement_timeout: Duration::from_secs(1),
                    db_idle_in_transaction_timeout: Duration::from_secs(1),
                    db_connections: 4,
                },
            };
            let debug = format!("{db:?}");
            assert!(!debug.contains("s3cr3t"), "{debug}");
            assert!(debug.contains("sslmode=require"), "{debug}");
        }
    }

    #[test]
    fn durations_and_states_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("20").unwrap_err().contains("20s"));
        assert!(parse_duration("soon").is_err());
        let now = Timestamp::parse_rfc3339("2026-03-01T12:00:00Z").unwrap();
        assert_eq!(
            time_or_age("1h30m", now).unwrap().to_string(),
            "2026-03-01T10:30:00.000Z"
        );
        assert_eq!(
            time_or_age("2026-02-01T00:00:00Z", now)
                .unwrap()
                .to_string(),
            "2026-02-01T00:00:00.000Z"
        );
        assert!(time_or_age("last tuesday", now)
            .unwrap_err()
            .contains("RFC 3339"));
        assert_eq!(parse_state("failed"), Ok(CopyJobState::Failed));
        assert!(parse_state("DONE").is_err());
    }
}
