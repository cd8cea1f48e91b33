//! [`Store::commit`](lobby_core::Store::commit): checked under the commit lock, applied in one
//! sled transaction across every tree, then (by default) flushed before it is acknowledged, by
//! a flush it may share with other committers ([`crate::group_flush`]).

use std::collections::HashMap;

use lobby_core::{
    plan_unique_keys, plan_versions, Commit, CommitReceipt, Event, EventSeq, Record, RecordKey, StoreError,
};
use sled::transaction::{TransactionError, Transactional};

use parking_lot::MutexGuard;

use crate::group_flush::UnderWay;
use crate::{codec, CommitState, Durability, SledError, SledStore, META_NEXT_SEQ, META_NEXT_VERSION};

impl SledStore {
    pub(crate) fn commit_inner(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        commit.validate()?;
        let under_way = (self.durability == Durability::FlushEveryCommit).then(|| self.group_flush.enter());
        let mut state = self.commit.lock();
        if let Some(reason) = &state.failed {
            return Err(SledError::Failed(reason.clone()).into());
        }
        if let Some(failed) = self.group_flush.failure() {
            return Err(SledError::Failed(failed.reason).into());
        }

        // Check. Only committers write and they hold `state`, so what is read here stays true
        // until the transaction below.
        let mut current = Vec::with_capacity(commit.writes.len());
        for write in &commit.writes {
            current.push(self.read_record(&write.key)?);
        }
        let stamp = state.next_stamp;
        let mut read = current.iter();
        let versions =
            plan_versions(&commit.writes, |_| Ok(read.next().and_then(|r| r.as_ref()).map(|r| r.version)), stamp)?;
        let current: Vec<Option<Record>> = current.into_iter().map(|r| r.map(|r| r.value)).collect();
        // Bulk imports commit thousands of writes at once; keep the lookup O(1).
        let position: HashMap<&RecordKey, usize> = commit.writes.iter().enumerate().map(|(i, w)| (&w.key, i)).collect();
        let changes = plan_unique_keys(
            &commit.writes,
            |key| Ok(position.get(key).and_then(|&p| current[p].as_ref()).map(Record::unique_keys).unwrap_or_default()),
            |key| self.read_owner(key).map_err(StoreError::from),
        )?;

        // Encode everything before the transaction: sled may run its closure more than once.
        let mut records = sled::Batch::default();
        for (write, version) in commit.writes.iter().zip(&versions) {
            let key = codec::record_key(&write.key);
            match &write.value {
                Some(record) => records.insert(key, codec::encode_record(*version, record)?),
                None => records.remove(key),
            }
        }
        // Each written record leaves its old place in the deadline index and takes its new one.
        let mut deadlines = sled::Batch::default();
        for (write, old) in commit.writes.iter().zip(&current) {
            if let Some(due) = old.as_ref().and_then(Record::next_deadline) {
                deadlines.remove(codec::deadline_key(due, &write.key));
            }
            if let Some(due) = write.value.as_ref().and_then(Record::next_deadline) {
                deadlines.insert(codec::deadline_key(due, &write.key), &[]);
            }
        }
        // Releases first: a key moving between two records of this commit ends up claimed.
        let mut unique = sled::Batch::default();
        for key in &changes.release {
            unique.remove(codec::unique_key(key));
        }
        for (key, owner) in &changes.claim {
            unique.insert(codec::unique_key(key), codec::record_key(owner));
        }
        // Checked so that a corrupt counter is an error, not an overflow.
        let next_seq =
            u64::try_from(commit.events.len()).ok().and_then(|n| state.next_seq.checked_add(n)).ok_or_else(|| {
                SledError::Corrupt {
                    location: "meta/next-event-seq".to_owned(),
                    reason: format!("{} leaves no room for more events", state.next_seq),
                }
            })?;
        let mut events = Vec::with_capacity(commit.events.len());
        let mut event_batch = sled::Batch::default();
        let mut by_inquiry = sled::Batch::default();
        for (offset, event) in commit.events.into_iter().enumerate() {
            let event = Event { seq: EventSeq(state.next_seq + offset as u64), event };
            event_batch.insert(&codec::event_key(event.seq.0), codec::encode_event(&event)?);
            if let Some(id) = &event.event.inquiry {
                by_inquiry.insert(codec::inquiry_event_key(id, event.seq.0), &[]);
            }
            events.push(event);
        }
        let mut meta = sled::Batch::default();
        meta.insert(META_NEXT_SEQ, &next_seq.to_be_bytes());
        meta.insert(META_NEXT_VERSION, &stamp.next().0.to_be_bytes());

        // Apply: sled and the index change together under the index's write lock.
        {
            let mut index = self.index.write();
            let trees = &self.trees;
            let applied: Result<(), TransactionError<()>> =
                (&trees.records, &trees.unique, &trees.events, &trees.events_by_inquiry, &trees.meta, &trees.deadlines)
                    .transaction(|(records_tx, unique_tx, events_tx, by_inquiry_tx, meta_tx, deadlines_tx)| {
                        records_tx.apply_batch(&records)?;
                        deadlines_tx.apply_batch(&deadlines)?;
                        unique_tx.apply_batch(&unique)?;
                        events_tx.apply_batch(&event_batch)?;
                        by_inquiry_tx.apply_batch(&by_inquiry)?;
                        meta_tx.apply_batch(&meta)?;
                        Ok(())
                    });
            if let Err(error) = applied {
                return Err(self.transaction_failed(&mut state, error));
            }
            for write in &commit.writes {
                match (&write.key, &write.value) {
                    (_, Some(Record::Inquiry(inquiry))) => index.upsert(inquiry),
                    (RecordKey::Inquiry(id), None) => index.remove(id),
                    _ => {}
                }
            }
        }
        state.next_seq = next_seq;
        state.next_stamp = stamp.next();
        self.acknowledge(state, under_way, events.clone())?;
        Ok(CommitReceipt { versions, events })
    }

