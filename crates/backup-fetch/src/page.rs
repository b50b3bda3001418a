//! One ListCopyJobs page, kept as received: the body, where each job's JSON
//! text is in it, and the `NextToken`.
//!
//! Reading a page only indexes it (one pass over the body that checks it is
//! JSON of the right shape and finds each job's text); its jobs are decoded
//! when asked for. So the next page can be requested as soon as this one is
//! indexed, and a reader that already holds a job's text, byte for byte, need
//! not decode it again (see [`Page::job_text`]).

use std::borrow::Cow;
use std::ops::Range;

use backup_model::{CopyJob, Timestamp};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::client::Target;
use crate::error::{FetchError, FetchErrorKind};

/// One page of ListCopyJobs.
#[derive(Debug, Clone)]
pub struct Page {
    body: bytes::Bytes,
    /// Each job's JSON text, as a range of `body`.
    jobs: Vec<Range<usize>>,
    /// Names the page in errors: the target it was listed from.
    target: String,
    /// The token for the next page; `None` on the last page.
    pub next_token: Option<String>,
    /// The response's request id.
    pub request_id: Option<String>,
    /// When the service produced the page: its `Date` header, else our clock.
    pub observed_at: Timestamp,
}

/// The outline of a page: each job as its unparsed text.
#[derive(Deserialize)]
struct Outline<'a> {
    #[serde(rename = "CopyJobs", borrow, default)]
    jobs: Option<Vec<&'a RawValue>>,
    #[serde(rename = "NextToken", default)]
    next_token: Option<String>,
}

/// The members that name a job (its key), read without decoding the rest.
#[derive(Debug, Default, Deserialize)]
#[non_exhaustive]
pub struct JobNames<'a> {
    /// `AccountId`.
    #[serde(rename = "AccountId", borrow, default)]
    pub account_id: Option<Cow<'a, str>>,
    /// `CopyJobId`.
    #[serde(rename = "CopyJobId", borrow, default)]
    pub copy_job_id: Option<Cow<'a, str>>,
}

impl Page {
    /// Reads `body`, a successful ListCopyJobs response of `target`
    /// produced at `observed_at`, without decoding its jobs. Fails on a
    /// body that is not JSON or not a page, with the decoder's message
    /// (member path and position).
    pub fn from_body(
        body: bytes::Bytes,
        target: &Target,
        request_id: Option<String>,
        observed_at: Timestamp,
    ) -> Result<Page, FetchError> {
        let mut page = Page {
            body,
            jobs: Vec::new(),
            target: target.to_string(),
            next_token: None,
            request_id,
            observed_at,
        };
        let outline: Outline<'_> = match serde_json::from_slice(&page.body) {
            Ok(outline) => outline,
            Err(e) => return Err(page.undecodable(&e.to_string())),
        };
        let base = page.body.as_ptr() as usize;
        page.jobs = outline
            .jobs
            .unwrap_or_default()
            .iter()
            .map(|raw| {
                // A borrowed raw value is a slice of the body.
                let start = raw.get().as_ptr() as usize - base;
                start..start + raw.get().len()
            })
            .collect();
        page.next_token = outline.next_token.filter(|t| !t.is_empty());
        Ok(page)
    }

    /// How many jobs the page holds.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether the page holds no job (not a sign of the last page).
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The JSON text of job `i` exactly as the service sent it. The same
    /// text decodes to the same job: a reader that recorded a job's text can
    /// recognise it unchanged without decoding it.
    pub fn job_text(&self, i: usize) -> &[u8] {
        &self.body[self.jobs[i].clone()]
    }

    /// The `AccountId` and `CopyJobId` of job `i`, read without decoding
    /// the rest of it.
    pub fn job_names(&self, i: usize) -> Result<JobNames<'_>, FetchError> {
        serde_json::from_slice::<JobNames<'_>>(self.job_text(i))
            .map_err(|e| self.undecodable(&e.to_string()))
    }

    /// Job `i`, decoded losslessly.
    pub fn job(&self, i: usize) -> Result<CopyJob, FetchError> {
        serde_json::from_slice::<CopyJob>(self.job_text(i))
            .map_err(|e| self.undecodable(&e.to_string()))
    }

    /// Every job of the page, decoded losslessly, in order.
    pub fn jobs(&self) -> Result<Vec<CopyJob>, FetchError> {
        (0..self.len()).map(|i| self.job(i)).collect()
    }

    /// The error for a job that does not decode: the decoder's message for
    /// the whole body (member path and position), else `fallback`.
    fn undecodable(&self, fallback: &str) -> FetchError {
        let detail = crate::client::decode_detail("ListCopyJobs", &self.body)
            .unwrap_or_else(|| fallback.to_owned());
        FetchError {
            kind: FetchErrorKind::MalformedResponse,
            operation: "ListCopyJobs",
            code: None,
            message: format!("{detail} (target {})", self.target),
            request_id: self.request_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str) -> Result<Page, FetchError> {
        let target = Target {
            account: Some("123456789012".to_owned()),
            region: "us-east-1".to_owned(),
        };
        Page::from_body(
            bytes::Bytes::copy_from_slice(body.as_bytes()),
            &target,
            None,
            Timestamp::from_millis(0).unwrap(),
        )
    }

    #[test]
    fn a_page_is_indexed_without_decoding_its_jobs() {
        let p = page(
            r#"{ "NextToken" : "t", "CopyJobs" : [ {"CopyJobId":"a","X":{"CopyJobId":"no"}} , {"State":"CREATED","CopyJobId":"b\u0041"}, {} ] }"#,
        )
        .unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p.next_token.as_deref(), Some("t"));
        assert_eq!(
            p.job_text(0),
            br#"{"CopyJobId":"a","X":{"CopyJobId":"no"}}"#
        );
        assert_eq!(p.job_names(0).unwrap().copy_job_id.as_deref(), Some("a"));
        assert_eq!(p.job_names(1).unwrap().copy_job_id.as_deref(), Some("bA"));
        assert_eq!(p.job_names(2).unwrap().copy_job_id, None);
        assert_eq!(p.job_names(2).unwrap().account_id, None);
        let jobs = p.jobs().unwrap();
        assert_eq!(jobs[1].copy_job_id.as_deref(), Some("bA"));
        assert_eq!(jobs[0].unknown_members.len(), 1);
    }

    #[test]
    fn an_empty_token_ends_the_listing_and_missing_jobs_are_none() {
        let p = page(r#"{"NextToken":""}"#).unwrap();
        assert!(p.is_empty());
        assert_eq!(p.next_token, None);
    }

    #[test]
    fn a_body_that_is_not_a_page_is_refused_and_a_bad_job_names_its_member() {
        assert!(page(r#"{"CopyJobs":[{"CopyJobId":"a"}"#).is_err());
        assert!(page(r#"{"CopyJobs":{}}"#).is_err());
        assert!(page(r#"{"CopyJobs":[],"CopyJobs":[]}"#).is_err());
        let p =
            page(r#"{"CopyJobs":[{"CopyJobId":"a"},{"CopyJobId":"b","BackupSizeInBytes":"1"}]}"#)
                .unwrap();
        assert!(p.job(0).is_ok());
        let e = p.job(1).unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::MalformedResponse);
        assert!(e.message.contains("BackupSizeInBytes"), "{}", e.message);
        assert!(
            e.message.contains("123456789012/us-east-1"),
            "{}",
            e.message
        );
        assert!(p.jobs().is_err());
    }
}
