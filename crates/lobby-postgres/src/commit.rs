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
//! 5. the event counter row, last, held until COMMIT (4 and 5 are one statement, so the
//!    serialised tail of a commit is that statement and the COMMIT).
//!
//! A failed check returns before COMMIT and the transaction rolls back, so a commit is applied
//! whole or not at all.

use std::collections::{BTreeMap, HashMap, HashSet};

use lobby_core::{
    plan_unique_keys, plan_versions, Commit, CommitReceipt, Event, EventSeq, Record, RecordKey, RecordKind, StoreError,
    UniqueKey, Version, Write,
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
/// conflicts, so the engine re-reads and retries. (Inserts use `ON CONFLICT DO NOTHING`, so a
/// unique violation is not expected at all; were one to surface on `unique_keys`, the retry's
/// pre-check reports the exact `Duplicate`.)
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
        _ => crate::error::backend(&e),
    }
}

/// A fresh random id for a commit's row in `commit_outcomes` (128 bits, hex).
pub(crate) fn new_outcome_id() -> String {
    let bits: u128 = rand::Rng::gen(&mut rand::thread_rng());
    format!("{bits:032x}")
}

/// The locked current state of one written key.
struct Current {
    version: Version,
    body: String,
}

/// The arrays the `apply` statement takes: one entry per row write.
#[derive(Default)]
struct Apply<'a> {
    // Inquiry creates and updates.
    i_id: Vec<&'a str>,
    i_existed: Vec<bool>,
    i_version: Vec<i64>,
    i_body: Vec<String>,
    i_status: Vec<&'static str>,
    i_department: Vec<Option<String>>,
    i_reserved_for: Vec<Option<String>>,
    i_ts: Vec<i64>,
    i_name: Vec<Vec<u8>>,
    i_updated_at: Vec<i64>,
    i_priority_weight: Vec<i16>,
    i_sla: Vec<i64>,
    i_age: Vec<i64>,
    i_delete: Vec<&'a str>,
    // Other records.
    r_kind: Vec<&'static str>,
    r_id: Vec<&'a str>,
    r_existed: Vec<bool>,
    r_version: Vec<i64>,
    r_body: Vec<String>,
    r_delete_kind: Vec<&'static str>,
    r_delete_id: Vec<&'a str>,
    // The deadline index: every written key, with its record's earliest deadline (none: cleared).
    d_kind: Vec<&'static str>,
    d_id: Vec<&'a str>,
    d_rank: Vec<i16>,
    d_due: Vec<Option<i64>>,
}

