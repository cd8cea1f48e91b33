//! Several servers on one queue: 4 OS processes (this test binary, re-executed as children)
//! × 4 threads race to take (on behalf of agents) and dispatch (auto selection) 10,000 open
//! inquiries on one schema. Afterwards every inquiry is served at most once, by the records
//! and by the event log; every agent's `active_chats` equals the inquiries it serves and stays
//! within its limit; the counters match the rows; and a feed opened in the parent saw every
//! child's event, once, in order.
//!
//! Needs `LOBBY_TEST_POSTGRES_URL` (`source .ci/postgres.sh`); skips without it, except under
//! `CI`.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::server_url;
use lobby_conformance::fixtures::{add_agents, visitor};
use lobby_core::{
    Actor, Commit, CoreError, Engine, EngineConfig, EventKind, EventQuery, Inquiry, InquiryFilter, InquiryId,
    InquiryQuery, InquirySort, InquirySource, InquiryStatus, NewEvent, Record, RoomId, RoutingConfig, RoutingMethod,
    SortField, SourceType, Store, StoreExt, Timestamp, UserId, Write,
};
use lobby_postgres::{PostgresConfig, PostgresStore};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const PROCESSES: usize = 4;
const THREADS: usize = 4;
const INQUIRIES: usize = 10_000;
const AGENTS: usize = 50;
/// 50 × 200 = 10,000 slots for 10,000 inquiries: by the end every agent is full, so takes for
/// full agents are refused during the race and any lost update would show as a load mismatch.
const LIMIT: u32 = 200;

const CHILD_ENV: &str = "LOBBY_PG_MULTIPROCESS_CHILD";
const SCHEMA_ENV: &str = "LOBBY_PG_MULTIPROCESS_SCHEMA";

fn auto_engine<S: Store>(store: S) -> Engine<S> {
    let config = EngineConfig {
        routing: RoutingConfig { method: RoutingMethod::AutoSelection, ..RoutingConfig::default() },
        ..EngineConfig::default()
    };
    Engine::with_config(store, config)
}

fn open_inquiry(n: usize, at: Timestamp) -> Inquiry {
    let (id, rid) = (InquiryId::new(format!("mp{n:05}")).unwrap(), RoomId::new(format!("mproom{n:05}")).unwrap());
    Inquiry {
        status: InquiryStatus::Open,
        queued_at: Some(at.plus_millis(n as i64)),
        source: Some(InquirySource { kind: SourceType::Widget }),
        ..Inquiry::new(id, rid, visitor(n), format!("Visitor {n}"), at)
    }
}

