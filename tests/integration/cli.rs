//! `decode`, `describe` and `list` as a user runs them.

use std::io::Write;

use backup_emulator::Faults;
use backup_model::CopyJobState;

use crate::support::*;

fn lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn decode_is_a_fixed_point_and_names_bad_records() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/list-copy-jobs.json");
    let first = run(binary().args(["decode", sample])).await;
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(lines(&first).len(), 2);

    let dir = tempfile::tempdir().unwrap();
    let canonical = dir.path().join("canonical.jsonl");
    std::fs::write(&canonical, &first.stdout).unwrap();
    let second = run(binary().args(["decode"]).arg(&canonical)).await;
    assert_eq!(
        second.stdout, first.stdout,
        "decoding its own output is byte-identical"
    );

    let bad = dir.path().join("bad.json");
    let mut f = std::fs::File::create(&bad).unwrap();
    writeln!(f, "{{\"CopyJobs\": [").unwrap();
    writeln!(f, "  {{\"CopyJobId\": \"a\"}},").unwrap();
    writeln!(
        f,
        "  {{\"CopyJobId\": \"b\", \"BackupSizeInBytes\": \"huge\"}},"
    )
    .unwrap();
    writeln!(f, "  {{\"CopyJobId\": \"c\"}}").unwrap();
    writeln!(f, "]}}").unwrap();
    drop(f);
    let out = run(binary().args(["decode"]).arg(&bad).arg(sample)).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("bad.json:3:")
            && err.contains(
                "CopyJobs[1].BackupSizeInBytes: invalid type: string \"huge\", expected i64"
            ),
        "{err}"
    );
    // The good records of both files are still printed.
    assert_eq!(lines(&out).len(), 4);

    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, [0xff, 0x00, b'{', b'"', 0xc3]).unwrap();
    let out = run(binary().args(["decode"]).arg(&garbage)).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("garbage.bin:1:1"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_keeps_the_order_and_names_missing_ids() {
    let emu = emulator(60, &["us-east-1"], Faults::default()).await;
    let jobs = emu.jobs(ACCOUNT, "us-east-1");
    let a = jobs[5].copy_job_id.clone().unwrap();
    let b = jobs[2].copy_job_id.clone().unwrap();
    let out = run(binary()
        .args(["describe", "--region", "us-east-1", "--endpoint-url"])
        .arg(emu.endpoint_url())
        .env("AWS_ENDPOINT_URL_STS", emu.endpoint_url())
        .args([&a, "MISSING-JOB-ID", &b]))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let printed = lines(&out);
    assert_eq!(printed.len(), 2);
    assert!(printed[0].contains(&a) && printed[1].contains(&b));
    assert_eq!(printed[0], jobs[5].to_json_string());
    let err = stderr(&out);
    assert!(
        err.contains("MISSING-JOB-ID") && err.contains("ResourceNotFoundException"),
        "{err}"
    );

    let parent = jobs.iter().find(|j| j.is_parent == Some(true)).unwrap();
    let children = jobs
        .iter()
        .filter(|j| j.parent_job_id == parent.copy_job_id)
        .count();
    let out = run(binary()
        .args([
            "describe",
            "--children",
            "--region",
            "us-east-1",
            "--endpoint-url",
        ])
        .arg(emu.endpoint_url())
        .env("AWS_ENDPOINT_URL_STS", emu.endpoint_url())
        .arg(parent.copy_job_id.as_ref().unwrap()))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&out).len(), 1 + children);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_sends_filters_under_either_name_across_regions() {
    let emu = emulator(200, &["us-east-1", "eu-west-1"], Faults::default()).await;
    let failed = |region| {
        emu.jobs(ACCOUNT, region)
            .into_iter()
            .filter(|j| j.state == Some(CopyJobState::Failed))
            .count()
    };
    for flag in ["--state", "--by-state"] {
        let out = run(binary()
            .args([
                "list",
                "--region",
                "us-east-1",
                "--region",
                "eu-west-1",
                flag,
                "failed",
            ])
            .args(["--max-results", "9", "--endpoint-url"])
            .arg(emu.endpoint_url())
            .env("AWS_ENDPOINT_URL_STS", emu.endpoint_url()))
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(lines(&out).len(), failed("us-east-1") + failed("eu-west-1"));
    }
    let out = run(binary()
        .args([
            "list",
            "--region",
            "us-east-1",
            "--format",
            "table",
            "--endpoint-url",
        ])
        .arg(emu.endpoint_url())
        .env("AWS_ENDPOINT_URL_STS", emu.endpoint_url()))
    .await;
    let table = lines(&out);
    assert!(table[0].starts_with("ACCOUNT") && table[0].contains("STATE"));
    assert_eq!(table.len(), 1 + emu.jobs(ACCOUNT, "us-east-1").len());

    let out = run(binary().args([
        "list",
        "--region",
        "us-east-1",
        "--created-after",
        "last tuesday",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("RFC 3339"), "{}", stderr(&out));
}
