//! Ad-hoc throughput numbers for `docs/postgres.md`. Two modes:
//!
//! ```text
//! source .ci/postgres.sh
//! cargo run --release -p lobby-postgres --example take_throughput -- [threads] [inquiries]
//! cargo run --release -p lobby-postgres --example take_throughput -- compare [key=value ...]
//! ```
//!
//! **`[threads] [inquiries]`** (the original mode; defaults 4 and 10,000): seeds open
//! inquiries and agents without limits in a temporary schema, then `threads` threads each take
//! a disjoint share through `Engine::take` (on behalf of their own agent) and reports takes per
//! second; then the same threads race for one shared list (every inquiry contested by all of
//! them); then a listing, count_before and dispatch sample.
//!
//! **`compare`**: Lobby's take against the database's own ceiling, side by side in one run.
//! For each round, for each client count, it runs one timed cell of each variant, in this order:
//!
//! * `lobby`: `Engine::take` on a [`PostgresStore`] (temporary schema), each client thread
//!   taking its own disjoint share of freshly seeded open inquiries on behalf of its own fresh
//!   agents without limits (3 reads, then a commit of BEGIN + 4 statements + COMMIT).
//! * `raw`: the same take as plain SQL on tables of the example's own temporary schema, one
//!   blocking `postgres::Client` per thread with prepared statements, one transaction per take:
//!   BEGIN; `UPDATE baseline_inquiries SET status='taken', served_by=$2, version=version+1 WHERE
//!   id=$1 AND status='open' RETURNING id`; `UPDATE baseline_agents SET
//!   active_chats=active_chats+1 WHERE id=$2`; COMMIT.
//! * `raw+ev`: `raw` plus, before COMMIT, one statement that takes the one global counter row
//!   and appends an event numbered from it (`WITH n AS (UPDATE counter SET last = last + 1 …
//!   RETURNING last) INSERT INTO baseline_events …`), as Lobby's commit tail does.
//! * `raw+ev+notify`: `raw+ev` with a `pg_notify` in that statement, as Lobby's has.
//!
//! The raw tables are seeded per cell with the same number of open inquiries and agents as
//! Lobby's (bodies as long as Lobby's inquiry and event bodies) and truncated after it. Keys:
//!
//! * `seconds=3`: length of each timed cell;
//! * `rounds=2`: the whole grid is run this many times (interleaved, so noise shows);
//! * `clients=1,4,8`: client thread counts;
//! * `agents=1`: agents per client thread (each thread cycles over its own); with 1, an
//!   agent's record (it lists the chats it serves) grows by one id per take;
//! * `variants=lobby,raw,raw+ev,raw+ev+notify`: which variants to run;
//! * `lobby_seed=4000`, `raw_seed=15000`: open inquiries seeded per cell and per second of
//!   `seconds` (a cell that runs out early is marked `*`; its rate is still takes / time);
//! * `analyze=1`: `ANALYZE` Lobby's `inquiries` and `records` after seeding each cell, as the
//!   raw tables are. With `analyze=0` the pooled sessions may keep generic plans of the commit's
//!   statements made while the tables were nearly empty (sequential scans), and takes slow down
//!   with every seeded inquiry until autovacuum analyzes the tables;
//! * `raw_status_index=0`: with 1, the raw inquiries get a `(status, id)` index, so their update
//!   maintains an index as a queue's would (Lobby's inquiries have six led by status).
//!
//! Besides takes/s it reports, per variant and client count, the CPU time per take of this
//! process and of the cell's PostgreSQL backends (from `/proc`, so only when the server runs on
//! this machine), what those backends were doing (`pg_stat_activity` sampled every 20 ms; each
//! variant's connections carry their own `application_name`), and which statements the active
//! samples were running. The URL must not need TLS for the raw clients and the sampler (they
//! connect with `NoTls`).

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use lobby_conformance::fixtures::{add_agents, add_named_agents, visitor};
use lobby_core::{
    Actor, Commit, CoreError, Engine, EngineConfig, Inquiry, InquiryFilter, InquiryId, InquiryQuery, InquiryStatus,
    Record, RoomId, SortField, StatusSet, Store, Timestamp, UserId, Write,
};
use lobby_postgres::PostgresStore;
use postgres::{Client, NoTls};

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = std::env::var("LOBBY_TEST_POSTGRES_URL").expect("set LOBBY_TEST_POSTGRES_URL (source .ci/postgres.sh)");
    if args.first().map(String::as_str) == Some("compare") {
        compare(&Options::parse(&args[1..]), &url);
    } else {
        let threads = args.first().and_then(|a| a.parse().ok()).unwrap_or(4);
        let count = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
        legacy(threads, count, &url);
    }
}

