//! How a [`CopyJob`] becomes a row: the column list shared by the staging
//! table, `copy_jobs` and `copy_job_snapshots`, the `COPY` text encoding of a
//! staged observation, the content hash, and a timestamp type for binds.

use std::io::Write as _;

use backup_model::{CopyJob, Timestamp, UnknownMembers};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::Postgres;

/// The columns of a job's content, in the order the staging rows carry them.
/// Shared by the staging table, `copy_jobs` and `copy_job_snapshots`.
pub(crate) const MEMBER_COLUMNS: &str = "account_id_in_job, backup_size_in_bytes, \
child_jobs_in_state, completion_date, composite_member_identifier, \
created_by_backup_plan_arn, created_by_backup_plan_id, created_by_backup_plan_name, \
created_by_backup_plan_version, created_by_backup_rule_cron, created_by_backup_rule_id, \
created_by_backup_rule_name, created_by_backup_rule_timezone, created_by_backup_job_id, \
creation_date, destination_backup_vault_arn, destination_encryption_key_arn, \
destination_recovery_point_arn, lifecycle_delete_after_days, lifecycle_delete_after_event, \
lifecycle_move_to_cold_storage_after_days, lifecycle_opt_in_to_archive_for_supported_resources, \
destination_vault_lock_state, destination_vault_type, iam_role_arn, is_parent, \
message_category, number_of_child_jobs, parent_job_id, resource_arn, resource_name, \
resource_type, source_backup_vault_arn, source_recovery_point_arn, state, status_message, \
unknown_members, created_by_unknown, lifecycle_unknown, content_hash";

/// The `COPY` of current rows: key, content, then bookkeeping in the order
/// [`push_current_tail`] writes it.
pub(crate) fn copy_current_statement() -> String {
    format!(
        "COPY copy_jobs (account_id, region, copy_job_id, {MEMBER_COLUMNS}, \
         observed_at, first_seen_at, last_seen_at, last_changed_at, versions) \
         FROM STDIN (FORMAT text)"
    )
}

/// The `COPY` of history rows: key, content, then the interval and run in the
/// order [`push_history_tail`] writes it.
pub(crate) fn copy_history_statement() -> String {
    format!(
        "COPY copy_job_snapshots (account_id, region, copy_job_id, {MEMBER_COLUMNS}, \
         valid_from, valid_to, run_id) FROM STDIN (FORMAT text)"
    )
}

/// Where a job is kept: the key of `copy_jobs`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobKey {
    /// The job's AccountId, or the target's account when the job has none.
    pub account_id: String,
    /// The region the job was listed in.
    pub region: String,
    /// The job's CopyJobId.
    pub copy_job_id: String,
}

impl JobKey {
    /// The key of `job` listed from `account_id`/`region`, or `None` when the
    /// job has no (or an empty) CopyJobId.
    pub fn of(account_id: &str, region: &str, job: &CopyJob) -> Option<JobKey> {
        let copy_job_id = job.copy_job_id.as_deref().filter(|id| !id.is_empty())?;
        Some(JobKey {
            account_id: job.account_id.as_deref().unwrap_or(account_id).to_owned(),
            region: region.to_owned(),
            copy_job_id: copy_job_id.to_owned(),
        })
    }
}

/// The xxh3-128 hash of a job's canonical JSON, as stored in `content_hash`
/// (big-endian).
pub fn content_hash(job: &CopyJob) -> [u8; 16] {
    let mut json = Vec::with_capacity(2048);
    job.write_json(&mut json);
    xxhash_rust::xxh3::xxh3_128(&json).to_be_bytes()
}

/// Writes the canonical JSON of `job` into `scratch` and returns its hash, or
/// `None` when it holds a NUL character somewhere (PostgreSQL text and jsonb
/// cannot store one).
pub(crate) fn hash_storable(job: &CopyJob, scratch: &mut Vec<u8>) -> Option<[u8; 16]> {
    scratch.clear();
    job.write_json(scratch);
    if json_has_nul(scratch) {
        return None;
    }
    Some(xxhash_rust::xxh3::xxh3_128(scratch).to_be_bytes())
}

