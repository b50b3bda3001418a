//! `backup-audit import`: copy jobs from files into the database, under the
//! same history rules as `ingest`.
//!
//! Accepted, detected from each file's content:
//!
//! - anything `decode` reads: `aws backup list-copy-jobs` and
//!   `describe-copy-job` output, API bodies, bare jobs, arrays, JSON Lines,
//!   epoch or ISO timestamps;
//! - AWS Backup Audit Manager COPY_JOB_REPORT files as delivered to S3: JSON
//!   (`{"reportItems": [...]}`, the shape the AWS Backup developer guide
//!   shows) and CSV (a header row naming the same fields), read by
//!   `backup_model::audit`.
//!
//! Files are streamed: a blocking thread decodes them and sends batches
//! through a bounded channel to the task that writes them, so memory holds a
//! couple of batches, not a file.
//!
//! Each job is recorded as observed at its own latest timestamp
//! (CompletionDate, else CreationDate, else the start of the import), so an
//! imported old version never replaces a newer current row: it lands in the
//! job's history where it belongs. Importing the same file again changes
//! nothing.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::{bail, Context};
use backup_ingest::{BatchOutcome, JobKey, NewRun, Observation, RunMode, RunOutcome, RunStatus};
use backup_model::{audit, CopyJob, Decoder, Timestamp};
use clap::Args;
use tokio::sync::mpsc;

use crate::args::DbArgs;
use crate::output::Progress;
use crate::Outcome;

#[derive(Debug, Args)]
#[command(
    after_help = "Accepted in each FILE (detected from its content): everything `decode` \
reads (`aws backup list-copy-jobs` and `describe-copy-job` output, API bodies, bare jobs, \
arrays, JSON Lines; epoch or ISO timestamps), and AWS Backup Audit Manager COPY_JOB_REPORT \
files as delivered to S3, in JSON ({\"reportItems\": [...]}) or CSV (a header row with a \
copyJobId column), which backfill history older than the API keeps.\n\n\
The key of a job is (AccountId, region, CopyJobId). The region is --region, else the report's \
region field, else the region of the job's SourceBackupVaultArn; the account is the job's \
AccountId, else --account, else the account of its SourceBackupVaultArn.\n\n\
Each job is recorded as observed at its own CompletionDate (else CreationDate, else now): an \
old version never replaces a newer one, it goes into the job's history. Importing a file twice \
changes nothing.\n\n\
A bad record is reported on stderr as FILE:LINE[:COLUMN]: MEMBER.PATH: message and skipped; \
the good ones are still imported.\n\n\
Exit codes: 0 every record imported, 1 some records or files failed (named on stderr), 2 could \
not run (database unreachable or not migrated)."
)]
pub struct ImportArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// The region of the jobs (instead of the report's region field or the
    /// region of each job's SourceBackupVaultArn).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// The account of jobs that carry no AccountId (instead of the account of
    /// their SourceBackupVaultArn).
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,

    /// Jobs written per transaction.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    pub batch_size: u32,

    /// Files to import; `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// What the reader needs to turn a record into an observation.
#[derive(Debug, Clone)]
struct ImportContext {
    region: Option<String>,
    account: Option<String>,
    now: Timestamp,
}

/// A batch on its way to the database, with where each job came from.
#[derive(Debug)]
struct Batch {
    observations: Vec<Observation>,
    origins: Vec<String>,
}

/// What the reader counted.
#[derive(Debug, Default)]
struct ReadStats {
    files: u64,
    jobs: u64,
    bad: u64,
}

