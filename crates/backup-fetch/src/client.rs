//! Clients per target, and the DescribeCopyJob and ListCopyJobs calls.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_backup::config::retry::RetryPartition;
use aws_sdk_backup::types::CopyJobState as SdkState;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextRef, Error as OperationError, Output,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
use aws_smithy_runtime_api::client::ser_de::{DeserializeResponse, SharedResponseDeserializer};
use aws_smithy_types::config_bag::{ConfigBag, FrozenLayer, Layer};
use aws_smithy_types::DateTime;
use backup_model::{CopyJob, CopyJobState, DescribeCopyJobOutput, Timestamp};
use futures::Stream;

use crate::error::{FetchError, FetchErrorKind};
use crate::page::Page;

/// How to reach AWS Backup. Holds no secret: credentials come from the
/// standard chain (environment, profile, SSO, instance or task role).
#[derive(Clone)]
pub struct FetchConfig {
    /// A named profile from `~/.aws/config` instead of the default chain.
    pub profile: Option<String>,
    /// Another endpoint for AWS Backup only (a VPC endpoint, the emulator),
    /// as the AWS CLI's `--endpoint-url`. STS and Organizations keep the
    /// endpoints of the SDK configuration: their standard ones, or the
    /// SDK's settings (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_ORGANIZATIONS`,
    /// `AWS_ENDPOINT_URL` for every service).
    pub endpoint_url: Option<String>,
    /// The region for STS and configuration; when unset, the profile's or
    /// the environment's.
    pub region: Option<String>,
    /// A role to assume in each account, with `{account}` standing for the
    /// account id, e.g. `arn:aws:iam::{account}:role/BackupAudit`.
    pub role_arn_template: Option<String>,
    /// The external id the role's trust policy asks for, if any.
    pub external_id: Option<String>,
    /// The role session name, shown in CloudTrail.
    pub session_name: String,
    /// Attempts per call, including the first (the SDK's standard retry mode).
    pub max_attempts: u32,
    /// The first retry's backoff; later ones grow exponentially with jitter.
    pub initial_backoff: Duration,
    /// How long to wait for a TCP/TLS connection.
    pub connect_timeout: Duration,
    /// How long one attempt may take.
    pub attempt_timeout: Duration,
    /// How long a call may take, retries included.
    pub operation_timeout: Duration,
    /// How many calls or targets run at once.
    pub concurrency: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            profile: None,
            endpoint_url: None,
            region: None,
            role_arn_template: None,
            external_id: None,
            session_name: "backup-audit".to_owned(),
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(20),
            operation_timeout: Duration::from_secs(50),
            concurrency: 4,
        }
    }
}

impl fmt::Debug for FetchConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchConfig")
            .field("profile", &self.profile)
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field("role_arn_template", &self.role_arn_template)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "<redacted>"),
            )
            .field("session_name", &self.session_name)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("connect_timeout", &self.connect_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

/// One (account, region) pair to read copy jobs from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// The account: given, or found with STS GetCallerIdentity.
    pub account: Option<String>,
    /// The AWS region.
    pub region: String,
}

impl Target {
    /// Every (account, region) pair; with no accounts, the caller's own account
    /// in each region.
    pub fn cartesian(accounts: &[String], regions: &[String]) -> Vec<Target> {
        if accounts.is_empty() {
            return regions
                .iter()
                .map(|region| Target {
                    account: None,
                    region: region.clone(),
                })
                .collect();
        }
        accounts
            .iter()
            .flat_map(|account| {
                regions.iter().map(move |region| Target {
                    account: Some(account.clone()),
                    region: region.clone(),
                })
            })
            .collect()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.account {
            Some(account) => write!(f, "{account}/{}", self.region),
            None => write!(f, "{}", self.region),
        }
    }
}

