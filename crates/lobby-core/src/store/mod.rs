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

mod archive;
mod commit;
mod ext;
mod feed;
mod integrity;
mod record;

pub use archive::{
    check_retired_event, check_retired_inquiry, ArchiveKey, RetentionAction, RetentionAge, RetentionAgeError,
    Retirement, RetirementReceipt,
};
pub use commit::{plan_unique_keys, plan_versions, Commit, CommitReceipt, UniqueKeyChanges, Write};
pub use ext::StoreExt;
pub use feed::{FeedHub, Subscription};
pub use integrity::{check_event_accounting, check_store_contents, IntegrityReport};
pub use record::{DueRecord, Record, RecordKey, RecordKind, UniqueKey, Version, Versioned};

use crate::event::{Event, EventQuery};
use crate::ids::InquiryId;
use crate::model::Inquiry;
use crate::query::{InquiryFilter, InquiryQuery, InquirySort, Page};
use crate::time::Timestamp;

/// A persistence backend. Synchronous: callers on an async runtime use `spawn_blocking`.
///
/// The contract, in one place (`docs/stores.md` says the same in prose; `lobby-conformance`
/// checks every line of it):
///
/// - **Versions.** Every write gives its record a new [`Version`]; a key never sees the same
///   version twice, even across delete and re-create ([`plan_versions`] does it right).
/// - **Conflict before duplicate.** A commit that both conflicts and claims a taken unique key
///   fails with [`StoreError::Conflict`].
/// - **All or nothing.** A failed commit changes no record, no unique key and no event.
/// - **Events** are numbered 1, 2, 3, … in commit order, consecutively within a commit, with no
///   gap and no reuse — not after a failed commit, not after a restart.
/// - **Feeds.** A [`Subscription`] delivers exactly the events of the commits acknowledged
///   after [`Store::subscribe`] returned (and of those still in flight when it returned), in
///   sequence order, each once; nothing acknowledged before it returned.
/// - **Listings** equal [`InquiryQuery::reference_page`] exactly.
/// - **Deadlines** are indexed by each record's earliest one; [`Store::due`] lists them.
/// - **Retirement** ([`Store::retire`]) takes inquiries and events out of everything above —
///   reads, listings, totals, deadlines, the log and feeds — all-or-nothing; archived ones are
///   read only through the `archived_*` methods. Event numbers are never reused.
pub trait Store: Send + Sync {
    /// The record under `key`, with its current version.
    fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError>;

    /// The record that owns `key` (a room id, a username, …).
    fn find(&self, key: &UniqueKey) -> Result<Option<Versioned<Record>>, StoreError>;

    /// Every record of one kind, in key order. For the small kinds (agents, departments) and for
    /// maintenance; the engine never scans inquiries.
    fn scan(&self, kind: RecordKind) -> Result<Vec<Versioned<Record>>, StoreError>;

    /// One page of inquiries in the query's order, and how many match in all: exactly
    /// [`InquiryQuery::reference_page`] of every stored inquiry.
    fn list_inquiries(&self, query: &InquiryQuery) -> Result<Page<Inquiry>, StoreError>;

    /// How many inquiries matching `filter` come before `inquiry` in `sort` order; `None` if
    /// `inquiry` does not exist or does not match the filter. Queue positions are built on this.
    fn count_before(
        &self,
        filter: &InquiryFilter,
        sort: InquirySort,
        inquiry: &InquiryId,
    ) -> Result<Option<usize>, StoreError>;

    /// The records whose earliest deadline ([`Record::next_deadline`]) is at or before `at`,
    /// earliest first (ties by key), at most `limit`. Stores index that one time per record, so
    /// this costs O(log n + limit); a record written with other deadlines, or with none, or
    /// deleted, leaves its old place in the index in the same commit.
    fn due(&self, at: Timestamp, limit: usize) -> Result<Vec<DueRecord>, StoreError>;

    /// Applies every write and records every event, or nothing. Fails with
    /// [`StoreError::InvalidCommit`] if [`Commit::validate`] does, then with
    /// [`StoreError::Conflict`] if any record's version is not the expected one, then with
    /// [`StoreError::Duplicate`] if a unique key would belong to two records.
    fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError>;

    /// The events [`EventQuery`] asks for, in sequence order. `limit: 0` returns none.
    fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError>;

    /// A live feed of the events of every commit not yet acknowledged when this returns, in
    /// sequence order, each once.
    fn subscribe(&self) -> Result<Subscription, StoreError>;

    /// Takes closed inquiries, every event about them, and the events `retirement` names out of
    /// the hot set, into the archive or away for good, all-or-nothing. Checks each inquiry's
    /// version as [`Store::commit`] does and fails with [`StoreError::Conflict`] if one moved;
    /// fails with [`StoreError::InvalidCommit`] if [`Retirement::validate`] does, if an inquiry
    /// is not closed, or if a named event is about an inquiry still in the hot set. Feeds are
    /// not told: nothing happened to the conversations, they only moved.
    fn retire(&self, retirement: &Retirement) -> Result<RetirementReceipt, StoreError>;

    /// An inquiry [`Store::retire`] archived, with the version it had.
    fn archived_inquiry(&self, key: &ArchiveKey) -> Result<Option<Versioned<Inquiry>>, StoreError>;

    /// Archived inquiries in id order, those after `after` (all with `None`), at most `limit`:
    /// for export.
    fn archived_inquiries(
        &self,
        after: Option<&InquiryId>,
        limit: usize,
    ) -> Result<Vec<Versioned<Inquiry>>, StoreError>;

    /// The archived events [`EventQuery`] asks for, in sequence order, as [`Store::events`]
    /// answers for the hot log.
    fn archived_events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError>;

    /// Makes every acknowledged commit durable, for stores that may acknowledge before that
    /// (e.g. a periodic-flush mode). Called on graceful shutdown. Stores whose commits are
    /// durable when acknowledged keep this default.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Reads everything and reports what does not hang together (see [`IntegrityReport`]).
    /// `Err` only when the check could not run. The default checks what every store must keep
    /// true, through this trait; stores add checks of their own indexes.
    fn check_integrity(&self) -> Result<IntegrityReport, StoreError> {
        integrity::check_store_contents(self)
    }
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
    /// The backend cannot be reached for now (connection refused or dropped, database
    /// restarting, disk full); the same call may succeed later. A commit refused this way was
    /// not applied, unless the message says its outcome is unknown (the connection went away
    /// between `COMMIT` and its answer, and the store could not find out in time).
    #[error("store unavailable: {0}")]
    Unavailable(String),
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
            fn due(&self, at: Timestamp, limit: usize) -> Result<Vec<DueRecord>, StoreError> {
                (**self).due(at, limit)
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
            fn retire(&self, retirement: &Retirement) -> Result<RetirementReceipt, StoreError> {
                (**self).retire(retirement)
            }
            fn archived_inquiry(&self, key: &ArchiveKey) -> Result<Option<Versioned<Inquiry>>, StoreError> {
                (**self).archived_inquiry(key)
            }
            fn archived_inquiries(
                &self,
                after: Option<&InquiryId>,
                limit: usize,
            ) -> Result<Vec<Versioned<Inquiry>>, StoreError> {
                (**self).archived_inquiries(after, limit)
            }
            fn archived_events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
                (**self).archived_events(query)
            }
            fn flush(&self) -> Result<(), StoreError> {
                (**self).flush()
            }
            fn check_integrity(&self) -> Result<IntegrityReport, StoreError> {
                (**self).check_integrity()
            }
        }
    )*};
}

forward_store!(&S, Box<S>, std::sync::Arc<S>);