/// What one `compare` cell runs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Variant {
    Lobby,
    Raw,
    RawEvents,
    RawEventsNotify,
}

impl Variant {
    const ALL: [Variant; 4] = [Variant::Lobby, Variant::Raw, Variant::RawEvents, Variant::RawEventsNotify];

    fn name(self) -> &'static str {
        match self {
            Variant::Lobby => "lobby",
            Variant::Raw => "raw",
            Variant::RawEvents => "raw+ev",
            Variant::RawEventsNotify => "raw+ev+notify",
        }
    }
}

/// `compare`'s settings (see the header comment).
struct Options {
    seconds: f64,
    rounds: usize,
    clients: Vec<usize>,
    agents: usize,
    variants: Vec<Variant>,
    lobby_seed: usize,
    raw_seed: usize,
    raw_status_index: bool,
    analyze: bool,
}

impl Options {
    fn parse(args: &[String]) -> Self {
        let mut o = Options {
            seconds: 3.0,
            rounds: 2,
            clients: vec![1, 4, 8],
            agents: 1,
            variants: Variant::ALL.to_vec(),
            lobby_seed: 4_000,
            raw_seed: 15_000,
            raw_status_index: false,
            analyze: true,
        };
        for arg in args {
            let (key, value) = arg.split_once('=').unwrap_or_else(|| panic!("expected key=value, got {arg:?}"));
            let number = |what: &str| -> usize { value.parse().unwrap_or_else(|_| panic!("{what}: not a number")) };
            match key {
                "seconds" => o.seconds = value.parse().expect("seconds: not a number"),
                "rounds" => o.rounds = number(key),
                "agents" => o.agents = number(key).max(1),
                "lobby_seed" => o.lobby_seed = number(key),
                "raw_seed" => o.raw_seed = number(key),
                "raw_status_index" => o.raw_status_index = number(key) != 0,
                "analyze" => o.analyze = number(key) != 0,
                "clients" => {
                    o.clients = value.split(',').map(|v| v.parse().expect("clients: a list of numbers")).collect()
                }
                "variants" => {
                    o.variants = value
                        .split(',')
                        .map(|v| {
                            Variant::ALL
                                .into_iter()
                                .find(|x| x.name() == v)
                                .unwrap_or_else(|| panic!("unknown variant {v:?} (lobby, raw, raw+ev, raw+ev+notify)"))
                        })
                        .collect();
                    o.variants.sort();
                }
                _ => panic!(
                    "unknown key {key:?} (seconds, rounds, clients, agents, variants, lobby_seed, raw_seed, \
                     raw_status_index, analyze)"
                ),
            }
        }
        o
    }

    /// Open inquiries seeded for one cell of `variant` at `clients` (each thread uses one to warm up).
    fn seeded(&self, variant: Variant, clients: usize) -> usize {
        let per_second = if variant == Variant::Lobby { self.lobby_seed } else { self.raw_seed };
        ((per_second as f64 * self.seconds) as usize).max(clients * 2) + clients
    }
}

/// One timed cell's measurements.
#[derive(Default)]
struct Cell {
    takes: u64,
    secs: f64,
    ran_out: bool,
    /// CPU seconds of this process (all its threads) and of the cell's backends; `None`
    /// when `/proc` could not tell.
    client_cpu: Option<f64>,
    server_cpu: Option<f64>,
    /// Backend states seen by the sampler, by label, and how many snapshots it took.
    waits: BTreeMap<String, u64>,
    snapshots: u64,
    /// Active backends seen by the sampler, by the start of their statement.
    statements: BTreeMap<String, u64>,
    load: f64,
}

