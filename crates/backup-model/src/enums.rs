//! String enums of the service model that stay open to values AWS adds later.
//!
//! Like the official SDK's enums, each has an `Unknown` variant that carries a
//! value this version does not name, so a new state decodes, is stored and is
//! written back unchanged instead of failing the whole record.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// A value of a string enum that this version of the model does not name.
///
/// It can only be made by converting a string, which keeps a known value from
/// ever hiding inside `Unknown`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnknownValue(String);

impl UnknownValue {
    /// The value as AWS sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version of the model does not name, kept as sent.
            Unknown(UnknownValue),
        }

        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )*
                    $name::Unknown(value) => value.as_str(),
                }
            }

            /// Every value the service model names, in its order.
            pub const fn values() -> &'static [&'static str] {
                &[$( $wire, )*]
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => $name::$variant, )*
                    other => $name::Unknown(UnknownValue(other.to_owned())),
                }
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match value.as_str() {
                    $( $wire => $name::$variant, )*
                    _ => $name::Unknown(UnknownValue(value)),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name::from(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct EnumVisitor;

                impl Visitor<'_> for EnumVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " string"))
                    }

                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::from(v))
                    }

                    fn visit_string<E: de::Error>(self, v: String) -> Result<$name, E> {
                        Ok($name::from(v))
                    }
                }

                deserializer.deserialize_str(EnumVisitor)
            }
        }
    };
}

open_enum! {
    /// The state of a copy job (`CopyJobState` in the service model).
    pub enum CopyJobState {
        /// The job is accepted and waits to start.
        Created = "CREATED",
        /// The copy is in progress.
        Running = "RUNNING",
        /// The recovery point was copied.
        Completed = "COMPLETED",
        /// The copy failed; `StatusMessage` says why.
        Failed = "FAILED",
        /// A composite (parent) job whose children did not all complete.
        Partial = "PARTIAL",
    }
}

impl CopyJobState {
    /// Whether the job may still change state: anything but the final
    /// states the model names (`COMPLETED`, `FAILED`, `PARTIAL`).
    ///
    /// A state this version does not know counts as open: nothing tells us
    /// it is final, so the job is looked at again (ingest describes such jobs
    /// at a bounded rate rather than taking them as done).
    pub fn is_open(&self) -> bool {
        !matches!(
            self,
            CopyJobState::Completed | CopyJobState::Failed | CopyJobState::Partial
        )
    }
}

open_enum! {
    /// An event after which a recovery point is deleted (`LifecycleDeleteAfterEvent`).
    pub enum LifecycleDeleteAfterEvent {
        /// Delete the source recovery point once it has been copied.
        DeleteAfterCopy = "DELETE_AFTER_COPY",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_states_are_carried() {
        let s = CopyJobState::from("QUEUED_FOR_ARCHIVE");
        assert!(matches!(s, CopyJobState::Unknown(_)));
        assert_eq!(s.as_str(), "QUEUED_FOR_ARCHIVE");
        assert_eq!(CopyJobState::from("FAILED"), CopyJobState::Failed);
        assert_eq!(
            serde_json::to_string(&CopyJobState::from("NEW")).unwrap(),
            "\"NEW\""
        );
        let back: CopyJobState = serde_json::from_str("\"PARTIAL\"").unwrap();
        assert_eq!(back, CopyJobState::Partial);
        assert!(CopyJobState::Running.is_open());
        assert!(s.is_open(), "an unknown state is not known to be final");
        assert!(!CopyJobState::Partial.is_open());
    }
}
