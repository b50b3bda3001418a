//! Decoding one ListCopyJobs page of 1000 jobs, five ways, in one run.
//!
//! - (a) `model`: `serde_json::from_slice::<ListCopyJobsOutput>`, this crate's
//!   lossless model (unknown members kept, open enums, timestamps checked).
//! - (b) `decoder`: this crate's streaming `Decoder` over the same bytes.
//! - (c) `value`: `serde_json::Value`, the schemaless upper bound on work.
//! - (d) `plain`: a `#[derive(Deserialize)]` struct with the same 27 members
//!   that drops unknown members and keeps timestamps as `f64`: the baseline.
//! - (e) `sdk`: aws-sdk-backup's own deserializer, reached through the SDK
//!   client with a canned HTTP response (aws-smithy-mocks), so it includes one
//!   request's trip through the SDK's orchestrator per page.
//!
//! Time is the benchmark thread's CPU time, not wall time, because the machine
//! is shared with builds and tests (see `thread_cpu_time`). Criterion reports
//! throughput per job (`Throughput::Elements(1000)`). After its report, a
//! table gives the microseconds per job of each way, as medians of rounds that
//! run the five in turn (so what else the machine does weighs on all of them
//! alike), and the ratios the issue sets targets for: (a) within 1.3x of (d),
//! and (e) at least 2x (a).
//!
//! Run with `cargo bench -p backup-model --bench decode`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_backup::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use backup_model::{CopyJob, Decoder, ListCopyJobsOutput};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, SamplingMode, Throughput};
use serde::Deserialize;
use serde_json::{json, Value};

/// Jobs on the page, the most ListCopyJobs returns (`MaxResults` is 1..1000).
const JOBS: usize = 1000;

// ---------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so every run decodes the
/// same bytes without a dependency on `rand`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }

    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(4),
            self.hex(4),
            self.hex(12)
        )
    }
}

