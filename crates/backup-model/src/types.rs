//! The structures of the DescribeCopyJob and ListCopyJobs responses.
//!
//! Every structure keeps the members this version does not know in
//! `unknown_members`, so decoding and encoding again loses nothing when AWS
//! adds a member. Serde is implemented by hand (through `api_struct!`) rather
//! than with `#[serde(flatten)]`, which would buffer every member and make
//! decoding several times slower.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::enums::{CopyJobState, LifecycleDeleteAfterEvent};
use crate::timestamp::Timestamp;

/// Members a structure received that this version of the model does not name,
/// by member name, with their JSON values as received.
pub type UnknownMembers = BTreeMap<String, serde_json::Value>;

/// Counts of a composite job's children by state.
pub type ChildJobsInState = BTreeMap<CopyJobState, i64>;

/// Writes a JSON value with the members of every object in name order.
///
/// `serde_json::Map` keeps insertion order when any crate in the build turns on
/// serde_json's `preserve_order` feature (the AWS SDK's HTTP client does), and
/// sorts otherwise. Sorting here keeps the canonical encoding of an unknown
/// member the same in every build, and the same for two inputs that differ
/// only in the order of a nested object's members.
struct Canonical<'a>(&'a serde_json::Value);

impl Serialize for Canonical<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            serde_json::Value::Object(members) => {
                let mut sorted: Vec<(&String, &serde_json::Value)> = members.iter().collect();
                // Names in a map are unique, so an unstable sort is deterministic.
                sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut map = serializer.serialize_map(Some(sorted.len()))?;
                for (key, value) in sorted {
                    map.serialize_entry(key, &Canonical(value))?;
                }
                map.end()
            }
            serde_json::Value::Array(items) => serializer.collect_seq(items.iter().map(Canonical)),
            other => other.serialize(serializer),
        }
    }
}

/// Whether to read member names through `D` as bytes rather than as text.
///
/// serde_json checks that every string it reads as text from a byte slice or a
/// reader is UTF-8; for member names that check was about a tenth of the work
/// of decoding a ListCopyJobs page. Read as bytes, a name comes back unescaped
/// but unchecked: a known name is then compared byte for byte, and only an
/// unknown one is checked (and copied).
///
/// That holds for serde_json's own deserializer only. Other formats treat
/// bytes in their own ways, and wrappers such as `serde_path_to_error` record
/// a member's name only when it is read as text, so every other deserializer
/// gets text. The test is on the type's name: if a compiler ever spells it
/// differently, names are read as text, which is only slower.
///
/// One difference is visible: serde_json does not reject a raw control
/// character inside a string it reads as bytes, so an unknown member whose
/// name holds one is kept (and written back escaped) rather than refused.
fn member_names_as_bytes<'de, D: Deserializer<'de>>() -> bool {
    std::any::type_name::<D>().starts_with("&mut serde_json::de::Deserializer<")
}