/// The ListCopyJobs filters, each sent to the service (never applied locally).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    /// `ByState`.
    pub state: Option<CopyJobState>,
    /// `ByCreatedAfter`.
    pub created_after: Option<Timestamp>,
    /// `ByCreatedBefore`.
    pub created_before: Option<Timestamp>,
    /// `ByCompleteAfter`.
    pub complete_after: Option<Timestamp>,
    /// `ByCompleteBefore`.
    pub complete_before: Option<Timestamp>,
    /// `ByResourceType`.
    pub resource_type: Option<String>,
    /// `ByResourceArn`.
    pub resource_arn: Option<String>,
    /// `ByDestinationVaultArn`.
    pub destination_vault_arn: Option<String>,
    /// `ByAccountId`.
    pub account_id: Option<String>,
    /// `ByParentJobId`.
    pub parent_job_id: Option<String>,
    /// `ByMessageCategory`.
    pub message_category: Option<String>,
    /// `BySourceRecoveryPointArn`.
    pub source_recovery_point_arn: Option<String>,
    /// `MaxResults`, 1 to 1000; the service's default when unset.
    pub max_results: Option<i32>,
}

/// The most jobs the first page of a listing asks for. Most listings of an
/// incremental run hold a few jobs; a small first page lets a caller that
/// reserves memory for every page in flight (backup-ingest's budget) keep
/// hundreds of such requests waiting on the network at once. A listing with
/// more jobs costs one call more.
pub const FIRST_PAGE_MAX_RESULTS: i32 = 100;

impl ListFilter {
    /// The filter of page `index` (0 first) of a listing: the first page asks
    /// for at most [`FIRST_PAGE_MAX_RESULTS`] jobs, the others for
    /// `max_results`.
    pub fn for_page(&self, index: u64) -> ListFilter {
        if index > 0 {
            return self.clone();
        }
        ListFilter {
            max_results: Some(
                self.max_results
                    .unwrap_or(1000)
                    .clamp(1, 1000)
                    .min(FIRST_PAGE_MAX_RESULTS),
            ),
            ..self.clone()
        }
    }

    /// The most jobs page `index` of a listing can hold.
    pub fn page_capacity(&self, index: u64) -> usize {
        let page = self.for_page(index);
        usize::try_from(page.max_results.unwrap_or(1000).clamp(1, 1000)).unwrap_or(1000)
    }
}

/// Call counters of one target client.
#[derive(Debug, Default)]
pub struct Metrics {
    operations: AtomicU64,
    attempts: AtomicU64,
    pages: AtomicU64,
}

/// A snapshot of [`Metrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// HTTP requests sent, retries included.
    pub api_calls: u64,
    /// Requests that were retries.
    pub retries: u64,
    /// ListCopyJobs pages received.
    pub pages: u64,
}

impl Metrics {
    /// The counts so far.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let operations = self.operations.load(Ordering::Relaxed);
        let attempts = self.attempts.load(Ordering::Relaxed);
        MetricsSnapshot {
            api_calls: attempts,
            retries: attempts.saturating_sub(operations),
            pages: self.pages.load(Ordering::Relaxed),
        }
    }
}

/// Counts every HTTP attempt, so retries can be reported.
#[derive(Debug)]
struct AttemptCounter(Arc<Metrics>);

impl Intercept for AttemptCounter {
    fn name(&self) -> &'static str {
        "AttemptCounter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// What [`BodyCapture`] keeps of the last attempt's response.
#[derive(Debug, Default)]
struct Captured {
    body: Option<bytes::Bytes>,
    date: Option<String>,
    /// backup-emulator's `x-emulator-timeline`: the time of the synthetic
    /// timeline its jobs live in (its `Date` follows the wall clock, as AWS's
    /// does). AWS never sends it.
    timeline: Option<String>,
    request_id: Option<String>,
}

impl Captured {
    /// When the service produced the response: the emulator's timeline, else
    /// the `Date` header, else our clock.
    fn observed_at(&self) -> Timestamp {
        self.timeline
            .as_deref()
            .and_then(|t| Timestamp::parse_rfc3339(t).ok())
            .or_else(|| self.date.as_deref().and_then(parse_http_date))
            .unwrap_or_else(Timestamp::now)
    }

