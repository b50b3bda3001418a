//! The emulator against the service model (a copy of the reference model file
//! is kept in tests/fixtures, since the reference folder is not part of the
//! repository).

use std::collections::BTreeSet;

use backup_emulator::{DESCRIBE_COPY_JOB_URI, LIST_COPY_JOBS_QUERY_NAMES, LIST_COPY_JOBS_URI};
use serde_json::Value;

use crate::common::{authorization, config, raw, start};

fn model() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/aws-backup-copy-jobs.model.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn query_names(model: &Value) -> BTreeSet<String> {
    model["shapes"]["ListCopyJobsInput"]["members"]
        .as_object()
        .unwrap()
        .values()
        .filter(|m| m["location"] == "querystring")
        .map(|m| m["locationName"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_emulator_knows_every_name_of_the_model() {
    let model = model();
    let names = query_names(&model);
    assert_eq!(names.len(), 14);
    let known: BTreeSet<String> = LIST_COPY_JOBS_QUERY_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(known, names);

    let ops = &model["operations"];
    assert_eq!(
        ops["ListCopyJobs"]["http"]["requestUri"],
        LIST_COPY_JOBS_URI
    );
    assert_eq!(ops["ListCopyJobs"]["http"]["method"], "GET");
    assert_eq!(
        ops["DescribeCopyJob"]["http"]["requestUri"],
        DESCRIBE_COPY_JOB_URI
    );
    assert_eq!(ops["DescribeCopyJob"]["http"]["method"], "GET");

    // The errors the emulator answers with are the model's (throttling and
    // access denied are common to every AWS service and not listed).
    let errors = |op: &str| -> BTreeSet<String> {
        ops[op]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["shape"].as_str().unwrap().to_owned())
            .collect()
    };
    for e in [
        "InvalidParameterValueException",
        "ServiceUnavailableException",
    ] {
        assert!(errors("ListCopyJobs").contains(e));
    }
    assert!(errors("DescribeCopyJob").contains("ResourceNotFoundException"));

    let states: Vec<&str> = model["shapes"]["CopyJobState"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(states, backup_model::CopyJobState::values());
    let members: Vec<&String> = model["shapes"]["CopyJob"]["members"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(members, backup_model::CopyJob::MEMBERS);
}

/// Each query name of the model changes what the emulator answers, where an
/// unknown name does not: the names are read, not just listed.
#[tokio::test]
async fn every_query_name_of_the_model_is_honoured() {
    let emulator = start(config(60)).await;
    let auth = authorization("AKIDEMULATORTEST", "us-east-1");
    let get = |target: String| {
        let emulator = &emulator;
        let auth = auth.clone();
        async move { raw(emulator, "GET", &target, &[("Authorization", &auth)], "").await }
    };
    let all = get("/copy-jobs/?notAModelName=1".into()).await;
    assert_eq!(all.status, 200);
    let count = |r: &crate::common::Raw| r.json()["CopyJobs"].as_array().unwrap().len();
    assert_eq!(count(&all), 60);
    // Both spellings of the list URI.
    assert_eq!(count(&get("/copy-jobs".into()).await), 60);

    for name in query_names(&model()) {
        let value = match name.as_str() {
            "accountId" => "000000000000",
            "completeAfter" | "createdAfter" => "9999-01-01T00%3A00%3A00Z",
            "completeBefore" | "createdBefore" => "1970-01-01T00%3A00%3A00Z",
            "state" => "NOT_A_STATE",
            "maxResults" => "0",
            "nextToken" => "garbage",
            _ => "arn%3Aaws%3Anothing",
        };
        let response = get(format!("/copy-jobs/?{name}={value}")).await;
        match response.status {
            200 => assert_eq!(count(&response), 0, "{name} was ignored"),
            400 => assert_eq!(response.json()["Context"], name.as_str()),
            other => panic!("{name}: status {other}"),
        }
    }
    assert_eq!(count(&get("/copy-jobs/?maxResults=2".into()).await), 2);

    // The describe URI, with the id percent-encoded as the SDK sends it.
    let id = all.json()["CopyJobs"][0]["CopyJobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let template = DESCRIBE_COPY_JOB_URI.replace("{copyJobId}", &id.replace('-', "%2D"));
    let described = get(template).await;
    assert_eq!(described.status, 200);
    assert_eq!(described.json()["CopyJob"]["CopyJobId"], id.as_str());
    assert!(described.json()["CopyJob"]["CreationDate"].is_number());
    emulator.shutdown().await;
}
