//! Where the jobs come from (synthetic or a fixture), how they are filtered,
//! and how pages and `NextToken`s are cut.
//!
//! Both sources number a target's jobs so that a higher index is a newer job,
//! and a page is a walk down the indices from where the previous one stopped.
//! The token records that position, so every job visible when the walk passes
//! it is returned exactly once, however short the pages. It also records the
//! page number (for the broken-paging modes) and, when tokens expire, when it
//! was issued: all the state a listing has lives in its tokens.

use std::collections::HashMap;
use std::ops::Range;

use backup_model::{CopyJob, CopyJobState, Timestamp};

use crate::rng::{base64url, base64url_decode, hash2, hash_str};
use crate::synth::SynthTarget;
use crate::BrokenPaging;

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

/// What a request sees: the jobs as they are at `now`, without those the
/// service no longer keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct View {
    pub now: Timestamp,
    /// Jobs created longer ago than this (milliseconds) are gone.
    pub retention_ms: Option<i64>,
}

impl View {
    /// Everything created at or before `now`.
    #[cfg(test)]
    pub(crate) fn at(now: Timestamp) -> Self {
        View {
            now,
            retention_ms: None,
        }
    }

    /// The oldest creation time still kept, in epoch milliseconds.
    fn oldest_kept_ms(&self) -> Option<i64> {
        self.retention_ms
            .map(|r| self.now.as_millis().saturating_sub(r))
    }

    /// Whether a job created at `creation_ms` is visible.
    fn shows(&self, creation_ms: i64) -> bool {
        creation_ms <= self.now.as_millis()
            && self.oldest_kept_ms().is_none_or(|o| creation_ms >= o)
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
    /// Retention applies to synthetic targets only (fixtures are served as given).
    pub(crate) fn range(&self, view: View, filter: &Filter) -> Range<u64> {
        match self {
            Target::Fixture(t) => 0..t.jobs.len() as u64,
            Target::Synthetic(t) => {
                let mut end = t.count_created_at_or_before(view.now.as_millis());
                if let Some(before) = filter.created_before {
                    end = end.min(t.count_created_at_or_before(before.as_millis() - 1));
                }
                let mut start = filter
                    .created_after
                    .map_or(0, |after| t.count_created_at_or_before(after.as_millis()));
                if let Some(oldest) = view.oldest_kept_ms() {
                    // Jobs created before the oldest kept instant have aged out.
                    start = start.max(t.count_created_at_or_before(oldest.saturating_sub(1)));
                }
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
    pub(crate) fn find(&self, id: &str, view: View) -> Option<CopyJob> {
        match self {
            Target::Synthetic(t) => {
                let i = t.slot_of_id(id)?;
                view.shows(t.creation_ms(i))
                    .then(|| t.job(i, view.now.as_millis()))
            }
            Target::Fixture(t) => t.by_id.get(id).map(|&i| t.jobs[i].clone()),
        }
    }

    /// Every visible job, newest first.
    pub(crate) fn all(&self, view: View) -> Vec<CopyJob> {
        self.range(view, &Filter::default())
            .rev()
            .map(|i| self.job(i, view.now))
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
pub(crate) enum BadToken {
    /// Not a token this query could have returned.
    Invalid,
    /// A real token, issued longer ago than the configured lifetime.
    Expired,
}

const TOKEN_VERSION: u8 = 2;
/// Flags, position, page, previous position, issue time, issue call.
const TOKEN_PLAIN: usize = 1 + 8 + 4 + 8 + 8 + 8;
const TOKEN_LEN: usize = 1 + TOKEN_PLAIN + 8;
const TOKEN_STAMPED: u8 = 1;

/// When a token was issued: the synthetic time and the Backup API call count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub ms: i64,
    pub call: u64,
}

/// What a `NextToken` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    /// Continue below this index.
    pub position: u64,
    /// The page this token asks for (the first page, without a token, is 0).
    pub page: u32,
    /// Only in the token of the page after [`CYCLE_TO`]: the position of page
    /// `CYCLE_TO`, so a [`BrokenPaging::Cycle`] can hand its token out again
    /// (0 in every other token, which keeps that token reproducible).
    pub prev: u64,
    /// When it was issued, if tokens expire.
    pub stamp: Option<Stamp>,
}

/// The page whose answer repeats its own token ([`BrokenPaging::RepeatToken`]).
const REPEAT_AT: u32 = 2;
/// The page a cycle leads back to; the page after it answers with its token.
const CYCLE_TO: u32 = 2;

fn hash_bytes(key: u64, bytes: &[u8]) -> u64 {
    bytes.chunks(8).fold(key ^ 0x70CE_4E00, |h, chunk| {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        hash2(h, u64::from_be_bytes(word))
    })
}

fn mask(bind: u64, plain: &mut [u8]) {
    for (k, chunk) in plain.chunks_mut(8).enumerate() {
        let stream = hash2(bind ^ 0x4D41_534B, k as u64).to_be_bytes();
        for (b, s) in chunk.iter_mut().zip(stream) {
            *b ^= s;
        }
    }
}

/// A token bound to the target and the filters by a checksum, and masked
/// so it reads as opaque. Equal inputs give equal strings.
pub(crate) fn encode_token(target_key: u64, filter: &Filter, token: &Token) -> String {
    let bind = hash2(target_key, filter.fingerprint());
    let stamp = token.stamp.unwrap_or(Stamp { ms: 0, call: 0 });
    let mut plain = Vec::with_capacity(TOKEN_PLAIN);
    plain.push(if token.stamp.is_some() {
        TOKEN_STAMPED
    } else {
        0
    });
    plain.extend_from_slice(&token.position.to_be_bytes());
    plain.extend_from_slice(&token.page.to_be_bytes());
    plain.extend_from_slice(&token.prev.to_be_bytes());
    plain.extend_from_slice(&stamp.ms.to_be_bytes());
    plain.extend_from_slice(&stamp.call.to_be_bytes());
    let check = hash_bytes(bind, &plain);
    mask(bind, &mut plain);
    let mut bytes = Vec::with_capacity(TOKEN_LEN);
    bytes.push(TOKEN_VERSION);
    bytes.extend_from_slice(&plain);
    bytes.extend_from_slice(&check.to_be_bytes());
    base64url(&bytes)
}

/// The token made by [`encode_token`] for the same target and filters.
pub(crate) fn decode_token(
    target_key: u64,
    filter: &Filter,
    token: &str,
) -> Result<Token, BadToken> {
    let bytes = base64url_decode(token).ok_or(BadToken::Invalid)?;
    if bytes.len() != TOKEN_LEN || bytes[0] != TOKEN_VERSION {
        return Err(BadToken::Invalid);
    }
    let bind = hash2(target_key, filter.fingerprint());
    let mut plain = bytes[1..1 + TOKEN_PLAIN].to_vec();
    mask(bind, &mut plain);
    let mut check = [0u8; 8];
    check.copy_from_slice(&bytes[1 + TOKEN_PLAIN..]);
    if u64::from_be_bytes(check) != hash_bytes(bind, &plain) {
        return Err(BadToken::Invalid);
    }
    let word = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&plain[at..at + 8]);
        u64::from_be_bytes(b)
    };
    let mut page = [0u8; 4];
    page.copy_from_slice(&plain[9..13]);
    Ok(Token {
        position: word(1),
        page: u32::from_be_bytes(page),
        prev: word(13),
        stamp: (plain[0] & TOKEN_STAMPED != 0).then(|| Stamp {
            ms: word(21) as i64,
            call: word(29),
        }),
    })
}

/// How tokens are handed out and checked for one ListCopyJobs call.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Paging {
    /// The current synthetic time and Backup API call count.
    pub clock: Option<Stamp>,
    /// Tokens older than this many milliseconds are refused.
    pub ttl_ms: Option<i64>,
    /// Tokens older than this many calls are refused.
    pub ttl_calls: Option<u64>,
    /// The broken sequence to hand out, if any.
    pub broken: Option<BrokenPaging>,
}

impl Paging {
    /// The stamp of new tokens: only when tokens expire, so that otherwise
    /// a token is a pure function of the query and its position.
    fn stamp(&self) -> Option<Stamp> {
        (self.ttl_ms.is_some() || self.ttl_calls.is_some())
            .then_some(self.clock)
            .flatten()
    }

