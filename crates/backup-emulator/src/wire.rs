//! The rest-json wire encoding of copy jobs.
//!
//! The model's own encoding writes timestamps as RFC 3339 strings (the form
//! the database and the CLI use); AWS sends epoch seconds as JSON numbers
//! (`1516925490.087`), so the emulator writes bodies itself. Writing bytes
//! directly, member by member, also keeps a 1000-job page to a few
//! milliseconds, which matters when benchmarks list a hundred thousand jobs.

use std::io::Write;

use backup_model::{CopyJob, Lifecycle, RecoveryPointCreator, Timestamp, UnknownMembers};

/// How a body is written; `size_as_string` breaks it on purpose (a fault);
/// `spaced` writes a space after each `,` and `:` between a job's members:
/// the same jobs in other text, as another JSON writer would send them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WireOptions {
    pub size_as_string: bool,
    pub spaced: bool,
}

/// `{"CopyJobs":[...],"NextToken":"..."}`
pub(crate) fn list_body(jobs: &[CopyJob], next_token: Option<&str>, opts: WireOptions) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + jobs.len() * 2300);
    out.extend_from_slice(b"{\"CopyJobs\":[");
    for (i, job) in jobs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_job(&mut out, job, opts);
    }
    out.push(b']');
    if let Some(token) = next_token {
        out.extend_from_slice(b",\"NextToken\":");
        write_str(&mut out, token);
    }
    out.push(b'}');
    out
}

/// `{"CopyJob":{...}}`
pub(crate) fn describe_body(job: &CopyJob) -> Vec<u8> {
    let mut out = Vec::with_capacity(2400);
    out.extend_from_slice(b"{\"CopyJob\":");
    write_job(&mut out, job, WireOptions::default());
    out.push(b'}');
    out
}

