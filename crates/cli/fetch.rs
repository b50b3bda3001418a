//! `backup-audit describe` and `backup-audit list`.

use std::io;

use anyhow::bail;
use backup_fetch::{describe_many, FetchError, ListFilter, Page, Target, TargetClient};
use backup_model::CopyJob;
use clap::Args;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::args::{AwsArgs, FilterArgs, JobOutput};
use crate::output::{Printer, Progress};
use crate::Outcome;

#[derive(Debug, Args)]
#[command(
    after_help = "Prints one canonical CopyJob JSON object per line, in the order the ids \
were given. A missing id is named on stderr with its error code; the others are still printed \
and the exit code is 1."
)]
pub struct DescribeArgs {
    /// Copy job ids.
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,

    /// For a composite (parent) job, also list its child jobs.
    #[arg(long)]
    pub children: bool,

    #[command(flatten)]
    pub output: JobOutput,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Filters are sent to AWS Backup, never applied after listing. Pages are \
followed until AWS stops returning a NextToken. Targets (account x region) run concurrently; \
a failing target is named on stderr, the others go on, and the exit code is 1."
)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,

    #[command(flatten)]
    pub output: JobOutput,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Prints a job of `target`.
fn print(printer: &mut Printer, target: &Target, job: &CopyJob) -> io::Result<()> {
    printer.write(
        target.account.as_deref().unwrap_or("-"),
        &target.region,
        job,
    )
}

/// Ignores a closed stdout (`| head`), reports other output errors.
fn output_result(result: io::Result<()>) -> anyhow::Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub async fn describe(args: &DescribeArgs) -> anyhow::Result<Outcome> {
    let (fetcher, targets) = args.aws.fetcher_and_targets().await?;
    if targets.len() != 1 {
        bail!(
            "describe reads one account in one region; got {} targets (give one --region and at most one --account)",
            targets.len()
        );
    }
    let client = fetcher.client(&targets[0]).await?;
    let mut printer = Printer::new(&args.output);
    let mut failures = 0u64;
    let concurrency = usize::from(args.aws.concurrency);
    let mut results = std::pin::pin!(describe_many(&client, &args.ids, concurrency));
    while let Some((id, result)) = results.next().await {
        match result {
            Ok(job) => {
                if !output_result(print(&mut printer, client.target(), &job))? {
                    return Ok(Outcome::from_failures(failures));
                }
                if args.children && job.is_parent == Some(true) {
                    let filter = ListFilter {
                        parent_job_id: Some(id.to_owned()),
                        ..ListFilter::default()
                    };
                    let mut pages = std::pin::pin!(client.list_decoded(filter));
                    while let Some(page) = pages.next().await {
                        match page.and_then(Page::into_jobs) {
                            Ok(children) => {
                                for child in &children {
                                    if !output_result(print(&mut printer, client.target(), child))?
                                    {
                                        return Ok(Outcome::from_failures(failures));
                                    }
                                }
                            }
                            Err(e) => {
                                failures += 1;
                                report(id, &e);
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => {
                failures += 1;
                report(id, &e);
            }
        }
    }
    output_result(printer.flush())?;
    Ok(Outcome::from_failures(failures))
}

fn report(id: &str, e: &FetchError) {
    match &e.code {
        Some(_) => eprintln!("{id}: {e}"),
        None => eprintln!("{id}: {e} [{}]", e.code_or_kind()),
    }
}

/// What a target task sends to the printer.
enum Event {
    Jobs(Target, Vec<CopyJob>),
    Failed(Target, FetchError),
}

async fn list_target(
    client: &TargetClient,
    filter: ListFilter,
    tx: &mpsc::Sender<Event>,
    progress: &Progress,
) {
    let bar = progress.spinner(client.target().to_string());
    let mut jobs = 0usize;
    let mut pages = std::pin::pin!(client.list_decoded(filter));
    while let Some(page) = pages.next().await {
        match page.and_then(Page::into_jobs) {
            Ok(page_jobs) => {
                jobs += page_jobs.len();
                bar.set_message(format!("{} pages, {jobs} jobs", client.metrics().pages));
                if tx
                    .send(Event::Jobs(client.target().clone(), page_jobs))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                bar.finish_and_clear();
                let _ = tx.send(Event::Failed(client.target().clone(), e)).await;
                return;
            }
        }
    }
    bar.finish_and_clear();
    let metrics = client.metrics();
    tracing::info!(
        target = %client.target(),
        jobs,
        pages = metrics.pages,
        api_calls = metrics.api_calls,
        retries = metrics.retries,
        "listed"
    );
}

pub async fn list(args: &ListArgs, progress: &Progress) -> anyhow::Result<Outcome> {
    let (fetcher, targets) = args.aws.fetcher_and_targets().await?;
    let filter = args.filter.to_filter();
    let concurrency = usize::from(args.aws.concurrency);
    // Two pages per running target at most: memory stays bounded however many
    // jobs there are.
    let (tx, mut rx) = mpsc::channel::<Event>(concurrency * 2);
    let producer = {
        let fetcher = fetcher.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            futures::stream::iter(targets)
                .for_each_concurrent(concurrency, |target| {
                    let (fetcher, filter, tx, progress) = (
                        fetcher.clone(),
                        filter.clone(),
                        tx.clone(),
                        progress.clone(),
                    );
                    async move {
                        match fetcher.client(&target).await {
                            Ok(client) => list_target(&client, filter, &tx, &progress).await,
                            Err(e) => {
                                let _ = tx.send(Event::Failed(target, e)).await;
                            }
                        }
                    }
                })
                .await;
        })
    };
    let mut printer = Printer::new(&args.output);
    let mut failed = Vec::new();
    while let Some(event) = rx.recv().await {
        match event {
            Event::Jobs(target, jobs) => {
                for job in &jobs {
                    if !output_result(print(&mut printer, &target, job))? {
                        producer.abort();
                        return Ok(Outcome::from_failures(failed.len() as u64));
                    }
                }
            }
            Event::Failed(target, e) => {
                eprintln!("target {target} failed: {e}");
                failed.push(target);
            }
        }
    }
    producer.await?;
    output_result(printer.flush())?;
    if !failed.is_empty() {
        let names: Vec<String> = failed.iter().map(Target::to_string).collect();
        eprintln!("{} target(s) failed: {}", failed.len(), names.join(", "));
    }
    Ok(Outcome::from_failures(failed.len() as u64))
}