/// Whether JSON text holds the escape `\u0000` (serde_json writes NUL no
/// other way): a `u0000` preceded by an odd number of backslashes.
fn json_has_nul(json: &[u8]) -> bool {
    json.windows(5).enumerate().any(|(i, w)| {
        w == b"u0000" && json[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
    })
}

/// Why an observation cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unstorable(pub String);

/// Writes rows of `COPY ... (FORMAT text)`: the key and content columns of a
/// job (shared by `copy_jobs` and `copy_job_snapshots`), then the table's own
/// columns through [`push_current_tail`] or [`push_history_tail`].
#[derive(Debug, Default)]
pub(crate) struct RowEncoder {
    scratch: Vec<u8>,
}

impl RowEncoder {
    pub(crate) fn new() -> Self {
        RowEncoder::default()
    }

    /// Appends the key and content columns of `job` to `out`, ending with a
    /// tab (the table's own columns follow). On error nothing is appended.
    pub(crate) fn push_job(
        &mut self,
        out: &mut Vec<u8>,
        key: &JobKey,
        job: &CopyJob,
        hash: &[u8; 16],
    ) -> Result<(), Unstorable> {
        let start = out.len();
        let result = Fields {
            buf: out,
            scratch: &mut self.scratch,
        }
        .job(key, job, hash);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

/// Ends a `copy_jobs` row: observed_at, first_seen_at, last_seen_at,
/// last_changed_at, versions.
pub(crate) fn push_current_tail(out: &mut Vec<u8>, book: &Bookkeeping) {
    push_time(out, Some(book.observed_at));
    out.push(b'\t');
    push_time(out, Some(book.first_seen_at));
    out.push(b'\t');
    push_time(out, Some(book.last_seen_at));
    out.push(b'\t');
    push_time(out, Some(book.last_changed_at));
    out.push(b'\t');
    let _ = write!(out, "{}", book.versions);
    out.push(b'\n');
}

/// Ends a `copy_job_snapshots` row: valid_from, valid_to, run_id.
pub(crate) fn push_history_tail(
    out: &mut Vec<u8>,
    valid_from: Timestamp,
    valid_to: Option<Timestamp>,
    run_id: i64,
) {
    push_time(out, Some(valid_from));
    out.push(b'\t');
    push_time(out, valid_to);
    out.push(b'\t');
    let _ = write!(out, "{run_id}");
    out.push(b'\n');
}

fn push_time(out: &mut Vec<u8>, value: Option<Timestamp>) {
    match value {
        // RFC 3339 with milliseconds, which PostgreSQL reads as is.
        Some(t) => {
            let _ = write!(out, "{t}");
        }
        None => out.extend_from_slice(b"\\N"),
    }
}

/// The bookkeeping columns of a current row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bookkeeping {
    pub observed_at: Timestamp,
    pub first_seen_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub last_changed_at: Timestamp,
    pub versions: i32,
}

/// The field writers of one row.
struct Fields<'a> {
    buf: &'a mut Vec<u8>,
    scratch: &'a mut Vec<u8>,
}

impl Fields<'_> {
    fn job(&mut self, key: &JobKey, job: &CopyJob, hash: &[u8; 16]) -> Result<(), Unstorable> {
        let created_by = job.created_by.as_ref();
        let lifecycle = job.destination_recovery_point_lifecycle.as_ref();

        self.text(Some(&key.account_id), "AccountId")?;
        self.sep();
        self.text(Some(&key.region), "region")?;
        self.sep();
        self.text(Some(&key.copy_job_id), "CopyJobId")?;
        self.sep();
        self.bool(Some(job.account_id.is_some()));
        self.sep();
        self.int(job.backup_size_in_bytes);
        self.sep();
        match &job.child_jobs_in_state {
            Some(map) => {
                self.scratch.clear();
                serde_json::to_writer(&mut *self.scratch, map)
                    .map_err(|e| Unstorable(format!("ChildJobsInState: {e}")))?;
                escape_into(self.buf, self.scratch);
            }
            None => self.null(),
        }
        self.sep();
        self.time(job.completion_date);
        self.sep();
        self.text(job.composite_member_identifier.as_deref(), "CompositeMemberIdentifier")?;
        self.sep();
        self.text(created_by.and_then(|c| c.backup_plan_arn.as_deref()), "CreatedBy.BackupPlanArn")?;
        self.sep();
        self.text(created_by.and_then(|c| c.backup_plan_id.as_deref()), "CreatedBy.BackupPlanId")?;
        self.sep();
        self.text(created_by.and_then(|c| c.backup_plan_name.as_deref()), "CreatedBy.BackupPlanName")?;
        self.sep();
        self.text(created_by.and_then(|c| c.backup_plan_version.as_deref()), "CreatedBy.BackupPlanVersion")?;
        self.sep();
        self.text(created_by.and_then(|c| c.backup_rule_cron.as_deref()), "CreatedBy.BackupRuleCron")?;
        self.sep();
        self.text(created_by.and_then(|c| c.backup_rule_id.as_deref()), "CreatedBy.BackupRuleId")?;
        self.sep();
        self.text(created_by.and_then(|c| c.backup_rule_name.as_deref()), "CreatedBy.BackupRuleName")?;
        self.sep();
        self.text(created_by.and_then(|c| c.backup_rule_timezone.as_deref()), "CreatedBy.BackupRuleTimezone")?;
        self.sep();
        self.text(job.created_by_backup_job_id.as_deref(), "CreatedByBackupJobId")?;
        self.sep();
        self.time(job.creation_date);
        self.sep();
        self.text(job.destination_backup_vault_arn.as_deref(), "DestinationBackupVaultArn")?;
        self.sep();
        self.text(job.destination_encryption_key_arn.as_deref(), "DestinationEncryptionKeyArn")?;
        self.sep();
        self.text(job.destination_recovery_point_arn.as_deref(), "DestinationRecoveryPointArn")?;
        self.sep();
        self.int(lifecycle.and_then(|l| l.delete_after_days));
        self.sep();
        self.text(
            lifecycle.and_then(|l| l.delete_after_event.as_ref()).map(|e| e.as_str()),
            "DestinationRecoveryPointLifecycle.DeleteAfterEvent",
        )?;
        self.sep();
        self.int(lifecycle.and_then(|l| l.move_to_cold_storage_after_days));
        self.sep();
        self.bool(lifecycle.and_then(|l| l.opt_in_to_archive_for_supported_resources));
        self.sep();
        self.text(job.destination_vault_lock_state.as_deref(), "DestinationVaultLockState")?;
        self.sep();
        self.text(job.destination_vault_type.as_deref(), "DestinationVaultType")?;
        self.sep();
        self.text(job.iam_role_arn.as_deref(), "IamRoleArn")?;
        self.sep();
        self.bool(job.is_parent);
        self.sep();
        self.text(job.message_category.as_deref(), "MessageCategory")?;
        self.sep();
        self.int(job.number_of_child_jobs);
        self.sep();
        self.text(job.parent_job_id.as_deref(), "ParentJobId")?;
        self.sep();
        self.text(job.resource_arn.as_deref(), "ResourceArn")?;
        self.sep();
        self.text(job.resource_name.as_deref(), "ResourceName")?;
        self.sep();
        self.text(job.resource_type.as_deref(), "ResourceType")?;
        self.sep();
        self.text(job.source_backup_vault_arn.as_deref(), "SourceBackupVaultArn")?;
        self.sep();
        self.text(job.source_recovery_point_arn.as_deref(), "SourceRecoveryPointArn")?;
        self.sep();
        self.text(job.state.as_ref().map(|s| s.as_str()), "State")?;
        self.sep();
        self.text(job.status_message.as_deref(), "StatusMessage")?;
        self.sep();
        // Top-level unknown members: NULL when there are none.
        self.unknown(
            (!job.unknown_members.is_empty()).then_some(&job.unknown_members),
            "",
        )?;
        self.sep();
        // Nested ones: NULL when the structure is absent, {} when it has none.
        self.unknown(created_by.map(|c| &c.unknown_members), "CreatedBy.")?;
        self.sep();
        self.unknown(
            lifecycle.map(|l| &l.unknown_members),
            "DestinationRecoveryPointLifecycle.",
        )?;
        self.sep();
        // bytea in hex form, its backslash escaped for COPY.
        self.buf.extend_from_slice(b"\\\\x");
        for &b in hash {
            self.buf.push(HEX[usize::from(b >> 4)]);
            self.buf.push(HEX[usize::from(b & 0xf)]);
        }
        self.sep();
        Ok(())
    }

    fn sep(&mut self) {
        self.buf.push(b'\t');
    }

    fn null(&mut self) {
        self.buf.extend_from_slice(b"\\N");
    }

    fn text(&mut self, value: Option<&str>, member: &str) -> Result<(), Unstorable> {
        match value {
            Some(text) => {
                if text.as_bytes().contains(&0) {
                    return Err(nul_in(member));
                }
                escape_into(self.buf, text.as_bytes());
            }
            None => self.null(),
        }
        Ok(())
    }

    fn int(&mut self, value: Option<i64>) {
        match value {
            // Writing into a Vec cannot fail.
            Some(n) => {
                let _ = write!(self.buf, "{n}");
            }
            None => self.null(),
        }
    }

    fn bool(&mut self, value: Option<bool>) {
        match value {
            Some(true) => self.buf.push(b't'),
            Some(false) => self.buf.push(b'f'),
            None => self.null(),
        }
    }

    fn time(&mut self, value: Option<Timestamp>) {
        push_time(self.buf, value);
    }

    fn unknown(&mut self, members: Option<&UnknownMembers>, path: &str) -> Result<(), Unstorable> {
        let Some(members) = members else {
            self.null();
            return Ok(());
        };
        for (name, value) in members {
            if name.contains('\0') || has_nul(value) {
                return Err(nul_in(&format!("{path}{name}")));
            }
        }
        self.scratch.clear();
        serde_json::to_writer(&mut *self.scratch, members)
            .map_err(|e| Unstorable(format!("unknown members: {e}")))?;
        escape_into(self.buf, self.scratch);
        Ok(())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn nul_in(member: &str) -> Unstorable {
    Unstorable(format!(
        "{member} contains a NUL character, which PostgreSQL cannot store in text or jsonb"
    ))
}

/// Whether a JSON value holds a NUL character in any string or key (jsonb
/// rejects `\u0000`).
fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Appends `bytes` as one field of `COPY ... (FORMAT text)`: backslash, tab,
/// newline and carriage return are escaped; everything else, UTF-8 included,
/// goes as is.
pub(crate) fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MILLIS: i64 = 946_684_800_000;

/// A [`Timestamp`] bound to or read from a `timestamptz` (binary format:
/// microseconds since 2000-01-01; read values are rounded to the millisecond).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DbTime(pub Timestamp);

impl sqlx::Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        // The OID of timestamptz is fixed in every PostgreSQL.
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(1184))
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        use sqlx::TypeInfo as _;
        ty.name().eq_ignore_ascii_case("timestamptz")
    }
}

