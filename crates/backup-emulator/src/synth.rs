//! Synthetic copy jobs, computed on demand from (seed, account, region, index).
//!
//! Nothing per job is stored: a target (one account in one region) keeps only
//! its small "world" (backup plans, vaults, the resources it protects), and job
//! `i` is rebuilt from hashes whenever it is needed. That is what lets a million
//! jobs be served from a few megabytes, and what makes a job look the same on
//! every request.
//!
//! Index order is creation order: slot `i` is created at
//! `base + i * step + jitter` with the jitter below half a step, and the children
//! of a composite job sit in the slots right after their parent, created a
//! moment after it. Creation time therefore never decreases with the index, so
//! "visible at `now`" is a prefix of the index space found by binary search, and
//! listing newest first is a walk down the indices.
//!
//! Slots are laid out in blocks of [`BLOCK`]: a block is cut into groups, each
//! either one job or a composite parent followed by its children, from a hash
//! of the block alone, so any slot's role is known without looking elsewhere.

use backup_model::{
    ChildJobsInState, CopyJob, CopyJobState, Lifecycle, LifecycleDeleteAfterEvent,
    RecoveryPointCreator, Timestamp,
};

use crate::rng::{
    as_v4, base64_std, format_uuid, hash2, hash_str, mix64, parse_uuid, Rng, UUID_VARIANT_MASK,
};
use crate::server::nth_is_hit;

/// Slots per layout block; composite groups never cross a block boundary.
pub(crate) const BLOCK: u64 = 32;
/// The chance that a group starts a composite job.
const COMPOSITE_CHANCE: f64 = 0.03;
/// The chance that a leaf copy job fails.
const FAILURE_CHANCE: f64 = 0.08;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const MIB: i64 = 1 << 20;
const GIB: i64 = 1 << 30;
const TIB: i64 = 1 << 40;

// Salts that keep the hash streams of different uses apart.
const SALT_LAYOUT: u64 = 0x4C41_594F_5554;
const SALT_JITTER: u64 = 0x4A49_5454_4552;
const SALT_LIFE: u64 = 0x4C49_4645;
const SALT_ID: u64 = 0x4944;
const SALT_ID_MASK: u64 = 0x4944_4D41_534B;
const SALT_STRINGS: u64 = 0x5354_5249_4E47;

/// How the synthetic jobs are spread in time; shared by every target.
///
/// Slot `i` is created in `(base + i·step, base + (i+1)·step]`, so with
/// `base = start - start_jobs·step` exactly `start_jobs` slots exist at the
/// start clock (no composite group straddles that boundary).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeline {
    /// Slot 0 is created just after this instant.
    pub base_ms: i64,
    /// Milliseconds between consecutive slots (at least 1).
    pub step_ms: i64,
    /// How many slots exist at the start clock.
    pub start_jobs: u64,
}

/// The kinds of resource AWS Backup copies, with their `ResourceType` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ec2,
    Ebs,
    Rds,
    Aurora,
    DynamoDb,
    Efs,
    S3,
    Fsx,
    DocumentDb,
    Neptune,
}

impl Kind {
    const ALL: [Kind; 10] = [
        Kind::Ec2,
        Kind::Ebs,
        Kind::Rds,
        Kind::Aurora,
        Kind::DynamoDb,
        Kind::Efs,
        Kind::S3,
        Kind::Fsx,
        Kind::DocumentDb,
        Kind::Neptune,
    ];
    /// How common each kind is among protected resources (same order as `ALL`).
    const WEIGHTS: [u32; 10] = [18, 20, 14, 6, 15, 9, 10, 4, 2, 2];

    fn resource_type(self) -> &'static str {
        match self {
            Kind::Ec2 => "EC2",
            Kind::Ebs => "EBS",
            Kind::Rds => "RDS",
            Kind::Aurora => "Aurora",
            Kind::DynamoDb => "DynamoDB",
            Kind::Efs => "EFS",
            Kind::S3 => "S3",
            Kind::Fsx => "FSx",
            Kind::DocumentDb => "DocumentDB",
            Kind::Neptune => "Neptune",
        }
    }

    /// The range of recovery point sizes, in bytes.
    fn size_range(self) -> (i64, i64) {
        match self {
            Kind::Ec2 => (8 * GIB, 2 * TIB),
            Kind::Ebs => (GIB, 4 * TIB),
            Kind::Rds => (5 * GIB, TIB),
            Kind::Aurora => (10 * GIB, 5 * TIB),
            Kind::DynamoDb => (MIB, 200 * GIB),
            Kind::Efs => (100 * MIB, 10 * TIB),
            Kind::S3 => (10 * MIB, 20 * TIB),
            Kind::Fsx => (32 * GIB, 10 * TIB),
            Kind::DocumentDb | Kind::Neptune => (GIB, 500 * GIB),
        }
    }

    fn role_word(self) -> &'static str {
        match self {
            Kind::Ec2 => "web",
            Kind::Ebs => "data",
            Kind::Rds => "db",
            Kind::Aurora => "aurora",
            Kind::DynamoDb => "events",
            Kind::Efs => "shared",
            Kind::S3 => "assets",
            Kind::Fsx => "files",
            Kind::DocumentDb => "docdb",
            Kind::Neptune => "graph",
        }
    }
}

const APPS: &[&str] = &[
    "orders",
    "billing",
    "catalog",
    "payments",
    "inventory",
    "auth",
    "search",
    "reporting",
    "analytics",
    "crm",
    "ledger",
    "media",
];
const ENVS: &[&str] = &["prod", "prod", "prod", "staging"];