impl Cell {
    fn rate(&self) -> f64 {
        self.takes as f64 / self.secs
    }
}

/// Lets every worker finish its setup, then starts them together; returns the deadline.
#[derive(Clone)]
struct Gate {
    ready: Arc<Barrier>,
    go: Arc<Barrier>,
    deadline: Arc<OnceLock<Instant>>,
}

impl Gate {
    fn open(&self) -> Instant {
        self.ready.wait();
        self.go.wait();
        *self.deadline.get().expect("set before go")
    }
}

/// What a client thread did.
struct Outcome {
    takes: u64,
    stopped: Instant,
    /// It ran out of inquiries before the deadline.
    ran_out: bool,
    /// Its own connection, kept open until its backend's CPU time is read.
    connection: Option<Client>,
}

/// A client thread's body: setup, `gate.open()`, takes until the deadline.
type Worker = Box<dyn FnOnce(Gate) -> Outcome + Send>;

/// Each backend's state and wait, and for an active one the start of its statement (schema
/// names and runs of white space squeezed out).
const SAMPLE_SQL: &str = r#"SELECT state, coalesce(wait_event_type, ''), coalesce(wait_event, ''),
                                  CASE WHEN state = 'active' THEN left(regexp_replace(regexp_replace(
                                      query, '"[a-z0-9_]+"\.', '', 'g'), '\s+', ' ', 'g'), 48) END
                           FROM pg_stat_activity WHERE application_name = $1"#;

/// User plus system CPU seconds of process `pid` (`self` for this one) so far, from `/proc`.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (name, rest) = stat.rsplit_once(')')?;
    if pid != "self" && !name.ends_with("(postgres") {
        return None;
    }
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0) // USER_HZ
}

/// CPU seconds so far of each backend whose `application_name` is `app`.
fn backend_cpu(monitor: &mut Client, app: &str) -> Option<BTreeMap<i32, f64>> {
    let rows = monitor.query("SELECT pid FROM pg_stat_activity WHERE application_name = $1", &[&app]).ok()?;
    rows.iter().map(|row| row.get::<_, i32>(0)).map(|pid| Some((pid, cpu_seconds(&pid.to_string())?))).collect()
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// A label for one backend's state in one snapshot.
fn wait_label(state: &str, kind: &str, event: &str) -> String {
    match (state, kind) {
        ("idle", _) => "client idle".into(),
        ("idle in transaction", _) | ("active", "Client") => "client in tx".into(),
        ("active", "") => "cpu".into(),
        (_, "") => state.into(),
        _ => format!("{kind}:{event}"),
    }
}

/// Runs `workers` together for `seconds` after their setup, sampling what the backends named
/// `app` do, and measures the cell.
fn run_cell(workers: Vec<Worker>, seconds: f64, monitor: &mut Client, app: &str) -> Cell {
    let n = workers.len();
    let gate = Gate {
        ready: Arc::new(Barrier::new(n + 1)),
        go: Arc::new(Barrier::new(n + 1)),
        deadline: Arc::new(OnceLock::new()),
    };
    let handles: Vec<_> = workers
        .into_iter()
        .map(|work| {
            let gate = gate.clone();
            std::thread::spawn(move || work(gate))
        })
        .collect();
    let sample = monitor.prepare(SAMPLE_SQL).expect("prepare sample");
    gate.ready.wait();
    let mut cell = Cell { load: load_average(), ..Cell::default() };
    let client_before = cpu_seconds("self");
    let server_before = backend_cpu(monitor, app);
    let started = Instant::now();
    gate.deadline.set(started + Duration::from_secs_f64(seconds)).expect("one deadline");
    gate.go.wait();
    while !handles.iter().all(|h| h.is_finished()) {
        for row in monitor.query(&sample, &[&app]).expect("sample pg_stat_activity") {
            let label = wait_label(row.get(0), row.get(1), row.get(2));
            *cell.waits.entry(label).or_default() += 1;
            if let Some(statement) = row.get::<_, Option<String>>(3) {
                *cell.statements.entry(statement).or_default() += 1;
            }
        }
        cell.snapshots += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut last = started;
    let mut connections = Vec::new();
    for handle in handles {
        let outcome = handle.join().expect("client thread");
        cell.takes += outcome.takes;
        cell.ran_out |= outcome.ran_out;
        last = last.max(outcome.stopped);
        connections.extend(outcome.connection);
    }
    cell.secs = (last - started).as_secs_f64();
    cell.client_cpu = client_before.zip(cpu_seconds("self")).map(|(a, b)| b - a);
    cell.server_cpu = server_before
        .zip(backend_cpu(monitor, app))
        .map(|(before, after)| after.iter().map(|(pid, cpu)| cpu - before.get(pid).copied().unwrap_or(0.0)).sum());
    cell
}

/// `url` with `application_name` set, so a cell's connections can be told apart.
fn with_application_name(url: &str, name: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}application_name={name}")
    } else {
        format!("{url} application_name={name}")
    }
}

