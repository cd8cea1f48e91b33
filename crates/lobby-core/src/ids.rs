//! Identifier newtypes. Ids are opaque strings on the wire; the types keep an inquiry id from
//! being passed where a room id is expected, and validation happens once, at the edge.
//!
//! An id is shared text (`Arc<str>`): copying one, which a take does a few dozen times (the
//! records it reads and writes, its event, every view the index updates), is a count increment
//! instead of an allocation, and in memory the copies share their bytes.

use std::sync::Arc;

use rand::Rng;
use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::{truncate, QUOTE_LIMIT};
use crate::CoreError;

/// Longest id we accept from outside. Rocket.Chat ids are 17 characters; custom ids are longer.
pub const MAX_ID_LEN: usize = 128;

/// The alphabet of Meteor's `Random.id()`, so generated ids look like Rocket.Chat's.
const METEOR_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";

/// A Meteor-style 17-character random id.
pub fn meteor_id(rng: &mut impl Rng) -> String {
    (0..17).map(|_| METEOR_ALPHABET[rng.gen_range(0..METEOR_ALPHABET.len())] as char).collect()
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates an id received from outside: 1 to 128 printable, non-space characters.
            pub fn new(value: impl Into<String>) -> Result<Self, CoreError> {
                Self::checked(&value.into())
            }

            /// A fresh Meteor-style random id.
            pub fn generate(rng: &mut impl Rng) -> Self {
                Self(Arc::from(meteor_id(rng)))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = CoreError;
            fn try_from(value: String) -> Result<Self, CoreError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(IdVisitor(Self::checked))
            }
        }

        impl $name {
            /// From decoded text: validated, copied once into shared text.
            fn checked(text: &str) -> Result<Self, CoreError> {
                if is_valid_id(text) {
                    Ok(Self(Arc::from(text)))
                } else {
                    Err(CoreError::InvalidId { kind: $what, value: truncate(text, QUOTE_LIMIT) })
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = CoreError;
            fn from_str(s: &str) -> Result<Self, CoreError> {
                Self::new(s)
            }
        }
    };
}

id_type!(
    /// An inquiry's `_id`.
    InquiryId, "inquiry id"
);
id_type!(
    /// A livechat room's id (`rid`); one room has one inquiry.
    RoomId, "room id"
);
id_type!(
    /// A user's `_id`. Agents are users, so an agent id is a user id.
    UserId, "user id"
);
id_type!(
    /// A department's `_id`.
    DepartmentId, "department id"
);
id_type!(
    /// A visitor's `_id`.
    VisitorId, "visitor id"
);

/// Reads an id from any string a deserializer has (borrowed from the input when it can be), so
/// decoding an id copies its text once, into the `Arc`, not first into a `String`.
struct IdVisitor<T>(fn(&str) -> Result<T, CoreError>);

impl<T> Visitor<'_> for IdVisitor<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("an id: 1 to 128 printable, non-space characters")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        (self.0)(text).map_err(E::custom)
    }
}

fn is_valid_id(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_ID_LEN && value.chars().all(|c| !c.is_control() && !c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_look_like_meteor_ids() {
        let mut rng = rand::thread_rng();
        let id = InquiryId::generate(&mut rng);
        assert_eq!(id.as_str().len(), 17);
        assert!(id.as_str().bytes().all(|b| METEOR_ALPHABET.contains(&b)));
    }

    #[test]
    fn bad_ids_are_rejected_with_a_typed_error() {
        for bad in ["", " ", "a b", "tab\there", &"x".repeat(MAX_ID_LEN + 1)] {
            assert!(matches!(RoomId::new(bad), Err(CoreError::InvalidId { .. })), "{bad:?}");
        }
        assert_eq!(RoomId::new("EbQjtCosHJWLQmQYT").unwrap().as_str(), "EbQjtCosHJWLQmQYT");
    }

    #[test]
    fn ids_deserialize_with_validation() {
        assert!(serde_json::from_str::<UserId>("\"\"").is_err());
        assert_eq!(serde_json::from_str::<UserId>("\"abc\"").unwrap().as_str(), "abc");
        // Text the decoder cannot lend (an escape; a value tree) takes the same path.
        assert_eq!(serde_json::from_str::<UserId>("\"a\\u0062c\"").unwrap().as_str(), "abc");
        assert_eq!(serde_json::from_value::<UserId>(serde_json::json!("abc")).unwrap().as_str(), "abc");
        assert!(serde_json::from_str::<UserId>("\"a\\u0020c\"").is_err());
        assert!(serde_json::from_str::<UserId>("17").is_err());
        // And ids serialise as plain strings.
        assert_eq!(serde_json::to_string(&RoomId::new("r1").unwrap()).unwrap(), "\"r1\"");
    }
}
