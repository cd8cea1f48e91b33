//! The store contract on sled, focused on what a disk adds: versions and unique keys that
//! survive a reopen, all-or-nothing commits, locking, and refusing corrupt data without panicking.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{agent, assert_healthy, inquiry, problems, raw_sled, user, REOPEN_CEILING};
use lobby_core::{
    Actor, ArchiveKey, Commit, DepartmentFilter, Direction, Engine, EventKind, EventQuery, EventSeq, Inquiry,
    InquiryFilter, InquiryId, InquiryQuery, InquirySort, InquiryStatus, NewEvent, NewUser, Record, RecordKey,
    RecordKind, ReservationFilter, Retirement, RetirementReceipt, SortField, StatusSet, Store, StoreError, StoreExt,
    Timestamp, UniqueKey, UserId, Version, Write,
};
use lobby_sled::{Durability, SledConfig, SledError, SledStore};
use rand::{rngs::StdRng, Rng, SeedableRng};

fn durable(dir: &std::path::Path) -> SledStore {
    SledStore::open_waiting(dir, SledConfig::default(), REOPEN_CEILING).expect("open")
}

fn event(inquiry: Option<&Inquiry>) -> NewEvent {
    NewEvent {
        at: Timestamp::EPOCH,
        actor: Actor::System,
        inquiry: inquiry.map(|i| i.id.clone()),
        kind: EventKind::Enqueued { department: None },
    }
}

fn create(store: &SledStore, record: Record) -> Version {
    store.commit(Commit { writes: vec![Write::create(record)], events: vec![] }).expect("create").versions[0]
}

#[test]
fn versions_grow_never_repeat_and_stale_writes_conflict() {
    let store = SledStore::temporary().unwrap();
    let a = inquiry(1, InquiryStatus::Queued, None);
    let created = create(&store, Record::Inquiry(a.clone()));

    let mut open = a.clone();
    open.status = InquiryStatus::Open;
    let receipt =
        store.commit(Commit { writes: vec![Write::update(created, Record::Inquiry(open.clone()))], events: vec![] });
    let updated = receipt.unwrap().versions[0];
    assert!(updated > created, "{updated:?} after {created:?}");

    let stale =
        store.commit(Commit { writes: vec![Write::update(created, Record::Inquiry(a.clone()))], events: vec![] });
    assert_eq!(stale, Err(StoreError::Conflict { key: RecordKey::Inquiry(a.id.clone()) }));
    let again = store.commit(Commit { writes: vec![Write::create(Record::Inquiry(a.clone()))], events: vec![] });
    assert!(matches!(again, Err(StoreError::Conflict { .. })));

    let found = store.get(&RecordKey::Inquiry(a.id.clone())).unwrap().unwrap();
    assert_eq!((found.version, found.value), (updated, Record::Inquiry(open)));

    let deleted =
        store.commit(Commit { writes: vec![Write::delete(RecordKey::Inquiry(a.id.clone()), updated)], events: vec![] });
    assert_eq!(deleted.unwrap().versions, vec![updated]);
    assert_eq!(store.get(&RecordKey::Inquiry(a.id.clone())).unwrap(), None);
    assert_eq!(store.find(&UniqueKey::Room(a.rid.clone())).unwrap(), None);
    assert_eq!(store.list_inquiries(&all(InquirySort::default())).unwrap().total, 0);
    // Re-created after a delete, it gets a version it never had, so no stale writer can match it.
    let recreated = create(&store, Record::Inquiry(a));
    assert!(recreated > updated, "{recreated:?} after {updated:?}");
    assert_healthy(&store);
}

#[test]
fn version_stamps_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let store = durable(dir.path());
        create(&store, Record::Agent(agent("a1", &[])))
    };
    let store = durable(dir.path());
    let after = create(&store, Record::Agent(agent("a2", &[])));
    assert!(after > before, "a version given after reopening, {after:?}, repeats or precedes {before:?}");
}

