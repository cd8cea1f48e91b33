//! Retention ([`Store::retire`]): retired inquiries leave reads, listings, totals and the event
//! log with all their events, all-or-nothing and only at the version they were read at; the
//! archive still answers by id, by room and by history; numbers are never reused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lobby_core::{
    Actor, ArchiveKey, Commit, EventQuery, EventSeq, Inquiry, InquiryFilter, InquiryQuery, InquirySort, InquiryStatus,
    ManualClock, NewEvent, Record, RecordKey, RetentionAction, RetentionAge, RetentionPolicy, Retirement, SortField,
    Store, StoreError, StoreExt, Timestamp, UniqueKey, Version, Write,
};

use super::{event, put, MakeStore};
use crate::fixtures::{add_agents, engine_with_clock, open_inquiries, race, random_inquiry, rng};

/// `count` inquiries, every other one closed, each with two events about it; returns them with
/// their versions.
fn seed(store: &impl Store, count: usize) -> Vec<(Inquiry, Version)> {
    let mut rng = rng(7);
    let mut seeded = Vec::new();
    for n in 0..count {
        let mut inquiry = random_inquiry(n, &mut rng);
        // Nobody serves them and no department holds them, so the integrity check has only
        // retention to look at.
        inquiry.status = if n % 2 == 0 { InquiryStatus::Closed } else { InquiryStatus::Open };
        (inquiry.served_by, inquiry.taken_at, inquiry.offer, inquiry.department) = (None, None, None, None);
        let about = |label: &str| NewEvent { inquiry: Some(inquiry.id.clone()), ..event(label) };
        let receipt = store
            .commit(Commit {
                writes: vec![Write::create(Record::Inquiry(inquiry.clone()))],
                events: vec![about("created"), about("noted")],
            })
            .expect("seed");
        seeded.push((inquiry, receipt.versions[0]));
    }
    seeded
}

fn closed(seeded: &[(Inquiry, Version)]) -> Vec<(Inquiry, Version)> {
    seeded.iter().filter(|(i, _)| i.status == InquiryStatus::Closed).cloned().collect()
}

fn retirement(action: RetentionAction, of: &[(Inquiry, Version)]) -> Retirement {
    Retirement { action, inquiries: of.iter().map(|(i, v)| (i.id.clone(), *v)).collect(), events: vec![] }
}

fn every_status() -> InquiryQuery {
    InquiryQuery { filter: InquiryFilter::all(), sort: InquirySort::ascending(SortField::Ts), offset: 0, limit: 1000 }
}

fn seqs(events: Vec<lobby_core::Event>) -> Vec<u64> {
    events.iter().map(|e| e.seq.0).collect()
}

fn assert_clean(store: &impl Store) {
    let report = store.check_integrity().expect("integrity check runs");
    assert!(report.problems.is_empty(), "integrity after retirement: {:?}", report.problems);
}

/// Archived inquiries leave reads by key and room, listings, totals, queue positions and
/// deadlines, and are found in the archive by id and by room at the version they had, in id
/// order, page by page.
pub fn archived_inquiries_leave_the_hot_set_and_stay_readable<S: Store>(make: MakeStore<S>) {
    let store = make();
    let seeded = seed(&store, 12);
    let retiring = closed(&seeded);
    let receipt = store.retire(&retirement(RetentionAction::Archive, &retiring)).expect("retire");
    assert_eq!((receipt.inquiries, receipt.events), (6, 12), "what the receipt counts");

    let staying: Vec<Inquiry> =
        seeded.iter().filter(|(i, _)| i.status != InquiryStatus::Closed).map(|(i, _)| i.clone()).collect();
    let page = store.list_inquiries(&every_status()).unwrap();
    assert_eq!(page, every_status().reference_page(staying.iter()), "the listing holds only what stayed");
    let closed_only = InquiryQuery { filter: InquiryFilter::status(InquiryStatus::Closed), ..every_status() };
    assert_eq!(store.list_inquiries(&closed_only).unwrap().total, 0, "no closed inquiry is counted");
    for (inquiry, version) in &retiring {
        assert_eq!(store.get(&RecordKey::Inquiry(inquiry.id.clone())).unwrap(), None, "{} by key", inquiry.id);
        assert_eq!(store.find(&UniqueKey::Room(inquiry.rid.clone())).unwrap(), None, "{} by room", inquiry.id);
        assert_eq!(
            store.count_before(&InquiryFilter::all(), InquirySort::ascending(SortField::Ts), &inquiry.id).unwrap(),
            None,
            "{} has no queue position",
            inquiry.id
        );
        let by_id = store.archived_inquiry(&ArchiveKey::Inquiry(inquiry.id.clone())).unwrap();
        let by_room = store.archived_inquiry(&ArchiveKey::Room(inquiry.rid.clone())).unwrap();
        assert_eq!(by_id.as_ref().map(|a| (&a.value, a.version)), Some((inquiry, *version)), "{} archived", inquiry.id);
        assert_eq!(by_room, by_id, "{} archived, by room", inquiry.id);
    }
    // Their room ids are free again: a new conversation may reuse one.
    let mut reused = seed(&make(), 1).remove(0).0;
    reused.id = lobby_core::InquiryId::new("reuser").unwrap();
    reused.rid = retiring[0].0.rid.clone();
    put(&store, vec![Write::create(Record::Inquiry(reused))]).expect("a retired room id is free");

    let first = store.archived_inquiries(None, 4).unwrap();
    let rest = store.archived_inquiries(Some(&first[3].value.id), 10).unwrap();
    let listed: Vec<&Inquiry> = first.iter().chain(&rest).map(|a| &a.value).collect();
    let mut expected: Vec<&Inquiry> = retiring.iter().map(|(i, _)| i).collect();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, expected, "archived inquiries, in id order, in two pages");
    assert_eq!(store.archived_inquiries(None, 0).unwrap(), vec![], "limit 0");
    assert_clean(&store);
}