fn connect(url: &str, app: &str) -> Client {
    let mut config: postgres::Config = url.parse().expect("a PostgreSQL URL");
    config.application_name(app);
    config.connect(NoTls).expect("connect (without TLS)")
}

/// The raw baseline's tables, in a schema of their own, dropped on drop.
struct Baseline {
    url: String,
    schema: String,
}

impl Baseline {
    fn create(url: &str, monitor: &mut Client, status_index: bool) -> Self {
        let suffix: u64 = rand::random();
        let schema = format!("take_baseline_{suffix:016x}");
        let s = format!("\"{schema}\"");
        monitor
            .batch_execute(&format!(
                "CREATE SCHEMA {s};
                 CREATE TABLE {s}.baseline_inquiries (
                     id text COLLATE \"C\" PRIMARY KEY, status text NOT NULL, served_by text,
                     version bigint NOT NULL, body text NOT NULL);
                 CREATE TABLE {s}.baseline_agents (id text COLLATE \"C\" PRIMARY KEY, active_chats int NOT NULL);
                 CREATE TABLE {s}.counter (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), last bigint NOT NULL);
                 INSERT INTO {s}.counter (singleton, last) VALUES (true, 0);
                 CREATE TABLE {s}.baseline_events (seq bigint PRIMARY KEY, inquiry text COLLATE \"C\", body text NOT NULL);
                 CREATE INDEX ON {s}.baseline_events (inquiry, seq) WHERE inquiry IS NOT NULL;"
            ))
            .expect("create the baseline schema");
        if status_index {
            monitor
                .batch_execute(&format!("CREATE INDEX ON {s}.baseline_inquiries (status, id)"))
                .expect("status index");
        }
        Baseline { url: url.to_owned(), schema }
    }

    fn quoted(&self) -> String {
        format!("\"{}\"", self.schema)
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        // Best effort, as the store's own temporary schema.
        if let Ok(mut config) = self.url.parse::<postgres::Config>() {
            if let Ok(mut client) = config.application_name("take_bench_cleanup").connect(NoTls) {
                let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.quoted()));
            }
        }
    }
}

/// Body lengths of a taken inquiry and of its take event in Lobby's tables, to seed the raw
/// tables alike.
struct Sizes {
    inquiry_body: i32,
    event_body: i32,
}

/// Takes one probe inquiry through Lobby and reads how long its stored bodies are.
fn probe_sizes(engine: &Engine<PostgresStore>, monitor: &mut Client) -> Sizes {
    let agent = add_named_agents(engine, "probeagent", 1, 0).remove(0);
    let ids = seed(engine, "probe", 1);
    engine.take(&Actor::System, &ids[0], Some(&agent)).expect("probe take");
    let s = format!("\"{}\"", engine.store().schema());
    let row = monitor
        .query_one(
            &format!(
                "SELECT (SELECT length(body) FROM {s}.inquiries WHERE id = $1),
                        (SELECT max(length(body)) FROM {s}.events WHERE inquiry = $1)"
            ),
            &[&ids[0].as_str()],
        )
        .expect("probe sizes");
    Sizes { inquiry_body: row.get(0), event_body: row.get(1) }
}

