//! [`Store::retire`](lobby_core::Store::retire) and the archive's reads. Archived records and
//! events live in trees of their own, which opening the store never reads: open time and the
//! in-memory index depend on the hot set only.

use lobby_core::{
    check_retired_event, check_retired_inquiry, ArchiveKey, Event, EventQuery, Inquiry, InquiryId, Record, RecordKey,
    RetentionAction, Retirement, RetirementReceipt, StoreError, Versioned,
};
use sled::transaction::{TransactionError, Transactional};

use crate::{codec, Durability, SledError, SledStore};

/// What one retired inquiry takes out of the hot trees.
struct Leaving {
    key: Vec<u8>,
    bytes: sled::IVec,
    inquiry: Inquiry,
    unique_keys: Vec<Vec<u8>>,
    deadline: Option<Vec<u8>>,
    /// `(events key, by-inquiry key, event bytes)` of every event about it.
    events: Vec<([u8; 8], Vec<u8>, sled::IVec)>,
}

impl SledStore {
    pub(crate) fn retire_inner(&self, retirement: &Retirement) -> Result<RetirementReceipt, StoreError> {
        retirement.validate()?;
        let under_way = (self.durability == Durability::FlushEveryCommit).then(|| self.group_flush.enter());
        let mut state = self.commit.lock();
        if let Some(reason) = &state.failed {
            return Err(SledError::Failed(reason.clone()).into());
        }

        // Check, under the commit lock: only committers write, so this stays true until applied.
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
            let mut events = Vec::new();
            for entry in self.trees.events_by_inquiry.scan_prefix(codec::inquiry_events_prefix(id)) {
                let (by_inquiry, _) = entry.map_err(SledError::from)?;
                let (_, seq) = codec::decode_inquiry_event_key(&by_inquiry)?;
                let event_key = codec::event_key(seq);
                let bytes = self.trees.events.get(event_key).map_err(SledError::from)?.ok_or_else(|| {
                    SledError::Inconsistent(format!("events_by_inquiry names event {seq}, which is not stored"))
                })?;
                events.push((event_key, by_inquiry.to_vec(), bytes));
            }
            leaving.push(Leaving { key, bytes, inquiry, unique_keys, deadline, events });
        }
        let mut loose = Vec::new();
        for seq in &retirement.events {
            let key = codec::event_key(seq.0);
            let Some(bytes) = self.trees.events.get(key).map_err(SledError::from)? else { continue };
            let event = codec::decode_event(&key, &bytes)?;
            check_retired_event(&event, |id| Ok(self.read_record(&RecordKey::Inquiry(id.clone()))?.is_some()))?;
            let by_inquiry = event.event.inquiry.as_ref().map(|id| codec::inquiry_event_key(id, seq.0));
            loose.push((key, by_inquiry, bytes));
        }

        // Encode everything before the transaction: sled may run its closure more than once.
        let archive = retirement.action == RetentionAction::Archive;
        let mut hot = HotBatches::default();
        let mut cold = ColdBatches::default();
        let mut receipt = RetirementReceipt::default();
        for one in &leaving {
            hot.records.remove(one.key.as_slice());
            one.unique_keys.iter().for_each(|key| hot.unique.remove(key.as_slice()));
            if let Some(deadline) = &one.deadline {
                hot.deadlines.remove(deadline.as_slice());
            }
            if archive {
                cold.records.insert(one.key.as_slice(), one.bytes.clone());
                cold.rooms.insert(one.inquiry.rid.as_str().as_bytes(), one.key.as_slice());
            }
            for (event_key, by_inquiry, bytes) in &one.events {
                hot.events.remove(event_key);
                hot.by_inquiry.remove(by_inquiry.as_slice());
                if archive {
                    cold.events.insert(event_key, bytes.clone());
                    cold.by_inquiry.insert(by_inquiry.as_slice(), &[]);
                }
            }
            receipt.inquiries += 1;
            receipt.events += one.events.len();
        }
        for (event_key, by_inquiry, bytes) in &loose {
            hot.events.remove(event_key);
            if let Some(by_inquiry) = by_inquiry {
                hot.by_inquiry.remove(by_inquiry.as_slice());
            }
            if archive {
                cold.events.insert(event_key, bytes.clone());
                if let Some(by_inquiry) = by_inquiry {
                    cold.by_inquiry.insert(by_inquiry.as_slice(), &[]);
                }
            }
            receipt.events += 1;
        }