/// An inquiry's events retire with it: out of the hot log and its history, into the archive
/// under the same numbers; later events get numbers above every number given before.
pub fn events_retire_with_their_inquiry_and_numbers_are_not_reused<S: Store>(make: MakeStore<S>) {
    let store = make();
    let seeded = seed(&store, 4);
    store.commit(Commit { writes: vec![], events: vec![event("loose")] }).unwrap();
    let (gone, _) = &seeded[0];
    let history = store.events(&EventQuery::all().about(gone.id.clone())).unwrap();
    assert_eq!(seqs(history.clone()), vec![1, 2]);

    store.retire(&retirement(RetentionAction::Archive, &seeded[..1])).unwrap();
    assert_eq!(store.events(&EventQuery::all().about(gone.id.clone())).unwrap(), vec![], "hot history");
    assert_eq!(seqs(store.events(&EventQuery::all()).unwrap()), vec![3, 4, 5, 6, 7, 8, 9], "the hot log");
    assert_eq!(store.archived_events(&EventQuery::all().about(gone.id.clone())).unwrap(), history, "archived");
    assert_eq!(seqs(store.archived_events(&EventQuery::all().after(EventSeq(1))).unwrap()), vec![2], "after 1");
    assert_eq!(store.archived_events(&EventQuery::all().limit(0)).unwrap(), vec![], "limit 0");

    let next = store.commit(Commit { writes: vec![], events: vec![event("after")] }).unwrap();
    assert_eq!(seqs(next.events), vec![10], "the next number");
    assert_clean(&store);
}

/// Events about no stored inquiry retire by number; a number no longer in the hot log is
/// skipped; an event about an inquiry still in the hot set is refused, and so is an inquiry
/// that is not closed or is named twice — each leaving everything as it was.
pub fn loose_events_retire_by_number_and_bad_retirements_change_nothing<S: Store>(make: MakeStore<S>) {
    let store = make();
    let seeded = seed(&store, 2); // inq00000 closed, inq00001 not
    store.commit(Commit { writes: vec![], events: vec![event("a"), event("b")] }).unwrap(); // 5, 6
    let loose = Retirement { events: vec![EventSeq(5), EventSeq(99)], ..Retirement::default() };
    assert_eq!(store.retire(&loose).unwrap().events, 1, "event 5 retires, 99 is skipped");
    assert_eq!(seqs(store.archived_events(&EventQuery::all()).unwrap()), vec![5]);

    let before = (store.events(&EventQuery::all()).unwrap(), store.list_inquiries(&every_status()).unwrap());
    let open = &seeded[1];
    let refusals = [
        ("an event about a hot inquiry", Retirement { events: vec![EventSeq(1)], ..Retirement::default() }),
        ("an inquiry that is not closed", retirement(RetentionAction::Archive, std::slice::from_ref(open))),
        ("an inquiry named twice", retirement(RetentionAction::Archive, &[seeded[0].clone(), seeded[0].clone()])),
        (
            "a valid inquiry and a bad event",
            Retirement { events: vec![EventSeq(3)], ..retirement(RetentionAction::Archive, &seeded[..1]) },
        ),
    ];
    for (what, bad) in refusals {
        let refused = store.retire(&bad);
        assert!(matches!(refused, Err(StoreError::InvalidCommit(_))), "{what}: {refused:?}");
        let after = (store.events(&EventQuery::all()).unwrap(), store.list_inquiries(&every_status()).unwrap());
        assert_eq!(after, before, "{what} changed the store");
    }
    assert_clean(&store);
}