/// One job with all 27 members, shaped like what AWS returns: long ARNs,
/// epoch-second timestamps with milliseconds, varied states and sizes.
fn job(rng: &mut Rng, i: usize) -> Value {
    // Most copies go between a few regions; the list repeats them to weight them.
    let regions = [
        "us-east-1",
        "us-east-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-1",
        "eu-central-1",
        "ap-southeast-2",
    ];
    let source_region = rng.pick(&regions);
    let dest_region = rng.pick(&regions);
    let account = format!("{:012}", 100_000_000_000 + rng.below(900_000_000_000));
    let dest_account = format!("{:012}", 100_000_000_000 + rng.below(900_000_000_000));
    let (resource_type, resource_arn, recovery_point) = match rng.below(5) {
        0 => {
            let volume = format!("vol-0{}", rng.hex(16));
            (
                "EBS",
                format!("arn:aws:ec2:{source_region}:{account}:volume/{volume}"),
                format!("arn:aws:ec2:{source_region}::snapshot/snap-0{}", rng.hex(16)),
            )
        }
        1 => (
            "EC2",
            format!("arn:aws:ec2:{source_region}:{account}:instance/i-0{}", rng.hex(16)),
            format!("arn:aws:ec2:{source_region}::image/ami-0{}", rng.hex(16)),
        ),
        2 => (
            "RDS",
            format!("arn:aws:rds:{source_region}:{account}:db:orders-db-{}", rng.hex(6)),
            format!(
                "arn:aws:rds:{source_region}:{account}:snapshot:awsbackup:job-{}",
                rng.uuid()
            ),
        ),
        3 => (
            "DynamoDB",
            format!("arn:aws:dynamodb:{source_region}:{account}:table/sessions-{}", rng.hex(6)),
            format!(
                "arn:aws:dynamodb:{source_region}:{account}:table/sessions/backup/0{}-{}",
                rng.below(1 << 40),
                rng.hex(8)
            ),
        ),
        _ => (
            "S3",
            format!("arn:aws:s3:::company-data-lake-{}-{}", source_region, rng.hex(6)),
            format!(
                "arn:aws:backup:{source_region}:{account}:recovery-point:continuous:company-data-lake-{}",
                rng.hex(8)
            ),
        ),
    };
    let state = rng.pick(&[
        "COMPLETED",
        "COMPLETED",
        "COMPLETED",
        "RUNNING",
        "FAILED",
        "CREATED",
    ]);
    let created_ms = 1_700_000_000_000 + rng.below(40_000_000_000);
    let completed_ms = created_ms + 60_000 + rng.below(7_200_000);
    let secs = |ms: u64| ms as f64 / 1000.0;
    let plan_id = rng.uuid();
    json!({
        "AccountId": account,
        "BackupSizeInBytes": rng.below(1 << 42),
        "ChildJobsInState": {
            "COMPLETED": rng.below(20),
            "FAILED": rng.below(3),
            "RUNNING": rng.below(5),
        },
        "CompletionDate": secs(completed_ms),
        "CompositeMemberIdentifier": format!("Member{}", rng.hex(6)),
        "CopyJobId": rng.uuid().to_uppercase(),
        "CreatedBy": {
            "BackupPlanArn": format!("arn:aws:backup:{source_region}:{account}:backup-plan:{plan_id}"),
            "BackupPlanId": plan_id,
            "BackupPlanName": rng.pick(&["daily-35d-copy-to-dr", "weekly-1y-vault-lock", "hourly-pitr"]),
            "BackupPlanVersion": rng.hex(48),
            "BackupRuleCron": rng.pick(&["cron(0 5 ? * * *)", "cron(0 3 ? * SUN *)", "cron(0 * ? * * *)"]),
            "BackupRuleId": rng.uuid(),
            "BackupRuleName": rng.pick(&["copy-to-frankfurt", "daily", "weekly-air-gapped"]),
            "BackupRuleTimezone": rng.pick(&["Etc/UTC", "Europe/Dublin", "America/New_York"]),
        },
        "CreatedByBackupJobId": rng.uuid().to_uppercase(),
        "CreationDate": secs(created_ms),
        "DestinationBackupVaultArn": format!(
            "arn:aws:backup:{dest_region}:{dest_account}:backup-vault:dr-vault-{dest_region}"
        ),
        "DestinationEncryptionKeyArn": format!(
            "arn:aws:kms:{dest_region}:{dest_account}:key/{}",
            rng.uuid()
        ),
        "DestinationRecoveryPointArn": match resource_type {
            "EBS" => format!("arn:aws:ec2:{dest_region}::snapshot/snap-0{}", rng.hex(16)),
            "EC2" => format!("arn:aws:ec2:{dest_region}::image/ami-0{}", rng.hex(16)),
            _ => format!(
                "arn:aws:backup:{dest_region}:{dest_account}:recovery-point:{}",
                rng.uuid()
            ),
        },
        "DestinationRecoveryPointLifecycle": {
            "DeleteAfterDays": 35 + rng.below(330),
            "DeleteAfterEvent": "DELETE_AFTER_COPY",
            "MoveToColdStorageAfterDays": rng.below(30),
            "OptInToArchiveForSupportedResources": rng.below(2) == 0,
        },
        "DestinationVaultLockState": rng.pick(&["LOCKED", "UNLOCKED", "NOT_APPLICABLE"]),
        "DestinationVaultType": rng.pick(&["BACKUP_VAULT", "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"]),
        "IamRoleArn": format!("arn:aws:iam::{account}:role/service-role/AWSBackupDefaultServiceRole"),
        "IsParent": rng.below(10) == 0,
        "MessageCategory": rng.pick(&["SUCCESS", "ACCESS_DENIED", "INVALID_PARAMETERS", "AGGREGATE_ALL"]),
        "NumberOfChildJobs": rng.below(25),
        "ParentJobId": rng.uuid().to_uppercase(),
        "ResourceArn": resource_arn,
        "ResourceName": format!("{}-{i}", resource_type.to_lowercase()),
        "ResourceType": resource_type,
        "SourceBackupVaultArn": format!("arn:aws:backup:{source_region}:{account}:backup-vault:Default"),
        "SourceRecoveryPointArn": recovery_point,
        "State": state,
        "StatusMessage": match state {
            "FAILED" => format!(
                "Copy job failed. Insufficient privileges to perform kms:CreateGrant on key arn:aws:kms:{dest_region}:{dest_account}:key/{} for role AWSBackupDefaultServiceRole. Check the key policy in the destination account.",
                rng.uuid()
            ),
            "RUNNING" => "Copy job is in progress.".to_owned(),
            _ => "Copy job completed.".to_owned(),
        },
    })
}