#[test]
fn unique_keys_are_enforced_released_and_moved() {
    let store = SledStore::temporary().unwrap();
    create(&store, Record::User(user("u1", "Alice", Some("alice@example.com"))));
    let clash =
        store.commit(Commit { writes: vec![Write::create(Record::User(user("u2", "alice", None)))], events: vec![] });
    assert_eq!(clash, Err(StoreError::Duplicate { key: UniqueKey::username("alice") }));
    let twice = store.commit(Commit {
        writes: vec![
            Write::create(Record::User(user("u3", "carol", None))),
            Write::create(Record::User(user("u4", "CAROL", None))),
        ],
        events: vec![],
    });
    assert!(matches!(twice, Err(StoreError::Duplicate { .. })));
    assert_eq!(store.get(&RecordKey::User(UserId::new("u3").unwrap())).unwrap(), None);

    // Renaming releases the old name; one commit can hand a name from one user to another.
    let renamed = user("u1", "alicia", Some("alice@example.com"));
    let takes_old_name = user("u2", "alice", None);
    store
        .commit(Commit {
            writes: vec![
                Write::update(Version(1), Record::User(renamed.clone())),
                Write::create(Record::User(takes_old_name.clone())),
            ],
            events: vec![],
        })
        .unwrap();
    assert_eq!(store.user_by_username("ALICE").unwrap().unwrap().value, takes_old_name);
    assert_eq!(store.user_by_username("alicia").unwrap().unwrap().value, renamed);
    assert_eq!(store.find(&UniqueKey::email("Alice@Example.com")).unwrap().unwrap().value, Record::User(renamed));
    let report = assert_healthy(&store);
    assert_eq!((report.count("users"), report.count("unique keys")), (2, 3));
}

#[test]
fn a_commit_with_one_bad_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = durable(dir.path());
    let a = inquiry(1, InquiryStatus::Queued, None);
    store
        .commit(Commit { writes: vec![Write::create(Record::Inquiry(a.clone()))], events: vec![event(Some(&a))] })
        .unwrap();
    let b = inquiry(2, InquiryStatus::Queued, None);
    let mut a_open = a.clone();
    a_open.status = InquiryStatus::Open;
    for bad in [
        // The second write is stale.
        Write::update(Version(7), Record::Inquiry(a_open.clone())),
        // The second write claims a room that is taken.
        Write::create(Record::Inquiry(Inquiry { rid: a.rid.clone(), ..inquiry(3, InquiryStatus::Open, None) })),
    ] {
        let result = store.commit(Commit {
            writes: vec![Write::create(Record::Inquiry(b.clone())), bad],
            events: vec![event(Some(&b)), event(None)],
        });
        assert!(result.is_err());
        assert_eq!(store.get(&RecordKey::Inquiry(b.id.clone())).unwrap(), None);
        assert_eq!(store.find(&UniqueKey::Room(b.rid.clone())).unwrap(), None);
        assert_eq!(store.inquiry(&a.id).unwrap().unwrap().value, a);
        assert_eq!(store.events(&EventQuery::all().limit(10)).unwrap().len(), 1);
        assert_eq!(store.list_inquiries(&all(InquirySort::default())).unwrap().total, 1);
    }
    // Malformed commits are refused before anything is read.
    let invalid = store.commit(Commit {
        writes: vec![Write { key: RecordKey::Inquiry(b.id.clone()), expected: None, value: Some(Record::Inquiry(a)) }],
        events: vec![],
    });
    assert!(matches!(invalid, Err(StoreError::InvalidCommit(_))));
    // The next event still gets the next number: failed commits consume none.
    let receipt = store.commit(Commit { writes: vec![], events: vec![event(None)] }).unwrap();
    assert_eq!(receipt.events[0].seq, EventSeq(2));
    assert_healthy(&store);
}