pub async fn run(args: &ImportArgs, progress: &Progress) -> anyhow::Result<Outcome> {
    if let Some(account) = &args.account {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--account {account:?} is not a 12-digit AWS account id");
        }
    }
    if args.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        bail!("standard input (`-`) can be read only once");
    }
    let store = crate::ingest::connect(&args.db).await?;
    let pending = store
        .pending_migrations()
        .await
        .context("cannot read the schema version")?;
    if !pending.is_empty() {
        bail!(
            "the database schema is not up to date ({} migration(s) pending: {}); run `backup-audit migrate` first",
            pending.len(),
            pending.join(", ")
        );
    }

    let started_at = Timestamp::now();
    let run_id = store
        .start_run(&NewRun {
            run_group: store.new_run_group().await?,
            account_id: args.account.clone().unwrap_or_else(|| "*".to_owned()),
            region: args.region.clone().unwrap_or_else(|| "*".to_owned()),
            mode: RunMode::Import,
            since: None,
            started_at,
        })
        .await
        .context("cannot record the import run")?;

    let context = ImportContext {
        region: args.region.clone(),
        account: args.account.clone(),
        now: started_at,
    };
    let files = args.files.clone();
    let batch_size = args.batch_size as usize;
    // Two batches in flight: one being written, one being decoded.
    let (tx, mut rx) = mpsc::channel::<Batch>(2);
    let reader = tokio::task::spawn_blocking(move || read_files(&files, &context, batch_size, &tx));

    let spinner = progress.spinner("import".to_owned());
    let mut total = BatchOutcome::default();
    let mut outcome = RunOutcome::new(RunStatus::Succeeded, started_at);
    let mut write_error = None;
    while let Some(batch) = rx.recv().await {
        match store.write_batch(run_id, &batch.observations).await {
            Ok(written) => {
                for (id, why) in &written.rejected {
                    eprintln!("{}: CopyJobId {id}: {why}", origin_of(&batch, id));
                }
                outcome.record(&written);
                total += written;
                spinner.set_message(format!(
                    "{} jobs: {} new, {} changed, {} unchanged, {} stale",
                    total.total(),
                    total.new,
                    total.changed,
                    total.unchanged,
                    total.stale
                ));
            }
            Err(e) => {
                write_error = Some(e);
                break;
            }
        }
    }
    // On a write error the reader stops at its next send.
    drop(rx);
    spinner.finish_and_clear();
    let stats = reader.await.context("the file reader stopped")?;

    outcome.jobs_seen += stats.bad;
    outcome.jobs_rejected += stats.bad;
    outcome.finished_at = Timestamp::now();
    if let Some(e) = write_error {
        outcome.status = RunStatus::Failed;
        outcome.error = Some(format!("{e:#}"));
        let _ = store.finish_run(run_id, &outcome).await;
        return Err(anyhow::Error::new(e).context("import stopped: writing to the database failed"));
    }
    store
        .finish_run(run_id, &outcome)
        .await
        .context("cannot record the end of the import run")?;

    let rejected = total.rejected.len() as u64;
    eprintln!(
        "import: {} file(s), {} job(s) read: {} new, {} changed, {} unchanged, {} stale, {} duplicate(s) in a batch; {} bad record(s), {} rejected",
        stats.files,
        stats.jobs,
        total.new,
        total.changed,
        total.unchanged,
        total.stale,
        total.duplicates,
        stats.bad,
        rejected
    );
    Ok(Outcome::from_failures(stats.bad + rejected))
}

/// Where the rejected job `id` of a batch came from (`#3`: the fourth).
fn origin_of(batch: &Batch, id: &str) -> String {
    let index = match id.strip_prefix('#').and_then(|i| i.parse::<usize>().ok()) {
        Some(i) => Some(i),
        None => batch
            .observations
            .iter()
            .position(|o| o.job.copy_job_id.as_deref() == Some(id)),
    };
    index
        .and_then(|i| batch.origins.get(i).cloned())
        .unwrap_or_else(|| "(unknown record)".to_owned())
}

/// Collects observations into batches; a job seen twice starts a new batch,
/// so that both versions reach the history (a batch keeps one per job).
struct Batcher<'a> {
    tx: &'a mpsc::Sender<Batch>,
    size: usize,
    current: Batch,
    keys: HashSet<JobKey>,
    stats: ReadStats,
    closed: bool,
}