    fn keep(&mut self, response: &HttpResponse) {
        self.body = response.body().bytes().map(bytes::Bytes::copy_from_slice);
        let header = |name: &str| response.headers().get(name).map(str::to_owned);
        self.date = header("date");
        self.timeline = header("x-emulator-timeline");
        self.request_id = header("x-amzn-requestid").or_else(|| header("x-amz-request-id"));
    }
}

/// Keeps the raw body of a call's response, so it can be decoded with the
/// lossless model: the SDK's own types drop members newer than the SDK.
///
/// A successful response is not parsed by the SDK at all: the operation's
/// deserializer is wrapped ([`KeepBody`]) so that it keeps the body and
/// answers an empty output, and the body is decoded once, by the model.
/// Error responses still go to the SDK's deserializer, which gives their
/// codes, messages and retry classes.
#[derive(Debug, Clone)]
struct BodyCapture {
    captured: Arc<Mutex<Captured>>,
    operation: &'static Operation,
}

/// What [`KeepBody`] needs of an operation: the SDK's configuration layer
/// of the operation, which holds its deserializer (for error responses),
/// and its output, empty (the type the SDK expects back).
#[derive(Debug)]
struct Operation {
    sdk: FrozenLayer,
    empty: fn() -> Output,
}

static LIST_COPY_JOBS: LazyLock<Operation> = LazyLock::new(|| Operation {
    sdk: aws_sdk_backup::operation::list_copy_jobs::ListCopyJobs::new()
        .config()
        .unwrap_or_else(|| Layer::new("ListCopyJobs").freeze()),
    empty: || {
        Output::erase(
            aws_sdk_backup::operation::list_copy_jobs::ListCopyJobsOutput::builder().build(),
        )
    },
});

static DESCRIBE_COPY_JOB: LazyLock<Operation> = LazyLock::new(|| Operation {
    sdk: aws_sdk_backup::operation::describe_copy_job::DescribeCopyJob::new()
        .config()
        .unwrap_or_else(|| Layer::new("DescribeCopyJob").freeze()),
    empty: || {
        Output::erase(
            aws_sdk_backup::operation::describe_copy_job::DescribeCopyJobOutput::builder().build(),
        )
    },
});

impl BodyCapture {
    fn new(operation: &'static Operation) -> Self {
        BodyCapture {
            captured: Arc::default(),
            operation,
        }
    }

