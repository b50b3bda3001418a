//! backup-fetch end to end: the real aws-sdk-backup client over HTTP to the
//! emulator, with retries, timeouts, roles and error classification.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use backup_emulator::{Emulator, EmulatorConfig, Faults, Malformed};
use backup_fetch::{FetchConfig, FetchErrorKind, Fetcher, ListFilter, Target, TargetClient};
use backup_model::{CopyJob, CopyJobState, Timestamp};
use futures::StreamExt;

const ACCOUNT: &str = "123456789012";
const OTHER: &str = "210987654321";

fn start_clock() -> Timestamp {
    Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap()
}

async fn emulator(jobs: usize, faults: Faults) -> Emulator {
    let config = EmulatorConfig {
        seed: 7,
        jobs_per_target: jobs,
        accounts: vec![ACCOUNT.into(), OTHER.into()],
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        start: start_clock(),
        faults,
        ..EmulatorConfig::default()
    };
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Test credentials: the emulator maps any key that names no account to its
/// first account. The configuration's endpoint (as `AWS_ENDPOINT_URL` would)
/// sends STS and Organizations to the emulator; `endpoint_url` of
/// [`FetchConfig`] is AWS Backup's only.
async fn fetcher(endpoint: &str, config: FetchConfig) -> Fetcher {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTESTKEY",
            "test-secret",
            None,
            None,
            "test",
        )))
        .region(Region::new("us-east-1"))
        .load()
        .await;
    Fetcher::with_sdk_config(
        sdk,
        FetchConfig {
            endpoint_url: Some(endpoint.to_owned()),
            initial_backoff: Duration::from_millis(5),
            ..config
        },
    )
}

async fn list_all(client: &TargetClient, filter: ListFilter) -> Vec<CopyJob> {
    let mut jobs = Vec::new();
    let mut pages = std::pin::pin!(client.list(filter));
    while let Some(page) = pages.next().await {
        jobs.extend(page.unwrap().jobs().unwrap());
    }
    jobs
}

fn ids(jobs: &[CopyJob]) -> BTreeSet<String> {
    jobs.iter().filter_map(|j| j.copy_job_id.clone()).collect()
}

fn target(account: Option<&str>, region: &str) -> Target {
    Target {
        account: account.map(str::to_owned),
        region: region.to_owned(),
    }
}

#[tokio::test]
async fn every_region_is_listed_exactly_in_small_pages() {
    let emu = emulator(300, Faults::default()).await;
    let fetcher = fetcher(&emu.endpoint_url(), FetchConfig::default()).await;
    for region in ["us-east-1", "eu-west-1"] {
        let client = fetcher.client(&target(None, region)).await.unwrap();
        assert_eq!(
            client.account(),
            ACCOUNT,
            "GetCallerIdentity names the account"
        );
        let truth = emu.jobs(ACCOUNT, region);
        assert!(truth.len() >= 300, "{region}: {} jobs", truth.len());
        let small = list_all(
            &client,
            ListFilter {
                max_results: Some(7),
                ..ListFilter::default()
            },
        )
        .await;
        assert_eq!(small.len(), truth.len(), "no job twice, none missing");
        assert_eq!(ids(&small), ids(&truth));
        // Whole jobs, not just ids: what the SDK fetched is what the emulator holds.
        let mut sorted = small.clone();
        sorted.sort_by(|a, b| a.copy_job_id.cmp(&b.copy_job_id));
        let mut want = truth.clone();
        want.sort_by(|a, b| a.copy_job_id.cmp(&b.copy_job_id));
        assert_eq!(sorted, want);
        assert!(client.metrics().pages >= truth.len() as u64 / 7);
    }
}

#[tokio::test]
async fn filters_are_sent_to_the_service() {
    let emu = emulator(400, Faults::default()).await;
    let fetcher = fetcher(&emu.endpoint_url(), FetchConfig::default()).await;
    let client = fetcher.client(&target(None, "us-east-1")).await.unwrap();
    let truth = emu.jobs(ACCOUNT, "us-east-1");
    let cut = truth[truth.len() / 2].creation_date.unwrap();
    let parent = truth
        .iter()
        .find(|j| j.is_parent == Some(true))
        .and_then(|j| j.copy_job_id.clone())
        .expect("synthetic data has composite jobs");
    type Check = Box<dyn Fn(&CopyJob) -> bool>;
    let cases: Vec<(ListFilter, Check)> = vec![
        (
            ListFilter {
                state: Some(CopyJobState::Failed),
                ..Default::default()
            },
            Box::new(|j: &CopyJob| j.state == Some(CopyJobState::Failed)),
        ),
        (
            ListFilter {
                created_after: Some(cut),
                ..Default::default()
            },
            Box::new(move |j: &CopyJob| j.creation_date.is_some_and(|c| c > cut)),
        ),
        (
            ListFilter {
                resource_type: Some("RDS".into()),
                ..Default::default()
            },
            Box::new(|j: &CopyJob| j.resource_type.as_deref() == Some("RDS")),
        ),
        (
            ListFilter {
                parent_job_id: Some(parent.clone()),
                ..Default::default()
            },
            Box::new(move |j: &CopyJob| j.parent_job_id.as_deref() == Some(parent.as_str())),
        ),
    ];
    for (filter, keep) in cases {
        let before = emu.stats().jobs_returned;
        let got = list_all(&client, filter.clone()).await;
        let want: Vec<CopyJob> = truth.iter().filter(|j| keep(j)).cloned().collect();
        assert!(!want.is_empty(), "{filter:?} selects something");
        assert_eq!(ids(&got), ids(&want), "{filter:?}");
        // The service sent only the matching jobs: filtering happened there.
        assert_eq!(emu.stats().jobs_returned - before, want.len() as u64);
    }
}