/// A `lobby` cell: fresh agents and fresh open inquiries, taken through `Engine::take`.
fn lobby_cell(
    engine: &Arc<Engine<PostgresStore>>,
    tag: &str,
    clients: usize,
    o: &Options,
    monitor: &mut Client,
    app: &str,
) -> Cell {
    let per = o.agents;
    let agents = add_named_agents(engine, &format!("{tag}agent"), clients * per, 0);
    let ids = seed(engine, tag, o.seeded(Variant::Lobby, clients));
    if o.analyze {
        // As the raw tables get after seeding (and autovacuum would do in time): fresh statistics,
        // which also makes every session re-plan its prepared statements.
        let s = format!("\"{}\"", engine.store().schema());
        monitor.batch_execute(&format!("ANALYZE {s}.inquiries; ANALYZE {s}.records")).expect("analyze");
    }
    let workers: Vec<Worker> = (0..clients)
        .map(|t| {
            let engine = Arc::clone(engine);
            let mine: Vec<InquiryId> = ids.iter().skip(t).step_by(clients).cloned().collect();
            let own: Vec<UserId> = agents[t * per..(t + 1) * per].to_vec();
            Box::new(move |gate: Gate| {
                let mut queue = mine.into_iter().enumerate();
                // Warm up: a pooled connection with its statements prepared.
                let (_, first) = queue.next().expect("seeded");
                engine.take(&Actor::System, &first, Some(&own[0])).expect("warm-up take");
                let deadline = gate.open();
                let mut takes = 0u64;
                for (n, id) in queue {
                    if Instant::now() >= deadline {
                        return Outcome { takes, stopped: Instant::now(), ran_out: false, connection: None };
                    }
                    engine.take(&Actor::System, &id, Some(&own[n % per])).expect("take");
                    takes += 1;
                }
                Outcome { takes, stopped: Instant::now(), ran_out: true, connection: None }
            }) as Worker
        })
        .collect();
    run_cell(workers, o.seconds, monitor, app)
}