/// A protected resource: one source of copy jobs, copied about once a day.
#[derive(Debug, Clone)]
struct Resource {
    kind: Kind,
    arn: String,
    name: String,
    /// The typical size of its recovery points.
    size: i64,
    /// Which backup plan protects it.
    plan: usize,
    /// Which source vault its recovery points are in.
    vault: usize,
}

/// A CloudFormation stack backed up as one composite job.
#[derive(Debug, Clone)]
struct Stack {
    arn: String,
    name: String,
    plan: usize,
    /// Its member resources, with their logical ids.
    members: Vec<(String, Resource)>,
}

/// Where a rule copies to.
#[derive(Debug, Clone)]
struct Destination {
    region: String,
    account: String,
    vault_arn: String,
    vault_type: &'static str,
    lock_state: &'static str,
    key_arn: String,
    /// The minimum retention of a locked vault, used in failure messages.
    min_retention_days: i64,
}

#[derive(Debug, Clone)]
struct Rule {
    creator: RecoveryPointCreator,
    destination: Destination,
    lifecycle: Lifecycle,
    weight: u32,
}

#[derive(Debug, Clone)]
struct Plan {
    rules: Vec<Rule>,
    weights: Vec<u32>,
    role_arn: String,
}

/// The role of one slot in its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Single,
    Parent {
        children: u64,
    },
    Child {
        parent: u64,
        ordinal: u64,
        children: u64,
    },
}

/// When a leaf job moves through its states, and how it ends.
#[derive(Debug, Clone, Copy)]
struct Life {
    creation: i64,
    running: i64,
    done: i64,
    /// `None` for success, else an index into [`FAILURES`].
    failure: Option<usize>,
    size: i64,
}

impl Life {
    fn state(&self, now: i64) -> CopyJobState {
        if now < self.running {
            CopyJobState::Created
        } else if now < self.done {
            CopyJobState::Running
        } else if self.failure.is_some() {
            CopyJobState::Failed
        } else {
            CopyJobState::Completed
        }
    }
}

/// Failure categories and how often each occurs among failures.
const FAILURES: &[(u32, &str)] = &[
    (28, "AccessDenied"),
    (10, "AccessDenied"),
    (15, "InvalidParameters"),
    (15, "InvalidParameters"),
    (17, "InvalidState"),
    (15, "LimitExceeded"),
];

/// Endings a client built from the service model does not expect, dealt
/// evenly among single jobs (see [`crate::Endings`]).
#[derive(Debug, Clone)]
pub(crate) struct OddEndings {
    pub failed_open_rate: f64,
    pub unknown_rate: f64,
    pub unknown: CopyJobState,
}

impl Default for OddEndings {
    fn default() -> Self {
        OddEndings {
            failed_open_rate: 0.0,
            unknown_rate: 0.0,
            unknown: CopyJobState::from("CANCELLED"),
        }
    }
}

/// How a finished single job ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// As its life says: `COMPLETED` or `FAILED`, with a `CompletionDate`.
    Normal,
    /// `FAILED` without a `CompletionDate`.
    FailedOpen,
    /// In the unknown state, without a `CompletionDate`.
    Unknown,
}

/// One account in one region, and everything needed to compute its jobs.
#[derive(Debug)]
pub(crate) struct SynthTarget {
    account: String,
    region: String,
    key: u64,
    timeline: Timeline,
    endings: OddEndings,
    source_vaults: Vec<String>,
    plans: Vec<Plan>,
    resources: Vec<Resource>,
    stacks: Vec<Stack>,
}

/// The region AWS users most often pair with `region` for disaster recovery.
fn partner_region(region: &str) -> &'static str {
    match region {
        "us-east-1" => "us-west-2",
        "us-east-2" => "us-west-2",
        "us-west-1" => "us-east-1",
        "us-west-2" => "us-east-1",
        "eu-west-1" => "eu-central-1",
        "eu-west-2" => "eu-west-1",
        "eu-west-3" => "eu-central-1",
        "eu-central-1" => "eu-west-1",
        "eu-north-1" => "eu-central-1",
        "ap-southeast-1" => "ap-southeast-2",
        "ap-southeast-2" => "ap-southeast-1",
        "ap-northeast-1" => "ap-northeast-3",
        "ap-south-1" => "ap-southeast-1",
        "ca-central-1" => "us-east-1",
        "sa-east-1" => "us-east-1",
        _ => "us-east-1",
    }
}

