//! Reads AWS Backup copy jobs through the official SDK.
//!
//! This crate is the only part of backup-audit that talks to AWS. It uses
//! `aws-config` for credentials (environment, profiles, SSO, instance and task
//! roles), assumes a role per account through STS for cross-account reading,
//! and calls DescribeCopyJob and ListCopyJobs with the SDK's standard retries
//! (throttling and 5xx, exponential backoff with jitter) and timeouts.
//!
//! Responses are decoded from the raw HTTP body with [`backup_model`], so
//! members newer than the SDK are kept. Every result carries its
//! [`Target`] (account and region): a `CopyJob` itself names no region.
//!
//! For an organization, [`Fetcher::organization_accounts`] lists the active
//! accounts through AWS Organizations, and [`Shard`] gives each of several
//! workers a stable share of the (account, region) targets.
//!
//! It does not store anything and does not decide what to fetch; the ingest
//! loop in `backup-ingest` and the CLI do.

mod client;
mod error;
mod organization;
mod page;

pub use client::{
    max_list_pages, FetchConfig, Fetcher, ListFilter, Metrics, MetricsSnapshot, Target,
    TargetClient,
};
pub use error::{FetchError, FetchErrorKind};
pub use organization::{shard, shard_of, Shard};
pub use page::{JobNames, Page};

use backup_model::CopyJob;
use futures::{Stream, StreamExt};

/// Describes `ids` with at most `concurrency` calls in flight, yielding the
/// results in the order of `ids`.
pub fn describe_many<'a>(
    client: &'a TargetClient,
    ids: &'a [String],
    concurrency: usize,
) -> impl Stream<Item = (&'a str, Result<CopyJob, FetchError>)> + 'a {
    futures::stream::iter(ids)
        .map(move |id| async move { (id.as_str(), client.describe(id).await) })
        .buffered(concurrency.max(1))
}
