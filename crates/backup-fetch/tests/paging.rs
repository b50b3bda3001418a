//! Listings that cannot end are errors, never a silent end: a `NextToken`
//! that comes back (at once or through a cycle), and more pages than a
//! listing may have. The real SDK client over HTTP to the emulator.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use backup_emulator::{BrokenPaging, Emulator, EmulatorConfig, Faults};
use backup_fetch::{max_list_pages, FetchConfig, FetchError, Fetcher, ListFilter, Target};
use backup_model::Timestamp;
use futures::StreamExt;

const ACCOUNT: &str = "123456789012";

async fn setup(faults: Faults) -> (Emulator, backup_fetch::TargetClient) {
    let emu = Emulator::start(
        EmulatorConfig {
            seed: 5,
            jobs_per_target: 1000,
            accounts: vec![ACCOUNT.into()],
            regions: vec!["us-east-1".into()],
            start: Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap(),
            faults,
            ..EmulatorConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emu.endpoint_url())
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
    let fetcher = Fetcher::with_sdk_config(
        sdk,
        FetchConfig {
            endpoint_url: Some(emu.endpoint_url()),
            initial_backoff: Duration::from_millis(5),
            ..FetchConfig::default()
        },
    );
    let client = fetcher
        .client(&Target {
            account: Some(ACCOUNT.into()),
            region: "us-east-1".into(),
        })
        .await
        .unwrap();
    (emu, client)
}

/// Pages received before the listing ended, and how it ended.
async fn drain(
    pages: impl futures::Stream<Item = Result<backup_fetch::Page, FetchError>>,
) -> (usize, usize, Option<FetchError>) {
    let mut pages = std::pin::pin!(pages);
    let (mut n, mut jobs) = (0, 0);
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => {
                n += 1;
                jobs += page.len();
            }
            Err(e) => return (n, jobs, Some(e)),
        }
    }
    (n, jobs, None)
}

fn small_pages() -> ListFilter {
    ListFilter {
        max_results: Some(100),
        ..ListFilter::default()
    }
}

#[tokio::test]
async fn a_clean_listing_ends_with_every_job() {
    let (emu, client) = setup(Faults::default()).await;
    let (pages, jobs, error) = drain(client.list(small_pages())).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(jobs, emu.jobs(ACCOUNT, "us-east-1").len());
    assert!(pages >= 10);
}

#[tokio::test]
async fn a_repeated_next_token_is_an_error_not_the_end() {
    for broken in [BrokenPaging::RepeatToken, BrokenPaging::Cycle] {
        let (_emu, client) = setup(Faults {
            broken_paging: Some(broken),
            ..Faults::default()
        })
        .await;
        // Bounded by a timeout: a listing that loops would never end.
        let (pages, _, error) =
            tokio::time::timeout(Duration::from_secs(60), drain(client.list(small_pages())))
                .await
                .expect("the listing ended");
        let error = error.unwrap_or_else(|| panic!("{broken}: the listing ended silently"));
        let text = error.to_string();
        assert!(
            text.contains("NextToken") && text.contains("incomplete"),
            "{broken}: {text}"
        );
        assert!(text.contains(ACCOUNT), "{broken}: {text}");
        assert!(pages < 10, "{broken}: {pages} pages");
    }
}

#[tokio::test]
async fn more_pages_than_a_listing_may_have_is_an_error() {
    let (_emu, client) = setup(Faults::default()).await;
    let (pages, _, error) = drain(client.list_at_most(small_pages(), 3)).await;
    assert_eq!(pages, 3);
    let text = error.expect("an error after the limit").to_string();
    assert!(text.contains("did not end after 3 pages"), "{text}");
    // The default limit leaves room for 50 million jobs at any page size.
    assert_eq!(max_list_pages(Some(1000)), 50_000);
    assert_eq!(max_list_pages(Some(1)), 50_000_000);
    assert_eq!(max_list_pages(None), 50_000);
}
