//! How records, unique keys and events are laid out as sled keys and values. Everything that
//! turns bytes back into values lives here, so that every decoding failure becomes a
//! [`SledError::Corrupt`] naming where it was found instead of a panic.

use lobby_core::{
    DepartmentId, DueRecord, Event, EventSeq, InquiryId, Record, RecordKey, RecordKind, Timestamp, UniqueKey, UserId,
    Version, Versioned, VisitorId,
};
use serde::{Deserialize, Serialize};

use crate::SledError;

/// The value under a record's key in the `records` tree.
#[derive(Serialize)]
struct StoredRecordRef<'a> {
    version: Version,
    record: &'a Record,
}

#[derive(Deserialize)]
struct StoredRecord {
    version: Version,
    record: Record,
}

pub(crate) fn record_key(key: &RecordKey) -> Vec<u8> {
    key.to_path().into_bytes()
}

/// The prefix every record of `kind` starts with. Kind names never contain `/` and none is a
/// prefix of another, so a prefix scan returns exactly one kind.
pub(crate) fn kind_prefix(kind: RecordKind) -> Vec<u8> {
    format!("{}/", kind.as_str()).into_bytes()
}

pub(crate) fn encode_record(version: Version, record: &Record) -> Result<Vec<u8>, SledError> {
    serde_json::to_vec(&StoredRecordRef { version, record }).map_err(|error| SledError::Corrupt {
        location: format!("records/{}", record.key()),
        reason: format!("cannot encode: {error}"),
    })
}

/// Decodes a stored record and checks that it is the record its key says it is: a record filed
/// under the wrong key would silently break versions and uniqueness.
pub(crate) fn decode_record(key: &[u8], bytes: &[u8]) -> Result<Versioned<Record>, SledError> {
    let location = || format!("records/{}", String::from_utf8_lossy(key));
    let stored: StoredRecord = serde_json::from_slice(bytes)
        .map_err(|error| SledError::Corrupt { location: location(), reason: error.to_string() })?;
    if record_key(&stored.record.key()) != key {
        return Err(SledError::Corrupt {
            location: location(),
            reason: format!("holds the record of {}", stored.record.key()),
        });
    }
    // Versions start at 1, and the core computes the next one with `+ 1`.
    if stored.version.0 == 0 || stored.version.0 == u64::MAX {
        return Err(SledError::Corrupt { location: location(), reason: format!("version {}", stored.version.0) });
    }
    Ok(Versioned { version: stored.version, value: stored.record })
}

pub(crate) fn unique_key(key: &UniqueKey) -> Vec<u8> {
    key.to_path().into_bytes()
}

/// The `unique` tree's values are the owner's record path; `RecordKey` has no parser, so this is
/// the inverse of [`RecordKey::to_path`].
pub(crate) fn decode_owner(unique: &[u8], bytes: &[u8]) -> Result<RecordKey, SledError> {
    let corrupt =
        |reason: String| SledError::Corrupt { location: format!("unique/{}", String::from_utf8_lossy(unique)), reason };
    let path = std::str::from_utf8(bytes).map_err(|_| corrupt("owner is not UTF-8".into()))?;
    parse_record_path(path).ok_or_else(|| corrupt(format!("owner {path:?} is not a record key")))
}

pub(crate) fn parse_record_path(path: &str) -> Option<RecordKey> {
    let (kind, id) = path.split_once('/')?;
    Some(match kind {
        "inquiry" => RecordKey::Inquiry(InquiryId::new(id).ok()?),
        "user" => RecordKey::User(UserId::new(id).ok()?),
        "agent" => RecordKey::Agent(UserId::new(id).ok()?),
        "department" => RecordKey::Department(DepartmentId::new(id).ok()?),
        "visitor" => RecordKey::Visitor(VisitorId::new(id).ok()?),
        _ => return None,
    })
}