/// A raw cell: the same take as plain SQL on the baseline tables, seeded for the cell and
/// emptied after it.
#[allow(clippy::too_many_arguments)]
fn raw_cell(
    variant: Variant,
    base: &Baseline,
    sizes: &Sizes,
    url: &str,
    tag: &str,
    clients: usize,
    o: &Options,
    monitor: &mut Client,
) -> Cell {
    let s = base.quoted();
    let seeded = o.seeded(variant, clients);
    monitor
        .execute(
            &format!(
                "INSERT INTO {s}.baseline_inquiries (id, status, served_by, version, body)
                 SELECT $1::text || lpad(g::text, 7, '0'), 'open', NULL, 1, repeat('x', $2::int)
                 FROM generate_series(0, $3::bigint - 1) g"
            ),
            &[&tag, &sizes.inquiry_body, &(seeded as i64)],
        )
        .expect("seed baseline inquiries");
    let per = o.agents;
    monitor
        .execute(
            &format!(
                "INSERT INTO {s}.baseline_agents (id, active_chats)
                 SELECT $1::text || 'agent' || g, 0 FROM generate_series(0, $2::bigint - 1) g"
            ),
            &[&tag, &((clients * per) as i64)],
        )
        .expect("seed baseline agents");
    monitor.batch_execute(&format!("ANALYZE {s}.baseline_inquiries; ANALYZE {s}.baseline_agents")).expect("analyze");
    let app = format!("take_bench_raw_{}", base.schema);
    let event_body = "x".repeat(usize::try_from(sizes.event_body).unwrap_or(0));
    let workers: Vec<Worker> = (0..clients)
        .map(|t| {
            let mine: Vec<String> = (t..seeded).step_by(clients).map(|n| format!("{tag}{n:07}")).collect();
            let own: Vec<String> = (t * per..(t + 1) * per).map(|k| format!("{tag}agent{k}")).collect();
            let (url, app, s, event_body, channel) =
                (url.to_owned(), app.clone(), s.clone(), event_body.clone(), format!("{}_events", base.schema));
            Box::new(move |gate: Gate| {
                let mut client = connect(&url, &app);
                let take = client
                    .prepare(&format!(
                        "UPDATE {s}.baseline_inquiries SET status = 'taken', served_by = $2, version = version + 1
                         WHERE id = $1 AND status = 'open' RETURNING id"
                    ))
                    .expect("prepare take");
                let load = client
                    .prepare(&format!("UPDATE {s}.baseline_agents SET active_chats = active_chats + 1 WHERE id = $1"))
                    .expect("prepare load");
                let event = client
                    .prepare(&format!(
                        "WITH n AS (UPDATE {s}.counter SET last = last + 1 WHERE singleton RETURNING last)
                         INSERT INTO {s}.baseline_events (seq, inquiry, body) SELECT n.last, $1, $2 FROM n
                         RETURNING seq"
                    ))
                    .expect("prepare event");
                // As Lobby's commit tail: counter, event and notification in one statement.
                let event_notify = client
                    .prepare(&format!(
                        "WITH n AS (UPDATE {s}.counter SET last = last + 1 WHERE singleton RETURNING last),
                         appended AS (INSERT INTO {s}.baseline_events (seq, inquiry, body)
                                      SELECT n.last, $1, $2 FROM n)
                         SELECT n.last, pg_notify($3, n.last::text)::text FROM n"
                    ))
                    .expect("prepare event_notify");
                let mut take_one = |id: &str, agent: &str| {
                    let mut tx = client.transaction().expect("BEGIN");
                    let row = tx.query_opt(&take, &[&id, &agent]).expect("take");
                    assert!(row.is_some(), "{id} was not open");
                    tx.execute(&load, &[&agent]).expect("agent load");
                    match variant {
                        Variant::RawEvents => {
                            tx.query_one(&event, &[&id, &event_body]).expect("event");
                        }
                        Variant::RawEventsNotify => {
                            tx.query_one(&event_notify, &[&id, &event_body, &channel]).expect("event");
                        }
                        _ => {}
                    }
                    tx.commit().expect("COMMIT");
                };
                let mut queue = mine.iter().enumerate();
                let (_, first) = queue.next().expect("seeded");
                take_one(first, &own[0]);
                let deadline = gate.open();
                let mut takes = 0u64;
                let mut ran_out = true;
                for (n, id) in queue {
                    if Instant::now() >= deadline {
                        ran_out = false;
                        break;
                    }
                    take_one(id, &own[n % per]);
                    takes += 1;
                }
                Outcome { takes, stopped: Instant::now(), ran_out, connection: Some(client) }
            }) as Worker
        })
        .collect();
    let cell = run_cell(workers, o.seconds, monitor, &app);
    monitor
        .batch_execute(&format!("TRUNCATE {s}.baseline_inquiries, {s}.baseline_agents, {s}.baseline_events"))
        .expect("empty the baseline tables");
    cell
}