/// A retirement is checked against versions like a commit: if one inquiry changed since it
/// was read, or is gone, nothing retires.
pub fn a_stale_retirement_changes_nothing<S: Store>(make: MakeStore<S>) {
    let store = make();
    let seeded = closed(&seed(&store, 6));
    let (changed, version) = &seeded[1];
    let mut touched = changed.clone();
    touched.updated_at = Timestamp::from_millis(1_700_000_000_000);
    put(&store, vec![Write::update(*version, Record::Inquiry(touched))]).unwrap();

    let stale = store.retire(&retirement(RetentionAction::Archive, &seeded));
    assert!(matches!(stale, Err(StoreError::Conflict { .. })), "a stale version: {stale:?}");
    for (inquiry, _) in &seeded {
        assert!(store.inquiry(&inquiry.id).unwrap().is_some(), "{} is still hot", inquiry.id);
        assert_eq!(store.archived_inquiry(&ArchiveKey::Inquiry(inquiry.id.clone())).unwrap(), None);
    }
    assert_eq!(store.archived_events(&EventQuery::all()).unwrap(), vec![], "nothing archived");
    assert_eq!(store.events(&EventQuery::all()).unwrap().len(), 12, "no event moved");
    let missing = (random_inquiry(999, &mut rng(3)), Version(1));
    let gone = store.retire(&retirement(RetentionAction::Archive, &[missing]));
    assert!(matches!(gone, Err(StoreError::Conflict { .. })), "an inquiry that does not exist: {gone:?}");
    assert_clean(&store);
}

/// `delete` removes inquiries and their events for good: not hot, not archived, and their
/// numbers are still never given again.
pub fn deleted_inquiries_and_events_are_gone_everywhere<S: Store>(make: MakeStore<S>) {
    let store = make();
    let seeded = seed(&store, 4);
    let retiring = closed(&seeded);
    store.commit(Commit { writes: vec![], events: vec![event("loose")] }).unwrap(); // 9
    let mut delete = retirement(RetentionAction::Delete, &retiring);
    delete.events = vec![EventSeq(9)];
    assert_eq!(store.retire(&delete).unwrap().events, 5);
    for (inquiry, _) in &retiring {
        assert_eq!(store.inquiry(&inquiry.id).unwrap(), None);
        assert_eq!(store.archived_inquiry(&ArchiveKey::Inquiry(inquiry.id.clone())).unwrap(), None);
        assert_eq!(store.archived_inquiry(&ArchiveKey::Room(inquiry.rid.clone())).unwrap(), None);
    }
    assert_eq!(store.archived_events(&EventQuery::all()).unwrap(), vec![]);
    assert_eq!(seqs(store.events(&EventQuery::all()).unwrap()), vec![3, 4, 7, 8]);
    let next = store.commit(Commit { writes: vec![], events: vec![event("next")] }).unwrap();
    assert_eq!(seqs(next.events), vec![10], "deleted numbers are not given again");
    assert_clean(&store);
}