/// `deadlines` keys: the due time (milliseconds with the sign bit flipped, big-endian, so byte
/// order is time order, negative times included), the kind's rank in `RecordKey`'s order, then
/// the id — so the tree's byte order is exactly `DueRecord`'s (due, key) order.
pub(crate) fn deadline_key(due: Timestamp, key: &RecordKey) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(9 + key.id().len());
    bytes.extend_from_slice(&((due.as_millis() as u64) ^ (1 << 63)).to_be_bytes());
    bytes.push(kind_rank(key.kind()));
    bytes.extend_from_slice(key.id().as_bytes());
    bytes
}

/// The first `deadlines` key after every deadline due at or before `at`.
pub(crate) fn deadlines_after(at: Timestamp) -> Vec<u8> {
    let next = at.as_millis().checked_add(1).map(Timestamp::from_millis);
    match next {
        Some(next) => (((next.as_millis() as u64) ^ (1 << 63)).to_be_bytes()).to_vec(),
        None => vec![0xff; 9],
    }
}

pub(crate) fn decode_deadline_key(bytes: &[u8]) -> Result<DueRecord, SledError> {
    let corrupt = |reason: &str| SledError::Corrupt {
        location: format!("deadlines/{}", String::from_utf8_lossy(bytes)),
        reason: reason.to_owned(),
    };
    let (due, rest) = bytes.split_first_chunk::<8>().ok_or_else(|| corrupt("too short"))?;
    let (&rank, id) = rest.split_first().ok_or_else(|| corrupt("no kind"))?;
    let due = Timestamp::from_millis((u64::from_be_bytes(*due) ^ (1 << 63)) as i64);
    let kind = RecordKind::ALL.into_iter().find(|k| kind_rank(*k) == rank).ok_or_else(|| corrupt("unknown kind"))?;
    let id = std::str::from_utf8(id).map_err(|_| corrupt("id is not UTF-8"))?;
    let key = parse_record_path(&format!("{}/{id}", kind.as_str())).ok_or_else(|| corrupt("bad id"))?;
    Ok(DueRecord { due, key })
}

/// A kind's place in `RecordKey`'s derived order (its variant order).
fn kind_rank(kind: RecordKind) -> u8 {
    match kind {
        RecordKind::Inquiry => 0,
        RecordKind::User => 1,
        RecordKind::Agent => 2,
        RecordKind::Department => 3,
        RecordKind::Visitor => 4,
    }
}

/// Big-endian, so sled's byte order is sequence order.
pub(crate) fn event_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub(crate) fn decode_seq(location: &str, bytes: &[u8]) -> Result<u64, SledError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| SledError::Corrupt {
        location: location.to_owned(),
        reason: format!("{} bytes where a sequence number belongs", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(array))
}

pub(crate) fn encode_event(event: &Event) -> Result<Vec<u8>, SledError> {
    serde_json::to_vec(event).map_err(|error| SledError::Corrupt {
        location: format!("events/{}", event.seq.0),
        reason: format!("cannot encode: {error}"),
    })
}

pub(crate) fn decode_event(key: &[u8], bytes: &[u8]) -> Result<Event, SledError> {
    let seq = decode_seq("events", key)?;
    let location = || format!("events/{seq}");
    let event: Event = serde_json::from_slice(bytes)
        .map_err(|error| SledError::Corrupt { location: location(), reason: error.to_string() })?;
    if event.seq != EventSeq(seq) {
        return Err(SledError::Corrupt { location: location(), reason: format!("holds event {}", event.seq.0) });
    }
    Ok(event)
}

/// `events_by_inquiry` keys: a 2-byte length, the inquiry id, then the big-endian sequence
/// number. The length prefix keeps one inquiry's prefix from matching another id that merely
/// starts with it (ids may contain any visible character, `/` included).
pub(crate) fn inquiry_events_prefix(id: &InquiryId) -> Vec<u8> {
    let bytes = id.as_str().as_bytes();
    // Ids are at most 128 bytes (`MAX_ID_LEN`), far below u16::MAX; saturating keeps this total.
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    let mut key = Vec::with_capacity(2 + bytes.len() + 8);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(bytes);
    key
}

