//! AWS Backup Audit Manager COPY_JOB_REPORT files, as delivered to S3, read
//! into copy jobs: JSON (`{"reportItems": [...]}`, the shape the AWS Backup
//! developer guide shows) with [`read_json`], and CSV (a header row naming the
//! same fields) with [`read_csv`] (feature `csv`).
//!
//! Both stream: each report item is handed to a callback as soon as it is
//! read, so memory holds one item, not the file. A bad item is reported
//! (with its line and field) and the next one is read.
//!
//! ```
//! use std::ops::ControlFlow;
//! use backup_model::audit;
//!
//! let report = r#"{"reportItems": [
//!   {"accountId": "112233445566", "region": "us-west-2", "copyJobId": "c-1",
//!    "jobStatus": "COMPLETED", "creationDate": "2021-07-15T15:42:04.771Z"}
//! ]}"#;
//! let mut jobs = Vec::new();
//! audit::read_json(report.as_bytes(), |item| {
//!     jobs.push(item.unwrap());
//!     ControlFlow::Continue(())
//! })
//! .unwrap();
//! assert_eq!(jobs[0].job.copy_job_id.as_deref(), Some("c-1"));
//! assert_eq!(jobs[0].region.as_deref(), Some("us-west-2"));
//! ```

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::{CopyJob, CopyJobState, RecoveryPointCreator, Timestamp};

/// One report item, as a copy job.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AuditRecord {
    /// The job the item describes.
    pub job: CopyJob,
    /// The item's `region` field, when it has one (a copy job has no region
    /// member of its own).
    pub region: Option<String>,
    /// The line where the item begins (1-based).
    pub line: u64,
}

/// A report item that could not be read, or a file that ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditError {
    line: u64,
    column: Option<u64>,
    path: String,
    message: String,
}

impl AuditError {
    fn new(
        line: u64,
        column: Option<u64>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AuditError {
            line,
            column,
            path: path.into(),
            message: message.into(),
        }
    }

    /// The line (1-based) of the item, or of the broken JSON or CSV.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The column, when known (broken JSON).
    pub fn column(&self) -> Option<u64> {
        self.column
    }

    /// The field, such as `reportItems[3].backupSizeInBytes`; empty for the file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, without position or path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for AuditError {
    /// `line 4: reportItems[3].backupSizeInBytes: expected a whole number, ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(column) = self.column {
            write!(f, ", column {column}")?;
        }
        f.write_str(": ")?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for AuditError {}

/// The name under which report fields that have no CopyJob member are kept
/// (as an unknown member, so they stay queryable with the job).
pub const EXTRA_MEMBER: &str = "AuditManagerReport";

/// Whether the first line of a CSV file is the header of a copy job report
/// (it has a copyJobId column, in any spelling `normalize` accepts).
pub fn is_csv_header(line: &str) -> bool {
    line.split(',').any(|h| normalize(h) == "copyjobid")
}

/// A report field's value: typed in JSON, text in CSV.
#[derive(Debug)]
pub(crate) enum Raw<'a> {
    Json(Value),
    // Made by the CSV reader only.
    #[cfg_attr(not(feature = "csv"), allow(dead_code))]
    Text(&'a str),
}