impl Batcher<'_> {
    fn push(&mut self, observation: Observation, origin: String) {
        let key = JobKey::of(
            &observation.account_id,
            &observation.region,
            &observation.job,
        );
        let repeated = key.as_ref().is_some_and(|k| self.keys.contains(k));
        if repeated || self.current.observations.len() >= self.size {
            self.flush();
        }
        if let Some(key) = key {
            self.keys.insert(key);
        }
        self.current.observations.push(observation);
        self.current.origins.push(origin);
        self.stats.jobs += 1;
    }

    fn bad(&mut self, report: String) {
        eprintln!("{report}");
        self.stats.bad += 1;
    }

    fn flush(&mut self) {
        if self.current.observations.is_empty() {
            return;
        }
        let batch = std::mem::replace(
            &mut self.current,
            Batch {
                observations: Vec::with_capacity(self.size),
                origins: Vec::with_capacity(self.size),
            },
        );
        self.keys.clear();
        if self.tx.blocking_send(batch).is_err() {
            self.closed = true;
        }
    }
}

/// Reads every file, in order; runs on a blocking thread.
fn read_files(
    files: &[PathBuf],
    context: &ImportContext,
    size: usize,
    tx: &mpsc::Sender<Batch>,
) -> ReadStats {
    let mut batcher = Batcher {
        tx,
        size,
        current: Batch {
            observations: Vec::with_capacity(size),
            origins: Vec::with_capacity(size),
        },
        keys: HashSet::new(),
        stats: ReadStats::default(),
        closed: false,
    };
    for path in files {
        if batcher.closed {
            break;
        }
        let name = path.display().to_string();
        let reader: Box<dyn Read> = if name == "-" {
            Box::new(io::stdin())
        } else {
            match File::open(path) {
                Ok(file) => Box::new(file),
                Err(e) => {
                    batcher.bad(format!("{name}: cannot open: {e}"));
                    continue;
                }
            }
        };
        let name = if name == "-" {
            "<stdin>".to_owned()
        } else {
            name
        };
        batcher.stats.files += 1;
        let mut reader = BufReader::with_capacity(1 << 16, reader);
        match sniff(&mut reader) {
            Ok(Shape::Api) => read_api(&name, reader, context, &mut batcher),
            Ok(Shape::AuditJson) => read_audit_json(&name, reader, context, &mut batcher),
            Ok(Shape::AuditCsv) => read_audit_csv(&name, reader, context, &mut batcher),
            Ok(Shape::Empty) => {}
            Ok(Shape::Unknown) => batcher.bad(format!(
                "{name}:1: not a copy job file: expected JSON (AWS CLI or API output, an Audit \
                 Manager report) or an Audit Manager CSV report with a copyJobId column"
            )),
            Err(e) => batcher.bad(format!("{name}: cannot read: {e}")),
        }
    }
    batcher.flush();
    batcher.stats
}

/// What a file holds, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Api,
    AuditJson,
    AuditCsv,
    Empty,
    Unknown,
}

fn sniff(reader: &mut impl BufRead) -> io::Result<Shape> {
    let head = reader.fill_buf()?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Ok(Shape::Empty);
    };
    let text = &head[start..];
    match text[0] {
        b'{' => {
            let rest = &text[1..];
            let rest = &rest[rest
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(rest.len())..];
            Ok(if rest.starts_with(b"\"reportItems\"") {
                Shape::AuditJson
            } else {
                Shape::Api
            })
        }
        b'[' => Ok(Shape::Api),
        _ => {
            let first_line = text.split(|b| *b == b'\n').next().unwrap_or(text);
            let header = String::from_utf8_lossy(first_line);
            Ok(if audit::is_csv_header(&header) {
                Shape::AuditCsv
            } else {
                Shape::Unknown
            })
        }
    }
}

