//! The conformance cases. Each takes a function that makes a fresh, empty store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use lobby_core::{
    Actor, AgentAvailability, Commit, CoreError, DepartmentFilter, DepartmentId, Direction, Engine, EngineConfig,
    EventKind, EventQuery, EventSeq, Inquiry, InquiryFilter, InquiryId, InquiryQuery, InquirySort, InquiryStatus,
    NewEvent, Record, RecordKey, RecordKind, ReservationFilter, RoomId, RoutingConfig, RoutingMethod, SortField,
    StatusSet, Store, StoreError, StoreExt, Timestamp, TransferTarget, UniqueKey, UserId, Version, VisitorDetails,
    Write,
};
use rand::seq::SliceRandom;

use crate::fixtures::{self, add_agents, agent_record, engine, open_inquiries, random_inquiry, rng, user};

/// A store maker, as the macro passes it.
pub type MakeStore<'a, S> = &'a dyn Fn() -> S;

fn event(kind: &str) -> NewEvent {
    NewEvent {
        at: Timestamp::from_millis(1),
        actor: Actor::System,
        inquiry: None,
        kind: EventKind::NoAgentFound { strategy: kind.into(), department: None, reason: String::new() },
    }
}

fn put(store: &impl Store, writes: Vec<Write>) -> Result<Vec<Version>, StoreError> {
    store.commit(Commit { writes, events: vec![] }).map(|r| r.versions)
}

fn seed_inquiries(store: &impl Store, count: usize, seed: u64) -> Vec<Inquiry> {
    let mut rng = rng(seed);
    let inquiries: Vec<Inquiry> = (0..count).map(|n| random_inquiry(n, &mut rng)).collect();
    for chunk in inquiries.chunks(50) {
        put(store, chunk.iter().map(|i| Write::create(Record::Inquiry(i.clone()))).collect()).expect("seed");
    }
    inquiries
}

/// The queries a listing must answer exactly: every sort field and direction, several filters,
/// offsets from 0 to past the end, and page sizes from 0 up.
fn sample_queries() -> Vec<InquiryQuery> {
    let dep = |n: u32| Some(DepartmentId::new(format!("dep{n}")).unwrap());
    let filters = [
        InquiryFilter::status(InquiryStatus::Open),
        InquiryFilter::all(),
        InquiryFilter {
            statuses: StatusSet::waiting(),
            departments: DepartmentFilter::In([dep(1), None].into_iter().collect()),
            reservation: ReservationFilter::Any,
        },
        InquiryFilter {
            statuses: StatusSet::only(InquiryStatus::Queued),
            departments: DepartmentFilter::only(DepartmentId::new("dep2").unwrap()),
            reservation: ReservationFilter::AvailableTo(UserId::new("agent1").unwrap()),
        },
        InquiryFilter {
            statuses: StatusSet::only(InquiryStatus::Open),
            departments: DepartmentFilter::only(DepartmentId::new("nowhere").unwrap()),
            reservation: ReservationFilter::Any,
        },
    ];
    let mut queries = Vec::new();
    for (f, filter) in filters.iter().enumerate() {
        for (s, field) in SortField::ALL.into_iter().enumerate() {
            for direction in [Direction::Ascending, Direction::Descending] {
                for (offset, limit) in [(0, 10), (7, 25), (60, 50), (1_000, 10), ((f + s) * 3, 0), (0, 1_000)] {
                    queries.push(InquiryQuery {
                        filter: filter.clone(),
                        sort: InquirySort { field, direction },
                        offset,
                        limit,
                    });
                }
            }
        }
    }
    queries
}

fn assert_listings_match<S: Store>(store: &S, model: &HashMap<InquiryId, Inquiry>) {
    for query in sample_queries() {
        let want = query.reference_page(model.values());
        let got = store.list_inquiries(&query).expect("list");
        assert_eq!(got.total, want.total, "total for {query:?}");
        let got_ids: Vec<&InquiryId> = got.items.iter().map(|i| &i.id).collect();
        let want_ids: Vec<&InquiryId> = want.items.iter().map(|i| &i.id).collect();
        assert_eq!(got_ids, want_ids, "page for {query:?}");
        assert_eq!(got.items, want.items, "records for {query:?}");
    }
}

