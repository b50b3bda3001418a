//! Targets for a whole organization: its accounts from AWS Organizations,
//! and a stable share of the targets for each of several workers.
//!
//! Sharding lets N cron jobs, Kubernetes pods or AWS Batch array tasks split
//! an organization's (account, region) targets without talking to each
//! other: each computes the same assignment from the target names alone. Two
//! workers that do read the same target (a changed N, an extra manual run)
//! are safe, because the ingest loop serializes runs of a target with a
//! PostgreSQL advisory lock and its writes are idempotent.

use std::fmt;
use std::str::FromStr;

use aws_config::Region;
use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};

use crate::client::{Fetcher, Target};
use crate::error::{FetchError, FetchErrorKind};

/// The region Organizations is called in when the configuration names none:
/// the service's endpoint for the `aws` partition is in us-east-1.
const DEFAULT_ORGANIZATIONS_REGION: &str = "us-east-1";

/// Whether an account of ListAccounts is active. `State` replaced `Status`
/// (retired on 9 September 2026); `Status` is read only when `State` is
/// absent, as in older answers.
fn is_active(account: &Account) -> bool {
    match (account.state(), account.status()) {
        (Some(state), _) => *state == AccountState::Active,
        (None, Some(status)) => *status == AccountStatus::Active,
        (None, None) => false,
    }
}

impl Fetcher {
    /// The active accounts of the caller's organization, in the order
    /// Organizations ListAccounts lists them (every page). Suspended, closed
    /// and pending accounts are left out: their roles cannot be assumed.
    ///
    /// The credentials are the base ones (not a role of `role_arn_template`):
    /// those of the management account or of a delegated administrator for
    /// Organizations, with `organizations:ListAccounts`. A refusal is
    /// [`FetchErrorKind::AccessDenied`] naming that action.
    pub async fn organization_accounts(&self) -> Result<Vec<String>, FetchError> {
        const OP: &str = "ListAccounts";
        let mut builder = aws_sdk_organizations::config::Builder::from(self.sdk_config());
        if self.sdk_config().region().is_none() {
            builder = builder.region(Region::new(DEFAULT_ORGANIZATIONS_REGION));
        }
        let client = aws_sdk_organizations::Client::from_conf(builder.build());
        let mut active = Vec::new();
        let mut skipped = 0usize;
        let mut token: Option<String> = None;
        loop {
            let page = client
                .list_accounts()
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    let mut error = FetchError::from_sdk(OP, None, &e);
                    if let FetchErrorKind::AccessDenied { action } = &mut error.kind {
                        *action = "organizations:ListAccounts".to_owned();
                    }
                    error
                })?;
            for account in page.accounts() {
                match account.id() {
                    Some(id) if is_active(account) => active.push(id.to_owned()),
                    _ => skipped += 1,
                }
            }
            match page.next_token().filter(|t| !t.is_empty()) {
                // A token that repeats would loop forever.
                Some(next) if Some(next) != token.as_deref() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        tracing::info!(
            active = active.len(),
            skipped,
            "accounts listed from the organization"
        );
        Ok(active)
    }
}