#[test]
fn reopening_keeps_records_versions_keys_events_and_numbering() {
    let dir = tempfile::tempdir().unwrap();
    let a = inquiry(1, InquiryStatus::Open, Some("sales"));
    let taken_version = {
        let store = durable(dir.path());
        create(&store, Record::Department(department("sales")));
        let created = store
            .commit(Commit { writes: vec![Write::create(Record::Inquiry(a.clone()))], events: vec![event(Some(&a))] })
            .unwrap()
            .versions[0];
        let mut taken = a.clone();
        taken.status = InquiryStatus::Taken;
        taken.served_by = inquiry(1, InquiryStatus::Taken, None).served_by;
        store
            .commit(Commit {
                writes: vec![
                    Write::update(created, Record::Inquiry(taken)),
                    Write::create(Record::Agent(agent("agent-1", &[1]))),
                ],
                events: vec![event(Some(&a)), event(None)],
            })
            .unwrap()
            .versions[0]
    };
    let store = durable(dir.path());
    let found = store.inquiry(&a.id).unwrap().unwrap();
    assert_eq!((found.version, found.value.status), (taken_version, InquiryStatus::Taken));
    assert_eq!(store.inquiry_by_room(&a.rid).unwrap().unwrap().value.id, a.id);
    assert_eq!(store.agents().unwrap().len(), 1);
    let taken = InquiryQuery { filter: InquiryFilter::status(InquiryStatus::Taken), ..all(InquirySort::default()) };
    assert_eq!(store.list_inquiries(&taken).unwrap().total, 1);
    let history = store.events(&EventQuery::all().about(a.id.clone()).limit(10)).unwrap();
    assert_eq!(history.iter().map(|e| e.seq.0).collect::<Vec<_>>(), vec![1, 2]);
    let receipt = store.commit(Commit { writes: vec![], events: vec![event(None)] }).unwrap();
    assert_eq!(receipt.events[0].seq, EventSeq(4));
    let report = assert_healthy(&store);
    assert_eq!((report.count("inquiries"), report.count("events")), (1, 4));
}

#[test]
fn the_archive_survives_a_reopen_outside_the_index_and_numbers_stay_used() {
    let dir = tempfile::tempdir().unwrap();
    let (old, kept) = (inquiry(1, InquiryStatus::Closed, None), inquiry(2, InquiryStatus::Open, None));
    {
        let store = durable(dir.path());
        let mut versions = Vec::new();
        for one in [&old, &kept] {
            let commit =
                Commit { writes: vec![Write::create(Record::Inquiry(one.clone()))], events: vec![event(Some(one))] };
            versions.push(store.commit(commit).unwrap().versions[0]);
        }
        let loose = store.commit(Commit { writes: vec![], events: vec![event(None)] }).unwrap().events[0].seq;
        let retirement =
            Retirement { inquiries: vec![(old.id.clone(), versions[0])], events: vec![loose], ..Retirement::default() };
        assert_eq!(store.retire(&retirement).unwrap(), RetirementReceipt { inquiries: 1, events: 2 });
    }
    let store = durable(dir.path());
    let every = InquiryQuery { filter: InquiryFilter::all(), ..all(InquirySort::default()) };
    let listed: Vec<InquiryId> = store.list_inquiries(&every).unwrap().items.into_iter().map(|i| i.id).collect();
    assert_eq!(listed, vec![kept.id.clone()], "the reopened index holds the hot set only");
    let archived = store.archived_inquiry(&ArchiveKey::Room(old.rid.clone())).unwrap().expect("archived, by room");
    assert_eq!(archived.value, old);
    let history: Vec<u64> = store.archived_events(&EventQuery::all()).unwrap().iter().map(|e| e.seq.0).collect();
    assert_eq!(history, vec![1, 3]);
    let receipt = store.commit(Commit { writes: vec![], events: vec![event(None)] }).unwrap();
    assert_eq!(receipt.events[0].seq, EventSeq(4), "numbers retired before the reopen are not given again");
    let report = assert_healthy(&store);
    assert_eq!((report.count("archived inquiries"), report.count("archived events")), (1, 2));
}

