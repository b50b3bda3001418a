//! The Rust model against the AWS service model it was written from.
//!
//! `tests/fixtures/aws-backup-copy-jobs.model.json` is a copy of the Backup
//! service model (the part for copy jobs). When AWS adds a member or an enum
//! value, replace that file with the new model: this test then names what the
//! Rust types lack. Until they learn it, the codec still keeps the new member
//! in `unknown_members` (and the new value in `Unknown`), so nothing is lost,
//! but it is neither typed nor documented.

use std::collections::BTreeMap;
use std::fmt;

use backup_model::{
    CopyJob, CopyJobState, Lifecycle, LifecycleDeleteAfterEvent, RecoveryPointCreator,
};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

const MODEL: &str = include_str!("fixtures/aws-backup-copy-jobs.model.json");

/// The parts of a service model this test reads.
#[derive(Deserialize)]
struct Model {
    shapes: BTreeMap<String, Shape>,
}

#[derive(Deserialize)]
struct Shape {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    members: Option<OrderedKeys>,
    #[serde(default, rename = "enum")]
    values: Option<Vec<String>>,
}

/// The names of an object's members in the order of the file (which
/// `serde_json::Value` keeps only when its `preserve_order` feature is on).
struct OrderedKeys(Vec<String>);

impl<'de> Deserialize<'de> for OrderedKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeysVisitor;

        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = OrderedKeys;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of members")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(key);
                }
                Ok(OrderedKeys(keys))
            }
        }

        deserializer.deserialize_map(KeysVisitor)
    }
}

/// Compares `ours` with `theirs`, naming each difference.
fn compare(what: &str, kind: &str, ours: &[&str], theirs: &[String], problems: &mut Vec<String>) {
    for name in theirs {
        if !ours.contains(&name.as_str()) {
            problems.push(format!(
                "{what}: {kind} `{name}` is in the service model but not in the Rust model"
            ));
        }
    }
    for name in ours {
        if !theirs.iter().any(|t| t == name) {
            problems.push(format!(
                "{what}: {kind} `{name}` is in the Rust model but not in the service model"
            ));
        }
    }
    let common_theirs: Vec<&str> = theirs
        .iter()
        .map(String::as_str)
        .filter(|t| ours.contains(t))
        .collect();
    let common_ours: Vec<&str> = ours
        .iter()
        .copied()
        .filter(|o| theirs.iter().any(|t| t == o))
        .collect();
    if common_theirs != common_ours {
        problems.push(format!(
            "{what}: {kind}s are not in the service model's order (it has {common_theirs:?})"
        ));
    }
}

/// Every difference between `model` and the Rust types, as readable lines.
fn drift(model: &str) -> Vec<String> {
    let model: Model = match serde_json::from_str(model) {
        Ok(model) => model,
        Err(e) => return vec![format!("the service model does not parse: {e}")],
    };
    let mut problems = Vec::new();
    let structures: [(&str, &[&str]); 3] = [
        ("CopyJob", CopyJob::MEMBERS),
        ("RecoveryPointCreator", RecoveryPointCreator::MEMBERS),
        ("Lifecycle", Lifecycle::MEMBERS),
    ];
    for (name, ours) in structures {
        match model.shapes.get(name) {
            Some(Shape {
                kind,
                members: Some(OrderedKeys(theirs)),
                ..
            }) if kind == "structure" => compare(name, "member", ours, theirs, &mut problems),
            _ => problems.push(format!("{name}: not a structure in the service model")),
        }
    }
    let enums: [(&str, &[&str]); 2] = [
        ("CopyJobState", CopyJobState::values()),
        (
            "LifecycleDeleteAfterEvent",
            LifecycleDeleteAfterEvent::values(),
        ),
    ];
    for (name, ours) in enums {
        match model.shapes.get(name) {
            Some(Shape {
                values: Some(theirs),
                ..
            }) => compare(name, "value", ours, theirs, &mut problems),
            _ => problems.push(format!("{name}: not an enum in the service model")),
        }
    }
    problems
}

#[test]
fn the_rust_model_matches_the_service_model() {
    let problems = drift(MODEL);
    assert!(
        problems.is_empty(),
        "the Rust model has drifted from tests/fixtures/aws-backup-copy-jobs.model.json:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_copy_is_the_backup_service_model() {
    // Guards against replacing the fixture with the wrong service's model,
    // which would make the comparison above meaningless.
    let model: serde_json::Value = serde_json::from_str(MODEL).unwrap();
    assert_eq!(model["metadata"]["serviceId"], "Backup");
    assert_eq!(model["metadata"]["protocol"], "rest-json");
    assert_eq!(
        model["operations"]["ListCopyJobs"]["output"]["shape"],
        "ListCopyJobsOutput"
    );
    assert_eq!(
        model["shapes"]["CopyJobsList"]["member"]["shape"],
        "CopyJob"
    );
}

#[test]
fn drift_is_named() {
    // The check above is only worth something if it sees a change: add a
    // member and a value, drop a member, and swap two members.
    let mut model: serde_json::Value = serde_json::from_str(MODEL).unwrap();
    let shapes = &mut model["shapes"];
    shapes["CopyJob"]["members"]["QuantumEntanglementId"] = serde_json::json!({"shape": "string"});
    shapes["RecoveryPointCreator"]["members"]
        .as_object_mut()
        .unwrap()
        .shift_remove("BackupRuleCron");
    shapes["Lifecycle"]["members"]["DeleteAfterRestoreTest"] =
        serde_json::json!({"shape": "boolean"});
    shapes["CopyJobState"]["enum"]
        .as_array_mut()
        .unwrap()
        .push("ARCHIVED".into());
    shapes["LifecycleDeleteAfterEvent"]["enum"] = serde_json::json!([]);
    let problems = drift(&serde_json::to_string(&model).unwrap());
    let expected = [
        "CopyJob: member `QuantumEntanglementId` is in the service model but not in the Rust model",
        "RecoveryPointCreator: member `BackupRuleCron` is in the Rust model but not in the service model",
        "Lifecycle: member `DeleteAfterRestoreTest` is in the service model but not in the Rust model",
        "CopyJobState: value `ARCHIVED` is in the service model but not in the Rust model",
        "LifecycleDeleteAfterEvent: value `DELETE_AFTER_COPY` is in the Rust model but not in the service model",
    ];
    for line in expected {
        assert!(
            problems.iter().any(|p| p == line),
            "{line}\nnot in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");

    let swapped = MODEL.replacen("\"CREATED\",\n", "", 1).replacen(
        "\"RUNNING\",\n",
        "\"RUNNING\",\n    \"CREATED\",\n",
        1,
    );
    assert_ne!(
        swapped, MODEL,
        "the fixture's layout changed; update this test"
    );
    assert_eq!(
        drift(&swapped),
        ["CopyJobState: values are not in the service model's order (it has [\"RUNNING\", \"CREATED\", \"COMPLETED\", \"FAILED\", \"PARTIAL\"])"]
    );
}
