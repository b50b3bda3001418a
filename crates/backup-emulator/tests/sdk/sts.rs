//! STS through aws-config: assumed credentials land requests on the role's account.

use aws_config::sts::AssumeRoleProvider;
use aws_config::BehaviorVersion;
use aws_sdk_backup::config::Region;

use crate::common::{config, list_all, start, static_credentials};
use backup_emulator::{EmulatorConfig, Faults};

#[tokio::test]
async fn assume_role_lands_requests_on_the_role_account() {
    let emulator = start(EmulatorConfig {
        accounts: vec!["111111111111".into(), "222222222222".into()],
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        ..config(120)
    })
    .await;
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(static_credentials())
        .endpoint_url(emulator.endpoint_url())
        .load()
        .await;

    // Static keys belong to the first account.
    let plain = aws_sdk_backup::Client::new(&base);
    let (jobs, _) = list_all(plain.list_copy_jobs()).await;
    assert_eq!(jobs, emulator.jobs("111111111111", "eu-west-1"));
    let me = aws_sdk_sts::Client::new(&base)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.account(), Some("111111111111"));

    let provider = AssumeRoleProvider::builder("arn:aws:iam::222222222222:role/BackupAuditReader")
        .session_name("backup-audit")
        .configure(&base)
        .build()
        .await;
    let assumed = base
        .to_builder()
        .credentials_provider(aws_sdk_backup::config::SharedCredentialsProvider::new(
            provider,
        ))
        .build();
    let client = aws_sdk_backup::Client::new(&assumed);
    let (jobs, _) = list_all(client.list_copy_jobs().max_results(50)).await;
    let truth = emulator.jobs("222222222222", "eu-west-1");
    assert_eq!(jobs, truth);
    assert_ne!(truth, emulator.jobs("111111111111", "eu-west-1"));
    assert!(jobs
        .iter()
        .all(|j| j.account_id.as_deref() == Some("222222222222")));

    let who = aws_sdk_sts::Client::new(&assumed)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.account(), Some("222222222222"));
    assert_eq!(
        who.arn(),
        Some("arn:aws:sts::222222222222:assumed-role/BackupAuditReader/backup-audit")
    );
    assert!(emulator.stats().sts_calls >= 3);

    // A malformed role ARN is refused by STS, and the SDK says why.
    let err = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn("not-an-arn")
        .role_session_name("s1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&err),
        Some("ValidationError")
    );
    emulator.shutdown().await;
}

async fn assume(
    base: &aws_config::SdkConfig,
    role: &str,
    external_id: Option<&str>,
) -> Result<aws_sdk_sts::operation::assume_role::AssumeRoleOutput, String> {
    aws_sdk_sts::Client::new(base)
        .assume_role()
        .role_arn(role)
        .role_session_name("backup-audit")
        .set_external_id(external_id.map(str::to_owned))
        .send()
        .await
        .map_err(|e| {
            let status = e.raw_response().map_or(0, |r| r.status().as_u16());
            let code = aws_sdk_sts::error::ProvideErrorMetadata::code(&e).unwrap_or_default();
            let message = aws_sdk_sts::error::ProvideErrorMetadata::message(&e).unwrap_or_default();
            format!("{status} {code}: {message}")
        })
}

#[tokio::test]
async fn assume_role_is_refused_per_account_and_checks_the_external_id() {
    // The synthetic timeline is months from the wall clock; STS's `Date` is
    // the wall clock, so the SDK does not take AccessDenied for clock skew.
    let emulator = start(EmulatorConfig {
        accounts: vec!["111111111111".into(), "222222222222".into()],
        faults: Faults {
            deny_assume_role_accounts: vec!["222222222222".into()],
            ..Faults::default()
        },
        ..config(10)
    })
    .await;
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(static_credentials())
        .endpoint_url(emulator.endpoint_url())
        .load()
        .await;
    let denied = assume(&base, "arn:aws:iam::222222222222:role/Reader", None)
        .await
        .unwrap_err();
    assert_eq!(
        denied,
        "403 AccessDenied: User: arn:aws:iam::111111111111:user/emulator is not authorized to perform: \
         sts:AssumeRole on resource: arn:aws:iam::222222222222:role/Reader"
    );
    assert!(assume(&base, "arn:aws:iam::111111111111:role/Reader", None)
        .await
        .is_ok());
    let stats = emulator.stats();
    // Not retried: one call each.
    assert_eq!((stats.assume_role_calls, stats.assume_role_denied), (2, 1));

    // With an ExternalId configured, a missing or wrong one is refused.
    emulator.set_faults(Faults {
        external_id: Some("tenant-7".into()),
        ..Faults::default()
    });
    let role = "arn:aws:iam::222222222222:role/Reader";
    for wrong in [None, Some("tenant-8")] {
        let err = assume(&base, role, wrong).await.unwrap_err();
        assert!(err.starts_with("403 AccessDenied: "), "{err}");
    }
    let out = assume(&base, role, Some("tenant-7")).await.unwrap();
    let key = out.credentials().unwrap().access_key_id();
    assert!(key.starts_with("ASIA222222222222"), "{key}");
    let stats = emulator.stats();
    assert_eq!((stats.assume_role_calls, stats.assume_role_denied), (5, 3));
    assert_eq!(
        stats.assume_role_by_account,
        [
            ("111111111111".to_owned(), 1),
            ("222222222222".to_owned(), 4)
        ]
        .into()
    );
    assert!(stats.sts_calls >= 5);

    // The same through aws-config's AssumeRoleProvider, as backup-fetch uses it.
    let provider = AssumeRoleProvider::builder(role)
        .session_name("backup-audit")
        .external_id("tenant-7")
        .configure(&base)
        .build()
        .await;
    let assumed = base
        .to_builder()
        .credentials_provider(aws_sdk_backup::config::SharedCredentialsProvider::new(
            provider,
        ))
        .build();
    let (jobs, _) = list_all(aws_sdk_backup::Client::new(&assumed).list_copy_jobs()).await;
    assert_eq!(jobs, emulator.jobs("222222222222", "us-east-1"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_backup_only_endpoint_refuses_sts_and_organizations() {
    let emulator = start(EmulatorConfig {
        faults: Faults {
            backup_only: true,
            ..Faults::default()
        },
        ..config(30)
    })
    .await;
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(static_credentials())
        .endpoint_url(emulator.endpoint_url())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    // AWS Backup itself answers.
    let (jobs, _) = list_all(aws_sdk_backup::Client::new(&base).list_copy_jobs()).await;
    assert_eq!(jobs.len(), 30);
    // STS and Organizations sent to it fail, as at a VPC endpoint of AWS Backup.
    let sts = aws_sdk_sts::Client::new(&base)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(sts.raw_response().unwrap().status().as_u16(), 404);
    assert!(assume(&base, "arn:aws:iam::123456789012:role/Reader", None)
        .await
        .is_err_and(|e| e.starts_with("404 ")));
    let org = aws_sdk_organizations::Client::new(&base)
        .list_accounts()
        .send()
        .await
        .unwrap_err();
    assert_eq!(org.raw_response().unwrap().status().as_u16(), 404);
    assert_eq!(
        aws_sdk_organizations::error::ProvideErrorMetadata::code(&org),
        Some("UnknownOperationException")
    );
    let stats = emulator.stats();
    assert_eq!(stats.refused_off_service, 3);
    assert_eq!(stats.assume_role_calls, 0);
    emulator.shutdown().await;
}
