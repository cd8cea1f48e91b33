//! The contract between the engine and a persistence backend.
//!
//! A store keeps five kinds of [`Record`], each under a [`RecordKey`] and a [`Version`], finds
//! records by their [`UniqueKey`]s, lists inquiries in the order [`crate::query`] defines, and
//! applies a [`Commit`] all-or-nothing, checking each write against the version it was read at
//! (compare-and-set). That one primitive is what makes every check-then-write in the engine
//! race-free on any backend: the engine reads, decides, and commits "only if nothing I read has
//! changed"; a [`StoreError::Conflict`] makes it read again. Stores decide nothing else.
//!
//! `lobby-conformance` holds the tests every implementation must pass.

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventQuery, NewEvent};
use crate::ids::{DepartmentId, InquiryId, RoomId, UserId, VisitorId};
use crate::model::{Agent, Department, Inquiry, User, Visitor};
use crate::query::{InquiryFilter, InquiryQuery, InquirySort, Page};

/// A persistence backend. Synchronous: callers on an async runtime use `spawn_blocking`.
pub trait Store: Send + Sync {
    /// The record under `key`, with its current version.
    fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError>;

    /// The record that owns `key` (a room id, a username, …).
    fn find(&self, key: &UniqueKey) -> Result<Option<Versioned<Record>>, StoreError>;

    /// Every record of one kind, in key order. For the small kinds (agents, departments); do not
    /// use it for inquiries.
    fn scan(&self, kind: RecordKind) -> Result<Vec<Versioned<Record>>, StoreError>;

    /// One page of inquiries in the query's order, and how many match in all.
    fn list_inquiries(&self, query: &InquiryQuery) -> Result<Page<Inquiry>, StoreError>;

    /// How many inquiries matching `filter` come before `inquiry` in `sort` order, or `None` if
    /// it does not match the filter. Queue positions are built on this.
    fn count_before(
        &self,
        filter: &InquiryFilter,
        sort: InquirySort,
        inquiry: &InquiryId,
    ) -> Result<Option<usize>, StoreError>;

    /// Applies every write and records every event, or nothing. Fails with
    /// [`StoreError::Conflict`] if any record's version is not the expected one, and with
    /// [`StoreError::Duplicate`] if a unique key would belong to two records.
    fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError>;

    /// Events in sequence order.
    fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError>;

    /// A live feed of the events committed from now on, in sequence order.
    fn subscribe(&self) -> Result<Subscription, StoreError>;

    /// Makes every acknowledged commit durable, for stores that may acknowledge before that
    /// (e.g. a periodic-flush mode). Called on graceful shutdown. Stores whose commits are
    /// durable when acknowledged keep this default.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A record's version: 1 when created, +1 on every write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(pub u64);

impl Version {
    /// The version of a newly created record.
    pub const FIRST: Version = Version(1);

    /// The version after one more write.
    pub fn next(self) -> Version {
        Version(self.0 + 1)
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

    /// The inquiry, if it is one.
    pub fn as_inquiry(&self) -> Option<&Inquiry> {
        match self {
            Self::Inquiry(r) => Some(r),
            _ => None,
        }
    }
}

/// One write in a [`Commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The record written.
    pub key: RecordKey,
    /// The version the writer read; `None` means "must not exist yet".
    pub expected: Option<Version>,
    /// The new value; `None` deletes the record.
    pub value: Option<Record>,
}

impl Write {
    /// Creates `record`, which must not exist yet.
    pub fn create(record: Record) -> Self {
        Self { key: record.key(), expected: None, value: Some(record) }
    }

    /// Replaces the record read at `read_at` with `record`.
    pub fn update(read_at: Version, record: Record) -> Self {
        Self { key: record.key(), expected: Some(read_at), value: Some(record) }
    }

    /// Deletes the record read at `read_at`.
    pub fn delete(key: RecordKey, read_at: Version) -> Self {
        Self { key, expected: Some(read_at), value: None }
    }
}

/// Writes and events applied all-or-nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Commit {
    /// The writes, applied together or not at all.
    pub writes: Vec<Write>,
    /// The events to number and record with them.
    pub events: Vec<NewEvent>,
}

impl Commit {
    /// Checks what every store must reject before touching anything: a write whose value lives
    /// under another key, or two writes to one key.
    pub fn validate(&self) -> Result<(), StoreError> {
        let mut seen = std::collections::BTreeSet::new();
        for write in &self.writes {
            if let Some(value) = &write.value {
                if value.key() != write.key {
                    return Err(StoreError::InvalidCommit(format!(
                        "write to {} carries a record for {}",
                        write.key,
                        value.key()
                    )));
                }
            }
            if !seen.insert(&write.key) {
                return Err(StoreError::InvalidCommit(format!("two writes to {}", write.key)));
            }
            if write.expected.is_none() && write.value.is_none() {
                return Err(StoreError::InvalidCommit(format!("delete of {} without a version", write.key)));
            }
        }
        Ok(())
    }
}

/// What a successful commit produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReceipt {
    /// The new version of each write, in order (for a delete, the version it had).
    pub versions: Vec<Version>,
    /// The events as numbered, in order.
    pub events: Vec<Event>,
}

