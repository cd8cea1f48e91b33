//! [`Store::check_integrity`]: what every store must keep true, checked through the trait.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::event::{EventQuery, EventSeq};
use crate::ids::{DepartmentId, InquiryId, UserId};
use crate::model::InquiryStatus;
use crate::time::Timestamp;

use super::{DueRecord, Record, RecordKind, Store, StoreError};

/// What an integrity check looked at and what it found. One contract for every store: the
/// check ran to the end and lists every problem; an empty list means healthy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// How many of each thing were checked: `inquiries`, `agents`, `events`, … (store-specific
    /// checks add their own).
    pub counted: BTreeMap<String, u64>,
    /// Every inconsistency found, in words naming the records involved.
    pub problems: Vec<String>,
}

impl IntegrityReport {
    /// No problem found.
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
    }

    /// How many things of `what` were checked (0 if none or not counted).
    pub fn count(&self, what: &str) -> u64 {
        self.counted.get(what).copied().unwrap_or(0)
    }

    /// Adds `n` to the count of `what`.
    pub fn add_count(&mut self, what: &str, n: u64) {
        *self.counted.entry(what.to_owned()).or_default() += n;
    }

    /// Records a problem.
    pub fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }
}

impl std::fmt::Display for IntegrityReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts: Vec<String> = self.counted.iter().map(|(what, n)| format!("{n} {what}")).collect();
        write!(f, "checked {}", counts.join(", "))?;
        if self.problems.is_empty() {
            return write!(f, "; healthy");
        }
        write!(f, "; {} problem(s):", self.problems.len())?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// Events read per call while checking the log.
const EVENT_PAGE: usize = 10_000;

/// The checks every store gets from [`Store::check_integrity`], for a store that adds its own:
/// each record's unique keys find it; each taken inquiry has a serving agent and each offered one
/// an agent it is offered to; each agent's chats, offers and load (slots in use: served and not on
/// hold, or offered) equal what the inquiries say; departments and open rooms named by records exist;
/// [`Store::due`] lists exactly the records' earliest deadlines; the hot and archived event logs
/// come in sequence order and share no number; archived inquiries are closed and not also in
/// the hot set.
pub fn check_store_contents<S: Store + ?Sized>(store: &S) -> Result<IntegrityReport, StoreError> {
    let mut report = IntegrityReport::default();
    let mut serving: HashMap<UserId, Held> = HashMap::new();
    let mut agents: Vec<(UserId, Held)> = Vec::new();
    let mut loads: HashMap<UserId, u32> = HashMap::new();
    let mut departments: HashSet<DepartmentId> = HashSet::new();
    let mut named_departments: Vec<(String, DepartmentId)> = Vec::new();
    let mut deadlines: BTreeSet<DueRecord> = BTreeSet::new();
    for kind in RecordKind::ALL {
        let records = store.scan(kind)?;
        report.add_count(kind.plural(), records.len() as u64);
        for stored in records {
            let record = stored.value;
            let path = record.key().to_path();
            if let Some(due) = record.next_deadline() {
                deadlines.insert(DueRecord { due, key: record.key() });
            }
            for unique in record.unique_keys() {
                report.add_count("unique keys", 1);
                match store.find(&unique)? {
                    Some(owner) if owner.value.key() == record.key() => {}
                    Some(owner) => report.problem(format!("{path} claims {unique}, which finds {}", owner.value.key())),
                    None => report.problem(format!("{path} claims {unique}, which finds nothing")),
                }
            }
            match record {
                Record::Inquiry(inquiry) => {
                    match (inquiry.status, inquiry.holder()) {
                        (InquiryStatus::Taken, Some(agent)) => {
                            let held = serving.entry(agent.clone()).or_default();
                            held.chats.insert(inquiry.id.clone());
                            held.slots += usize::from(inquiry.uses_a_slot());
                        }
                        (InquiryStatus::Offered, Some(agent)) => {
                            let held = serving.entry(agent.clone()).or_default();
                            held.offers.insert(inquiry.id.clone());
                            held.slots += 1;
                        }
                        (InquiryStatus::Taken, None) => report.problem(format!("{path} is taken but served by no one")),
                        (InquiryStatus::Offered, None) => report.problem(format!("{path} is offered to no one")),
                        _ => {}
                    }
                    if inquiry.status != InquiryStatus::Taken && inquiry.on_hold_since.is_some() {
                        report.problem(format!("{path} is on hold but {}", inquiry.status));
                    }
                    if let Some(department) = inquiry.department {
                        named_departments.push((path, department));
                    }
                }
                Record::Agent(agent) => {
                    loads.insert(agent.id.clone(), agent.active_chats);
                    agents.push((agent.id, Held { chats: agent.chats, offers: agent.offers, slots: 0 }));
                }
                Record::Department(department) => {
                    departments.insert(department.id);
                }
                Record::Visitor(visitor) => {
                    if let Some(room) = &visitor.open_room {
                        if store.find(&super::UniqueKey::Room(room.clone()))?.is_none() {
                            report.problem(format!("{path} has open room {room}, which has no inquiry"));
                        }
                    }
                }
                Record::User(_) => {}
            }
        }
    }
    for (agent, listed) in &agents {
        let held = serving.remove(agent).unwrap_or_default();
        let active_chats = loads.get(agent).copied().unwrap_or(0);
        if active_chats as usize != held.slots {
            let n = held.slots;
            report.problem(format!(
                "agent/{agent} has active_chats {active_chats} but holds {n} slots (taken and not on hold, or offered)"
            ));
        }
        if listed.chats != held.chats {
            report.problem(format!("agent/{agent} lists chats {:?} but serves {:?}", listed.chats, held.chats));
        }
        if listed.offers != held.offers {
            report.problem(format!("agent/{agent} lists offers {:?} but is offered {:?}", listed.offers, held.offers));
        }
    }
    for (agent, held) in serving {
        let n = held.chats.len() + held.offers.len();
        report.problem(format!("{n} taken or offered inquiries are held by agent/{agent}, which does not exist"));
    }
    let indexed: BTreeSet<DueRecord> = store.due(Timestamp::MAX, usize::MAX)?.into_iter().collect();
    report.add_count("deadlines", deadlines.len() as u64);
    for missing in deadlines.difference(&indexed) {
        report.problem(format!("{} has a deadline at {} that Store::due does not list", missing.key, missing.due));
    }
    for stray in indexed.difference(&deadlines) {
        report.problem(format!("Store::due lists {} at {}, which has no such deadline", stray.key, stray.due));
    }
    for (path, department) in named_departments {
        if !departments.contains(&department) {
            report.problem(format!("{path} is in department {department}, which does not exist"));
        }
    }
    check_event_log(store, &mut report)?;
    check_archive(store, &mut report)?;
    Ok(report)
}

