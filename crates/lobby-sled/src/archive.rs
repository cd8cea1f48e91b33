//! [`Store::retire`](lobby_core::Store::retire) and the archive's reads.
//!
//! The archive is a sled database of its own, in `archive/` inside the store's directory, opened
//! the first time something reads or writes it. sled's open time and resident memory grow with
//! everything a database holds (it loads every page's location, and replays the log written
//! since it last opened), so an archive of a million conversations inside the main database
//! made opening take seconds and tripled memory; apart, opening follows the hot set.
//!
//! Two databases share no transaction, so an archiving retirement is three steps, each flushed
//! before the next:
//! 1. an *intent* under `meta/retiring` in the main database, naming every archive key about
//!    to be written;
//! 2. the copies, in one archive transaction;
//! 3. in one main transaction, the removal from the hot trees together with the intent.
//!
//! Until step 3 the hot set is unchanged, and reads look there first, so a half-done
//! retirement is invisible; a crash before step 3 leaves the intent, and the next open deletes
//! the copies it names (the records are still hot: retirement did not happen). A crash after
//! step 3 has nothing to undo. Deleting (`RetentionAction::Delete`) is step 3 alone.

use std::path::Path;
use std::sync::Arc;

use lobby_core::{
    check_retired_event, check_retired_inquiry, ArchiveKey, Event, EventQuery, Inquiry, InquiryId, Record, RecordKey,
    RetentionAction, Retirement, RetirementReceipt, StoreError, Versioned,
};
use serde::{Deserialize, Serialize};
use sled::transaction::{TransactionError, Transactional};

use crate::{codec, open_error, Durability, SledConfig, SledError, SledStore};

/// The main database's key for a retirement under way.
pub(crate) const META_RETIRING: &[u8] = b"retiring";
/// How many events retention deleted for good, so every number given out is accounted for.
pub(crate) const META_DELETED_EVENTS: &[u8] = b"deleted-events";

/// The archive's own page cache: reads of archived conversations are rare.
const ARCHIVE_CACHE_MB: u64 = 64;

/// The archive database and its trees, laid out as the main database's.
pub(crate) struct ArchiveDb {
    db: sled::Db,
    records: sled::Tree,
    /// Room id → the archived inquiry's record path (the one archived last, if a room is reused).
    rooms: sled::Tree,
    events: sled::Tree,
    events_by_inquiry: sled::Tree,
}

impl ArchiveDb {
    pub(crate) fn open(path: &Path, config: SledConfig) -> Result<ArchiveDb, SledError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(config.cache_mb.min(ARCHIVE_CACHE_MB).saturating_mul(1024 * 1024))
            .open()
            .map_err(|error| open_error(path, error))?;
        Ok(ArchiveDb {
            records: db.open_tree("records")?,
            rooms: db.open_tree("rooms")?,
            events: db.open_tree("events")?,
            events_by_inquiry: db.open_tree("events_by_inquiry")?,
            db,
        })
    }

    /// Applies `writes` in one transaction and flushes.
    fn apply(&self, writes: &ArchiveWrites) -> Result<(), SledError> {
        let applied: Result<(), TransactionError<()>> =
            (&self.records, &self.rooms, &self.events, &self.events_by_inquiry).transaction(
                |(records, rooms, events, by_inquiry)| {
                    records.apply_batch(&writes.records)?;
                    rooms.apply_batch(&writes.rooms)?;
                    events.apply_batch(&writes.events)?;
                    by_inquiry.apply_batch(&writes.by_inquiry)?;
                    Ok(())
                },
            );
        match applied {
            Ok(()) => {}
            Err(TransactionError::Storage(error)) => return Err(error.into()),
            Err(TransactionError::Abort(())) => return Err(SledError::Failed("archive transaction aborted".into())),
        }
        self.db.flush()?;
        Ok(())
    }

    /// Removes what an unfinished retirement (`intent`) copied in.
    fn undo(&self, intent: &Intent) -> Result<(), SledError> {
        let mut undo = ArchiveWrites::default();
        for key in &intent.records {
            undo.records.remove(key.as_bytes());
        }
        for (room, owner) in &intent.rooms {
            if self.rooms.get(room.as_bytes())?.is_some_and(|found| found == owner.as_bytes()) {
                undo.rooms.remove(room.as_bytes());
            }
        }
        for seq in &intent.events {
            undo.events.remove(&codec::event_key(*seq));
        }
        for (id, seq) in &intent.by_inquiry {
            undo.by_inquiry.remove(codec::inquiry_event_key(id, *seq));
        }
        self.apply(&undo)
    }
}

