//! Feeds arbitrary bytes to the decoder: it must return jobs or clean errors,
//! never panic or loop, read the same whatever its buffer size, and every job
//! it returns must re-encode to a fixed point.

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
});