/// Retiring races writers of the same inquiries and new events: each inquiry ends up either
/// retired with every event about it or changed and still hot, never both, never half; no
/// event is lost or numbered twice.
pub fn retirement_races_commits_without_losing_anything<S: Store>(make: MakeStore<S>) {
    for round in 0..8 {
        let store = make();
        let seeded = closed(&seed(&store, 16));
        let writing = AtomicBool::new(true);
        let outcomes = race(3, |thread| match thread {
            // Retires every inquiry, one per batch, at the version seeded.
            0 => {
                let retired: Vec<bool> = seeded
                    .iter()
                    .map(|one| store.retire(&retirement(RetentionAction::Archive, std::slice::from_ref(one))).is_ok())
                    .collect();
                writing.store(false, Ordering::Relaxed);
                retired
            }
            // Touches every inquiry, with an event about it.
            1 => seeded
                .iter()
                .map(|(inquiry, version)| {
                    let mut touched = inquiry.clone();
                    touched.updated_at = Timestamp::from_millis(1_700_000_000_000 + round);
                    let about = NewEvent { inquiry: Some(inquiry.id.clone()), ..event("touched") };
                    let commit =
                        Commit { writes: vec![Write::update(*version, Record::Inquiry(touched))], events: vec![about] };
                    store.commit(commit).is_ok()
                })
                .collect(),
            // Commits loose events meanwhile.
            _ => {
                let mut committed = Vec::new();
                while writing.load(Ordering::Relaxed) || committed.len() < 4 {
                    committed.push(store.commit(Commit { writes: vec![], events: vec![event("x")] }).is_ok());
                    std::thread::sleep(Duration::from_micros(50));
                }
                committed
            }
        });
        let (retired, touched, loose) = (&outcomes[0], &outcomes[1], &outcomes[2]);
        for (n, (inquiry, _)) in seeded.iter().enumerate() {
            assert!(
                retired[n] != touched[n],
                "round {round}: {} retired {} and touched {}",
                inquiry.id,
                retired[n],
                touched[n]
            );
            let hot = store.inquiry(&inquiry.id).unwrap();
            let archived = store.archived_inquiry(&ArchiveKey::Inquiry(inquiry.id.clone())).unwrap();
            assert_eq!((hot.is_some(), archived.is_some()), (touched[n], retired[n]), "round {round}: {}", inquiry.id);
            let about = EventQuery::all().about(inquiry.id.clone());
            let (in_hot, in_archive) =
                (store.events(&about).unwrap().len(), store.archived_events(&about).unwrap().len());
            let expected = if retired[n] { (0, 2) } else { (3, 0) };
            assert_eq!((in_hot, in_archive), expected, "round {round}: events of {}", inquiry.id);
        }
        let committed = 32 + touched.iter().filter(|t| **t).count() + loose.iter().filter(|l| **l).count();
        let mut all: Vec<u64> = seqs(store.events(&EventQuery::all()).unwrap());
        all.extend(seqs(store.archived_events(&EventQuery::all()).unwrap()));
        all.sort_unstable();
        assert_eq!(all, (1..=committed as u64).collect::<Vec<_>>(), "round {round}: every event, once");
        assert_clean(&store);
    }
}

/// The engine's retention pass, on this store, with a manual clock: closed conversations that
/// have not changed for the retention age leave `inquiries.list` and its totals; `getOne` and
/// history still find them; open ones and recently closed ones stay; a second pass finds
/// nothing more.
pub fn a_retention_pass_archives_what_is_old_enough<S: Store>(make: MakeStore<S>) {
    let clock = std::sync::Arc::new(ManualClock::new(Timestamp::from_millis(1_700_000_000_000), 1));
    let engine = engine_with_clock(make(), clock.clone());
    let day = 86_400_000;
    let agents = add_agents(&engine, 1, 0);
    let agent = Actor::User(agents[0].clone());
    let ids = open_inquiries(&engine, 6);
    let mut rooms = Vec::new();
    for id in &ids[..4] {
        let taken = engine.take(&agent, id, None).unwrap();
        rooms.push(taken.rid.clone());
    }
    engine.close(&agent, &rooms[0], "old").unwrap();
    engine.close(&agent, &rooms[1], "old").unwrap();
    clock.advance(20 * day);
    engine.close(&agent, &rooms[2], "recent").unwrap();
    clock.advance(11 * day);

    let policy = RetentionPolicy { age: "30d".parse::<RetentionAge>().unwrap(), batch_size: 1, ..Default::default() };
    let mut pass = engine.retention_pass(policy);
    let mut retired = 0;
    loop {
        let report = engine.retire_batch(&mut pass).unwrap();
        retired += report.inquiries;
        if report.finished {
            break;
        }
    }
    assert_eq!(retired, 2, "the two closed 31 days ago");
    let closed = InquiryQuery { filter: InquiryFilter::status(InquiryStatus::Closed), ..every_status() };
    let still: Vec<_> = engine.store().list_inquiries(&closed).unwrap().items.into_iter().map(|i| i.rid).collect();
    assert_eq!(still, vec![rooms[2].clone()], "the recently closed one stays");
    assert_eq!(engine.store().list_inquiries(&every_status()).unwrap().total, 4, "2 open, 1 taken, 1 closed");
    for (rid, id) in rooms[..2].iter().zip(&ids) {
        let found = engine.inquiry_by_room(&Actor::System, rid).unwrap().expect("getOne finds an archived one");
        assert_eq!((&found.id, found.status), (id, InquiryStatus::Closed));
        assert_eq!(engine.inquiry(&Actor::System, id).unwrap().map(|i| i.id), Some(id.clone()));
        let history = engine.history(&Actor::System, id).unwrap();
        assert!(history.len() >= 3, "history of an archived conversation: {history:?}");
    }
    let mut again = engine.retention_pass(policy);
    let report = engine.retire_batch(&mut again).unwrap();
    assert_eq!((report.inquiries, report.events, report.finished), (0, 0, true), "nothing more to retire");
    assert_clean(engine.store());
}