/// Records come back as committed, at version 1; unique keys find their owners; scans list one
/// kind in key order.
pub fn reads_return_what_was_committed<S: Store>(make: MakeStore<S>) {
    let store = make();
    let inquiry = random_inquiry(1, &mut rng(1));
    let records = vec![
        Record::Inquiry(inquiry.clone()),
        Record::User(user("u2", "Bob")),
        Record::User(user("u1", "alice")),
        Record::Agent(agent_record("u1")),
    ];
    let versions = put(&store, records.iter().cloned().map(Write::create).collect()).unwrap();
    assert_eq!(versions, vec![Version::FIRST; 4]);
    for record in &records {
        let found = store.get(&record.key()).unwrap().expect("committed record");
        assert_eq!((&found.value, found.version), (record, Version::FIRST));
    }
    assert_eq!(store.inquiry_by_room(&inquiry.rid).unwrap().unwrap().value, inquiry);
    assert_eq!(store.user_by_username("BOB").unwrap().unwrap().value.id.as_str(), "u2", "usernames ignore case");
    assert_eq!(store.find(&UniqueKey::email("ALICE@example.com")).unwrap().unwrap().value.key(), records[2].key());
    assert!(store.get(&RecordKey::User(UserId::new("nobody").unwrap())).unwrap().is_none());
    assert!(store.find(&UniqueKey::Room(RoomId::new("nowhere").unwrap())).unwrap().is_none());
    let users: Vec<RecordKey> = store.scan(RecordKind::User).unwrap().into_iter().map(|r| r.value.key()).collect();
    assert_eq!(users, vec![records[2].key(), records[1].key()], "scan is one kind, in key order");
    assert_eq!(store.scan(RecordKind::Department).unwrap(), vec![]);
}

/// Each write bumps the version by one; a write made against an older version, a create of an
/// existing record and an update of a missing one all conflict.
pub fn versions_increase_and_stale_writes_conflict<S: Store>(make: MakeStore<S>) {
    let store = make();
    let mut agent = agent_record("a1");
    put(&store, vec![Write::create(Record::Agent(agent.clone()))]).unwrap();
    agent.active_chats = 1;
    assert_eq!(put(&store, vec![Write::update(Version(1), Record::Agent(agent.clone()))]).unwrap(), vec![Version(2)]);
    agent.active_chats = 2;
    let stale = put(&store, vec![Write::update(Version(1), Record::Agent(agent.clone()))]);
    assert_eq!(stale, Err(StoreError::Conflict { key: RecordKey::Agent(agent.id.clone()) }));
    assert!(matches!(put(&store, vec![Write::create(Record::Agent(agent.clone()))]), Err(StoreError::Conflict { .. })));
    let missing = agent_record("ghost");
    assert!(matches!(
        put(&store, vec![Write::update(Version(1), Record::Agent(missing))]),
        Err(StoreError::Conflict { .. })
    ));
    let stored = store.agent(&agent.id).unwrap().unwrap();
    assert_eq!((stored.version, stored.value.active_chats), (Version(2), 1));
}

/// A commit that fails on any one write (conflict or duplicate) applies no write and records no
/// event.
pub fn failed_commit_changes_nothing<S: Store>(make: MakeStore<S>) {
    let store = make();
    let inquiry = random_inquiry(1, &mut rng(2));
    put(
        &store,
        vec![Write::create(Record::User(user("u1", "alice"))), Write::create(Record::Inquiry(inquiry.clone()))],
    )
    .unwrap();
    let before_events = store.events(&EventQuery::all().limit(100)).unwrap();

    let mut changed = inquiry.clone();
    changed.name = "changed".into();
    let conflicting = Commit {
        writes: vec![
            Write::update(Version(1), Record::Inquiry(changed.clone())),
            Write::create(Record::Agent(agent_record("a9"))),
            Write::update(Version(7), Record::User(user("u1", "alice"))),
        ],
        events: vec![event("should not be recorded")],
    };
    assert!(matches!(store.commit(conflicting), Err(StoreError::Conflict { .. })));

    let mut clash = inquiry.clone();
    clash.id = InquiryId::new("other").unwrap();
    let duplicate = Commit {
        writes: vec![Write::update(Version(1), Record::Inquiry(changed)), Write::create(Record::Inquiry(clash))],
        events: vec![event("should not be recorded")],
    };
    assert!(matches!(store.commit(duplicate), Err(StoreError::Duplicate { .. })));

    let stored = store.inquiry(&inquiry.id).unwrap().unwrap();
    assert_eq!((stored.version, &stored.value), (Version(1), &inquiry));
    assert!(store.agent(&UserId::new("a9").unwrap()).unwrap().is_none());
    assert!(store.get(&RecordKey::Inquiry(InquiryId::new("other").unwrap())).unwrap().is_none());
    assert_eq!(store.events(&EventQuery::all().limit(100)).unwrap(), before_events);
    let page = store
        .list_inquiries(&InquiryQuery {
            filter: InquiryFilter::all(),
            sort: InquirySort::default(),
            offset: 0,
            limit: 10,
        })
        .unwrap();
    assert_eq!((page.total, page.items), (1, vec![inquiry]));
}