        {
            let mut index = self.index.write();
            let trees = &self.trees;
            let applied: Result<(), TransactionError<()>> = (
                &trees.records,
                &trees.unique,
                &trees.deadlines,
                &trees.events,
                &trees.events_by_inquiry,
                &trees.archived_records,
                &trees.archived_rooms,
                &trees.archived_events,
                &trees.archived_events_by_inquiry,
            )
                .transaction(
                    |(records, unique, deadlines, events, by_inquiry, a_records, a_rooms, a_events, a_by_inquiry)| {
                        records.apply_batch(&hot.records)?;
                        unique.apply_batch(&hot.unique)?;
                        deadlines.apply_batch(&hot.deadlines)?;
                        events.apply_batch(&hot.events)?;
                        by_inquiry.apply_batch(&hot.by_inquiry)?;
                        a_records.apply_batch(&cold.records)?;
                        a_rooms.apply_batch(&cold.rooms)?;
                        a_events.apply_batch(&cold.events)?;
                        a_by_inquiry.apply_batch(&cold.by_inquiry)?;
                        Ok(())
                    },
                );
            if let Err(error) = applied {
                return Err(self.transaction_failed(&mut state, error));
            }
            for one in &leaving {
                index.remove(&one.inquiry.id);
            }
        }
        // Nothing to publish: retirement is not news to feeds, but it is made durable like a
        // commit before it is acknowledged.
        self.acknowledge(state, under_way, Vec::new())?;
        Ok(receipt)
    }

    pub(crate) fn archived_inquiry_inner(&self, key: &ArchiveKey) -> Result<Option<Versioned<Inquiry>>, SledError> {
        let record_key = match key {
            ArchiveKey::Inquiry(id) => codec::record_key(&RecordKey::Inquiry(id.clone())),
            ArchiveKey::Room(rid) => match self.trees.archived_rooms.get(rid.as_str().as_bytes())? {
                Some(owner) => owner.to_vec(),
                None => return Ok(None),
            },
        };
        let Some(bytes) = self.trees.archived_records.get(&record_key)? else { return Ok(None) };
        decode_archived(&record_key, &bytes).map(Some)
    }

    pub(crate) fn archived_inquiries_inner(
        &self,
        after: Option<&InquiryId>,
        limit: usize,
    ) -> Result<Vec<Versioned<Inquiry>>, SledError> {
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
        for entry in self.trees.archived_records.range(start..).take(limit) {
            let (key, bytes) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            found.push(decode_archived(&key, &bytes)?);
        }
        Ok(found)
    }

    pub(crate) fn archived_events_inner(&self, query: &EventQuery) -> Result<Vec<Event>, SledError> {
        self.read_events(&self.trees.archived_events, &self.trees.archived_events_by_inquiry, query)
    }
}

fn decode_archived(key: &[u8], bytes: &[u8]) -> Result<Versioned<Inquiry>, SledError> {
    let record = codec::decode_record(key, bytes)?;
    match record.value {
        Record::Inquiry(inquiry) => Ok(Versioned { version: record.version, value: inquiry }),
        other => Err(SledError::Corrupt {
            location: format!("archived_records/{}", String::from_utf8_lossy(key)),
            reason: format!("holds a {} record", other.kind().as_str()),
        }),
    }
}

#[derive(Default)]
struct HotBatches {
    records: sled::Batch,
    unique: sled::Batch,
    deadlines: sled::Batch,
    events: sled::Batch,
    by_inquiry: sled::Batch,
}

#[derive(Default)]
struct ColdBatches {
    records: sled::Batch,
    rooms: sled::Batch,
    events: sled::Batch,
    by_inquiry: sled::Batch,
}
