//! [`SledStore::check_integrity`](crate::SledStore::check_integrity): the checks every store
//! gets from `lobby-core`, plus one pass over sled's own trees checking what a crash, a bug or a
//! hand edit could break: the in-memory index, the unique-key tree, the per-inquiry event index
//! and the counters in `meta`.

use lobby_core::{check_event_accounting, check_store_contents, InquiryFacts, IntegrityReport, Record, Version};
use lobby_index::InquiryIndex;

use crate::{codec, SledError, SledStore, Trees, META_NEXT_SEQ, META_NEXT_VERSION};

/// Runs every check; the caller holds the commit lock, so nothing changes meanwhile.
pub(crate) fn check(store: &SledStore, next_seq: u64, next_stamp: Version) -> Result<IntegrityReport, SledError> {
    let mut report = IntegrityReport::default();
    let decodable = check_records(&store.trees, &store.index.read(), next_stamp, &mut report)?;
    if decodable {
        let contents = check_store_contents(store)?;
        report.counted.extend(contents.counted);
        report.problems.extend(contents.problems);
    } else {
        report.problem("records that do not decode: the checks through the Store trait were skipped");
    }
    check_unique_tree(&store.trees, &mut report)?;
    check_events(&store.trees, next_seq, &mut report)?;
    if decodable {
        let deleted = crate::archive::deleted_events(&store.trees.meta)?;
        check_event_accounting(&mut report, next_seq - 1, deleted);
    }
    Ok(report)
}

/// Every record decodes under its own key with a version below the next stamp, and the
/// in-memory index holds exactly the stored inquiries with the same facts. Returns whether every
/// record decoded.
fn check_records(
    trees: &Trees,
    index: &InquiryIndex,
    next_stamp: Version,
    report: &mut IntegrityReport,
) -> Result<bool, SledError> {
    let mut decodable = true;
    let mut inquiries = 0usize;
    let mut deadlines = std::collections::BTreeSet::new();
    for entry in trees.records.iter() {
        let (key, value) = entry?;
        let stored = match codec::decode_record(&key, &value) {
            Ok(stored) => stored,
            Err(error) => {
                report.problem(error.to_string());
                decodable = false;
                continue;
            }
        };
        let path = stored.value.key().to_path();
        if let Some(due) = stored.value.next_deadline() {
            deadlines.insert(codec::deadline_key(due, &stored.value.key()));
        }
        if stored.version >= next_stamp {
            report
                .problem(format!("{path} has version {}, not below the next stamp {}", stored.version.0, next_stamp.0));
        }
        if let Record::Inquiry(inquiry) = &stored.value {
            inquiries += 1;
            if index.facts(&inquiry.id) != Some(&InquiryFacts::of(inquiry)) {
                report.problem(format!("the in-memory index disagrees with {path}"));
            }
        }
    }
    for entry in trees.deadlines.iter() {
        let (key, _) = entry?;
        report.add_count("deadline index entries", 1);
        if !deadlines.remove(key.as_ref()) {
            match codec::decode_deadline_key(&key) {
                Ok(due) => report.problem(format!(
                    "the deadline index lists {} at {}, which has no such deadline",
                    due.key, due.due
                )),
                Err(error) => report.problem(error.to_string()),
            }
        }
    }
    for missing in deadlines {
        if let Ok(due) = codec::decode_deadline_key(&missing) {
            report.problem(format!("{} has a deadline at {} that the deadline index lacks", due.key, due.due));
        }
    }
    if index.len() != inquiries {
        report.problem(format!("the in-memory index holds {} inquiries, the store {inquiries}", index.len()));
    }
    if let Some(bytes) = trees.meta.get(META_NEXT_VERSION)? {
        let stored = codec::decode_seq("meta/next-version", &bytes)?;
        if stored != next_stamp.0 {
            report.problem(format!("meta says the next version is {stored}, the store uses {}", next_stamp.0));
        }
    }
    Ok(decodable)
}

/// Every entry of the unique-key tree belongs to a record that claims it. (That every claimed
/// key has its entry is checked through the trait.)
fn check_unique_tree(trees: &Trees, report: &mut IntegrityReport) -> Result<(), SledError> {
    for entry in trees.unique.iter() {
        let (key, value) = entry?;
        report.add_count("unique index entries", 1);
        let name = String::from_utf8_lossy(&key).into_owned();
        let owner = match codec::decode_owner(&key, &value) {
            Ok(owner) => owner,
            Err(error) => {
                report.problem(error.to_string());
                continue;
            }
        };
        let claims = match trees.records.get(codec::record_key(&owner))? {
            Some(bytes) => match codec::decode_record(&codec::record_key(&owner), &bytes) {
                Ok(stored) => stored.value.unique_keys().iter().any(|k| codec::unique_key(k) == *key),
                Err(_) => continue, // reported by check_records
            },
            None => {
                report.problem(format!("{name} belongs to {owner}, which does not exist"));
                continue;
            }
        };
        if !claims {
            report.problem(format!("{name} belongs to {owner}, which does not claim it"));
        }
    }
    Ok(())
}

/// Every event decodes under its own number below the next one to give out, `meta` agrees, and
/// the per-inquiry event index lists exactly the events about inquiries.
fn check_events(trees: &Trees, next_seq: u64, report: &mut IntegrityReport) -> Result<(), SledError> {
    let mut last_seq = 0;
    let mut about_inquiries = 0usize;
    for entry in trees.events.iter() {
        let (key, value) = entry?;
        match codec::decode_event(&key, &value) {
            Ok(event) => {
                last_seq = event.seq.0;
                if event.event.inquiry.is_some() {
                    about_inquiries += 1;
                }
            }
            Err(error) => report.problem(error.to_string()),
        }
    }
    if last_seq >= next_seq {
        report.problem(format!("event {last_seq} is stored but the next number to give out is {next_seq}"));
    }
    if let Some(bytes) = trees.meta.get(META_NEXT_SEQ)? {
        let stored = codec::decode_seq("meta/next-event-seq", &bytes)?;
        if stored <= last_seq {
            report.problem(format!("meta says the next event is {stored}, but event {last_seq} exists"));
        }
    }
    let mut indexed = 0usize;
    for entry in trees.events_by_inquiry.iter() {
        let (key, _) = entry?;
        indexed += 1;
        let (id, seq) = match codec::decode_inquiry_event_key(&key) {
            Ok(decoded) => decoded,
            Err(error) => {
                report.problem(error.to_string());
                continue;
            }
        };
        match trees.events.get(codec::event_key(seq))? {
            Some(bytes) => match codec::decode_event(&codec::event_key(seq), &bytes) {
                Ok(event) if event.event.inquiry.as_ref() == Some(&id) => {}
                Ok(_) => {
                    report.problem(format!("events_by_inquiry files event {seq} under {id}, which it is not about"))
                }
                Err(_) => {} // reported above
            },
            None => report.problem(format!("events_by_inquiry names event {seq}, which is not stored")),
        }
    }
    if indexed != about_inquiries {
        report.problem(format!("{about_inquiries} events are about inquiries, {indexed} are indexed"));
    }
    Ok(())
}