#[test]
fn a_retirement_cut_short_before_leaving_the_hot_set_is_undone_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let old = inquiry(1, InquiryStatus::Closed, None);
    {
        let store = durable(dir.path());
        let commit =
            Commit { writes: vec![Write::create(Record::Inquiry(old.clone()))], events: vec![event(Some(&old))] };
        store.commit(commit).unwrap();
    }
    // What steps 1 and 2 of an archiving retirement leave when the process dies before step 3:
    // the intent in the main database and the copies in the archive.
    {
        let main = common::raw_sled(dir.path());
        let record = main.open_tree("records").unwrap().get(format!("inquiry/{}", old.id)).unwrap().unwrap();
        let event = main.open_tree("events").unwrap().get(1u64.to_be_bytes()).unwrap().unwrap();
        let intent = serde_json::json!({
            "records": [format!("inquiry/{}", old.id)],
            "rooms": [[old.rid.as_str(), format!("inquiry/{}", old.id)]],
            "events": [1],
            "by_inquiry": [[old.id.as_str(), 1]],
        });
        main.open_tree("meta").unwrap().insert("retiring", serde_json::to_vec(&intent).unwrap()).unwrap();
        main.flush().unwrap();
        let archive = common::raw_sled(&dir.path().join("archive"));
        archive.open_tree("records").unwrap().insert(format!("inquiry/{}", old.id), record).unwrap();
        archive.open_tree("rooms").unwrap().insert(old.rid.as_str(), format!("inquiry/{}", old.id).as_str()).unwrap();
        archive.open_tree("events").unwrap().insert(1u64.to_be_bytes(), event).unwrap();
        archive.flush().unwrap();
    }
    let store = durable(dir.path());
    assert_eq!(store.inquiry(&old.id).unwrap().map(|i| i.value), Some(old.clone()), "still in the hot set");
    assert_eq!(store.archived_inquiry(&ArchiveKey::Inquiry(old.id.clone())).unwrap(), None, "the copy is gone");
    assert_eq!(store.archived_inquiry(&ArchiveKey::Room(old.rid.clone())).unwrap(), None);
    assert_eq!(store.archived_events(&EventQuery::all()).unwrap(), vec![]);
    assert_healthy(&store);
    // And retiring it again works.
    let version = store.inquiry(&old.id).unwrap().unwrap().version;
    let retirement = Retirement { inquiries: vec![(old.id.clone(), version)], ..Retirement::default() };
    assert_eq!(store.retire(&retirement).unwrap(), RetirementReceipt { inquiries: 1, events: 1 });
    assert_healthy(&store);
}

fn department(id: &str) -> lobby_core::Department {
    lobby_core::Department::new(lobby_core::DepartmentId::new(id).unwrap(), id.to_uppercase(), Timestamp::EPOCH)
}

fn all(sort: InquirySort) -> InquiryQuery {
    InquiryQuery { filter: InquiryFilter::all(), sort, offset: 0, limit: usize::MAX }
}

