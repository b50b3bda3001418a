//! Where the jobs come from (synthetic or a fixture), how they are filtered,
//! and how pages and `NextToken`s are cut.
//!
//! Both sources number a target's jobs so that a higher index is a newer job,
//! and a page is a walk down the indices from where the previous one stopped.
//! The token records that position, so every job visible when the walk passes
//! it is returned exactly once, however short the pages.

use std::collections::HashMap;
use std::ops::Range;

use backup_model::{CopyJob, CopyJobState, Timestamp};

use crate::rng::{base64url, base64url_decode, hash2, hash_str, mix64};
use crate::synth::SynthTarget;

/// A filtered page scans at most this many candidates, then returns what it
/// has (possibly nothing) with a `NextToken`, as AWS does.
pub(crate) const SCAN_LIMIT: u64 = 10_000;

/// One in this many continuation pages is cut short on purpose, so clients
/// learn not to take a short page for the last.
const SHORT_PAGE_ONE_IN: u64 = 8;

/// The ListCopyJobs filters (the `By*` members of `ListCopyJobsInput`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Filter {
    pub account_id: Option<String>,
    pub complete_after: Option<Timestamp>,
    pub complete_before: Option<Timestamp>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub destination_vault_arn: Option<String>,
    pub message_category: Option<String>,
    pub parent_job_id: Option<String>,
    pub resource_arn: Option<String>,
    pub resource_type: Option<String>,
    pub source_recovery_point_arn: Option<String>,
    pub state: Option<CopyJobState>,
}

fn eq(want: &Option<String>, have: &Option<String>) -> bool {
    want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
}

impl Filter {
    /// Whether any filter is set (an unfiltered walk needs no scan limit).
    pub(crate) fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Whether `job` passes every filter. After/Before are strict; the
    /// completion filters exclude jobs that have not completed.
    pub(crate) fn matches(&self, job: &CopyJob) -> bool {
        let after = |bound: Option<Timestamp>, t: Option<Timestamp>| {
            bound.is_none_or(|b| t.is_some_and(|t| t > b))
        };
        let before = |bound: Option<Timestamp>, t: Option<Timestamp>| {
            bound.is_none_or(|b| t.is_some_and(|t| t < b))
        };
        eq(&self.account_id, &job.account_id)
            && after(self.created_after, job.creation_date)
            && before(self.created_before, job.creation_date)
            && after(self.complete_after, job.completion_date)
            && before(self.complete_before, job.completion_date)
            && eq(
                &self.destination_vault_arn,
                &job.destination_backup_vault_arn,
            )
            && eq(&self.parent_job_id, &job.parent_job_id)
            && eq(&self.resource_arn, &job.resource_arn)
            && eq(&self.resource_type, &job.resource_type)
            && eq(
                &self.source_recovery_point_arn,
                &job.source_recovery_point_arn,
            )
            && self
                .state
                .as_ref()
                .is_none_or(|s| job.state.as_ref() == Some(s))
            && self.message_category.as_ref().is_none_or(|c| {
                // The API documents both "SUCCESS" and "Success": compare without case.
                job.message_category
                    .as_ref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(c))
            })
    }

    /// A hash of the filters, binding a token to the query that made it.
    fn fingerprint(&self) -> u64 {
        fn s(v: &Option<String>) -> &str {
            v.as_deref().unwrap_or("\u{0}")
        }
        let t = |v: Option<Timestamp>| v.map_or(u64::MAX, |t| t.as_millis() as u64);
        let mut h = 0x5EED;
        for text in [
            s(&self.account_id),
            s(&self.destination_vault_arn),
            s(&self.message_category),
            s(&self.parent_job_id),
            s(&self.resource_arn),
            s(&self.resource_type),
            s(&self.source_recovery_point_arn),
            self.state.as_ref().map_or("\u{0}", |s| s.as_str()),
        ] {
            h = hash_str(h, text);
        }
        for v in [
            t(self.complete_after),
            t(self.complete_before),
            t(self.created_after),
            t(self.created_before),
        ] {
            h = hash2(h, v);
        }
        h
    }
}

