//! The structures of the DescribeCopyJob and ListCopyJobs responses.
//!
//! Every structure keeps the members this version does not know in
//! `unknown_members`, exactly as sent, so decoding and encoding again loses
//! nothing when AWS adds a member. Serde is implemented by hand (through
//! `api_struct!`) rather than with `#[serde(flatten)]`, which would buffer
//! every member and make decoding several times slower.
//!
//! The structures are `#[non_exhaustive]`: AWS adds members, and a new field
//! must not break code that builds a structure. Build one with `Default` and
//! the `with_*` methods (or assign fields of a default value).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

use crate::enums::{CopyJobState, LifecycleDeleteAfterEvent};
use crate::raw;
use crate::timestamp::Timestamp;

/// Members a structure received that this version of the model does not
/// name, by member name, each with its JSON value exactly as received (white
/// space outside strings removed): numbers keep every digit, nested objects
/// keep their members' order.
#[derive(Clone, Default)]
pub struct UnknownMembers(BTreeMap<String, Box<RawValue>>);

impl UnknownMembers {
    /// No members.
    pub fn new() -> Self {
        UnknownMembers(BTreeMap::new())
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a member of that name is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The JSON text of a member's value, as received.
    pub fn get(&self, name: &str) -> Option<&RawValue> {
        self.0.get(name).map(|raw| &**raw)
    }

    /// A member's value parsed as a [`serde_json::Value`]. Numbers that do
    /// not fit an `f64` exactly lose precision there; [`get`](Self::get)
    /// gives the exact text.
    pub fn value(&self, name: &str) -> Option<serde_json::Value> {
        self.get(name)
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// Adds or replaces a member with JSON text (white space outside strings
    /// is removed). Returns the value it replaced.
    ///
    /// Fails when the text is not one JSON value or has an object with two
    /// members of the same name.
    pub fn insert_json(
        &mut self,
        name: impl Into<String>,
        json: &str,
    ) -> Result<Option<Box<RawValue>>, UnknownMemberError> {
        let raw = raw::checked(json).map_err(UnknownMemberError)?;
        Ok(self.0.insert(name.into(), raw))
    }

    /// Adds or replaces a member with a serializable value (for example a
    /// [`serde_json::Value`]). Returns the value it replaced.
    pub fn insert_value<T: Serialize + ?Sized>(
        &mut self,
        name: impl Into<String>,
        value: &T,
    ) -> Result<Option<Box<RawValue>>, UnknownMemberError> {
        let json = serde_json::to_string(value).map_err(|e| UnknownMemberError(e.to_string()))?;
        self.insert_json(name, &json)
    }

    /// Removes a member, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<Box<RawValue>> {
        self.0.remove(name)
    }

    /// The members by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &RawValue)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), &**v))
    }

    /// Adds a member decoded from the input: a name seen twice is an error.
    fn insert_decoded(&mut self, name: String, raw: Box<RawValue>) -> Result<(), String> {
        use std::collections::btree_map::Entry;
        match self.0.entry(name) {
            Entry::Occupied(entry) => Err(entry.key().clone()),
            Entry::Vacant(entry) => {
                entry.insert(raw);
                Ok(())
            }
        }
    }
}

impl fmt::Debug for UnknownMembers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v.get())))
            .finish()
    }
}

impl PartialEq for UnknownMembers {
    /// Equal when the same names have the same JSON values: the order of
    /// members inside an object and the spelling of a number (`1.0e2`,
    /// `100`) do not count, as they do not in PostgreSQL's jsonb.
    fn eq(&self, other: &Self) -> bool {
        let same = |a: &RawValue, b: &RawValue| {
            if a.get() == b.get() {
                return true;
            }
            let (mut fa, mut fb) = (Vec::new(), Vec::new());
            crate::content::write_value_form(a.get().as_bytes(), &mut fa).is_ok()
                && crate::content::write_value_form(b.get().as_bytes(), &mut fb).is_ok()
                && fa == fb
        };
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(other.0.iter())
                .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
    }
}

impl Eq for UnknownMembers {}

impl Serialize for UnknownMembers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter())
    }
}

impl<'a> IntoIterator for &'a UnknownMembers {
    type Item = (&'a str, &'a RawValue);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a RawValue)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Why a value could not be kept as an unknown member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMemberError(String);

impl fmt::Display for UnknownMemberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnknownMemberError {}

/// Counts of a composite job's children by state.
pub type ChildJobsInState = BTreeMap<CopyJobState, i64>;

/// The text of the error a duplicate member name raises; the decoder turns
/// the path after it into the error's member path.
pub(crate) const DUPLICATE_MEMBER: &str = "duplicate member name: ";

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

