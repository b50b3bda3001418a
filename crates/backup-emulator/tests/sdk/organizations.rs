//! Organizations ListAccounts through aws-sdk-organizations: paging, account
//! states, and who may list.

use aws_config::sts::AssumeRoleProvider;
use aws_config::BehaviorVersion;
use aws_sdk_backup::config::Region;
use aws_sdk_organizations::types::{AccountState, AccountStatus};
use backup_emulator::{EmulatorConfig, Organization};

use crate::common::{config, start, static_credentials};

const ACCOUNTS: [&str; 5] = [
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
    "555555555555",
];

async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(static_credentials())
        .endpoint_url(endpoint)
        .load()
        .await
}

#[tokio::test]
async fn list_accounts_pages_through_the_organization() {
    let emulator = start(EmulatorConfig {
        accounts: ACCOUNTS.map(String::from).to_vec(),
        organization: Organization {
            suspended_accounts: vec!["333333333333".into(), "999999999999".into()],
            page_size: 2,
            management_account: None,
        },
        ..config(10)
    })
    .await;
    let base = sdk_config(&emulator.endpoint_url()).await;
    let client = aws_sdk_organizations::Client::new(&base);

    // The SDK's own paginator follows NextToken through pages of two.
    let pages: Vec<_> = client
        .list_accounts()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("ListAccounts succeeds");
    assert_eq!(pages.len(), 3, "6 accounts in pages of 2");
    let accounts: Vec<_> = pages.iter().flat_map(|p| p.accounts().to_vec()).collect();
    let ids: Vec<&str> = accounts.iter().filter_map(|a| a.id()).collect();
    assert_eq!(
        ids,
        [
            "111111111111",
            "222222222222",
            "333333333333",
            "444444444444",
            "555555555555",
            "999999999999"
        ]
    );
    for account in &accounts {
        let suspended = matches!(account.id(), Some("333333333333" | "999999999999"));
        let (state, status) = if suspended {
            (AccountState::Suspended, AccountStatus::Suspended)
        } else {
            (AccountState::Active, AccountStatus::Active)
        };
        assert_eq!(account.state(), Some(&state), "{account:?}");
        assert_eq!(account.status(), Some(&status), "{account:?}");
        let id = account.id().unwrap();
        assert!(account.arn().unwrap().ends_with(&format!("/{id}")));
        assert!(account
            .arn()
            .unwrap()
            .starts_with("arn:aws:organizations::111111111111:account/o-"));
        assert!(account.email().unwrap().contains(id));
        assert!(account.name().is_some());
        assert!(account.joined_method().is_some());
        let joined = account.joined_timestamp().unwrap();
        assert!(joined.secs() > 1_600_000_000 && joined.secs() < 1_772_323_200);
    }

    // MaxResults below the page size is honoured; out of range is refused.
    let one = client.list_accounts().max_results(1).send().await.unwrap();
    assert_eq!(one.accounts().len(), 1);
    assert!(one.next_token().is_some());
    let err = client
        .list_accounts()
        .max_results(50)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_organizations::error::ProvideErrorMetadata::code(&err),
        Some("InvalidInputException")
    );
    let err = client
        .list_accounts()
        .next_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_organizations::error::ProvideErrorMetadata::code(&err),
        Some("InvalidInputException")
    );
    assert!(emulator.stats().organizations_calls >= 5);
    emulator.shutdown().await;
}

#[tokio::test]
async fn only_the_management_account_may_list() {
    let emulator = start(EmulatorConfig {
        accounts: ACCOUNTS.map(String::from).to_vec(),
        organization: Organization {
            management_account: Some("555555555555".into()),
            ..Organization::default()
        },
        ..config(10)
    })
    .await;
    let base = sdk_config(&emulator.endpoint_url()).await;

    // Static keys are the first account's, a member: refused.
    let err = aws_sdk_organizations::Client::new(&base)
        .list_accounts()
        .send()
        .await
        .unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_access_denied_exception(), "{service:?}");
    // Once: the SDK retries an AccessDeniedException whose `Date` is far
    // from the local clock (a possible clock skew), but `Date` is the wall
    // clock although the synthetic timeline is months away.
    assert_eq!(emulator.stats().denied, 1, "{:?}", emulator.stats());

    // A role in the management account may.
    let provider = AssumeRoleProvider::builder("arn:aws:iam::555555555555:role/OrgReader")
        .session_name("backup-audit")
        .configure(&base)
        .build()
        .await;
    let management = base
        .to_builder()
        .credentials_provider(aws_sdk_backup::config::SharedCredentialsProvider::new(
            provider,
        ))
        .build();
    let listed = aws_sdk_organizations::Client::new(&management)
        .list_accounts()
        .send()
        .await
        .unwrap();
    assert_eq!(listed.accounts().len(), ACCOUNTS.len());
    assert!(listed.next_token().is_none());
    emulator.shutdown().await;
}