impl Raw<'_> {
    fn is_absent(&self) -> bool {
        match self {
            Raw::Json(Value::Null) => true,
            Raw::Json(Value::String(s)) => s.is_empty(),
            Raw::Text(s) => s.is_empty(),
            Raw::Json(_) => false,
        }
    }

    fn string(self) -> Result<String, String> {
        match self {
            Raw::Json(Value::String(s)) => Ok(s),
            Raw::Json(Value::Number(n)) => Ok(n.to_string()),
            Raw::Json(Value::Bool(b)) => Ok(b.to_string()),
            Raw::Json(other) => Err(format!("expected a string, found {other}")),
            Raw::Text(s) => Ok(s.to_owned()),
        }
    }

    fn integer(self) -> Result<i64, String> {
        let text = match self {
            Raw::Json(Value::Number(n)) => {
                return n
                    .as_i64()
                    .ok_or_else(|| format!("expected a whole number, found {n}"))
            }
            Raw::Json(Value::String(s)) => s,
            Raw::Json(other) => return Err(format!("expected a whole number, found {other}")),
            Raw::Text(s) => s.to_owned(),
        };
        text.trim()
            .parse()
            .map_err(|_| format!("expected a whole number, found {text:?}"))
    }

    fn boolean(self) -> Result<bool, String> {
        let text = match self {
            Raw::Json(Value::Bool(b)) => return Ok(b),
            Raw::Json(Value::String(s)) => s,
            Raw::Json(other) => return Err(format!("expected true or false, found {other}")),
            Raw::Text(s) => s.to_owned(),
        };
        match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("expected true or false, found {text:?}")),
        }
    }

    fn timestamp(self) -> Result<Timestamp, String> {
        let text = match self {
            Raw::Json(Value::String(s)) => s,
            Raw::Json(v @ Value::Number(_)) => {
                return serde_json::from_value(v).map_err(|e| e.to_string())
            }
            Raw::Json(other) => return Err(format!("expected a timestamp, found {other}")),
            Raw::Text(s) => s.to_owned(),
        };
        let text = text.trim();
        match text.parse::<f64>() {
            Ok(secs) => Timestamp::from_secs_f64(secs).map_err(|e| e.to_string()),
            Err(_) => Timestamp::parse_rfc3339(text).map_err(|e| e.to_string()),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Raw::Json(v) => v,
            Raw::Text(s) => Value::String(s.to_owned()),
        }
    }
}