/// A fixed set of jobs served as given.
#[derive(Debug)]
pub(crate) struct FixtureTarget {
    key: u64,
    /// Oldest first, so that a higher index is a newer job as for synthetic targets.
    jobs: Vec<CopyJob>,
    by_id: HashMap<String, usize>,
}

impl FixtureTarget {
    fn new(key: u64, mut jobs: Vec<CopyJob>) -> Self {
        // Stable: jobs created at the same instant keep their given order,
        // newest-first listing then shows the later-given one first.
        jobs.sort_by_key(|j| j.creation_date);
        let by_id = jobs
            .iter()
            .enumerate()
            .filter_map(|(i, j)| j.copy_job_id.clone().map(|id| (id, i)))
            .collect();
        FixtureTarget { key, jobs, by_id }
    }
}

/// The jobs of one (account, region).
#[derive(Debug)]
pub(crate) enum Target {
    Synthetic(SynthTarget),
    Fixture(FixtureTarget),
}

impl Target {
    fn key(&self) -> u64 {
        match self {
            Target::Synthetic(t) => t.key(),
            Target::Fixture(t) => t.key,
        }
    }

    /// The indices that can hold visible jobs matching the creation filters.
    pub(crate) fn range(&self, now: Timestamp, filter: &Filter) -> Range<u64> {
        match self {
            Target::Fixture(t) => 0..t.jobs.len() as u64,
            Target::Synthetic(t) => {
                let mut end = t.count_created_at_or_before(now.as_millis());
                if let Some(before) = filter.created_before {
                    end = end.min(t.count_created_at_or_before(before.as_millis() - 1));
                }
                let start = filter
                    .created_after
                    .map_or(0, |after| t.count_created_at_or_before(after.as_millis()));
                start.min(end)..end
            }
        }
    }

    /// The job at index `i` (in the range) as it is at `now`.
    pub(crate) fn job(&self, i: u64, now: Timestamp) -> CopyJob {
        match self {
            Target::Synthetic(t) => t.job(i, now.as_millis()),
            Target::Fixture(t) => t.jobs[i as usize].clone(),
        }
    }

    /// The visible job with this id.
    pub(crate) fn find(&self, id: &str, now: Timestamp) -> Option<CopyJob> {
        match self {
            Target::Synthetic(t) => {
                let i = t.slot_of_id(id)?;
                (t.creation_ms(i) <= now.as_millis()).then(|| t.job(i, now.as_millis()))
            }
            Target::Fixture(t) => t.by_id.get(id).map(|&i| t.jobs[i].clone()),
        }
    }

    /// Every visible job, newest first.
    pub(crate) fn all(&self, now: Timestamp) -> Vec<CopyJob> {
        self.range(now, &Filter::default())
            .rev()
            .map(|i| self.job(i, now))
            .collect()
    }
}

/// Every target, by account then region.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    targets: HashMap<String, HashMap<String, Target>>,
}

impl Catalog {
    pub(crate) fn insert(&mut self, account: &str, region: &str, target: Target) {
        self.targets
            .entry(account.to_owned())
            .or_default()
            .insert(region.to_owned(), target);
    }

    pub(crate) fn get(&self, account: &str, region: &str) -> Option<&Target> {
        self.targets.get(account)?.get(region)
    }

