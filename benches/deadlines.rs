//! Deadline benchmarks: firing 10,000 due deadlines, what keeping deadlines indexed adds to a
//! take, each on the memory and sled stores, and dispatch in offer mode against direct
//! assignment, side by side in one run. See `docs/performance.md` for the results.
//!
//! `cargo bench --bench deadlines` fires 10,000 deadlines over 100,000 settled conversations;
//! `cargo test --benches` runs every benchmark once, small.

// Shared with the queue benchmarks; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{generate, load_store, queued_batch, reopen, restore, restore_agents, timed_rounds, Dataset, Mix, AGENTS};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use lobby_core::{
    Actor, Engine, EngineConfig, Inquiry, InquiryStatus, ManualClock, RoutingConfig, RoutingMethod, Store, StoreExt,
    TimerConfig, Timestamp,
};
use lobby_memory::MemoryStore;
use lobby_sled::{Durability, SledConfig, SledStore};

type M = criterion::measurement::WallTime;

/// Long after every generated timestamp: every deadline is due.
const LATER: i64 = 4_000_000_000_000;
/// Open inquiries the take benchmarks cycle through.
const TAKE_POOL: usize = 20_000;

fn main() {
    let test_mode = !std::env::args().any(|a| a == "--bench");
    let (background, due, rounds) = if test_mode { (1_000, 200, 2) } else { (100_000, 10_000, 60) };
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    fire_benchmarks(&mut criterion, background, due);
    take_benchmarks(&mut criterion, background, rounds);
    offer_benchmarks(&mut criterion, background);
    criterion.final_summary();
}

/// The settings under which every conversation that waits, or is served, has a deadline.
fn timers() -> TimerConfig {
    TimerConfig {
        auto_transfer: Some(Duration::from_secs(60)),
        auto_transfer_max_hops: 3,
        max_queue_wait: Some(Duration::from_secs(600)),
        ..TimerConfig::default()
    }
}

fn engine<S: Store>(store: S, timers: TimerConfig) -> Engine<S> {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(LATER), 0));
    Engine::with_config(store, EngineConfig { timers, clock, ..EngineConfig::default() })
}

fn sled_store(dir: &tempfile::TempDir) -> SledStore {
    SledStore::open(dir.path().join("db"), SledConfig { durability: Durability::Periodic, ..SledConfig::default() })
        .unwrap()
}

/// `inquiries` with the deadlines `timers` gives them, as the engine would have stored them.
fn with_deadlines(timers: &TimerConfig, data: &Dataset, inquiries: &[Inquiry]) -> Vec<Inquiry> {
    inquiries
        .iter()
        .map(|i| {
            let department = i.department.as_ref().and_then(|d| data.departments.iter().find(|x| &x.id == d));
            Inquiry { deadlines: timers.inquiry_deadlines(i, department), ..i.clone() }
        })
        .collect()
}