/// `1234567.8` as `1,234,568`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Side by side: Lobby's take and the raw baseline (see the header comment).
fn compare(o: &Options, url: &str) {
    let mut monitor = connect(url, "take_bench_monitor");
    let setting = |monitor: &mut Client, name: &str| -> String {
        monitor.query_one(&format!("SHOW {name}"), &[]).map(|r| r.get(0)).unwrap_or_else(|e| e.to_string())
    };
    let version = setting(&mut monitor, "server_version");
    let settings: Vec<String> = ["fsync", "synchronous_commit", "shared_buffers", "max_connections"]
        .iter()
        .map(|name| format!("{name}={}", setting(&mut monitor, name)))
        .collect();
    println!(
        "PostgreSQL {version}, {}; client cores: {}; load average at start: {:.2}",
        settings.join(", "),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        load_average()
    );
    println!(
        "cells of {} s, {} round(s), clients {:?}, {} agent(s) per client thread, analyze: {}, raw status index: {}",
        o.seconds, o.rounds, o.clients, o.agents, o.analyze, o.raw_status_index
    );

    let run: u64 = rand::random();
    let lobby_app = format!("take_bench_lobby_{run:016x}");
    let store = PostgresStore::temporary(&with_application_name(url, &lobby_app)).expect("store");
    let engine = Arc::new(Engine::with_config(store, EngineConfig::default()));
    let sizes = probe_sizes(&engine, &mut monitor);
    println!("Lobby bodies: taken inquiry {} bytes, take event {} bytes", sizes.inquiry_body, sizes.event_body);
    let base = Baseline::create(url, &mut monitor, o.raw_status_index);

    let mut results: BTreeMap<(usize, Variant), Vec<Cell>> = BTreeMap::new();
    for round in 1..=o.rounds {
        for &clients in &o.clients {
            for &variant in &o.variants {
                let tag = format!("r{round}c{clients}");
                let cell = match variant {
                    Variant::Lobby => lobby_cell(&engine, &tag, clients, o, &mut monitor, &lobby_app),
                    _ => raw_cell(
                        variant,
                        &base,
                        &sizes,
                        url,
                        &format!("{tag}v{}", variant as u8),
                        clients,
                        o,
                        &mut monitor,
                    ),
                };
                println!(
                    "round {round}, {clients} client(s), {:<13} {:>7} takes in {:.2} s: {:>6} takes/s{} (load {:.2})",
                    variant.name(),
                    cell.takes,
                    cell.secs,
                    thousands(cell.rate()),
                    if cell.ran_out { " (ran out of inquiries)" } else { "" },
                    cell.load
                );
                results.entry((clients, variant)).or_default().push(cell);
            }
        }
    }
    // The store drops its schema with it; the baseline drops its own.
    drop(base);
    report(o, &results);
    // Dropping the engine drops the store and its temporary schema.
}