impl SynthTarget {
    /// Builds the world of one target. `accounts` are all configured accounts
    /// (the last different one serves as the central backup account);
    /// `jobs_per_day` sizes the resource pool so a resource is copied daily.
    pub(crate) fn new(
        seed: u64,
        account: &str,
        region: &str,
        accounts: &[String],
        timeline: Timeline,
        resource_count: usize,
    ) -> Self {
        let key = hash_str(hash_str(seed, account), region);
        let mut rng = Rng::new(hash2(key, SALT_STRINGS));
        let central_account = accounts
            .iter()
            .rev()
            .find(|a| a.as_str() != account)
            .cloned()
            .unwrap_or_else(|| {
                format!(
                    "{:012}",
                    mix64(seed ^ 0xCE47) % 900_000_000_000 + 1e11 as u64
                )
            });
        let dr_region = partner_region(region);
        let dr_region = if dr_region == region {
            "us-west-2"
        } else {
            dr_region
        };

        let source_vaults = vec![
            format!("arn:aws:backup:{region}:{account}:backup-vault:Default"),
            format!("arn:aws:backup:{region}:{account}:backup-vault:prod-backup-vault"),
        ];

        let mut destination = |dregion: &str,
                               daccount: &str,
                               name: &str,
                               vault_type: &'static str,
                               lock_state: &'static str,
                               min_retention_days: i64| Destination {
            region: dregion.to_owned(),
            account: daccount.to_owned(),
            vault_arn: format!("arn:aws:backup:{dregion}:{daccount}:backup-vault:{name}"),
            vault_type,
            lock_state,
            key_arn: format!("arn:aws:kms:{dregion}:{daccount}:key/{}", rng.uuid(false)),
            min_retention_days,
        };
        let dr = destination(
            dr_region,
            account,
            &format!("dr-vault-{dr_region}"),
            "BACKUP_VAULT",
            "UNLOCKED",
            0,
        );
        let central = destination(
            region,
            &central_account,
            "central-backup-vault",
            "BACKUP_VAULT",
            "LOCKED",
            30,
        );
        let air_gapped = destination(
            region,
            &central_account,
            "air-gapped-vault",
            "LOGICALLY_AIR_GAPPED_BACKUP_VAULT",
            "LOCKED",
            90,
        );
        let air_gapped_dr = destination(
            dr_region,
            account,
            "air-gapped-dr-vault",
            "LOGICALLY_AIR_GAPPED_BACKUP_VAULT",
            "LOCKED",
            35,
        );

        let lifecycle = |cold: Option<i64>, delete: i64, event: bool, archive: bool| {
            let mut l = Lifecycle::default();
            l.delete_after_days = Some(delete);
            l.delete_after_event = event.then_some(LifecycleDeleteAfterEvent::DeleteAfterCopy);
            l.move_to_cold_storage_after_days = cold;
            l.opt_in_to_archive_for_supported_resources = Some(archive);
            l
        };
        // (plan name, role, [(rule name, cron, time zone, destination, lifecycle, weight)])
        type RuleSpec = (
            &'static str,
            &'static str,
            &'static str,
            Destination,
            Lifecycle,
            u32,
        );
        let specs: Vec<(&str, &str, Vec<RuleSpec>)> = vec![
            (
                "daily-dr-copy",
                "service-role/AWSBackupDefaultServiceRole",
                vec![
                    (
                        "daily-cross-region",
                        "cron(0 5 ? * * *)",
                        "Etc/UTC",
                        dr.clone(),
                        lifecycle(None, 35, false, false),
                        85,
                    ),
                    (
                        "weekly-cross-region",
                        "cron(0 5 ? * SUN *)",
                        "Etc/UTC",
                        dr,
                        lifecycle(Some(30), 180, false, true),
                        15,
                    ),
                ],
            ),
            (
                "central-vault-copy",
                "BackupCopyRole",
                vec![
                    (
                        "daily-to-central",
                        "cron(0 3 ? * * *)",
                        "Europe/Paris",
                        central,
                        lifecycle(None, 90, false, false),
                        90,
                    ),
                    (
                        "monthly-air-gapped",
                        "cron(0 4 1 * ? *)",
                        "Europe/Paris",
                        air_gapped,
                        lifecycle(Some(90), 2555, true, true),
                        10,
                    ),
                ],
            ),
            (
                "compliance-air-gap",
                "service-role/AWSBackupDefaultServiceRole",
                vec![
                    (
                        "daily-air-gapped",
                        "cron(30 1 ? * * *)",
                        "America/New_York",
                        air_gapped_dr.clone(),
                        lifecycle(None, 35, true, false),
                        70,
                    ),
                    (
                        "weekly-air-gapped",
                        "cron(30 1 ? * SAT *)",
                        "America/New_York",
                        air_gapped_dr,
                        lifecycle(Some(7), 120, true, true),
                        30,
                    ),
                ],
            ),
        ];
        let plans: Vec<Plan> = specs
            .into_iter()
            .map(|(plan_name, role, rules)| {
                let plan_id = rng.uuid(false);
                let version = base64_std(rng.uuid(false).as_bytes());
                let rules: Vec<Rule> = rules
                    .into_iter()
                    .map(|(rule_name, cron, tz, destination, lifecycle, weight)| {
                        let mut creator = RecoveryPointCreator::default();
                        creator.backup_plan_arn = Some(format!(
                            "arn:aws:backup:{region}:{account}:backup-plan:{plan_id}"
                        ));
                        creator.backup_plan_id = Some(plan_id.clone());
                        creator.backup_plan_name = Some(plan_name.to_owned());
                        creator.backup_plan_version = Some(version.clone());
                        creator.backup_rule_cron = Some(cron.to_owned());
                        creator.backup_rule_id = Some(rng.uuid(false));
                        creator.backup_rule_name = Some(rule_name.to_owned());
                        creator.backup_rule_timezone = Some(tz.to_owned());
                        Rule {
                            creator,
                            destination,
                            lifecycle,
                            weight,
                        }
                    })
                    .collect();
                Plan {
                    weights: rules.iter().map(|r| r.weight).collect(),
                    rules,
                    role_arn: format!("arn:aws:iam::{account}:role/{role}"),
                }
            })
            .collect();

        let make_resource = |rng: &mut Rng, n: usize, kind: Kind, name: String| {
            let (lo, hi) = kind.size_range();
            // Log-uniform: most resources are small, a few are huge.
            let size = ((lo as f64).ln() + rng.unit() * ((hi as f64).ln() - (lo as f64).ln())).exp()
                as i64;
            let arn = match kind {
                Kind::Ec2 => format!("arn:aws:ec2:{region}:{account}:instance/i-0{}", rng.hex(16)),
                Kind::Ebs => format!("arn:aws:ec2:{region}:{account}:volume/vol-0{}", rng.hex(16)),
                Kind::Rds => format!("arn:aws:rds:{region}:{account}:db:{name}"),
                Kind::Aurora | Kind::DocumentDb | Kind::Neptune => {
                    format!("arn:aws:rds:{region}:{account}:cluster:{name}")
                }
                Kind::DynamoDb => format!("arn:aws:dynamodb:{region}:{account}:table/{name}"),
                Kind::Efs => format!(
                    "arn:aws:elasticfilesystem:{region}:{account}:file-system/fs-0{}",
                    rng.hex(16)
                ),
                Kind::S3 => format!("arn:aws:s3:::{name}"),
                Kind::Fsx => format!(
                    "arn:aws:fsx:{region}:{account}:file-system/fs-0{}",
                    rng.hex(16)
                ),
            };
            Resource {
                kind,
                arn,
                name,
                size: size.max(1),
                plan: n % 3,
                vault: usize::from(!n.is_multiple_of(4)),
            }
        };

        let resources = (0..resource_count.max(1))
            .map(|n| {
                let kind = Kind::ALL[rng.weighted(&Kind::WEIGHTS)];
                let app = rng.pick(APPS);
                let env = rng.pick(ENVS);
                let name = if kind == Kind::S3 {
                    format!("{app}-{env}-{}-{n:03}-{account}-{region}", kind.role_word())
                } else {
                    format!("{app}-{env}-{}-{n:03}", kind.role_word())
                };
                make_resource(&mut rng, n, kind, name)
            })
            .collect();

        let members: &[(&str, Kind)] = &[
            ("OrdersTable", Kind::DynamoDb),
            ("AppDatabase", Kind::Rds),
            ("AssetsBucket", Kind::S3),
            ("SharedFileSystem", Kind::Efs),
            ("WebServer", Kind::Ec2),
        ];
        let stacks = (0..3)
            .map(|s| {
                let app = APPS[s * 5 % APPS.len()];
                let name = format!("{app}-prod-stack");
                let arn = format!(
                    "arn:aws:cloudformation:{region}:{account}:stack/{name}/{}",
                    rng.uuid(false)
                );
                let members = members
                    .iter()
                    .enumerate()
                    .map(|(m, &(logical, kind))| {
                        let rname = if kind == Kind::S3 {
                            format!("{app}-stack-assets-{account}-{region}")
                        } else {
                            format!("{app}-stack-{}-{m}", kind.role_word())
                        };
                        (logical.to_owned(), make_resource(&mut rng, s, kind, rname))
                    })
                    .collect();
                Stack {
                    arn,
                    name,
                    plan: s % 3,
                    members,
                }
            })
            .collect();

        SynthTarget {
            account: account.to_owned(),
            region: region.to_owned(),
            key,
            timeline,
            endings: OddEndings::default(),
            source_vaults,
            plans,
            resources,
            stacks,
        }
    }

