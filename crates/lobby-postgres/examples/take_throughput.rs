//! Ad-hoc throughput numbers for `docs/postgres.md`:
//!
//! ```text
//! source .ci/postgres.sh
//! cargo run --release -p lobby-postgres --example take_throughput -- [threads] [inquiries]
//! ```
//!
//! Seeds open inquiries and agents without limits in a temporary schema, then `threads`
//! threads (default 4) each take a disjoint share through `Engine::take` (on behalf of their own
//! agent) and reports takes per second; then the same threads race for one shared list (every
//! inquiry contested by all of them); then a listing, count_before and dispatch sample.

use std::sync::{Arc, Barrier};
use std::time::Instant;

use lobby_conformance::fixtures::{add_agents, visitor};
use lobby_core::{
    Actor, Commit, CoreError, Engine, EngineConfig, Inquiry, InquiryFilter, InquiryId, InquiryQuery, InquiryStatus,
    Record, RoomId, SortField, StatusSet, Store, Timestamp, Write,
};
use lobby_postgres::PostgresStore;

fn open_inquiry(tag: &str, n: usize, at: Timestamp) -> Inquiry {
    let (id, rid) = (InquiryId::new(format!("{tag}{n:06}")).unwrap(), RoomId::new(format!("{tag}room{n:06}")).unwrap());
    Inquiry {
        status: InquiryStatus::Open,
        queued_at: Some(at.plus_millis(n as i64)),
        ..Inquiry::new(id, rid, visitor(n), format!("Visitor {n}"), at)
    }
}

fn seed(engine: &Engine<PostgresStore>, tag: &str, count: usize) -> Vec<InquiryId> {
    let now = Timestamp::from_millis(1_700_000_000_000);
    let inquiries: Vec<Inquiry> = (0..count).map(|n| open_inquiry(tag, n, now)).collect();
    for chunk in inquiries.chunks(1_000) {
        let writes = chunk.iter().map(|i| Write::create(Record::Inquiry(i.clone()))).collect();
        engine.store().commit(Commit { writes, events: vec![] }).expect("seed");
    }
    inquiries.into_iter().map(|i| i.id).collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let url = std::env::var("LOBBY_TEST_POSTGRES_URL").expect("set LOBBY_TEST_POSTGRES_URL (source .ci/postgres.sh)");
    let store = PostgresStore::temporary(&url).expect("store");
    let engine = Arc::new(Engine::with_config(store, EngineConfig::default()));
    let agents = add_agents(&engine, threads, 0);

    let started = Instant::now();
    let ids = seed(&engine, "a", count);
    println!("seeded {count} inquiries in {:?} (commits of 1,000)", started.elapsed());

    // Disjoint shares: pure throughput.
    let barrier = Arc::new(Barrier::new(threads));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (engine, barrier, agent) = (Arc::clone(&engine), Arc::clone(&barrier), agents[t].clone());
            let mine: Vec<InquiryId> = ids.iter().skip(t).step_by(threads).cloned().collect();
            std::thread::spawn(move || {
                barrier.wait();
                for id in mine {
                    engine.take(&Actor::System, &id, Some(&agent)).expect("take");
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let elapsed = started.elapsed();
    println!(
        "{threads} threads took {count} disjoint inquiries in {elapsed:?}: {:.0} takes/s",
        count as f64 / elapsed.as_secs_f64()
    );

    // One shared list: every take contested.
    let ids = seed(&engine, "b", count);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (engine, barrier, agent, ids) =
                (Arc::clone(&engine), Arc::clone(&barrier), agents[t].clone(), ids.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut won = 0;
                for id in ids {
                    match engine.take(&Actor::System, &id, Some(&agent)) {
                        Ok(_) => won += 1,
                        Err(CoreError::InquiryAlreadyTaken) => {}
                        Err(other) => panic!("{other:?}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let elapsed = started.elapsed();
    println!(
        "{threads} threads raced for {count} shared inquiries in {elapsed:?}: {won} won, {:.0} successful takes/s, \
         {:.0} attempts/s",
        won as f64 / elapsed.as_secs_f64(),
        (count * threads) as f64 / elapsed.as_secs_f64()
    );

    // Reads over a queue of `count` open inquiries.
    let ids = seed(&engine, "c", count);
    let waiting = InquiryFilter { statuses: StatusSet::waiting(), ..InquiryFilter::status(InquiryStatus::Open) };
    for (label, offset) in [("first page", 0), ("deep page", count / 2)] {
        let query = InquiryQuery {
            filter: waiting.clone(),
            sort: lobby_core::InquirySort::ascending(SortField::QueuedAt),
            offset,
            limit: 50,
        };
        let started = Instant::now();
        let rounds = 200;
        for _ in 0..rounds {
            engine.store().list_inquiries(&query).unwrap();
        }
        println!(
            "list_inquiries waiting by queuedAt, {label} (offset {offset}, 50 items): {:?} each",
            started.elapsed() / rounds
        );
    }
    let started = Instant::now();
    let sort = lobby_core::InquirySort::ascending(SortField::QueuedAt);
    for id in ids.iter().step_by(count / 100) {
        engine.store().count_before(&waiting, sort, id).unwrap();
    }
    println!("count_before over {count} waiting: {:?} each", started.elapsed() / 100);

    let auto = Engine::with_config(
        PostgresStore::connect(
            &url,
            lobby_postgres::PostgresConfig { schema: engine.store().schema().into(), ..Default::default() },
        )
        .unwrap(),
        EngineConfig {
            routing: lobby_core::RoutingConfig {
                method: lobby_core::RoutingMethod::AutoSelection,
                ..Default::default()
            },
            ..EngineConfig::default()
        },
    );
    let started = Instant::now();
    let report = auto.dispatch(&Actor::System).unwrap();
    println!("one dispatch pass assigned {} of {count} in {:?}", report.assigned, started.elapsed());
}