    /// Builds fixture targets: each job goes to the region of its source vault
    /// ARN (else `default_region`) and to its `AccountId` (else `default_account`).
    pub(crate) fn from_fixture(
        seed: u64,
        jobs: Vec<CopyJob>,
        default_account: &str,
        default_region: &str,
    ) -> Self {
        let mut grouped: HashMap<(String, String), Vec<CopyJob>> = HashMap::new();
        for job in jobs {
            let region = job
                .source_backup_vault_arn
                .as_deref()
                .and_then(|arn| arn.split(':').nth(3))
                .filter(|r| !r.is_empty())
                .unwrap_or(default_region)
                .to_owned();
            let account = job
                .account_id
                .clone()
                .unwrap_or_else(|| default_account.to_owned());
            grouped.entry((account, region)).or_default().push(job);
        }
        let mut catalog = Catalog::default();
        for ((account, region), jobs) in grouped {
            let key = hash_str(hash_str(seed ^ 0xF1C7, &account), &region);
            catalog.insert(
                &account,
                &region,
                Target::Fixture(FixtureTarget::new(key, jobs)),
            );
        }
        catalog
    }
}

/// Why a `nextToken` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadToken;

const TOKEN_VERSION: u8 = 1;

/// A token for "continue below index `position`", bound to the target and
/// the filters by a checksum, and masked so it reads as opaque.
pub(crate) fn encode_token(target_key: u64, filter: &Filter, position: u64) -> String {
    let bind = hash2(target_key, filter.fingerprint());
    let masked = position ^ mix64(bind ^ 0x4D41_534B);
    let check = hash2(bind, position);
    let mut bytes = Vec::with_capacity(17);
    bytes.push(TOKEN_VERSION);
    bytes.extend_from_slice(&masked.to_be_bytes());
    bytes.extend_from_slice(&check.to_be_bytes());
    base64url(&bytes)
}

/// The position in a token made by [`encode_token`] for the same target and filters.
pub(crate) fn decode_token(target_key: u64, filter: &Filter, token: &str) -> Result<u64, BadToken> {
    let bytes = base64url_decode(token).ok_or(BadToken)?;
    if bytes.len() != 17 || bytes[0] != TOKEN_VERSION {
        return Err(BadToken);
    }
    let word = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_be_bytes(b)
    };
    let bind = hash2(target_key, filter.fingerprint());
    let position = word(1) ^ mix64(bind ^ 0x4D41_534B);
    if word(9) != hash2(bind, position) {
        return Err(BadToken);
    }
    Ok(position)
}

/// One ListCopyJobs page.
#[derive(Debug)]
pub(crate) struct Page {
    pub jobs: Vec<CopyJob>,
    pub next_token: Option<String>,
}

