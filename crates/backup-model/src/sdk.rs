//! Conversions from the official SDK's types (the `aws-sdk` feature).
//!
//! The SDK keeps only the members it was generated with, so a job converted
//! from it has no `unknown_members`; decode the raw response body with this
//! crate when newer members must be kept. The SDK also reads `IsParent` as a
//! plain `bool`, so an absent `IsParent` converts to `Some(false)`.
//!
//! So a converted job has the content form of the raw body only when the body
//! held nothing the SDK drops (tested below): never hash or store a converted
//! job where the raw body is at hand, as backup-fetch decodes the captured
//! body of every response.

use aws_sdk_backup::operation::describe_copy_job::DescribeCopyJobOutput as SdkDescribeOutput;
use aws_sdk_backup::operation::list_copy_jobs::ListCopyJobsOutput as SdkListOutput;
use aws_sdk_backup::types as sdk;
use aws_smithy_types::DateTime;

use crate::{
    CopyJob, CopyJobState, DescribeCopyJobOutput, Lifecycle, LifecycleDeleteAfterEvent,
    ListCopyJobsOutput, RecoveryPointCreator, Timestamp,
};

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

/// Rounds the SDK's nanosecond `DateTime` to the millisecond: the SDK reads
/// `1516925490.087` as `...30.086999893`, which must stay `.087`.
fn timestamp(t: Option<&DateTime>) -> Option<Timestamp> {
    t.and_then(|t| Timestamp::from_secs_nanos(t.secs(), t.subsec_nanos()).ok())
}

impl From<&sdk::CopyJobState> for CopyJobState {
    fn from(s: &sdk::CopyJobState) -> Self {
        CopyJobState::from(s.as_str())
    }
}

impl From<&sdk::RecoveryPointCreator> for RecoveryPointCreator {
    fn from(c: &sdk::RecoveryPointCreator) -> Self {
        RecoveryPointCreator {
            backup_plan_arn: owned(c.backup_plan_arn()),
            backup_plan_id: owned(c.backup_plan_id()),
            backup_plan_name: owned(c.backup_plan_name()),
            backup_plan_version: owned(c.backup_plan_version()),
            backup_rule_cron: owned(c.backup_rule_cron()),
            backup_rule_id: owned(c.backup_rule_id()),
            backup_rule_name: owned(c.backup_rule_name()),
            backup_rule_timezone: owned(c.backup_rule_timezone()),
            unknown_members: Default::default(),
        }
    }
}

impl From<&sdk::Lifecycle> for Lifecycle {
    fn from(l: &sdk::Lifecycle) -> Self {
        Lifecycle {
            delete_after_days: l.delete_after_days(),
            delete_after_event: l
                .delete_after_event()
                .map(|e| LifecycleDeleteAfterEvent::from(e.as_str())),
            move_to_cold_storage_after_days: l.move_to_cold_storage_after_days(),
            opt_in_to_archive_for_supported_resources: l
                .opt_in_to_archive_for_supported_resources(),
            unknown_members: Default::default(),
        }
    }
}

impl From<&sdk::CopyJob> for CopyJob {
    fn from(j: &sdk::CopyJob) -> Self {
        CopyJob {
            account_id: owned(j.account_id()),
            backup_size_in_bytes: j.backup_size_in_bytes(),
            child_jobs_in_state: j.child_jobs_in_state().map(|m| {
                m.iter()
                    .map(|(state, count)| (CopyJobState::from(state), *count))
                    .collect()
            }),
            completion_date: timestamp(j.completion_date()),
            composite_member_identifier: owned(j.composite_member_identifier()),
            copy_job_id: owned(j.copy_job_id()),
            created_by: j.created_by().map(RecoveryPointCreator::from),
            created_by_backup_job_id: owned(j.created_by_backup_job_id()),
            creation_date: timestamp(j.creation_date()),
            destination_backup_vault_arn: owned(j.destination_backup_vault_arn()),
            destination_encryption_key_arn: owned(j.destination_encryption_key_arn()),
            destination_recovery_point_arn: owned(j.destination_recovery_point_arn()),
            destination_recovery_point_lifecycle: j
                .destination_recovery_point_lifecycle()
                .map(Lifecycle::from),
            destination_vault_lock_state: owned(j.destination_vault_lock_state()),
            destination_vault_type: owned(j.destination_vault_type()),
            iam_role_arn: owned(j.iam_role_arn()),
            is_parent: Some(j.is_parent()),
            message_category: owned(j.message_category()),
            number_of_child_jobs: j.number_of_child_jobs(),
            parent_job_id: owned(j.parent_job_id()),
            resource_arn: owned(j.resource_arn()),
            resource_name: owned(j.resource_name()),
            resource_type: owned(j.resource_type()),
            source_backup_vault_arn: owned(j.source_backup_vault_arn()),
            source_recovery_point_arn: owned(j.source_recovery_point_arn()),
            state: j.state().map(CopyJobState::from),
            status_message: owned(j.status_message()),
            unknown_members: Default::default(),
        }
    }
}

