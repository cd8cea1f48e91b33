//! Queue benchmarks: listings, take and dispatch on the memory and sled stores, side by side with
//! a SQLite file and "the floor" (cloning the 50 records of the page from a `Vec`), so ratios
//! come from one run. See `docs/performance.md` for the method and the results.
//!
//! `cargo bench --bench queue` runs N ∈ {10k, 100k, 1M}; `cargo test --benches` (no `--bench`
//! argument) runs every benchmark once with N = 1k. `LOBBY_BENCH_SIZES=10000,1000000` picks
//! other sizes. `--features mimalloc` runs them on the allocator the `lobby-server` binary
//! ships with.

// `--features mimalloc`: the allocator the `lobby-server` binary ships with.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::sqlite::{Sql, SqlOrder};
use common::{generate, load_store, queued_batch, reopen, restore, timed_rounds, Dataset, Mix, AGENTS};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use lobby_core::{
    Actor, DepartmentFilter, Direction, Engine, EngineConfig, Inquiry, InquiryFilter, InquiryQuery, InquirySort,
    InquiryStatus, ListRequest, Paging, ReservationFilter, RoutingConfig, RoutingMethod, SortField, StatusSet, Store,
    Timestamp,
};
use lobby_memory::MemoryStore;
use lobby_sled::{Durability, SledConfig, SledStore};

const PAGE: usize = 50;
/// Open inquiries the take benchmarks cycle through (taken while timed, reopened untimed).
const TAKE_POOL: usize = 20_000;
/// Threads of the concurrent durable take benchmark.
const TAKE_THREADS: [usize; 2] = [1, 8];
/// Queued inquiries one dispatch assigns, to [`AGENTS`] agents.
const DISPATCH_BATCH: usize = 100;

type M = criterion::measurement::WallTime;

#[derive(Debug, Clone, Copy)]
enum Position {
    First,
    Middle,
    Last,
}

impl Position {
    fn name(self) -> &'static str {
        match self {
            Self::First => "first",
            Self::Middle => "middle",
            Self::Last => "last",
        }
    }

    fn offset(self, total: usize) -> usize {
        match self {
            Self::First => 0,
            Self::Middle => total / 2,
            Self::Last => total.saturating_sub(PAGE),
        }
    }
}

/// One listing shape: open inquiries, optionally of one department, in one order.
struct Case {
    name: &'static str,
    sort: InquirySort,
    sql: SqlOrder,
    department: bool,
    positions: &'static [Position],
}

const CASES: &[Case] = &[
    Case {
        name: "ts_desc",
        sort: InquirySort { field: SortField::Ts, direction: Direction::Descending },
        sql: SqlOrder::TsDesc,
        department: false,
        positions: &[Position::First, Position::Middle, Position::Last],
    },
    Case {
        name: "ts_asc",
        sort: InquirySort { field: SortField::Ts, direction: Direction::Ascending },
        sql: SqlOrder::TsAsc,
        department: false,
        positions: &[Position::First, Position::Middle],
    },
    Case {
        name: "name_asc",
        sort: InquirySort { field: SortField::Name, direction: Direction::Ascending },
        sql: SqlOrder::Name,
        department: false,
        positions: &[Position::First, Position::Middle],
    },
    Case {
        name: "dept_ts_desc",
        sort: InquirySort { field: SortField::Ts, direction: Direction::Descending },
        sql: SqlOrder::TsDesc,
        department: true,
        positions: &[Position::First, Position::Middle, Position::Last],
    },
];

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: run everything once, small.
    let test_mode = !std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = match std::env::var("LOBBY_BENCH_SIZES") {
        Ok(list) => list.split(',').map(|s| s.trim().parse().expect("LOBBY_BENCH_SIZES: numbers")).collect(),
        Err(_) if test_mode => vec![1_000],
        Err(_) => vec![10_000, 100_000, 1_000_000],
    };
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1_500))
        .configure_from_args();
    for &n in &sizes {
        queue_benchmarks(&mut criterion, n);
        dispatch_benchmarks(&mut criterion, n);
    }
    criterion.final_summary();
}

fn log(n: usize, what: &str, since: Instant) {
    eprintln!("[N={n}] {what} in {:.1} s", since.elapsed().as_secs_f64());
}

fn sled_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("db")
}

fn open_sled(dir: &tempfile::TempDir, durability: Durability) -> Engine<SledStore> {
    Engine::new(SledStore::open(sled_path(dir), SledConfig { durability, ..SledConfig::default() }).unwrap())
}