    /// Deals these odd endings among the target's single jobs.
    pub(crate) fn with_endings(mut self, endings: OddEndings) -> Self {
        self.endings = endings;
        self
    }

    /// The ending of single slot `i`, dealt evenly by index like the faults:
    /// slot `i` is one of the odd share when `floor((i+1)·rate)` steps, and
    /// the `m`-th such slot is split between the two kinds the same way.
    fn ending(&self, i: u64) -> Ending {
        let e = &self.endings;
        let rate = (e.failed_open_rate + e.unknown_rate).min(1.0);
        if rate <= 0.0 || !nth_is_hit(i, rate) {
            return Ending::Normal;
        }
        let m = (((i + 1) as f64 * rate).floor() as u64).saturating_sub(1);
        if nth_is_hit(
            m,
            e.failed_open_rate / (e.failed_open_rate + e.unknown_rate),
        ) {
            Ending::FailedOpen
        } else {
            Ending::Unknown
        }
    }

    /// A hash identifying this target (for tokens).
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// The role of slot `i` in its block.
    pub(crate) fn slot(&self, i: u64) -> Slot {
        let block = i / BLOCK;
        let offset = i % BLOCK;
        // Groups end at the block's end, and at the start boundary if it falls
        // inside this block.
        let split = self.timeline.start_jobs.wrapping_sub(block * BLOCK);
        let mut rng = Rng::new(hash2(self.key ^ SALT_LAYOUT, block));
        let mut pos = 0;
        while pos < BLOCK {
            let end = if pos < split && split < BLOCK {
                split
            } else {
                BLOCK
            };
            let room = end - pos - 1;
            let len = if room >= 2 && rng.chance(COMPOSITE_CHANCE) {
                1 + (2 + rng.below(4)).min(room)
            } else {
                1
            };
            if offset < pos + len {
                return if len == 1 {
                    Slot::Single
                } else if offset == pos {
                    Slot::Parent { children: len - 1 }
                } else {
                    Slot::Child {
                        parent: block * BLOCK + pos,
                        ordinal: offset - pos - 1,
                        children: len - 1,
                    }
                };
            }
            pos += len;
        }
        Slot::Single
    }

    /// Creation of a single or parent slot: within the first half of its step
    /// (children fill the rest), never on the step's opening instant.
    fn nominal_creation(&self, i: u64) -> i64 {
        let step = self.timeline.step_ms;
        let half = (step / 2) as u64;
        let jitter = if half == 0 {
            0
        } else {
            (hash2(self.key ^ SALT_JITTER, i) % half) as i64
        };
        self.timeline
            .base_ms
            .saturating_add((i as i64).saturating_mul(step))
            .saturating_add(1 + jitter)
    }

    /// The gap between a composite parent's creation and each child's: small,
    /// and small enough that the last child is created before the next slot.
    fn child_gap(&self, children: u64) -> i64 {
        (self.timeline.step_ms / (2 * (children as i64 + 1))).min(1_500)
    }

