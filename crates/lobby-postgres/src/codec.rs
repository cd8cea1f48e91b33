//! Records and events to and from their stored form.

use lobby_core::{
    Event, EventSeq, Inquiry, InquiryFacts, InquiryStatus, NewEvent, Record, RecordKey, RecordKind, StoreError, Version,
};

/// A record's JSON body (the inner value, without the kind tag: the kind is a column).
pub(crate) fn encode_record(record: &Record) -> Result<String, StoreError> {
    let encoded = match record {
        Record::Inquiry(r) => serde_json::to_string(r),
        Record::User(r) => serde_json::to_string(r),
        Record::Agent(r) => serde_json::to_string(r),
        Record::Department(r) => serde_json::to_string(r),
        Record::Visitor(r) => serde_json::to_string(r),
    };
    encoded.map_err(|e| StoreError::InvalidCommit(format!("cannot encode {}: {e}", record.key())))
}

/// The record of `kind` stored as `body` under `id`. A body that does not parse, or that names
/// another id, is corruption.
pub(crate) fn decode_record(kind: RecordKind, id: &str, body: &str) -> Result<Record, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("{}/{id}: {e}", kind.as_str()));
    let record = match kind {
        RecordKind::Inquiry => Record::Inquiry(serde_json::from_str(body).map_err(corrupt)?),
        RecordKind::User => Record::User(serde_json::from_str(body).map_err(corrupt)?),
        RecordKind::Agent => Record::Agent(serde_json::from_str(body).map_err(corrupt)?),
        RecordKind::Department => Record::Department(serde_json::from_str(body).map_err(corrupt)?),
        RecordKind::Visitor => Record::Visitor(serde_json::from_str(body).map_err(corrupt)?),
    };
    if record.key().id() != id {
        return Err(StoreError::Corrupt(format!("{}/{id} holds the record of {}", kind.as_str(), record.key())));
    }
    Ok(record)
}

/// Decodes an inquiry whose id we do not know up front (listing rows carry only the body).
pub(crate) fn decode_listed_inquiry(body: &str) -> Result<Inquiry, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("listed inquiry: {e}")))
}

pub(crate) fn kind_from_str(kind: &str) -> Result<RecordKind, StoreError> {
    RecordKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown record kind {kind:?}")))
}

pub(crate) fn status_from_str(status: &str) -> Result<InquiryStatus, StoreError> {
    InquiryStatus::ALL
        .into_iter()
        .find(|s| s.as_str() == status)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown inquiry status {status:?}")))
}

pub(crate) fn version_from_db(version: i64) -> Result<Version, StoreError> {
    u64::try_from(version).map(Version).map_err(|_| StoreError::Corrupt(format!("negative version {version}")))
}

pub(crate) fn version_to_db(version: Version) -> i64 {
    // No record reaches 2^63 writes; saturating keeps a hostile value from wrapping.
    i64::try_from(version.0).unwrap_or(i64::MAX)
}

/// The counter bucket of a department: `none` or `dep:<id>` (ids are never empty).
pub(crate) fn bucket(department: Option<&str>) -> String {
    match department {
        None => "none".to_owned(),
        Some(id) => format!("dep:{id}"),
    }
}

pub(crate) const ALL_BUCKET: &str = "all";

/// The extracted columns of an inquiry row.
pub(crate) struct InquiryColumns {
    pub status: &'static str,
    pub department: Option<String>,
    pub reserved_for: Option<String>,
    pub ts: i64,
    pub name: Vec<u8>,
    pub updated_at: i64,
    pub priority_weight: i16,
    pub sla: i64,
    pub age: i64,
}

impl InquiryColumns {
    pub fn of(inquiry: &Inquiry) -> Self {
        let facts = InquiryFacts::of(inquiry);
        Self {
            status: facts.status.as_str(),
            department: facts.department.map(String::from),
            reserved_for: facts.reserved_for.map(String::from),
            ts: facts.ts,
            name: facts.name.into_bytes(),
            updated_at: facts.updated_at,
            priority_weight: i16::from(facts.priority_weight),
            // As `SortKey` does: clamp, so the column orders exactly like the reference.
            sla: i64::try_from(facts.estimated_waiting_time_queue).unwrap_or(i64::MAX),
            age: facts.age,
        }
    }
}

pub(crate) fn encode_event(event: &NewEvent) -> Result<String, StoreError> {
    serde_json::to_string(event).map_err(|e| StoreError::InvalidCommit(format!("cannot encode an event: {e}")))
}

pub(crate) fn decode_event(seq: i64, body: &str) -> Result<Event, StoreError> {
    let seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("negative event seq {seq}")))?;
    let event = serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?;
    Ok(Event { seq: EventSeq(seq), event })
}

/// The record key a `(kind, id)` pair of columns names.
pub(crate) fn record_key_from(kind: &str, id: &str) -> Result<RecordKey, StoreError> {
    let corrupt = |_| StoreError::Corrupt(format!("{kind}/{id} is not a valid key"));
    Ok(match kind_from_str(kind)? {
        RecordKind::Inquiry => RecordKey::Inquiry(id.parse().map_err(corrupt)?),
        RecordKind::User => RecordKey::User(id.parse().map_err(corrupt)?),
        RecordKind::Agent => RecordKey::Agent(id.parse().map_err(corrupt)?),
        RecordKind::Department => RecordKey::Department(id.parse().map_err(corrupt)?),
        RecordKind::Visitor => RecordKey::Visitor(id.parse().map_err(corrupt)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cannot_collide() {
        assert_ne!(bucket(None), bucket(Some("none")));
        assert_ne!(bucket(Some("all")), ALL_BUCKET);
    }

    #[test]
    fn bad_bodies_are_corruption_not_panics() {
        assert!(matches!(decode_record(RecordKind::Agent, "a1", "{"), Err(StoreError::Corrupt(_))));
        assert!(matches!(decode_event(-1, "{}"), Err(StoreError::Corrupt(_))));
        assert!(matches!(decode_event(1, "[]"), Err(StoreError::Corrupt(_))));
        assert!(matches!(kind_from_str("robot"), Err(StoreError::Corrupt(_))));
        assert!(matches!(status_from_str("lost"), Err(StoreError::Corrupt(_))));
        assert!(matches!(version_from_db(-3), Err(StoreError::Corrupt(_))));
    }
}
