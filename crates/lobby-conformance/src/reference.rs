//! A small, obviously correct [`Store`] — a mutex over a few ordered maps, listings computed by
//! [`InquiryQuery::reference_page`] — and the realistic bugs ([`Bug`]) that can be planted in
//! it, one at a time, to prove that the conformance suite catches each of them.
//!
//! It is not meant to be fast: listings scan every inquiry. It is meant to be read, as the
//! model of what the contract asks, next to `docs/stores.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{self, Sender};
use std::sync::Mutex;

use lobby_core::{
    check_retired_event, check_retired_inquiry, plan_unique_keys, plan_versions, ArchiveKey, Commit, CommitReceipt,
    DueRecord, Event, EventQuery, EventSeq, Inquiry, InquiryFilter, InquiryId, InquiryQuery, InquirySort, Page, Record,
    RecordKey, RecordKind, RetentionAction, Retirement, RetirementReceipt, Store, StoreError, Subscription, Timestamp,
    UniqueKey, UniqueKeyChanges, Version, Versioned, Write,
};

/// Declares [`Bug`] and [`Bug::ALL`] from one list, so no bug can be left out of the tests.
macro_rules! bugs {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// One realistic store bug. Each is a mistake a careful adapter author could make reading
        /// the contract's prose; the suite must reject a store that has any one of them, on every run.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Bug {
            $($(#[$doc])* $name,)*
        }

        impl Bug {
            /// Every bug, for the suite's own tests.
            pub const ALL: &'static [Bug] = &[$(Bug::$name,)*];
        }
    };
}

bugs! {
    /// Applies a commit's writes one by one, so a write that fails leaves the earlier ones applied.
    NonAtomicApply,
    /// Counts a listing's total before filtering by department and reservation.
    WrongTotals,
    /// Checks versions and unique keys under the lock, releases it, then takes it again to write.
    CheckThenAct,
    /// [`Bug::CheckThenAct`] with a yield between the check and the write.
    CheckThenActWithYield,
    /// Publishes a commit's events after releasing the commit lock, so feeds can see them reordered.
    PublishOutsideLock,
    /// Delivers events to feeds through an outbox relay after the commit lock is released, and
    /// drops an event whose number is below one it has already delivered.
    DroppingOutboxFeed,
    /// Starts a new subscription with the last few events committed before it.
    PreSubscriptionEvents,
    /// Numbers versions per key from 1, so a record deleted and created again repeats them.
    AbaAfterRecreate,
    /// Answers `count_before` of an inquiry that does not exist with 0.
    CountBeforeUnknownIsZero,
    /// Numbers events from 0.
    EventsFromZero,
    /// Gives every event of a commit the same number.
    EventNumbersReused,
    /// Checks unique keys before versions, so a conflicting commit reports a duplicate.
    DuplicateBeforeConflict,
    /// Reads `limit: 0` as "no limit".
    LimitZeroIsUnlimited,
    /// Adds a record's new deadline to the deadline index but leaves its old entry there.
    StaleDeadlineIndex,
    /// Retires an inquiry whatever version it is at now.
    RetireIgnoresVersions,
    /// Retires inquiries one by one, so one that conflicts leaves those before it retired.
    RetireOneByOne,
    /// Archives an inquiry but leaves its events in the hot log.
    RetireKeepsEvents,
    /// Counts archived inquiries in listing totals.
    ArchivedStillCounted,
}

/// The reference store, correct unless built with a [`Bug`].
pub struct ReferenceStore {
    bug: Option<Bug>,
    state: Mutex<State>,
    subscribers: Mutex<Vec<Subscriber>>,
}

struct State {
    records: BTreeMap<RecordKey, Versioned<Record>>,
    /// Every record with a deadline, by its earliest one.
    deadlines: BTreeSet<DueRecord>,
    unique: BTreeMap<UniqueKey, RecordKey>,
    events: Vec<Event>,
    next_stamp: Version,
    next_seq: u64,
    archived: BTreeMap<InquiryId, Versioned<Inquiry>>,
    archived_events: Vec<Event>,
}

struct Subscriber {
    sender: Sender<Event>,
    /// The highest event number delivered ([`Bug::DroppingOutboxFeed`] drops any below it).
    delivered: u64,
}

