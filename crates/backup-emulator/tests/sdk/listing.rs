//! ListCopyJobs and DescribeCopyJob through the real SDK, checked against the
//! emulator's own truth (`Emulator::jobs`).

use std::collections::{BTreeMap, HashSet};

use aws_sdk_backup::error::ProvideErrorMetadata;
use aws_sdk_backup::primitives::DateTime;
use aws_sdk_backup::types::CopyJobState as SdkState;
use backup_emulator::EmulatorConfig;
use backup_model::{CopyJob, CopyJobState, Timestamp};

use crate::common::{client, config, list_all, raw, start};

const ACCOUNT: &str = "123456789012";

#[tokio::test]
async fn every_region_lists_exactly() {
    let regions = ["us-east-1", "eu-west-1", "ap-southeast-2"];
    let emulator = start(EmulatorConfig {
        regions: regions.map(String::from).to_vec(),
        ..config(2500)
    })
    .await;
    let mut ids = HashSet::new();
    for region in regions {
        let truth = emulator.jobs(ACCOUNT, region);
        assert_eq!(truth.len(), 2500, "{region}");
        let (listed, pages) = list_all(client(&emulator, region).list_copy_jobs()).await;
        assert_eq!(listed, truth, "{region}");
        assert!(pages.len() >= 3, "{pages:?}");
        for job in &listed {
            assert!(
                ids.insert(job.copy_job_id.clone().unwrap()),
                "ids are unique"
            );
            assert!(job
                .source_backup_vault_arn
                .as_deref()
                .unwrap()
                .starts_with(&format!("arn:aws:backup:{region}:{ACCOUNT}:backup-vault:")));
        }
        // Newest first.
        assert!(listed
            .windows(2)
            .all(|w| w[0].creation_date >= w[1].creation_date));
    }
    let stats = emulator.stats();
    for region in regions {
        assert!(stats.regions[region].list_calls >= 3, "{stats:?}");
    }
    // A region without data is empty, not an error.
    let (none, _) = list_all(client(&emulator, "sa-east-1").list_copy_jobs()).await;
    assert!(none.is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn small_pages_give_the_same_jobs() {
    let emulator = start(config(700)).await;
    let truth = emulator.jobs(ACCOUNT, "us-east-1");
    let (listed, pages) = list_all(
        client(&emulator, "us-east-1")
            .list_copy_jobs()
            .max_results(7),
    )
    .await;
    assert_eq!(listed, truth);
    assert!(pages.iter().all(|&n| n <= 7));
    // Some pages are short although more follow: clients must keep going.
    let short_before_end = pages[..pages.len() - 1].iter().filter(|&&n| n < 7).count();
    assert!(short_before_end > 0, "{pages:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn jobs_are_realistic() {
    let emulator = start(config(3000)).await;
    let truth = emulator.jobs(ACCOUNT, "us-east-1");
    let count = |f: &dyn Fn(&CopyJob) -> bool| truth.iter().filter(|j| f(j)).count();
    let mut states = BTreeMap::new();
    for job in &truth {
        *states.entry(job.state.clone().unwrap()).or_insert(0) += 1;
    }
    let completed = states[&CopyJobState::Completed] as f64 / truth.len() as f64;
    let failed = states[&CopyJobState::Failed] as f64 / truth.len() as f64;
    assert!((0.8..0.95).contains(&completed), "{states:?}");
    assert!((0.03..0.15).contains(&failed), "{states:?}");
    assert!(count(&|j| j.is_parent == Some(true)) > 5);
    assert!(count(&|j| j.parent_job_id.is_some()) > 10);
    assert!(
        count(&|j| j.state == Some(CopyJobState::Partial)) > 0,
        "{states:?}"
    );
    let types: HashSet<_> = truth
        .iter()
        .filter_map(|j| j.resource_type.clone())
        .collect();
    for t in [
        "EC2",
        "EBS",
        "RDS",
        "DynamoDB",
        "EFS",
        "S3",
        "CloudFormation",
    ] {
        assert!(types.contains(t), "{types:?}");
    }
    for job in &truth {
        let created_by = job.created_by.as_ref().unwrap();
        assert!(created_by.backup_plan_arn.is_some() && created_by.backup_rule_cron.is_some());
        assert!(job.destination_recovery_point_lifecycle.is_some());
        assert!(job.iam_role_arn.is_some() && job.destination_encryption_key_arn.is_some());
        if job.state == Some(CopyJobState::Failed) {
            assert!(job.status_message.is_some() && job.message_category.is_some());
        }
        let arn = job.source_recovery_point_arn.as_deref().unwrap();
        match job.resource_type.as_deref().unwrap() {
            "EC2" => assert!(arn.contains("::image/ami-"), "{arn}"),
            "EBS" => assert!(arn.contains("::snapshot/snap-"), "{arn}"),
            "RDS" => assert!(arn.contains(":snapshot:awsbackup:job-"), "{arn}"),
            "DynamoDB" | "EFS" | "S3" => assert!(arn.contains(":recovery-point:"), "{arn}"),
            _ => {}
        }
    }
    // Resources are copied again and again.
    let mut per_resource = BTreeMap::new();
    for job in &truth {
        *per_resource
            .entry(job.resource_arn.clone().unwrap())
            .or_insert(0) += 1;
    }
    assert!(per_resource.values().filter(|&&n| n >= 10).count() >= 10);
    // Destinations in other regions and other accounts.
    assert!(
        count(&|j| !j
            .destination_backup_vault_arn
            .as_deref()
            .unwrap()
            .contains(":us-east-1:"))
            > 100
    );
    assert!(
        count(&|j| !j
            .destination_backup_vault_arn
            .as_deref()
            .unwrap()
            .contains(ACCOUNT))
            > 100
    );
    assert!(
        count(&|j| j.destination_vault_type.as_deref() == Some("LOGICALLY_AIR_GAPPED_BACKUP_VAULT"))
            > 10
    );
    emulator.shutdown().await;
}

fn at(t: Timestamp) -> DateTime {
    DateTime::from_millis(t.as_millis())
}

#[tokio::test]
async fn each_filter_matches_filtering_the_truth() {
    // Two days of jobs, a few minutes apart, so that every state is present.
    let emulator = start(EmulatorConfig {
        history: std::time::Duration::from_secs(2 * 86_400),
        ..config(1200)
    })
    .await;
    let truth = emulator.jobs(ACCOUNT, "us-east-1");
    let client = client(&emulator, "us-east-1");
    let base = || client.list_copy_jobs().max_results(100);
    let expect = |f: &dyn Fn(&CopyJob) -> bool| -> Vec<CopyJob> {
        truth.iter().filter(|j| f(j)).cloned().collect()
    };
    let some = |f: fn(&CopyJob) -> Option<String>| {
        // A value that several jobs share, when there is one.
        let mut counts = BTreeMap::new();
        for job in &truth {
            if let Some(v) = f(job) {
                *counts.entry(v).or_insert(0) += 1;
            }
        }
        counts.into_iter().max_by_key(|(_, n)| *n).unwrap().0
    };

    for state in ["CREATED", "RUNNING", "COMPLETED", "FAILED", "PARTIAL"] {
        let want = expect(&|j| j.state.as_ref().map(|s| s.as_str()) == Some(state));
        let (got, _) = list_all(base().by_state(SdkState::from(state))).await;
        assert_eq!(got, want, "state {state}");
        if state != "PARTIAL" {
            assert!(!got.is_empty(), "state {state}");
        }
    }

    let resource_type = some(|j| j.resource_type.clone());
    let (got, _) = list_all(base().by_resource_type(&resource_type)).await;
    assert_eq!(
        got,
        expect(&|j| j.resource_type.as_deref() == Some(&resource_type))
    );

    let resource_arn = some(|j| j.resource_arn.clone());
    let (got, _) = list_all(base().by_resource_arn(&resource_arn)).await;
    assert!(got.len() > 1);
    assert_eq!(
        got,
        expect(&|j| j.resource_arn.as_deref() == Some(&resource_arn))
    );

    let vault = some(|j| j.destination_backup_vault_arn.clone());
    let (got, _) = list_all(base().by_destination_vault_arn(&vault)).await;
    assert_eq!(
        got,
        expect(&|j| j.destination_backup_vault_arn.as_deref() == Some(&vault))
    );

    let source_rp = truth[17].source_recovery_point_arn.clone().unwrap();
    let (got, _) = list_all(base().by_source_recovery_point_arn(&source_rp)).await;
    assert_eq!(
        got,
        expect(&|j| j.source_recovery_point_arn.as_deref() == Some(&source_rp))
    );
    assert_eq!(got.len(), 1);

    let parent = some(|j| j.parent_job_id.clone());
    let (got, _) = list_all(base().by_parent_job_id(&parent)).await;
    assert!(got.len() >= 2);
    assert_eq!(
        got,
        expect(&|j| j.parent_job_id.as_deref() == Some(&parent))
    );

    let (got, _) = list_all(base().by_account_id(ACCOUNT)).await;
    assert_eq!(got, truth);
    let (got, _) = list_all(base().by_account_id("000000000000")).await;
    assert!(got.is_empty());

    for category in ["SUCCESS", "AccessDenied", "InvalidParameters"] {
        let (got, _) = list_all(base().by_message_category(category)).await;
        assert!(!got.is_empty(), "{category}");
        assert_eq!(
            got,
            expect(&|j| j.message_category.as_deref() == Some(category))
        );
    }
    for everything in ["ANY", "AGGREGATE_ALL"] {
        let (got, _) = list_all(base().by_message_category(everything)).await;
        assert_eq!(got, truth);
    }

    // After/Before are strict: the job created at the bound itself is excluded.
    let mid = truth[truth.len() / 2].creation_date.unwrap();
    let (got, _) = list_all(base().by_created_after(at(mid))).await;
    assert_eq!(got, expect(&|j| j.creation_date.unwrap() > mid));
    let (got, _) = list_all(base().by_created_before(at(mid))).await;
    assert_eq!(got, expect(&|j| j.creation_date.unwrap() < mid));
    assert_eq!(
        list_all(base().by_created_after(at(mid))).await.0.len()
            + list_all(base().by_created_before(at(mid))).await.0.len()
            + 1,
        truth.len()
    );

    let done = truth
        .iter()
        .filter_map(|j| j.completion_date)
        .nth(truth.len() / 3)
        .unwrap();
    let (got, _) = list_all(base().by_complete_after(at(done))).await;
    assert_eq!(
        got,
        expect(&|j| j.completion_date.is_some_and(|c| c > done))
    );
    let (got, _) = list_all(base().by_complete_before(at(done))).await;
    assert_eq!(
        got,
        expect(&|j| j.completion_date.is_some_and(|c| c < done))
    );

    // Filters combine.
    let (got, _) = list_all(
        base()
            .by_state(SdkState::Completed)
            .by_resource_type(&resource_type)
            .by_created_before(at(mid)),
    )
    .await;
    assert_eq!(
        got,
        expect(&|j| j.state == Some(CopyJobState::Completed)
            && j.resource_type.as_deref() == Some(&resource_type)
            && j.creation_date.unwrap() < mid)
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn describe_finds_jobs_and_reports_missing_ones() {
    let emulator = start(EmulatorConfig {
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        ..config(300)
    })
    .await;
    let truth = emulator.jobs(ACCOUNT, "us-east-1");
    let client = client(&emulator, "us-east-1");
    for job in truth.iter().step_by(37) {
        let id = job.copy_job_id.as_deref().unwrap();
        let out = client
            .describe_copy_job()
            .copy_job_id(id)
            .send()
            .await
            .unwrap();
        assert_eq!(CopyJob::from(out.copy_job().unwrap()), *job);
    }

    let missing = "DEADBEEF-0000-4000-8000-000000000000";
    let err = client
        .describe_copy_job()
        .copy_job_id(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
    let service = err.into_service_error();
    assert!(service.is_resource_not_found_exception(), "{service:?}");
    assert_eq!(
        service.message(),
        Some(format!("Copy job {missing} not found").as_str())
    );

    // A job of another region is not found here.
    let elsewhere = emulator.jobs(ACCOUNT, "eu-west-1")[0]
        .copy_job_id
        .clone()
        .unwrap();
    let err = client
        .describe_copy_job()
        .copy_job_id(&elsewhere)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());

    // The raw error is shaped like AWS's.
    let response = raw(&emulator, "GET", &format!("/copy-jobs/{missing}"), &[], "").await;
    assert_eq!(response.status, 404);
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("ResourceNotFoundException")
    );
    assert!(response.header("x-amzn-RequestId").is_some());
    assert_eq!(
        response.json(),
        serde_json::json!({
            "Code": "ResourceNotFoundException",
            "Message": format!("Copy job {missing} not found"),
            "Context": missing,
            "Type": "User",
        })
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn invalid_parameters_are_rejected() {
    let emulator = start(config(50)).await;
    let client = client(&emulator, "us-east-1");
    for bad in [0, 1001, -3] {
        let err = client
            .list_copy_jobs()
            .max_results(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
        let service = err.into_service_error();
        assert!(
            service.is_invalid_parameter_value_exception(),
            "{service:?}"
        );
    }
    let err = client
        .list_copy_jobs()
        .next_token("bm90IGEgdG9rZW4")
        .send()
        .await
        .unwrap_err();
    assert!(err
        .into_service_error()
        .is_invalid_parameter_value_exception());

    // A token is bound to its query: another filter cannot reuse it.
    let page = client.list_copy_jobs().max_results(5).send().await.unwrap();
    let token = page.next_token().unwrap();
    let err = client
        .list_copy_jobs()
        .max_results(5)
        .by_resource_type("EBS")
        .next_token(token)
        .send()
        .await
        .unwrap_err();
    assert!(err
        .into_service_error()
        .is_invalid_parameter_value_exception());
    // But maxResults may change between pages.
    assert!(client
        .list_copy_jobs()
        .max_results(9)
        .next_token(token)
        .send()
        .await
        .is_ok());

    let response = raw(&emulator, "GET", "/copy-jobs/?state=DONE", &[], "").await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("InvalidParameterValueException")
    );
    assert_eq!(response.json()["Context"], "state");
    assert_eq!(emulator.stats().bad_requests, 6);
    emulator.shutdown().await;
}

#[tokio::test]
async fn fixtures_are_served_as_given() {
    let jobs = backup_model::decode_all(
        br#"[
        {"CopyJobId":"a","AccountId":"123456789012","CreationDate":"2026-01-01T00:00:00.001Z","State":"COMPLETED",
         "SourceBackupVaultArn":"arn:aws:backup:eu-west-1:123456789012:backup-vault:Default","FutureMember":{"x":1}},
        {"CopyJobId":"b","AccountId":"123456789012","CreationDate":"2026-01-02T00:00:00Z","State":"SOMETHING_NEW",
         "SourceBackupVaultArn":"arn:aws:backup:eu-west-1:123456789012:backup-vault:Default","BackupSizeInBytes":5},
        {"CopyJobId":"c","CreationDate":"2026-01-03T00:00:00Z","State":"RUNNING"},
        {"CopyJobId":"d","AccountId":"210987654321","CreationDate":"2026-01-03T00:00:00Z","State":"FAILED",
         "SourceBackupVaultArn":"arn:aws:backup:us-east-1:210987654321:backup-vault:Default"}
        ]"#,
    )
    .unwrap();
    let emulator = start(EmulatorConfig {
        fixture: Some(jobs.clone()),
        ..config(0)
    })
    .await;
    let eu = emulator.jobs(ACCOUNT, "eu-west-1");
    assert_eq!(eu, vec![jobs[1].clone(), jobs[0].clone()]);
    assert_eq!(emulator.jobs(ACCOUNT, "us-east-1"), vec![jobs[2].clone()]);
    assert_eq!(
        emulator.jobs("210987654321", "us-east-1"),
        vec![jobs[3].clone()]
    );

    // The clock does not change fixtures.
    emulator.advance_clock(std::time::Duration::from_secs(86_400 * 365));
    assert_eq!(emulator.jobs(ACCOUNT, "eu-west-1"), eu);

    // Unknown members and values go over the wire untouched.
    let auth = crate::common::authorization("AKIDEMULATORTEST", "eu-west-1");
    let response = raw(
        &emulator,
        "GET",
        "/copy-jobs/",
        &[("Authorization", &auth)],
        "",
    )
    .await;
    assert_eq!(backup_model::decode_all(&response.body).unwrap(), eu);
    let response = raw(
        &emulator,
        "GET",
        "/copy-jobs/a",
        &[("Authorization", &auth)],
        "",
    )
    .await;
    assert_eq!(
        backup_model::decode_all(&response.body).unwrap(),
        vec![jobs[0].clone()]
    );

    let (listed, _) = list_all(
        client(&emulator, "eu-west-1")
            .list_copy_jobs()
            .max_results(1),
    )
    .await;
    assert_eq!(
        listed
            .iter()
            .map(|j| j.copy_job_id.clone().unwrap())
            .collect::<Vec<_>>(),
        ["b", "a"]
    );
    emulator.shutdown().await;
}