/// The store contract's errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Someone else wrote `key` since it was read; read again and retry.
    #[error("version conflict on {key}")]
    Conflict {
        /// The key that moved.
        key: RecordKey,
    },
    /// The commit would give `key` to two records.
    #[error("{key} is already taken")]
    Duplicate {
        /// The key that would have two owners.
        key: UniqueKey,
    },
    /// The commit is malformed (a bug in the caller, never a race).
    #[error("invalid commit: {0}")]
    InvalidCommit(String),
    /// A stored record could not be decoded, or indexes disagree with records.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The backend failed (I/O, connection, lock held by another process).
    #[error("store backend failed: {0}")]
    Backend(String),
}

/// A live feed of committed events. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    receiver: Receiver<Event>,
}

impl Subscription {
    /// The next event, waiting at most `timeout`; `None` on time-out or when the store is gone.
    pub fn next_timeout(&self, timeout: Duration) -> Option<Event> {
        self.receiver.recv_timeout(timeout).ok()
    }

    /// Events already delivered, without waiting.
    pub fn drain(&self) -> Vec<Event> {
        self.receiver.try_iter().collect()
    }
}

/// Fans committed events out to subscribers; a building block for store implementations.
#[derive(Debug, Default)]
pub struct FeedHub {
    subscribers: Mutex<Vec<Sender<Event>>>,
}

impl FeedHub {
    /// A new subscription: every event published from now on.
    pub fn subscribe(&self) -> Subscription {
        let (sender, receiver) = mpsc::channel();
        self.subscribers.lock().push(sender);
        Subscription { receiver }
    }

    /// Call in commit order (under the store's commit lock) so feeds see sequence order.
    pub fn publish(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        let mut subscribers = self.subscribers.lock();
        subscribers.retain(|subscriber| events.iter().all(|event| subscriber.send(event.clone()).is_ok()));
    }
}

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

/// A store behind a reference or a smart pointer is a store: `Engine<&S>`,
/// `Engine<Box<dyn Store>>` and `Engine<Arc<S>>` all work.
macro_rules! forward_store {
    ($($pointer:ty),*) => {$(
        impl<S: Store + ?Sized> Store for $pointer {
            fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
                (**self).get(key)
            }
            fn find(&self, key: &UniqueKey) -> Result<Option<Versioned<Record>>, StoreError> {
                (**self).find(key)
            }
            fn scan(&self, kind: RecordKind) -> Result<Vec<Versioned<Record>>, StoreError> {
                (**self).scan(kind)
            }
            fn list_inquiries(&self, query: &InquiryQuery) -> Result<Page<Inquiry>, StoreError> {
                (**self).list_inquiries(query)
            }
            fn count_before(
                &self,
                filter: &InquiryFilter,
                sort: InquirySort,
                inquiry: &InquiryId,
            ) -> Result<Option<usize>, StoreError> {
                (**self).count_before(filter, sort, inquiry)
            }
            fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
                (**self).commit(commit)
            }
            fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
                (**self).events(query)
            }
            fn subscribe(&self) -> Result<Subscription, StoreError> {
                (**self).subscribe()
            }
            fn flush(&self) -> Result<(), StoreError> {
                (**self).flush()
            }
        }
    )*};
}

forward_store!(&S, Box<S>, std::sync::Arc<S>);

/// The unique-key changes a commit makes: keys to release and keys to claim.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UniqueKeyChanges {
    /// Keys the commit's records no longer hold.
    pub release: Vec<UniqueKey>,
    /// Keys the commit's records newly hold, and their owners.
    pub claim: Vec<(UniqueKey, RecordKey)>,
}

/// For store authors: works out which unique keys a commit releases and claims, and fails with
/// [`StoreError::Duplicate`] if a claimed key belongs to another record that keeps it, or two
/// writes claim it. `current_keys` gives the unique keys of each write's current record (as
/// read under the commit's lock or transaction; none if it does not exist), typically
/// `record.unique_keys()`; `owner_of` looks up a key's current owner.
pub fn plan_unique_keys(
    writes: &[Write],
    mut current_keys: impl FnMut(&RecordKey) -> Result<Vec<UniqueKey>, StoreError>,
    mut owner_of: impl FnMut(&UniqueKey) -> Result<Option<RecordKey>, StoreError>,
) -> Result<UniqueKeyChanges, StoreError> {
    let mut changes = UniqueKeyChanges::default();
    for write in writes {
        let old = current_keys(&write.key)?;
        let new = write.value.as_ref().map(|r| r.unique_keys()).unwrap_or_default();
        changes.release.extend(old.iter().filter(|k| !new.contains(k)).cloned());
        changes.claim.extend(new.into_iter().filter(|k| !old.contains(k)).map(|k| (k, write.key.clone())));
    }
    for (index, (key, claimant)) in changes.claim.iter().enumerate() {
        if changes.claim[..index].iter().any(|(other, _)| other == key) {
            return Err(StoreError::Duplicate { key: key.clone() });
        }
        if let Some(owner) = owner_of(key)? {
            if &owner != claimant && !changes.release.contains(key) {
                return Err(StoreError::Duplicate { key: key.clone() });
            }
        }
    }
    Ok(changes)
}
