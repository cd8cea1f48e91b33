//! `Store::commit` as one PostgreSQL transaction.
//!
//! Every committer takes its locks in the same order, so committers queue behind each other
//! instead of deadlocking:
//!
//! 1. the inquiry rows it writes (`SELECT … ORDER BY id FOR UPDATE`), then the other records
//!    (`ORDER BY kind, id`), checking each version against the expected one;
//! 2. the unique keys it releases and claims (claims sorted by key);
//! 3. the new rows it inserts (writes applied sorted by kind and id);
//! 4. the inquiry counter rows (sorted by status and bucket);
//! 5. the event counter row, last, held until COMMIT.
//!
//! A failed check returns before COMMIT and the transaction rolls back, so a commit is applied
//! whole or not at all.

use std::collections::{BTreeMap, HashMap};

use lobby_core::{
    plan_unique_keys, Commit, CommitReceipt, Event, EventSeq, Record, RecordKey, RecordKind, StoreError, UniqueKey,
    Version, Write,
};
use postgres::error::SqlState;
use postgres::Transaction;

use crate::codec::{self, InquiryColumns, ALL_BUCKET};
use crate::pool::StatementCache;
use crate::sql::Statements;

/// Why a commit attempt stopped: a contract error, or the database.
pub(crate) enum Failure {
    Store(StoreError),
    Db(postgres::Error),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Self {
        Self::Db(e)
    }
}

/// Turns a database error during a commit into the contract's error. Lost races the database
/// detected itself (serialization failure, deadlock, a concurrent insert of the same key) are
/// conflicts, so the engine re-reads and retries.
pub(crate) fn map_failure(failure: Failure, commit: &Commit) -> StoreError {
    let e = match failure {
        Failure::Store(e) => return e,
        Failure::Db(e) => e,
    };
    let retryable = matches!(
        e.code(),
        Some(&SqlState::T_R_SERIALIZATION_FAILURE)
            | Some(&SqlState::T_R_DEADLOCK_DETECTED)
            | Some(&SqlState::UNIQUE_VIOLATION)
    );
    match (retryable, commit.writes.first()) {
        (true, Some(write)) => StoreError::Conflict { key: write.key.clone() },
        _ => crate::backend(&e),
    }
}

/// A write with its value encoded, ready to apply.
struct Prepared<'a> {
    write: &'a Write,
    body: Option<String>,
    columns: Option<InquiryColumns>,
}

/// The locked current state of one written key.
struct Current {
    version: Version,
    body: String,
}

