//! The AWS Backup copy-job model and a lossless JSON codec.
//!
//! This crate describes the `CopyJob` structure that the DescribeCopyJob and
//! ListCopyJobs operations return, and reads and writes it as JSON without
//! losing anything: members are keyed by their API names (as the AWS CLI prints
//! them), members this version does not know are kept exactly as sent (their
//! JSON text: numbers of any size and precision) and written back, enum
//! values it does not name are carried as strings, and timestamps are held to
//! the millisecond.
//!
//! It is a pure library: no I/O beyond the readers you hand it, no async
//! runtime, no AWS SDK and no database driver. Features:
//!
//! - `csv`: Audit Manager CSV reports ([`audit::read_csv`]).
//! - `aws-sdk`: conversions from the official SDK's types. A job converted
//!   from the SDK has lost the members newer than the SDK; decode the raw
//!   response body instead wherever content is compared or stored.
//!
//! # Reading a file the AWS CLI wrote
//!
//! [`Decoder`] reads every shape (`aws backup list-copy-jobs` and
//! `describe-copy-job` output, API bodies, bare jobs, arrays, JSON Lines) in
//! any layout, one job at a time, and reports a bad record with its line,
//! column and member path without stopping:
//!
//! ```
//! use backup_model::{CopyJobState, DecodeErrorKind, Decoder};
//!
//! // `aws backup list-copy-jobs > jobs.json`; here inline. A file would be
//! // `Decoder::new(std::io::BufReader::new(std::fs::File::open("jobs.json")?))`.
//! let dump = r#"{
//!     "CopyJobs": [
//!         {
//!             "CopyJobId": "c1",
//!             "State": "COMPLETED",
//!             "CreationDate": "2018-01-26T00:11:30.087000+00:00",
//!             "SomethingNew": 123456789012345678901234567890
//!         },
//!         {"__type": "AccessDeniedException", "message": "not allowed"}
//!     ]
//! }"#;
//! let mut jobs = Vec::new();
//! let mut errors = Vec::new();
//! for record in Decoder::new(dump.as_bytes()) {
//!     match record {
//!         Ok(record) => jobs.push(record.job),
//!         Err(e) => errors.push(e),
//!     }
//! }
//! assert_eq!(jobs[0].state, Some(CopyJobState::Completed));
//! assert_eq!(
//!     jobs[0].unknown_members.get("SomethingNew").unwrap().get(),
//!     "123456789012345678901234567890"
//! );
//! assert_eq!(errors[0].kind(), DecodeErrorKind::NotACopyJob);
//! assert_eq!(errors[0].path(), "CopyJobs[1]");
//! assert_eq!(errors[0].position().line, 9);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Writing canonical JSON
//!
//! [`CopyJob::to_json_string`] writes one line: known members in the service
//! model's order, timestamps in RFC 3339 UTC with milliseconds, unknown
//! members after them, as received. Decoding it gives the same job, and
//! encoding that the same bytes.
//!
//! ```
//! use backup_model::{CopyJob, CopyJobState, Timestamp};
//!
//! let job = CopyJob::new()
//!     .with_copy_job_id("c1")
//!     .with_state(CopyJobState::Completed)
//!     .with_creation_date(Timestamp::from_millis(1_516_925_490_087)?)
//!     .with_unknown_member("SomethingNew", "0.1000000000000000055511151231257827")?;
//! let line = job.to_json_string();
//! assert_eq!(
//!     line,
//!     r#"{"CopyJobId":"c1","CreationDate":"2018-01-26T00:11:30.087Z","State":"COMPLETED","SomethingNew":0.1000000000000000055511151231257827}"#
//! );
//! let back: CopyJob = serde_json::from_str(&line)?;
//! assert_eq!(back, job);
//! assert_eq!(back.to_json_string(), line);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Telling whether a job changed
//!
//! [`CopyJob::write_content_form`] writes the text to hash: it depends only
//! on what AWS sent, not on which members this version knows, the layout of
//! the input or the order of members (see [`write_content_form`]).
//!
//! ```
//! use backup_model::CopyJob;
//!
//! let form = |json: &str| {
//!     let job: CopyJob = serde_json::from_str(json).unwrap();
//!     let mut out = Vec::new();
//!     job.write_content_form(&mut out);
//!     out
//! };
//! // An epoch number and the CLI's ISO string are the same instant.
//! assert_eq!(
//!     form(r#"{"CopyJobId":"c1","CreationDate":1516925490.087}"#),
//!     form(r#"{"CreationDate":"2018-01-26T00:11:30.087000+00:00","CopyJobId":"c1"}"#),
//! );
//! ```

pub mod audit;
mod content;
mod decode;
mod enums;
mod raw;
#[cfg(feature = "aws-sdk")]
mod sdk;
mod timestamp;
mod types;

pub use content::{write_content_form, ContentFormError, CONTENT_FORM_VERSION};
pub use decode::{
    decode_all, DecodeError, DecodeErrorKind, Decoder, Position, Record, DEFAULT_MAX_RECORD_SIZE,
};
pub use enums::{CopyJobState, LifecycleDeleteAfterEvent, UnknownValue};
pub use timestamp::{Timestamp, TimestampError};
pub use types::{
    ChildJobsInState, CopyJob, DescribeCopyJobOutput, Lifecycle, ListCopyJobsOutput,
    RecoveryPointCreator, UnknownMemberError, UnknownMembers,
};

impl CopyJob {
    /// The canonical encoding: one line of JSON, known members in the service
    /// model's order, then unknown members by name (their values as
    /// received), timestamps in RFC 3339 UTC with milliseconds. Decoding it
    /// again gives the same bytes.
    pub fn to_json_string(&self) -> String {
        let mut out = Vec::with_capacity(1024);
        self.write_json(&mut out);
        // serde_json writes UTF-8 only, and unknown members are kept as text.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the canonical encoding to `out` (no newline).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Serializing into a Vec cannot fail: every key is a string and every
        // value is representable in JSON.
        let _ = serde_json::to_writer(out, self);
    }

    /// Appends the job's content form (see [`write_content_form`]) to `out`:
    /// the text to hash to tell whether a job changed. It depends only on what
    /// AWS sent, not on the members and values this version of the model
    /// knows, and is defined by [`CONTENT_FORM_VERSION`].
    pub fn write_content_form(&self, out: &mut Vec<u8>) {
        if self.shadows_known_member() {
            // Two members of one name (only a builder makes them): the
            // form of the canonical encoding decides their order.
            let mut json = Vec::with_capacity(1024);
            self.write_json(&mut json);
            // The canonical encoding is one valid JSON value.
            let _ = content::write_content_form(&json, out);
        } else {
            // The same bytes, written from the fields (see `WriteContent`).
            content::WriteContent::write_content(self, out);
        }
    }

    /// The sort of job this is within a composite: parent, child or neither.
    pub fn is_child(&self) -> bool {
        self.parent_job_id.is_some()
    }
}