/// Usernames (any case), emails, room ids, department names and visitor tokens belong to one
/// record at a time; changing or deleting a record frees its old keys, even within one commit.
pub fn unique_keys_are_enforced_and_released<S: Store>(make: MakeStore<S>) {
    let store = make();
    put(&store, vec![Write::create(Record::User(user("u1", "alice")))]).unwrap();
    let mut twin = user("u2", "ALICE");
    twin.email = None;
    assert_eq!(
        put(&store, vec![Write::create(Record::User(twin.clone()))]),
        Err(StoreError::Duplicate { key: UniqueKey::username("alice") })
    );
    // Renaming alice frees "alice" for the twin in the same commit.
    let mut renamed = user("u1", "alicia");
    renamed.email = None;
    put(&store, vec![Write::update(Version(1), Record::User(renamed)), Write::create(Record::User(twin))]).unwrap();
    assert_eq!(store.user_by_username("alice").unwrap().unwrap().value.id.as_str(), "u2");
    assert_eq!(store.user_by_username("alicia").unwrap().unwrap().value.id.as_str(), "u1");
    assert!(store.find(&UniqueKey::email("alice@example.com")).unwrap().is_none(), "the old email was released");
    // Two new records claiming one key in a single commit.
    let (mut a, mut b) = (user("u3", "carol"), user("u4", "dave"));
    a.email = Some("same@example.com".into());
    b.email = Some("SAME@example.com".into());
    assert!(matches!(
        put(&store, vec![Write::create(Record::User(a)), Write::create(Record::User(b))]),
        Err(StoreError::Duplicate { .. })
    ));
    // Deleting frees the key.
    put(&store, vec![Write::delete(RecordKey::User(UserId::new("u2").unwrap()), Version(1))]).unwrap();
    put(&store, vec![Write::create(Record::User(user("u5", "alice")))]).unwrap();
    assert_eq!(store.user_by_username("Alice").unwrap().unwrap().value.id.as_str(), "u5");
}

/// A value under the wrong key, two writes to one key and a delete without a version are
/// rejected before anything is written.
pub fn malformed_commits_are_rejected<S: Store>(make: MakeStore<S>) {
    let store = make();
    let agent = agent_record("a1");
    let wrong_key = Write {
        key: RecordKey::Agent(UserId::new("a2").unwrap()),
        expected: None,
        value: Some(Record::Agent(agent.clone())),
    };
    assert!(matches!(put(&store, vec![wrong_key]), Err(StoreError::InvalidCommit(_))));
    let twice = vec![Write::create(Record::Agent(agent.clone())), Write::create(Record::Agent(agent.clone()))];
    assert!(matches!(put(&store, twice), Err(StoreError::InvalidCommit(_))));
    let blind_delete = Write { key: RecordKey::Agent(agent.id.clone()), expected: None, value: None };
    assert!(matches!(put(&store, vec![blind_delete]), Err(StoreError::InvalidCommit(_))));
    assert!(store.scan(RecordKind::Agent).unwrap().is_empty());
}

/// A deleted inquiry is gone from reads, room lookups, listings and totals.
pub fn deleted_records_leave_reads_and_listings<S: Store>(make: MakeStore<S>) {
    let store = make();
    let inquiries = seed_inquiries(&store, 40, 3);
    let mut model: HashMap<InquiryId, Inquiry> = inquiries.iter().map(|i| (i.id.clone(), i.clone())).collect();
    for gone in inquiries.iter().step_by(3) {
        put(&store, vec![Write::delete(RecordKey::Inquiry(gone.id.clone()), Version(1))]).unwrap();
        model.remove(&gone.id);
        assert!(store.inquiry(&gone.id).unwrap().is_none());
        assert!(store.inquiry_by_room(&gone.rid).unwrap().is_none());
    }
    assert_listings_match(&store, &model);
}

/// Every sort field, direction, filter, offset and page size returns exactly the reference
/// page and total.
pub fn listing_matches_the_reference<S: Store>(make: MakeStore<S>) {
    let store = make();
    let model = seed_inquiries(&store, 300, 4).into_iter().map(|i| (i.id.clone(), i)).collect();
    assert_listings_match(&store, &model);
}