/// `fire_due` with `due` queued conversations past the queue's max wait, over `background`
/// settled ones: each firing closes one conversation in its own commit.
fn fire_benchmarks(c: &mut Criterion, background: usize, due: usize) {
    let started = Instant::now();
    let data = generate(background, Mix::Settled);
    let batch = with_deadlines(&timers(), &data, &queued_batch(due, &data));
    let memory = engine(MemoryStore::new(), timers());
    load_store(memory.store(), &data, &batch);
    let sled_dir = tempfile::Builder::new().prefix("lobby-bench-deadlines-").tempdir().unwrap();
    let sled = engine(sled_store(&sled_dir), timers());
    load_store(sled.store(), &data, &batch);
    eprintln!("fire_due: {background} settled + {due} due loaded in {:.1} s", started.elapsed().as_secs_f64());

    let mut group = c.benchmark_group("fire_due");
    group.throughput(Throughput::Elements(due as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function(BenchmarkId::new("memory", due), |b| fire_loop(b, &memory, &batch));
    group.bench_function(BenchmarkId::new("sled_periodic", due), |b| fire_loop(b, &sled, &batch));
    group.finish();
}

fn fire_loop<S: Store>(b: &mut criterion::Bencher<'_, M>, engine: &Engine<S>, batch: &[Inquiry]) {
    b.iter_custom(|iters| {
        let mut timed = Duration::ZERO;
        for _ in 0..iters {
            // Untimed: the batch back in the queue, each with its deadline indexed.
            restore(engine.store(), batch);
            let start = Instant::now();
            let report = engine.fire_due().unwrap();
            timed += start.elapsed();
            assert_eq!(report.fired, batch.len(), "{report:?}");
        }
        timed
    });
}

/// A take with every timer off, against one that removes the conversation's queue deadline and
/// adds its auto-transfer deadline, on the same data: criterion's figures for each, then the
/// two interleaved (see [`interleaved`]). One store kind at a time: a sled store's background
/// flusher would otherwise add noise to the memory measurements.
fn take_benchmarks(c: &mut Criterion, background: usize, rounds: usize) {
    let data = generate(background, Mix::Queue);
    let pool: Vec<Inquiry> =
        data.inquiries.iter().filter(|i| i.status == InquiryStatus::Open).take(TAKE_POOL).cloned().collect();
    let timed_data = Dataset { inquiries: with_deadlines(&timers(), &data, &data.inquiries), ..data.clone() };
    let timed_pool = with_deadlines(&timers(), &data, &pool);
    let off = TakeCase { name: "timers_off", timers: TimerConfig::default(), data: &data, pool: &pool };
    let on = TakeCase { name: "timers_on", timers: timers(), data: &timed_data, pool: &timed_pool };
    let cases = [&off, &on];

    let memory = cases.map(|case| {
        let engine = engine(MemoryStore::new(), case.timers.clone());
        load_store(engine.store(), case.data, &[]);
        engine
    });
    compare(c, "memory", &memory, cases, background, rounds);
    drop(memory);

    let dirs = cases.map(|_| tempfile::Builder::new().prefix("lobby-bench-take-").tempdir().unwrap());
    let sled = [0, 1].map(|i| {
        let engine = engine(sled_store(&dirs[i]), cases[i].timers.clone());
        load_store(engine.store(), cases[i].data, &[]);
        engine.store().flush().unwrap();
        engine
    });
    compare(c, "sled", &sled, cases, background, rounds);
}

fn compare<S: Store>(
    c: &mut Criterion,
    label: &str,
    engines: &[Engine<S>; 2],
    cases: [&TakeCase; 2],
    background: usize,
    rounds: usize,
) {
    let mut group = c.benchmark_group("take_deadlines");
    group.throughput(Throughput::Elements(1));
    if label == "sled" {
        group.sampling_mode(SamplingMode::Flat);
    }
    for (engine, case) in engines.iter().zip(cases) {
        group.bench_function(BenchmarkId::new(format!("{label}_{}", case.name), background), |b| {
            take_loop(b, engine, case.pool, case.data)
        });
    }
    group.finish();
    interleaved(label, engines, cases, rounds);
}

/// Takes per interleaved batch.
const BATCH: usize = 1_000;

/// The same takes on both engines, batch by batch and alternating which goes first, so that
/// whatever else the machine does hits both alike; prints the median time per take of each
/// and the median (and quartiles) of the per-round ratios, the figure to compare with the 10 %
/// target. Criterion's separate groups, minutes apart, drift by more than that on a shared
/// 2-core machine.
fn interleaved<S: Store>(label: &str, engines: &[Engine<S>; 2], cases: [&TakeCase; 2], rounds: usize) {
    let batch = BATCH.min(cases[0].pool.len() / 2);
    let agents: Vec<Actor> = cases[0].data.agents.iter().map(|a| Actor::User(a.id.clone())).collect();
    let mut per_take: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let from = (round * batch) % (cases[0].pool.len() - batch + 1);
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut nanos = [0.0; 2];
        for i in order {
            let inquiries = &cases[i].pool[from..from + batch];
            let start = Instant::now();
            for (k, inquiry) in inquiries.iter().enumerate() {
                black_box(engines[i].take(&agents[k % AGENTS], &inquiry.id, None).unwrap());
            }
            nanos[i] = start.elapsed().as_nanos() as f64 / batch as f64;
            reopen(engines[i].store(), cases[i].data, inquiries);
        }
        per_take[0].push(nanos[0]);
        per_take[1].push(nanos[1]);
        ratios.push(nanos[1] / nanos[0]);
    }
    let [off, on] = per_take.map(|mut v| quartiles(&mut v)[1] / 1_000.0);
    let [low, median, high] = quartiles(&mut ratios);
    eprintln!(
        "take_deadlines interleaved, {label}: timers off {off:.1} µs, on {on:.1} µs per take; \
         on/off ratio median {median:.3} (quartiles {low:.3}–{high:.3}) over {rounds} rounds of {batch} takes each"
    );
}

/// The first quartile, the median and the third quartile.
fn quartiles(values: &mut [f64]) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    [at(0.25), at(0.5), at(0.75)]
}

