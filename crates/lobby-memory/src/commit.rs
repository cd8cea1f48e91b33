//! [`Store::commit`](lobby_core::Store::commit) on the in-memory state: check everything, then
//! apply, so a failed commit changes nothing.

use lobby_core::{
    plan_unique_keys, plan_versions, Commit, CommitReceipt, Event, EventSeq, Record, RecordKey, StoreError, Versioned,
};

use crate::{slot, State};

impl State {
    /// Checks `commit` against the state and applies it; the caller holds the write lock and
    /// has validated its shape.
    pub(crate) fn apply(&mut self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        let stamp = self.next_stamp;
        let versions = plan_versions(&commit.writes, |key| Ok(self.record(key).map(|r| r.version)), stamp)?;
        let changes = plan_unique_keys(
            &commit.writes,
            |key| Ok(self.record(key).map(|r| r.value.unique_keys()).unwrap_or_default()),
            |key| Ok(self.unique.get(key).cloned()),
        )?;
        // Checked: from here on nothing can fail, so the commit is all-or-nothing.
        self.next_stamp = stamp.next();
        for key in &changes.release {
            self.unique.remove(key);
        }
        for (key, owner) in changes.claim {
            self.unique.insert(key, owner);
        }
        for (write, version) in commit.writes.into_iter().zip(&versions) {
            let map = slot(write.key.kind());
            if let Some(old) = self.record(&write.key).and_then(|r| r.value.next_deadline()) {
                self.deadlines.remove(&(old, write.key.clone()));
            }
            if let Some(due) = write.value.as_ref().and_then(Record::next_deadline) {
                self.deadlines.insert((due, write.key.clone()));
            }
            match write.value {
                Some(record) => {
                    if let Record::Inquiry(inquiry) = &record {
                        self.index.upsert(inquiry);
                    }
                    self.records[map].insert(write.key, Versioned { version: *version, value: record });
                }
                None => {
                    if let RecordKey::Inquiry(id) = &write.key {
                        self.index.remove(id);
                    }
                    self.records[map].remove(&write.key);
                }
            }
        }
        let mut events = Vec::with_capacity(commit.events.len());
        for event in commit.events {
            let event = Event { seq: EventSeq(self.next_seq), event };
            self.next_seq += 1;
            self.events.push(event.clone());
            events.push(event);
        }
        Ok(CommitReceipt { versions, events })
    }
}