#[tokio::test]
async fn throttling_storm_and_503s_are_survived_exactly() {
    let faults = Faults {
        throttle_rate: 0.5,
        error_rate: 0.2,
        ..Faults::default()
    };
    let emu = emulator(500, faults).await;
    let fetcher = fetcher(
        &emu.endpoint_url(),
        FetchConfig {
            max_attempts: 10,
            ..FetchConfig::default()
        },
    )
    .await;
    let client = fetcher.client(&target(None, "eu-west-1")).await.unwrap();
    let jobs = list_all(
        &client,
        ListFilter {
            max_results: Some(50),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&jobs), ids(&emu.jobs(ACCOUNT, "eu-west-1")));
    let stats = emu.stats();
    assert!(stats.throttled > 0 && stats.errors > 0, "{stats:?}");
    let metrics = client.metrics();
    assert_eq!(metrics.retries, stats.throttled + stats.errors);
    assert_eq!(metrics.api_calls, stats.list_calls);
}

#[tokio::test]
async fn missing_ids_are_named_and_found_ones_keep_their_order() {
    let emu = emulator(50, Faults::default()).await;
    let fetcher = fetcher(&emu.endpoint_url(), FetchConfig::default()).await;
    let client = fetcher.client(&target(None, "us-east-1")).await.unwrap();
    let truth = emu.jobs(ACCOUNT, "us-east-1");
    let wanted = vec![
        truth[3].copy_job_id.clone().unwrap(),
        "NO-SUCH-JOB".to_owned(),
        truth[1].copy_job_id.clone().unwrap(),
    ];
    let results: Vec<_> = backup_fetch::describe_many(&client, &wanted, 3)
        .collect()
        .await;
    assert_eq!(results[0].1.as_ref().unwrap(), &truth[3]);
    assert_eq!(results[2].1.as_ref().unwrap(), &truth[1]);
    let missing = results[1].1.as_ref().unwrap_err();
    assert_eq!(
        missing.kind,
        FetchErrorKind::NotFound {
            job_id: "NO-SUCH-JOB".into()
        }
    );
    assert_eq!(missing.code.as_deref(), Some("ResourceNotFoundException"));
    assert!(missing.request_id.is_some(), "{missing:?}");
    assert!(missing.to_string().contains("NO-SUCH-JOB"));
}

#[tokio::test]
async fn roles_are_assumed_per_account() {
    let emu = emulator(40, Faults::default()).await;
    let fetcher = fetcher(
        &emu.endpoint_url(),
        FetchConfig {
            role_arn_template: Some("arn:aws:iam::{account}:role/BackupAudit".into()),
            external_id: Some("ext-123".into()),
            ..FetchConfig::default()
        },
    )
    .await;
    for account in [ACCOUNT, OTHER] {
        let client = fetcher
            .client(&target(Some(account), "us-east-1"))
            .await
            .unwrap();
        let jobs = list_all(&client, ListFilter::default()).await;
        assert_eq!(
            ids(&jobs),
            ids(&emu.jobs(account, "us-east-1")),
            "{account}"
        );
        assert!(jobs
            .iter()
            .all(|j| j.account_id.as_deref() == Some(account)));
    }
    assert!(emu.stats().sts_calls >= 2);
}