macro_rules! api_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $wire:literal => $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            /// Members this version of the model does not know, kept as received
            /// and written back after the known ones.
            pub unknown_members: UnknownMembers,
        }

        impl $name {
            /// The API member names this version knows, in the service model's order.
            pub const MEMBERS: &'static [&'static str] = &[$( $wire, )*];

            /// Whether no member at all, known or unknown, is present.
            pub fn is_empty(&self) -> bool {
                $( self.$field.is_none() && )* self.unknown_members.is_empty()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let len = 0 $( + usize::from(self.$field.is_some()) )* + self.unknown_members.len();
                let mut map = serializer.serialize_map(Some(len))?;
                $(
                    if let Some(value) = &self.$field {
                        map.serialize_entry($wire, value)?;
                    }
                )*
                for (key, value) in &self.unknown_members {
                    map.serialize_entry(key, &Canonical(value))?;
                }
                map.end()
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                #[allow(non_camel_case_types)]
                enum Member {
                    $( $field, )*
                    Unknown(String),
                }

                struct MemberVisitor;

                impl Visitor<'_> for MemberVisitor {
                    type Value = Member;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a member name")
                    }

                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Member, E> {
                        Ok(match v {
                            $( $wire => Member::$field, )*
                            other => Member::Unknown(other.to_owned()),
                        })
                    }

                    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Member, E> {
                        $( if v == $wire.as_bytes() { return Ok(Member::$field); } )*
                        // Only a name this version does not know is checked.
                        match std::str::from_utf8(v) {
                            Ok(name) => Ok(Member::Unknown(name.to_owned())),
                            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), &self)),
                        }
                    }
                }

                /// Reads a member name as bytes or as text (see `member_names_as_bytes`).
                struct MemberSeed {
                    as_bytes: bool,
                }

                impl<'de> de::DeserializeSeed<'de> for MemberSeed {
                    type Value = Member;

                    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Member, D::Error> {
                        // Out of line, so that the common path stays small
                        // enough for the compiler to inline into the loop.
                        #[cold]
                        #[inline(never)]
                        fn as_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Member, D::Error> {
                            deserializer.deserialize_str(MemberVisitor)
                        }

                        if self.as_bytes {
                            deserializer.deserialize_bytes(MemberVisitor)
                        } else {
                            as_text(deserializer)
                        }
                    }
                }

                struct StructVisitor {
                    names_as_bytes: bool,
                }

                impl<'de> Visitor<'de> for StructVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }

                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        let mut out = $name::default();
                        let seed = || MemberSeed { as_bytes: self.names_as_bytes };
                        while let Some(member) = map.next_key_seed(seed())? {
                            match member {
                                // A JSON null is read as an absent member.
                                $( Member::$field => out.$field = map.next_value()?, )*
                                Member::Unknown(key) => {
                                    let value: serde_json::Value = map.next_value()?;
                                    out.unknown_members.insert(key, value);
                                }
                            }
                        }
                        Ok(out)
                    }
                }

                deserializer.deserialize_map(StructVisitor {
                    names_as_bytes: member_names_as_bytes::<D>(),
                })
            }
        }
    };
}

api_struct! {
    /// One copy job: the copy of a recovery point from a source backup vault to a
    /// destination vault, possibly in another region or account.
    ///
    /// Every member is optional, as in the service model: AWS omits what does
    /// not apply (a running job has no `CompletionDate`).
    pub struct CopyJob {
        /// The account that owns the copy job (12 digits).
        "AccountId" => account_id: String,
        /// The size of the copied recovery point, in bytes.
        "BackupSizeInBytes" => backup_size_in_bytes: i64,
        /// For a composite (parent) job: how many of its children are in each state.
        "ChildJobsInState" => child_jobs_in_state: ChildJobsInState,
        /// When the copy finished, successfully or not.
        "CompletionDate" => completion_date: Timestamp,
        /// For a member of a composite job: which member resource it copies
        /// (for example a CloudFormation logical id).
        "CompositeMemberIdentifier" => composite_member_identifier: String,
        /// The identifier AWS gives the copy job.
        "CopyJobId" => copy_job_id: String,
        /// The backup plan and rule that made the recovery point being copied.
        "CreatedBy" => created_by: RecoveryPointCreator,
        /// The backup job that made the source recovery point.
        "CreatedByBackupJobId" => created_by_backup_job_id: String,
        /// When the copy job was created.
        "CreationDate" => creation_date: Timestamp,
        /// The vault the recovery point is copied to.
        "DestinationBackupVaultArn" => destination_backup_vault_arn: String,
        /// The KMS key that encrypts the copy in the destination vault.
        "DestinationEncryptionKeyArn" => destination_encryption_key_arn: String,
        /// The recovery point the copy produced in the destination vault.
        "DestinationRecoveryPointArn" => destination_recovery_point_arn: String,
        /// When the copy moves to cold storage and when it is deleted.
        "DestinationRecoveryPointLifecycle" => destination_recovery_point_lifecycle: Lifecycle,
        /// The lock state of the destination vault (for example `LOCKED`).
        "DestinationVaultLockState" => destination_vault_lock_state: String,
        /// The kind of destination vault (for example `BACKUP_VAULT` or
        /// `LOGICALLY_AIR_GAPPED_BACKUP_VAULT`).
        "DestinationVaultType" => destination_vault_type: String,
        /// The IAM role AWS Backup used to copy.
        "IamRoleArn" => iam_role_arn: String,
        /// Whether this is a composite job with child jobs.
        "IsParent" => is_parent: bool,
        /// A category of the job's status message, for grouping failures.
        "MessageCategory" => message_category: String,
        /// For a composite job: how many child jobs it has.
        "NumberOfChildJobs" => number_of_child_jobs: i64,
        /// For a child job: the composite job it belongs to.
        "ParentJobId" => parent_job_id: String,
        /// The resource whose recovery point is copied.
        "ResourceArn" => resource_arn: String,
        /// A readable name of that resource.
        "ResourceName" => resource_name: String,
        /// The kind of resource (`EC2`, `EBS`, `RDS`, `S3`, ...).
        "ResourceType" => resource_type: String,
        /// The vault the recovery point is copied from.
        "SourceBackupVaultArn" => source_backup_vault_arn: String,
        /// The recovery point being copied.
        "SourceRecoveryPointArn" => source_recovery_point_arn: String,
        /// Where the job is in its life.
        "State" => state: CopyJobState,
        /// AWS's explanation of the state, set mostly on failure.
        "StatusMessage" => status_message: String,
    }
}