/// Settings for the slow cases (SQLite at large N, fsync-bound takes): fewer, flat samples.
fn slow(group: &mut BenchmarkGroup<'_, M>) {
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
}

fn queue_benchmarks(c: &mut Criterion, n: usize) {
    let started = Instant::now();
    let data = generate(n, Mix::Queue);
    log(n, "generated", started);

    let t = Instant::now();
    let memory = Engine::new(MemoryStore::new());
    load_store(memory.store(), &data, &[]);
    log(n, "memory store loaded", t);

    let t = Instant::now();
    let sled_dir = tempfile::Builder::new().prefix("lobby-bench-sled-").tempdir().unwrap();
    let mut sled = open_sled(&sled_dir, Durability::Periodic);
    load_store(sled.store(), &data, &[]);
    sled.store().flush().unwrap();
    log(n, "sled store loaded (Periodic durability)", t);

    let t = Instant::now();
    let sql = Sql::create(&data);
    log(n, "SQLite file loaded and indexed", t);

    for case in CASES {
        list_benchmarks(c, n, &data, case, &memory, &sled, &sql);
    }

    // take: memory; sled Periodic vs SQLite WAL synchronous=NORMAL.
    let pool: Vec<Inquiry> =
        data.inquiries.iter().filter(|i| i.status == InquiryStatus::Open).take(TAKE_POOL).cloned().collect();
    let agents: Vec<Actor> = data.agents.iter().map(|a| Actor::User(a.id.clone())).collect();
    {
        let mut group = c.benchmark_group("take");
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("memory", n), |b| {
            take_loop(
                b,
                &pool,
                |i, k| engine_take(&memory, &agents[k % AGENTS], i),
                |p| reopen(memory.store(), &data, p),
            )
        });
        slow(&mut group);
        group.bench_function(BenchmarkId::new("sled_periodic", n), |b| {
            take_loop(b, &pool, |i, k| engine_take(&sled, &agents[k % AGENTS], i), |p| reopen(sled.store(), &data, p))
        });
        sql.set_synchronous_full(false);
        group.bench_function(BenchmarkId::new("sqlite_normal", n), |b| {
            take_loop(b, &pool, |i, k| sql_take(&sql, &data, k, i), |p| sql.restore(p))
        });
        group.finish();
    }

    // take at full durability: sled FlushEveryCommit vs SQLite WAL synchronous=FULL.
    sled.store().flush().unwrap();
    drop(sled);
    let t = Instant::now();
    sled = open_sled(&sled_dir, Durability::FlushEveryCommit);
    log(n, "sled store reopened (FlushEveryCommit; index rebuilt from disk)", t);
    {
        let mut group = c.benchmark_group("take");
        group.throughput(Throughput::Elements(1));
        slow(&mut group);
        group.bench_function(BenchmarkId::new("sled_flush", n), |b| {
            take_loop(b, &pool, |i, k| engine_take(&sled, &agents[k % AGENTS], i), |p| reopen(sled.store(), &data, p))
        });
        sql.set_synchronous_full(true);
        group.bench_function(BenchmarkId::new("sqlite_full", n), |b| {
            take_loop(b, &pool, |i, k| sql_take(&sql, &data, k, i), |p| sql.restore(p))
        });
        group.finish();
    }

    // Durable takes from several threads at once. sled's committers share flushes (group
    // commit); SQLite lets one writer in at a time and fsyncs each commit. Each thread takes
    // with agents of its own, so threads race for the store, not for agent records.
    {
        let mut group = c.benchmark_group("take_threads");
        group.throughput(Throughput::Elements(1));
        slow(&mut group);
        for threads in TAKE_THREADS {
            group.bench_function(BenchmarkId::new(format!("sled_flush_{n}"), threads), |b| {
                threaded_take_loop(
                    b,
                    &pool,
                    threads,
                    |inquiry, agent, _| engine_take(&sled, &agents[agent], inquiry),
                    |p| reopen(sled.store(), &data, p),
                )
            });
            let writers: Vec<std::sync::Mutex<rusqlite::Connection>> =
                (0..threads).map(|_| std::sync::Mutex::new(sql.writer())).collect();
            group.bench_function(BenchmarkId::new(format!("sqlite_full_{n}"), threads), |b| {
                threaded_take_loop(
                    b,
                    &pool,
                    threads,
                    |inquiry, agent, thread| {
                        let now = Timestamp::from_millis(chrono_now_millis());
                        let conn = writers[thread].lock().unwrap();
                        black_box(Sql::take_on(&conn, &inquiry.id, &data.agents[agent].id, now));
                    },
                    |p| sql.restore(p),
                )
            });
        }
        group.finish();
    }
    log(n, "listing and take benchmarks done", started);
}