/// A ListCopyJobs response body of `JOBS` jobs, compact as AWS sends it.
fn page() -> Vec<u8> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let jobs: Vec<Value> = (0..JOBS).map(|i| job(&mut rng, i)).collect();
    let next_token = format!("AAMA-EFRSHzAgE{}", rng.hex(200));
    serde_json::to_vec(&json!({ "CopyJobs": jobs, "NextToken": next_token })).unwrap()
}

// ---------------------------------------------------------------------------
// (d) The baseline: a plain derive that drops unknown members
// ---------------------------------------------------------------------------

// The fields are read only by the deserializer: decoding them is what is measured.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PlainPage {
    copy_jobs: Option<Vec<PlainCopyJob>>,
    next_token: Option<String>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PlainCopyJob {
    account_id: Option<String>,
    backup_size_in_bytes: Option<i64>,
    child_jobs_in_state: Option<BTreeMap<String, i64>>,
    completion_date: Option<f64>,
    composite_member_identifier: Option<String>,
    copy_job_id: Option<String>,
    created_by: Option<PlainCreator>,
    created_by_backup_job_id: Option<String>,
    creation_date: Option<f64>,
    destination_backup_vault_arn: Option<String>,
    destination_encryption_key_arn: Option<String>,
    destination_recovery_point_arn: Option<String>,
    destination_recovery_point_lifecycle: Option<PlainLifecycle>,
    destination_vault_lock_state: Option<String>,
    destination_vault_type: Option<String>,
    iam_role_arn: Option<String>,
    is_parent: Option<bool>,
    message_category: Option<String>,
    number_of_child_jobs: Option<i64>,
    parent_job_id: Option<String>,
    resource_arn: Option<String>,
    resource_name: Option<String>,
    resource_type: Option<String>,
    source_backup_vault_arn: Option<String>,
    source_recovery_point_arn: Option<String>,
    state: Option<String>,
    status_message: Option<String>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PlainCreator {
    backup_plan_arn: Option<String>,
    backup_plan_id: Option<String>,
    backup_plan_name: Option<String>,
    backup_plan_version: Option<String>,
    backup_rule_cron: Option<String>,
    backup_rule_id: Option<String>,
    backup_rule_name: Option<String>,
    backup_rule_timezone: Option<String>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PlainLifecycle {
    delete_after_days: Option<i64>,
    delete_after_event: Option<String>,
    move_to_cold_storage_after_days: Option<i64>,
    opt_in_to_archive_for_supported_resources: Option<bool>,
}

// ---------------------------------------------------------------------------
// (e) The SDK, answering from a canned HTTP response
// ---------------------------------------------------------------------------

fn sdk_client(page: &[u8]) -> Client {
    // A body built from bytes can be cloned without copying them, so each
    // request gets the page at the cost of a reference count.
    let body = Mutex::new(SdkBody::from(page.to_vec()));
    let rule = mock!(Client::list_copy_jobs).then_http_response(move || {
        let body = body.lock().unwrap().try_clone().unwrap();
        let mut response = HttpResponse::new(StatusCode::try_from(200).unwrap(), body);
        response
            .headers_mut()
            .insert("content-type", "application/json");
        response
    });
    mock_client!(aws_sdk_backup, RuleMode::MatchAny, &[&rule])
}

// ---------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------

/// One way of decoding the page, as a routine that decodes it once.
struct Way<'a> {
    id: &'static str,
    label: &'static str,
    decode: Box<dyn FnMut() + 'a>,
}

fn ways<'a>(
    page: &'a [u8],
    runtime: &'a tokio::runtime::Runtime,
    client: &'a Client,
) -> Vec<Way<'a>> {
    let jobs_f = serde_json::from_slice::<ListCopyJobsOutput>(page)
        .unwrap()
        .copy_jobs
        .unwrap_or_default();
    let jobs_g = jobs_f.clone();
    vec![
        Way {
            id: "a_model",
            label: "(a) ListCopyJobsOutput, lossless model",
            decode: Box::new(move || {
                black_box(serde_json::from_slice::<ListCopyJobsOutput>(black_box(page)).unwrap());
            }),
        },
        Way {
            id: "b_decoder",
            label: "(b) streaming Decoder",
            decode: Box::new(move || {
                black_box(
                    Decoder::new(black_box(page))
                        .map(|r| r.unwrap().job)
                        .collect::<Vec<CopyJob>>(),
                );
            }),
        },
        Way {
            id: "c_value",
            label: "(c) serde_json::Value",
            decode: Box::new(move || {
                black_box(serde_json::from_slice::<Value>(black_box(page)).unwrap());
            }),
        },
        Way {
            id: "d_plain_derive",
            label: "(d) plain derive, drops unknown (baseline)",
            decode: Box::new(move || {
                black_box(serde_json::from_slice::<PlainPage>(black_box(page)).unwrap());
            }),
        },
        Way {
            id: "e_sdk",
            label: "(e) aws-sdk-backup through the client",
            decode: Box::new(move || {
                black_box(runtime.block_on(client.list_copy_jobs().send()).unwrap());
            }),
        },
        // Not decoding: the content form of the page's jobs (what ingest
        // hashes), written from the fields, and through the canonical
        // encoding and the text parser (how it was written before).
        Way {
            id: "f_content_form",
            label: "(f) content form, from the fields",
            decode: Box::new(move || {
                let mut out = Vec::with_capacity(4096);
                for job in &jobs_f {
                    out.clear();
                    job.write_content_form(&mut out);
                    black_box(&out);
                }
            }),
        },
        Way {
            id: "g_content_form_text",
            label: "(g) content form, from the encoded text",
            decode: Box::new(move || {
                let (mut json, mut out) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
                for job in &jobs_g {
                    json.clear();
                    out.clear();
                    job.write_json(&mut json);
                    backup_model::write_content_form(&json, &mut out).unwrap();
                    black_box(&out);
                }
            }),
        },
    ]
}

