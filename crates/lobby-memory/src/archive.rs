//! The event logs (hot and archived) and [`Store::retire`](lobby_core::Store::retire) on the
//! in-memory state.

use std::collections::{BTreeMap, HashMap};

use lobby_core::{
    check_retired_event, check_retired_inquiry, Event, EventQuery, EventSeq, Inquiry, InquiryId, RecordKey,
    RetentionAction, Retirement, RetirementReceipt, RoomId, StoreError, Versioned,
};

use crate::{slot, State};

/// Events by number, and each inquiry's numbers. Retention takes events out of the middle, so
/// numbers are keys, not positions.
#[derive(Default)]
pub(crate) struct EventLog {
    events: BTreeMap<EventSeq, Event>,
    by_inquiry: HashMap<InquiryId, Vec<EventSeq>>,
}

impl EventLog {
    pub(crate) fn push(&mut self, event: Event) {
        if let Some(id) = &event.event.inquiry {
            self.by_inquiry.entry(id.clone()).or_default().push(event.seq);
        }
        self.events.insert(event.seq, event);
    }

    pub(crate) fn get(&self, seq: EventSeq) -> Option<&Event> {
        self.events.get(&seq)
    }

    /// What `query` asks for, in sequence order.
    pub(crate) fn query(&self, query: &EventQuery) -> Vec<Event> {
        let matching: Box<dyn Iterator<Item = &Event>> = match &query.inquiry {
            Some(id) => Box::new(self.by_inquiry.get(id).into_iter().flatten().filter_map(|seq| self.events.get(seq))),
            None => Box::new(self.events.range(EventSeq(query.after.0.saturating_add(1))..).map(|(_, e)| e)),
        };
        matching.filter(|e| query.matches(e)).take(query.limit).cloned().collect()
    }

    fn remove(&mut self, seq: EventSeq) -> Option<Event> {
        let event = self.events.remove(&seq)?;
        if let Some(id) = &event.event.inquiry {
            if let Some(seqs) = self.by_inquiry.get_mut(id) {
                seqs.retain(|s| *s != seq);
                if seqs.is_empty() {
                    self.by_inquiry.remove(id);
                }
            }
        }
        Some(event)
    }

    fn take_about(&mut self, id: &InquiryId) -> Vec<Event> {
        let seqs = self.by_inquiry.remove(id).unwrap_or_default();
        seqs.into_iter().filter_map(|seq| self.events.remove(&seq)).collect()
    }
}

/// What retention archived: out of every index, read by id, by room and by history.
#[derive(Default)]
pub(crate) struct Archive {
    pub(crate) inquiries: BTreeMap<InquiryId, Versioned<Inquiry>>,
    pub(crate) rooms: HashMap<RoomId, InquiryId>,
    pub(crate) events: EventLog,
}

impl State {
    /// Checks `retirement` against the state and applies it; the caller holds the write lock
    /// and has validated its shape.
    pub(crate) fn retire(&mut self, retirement: &Retirement) -> Result<RetirementReceipt, StoreError> {
        let mut leaving = Vec::with_capacity(retirement.inquiries.len());
        for (id, expected) in &retirement.inquiries {
            let current = self.record(&RecordKey::Inquiry(id.clone())).cloned();
            let deadline = current.as_ref().and_then(|r| r.value.next_deadline());
            let unique_keys = current.as_ref().map(|r| r.value.unique_keys()).unwrap_or_default();
            leaving.push((check_retired_inquiry(id, *expected, current)?, unique_keys, deadline));
        }
        for seq in &retirement.events {
            if let Some(event) = self.events.get(*seq) {
                check_retired_event(event, |id| Ok(self.record(&RecordKey::Inquiry(id.clone())).is_some()))?;
            }
        }
        // Checked: from here on nothing can fail.
        let archive = retirement.action == RetentionAction::Archive;
        let mut receipt = RetirementReceipt::default();
        for (inquiry, unique_keys, deadline) in leaving {
            let key = RecordKey::Inquiry(inquiry.value.id.clone());
            let id = &inquiry.value.id;
            self.records[slot(key.kind())].remove(&key);
            self.index.remove(id);
            for unique in unique_keys {
                self.unique.remove(&unique);
            }
            if let Some(due) = deadline {
                self.deadlines.remove(&(due, key));
            }
            let events = self.events.take_about(id);
            receipt.inquiries += 1;
            receipt.events += events.len();
            if archive {
                events.into_iter().for_each(|event| self.archive.events.push(event));
                self.archive.rooms.insert(inquiry.value.rid.clone(), id.clone());
                self.archive.inquiries.insert(id.clone(), inquiry);
            }
        }
        for seq in &retirement.events {
            if let Some(event) = self.events.remove(*seq) {
                receipt.events += 1;
                if archive {
                    self.archive.events.push(event);
                }
            }
        }
        if !archive {
            self.deleted_events += receipt.events as u64;
        }
        Ok(receipt)
    }
}
