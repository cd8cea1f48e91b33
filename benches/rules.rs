//! Routing-rule benchmarks: one dispatch of 10,000 waiting inquiries over 1,000 agents under a
//! three-target rule, against the same dispatch with no rule, and `Engine::explain` over 1,000
//! agents. See `docs/performance.md` ("Routing rules") for the figures.
//!
//! `cargo bench --bench rules` runs the full sizes; `cargo test --benches` (no `--bench`
//! argument) runs each once, small. `LOBBY_BENCH_RULES=inquiries,agents` picks other sizes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use lobby_core::{
    Actor, Agent, Attributes, Commit, Engine, EngineConfig, Inquiry, InquiryId, InquiryStatus, ManualClock, Record,
    RoomId, RoutingConfig, RoutingMethod, RoutingRules, RoutingTarget, Store, Timestamp, UserId, VisitorId,
    VisitorSummary, Write,
};
use lobby_memory::MemoryStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const NOW: i64 = 1_700_000_000_000;
const TOPICS: [&str; 5] = ["billing", "sales", "tech", "returns", "fraud"];

/// Twilio's usual shape: the best match first, then anyone with the skill, then anyone nearby;
/// after 4 minutes in all, anyone.
fn three_targets() -> RoutingRules {
    RoutingRules::new(vec![
        RoutingTarget::parse("skills HAS task.topic AND level >= task.level").unwrap().with_timeout(secs(60)),
        RoutingTarget::parse("skills HAS task.topic").unwrap().with_timeout(secs(120)).with_boost(1),
        RoutingTarget::parse("region IN ['EU', 'UK']").unwrap().with_timeout(secs(60)),
    ])
    .unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Agents with skills, levels and regions, each with room for 10 conversations (so 1,000 agents
/// have room for all 10,000), and waiting inquiries with topics and levels, queued over the
/// last 5 minutes so that every target of the rule applies to some of them.
fn dataset(inquiries: usize, agents: usize) -> Vec<Record> {
    let mut rng = StdRng::seed_from_u64(14);
    let mut records = Vec::with_capacity(inquiries + agents);
    for n in 0..agents {
        let mut agent =
            Agent::new(UserId::new(format!("agent{n:05}")).unwrap(), format!("agent{n:05}"), Timestamp::EPOCH);
        let skills: Vec<&str> = TOPICS.iter().copied().filter(|_| rng.gen_bool(0.4)).collect();
        let region = ["EU", "US", "UK", "BR"][rng.gen_range(0..4)];
        agent.attributes =
            Attributes::new(json!({"skills": skills, "level": rng.gen_range(1..=5), "region": region})).unwrap();
        agent.max_chats = 10;
        records.push(Record::Agent(agent));
    }
    for n in 0..inquiries {
        let at = Timestamp::from_millis(NOW - rng.gen_range(0..300_000));
        let visitor =
            VisitorSummary::new(VisitorId::new(format!("v{n}")).unwrap(), format!("guest-{n}"), format!("t{n}"));
        let id = InquiryId::new(format!("inq{n:06}")).unwrap();
        let mut inquiry = Inquiry::new(id, RoomId::new(format!("room{n:06}")).unwrap(), visitor, "Visitor", at);
        inquiry.status = InquiryStatus::Open;
        inquiry.attributes =
            Attributes::new(json!({"topic": TOPICS[rng.gen_range(0..TOPICS.len())], "level": rng.gen_range(1..=5)}))
                .unwrap();
        records.push(Record::Inquiry(inquiry));
    }
    records
}

fn engine(records: &[Record], rules: RoutingRules) -> Engine<MemoryStore> {
    let store = MemoryStore::new();
    for chunk in records.chunks(1_000) {
        store.commit(Commit { writes: chunk.iter().cloned().map(Write::create).collect(), events: vec![] }).unwrap();
    }
    let config = EngineConfig {
        routing: RoutingConfig { method: RoutingMethod::LoadBalancing, rules, ..RoutingConfig::default() },
        clock: std::sync::Arc::new(ManualClock::new(Timestamp::from_millis(NOW), 0)),
        ..EngineConfig::default()
    };
    Engine::with_config(store, config)
}

fn main() {
    let test_mode = !std::env::args().any(|a| a == "--bench");
    let (inquiries, agents) = match std::env::var("LOBBY_BENCH_RULES") {
        Ok(sizes) => {
            let sizes: Vec<usize> = sizes.split(',').map(|s| s.trim().parse().expect("LOBBY_BENCH_RULES")).collect();
            (sizes[0], sizes[1])
        }
        Err(_) if test_mode => (500, 50),
        Err(_) => (10_000, 1_000),
    };
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let records = dataset(inquiries, agents);
    let label = format!("{inquiries}x{agents}");

    let mut group = criterion.benchmark_group("rules_dispatch");
    group.sampling_mode(SamplingMode::Flat).throughput(Throughput::Elements(inquiries as u64));
    for (name, rules) in [("no_rules", RoutingRules::none()), ("three_targets", three_targets())] {
        group.bench_function(BenchmarkId::new(name, &label), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    // Untimed: a fresh store, every inquiry waiting and every agent free.
                    let engine = engine(&records, rules.clone());
                    let start = Instant::now();
                    let report = engine.dispatch(&Actor::System).unwrap();
                    timed += start.elapsed();
                    eprintln!("[{name}] {report:?}");
                    black_box(report);
                }
                timed
            })
        });
    }
    group.finish();

    let mut group = criterion.benchmark_group("rules_explain");
    group.throughput(Throughput::Elements(agents as u64));
    let engine = engine(&records, three_targets());
    let inquiry = InquiryId::new("inq000000").unwrap();
    group.bench_function(BenchmarkId::new("three_targets", &label), |b| {
        b.iter(|| black_box(engine.explain(&Actor::System, &inquiry).unwrap()))
    });
    group.finish();
    criterion.final_summary();
}