/// Writes the members of an object one at a time, with commas between.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    spaced: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj {
            out,
            first: true,
            spaced: false,
        }
    }

    fn separator(&mut self) {
        if !self.first {
            self.out
                .extend_from_slice(if self.spaced { b", " } else { b"," });
        }
        self.first = false;
    }

    fn colon(&mut self) {
        self.out
            .extend_from_slice(if self.spaced { b": " } else { b":" });
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        self.separator();
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.push(b'"');
        self.colon();
        self.out
    }

    fn str(&mut self, key: &str, value: &Option<String>) {
        if let Some(v) = value {
            write_str(self.key(key), v);
        }
    }

    fn long(&mut self, key: &str, value: Option<i64>) {
        if let Some(v) = value {
            let out = self.key(key);
            let _ = write!(out, "{v}");
        }
    }

    fn bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(v) = value {
            let text: &[u8] = if v { b"true" } else { b"false" };
            self.key(key).extend_from_slice(text);
        }
    }

    fn time(&mut self, key: &str, value: Option<Timestamp>) {
        if let Some(t) = value {
            write_epoch(self.key(key), t);
        }
    }

    fn unknown(&mut self, members: &UnknownMembers) {
        for (key, value) in members {
            self.separator();
            // Names received from elsewhere may need escaping, unlike ours.
            write_str(self.out, key);
            self.colon();
            let _ = serde_json::to_writer(&mut *self.out, value);
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn write_job(out: &mut Vec<u8>, job: &CopyJob, opts: WireOptions) {
    let mut o = Obj::open(out);
    o.spaced = opts.spaced;
    o.str("AccountId", &job.account_id);
    if let Some(size) = job.backup_size_in_bytes {
        if opts.size_as_string {
            write_str(o.key("BackupSizeInBytes"), &size.to_string());
        } else {
            o.long("BackupSizeInBytes", Some(size));
        }
    }
    if let Some(counts) = &job.child_jobs_in_state {
        let mut m = Obj::open(o.key("ChildJobsInState"));
        for (state, n) in counts {
            m.long(state.as_str(), Some(*n));
        }
        m.close();
    }
    o.time("CompletionDate", job.completion_date);
    o.str(
        "CompositeMemberIdentifier",
        &job.composite_member_identifier,
    );
    o.str("CopyJobId", &job.copy_job_id);
    if let Some(c) = &job.created_by {
        write_creator(o.key("CreatedBy"), c);
    }
    o.str("CreatedByBackupJobId", &job.created_by_backup_job_id);
    o.time("CreationDate", job.creation_date);
    o.str(
        "DestinationBackupVaultArn",
        &job.destination_backup_vault_arn,
    );
    o.str(
        "DestinationEncryptionKeyArn",
        &job.destination_encryption_key_arn,
    );
    o.str(
        "DestinationRecoveryPointArn",
        &job.destination_recovery_point_arn,
    );
    if let Some(l) = &job.destination_recovery_point_lifecycle {
        write_lifecycle(o.key("DestinationRecoveryPointLifecycle"), l);
    }
    o.str(
        "DestinationVaultLockState",
        &job.destination_vault_lock_state,
    );
    o.str("DestinationVaultType", &job.destination_vault_type);
    o.str("IamRoleArn", &job.iam_role_arn);
    o.bool("IsParent", job.is_parent);
    o.str("MessageCategory", &job.message_category);
    o.long("NumberOfChildJobs", job.number_of_child_jobs);
    o.str("ParentJobId", &job.parent_job_id);
    o.str("ResourceArn", &job.resource_arn);
    o.str("ResourceName", &job.resource_name);
    o.str("ResourceType", &job.resource_type);
    o.str("SourceBackupVaultArn", &job.source_backup_vault_arn);
    o.str("SourceRecoveryPointArn", &job.source_recovery_point_arn);
    if let Some(state) = &job.state {
        write_str(o.key("State"), state.as_str());
    }
    o.str("StatusMessage", &job.status_message);
    o.unknown(&job.unknown_members);
    o.close();
}

fn write_creator(out: &mut Vec<u8>, c: &RecoveryPointCreator) {
    let mut o = Obj::open(out);
    o.str("BackupPlanArn", &c.backup_plan_arn);
    o.str("BackupPlanId", &c.backup_plan_id);
    o.str("BackupPlanName", &c.backup_plan_name);
    o.str("BackupPlanVersion", &c.backup_plan_version);
    o.str("BackupRuleCron", &c.backup_rule_cron);
    o.str("BackupRuleId", &c.backup_rule_id);
    o.str("BackupRuleName", &c.backup_rule_name);
    o.str("BackupRuleTimezone", &c.backup_rule_timezone);
    o.unknown(&c.unknown_members);
    o.close();
}

fn write_lifecycle(out: &mut Vec<u8>, l: &Lifecycle) {
    let mut o = Obj::open(out);
    o.long("DeleteAfterDays", l.delete_after_days);
    if let Some(e) = &l.delete_after_event {
        write_str(o.key("DeleteAfterEvent"), e.as_str());
    }
    o.long(
        "MoveToColdStorageAfterDays",
        l.move_to_cold_storage_after_days,
    );
    o.bool(
        "OptInToArchiveForSupportedResources",
        l.opt_in_to_archive_for_supported_resources,
    );
    o.unknown(&l.unknown_members);
    o.close();
}

/// Epoch seconds with the milliseconds as a fraction, trailing zeros dropped
/// (`1516925490.087`, `1516925490.5`, `1516925490`), as AWS writes them.
pub(crate) fn write_epoch(out: &mut Vec<u8>, t: Timestamp) {
    let ms = t.as_millis();
    if ms < 0 {
        out.push(b'-');
    }
    let abs = ms.unsigned_abs();
    let (secs, frac) = (abs / 1000, abs % 1000);
    let _ = write!(out, "{secs}");
    if frac != 0 {
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = if frac % 100 == 0 {
            1
        } else if frac % 10 == 0 {
            2
        } else {
            3
        };
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
}

/// A JSON string. Synthetic values never need escaping, so plain text is
/// copied as is and only text with quotes, backslashes or control characters
/// goes through serde_json.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backup_model::{decode_all, CopyJobState};

    fn epoch(ms: i64) -> String {
        let mut out = Vec::new();
        write_epoch(&mut out, Timestamp::from_millis(ms).unwrap());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timestamps_are_numbers_with_milliseconds() {
        assert_eq!(epoch(1_516_925_490_087), "1516925490.087");
        assert_eq!(epoch(1_516_925_490_500), "1516925490.5");
        assert_eq!(epoch(1_516_925_490_050), "1516925490.05");
        assert_eq!(epoch(1_516_925_490_000), "1516925490");
        assert_eq!(epoch(-1_500), "-1.5");
        assert_eq!(epoch(0), "0");
    }

    #[test]
    fn bodies_decode_back_to_the_same_jobs() {
        let mut unknown = UnknownMembers::new();
        unknown
            .insert_json("New\"Member", r#"{"a": [1, 2]}"#)
            .unwrap();
        let mut created_by = RecoveryPointCreator::default();
        created_by.backup_plan_id = Some("p".into());
        let mut lifecycle = Lifecycle::default();
        lifecycle.delete_after_days = Some(35);
        lifecycle.opt_in_to_archive_for_supported_resources = Some(true);
        let mut job = CopyJob::default();
        job.copy_job_id = Some("id-\"quoted\"\n".into());
        job.backup_size_in_bytes = Some(42);
        job.creation_date = Some(Timestamp::from_millis(1_516_925_490_087).unwrap());
        job.state = Some(CopyJobState::from("SOMETHING_NEW"));
        job.is_parent = Some(false);
        job.child_jobs_in_state = Some([(CopyJobState::Completed, 2)].into_iter().collect());
        job.created_by = Some(created_by);
        job.destination_recovery_point_lifecycle = Some(lifecycle);
        job.unknown_members = unknown;
        let body = list_body(
            std::slice::from_ref(&job),
            Some("tok"),
            WireOptions::default(),
        );
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["NextToken"], "tok");
        assert!(value["CopyJobs"][0]["CreationDate"].is_number());
        assert_eq!(decode_all(&body).unwrap(), vec![job.clone()]);
        assert_eq!(decode_all(&describe_body(&job)).unwrap(), vec![job.clone()]);

        // Spaced: other text, the same job.
        let spaced = list_body(
            std::slice::from_ref(&job),
            Some("tok"),
            WireOptions {
                spaced: true,
                ..WireOptions::default()
            },
        );
        assert_ne!(spaced, body);
        assert!(String::from_utf8_lossy(&spaced).contains(r#""BackupSizeInBytes": 42, "#));
        assert_eq!(decode_all(&spaced).unwrap(), vec![job.clone()]);

        let broken = list_body(
            &[job],
            None,
            WireOptions {
                size_as_string: true,
                ..WireOptions::default()
            },
        );
        let value: serde_json::Value = serde_json::from_slice(&broken).unwrap();
        assert_eq!(value["CopyJobs"][0]["BackupSizeInBytes"], "42");
        assert!(value.get("NextToken").is_none());
    }
}