#[test]
fn listings_match_the_reference_before_and_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut model: HashMap<InquiryId, (Version, Inquiry)> = HashMap::new();
    {
        let store = SledStore::open_waiting(
            dir.path(),
            SledConfig { durability: Durability::Periodic, ..SledConfig::default() },
            REOPEN_CEILING,
        )
        .unwrap();
        // check_integrity holds inquiries to the engine's rules: their departments exist.
        create(&store, Record::Department(department("d1")));
        create(&store, Record::Department(department("d2")));
        for round in 0..300u32 {
            let n = rng.gen_range(0..120u32);
            let status = InquiryStatus::ALL[rng.gen_range(0..InquiryStatus::ALL.len())];
            let department = [None, Some("d1"), Some("d2")][rng.gen_range(0..3)];
            let mut next = inquiry(n, status, department);
            next.updated_at = Timestamp::from_millis(i64::from(round));
            let id = next.id.clone();
            let write = match model.get(&id) {
                Some((version, _)) => Write::update(*version, Record::Inquiry(next.clone())),
                None => Write::create(Record::Inquiry(next.clone())),
            };
            let version = store.commit(Commit { writes: vec![write], events: vec![] }).unwrap().versions[0];
            model.insert(id, (version, next));
            if round % 50 == 0 {
                check_queries(&store, &model, &mut rng);
            }
        }
        check_queries(&store, &model, &mut rng);
        store.flush().unwrap();
    }
    let store = SledStore::open_waiting(
        dir.path(),
        SledConfig { durability: Durability::Periodic, ..SledConfig::default() },
        REOPEN_CEILING,
    )
    .unwrap();
    check_queries(&store, &model, &mut rng);
    // The taken inquiries are all served by agent-1, and the offered ones offered to it; its
    // record makes the loads add up.
    let mut served = agent("agent-1", &[]);
    let held = |status| model.values().filter(|(_, i)| i.status == status).map(|(_, i)| i.id.clone()).collect();
    served.chats = held(InquiryStatus::Taken);
    served.offers = held(InquiryStatus::Offered);
    served.active_chats = (served.chats.len() + served.offers.len()) as u32;
    create(&store, Record::Agent(served));
    assert_eq!(assert_healthy(&store).count("inquiries"), model.len() as u64);
}

fn check_queries(store: &SledStore, model: &HashMap<InquiryId, (Version, Inquiry)>, rng: &mut StdRng) {
    let inquiries: Vec<&Inquiry> = model.values().map(|(_, i)| i).collect();
    for _ in 0..40 {
        let statuses = match InquiryStatus::ALL.get(rng.gen_range(0..=InquiryStatus::ALL.len())) {
            Some(status) => StatusSet::only(*status),
            None => StatusSet::waiting(),
        };
        let departments = match rng.gen_range(0..3) {
            0 => DepartmentFilter::Any,
            1 => DepartmentFilter::only(lobby_core::DepartmentId::new("d1").unwrap()),
            _ => DepartmentFilter::In([None, Some(lobby_core::DepartmentId::new("d2").unwrap())].into()),
        };
        let query = InquiryQuery {
            filter: InquiryFilter { statuses, departments, reservation: ReservationFilter::Any },
            sort: InquirySort {
                field: SortField::ALL[rng.gen_range(0..SortField::ALL.len())],
                direction: if rng.gen() { Direction::Ascending } else { Direction::Descending },
            },
            offset: rng.gen_range(0..40),
            limit: rng.gen_range(0..60),
        };
        let want = query.reference_page(inquiries.iter().copied());
        assert_eq!(store.list_inquiries(&query).unwrap(), want, "{query:?}");
        let whole =
            InquiryQuery { offset: 0, limit: usize::MAX, ..query.clone() }.reference_page(inquiries.iter().copied());
        for (position, item) in whole.items.iter().enumerate().take(5) {
            assert_eq!(store.count_before(&query.filter, query.sort, &item.id).unwrap(), Some(position));
        }
    }
}