    /// When slot `i` is created, in epoch milliseconds.
    pub(crate) fn creation_ms(&self, i: u64) -> i64 {
        match self.slot(i) {
            Slot::Single | Slot::Parent { .. } => self.nominal_creation(i),
            Slot::Child {
                parent,
                ordinal,
                children,
            } => self.nominal_creation(parent) + (ordinal as i64 + 1) * self.child_gap(children),
        }
    }

    /// How many slots are created at or before `t_ms` (creation is
    /// non-decreasing in the index, so they are exactly `0..n`).
    pub(crate) fn count_created_at_or_before(&self, t_ms: i64) -> u64 {
        let tl = self.timeline;
        if t_ms < tl.base_ms {
            return 0;
        }
        // Children may be created up to a group's length of slots before their
        // nominal time, never after: past this bound every slot is later.
        let mut hi = ((t_ms - tl.base_ms) / tl.step_ms) as u64 + BLOCK + 1;
        let mut lo = 0u64;
        // Invariant: slots below `lo` are created at or before `t`, `hi` and
        // above after it.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.creation_ms(mid) <= t_ms {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The copy job id of slot `i`, shaped like AWS's uppercase version-4
    /// UUIDs: the high half is a checksum of the slot, the low half the slot
    /// masked by it, so the slot can be read back without any index.
    pub(crate) fn job_id(&self, i: u64) -> String {
        let (hi, lo) = self.id_words(i);
        format_uuid(hi, lo, true)
    }

    fn id_words(&self, i: u64) -> (u64, u64) {
        let (hi, _) = as_v4(hash2(self.key ^ SALT_ID, i), 0);
        as_v4(hi, i ^ hash2(self.key ^ SALT_ID_MASK, hi))
    }

    /// The slot whose id is `id`, if `id` is one of this target's.
    pub(crate) fn slot_of_id(&self, id: &str) -> Option<u64> {
        let (hi, lo) = parse_uuid(id)?;
        // The variant bits hide the slot's top two bits, which are always zero.
        let i = (lo ^ hash2(self.key ^ SALT_ID_MASK, hi)) & !UUID_VARIANT_MASK;
        (self.id_words(i) == (hi, lo)).then_some(i)
    }

    fn rule(&self, plan: usize, group_start: u64) -> (&Plan, &Rule) {
        let plan = &self.plans[plan % self.plans.len()];
        let mut rng = Rng::new(hash2(self.key ^ 0x5255_4C45, group_start));
        let rule = &plan.rules[rng.weighted(&plan.weights)];
        (plan, rule)
    }

    fn stack(&self, parent: u64) -> &Stack {
        &self.stacks[((parent / BLOCK) % self.stacks.len() as u64) as usize]
    }

    fn leaf_life(&self, i: u64, creation: i64, resource: &Resource) -> Life {
        let mut rng = Rng::new(hash2(self.key ^ SALT_LIFE, i));
        let running = creation + rng.range(MINUTE, 10 * MINUTE);
        // Sizes drift a little from copy to copy, as data does.
        let size = ((resource.size as f64) * (0.97 + 0.06 * rng.unit())) as i64;
        // Roughly 200 MB/s, never under 5 minutes nor over 3 hours.
        let transfer = (size as f64 / 200_000_000.0 * 1000.0 * (0.7 + 0.8 * rng.unit())) as i64;
        let duration = (5 * MINUTE + transfer).clamp(5 * MINUTE, 3 * HOUR);
        let failure = rng
            .chance(FAILURE_CHANCE)
            .then(|| rng.weighted(&FAILURES.iter().map(|f| f.0).collect::<Vec<_>>()));
        let done = if failure.is_some() {
            running + ((duration as f64 * (0.05 + 0.95 * rng.unit())) as i64).max(5 * MINUTE)
        } else {
            running + duration
        };
        Life {
            creation,
            running,
            done,
            failure,
            size: size.max(1),
        }
    }

    /// The resource and life of a leaf slot (single or child).
    fn leaf(&self, i: u64, slot: Slot) -> (&Resource, Life) {
        let (resource, creation) = match slot {
            Slot::Child {
                parent, ordinal, ..
            } => (
                &self.stack(parent).members[ordinal as usize].1,
                self.creation_ms(i),
            ),
            _ => (
                &self.resources[(i % self.resources.len() as u64) as usize],
                self.nominal_creation(i),
            ),
        };
        (resource, self.leaf_life(i, creation, resource))
    }

    /// The copy job of slot `i` as it is at `now_ms`. The caller makes sure the
    /// slot is visible (created at or before `now_ms`).
    pub(crate) fn job(&self, i: u64, now_ms: i64) -> CopyJob {
        let slot = self.slot(i);
        match slot {
            Slot::Single | Slot::Child { .. } => self.leaf_job(i, slot, now_ms),
            Slot::Parent { children } => self.parent_job(i, children, now_ms),
        }
    }

    fn common(&self, i: u64, plan: &Plan, rule: &Rule, vault: usize) -> CopyJob {
        let mut job = CopyJob::default();
        job.account_id = Some(self.account.clone());
        job.copy_job_id = Some(self.job_id(i));
        job.created_by = Some(rule.creator.clone());
        job.destination_backup_vault_arn = Some(rule.destination.vault_arn.clone());
        job.destination_encryption_key_arn = Some(rule.destination.key_arn.clone());
        job.destination_recovery_point_lifecycle = Some(rule.lifecycle.clone());
        job.destination_vault_lock_state = Some(rule.destination.lock_state.to_owned());
        job.destination_vault_type = Some(rule.destination.vault_type.to_owned());
        job.iam_role_arn = Some(plan.role_arn.clone());
        job.source_backup_vault_arn = Some(self.source_vaults[vault].clone());
        job
    }

    fn leaf_job(&self, i: u64, slot: Slot, now_ms: i64) -> CopyJob {
        let (resource, life) = self.leaf(i, slot);
        let (group_start, plan_index, parent) = match slot {
            Slot::Child {
                parent, ordinal, ..
            } => {
                let stack = self.stack(parent);
                (
                    parent,
                    stack.plan,
                    Some((parent, &stack.members[ordinal as usize].0)),
                )
            }
            _ => (i, resource.plan, None),
        };
        let (plan, rule) = self.rule(plan_index, group_start);
        let mut rng = Rng::new(hash2(self.key ^ SALT_STRINGS, i));
        let dest = &rule.destination;
        let (source_rp, dest_rp) =
            recovery_points(&mut rng, resource.kind, &self.region, &self.account, dest);
        let mut state = life.state(now_ms);
        let ending = if slot == Slot::Single && !state.is_open() {
            self.ending(i)
        } else {
            Ending::Normal
        };

        let mut job = self.common(i, plan, rule, resource.vault);
        job.backup_size_in_bytes = Some(life.size);
        job.created_by_backup_job_id = Some(rng.uuid(true));
        job.creation_date = Some(ts(life.creation));
        job.is_parent = Some(false);
        job.resource_arn = Some(resource.arn.clone());
        job.resource_name = Some(resource.name.clone());
        job.resource_type = Some(resource.kind.resource_type().to_owned());
        job.source_recovery_point_arn = Some(source_rp.clone());
        if let Some((parent, logical_id)) = parent {
            job.parent_job_id = Some(self.job_id(parent));
            job.composite_member_identifier = Some(logical_id.clone());
        }
        let cx = FailureContext {
            account: &self.account,
            role_arn: &plan.role_arn,
            dest,
            lifecycle: &rule.lifecycle,
            source_rp: &source_rp,
        };
        match ending {
            Ending::Normal => {
                if matches!(state, CopyJobState::Running | CopyJobState::Completed) {
                    job.destination_recovery_point_arn = Some(dest_rp);
                }
                if !state.is_open() {
                    job.completion_date = Some(ts(life.done));
                    match life.failure.map(|f| failure_for(f, dest)) {
                        None => job.message_category = Some("SUCCESS".to_owned()),
                        Some(f) => {
                            job.message_category = Some(FAILURES[f].1.to_owned());
                            job.status_message = Some(failure_message(f, &cx));
                        }
                    }
                }
            }
            Ending::FailedOpen => {
                // A failure AWS recorded without a completion time: a recovery
                // point deleted under the copy unless the job failed anyway.
                let f = failure_for(life.failure.unwrap_or(4), dest);
                state = CopyJobState::Failed;
                job.message_category = Some(FAILURES[f].1.to_owned());
                job.status_message = Some(failure_message(f, &cx));
            }
            Ending::Unknown => state = self.endings.unknown.clone(),
        }
        job.state = Some(state);
        job
    }

    fn parent_job(&self, i: u64, children: u64, now_ms: i64) -> CopyJob {
        let stack = self.stack(i);
        let (plan, rule) = self.rule(stack.plan, i);
        let mut rng = Rng::new(hash2(self.key ^ SALT_STRINGS, i));
        let dest = &rule.destination;

        let mut counts = ChildJobsInState::new();
        let (mut size, mut done, mut failed, mut first_failure) = (0i64, 0i64, 0i64, None);
        let mut all_created = true;
        let mut open = false;
        for c in 0..children {
            let child = i + 1 + c;
            let (_, life) = self.leaf(child, self.slot(child));
            // A child not yet visible was accepted with its parent: it counts as CREATED.
            let state = life.state(now_ms);
            all_created &= state == CopyJobState::Created;
            open |= state.is_open();
            if state == CopyJobState::Failed {
                failed += 1;
                first_failure = first_failure.or(life.failure.map(|f| failure_for(f, dest)));
            }
            size += life.size;
            done = done.max(life.done);
            *counts.entry(state).or_insert(0) += 1;
        }
        let state = if all_created {
            CopyJobState::Created
        } else if open {
            CopyJobState::Running
        } else if failed == 0 {
            CopyJobState::Completed
        } else if failed == children as i64 {
            CopyJobState::Failed
        } else {
            CopyJobState::Partial
        };

        let mut job = self.common(i, plan, rule, 1);
        job.backup_size_in_bytes = Some(size);
        job.child_jobs_in_state = Some(counts);
        job.created_by_backup_job_id = Some(rng.uuid(true));
        job.creation_date = Some(ts(self.nominal_creation(i)));
        job.is_parent = Some(true);
        job.number_of_child_jobs = Some(children as i64);
        job.resource_arn = Some(stack.arn.clone());
        job.resource_name = Some(stack.name.clone());
        job.resource_type = Some("CloudFormation".to_owned());
        job.source_recovery_point_arn = Some(format!(
            "arn:aws:backup:{}:{}:recovery-point:{}",
            self.region,
            self.account,
            rng.uuid(true)
        ));
        let dest_rp = format!(
            "arn:aws:backup:{}:{}:recovery-point:{}",
            dest.region,
            dest.account,
            rng.uuid(true)
        );
        if matches!(
            state,
            CopyJobState::Running | CopyJobState::Completed | CopyJobState::Partial
        ) {
            job.destination_recovery_point_arn = Some(dest_rp);
        }
        if !state.is_open() {
            job.completion_date = Some(ts(done));
            if failed == 0 {
                job.message_category = Some("SUCCESS".to_owned());
            } else {
                job.message_category = first_failure.map(|f| FAILURES[f].1.to_owned());
                job.status_message = Some(format!(
                    "{failed} of {children} child copy jobs failed. See the child jobs for details."
                ));
            }
        }
        job.state = Some(state);
        job
    }
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::UNIX_EPOCH.add_millis(ms)
}

/// The source and destination recovery point ARNs of one copy, in the form
/// each resource type really uses.
fn recovery_points(
    rng: &mut Rng,
    kind: Kind,
    region: &str,
    account: &str,
    dest: &Destination,
) -> (String, String) {
    let (dr, da) = (&dest.region, &dest.account);
    match kind {
        Kind::Ec2 => (
            format!("arn:aws:ec2:{region}::image/ami-0{}", rng.hex(16)),
            format!("arn:aws:ec2:{dr}::image/ami-0{}", rng.hex(16)),
        ),
        Kind::Ebs => (
            format!("arn:aws:ec2:{region}::snapshot/snap-0{}", rng.hex(16)),
            format!("arn:aws:ec2:{dr}::snapshot/snap-0{}", rng.hex(16)),
        ),
        Kind::Rds => (
            format!(
                "arn:aws:rds:{region}:{account}:snapshot:awsbackup:job-{}",
                rng.uuid(false)
            ),
            format!(
                "arn:aws:rds:{dr}:{da}:snapshot:awsbackup:copyjob-{}",
                rng.uuid(false)
            ),
        ),
        Kind::Aurora | Kind::DocumentDb | Kind::Neptune => (
            format!(
                "arn:aws:rds:{region}:{account}:cluster-snapshot:awsbackup:job-{}",
                rng.uuid(false)
            ),
            format!(
                "arn:aws:rds:{dr}:{da}:cluster-snapshot:awsbackup:copyjob-{}",
                rng.uuid(false)
            ),
        ),
        Kind::Fsx => (
            format!(
                "arn:aws:fsx:{region}:{account}:backup/backup-0{}",
                rng.hex(16)
            ),
            format!("arn:aws:fsx:{dr}:{da}:backup/backup-0{}", rng.hex(16)),
        ),
        Kind::DynamoDb | Kind::Efs | Kind::S3 => (
            format!(
                "arn:aws:backup:{region}:{account}:recovery-point:{}",
                rng.uuid(true)
            ),
            format!("arn:aws:backup:{dr}:{da}:recovery-point:{}", rng.uuid(true)),
        ),
    }
}

/// The failure a job really has at `dest`: a vault lock cannot be the cause
/// at an unlocked vault, where the KMS key is blamed instead.
fn failure_for(failure: usize, dest: &Destination) -> usize {
    if failure == 3 && dest.lock_state != "LOCKED" {
        0
    } else {
        failure
    }
}

struct FailureContext<'a> {
    account: &'a str,
    role_arn: &'a str,
    dest: &'a Destination,
    lifecycle: &'a Lifecycle,
    source_rp: &'a str,
}

