//! STS through aws-config: assumed credentials land requests on the role's account.

use aws_config::sts::AssumeRoleProvider;
use aws_config::BehaviorVersion;
use aws_sdk_backup::config::Region;

use crate::common::{config, list_all, start, static_credentials};
use backup_emulator::EmulatorConfig;

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