pub(crate) fn inquiry_event_key(id: &InquiryId, seq: u64) -> Vec<u8> {
    let mut key = inquiry_events_prefix(id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The inquiry id and sequence number of an `events_by_inquiry` key.
pub(crate) fn decode_inquiry_event_key(key: &[u8]) -> Result<(InquiryId, u64), SledError> {
    let corrupt = |reason: &str| SledError::Corrupt {
        location: format!("events_by_inquiry/{}", String::from_utf8_lossy(key)),
        reason: reason.to_owned(),
    };
    let (len, rest) = key.split_first_chunk::<2>().ok_or_else(|| corrupt("too short"))?;
    let len = usize::from(u16::from_be_bytes(*len));
    if rest.len() != len + 8 {
        return Err(corrupt("length does not match"));
    }
    let (id, seq) = rest.split_at(len);
    let id = std::str::from_utf8(id).ok().and_then(|id| InquiryId::new(id).ok()).ok_or_else(|| corrupt("bad id"))?;
    Ok((id, decode_seq("events_by_inquiry", seq)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_paths_round_trip() {
        for key in [
            RecordKey::Inquiry(InquiryId::new("a/b").unwrap()),
            RecordKey::Agent(UserId::new("u1").unwrap()),
            RecordKey::Visitor(VisitorId::new("v").unwrap()),
        ] {
            assert_eq!(parse_record_path(&key.to_path()), Some(key));
        }
        assert_eq!(parse_record_path("robot/x"), None);
        assert_eq!(parse_record_path("inquiry/"), None);
        assert_eq!(parse_record_path("nothing"), None);
    }

    #[test]
    fn one_inquiry_prefix_never_matches_another() {
        let short = InquiryId::new("ab").unwrap();
        let long = InquiryId::new("ab/c").unwrap();
        assert!(!inquiry_event_key(&long, 7).starts_with(&inquiry_events_prefix(&short)));
        assert_eq!(decode_inquiry_event_key(&inquiry_event_key(&long, 7)).unwrap(), (long, 7));
        assert!(decode_inquiry_event_key(b"\x00").is_err());
        assert!(decode_inquiry_event_key(b"\x00\x09abc").is_err());
    }

    #[test]
    fn deadline_keys_sort_as_due_records_do() {
        let keys = [
            (Timestamp::from_millis(-5), RecordKey::Agent(UserId::new("z").unwrap())),
            (Timestamp::from_millis(0), RecordKey::Inquiry(InquiryId::new("b").unwrap())),
            (Timestamp::from_millis(0), RecordKey::Agent(UserId::new("a").unwrap())),
            (Timestamp::from_millis(0), RecordKey::Inquiry(InquiryId::new("a/b").unwrap())),
            (Timestamp::from_millis(7), RecordKey::Department(DepartmentId::new("d").unwrap())),
        ];
        let mut records: Vec<DueRecord> =
            keys.iter().map(|(due, key)| DueRecord { due: *due, key: key.clone() }).collect();
        records.sort();
        let mut encoded: Vec<Vec<u8>> = keys.iter().map(|(due, key)| deadline_key(*due, key)).collect();
        encoded.sort();
        let decoded: Vec<DueRecord> = encoded.iter().map(|k| decode_deadline_key(k).unwrap()).collect();
        assert_eq!(decoded, records);
        assert!(deadlines_after(Timestamp::from_millis(0)) > deadline_key(Timestamp::from_millis(0), &keys[2].1));
        assert!(deadlines_after(Timestamp::from_millis(0)) < deadline_key(Timestamp::from_millis(1), &keys[2].1));
    }

    #[test]
    fn garbage_is_corruption_not_a_panic() {
        assert!(matches!(decode_record(b"agent/x", b"{not json"), Err(SledError::Corrupt { .. })));
        assert!(matches!(decode_event(b"short", b"{}"), Err(SledError::Corrupt { .. })));
        assert!(matches!(decode_owner(b"room/r", b"\xff\xfe"), Err(SledError::Corrupt { .. })));
        assert!(matches!(decode_deadline_key(b"\x00\x01"), Err(SledError::Corrupt { .. })));
    }
}
