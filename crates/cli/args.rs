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

    /// Send requests to this endpoint instead of AWS (e.g. the emulator).
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// Account to read; repeat for several. Needs --role-arn unless it is the
    /// credentials' own account.
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

    /// How many targets (or DescribeCopyJob calls) run at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Attempts per AWS call, the first included (throttling and 5xx are retried
    /// with exponential backoff).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,

    /// Backoff before the first retry, in milliseconds (later ones grow).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub initial_backoff_ms: u64,

    /// Seconds one attempt may take before it is abandoned.
    #[arg(long, default_value_t = 20, value_name = "SECONDS")]
    pub attempt_timeout: u64,

    /// Seconds one call may take, retries included.
    #[arg(long, default_value_t = 50, value_name = "SECONDS")]
    pub operation_timeout: u64,
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
            initial_backoff: Duration::from_millis(self.initial_backoff_ms),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(self.attempt_timeout),
            operation_timeout: Duration::from_secs(self.operation_timeout),
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

/// Reads a time given as RFC 3339 or as an age (`7d`, `12h`, `30m`).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_time_or_age(text, Timestamp::now()).map_err(|e| e.to_string())
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
    #[arg(long, alias = "by-state", value_parser = parse_state)]
    pub state: Option<CopyJobState>,
    /// Only jobs created after this time (RFC 3339 or an age: 7d, 12h, 30m).
    #[arg(long, alias = "by-created-after", value_parser = parse_time, value_name = "TIME")]
    pub created_after: Option<Timestamp>,
    /// Only jobs created before this time.
    #[arg(long, alias = "by-created-before", value_parser = parse_time, value_name = "TIME")]
    pub created_before: Option<Timestamp>,
    /// Only jobs completed after this time.
    #[arg(long, alias = "by-complete-after", value_parser = parse_time, value_name = "TIME")]
    pub complete_after: Option<Timestamp>,
    /// Only jobs completed before this time.
    #[arg(long, alias = "by-complete-before", value_parser = parse_time, value_name = "TIME")]
    pub complete_before: Option<Timestamp>,
    /// Only jobs for this resource type (EC2, EBS, RDS, S3, ...).
    #[arg(long, alias = "by-resource-type")]
    pub resource_type: Option<String>,
    /// Only jobs for this resource.
    #[arg(long, alias = "by-resource-arn", value_name = "ARN")]
    pub resource_arn: Option<String>,
    /// Only jobs copying into this vault.
    #[arg(long, alias = "by-destination-vault-arn", value_name = "ARN")]
    pub destination_vault_arn: Option<String>,
    /// Only jobs of this account (for an organization's management account).
    #[arg(long, alias = "by-account-id", value_name = "ID")]
    pub account_id: Option<String>,
    /// Only the children of this composite job.
    #[arg(long, alias = "by-parent-job-id", value_name = "ID")]
    pub parent_job_id: Option<String>,
    /// Only jobs whose status message is in this category (e.g. AccessDenied).
    #[arg(long, alias = "by-message-category")]
    pub message_category: Option<String>,
    /// Only copies of this recovery point.
    #[arg(long, alias = "by-source-recovery-point-arn", value_name = "ARN")]
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
}

impl std::fmt::Debug for DbArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbArgs")
            .field("database_url", &redact_url(&self.database_url))
            .finish()
    }
}

/// Parses `30s`, `5m`, `2h`, `1d` into a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let now = Timestamp::from_millis(0).map_err(|e| e.to_string())?;
    match Timestamp::parse_time_or_age(text, now) {
        Ok(t) if t.as_millis() <= 0 && !text.contains('-') => {
            Ok(Duration::from_millis(t.as_millis().unsigned_abs()))
        }
        _ => Err(format!(
            "invalid duration {text:?}: expected a number and a unit, e.g. 30s, 5m, 2h, 7d"
        )),
    }
}

/// The URL with its password replaced by `***`, for messages and `Debug`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://audit:s3cr3t@db:5432/x?sslmode=require"),
            "postgres://audit:***@db:5432/x?sslmode=require"
        );
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
    }

    #[test]
    fn durations_and_states_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_state("failed"), Ok(CopyJobState::Failed));
        assert!(parse_state("DONE").is_err());
    }
}