#[allow(clippy::too_many_arguments)]
fn list_benchmarks(
    c: &mut Criterion,
    n: usize,
    data: &Dataset,
    case: &Case,
    memory: &Engine<MemoryStore>,
    sled: &Engine<SledStore>,
    sql: &Sql,
) {
    let department = data.departments[0].id.clone();
    let filter = InquiryFilter {
        statuses: StatusSet::only(InquiryStatus::Open),
        departments: if case.department { DepartmentFilter::only(department.clone()) } else { DepartmentFilter::Any },
        reservation: ReservationFilter::Any,
    };
    let sql_department = case.department.then(|| department.as_str());
    let plans = sql.plans(case.sql, case.department);
    assert!(plans.iter().all(|p| !p.contains("TEMP B-TREE")), "SQLite would sort for {}: {plans:?}", case.name);

    // Warm up: the first listing of a shape builds its view (one O(n log n) pass); measure the
    // steady state, where the view exists and is maintained on every write.
    let warm = InquiryQuery { filter: filter.clone(), sort: case.sort, offset: 0, limit: PAGE };
    let total = memory.store().list_inquiries(&warm).unwrap().total;
    assert_eq!(sled.store().list_inquiries(&warm).unwrap().total, total);

    for &position in case.positions {
        let query = InquiryQuery { offset: position.offset(total), ..warm.clone() };
        let expected = memory.store().list_inquiries(&query).unwrap();
        assert_eq!(expected.items.len(), PAGE.min(total - query.offset));
        assert_eq!(sled.store().list_inquiries(&query).unwrap(), expected, "sled and memory pages differ");
        let from_sql = sql.page(case.sql, sql_department, query.offset, PAGE);
        assert_eq!(from_sql.total, total, "SQLite total differs");
        // Ties may be broken differently (rowid vs queue age and id): compare the sort values.
        let primary = |i: &Inquiry| match case.sort.field {
            SortField::Name => i.name.clone(),
            _ => i.ts.as_millis().to_string(),
        };
        assert_eq!(
            from_sql.items.iter().map(primary).collect::<Vec<_>>(),
            expected.items.iter().map(primary).collect::<Vec<_>>(),
            "SQLite page differs in sort values"
        );
        let request = ListRequest {
            status: InquiryStatus::Open,
            department: case.department.then(|| department.as_str().to_owned()),
            sort: case.sort,
            paging: Paging::new(query.offset, PAGE),
        };
        let manager = Actor::User(data.manager.clone());
        assert_eq!(memory.list(&manager, &request).unwrap(), expected);

        let mut group = c.benchmark_group(format!("list_{}_{}", case.name, position.name()));
        group.throughput(Throughput::Elements(PAGE as u64));
        let floor: Vec<Inquiry> = expected.items.clone();
        group.bench_function(BenchmarkId::new("floor", n), |b| b.iter(|| black_box(&floor).to_vec()));
        group.bench_function(BenchmarkId::new("memory", n), |b| {
            b.iter(|| memory.store().list_inquiries(black_box(&query)).unwrap())
        });
        let engine_case = case.name == "ts_desc" && matches!(position, Position::Middle);
        if engine_case {
            group.bench_function(BenchmarkId::new("memory_engine", n), |b| {
                b.iter(|| memory.list(&manager, black_box(&request)).unwrap())
            });
        }
        group.bench_function(BenchmarkId::new("sled", n), |b| {
            b.iter(|| sled.store().list_inquiries(black_box(&query)).unwrap())
        });
        if engine_case {
            group.bench_function(BenchmarkId::new("sled_engine", n), |b| {
                b.iter(|| sled.list(&manager, black_box(&request)).unwrap())
            });
        }
        if n >= 100_000 {
            slow(&mut group);
        }
        group.bench_function(BenchmarkId::new("sqlite", n), |b| {
            b.iter(|| sql.page(case.sql, sql_department, black_box(query.offset), PAGE))
        });
        group.finish();
    }
}

fn engine_take<S: Store>(engine: &Engine<S>, agent: &Actor, inquiry: &Inquiry) {
    let taken = engine.take(agent, &inquiry.id, None).unwrap();
    debug_assert_eq!(taken.status, InquiryStatus::Taken);
    black_box(taken);
}