impl Default for ReferenceStore {
    fn default() -> Self {
        Self::new()
    }
}

impl ReferenceStore {
    /// A correct, empty store.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// An empty store with `bug` planted in it.
    pub fn with_bug(bug: Bug) -> Self {
        Self::build(Some(bug))
    }

    fn build(bug: Option<Bug>) -> Self {
        let next_seq = if bug == Some(Bug::EventsFromZero) { 0 } else { 1 };
        let state = State {
            records: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            unique: BTreeMap::new(),
            events: Vec::new(),
            next_stamp: Version::FIRST,
            next_seq,
            archived: BTreeMap::new(),
            archived_events: Vec::new(),
        };
        Self { bug, state: Mutex::new(state), subscribers: Mutex::new(Vec::new()) }
    }

    fn has(&self, bug: Bug) -> bool {
        self.bug == Some(bug)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, events: &[Event]) {
        let dropping = self.has(Bug::DroppingOutboxFeed);
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        subscribers.retain_mut(|subscriber| {
            events.iter().all(|event| {
                if dropping && event.seq.0 <= subscriber.delivered {
                    return true;
                }
                subscriber.delivered = subscriber.delivered.max(event.seq.0);
                subscriber.sender.send(event.clone()).is_ok()
            })
        });
    }

    /// The versions and unique-key changes `writes` make, or why they cannot be applied.
    fn plan(&self, state: &State, writes: &[Write]) -> Result<(Vec<Version>, UniqueKeyChanges), StoreError> {
        let current = |key: &RecordKey| Ok(state.records.get(key).map(|r| r.version));
        let versions = |state: &State| {
            if self.has(Bug::AbaAfterRecreate) {
                // Per-key versions: 1 on create, +1 on update — so a re-created key repeats them.
                writes
                    .iter()
                    .map(|write| {
                        let version = state.records.get(&write.key).map(|r| r.version);
                        if version != write.expected {
                            return Err(StoreError::Conflict { key: write.key.clone() });
                        }
                        Ok(version.map_or(Version::FIRST, |v| if write.value.is_some() { v.next() } else { v }))
                    })
                    .collect()
            } else {
                plan_versions(writes, current, state.next_stamp)
            }
        };
        let unique = || {
            plan_unique_keys(
                writes,
                |key| Ok(state.records.get(key).map(|r| r.value.unique_keys()).unwrap_or_default()),
                |key| Ok(state.unique.get(key).cloned()),
            )
        };
        if self.has(Bug::DuplicateBeforeConflict) {
            let changes = unique()?;
            Ok((versions(state)?, changes))
        } else {
            let versions = versions(state)?;
            Ok((versions, unique()?))
        }
    }

    /// Applies checked writes and numbers the events.
    fn apply(
        &self,
        state: &mut State,
        writes: Vec<Write>,
        versions: &[Version],
        changes: UniqueKeyChanges,
        events: Vec<lobby_core::NewEvent>,
    ) -> Vec<Event> {
        state.next_stamp = state.next_stamp.next();
        for key in &changes.release {
            state.unique.remove(key);
        }
        for (key, owner) in changes.claim {
            state.unique.insert(key, owner);
        }
        for (write, version) in writes.into_iter().zip(versions) {
            let old = state.records.get(&write.key).and_then(|r| r.value.next_deadline());
            if let (Some(due), false) = (old, self.has(Bug::StaleDeadlineIndex)) {
                state.deadlines.remove(&DueRecord { due, key: write.key.clone() });
            }
            if let Some(due) = write.value.as_ref().and_then(Record::next_deadline) {
                state.deadlines.insert(DueRecord { due, key: write.key.clone() });
            }
            match write.value {
                Some(record) => {
                    state.records.insert(write.key, Versioned { version: *version, value: record });
                }
                None => {
                    state.records.remove(&write.key);
                }
            }
        }
        let mut numbered = Vec::with_capacity(events.len());
        for event in events {
            let event = Event { seq: EventSeq(state.next_seq), event };
            if !self.has(Bug::EventNumbersReused) {
                state.next_seq += 1;
            }
            state.events.push(event.clone());
            numbered.push(event);
        }
        if self.has(Bug::EventNumbersReused) && !numbered.is_empty() {
            state.next_seq += 1;
        }
        numbered
    }