fn report(o: &Options, results: &BTreeMap<(usize, Variant), Vec<Cell>>) {
    let rates = |clients: usize, variant: Variant| -> Option<String> {
        let cells = results.get(&(clients, variant))?;
        Some(
            cells
                .iter()
                .map(|c| format!("{}{}", thousands(c.rate()), if c.ran_out { "*" } else { "" }))
                .collect::<Vec<_>>()
                .join(" / "),
        )
    };
    println!();
    println!("takes/s, one value per round (* = ran out of seeded inquiries before the deadline):");
    println!();
    let mut header = vec!["clients".to_owned()];
    let others: Vec<Variant> =
        o.variants.iter().copied().filter(|v| *v != Variant::Raw && *v != Variant::Lobby).collect();
    let with_ratio = o.variants.contains(&Variant::Lobby) && o.variants.contains(&Variant::Raw);
    if o.variants.contains(&Variant::Lobby) {
        header.push("Lobby takes/s".into());
    }
    if o.variants.contains(&Variant::Raw) {
        header.push("raw takes/s".into());
    }
    if with_ratio {
        header.push("Lobby / raw".into());
    }
    header.extend(others.iter().map(|v| format!("{} takes/s", v.name())));
    println!("| {} |", header.join(" | "));
    println!("|{}", header.iter().map(|_| "---|").collect::<String>());
    for &clients in &o.clients {
        let mut row = vec![clients.to_string()];
        row.extend(rates(clients, Variant::Lobby));
        row.extend(rates(clients, Variant::Raw));
        if with_ratio {
            let (lobby, raw) = (&results[&(clients, Variant::Lobby)], &results[&(clients, Variant::Raw)]);
            let ratios: Vec<String> =
                lobby.iter().zip(raw).map(|(l, r)| format!("{:.2}", l.rate() / r.rate())).collect();
            row.push(ratios.join(" / "));
        }
        row.extend(others.iter().filter_map(|&v| rates(clients, v)));
        println!("| {} |", row.join(" | "));
    }

    println!();
    println!(
        "CPU per take (all rounds; client = this process, server = the cell's backends) and what those backends \
         were doing: pg_stat_activity sampled every 20 ms, as the average number of the cell's backends in each \
         state (cpu = active, no wait event; client in tx = waiting for the client inside a transaction or \
         statement; client idle = between transactions, spare pooled connections included; lock = heavyweight \
         lock waits such as a row lock; lwlock = lightweight lock waits):"
    );
    println!();
    println!(
        "| clients | variant | takes/s | client µs/take | server µs/take | cpu | client in tx | client idle | \
         lock | lwlock | other | top waits |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &clients in &o.clients {
        for &variant in &o.variants {
            let Some(cells) = results.get(&(clients, variant)) else { continue };
            let takes: u64 = cells.iter().map(|c| c.takes).sum();
            let secs: f64 = cells.iter().map(|c| c.secs).sum();
            let per_take = |cpu: Option<f64>| cpu.map_or("?".to_owned(), |s| format!("{:.0}", s * 1e6 / takes as f64));
            let client: Option<f64> = cells.iter().map(|c| c.client_cpu).sum();
            let server: Option<f64> = cells.iter().map(|c| c.server_cpu).sum();
            let mut waits: BTreeMap<&str, u64> = BTreeMap::new();
            for cell in cells {
                for (label, n) in &cell.waits {
                    *waits.entry(label).or_default() += n;
                }
            }
            let snapshots = cells.iter().map(|c| c.snapshots).sum::<u64>().max(1) as f64;
            let average = |pick: &dyn Fn(&str) -> bool| -> String {
                let n: u64 = waits.iter().filter(|(l, _)| pick(l)).map(|(_, n)| n).sum();
                format!("{:.2}", n as f64 / snapshots)
            };
            let plain = |l: &str| matches!(l, "cpu" | "client in tx" | "client idle");
            let mut top: Vec<(&str, u64)> = waits.iter().filter(|(l, _)| !plain(l)).map(|(l, n)| (*l, *n)).collect();
            top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
            let top: Vec<String> =
                top.iter().take(3).map(|(l, n)| format!("{l} {:.2}", *n as f64 / snapshots)).collect();
            println!(
                "| {clients} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                variant.name(),
                thousands(takes as f64 / secs),
                per_take(client),
                per_take(server),
                average(&|l| l == "cpu"),
                average(&|l| l == "client in tx"),
                average(&|l| l == "client idle"),
                average(&|l| l.starts_with("Lock:")),
                average(&|l| l.starts_with("LWLock:")),
                average(&|l| !plain(l) && !l.starts_with("Lock:") && !l.starts_with("LWLock:")),
                top.join(", ")
            );
        }
    }
    println!();
    println!(
        "Where the active backend time went, by statement (all clients and rounds; share of the variant's active \
         samples, waiting or not):"
    );
    println!();
    for &variant in &o.variants {
        let mut statements: BTreeMap<&str, u64> = BTreeMap::new();
        for ((_, v), cells) in results {
            if *v == variant {
                for (statement, n) in cells.iter().flat_map(|c| &c.statements) {
                    *statements.entry(statement).or_default() += n;
                }
            }
        }
        let total = statements.values().sum::<u64>().max(1) as f64;
        let mut top: Vec<(&str, u64)> = statements.into_iter().collect();
        top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
        let top: Vec<String> =
            top.iter().take(8).map(|(s, n)| format!("`{s}` {:.0}%", *n as f64 * 100.0 / total)).collect();
        println!("* {}: {}", variant.name(), top.join("; "));
    }
    let loads: Vec<f64> = results.values().flatten().map(|c| c.load).collect();
    println!();
    println!(
        "load average (1 min) at the cells' starts: {:.2} – {:.2}; at the end: {:.2}",
        loads.iter().copied().fold(f64::INFINITY, f64::min),
        loads.iter().copied().fold(0.0, f64::max),
        load_average()
    );
}

/// The original mode: `[threads] [inquiries]`.
fn legacy(threads: usize, count: usize, url: &str) {
    let store = PostgresStore::temporary(url).expect("store");
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
            url,
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
