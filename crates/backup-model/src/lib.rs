//! The AWS Backup copy-job model and a lossless JSON codec.
//!
//! This crate describes the `CopyJob` structure that the DescribeCopyJob and
//! ListCopyJobs operations return, and reads and writes it as JSON without
//! losing anything: members are keyed by their API names (as the AWS CLI prints
//! them), members this version does not know are kept and written back, enum
//! values it does not name are carried as strings, and timestamps are held to
//! the millisecond.
//!
//! It is a pure library: no I/O beyond the [`std::io::BufRead`] you hand the
//! [`Decoder`], no async runtime, no AWS SDK and no database driver. The
//! optional `aws-sdk` feature adds conversions from the official SDK's types.
//!
//! ```
//! use backup_model::{CopyJob, CopyJobState, Decoder};
//!
//! let body = br#"{"CopyJobs":[{"CopyJobId":"c1","State":"COMPLETED","CreationDate":1516925490.087}]}"#;
//! let jobs: Vec<CopyJob> = Decoder::new(&body[..]).map(|r| r.unwrap().job).collect();
//! assert_eq!(jobs[0].state, Some(CopyJobState::Completed));
//! assert_eq!(
//!     jobs[0].to_json_string(),
//!     r#"{"CopyJobId":"c1","CreationDate":"2018-01-26T00:11:30.087Z","State":"COMPLETED"}"#
//! );
//! ```

mod decode;
mod enums;
#[cfg(feature = "aws-sdk")]
mod sdk;
mod timestamp;
mod types;

pub use decode::{decode_all, DecodeError, DecodeErrorKind, Decoder, Position, Record};
pub use enums::{CopyJobState, LifecycleDeleteAfterEvent, UnknownValue};
pub use timestamp::{Timestamp, TimestampError};
pub use types::{
    ChildJobsInState, CopyJob, DescribeCopyJobOutput, Lifecycle, ListCopyJobsOutput,
    RecoveryPointCreator, UnknownMembers,
};

impl CopyJob {
    /// The canonical encoding: one line of JSON, known members in the service
    /// model's order, then unknown members by name, timestamps in RFC 3339 UTC
    /// with milliseconds. Decoding it again gives the same bytes.
    pub fn to_json_string(&self) -> String {
        let mut out = Vec::with_capacity(1024);
        self.write_json(&mut out);
        // serde_json writes UTF-8 only.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the canonical encoding to `out` (no newline).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Serializing into a Vec cannot fail: every key is a string and every
        // value is representable in JSON.
        let _ = serde_json::to_writer(out, self);
    }

    /// The sort of job this is within a composite: parent, child or neither.
    pub fn is_child(&self) -> bool {
        self.parent_job_id.is_some()
    }
}
