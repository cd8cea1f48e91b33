//! Retention: closed conversations that have not changed for the retention age leave the hot
//! set, with their events, and so do old events about no conversation. Runs as a
//! [`RetentionPass`] of small batches, each one [`Store::retire`], so that takes never wait for
//! more than one batch.

use std::collections::HashMap;

use crate::event::{EventQuery, EventSeq};
use crate::ids::InquiryId;
use crate::model::InquiryStatus;
use crate::query::{Direction, InquiryFilter, InquiryQuery, InquirySort, SortField};
use crate::store::{RetentionAction, RetentionAge, Retirement, Store, StoreExt};
use crate::time::Timestamp;
use crate::CoreError;

use super::Engine;

/// What retention keeps and what it does with the rest (`--retention`, `--retention-action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// How long closed conversations stay after their last change; forever by default.
    pub age: RetentionAge,
    /// Archive (the default) or delete.
    pub action: RetentionAction,
    /// The most inquiries, or events, one batch retires: one store commit each.
    pub batch_size: usize,
}

impl RetentionPolicy {
    /// The batch size the server uses: small enough that a batch holds the store's commit lock
    /// for a few milliseconds (see "Retention" in docs/performance.md).
    pub const DEFAULT_BATCH_SIZE: usize = 50;
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self { age: RetentionAge::FOREVER, action: RetentionAction::Archive, batch_size: Self::DEFAULT_BATCH_SIZE }
    }
}

/// One pass of retention, with its cut-off fixed when it starts: call
/// [`Engine::retire_batch`] until it reports `finished`.
#[derive(Debug, Clone)]
pub struct RetentionPass {
    policy: RetentionPolicy,
    cutoff: Option<Timestamp>,
    /// Events up to here were looked at by this pass and kept (they are about conversations
    /// still in the hot set), so the next batch reads on from here.
    events_after: EventSeq,
}

impl RetentionPass {
    /// Everything older than this leaves; `None` when the policy keeps everything.
    pub fn cutoff(&self) -> Option<Timestamp> {
        self.cutoff
    }
}

/// What one batch retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionReport {
    /// Inquiries archived or deleted.
    pub inquiries: usize,
    /// Events archived or deleted, those of the inquiries included.
    pub events: usize,
    /// Nothing more is old enough: the pass is over.
    pub finished: bool,
}

impl<S: Store> Engine<S> {
    /// A retention pass that retires what is older than `policy.age` now.
    pub fn retention_pass(&self, policy: RetentionPolicy) -> RetentionPass {
        let cutoff =
            policy.age.age().map(|age| self.now().plus_millis(-(age.as_millis().min(i64::MAX as u128) as i64)));
        RetentionPass { policy, cutoff, events_after: EventSeq::ZERO }
    }

    /// Retires one batch: first closed inquiries not changed since the cut-off, oldest first,
    /// each with every event about it; once none is left, events older than the cut-off that
    /// are about no conversation in the hot set. One [`Store::retire`], retried if a
    /// conversation changed meanwhile.
    pub fn retire_batch(&self, pass: &mut RetentionPass) -> Result<RetentionReport, CoreError> {
        let Some(cutoff) = pass.cutoff else { return Ok(RetentionReport { finished: true, ..Default::default() }) };
        let batch_size = pass.policy.batch_size.max(1);
        let action = pass.policy.action;
        let retired = self.retry(|| {
            let inquiries = self.closed_before(cutoff, batch_size)?;
            if inquiries.is_empty() {
                return Ok(None);
            }
            let retirement = Retirement { action, inquiries, events: vec![] };
            Ok(Some(self.store.retire(&retirement)?))
        })?;
        if let Some(receipt) = retired {
            return Ok(RetentionReport { inquiries: receipt.inquiries, events: receipt.events, finished: false });
        }
        let (events, scanned_to, reached_cutoff) = self.loose_events_before(cutoff, pass.events_after, batch_size)?;
        pass.events_after = scanned_to;
        let receipt = self.store.retire(&Retirement { action, inquiries: vec![], events })?;
        Ok(RetentionReport { inquiries: 0, events: receipt.events, finished: reached_cutoff })
    }

    /// Closed inquiries last changed before `cutoff`, oldest first, with their versions.
    fn closed_before(
        &self,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<Vec<(InquiryId, crate::store::Version)>, CoreError> {
        let query = InquiryQuery {
            filter: InquiryFilter::status(InquiryStatus::Closed),
            sort: InquirySort { field: SortField::UpdatedAt, direction: Direction::Ascending },
            offset: 0,
            limit,
        };
        let mut found = Vec::new();
        for inquiry in self.store.list_inquiries(&query)?.items {
            if inquiry.updated_at >= cutoff {
                break;
            }
            // The listing carries no versions; a read per inquiry does, and a change since
            // makes the batch conflict and start again.
            if let Some(current) = self.store.inquiry(&inquiry.id)? {
                if current.value.status == InquiryStatus::Closed && current.value.updated_at < cutoff {
                    found.push((inquiry.id, current.version));
                }
            }
        }
        Ok(found)
    }

    /// Up to `limit` events after `after` and older than `cutoff` that are about no inquiry in
    /// the hot set; how far the scan got; whether it reached the cut-off (or the log's end).
    fn loose_events_before(
        &self,
        cutoff: Timestamp,
        mut after: EventSeq,
        limit: usize,
    ) -> Result<(Vec<EventSeq>, EventSeq, bool), CoreError> {
        // Reads a few pages at most: events of conversations still open are skipped, and a
        // pass that only skips must still end.
        let page_size = limit.saturating_mul(4).max(64);
        let mut hot: HashMap<InquiryId, bool> = HashMap::new();
        let mut loose = Vec::new();
        for _ in 0..4 {
            let page = self.store.events(&EventQuery::all().after(after).limit(page_size))?;
            let full = page.len() == page_size;
            for event in page {
                if event.event.at >= cutoff {
                    return Ok((loose, after, true));
                }
                let keep = match &event.event.inquiry {
                    None => false,
                    Some(id) => match hot.get(id) {
                        Some(hot) => *hot,
                        None => {
                            let is_hot = self.store.inquiry(id)?.is_some();
                            hot.insert(id.clone(), is_hot);
                            is_hot
                        }
                    },
                };
                after = event.seq;
                if !keep {
                    loose.push(event.seq);
                    if loose.len() == limit {
                        return Ok((loose, after, false));
                    }
                }
            }
            if !full {
                return Ok((loose, after, true));
            }
        }
        Ok((loose, after, false))
    }

    /// An inquiry by id from the hot set or, once retention archived it, from the archive.
    pub(super) fn inquiry_anywhere(&self, id: &InquiryId) -> Result<Option<crate::model::Inquiry>, CoreError> {
        if let Some(found) = self.store.inquiry(id)? {
            return Ok(Some(found.value));
        }
        Ok(self.store.archived_inquiry(&crate::store::ArchiveKey::Inquiry(id.clone()))?.map(|found| found.value))
    }
}