/// One worker's share of the targets: shard `index` of `count`, both counted
/// from 1 (`--shard 2/3` is the second of three).
///
/// A target belongs to shard `xxh3_64(key) mod count + 1`, where `key` is
/// the target's name, `ACCOUNT/REGION` (or `REGION` for the caller's own
/// account when no account is named), and xxh3_64 is XXH3's 64-bit hash with
/// seed 0 (`xxhsum -H3` prints it). The assignment depends on nothing but the
/// name and `count`: not on the order of the targets, the other targets, the
/// machine or the run, so workers agree without coordination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` of `count`; needs `1 <= index <= count`.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || index == 0 || index > count {
            return Err(format!(
                "shard {index}/{count} does not exist: expected K/N with 1 <= K <= N"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Which shard this is, from 1.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// How many shards there are.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether `target` is this shard's.
    pub fn contains(&self, target: &Target) -> bool {
        shard_of(target, self.count) == self.index
    }

    /// This shard's targets, in the order given.
    pub fn select(&self, targets: &[Target]) -> Vec<Target> {
        targets
            .iter()
            .filter(|t| self.contains(t))
            .cloned()
            .collect()
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`, e.g. `1/3`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid shard {text:?}: expected K/N such as 1/3, with 1 <= K <= N");
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let k = k.trim().parse::<u32>().map_err(|_| bad())?;
        let n = n.trim().parse::<u32>().map_err(|_| bad())?;
        Shard::new(k, n)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard, from 1 to `count`, that `target` belongs to (see [`Shard`]).
/// `count` 0 is taken as 1.
pub fn shard_of(target: &Target, count: u32) -> u32 {
    let key = target.to_string();
    let hash = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
    (hash % u64::from(count.max(1))) as u32 + 1
}

/// The targets of shard `k` of `n` (see [`Shard`]), in the order given;
/// an impossible shard (`k` 0 or above `n`) has none.
pub fn shard(targets: &[Target], k: u32, n: u32) -> Vec<Target> {
    match Shard::new(k, n) {
        Ok(shard) => shard.select(targets),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn organization(accounts: u64, regions: &[&str]) -> Vec<Target> {
        let accounts: Vec<String> = (0..accounts)
            .map(|n| format!("{:012}", 100_000_000_000 + n * 7919))
            .collect();
        let regions: Vec<String> = regions.iter().map(|r| r.to_string()).collect();
        Target::cartesian(&accounts, &regions)
    }

    const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"];

    #[test]
    fn every_target_is_in_exactly_one_shard() {
        let targets = organization(150, &REGIONS);
        for n in 1..=9 {
            let mut seen = Vec::new();
            for k in 1..=n {
                let part = shard(&targets, k, n);
                assert!(part.iter().all(|t| shard_of(t, n) == k));
                seen.extend(part);
            }
            seen.sort();
            let mut all = targets.clone();
            all.sort();
            assert_eq!(seen, all, "{n} shards cover every target once");
        }
    }

    #[test]
    fn shards_do_not_depend_on_order_or_company() {
        let targets = organization(40, &REGIONS);
        let mut reversed = targets.clone();
        reversed.reverse();
        let mut rotated = targets.clone();
        rotated.rotate_left(17);
        for k in 1..=5 {
            let mut a = shard(&targets, k, 5);
            let mut b = shard(&reversed, k, 5);
            let mut c = shard(&rotated, k, 5);
            a.sort();
            b.sort();
            c.sort();
            assert_eq!(a, b);
            assert_eq!(a, c);
            // A target's shard is its own: the others in the list do not matter.
            for t in &a {
                assert_eq!(shard(std::slice::from_ref(t), k, 5), vec![t.clone()]);
            }
        }
    }

    #[test]
    fn assignments_are_the_documented_hash() {
        // Pinned: a change here moves targets between existing workers.
        let t = |account: &str, region: &str| Target {
            account: Some(account.to_owned()),
            region: region.to_owned(),
        };
        // `printf 111111111111/us-east-1 | xxhsum -H3` prints dc0ba60e6b1bcaef.
        let hash = xxhash_rust::xxh3::xxh3_64(b"111111111111/us-east-1");
        assert_eq!(hash, 0xdc0b_a60e_6b1b_caef);
        assert_eq!(
            shard_of(&t("111111111111", "us-east-1"), 7),
            (hash % 7) as u32 + 1
        );
        let pinned: Vec<u32> = [
            ("111111111111", "us-east-1"),
            ("111111111111", "eu-west-1"),
            ("222222222222", "us-east-1"),
            ("222222222222", "eu-west-1"),
            ("333333333333", "ap-southeast-2"),
        ]
        .iter()
        .map(|(a, r)| shard_of(&t(a, r), 3))
        .collect();
        assert_eq!(pinned, PINNED);
        let own = Target {
            account: None,
            region: "eu-west-1".into(),
        };
        assert_eq!(
            shard_of(&own, 4),
            (xxhash_rust::xxh3::xxh3_64(b"eu-west-1") % 4) as u32 + 1
        );
    }

    /// Computed with `xxhsum -H3`, then `mod 3 + 1`.
    const PINNED: [u32; 5] = [3, 1, 1, 3, 1];

    #[test]
    fn shards_are_balanced() {
        let targets = organization(300, &REGIONS);
        for n in [2u32, 3, 4, 8] {
            let expected = targets.len() as f64 / f64::from(n);
            for k in 1..=n {
                let size = shard(&targets, k, n).len() as f64;
                assert!(
                    (size - expected).abs() < expected * 0.2,
                    "shard {k}/{n}: {size} targets, {expected} expected"
                );
            }
        }
    }

    #[test]
    fn shard_specs_parse_and_are_validated() {
        let s: Shard = "2/3".parse().unwrap();
        assert_eq!((s.index(), s.count()), (2, 3));
        assert_eq!(s.to_string(), "2/3");
        assert_eq!(" 1 / 1 ".parse::<Shard>(), Ok(Shard::new(1, 1).unwrap()));
        for bad in ["0/3", "4/3", "1/0", "0/0", "3", "a/b", "1/3/5", "-1/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert!(shard(&organization(3, &REGIONS), 4, 3).is_empty());
    }
}
