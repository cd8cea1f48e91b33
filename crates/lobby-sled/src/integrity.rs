//! [`SledStore::check_integrity`](crate::SledStore::check_integrity): one pass over every tree
//! checking what a crash, a bug or a hand edit could break and the engine relies on.

use std::collections::{HashMap, HashSet};

use lobby_core::{DepartmentId, InquiryFacts, InquiryStatus, Record, UniqueKey, UserId};
use lobby_index::InquiryIndex;

use crate::{codec, SledError, Trees, META_NEXT_SEQ};

/// What [`SledStore::check_integrity`](crate::SledStore::check_integrity) looked at. Getting one
/// back means all of these held:
///
/// - every record decodes and is filed under its own key;
/// - every unique key a record claims points to that record, and every entry in the unique
///   index belongs to a record that claims it;
/// - the in-memory inquiry index holds exactly the stored inquiries, with the same facts;
/// - every taken inquiry has a serving agent, and each agent's `active_chats` equals the number
///   of taken inquiries it serves;
/// - every inquiry's department and every visitor's open room exist;
/// - every event decodes under its own sequence number, below the next number to be given out,
///   and the per-inquiry event index matches the events exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    pub inquiries: usize,
    pub taken_inquiries: usize,
    pub users: usize,
    pub agents: usize,
    pub departments: usize,
    pub visitors: usize,
    pub unique_keys: usize,
    pub events: usize,
    /// The sequence number the next event will get.
    pub next_event_seq: u64,
}

pub(crate) fn check(trees: &Trees, index: &InquiryIndex, next_seq: u64) -> Result<IntegrityReport, SledError> {
    let inconsistent = |message: String| Err(SledError::Inconsistent(message));
    let mut report = IntegrityReport { next_event_seq: next_seq, ..IntegrityReport::default() };
    let mut serving: HashMap<UserId, u32> = HashMap::new();
    let mut agents: Vec<(UserId, u32)> = Vec::new();
    let mut departments: HashSet<DepartmentId> = HashSet::new();
    let mut inquiry_departments: Vec<(String, DepartmentId)> = Vec::new();
    let mut open_rooms: Vec<(String, UniqueKey)> = Vec::new();
    let mut claimed = 0usize;

    for entry in trees.records.iter() {
        let (key, value) = entry?;
        let record = codec::decode_record(&key, &value)?.value;
        let path = record.key().to_path();
        for unique in record.unique_keys() {
            claimed += 1;
            let unique_path = codec::unique_key(&unique);
            match trees.unique.get(&unique_path)? {
                Some(owner) if codec::decode_owner(&unique_path, &owner)? == record.key() => {}
                Some(owner) => {
                    let owner = String::from_utf8_lossy(&owner);
                    return inconsistent(format!("{path} claims {unique}, which the index gives to {owner}"));
                }
                None => return inconsistent(format!("{path} claims {unique}, which is missing from the unique index")),
            }
        }
        match record {
            Record::Inquiry(inquiry) => {
                report.inquiries += 1;
                if index.facts(&inquiry.id) != Some(&InquiryFacts::of(&inquiry)) {
                    return inconsistent(format!("the in-memory index disagrees with {path}"));
                }
                if inquiry.status == InquiryStatus::Taken {
                    report.taken_inquiries += 1;
                    let Some(agent) = inquiry.served_by_id() else {
                        return inconsistent(format!("{path} is taken but served by no one"));
                    };
                    *serving.entry(agent.clone()).or_default() += 1;
                }
                if let Some(department) = inquiry.department {
                    inquiry_departments.push((path, department));
                }
            }
            Record::User(_) => report.users += 1,
            Record::Agent(agent) => {
                report.agents += 1;
                agents.push((agent.id, agent.active_chats));
            }
            Record::Department(department) => {
                report.departments += 1;
                departments.insert(department.id);
            }
            Record::Visitor(visitor) => {
                report.visitors += 1;
                if let Some(room) = visitor.open_room {
                    open_rooms.push((path, UniqueKey::Room(room)));
                }
            }
        }
    }

    if index.len() != report.inquiries {
        return inconsistent(format!(
            "the in-memory index holds {} inquiries, the store {}",
            index.len(),
            report.inquiries
        ));
    }
    for (agent, active_chats) in &agents {
        let taken = serving.get(agent).copied().unwrap_or(0);
        if *active_chats != taken {
            return inconsistent(format!(
                "agent/{agent} has active_chats {active_chats} but serves {taken} taken inquiries"
            ));
        }
    }
    for (path, department) in &inquiry_departments {
        if !departments.contains(department) {
            return inconsistent(format!("{path} is in department {department}, which does not exist"));
        }
    }
    for (path, room) in &open_rooms {
        if trees.unique.get(codec::unique_key(room))?.is_none() {
            return inconsistent(format!("{path} has open {room}, which has no inquiry"));
        }
    }

    for entry in trees.unique.iter() {
        let (key, value) = entry?;
        report.unique_keys += 1;
        let owner = codec::decode_owner(&key, &value)?;
        let name = String::from_utf8_lossy(&key);
        let claims = match trees.records.get(codec::record_key(&owner))? {
            Some(bytes) => codec::decode_record(&codec::record_key(&owner), &bytes)?
                .value
                .unique_keys()
                .iter()
                .any(|k| codec::unique_key(k) == *key),
            None => return inconsistent(format!("{name} belongs to {owner}, which does not exist")),
        };
        if !claims {
            return inconsistent(format!("{name} belongs to {owner}, which does not claim it"));
        }
    }
    if report.unique_keys != claimed {
        return inconsistent(format!("{} unique index entries for {claimed} claimed keys", report.unique_keys));
    }

    let mut last_seq = 0;
    let mut about_inquiries = 0usize;
    for entry in trees.events.iter() {
        let (key, value) = entry?;
        let event = codec::decode_event(&key, &value)?;
        report.events += 1;
        last_seq = event.seq.0;
        if event.event.inquiry.is_some() {
            about_inquiries += 1;
        }
    }
    if last_seq >= next_seq {
        return inconsistent(format!("event {last_seq} is stored but the next number to give out is {next_seq}"));
    }
    if let Some(bytes) = trees.meta.get(META_NEXT_SEQ)? {
        let stored = codec::decode_seq("meta/next-event-seq", &bytes)?;
        if stored <= last_seq {
            return inconsistent(format!("meta says the next event is {stored}, but event {last_seq} exists"));
        }
    }
    let mut indexed = 0usize;
    for entry in trees.events_by_inquiry.iter() {
        let (key, _) = entry?;
        let (id, seq) = codec::decode_inquiry_event_key(&key)?;
        indexed += 1;
        let event = match trees.events.get(codec::event_key(seq))? {
            Some(bytes) => codec::decode_event(&codec::event_key(seq), &bytes)?,
            None => return inconsistent(format!("events_by_inquiry names event {seq}, which is not stored")),
        };
        if event.event.inquiry.as_ref() != Some(&id) {
            return inconsistent(format!("events_by_inquiry files event {seq} under {id}, which it is not about"));
        }
    }
    if indexed != about_inquiries {
        return inconsistent(format!("{about_inquiries} events are about inquiries, {indexed} are indexed"));
    }
    Ok(report)
}