fn sql_take(sql: &Sql, data: &Dataset, k: usize, inquiry: &Inquiry) {
    let now = Timestamp::from_millis(chrono_now_millis());
    black_box(sql.take(&inquiry.id, &data.agents[k % AGENTS].id, now));
}

fn chrono_now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Takes distinct open inquiries from `pool` (agent `k % 20` takes the `k`-th, so no single
/// agent record is hot), timing only the takes; after each round of `TAKES_PER_ROUND`, puts
/// them back as they were (untimed), so the dataset keeps its size and its ~80 % open.
fn take_loop(
    b: &mut criterion::Bencher<'_, M>,
    pool: &[Inquiry],
    mut take: impl FnMut(&Inquiry, usize),
    reopen: impl FnMut(&[Inquiry]),
) {
    timed_rounds(b, pool, |round| round.iter().enumerate().for_each(|(k, inquiry)| take(inquiry, k)), reopen);
}

/// [`take_loop`] from `threads` threads: the `k`-th inquiry of a round goes to thread
/// `k % threads`, which takes it with one of its own agents (those `a` with `a % threads ==
/// thread`), so no two threads ever write the same agent record.
fn threaded_take_loop(
    b: &mut criterion::Bencher<'_, M>,
    pool: &[Inquiry],
    threads: usize,
    take: impl Fn(&Inquiry, usize, usize) + Sync,
    reopen: impl FnMut(&[Inquiry]),
) {
    assert!((1..=AGENTS).contains(&threads), "every thread needs an agent");
    let round = |round: &[Inquiry]| {
        std::thread::scope(|scope| {
            for thread in 0..threads {
                let take = &take;
                scope.spawn(move || {
                    let own: Vec<usize> = (thread..AGENTS).step_by(threads).collect();
                    for (j, inquiry) in round.iter().skip(thread).step_by(threads).enumerate() {
                        take(inquiry, own[j % own.len()], thread);
                    }
                });
            }
        })
    };
    timed_rounds(b, pool, round, reopen);
}

/// Auto selection assigning 100 queued inquiries to 20 agents, over N - 100 inquiries that are
/// taken or closed (so dispatch has exactly the batch to route).
fn dispatch_benchmarks(c: &mut Criterion, n: usize) {
    let started = Instant::now();
    let data = generate(n.saturating_sub(DISPATCH_BATCH), Mix::Settled);
    let batch = queued_batch(DISPATCH_BATCH, &data);
    let config = || EngineConfig {
        routing: RoutingConfig { method: RoutingMethod::AutoSelection, ..RoutingConfig::default() },
        ..EngineConfig::default()
    };
    let memory = Engine::with_config(MemoryStore::new(), config());
    load_store(memory.store(), &data, &batch);
    let sled_dir = tempfile::Builder::new().prefix("lobby-bench-sled-").tempdir().unwrap();
    let store =
        SledStore::open(sled_path(&sled_dir), SledConfig { durability: Durability::Periodic, ..SledConfig::default() })
            .unwrap();
    let sled = Engine::with_config(store, config());
    load_store(sled.store(), &data, &batch);
    log(n, "dispatch datasets loaded (memory, sled Periodic)", started);
    // Warm up: the first dispatch builds the view of waiting inquiries in queue order.
    assert_eq!(memory.dispatch(&Actor::System).unwrap().assigned, DISPATCH_BATCH);
    assert_eq!(sled.dispatch(&Actor::System).unwrap().assigned, DISPATCH_BATCH);

    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(DISPATCH_BATCH as u64));
    group.bench_function(BenchmarkId::new("memory", n), |b| dispatch_loop(b, &memory, &batch));
    slow(&mut group);
    group.bench_function(BenchmarkId::new("sled_periodic", n), |b| dispatch_loop(b, &sled, &batch));
    group.finish();
}

fn dispatch_loop<S: Store>(b: &mut criterion::Bencher<'_, M>, engine: &Engine<S>, batch: &[Inquiry]) {
    b.iter_custom(|iters| {
        let mut timed = Duration::ZERO;
        for _ in 0..iters {
            // Untimed: the batch back in the queue (the first round also builds the view).
            restore(engine.store(), batch);
            let start = Instant::now();
            let report = engine.dispatch(&Actor::System).unwrap();
            timed += start.elapsed();
            assert_eq!(report.assigned, batch.len(), "{report:?}");
        }
        timed
    });
}
