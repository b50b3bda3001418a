//! NextToken as AWS hands it out when things go wrong: tokens that expire,
//! a token that comes back again, a cycle of tokens, and a listing that lags
//! behind DescribeCopyJob.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_backup::error::ProvideErrorMetadata;
use aws_sdk_backup::Client;
use backup_emulator::{BrokenPaging, EmulatorConfig, Faults};
use backup_model::CopyJob;

use crate::common::{client, config, list_all, start};

const ACCOUNT: &str = "123456789012";

/// One ListCopyJobs page of `size`: its job ids and its token.
async fn page(client: &Client, size: i32, token: Option<&str>) -> (Vec<String>, Option<String>) {
    let out = client
        .list_copy_jobs()
        .max_results(size)
        .set_next_token(token.map(str::to_owned))
        .send()
        .await
        .expect("ListCopyJobs succeeds");
    let ids = out
        .copy_jobs()
        .iter()
        .map(|j| j.copy_job_id().unwrap().to_owned())
        .collect();
    (ids, out.next_token().map(str::to_owned))
}

async fn refused(client: &Client, token: &str) -> String {
    let err = client
        .list_copy_jobs()
        .max_results(10)
        .next_token(token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
    assert_eq!(err.code(), Some("InvalidParameterValueException"));
    let message = err.message().unwrap_or_default().to_owned();
    assert!(err
        .into_service_error()
        .is_invalid_parameter_value_exception());
    message
}

#[tokio::test]
async fn next_tokens_expire_on_the_synthetic_clock() {
    let emulator = start(EmulatorConfig {
        faults: Faults {
            token_ttl: Some(Duration::from_secs(3600)),
            ..Faults::default()
        },
        ..config(100)
    })
    .await;
    let client = client(&emulator, "us-east-1");
    let (_, first) = page(&client, 10, None).await;
    let first = first.unwrap();
    emulator.advance_clock(Duration::from_secs(30 * 60));
    let (_, second) = page(&client, 10, Some(&first)).await;
    let second = second.unwrap();
    // An hour and a minute after it was issued, the first token is refused,
    // as AWS refuses a bad token; the fresher one still works.
    emulator.advance_clock(Duration::from_secs(31 * 60));
    let message = refused(&client, &first).await;
    assert!(message.contains("expired"), "{message}");
    assert!(page(&client, 10, Some(&second)).await.0.len() <= 10);
    assert_eq!(emulator.stats().expired_tokens, 1);
    // Starting again works.
    let (jobs, _) = list_all(client.list_copy_jobs()).await;
    assert_eq!(jobs, emulator.jobs(ACCOUNT, "us-east-1"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn next_tokens_expire_on_the_request_count_clock() {
    let emulator = start(EmulatorConfig {
        faults: Faults {
            token_ttl_calls: Some(3),
            ..Faults::default()
        },
        ..config(100)
    })
    .await;
    let client = client(&emulator, "us-east-1");
    let (ids, token) = page(&client, 10, None).await;
    let token = token.unwrap();
    // Two other calls (any client, any Backup operation): still valid.
    for id in &ids[..2] {
        client
            .describe_copy_job()
            .copy_job_id(id)
            .send()
            .await
            .unwrap();
    }
    let (_, next) = page(&client, 10, Some(&token)).await;
    // Then four more calls: the token of the last page is too old.
    for id in &ids[..4] {
        client
            .describe_copy_job()
            .copy_job_id(id)
            .send()
            .await
            .unwrap();
    }
    refused(&client, &next.unwrap()).await;
    assert_eq!(emulator.stats().expired_tokens, 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_repeated_next_token_ends_the_sdk_paginator_early() {
    let regions = ["us-east-1", "eu-west-1"];
    let emulator = start(EmulatorConfig {
        regions: regions.map(String::from).to_vec(),
        faults: Faults {
            broken_paging: Some(BrokenPaging::RepeatToken),
            broken_paging_regions: vec!["us-east-1".into()],
            ..Faults::default()
        },
        ..config(500)
    })
    .await;
    let broken = client(&emulator, "us-east-1");
    // By hand: page 2 answers with the token it was asked with.
    let (_, t1) = page(&broken, 20, None).await;
    let (_, t2) = page(&broken, 20, t1.as_deref()).await;
    let (ids, t3) = page(&broken, 20, t2.as_deref()).await;
    assert_eq!(t3, t2, "the same token twice");
    assert_eq!(page(&broken, 20, t3.as_deref()).await, (ids, t2.clone()));
    assert_eq!(emulator.stats().broken_pages, 2);

    // The SDK's own paginator stops at a repeated token as if the listing
    // were complete: the jobs behind it are silently missing.
    let truth = emulator.jobs(ACCOUNT, "us-east-1");
    let pages: Vec<_> = broken
        .list_copy_jobs()
        .max_results(20)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    let listed: Vec<CopyJob> = pages
        .into_iter()
        .flat_map(|p| {
            p.unwrap()
                .copy_jobs()
                .iter()
                .map(CopyJob::from)
                .collect::<Vec<_>>()
        })
        .collect();
    let unique: HashSet<_> = listed.iter().map(|j| j.copy_job_id.clone()).collect();
    assert!(unique.len() <= 60, "{}", unique.len());
    assert!(unique.len() < truth.len());

    // Another region of the same emulator pages correctly.
    let (jobs, _) = list_all(
        client(&emulator, "eu-west-1")
            .list_copy_jobs()
            .max_results(20),
    )
    .await;
    assert_eq!(jobs, emulator.jobs(ACCOUNT, "eu-west-1"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_token_cycle_leads_back_to_an_earlier_page() {
    let emulator = start(EmulatorConfig {
        accounts: vec![ACCOUNT.into(), "210987654321".into()],
        faults: Faults {
            broken_paging: Some(BrokenPaging::Cycle),
            broken_paging_accounts: vec![ACCOUNT.into()],
            ..Faults::default()
        },
        ..config(500)
    })
    .await;
    let client = client(&emulator, "us-east-1");
    let (_, t1) = page(&client, 20, None).await;
    // Token A asks for page 2, whose answer gives token B for page 3...
    let (_, a) = page(&client, 20, t1.as_deref()).await;
    let (page_2, b) = page(&client, 20, a.as_deref()).await;
    assert_ne!(a, b);
    // ...whose answer leads back to A: A -> B -> A -> B. No token is ever
    // repeated twice in a row, so a client that only compares a token with
    // the previous one loops for ever.
    let (page_3, back) = page(&client, 20, b.as_deref()).await;
    assert_eq!(back, a, "page 3 leads back to token A");
    assert!(page_3.iter().all(|id| !page_2.contains(id)));
    let (again, next) = page(&client, 20, back.as_deref()).await;
    assert_eq!((again, next), (page_2, b.clone()));
    // Another account pages correctly.
    let other = list_all(
        crate::common::client_for_account(&emulator, "210987654321", "us-east-1")
            .list_copy_jobs()
            .max_results(20),
    )
    .await
    .0;
    assert_eq!(other, emulator.jobs("210987654321", "us-east-1"));
    assert_eq!(emulator.stats().broken_pages, 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_listing_lags_behind_describe() {
    // Two days of jobs, so that many change within half an hour.
    let emulator = start(EmulatorConfig {
        history: Duration::from_secs(2 * 86_400),
        faults: Faults {
            listing_lag: Duration::from_secs(30 * 60),
            ..Faults::default()
        },
        ..config(2000)
    })
    .await;
    let client = client(&emulator, "us-east-1");
    let truth = emulator.jobs(ACCOUNT, "us-east-1");
    let (listed, _) = list_all(client.list_copy_jobs()).await;
    let lagged = emulator.listed_jobs(ACCOUNT, "us-east-1");
    assert_eq!(listed, lagged);
    assert_eq!(
        lagged,
        emulator.jobs_as_of(
            ACCOUNT,
            "us-east-1",
            emulator.now().add_millis(-30 * 60 * 1000)
        )
    );
    assert_ne!(listed, truth);
    // Jobs created in the last half hour are not listed yet...
    assert!(
        truth.len() > listed.len(),
        "{} {}",
        truth.len(),
        listed.len()
    );
    let newest = truth[0].copy_job_id.as_deref().unwrap();
    assert!(listed
        .iter()
        .all(|j| j.copy_job_id.as_deref() != Some(newest)));
    // ...but DescribeCopyJob knows them, and shows every job as it is now.
    let out = client
        .describe_copy_job()
        .copy_job_id(newest)
        .send()
        .await
        .unwrap();
    assert_eq!(CopyJob::from(out.copy_job().unwrap()), truth[0]);
    let changed: Vec<&CopyJob> = listed.iter().filter(|j| !truth.contains(j)).collect();
    assert!(!changed.is_empty());
    for old in changed.iter().take(5) {
        let out = client
            .describe_copy_job()
            .copy_job_id(old.copy_job_id.as_deref().unwrap())
            .send()
            .await
            .unwrap();
        let now = CopyJob::from(out.copy_job().unwrap());
        assert_ne!(&&now, old);
        assert!(truth.contains(&now));
    }
    emulator.shutdown().await;
}