/// The parent: seeds, runs the children, checks everything.
#[test]
fn processes_racing_on_one_queue_serve_each_inquiry_once() {
    let Some(url) = server_url() else { return };
    let started = Instant::now();
    let store = PostgresStore::temporary(&url).expect("store");
    let engine = auto_engine(store);
    let agents = add_agents(&engine, AGENTS, LIMIT);
    let now = Timestamp::from_millis(1_700_000_000_000);
    let inquiries: Vec<Inquiry> = (0..INQUIRIES).map(|n| open_inquiry(n, now)).collect();
    for chunk in inquiries.chunks(500) {
        let events = chunk
            .iter()
            .map(|i| NewEvent {
                at: now,
                actor: Actor::System,
                inquiry: Some(i.id.clone()),
                kind: EventKind::Enqueued { department: None },
            })
            .collect();
        let writes = chunk.iter().map(|i| Write::create(Record::Inquiry(i.clone()))).collect();
        engine.store().commit(Commit { writes, events }).expect("seed");
    }
    let seeded = started.elapsed();
    let feed = engine.store().subscribe().expect("subscribe");
    let first_seq = engine.store().events(&EventQuery::all()).unwrap().len();

    let race = Instant::now();
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            Command::new(&exe)
                .args(["--exact", "child_worker", "--nocapture", "--test-threads", "1"])
                .env(CHILD_ENV, p.to_string())
                .env(SCHEMA_ENV, engine.store().schema())
                .env("LOBBY_TEST_POSTGRES_URL", &url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn a child process")
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|child| child.wait_with_output().expect("wait for a child process"))
        .collect::<Vec<_>>();
    let mut took = 0;
    let mut assigned = 0;
    for (p, out) in children.iter().enumerate() {
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "child {p} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let line = stdout
            .lines()
            .find_map(|l| Some(&l[l.find("RESULT ")?..]))
            .unwrap_or_else(|| panic!("child {p}: {stdout}"));
        let numbers: Vec<usize> = line.split_whitespace().filter_map(|w| w.split('=').nth(1)?.parse().ok()).collect();
        took += numbers[0];
        assigned += numbers[1];
    }
    let raced = race.elapsed();

    // The records: each served inquiry names one agent; loads equal what each serves.
    let store = engine.store();
    let all = InquiryQuery {
        filter: InquiryFilter::all(),
        sort: InquirySort::ascending(SortField::QueuedAt),
        offset: 0,
        limit: INQUIRIES,
    };
    let stored: HashMap<InquiryId, Inquiry> =
        store.list_inquiries(&all).unwrap().items.into_iter().map(|i| (i.id.clone(), i)).collect();
    assert_eq!(stored.len(), INQUIRIES);
    let mut serves: BTreeMap<UserId, u32> = BTreeMap::new();
    let mut served = 0;
    for inquiry in &inquiries {
        let stored = &stored[&inquiry.id];
        match (stored.status, stored.served_by_id()) {
            (InquiryStatus::Taken, Some(agent)) => {
                *serves.entry(agent.clone()).or_default() += 1;
                served += 1;
            }
            other => panic!("{} ended as {other:?}", inquiry.id),
        }
    }
    assert_eq!(served, took + assigned, "every success the children saw is in the records, and nothing else");
    assert_eq!(served, INQUIRIES, "every inquiry was served");
    for agent in &agents {
        let record = store.agent(agent).unwrap().unwrap().value;
        let serving = serves.get(agent).copied().unwrap_or(0);
        assert_eq!(record.active_chats, serving, "{agent}'s load equals what it serves");
        assert!(record.active_chats <= LIMIT, "{agent} is within its limit");
        assert_eq!(record.active_chats, LIMIT, "{agent} is full (capacity equals the inquiries)");
        assert_eq!(record.assigned_total, u64::from(serving));
    }

    // The event log: at most one take or assignment per inquiry, matching the records.
    let events = store.events(&EventQuery::all()).unwrap();
    let mut served_by_events: HashMap<InquiryId, UserId> = HashMap::new();
    for e in &events {
        if let EventKind::Transition {
            transition: lobby_core::machine::TransitionKind::Take | lobby_core::machine::TransitionKind::Assign,
            agent,
            ..
        } = &e.event.kind
        {
            let id = e.event.inquiry.clone().expect("about an inquiry");
            let previous = served_by_events.insert(id.clone(), agent.clone().expect("an agent"));
            assert!(previous.is_none(), "{id} was served twice");
        }
    }
    assert_eq!(served_by_events.len(), served);
    for (id, agent) in &served_by_events {
        assert_eq!(stored[id].served_by_id(), Some(agent));
    }
    let seqs: Vec<u64> = events.iter().map(|e| e.seq.0).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>(), "the log has no gaps");

    // The parent's feed saw every child's event once, in order.
    let mut fed = Vec::new();
    while fed.len() < events.len() - first_seq {
        match feed.next_timeout(Duration::from_secs(60)) {
            Some(e) => fed.push(e),
            None => break,
        }
    }
    assert_eq!(fed, events[first_seq..].to_vec(), "the feed carries the children's events, in order, once");

    let report = store.check_integrity().unwrap();
    assert!(report.is_healthy(), "{report:?}");
    eprintln!(
        "multiprocess: seeded {INQUIRIES} in {seeded:?}; {PROCESSES} processes x {THREADS} threads served {served} \
         ({took} takes, {assigned} dispatch assignments) in {raced:?}; {} events",
        events.len()
    );
}

