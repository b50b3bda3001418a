//! Role credentials across an account's regions: one AssumeRole per account
//! (issue: organization scale). The real SDK over HTTP to the emulator.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use backup_emulator::{Emulator, EmulatorConfig};
use backup_fetch::{FetchConfig, Fetcher, ListFilter, Target};
use backup_model::Timestamp;
use futures::StreamExt;

const ACCOUNTS: [&str; 2] = ["123456789012", "210987654321"];
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

async fn emulator() -> Emulator {
    let config = EmulatorConfig {
        seed: 11,
        jobs_per_target: 30,
        accounts: ACCOUNTS.map(String::from).to_vec(),
        regions: REGIONS.map(String::from).to_vec(),
        start: Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap(),
        ..EmulatorConfig::default()
    };
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn fetcher(endpoint: &str) -> Fetcher {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTESTKEY",
            "test-secret",
            None,
            None,
            "test",
        )))
        .region(Region::new("us-east-1"))
        // STS too: `FetchConfig::endpoint_url` is for AWS Backup only.
        .endpoint_url(endpoint)
        .load()
        .await;
    Fetcher::with_sdk_config(
        sdk,
        FetchConfig {
            endpoint_url: Some(endpoint.to_owned()),
            role_arn_template: Some("arn:aws:iam::{account}:role/BackupAudit".to_owned()),
            initial_backoff: Duration::from_millis(5),
            ..FetchConfig::default()
        },
    )
}

/// Every region of every account, at once (as `ingest` runs them), each
/// listing its jobs through the account's role.
#[tokio::test]
async fn each_account_assumes_its_role_once_for_all_its_regions() {
    let emu = emulator().await;
    let fetcher = fetcher(&emu.endpoint_url()).await;
    let targets = Target::cartesian(&ACCOUNTS.map(String::from), &REGIONS.map(String::from));
    let listed = futures::future::join_all(targets.iter().map(|target| {
        let fetcher = fetcher.clone();
        async move {
            let client = fetcher.client(target).await.unwrap();
            let mut jobs = 0;
            for _ in 0..2 {
                let mut pages = std::pin::pin!(client.list(ListFilter::default()));
                while let Some(page) = pages.next().await {
                    jobs += page.unwrap().len();
                }
            }
            jobs
        }
    }))
    .await;
    assert!(listed.iter().all(|&n| n > 0), "{listed:?}");
    let stats = emu.stats();
    assert_eq!(
        stats.assume_role_calls,
        ACCOUNTS.len() as u64,
        "one AssumeRole per account, whatever the number of regions and calls"
    );

    // A second client of a target already seen reuses the credentials too.
    let again = fetcher.client(&targets[0]).await.unwrap();
    let mut pages = std::pin::pin!(again.list(ListFilter::default()));
    while let Some(page) = pages.next().await {
        page.unwrap();
    }
    assert_eq!(emu.stats().assume_role_calls, ACCOUNTS.len() as u64);
}
