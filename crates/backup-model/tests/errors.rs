//! What the decoder says about bad input, and that it goes on after a bad
//! record.
//!
//! An error must name the member path (`CopyJobs[3].BackupSizeInBytes`) and the
//! line and column in the whole input, not in the record, so that a person can
//! open the file at that place.

use backup_model::{decode_all, DecodeError, DecodeErrorKind, Decoder, Position};

/// Every item the decoder yields: the job's id, or the error's full text.
fn outcomes(input: &str) -> Vec<Result<String, String>> {
    Decoder::new(input.as_bytes())
        .map(|r| match r {
            Ok(rec) => Ok(rec.job.copy_job_id.unwrap_or_default()),
            Err(e) => Err(e.to_string()),
        })
        .collect()
}

fn errors(input: &str) -> Vec<DecodeError> {
    Decoder::new(input.as_bytes())
        .filter_map(Result::err)
        .collect()
}

fn only_error(input: &str) -> DecodeError {
    let errors = errors(input);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn wrong_type_names_the_member_path_and_the_position_in_the_whole_input() {
    let input = r#"{
    "CopyJobs": [
        {"CopyJobId": "j0", "BackupSizeInBytes": 1},
        {"CopyJobId": "j1", "BackupSizeInBytes": 2},
        {"CopyJobId": "j2", "BackupSizeInBytes": 3},
        {"CopyJobId": "j3", "BackupSizeInBytes": "huge"},
        {"CopyJobId": "j4", "BackupSizeInBytes": 5}
    ],
    "NextToken": "t"
}"#;
    let error = only_error(input);
    assert_eq!(error.kind(), DecodeErrorKind::Data);
    assert_eq!(error.path(), "CopyJobs[3].BackupSizeInBytes");
    assert_eq!(
        error.message(),
        r#"invalid type: string "huge", expected i64"#
    );
    // Line 6; the column is that of the value's last byte, as serde_json counts.
    let line = input.lines().nth(5).unwrap();
    let column = line.find(r#""huge""#).unwrap() + r#""huge""#.len();
    assert_eq!(error.position(), Position::new(6, column as u64));
    assert_eq!(
        error.to_string(),
        format!(
            r#"line 6, column {column}: CopyJobs[3].BackupSizeInBytes: invalid type: string "huge", expected i64"#
        )
    );
    // The other four jobs of the page still decode.
    let ids: Vec<_> = outcomes(input).into_iter().filter_map(Result::ok).collect();
    assert_eq!(ids, ["j0", "j1", "j2", "j4"]);
}

#[test]
fn a_bad_member_on_a_later_line_of_a_multi_line_job() {
    // The position of an error on the job's third line is counted from the
    // start of the input, not of the job.
    let input = "{\"CopyJobs\": [{\"CopyJobId\": \"a\"}, {\n  \"CopyJobId\": \"b\",\n  \"IsParent\": \"yes\"\n}]}";
    let error = only_error(input);
    assert_eq!(error.path(), "CopyJobs[1].IsParent");
    assert_eq!(error.position(), Position::new(3, 19));
    assert_eq!(
        error.message(),
        r#"invalid type: string "yes", expected a boolean"#
    );
}

#[test]
fn nested_member_paths() {
    let page = r#"{"CopyJobs":[{"CopyJobId":"a","CreatedBy":{"BackupPlanId":42}}]}"#;
    let error = only_error(page);
    assert_eq!(error.path(), "CopyJobs[0].CreatedBy.BackupPlanId");
    assert_eq!(error.kind(), DecodeErrorKind::Data);
    assert_eq!(
        error.to_string(),
        "line 1, column 60: CopyJobs[0].CreatedBy.BackupPlanId: invalid type: integer `42`, expected a string"
    );

    let describe =
        r#"{"CopyJob":{"DestinationRecoveryPointLifecycle":{"DeleteAfterDays":"ninety"}}}"#;
    assert_eq!(
        only_error(describe).path(),
        "CopyJob.DestinationRecoveryPointLifecycle.DeleteAfterDays"
    );

    // A page read whole (its first member is not CopyJobs) names paths alike.
    let late = r#"{"NextToken":"t","CopyJobs":[{"CopyJobId":"a"},{"ChildJobsInState":{"RUNNING":"two"}}]}"#;
    let error = only_error(late);
    assert_eq!(error.path(), "CopyJobs[1].ChildJobsInState.RUNNING");
    assert_eq!(
        error.position().column as usize,
        late.find(r#""two""#).unwrap() + r#""two""#.len()
    );
    assert_eq!(outcomes(late)[0], Ok("a".to_owned()));

    let array = r#"[{"CopyJobId":"a"},{"State":7}]"#;
    assert_eq!(only_error(array).path(), "[1].State");

    let bare = r#"{"CreatedBy":{"BackupRuleTimezone":["UTC"]}}"#;
    assert_eq!(only_error(bare).path(), "CreatedBy.BackupRuleTimezone");
}

#[test]
fn bad_values_of_the_right_type() {
    let timestamp = only_error(r#"{"CopyJobId":"a","CreationDate":"yesterday"}"#);
    assert_eq!(timestamp.kind(), DecodeErrorKind::Data);
    assert_eq!(timestamp.path(), "CreationDate");
    assert!(
        timestamp
            .message()
            .starts_with(r#"invalid timestamp "yesterday""#),
        "{timestamp}"
    );

    let far = only_error(r#"{"CopyJobs":[{"CompletionDate":1e300}]}"#);
    assert_eq!(far.path(), "CopyJobs[0].CompletionDate");
    assert!(far.message().contains("outside the years"), "{far}");

    let overflow = only_error(r#"[{"BackupSizeInBytes":9223372036854775808}]"#);
    assert_eq!(overflow.path(), "[0].BackupSizeInBytes");
    assert!(overflow.message().contains("expected i64"), "{overflow}");

    let envelope = only_error(r#"{"CopyJobs":"none"}"#);
    assert_eq!(envelope.kind(), DecodeErrorKind::Data);
}

#[test]
fn truncated_input() {
    let input = r#"{"CopyJobs":[{"CopyJobId":"a"},{"CopyJobId":"b","CreationDate":1516925490.0"#;
    let got = outcomes(input);
    assert_eq!(got[0], Ok("a".to_owned()));
    assert_eq!(got.len(), 2, "{got:?}");
    let error = errors(input).remove(0);
    assert_eq!(error.kind(), DecodeErrorKind::Syntax);
    assert!(error.message().contains("truncated"), "{error}");
    // Placed at the start of the record that was cut short.
    let start = input.find(r#"{"CopyJobId":"b""#).unwrap() as u64 + 1;
    assert_eq!(error.position(), Position::new(1, start));
    assert_eq!(decode_all(input.as_bytes()).unwrap_err(), error);
}

#[test]
fn every_proper_prefix_of_a_document_is_an_error() {
    // Whatever the shape, a document cut short anywhere is reported, never
    // taken as a shorter, valid input.
    for document in [
        r#"{"CopyJobs":[{"CopyJobId":"a","CreatedBy":{"BackupPlanId":"p"}},{"CopyJobId":"b"}],"NextToken":"t"}"#,
        r#"{"NextToken":"12","CopyJobs":[{"CopyJobId":"a"}]}"#,
        r#"{"CopyJob":{"CopyJobId":"a","BackupSizeInBytes":1234}}"#,
        r#"[{"CopyJobId":"a"},{"CopyJobId":"b","IsParent":true}]"#,
        r#"{"CopyJobId":"a","CreationDate":1516925490.087}"#,
        "{\n  \"CopyJobs\": [\n    {\n      \"CopyJobId\": \"a\"\n    }\n  ]\n}",
    ] {
        assert!(decode_all(document.as_bytes()).is_ok(), "{document}");
        for end in 1..document.len() {
            let prefix = &document[..end];
            if prefix.trim().is_empty() {
                continue;
            }
            let result = decode_all(prefix.as_bytes());
            assert!(result.is_err(), "{prefix:?} decoded as {result:?}");
        }
    }
}

#[test]
fn an_html_page_is_one_syntax_error() {
    let page = "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n</body>\n</html>\n";
    let error = only_error(page);
    assert_eq!(error.kind(), DecodeErrorKind::Syntax);
    assert_eq!(error.position(), Position::new(1, 1));
    assert_eq!(
        error.to_string(),
        "line 1, column 1: expected a JSON object or array, found '<'"
    );
    assert!(outcomes(page).iter().all(Result::is_err));
    assert_eq!(decode_all(page.as_bytes()).unwrap_err(), error);
}

#[test]
fn bad_records_among_good_ones_in_json_lines() {
    let input = [
        r#"{"CopyJobId":"good-1"}"#,
        r#"{"CopyJobId":"wrong-type","NumberOfChildJobs":"three"}"#,
        r#"{"CopyJobId":"broken","#,
        r#"{"CopyJob":{"CopyJobId":"good-2"}}"#,
        r#"<html>not json</html>"#,
        r#"{"CopyJobs":[{"CopyJobId":"good-3"},{"CopyJobId":17},{"CopyJobId":"good-4"}]}"#,
        r#"{"CopyJobId":"trailing-comma",}"#,
        r#"{"CopyJobId":"good-5"}"#,
    ]
    .join("\n");
    let got = outcomes(&input);
    let good: Vec<_> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(good, ["good-1", "good-2", "good-3", "good-4", "good-5"]);

    let errors = errors(&input);
    let lines: Vec<u64> = errors.iter().map(|e| e.position().line).collect();
    assert_eq!(lines, [2, 3, 5, 6, 7], "{errors:#?}");
    assert_eq!(errors[0].path(), "NumberOfChildJobs");
    assert_eq!(errors[1].kind(), DecodeErrorKind::Syntax);
    assert_eq!(errors[2].kind(), DecodeErrorKind::Syntax);
    assert_eq!(errors[3].path(), "CopyJobs[1].CopyJobId");
    assert_eq!(errors[4].kind(), DecodeErrorKind::Syntax);

    // decode_all stops at the first of them.
    assert_eq!(decode_all(input.as_bytes()).unwrap_err(), errors[0]);
}

#[test]
fn bad_records_among_good_ones_in_an_array() {
    let input = r#"[
  {"CopyJobId": "good-1", "State": "COMPLETED"},
  {"CopyJobId": "bad", "CreationDate": false},
  {"CopyJobId": "good-2", "DestinationRecoveryPointLifecycle": {"OptInToArchiveForSupportedResources": true}},
  {"CopyJobId": "also-bad", "DestinationRecoveryPointLifecycle": {"MoveToColdStorageAfterDays": 1.5}},
  {"CopyJobId": "good-3"}
]"#;
    let got = outcomes(input);
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0], Ok("good-1".to_owned()));
    assert_eq!(got[2], Ok("good-2".to_owned()));
    assert_eq!(got[4], Ok("good-3".to_owned()));
    let errors = errors(input);
    assert_eq!(errors[0].path(), "[1].CreationDate");
    assert_eq!(errors[0].position().line, 3);
    assert_eq!(
        errors[1].path(),
        "[3].DestinationRecoveryPointLifecycle.MoveToColdStorageAfterDays"
    );
    assert_eq!(errors[1].position().line, 5);
    assert!(
        errors[1].message().contains("expected i64"),
        "{}",
        errors[1]
    );
}

#[test]
fn an_element_that_is_not_an_object() {
    let input = "[{\"CopyJobId\":\"a\"}, 42, {\"CopyJobId\":\"b\"}]\n{\"CopyJobId\":\"c\"}";
    let got = outcomes(input);
    assert_eq!(got[0], Ok("a".to_owned()));
    assert_eq!(
        got[1],
        Err("line 1, column 21: expected a CopyJob object, found '4'".to_owned())
    );
    // The structure is lost for the rest of that line; the next line decodes.
    assert_eq!(got.last(), Some(&Ok("c".to_owned())));
}

#[test]
fn input_that_is_not_json_at_all() {
    for input in [
        "42",
        "\"CopyJobId\"",
        "null",
        "}",
        "\u{0}\u{1}",
        "\u{feff}\u{feff}x",
    ] {
        let errors = errors(input);
        assert!(!errors.is_empty(), "{input:?}");
        assert!(
            errors.iter().all(|e| e.kind() == DecodeErrorKind::Syntax),
            "{input:?}: {errors:?}"
        );
    }
    // Invalid UTF-8 inside a string is a syntax error of that record only.
    let mut input = b"{\"CopyJobId\":\"\xff\"}\n".to_vec();
    input.extend_from_slice(b"{\"CopyJobId\":\"ok\"}\n");
    let results: Vec<_> = Decoder::new(&input[..]).collect();
    assert_eq!(results.len(), 2);
    assert_eq!(
        results[0].as_ref().unwrap_err().kind(),
        DecodeErrorKind::Syntax
    );
    assert_eq!(
        results[1].as_ref().unwrap().job.copy_job_id.as_deref(),
        Some("ok")
    );
}

#[test]
fn io_errors_end_the_stream() {
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let reader = std::io::Read::chain(&b"{\"CopyJobId\":\"a\"}\n"[..], Failing);
    let reader = std::io::BufReader::new(reader);
    let results: Vec<_> = Decoder::new(reader).collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results[0].is_ok());
    let error = results[1].as_ref().unwrap_err();
    assert_eq!(error.kind(), DecodeErrorKind::Io);
    assert_eq!(error.message(), "disk on fire");
    assert_eq!(error.position(), Position::new(2, 1));
}

#[test]
fn a_raw_line_break_inside_a_string_is_placed_at_column_one() {
    // Found by the fuzz property: serde_json places this error at column 0 of
    // the next line, and the decoder passed that on although its columns
    // count from 1.
    let input = "{\n  \"CopyJobId\": \"a\nb\"\n}";
    let error = only_error(input);
    assert_eq!(error.kind(), DecodeErrorKind::Syntax);
    assert_eq!(error.position(), Position::new(3, 1));
    assert!(error.message().starts_with("control character"), "{error}");
}

#[test]
fn serde_path_to_error_names_members_too() {
    // Member names are read as bytes only through serde_json's own
    // deserializer; a wrapper such as serde_path_to_error reads them as text
    // and so can still name the member an error is in.
    let input = r#"{"CopyJobs":[{"CopyJobId":"a"},{"CreatedBy":{"BackupRuleId":false}}]}"#;
    let mut de = serde_json::Deserializer::from_str(input);
    let error = serde_path_to_error::deserialize::<_, backup_model::ListCopyJobsOutput>(&mut de)
        .unwrap_err();
    assert_eq!(
        error.path().to_string(),
        "CopyJobs[1].CreatedBy.BackupRuleId"
    );
}