api_struct! {
    /// The backup plan and rule that created a recovery point.
    pub struct RecoveryPointCreator {
        /// The backup plan's ARN.
        "BackupPlanArn" => backup_plan_arn: String,
        /// The backup plan's identifier.
        "BackupPlanId" => backup_plan_id: String,
        /// The backup plan's name.
        "BackupPlanName" => backup_plan_name: String,
        /// The version of the backup plan in force.
        "BackupPlanVersion" => backup_plan_version: String,
        /// The cron expression of the rule's schedule.
        "BackupRuleCron" => backup_rule_cron: String,
        /// The rule's identifier.
        "BackupRuleId" => backup_rule_id: String,
        /// The rule's name.
        "BackupRuleName" => backup_rule_name: String,
        /// The time zone of the rule's schedule.
        "BackupRuleTimezone" => backup_rule_timezone: String,
    }
}

api_struct! {
    /// When a recovery point moves to cold storage and when it is deleted.
    pub struct Lifecycle {
        /// Days after creation before the recovery point is deleted.
        "DeleteAfterDays" => delete_after_days: i64,
        /// An event after which the recovery point is deleted.
        "DeleteAfterEvent" => delete_after_event: LifecycleDeleteAfterEvent,
        /// Days after creation before the recovery point moves to cold storage.
        "MoveToColdStorageAfterDays" => move_to_cold_storage_after_days: i64,
        /// Whether resources that support it go to the archive tier.
        "OptInToArchiveForSupportedResources" => opt_in_to_archive_for_supported_resources: bool,
    }
}

api_struct! {
    /// The body of a DescribeCopyJob response (and of `aws backup describe-copy-job`).
    pub struct DescribeCopyJobOutput {
        /// The job described.
        "CopyJob" => copy_job: CopyJob,
    }
}

api_struct! {
    /// The body of one ListCopyJobs page (and of `aws backup list-copy-jobs`).
    pub struct ListCopyJobsOutput {
        /// The jobs on this page.
        "CopyJobs" => copy_jobs: Vec<CopyJob>,
        /// Present when more pages follow: pass it back to get the next one.
        "NextToken" => next_token: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_follow_the_service_model() {
        assert_eq!(CopyJob::MEMBERS.len(), 27);
        assert_eq!(RecoveryPointCreator::MEMBERS.len(), 8);
        assert_eq!(Lifecycle::MEMBERS.len(), 4);
    }

    #[test]
    fn null_reads_as_absent_and_unknown_members_survive() {
        let job: CopyJob = serde_json::from_str(
            r#"{"CopyJobId":"a","StatusMessage":null,"NewThing":{"b":[1,2]},"CreatedBy":{"Extra":true}}"#,
        )
        .unwrap();
        assert_eq!(job.copy_job_id.as_deref(), Some("a"));
        assert_eq!(job.status_message, None);
        assert_eq!(
            serde_json::to_string(&job).unwrap(),
            r#"{"CopyJobId":"a","CreatedBy":{"Extra":true},"NewThing":{"b":[1,2]}}"#
        );
    }
}