/// What an archiving retirement is about to copy: enough to delete the copies again.
#[derive(Serialize, Deserialize, Default)]
pub(crate) struct Intent {
    records: Vec<String>,
    /// (room id, the record path it maps to).
    rooms: Vec<(String, String)>,
    events: Vec<u64>,
    by_inquiry: Vec<(InquiryId, u64)>,
}

#[derive(Default)]
struct ArchiveWrites {
    records: sled::Batch,
    rooms: sled::Batch,
    events: sled::Batch,
    by_inquiry: sled::Batch,
}

#[derive(Default)]
struct HotRemovals {
    records: sled::Batch,
    unique: sled::Batch,
    deadlines: sled::Batch,
    events: sled::Batch,
    by_inquiry: sled::Batch,
    meta: sled::Batch,
}

/// What one retired inquiry takes out of the hot trees.
struct Leaving {
    key: Vec<u8>,
    bytes: sled::IVec,
    inquiry: Inquiry,
    unique_keys: Vec<Vec<u8>>,
    deadline: Option<Vec<u8>>,
    events: Vec<Moving>,
}

/// One event leaving the hot log.
struct Moving {
    seq: u64,
    about: Option<InquiryId>,
    bytes: sled::IVec,
}

impl SledStore {
    /// The archive database, opened on first use.
    pub(crate) fn archive(&self) -> Result<Arc<ArchiveDb>, SledError> {
        let mut archive = self.archive.lock();
        if let Some(open) = &*archive {
            return Ok(Arc::clone(open));
        }
        let open = Arc::new(ArchiveDb::open(&self.path.join("archive"), self.config)?);
        *archive = Some(Arc::clone(&open));
        Ok(open)
    }

    /// The archive for a read: `None` if nothing was ever archived (no database is created
    /// just to find it empty).
    fn archive_for_reading(&self) -> Result<Option<Arc<ArchiveDb>>, SledError> {
        if self.archive.lock().is_none() && !self.path.join("archive").exists() {
            return Ok(None);
        }
        self.archive().map(Some)
    }

    /// At open, and before each retirement: undoes a retirement that a crash or a failure cut
    /// short (see the module's comment).
    pub(crate) fn finish_interrupted_retirement(&self) -> Result<(), SledError> {
        let Some(bytes) = self.trees.meta.get(META_RETIRING)? else { return Ok(()) };
        let intent: Intent = serde_json::from_slice(&bytes)
            .map_err(|error| SledError::Corrupt { location: "meta/retiring".to_owned(), reason: error.to_string() })?;
        self.archive()?.undo(&intent)?;
        self.trees.meta.remove(META_RETIRING)?;
        self.db.flush()?;
        Ok(())
    }

    pub(crate) fn retire_inner(&self, retirement: &Retirement) -> Result<RetirementReceipt, StoreError> {
        retirement.validate()?;
        // One retirement at a time: there is one intent key. Commits go on meanwhile.
        let _retiring = self.retiring.lock();
        // An earlier retirement that failed between its steps left its intent: undo it first,
        // or this one's intent would replace it and orphan its copies.
        self.finish_interrupted_retirement()?;
        let archive = match retirement.action {
            RetentionAction::Archive => Some(self.archive()?),
            RetentionAction::Delete => None,
        };
        let mut plan = self.plan_retirement(retirement)?;
        if plan.receipt == RetirementReceipt::default() {
            return Ok(plan.receipt);
        }
        // Steps 1 and 2, outside the commit lock (they wait for two flushes, which takes must
        // not): the intent, then the copies, each durable before the next step.
        if let Some(archive) = &archive {
            let encoded = serde_json::to_vec(&plan.intent).map_err(|error| SledError::Corrupt {
                location: "meta/retiring".to_owned(),
                reason: format!("cannot encode: {error}"),
            })?;
            self.trees.meta.insert(META_RETIRING, encoded).map_err(SledError::from)?;
            self.db.flush().map_err(SledError::from)?;
            archive.apply(&plan.copies)?;
        }
        let under_way = (self.durability == Durability::FlushEveryCommit).then(|| self.group_flush.enter());
        let mut state = self.commit.lock();
        if let Some(reason) = &state.failed {
            return Err(SledError::Failed(reason.clone()).into());
        }
        // Commits ran while the copies were written: if one touched a retiring inquiry, the
        // retirement loses, as a commit that read a stale version would.
        if let Some(moved) = self.moved_since(&plan)? {
            drop(state);
            drop(under_way);
            if let Some(archive) = &archive {
                archive.undo(&plan.intent)?;
                self.trees.meta.remove(META_RETIRING).map_err(SledError::from)?;
            }
            return Err(StoreError::Conflict { key: moved });
        }
        if archive.is_none() {
            let deleted = deleted_events(&self.trees.meta)? + plan.receipt.events as u64;
            plan.hot.meta.insert(META_DELETED_EVENTS, &deleted.to_be_bytes());
        }
        // Step 3: out of the hot set, and the intent with it.
        {
            let mut index = self.index.write();
            let trees = &self.trees;
            let hot = &plan.hot;
            let applied: Result<(), TransactionError<()>> =
                (&trees.records, &trees.unique, &trees.deadlines, &trees.events, &trees.events_by_inquiry, &trees.meta)
                    .transaction(|(records, unique, deadlines, events, by_inquiry, meta)| {
                        records.apply_batch(&hot.records)?;
                        unique.apply_batch(&hot.unique)?;
                        deadlines.apply_batch(&hot.deadlines)?;
                        events.apply_batch(&hot.events)?;
                        by_inquiry.apply_batch(&hot.by_inquiry)?;
                        meta.apply_batch(&hot.meta)?;
                        Ok(())
                    });
            if let Err(error) = applied {
                return Err(self.transaction_failed(&mut state, error));
            }
            for one in &plan.leaving {
                index.remove(&one.inquiry.id);
            }
        }
        // Nothing to publish: retirement is not news to feeds, but it is made durable like a
        // commit before it is acknowledged.
        self.acknowledge(state, under_way, Vec::new())?;
        Ok(plan.receipt)
    }