    fn take(&self) -> Captured {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Captured> {
        self.captured.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Intercept for BodyCapture {
    fn name(&self) -> &'static str {
        "BodyCapture"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Once per operation, before the first attempt: the orchestrator
        // reads the deserializer from the bag after each response.
        cfg.interceptor_state()
            .store_put(SharedResponseDeserializer::new(KeepBody(self.clone())));
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Error responses (and successful ones when the wrapper was not in
        // place): the body is in memory here, the orchestrator read it whole
        // before deserializing a non-streaming operation.
        let mut captured = self.lock();
        if captured.body.is_none() {
            captured.keep(context.response());
        }
        Ok(())
    }
}

/// The deserializer [`BodyCapture`] puts in place of the operation's.
#[derive(Debug)]
struct KeepBody(BodyCapture);

impl DeserializeResponse for KeepBody {
    fn deserialize_nonstreaming_with_config(
        &self,
        response: &HttpResponse,
        cfg: &ConfigBag,
    ) -> Result<Output, OrchestratorError<OperationError>> {
        let operation = self.0.operation;
        if response.status().is_success() && response.body().bytes().is_some() {
            self.0.lock().keep(response);
            return Ok((operation.empty)());
        }
        match operation.sdk.load::<SharedResponseDeserializer>() {
            Some(sdk) => sdk.deserialize_nonstreaming_with_config(response, cfg),
            None => Err(OrchestratorError::other(
                "the SDK has no deserializer for this operation",
            )),
        }
    }
}

/// Loads the AWS configuration once and makes clients per target.
#[derive(Clone)]
pub struct Fetcher {
    base: SdkConfig,
    config: FetchConfig,
    /// The role credentials of each account, by role ARN: assumed once and
    /// shared by every region of the account (see [`Fetcher::client`]).
    roles: Arc<Mutex<HashMap<String, SharedCredentialsProvider>>>,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// Loads the standard AWS configuration (environment, profile, SSO,
    /// instance or task role) with this tool's retries and timeouts.
    pub async fn new(config: FetchConfig) -> Fetcher {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &config.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &config.region {
            // A region given up front spares the lookup chain (and its
            // instance-metadata probe off EC2).
            loader = loader.region(Region::new(region.clone()));
        }
        let base = loader.load().await;
        Self::with_sdk_config(base, config)
    }

    /// Uses a configuration built by the caller (tests give static credentials).
    pub fn with_sdk_config(base: SdkConfig, config: FetchConfig) -> Fetcher {
        // One HTTP client (one connection pool, one TLS configuration) for
        // every target's client and STS: without it, each client built per
        // target makes its own default one, about 0.2 MB and a few
        // milliseconds of CPU (root certificates) per target in flight.
        let http_client = base.http_client().unwrap_or_else(shared_http_client);
        let builder = base
            .into_builder()
            .http_client(http_client)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(config.max_attempts.max(1))
                    .with_initial_backoff(config.initial_backoff),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(config.connect_timeout)
                    .operation_attempt_timeout(config.attempt_timeout)
                    .operation_timeout(config.operation_timeout)
                    .build(),
            );
        // `config.endpoint_url` is not set here, where STS and Organizations
        // would take it too: only the AWS Backup client gets it.
        Fetcher {
            base: builder.build(),
            config,
            roles: Arc::default(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// The loaded configuration, retries, timeouts and endpoint included.
    pub(crate) fn sdk_config(&self) -> &SdkConfig {
        &self.base
    }

    /// The region of the loaded configuration (AWS_REGION, the profile), if any.
    pub fn default_region(&self) -> Option<String> {
        self.base.region().map(|r| r.to_string())
    }

    /// A client for `target`: assumes the account's role when a role template
    /// is set, and finds the account with STS GetCallerIdentity when the
    /// target does not name one.
    ///
    /// The role of an account is assumed once per `Fetcher`: its credentials
    /// are cached and shared by every region of that account, and assumed
    /// again only when they are about to expire ([`RoleCredentials`]). Each
    /// target has a retry partition of its own, so throttling in one target
    /// backs off that target without draining the retry quota of the others.
    pub async fn client(&self, target: &Target) -> Result<TargetClient, FetchError> {
        let region = Region::new(target.region.clone());
        let mut sdk_config = self.base.to_builder().region(region.clone()).build();
        if let (Some(template), Some(account)) = (&self.config.role_arn_template, &target.account) {
            let provider = self.role_credentials(template.replace("{account}", account), &region);
            sdk_config = sdk_config
                .to_builder()
                .credentials_provider(provider)
                .build();
        }
        let account = match &target.account {
            Some(account) => account.clone(),
            None => caller_account(&sdk_config).await?,
        };
        let metrics = Arc::new(Metrics::default());
        let mut backup_config = aws_sdk_backup::config::Builder::from(&sdk_config);
        if let Some(url) = &self.config.endpoint_url {
            backup_config = backup_config.endpoint_url(url);
        }
        let backup_config = backup_config
            .interceptor(AttemptCounter(metrics.clone()))
            .retry_partition(RetryPartition::new(format!(
                "backup-audit/{account}/{}",
                target.region
            )))
            .build();
        Ok(TargetClient {
            target: Target {
                account: Some(account),
                region: target.region.clone(),
            },
            client: aws_sdk_backup::Client::from_conf(backup_config),
            metrics,
        })
    }
}

impl Fetcher {
    /// The shared credentials of `role_arn`, made on first use. STS is called
    /// in the configured region when there is one (else the first target's),
    /// so every region of the account shares one session.
    fn role_credentials(
        &self,
        role_arn: String,
        target_region: &Region,
    ) -> SharedCredentialsProvider {
        let mut roles = self.roles.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(provider) = roles.get(&role_arn) {
            return provider.clone();
        }
        let sts_region = self
            .base
            .region()
            .cloned()
            .unwrap_or_else(|| target_region.clone());
        let sts_config = self.base.to_builder().region(sts_region.clone()).build();
        let mut builder = AssumeRoleProvider::builder(role_arn.clone())
            .session_name(self.config.session_name.clone())
            .region(sts_region)
            .configure(&sts_config);
        if let Some(external_id) = &self.config.external_id {
            builder = builder.external_id(external_id.clone());
        }
        let provider = SharedCredentialsProvider::new(RoleCredentials {
            builder: tokio::sync::Mutex::new(Some(builder)),
            state: tokio::sync::Mutex::new(RoleState::default()),
        });
        roles.insert(role_arn, provider.clone());
        provider
    }
}

/// The SDK's default HTTPS client (hyper 1, rustls with aws-lc, the proxy
/// of the environment), made once to be shared by every client.
fn shared_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// How long before their expiry cached role credentials are renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// An account's role credentials, assumed on first use and cached until
/// [`RENEW_BEFORE`] their expiry. Concurrent callers (the account's regions)
/// wait for one AssumeRole call instead of each making their own.
struct RoleCredentials {
    /// The provider's builder, until the first call builds it (building is async).
    builder: tokio::sync::Mutex<Option<aws_config::sts::AssumeRoleProviderBuilder>>,
    state: tokio::sync::Mutex<RoleState>,
}

#[derive(Default)]
struct RoleState {
    provider: Option<AssumeRoleProvider>,
    cached: Option<Credentials>,
}

impl fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the credentials themselves.
        f.debug_struct("RoleCredentials").finish_non_exhaustive()
    }
}

impl ProvideCredentials for RoleCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let mut state = self.state.lock().await;
            if let Some(cached) = &state.cached {
                let fresh = cached
                    .expiry()
                    .is_none_or(|expiry| expiry > SystemTime::now() + RENEW_BEFORE);
                if fresh {
                    return Ok(cached.clone());
                }
            }
            if state.provider.is_none() {
                if let Some(builder) = self.builder.lock().await.take() {
                    state.provider = Some(builder.build().await);
                }
            }
            let Some(provider) = &state.provider else {
                return Err(CredentialsError::provider_error(
                    "the role provider is missing",
                ));
            };
            let credentials = provider.provide_credentials().await?;
            state.cached = Some(credentials.clone());
            Ok(credentials)
        })
    }
}