/// For store authors, after [`check_store_contents`]: every event number the store gave out
/// (`given_out`: the next number minus one) is in the hot log, in the archive, or counted as
/// deleted by retention (`deleted`). With the order checks above, this is what is left of
/// "numbered without gaps" once retention takes events out.
pub fn check_event_accounting(report: &mut IntegrityReport, given_out: u64, deleted: u64) {
    let (hot, archived) = (report.count("events"), report.count("archived events"));
    if hot + archived + deleted != given_out {
        report.problem(format!(
            "{hot} events are hot, {archived} archived and {deleted} deleted, but {given_out} numbers were given out"
        ));
    }
}

fn check_event_log<S: Store + ?Sized>(store: &S, report: &mut IntegrityReport) -> Result<(), StoreError> {
    // The hot set is what retention keeps small, so it is the one held in memory.
    let mut hot = BTreeSet::new();
    walk_log(
        report,
        "events",
        |query| store.events(query),
        |seq| {
            hot.insert(seq);
        },
    )?;
    let mut both = Vec::new();
    walk_log(
        report,
        "archived events",
        |query| store.archived_events(query),
        |seq| {
            if hot.contains(&seq) {
                both.push(seq);
            }
        },
    )?;
    for seq in both {
        report.problem(format!("event {seq} is both in the hot log and in the archive"));
    }
    Ok(())
}

/// Reads one log page by page, checking that it comes in sequence order. Gaps are allowed:
/// retention takes old events out of the middle of the hot log, and with
/// `--retention-action delete` out of both (conformance checks that commits number their events
/// without gaps).
fn walk_log(
    report: &mut IntegrityReport,
    name: &str,
    read: impl Fn(&EventQuery) -> Result<Vec<crate::event::Event>, StoreError>,
    mut each: impl FnMut(u64),
) -> Result<(), StoreError> {
    let mut after = EventSeq::ZERO;
    loop {
        let page = read(&EventQuery::all().after(after).limit(EVENT_PAGE))?;
        if page.is_empty() {
            return Ok(());
        }
        report.add_count(name, page.len() as u64);
        for event in &page {
            if event.seq <= after {
                report.problem(format!("the {name} log goes back from {} to {}", after.0, event.seq.0));
            }
            after = after.max(event.seq);
            each(event.seq.0);
        }
    }
}

/// Archived inquiries are closed, no longer in the hot set, and found by id.
fn check_archive<S: Store + ?Sized>(store: &S, report: &mut IntegrityReport) -> Result<(), StoreError> {
    let mut after: Option<InquiryId> = None;
    loop {
        let page = store.archived_inquiries(after.as_ref(), EVENT_PAGE)?;
        let Some(last) = page.last() else { return Ok(()) };
        report.add_count("archived inquiries", page.len() as u64);
        for archived in &page {
            let inquiry = &archived.value;
            if inquiry.status != InquiryStatus::Closed {
                report.problem(format!("archived inquiry {} is {}", inquiry.id, inquiry.status.as_str()));
            }
            if store.get(&super::RecordKey::Inquiry(inquiry.id.clone()))?.is_some() {
                report.problem(format!("inquiry {} is both in the hot set and in the archive", inquiry.id));
            }
            match store.archived_inquiry(&super::ArchiveKey::Inquiry(inquiry.id.clone()))? {
                Some(found) if found == *archived => {}
                _ => report.problem(format!("archived inquiry {} is listed but not found by its id", inquiry.id)),
            }
        }
        after = Some(last.value.id.clone());
    }
}

/// What one agent holds: by its own record, or as the inquiries say.
#[derive(Default)]
struct Held {
    chats: BTreeSet<InquiryId>,
    offers: BTreeSet<InquiryId>,
    /// Slots in use (counted from the inquiries only).
    slots: usize,
}