    /// Reads and checks what `retirement` moves, and encodes every write it makes.
    fn plan_retirement(&self, retirement: &Retirement) -> Result<Plan, StoreError> {
        let mut leaving = Vec::with_capacity(retirement.inquiries.len());
        for (id, expected) in &retirement.inquiries {
            let key = codec::record_key(&RecordKey::Inquiry(id.clone()));
            let Some(bytes) = self.trees.records.get(&key).map_err(SledError::from)? else {
                return Err(StoreError::Conflict { key: RecordKey::Inquiry(id.clone()) });
            };
            let current = codec::decode_record(&key, &bytes)?;
            let unique_keys = current.value.unique_keys().iter().map(codec::unique_key).collect();
            let deadline =
                current.value.next_deadline().map(|due| codec::deadline_key(due, &RecordKey::Inquiry(id.clone())));
            let inquiry = check_retired_inquiry(id, *expected, Some(current))?.value;
            let events = self.events_about(id)?;
            leaving.push(Leaving { key, bytes, inquiry, unique_keys, deadline, events });
        }
        let mut loose = Vec::new();
        for seq in &retirement.events {
            let key = codec::event_key(seq.0);
            let Some(bytes) = self.trees.events.get(key).map_err(SledError::from)? else { continue };
            let event = codec::decode_event(&key, &bytes)?;
            check_retired_event(&event, |id| Ok(self.read_record(&RecordKey::Inquiry(id.clone()))?.is_some()))?;
            loose.push(Moving { seq: seq.0, about: event.event.inquiry, bytes });
        }

        // Encoded before the transactions: sled may run their closures more than once.
        let mut plan = Plan::default();
        for one in &leaving {
            plan.hot.records.remove(one.key.as_slice());
            one.unique_keys.iter().for_each(|key| plan.hot.unique.remove(key.as_slice()));
            if let Some(deadline) = &one.deadline {
                plan.hot.deadlines.remove(deadline.as_slice());
            }
            plan.copies.records.insert(one.key.as_slice(), one.bytes.clone());
            plan.copies.rooms.insert(one.inquiry.rid.as_str().as_bytes(), one.key.as_slice());
            let path = String::from_utf8_lossy(&one.key).into_owned();
            plan.intent.records.push(path.clone());
            plan.intent.rooms.push((one.inquiry.rid.as_str().to_owned(), path));
            one.events.iter().for_each(|event| plan.move_event(event));
            plan.receipt.inquiries += 1;
            plan.receipt.events += one.events.len();
        }
        loose.iter().for_each(|event| plan.move_event(event));
        plan.receipt.events += loose.len();
        plan.hot.meta.remove(META_RETIRING);
        plan.leaving = leaving;
        Ok(plan)
    }

    /// Every event about `id` in the hot log.
    fn events_about(&self, id: &InquiryId) -> Result<Vec<Moving>, SledError> {
        let mut events = Vec::new();
        for entry in self.trees.events_by_inquiry.scan_prefix(codec::inquiry_events_prefix(id)) {
            let (by_inquiry, _) = entry?;
            let (_, seq) = codec::decode_inquiry_event_key(&by_inquiry)?;
            let bytes = self.trees.events.get(codec::event_key(seq))?.ok_or_else(|| {
                SledError::Inconsistent(format!("events_by_inquiry names event {seq}, which is not stored"))
            })?;
            events.push(Moving { seq, about: Some(id.clone()), bytes });
        }
        Ok(events)
    }

