//! The serving path under load: a real `lobby-server` (the library's `RunningServer`, the same
//! router, auth and blocking-pool hand-off as the binary) on loopback, holding the benchmark
//! dataset, driven by keep-alive HTTP/1.1 clients on hyper. For each store and each scenario —
//! a list page at a random offset, a page of one department, `getOne`, `take` of a fresh
//! conversation, `queuedForUser` — it reports throughput and p50/p99/p99.9 latency at 1 and 8
//! connections.
//!
//! ```sh
//! cargo bench --bench http                                   # 100,000 inquiries, 5 s a cell
//! cargo bench --bench http -- --inquiries 20000 --seconds 2 --connections 1,4 --stores memory
//! ```
//!
//! Stores: `memory`, `sled` (periodic flush, what the criterion take figures call periodic) and
//! `sled-flush` (a flush per commit, the server's default). Under `cargo test --benches` (no
//! `--bench` argument) it runs a smoke pass: 2,000 inquiries, 0.2 s a cell, and fails if any
//! request fails. The client runs in the same process on the same cores as the server, as `wrk`
//! would on this machine; the latencies include the client's own work. Never a timed test: the
//! figures go into docs/performance.md.

// `--features mimalloc`: the allocator the `lobby-server` binary ships with.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The dataset generator; its SQLite half and the criterion helpers are not used here.
#[allow(dead_code)]
mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{generate, load_store, Mix};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use lobby_core::{Agent, Commit, InquiryStatus, Record, Role, Store, Timestamp, User, UserId, Write};
use lobby_server::auth::new_login_token;
use lobby_server::stores::StoreHandle;
use lobby_server::{AppState, RunningServer, ServerConfig};
use lobby_sled::{Durability, SledConfig, SledStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Agents that take: takes rotate over them, so no agent's record grows to thousands of chats.
const TAKERS: usize = 100;
/// Items per list page, as the console asks.
const PAGE: usize = 25;

fn main() {
    let options = match Options::from_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("http bench: {message}");
            std::process::exit(2);
        }
    };
    println!(
        "http bench: {} inquiries, {:.1} s a cell, connections {:?}, {} cores, {} allocator",
        options.inquiries,
        options.seconds,
        options.connections,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        if cfg!(feature = "mimalloc") { "mimalloc" } else { "system" }
    );
    let mut failures = 0;
    for &store in &options.stores {
        failures += bench_store(store, &options);
    }
    if failures > 0 {
        eprintln!("http bench: {failures} requests failed");
        std::process::exit(1);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    Memory,
    SledPeriodic,
    SledFlushEveryCommit,
}

impl StoreKind {
    fn parse(name: &str) -> Result<Self, String> {
        match name {
            "memory" => Ok(Self::Memory),
            "sled" => Ok(Self::SledPeriodic),
            "sled-flush" => Ok(Self::SledFlushEveryCommit),
            other => Err(format!("unknown store {other:?} (memory, sled, sled-flush)")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::SledPeriodic => "sled (periodic flush)",
            Self::SledFlushEveryCommit => "sled (flush every commit)",
        }
    }
}

struct Options {
    inquiries: usize,
    seconds: f64,
    connections: Vec<usize>,
    stores: Vec<StoreKind>,
}

impl Options {
    fn from_args(args: impl Iterator<Item = String>) -> Result<Self, String> {
        let args: Vec<String> = args.collect();
        // `cargo bench` passes `--bench`; `cargo test --benches` does not: then a smoke pass.
        let full = args.iter().any(|a| a == "--bench");
        let mut options = if full {
            Options {
                inquiries: 100_000,
                seconds: 5.0,
                connections: vec![1, 8],
                stores: vec![StoreKind::Memory, StoreKind::SledPeriodic, StoreKind::SledFlushEveryCommit],
            }
        } else {
            Options {
                inquiries: 2_000,
                seconds: 0.2,
                connections: vec![1, 2],
                stores: vec![StoreKind::Memory, StoreKind::SledPeriodic],
            }
        };
        let mut rest = args.iter().filter(|a| *a != "--bench");
        while let Some(flag) = rest.next() {
            let mut value = || rest.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--inquiries" => options.inquiries = number(&value()?)?,
                "--seconds" => options.seconds = value()?.parse().map_err(|_| "--seconds: not a number".to_owned())?,
                "--connections" => options.connections = value()?.split(',').map(number).collect::<Result<_, _>>()?,
                "--stores" => options.stores = value()?.split(',').map(StoreKind::parse).collect::<Result<_, _>>()?,
                // Filters and flags cargo or criterion-style runners may pass along.
                other if !other.starts_with("--") => {}
                other => return Err(format!("unknown flag {other}")),
            }
        }
        if options.inquiries < 100 || options.connections.contains(&0) || options.seconds <= 0.0 {
            return Err("--inquiries ≥ 100, --connections ≥ 1 and --seconds > 0".to_owned());
        }
        Ok(options)
    }
}