/// Cuts one page from `target` (or from nothing, for an unknown target).
pub(crate) fn list_page(
    target: Option<&Target>,
    now: Timestamp,
    filter: &Filter,
    max_results: usize,
    token: Option<&str>,
) -> Result<Page, BadToken> {
    let Some(target) = target else {
        // An account or region the emulator has no data for: valid and empty,
        // but a token can never have come from it.
        return match token {
            Some(_) => Err(BadToken),
            None => Ok(Page {
                jobs: Vec::new(),
                next_token: None,
            }),
        };
    };
    let key = target.key();
    let range = target.range(now, filter);
    let mut position = range.end;
    let mut limit = max_results.max(1);
    if let Some(token) = token {
        position = decode_token(key, filter, token)?.min(range.end);
        let h = hash2(key ^ 0x0053_484F_5254, position);
        if h.is_multiple_of(SHORT_PAGE_ONE_IN) {
            limit = 1 + ((h >> 32) % limit as u64) as usize;
        }
    }
    let scan_limit = if filter.is_empty() {
        u64::MAX
    } else {
        SCAN_LIMIT
    };
    let mut jobs = Vec::with_capacity(limit.min(1000));
    let mut scanned = 0;
    while position > range.start && jobs.len() < limit && scanned < scan_limit {
        position -= 1;
        scanned += 1;
        let job = target.job(position, now);
        if filter.matches(&job) {
            jobs.push(job);
        }
    }
    let next_token = (position > range.start).then(|| encode_token(key, filter, position));
    Ok(Page { jobs, next_token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let f = Filter::default();
        let t = encode_token(7, &f, 12_345);
        assert_eq!(decode_token(7, &f, &t), Ok(12_345));
        assert_eq!(decode_token(8, &f, &t), Err(BadToken));
        let g = Filter {
            state: Some(CopyJobState::Failed),
            ..Filter::default()
        };
        assert_eq!(decode_token(7, &g, &t), Err(BadToken));
        let mut chars: Vec<char> = t.chars().collect();
        chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(decode_token(7, &f, &tampered), Err(BadToken));
        assert_eq!(decode_token(7, &f, "not a token"), Err(BadToken));
        assert_eq!(decode_token(7, &f, ""), Err(BadToken));
    }

    fn job(id: &str, created: i64, completed: Option<i64>, state: &str) -> CopyJob {
        CopyJob {
            copy_job_id: Some(id.to_owned()),
            creation_date: Some(Timestamp::from_secs(created).unwrap()),
            completion_date: completed.map(|c| Timestamp::from_secs(c).unwrap()),
            state: Some(CopyJobState::from(state)),
            message_category: Some("SUCCESS".to_owned()),
            ..CopyJob::default()
        }
    }

    #[test]
    fn filters_are_strict_and_skip_incomplete_jobs() {
        let j = job("a", 100, Some(200), "COMPLETED");
        let open = job("b", 100, None, "RUNNING");
        let at = |s| Some(Timestamp::from_secs(s).unwrap());
        let f = |f: Filter| (f.matches(&j), f.matches(&open));
        assert_eq!(
            f(Filter {
                created_after: at(100),
                ..Filter::default()
            }),
            (false, false)
        );
        assert_eq!(
            f(Filter {
                created_after: at(99),
                ..Filter::default()
            }),
            (true, true)
        );
        assert_eq!(
            f(Filter {
                created_before: at(101),
                ..Filter::default()
            }),
            (true, true)
        );
        assert_eq!(
            f(Filter {
                created_before: at(100),
                ..Filter::default()
            }),
            (false, false)
        );
        assert_eq!(
            f(Filter {
                complete_before: at(201),
                ..Filter::default()
            }),
            (true, false)
        );
        assert_eq!(
            f(Filter {
                complete_after: at(0),
                ..Filter::default()
            }),
            (true, false)
        );
        assert_eq!(
            f(Filter {
                complete_after: at(200),
                ..Filter::default()
            }),
            (false, false)
        );
        assert_eq!(
            f(Filter {
                message_category: Some("Success".into()),
                ..Filter::default()
            }),
            (true, true)
        );
        assert_eq!(
            f(Filter {
                state: Some(CopyJobState::Running),
                ..Filter::default()
            }),
            (false, true)
        );
    }

    #[test]
    fn fixture_pages_cover_every_job_once() {
        let jobs: Vec<CopyJob> = (0..50)
            .map(|i| job(&format!("j{i}"), 1000 + (i % 7) * 10, None, "CREATED"))
            .collect();
        let catalog = Catalog::from_fixture(1, jobs, "123456789012", "us-east-1");
        let target = catalog.get("123456789012", "us-east-1");
        let now = Timestamp::UNIX_EPOCH;
        let f = Filter::default();
        let mut seen = Vec::new();
        let mut token = None;
        let mut pages = 0;
        loop {
            let page = list_page(target, now, &f, 3, token.as_deref()).unwrap();
            pages += 1;
            seen.extend(page.jobs.into_iter().map(|j| j.copy_job_id.unwrap()));
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert!(pages >= 17);
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 50);
        assert_eq!(seen.len(), 50);
        let all = target.unwrap().all(now);
        let ids: Vec<_> = all.into_iter().map(|j| j.copy_job_id.unwrap()).collect();
        assert_eq!(ids, seen);
        assert!(catalog.get("123456789012", "eu-west-1").is_none());
        assert!(list_page(None, now, &f, 3, Some("x")).is_err());
    }
}