impl Fetcher {
    /// The account of the configured credentials themselves (not of a role
    /// of the template), from STS GetCallerIdentity called in `region`.
    pub async fn caller_account(&self, region: &str) -> Result<String, FetchError> {
        let sdk_config = self
            .base
            .to_builder()
            .region(Region::new(region.to_owned()))
            .build();
        caller_account(&sdk_config).await
    }
}

/// The account of the configured credentials.
async fn caller_account(sdk_config: &SdkConfig) -> Result<String, FetchError> {
    let sts = aws_sdk_sts::Client::new(sdk_config);
    let identity = sts.get_caller_identity().send().await.map_err(|e| {
        let mut error = FetchError::from_sdk("GetCallerIdentity", None, &e);
        if let FetchErrorKind::AccessDenied { action } = &mut error.kind {
            *action = "sts:GetCallerIdentity".to_owned();
        }
        error
    })?;
    identity.account().map(str::to_owned).ok_or_else(|| {
        FetchError::other(
            "GetCallerIdentity",
            FetchErrorKind::Other,
            "STS returned no account",
        )
    })
}

/// A client bound to one (account, region).
#[derive(Debug, Clone)]
pub struct TargetClient {
    target: Target,
    client: aws_sdk_backup::Client,
    metrics: Arc<Metrics>,
}

fn to_sdk_time(t: Timestamp) -> DateTime {
    DateTime::from_millis(t.as_millis())
}