impl sqlx::postgres::PgHasArrayType for DbTime {
    fn array_type_info() -> PgTypeInfo {
        // timestamptz[]
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(1185))
    }
}

impl sqlx::Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let micros = (self.0.as_millis() - PG_EPOCH_MILLIS) * 1000;
        buf.extend_from_slice(&micros.to_be_bytes());
        Ok(IsNull::No)
    }

    fn size_hint(&self) -> usize {
        8
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let bytes: [u8; 8] = value
                    .as_bytes()?
                    .try_into()
                    .map_err(|_| "timestamptz is not 8 bytes")?;
                let micros = i64::from_be_bytes(bytes);
                let millis = micros
                    .checked_add(500)
                    .map(|m| m.div_euclid(1000))
                    .and_then(|m| m.checked_add(PG_EPOCH_MILLIS))
                    .ok_or("timestamptz out of range")?;
                Ok(DbTime(Timestamp::from_millis(millis)?))
            }
            PgValueFormat::Text => Ok(DbTime(Timestamp::parse_rfc3339(value.as_str()?)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        escape_into(&mut out, text.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn copy_text_escaping() {
        assert_eq!(escaped("plain"), "plain");
        assert_eq!(escaped("a\tb"), r"a\tb");
        assert_eq!(escaped("line1\nline2\r\n"), r"line1\nline2\r\n");
        assert_eq!(escaped(r"C:\path\n"), r"C:\\path\\n");
        assert_eq!(escaped(r"\."), r"\\.");
        assert_eq!(escaped(r"\N"), r"\\N");
        assert_eq!(escaped("ünïcødé ✓ 🦀"), "ünïcødé ✓ 🦀");
        assert_eq!(escaped("\\\t\n"), r"\\\t\n");
        assert_eq!(escaped(""), "");
    }

    fn job(json: &str) -> CopyJob {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_row_has_every_column_and_one_line() {
        let mut enc = RowEncoder::new();
        let j = job(
            r#"{"CopyJobId":"c1","StatusMessage":"tab\there\nnew \\ line ü","BackupSizeInBytes":5,
                "CreatedBy":{"BackupPlanId":"p"},"IsParent":false,"X":{"y":"\\"}}"#,
        );
        let key = JobKey::of("111122223333", "eu-west-1", &j).unwrap();
        let at = Timestamp::from_millis(1_516_925_490_087).unwrap();
        let mut out = Vec::new();
        enc.push_job(&mut out, &key, &j, &content_hash(&j)).unwrap();
        push_history_tail(&mut out, at, None, 42);
        let line = String::from_utf8(out).unwrap();
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1);
        let fields: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
        let members = MEMBER_COLUMNS.split(',').count();
        assert_eq!(fields.len(), 3 + members + 3);
        assert_eq!(&fields[..5], ["111122223333", "eu-west-1", "c1", "f", "5"]);
        assert!(fields.contains(&r"tab\there\nnew \\ line ü"));
        assert!(fields.contains(&r#"{"X":{"y":"\\\\"}}"#), "{fields:?}");
        let tail = &fields[3 + members..];
        assert_eq!(tail, ["2018-01-26T00:11:30.087Z", r"\N", "42"]);
        let hash = fields[3 + members - 1];
        assert!(hash.starts_with(r"\\x") && hash.len() == 3 + 32, "{hash}");
        // CreatedBy present with no unknown members; lifecycle absent.
        assert_eq!(fields[3 + members - 3], "{}");
        assert_eq!(fields[3 + members - 2], r"\N");

        let mut current = Vec::new();
        enc.push_job(&mut current, &key, &j, &content_hash(&j)).unwrap();
        let book = Bookkeeping {
            observed_at: at,
            first_seen_at: at,
            last_seen_at: at,
            last_changed_at: at,
            versions: 3,
        };
        push_current_tail(&mut current, &book);
        let line = String::from_utf8(current).unwrap();
        assert_eq!(line.split('\t').count(), 3 + members + 5);
        assert!(line.ends_with("\t3\n"));
    }

    #[test]
    fn nul_characters_are_refused_whole() {
        let mut enc = RowEncoder::new();
        let mut out = b"before".to_vec();
        let mut scratch = Vec::new();
        for bad in [
            r#"{"CopyJobId":"b","StatusMessage":"a\u0000b"}"#,
            r#"{"CopyJobId":"b","New":["\u0000"]}"#,
            r#"{"CopyJobId":"b","CreatedBy":{"New":{"k\u0000":1}}}"#,
        ] {
            let j = job(bad);
            let key = JobKey::of("1", "r", &j).unwrap();
            let err = enc.push_job(&mut out, &key, &j, &[0; 16]).unwrap_err();
            assert!(err.0.contains("NUL"), "{err:?}");
            assert_eq!(out, b"before");
            assert_eq!(hash_storable(&j, &mut scratch), None, "{bad}");
        }
        // A backslash followed by u0000 is text, not a NUL.
        let fine = job(r#"{"CopyJobId":"b","StatusMessage":"\\u0000 and \\\\u0000"}"#);
        assert!(hash_storable(&fine, &mut scratch).is_some());
        assert_eq!(hash_storable(&fine, &mut scratch), Some(content_hash(&fine)));
    }

    #[test]
    fn keys_fall_back_to_the_target_account() {
        let with = job(r#"{"CopyJobId":"c","AccountId":"999"}"#);
        let without = job(r#"{"CopyJobId":"c"}"#);
        assert_eq!(JobKey::of("111", "r", &with).unwrap().account_id, "999");
        assert_eq!(JobKey::of("111", "r", &without).unwrap().account_id, "111");
        assert!(JobKey::of("111", "r", &job(r#"{"CopyJobId":""}"#)).is_none());
        assert!(JobKey::of("111", "r", &job("{}")).is_none());
    }

    #[test]
    fn hash_is_of_the_canonical_json() {
        let a = job(r#"{"State":"RUNNING","CopyJobId":"c"}"#);
        let b = job(r#"{"CopyJobId":"c","State":"RUNNING"}"#);
        let c = job(r#"{"CopyJobId":"c","State":"COMPLETED"}"#);
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&c));
    }
}