/// Checks that every way reads the whole page before its speed means anything.
fn check(page: &[u8], runtime: &tokio::runtime::Runtime, client: &Client) {
    let model: ListCopyJobsOutput = serde_json::from_slice(page).unwrap();
    assert_eq!(model.copy_jobs.as_ref().map(Vec::len), Some(JOBS));
    assert!(model
        .copy_jobs
        .iter()
        .flatten()
        .all(|j| j.unknown_members.is_empty() && !j.is_empty()));
    assert_eq!(Decoder::new(page).filter(Result::is_ok).count(), JOBS);
    let plain: PlainPage = serde_json::from_slice(page).unwrap();
    assert_eq!(plain.copy_jobs.map(|j| j.len()), Some(JOBS));
    let sdk = runtime.block_on(client.list_copy_jobs().send()).unwrap();
    assert_eq!(sdk.copy_jobs().len(), JOBS);
    #[cfg(feature = "aws-sdk")]
    {
        // The SDK read the same job (it sends IsParent always, as we generate it).
        let first = CopyJob::from(&sdk.copy_jobs()[0]);
        assert_eq!(first, model.copy_jobs.as_ref().unwrap()[0]);
    }
}

/// The time the calling thread has spent on a CPU.
///
/// The benchmark runs on a machine shared with builds and tests, and wall
/// time counts the time they take the CPU from us. Linux keeps each thread's
/// running time in `/proc/thread-self/schedstat` (nanoseconds, advanced at
/// each scheduler tick, a few milliseconds), so every measurement below spans
/// a hundred milliseconds or more. Elsewhere this falls back to wall time.
fn thread_cpu_time() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_else(|| START.get_or_init(Instant::now).elapsed())
}