    /// After a failed sled transaction: sled's transactions are all-or-nothing, but after a
    /// storage error we cannot be sure what the log holds, so no more commits until reopened.
    pub(crate) fn transaction_failed(&self, state: &mut CommitState, error: TransactionError<()>) -> StoreError {
        let (reason, full) = match error {
            TransactionError::Storage(error) => {
                let full = crate::error::is_disk_full(&error);
                (SledError::from(error).to_string(), full)
            }
            TransactionError::Abort(()) => ("transaction aborted".to_owned(), false),
        };
        state.failed = Some(reason.clone());
        let reason = format!("commit failed: {reason}");
        if full {
            StoreError::Unavailable(reason)
        } else {
            StoreError::Backend(reason)
        }
    }

    /// Returns once what was just applied is as durable as the store promises, publishing
    /// `events` to feeds in order.
    ///
    /// Made visible before the flush so readers never wait on an fsync; a reader may thus see
    /// a commit a few milliseconds before it is acknowledged (and lose it if the process dies
    /// in between — it was never acknowledged, so no one was promised it). The flush happens
    /// outside the commit lock, shared with whoever commits meanwhile (`group_flush`).
    pub(crate) fn acknowledge(
        &self,
        state: MutexGuard<'_, CommitState>,
        under_way: Option<UnderWay<'_>>,
        events: Vec<Event>,
    ) -> Result<(), StoreError> {
        match self.durability {
            Durability::Periodic => {
                self.group_flush.publish_now(&events, &self.feed);
                Ok(())
            }
            Durability::FlushEveryCommit => {
                let ticket = self.group_flush.applied(events);
                drop(state);
                drop(under_way);
                let flush = || self.db.flush().map(drop);
                self.group_flush.wait_durable(ticket, flush, &self.feed).map_err(|failed| {
                    if failed.disk_full {
                        StoreError::Unavailable(failed.reason)
                    } else {
                        StoreError::Backend(failed.reason)
                    }
                })
            }
        }
    }
}