/// Reads an HTTP `Date` header (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn parse_http_date(text: &str) -> Option<Timestamp> {
    DateTime::from_str(text, aws_smithy_types::date_time::Format::HttpDate)
        .ok()
        .and_then(|t| Timestamp::from_secs_nanos(t.secs(), t.subsec_nanos()).ok())
}

impl TargetClient {
    /// The target, with its account resolved.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The account id (always known once the client exists).
    pub fn account(&self) -> &str {
        self.target.account.as_deref().unwrap_or_default()
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.target.region
    }

    /// Calls made so far through this client.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// DescribeCopyJob for one id.
    pub async fn describe(&self, job_id: &str) -> Result<CopyJob, FetchError> {
        self.describe_observed(job_id).await.1
    }

    /// DescribeCopyJob for one id, with the time the service answered (as
    /// list pages carry it), whether it answered with the job or an error:
    /// `ResourceNotFoundException` at that time is when the job was gone.
    pub async fn describe_observed(
        &self,
        job_id: &str,
    ) -> (Timestamp, Result<CopyJob, FetchError>) {
        const OP: &str = "DescribeCopyJob";
        self.metrics.operations.fetch_add(1, Ordering::Relaxed);
        let capture = BodyCapture::new(&DESCRIBE_COPY_JOB);
        let result = self
            .client
            .describe_copy_job()
            .copy_job_id(job_id)
            .customize()
            .interceptor(capture.clone())
            .send()
            .await;
        let captured = capture.take();
        let observed_at = captured.observed_at();
        if let Err(e) = result {
            let error = self.refine(
                FetchError::from_sdk(OP, Some(job_id), &e),
                captured.body,
                OP,
            );
            return (observed_at, Err(error));
        }
        let job = match &captured.body {
            Some(body) => match serde_json::from_slice::<DescribeCopyJobOutput>(body) {
                Ok(decoded) => decoded.copy_job,
                Err(e) => {
                    return (
                        observed_at,
                        Err(self.undecodable(OP, &captured, &e.to_string())),
                    )
                }
            },
            // The SDK's own types drop members newer than the SDK, so a job
            // read through them would hash and store differently: without
            // the raw body there is no faithful record to make.
            None => {
                return (
                    observed_at,
                    Err(malformed(OP, NO_BODY, captured.request_id.as_deref())),
                )
            }
        };
        let job = job.ok_or_else(|| FetchError {
            kind: FetchErrorKind::NotFound {
                job_id: job_id.to_owned(),
            },
            operation: OP,
            code: None,
            message: "the response had no CopyJob".to_owned(),
            request_id: captured.request_id.clone(),
        });
        (observed_at, job)
    }

    /// One ListCopyJobs page.
    pub async fn list_page(
        &self,
        filter: &ListFilter,
        next_token: Option<&str>,
    ) -> Result<Page, FetchError> {
        self.fetch_page(filter, next_token, false).await
    }

    /// One ListCopyJobs page, its jobs decoded with `decode`.
    async fn fetch_page(
        &self,
        filter: &ListFilter,
        next_token: Option<&str>,
        decode: bool,
    ) -> Result<Page, FetchError> {
        const OP: &str = "ListCopyJobs";
        self.metrics.operations.fetch_add(1, Ordering::Relaxed);
        let capture = BodyCapture::new(&LIST_COPY_JOBS);
        let f = filter;
        let request = self
            .client
            .list_copy_jobs()
            .set_next_token(next_token.map(str::to_owned))
            .set_max_results(f.max_results)
            .set_by_state(f.state.as_ref().map(|s| SdkState::from(s.as_str())))
            .set_by_created_after(f.created_after.map(to_sdk_time))
            .set_by_created_before(f.created_before.map(to_sdk_time))
            .set_by_complete_after(f.complete_after.map(to_sdk_time))
            .set_by_complete_before(f.complete_before.map(to_sdk_time))
            .set_by_resource_type(f.resource_type.clone())
            .set_by_resource_arn(f.resource_arn.clone())
            .set_by_destination_vault_arn(f.destination_vault_arn.clone())
            .set_by_account_id(f.account_id.clone())
            .set_by_parent_job_id(f.parent_job_id.clone())
            .set_by_message_category(f.message_category.clone())
            .set_by_source_recovery_point_arn(f.source_recovery_point_arn.clone());
        let result = request
            .customize()
            .interceptor(capture.clone())
            .send()
            .await;
        let captured = capture.take();
        if let Err(e) = result {
            return Err(self.refine(FetchError::from_sdk(OP, None, &e), captured.body, OP));
        }
        self.metrics.pages.fetch_add(1, Ordering::Relaxed);
        let observed_at = captured.observed_at();
        let Some(body) = captured.body.clone() else {
            return Err(malformed(OP, NO_BODY, captured.request_id.as_deref()));
        };
        // Indexed, not decoded: the jobs are decoded when asked for, so the
        // next page can be requested as soon as this one is read.
        Page::read(
            body,
            &self.target,
            captured.request_id.clone(),
            observed_at,
            decode,
        )
    }

