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
    /// The jobs, when they were decoded as the page was read.
    decoded: Option<Vec<CopyJob>>,
    /// The token for the next page; `None` on the last page.
    pub next_token: Option<String>,
    /// The response's request id.
    pub request_id: Option<String>,
    /// When the service produced the page: its `Date` header, else our clock.
    pub observed_at: Timestamp,
}

/// The outline of a page: where each job's text is, and the `NextToken`.
#[derive(Debug, Default, PartialEq)]
struct Outline {
    jobs: Vec<Range<usize>>,
    next_token: Option<String>,
}

/// Reads the outline of a ListCopyJobs body in one pass, in any layout:
/// the object's members, the `CopyJobs` array's elements (their extent
/// only: strings are skipped to their closing quote, objects and arrays to
/// their closing bracket) and the `NextToken` string (decoded by
/// serde_json). Anything else in the object is checked to be JSON. The
/// jobs' own text is checked when it is read: decoded, or read for its
/// names ([`Page::job_names`]), which parses all of it.
///
/// With `decode`, each job is decoded where it is found (its extent is where
/// its decoding ended), and returned.
fn outline(body: &[u8], decode: bool) -> Result<(Outline, Vec<CopyJob>), String> {
    let mut scan = Scan { body, at: 0 };
    let mut outline = Outline::default();
    let mut decoded = Vec::new();
    let (mut jobs_seen, mut token_seen) = (false, false);
    scan.expect(b'{')?;
    let mut first = true;
    loop {
        scan.skip_ws();
        if scan.peek() == Some(b'}') {
            scan.at += 1;
            break;
        }
        if !first {
            scan.expect(b',')?;
            scan.skip_ws();
        }
        first = false;
        let key = scan.string()?;
        let key: Cow<'_, str> =
            serde_json::from_slice(&body[key]).map_err(|e| format!("a member name: {e}"))?;
        scan.expect(b':')?;
        scan.skip_ws();
        match key.as_ref() {
            "CopyJobs" => {
                if std::mem::replace(&mut jobs_seen, true) {
                    return Err("duplicate member `CopyJobs`".to_owned());
                }
                if scan.literal(b"null") {
                    continue;
                }
                scan.expect(b'[')?;
                scan.skip_ws();
                if scan.peek() == Some(b']') {
                    scan.at += 1;
                    continue;
                }
                loop {
                    scan.skip_ws();
                    if scan.peek() != Some(b'{') {
                        return Err(format!(
                            "a CopyJobs element at byte {} is not an object",
                            scan.at
                        ));
                    }
                    let job = if decode {
                        let start = scan.at;
                        let mut one = serde_json::Deserializer::from_slice(&body[start..])
                            .into_iter::<CopyJob>();
                        match one.next() {
                            Some(Ok(job)) => decoded.push(job),
                            Some(Err(e)) => return Err(e.to_string()),
                            None => return Err("the body ends early (truncated)".to_owned()),
                        }
                        scan.at = start + one.byte_offset();
                        start..scan.at
                    } else {
                        scan.value()?
                    };
                    outline.jobs.push(job);
                    scan.skip_ws();
                    match scan.next()? {
                        b',' => {}
                        b']' => break,
                        other => return Err(scan.unexpected(other, "`,` or `]`")),
                    }
                }
            }
            "NextToken" => {
                if std::mem::replace(&mut token_seen, true) {
                    return Err("duplicate member `NextToken`".to_owned());
                }
                let value = scan.value()?;
                outline.next_token =
                    serde_json::from_slice(&body[value]).map_err(|e| format!("NextToken: {e}"))?;
            }
            _ => {
                let value = scan.value()?;
                serde_json::from_slice::<serde::de::IgnoredAny>(&body[value])
                    .map_err(|e| format!("member `{key}`: {e}"))?;
            }
        }
    }
    scan.skip_ws();
    if scan.at != body.len() {
        return Err(format!("trailing characters at byte {}", scan.at));
    }
    Ok((outline, decoded))
}