/// Reads an unknown member's value and keeps its text: exact, checked for
/// duplicate member names, white space removed.
pub(crate) fn unknown_value<'de, A: MapAccess<'de>>(
    map: &mut A,
    name: &str,
) -> Result<Box<RawValue>, A::Error> {
    let raw: Box<RawValue> = map.next_value()?;
    raw::tidy(raw).map_err(|path| {
        de::Error::custom(format_args!("{DUPLICATE_MEMBER}{}", raw::join(name, &path)))
    })
}

/// Whether a value holds an unknown member named as a known one.
trait ShadowsKnown {
    fn shadows(&self) -> bool {
        false
    }
}

impl ShadowsKnown for String {}
impl ShadowsKnown for i64 {}
impl ShadowsKnown for bool {}
impl ShadowsKnown for Timestamp {}
impl ShadowsKnown for CopyJobState {}
impl ShadowsKnown for LifecycleDeleteAfterEvent {}
impl ShadowsKnown for ChildJobsInState {}

impl<T: ShadowsKnown> ShadowsKnown for Vec<T> {
    fn shadows(&self) -> bool {
        self.iter().any(ShadowsKnown::shadows)
    }
}

/// How the value of a known member is read.
trait Known: Sized {
    fn read<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Self>, A::Error>;
}

macro_rules! known_by_serde {
    ($($ty:ty),*) => {
        $(
            impl Known for $ty {
                fn read<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Self>, A::Error> {
                    map.next_value()
                }
            }
        )*
    };
}

known_by_serde!(
    String,
    i64,
    bool,
    Timestamp,
    CopyJobState,
    LifecycleDeleteAfterEvent,
    RecoveryPointCreator,
    Lifecycle,
    CopyJob,
    Vec<CopyJob>
);

impl Known for ChildJobsInState {
    /// As serde reads a map, but a state named twice is an error.
    fn read<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Self>, A::Error> {
        struct Counts(ChildJobsInState);

        impl<'de> Deserialize<'de> for Counts {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct CountsVisitor;

                impl<'de> Visitor<'de> for CountsVisitor {
                    type Value = Counts;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a map of copy job states to counts")
                    }

                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Counts, A::Error> {
                        let mut out = ChildJobsInState::new();
                        while let Some(state) = map.next_key::<CopyJobState>()? {
                            let count: i64 = map.next_value()?;
                            if out.contains_key(&state) {
                                return Err(de::Error::custom(format_args!(
                                    "{DUPLICATE_MEMBER}{}",
                                    state.as_str()
                                )));
                            }
                            out.insert(state, count);
                        }
                        Ok(Counts(out))
                    }
                }

                deserializer.deserialize_map(CountsVisitor)
            }
        }

        Ok(map.next_value::<Option<Counts>>()?.map(|c| c.0))
    }
}