#[tokio::test]
async fn access_denied_names_the_action_and_invalid_parameters_keep_the_message() {
    let emu = emulator(
        20,
        Faults {
            deny_accounts: vec![OTHER.into()],
            ..Faults::default()
        },
    )
    .await;
    let fetcher = fetcher(
        &emu.endpoint_url(),
        FetchConfig {
            role_arn_template: Some("arn:aws:iam::{account}:role/BackupAudit".into()),
            ..FetchConfig::default()
        },
    )
    .await;
    let denied = fetcher
        .client(&target(Some(OTHER), "us-east-1"))
        .await
        .unwrap();
    let error = denied
        .list_page(&ListFilter::default(), None)
        .await
        .unwrap_err();
    assert_eq!(
        error.kind,
        FetchErrorKind::AccessDenied {
            action: "backup:ListCopyJobs".into()
        }
    );
    assert!(error.to_string().contains("backup:ListCopyJobs"), "{error}");

    let allowed = fetcher
        .client(&target(Some(ACCOUNT), "us-east-1"))
        .await
        .unwrap();
    let error = allowed
        .list_page(&ListFilter::default(), Some("not-a-token"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, FetchErrorKind::InvalidParameter, "{error}");
    assert!(!error.message.is_empty());
}

#[tokio::test]
async fn malformed_responses_are_clear_errors() {
    for (malformed, expect) in [
        (Malformed::Truncated, "truncated"),
        (Malformed::WrongType, "BackupSizeInBytes"),
        (Malformed::Html, "HTML"),
    ] {
        let emu = emulator(
            20,
            Faults {
                malformed: Some(malformed),
                ..Faults::default()
            },
        )
        .await;
        let fetcher = fetcher(
            &emu.endpoint_url(),
            FetchConfig {
                max_attempts: 2,
                ..FetchConfig::default()
            },
        )
        .await;
        let client = fetcher.client(&target(None, "us-east-1")).await.unwrap();
        // A body that is not a page fails when it is read; a job of the
        // wrong shape when it is decoded.
        let error = match client.list_page(&ListFilter::default(), None).await {
            Ok(page) => page.jobs().unwrap_err(),
            Err(error) => error,
        };
        assert_eq!(
            error.kind,
            FetchErrorKind::MalformedResponse,
            "{malformed:?}: {error}"
        );
        assert!(
            error
                .to_string()
                .to_lowercase()
                .contains(&expect.to_lowercase()),
            "{malformed:?}: {error}"
        );
    }
}

#[tokio::test]
async fn a_dead_endpoint_fails_fast() {
    // Bind and drop: the port is then closed.
    let addr: SocketAddr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let fetcher = fetcher(&format!("http://{addr}"), FetchConfig::default()).await;
    let started = Instant::now();
    let error = match fetcher.client(&target(Some(ACCOUNT), "us-east-1")).await {
        Ok(client) => client
            .list_page(&ListFilter::default(), None)
            .await
            .unwrap_err(),
        Err(e) => e,
    };
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.kind, FetchErrorKind::Connect, "{error}");
}

#[tokio::test]
async fn a_hung_endpoint_fails_within_a_minute_with_default_timeouts() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let fetcher = fetcher(&format!("http://{addr}"), FetchConfig::default()).await;
    let client = fetcher
        .client(&target(Some(ACCOUNT), "us-east-1"))
        .await
        .unwrap();
    let started = Instant::now();
    let error = client
        .list_page(&ListFilter::default(), None)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    hold.abort();
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    assert_eq!(error.kind, FetchErrorKind::Timeout, "{error}");
}

#[tokio::test]
async fn organization_accounts_are_the_active_ones_from_every_page() {
    let third = "333333333333";
    let config = EmulatorConfig {
        seed: 7,
        jobs_per_target: 5,
        accounts: vec![
            ACCOUNT.into(),
            OTHER.into(),
            third.into(),
            "444444444444".into(),
        ],
        regions: vec!["us-east-1".into()],
        start: start_clock(),
        organization: backup_emulator::Organization {
            suspended_accounts: vec![third.into(), "999999999999".into()],
            page_size: 2,
            management_account: None,
        },
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(config.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let management = fetcher(&emu.endpoint_url(), FetchConfig::default()).await;
    let accounts = management.organization_accounts().await.unwrap();
    assert_eq!(accounts, [ACCOUNT, OTHER, "444444444444"]);
    assert_eq!(
        emu.stats().organizations_calls,
        3,
        "five members in pages of two"
    );

    // Anyone but the management account is refused, and told which action.
    let emu = Emulator::start(
        EmulatorConfig {
            organization: backup_emulator::Organization {
                management_account: Some(OTHER.into()),
                ..backup_emulator::Organization::default()
            },
            ..config
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let member = fetcher(&emu.endpoint_url(), FetchConfig::default()).await;
    let error = member.organization_accounts().await.unwrap_err();
    assert_eq!(
        error.kind,
        FetchErrorKind::AccessDenied {
            action: "organizations:ListAccounts".into()
        },
        "{error}"
    );
    assert_eq!(error.operation, "ListAccounts");
    assert!(
        error.to_string().contains("organizations:ListAccounts"),
        "{error}"
    );
    assert!(error.request_id.is_some());
}