    fn commit_one_by_one(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        let mut state = self.lock();
        let mut versions = Vec::new();
        for write in commit.writes {
            let (version, changes) = self.plan(&state, std::slice::from_ref(&write))?;
            self.apply(&mut state, vec![write], &version, changes, vec![]);
            versions.extend(version);
        }
        let events = self.apply(&mut state, vec![], &[], UniqueKeyChanges::default(), commit.events);
        self.publish(&events);
        Ok(CommitReceipt { versions, events })
    }

    /// Checks one retiring inquiry and moves it (with its events) out of the hot set.
    fn retire_one(
        &self,
        state: &mut State,
        id: &InquiryId,
        expected: Version,
        action: RetentionAction,
    ) -> Result<usize, StoreError> {
        let key = RecordKey::Inquiry(id.clone());
        let mut current = state.records.get(&key).cloned();
        if self.has(Bug::RetireIgnoresVersions) {
            current = current.map(|found| Versioned { version: expected, ..found });
        }
        let inquiry = check_retired_inquiry(id, expected, current)?;
        let record = state.records.remove(&key).expect("checked above");
        for unique in record.value.unique_keys() {
            state.unique.remove(&unique);
        }
        if let Some(due) = record.value.next_deadline() {
            state.deadlines.remove(&DueRecord { due, key });
        }
        let about = |e: &Event| e.event.inquiry.as_ref() == Some(id);
        let events: Vec<Event> = if self.has(Bug::RetireKeepsEvents) {
            vec![]
        } else {
            state.events.iter().filter(|e| about(e)).cloned().collect()
        };
        state.events.retain(|e| !events.contains(e));
        let moved = events.len();
        if action == RetentionAction::Archive {
            state.archived_events.extend(events);
            state.archived_events.sort_by_key(|e| e.seq);
            state.archived.insert(id.clone(), inquiry);
        }
        Ok(moved)
    }

    fn inquiries(state: &State) -> impl Iterator<Item = &Inquiry> {
        state.records.values().filter_map(|r| r.value.as_inquiry())
    }
}

impl ReferenceStore {
    fn retire_all(&self, state: &mut State, retirement: &Retirement) -> Result<RetirementReceipt, StoreError> {
        let mut receipt = RetirementReceipt::default();
        for (id, expected) in &retirement.inquiries {
            receipt.events += self.retire_one(state, id, *expected, retirement.action)?;
            receipt.inquiries += 1;
        }
        for seq in &retirement.events {
            let Some(position) = state.events.iter().position(|e| e.seq == *seq) else { continue };
            let records = &state.records;
            check_retired_event(&state.events[position], |id| {
                Ok(records.contains_key(&RecordKey::Inquiry(id.clone())))
            })?;
            let event = state.events.remove(position);
            receipt.events += 1;
            if retirement.action == RetentionAction::Archive {
                state.archived_events.push(event);
                state.archived_events.sort_by_key(|e| e.seq);
            }
        }
        Ok(receipt)
    }
}

