//! Several servers on one schema fire the same due deadlines: each acts exactly once.
//!
//! Needs `LOBBY_TEST_POSTGRES_URL` (`source .ci/postgres.sh`); skips without it, except under
//! `CI`.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::server_url;
use lobby_core::machine::TransitionKind;
use lobby_core::{
    Actor, Engine, EngineConfig, Event, EventKind, EventQuery, InquiryStatus, ListRequest, ManualClock, NewInquiry,
    Paging, Store, TimerConfig, TimerRule, Timestamp, VisitorId, VisitorSummary,
};
use lobby_postgres::{PostgresConfig, PostgresStore};

const DEADLINES: usize = 1_000;
const ENGINES: usize = 3;
const THREADS_PER_ENGINE: usize = 2;
const START: i64 = 1_700_000_000_000;

/// An engine with its own store (its own connection pool) on `schema`, as a separate server.
fn server(url: &str, schema: &str, now: i64) -> Engine<PostgresStore> {
    let config = PostgresConfig { schema: schema.to_owned(), ..PostgresConfig::default() };
    let store = PostgresStore::connect(url, config).expect("attach to the schema");
    let timers = TimerConfig { max_queue_wait: Some(Duration::from_secs(60)), ..TimerConfig::default() };
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(now), 0));
    Engine::with_config(store, EngineConfig { timers, clock, ..EngineConfig::default() })
}

#[test]
fn three_servers_fire_the_same_thousand_deadlines_once() {
    let Some(url) = server_url() else { return };
    let seed = PostgresStore::temporary(&url).unwrap();
    let schema = seed.schema().to_owned();

    // 1,000 conversations queue at START; the queue allows 60 s, so each has a deadline.
    let setup = Arc::new(server(&url, &schema, START));
    let enqueuers: Vec<_> = (0..4)
        .map(|t| {
            let setup = Arc::clone(&setup);
            std::thread::spawn(move || {
                for n in (t..DEADLINES).step_by(4) {
                    let visitor =
                        VisitorSummary::new(VisitorId::new(format!("v{n}")).unwrap(), format!("g{n}"), format!("t{n}"));
                    setup.enqueue(&Actor::System, NewInquiry::new(visitor, format!("Visitor {n}"))).unwrap();
                }
            })
        })
        .collect();
    enqueuers.into_iter().for_each(|e| e.join().unwrap());
    assert_eq!(seed.due(Timestamp::MAX, usize::MAX).unwrap().len(), DEADLINES, "every conversation has a deadline");

    // An hour later, three servers with two firing threads each start at once.
    let servers: Vec<_> = (0..ENGINES).map(|_| Arc::new(server(&url, &schema, START + 3_600_000))).collect();
    let barrier = Arc::new(Barrier::new(ENGINES * THREADS_PER_ENGINE));
    let firers: Vec<_> = servers
        .iter()
        .flat_map(|engine| (0..THREADS_PER_ENGINE).map(move |_| Arc::clone(engine)))
        .map(|engine| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                engine.fire_due().unwrap().fired
            })
        })
        .collect();
    let reported: usize = firers.into_iter().map(|f| f.join().unwrap()).sum();
    assert_eq!(reported, DEADLINES, "the firers together report each deadline once");

    // The log: one queue-overflow firing and one close per conversation.
    let mut fired: HashMap<_, usize> = HashMap::new();
    let mut closes: HashMap<_, usize> = HashMap::new();
    for Event { event, .. } in seed.events(&EventQuery::all()).unwrap() {
        match event.kind {
            EventKind::TimerFired { rule: TimerRule::QueueOverflow, .. } => {
                *fired.entry(event.inquiry.unwrap()).or_default() += 1;
            }
            EventKind::Transition { transition: TransitionKind::Close, .. } => {
                *closes.entry(event.inquiry.unwrap()).or_default() += 1;
            }
            _ => {}
        }
    }
    assert_eq!(fired.len(), DEADLINES, "every deadline fired");
    assert!(fired.values().all(|&n| n == 1), "a deadline fired more than once");
    assert!(closes.len() == DEADLINES && closes.values().all(|&n| n == 1), "every conversation closed once");

    let request = ListRequest { status: InquiryStatus::Closed, paging: Paging::new(0, 0), ..ListRequest::default() };
    assert_eq!(servers[0].list(&Actor::System, &request).unwrap().total, DEADLINES);
    assert!(seed.due(Timestamp::MAX, usize::MAX).unwrap().is_empty(), "nothing is left due");
    let report = seed.check_integrity().unwrap();
    assert!(report.is_healthy(), "{report}");

    drop((setup, servers));
    seed.drop_schema().unwrap();
}
