//! Properties of the codec over generated input.
//!
//! - The canonical encoding is a fixed point: for any `CopyJob` x,
//!   decode(encode(x)) == x and encoding that again gives the same bytes,
//!   whatever the strings (any Unicode, escapes, control characters), numbers
//!   (the whole i64 range), timestamps (the whole supported range), unknown
//!   members (nested JSON) and unknown enum values.
//! - Every shape that wraps jobs (pages, describe bodies, arrays, JSON Lines,
//!   pretty-printed or not) gives back the jobs it wraps.
//! - Fuzzing: on any bytes at all, and on valid inputs cut short or with bytes
//!   flipped, inserted or removed, the decoder returns jobs or clean errors: it
//!   does not panic, ends (within a deadline), yields no more items than there
//!   are bytes, does not depend on how its reader splits the input, and every
//!   job it returns is itself a fixed point.
//!
//! `fuzz/` holds a cargo-fuzz target with the same checks for long runs.

use std::io::BufReader;
use std::sync::mpsc;
use std::time::Duration;

use backup_model::{
    decode_all, write_content_form, CopyJob, CopyJobState, DecodeError, DecodeErrorKind, Decoder,
    DescribeCopyJobOutput, Lifecycle, LifecycleDeleteAfterEvent, ListCopyJobsOutput, Record,
    RecoveryPointCreator, Timestamp, UnknownMembers,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

/// The first and last instants a `Timestamp` holds (0001-01-01 to 9999-12-31).
const MIN_MILLIS: i64 = -62_135_596_800_000;
const MAX_MILLIS: i64 = 253_402_300_799_999;

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

/// Short strings of any characters, with JSON's special ones made likely.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => vec(any::<char>(), 0..12).prop_map(|cs| cs.into_iter().collect()),
        2 => vec(select(&['"', '\\', '/', '\n', '\r', '\t', '\u{0}', '\u{1f}', '\u{7f}', '\u{2028}', '\u{feff}', '\u{1F600}', 'é', 'a', '{', '[', ' '][..]), 0..8)
            .prop_map(|cs| cs.into_iter().collect()),
        1 => "arn:aws:backup:[a-z]{2}-[a-z]{4,7}-[1-3]:[0-9]{12}:backup-vault:[A-Za-z0-9-]{1,20}",
        // Text the model reads as a timestamp (the content form makes it a number).
        1 => "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]0[0-9]:[0-5][0-9])",
    ]
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        MIN_MILLIS..=MAX_MILLIS,
        // Around now, where real jobs are.
        1_500_000_000_000i64..1_900_000_000_000,
        Just(MIN_MILLIS),
        Just(MAX_MILLIS),
    ]
    .prop_map(|millis| Timestamp::from_millis(millis).unwrap())
}

fn long() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(0),
        0i64..10_000
    ]
}

fn state() -> impl Strategy<Value = CopyJobState> {
    prop_oneof![
        select(CopyJobState::values()).prop_map(CopyJobState::from),
        text().prop_map(CopyJobState::from),
    ]
}

fn delete_after_event() -> impl Strategy<Value = LifecycleDeleteAfterEvent> {
    prop_oneof![
        select(LifecycleDeleteAfterEvent::values()).prop_map(LifecycleDeleteAfterEvent::from),
        text().prop_map(LifecycleDeleteAfterEvent::from),
    ]
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map(text(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Unknown members of a structure whose known members are `known`. Names the
/// decoder reads as an envelope around a job are left out too.
fn unknown_members(known: &'static [&'static str]) -> impl Strategy<Value = UnknownMembers> {
    let name = prop_oneof![
        text(),
        "[A-Z][A-Za-z]{2,20}",
        // A known member's name with a change, which must not be mistaken for it.
        select(known).prop_map(|k| format!("{k} ")),
        select(known).prop_map(str::to_lowercase),
    ]
    .prop_filter("a known member", move |n| {
        !known.contains(&n.as_str()) && n != "CopyJob" && n != "CopyJobs"
    });
    btree_map(name, unknown_value(), 0..3).prop_map(|members| {
        let mut out = UnknownMembers::new();
        for (name, json) in members {
            out.insert_json(name, &json).unwrap();
        }
        out
    })
}

/// The JSON text of an unknown member's value: any JSON value, or a number
/// no f64 holds (huge, very precise, with an exponent out of range).
fn unknown_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => json_value().prop_map(|v| serde_json::to_string(&v).unwrap()),
        1 => "-?[1-9][0-9]{20,40}",
        1 => "-?0\\.[0-9]{18,36}",
        1 => "[1-9]\\.[0-9]{1,5}[eE][+-]?[1-9][0-9]{3,4}",
        1 => "\\[-?[1-9][0-9]{20,30}, \\{\"n\" : 1\\.000\\}\\]",
    ]
}