impl Store for ReferenceStore {
    fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        Ok(self.lock().records.get(key).cloned())
    }

    fn find(&self, key: &UniqueKey) -> Result<Option<Versioned<Record>>, StoreError> {
        let state = self.lock();
        Ok(state.unique.get(key).and_then(|owner| state.records.get(owner)).cloned())
    }

    fn scan(&self, kind: RecordKind) -> Result<Vec<Versioned<Record>>, StoreError> {
        Ok(self.lock().records.iter().filter(|(key, _)| key.kind() == kind).map(|(_, r)| r.clone()).collect())
    }

    fn list_inquiries(&self, query: &InquiryQuery) -> Result<Page<Inquiry>, StoreError> {
        let state = self.lock();
        let mut page = query.reference_page(Self::inquiries(&state));
        if self.has(Bug::ArchivedStillCounted) {
            page.total += state.archived.values().filter(|a| query.filter.matches(&a.value)).count();
        }
        if self.has(Bug::WrongTotals) {
            page.total = Self::inquiries(&state).filter(|i| query.filter.statuses.contains(i.status)).count();
        }
        Ok(page)
    }

    fn count_before(
        &self,
        filter: &InquiryFilter,
        sort: InquirySort,
        inquiry: &InquiryId,
    ) -> Result<Option<usize>, StoreError> {
        let state = self.lock();
        let all = InquiryQuery { filter: filter.clone(), sort, offset: 0, limit: usize::MAX };
        let position = all.reference_page(Self::inquiries(&state)).items.iter().position(|i| &i.id == inquiry);
        let unknown = !state.records.contains_key(&RecordKey::Inquiry(inquiry.clone()));
        Ok(if unknown && self.has(Bug::CountBeforeUnknownIsZero) { Some(0) } else { position })
    }

    fn due(&self, at: Timestamp, limit: usize) -> Result<Vec<DueRecord>, StoreError> {
        let state = self.lock();
        Ok(state.deadlines.iter().take_while(|d| d.due <= at).take(limit).cloned().collect())
    }

    fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        commit.validate()?;
        if self.has(Bug::NonAtomicApply) {
            return self.commit_one_by_one(commit);
        }
        let mut state = self.lock();
        let (versions, changes) = self.plan(&state, &commit.writes)?;
        if self.has(Bug::CheckThenAct) || self.has(Bug::CheckThenActWithYield) {
            drop(state);
            if self.has(Bug::CheckThenActWithYield) {
                std::thread::yield_now();
            }
            state = self.lock();
        }
        let events = self.apply(&mut state, commit.writes, &versions, changes, commit.events);
        if self.has(Bug::PublishOutsideLock) || self.has(Bug::DroppingOutboxFeed) {
            drop(state);
            std::thread::yield_now();
        }
        self.publish(&events);
        Ok(CommitReceipt { versions, events })
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let limit = if query.limit == 0 && self.has(Bug::LimitZeroIsUnlimited) { usize::MAX } else { query.limit };
        Ok(self.lock().events.iter().filter(|e| query.matches(e)).take(limit).cloned().collect())
    }

    fn retire(&self, retirement: &Retirement) -> Result<RetirementReceipt, StoreError> {
        retirement.validate()?;
        let mut state = self.lock();
        if !self.has(Bug::RetireOneByOne) {
            // Check everything first on a copy of what matters, so a failure changes nothing.
            let mut trial = State {
                records: state.records.clone(),
                deadlines: state.deadlines.clone(),
                unique: state.unique.clone(),
                events: state.events.clone(),
                next_stamp: state.next_stamp,
                next_seq: state.next_seq,
                archived: BTreeMap::new(),
                archived_events: Vec::new(),
            };
            self.retire_all(&mut trial, retirement)?;
        }
        self.retire_all(&mut state, retirement)
    }

    fn archived_inquiry(&self, key: &ArchiveKey) -> Result<Option<Versioned<Inquiry>>, StoreError> {
        let state = self.lock();
        Ok(match key {
            ArchiveKey::Inquiry(id) => state.archived.get(id).cloned(),
            // The one archived last: the highest version, as versions only grow.
            ArchiveKey::Room(rid) => {
                state.archived.values().filter(|a| &a.value.rid == rid).max_by_key(|a| a.version).cloned()
            }
        })
    }

    fn archived_inquiries(
        &self,
        after: Option<&InquiryId>,
        limit: usize,
    ) -> Result<Vec<Versioned<Inquiry>>, StoreError> {
        let state = self.lock();
        Ok(state
            .archived
            .values()
            .filter(|a| after.is_none_or(|after| &a.value.id > after))
            .take(limit)
            .cloned()
            .collect())
    }

    fn archived_events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        Ok(self.lock().archived_events.iter().filter(|e| query.matches(e)).take(query.limit).cloned().collect())
    }

    fn subscribe(&self) -> Result<Subscription, StoreError> {
        // Under the state lock, so the subscription starts exactly between two commits.
        let state = self.lock();
        let (sender, receiver) = mpsc::channel();
        let mut delivered = state.next_seq.saturating_sub(1);
        if self.has(Bug::PreSubscriptionEvents) {
            for event in state.events.iter().rev().take(3).rev() {
                let _ = sender.send(event.clone());
            }
            delivered = 0;
        }
        self.subscribers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(Subscriber { sender, delivered });
        Ok(Subscription::new(receiver))
    }
}