#[test]
fn scans_return_one_kind_in_key_order() {
    let store = SledStore::temporary().unwrap();
    for id in ["b", "a", "c"] {
        create(&store, Record::Agent(agent(id, &[])));
        create(&store, Record::User(user(id, &format!("user-{id}"), None)));
    }
    let agents = store.scan(RecordKind::Agent).unwrap();
    let ids: Vec<String> = agents.iter().map(|r| r.value.key().id().to_owned()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert!(store.scan(RecordKind::Department).unwrap().is_empty());
}

#[test]
fn events_filter_by_sequence_inquiry_and_limit_and_feed_subscribers() {
    let store = SledStore::temporary().unwrap();
    let subscription = store.subscribe().unwrap();
    let a = inquiry(1, InquiryStatus::Queued, None);
    let b = inquiry(2, InquiryStatus::Queued, None);
    for i in 0..10 {
        let about = [Some(&a), Some(&b), None][i % 3];
        store.commit(Commit { writes: vec![], events: vec![event(about)] }).unwrap();
    }
    let seqs = |query: EventQuery| store.events(&query).unwrap().iter().map(|e| e.seq.0).collect::<Vec<_>>();
    assert_eq!(seqs(EventQuery::all().after(EventSeq(7)).limit(100)), vec![8, 9, 10]);
    assert_eq!(seqs(EventQuery::all().limit(2)), vec![1, 2]);
    assert_eq!(seqs(EventQuery::all().about(a.id.clone()).limit(100)), vec![1, 4, 7, 10]);
    assert_eq!(seqs(EventQuery::all().after(EventSeq(4)).about(a.id.clone()).limit(1)), vec![7]);
    assert_eq!(seqs(EventQuery::all().after(EventSeq(u64::MAX)).limit(100)), Vec::<u64>::new());
    assert_eq!(seqs(EventQuery::all().limit(0)), Vec::<u64>::new());
    let fed: Vec<u64> =
        (0..10).filter_map(|_| subscription.next_timeout(Duration::from_secs(60))).map(|e| e.seq.0).collect();
    assert_eq!(fed, (1..=10).collect::<Vec<_>>());
}

#[test]
fn a_second_open_of_the_same_database_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let _first = durable(dir.path());
    // The one open that must not wait: the first store is alive.
    let error = SledStore::open(dir.path(), SledConfig::default()).unwrap_err();
    assert!(matches!(error, SledError::Locked { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&dir.path().display().to_string()) && message.contains("another process"), "{message}");
}

#[test]
fn corrupt_records_are_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = durable(dir.path());
        create(&store, Record::Agent(agent("a1", &[])));
        create(&store, Record::User(user("u1", "alice", None)));
    }
    {
        let db = raw_sled(dir.path());
        db.open_tree("records").unwrap().insert("agent/a1", &b"{\"version\":"[..]).unwrap();
        // A user record filed under someone else's key.
        let moved = db.open_tree("records").unwrap().get("user/u1").unwrap().unwrap();
        db.open_tree("records").unwrap().insert("user/u2", moved).unwrap();
        db.flush().unwrap();
    }
    let store = durable(dir.path());
    assert!(matches!(store.get(&RecordKey::Agent(UserId::new("a1").unwrap())), Err(StoreError::Corrupt(_))));
    assert!(matches!(store.get(&RecordKey::User(UserId::new("u2").unwrap())), Err(StoreError::Corrupt(_))));
    assert!(matches!(store.scan(RecordKind::Agent), Err(StoreError::Corrupt(_))));
    let found = problems(&store);
    assert!(found.contains("records/agent/a1") && found.contains("holds the record of user/u1"), "{found}");
    drop(store);

    // A corrupt inquiry stops the open, since the index cannot be built without it.
    {
        let db = raw_sled(dir.path());
        db.open_tree("records").unwrap().insert("inquiry/i1", &b"[]"[..]).unwrap();
        db.flush().unwrap();
    }
    let error = SledStore::open_waiting(dir.path(), SledConfig::default(), REOPEN_CEILING).unwrap_err();
    assert!(matches!(&error, SledError::Corrupt { location, .. } if location == "records/inquiry/i1"), "{error}");
}