fn creator() -> impl Strategy<Value = RecoveryPointCreator> {
    (
        (
            option::of(text()),
            option::of(text()),
            option::of(text()),
            option::of(text()),
        ),
        (
            option::of(text()),
            option::of(text()),
            option::of(text()),
            option::of(text()),
        ),
        unknown_members(RecoveryPointCreator::MEMBERS),
    )
        .prop_map(|((a, b, c, d), (e, f, g, h), unknown)| {
            let mut c_ = RecoveryPointCreator::new();
            c_.backup_plan_arn = a;
            c_.backup_plan_id = b;
            c_.backup_plan_name = c;
            c_.backup_plan_version = d;
            c_.backup_rule_cron = e;
            c_.backup_rule_id = f;
            c_.backup_rule_name = g;
            c_.backup_rule_timezone = h;
            c_.unknown_members = unknown;
            c_
        })
}

fn lifecycle() -> impl Strategy<Value = Lifecycle> {
    (
        option::of(long()),
        option::of(delete_after_event()),
        option::of(long()),
        option::of(any::<bool>()),
        unknown_members(Lifecycle::MEMBERS),
    )
        .prop_map(|(delete, event, cold, archive, unknown)| {
            let mut l = Lifecycle::new();
            l.delete_after_days = delete;
            l.delete_after_event = event;
            l.move_to_cold_storage_after_days = cold;
            l.opt_in_to_archive_for_supported_resources = archive;
            l.unknown_members = unknown;
            l
        })
}

/// Boxed: the value tree of 27 members is large, and a test that takes it
/// with another value overflowed the test thread's stack in debug builds.
fn copy_job() -> BoxedStrategy<CopyJob> {
    let first = (
        option::of(text()),
        option::of(long()),
        option::of(btree_map(state(), long(), 0..4)),
        option::of(timestamp()),
        option::of(text()),
        option::of(text()),
        option::of(creator()),
        option::of(text()),
        option::of(timestamp()),
    );
    let second = (
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(lifecycle()),
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(any::<bool>()),
        option::of(text()),
    );
    let third = (
        option::of(long()),
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(state()),
        option::of(text()),
    );
    (first, second, third, unknown_members(CopyJob::MEMBERS))
        .prop_map(
            |(
                (a, b, c, d, e, f, g, h, i),
                (j, k, l, m, n, o, p, q, r),
                (s, t, u, v, w, x, y, z, zz),
                unknown,
            )| {
                // A record without a CopyJobId is not a copy job.
                let mut job = CopyJob::new();
                job.account_id = a;
                job.backup_size_in_bytes = b;
                job.child_jobs_in_state = c;
                job.completion_date = d;
                job.composite_member_identifier = e;
                job.copy_job_id = Some(f.unwrap_or_else(|| "id".to_owned()));
                job.created_by = g;
                job.created_by_backup_job_id = h;
                job.creation_date = i;
                job.destination_backup_vault_arn = j;
                job.destination_encryption_key_arn = k;
                job.destination_recovery_point_arn = l;
                job.destination_recovery_point_lifecycle = m;
                job.destination_vault_lock_state = n;
                job.destination_vault_type = o;
                job.iam_role_arn = p;
                job.is_parent = q;
                job.message_category = r;
                job.number_of_child_jobs = s;
                job.parent_job_id = t;
                job.resource_arn = u;
                job.resource_name = v;
                job.resource_type = w;
                job.source_backup_vault_arn = x;
                job.source_recovery_point_arn = y;
                job.state = z;
                job.status_message = zz;
                job.unknown_members = unknown;
                job
            },
        )
        .boxed()
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// decode(encode(x)) == x and the second encoding is byte-identical.
fn assert_fixed_point(job: &CopyJob) -> Result<(), TestCaseError> {
    let line = job.to_json_string();
    prop_assert!(!line.contains('\n'), "the encoding spans lines: {}", line);
    let back: CopyJob =
        serde_json::from_str(&line).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
    prop_assert_eq!(&back, job);
    prop_assert_eq!(back.to_json_string(), line.clone());
    // The same line through the streaming decoder, split into tiny reads.
    let decoded: Vec<CopyJob> = Decoder::new(BufReader::with_capacity(3, line.as_bytes()))
        .map(|r| r.map(|r| r.job))
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
    prop_assert_eq!(decoded.len(), 1);
    prop_assert_eq!(&decoded[0], job);
    Ok(())
}

/// Runs `f` on another thread and fails if it panics or takes longer than
/// `deadline`: a decoder stuck in a loop fails the test instead of hanging it.
fn within<T: Send + 'static>(deadline: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(deadline) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the decoder did not finish within {deadline:?}: an endless loop?")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the decoder panicked"),
    }
}