pub(crate) fn run(
    tx: &mut Transaction<'_>,
    cache: &mut StatementCache,
    sql: &Statements,
    commit: &Commit,
    outcome_id: &str,
) -> Result<CommitReceipt, Failure> {
    // Encode first: nothing that can fail without the database should wait for it.
    let mut bodies = Vec::with_capacity(commit.writes.len());
    for write in &commit.writes {
        bodies.push(write.value.as_ref().map(codec::encode_record).transpose()?);
    }
    let mut event_inquiries = Vec::with_capacity(commit.events.len());
    let mut event_bodies = Vec::with_capacity(commit.events.len());
    for event in &commit.events {
        event_inquiries.push(event.inquiry.as_ref().map(|id| id.as_str().to_owned()));
        event_bodies.push(codec::encode_event(event)?);
    }

    // 1. Lock what is there and check versions.
    let current = if commit.writes.is_empty() { HashMap::new() } else { lock_current(tx, cache, sql, &commit.writes)? };
    let stamp = if commit.writes.is_empty() {
        let statement = cache.get(tx, &sql.record_outcome)?;
        tx.execute(&statement, &[&outcome_id])?;
        Version::FIRST
    } else {
        let statement = cache.get(tx, &sql.next_version)?;
        codec::version_from_db(tx.query_one(&statement, &[&outcome_id])?.get(0))?
    };
    let versions = plan_versions(&commit.writes, |key| Ok(current.get(&path(key)).map(|c| c.version)), stamp)?;
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

    // 2. Unique keys: check against current owners (read in one query), release, claim.
    let mut candidates: Vec<String> = Vec::new();
    for write in &commit.writes {
        let old = old_records.get(&write.key).map(Record::unique_keys).unwrap_or_default();
        let new = write.value.as_ref().map(Record::unique_keys).unwrap_or_default();
        candidates.extend(new.iter().filter(|k| !old.contains(k)).map(UniqueKey::to_path));
    }
    let mut owners: HashMap<String, (String, String)> = HashMap::new();
    if !candidates.is_empty() {
        let statement = cache.get(tx, &sql.owners)?;
        for row in tx.query(&statement, &[&candidates])? {
            owners.insert(row.get(0), (row.get(1), row.get(2)));
        }
    }
    let changes = plan_unique_keys(
        &commit.writes,
        |key| Ok(old_records.get(key).map(Record::unique_keys).unwrap_or_default()),
        |key| owners.get(&key.to_path()).map(|(kind, id)| codec::record_key_from(kind, id)).transpose(),
    )?;
    if !changes.release.is_empty() {
        let keys: Vec<String> = changes.release.iter().map(UniqueKey::to_path).collect();
        let statement = cache.get(tx, &sql.release_keys)?;
        tx.execute(&statement, &[&keys])?;
    }
    if !changes.claim.is_empty() {
        let mut claims: Vec<(String, &UniqueKey, &RecordKey)> =
            changes.claim.iter().map(|(key, owner)| (key.to_path(), key, owner)).collect();
        claims.sort_by(|a, b| a.0.cmp(&b.0));
        let keys: Vec<&str> = claims.iter().map(|c| c.0.as_str()).collect();
        let kinds: Vec<&str> = claims.iter().map(|c| c.2.kind().as_str()).collect();
        let ids: Vec<&str> = claims.iter().map(|c| c.2.id()).collect();
        let statement = cache.get(tx, &sql.claim_keys)?;
        let claimed: HashSet<String> = tx.query(&statement, &[&keys, &kinds, &ids])?.iter().map(|r| r.get(0)).collect();
        if let Some((_, taken, _)) = claims.iter().find(|c| !claimed.contains(&c.0)) {
            return Err(StoreError::Duplicate { key: (*taken).clone() }.into());
        }
    }

    // 3. Apply the writes in one statement, in lock order, and work out the counter changes.
    let mut order: Vec<usize> = (0..commit.writes.len()).collect();
    order.sort_by(|&a, &b| lock_order(&commit.writes[a].key).cmp(&lock_order(&commit.writes[b].key)));
    let mut counts: BTreeMap<(&'static str, String), i64> = BTreeMap::new();
    let mut apply = Apply::default();
    for index in order {
        let write = &commit.writes[index];
        let version = codec::version_to_db(versions[index]);
        let existed = write.expected.is_some();
        apply.d_kind.push(write.key.kind().as_str());
        apply.d_id.push(write.key.id());
        apply.d_rank.push(kind_rank(write.key.kind()));
        apply.d_due.push(write.value.as_ref().and_then(Record::next_deadline).map(|due| due.as_millis()));
        if let Some(Record::Inquiry(old)) = old_records.get(&write.key) {
            count(&mut counts, &InquiryColumns::of(old), -1);
        }
        match (&write.value, bodies[index].take()) {
            (Some(Record::Inquiry(inquiry)), Some(body)) => {
                let c = InquiryColumns::of(inquiry);
                count(&mut counts, &c, 1);
                apply.i_id.push(write.key.id());
                apply.i_existed.push(existed);
                apply.i_version.push(version);
                apply.i_body.push(body);
                apply.i_status.push(c.status);
                apply.i_department.push(c.department);
                apply.i_reserved_for.push(c.reserved_for);
                apply.i_ts.push(c.ts);
                apply.i_name.push(c.name);
                apply.i_updated_at.push(c.updated_at);
                apply.i_priority_weight.push(c.priority_weight);
                apply.i_sla.push(c.sla);
                apply.i_age.push(c.age);
            }
            (Some(_), Some(body)) => {
                apply.r_kind.push(write.key.kind().as_str());
                apply.r_id.push(write.key.id());
                apply.r_existed.push(existed);
                apply.r_version.push(version);
                apply.r_body.push(body);
            }
            _ if write.key.kind() == RecordKind::Inquiry => apply.i_delete.push(write.key.id()),
            _ => {
                apply.r_delete_kind.push(write.key.kind().as_str());
                apply.r_delete_id.push(write.key.id());
            }
        }
    }
    if !commit.writes.is_empty() {
        let a = &apply;
        let statement = cache.get(tx, &sql.apply)?;
        let row = tx.query_one(
            &statement,
            &[
                &a.i_id,
                &a.i_existed,
                &a.i_version,
                &a.i_body,
                &a.i_status,
                &a.i_department,
                &a.i_reserved_for,
                &a.i_ts,
                &a.i_name,
                &a.i_updated_at,
                &a.i_priority_weight,
                &a.i_sla,
                &a.i_age,
                &a.i_delete,
                &a.r_kind,
                &a.r_id,
                &a.r_existed,
                &a.r_version,
                &a.r_body,
                &a.r_delete_kind,
                &a.r_delete_id,
                &a.d_kind,
                &a.d_id,
                &a.d_rank,
                &a.d_due,
            ],
        )?;
        let inserted_inquiries: Vec<String> = row.get(0);
        let changed: i64 = row.get(1);
        let inserted_records: Vec<String> = row.get(2);
        let inserted: HashSet<String> = inserted_inquiries
            .into_iter()
            .map(|id| format!("{}/{id}", RecordKind::Inquiry.as_str()))
            .chain(inserted_records)
            .collect();
        // Only a create can miss (the rest act on rows we hold locked): someone else created
        // the record since we looked.
        if let Some(lost) = commit.writes.iter().find(|w| w.expected.is_none() && !inserted.contains(&w.key.to_path()))
        {
            return Err(StoreError::Conflict { key: lost.key.clone() }.into());
        }
        let expected_changes = commit.writes.iter().filter(|w| w.expected.is_some()).count();
        if usize::try_from(changed).ok() != Some(expected_changes) {
            let key = commit.writes.iter().find(|w| w.expected.is_some()).unwrap_or(&commit.writes[0]).key.clone();
            return Err(StoreError::Conflict { key }.into());
        }
    }

    // 4 and 5. Counters, then events numbered from the counter row, in one statement.
    counts.retain(|_, delta| *delta != 0);
    let mut events = Vec::with_capacity(commit.events.len());
    if !counts.is_empty() || !commit.events.is_empty() {
        let mut statuses = Vec::with_capacity(counts.len());
        let mut buckets = Vec::with_capacity(counts.len());
        let mut deltas = Vec::with_capacity(counts.len());
        for ((status, bucket), delta) in counts {
            statuses.push(status);
            buckets.push(bucket);
            deltas.push(delta);
        }
        let n = i64::try_from(commit.events.len()).unwrap_or(i64::MAX);
        let statement = cache.get(tx, &sql.finish)?;
        let row = tx.query_opt(
            &statement,
            &[&statuses, &buckets, &deltas, &n, &event_inquiries, &event_bodies, &sql.channel],
        )?;
        if let Some(row) = row {
            let last: i64 = row.get(0);
            let first = u64::try_from(last - n + 1)
                .map_err(|_| StoreError::Corrupt(format!("event counter at {last}, below the {n} just added")))?;
            for (offset, event) in (0u64..).zip(&commit.events) {
                events.push(Event { seq: EventSeq(first + offset), event: event.clone() });
            }
        }
        if events.len() != commit.events.len() {
            return Err(StoreError::Corrupt("the event counter row is missing".into()).into());
        }
    }
    Ok(CommitReceipt { versions, events })
}

/// A kind's place in `RecordKey`'s derived order, for ties in the deadline index.
fn kind_rank(kind: RecordKind) -> i16 {
    match kind {
        RecordKind::Inquiry => 0,
        RecordKind::User => 1,
        RecordKind::Agent => 2,
        RecordKind::Department => 3,
        RecordKind::Visitor => 4,
    }
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

pub(crate) fn count(counts: &mut BTreeMap<(&'static str, String), i64>, c: &InquiryColumns, delta: i64) {
    for bucket in [ALL_BUCKET.to_owned(), codec::bucket(c.department.as_deref())] {
        *counts.entry((c.status, bucket)).or_default() += delta;
    }
}

/// Locks the rows of every written key that exists, in the global lock order, and returns
/// their versions and bodies.
fn lock_current(
    tx: &mut Transaction<'_>,
    cache: &mut StatementCache,
    sql: &Statements,
    writes: &[Write],
) -> Result<HashMap<(&'static str, String), Current>, Failure> {
    let inquiry_ids: Vec<&str> =
        writes.iter().filter(|w| matches!(w.key, RecordKey::Inquiry(_))).map(|w| w.key.id()).collect();
    let others: Vec<&Write> = writes.iter().filter(|w| !matches!(w.key, RecordKey::Inquiry(_))).collect();
    let kinds: Vec<&str> = others.iter().map(|w| w.key.kind().as_str()).collect();
    let ids: Vec<&str> = others.iter().map(|w| w.key.id()).collect();
    let statement = cache.get(tx, &sql.lock)?;
    let mut current = HashMap::new();
    for row in tx.query(&statement, &[&inquiry_ids, &kinds, &ids])? {
        let (kind, id, version, body): (&str, String, i64, String) = (row.get(0), row.get(1), row.get(2), row.get(3));
        let kind = codec::kind_from_str(kind)?.as_str();
        current.insert((kind, id), Current { version: codec::version_from_db(version)?, body });
    }
    Ok(current)
}