/// A cursor over a JSON text that finds where values end.
struct Scan<'a> {
    body: &'a [u8],
    at: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.body.get(self.at).copied()
    }

    fn next(&mut self) -> Result<u8, String> {
        let byte = self
            .peek()
            .ok_or_else(|| "the body ends early (truncated)".to_owned())?;
        self.at += 1;
        Ok(byte)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn unexpected(&self, byte: u8, wanted: &str) -> String {
        format!(
            "expected {wanted} at byte {}, found {:?}",
            self.at - 1,
            char::from(byte)
        )
    }

    fn expect(&mut self, wanted: u8) -> Result<(), String> {
        self.skip_ws();
        match self.next()? {
            byte if byte == wanted => Ok(()),
            other => Err(self.unexpected(other, &format!("`{}`", char::from(wanted)))),
        }
    }

    /// Consumes `word` if it comes next.
    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.body[self.at..].starts_with(word);
        if found {
            self.at += word.len();
        }
        found
    }

    /// A string starting here: its extent, quotes included.
    fn string(&mut self) -> Result<Range<usize>, String> {
        let start = self.at;
        match self.next()? {
            b'"' => {}
            other => return Err(self.unexpected(other, "a string")),
        }
        loop {
            let rest = &self.body[self.at..];
            let found = memchr::memchr2(b'"', b'\\', rest)
                .ok_or_else(|| "the body ends inside a string (truncated)".to_owned())?;
            self.at += found + 1;
            if rest[found] == b'"' {
                return Ok(start..self.at);
            }
            // An escape: the next byte is part of it (`\"` included).
            self.next()?;
        }
    }

    /// A value starting here: its extent. Objects and arrays are followed
    /// to their closing bracket; scalars to the next delimiter.
    fn value(&mut self) -> Result<Range<usize>, String> {
        let start = self.at;
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err("the body ends inside a value (truncated)".to_owned()),
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'{' | b'[') => {
                    depth += 1;
                    self.at += 1;
                }
                Some(close @ (b'}' | b']')) => {
                    if depth == 0 {
                        return Err(self.unexpected(close, "a value"));
                    }
                    depth -= 1;
                    self.at += 1;
                }
                Some(_) if depth > 0 => self.at += 1,
                Some(_) => {
                    // A number or a literal: up to a delimiter.
                    while !matches!(
                        self.peek(),
                        None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                    ) {
                        self.at += 1;
                    }
                    if self.at == start {
                        return Err("a missing value".to_owned());
                    }
                }
            }
            if depth == 0 && self.at > start {
                return Ok(start..self.at);
            }
        }
    }
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
        Page::read(body, target, request_id, observed_at, false)
    }

    /// [`Page::from_body`], and with `decode` every job decoded in the same
    /// pass ([`Page::take_jobs`]).
    pub(crate) fn read(
        body: bytes::Bytes,
        target: &Target,
        request_id: Option<String>,
        observed_at: Timestamp,
        decode: bool,
    ) -> Result<Page, FetchError> {
        let mut page = Page {
            decoded: None,
            body,
            jobs: Vec::new(),
            target: target.to_string(),
            next_token: None,
            request_id,
            observed_at,
        };
        let (outline, jobs) = match outline(&page.body, decode) {
            Ok(read) => read,
            Err(e) => return Err(page.undecodable(&e)),
        };
        page.jobs = outline.jobs;
        page.next_token = outline.next_token.filter(|t| !t.is_empty());
        page.decoded = decode.then_some(jobs);
        Ok(page)
    }

    /// The jobs decoded as the page was read (see
    /// [`TargetClient::list_decoded`](crate::TargetClient::list_decoded)),
    /// once: `None` when they were not, or were already taken.
    pub fn take_jobs(&mut self) -> Option<Vec<CopyJob>> {
        self.decoded.take()
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

    /// Every job of the page, in order: those decoded as the page was read,
    /// else decoded now.
    pub fn into_jobs(mut self) -> Result<Vec<CopyJob>, FetchError> {
        match self.decoded.take() {
            Some(jobs) => Ok(jobs),
            None => self.jobs(),
        }
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

    /// The outline as serde_json reads it: the reference for the scanner.
    fn reference(body: &str) -> Option<Outline> {
        #[derive(Deserialize)]
        struct Reference<'a> {
            #[serde(rename = "CopyJobs", borrow, default)]
            jobs: Option<Vec<&'a serde_json::value::RawValue>>,
            #[serde(rename = "NextToken", default)]
            next_token: Option<String>,
        }
        let r: Reference<'_> = serde_json::from_str(body).ok()?;
        let base = body.as_ptr() as usize;
        Some(Outline {
            jobs: r
                .jobs
                .unwrap_or_default()
                .iter()
                .map(|raw| {
                    let start = raw.get().as_ptr() as usize - base;
                    start..start + raw.get().len()
                })
                .collect(),
            next_token: r.next_token,
        })
    }

    #[test]
    fn the_outline_is_serde_json_s_in_any_layout() {
        let bodies = [
            r#"{"CopyJobs":[{"CopyJobId":"a"},{"CopyJobId":"b","X":[1,{"y":"]}"}]}],"NextToken":"t"}"#,
            "{ \"NextToken\" : \"t\\\"u\" ,\r\n \"CopyJobs\" :\t[ {\"A\":\"\\\\\"} ,{} ]\n}\n",
            r#"{"CopyJobs":[],"NextToken":null}"#,
            r#"{"CopyJobs":null}"#,
            r#"{}"#,
            r#"{"Other":{"CopyJobs":[1]},"CopyJobs":[{"S":"\u005d\""}],"More":[true,false,null,-1.5e3]}"#,
            r#"{"Copy\u004aobs":[{"a":1}]}"#,
            r#"{"CopyJobs":[{"a":"é ✓"}],"NextToken":"x"}"#,
        ];
        for body in bodies {
            let (scanned, _) =
                outline(body.as_bytes(), false).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(Some(&scanned), reference(body).as_ref(), "{body}");
            // Decoding as it goes finds the same extents, and the same jobs.
            let (decoded, jobs) =
                outline(body.as_bytes(), true).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(decoded, scanned, "{body}");
            let each: Vec<CopyJob> = scanned
                .jobs
                .iter()
                .map(|r| serde_json::from_slice(&body.as_bytes()[r.clone()]).unwrap())
                .collect();
            assert_eq!(jobs, each, "{body}");
        }
        let bad = [
            "",
            "[]",
            r#"{"CopyJobs":[{"a":1}]"#,
            r#"{"CopyJobs":[{"a":1}"#,
            r#"{"CopyJobs":[{"a":"x}]}"#,
            r#"{"CopyJobs":[{"a":1} {"b":2}]}"#,
            r#"{"CopyJobs":[{"a":1},]}"#,
            r#"{"CopyJobs":[1]}"#,
            r#"{"CopyJobs":[],"CopyJobs":[]}"#,
            r#"{"NextToken":"a","NextToken":"b"}"#,
            r#"{"NextToken":5}"#,
            r#"{"Other":tru}"#,
            r#"{"CopyJobs":[]} x"#,
            r#"{"CopyJobs":[]]}"#,
            r#"{"CopyJobs" [] }"#,
            "<html></html>",
        ];
        for body in bad {
            assert!(outline(body.as_bytes(), false).is_err(), "{body}");
            assert!(outline(body.as_bytes(), true).is_err(), "{body}");
        }
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