macro_rules! api_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $wire:literal => $field:ident / $setter:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            /// Members this version of the model does not know, kept as received
            /// and written back after the known ones.
            pub unknown_members: UnknownMembers,
        }

        impl $name {
            /// The API member names this version knows, in the service model's order.
            pub const MEMBERS: &'static [&'static str] = &[$( $wire, )*];

            /// An empty structure (no member present); add members with the
            /// `with_*` methods.
            pub fn new() -> Self {
                Self::default()
            }

            $(
                #[doc = concat!("This structure with `", $wire, "` set.")]
                #[must_use]
                pub fn $setter(mut self, value: impl Into<$ty>) -> Self {
                    self.$field = Some(value.into());
                    self
                }
            )*

            /// This structure with an unknown member added, its value given as
            /// JSON text. Fails when the text is not one JSON value.
            pub fn with_unknown_member(
                mut self,
                name: impl Into<String>,
                json: &str,
            ) -> Result<Self, UnknownMemberError> {
                self.unknown_members.insert_json(name, json)?;
                Ok(self)
            }

            /// Whether no member at all, known or unknown, is present.
            pub fn is_empty(&self) -> bool {
                $( self.$field.is_none() && )* self.unknown_members.is_empty()
            }
        }

        impl $name {
            /// Whether an unknown member has the name of a known one (only a
            /// builder can make such a structure), here or in a member.
            pub(crate) fn shadows_known_member(&self) -> bool {
                self.unknown_members.iter().any(|(name, _)| Self::MEMBERS.contains(&name))
                    $( || self.$field.as_ref().is_some_and(|v| ShadowsKnown::shadows(v)) )*
            }
        }

        impl ShadowsKnown for $name {
            fn shadows(&self) -> bool {
                self.shadows_known_member()
            }
        }

        impl crate::content::WriteContent for $name {
            /// Known members are declared in the byte order of their names
            /// (a test checks it), so merging them with the unknown members
            /// (a sorted map) gives every member in order.
            fn write_content(&self, out: &mut Vec<u8>) {
                let mut unknown = self.unknown_members.iter().peekable();
                let mut first = true;
                let mut scratch = Vec::new();
                out.push(b'{');
                $(
                    if let Some(value) = &self.$field {
                        while let Some((name, raw)) =
                            unknown.next_if(|(name, _)| name.as_bytes() < $wire.as_bytes())
                        {
                            crate::content::write_unknown_member(&mut first, name, raw, &mut scratch, out);
                        }
                        crate::content::write_known_name(&mut first, concat!("\"", $wire, "\":"), out);
                        crate::content::WriteContent::write_content(value, out);
                    }
                )*
                for (name, raw) in unknown {
                    crate::content::write_unknown_member(&mut first, name, raw, &mut scratch, out);
                }
                out.push(b'}');
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
                for (key, value) in self.unknown_members.iter() {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                /// The known members, numbered from 0 for the set of members seen.
                #[allow(non_camel_case_types)]
                #[derive(Clone, Copy)]
                #[repr(u8)]
                enum Field {
                    $( $field, )*
                }

                enum Member {
                    Known(Field),
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
                            $( $wire => Member::Known(Field::$field), )*
                            other => Member::Unknown(other.to_owned()),
                        })
                    }

                    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Member, E> {
                        $( if v == $wire.as_bytes() { return Ok(Member::Known(Field::$field)); } )*
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
                        let mut seen = 0u64;
                        let seed = || MemberSeed { as_bytes: self.names_as_bytes };
                        while let Some(member) = map.next_key_seed(seed())? {
                            match member {
                                Member::Known(field) => {
                                    let bit = 1u64 << (field as u8);
                                    if seen & bit != 0 {
                                        let wire = match field { $( Field::$field => $wire, )* };
                                        return Err(de::Error::custom(format_args!(
                                            "{DUPLICATE_MEMBER}{wire}"
                                        )));
                                    }
                                    seen |= bit;
                                    match field {
                                        // A JSON null is read as an absent member.
                                        $( Field::$field => out.$field = <$ty as Known>::read(&mut map)?, )*
                                    }
                                }
                                Member::Unknown(key) => {
                                    let value = unknown_value(&mut map, &key)?;
                                    out.unknown_members
                                        .insert_decoded(key, value)
                                        .map_err(|key| de::Error::custom(format_args!(
                                            "{DUPLICATE_MEMBER}{}", raw::join(&key, "")
                                        )))?;
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
        "AccountId" => account_id / with_account_id: String,
        /// The size of the copied recovery point, in bytes.
        "BackupSizeInBytes" => backup_size_in_bytes / with_backup_size_in_bytes: i64,
        /// For a composite (parent) job: how many of its children are in each state.
        "ChildJobsInState" => child_jobs_in_state / with_child_jobs_in_state: ChildJobsInState,
        /// When the copy finished, successfully or not.
        "CompletionDate" => completion_date / with_completion_date: Timestamp,
        /// For a member of a composite job: which member resource it copies
        /// (for example a CloudFormation logical id).
        "CompositeMemberIdentifier" => composite_member_identifier / with_composite_member_identifier: String,
        /// The identifier AWS gives the copy job.
        "CopyJobId" => copy_job_id / with_copy_job_id: String,
        /// The backup plan and rule that made the recovery point being copied.
        "CreatedBy" => created_by / with_created_by: RecoveryPointCreator,
        /// The backup job that made the source recovery point.
        "CreatedByBackupJobId" => created_by_backup_job_id / with_created_by_backup_job_id: String,
        /// When the copy job was created.
        "CreationDate" => creation_date / with_creation_date: Timestamp,
        /// The vault the recovery point is copied to.
        "DestinationBackupVaultArn" => destination_backup_vault_arn / with_destination_backup_vault_arn: String,
        /// The KMS key that encrypts the copy in the destination vault.
        "DestinationEncryptionKeyArn" => destination_encryption_key_arn / with_destination_encryption_key_arn: String,
        /// The recovery point the copy produced in the destination vault.
        "DestinationRecoveryPointArn" => destination_recovery_point_arn / with_destination_recovery_point_arn: String,
        /// When the copy moves to cold storage and when it is deleted.
        "DestinationRecoveryPointLifecycle" => destination_recovery_point_lifecycle / with_destination_recovery_point_lifecycle: Lifecycle,
        /// The lock state of the destination vault (for example `LOCKED`).
        "DestinationVaultLockState" => destination_vault_lock_state / with_destination_vault_lock_state: String,
        /// The kind of destination vault (for example `BACKUP_VAULT` or
        /// `LOGICALLY_AIR_GAPPED_BACKUP_VAULT`).
        "DestinationVaultType" => destination_vault_type / with_destination_vault_type: String,
        /// The IAM role AWS Backup used to copy.
        "IamRoleArn" => iam_role_arn / with_iam_role_arn: String,
        /// Whether this is a composite job with child jobs.
        "IsParent" => is_parent / with_is_parent: bool,
        /// A category of the job's status message, for grouping failures.
        "MessageCategory" => message_category / with_message_category: String,
        /// For a composite job: how many child jobs it has.
        "NumberOfChildJobs" => number_of_child_jobs / with_number_of_child_jobs: i64,
        /// For a child job: the composite job it belongs to.
        "ParentJobId" => parent_job_id / with_parent_job_id: String,
        /// The resource whose recovery point is copied.
        "ResourceArn" => resource_arn / with_resource_arn: String,
        /// A readable name of that resource.
        "ResourceName" => resource_name / with_resource_name: String,
        /// The kind of resource (`EC2`, `EBS`, `RDS`, `S3`, ...).
        "ResourceType" => resource_type / with_resource_type: String,
        /// The vault the recovery point is copied from.
        "SourceBackupVaultArn" => source_backup_vault_arn / with_source_backup_vault_arn: String,
        /// The recovery point being copied.
        "SourceRecoveryPointArn" => source_recovery_point_arn / with_source_recovery_point_arn: String,
        /// Where the job is in its life.
        "State" => state / with_state: CopyJobState,
        /// AWS's explanation of the state, set mostly on failure.
        "StatusMessage" => status_message / with_status_message: String,
    }
}

api_struct! {
    /// The backup plan and rule that created a recovery point.
    pub struct RecoveryPointCreator {
        /// The backup plan's ARN.
        "BackupPlanArn" => backup_plan_arn / with_backup_plan_arn: String,
        /// The backup plan's identifier.
        "BackupPlanId" => backup_plan_id / with_backup_plan_id: String,
        /// The backup plan's name.
        "BackupPlanName" => backup_plan_name / with_backup_plan_name: String,
        /// The version of the backup plan in force.
        "BackupPlanVersion" => backup_plan_version / with_backup_plan_version: String,
        /// The cron expression of the rule's schedule.
        "BackupRuleCron" => backup_rule_cron / with_backup_rule_cron: String,
        /// The rule's identifier.
        "BackupRuleId" => backup_rule_id / with_backup_rule_id: String,
        /// The rule's name.
        "BackupRuleName" => backup_rule_name / with_backup_rule_name: String,
        /// The time zone of the rule's schedule.
        "BackupRuleTimezone" => backup_rule_timezone / with_backup_rule_timezone: String,
    }
}

api_struct! {
    /// When a recovery point moves to cold storage and when it is deleted.
    pub struct Lifecycle {
        /// Days after creation before the recovery point is deleted.
        "DeleteAfterDays" => delete_after_days / with_delete_after_days: i64,
        /// An event after which the recovery point is deleted.
        "DeleteAfterEvent" => delete_after_event / with_delete_after_event: LifecycleDeleteAfterEvent,
        /// Days after creation before the recovery point moves to cold storage.
        "MoveToColdStorageAfterDays" => move_to_cold_storage_after_days / with_move_to_cold_storage_after_days: i64,
        /// Whether resources that support it go to the archive tier.
        "OptInToArchiveForSupportedResources" => opt_in_to_archive_for_supported_resources / with_opt_in_to_archive_for_supported_resources: bool,
    }
}

api_struct! {
    /// The body of a DescribeCopyJob response (and of `aws backup describe-copy-job`).
    pub struct DescribeCopyJobOutput {
        /// The job described.
        "CopyJob" => copy_job / with_copy_job: CopyJob,
    }
}

api_struct! {
    /// The body of one ListCopyJobs page (and of `aws backup list-copy-jobs`).
    pub struct ListCopyJobsOutput {
        /// The jobs on this page.
        "CopyJobs" => copy_jobs / with_copy_jobs: Vec<CopyJob>,
        /// Present when more pages follow: pass it back to get the next one.
        "NextToken" => next_token / with_next_token: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_members_are_declared_in_byte_order() {
        // The content form merges them with the unknown members in order.
        for members in [
            CopyJob::MEMBERS,
            RecoveryPointCreator::MEMBERS,
            Lifecycle::MEMBERS,
            DescribeCopyJobOutput::MEMBERS,
            ListCopyJobsOutput::MEMBERS,
        ] {
            assert!(
                members
                    .windows(2)
                    .all(|w| w[0].as_bytes() < w[1].as_bytes()),
                "{members:?}"
            );
        }
    }

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