/// Listings stay exact while inquiries change status, department, name and times.
pub fn listing_follows_updates<S: Store>(make: MakeStore<S>) {
    let store = make();
    let mut model: HashMap<InquiryId, Inquiry> =
        seed_inquiries(&store, 200, 5).into_iter().map(|i| (i.id.clone(), i)).collect();
    // Build the views first, so that the updates below must maintain them.
    assert_listings_match(&store, &model);
    let mut rng = rng(6);
    let mut ids: Vec<InquiryId> = model.keys().cloned().collect();
    ids.sort();
    for (n, id) in ids.iter().enumerate().filter(|(n, _)| n % 2 == 0) {
        let current = store.inquiry(id).unwrap().unwrap();
        let mut changed = random_inquiry(n, &mut rng);
        changed.id = id.clone();
        changed.rid = current.value.rid.clone();
        put(&store, vec![Write::update(current.version, Record::Inquiry(changed.clone()))]).unwrap();
        model.insert(id.clone(), changed);
    }
    assert_listings_match(&store, &model);
}

/// `count_before` is the inquiry's index in the full reference order, or `None` if it does not
/// match the filter.
pub fn count_before_matches_the_reference<S: Store>(make: MakeStore<S>) {
    let store = make();
    let inquiries = seed_inquiries(&store, 120, 7);
    for query in sample_queries().into_iter().filter(|q| q.offset == 0 && q.limit == 10) {
        let all = InquiryQuery { offset: 0, limit: usize::MAX, ..query.clone() };
        let order: Vec<InquiryId> = all.reference_page(&inquiries).items.into_iter().map(|i| i.id).collect();
        for inquiry in inquiries.iter().step_by(7) {
            let want = order.iter().position(|id| id == &inquiry.id);
            assert_eq!(store.count_before(&query.filter, query.sort, &inquiry.id).unwrap(), want, "{query:?}");
        }
    }
    let unknown = InquiryId::new("unknown").unwrap();
    assert_eq!(
        store.count_before(&InquiryFilter::status(InquiryStatus::Open), InquirySort::default(), &unknown).unwrap(),
        None
    );
}

/// Events get strictly increasing sequence numbers from 1, and read back by position and by
/// inquiry, limited.
pub fn events_are_numbered_and_queryable<S: Store>(make: MakeStore<S>) {
    let store = make();
    let about = |id: &str, what: &str| NewEvent { inquiry: Some(InquiryId::new(id).unwrap()), ..event(what) };
    let receipt = store.commit(Commit { writes: vec![], events: vec![about("i1", "a"), about("i2", "b")] }).unwrap();
    let receipt2 = store.commit(Commit { writes: vec![], events: vec![about("i1", "c"), event("d")] }).unwrap();
    let seqs: Vec<EventSeq> = receipt.events.iter().chain(&receipt2.events).map(|e| e.seq).collect();
    assert_eq!(seqs, vec![EventSeq(1), EventSeq(2), EventSeq(3), EventSeq(4)]);
    let all = store.events(&EventQuery::all().limit(100)).unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs);
    assert_eq!(all[0].event, about("i1", "a"));
    let after = store.events(&EventQuery::all().after(EventSeq(2)).limit(100)).unwrap();
    assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![EventSeq(3), EventSeq(4)]);
    let for_i1 = store.events(&EventQuery::all().about(InquiryId::new("i1").unwrap()).limit(100)).unwrap();
    assert_eq!(for_i1.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![EventSeq(1), EventSeq(3)]);
    let limited = store.events(&EventQuery::all().limit(1)).unwrap();
    assert_eq!(limited.len(), 1);
}

/// A subscriber sees every event committed after it subscribed, once, in sequence order, even
/// with concurrent writers.
pub fn subscribers_see_every_commit_in_order<S: Store + 'static>(make: MakeStore<S>) {
    let store = Arc::new(make());
    let feed = store.subscribe().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for n in 0..25 {
                    store.commit(Commit { writes: vec![], events: vec![event(&format!("{t}-{n}"))] }).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let mut seen = Vec::new();
    while seen.len() < 100 {
        match feed.next_timeout(Duration::from_secs(10)) {
            Some(event) => seen.push(event.seq),
            None => break,
        }
    }
    assert_eq!(seen.len(), 100, "every commit reaches the feed");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in sequence order: {seen:?}");
    assert!(feed.next_timeout(Duration::from_millis(50)).is_none(), "and nothing twice");
}