/// The status message of a failed copy, in the words AWS Backup uses.
fn failure_message(failure: usize, cx: &FailureContext<'_>) -> String {
    let dest = cx.dest;
    match failure {
        0 => format!(
            "Access denied: AWS Backup cannot use the KMS key {} in the destination account. \
             Make sure the key policy allows {} to call kms:CreateGrant, kms:Decrypt and \
             kms:GenerateDataKey.",
            dest.key_arn, cx.role_arn
        ),
        1 => format!(
            "Insufficient privileges to perform this action. The access policy of backup vault {} \
             does not allow backup:CopyIntoBackupVault from account {}.",
            dest.vault_arn, cx.account
        ),
        2 => format!(
            "Backup vault {} does not exist or you do not have permission to access it.",
            dest.vault_arn
        ),
        3 => {
            let days = cx.lifecycle.delete_after_days.unwrap_or(7);
            format!(
                "Cannot copy to backup vault {}: the vault is locked with a minimum retention \
                 period of {} days, but the recovery point lifecycle deletes it after {days} days.",
                dest.vault_arn,
                dest.min_retention_days.max(days + 1)
            )
        }
        4 => format!(
            "Recovery point {} is being deleted and cannot be copied.",
            cx.source_rp
        ),
        _ => format!(
            "The maximum number of concurrent copy jobs to {} has been exceeded. \
             The copy will not be retried; start it again later.",
            dest.region
        ),
    }
}

