//! # lobby-memory
//!
//! A [`Store`] that keeps everything in memory behind one `parking_lot` read-write lock: reads
//! share it, a commit takes it exclusively, so every commit is atomic and versions are checked
//! against exactly what is there. Listings go through [`lobby_index::InquiryIndex`]: a page at
//! any offset costs O(log n + page) and a total O(1). Nothing survives the process; use
//! `lobby-sled` for that.
//!
//! ```
//! use lobby_core::{Engine, Store};
//! use lobby_memory::MemoryStore;
//!
//! let engine = Engine::new(MemoryStore::new());
//! assert!(engine.store().subscribe().is_ok());
//! ```

mod archive;
mod commit;

use std::collections::{BTreeSet, HashMap};

use std::ops::Bound;

use lobby_core::{
    check_event_accounting, check_store_contents, ArchiveKey, Commit, CommitReceipt, DueRecord, Event, EventQuery,
    FeedHub, Inquiry, InquiryFilter, InquiryId, InquiryQuery, InquirySort, IntegrityReport, Page, Record, RecordKey,
    RecordKind, Retirement, RetirementReceipt, Store, StoreError, Subscription, Timestamp, UniqueKey, Version,
    Versioned,
};
use lobby_index::{IndexConfig, InquiryIndex};
use parking_lot::RwLock;

/// The in-memory store. Share it between threads with an `Arc` (or through the `Engine`).
pub struct MemoryStore {
    state: RwLock<State>,
    feed: FeedHub,
}

struct State {
    /// The version the next commit gives the records it writes; see [`plan_versions`].
    next_stamp: Version,
    /// One map per [`RecordKind`], so scanning the few agents never walks the many inquiries.
    records: [HashMap<RecordKey, Versioned<Record>>; 5],
    unique: HashMap<UniqueKey, RecordKey>,
    index: InquiryIndex,
    /// Every record with a deadline, by its earliest one.
    deadlines: BTreeSet<(Timestamp, RecordKey)>,
    /// The hot log; numbers are never reused, even when retention removes events.
    events: archive::EventLog,
    /// The number the next event gets.
    next_seq: u64,
    /// Events retention deleted for good, so every number given out is accounted for.
    deleted_events: u64,
    archive: archive::Archive,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::with_index_config(IndexConfig::default())
    }

    pub fn with_index_config(config: IndexConfig) -> Self {
        let state = State {
            next_stamp: Version::FIRST,
            records: Default::default(),
            unique: HashMap::new(),
            index: InquiryIndex::new(config),
            deadlines: BTreeSet::new(),
            events: archive::EventLog::default(),
            next_seq: 1,
            deleted_events: 0,
            archive: archive::Archive::default(),
        };
        Self { state: RwLock::new(state), feed: FeedHub::default() }
    }
}

pub(crate) fn slot(kind: RecordKind) -> usize {
    match kind {
        RecordKind::Inquiry => 0,
        RecordKind::User => 1,
        RecordKind::Agent => 2,
        RecordKind::Department => 3,
        RecordKind::Visitor => 4,
    }
}

impl State {
    pub(crate) fn record(&self, key: &RecordKey) -> Option<&Versioned<Record>> {
        self.records[slot(key.kind())].get(key)
    }

    fn inquiry(&self, id: &InquiryId) -> Option<&Inquiry> {
        self.record(&RecordKey::Inquiry(id.clone())).and_then(|r| r.value.as_inquiry())
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        Ok(self.state.read().record(key).cloned())
    }

    fn find(&self, key: &UniqueKey) -> Result<Option<Versioned<Record>>, StoreError> {
        let state = self.state.read();
        Ok(state.unique.get(key).and_then(|owner| state.record(owner)).cloned())
    }

    fn scan(&self, kind: RecordKind) -> Result<Vec<Versioned<Record>>, StoreError> {
        let state = self.state.read();
        let mut records: Vec<(&RecordKey, &Versioned<Record>)> = state.records[slot(kind)].iter().collect();
        records.sort_by(|a, b| a.0.cmp(b.0));
        Ok(records.into_iter().map(|(_, r)| r.clone()).collect())
    }

    fn list_inquiries(&self, query: &InquiryQuery) -> Result<Page<Inquiry>, StoreError> {
        let state = self.state.read();
        let (ids, total) = state.index.page(query);
        let items = ids
            .iter()
            .map(|id| {
                state.inquiry(id).cloned().ok_or_else(|| StoreError::Corrupt(format!("index names missing {id}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { items, total })
    }

    fn count_before(
        &self,
        filter: &InquiryFilter,
        sort: InquirySort,
        inquiry: &InquiryId,
    ) -> Result<Option<usize>, StoreError> {
        Ok(self.state.read().index.count_before(filter, sort, inquiry))
    }

    fn due(&self, at: Timestamp, limit: usize) -> Result<Vec<DueRecord>, StoreError> {
        let state = self.state.read();
        Ok(state
            .deadlines
            .iter()
            .take_while(|(due, _)| *due <= at)
            .take(limit)
            .map(|(due, key)| DueRecord { due: *due, key: key.clone() })
            .collect())
    }

    fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        commit.validate()?;
        let mut state = self.state.write();
        let receipt = state.apply(commit)?;
        // Published under the write lock, so subscribers see commits in sequence order.
        self.feed.publish(&receipt.events);
        Ok(receipt)
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        Ok(self.state.read().events.query(query))
    }

    fn retire(&self, retirement: &Retirement) -> Result<RetirementReceipt, StoreError> {
        retirement.validate()?;
        self.state.write().retire(retirement)
    }

    fn archived_inquiry(&self, key: &ArchiveKey) -> Result<Option<Versioned<Inquiry>>, StoreError> {
        let state = self.state.read();
        let id = match key {
            ArchiveKey::Inquiry(id) => Some(id),
            ArchiveKey::Room(rid) => state.archive.rooms.get(rid),
        };
        Ok(id.and_then(|id| state.archive.inquiries.get(id)).cloned())
    }

    fn archived_inquiries(
        &self,
        after: Option<&InquiryId>,
        limit: usize,
    ) -> Result<Vec<Versioned<Inquiry>>, StoreError> {
        let state = self.state.read();
        let range = match after {
            Some(id) => state.archive.inquiries.range::<InquiryId, _>((Bound::Excluded(id), Bound::Unbounded)),
            None => state.archive.inquiries.range::<InquiryId, _>(..),
        };
        Ok(range.take(limit).map(|(_, inquiry)| inquiry.clone()).collect())
    }

    fn archived_events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        Ok(self.state.read().archive.events.query(query))
    }

    fn check_integrity(&self) -> Result<IntegrityReport, StoreError> {
        let counters = || {
            let state = self.state.read();
            (state.next_seq - 1, state.deleted_events)
        };
        let before = counters();
        let mut report = check_store_contents(self)?;
        // The accounting compares counts read at different moments; it means something only
        // if no event was committed or retired meanwhile (the check reads through the trait,
        // lock by lock, like every store's default check).
        let (given_out, deleted) = counters();
        if (given_out, deleted) == before {
            check_event_accounting(&mut report, given_out, deleted);
        }
        Ok(report)
    }

    fn subscribe(&self) -> Result<Subscription, StoreError> {
        // Taking the read lock orders the subscription against commits: it sees every commit
        // that starts after this returns.
        let _state = self.state.read();
        Ok(self.feed.subscribe())
    }
}