fn number(text: &str) -> Result<usize, String> {
    text.replace('_', "").parse().map_err(|_| format!("{text:?} is not a number"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    ListRandomOffset,
    ListDepartment,
    GetOne,
    QueuedForUser,
    /// Last: it uses up open conversations.
    Take,
}

impl Scenario {
    const ALL: [Scenario; 5] =
        [Self::ListRandomOffset, Self::ListDepartment, Self::GetOne, Self::QueuedForUser, Self::Take];

    fn name(self) -> &'static str {
        match self {
            Self::ListRandomOffset => "inquiries.list, random offset",
            Self::ListDepartment => "inquiries.list, one department",
            Self::GetOne => "inquiries.getOne",
            Self::QueuedForUser => "inquiries.queuedForUser",
            Self::Take => "inquiries.take (fresh)",
        }
    }
}

/// Someone signed in: the two auth headers.
#[derive(Clone)]
struct Login {
    user_id: String,
    token: String,
}

/// What the clients need to know of the loaded server.
struct Target {
    addr: SocketAddr,
    manager: Login,
    takers: Vec<Login>,
    departments: Vec<String>,
    rooms: Vec<String>,
    /// Open inquiries when the run began (the list scenarios page through them).
    open: usize,
    /// Open inquiries not taken yet, shuffled; takes claim them in order.
    fresh: Vec<String>,
    next_fresh: AtomicUsize,
    next_taker: AtomicUsize,
}

/// Loads the store, starts a server on it, measures every scenario; returns the failed requests.
fn bench_store(kind: StoreKind, options: &Options) -> usize {
    let dir = tempfile::tempdir().expect("temporary directory");
    let handle = match kind {
        StoreKind::Memory => StoreHandle::memory(),
        StoreKind::SledPeriodic | StoreKind::SledFlushEveryCommit => {
            let durability = match kind {
                StoreKind::SledPeriodic => Durability::Periodic,
                _ => Durability::FlushEveryCommit,
            };
            let config = SledConfig { durability, ..SledConfig::default() };
            let store = SledStore::open(dir.path().join("db"), config).expect("sled store");
            StoreHandle::new(Arc::new(store), kind.name())
        }
    };
    let loading = Instant::now();
    let data = generate(options.inquiries, Mix::Queue);
    let store = handle.store();
    load_store(&store, &data, &[]);
    let takers = add_takers(&store, &data);
    let loaded = loading.elapsed();

    let state = AppState::new(handle, ServerConfig::default());
    let sign_in = |id: &UserId| {
        let (token, hash) = new_login_token(state.now());
        state.engine().add_login_token(id, hash).expect("login token");
        Login { user_id: id.to_string(), token }
    };
    let manager = sign_in(&data.manager);
    let takers: Vec<Login> = takers.iter().map(sign_in).collect();
    let mut rng = StdRng::seed_from_u64(7);
    let mut fresh: Vec<String> =
        data.inquiries.iter().filter(|i| i.status == InquiryStatus::Open).map(|i| i.id.to_string()).collect();
    let open = fresh.len();
    for k in (1..fresh.len()).rev() {
        fresh.swap(k, rng.gen_range(0..=k));
    }
    let server = RunningServer::start(state, "127.0.0.1:0".parse().unwrap()).expect("server starts");
    let target = Arc::new(Target {
        addr: server.addr(),
        manager,
        takers,
        departments: data.departments.iter().map(|d| d.id.to_string()).collect(),
        rooms: data.inquiries.iter().map(|i| i.rid.to_string()).collect(),
        open,
        fresh,
        next_fresh: AtomicUsize::new(0),
        next_taker: AtomicUsize::new(0),
    });

    println!(
        "\n{}: {} inquiries ({open} open) loaded in {:.1} s",
        kind.name(),
        data.inquiries.len(),
        loaded.as_secs_f64()
    );
    println!(
        "| {:<32} | {:>5} | {:>8} | {:>9} | {:>8} | {:>8} | {:>8} | {:>6} |",
        "scenario", "conns", "requests", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "failed"
    );
    println!("|{:-<34}|{:->7}|{:->10}|{:->11}|{:->10}|{:->10}|{:->10}|{:->8}|", "", "", "", "", "", "", "", "");
    let client = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut failed = 0;
    for scenario in Scenario::ALL {
        for &connections in &options.connections {
            let cell = client.block_on(measure(&target, scenario, connections, options.seconds));
            failed += cell.failed;
            println!(
                "| {:<32} | {:>5} | {:>8} | {:>9.0} | {:>8.3} | {:>8.3} | {:>8.3} | {:>6} |",
                scenario.name(),
                connections,
                cell.latencies.len(),
                cell.latencies.len() as f64 / cell.elapsed.as_secs_f64(),
                cell.percentile(50.0),
                cell.percentile(99.0),
                cell.percentile(99.9),
                cell.failed
            );
            if let Some(error) = &cell.first_error {
                println!("  first failure: {error}");
            }
        }
    }
    server.stop().expect("server stops");
    failed
}

/// Takers: agents of every department with no limit, so any open inquiry is theirs to take.
fn add_takers(store: &impl Store, data: &common::Dataset) -> Vec<UserId> {
    let before = Timestamp::from_millis(1_700_000_000_000);
    let departments: std::collections::BTreeSet<_> = data.departments.iter().map(|d| d.id.clone()).collect();
    let mut writes = Vec::new();
    let mut ids = Vec::new();
    for k in 0..TAKERS {
        let id = UserId::new(format!("bench-taker-{k}")).unwrap();
        let username = format!("bench.taker.{k}");
        writes.push(Write::create(Record::User(User {
            id: id.clone(),
            username: username.clone(),
            name: username.clone(),
            email: None,
            roles: [Role::livechat_agent()].into(),
            active: true,
            password_hash: None,
            login_token_hashes: vec![],
            created_at: before,
            updated_at: before,
        })));
        writes.push(Write::create(Record::Agent(Agent {
            departments: departments.clone(),
            ..Agent::new(id.clone(), username, before)
        })));
        ids.push(id);
    }
    store.commit(Commit { writes, events: vec![] }).expect("takers");
    ids
}

/// One cell of the table: every latency of every connection, in nanoseconds.
struct Cell {
    latencies: Vec<u64>,
    elapsed: Duration,
    failed: usize,
    first_error: Option<String>,
}

impl Cell {
    /// In milliseconds (nearest rank).
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1] as f64 / 1e6
    }
}