impl From<sdk::CopyJob> for CopyJob {
    fn from(j: sdk::CopyJob) -> Self {
        CopyJob::from(&j)
    }
}

impl From<&SdkDescribeOutput> for DescribeCopyJobOutput {
    fn from(out: &SdkDescribeOutput) -> Self {
        DescribeCopyJobOutput {
            copy_job: out.copy_job().map(CopyJob::from),
            unknown_members: Default::default(),
        }
    }
}

impl From<&SdkListOutput> for ListCopyJobsOutput {
    fn from(out: &SdkListOutput) -> Self {
        ListCopyJobsOutput {
            copy_jobs: out
                .copy_jobs
                .as_ref()
                .map(|jobs| jobs.iter().map(CopyJob::from).collect()),
            next_token: owned(out.next_token()),
            unknown_members: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_float_dates_keep_their_millisecond() {
        let job = sdk::CopyJob::builder()
            .copy_job_id("c1")
            .creation_date(DateTime::from_secs_f64(1516925490.087))
            .state(sdk::CopyJobState::Completed)
            .build();
        let ours = CopyJob::from(&job);
        assert_eq!(
            ours.creation_date.unwrap().to_string(),
            "2018-01-26T00:11:30.087Z"
        );
        assert_eq!(ours.state, Some(CopyJobState::Completed));
    }

    fn form(job: &CopyJob) -> String {
        let mut out = Vec::new();
        job.write_content_form(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_sdk_path_agrees_with_the_raw_path_on_what_the_sdk_keeps() {
        let raw = r#"{"CopyJobId":"c1","State":"COMPLETED","CreationDate":1516925490.087,
            "IsParent":false,"BackupSizeInBytes":5,"ChildJobsInState":{"RUNNING":1,"COMPLETED":2},
            "CreatedBy":{"BackupPlanId":"p"},"DestinationRecoveryPointLifecycle":{"DeleteAfterDays":7}}"#;
        let from_raw: CopyJob = serde_json::from_str(raw).unwrap();
        let sdk_job = sdk::CopyJob::builder()
            .copy_job_id("c1")
            .state(sdk::CopyJobState::Completed)
            .creation_date(DateTime::from_secs_f64(1516925490.087))
            .is_parent(false)
            .backup_size_in_bytes(5)
            .child_jobs_in_state(sdk::CopyJobState::Running, 1)
            .child_jobs_in_state(sdk::CopyJobState::Completed, 2)
            .created_by(
                sdk::RecoveryPointCreator::builder()
                    .backup_plan_id("p")
                    .build(),
            )
            .destination_recovery_point_lifecycle(
                sdk::Lifecycle::builder().delete_after_days(7).build(),
            )
            .build();
        let from_sdk = CopyJob::from(&sdk_job);
        assert_eq!(form(&from_sdk), form(&from_raw));

        // What the SDK drops makes the two differ: a member newer than the
        // SDK, or an IsParent the body did not have.
        let newer: CopyJob =
            serde_json::from_str(&raw.replacen('{', r#"{"NewMember":1,"#, 1)).unwrap();
        assert_ne!(form(&from_sdk), form(&newer));
        let without: CopyJob =
            serde_json::from_str(&raw.replace(r#""IsParent":false,"#, "")).unwrap();
        assert_ne!(form(&from_sdk), form(&without));
    }
}
