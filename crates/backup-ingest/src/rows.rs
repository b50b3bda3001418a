//! How a [`CopyJob`] becomes a row: the content columns shared by
//! `copy_jobs` and `copy_job_history`, their binary `COPY` encoding, the
//! content hash, and a timestamp type for binds.
//!
//! Rows go to PostgreSQL in `COPY ... (FORMAT binary)`: every field is its
//! length and its bytes, so text needs no escaping (a tab, a newline or a
//! backslash in a StatusMessage is just a byte), and the server parses no
//! timestamps or numbers (measured 13% faster than the text format for
//! `copy_jobs`).

use backup_model::{CopyJob, Timestamp, UnknownMembers};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::Postgres;

/// The content columns of a job, in the order [`RowEncoder::push_job`]
/// writes them after the key. Shared by `copy_jobs` and `copy_job_history`.
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
unknown_members, created_by_unknown, lifecycle_unknown, content_hash, hash_version";

/// How many fields [`RowEncoder::push_job`] writes: the key's three and the
/// content columns.
fn job_field_count() -> usize {
    // Counted once, by the compiler: it is asked for every row.
    const COUNT: usize = 3 + count_columns(MEMBER_COLUMNS);
    COUNT
}

/// The number of names in a comma-separated column list.
const fn count_columns(list: &str) -> usize {
    let bytes = list.as_bytes();
    let (mut i, mut n) = (0, 1);
    while i < bytes.len() {
        if bytes[i] == b',' {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The `COPY` of current rows: key, content, then bookkeeping in the order
/// [`CopyPayload::push_current`] writes it.
pub(crate) fn copy_current_statement() -> String {
    format!(
        "COPY copy_jobs (account_id, region, copy_job_id, {MEMBER_COLUMNS}, \
         observed_at, first_seen_at, last_seen_at, last_changed_at, versions, run_id, \
         text_digest) \
         FROM STDIN (FORMAT binary)"
    )
}

/// The `COPY` of history rows: key, content, then the interval and run in the
/// order [`CopyPayload::push_history`] writes it.
pub(crate) fn copy_history_statement() -> String {
    format!(
        "COPY copy_job_history (account_id, region, copy_job_id, {MEMBER_COLUMNS}, \
         valid_from, valid_to, run_id) FROM STDIN (FORMAT binary)"
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

/// The version of [`content_hash`] stored in `hash_version` next to each
/// `content_hash`:
///
/// - 1: xxh3-128 of the canonical JSON (known members in the model's order,
///   timestamps as RFC 3339 strings): it changed when the model learned a
///   member or a state, so an upgrade wrote a spurious version of every job
///   carrying one.
/// - 2: xxh3-128 of the content form ([`CopyJob::write_content_form`],
///   content form version 1), which depends only on what AWS sent.
///
/// When this changes, `migrate` recomputes the stored hashes
/// ([`crate::rehash`]) before `ingest` may run again, so that an upgrade
/// writes no versions.
pub const HASH_VERSION: i16 = 2;

/// The hash version [`HASH_VERSION`] stands for, checked by a test so that a
/// change of the content form cannot go unnoticed.
#[cfg(test)]
const HASHED_CONTENT_FORM: u16 = 1;

/// The xxh3-128 hash of a job's content form, as stored in `content_hash`
/// (big-endian); see [`HASH_VERSION`].
pub fn content_hash(job: &CopyJob) -> [u8; 16] {
    let mut form = Vec::with_capacity(2048);
    job.write_content_form(&mut form);
    xxhash_rust::xxh3::xxh3_128(&form).to_be_bytes()
}

/// Writes the content form of `job` into `scratch` and returns its hash, or
/// `None` when it holds a NUL character somewhere (PostgreSQL text and jsonb
/// cannot store one).
pub(crate) fn hash_storable(job: &CopyJob, scratch: &mut Vec<u8>) -> Option<[u8; 16]> {
    scratch.clear();
    job.write_content_form(scratch);
    if json_has_nul(scratch) {
        return None;
    }
    Some(xxhash_rust::xxh3::xxh3_128(scratch).to_be_bytes())
}

/// Whether JSON text holds the escape `\u0000` (serde_json writes NUL no
/// other way): a `u0000` preceded by an odd number of backslashes.
fn json_has_nul(json: &[u8]) -> bool {
    // Almost every text has no `u0000` at all: one vectorized search.
    memchr::memmem::find_iter(json, b"u0000")
        .any(|i| json[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1)
}

/// Why an observation cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unstorable(pub String);

/// A `COPY ... (FORMAT binary)` payload: the header, rows, and the trailer
/// once [`finish`](Self::finish)ed.
#[derive(Debug)]
pub(crate) struct CopyPayload {
    buf: Vec<u8>,
    rows: u64,
}

/// The signature, flags and header extension length of binary `COPY`.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

impl CopyPayload {
    pub(crate) fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity);
        buf.extend_from_slice(COPY_HEADER);
        CopyPayload { buf, rows: 0 }
    }

    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// The bytes written since the last [`clear`](Self::clear), to send as a
    /// chunk while more rows are encoded.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets the bytes sent (the rows stay counted).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
    }

    /// Appends the trailer: nothing may follow.
    pub(crate) fn end(&mut self) {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
    }

    /// A `copy_jobs` row: the job's fields (from [`RowEncoder::push_job`]),
    /// then observed_at, first_seen_at, last_seen_at, last_changed_at,
    /// versions, the run that wrote the version, and the digest of the text
    /// the job was decoded from (NULL when unknown).
    pub(crate) fn push_current(
        &mut self,
        job_fields: &[u8],
        book: &Bookkeeping,
        run_id: i64,
        text_digest: Option<&[u8; 16]>,
    ) {
        self.start_row(job_fields, 7);
        put_time(&mut self.buf, Some(book.observed_at));
        put_time(&mut self.buf, Some(book.first_seen_at));
        put_time(&mut self.buf, Some(book.last_seen_at));
        put_time(&mut self.buf, Some(book.last_changed_at));
        put_field(&mut self.buf, &book.versions.to_be_bytes());
        put_field(&mut self.buf, &run_id.to_be_bytes());
        match text_digest {
            Some(digest) => put_field(&mut self.buf, digest),
            None => put_null(&mut self.buf),
        }
    }

    /// A `copy_job_history` row (a superseded version): the job's fields,
    /// then valid_from, valid_to, run_id.
    pub(crate) fn push_history(
        &mut self,
        job_fields: &[u8],
        valid_from: Timestamp,
        valid_to: Option<Timestamp>,
        run_id: i64,
    ) {
        self.start_row(job_fields, 3);
        put_time(&mut self.buf, Some(valid_from));
        put_time(&mut self.buf, valid_to);
        put_field(&mut self.buf, &run_id.to_be_bytes());
    }

    fn start_row(&mut self, job_fields: &[u8], more: usize) {
        // Fewer than a hundred columns: the count fits an i16.
        let count = (job_field_count() + more) as i16;
        self.buf.extend_from_slice(&count.to_be_bytes());
        self.buf.extend_from_slice(job_fields);
        self.rows += 1;
    }

    /// The payload with its trailer.
    #[cfg(test)]
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.end();
        self.buf
    }
}

/// Encodes the key and content fields of jobs for [`CopyPayload`].
#[derive(Debug, Default)]
pub(crate) struct RowEncoder {
    scratch: Vec<u8>,
}

impl RowEncoder {
    pub(crate) fn new() -> Self {
        RowEncoder::default()
    }

    /// Appends the key and content fields of `job` to `out` (binary `COPY`
    /// fields, without the row's field count). On error nothing is appended.
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

/// The bookkeeping columns of a current row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bookkeeping {
    pub observed_at: Timestamp,
    pub first_seen_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub last_changed_at: Timestamp,
    pub versions: i32,
}

/// One field: its length (i32) and its bytes.
fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    // A field longer than 2 GiB could not be sent anyway (PostgreSQL's limit
    // is 1 GiB); such a job would have failed to decode first.
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

/// timestamptz: microseconds since 2000-01-01 UTC.
fn put_time(out: &mut Vec<u8>, value: Option<Timestamp>) {
    match value {
        Some(t) => put_field(out, &pg_micros(t).to_be_bytes()),
        None => put_null(out),
    }
}

fn pg_micros(t: Timestamp) -> i64 {
    // In range for every Timestamp (years 1 to 9999).
    (t.as_millis() - PG_EPOCH_MILLIS) * 1000
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
        let cb = |f: fn(&backup_model::RecoveryPointCreator) -> Option<&String>| {
            created_by.and_then(f).map(String::as_str)
        };

        self.text(Some(&key.account_id), "AccountId")?;
        self.text(Some(&key.region), "region")?;
        self.text(Some(&key.copy_job_id), "CopyJobId")?;
        self.bool(Some(job.account_id.is_some()));
        self.int(job.backup_size_in_bytes);
        match &job.child_jobs_in_state {
            Some(map) => self.jsonb(map, "ChildJobsInState")?,
            None => put_null(self.buf),
        }
        put_time(self.buf, job.completion_date);
        self.text(
            job.composite_member_identifier.as_deref(),
            "CompositeMemberIdentifier",
        )?;
        self.text(
            cb(|c| c.backup_plan_arn.as_ref()),
            "CreatedBy.BackupPlanArn",
        )?;
        self.text(cb(|c| c.backup_plan_id.as_ref()), "CreatedBy.BackupPlanId")?;
        self.text(
            cb(|c| c.backup_plan_name.as_ref()),
            "CreatedBy.BackupPlanName",
        )?;
        self.text(
            cb(|c| c.backup_plan_version.as_ref()),
            "CreatedBy.BackupPlanVersion",
        )?;
        self.text(
            cb(|c| c.backup_rule_cron.as_ref()),
            "CreatedBy.BackupRuleCron",
        )?;
        self.text(cb(|c| c.backup_rule_id.as_ref()), "CreatedBy.BackupRuleId")?;
        self.text(
            cb(|c| c.backup_rule_name.as_ref()),
            "CreatedBy.BackupRuleName",
        )?;
        self.text(
            cb(|c| c.backup_rule_timezone.as_ref()),
            "CreatedBy.BackupRuleTimezone",
        )?;
        self.text(
            job.created_by_backup_job_id.as_deref(),
            "CreatedByBackupJobId",
        )?;
        put_time(self.buf, job.creation_date);
        self.text(
            job.destination_backup_vault_arn.as_deref(),
            "DestinationBackupVaultArn",
        )?;
        self.text(
            job.destination_encryption_key_arn.as_deref(),
            "DestinationEncryptionKeyArn",
        )?;
        self.text(
            job.destination_recovery_point_arn.as_deref(),
            "DestinationRecoveryPointArn",
        )?;
        self.int(lifecycle.and_then(|l| l.delete_after_days));
        self.text(
            lifecycle
                .and_then(|l| l.delete_after_event.as_ref())
                .map(|e| e.as_str()),
            "DestinationRecoveryPointLifecycle.DeleteAfterEvent",
        )?;
        self.int(lifecycle.and_then(|l| l.move_to_cold_storage_after_days));
        self.bool(lifecycle.and_then(|l| l.opt_in_to_archive_for_supported_resources));
        self.text(
            job.destination_vault_lock_state.as_deref(),
            "DestinationVaultLockState",
        )?;
        self.text(
            job.destination_vault_type.as_deref(),
            "DestinationVaultType",
        )?;
        self.text(job.iam_role_arn.as_deref(), "IamRoleArn")?;
        self.bool(job.is_parent);
        self.text(job.message_category.as_deref(), "MessageCategory")?;
        self.int(job.number_of_child_jobs);
        self.text(job.parent_job_id.as_deref(), "ParentJobId")?;
        self.text(job.resource_arn.as_deref(), "ResourceArn")?;
        self.text(job.resource_name.as_deref(), "ResourceName")?;
        self.text(job.resource_type.as_deref(), "ResourceType")?;
        self.text(
            job.source_backup_vault_arn.as_deref(),
            "SourceBackupVaultArn",
        )?;
        self.text(
            job.source_recovery_point_arn.as_deref(),
            "SourceRecoveryPointArn",
        )?;
        self.text(job.state.as_ref().map(|s| s.as_str()), "State")?;
        self.text(job.status_message.as_deref(), "StatusMessage")?;
        // Top-level unknown members: NULL when there are none.
        self.unknown(
            (!job.unknown_members.is_empty()).then_some(&job.unknown_members),
            "",
        )?;
        // Nested ones: NULL when the structure is absent, {} when it has none.
        self.unknown(created_by.map(|c| &c.unknown_members), "CreatedBy.")?;
        self.unknown(
            lifecycle.map(|l| &l.unknown_members),
            "DestinationRecoveryPointLifecycle.",
        )?;
        put_field(self.buf, hash);
        put_field(self.buf, &HASH_VERSION.to_be_bytes());
        Ok(())
    }

    fn text(&mut self, value: Option<&str>, member: &str) -> Result<(), Unstorable> {
        match value {
            Some(text) => {
                if text.as_bytes().contains(&0) {
                    return Err(nul_in(member));
                }
                put_field(self.buf, text.as_bytes());
            }
            None => put_null(self.buf),
        }
        Ok(())
    }

    fn int(&mut self, value: Option<i64>) {
        match value {
            Some(n) => put_field(self.buf, &n.to_be_bytes()),
            None => put_null(self.buf),
        }
    }

    fn bool(&mut self, value: Option<bool>) {
        match value {
            Some(b) => put_field(self.buf, &[u8::from(b)]),
            None => put_null(self.buf),
        }
    }

    /// jsonb's binary form: a version byte (1), then the JSON text.
    fn jsonb<T: serde::Serialize>(&mut self, value: &T, member: &str) -> Result<(), Unstorable> {
        self.scratch.clear();
        self.scratch.push(1);
        serde_json::to_writer(&mut *self.scratch, value)
            .map_err(|e| Unstorable(format!("{member}: {e}")))?;
        put_field(self.buf, self.scratch);
        Ok(())
    }

    fn unknown(&mut self, members: Option<&UnknownMembers>, path: &str) -> Result<(), Unstorable> {
        let Some(members) = members else {
            put_null(self.buf);
            return Ok(());
        };
        for (name, value) in members {
            if name.contains('\0') || json_has_nul(value.get().as_bytes()) {
                return Err(nul_in(&format!("{path}{name}")));
            }
        }
        self.jsonb(members, "unknown members")
    }
}

fn nul_in(member: &str) -> Unstorable {
    Unstorable(format!(
        "{member} contains a NUL character, which PostgreSQL cannot store in text or jsonb"
    ))
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

    fn job(json: &str) -> CopyJob {
        serde_json::from_str(json).unwrap()
    }

    /// Splits a binary `COPY` payload into rows of fields (None: NULL),
    /// checking its framing.
    fn parse(payload: &[u8]) -> Vec<Vec<Option<Vec<u8>>>> {
        assert_eq!(&payload[..COPY_HEADER.len()], COPY_HEADER);
        let mut at = COPY_HEADER.len();
        let mut take = |n: usize| {
            let bytes = payload[at..at + n].to_vec();
            at += n;
            bytes
        };
        let mut rows = Vec::new();
        loop {
            let count = i16::from_be_bytes(take(2).try_into().unwrap());
            if count == -1 {
                break;
            }
            let mut fields = Vec::new();
            for _ in 0..count {
                let len = i32::from_be_bytes(take(4).try_into().unwrap());
                fields.push((len >= 0).then(|| take(len as usize)));
            }
            rows.push(fields);
        }
        assert_eq!(at, payload.len(), "nothing after the trailer");
        rows
    }

    fn text(field: &Option<Vec<u8>>) -> &str {
        std::str::from_utf8(field.as_deref().unwrap()).unwrap()
    }

    /// In binary COPY, special characters need no escaping: a field is its
    /// length and its bytes, whatever they are.
    #[test]
    fn copy_fields_carry_tabs_newlines_backslashes_and_unicode_as_is() {
        let message = "tab\there\nnewline\r\nback\\slash \\N \\. ünïcødé ✓ 🦀";
        let mut j = job(r#"{"CopyJobId":"c1","BackupSizeInBytes":5,"IsParent":false,
            "CreatedBy":{"BackupPlanId":"p"},"X":{"y":"\\\t"}}"#);
        j.status_message = Some(message.to_owned());
        let key = JobKey::of("111122223333", "eu-west-1", &j).unwrap();
        let at = Timestamp::from_millis(1_516_925_490_087).unwrap();
        let mut fields = Vec::new();
        RowEncoder::new()
            .push_job(&mut fields, &key, &j, &content_hash(&j))
            .unwrap();
        let mut history = CopyPayload::new(0);
        history.push_history(&fields, at, Some(at), 42);
        history.push_history(&fields, at, None, 43);
        assert_eq!(history.rows(), 2);
        let rows = parse(&history.finish());
        assert_eq!(rows.len(), 2);
        let row = &rows[0];
        let members = MEMBER_COLUMNS.split(',').map(str::trim).collect::<Vec<_>>();
        assert_eq!(row.len(), 3 + members.len() + 3);
        let column = |name: &str| &row[3 + members.iter().position(|m| *m == name).unwrap()];
        assert_eq!(text(&row[0]), "111122223333");
        assert_eq!(text(&row[2]), "c1");
        assert_eq!(text(column("status_message")), message);
        assert_eq!(column("account_id_in_job").as_deref(), Some(&[0u8][..]));
        assert_eq!(
            column("backup_size_in_bytes").as_deref(),
            Some(&5i64.to_be_bytes()[..])
        );
        assert_eq!(column("is_parent").as_deref(), Some(&[0u8][..]));
        assert_eq!(column("completion_date"), &None);
        // jsonb: version 1, then the JSON text, backslashes as JSON writes them.
        let unknown = column("unknown_members").as_deref().unwrap();
        assert_eq!(unknown[0], 1);
        assert_eq!(&unknown[1..], br#"{"X":{"y":"\\\t"}}"#);
        // CreatedBy present with no unknown members: {}; lifecycle absent: NULL.
        assert_eq!(
            column("created_by_unknown").as_deref(),
            Some(&b"\x01{}"[..])
        );
        assert_eq!(column("lifecycle_unknown"), &None);
        assert_eq!(
            column("content_hash").as_deref(),
            Some(&content_hash(&j)[..])
        );
        // The tail: valid_from in microseconds since 2000, valid_to, run_id.
        let micros = (1_516_925_490_087i64 - 946_684_800_000) * 1000;
        assert_eq!(
            row[3 + members.len()].as_deref(),
            Some(&micros.to_be_bytes()[..])
        );
        assert_eq!(
            row[3 + members.len() + 1].as_deref(),
            Some(&micros.to_be_bytes()[..])
        );
        assert_eq!(
            row[3 + members.len() + 2].as_deref(),
            Some(&42i64.to_be_bytes()[..])
        );
        assert_eq!(rows[1][3 + members.len() + 1], None);

        let mut current = CopyPayload::new(0);
        let book = Bookkeeping {
            observed_at: at,
            first_seen_at: at,
            last_seen_at: at,
            last_changed_at: at,
            versions: 3,
        };
        current.push_current(&fields, &book, 7, Some(&[9; 16]));
        current.push_current(&fields, &book, 7, None);
        let rows = parse(&current.finish());
        assert_eq!(rows[0].len(), 3 + members.len() + 7);
        assert_eq!(
            rows[0][3 + members.len() + 4].as_deref(),
            Some(&3i32.to_be_bytes()[..])
        );
        assert_eq!(
            rows[0][3 + members.len() + 5].as_deref(),
            Some(&7i64.to_be_bytes()[..])
        );
        assert_eq!(rows[0].last().unwrap().as_deref(), Some(&[9; 16][..]));
        assert_eq!(rows[1].last().unwrap().as_deref(), None);
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
        assert_eq!(
            hash_storable(&fine, &mut scratch),
            Some(content_hash(&fine))
        );
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

    /// The stored hashes are of one definition: a change of the content form
    /// (or of how it is hashed) must come with a new [`HASH_VERSION`], or
    /// `migrate` would not recompute the stored hashes and every job would
    /// get a spurious version.
    #[test]
    fn the_hash_version_pins_the_content_form() {
        assert_eq!(
            HASHED_CONTENT_FORM,
            backup_model::CONTENT_FORM_VERSION,
            "the content form changed: raise HASH_VERSION and HASHED_CONTENT_FORM"
        );
        let j = job(
            r#"{"CopyJobId":"c","State":"COMPLETED","CreationDate":1516925490.087,
                "ChildJobsInState":{"RUNNING":1,"COMPLETED":2},"New":{"b":1.50,"a":[null]}}"#,
        );
        let mut form = Vec::new();
        j.write_content_form(&mut form);
        assert_eq!(
            String::from_utf8(form).unwrap(),
            r#"{"ChildJobsInState":{"COMPLETED":2,"RUNNING":1},"CopyJobId":"c","CreationDate":1516925490087e-3,"New":{"a":[null],"b":15e-1},"State":"COMPLETED"}"#
        );
        assert_eq!(
            u128::from_be_bytes(content_hash(&j)),
            xxhash_rust::xxh3::xxh3_128(
                br#"{"ChildJobsInState":{"COMPLETED":2,"RUNNING":1},"CopyJobId":"c","CreationDate":1516925490087e-3,"New":{"a":[null],"b":15e-1},"State":"COMPLETED"}"#
            )
        );
    }
}