#[test]
fn integrity_check_finds_broken_indexes_and_agent_loads() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = durable(dir.path());
        create(&store, Record::User(user("u1", "alice", None)));
        create(&store, Record::Agent(agent("agent-1", &[1])));
        create(&store, Record::Inquiry(inquiry(1, InquiryStatus::Taken, None)));
        assert_healthy(&store);
    }
    let broken = |edit: &dyn Fn(&sled::Db)| {
        let copy = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &copy.path().join(entry.file_name()));
        }
        {
            let db = raw_sled(copy.path());
            edit(&db);
            db.flush().unwrap();
        }
        let store = durable(copy.path());
        problems(&store)
    };
    let missing_key = broken(&|db| {
        db.open_tree("unique").unwrap().remove("username/alice").unwrap();
    });
    assert!(missing_key.contains("which finds nothing"), "{missing_key}");
    let stray_key = broken(&|db| {
        db.open_tree("unique").unwrap().insert("username/ghost", &b"user/u1"[..]).unwrap();
    });
    assert!(stray_key.contains("does not claim it"), "{stray_key}");
    let wrong_load = broken(&|db| {
        let records = db.open_tree("records").unwrap();
        let text = String::from_utf8(records.get("agent/agent-1").unwrap().unwrap().to_vec()).unwrap();
        records.insert("agent/agent-1", text.replace("\"active_chats\":1", "\"active_chats\":2").as_bytes()).unwrap();
    });
    assert!(wrong_load.contains("active_chats 2 but holds 1 slots"), "{wrong_load}");
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

#[test]
fn concurrent_takes_through_the_engine_leave_one_winner() {
    let engine = Arc::new(Engine::new(SledStore::temporary().unwrap()));
    let mut agents = Vec::new();
    for i in 0..4 {
        let new = NewUser::new(format!("agent{i}"), format!("Agent {i}"), []);
        let created = engine.create_user(&Actor::System, new).unwrap();
        agents.push(engine.add_agent(&Actor::System, &created.username).unwrap().id);
    }
    let visitor = inquiry(0, InquiryStatus::Queued, None).visitor;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(
            engine.enqueue(&Actor::System, lobby_core::NewInquiry::new(visitor.clone(), format!("v{n}"))).unwrap().id,
        );
    }
    engine.dispatch(&Actor::System).unwrap();
    let wins: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = agents
            .iter()
            .map(|agent| {
                let engine = &engine;
                let ids = &ids;
                scope
                    .spawn(move || ids.iter().filter(|id| engine.take(&Actor::System, id, Some(agent)).is_ok()).count())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(wins.iter().sum::<usize>(), ids.len());
    let report = assert_healthy(engine.store());
    assert_eq!((report.count("inquiries"), report.count("agents")), (20, 4));
}

#[test]
fn reopening_many_inquiries_rebuilds_the_index_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let count = 2_500u32; // more than one loader batch, and not a multiple of it
    {
        let store = SledStore::open_waiting(
            dir.path(),
            SledConfig { durability: Durability::Periodic, ..SledConfig::default() },
            REOPEN_CEILING,
        )
        .unwrap();
        let writes =
            (0..count).map(|n| Write::create(Record::Inquiry(inquiry(n, InquiryStatus::Open, None)))).collect();
        store.commit(Commit { writes, events: vec![] }).unwrap();
    }
    {
        let store = durable(dir.path());
        let query = InquiryQuery { offset: 2_490, limit: 50, ..all(InquirySort::ascending(SortField::Name)) };
        let page = store.list_inquiries(&query).unwrap();
        assert_eq!((page.total, page.items.len()), (count as usize, 10));
        assert_eq!(assert_healthy(&store).count("inquiries"), u64::from(count));
    }
    {
        let db = raw_sled(dir.path());
        db.open_tree("records").unwrap().insert("inquiry/inq-001234", &b"{}"[..]).unwrap();
        db.flush().unwrap();
    }
    let error = SledStore::open_waiting(dir.path(), SledConfig::default(), REOPEN_CEILING).unwrap_err();
    assert!(
        matches!(&error, SledError::Corrupt { location, .. } if location == "records/inquiry/inq-001234"),
        "{error}"
    );
}

#[test]
fn store_flush_makes_periodic_commits_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open_waiting(
        dir.path(),
        SledConfig { durability: Durability::Periodic, ..SledConfig::default() },
        REOPEN_CEILING,
    )
    .unwrap();
    create(&store, Record::Agent(agent("a1", &[])));
    // Through the trait, as a server's graceful shutdown calls it.
    Store::flush(&store).unwrap();
    let engine = Engine::new(Arc::new(store));
    assert!(engine.store().flush().is_ok());
}
