//! Strict decoding: only copy jobs are records, invalid JSON is never
//! accepted, duplicate member names are errors, and every valid layout of the
//! same JSON gives the same jobs.

use backup_model::{decode_all, Decoder};

/// Every item the decoder yields: the job's id, or the error's full text.
fn outcomes(input: &str) -> Vec<Result<String, String>> {
    Decoder::new(input.as_bytes())
        .map(|r| match r {
            Ok(rec) => Ok(rec.job.copy_job_id.unwrap_or_default()),
            Err(e) => Err(e.to_string()),
        })
        .collect()
}

fn ids(input: &str) -> Vec<String> {
    decode_all(input.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|j| j.copy_job_id.unwrap_or_default())
        .collect()
}

#[test]
fn an_aws_error_body_is_not_a_copy_job() {
    let got = outcomes(r#"{"__type":"AccessDeniedException","message":"User is not authorized"}"#);
    assert_eq!(got.len(), 1, "{got:?}");
    let error = got[0].as_ref().unwrap_err();
    assert!(error.contains("not a copy job"), "{error}");
    assert!(error.contains("AccessDeniedException"), "{error}");
}

#[test]
fn an_empty_object_is_not_a_copy_job() {
    let got = outcomes("{}");
    assert!(
        got[0].as_ref().is_err_and(|e| e.contains("not a copy job")),
        "{got:?}"
    );
    let got = outcomes(r#"{"CopyJobs":[{"CopyJobId":"a"},{}]}"#);
    assert_eq!(got[0], Ok("a".into()));
    assert!(
        got[1]
            .as_ref()
            .is_err_and(|e| e.contains("CopyJobs[1]") && e.contains("not a copy job")),
        "{got:?}"
    );
}

#[test]
fn a_member_without_a_value_is_refused_in_any_order() {
    for input in [
        r#"{"CopyJobs":[{"CopyJobId":"a"}],"NextToken": }"#,
        r#"{"NextToken": ,"CopyJobs":[{"CopyJobId":"a"}]}"#,
        r#"{"CopyJobs":[{"CopyJobId":"a"}],"NextToken":"t",}"#,
        r#"{"CopyJobs":[{"CopyJobId":"a"}],"Other":[1,}"#,
        r#"{"CopyJobs":[{"CopyJobId":"a"}],"NextToken":tru}"#,
    ] {
        assert!(decode_all(input.as_bytes()).is_err(), "accepted: {input}");
    }
}

#[test]
fn duplicate_member_names_are_errors_with_their_path() {
    let got = outcomes(r#"{"CopyJobs":[{"CopyJobId":"a","State":"RUNNING","State":"COMPLETED"}]}"#);
    let error = got[0].as_ref().unwrap_err();
    assert!(
        error.contains("CopyJobs[0].State") && error.contains("duplicate"),
        "{error}"
    );
    let got = outcomes(r#"{"CopyJobId":"a","CreatedBy":{"BackupPlanId":"p","BackupPlanId":"q"}}"#);
    let error = got[0].as_ref().unwrap_err();
    assert!(
        error.contains("CreatedBy.BackupPlanId") && error.contains("duplicate"),
        "{error}"
    );
    let got = outcomes(r#"{"CopyJobId":"a","New":{"x":1,"x":2}}"#);
    let error = got[0].as_ref().unwrap_err();
    assert!(
        error.contains("New.x") && error.contains("duplicate"),
        "{error}"
    );
    let got = outcomes(r#"{"CopyJobId":"a","New":1,"New":2}"#);
    assert!(
        got[0]
            .as_ref()
            .is_err_and(|e| e.contains("New") && e.contains("duplicate")),
        "{got:?}"
    );
    let got = outcomes(r#"{"CopyJobs":[{"CopyJobId":"a"}],"NextToken":"t","NextToken":"u"}"#);
    assert!(
        got.iter().any(|r| r
            .as_ref()
            .is_err_and(|e| e.contains("NextToken") && e.contains("duplicate"))),
        "{got:?}"
    );
}

/// A page of 30 jobs with nested structures, as the service sends it.
fn page() -> serde_json::Value {
    let jobs: Vec<serde_json::Value> = (0..30)
        .map(|i| {
            serde_json::json!({
                "CopyJobId": format!("job-{i}"),
                "State": "COMPLETED",
                "CreationDate": 1516925490.087,
                "CreatedBy": {"BackupPlanId": "p", "BackupRuleId": "r"},
                "ChildJobsInState": {"COMPLETED": 2, "RUNNING": 1},
                "DestinationRecoveryPointLifecycle": {"DeleteAfterDays": 35},
                "StatusMessage": "line one\nline two {\n[",
                "NewMember": [{"a": [1, 2, {"b": null}]}, "]"],
            })
        })
        .collect();
    serde_json::json!({"CopyJobs": jobs, "NextToken": "t"})
}

#[test]
fn every_layout_decodes_to_the_same_jobs() {
    let page = page();
    let compact = serde_json::to_string(&page).unwrap();
    let pretty = serde_json::to_string_pretty(&page).unwrap();
    // Python's json.dumps(page, indent=0): a line per value, no indentation.
    let mut indent0 = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"");
    let mut ser = serde_json::Serializer::with_formatter(&mut indent0, formatter);
    serde::Serialize::serialize(&page, &mut ser).unwrap();
    let indent0 = String::from_utf8(indent0).unwrap();
    let crlf = pretty.replace('\n', "\r\n");
    let tabs = pretty.replace("  ", "\t");
    let expected: Vec<String> = (0..30).map(|i| format!("job-{i}")).collect();
    let canonical = |text: &str| -> Vec<String> {
        decode_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|j| j.to_json_string())
            .collect()
    };
    let reference = canonical(&compact);
    for (name, text) in [
        ("compact", &compact),
        ("pretty", &pretty),
        ("indent=0", &indent0),
        ("crlf", &crlf),
        ("tabs", &tabs),
    ] {
        assert_eq!(ids(text), expected, "{name}");
        assert_eq!(canonical(text), reference, "{name}");
    }
}

#[test]
fn big_and_precise_numbers_in_unknown_members_are_kept_as_sent() {
    let input = r#"{"CopyJobId":"a","Big":123456789012345678901234567890,"Precise":0.1000000000000000055511151231257827,"Exp":1E+400,"Nested":{"n":-0.0}}"#;
    let jobs = decode_all(input.as_bytes()).unwrap();
    let line = jobs[0].to_json_string();
    assert!(
        line.contains("\"Big\":123456789012345678901234567890"),
        "{line}"
    );
    assert!(
        line.contains("\"Precise\":0.1000000000000000055511151231257827"),
        "{line}"
    );
    assert!(line.contains("\"Exp\":1E+400"), "{line}");
    assert!(line.contains("\"n\":-0.0"), "{line}");
}

#[test]
fn a_record_past_the_maximum_size_is_an_error_and_the_next_one_decodes() {
    let big = "x".repeat(64 * 1024);
    let input = format!(
        "{{\"CopyJobs\":[{{\"CopyJobId\":\"a\"}},{{\"CopyJobId\":\"big\",\"StatusMessage\":\"{big}\"}},{{\"CopyJobId\":\"c\"}}]}}\n{{\"CopyJobId\":\"d\",\"Junk\":\"{big}\"}}\n{{\"CopyJobId\":\"e\"}}"
    );
    let got: Vec<Result<String, String>> = backup_model::Decoder::new(input.as_bytes())
        .max_record_size(16 * 1024)
        .map(|r| {
            r.map(|r| r.job.copy_job_id.unwrap_or_default())
                .map_err(|e| e.to_string())
        })
        .collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0], Ok("a".into()));
    assert!(
        got[1]
            .as_ref()
            .is_err_and(|e| e.contains("CopyJobs[1]") && e.contains("16384 bytes")),
        "{got:?}"
    );
    assert_eq!(got[2], Ok("c".into()));
    assert!(
        got[3].as_ref().is_err_and(|e| e.contains("16384 bytes")),
        "{got:?}"
    );
    assert_eq!(got[4], Ok("e".into()));
}

/// The new errors as a person reads them: kind, position, path and message.
#[test]
fn strict_errors_read_well() {
    let cases = [
        r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::111122223333:user/x is not authorized"}"#,
        "{}",
        r#"{"CopyJobs":[{"CopyJobId":"a"},{"NextToken":"t"}]}"#,
        "{\"CopyJobs\": [\n  {\"CopyJobId\": \"a\"}\n],\n\"NextToken\": }",
        r#"{"CopyJobs":[{"CopyJobId":"a","State":"RUNNING","State":"COMPLETED"}]}"#,
        r#"{"CopyJobId":"a","ChildJobsInState":{"RUNNING":1,"RUNNING":2}}"#,
        r#"{"CopyJobId":"a","CreatedBy":{"BackupPlanId":"p","New":{"k":[{"x":1,"x":2}]}}}"#,
        r#"{"CopyJobs":[{"CopyJobId":"a"}],"NextToken":"t","NextToken":"u"}"#,
        r#"{"NextToken":"t","CopyJobs":[{"CopyJobId":"a"}],"CopyJobs":[]}"#,
        "{\"CopyJobId\":\"a\",\n\"StatusMessage\":\"cut",
    ];
    let mut text = String::new();
    for input in cases {
        text.push_str(&format!("{input}\n"));
        for item in Decoder::new(input.as_bytes()).max_record_size(1024) {
            match item {
                Ok(record) => text.push_str(&format!(
                    "  ok {}\n",
                    record.job.copy_job_id.unwrap_or_default()
                )),
                Err(e) => text.push_str(&format!("  {:?}: {e}\n", e.kind())),
            }
        }
    }
    let big = format!(
        "{{\"CopyJobId\":\"big\",\"StatusMessage\":\"{}\"}}",
        "x".repeat(2000)
    );
    for item in Decoder::new(big.as_bytes()).max_record_size(1024) {
        let e = item.unwrap_err();
        text.push_str(&format!("(2 KiB job)\n  {:?}: {e}\n", e.kind()));
    }
    insta::assert_snapshot!(text);
}

#[test]
fn errors_carry_their_source() {
    use std::error::Error as _;
    let error = decode_all(br#"{"CopyJobId":"a","BackupSizeInBytes":"huge"}"#).unwrap_err();
    let source = error.source().expect("serde_json's error");
    assert!(source.to_string().contains("invalid type"), "{source}");

    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let error = Decoder::new(std::io::BufReader::new(Failing))
        .next()
        .unwrap()
        .unwrap_err();
    let source = error.source().expect("the I/O error");
    assert!(source.downcast_ref::<std::io::Error>().is_some());
}

#[test]
fn timestamps_convert_to_and_from_system_time() {
    use backup_model::Timestamp;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    for millis in [
        0,
        1_516_925_490_087,
        -1_500,
        -62_135_596_800_000,
        253_402_300_799_999,
    ] {
        let t = Timestamp::from_millis(millis).unwrap();
        let system = SystemTime::from(t);
        assert_eq!(Timestamp::try_from(system).unwrap(), t, "{millis}");
    }
    // Rounded to the nearest millisecond, like every other source.
    let t = UNIX_EPOCH + Duration::from_nanos(1_516_925_490_086_999_893);
    assert_eq!(
        Timestamp::try_from(t).unwrap().to_string(),
        "2018-01-26T00:11:30.087Z"
    );
    let before = UNIX_EPOCH - Duration::from_micros(1_499);
    assert_eq!(Timestamp::try_from(before).unwrap().as_millis(), -1);
    let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
    assert!(Timestamp::try_from(far).is_err());
}

#[test]
fn builders_make_what_struct_literals_made() {
    use backup_model::{CopyJob, CopyJobState, Lifecycle, RecoveryPointCreator};
    let job = CopyJob::new()
        .with_copy_job_id("c")
        .with_state(CopyJobState::Running)
        .with_backup_size_in_bytes(5)
        .with_created_by(RecoveryPointCreator::new().with_backup_plan_id("p"))
        .with_destination_recovery_point_lifecycle(Lifecycle::new().with_delete_after_days(7))
        .with_unknown_member("New", r#"{ "a" : [1, 2] }"#)
        .unwrap();
    assert_eq!(
        job.to_json_string(),
        r#"{"BackupSizeInBytes":5,"CopyJobId":"c","CreatedBy":{"BackupPlanId":"p"},"DestinationRecoveryPointLifecycle":{"DeleteAfterDays":7},"State":"RUNNING","New":{"a":[1,2]}}"#
    );
    assert!(CopyJob::new().with_unknown_member("Bad", "{").is_err());
    assert!(CopyJob::new()
        .with_unknown_member("Dup", r#"{"a":1,"a":2}"#)
        .is_err());
}