async fn measure(target: &Arc<Target>, scenario: Scenario, connections: usize, seconds: f64) -> Cell {
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> =
        (0..connections).map(|c| tokio::spawn(drive(Arc::clone(target), scenario, until, c as u64))).collect();
    let mut cell = Cell { latencies: Vec::new(), elapsed: Duration::ZERO, failed: 0, first_error: None };
    for task in tasks {
        let run = task.await.expect("client task");
        cell.latencies.extend(run.latencies);
        cell.failed += run.failed;
        cell.first_error = cell.first_error.or(run.first_error);
    }
    cell.elapsed = started.elapsed();
    cell.latencies.sort_unstable();
    cell
}

struct Run {
    latencies: Vec<u64>,
    failed: usize,
    first_error: Option<String>,
}

/// One keep-alive connection sending requests back to back until `until`.
async fn drive(target: Arc<Target>, scenario: Scenario, until: Instant, seed: u64) -> Run {
    let mut run = Run { latencies: Vec::new(), failed: 0, first_error: None };
    let stream = tokio::net::TcpStream::connect(target.addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(connection);
    let mut rng = StdRng::seed_from_u64(seed);
    while Instant::now() < until {
        let Some(request) = request(&target, scenario, &mut rng) else { break };
        let start = Instant::now();
        let outcome = match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                match response.into_body().collect().await {
                    Ok(_) if status.is_success() => Ok(()),
                    Ok(body) => Err(format!("{status}: {}", String::from_utf8_lossy(&body.to_bytes()))),
                    Err(error) => Err(error.to_string()),
                }
            }
            Err(error) => Err(error.to_string()),
        };
        run.latencies.push(start.elapsed().as_nanos() as u64);
        if let Err(error) = outcome {
            run.failed += 1;
            run.first_error.get_or_insert(error);
        }
    }
    run
}

/// The next request of a scenario; `None` when take has run out of fresh conversations.
fn request(target: &Target, scenario: Scenario, rng: &mut StdRng) -> Option<Request<Full<Bytes>>> {
    let (method, uri, login, body) = match scenario {
        Scenario::ListRandomOffset => {
            let offset = rng.gen_range(0..target.open.saturating_sub(PAGE).max(1));
            let uri = format!("/api/v1/livechat/inquiries.list?offset={offset}&count={PAGE}");
            (Method::GET, uri, &target.manager, String::new())
        }
        Scenario::ListDepartment => {
            let department = &target.departments[rng.gen_range(0..target.departments.len())];
            let pages = target.open / target.departments.len() / PAGE;
            let offset = rng.gen_range(0..pages.max(1)) * PAGE;
            let uri = format!("/api/v1/livechat/inquiries.list?department={department}&offset={offset}&count={PAGE}");
            (Method::GET, uri, &target.manager, String::new())
        }
        Scenario::GetOne => {
            let room = &target.rooms[rng.gen_range(0..target.rooms.len())];
            (Method::GET, format!("/api/v1/livechat/inquiries.getOne?roomId={room}"), &target.manager, String::new())
        }
        Scenario::QueuedForUser => {
            let taker = &target.takers[rng.gen_range(0..target.takers.len())];
            let uri = format!("/api/v1/livechat/inquiries.queuedForUser?count={PAGE}");
            (Method::GET, uri, taker, String::new())
        }
        Scenario::Take => {
            let inquiry = target.fresh.get(target.next_fresh.fetch_add(1, Ordering::Relaxed))?;
            let taker = &target.takers[target.next_taker.fetch_add(1, Ordering::Relaxed) % target.takers.len()];
            let uri = "/api/v1/livechat/inquiries.take".to_owned();
            (Method::POST, uri, taker, format!(r#"{{"inquiryId":"{inquiry}"}}"#))
        }
    };
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", target.addr.to_string())
        .header("x-user-id", &login.user_id)
        .header("x-auth-token", &login.token)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request");
    Some(request)
}