    /// The first retiring inquiry that a commit changed (or wrote an event about) since `plan`
    /// read it. Called under the commit lock. Named events need no check: only retirement
    /// removes events, and retirements take turns.
    fn moved_since(&self, plan: &Plan) -> Result<Option<RecordKey>, SledError> {
        for one in &plan.leaving {
            let now = self.trees.records.get(&one.key)?;
            let seqs: Vec<u64> = self.events_about(&one.inquiry.id)?.iter().map(|e| e.seq).collect();
            if now.as_ref() != Some(&one.bytes) || seqs != one.events.iter().map(|e| e.seq).collect::<Vec<_>>() {
                return Ok(Some(RecordKey::Inquiry(one.inquiry.id.clone())));
            }
        }
        Ok(None)
    }

    pub(crate) fn archived_inquiry_inner(&self, key: &ArchiveKey) -> Result<Option<Versioned<Inquiry>>, SledError> {
        let Some(archive) = self.archive_for_reading()? else { return Ok(None) };
        let record_key = match key {
            ArchiveKey::Inquiry(id) => codec::record_key(&RecordKey::Inquiry(id.clone())),
            ArchiveKey::Room(rid) => match archive.rooms.get(rid.as_str().as_bytes())? {
                Some(owner) => owner.to_vec(),
                None => return Ok(None),
            },
        };
        let Some(bytes) = archive.records.get(&record_key)? else { return Ok(None) };
        decode_archived(&record_key, &bytes).map(Some)
    }

    pub(crate) fn archived_inquiries_inner(
        &self,
        after: Option<&InquiryId>,
        limit: usize,
    ) -> Result<Vec<Versioned<Inquiry>>, SledError> {
        let Some(archive) = self.archive_for_reading()? else { return Ok(vec![]) };
        let prefix = codec::kind_prefix(lobby_core::RecordKind::Inquiry);
        let start = match after {
            // The smallest key after `after`'s: its own key plus a zero byte.
            Some(id) => {
                let mut key = codec::record_key(&RecordKey::Inquiry(id.clone()));
                key.push(0);
                key
            }
            None => prefix.clone(),
        };
        let mut found = Vec::new();
        for entry in archive.records.range(start..).take(limit) {
            let (key, bytes) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            found.push(decode_archived(&key, &bytes)?);
        }
        Ok(found)
    }

    pub(crate) fn archived_events_inner(&self, query: &EventQuery) -> Result<Vec<Event>, SledError> {
        let Some(archive) = self.archive_for_reading()? else { return Ok(vec![]) };
        self.read_events(&archive.events, &archive.events_by_inquiry, query)
    }
}

/// What `meta` counts as deleted by retention (0 before anything was).
pub(crate) fn deleted_events(meta: &sled::Tree) -> Result<u64, SledError> {
    match meta.get(META_DELETED_EVENTS)? {
        Some(bytes) => codec::decode_seq("meta/deleted-events", &bytes),
        None => Ok(0),
    }
}

/// Everything one retirement reads and writes.
#[derive(Default)]
struct Plan {
    leaving: Vec<Leaving>,
    hot: HotRemovals,
    copies: ArchiveWrites,
    intent: Intent,
    receipt: RetirementReceipt,
}

impl Plan {
    fn move_event(&mut self, event: &Moving) {
        self.hot.events.remove(&codec::event_key(event.seq));
        self.copies.events.insert(&codec::event_key(event.seq), event.bytes.clone());
        self.intent.events.push(event.seq);
        if let Some(id) = &event.about {
            let by_inquiry = codec::inquiry_event_key(id, event.seq);
            self.hot.by_inquiry.remove(by_inquiry.as_slice());
            self.copies.by_inquiry.insert(by_inquiry, &[]);
            self.intent.by_inquiry.push((id.clone(), event.seq));
        }
    }
}

fn decode_archived(key: &[u8], bytes: &[u8]) -> Result<Versioned<Inquiry>, SledError> {
    let record = codec::decode_record(key, bytes)?;
    match record.value {
        Record::Inquiry(inquiry) => Ok(Versioned { version: record.version, value: inquiry }),
        other => Err(SledError::Corrupt {
            location: format!("archive/records/{}", String::from_utf8_lossy(key)),
            reason: format!("holds a {} record", other.kind().as_str()),
        }),
    }
}