/// The engine's whole life cycle on this store: enqueue, release, take, return, transfer,
/// close, with agent loads and the event history consistent at every step.
pub fn engine_lifecycle_keeps_loads_consistent<S: Store>(make: MakeStore<S>) {
    let engine = engine(make());
    let agents = add_agents(&engine, 2, 0);
    let (a, b) = (Actor::User(agents[0].clone()), &agents[1]);
    let id = open_inquiries(&engine, 1).remove(0);
    let load = |agent: &UserId| engine.agent(agent).unwrap().unwrap().active_chats;

    let taken = engine.take(&a, &id, None).unwrap();
    assert_eq!((taken.status, taken.served_by_id()), (InquiryStatus::Taken, Some(&agents[0])));
    assert_eq!(engine.take(&a, &id, None), Err(CoreError::InquiryAlreadyTaken));
    assert_eq!(load(&agents[0]), 1);

    let back = engine.return_to_queue(&a, &taken.rid).unwrap();
    assert_eq!((back.status, back.queued_at), (InquiryStatus::Queued, taken.queued_at));
    assert_eq!(load(&agents[0]), 0);

    engine.release(&Actor::System, &id).unwrap();
    engine.take(&Actor::System, &id, Some(&agents[0])).unwrap();
    let moved = engine.transfer(&Actor::System, &taken.rid, &TransferTarget::Agent(b.clone()), "shift change").unwrap();
    assert_eq!(moved.served_by_id(), Some(b));
    assert_eq!((load(&agents[0]), load(b)), (0, 1));

    let closed = engine.close(&Actor::User(b.clone()), &taken.rid, "solved").unwrap();
    assert_eq!(closed.status, InquiryStatus::Closed);
    assert_eq!(load(b), 0);
    assert!(matches!(engine.close(&Actor::System, &taken.rid, ""), Err(CoreError::IllegalTransition { .. })));

    let history = engine.history(&Actor::System, &id).unwrap();
    let kinds: Vec<String> = history
        .iter()
        .map(|e| match &e.event.kind {
            EventKind::Enqueued { .. } => "enqueued".to_owned(),
            EventKind::Transition { transition, .. } => transition.phrase().to_owned(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        ["enqueued", "release", "take", "return to queue", "release", "take", "transfer to an agent", "close"]
    );
    assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
}

/// 8 threads, each acting for its own agent, race to take the same 1,000 open inquiries in
/// different orders: each inquiry is taken exactly once, the losers get "Inquiry already
/// taken", and every agent's load equals what it won.
pub fn concurrent_takes_take_each_inquiry_once<S: Store + 'static>(make: MakeStore<S>) {
    const THREADS: usize = 8;
    const INQUIRIES: usize = 1_000;
    let engine = Arc::new(engine(make()));
    let agents = add_agents(&engine, THREADS, 0);
    let inquiries = open_inquiries(&engine, INQUIRIES);
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = agents
        .iter()
        .enumerate()
        .map(|(t, agent)| {
            let (engine, barrier, agent) = (Arc::clone(&engine), Arc::clone(&barrier), agent.clone());
            let mut order = inquiries.clone();
            order.shuffle(&mut rng(t as u64));
            std::thread::spawn(move || {
                barrier.wait();
                let mut won = Vec::new();
                for id in order {
                    match engine.take(&Actor::User(agent.clone()), &id, None) {
                        Ok(inquiry) => {
                            assert_eq!(inquiry.served_by_id(), Some(&agent));
                            won.push(id);
                        }
                        Err(CoreError::InquiryAlreadyTaken) => {}
                        Err(other) => panic!("unexpected error from a racing take: {other:?}"),
                    }
                }
                (agent, won)
            })
        })
        .collect();
    let results: Vec<(UserId, Vec<InquiryId>)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut winners: HashMap<InquiryId, UserId> = HashMap::new();
    for (agent, won) in &results {
        for id in won {
            assert!(winners.insert(id.clone(), agent.clone()).is_none(), "{id} was taken twice");
        }
        assert_eq!(engine.agent(agent).unwrap().unwrap().active_chats as usize, won.len(), "load of {agent}");
    }
    assert_eq!(winners.len(), INQUIRIES, "every inquiry was taken");
    for (id, agent) in &winners {
        let stored = engine.store().inquiry(id).unwrap().unwrap().value;
        assert_eq!((stored.status, stored.served_by_id()), (InquiryStatus::Taken, Some(agent)));
    }
}

/// 8 threads race to take 100 inquiries for one agent whose limit is 5: exactly 5 succeed, the
/// rest are refused for capacity (or lose the inquiry), and the agent's load is 5.
pub fn racing_takes_never_exceed_capacity<S: Store + 'static>(make: MakeStore<S>) {
    const THREADS: usize = 8;
    const LIMIT: u32 = 5;
    let engine = Arc::new(engine(make()));
    let agent = add_agents(&engine, 1, LIMIT).remove(0);
    let inquiries = Arc::new(open_inquiries(&engine, 100));
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (engine, barrier, agent, inquiries) =
                (Arc::clone(&engine), Arc::clone(&barrier), agent.clone(), Arc::clone(&inquiries));
            std::thread::spawn(move || {
                barrier.wait();
                let mut won = 0;
                for id in inquiries.iter().skip(t).step_by(THREADS) {
                    match engine.take(&Actor::System, id, Some(&agent)) {
                        Ok(_) => won += 1,
                        Err(CoreError::AgentAtCapacity { limit }) => assert_eq!(limit, LIMIT),
                        Err(other) => panic!("unexpected error: {other:?}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(won, LIMIT);
    assert_eq!(engine.agent(&agent).unwrap().unwrap().active_chats, LIMIT);
}

/// 4 threads dispatch at once under auto selection: 10 agents with 3 slots each get exactly 30
/// of the 100 queued inquiries, none twice and none over its limit; the rest are released.
pub fn concurrent_dispatch_assigns_once_within_capacity<S: Store + 'static>(make: MakeStore<S>) {
    let config = EngineConfig {
        routing: RoutingConfig { method: RoutingMethod::AutoSelection, ..RoutingConfig::default() },
        ..EngineConfig::default()
    };
    let engine = Arc::new(Engine::with_config(make(), config));
    let agents = add_agents(&engine, 10, 3);
    let ids: Vec<InquiryId> = (0..100)
        .map(|n| engine.enqueue(&Actor::System, lobby_core::NewInquiry::new(fixtures::visitor(n), "V")).unwrap().id)
        .collect();
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (engine, barrier) = (Arc::clone(&engine), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                engine.dispatch(&Actor::System).unwrap()
            })
        })
        .collect();
    let assigned: usize = handles.into_iter().map(|h| h.join().unwrap().assigned).sum();
    assert_eq!(assigned, 30, "the dispatchers together assigned each free slot once");
    let mut served: BTreeMap<UserId, u32> = BTreeMap::new();
    let mut statuses: BTreeMap<InquiryStatus, usize> = BTreeMap::new();
    for id in &ids {
        let inquiry = engine.store().inquiry(id).unwrap().unwrap().value;
        *statuses.entry(inquiry.status).or_default() += 1;
        if let Some(agent) = inquiry.served_by_id() {
            *served.entry(agent.clone()).or_default() += 1;
        }
    }
    assert_eq!(statuses, BTreeMap::from([(InquiryStatus::Open, 70), (InquiryStatus::Taken, 30)]));
    for agent in &agents {
        let load = engine.agent(agent).unwrap().unwrap();
        assert_eq!(load.active_chats, 3, "{agent} is full");
        assert_eq!(served.get(agent), Some(&3), "{agent}'s load equals what it serves");
        assert_eq!(load.availability, AgentAvailability::Available);
    }
}

/// 8 threads open a room for the same visitor at once: one room is created and all get it.
pub fn concurrent_room_opening_opens_one_room<S: Store + 'static>(make: MakeStore<S>) {
    let engine = Arc::new(engine(make()));
    let details =
        VisitorDetails { token: "visitor-token".into(), name: Some("Marcos".into()), ..VisitorDetails::default() };
    engine.register_visitor(&details).unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (engine, barrier) = (Arc::clone(&engine), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                engine.open_room("visitor-token", None).unwrap()
            })
        })
        .collect();
    let opened: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let rooms: HashSet<RoomId> = opened.iter().map(|o| o.inquiry.rid.clone()).collect();
    assert_eq!(rooms.len(), 1, "one room for one visitor");
    assert_eq!(opened.iter().filter(|o| o.new_room).count(), 1);
    let all = InquiryQuery { filter: InquiryFilter::all(), sort: InquirySort::default(), offset: 0, limit: 10 };
    assert_eq!(engine.store().list_inquiries(&all).unwrap().total, 1);
}