/// Criterion's measurement of on-CPU time (see [`thread_cpu_time`]).
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // Values are nanoseconds, as wall time's are, so its units fit.
        static WALL_TIME: WallTime = WallTime;
        WALL_TIME.formatter()
    }
}

fn bench(c: &mut Criterion<CpuTime>, ways: &mut [Way<'_>]) {
    let mut group = c.benchmark_group("list_copy_jobs_page");
    group.throughput(Throughput::Elements(JOBS as u64));
    // Equal samples of about 200 ms each, long against the clock's tick.
    group.sampling_mode(SamplingMode::Flat);
    for way in ways.iter_mut() {
        group.bench_function(way.id, |b| b.iter(&mut way.decode));
    }
    group.finish();
}

/// Medians in microseconds per job from `rounds` rounds that each run every
/// way in turn, for at least 100 ms of CPU time each. Interleaving puts the
/// ways under the same conditions, so the ratios stay fair on a machine that
/// is doing other work too.
fn interleaved(ways: &mut [Way<'_>], rounds: usize) -> Vec<f64> {
    // Enough pages per measurement to span 100 ms.
    let repeats: Vec<u32> = ways
        .iter_mut()
        .map(|way| {
            let start = Instant::now();
            (way.decode)();
            let once = start.elapsed().as_secs_f64().max(1e-6);
            (0.1 / once).ceil().clamp(1.0, 1000.0) as u32
        })
        .collect();
    let mut times = vec![Vec::with_capacity(rounds); ways.len()];
    for round in 0..rounds {
        for k in 0..ways.len() {
            // Rotate who goes first, so no way always follows the same one.
            let i = (k + round) % ways.len();
            let start = thread_cpu_time();
            for _ in 0..repeats[i] {
                (ways[i].decode)();
            }
            let spent = thread_cpu_time().saturating_sub(start);
            times[i].push(spent.as_secs_f64() / f64::from(repeats[i]));
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2] * 1e6 / JOBS as f64
        })
        .collect()
}

fn summary(ways: &mut [Way<'_>], page_len: usize) {
    const ROUNDS: usize = 11;
    let times = interleaved(ways, ROUNDS);
    println!();
    println!(
        "Decoding one ListCopyJobs page: {JOBS} jobs, {page_len} bytes ({:.2} KB per job); \
         CPU time, medians of {ROUNDS} interleaved rounds",
        page_len as f64 / JOBS as f64 / 1000.0
    );
    println!("{:<46} {:>8} {:>8}", "", "us/job", "MB/s");
    for (way, us) in ways.iter().zip(&times) {
        let mb_per_s = page_len as f64 / (us * JOBS as f64);
        println!("{:<46} {us:>8.2} {mb_per_s:>8.0}", way.label);
    }
    let (a, d, e) = (times[0], times[3], times[4]);
    let verdict = |ok: bool| if ok { "meets" } else { "MISSES" };
    println!(
        "(a) / (d) = {:.2}  ({} the target: at most 1.3)",
        a / d,
        verdict(a / d <= 1.3)
    );
    println!(
        "(e) / (a) = {:.2}  ({} the target: at least 2)",
        e / a,
        verdict(e / a >= 2.0)
    );
    let (f, g) = (times[5], times[6]);
    println!(
        "content form: (g) / (f) = {:.2}  (written from the fields, {:.0} % of the time through the text)",
        g / f,
        100.0 * f / g
    );
}

fn main() {
    let page = page();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = sdk_client(&page);
    check(&page, &runtime, &client);
    let mut ways = ways(&page, &runtime, &client);

    let mut criterion = Criterion::default()
        .with_measurement(CpuTime)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20)
        .configure_from_args();
    bench(&mut criterion, &mut ways);
    criterion.final_summary();

    // `cargo test --benches` runs each benchmark once to see that it works
    // (`--test`); the table is for real runs only.
    let args: Vec<String> = std::env::args().collect();
    let quick = ["--test", "--list", "--profile-time"]
        .iter()
        .any(|flag| args.iter().any(|a| a == flag));
    if !quick {
        summary(&mut ways, page.len());
    }
}