/// The observation of `job`, or why it cannot be stored: (member, message).
fn observe(
    context: &ImportContext,
    job: CopyJob,
    record_region: Option<String>,
) -> Result<Observation, (String, String)> {
    if job.copy_job_id.as_deref().is_none_or(str::is_empty) {
        return Err((
            "CopyJobId".to_owned(),
            "missing: a job without an id cannot be stored".to_owned(),
        ));
    }
    let vault = job.source_backup_vault_arn.as_deref();
    let region = context
        .region
        .clone()
        .or(record_region)
        .or_else(|| arn_part(vault, 3))
        .ok_or_else(|| {
            (
                "SourceBackupVaultArn".to_owned(),
                "no region: the job has no source vault ARN to take it from; pass --region"
                    .to_owned(),
            )
        })?;
    let account = job
        .account_id
        .clone()
        .or_else(|| context.account.clone())
        .or_else(|| arn_part(vault, 4))
        .ok_or_else(|| {
            (
                "AccountId".to_owned(),
                "no account: the job has no AccountId and no source vault ARN; pass --account"
                    .to_owned(),
            )
        })?;
    let observed_at = job
        .completion_date
        .or(job.creation_date)
        .unwrap_or(context.now);
    Ok(Observation {
        account_id: account,
        region,
        observed_at,
        job,
    })
}

/// Field `index` (0-based) of an ARN, `arn:aws:backup:REGION:ACCOUNT:...`.
fn arn_part(arn: Option<&str>, index: usize) -> Option<String> {
    let arn = arn?;
    if !arn.starts_with("arn:") {
        return None;
    }
    arn.split(':')
        .nth(index)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
}

/// `FILE:LINE:COLUMN: PATH: message`, the path left out when empty.
fn located(name: &str, line: u64, column: Option<u64>, path: &str, message: &str) -> String {
    let mut out = format!("{name}:{line}");
    if let Some(column) = column {
        out.push_str(&format!(":{column}"));
    }
    if !path.is_empty() {
        out.push_str(&format!(": {path}"));
    }
    out.push_str(&format!(": {message}"));
    out
}

/// API and AWS CLI shapes, through the model's decoder.
fn read_api(name: &str, reader: impl BufRead, context: &ImportContext, batcher: &mut Batcher<'_>) {
    for record in Decoder::new(reader) {
        if batcher.closed {
            return;
        }
        match record {
            Ok(record) => {
                let at = record.position;
                match observe(context, record.job, None) {
                    Ok(observation) => {
                        batcher.push(observation, format!("{name}:{}:{}", at.line, at.column))
                    }
                    Err((path, message)) => {
                        batcher.bad(located(name, at.line, Some(at.column), &path, &message))
                    }
                }
            }
            Err(e) => {
                let at = e.position();
                batcher.bad(located(
                    name,
                    at.line,
                    Some(at.column),
                    e.path(),
                    e.message(),
                ));
            }
        }
    }
}

/// Where each report item came from, for the messages.
fn audit_located(name: &str, e: &audit::AuditError) -> String {
    located(name, e.line(), e.column(), e.path(), e.message())
}