    /// Every page of ListCopyJobs for `filter`, one at a time, following
    /// `NextToken` until the service stops returning one. A short or empty
    /// page is not taken as the last. Memory holds one page (and the tokens
    /// seen so far).
    ///
    /// A listing that cannot end is an error, not a silent end: a `NextToken`
    /// the service already gave in this listing (the same one twice in a row,
    /// or a cycle through several pages), or more pages than
    /// [`max_list_pages`] allows for the page size. The pages before it were
    /// received; the error says the listing is incomplete.
    pub fn list(&self, filter: ListFilter) -> impl Stream<Item = Result<Page, FetchError>> + '_ {
        let limit = max_list_pages(filter.max_results);
        self.list_pages(filter, limit, false)
    }

    /// [`TargetClient::list`], each page's jobs decoded as the page is read
    /// (in the same pass: [`Page::take_jobs`]).
    pub fn list_decoded(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Page, FetchError>> + '_ {
        let limit = max_list_pages(filter.max_results);
        self.list_pages(filter, limit, true)
    }

    /// [`TargetClient::list`] with a page limit of its own.
    pub fn list_at_most(
        &self,
        filter: ListFilter,
        max_pages: u64,
    ) -> impl Stream<Item = Result<Page, FetchError>> + '_ {
        self.list_pages(filter, max_pages, false)
    }

    fn list_pages(
        &self,
        filter: ListFilter,
        max_pages: u64,
        decode: bool,
    ) -> impl Stream<Item = Result<Page, FetchError>> + '_ {
        enum Next {
            Start,
            Token(String),
            Done,
        }
        struct State {
            next: Next,
            pages: u64,
            /// Every token received in this listing, with the page it came on.
            tokens: HashMap<String, u64>,
        }
        let start = State {
            next: Next::Start,
            pages: 0,
            tokens: HashMap::new(),
        };
        futures::stream::unfold(start, move |mut state| {
            // The first page asks for few jobs (see `ListFilter::for_page`).
            let filter = filter.for_page(state.pages);
            async move {
                let token = match std::mem::replace(&mut state.next, Next::Done) {
                    Next::Start => None,
                    Next::Token(token) => Some(token),
                    Next::Done => return None,
                };
                if state.pages >= max_pages {
                    let error = FetchError::other(
                        "ListCopyJobs",
                        FetchErrorKind::Other,
                        format!(
                            "the listing of {} did not end after {} pages (the most this \
                             listing may have): the service keeps returning a NextToken; \
                             the listing is incomplete",
                            self.target, state.pages
                        ),
                    );
                    return Some((Err(error), state));
                }
                let page = match self.fetch_page(&filter, token.as_deref(), decode).await {
                    Ok(page) => page,
                    Err(e) => return Some((Err(e), state)),
                };
                state.pages += 1;
                if let Some(next) = &page.next_token {
                    if let Some(first) = state.tokens.insert(next.clone(), state.pages) {
                        let error = FetchError {
                            kind: FetchErrorKind::MalformedResponse,
                            operation: "ListCopyJobs",
                            code: None,
                            message: format!(
                                "page {} of the listing of {} returned the NextToken already \
                                 returned by page {first} ({}): following it would loop, so \
                                 the listing is incomplete",
                                state.pages,
                                self.target,
                                token_digest(next)
                            ),
                            request_id: page.request_id.clone(),
                        };
                        return Some((Err(error), state));
                    }
                    state.next = Next::Token(next.clone());
                }
                Some((Ok(page), state))
            }
        })
    }

    /// Adds our decoder's precise message (member path, position) to a
    /// response the SDK could not read.
    fn refine(
        &self,
        mut error: FetchError,
        body: Option<bytes::Bytes>,
        op: &'static str,
    ) -> FetchError {
        if error.kind == FetchErrorKind::MalformedResponse {
            if let Some(detail) = body.as_deref().and_then(|body| decode_detail(op, body)) {
                error.message = format!("{detail} (target {})", self.target);
            }
        }
        error
    }

    /// The error for a successful response whose body the model cannot
    /// decode (`fallback`: the decoder's own message).
    fn undecodable(&self, op: &'static str, captured: &Captured, fallback: &str) -> FetchError {
        let detail = captured
            .body
            .as_deref()
            .and_then(|body| decode_detail(op, body))
            .unwrap_or_else(|| fallback.to_owned());
        malformed(
            op,
            &format!("{detail} (target {})", self.target),
            captured.request_id.as_deref(),
        )
    }
}

