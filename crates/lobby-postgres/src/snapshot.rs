//! [`PostgresStore::snapshot`]: every record and event, hot and archived, as of one instant,
//! read while other servers keep committing and retiring (for backups and moves).

use lobby_core::{Event, EventSeq, Inquiry, InquiryId, Record, RecordKind, StoreError, Versioned};

use crate::error::backend;
use crate::sql::Statements;
use crate::{archive, codec, PostgresStore};

/// Reads inside one `REPEATABLE READ, READ ONLY` transaction: every read sees the database as
/// it was when the first one ran, whatever commits land meanwhile. Given to the closure of
/// [`PostgresStore::snapshot`].
pub struct PostgresSnapshot<'a> {
    tx: postgres::Transaction<'a>,
    sql: &'a Statements,
}

impl PostgresSnapshot<'_> {
    /// Every record of one kind with its body, in id order (byte-wise).
    pub fn records(&mut self, kind: RecordKind) -> Result<Vec<Record>, StoreError> {
        let rows = if kind == RecordKind::Inquiry {
            self.tx.query(&self.sql.scan_inquiries, &[])
        } else {
            self.tx.query(&self.sql.scan_records, &[&kind.as_str()])
        }
        .map_err(|e| backend(&e))?;
        rows.iter()
            .map(|row| {
                let (id, body): (&str, &str) = (row.get(0), row.get(2));
                codec::decode_record(kind, id, body)
            })
            .collect()
    }

    /// At most `limit` events numbered above `after`, in sequence order.
    pub fn events(&mut self, after: EventSeq, limit: usize) -> Result<Vec<Event>, StoreError> {
        let sql = self.sql;
        self.read_events(&sql.events_after, after, limit)
    }

    /// At most `limit` archived inquiries with ids above `after` (all with `None`), in id order
    /// (byte-wise), each with the version it had.
    pub fn archived_inquiries(
        &mut self,
        after: Option<&InquiryId>,
        limit: usize,
    ) -> Result<Vec<Versioned<Inquiry>>, StoreError> {
        let after = after.map_or("", InquiryId::as_str);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.tx.query(&self.sql.archived_after, &[&after, &limit]).map_err(|e| backend(&e))?;
        rows.iter().map(archive::archived_inquiry).collect()
    }

    /// At most `limit` archived events numbered above `after`, in sequence order.
    pub fn archived_events(&mut self, after: EventSeq, limit: usize) -> Result<Vec<Event>, StoreError> {
        let sql = self.sql;
        self.read_events(&sql.archived_events_after, after, limit)
    }

    fn read_events(&mut self, sql: &str, after: EventSeq, limit: usize) -> Result<Vec<Event>, StoreError> {
        let after = i64::try_from(after.0).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.tx.query(sql, &[&after, &limit]).map_err(|e| backend(&e))?;
        rows.iter().map(|row| codec::decode_event(row.get(0), row.get(1))).collect()
    }
}

impl PostgresStore {
    /// Runs `read` on a consistent snapshot of the whole schema (one repeatable-read, read-only
    /// transaction on a connection of its own), so a backup taken while servers commit still
    /// hangs together: agent loads match their inquiries, every event of a written record is
    /// there. Nothing is locked; writers are not held up.
    pub fn snapshot<T>(
        &self,
        read: impl FnOnce(&mut PostgresSnapshot<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| backend(&e))?;
        let mut snapshot = PostgresSnapshot { tx, sql: &self.sql };
        let result = read(&mut snapshot)?;
        snapshot.tx.commit().map_err(|e| backend(&e))?;
        Ok(result)
    }
}