/// A report field name without case, spaces, underscores or hyphens:
/// `copyJobId`, `Copy Job ID` and `copy_job_id` are all `copyjobid`.
fn normalize(name: &str) -> String {
    name.trim()
        .trim_matches('"')
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A CopyJob under construction from a report item.
#[derive(Debug, Default)]
pub(crate) struct AuditJob {
    job: CopyJob,
    created_by: RecoveryPointCreator,
    extra: Map<String, Value>,
    region: Option<String>,
}

/// Sets the member that report field `name` maps to.
///
/// The mapping follows the COPY_JOB_REPORT sample of the AWS Backup
/// developer guide ("Choosing your report template"): accountId, region,
/// copyJobId, jobStatus, resourceType, resourceArn, resourceName,
/// backupPlanName/Arn/Id, backupRuleName/Id/Schedule/Timezone, isParentJob,
/// parentJobId, creationDate, completionDate, backupSizeInBytes, source and
/// destination recovery point and vault ARNs, iamRoleArn (and statusMessage,
/// messageCategory when present). The report period is dropped: it describes
/// the report, and keeping it would make the same job differ between two
/// days' reports. The vault and lifecycle fields (vaultType, vaultLockStatus,
/// isEncrypted, encryptionKeyArn, deleteAfterDays, moveToColdAfterDays,
/// enableArchive) and the others (initiationDate, startWindowEnd,
/// backupOptions, jobRunTime) are kept under [`EXTRA_MEMBER`]: the
/// documentation does not say whether a copy report's vault fields describe
/// the source or the destination, so they are not guessed into Destination*
/// members.
pub(crate) fn audit_member(target: &mut AuditJob, name: &str, raw: Raw<'_>) -> Result<(), String> {
    if raw.is_absent() {
        return Ok(());
    }
    let job = &mut target.job;
    let by = &mut target.created_by;
    match normalize(name).as_str() {
        "reporttimeperiodstart" | "reporttimeperiodend" | "reporttimeperiod" => {}
        "region" => target.region = Some(raw.string()?),
        "accountid" => job.account_id = Some(raw.string()?),
        "copyjobid" => job.copy_job_id = Some(raw.string()?),
        "jobstatus" | "state" => job.state = Some(CopyJobState::from(raw.string()?.as_str())),
        "statusmessage" => job.status_message = Some(raw.string()?),
        "messagecategory" => job.message_category = Some(raw.string()?),
        "resourcetype" => job.resource_type = Some(raw.string()?),
        "resourcearn" => job.resource_arn = Some(raw.string()?),
        "resourcename" => job.resource_name = Some(raw.string()?),
        "backupplanarn" => by.backup_plan_arn = Some(raw.string()?),
        "backupplanid" => by.backup_plan_id = Some(raw.string()?),
        "backupplanname" => by.backup_plan_name = Some(raw.string()?),
        "backupplanversion" => by.backup_plan_version = Some(raw.string()?),
        "backupruleid" => by.backup_rule_id = Some(raw.string()?),
        "backuprulename" => by.backup_rule_name = Some(raw.string()?),
        "backuprulecron" | "backuprulescheduleexpression" | "backupruleschedule" => {
            by.backup_rule_cron = Some(raw.string()?)
        }
        "backupruletimezone" => by.backup_rule_timezone = Some(raw.string()?),
        "isparentjob" | "isparent" => job.is_parent = Some(raw.boolean()?),
        "parentjobid" => job.parent_job_id = Some(raw.string()?),
        "creationdate" => job.creation_date = Some(raw.timestamp()?),
        "completiondate" => job.completion_date = Some(raw.timestamp()?),
        "backupsizeinbytes" => job.backup_size_in_bytes = Some(raw.integer()?),
        "sourcerecoverypointarn" => job.source_recovery_point_arn = Some(raw.string()?),
        "sourcebackupvaultarn" => job.source_backup_vault_arn = Some(raw.string()?),
        "destinationrecoverypointarn" => job.destination_recovery_point_arn = Some(raw.string()?),
        "destinationbackupvaultarn" => job.destination_backup_vault_arn = Some(raw.string()?),
        "iamrolearn" => job.iam_role_arn = Some(raw.string()?),
        "createdbybackupjobid" => job.created_by_backup_job_id = Some(raw.string()?),
        _ => {
            target
                .extra
                .insert(name.trim().to_owned(), raw.into_value());
        }
    }
    Ok(())
}

impl AuditJob {
    pub(crate) fn finish(mut self, line: u64) -> AuditRecord {
        if !self.created_by.is_empty() {
            self.job.created_by = Some(self.created_by);
        }
        if !self.extra.is_empty() {
            // A map of JSON values always serializes.
            let _ = self
                .job
                .unknown_members
                .insert_value(EXTRA_MEMBER, &Value::Object(self.extra));
        }
        AuditRecord {
            job: self.job,
            region: self.region,
            line,
        }
    }
}

/// Counts lines and notes the line where each report item (an object at
/// depth 3: `{"reportItems": [{`) begins, as serde_json reads the bytes.
struct Tracker<R> {
    inner: R,
    line: u64,
    depth: u32,
    in_string: bool,
    escaped: bool,
    item_line: Rc<Cell<u64>>,
}

impl<R: Read> Read for Tracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.line += 1;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    if b == b'{' && self.depth == 3 {
                        self.item_line.set(self.line);
                    }
                }
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(n)
    }
}

/// Visits `{"reportItems": [...], ...}`, handing each item to `on_item`
/// as soon as it is read.
struct ReportVisitor<'a, F> {
    on_item: &'a mut F,
    item_line: Rc<Cell<u64>>,
}

