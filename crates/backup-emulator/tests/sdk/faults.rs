//! Injected faults, and the SDK's standard retry getting through them.

use std::time::{Duration, Instant};

use aws_sdk_backup::config::retry::RetryConfig;
use aws_sdk_backup::error::ProvideErrorMetadata;
use backup_emulator::{Burst, Faults, Malformed, ThrottleStatus};

use crate::common::{
    authorization, client, client_with, config, list_all, patient_retries, raw, start,
};

const ACCOUNT: &str = "123456789012";

#[tokio::test]
async fn throttling_and_unavailability_at_half_rate_are_retried_through() {
    let emulator = start(config(3000)).await;
    let truth = emulator.jobs(ACCOUNT, "us-east-1");
    let client = client_with(&emulator, "us-east-1", patient_retries());
    for faults in [
        Faults {
            throttle_rate: 0.5,
            ..Faults::default()
        },
        Faults {
            error_rate: 0.5,
            ..Faults::default()
        },
        Faults {
            throttle_rate: 0.25,
            error_rate: 0.25,
            ..Faults::default()
        },
    ] {
        emulator.set_faults(faults.clone());
        let before = emulator.stats();
        let (listed, _) = list_all(client.list_copy_jobs().max_results(100)).await;
        assert_eq!(listed, truth, "{faults:?}");
        let id = truth[3].copy_job_id.as_deref().unwrap();
        for _ in 0..4 {
            let out = client
                .describe_copy_job()
                .copy_job_id(id)
                .send()
                .await
                .unwrap();
            assert_eq!(out.copy_job().unwrap().copy_job_id(), Some(id));
        }
        let after = emulator.stats();
        let throttled = after.throttled - before.throttled;
        let errors = after.errors - before.errors;
        let calls =
            (after.list_calls + after.describe_calls) - (before.list_calls + before.describe_calls);
        // Half of all calls failed, and were retried until they passed.
        assert_eq!(throttled + errors, calls / 2, "{faults:?} {after:?}");
        assert_eq!(throttled > 0, faults.throttle_rate > 0.0);
        assert_eq!(errors > 0, faults.error_rate > 0.0);
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn without_retries_faults_surface_with_their_codes() {
    let emulator = start(config(20)).await;
    let client = client(&emulator, "us-east-1");

    emulator.set_faults(Faults {
        throttle_rate: 1.0,
        ..Faults::default()
    });
    let err = client.list_copy_jobs().send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 429);
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert_eq!(err.message(), Some("Rate exceeded"));

    emulator.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let err = client.list_copy_jobs().send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 503);
    assert!(err.into_service_error().is_service_unavailable_exception());

    // STS and the control endpoints are never faulted.
    let response = raw(&emulator, "GET", "/_emulator/stats", &[], "").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["errors"], 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn denied_accounts_get_access_denied() {
    // The synthetic timeline is months from the wall clock, but the `Date`
    // header is the wall clock: the SDK, which takes an AccessDeniedException
    // from a server whose clock is far from ours for a clock-skew problem
    // and retries it, must not retry here.
    let emulator = start(config(20)).await;
    emulator.set_faults(Faults {
        deny_accounts: vec![ACCOUNT.to_owned()],
        ..Faults::default()
    });
    let client = client_with(&emulator, "us-east-1", patient_retries());
    let err = client.list_copy_jobs().send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert!(
        err.message().unwrap().contains("backup:ListCopyJobs"),
        "{err:?}"
    );
    let err = client
        .describe_copy_job()
        .copy_job_id("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert!(err.message().unwrap().contains("backup:DescribeCopyJob"));
    // Not retried: one call each.
    let stats = emulator.stats();
    assert_eq!(
        (stats.denied, stats.list_calls, stats.describe_calls),
        (2, 1, 1)
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn malformed_responses_break_the_client() {
    let emulator = start(config(50)).await;
    let client = client_with(
        &emulator,
        "us-east-1",
        RetryConfig::standard().with_max_attempts(1),
    );
    let auth = authorization("AKIDEMULATORTEST", "us-east-1");
    for malformed in [Malformed::Truncated, Malformed::WrongType, Malformed::Html] {
        emulator.set_faults(Faults {
            malformed: Some(malformed),
            ..Faults::default()
        });
        let result = client.list_copy_jobs().send().await;
        assert!(result.is_err(), "{malformed}: {result:?}");
        let response = raw(
            &emulator,
            "GET",
            "/copy-jobs/",
            &[("Authorization", &auth)],
            "",
        )
        .await;
        match malformed {
            Malformed::Truncated => {
                assert_eq!(response.status, 200);
                assert!(serde_json::from_slice::<serde_json::Value>(&response.body).is_err());
            }
            Malformed::WrongType => {
                assert_eq!(response.status, 200);
                assert!(response.json()["CopyJobs"][0]["BackupSizeInBytes"].is_string());
            }
            Malformed::Html => {
                assert_eq!(response.status, 502);
                assert_eq!(response.header("content-type"), Some("text/html"));
                assert!(String::from_utf8_lossy(&response.body).contains("<html>"));
            }
        }
    }
    assert_eq!(emulator.stats().malformed, 6);

    // Limited to a region, the others stay healthy.
    emulator.set_faults(Faults {
        malformed: Some(Malformed::Truncated),
        malformed_regions: vec!["eu-west-1".into()],
        ..Faults::default()
    });
    assert!(client.list_copy_jobs().send().await.is_ok());
    let eu = raw(
        &emulator,
        "GET",
        "/copy-jobs/",
        &[(
            "Authorization",
            &authorization("AKIDEMULATORTEST", "eu-west-1"),
        )],
        "",
    )
    .await;
    assert!(serde_json::from_slice::<serde_json::Value>(&eu.body).is_err());
    emulator.shutdown().await;
}

#[tokio::test]
async fn latency_is_added_to_backup_calls() {
    let emulator = start(config(20)).await;
    emulator.set_faults(Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    });
    let client = client(&emulator, "us-east-1");
    let began = Instant::now();
    let (jobs, _) = list_all(client.list_copy_jobs()).await;
    assert_eq!(jobs.len(), 20);
    assert!(began.elapsed() >= Duration::from_millis(150));

    // STS and Organizations have their own latency.
    emulator.set_faults(Faults {
        sts_latency: Duration::from_millis(120),
        ..Faults::default()
    });
    let began = Instant::now();
    let response = raw(
        &emulator,
        "POST",
        "/",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(response.status, 200);
    assert!(began.elapsed() >= Duration::from_millis(120));
    emulator.shutdown().await;
}

#[tokio::test]
async fn throttling_comes_in_bursts_with_status_400_or_429() {
    let emulator = start(config(300)).await;
    let truth = emulator.jobs(ACCOUNT, "us-east-1");
    let bare = client(&emulator, "us-east-1");
    for status in [ThrottleStatus::BadRequest, ThrottleStatus::TooManyRequests] {
        emulator.set_faults(Faults {
            throttle_burst: Some(Burst {
                length: 3,
                every: 10,
            }),
            throttle_status: status,
            ..Faults::default()
        });
        // Without retries: the last 3 of every 10 calls are throttled, back to back.
        let mut throttled = Vec::new();
        for n in 0..20 {
            if let Err(err) = bare.list_copy_jobs().max_results(5).send().await {
                assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
                assert_eq!(err.raw_response().unwrap().status().as_u16(), status.code());
                throttled.push(n);
            }
        }
        assert_eq!(throttled, [7, 8, 9, 17, 18, 19], "{status}");
    }

    // The SDK's standard retry knows a 400 ThrottlingException by its code
    // and gets through the bursts to the exact listing.
    emulator.set_faults(Faults {
        throttle_burst: Some(Burst {
            length: 4,
            every: 7,
        }),
        throttle_status: ThrottleStatus::BadRequest,
        ..Faults::default()
    });
    let before = emulator.stats();
    let patient = client_with(&emulator, "us-east-1", patient_retries());
    let (listed, _) = list_all(patient.list_copy_jobs().max_results(20)).await;
    assert_eq!(listed, truth);
    let after = emulator.stats();
    let calls = after.list_calls - before.list_calls;
    let throttled = after.throttled - before.throttled;
    // Every cycle of 7 calls holds 3 answered and 4 throttled ones.
    assert!(throttled >= 4 * (calls / 7), "{throttled} of {calls}");
    assert_eq!(after.errors, 0);
    emulator.shutdown().await;
}