/// A sensible size for the resource pool: about as many resources as jobs per
/// day, so each resource is copied roughly daily.
pub(crate) fn resource_count(jobs_per_target: u64, history_ms: i64) -> usize {
    let days = (history_ms / DAY).max(1) as u64;
    let per_day = jobs_per_target / days;
    per_day.clamp(3.min(jobs_per_target.max(1)), 20_000) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(jobs: u64) -> SynthTarget {
        let history = 30 * DAY;
        let step = history / jobs as i64;
        let timeline = Timeline {
            base_ms: 1_767_225_600_000 - jobs as i64 * step,
            step_ms: step,
            start_jobs: jobs,
        };
        SynthTarget::new(
            1,
            "123456789012",
            "us-east-1",
            &["123456789012".to_owned()],
            timeline,
            resource_count(jobs, history),
        )
    }

    #[test]
    fn creation_never_decreases_and_counts_are_exact() {
        let t = target(1000);
        let mut last = i64::MIN;
        for i in 0..3000 {
            let c = t.creation_ms(i);
            assert!(c >= last, "slot {i}");
            last = c;
        }
        for i in [0u64, 1, 17, 500, 999, 1000, 2500] {
            let c = t.creation_ms(i);
            let n = t.count_created_at_or_before(c);
            assert!(n > i, "slot {i}");
            assert!(t.creation_ms(n) > c);
        }
        assert_eq!(t.count_created_at_or_before(t.timeline.base_ms), 0);
        assert_eq!(t.count_created_at_or_before(1_767_225_600_000), 1000);
        let odd = target(997);
        assert_eq!(odd.count_created_at_or_before(1_767_225_600_000), 997);
    }

    #[test]
    fn ids_decode_to_their_slot_and_only_for_their_target() {
        let t = target(1000);
        let other = target(1001);
        for i in [0u64, 1, 999, 123_456_789] {
            let id = t.job_id(i);
            assert_eq!(id.len(), 36);
            assert_eq!(id, id.to_uppercase());
            assert_eq!(&id[14..15], "4");
            assert!("89AB".contains(&id[19..20]), "{id}");
            assert_eq!(t.slot_of_id(&id), Some(i));
            assert_eq!(t.slot_of_id(&id.to_lowercase()), Some(i));
        }
        // Same key (same seed, account, region) decodes the same: ids depend on the target only.
        assert_eq!(other.slot_of_id(&t.job_id(5)), Some(5));
        assert_eq!(t.slot_of_id("00000000-0000-0000-0000-000000000000"), None);
    }

    #[test]
    fn jobs_are_deterministic_and_complete() {
        let t = target(1000);
        let now = t.timeline.base_ms + 40 * DAY;
        let (mut composite, mut failed, mut completed) = (0, 0, 0);
        for i in 0..1000 {
            let job = t.job(i, now);
            assert_eq!(job, t.job(i, now));
            assert!(job.account_id.is_some() && job.copy_job_id.is_some());
            assert!(job
                .created_by
                .as_ref()
                .is_some_and(|c| c.backup_rule_timezone.is_some()));
            assert!(job.completion_date.is_some());
            assert!(job.message_category.is_some());
            match job.state {
                Some(CopyJobState::Failed) => {
                    failed += 1;
                    assert!(job.status_message.is_some());
                }
                Some(CopyJobState::Completed) => completed += 1,
                Some(CopyJobState::Partial) => {}
                ref s => panic!("unexpected final state {s:?}"),
            }
            if job.is_parent == Some(true) {
                composite += 1;
                let n = job.number_of_child_jobs.unwrap();
                let counts = job.child_jobs_in_state.as_ref().unwrap();
                assert_eq!(counts.values().sum::<i64>(), n);
                for c in 0..n as u64 {
                    let child = t.job(i + 1 + c, now);
                    assert_eq!(child.parent_job_id, job.copy_job_id);
                    assert!(child.composite_member_identifier.is_some());
                }
            }
        }
        assert!(composite > 0);
        assert!((850..960).contains(&completed), "{completed}");
        assert!((30..140).contains(&failed), "{failed}");
    }

    #[test]
    fn jobs_move_through_their_states() {
        let t = target(1000);
        for i in (0..200).filter(|&i| t.slot(i) == Slot::Single) {
            let created = t.creation_ms(i);
            let mut seen: Vec<CopyJobState> = Vec::new();
            for minute in 0..4 * 60 {
                let state = t.job(i, created + minute * MINUTE).state.unwrap();
                if seen.last() != Some(&state) {
                    seen.push(state);
                }
            }
            assert_eq!(seen.len(), 3, "slot {i}: {seen:?}");
            assert_eq!(seen[0], CopyJobState::Created);
            assert_eq!(seen[1], CopyJobState::Running);
            assert!(!seen[2].is_open());
        }
    }

    #[test]
    fn odd_endings_are_dealt_evenly_among_single_jobs_once_they_end() {
        let t = target(1000).with_endings(OddEndings {
            failed_open_rate: 0.05,
            unknown_rate: 0.15,
            unknown: CopyJobState::from("CANCELLED"),
        });
        let plain = target(1000);
        let now = t.timeline.base_ms + 40 * DAY;
        let (mut failed_open, mut cancelled) = (0, 0);
        for i in 0..1000 {
            let job = t.job(i, now);
            let before = plain.job(i, now);
            let ending = t.ending(i);
            if t.slot(i) != Slot::Single || ending == Ending::Normal {
                assert_eq!(job, before, "slot {i}");
                continue;
            }
            assert_eq!(job.completion_date, None, "slot {i}");
            assert_eq!(job.destination_recovery_point_arn, None, "slot {i}");
            match ending {
                Ending::FailedOpen => {
                    failed_open += 1;
                    assert_eq!(job.state, Some(CopyJobState::Failed));
                    assert!(job.status_message.is_some());
                }
                _ => {
                    cancelled += 1;
                    assert_eq!(job.state.as_ref().map(|s| s.as_str()), Some("CANCELLED"));
                }
            }
            // Open first, as every job: the odd ending comes when it ends.
            let created = t.creation_ms(i);
            assert_eq!(t.job(i, created).state, Some(CopyJobState::Created));
            assert_eq!(t.job(i, created).completion_date, None);
        }
        // Exactly one slot in five is dealt an odd ending, one in four of
        // those FAILED without completion; composites keep theirs.
        let dealt = (0..1000).filter(|&i| t.ending(i) != Ending::Normal).count();
        assert_eq!(dealt, 200);
        let singles_dealt = failed_open + cancelled;
        assert!(singles_dealt > 150, "{singles_dealt}");
        assert!(failed_open * 4 <= singles_dealt + 8 && failed_open * 4 + 8 >= singles_dealt);
    }

    #[test]
    fn resources_repeat() {
        let t = target(1000);
        let now = t.timeline.base_ms + 40 * DAY;
        let mut arns = std::collections::HashMap::new();
        for i in 0..1000 {
            *arns.entry(t.job(i, now).resource_arn.unwrap()).or_insert(0) += 1;
        }
        assert!(
            arns.values().filter(|&&n| n >= 20).count() >= 20,
            "{}",
            arns.len()
        );
    }
}