impl<'de, F: FnMut(usize, u64, Value) -> bool> Visitor<'de> for ReportVisitor<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an Audit Manager report object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let on_item = self.on_item;
        while let Some(key) = map.next_key::<String>()? {
            if key == "reportItems" {
                map.next_value_seed(ItemsSeed {
                    on_item: &mut *on_item,
                    item_line: self.item_line.clone(),
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct ItemsSeed<'a, F> {
    on_item: &'a mut F,
    item_line: Rc<Cell<u64>>,
}

impl<'de, F: FnMut(usize, u64, Value) -> bool> DeserializeSeed<'de> for ItemsSeed<'_, F> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(usize, u64, Value) -> bool> Visitor<'de> for ItemsSeed<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of report items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(item) = seq.next_element::<Value>()? {
            if !(self.on_item)(index, self.item_line.get(), item) {
                return Err(de::Error::custom("the import stopped"));
            }
            index += 1;
        }
        Ok(())
    }
}

/// Reads an Audit Manager JSON report (`{"reportItems": [...]}`), handing
/// each item (or why it could not be read) to `on_item` as soon as it is
/// read. `on_item` returns [`ControlFlow::Break`] to stop early.
///
/// Broken JSON ends the file: the error is returned, after the items before it.
pub fn read_json<R: Read>(
    reader: R,
    mut on_item: impl FnMut(Result<AuditRecord, AuditError>) -> ControlFlow<()>,
) -> Result<(), AuditError> {
    let item_line = Rc::new(Cell::new(1));
    let tracker = Tracker {
        inner: reader,
        line: 1,
        depth: 0,
        in_string: false,
        escaped: false,
        item_line: item_line.clone(),
    };
    let stopped = Cell::new(false);
    let mut each = |index: usize, line: u64, item: Value| -> bool {
        let prefix = format!("reportItems[{index}]");
        let result = (|| {
            let Value::Object(members) = item else {
                return Err(AuditError::new(
                    line,
                    None,
                    prefix.clone(),
                    "expected a report item object",
                ));
            };
            let mut job = AuditJob::default();
            for (key, value) in members {
                audit_member(&mut job, &key, Raw::Json(value)).map_err(|message| {
                    AuditError::new(line, None, format!("{prefix}.{key}"), message)
                })?;
            }
            Ok(job.finish(line))
        })();
        let go_on = on_item(result).is_continue();
        if !go_on {
            stopped.set(true);
        }
        go_on
    };
    let mut de = serde_json::Deserializer::from_reader(tracker);
    let result = de::Deserializer::deserialize_map(
        &mut de,
        ReportVisitor {
            on_item: &mut each,
            item_line,
        },
    )
    .and_then(|()| de.end());
    match result {
        Err(_) if stopped.get() => Ok(()),
        Err(e) => {
            let message = e.to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(head, _)| head);
            Err(AuditError::new(
                e.line() as u64,
                Some(e.column() as u64),
                "",
                message,
            ))
        }
        Ok(()) => Ok(()),
    }
}

/// Reads an Audit Manager CSV report (a header row, then one job per row),
/// handing each row's job (or why it could not be read) to `on_item`, which
/// returns [`ControlFlow::Break`] to stop early. A row that cannot be read
/// is reported and the next is read; an I/O error ends the file.
#[cfg(feature = "csv")]
pub fn read_csv<R: Read>(
    reader: R,
    mut on_item: impl FnMut(Result<AuditRecord, AuditError>) -> ControlFlow<()>,
) -> Result<(), AuditError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| AuditError::new(1, None, "", format!("cannot read the header row: {e}")))?
        .clone();
    for record in csv.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(AuditError::new(line, None, "", e.to_string()));
                }
                if on_item(Err(AuditError::new(line, None, "", e.to_string()))).is_break() {
                    return Ok(());
                }
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let mut job = AuditJob::default();
        let mut result = Ok(());
        for (header, value) in headers.iter().zip(record.iter()) {
            if let Err(message) = audit_member(&mut job, header, Raw::Text(value)) {
                result = Err(AuditError::new(line, None, header.trim(), message));
                break;
            }
        }
        let item = result.map(|()| job.finish(line));
        if on_item(item).is_break() {
            return Ok(());
        }
    }
    Ok(())
}
