//! `Store::retire` as one PostgreSQL transaction, and reading the archive back.
//!
//! A retirement takes its locks as a commit does, so the two queue behind each other instead of
//! deadlocking: the inquiry rows first (the commit's own lock query, by id), then the named
//! events (by number), then, in one statement, what belongs to those inquiries only (unique
//! keys, deadlines), the counter rows (sorted, as commits take them) and the event rows. It
//! never takes the event counter: it hands out no number, so it cannot hold up, or be mistaken
//! for, an in-flight commit (see feed.rs).
//!
//! A commit that wrote a retiring inquiry first makes the version check fail (`Conflict`); one
//! that comes after finds the row gone and conflicts itself. Either way an inquiry ends up
//! retired with every event about it, or changed and hot, never half.

use std::collections::{BTreeMap, HashMap};

use lobby_core::{
    check_retired_event, check_retired_inquiry, Inquiry, Record, RecordKey, RecordKind, RetentionAction, Retirement,
    RetirementReceipt, StoreError, UniqueKey, Versioned,
};
use postgres::error::SqlState;
use postgres::Transaction;

use crate::codec::{self, InquiryColumns};
use crate::commit::{self, Failure};
use crate::pool::StatementCache;
use crate::sql::Statements;

pub(crate) fn run(
    tx: &mut Transaction<'_>,
    cache: &mut StatementCache,
    sql: &Statements,
    retirement: &Retirement,
    outcome_id: &str,
) -> Result<RetirementReceipt, Failure> {
    let statement = cache.get(tx, &sql.record_outcome)?;
    tx.execute(&statement, &[&outcome_id])?;

    // 1. Lock the inquiries and check each against the version it was read at.
    let ids: Vec<&str> = retirement.inquiries.iter().map(|(id, _)| id.as_str()).collect();
    let mut locked: HashMap<String, (i64, String)> = HashMap::new();
    if !ids.is_empty() {
        let statement = cache.get(tx, &sql.lock)?;
        let no_records: Vec<&str> = Vec::new();
        for row in tx.query(&statement, &[&ids, &no_records, &no_records])? {
            locked.insert(row.get(1), (row.get(2), row.get(3)));
        }
    }
    let mut rids = Vec::with_capacity(ids.len());
    let mut keys = Vec::new();
    let mut counts = BTreeMap::new();
    for (id, expected) in &retirement.inquiries {
        let current = match locked.remove(id.as_str()) {
            Some((version, body)) => Some(crate::versioned(RecordKind::Inquiry, id.as_str(), version, &body)?),
            None => None,
        };
        let inquiry = check_retired_inquiry(id, *expected, current)?.value;
        commit::count(&mut counts, &InquiryColumns::of(&inquiry), -1);
        rids.push(inquiry.rid.as_str().to_owned());
        keys.extend(Record::Inquiry(inquiry).unique_keys().iter().map(UniqueKey::to_path));
    }

    // 2. Lock the named events still in the hot log; refuse one about a hot inquiry (one retiring
    // in this batch included: its events go with it, not by number).
    let seqs: Vec<i64> = retirement.events.iter().filter_map(|seq| i64::try_from(seq.0).ok()).collect();
    if !seqs.is_empty() {
        let statement = cache.get(tx, &sql.lock_loose_events)?;
        for row in tx.query(&statement, &[&seqs])? {
            let (seq, body, hot): (i64, &str, bool) = (row.get(0), row.get(1), row.get(2));
            check_retired_event(&codec::decode_event(seq, body)?, |_| Ok(hot))?;
        }
    }

    // 3. Move (or delete) everything in one statement.
    let (mut statuses, mut buckets, mut deltas) = (Vec::new(), Vec::new(), Vec::new());
    for ((status, bucket), delta) in counts.into_iter().filter(|(_, delta)| *delta != 0) {
        statuses.push(status);
        buckets.push(bucket);
        deltas.push(delta);
    }
    let archive = retirement.action == RetentionAction::Archive;
    let statement = cache.get(tx, &sql.retire)?;
    let row = tx.query_one(&statement, &[&ids, &rids, &archive, &keys, &statuses, &buckets, &deltas, &seqs])?;
    let (inquiries, events): (i64, i64) = (row.get(0), row.get(1));
    if usize::try_from(inquiries).ok() != Some(ids.len()) {
        // The rows are locked by this transaction: only a foreign writer could make this happen.
        return Err(
            StoreError::Corrupt(format!("{} locked inquiries to retire, {inquiries} deleted", ids.len())).into()
        );
    }
    let events = usize::try_from(events).map_err(|_| StoreError::Corrupt(format!("{events} events retired")))?;
    Ok(RetirementReceipt { inquiries: ids.len(), events })
}

/// A database error during a retirement as the contract reports it: lost races the database
/// detected (deadlock, serialization failure) are conflicts on the batch's first inquiry, so the
/// engine reads again; with no inquiry there is no key to name, and nothing to re-read.
pub(crate) fn map_failure(failure: Failure, retirement: &Retirement) -> StoreError {
    let e = match failure {
        Failure::Store(e) => return e,
        Failure::Db(e) => e,
    };
    let retryable =
        matches!(e.code(), Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED));
    match (retryable, retirement.inquiries.first()) {
        (true, Some((id, _))) => StoreError::Conflict { key: RecordKey::Inquiry(id.clone()) },
        _ => crate::error::backend(&e),
    }
}

/// An archived inquiry from its `(id, version, body)` row.
pub(crate) fn archived_inquiry(row: &postgres::Row) -> Result<Versioned<Inquiry>, StoreError> {
    let id: &str = row.get(0);
    let stored = crate::versioned(RecordKind::Inquiry, id, row.get(1), row.get(2))?;
    match stored.value {
        Record::Inquiry(inquiry) => Ok(Versioned { version: stored.version, value: inquiry }),
        other => Err(StoreError::Corrupt(format!("archived inquiry {id} holds a {} record", other.kind().as_str()))),
    }
}