/// Hands one report item (or its error) to the batcher; false to stop.
fn audit_item(
    name: &str,
    item: Result<audit::AuditRecord, audit::AuditError>,
    context: &ImportContext,
    batcher: &mut Batcher<'_>,
) -> ControlFlow<()> {
    match item {
        Ok(record) => {
            let line = record.line;
            match observe(context, record.job, record.region) {
                Ok(observation) => batcher.push(observation, format!("{name}:{line}")),
                Err((path, message)) => batcher.bad(located(name, line, None, &path, &message)),
            }
        }
        Err(e) => batcher.bad(audit_located(name, &e)),
    }
    if batcher.closed {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

/// An Audit Manager JSON report, streamed item by item by the model's reader.
fn read_audit_json(
    name: &str,
    reader: impl BufRead,
    context: &ImportContext,
    batcher: &mut Batcher<'_>,
) {
    let result = audit::read_json(reader, |item| audit_item(name, item, context, batcher));
    if let Err(e) = result {
        // Broken JSON ends the file: the items before it are imported.
        batcher.bad(audit_located(name, &e));
    }
}

/// An Audit Manager CSV report, row by row, by the model's reader.
fn read_audit_csv(
    name: &str,
    reader: impl BufRead,
    context: &ImportContext,
    batcher: &mut Batcher<'_>,
) {
    let result = audit::read_csv(reader, |item| audit_item(name, item, context, batcher));
    if let Err(e) = result {
        batcher.bad(audit_located(name, &e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backup_model::CopyJobState;

    fn context() -> ImportContext {
        ImportContext {
            region: None,
            account: None,
            now: Timestamp::parse_rfc3339("2026-05-01T00:00:00Z").unwrap(),
        }
    }

    /// Runs the reader over `text` and returns the batches and the stats.
    fn read(text: &str, context: &ImportContext) -> (Vec<Observation>, Vec<String>, ReadStats) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input");
        std::fs::write(&path, text).unwrap();
        let (tx, mut rx) = mpsc::channel(64);
        let stats = read_files(&[path], context, 2, &tx);
        drop(tx);
        let mut observations = Vec::new();
        let mut origins = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            observations.extend(batch.observations);
            origins.extend(batch.origins);
        }
        (observations, origins, stats)
    }

    const REPORT_ITEM: &str = r#"{
      "reportTimePeriodStart": "2021-07-14T15:48:31Z",
      "reportTimePeriodEnd": "2021-07-15T15:48:31Z",
      "accountId": "112233445566",
      "region": "us-west-2",
      "copyJobId": "E0AD48A9-0560-B668-3EF0-941FDC0AD6B1",
      "jobStatus": "COMPLETED",
      "resourceType": "EC2",
      "resourceArn": "arn:aws:ec2:us-west-2:112233445566:instance/i-0bc877aee7782ba75",
      "backupPlanName": "daily",
      "backupRuleSchedule": "cron(0 5 ? * * *)",
      "isParentJob": false,
      "parentJobId": null,
      "creationDate": "2021-07-15T15:42:04.771Z",
      "completionDate": "2021-07-16T00:16:07.282Z",
      "backupSizeInBytes": 8589934592,
      "sourceBackupVaultArn": "arn:aws:backup:us-west-2:112233445566:backup-vault:Default",
      "destinationBackupVaultArn": "arn:aws:backup:us-east-2:112233445566:backup-vault:Default",
      "vaultType": "BACKUP_VAULT",
      "deleteAfterDays": 30
    }"#;

    #[test]
    fn audit_manager_json_reports_map_to_copy_jobs() {
        let text = format!("{{\"reportItems\": [\n{REPORT_ITEM}\n]}}");
        let (obs, origins, stats) = read(&text, &context());
        assert_eq!((stats.jobs, stats.bad), (1, 0));
        let o = &obs[0];
        assert_eq!(o.region, "us-west-2");
        assert_eq!(o.account_id, "112233445566");
        assert_eq!(o.observed_at.to_string(), "2021-07-16T00:16:07.282Z");
        let job = &o.job;
        assert_eq!(job.state, Some(CopyJobState::Completed));
        assert_eq!(job.backup_size_in_bytes, Some(8_589_934_592));
        assert_eq!(job.is_parent, Some(false));
        assert_eq!(job.parent_job_id, None);
        let by = job.created_by.as_ref().unwrap();
        assert_eq!(by.backup_plan_name.as_deref(), Some("daily"));
        assert_eq!(by.backup_rule_cron.as_deref(), Some("cron(0 5 ? * * *)"));
        assert_eq!(
            job.unknown_members.value(audit::EXTRA_MEMBER),
            Some(serde_json::json!({"vaultType": "BACKUP_VAULT", "deleteAfterDays": 30}))
        );
        assert!(origins[0].ends_with(":2"), "{origins:?}");
    }

    #[test]
    fn audit_manager_csv_reports_map_to_copy_jobs() {
        let text = "\u{feff}Report Time Period Start,Account ID,Region,Copy Job ID,Job Status,Resource ARN,Creation Date,Completion Date,Backup Size In Bytes,Is Parent Job,Vault Type\n\
            2021-07-14T15:48:31Z,112233445566,us-west-2,c-1,FAILED,arn:aws:ec2:us-west-2:112233445566:instance/i-1,2021-07-15T15:42:04.771Z,1626394567.282,12,FALSE,BACKUP_VAULT\n\
            2021-07-14T15:48:31Z,112233445566,us-west-2,c-2,COMPLETED,arn:aws:ec2:us-west-2:112233445566:instance/i-2,2021-07-15T15:42:04.771Z,,lots,false,\n\
            2021-07-14T15:48:31Z,112233445566,us-west-2,c-3,RUNNING,arn:aws:ec2:us-west-2:112233445566:instance/i-3,2021-07-15T15:42:04.771Z,,,,\n";
        let (obs, origins, stats) = read(text, &context());
        assert_eq!((stats.jobs, stats.bad), (2, 1));
        assert_eq!(obs[0].job.copy_job_id.as_deref(), Some("c-1"));
        assert_eq!(
            obs[0].job.completion_date.unwrap().to_string(),
            "2021-07-16T00:16:07.282Z"
        );
        assert_eq!(obs[0].job.is_parent, Some(false));
        assert_eq!(
            obs[0].job.unknown_members.value(audit::EXTRA_MEMBER),
            Some(serde_json::json!({"Vault Type": "BACKUP_VAULT"}))
        );
        assert_eq!(obs[1].job.copy_job_id.as_deref(), Some("c-3"));
        assert_eq!(obs[1].observed_at.to_string(), "2021-07-15T15:42:04.771Z");
        assert!(origins[1].ends_with(":4"), "{origins:?}");
    }

    #[test]
    fn regions_and_accounts_come_from_flags_or_the_source_vault() {
        let text = r#"{"CopyJobs":[
            {"CopyJobId":"a","SourceBackupVaultArn":"arn:aws:backup:eu-west-1:111122223333:backup-vault:v"},
            {"CopyJobId":"b"},
            {"CopyJobId":"c","AccountId":"444455556666","SourceBackupVaultArn":"arn:aws:backup:eu-west-1:111122223333:backup-vault:v","CreationDate":1}
        ]}"#;
        let (obs, _, stats) = read(text, &context());
        assert_eq!((stats.jobs, stats.bad), (2, 1));
        assert_eq!(
            (obs[0].account_id.as_str(), obs[0].region.as_str()),
            ("111122223333", "eu-west-1")
        );
        // No date: observed at the start of the import.
        assert_eq!(obs[0].observed_at, context().now);
        assert_eq!(obs[1].account_id, "444455556666");
        assert_eq!(obs[1].observed_at.to_string(), "1970-01-01T00:00:01.000Z");

        let flags = ImportContext {
            region: Some("ap-south-1".into()),
            account: Some("999999999999".into()),
            ..context()
        };
        let (obs, _, stats) = read(text, &flags);
        assert_eq!((stats.jobs, stats.bad), (3, 0));
        assert!(obs.iter().all(|o| o.region == "ap-south-1"));
        assert_eq!(obs[1].account_id, "999999999999");
        assert_eq!(obs[2].account_id, "444455556666");
    }

    #[test]
    fn a_job_seen_twice_goes_into_separate_batches() {
        let context = ImportContext {
            region: Some("eu-west-1".into()),
            account: Some("111122223333".into()),
            ..context()
        };
        let text = "{\"CopyJobId\":\"a\",\"State\":\"RUNNING\"}\n{\"CopyJobId\":\"a\",\"State\":\"COMPLETED\"}\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twice.jsonl");
        std::fs::write(&path, text).unwrap();
        let (tx, mut rx) = mpsc::channel(64);
        read_files(&[path], &context, 100, &tx);
        drop(tx);
        let mut sizes = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            sizes.push(batch.observations.len());
        }
        assert_eq!(sizes, [1, 1]);
    }

    #[test]
    fn files_are_told_apart_by_their_content() {
        let shape = |text: &str| sniff(&mut BufReader::new(text.as_bytes())).unwrap();
        assert_eq!(shape("  {\"reportItems\": []}"), Shape::AuditJson);
        assert_eq!(
            shape("\u{feff}{\n  \"reportItems\" : []}"),
            Shape::AuditJson
        );
        assert_eq!(shape("{\"CopyJobs\": []}"), Shape::Api);
        assert_eq!(shape("[]"), Shape::Api);
        assert_eq!(shape("accountId,copyJobId\n1,2\n"), Shape::AuditCsv);
        assert_eq!(shape("hello\n"), Shape::Unknown);
        assert_eq!(shape(" \n "), Shape::Empty);
    }
}
