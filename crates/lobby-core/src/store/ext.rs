//! Typed reads on top of any store.

use crate::ids::{DepartmentId, InquiryId, RoomId, UserId};
use crate::model::{Agent, Department, Inquiry, User, Visitor};

use super::{Record, RecordKey, RecordKind, Store, StoreError, UniqueKey, Versioned};

/// Typed access on top of any store. A record of the wrong kind under a key is corruption.
pub trait StoreExt: Store {
    /// An inquiry by id.
    fn inquiry(&self, id: &InquiryId) -> Result<Option<Versioned<Inquiry>>, StoreError> {
        typed(self.get(&RecordKey::Inquiry(id.clone()))?, |r| match r {
            Record::Inquiry(i) => Some(i),
            _ => None,
        })
    }

    /// The inquiry of a room.
    fn inquiry_by_room(&self, rid: &RoomId) -> Result<Option<Versioned<Inquiry>>, StoreError> {
        typed(self.find(&UniqueKey::Room(rid.clone()))?, |r| match r {
            Record::Inquiry(i) => Some(i),
            _ => None,
        })
    }

    /// A user by id.
    fn user(&self, id: &UserId) -> Result<Option<Versioned<User>>, StoreError> {
        typed(self.get(&RecordKey::User(id.clone()))?, as_user)
    }

    /// A user by username, regardless of case.
    fn user_by_username(&self, username: &str) -> Result<Option<Versioned<User>>, StoreError> {
        typed(self.find(&UniqueKey::username(username))?, as_user)
    }

    /// An agent profile by user id.
    fn agent(&self, id: &UserId) -> Result<Option<Versioned<Agent>>, StoreError> {
        typed(self.get(&RecordKey::Agent(id.clone()))?, as_agent)
    }

    /// Every agent, by id.
    fn agents(&self) -> Result<Vec<Versioned<Agent>>, StoreError> {
        self.scan(RecordKind::Agent)?.into_iter().map(|r| typed(Some(r), as_agent).map(Option::unwrap)).collect()
    }

    /// A department by id.
    fn department(&self, id: &DepartmentId) -> Result<Option<Versioned<Department>>, StoreError> {
        typed(self.get(&RecordKey::Department(id.clone()))?, as_department)
    }

    /// A department by name, regardless of case.
    fn department_by_name(&self, name: &str) -> Result<Option<Versioned<Department>>, StoreError> {
        typed(self.find(&UniqueKey::department_name(name))?, as_department)
    }

    /// Every department, by id.
    fn departments(&self) -> Result<Vec<Versioned<Department>>, StoreError> {
        self.scan(RecordKind::Department)?
            .into_iter()
            .map(|r| typed(Some(r), as_department).map(Option::unwrap))
            .collect()
    }

    /// A visitor by its token.
    fn visitor_by_token(&self, token: &str) -> Result<Option<Versioned<Visitor>>, StoreError> {
        typed(self.find(&UniqueKey::VisitorToken(token.to_owned()))?, |r| match r {
            Record::Visitor(v) => Some(v),
            _ => None,
        })
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

fn as_user(record: Record) -> Option<User> {
    match record {
        Record::User(u) => Some(u),
        _ => None,
    }
}

fn as_agent(record: Record) -> Option<Agent> {
    match record {
        Record::Agent(a) => Some(a),
        _ => None,
    }
}

fn as_department(record: Record) -> Option<Department> {
    match record {
        Record::Department(d) => Some(d),
        _ => None,
    }
}

fn typed<T>(
    found: Option<Versioned<Record>>,
    unwrap: impl FnOnce(Record) -> Option<T>,
) -> Result<Option<Versioned<T>>, StoreError> {
    let Some(Versioned { version, value }) = found else { return Ok(None) };
    let key = value.key();
    unwrap(value)
        .map(|value| Some(Versioned { version, value }))
        .ok_or_else(|| StoreError::Corrupt(format!("unexpected record kind under {key}")))
}
