//! The content hash depends only on what AWS sent, not on which members and
//! values this version of the model knows.

use backup_ingest::content_hash;
use backup_model::CopyJob;

fn job(json: &str) -> CopyJob {
    serde_json::from_str(json).unwrap()
}

/// The job as a model that does not know `member` holds it: the member's
/// value as sent, among the unknown members.
fn with_member_unknown(known: &CopyJob, member: &str, as_sent: serde_json::Value) -> CopyJob {
    let mut older: CopyJob = job(&known.to_json_string());
    let mut value: serde_json::Value = serde_json::from_str(&older.to_json_string()).unwrap();
    value.as_object_mut().unwrap().remove(member);
    older = serde_json::from_value(value).unwrap();
    older
        .unknown_members
        .insert_value(member, &as_sent)
        .unwrap();
    older
}

#[test]
fn a_timestamp_member_known_or_unknown_hashes_the_same() {
    let known = job(r#"{"CopyJobId":"c","CompletionDate":1516925490.087,"State":"COMPLETED"}"#);
    let older = with_member_unknown(&known, "CompletionDate", serde_json::json!(1516925490.087));
    assert_eq!(content_hash(&known), content_hash(&older));
}

#[test]
fn a_map_of_states_known_or_unknown_hashes_the_same() {
    let known =
        job(r#"{"CopyJobId":"c","ChildJobsInState":{"RUNNING":1,"COMPLETED":2,"NEW_STATE":3}}"#);
    let older = with_member_unknown(
        &known,
        "ChildJobsInState",
        serde_json::json!({"RUNNING": 1, "COMPLETED": 2, "NEW_STATE": 3}),
    );
    assert_eq!(content_hash(&known), content_hash(&older));
}

#[test]
fn a_state_member_known_or_unknown_hashes_the_same() {
    let known = job(r#"{"CopyJobId":"c","State":"PARTIAL","StatusMessage":"m"}"#);
    let older = with_member_unknown(&known, "State", serde_json::json!("PARTIAL"));
    assert_eq!(content_hash(&known), content_hash(&older));
}
