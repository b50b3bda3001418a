//! Feeds arbitrary bytes to the decoder: it must return jobs or clean errors,
//! never panic or loop, read the same whatever its buffer size, and every job
//! it returns must re-encode to a fixed point, have a CopyJobId, and have a
//! content form. When the input decodes without error, the same JSON laid out
//! another way (pretty, CRLF) gives the same jobs, and a small maximum record
//! size gives errors, not other jobs.

#![no_main]

use std::io::BufReader;

use backup_model::{decode_all, CopyJob, Decoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Each item consumes at least one byte, so more than that is a loop.
    let whole: Vec<_> = Decoder::new(data).take(data.len() + 2).collect();
    assert!(
        whole.len() <= data.len() + 1,
        "the decoder went round in circles"
    );

    let split: Vec<_> = Decoder::new(BufReader::with_capacity(3, data))
        .take(data.len() + 2)
        .collect();
    assert_eq!(
        split, whole,
        "the result depends on the reader's buffer size"
    );

    match decode_all(data) {
        Ok(jobs) => {
            assert!(whole.iter().all(Result::is_ok));
            assert_eq!(jobs.len(), whole.len());
        }
        Err(error) => {
            assert_eq!(Some(&error), whole.iter().find_map(|r| r.as_ref().err()));
        }
    }

    for item in &whole {
        match item {
            Ok(record) => {
                let line = record.job.to_json_string();
                let back: CopyJob = serde_json::from_str(&line).expect("the encoding decodes");
                assert_eq!(back, record.job);
                assert_eq!(back.to_json_string(), line);
            }
            Err(error) => {
                assert!(error.position().line >= 1 && error.position().column >= 1);
                let _ = error.to_string();
            }
        }
    }

    if let Ok(jobs) = decode_all(data) {
        for job in &jobs {
            assert!(job.copy_job_id.is_some(), "a record without a CopyJobId");
            let mut form = Vec::new();
            job.write_content_form(&mut form);
            assert!(!form.is_empty());
        }
        // Every document as serde_json reads it, laid out again.
        let values: Result<Vec<serde_json::Value>, _> = serde_json::Deserializer::from_slice(data)
            .into_iter()
            .collect();
        if let Ok(values) = values {
            let mut pretty = Vec::new();
            for value in &values {
                pretty.extend(serde_json::to_vec_pretty(value).unwrap());
                pretty.extend(b"\r\n");
            }
            if let Ok(again) = decode_all(&pretty) {
                // Ids only: a serde_json::Value rounds numbers no f64 holds.
                let ids =
                    |js: &[CopyJob]| js.iter().map(|j| j.copy_job_id.clone()).collect::<Vec<_>>();
                assert_eq!(ids(&again), ids(&jobs), "the layout changed the jobs");
            }
        }
        let small: Vec<_> = Decoder::new(data).max_record_size(16).collect();
        for item in small {
            if let Ok(record) = item {
                assert!(
                    jobs.contains(&record.job),
                    "a small record limit made up a job"
                );
            }
        }
    }
});