struct TakeCase<'a> {
    name: &'static str,
    timers: TimerConfig,
    data: &'a Dataset,
    pool: &'a [Inquiry],
}

/// Takes distinct open inquiries (agent `k % 20` takes the `k`-th), timing only the takes;
/// after each round of `TAKES_PER_ROUND`, puts inquiries and agents back (untimed).
fn take_loop<S: Store>(b: &mut criterion::Bencher<'_, M>, engine: &Engine<S>, pool: &[Inquiry], data: &Dataset) {
    let agents: Vec<Actor> = data.agents.iter().map(|a| Actor::User(a.id.clone())).collect();
    let take = |round: &[Inquiry]| {
        for (k, inquiry) in round.iter().enumerate() {
            black_box(engine.take(&agents[k % AGENTS], &inquiry.id, None).unwrap());
        }
    };
    timed_rounds(b, pool, take, |round| reopen(engine.store(), data, round));
}

/// Queued conversations one dispatch routes in the offer benchmark.
const OFFER_BATCH: usize = 100;

/// Auto selection routing 100 queued conversations to 20 agents, once assigning them (direct, as
/// Rocket.Chat does) and once offering them (offer mode: the offer and its deadline written
/// instead), on the memory store over the same settled background.
fn offer_benchmarks(c: &mut Criterion, background: usize) {
    let data = generate(background, Mix::Settled);
    let batch = queued_batch(OFFER_BATCH, &data);
    let mode = |offer_timeout| {
        let timers = TimerConfig { offer_timeout, ..TimerConfig::default() };
        let routing = RoutingConfig { method: RoutingMethod::AutoSelection, ..RoutingConfig::default() };
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(LATER), 0));
        let engine =
            Engine::with_config(MemoryStore::new(), EngineConfig { routing, timers, clock, ..EngineConfig::default() });
        load_store(engine.store(), &data, &batch);
        engine
    };
    let direct = mode(None);
    let offers = mode(Some(Duration::from_secs(30)));
    let mut group = c.benchmark_group("dispatch_offers");
    group.throughput(Throughput::Elements(OFFER_BATCH as u64));
    for (label, engine, status) in
        [("direct", &direct, InquiryStatus::Taken), ("offer_mode", &offers, InquiryStatus::Offered)]
    {
        group.bench_function(BenchmarkId::new(label, background), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    // Untimed: the batch back in the queue, the agents back without it.
                    restore(engine.store(), &batch);
                    restore_agents(engine.store(), &data.agents);
                    let start = Instant::now();
                    let report = engine.dispatch(&Actor::System).unwrap();
                    timed += start.elapsed();
                    assert_eq!(report.assigned, batch.len(), "{report:?}");
                }
                let sample = engine.store().inquiry(&batch[0].id).unwrap().unwrap().value;
                assert_eq!(sample.status, status, "{label}");
                timed
            })
        });
    }
    group.finish();
}