/// What one decoding of `bytes` gave, for comparing decodings.
type Outcome = Vec<Result<Record, DecodeError>>;

/// The decoder's items over `bytes`, read through a `BufReader` of
/// `capacity` bytes (or straight from the slice), capped at one more item
/// than could ever be right.
fn decode_capped(bytes: &[u8], capacity: Option<usize>) -> Outcome {
    let cap = bytes.len() + 2;
    match capacity {
        None => Decoder::new(bytes).take(cap).collect(),
        Some(c) => Decoder::new(BufReader::with_capacity(c, bytes))
            .take(cap)
            .collect(),
    }
}

/// Everything the decoder must do on arbitrary input.
fn assert_total(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let input = bytes.clone();
    let (outcome, split, all) = within(Duration::from_secs(30), move || {
        let outcome = decode_capped(&input, None);
        let split: Vec<Outcome> = [1, 2, 5, 64]
            .into_iter()
            .map(|c| decode_capped(&input, Some(c)))
            .collect();
        let all = decode_all(&input);
        (outcome, split, all)
    });

    // Each item consumes at least one byte of input (a job needs two), so
    // more items than bytes means the decoder went round in circles.
    prop_assert!(
        outcome.len() <= bytes.len() + 1,
        "{} items from {} bytes",
        outcome.len(),
        bytes.len()
    );
    for (other, capacity) in split.iter().zip([1, 2, 5, 64]) {
        prop_assert_eq!(other, &outcome, "reader capacity {}", capacity);
    }
    let first_error = outcome.iter().find_map(|r| r.as_ref().err());
    match (&all, first_error) {
        (Ok(jobs), None) => {
            let expected: Vec<&CopyJob> = outcome.iter().flatten().map(|r| &r.job).collect();
            prop_assert_eq!(jobs.iter().collect::<Vec<_>>(), expected);
        }
        (Err(e), Some(first)) => prop_assert_eq!(e, first),
        _ => prop_assert!(false, "decode_all disagrees with Decoder: {:?}", all),
    }

    let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    for item in &outcome {
        match item {
            Ok(record) => {
                assert_fixed_point(&record.job)?;
                prop_assert!(record.position.line >= 1 && record.position.line <= lines);
                prop_assert!(record.position.column >= 1);
            }
            Err(error) => {
                let shown = error.to_string();
                prop_assert!(shown.starts_with("line "), "{}", shown);
                prop_assert!(!error.message().is_empty());
                prop_assert!(
                    error.position().line >= 1 && error.position().line <= lines,
                    "{} in {} lines",
                    shown,
                    lines
                );
                prop_assert!(error.position().column >= 1, "{}", shown);
            }
        }
    }
    Ok(())
}