pub(crate) fn run(
    tx: &mut Transaction<'_>,
    cache: &mut StatementCache,
    sql: &Statements,
    commit: &Commit,
) -> Result<CommitReceipt, Failure> {
    // Encode first: nothing that can fail without the database should wait for it.
    let mut prepared = Vec::with_capacity(commit.writes.len());
    for write in &commit.writes {
        let body = write.value.as_ref().map(codec::encode_record).transpose()?;
        let columns = write.value.as_ref().and_then(Record::as_inquiry).map(InquiryColumns::of);
        prepared.push(Prepared { write, body, columns });
    }
    let mut event_inquiries = Vec::with_capacity(commit.events.len());
    let mut event_bodies = Vec::with_capacity(commit.events.len());
    for event in &commit.events {
        event_inquiries.push(event.inquiry.as_ref().map(|id| id.as_str().to_owned()));
        event_bodies.push(codec::encode_event(event)?);
    }

    // 1. Lock what is there and check versions.
    let current = lock_current(tx, cache, sql, &commit.writes)?;
    let mut versions = Vec::with_capacity(commit.writes.len());
    for write in &commit.writes {
        let found = current.get(&path(&write.key)).map(|c| c.version);
        if found != write.expected {
            return Err(StoreError::Conflict { key: write.key.clone() }.into());
        }
        versions.push(match (found, &write.value) {
            (Some(version), None) => version,
            (Some(version), Some(_)) => version.next(),
            (None, _) => Version::FIRST,
        });
    }
    let mut old_records: HashMap<RecordKey, Record> = HashMap::new();
    for write in &commit.writes {
        if let Some(found) = current.get(&path(&write.key)) {
            let kind = write.key.kind();
            // Agents hold no unique keys and are not counted: no need to decode them.
            if kind != RecordKind::Agent {
                old_records.insert(write.key.clone(), codec::decode_record(kind, write.key.id(), &found.body)?);
            }
        }
    }

    // 2. Unique keys: check against current owners, release, claim.
    let owner_stmt = cache.get(tx, &sql.owner_of)?;
    let changes = plan_unique_keys(
        &commit.writes,
        |key| Ok(old_records.get(key).cloned()),
        |key| {
            let row = tx.query_opt(&owner_stmt, &[&key.to_path()]).map_err(|e| crate::backend(&e))?;
            row.map(|row| owner_key(row.get(0), row.get(1))).transpose()
        },
    )?;
    if !changes.release.is_empty() {
        let release = cache.get(tx, &sql.release_key)?;
        for key in &changes.release {
            tx.execute(&release, &[&key.to_path()])?;
        }
    }
    if !changes.claim.is_empty() {
        let claim = cache.get(tx, &sql.claim_key)?;
        let mut claims: Vec<&(UniqueKey, RecordKey)> = changes.claim.iter().collect();
        claims.sort_by_key(|(key, _)| key.to_path());
        for (key, owner) in claims {
            // Waits for a concurrent claimant of the same key to finish; if it committed, the
            // key is taken.
            let inserted = tx.execute(&claim, &[&key.to_path(), &owner.kind().as_str(), &owner.id()])?;
            if inserted == 0 {
                return Err(StoreError::Duplicate { key: key.clone() }.into());
            }
        }
    }

    // 3. Apply the writes, in lock order.
    let mut order: Vec<usize> = (0..prepared.len()).collect();
    order.sort_by(|&a, &b| lock_order(&prepared[a].write.key).cmp(&lock_order(&prepared[b].write.key)));
    let mut counts: BTreeMap<(&'static str, String), i64> = BTreeMap::new();
    for index in order {
        let Prepared { write, body, columns } = &prepared[index];
        let version = codec::version_to_db(versions[index]);
        let existed = write.expected.is_some();
        if let Some(Record::Inquiry(old)) = old_records.get(&write.key) {
            count(&mut counts, &InquiryColumns::of(old), -1);
        }
        if let Some(columns) = columns {
            count(&mut counts, columns, 1);
        }
        let changed = match (&write.key, body, columns) {
            (RecordKey::Inquiry(id), Some(body), Some(c)) => {
                let statement = if existed { &sql.update_inquiry } else { &sql.insert_inquiry };
                let statement = cache.get(tx, statement)?;
                tx.execute(
                    &statement,
                    &[
                        &id.as_str(),
                        &version,
                        body,
                        &c.status,
                        &c.department,
                        &c.reserved_for,
                        &c.ts,
                        &c.name,
                        &c.updated_at,
                        &c.priority_weight,
                        &c.sla,
                        &c.age,
                    ],
                )?
            }
            (RecordKey::Inquiry(id), None, _) => {
                let statement = cache.get(tx, &sql.delete_inquiry)?;
                tx.execute(&statement, &[&id.as_str()])?
            }
            (key, Some(body), _) => {
                let statement = if existed { &sql.update_record } else { &sql.insert_record };
                let statement = cache.get(tx, statement)?;
                tx.execute(&statement, &[&key.kind().as_str(), &key.id(), &version, body])?
            }
            (key, None, _) => {
                let statement = cache.get(tx, &sql.delete_record)?;
                tx.execute(&statement, &[&key.kind().as_str(), &key.id()])?
            }
        };
        if changed != 1 {
            // Only a create can get here (the rest act on rows we hold locked): someone else
            // created the record since we looked.
            return Err(StoreError::Conflict { key: write.key.clone() }.into());
        }
    }

    // 4. Counters.
    counts.retain(|_, delta| *delta != 0);
    if !counts.is_empty() {
        let mut statuses = Vec::with_capacity(counts.len());
        let mut buckets = Vec::with_capacity(counts.len());
        let mut deltas = Vec::with_capacity(counts.len());
        for ((status, bucket), delta) in counts {
            statuses.push(status);
            buckets.push(bucket);
            deltas.push(delta);
        }
        let statement = cache.get(tx, &sql.add_counts)?;
        tx.execute(&statement, &[&statuses, &buckets, &deltas])?;
    }

    // 5. Events, numbered from the counter row, and the notification (sent at COMMIT).
    let mut events = Vec::with_capacity(commit.events.len());
    if !commit.events.is_empty() {
        let n = i64::try_from(commit.events.len()).unwrap_or(i64::MAX);
        let statement = cache.get(tx, &sql.append_events)?;
        let row = tx.query_one(&statement, &[&n, &event_inquiries, &event_bodies, &sql.channel])?;
        let last: i64 = row.get(0);
        let first = u64::try_from(last - n + 1)
            .map_err(|_| StoreError::Corrupt(format!("event counter at {last}, below the {n} just added")))?;
        for (offset, event) in (0u64..).zip(&commit.events) {
            events.push(Event { seq: EventSeq(first + offset), event: event.clone() });
        }
    }
    Ok(CommitReceipt { versions, events })
}

/// `(kind, id)`: how the lock queries name a row.
fn path(key: &RecordKey) -> (&'static str, String) {
    (key.kind().as_str(), key.id().to_owned())
}

/// The global lock order: inquiries (by id) before other records (by kind name, then id), ids
/// by bytes, which is how the lock queries' `ORDER BY` sorts them.
fn lock_order(key: &RecordKey) -> (bool, &'static str, &[u8]) {
    (key.kind() != RecordKind::Inquiry, key.kind().as_str(), key.id().as_bytes())
}

fn count(counts: &mut BTreeMap<(&'static str, String), i64>, c: &InquiryColumns, delta: i64) {
    for bucket in [ALL_BUCKET.to_owned(), codec::bucket(c.department.as_deref())] {
        *counts.entry((c.status, bucket)).or_default() += delta;
    }
}

fn owner_key(kind: String, id: String) -> Result<RecordKey, StoreError> {
    let corrupt = |_| StoreError::Corrupt(format!("unique key owner {kind}/{id} is not a valid key"));
    Ok(match codec::kind_from_str(&kind)? {
        RecordKind::Inquiry => RecordKey::Inquiry(id.parse().map_err(corrupt)?),
        RecordKind::User => RecordKey::User(id.parse().map_err(corrupt)?),
        RecordKind::Agent => RecordKey::Agent(id.parse().map_err(corrupt)?),
        RecordKind::Department => RecordKey::Department(id.parse().map_err(corrupt)?),
        RecordKind::Visitor => RecordKey::Visitor(id.parse().map_err(corrupt)?),
    })
}

/// Locks the rows of every written key that exists, in the global lock order, and returns
/// their versions and bodies.
fn lock_current(
    tx: &mut Transaction<'_>,
    cache: &mut StatementCache,
    sql: &Statements,
    writes: &[Write],
) -> Result<HashMap<(&'static str, String), Current>, Failure> {
    let mut current = HashMap::new();
    let inquiry_ids: Vec<&str> =
        writes.iter().filter(|w| matches!(w.key, RecordKey::Inquiry(_))).map(|w| w.key.id()).collect();
    if !inquiry_ids.is_empty() {
        let statement = cache.get(tx, &sql.lock_inquiries)?;
        for row in tx.query(&statement, &[&inquiry_ids])? {
            let (id, version, body): (String, i64, String) = (row.get(0), row.get(1), row.get(2));
            current.insert(
                (RecordKind::Inquiry.as_str(), id),
                Current { version: codec::version_from_db(version)?, body },
            );
        }
    }
    let others: Vec<&Write> = writes.iter().filter(|w| !matches!(w.key, RecordKey::Inquiry(_))).collect();
    if !others.is_empty() {
        let kinds: Vec<&str> = others.iter().map(|w| w.key.kind().as_str()).collect();
        let ids: Vec<&str> = others.iter().map(|w| w.key.id()).collect();
        let statement = cache.get(tx, &sql.lock_records)?;
        for row in tx.query(&statement, &[&kinds, &ids])? {
            let (kind, id, version, body): (String, String, i64, String) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            let kind = codec::kind_from_str(&kind)?.as_str();
            current.insert((kind, id), Current { version: codec::version_from_db(version)?, body });
        }
    }
    Ok(current)
}