/// A child process: does nothing unless the parent started it.
#[test]
fn child_worker() {
    let Ok(process) = std::env::var(CHILD_ENV) else { return };
    let process: usize = process.parse().expect("child index");
    let url = std::env::var("LOBBY_TEST_POSTGRES_URL").expect("url");
    let schema = std::env::var(SCHEMA_ENV).expect("schema");
    let store =
        PostgresStore::connect(&url, PostgresConfig { schema, pool_size: THREADS as u32, ..PostgresConfig::default() })
            .expect("attach");
    let engine = Arc::new(auto_engine(store));
    let agents: Vec<UserId> = engine.store().agents().unwrap().into_iter().map(|a| a.value.id).collect();
    let ids: Vec<InquiryId> = (0..INQUIRIES).map(|n| InquiryId::new(format!("mp{n:05}")).unwrap()).collect();
    let takers_done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (engine, agents, barrier, takers_done, stop) = (
                Arc::clone(&engine),
                agents.clone(),
                Arc::clone(&barrier),
                Arc::clone(&takers_done),
                Arc::clone(&stop),
            );
            // Takers: thread t of process p works through two of the 12 slices, its own and the
            // next one (the next process's), so every inquiry has two takers in two processes,
            // besides the four dispatchers.
            let slices = (PROCESSES * (THREADS - 1)) as u64;
            let mine = (process * (THREADS - 1) + t) as u64;
            let mut order: Vec<InquiryId> = ids
                .iter()
                .enumerate()
                .filter(|(n, _)| {
                    let slice = *n as u64 % slices;
                    slice == mine || slice == (mine + THREADS as u64 - 1) % slices
                })
                .map(|(_, id)| id.clone())
                .collect();
            let mut rng = rand::rngs::StdRng::seed_from_u64((process * 100 + t) as u64);
            order.shuffle(&mut rng);
            std::thread::spawn(move || {
                barrier.wait();
                let race = Instant::now();
                if t == THREADS - 1 {
                    // The dispatcher: dispatch until the takers are done and a pass assigns nothing.
                    let mut assigned = 0;
                    let mut passes = 0;
                    loop {
                        let finishing = stop.load(Ordering::SeqCst);
                        let report = engine.dispatch(&Actor::System).expect("dispatch");
                        passes += 1;
                        assigned += report.assigned;
                        if finishing && report.assigned == 0 {
                            eprintln!("process {process}: {passes} dispatch passes");
                            return (0, assigned);
                        }
                        if report.assigned == 0 {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
                let mut took = 0;
                for id in order {
                    let agent = &agents[rng.gen_range(0..agents.len())];
                    match engine.take(&Actor::System, &id, Some(agent)) {
                        Ok(inquiry) => {
                            assert_eq!(inquiry.served_by_id(), Some(agent));
                            took += 1;
                        }
                        Err(CoreError::InquiryAlreadyTaken) | Err(CoreError::AgentAtCapacity { .. }) => {}
                        Err(other) => panic!("unexpected error from a racing take: {other:?}"),
                    }
                }
                eprintln!("process {process} taker {t}: done after {:?}", race.elapsed());
                if takers_done.fetch_add(1, Ordering::SeqCst) + 1 == THREADS - 1 {
                    stop.store(true, Ordering::SeqCst);
                }
                (took, 0)
            })
        })
        .collect();
    let (mut took, mut assigned) = (0, 0);
    for handle in handles {
        let (t, a) = handle.join().expect("worker thread");
        took += t;
        assigned += a;
    }
    let distinct: HashSet<_> = agents.iter().collect();
    assert_eq!(distinct.len(), AGENTS);
    println!("RESULT took={took} assigned={assigned}");
}