/// Valid inputs of every accepted shape, for the mutation fuzzer to break.
const SEEDS: &[&str] = &[
    r#"{"CopyJobs":[{"CopyJobId":"a","CreationDate":1516925490.087,"State":"COMPLETED","CreatedBy":{"BackupPlanId":"p"}},{"CopyJobId":"b","BackupSizeInBytes":9223372036854775807,"X":[1,{"y":null}]}],"NextToken":"t"}"#,
    "{\n    \"CopyJob\": {\n        \"CopyJobId\": \"c\",\n        \"CreationDate\": \"2018-01-26T00:11:30.087000+00:00\",\n        \"DestinationRecoveryPointLifecycle\": {\"DeleteAfterDays\": 7, \"DeleteAfterEvent\": \"DELETE_AFTER_COPY\"},\n        \"ChildJobsInState\": {\"RUNNING\": 1}\n    }\n}\n",
    "{\"CopyJobId\":\"a\",\"IsParent\":true}\n{\"CopyJob\":{\"CopyJobId\":\"b\"}}\n[{\"CopyJobId\":\"c\"},{\"CopyJobId\":\"d\\u00e9\\\"\"}]\n{\"NextToken\":\"n\",\"CopyJobs\":[{\"CopyJobId\":\"e\"}]}\n",
    "[\n  {\"CopyJobId\": \"a\", \"StatusMessage\": \"x\\ny\"},\n  {\"CopyJobId\": \"b\", \"NumberOfChildJobs\": -1.5e3}\n]",
    "\u{feff}{\"CopyJobId\":\"bom\",\"CompletionDate\":1.516925490087E9}",
];

