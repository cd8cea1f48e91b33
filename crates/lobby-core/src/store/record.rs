//! What a store keeps: records of five kinds, their keys, unique keys and versions.

use serde::{Deserialize, Serialize};

use crate::ids::{DepartmentId, InquiryId, RoomId, UserId, VisitorId};
use crate::model::{Agent, Deadline, Department, Inquiry, User, Visitor};
use crate::time::Timestamp;

/// A record's version. Every write gives the record a new one, and a key never has the same
/// version twice — not even after it is deleted and created again — so a writer holding a
/// stale version can never overwrite a newer record (no ABA). Stores give every commit one
/// stamp, greater than every version they gave before, as the version of each record it writes
/// (see [`plan_versions`](crate::plan_versions)): versions increase with every write of a key,
/// but not by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(pub u64);

impl Version {
    /// The smallest version, which a new store stamps its first commit with.
    pub const FIRST: Version = Version(1);

    /// The version after this one: the stamp a store gives its next commit.
    pub fn next(self) -> Version {
        Version(self.0.saturating_add(1))
    }
}

/// A value and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The version it was read at.
    pub version: Version,
    /// The value.
    pub value: T,
}

impl<T> Versioned<T> {
    /// The same version, with the value changed by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Versioned<U> {
        Versioned { version: self.version, value: f(self.value) }
    }
}

/// The five kinds of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RecordKind {
    /// [`Record::Inquiry`].
    Inquiry,
    /// [`Record::User`].
    User,
    /// [`Record::Agent`].
    Agent,
    /// [`Record::Department`].
    Department,
    /// [`Record::Visitor`].
    Visitor,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 5] = [Self::Inquiry, Self::User, Self::Agent, Self::Department, Self::Visitor];

    /// The kind's name in the plural, for reports: `inquiries`, `users`, …
    pub fn plural(self) -> &'static str {
        match self {
            Self::Inquiry => "inquiries",
            Self::User => "users",
            Self::Agent => "agents",
            Self::Department => "departments",
            Self::Visitor => "visitors",
        }
    }

    /// The kind's name, as in [`RecordKey::to_path`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inquiry => "inquiry",
            Self::User => "user",
            Self::Agent => "agent",
            Self::Department => "department",
            Self::Visitor => "visitor",
        }
    }
}

/// Where a record lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RecordKey {
    /// An inquiry.
    Inquiry(InquiryId),
    /// A user.
    User(UserId),
    /// A user's agent profile (same id as the user).
    Agent(UserId),
    /// A department.
    Department(DepartmentId),
    /// A visitor.
    Visitor(VisitorId),
}

impl RecordKey {
    /// The kind of record this key names.
    pub fn kind(&self) -> RecordKind {
        match self {
            Self::Inquiry(_) => RecordKind::Inquiry,
            Self::User(_) => RecordKind::User,
            Self::Agent(_) => RecordKind::Agent,
            Self::Department(_) => RecordKind::Department,
            Self::Visitor(_) => RecordKind::Visitor,
        }
    }

    /// The id part, without the kind.
    pub fn id(&self) -> &str {
        match self {
            Self::Inquiry(id) => id.as_str(),
            Self::User(id) | Self::Agent(id) => id.as_str(),
            Self::Department(id) => id.as_str(),
            Self::Visitor(id) => id.as_str(),
        }
    }

    /// `kind/id`, a stable text form for keys in other systems.
    pub fn to_path(&self) -> String {
        format!("{}/{}", self.kind().as_str(), self.id())
    }
}

impl std::fmt::Display for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_path())
    }
}

/// A secondary key that at most one record may hold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UniqueKey {
    /// The inquiry of a room.
    Room(RoomId),
    /// Lower-cased: usernames are unique regardless of case, as in Rocket.Chat.
    Username(String),
    /// Lower-cased.
    Email(String),
    /// Lower-cased.
    DepartmentName(String),
    /// A visitor's token.
    VisitorToken(String),
}

impl UniqueKey {
    /// A username, lower-cased.
    pub fn username(name: &str) -> Self {
        Self::Username(name.to_lowercase())
    }

    /// An email address, lower-cased.
    pub fn email(email: &str) -> Self {
        Self::Email(email.to_lowercase())
    }

    /// A department name, lower-cased.
    pub fn department_name(name: &str) -> Self {
        Self::DepartmentName(name.to_lowercase())
    }

    /// `kind/value`, a stable text form for keys in other systems.
    pub fn to_path(&self) -> String {
        match self {
            Self::Room(id) => format!("room/{id}"),
            Self::Username(name) => format!("username/{name}"),
            Self::Email(email) => format!("email/{email}"),
            Self::DepartmentName(name) => format!("department-name/{name}"),
            Self::VisitorToken(token) => format!("visitor-token/{token}"),
        }
    }
}

impl std::fmt::Display for UniqueKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_path())
    }
}

/// Anything a store keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
// Most records written are inquiries, the largest variant: boxing it would add an allocation to
// every write to save space on the rarer small ones.
#[allow(clippy::large_enum_variant)]
pub enum Record {
    /// An inquiry.
    Inquiry(Inquiry),
    /// A user.
    User(User),
    /// An agent profile.
    Agent(Agent),
    /// A department.
    Department(Department),
    /// A visitor.
    Visitor(Visitor),
}

impl Record {
    /// Where this record lives.
    pub fn key(&self) -> RecordKey {
        match self {
            Self::Inquiry(r) => RecordKey::Inquiry(r.id.clone()),
            Self::User(r) => RecordKey::User(r.id.clone()),
            Self::Agent(r) => RecordKey::Agent(r.id.clone()),
            Self::Department(r) => RecordKey::Department(r.id.clone()),
            Self::Visitor(r) => RecordKey::Visitor(r.id.clone()),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> RecordKind {
        self.key().kind()
    }

    /// The secondary keys this record claims. Stores index these and enforce uniqueness.
    pub fn unique_keys(&self) -> Vec<UniqueKey> {
        match self {
            Self::Inquiry(r) => vec![UniqueKey::Room(r.rid.clone())],
            Self::User(r) => {
                let mut keys = vec![UniqueKey::username(&r.username)];
                keys.extend(r.email.as_deref().map(UniqueKey::email));
                keys
            }
            Self::Agent(_) => vec![],
            Self::Department(r) => vec![UniqueKey::department_name(&r.name)],
            Self::Visitor(r) => vec![UniqueKey::VisitorToken(r.token.clone())],
        }
    }

    /// The record's pending timers (only inquiries, agents and departments have any).
    pub fn deadlines(&self) -> &[Deadline] {
        match self {
            Self::Inquiry(r) => &r.deadlines,
            Self::Agent(r) => &r.deadlines,
            Self::Department(r) => &r.deadlines,
            Self::User(_) | Self::Visitor(_) => &[],
        }
    }

    /// The earliest of its deadlines: what a store indexes it by for [`Store::due`](crate::Store::due).
    pub fn next_deadline(&self) -> Option<Timestamp> {
        crate::model::earliest(self.deadlines())
    }

    /// The inquiry, if it is one.
    pub fn as_inquiry(&self) -> Option<&Inquiry> {
        match self {
            Self::Inquiry(r) => Some(r),
            _ => None,
        }
    }
}

/// A record with a deadline due, as [`Store::due`](crate::Store::due) lists it. Ordered by due
/// time, then by key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DueRecord {
    /// The record's earliest deadline.
    pub due: Timestamp,
    /// The record.
    pub key: RecordKey,
}