/// Our decoder's precise message for a body that does not decode: the
/// member path and position of the first error for JSON, or what the body
/// is instead (an HTML page from a proxy).
pub(crate) fn decode_detail(op: &str, body: &[u8]) -> Option<String> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => match op {
            "ListCopyJobs" => backup_model::Decoder::new(body)
                .find_map(Result::err)
                .map(|e| e.to_string()),
            _ => serde_json::from_slice::<DescribeCopyJobOutput>(body)
                .err()
                .map(|e| e.to_string()),
        },
        Some(b'<') => {
            Some("an HTML page instead of JSON (a proxy or load balancer answered?)".to_owned())
        }
        _ => None,
    }
}

/// The most pages one listing may have before it is taken as endless: room
/// for 50 million jobs at the page size asked for (1,000 a page when unset).
pub fn max_list_pages(max_results: Option<i32>) -> u64 {
    const MAX_JOBS: u64 = 50_000_000;
    let page = max_results.map_or(1000, |m| u64::try_from(m.clamp(1, 1000)).unwrap_or(1000));
    MAX_JOBS.div_ceil(page)
}

/// A short, stable name for a token in messages (tokens are long and opaque).
fn token_digest(token: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    token.hash(&mut hasher);
    format!(
        "token #{:016x}, {} characters",
        hasher.finish(),
        token.len()
    )
}

/// Why a response whose body the interceptor did not keep is refused.
const NO_BODY: &str =
    "the response body was not kept, so the job cannot be recorded exactly as sent";

fn malformed(op: &'static str, detail: &str, request_id: Option<&str>) -> FetchError {
    FetchError {
        kind: FetchErrorKind::MalformedResponse,
        operation: op,
        code: None,
        message: detail.to_owned(),
        request_id: request_id.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").map(|t| t.to_string()),
            Some("1994-11-06T08:49:37.000Z".to_owned())
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn targets_pair_accounts_with_regions() {
        let t = Target::cartesian(
            &["111111111111".into(), "222222222222".into()],
            &["us-east-1".into(), "eu-west-1".into()],
        );
        assert_eq!(t.len(), 4);
        assert_eq!(t[1].to_string(), "111111111111/eu-west-1");
        assert_eq!(
            Target::cartesian(&[], &["us-east-1".into()])[0].account,
            None
        );
    }

    #[test]
    fn debug_hides_the_external_id() {
        let config = FetchConfig {
            external_id: Some("s3cr3t-external".into()),
            ..FetchConfig::default()
        };
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }
}