/// A valid input with a few bytes changed: cut short, flipped, replaced by a
/// byte JSON cares about, inserted or removed.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let interesting = prop_oneof![
        any::<u8>(),
        select(&b"{}[]\",:\\\n\r\t 0123456789-+.eEtfnu\xef\xbb\xbf\xff"[..]),
    ];
    let mutation = (0u8..5, any::<prop::sample::Index>(), interesting);
    (select(SEEDS), vec(mutation, 1..5)).prop_map(|(seed, mutations)| {
        let mut bytes = seed.as_bytes().to_vec();
        for (kind, at, byte) in mutations {
            if bytes.is_empty() {
                break;
            }
            let at = at.index(bytes.len());
            match kind {
                0 => bytes.truncate(at),
                1 => bytes[at] ^= 1 << (byte % 8),
                2 => bytes[at] = byte,
                3 => bytes.insert(at, byte),
                _ => {
                    bytes.remove(at);
                }
            }
        }
        bytes
    })
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_canonical_encoding_is_a_fixed_point(job in copy_job()) {
        assert_fixed_point(&job)?;
    }

    #[test]
    fn the_content_form_from_fields_is_that_of_the_canonical_encoding(job in copy_job()) {
        // CopyJob::write_content_form writes it from the fields; by
        // definition it is the content form of the canonical encoding.
        let mut json = Vec::new();
        job.write_json(&mut json);
        let mut expected = Vec::new();
        write_content_form(&json, &mut expected).unwrap();
        let mut got = Vec::new();
        job.write_content_form(&mut got);
        prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected));
    }

    #[test]
    fn every_envelope_gives_back_its_jobs(
        jobs in vec(copy_job(), 0..4),
        token in option::of(text()),
        pretty in any::<bool>(),
    ) {
        let encode = |value: &dyn erased::Encode| value.encode(pretty);
        let mut page = ListCopyJobsOutput::new().with_copy_jobs(jobs.clone());
        page.next_token = token.clone();
        prop_assert_eq!(&decode_all(encode(&page).as_bytes()).unwrap(), &jobs);

        // NextToken first: the page is read whole instead of streamed.
        let mut late = String::from("{");
        if let Some(token) = &token {
            late.push_str(&format!("\"NextToken\":{},", serde_json::to_string(token).unwrap()));
        }
        late.push_str(&format!("\"CopyJobs\":{}}}", encode(&jobs)));
        prop_assert_eq!(&decode_all(late.as_bytes()).unwrap(), &jobs);

        prop_assert_eq!(&decode_all(encode(&jobs).as_bytes()).unwrap(), &jobs);

        let mut lines = String::new();
        for job in &jobs {
            let describe = DescribeCopyJobOutput::new().with_copy_job(job.clone());
            lines.push_str(&encode(&describe));
            lines.push('\n');
            lines.push_str(&job.to_json_string());
            lines.push('\n');
        }
        let twice: Vec<CopyJob> = jobs.iter().flat_map(|j| [j.clone(), j.clone()]).collect();
        prop_assert_eq!(&decode_all(lines.as_bytes()).unwrap(), &twice);
    }

    #[test]
    fn every_layout_gives_the_same_jobs(
        jobs in vec(copy_job(), 0..4),
        token in option::of(text()),
        layout in 0u8..5,
    ) {
        let mut page = ListCopyJobsOutput::new().with_copy_jobs(jobs.clone());
        page.next_token = token;
        let compact = serde_json::to_string(&page).unwrap();
        let text = match layout {
            0 => compact.clone(),
            1 => serde_json::to_string_pretty(&page).unwrap(),
            // Python's json.dumps(indent=0): a line break before every value.
            2 => {
                let mut out = Vec::new();
                let formatter = serde_json::ser::PrettyFormatter::with_indent(b"");
                let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
                serde::Serialize::serialize(&page, &mut ser).unwrap();
                String::from_utf8(out).unwrap()
            }
            3 => serde_json::to_string_pretty(&page).unwrap().replace('\n', "\r\n"),
            // Tabs for indentation (a line in JSON never starts inside a string).
            _ => serde_json::to_string_pretty(&page)
                .unwrap()
                .lines()
                .map(|l| {
                    let body = l.trim_start_matches(' ');
                    format!("{}{body}\n", "\t".repeat((l.len() - body.len()) / 2))
                })
                .collect(),
        };
        let got = decode_all(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(&got, &jobs);
        let lines = |js: &[CopyJob]| js.iter().map(CopyJob::to_json_string).collect::<Vec<_>>();
        prop_assert_eq!(lines(&got), lines(&decode_all(compact.as_bytes()).unwrap()));
    }

    #[test]
    fn a_member_named_twice_is_always_an_error(job in copy_job(), at in any::<prop::sample::Index>()) {
        // Repeat one member of the job's canonical encoding, at the end.
        let line = job.to_json_string();
        let value: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_str(&line).unwrap();
        let names: Vec<&String> = value.keys().collect();
        let name = names[at.index(names.len())];
        let repeated = format!(
            "{},{}:{}}}",
            &line[..line.len() - 1],
            serde_json::to_string(name).unwrap(),
            value[name].get()
        );
        let errors: Vec<DecodeError> = Decoder::new(repeated.as_bytes()).filter_map(Result::err).collect();
        prop_assert_eq!(errors.len(), 1, "{}", repeated);
        prop_assert_eq!(errors[0].kind(), DecodeErrorKind::DuplicateMember);
        prop_assert_eq!(errors[0].path(), name.as_str());
    }

    #[test]
    fn an_object_without_a_copy_job_id_is_never_a_job(
        mut job in copy_job(),
        wrapped in any::<bool>(),
    ) {
        job.copy_job_id = None;
        let line = job.to_json_string();
        let input = if wrapped { format!("{{\"CopyJobs\":[{line}]}}") } else { line.clone() };
        let got: Vec<_> = Decoder::new(input.as_bytes()).collect();
        prop_assert_eq!(got.len(), 1, "{}", input);
        let error = got[0].as_ref().unwrap_err();
        prop_assert!(
            matches!(error.kind(), DecodeErrorKind::NotACopyJob),
            "{}: {}", input, error
        );
    }

    #[test]
    fn arbitrary_bytes_never_break_the_decoder(bytes in vec(any::<u8>(), 0..256)) {
        assert_total(bytes)?;
    }

    #[test]
    fn json_like_bytes_never_break_the_decoder(
        bytes in vec(select(&b"{}[]\",: \n0123456789.eE-abtrunlsfCopyJb\\"[..]), 0..256),
    ) {
        assert_total(bytes)?;
    }

    #[test]
    fn damaged_valid_input_never_breaks_the_decoder(bytes in mutated()) {
        assert_total(bytes)?;
    }

    #[test]
    fn damaged_generated_jobs_never_break_the_decoder(
        jobs in vec(copy_job(), 1..3),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let page = ListCopyJobsOutput::new().with_copy_jobs(jobs);
        let mut bytes = serde_json::to_vec_pretty(&page).unwrap();
        let at = flip.index(bytes.len());
        bytes[at] = byte;
        bytes.truncate(cut.index(bytes.len() + 1));
        assert_total(bytes)?;
    }
}

/// Serializing a few different types, compact or pretty, behind one closure.
mod erased {
    pub trait Encode {
        fn encode(&self, pretty: bool) -> String;
    }

    impl<T: serde::Serialize> Encode for T {
        fn encode(&self, pretty: bool) -> String {
            if pretty {
                serde_json::to_string_pretty(self).unwrap()
            } else {
                serde_json::to_string(self).unwrap()
            }
        }
    }
}