    fn check(&self, token: &Token) -> Result<(), BadToken> {
        let (Some(issued), Some(now)) = (token.stamp, self.clock) else {
            return Ok(());
        };
        let too_old_ms = self
            .ttl_ms
            .is_some_and(|ttl| now.ms.saturating_sub(issued.ms) > ttl);
        let too_old_calls = self
            .ttl_calls
            .is_some_and(|ttl| now.call.saturating_sub(issued.call) > ttl);
        if too_old_ms || too_old_calls {
            Err(BadToken::Expired)
        } else {
            Ok(())
        }
    }
}

/// One ListCopyJobs page.
#[derive(Debug)]
pub(crate) struct Page {
    pub jobs: Vec<CopyJob>,
    pub next_token: Option<String>,
    /// Whether `next_token` is broken on purpose.
    pub broken: bool,
}

/// Cuts one page from `target` (or from nothing, for an unknown target).
pub(crate) fn list_page(
    target: Option<&Target>,
    view: View,
    filter: &Filter,
    max_results: usize,
    token: Option<&str>,
    paging: &Paging,
) -> Result<Page, BadToken> {
    let Some(target) = target else {
        // An account or region the emulator has no data for: valid and empty,
        // but a token can never have come from it.
        return match token {
            Some(_) => Err(BadToken::Invalid),
            None => Ok(Page {
                jobs: Vec::new(),
                next_token: None,
                broken: false,
            }),
        };
    };
    let key = target.key();
    let range = target.range(view, filter);
    let mut position = range.end;
    let mut limit = max_results.max(1);
    let mut asked: Option<Token> = None;
    if let Some(text) = token {
        let decoded = decode_token(key, filter, text)?;
        paging.check(&decoded)?;
        position = decoded.position.min(range.end);
        let h = hash2(key ^ 0x0053_484F_5254, position);
        if h.is_multiple_of(SHORT_PAGE_ONE_IN) {
            limit = 1 + ((h >> 32) % limit as u64) as usize;
        }
        asked = Some(decoded);
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
        let job = target.job(position, view.now);
        if filter.matches(&job) {
            jobs.push(job);
        }
    }
    if position <= range.start {
        return Ok(Page {
            jobs,
            next_token: None,
            broken: false,
        });
    }
    let page = asked.map_or(0, |t| t.page);
    let stamp = paging.stamp();
    let (next_token, broken) = match (paging.broken, asked, token) {
        (Some(BrokenPaging::RepeatToken), Some(_), Some(text)) if page == REPEAT_AT => {
            (text.to_owned(), true)
        }
        (Some(BrokenPaging::Cycle), Some(asked), _) if page == CYCLE_TO + 1 => {
            let back = Token {
                position: asked.prev,
                page: CYCLE_TO,
                prev: 0,
                stamp,
            };
            (encode_token(key, filter, &back), true)
        }
        _ => {
            let next_page = page.saturating_add(1);
            let next = Token {
                position,
                page: next_page,
                prev: match asked {
                    Some(asked) if next_page == CYCLE_TO + 1 => asked.position,
                    _ => 0,
                },
                stamp,
            };
            (encode_token(key, filter, &next), false)
        }
    };
    Ok(Page {
        jobs,
        next_token: Some(next_token),
        broken,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(position: u64) -> Token {
        Token {
            position,
            page: 1,
            prev: 0,
            stamp: None,
        }
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let f = Filter::default();
        let t = encode_token(7, &f, &token(12_345));
        assert_eq!(decode_token(7, &f, &t), Ok(token(12_345)));
        assert_eq!(encode_token(7, &f, &token(12_345)), t, "tokens are pure");
        let stamped = Token {
            page: 9,
            prev: 4,
            stamp: Some(Stamp {
                ms: -5,
                call: u64::MAX,
            }),
            ..token(1)
        };
        assert_eq!(
            decode_token(7, &f, &encode_token(7, &f, &stamped)),
            Ok(stamped)
        );
        assert_eq!(decode_token(8, &f, &t), Err(BadToken::Invalid));
        let g = Filter {
            state: Some(CopyJobState::Failed),
            ..Filter::default()
        };
        assert_eq!(decode_token(7, &g, &t), Err(BadToken::Invalid));
        let mut chars: Vec<char> = t.chars().collect();
        chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(decode_token(7, &f, &tampered), Err(BadToken::Invalid));
        assert_eq!(decode_token(7, &f, "not a token"), Err(BadToken::Invalid));
        assert_eq!(decode_token(7, &f, ""), Err(BadToken::Invalid));
    }

    #[test]
    fn stamped_tokens_expire_by_time_or_calls() {
        let at = |ms, call| Some(Stamp { ms, call });
        let paging = Paging {
            clock: at(10_000, 50),
            ttl_ms: Some(1_000),
            ttl_calls: Some(10),
            broken: None,
        };
        let issued = |ms, call| Token {
            stamp: at(ms, call),
            ..token(1)
        };
        assert_eq!(paging.check(&issued(9_000, 40)), Ok(()));
        assert_eq!(paging.check(&issued(8_999, 45)), Err(BadToken::Expired));
        assert_eq!(paging.check(&issued(9_500, 39)), Err(BadToken::Expired));
        // Tokens issued while nothing expired never do.
        assert_eq!(paging.check(&token(1)), Ok(()));
        assert_eq!(paging.stamp(), at(10_000, 50));
        assert_eq!(Paging::default().stamp(), None);
    }

    fn job(id: &str, created: i64, completed: Option<i64>, state: &str) -> CopyJob {
        let mut job = CopyJob::default();
        job.copy_job_id = Some(id.to_owned());
        job.creation_date = Some(Timestamp::from_secs(created).unwrap());
        job.completion_date = completed.map(|c| Timestamp::from_secs(c).unwrap());
        job.state = Some(CopyJobState::from(state));
        job.message_category = Some("SUCCESS".to_owned());
        job
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
        let now = View::at(Timestamp::UNIX_EPOCH);
        let f = Filter::default();
        let mut seen = Vec::new();
        let mut token = None;
        let mut pages = 0;
        loop {
            let page = list_page(target, now, &f, 3, token.as_deref(), &Paging::default()).unwrap();
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
        assert!(list_page(None, now, &f, 3, Some("x"), &Paging::default()).is_err());
    }
}
