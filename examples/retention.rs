//! What retention buys on sled, and what it costs while it runs, in one run:
//!
//! 1. **Open time and memory depend on the active set.** Two databases: one with `active`
//!    conversations (the benchmark dataset, `benches/common`), one with the same plus
//!    `archived` closed conversations (two events each) that retention archived. Each is opened
//!    in a fresh process, which times [`SledStore::open`], serves one listing page and reports
//!    its resident memory (`VmRSS`).
//! 2. **Takes during a retention pass.** A store with `active` open conversations and as many
//!    closed ones past the retention age: single-threaded `Engine::take` latency alone, then
//!    while a second thread runs a retention pass as the server does (batches of
//!    [`RetentionPolicy::DEFAULT_BATCH_SIZE`], `lobby_server::retention::BATCH_PAUSE` between
//!    them) archiving the closed ones.
//!
//! ```text
//! cargo run --release --example retention -- [archived, default 1000000] [active, default 50000] [batch size]
//! ```
//!
//! With `archived` 0 it only measures takes during a retention pass.

#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::footprint::{dir_size, mib, rss_bytes};
use common::{generate, load_store, Mix};
use lobby_core::{
    Actor, Commit, Engine, EngineConfig, EventKind, Inquiry, InquiryFilter, InquiryId, InquiryQuery, InquirySort,
    InquiryStatus, ManualClock, NewEvent, Record, RetentionAction, RetentionAge, RetentionPolicy, Retirement, RoomId,
    Store, Timestamp, VisitorId, VisitorSummary, Write,
};
use lobby_sled::{Durability, SledConfig, SledStore};

/// Closed conversations are this old when the measurements start.
const CLOSED_AT_MS: i64 = 1_600_000_000_000;
const DAY_MS: i64 = 86_400_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, path] = args.as_slice() {
        if flag == "--open" {
            return open_child(Path::new(path));
        }
    }
    // For looking into one database: `--build DIR ARCHIVED ACTIVE`, then `--open DIR`.
    if let [flag, path, archived, active] = args.as_slice() {
        if flag == "--build" {
            return build(Path::new(path), active.parse()?, archived.parse()?);
        }
    }
    let number = |n: usize, default: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(match args.get(n) {
            Some(text) => text.replace('_', "").parse()?,
            None => default,
        })
    };
    let (archived, active) = (number(0, 1_000_000)?, number(1, 50_000)?);
    let batch_size = number(2, RetentionPolicy::DEFAULT_BATCH_SIZE)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{archived} archived, {active} active conversations, {cores} cores");

    if archived == 0 {
        return takes_during_retention(active, batch_size);
    }
    let dir = tempfile::tempdir()?;
    let (hot_only, with_archive) = (dir.path().join("active-only"), dir.path().join("with-archive"));
    let started = Instant::now();
    build(&hot_only, active, 0)?;
    build(&with_archive, active, archived)?;
    println!("built both databases in {:.0} s", started.elapsed().as_secs_f64());

    let me = std::env::current_exe()?;
    println!();
    println!("| database | disk (MiB) | open (ms) | RSS after open and one page (MiB) |");
    println!("| --- | ---: | ---: | ---: |");
    let mut rows = Vec::new();
    for (name, path) in [("active only", &hot_only), ("active + archive", &with_archive)] {
        let output = Command::new(&me).arg("--open").arg(path).output()?;
        if !output.status.success() {
            return Err(format!("{name}: {}", String::from_utf8_lossy(&output.stderr)).into());
        }
        let text = String::from_utf8(output.stdout)?;
        let numbers: Vec<f64> = text.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
        let [open_ms, rss] = numbers[..] else { return Err(format!("{name}: unexpected output {text:?}").into()) };
        println!("| {name} | {:.1} | {open_ms:.0} | {:.1} |", mib(dir_size(path)?), mib(rss as u64));
        rows.push((open_ms, rss));
    }
    println!();
    println!("RSS with the archive / active only: {:.2}x", rows[1].1 / rows[0].1);
    drop(dir);

    takes_during_retention(active, batch_size)
}

/// A sled database at `path` with the benchmark dataset of `active` conversations and
/// `archived` closed ones, two events each, moved to the archive.
fn build(path: &Path, active: usize, archived: usize) -> Result<(), Box<dyn std::error::Error>> {
    let config = SledConfig { durability: Durability::Periodic, ..SledConfig::default() };
    let store = SledStore::open(path, config)?;
    load_store(&store, &generate(active, Mix::Queue), &[]);
    for start in (0..archived).step_by(1_000) {
        let chunk: Vec<Inquiry> = (start..(start + 1_000).min(archived)).map(closed_inquiry).collect();
        let events = chunk.iter().flat_map(|i| [event(i, "enqueued"), event(i, "closed")]).collect();
        let writes = chunk.iter().map(|i| Write::create(Record::Inquiry(i.clone()))).collect();
        let receipt = store.commit(Commit { writes, events })?;
        let inquiries = chunk.iter().map(|i| i.id.clone()).zip(receipt.versions).collect();
        store.retire(&Retirement { action: RetentionAction::Archive, inquiries, events: vec![] })?;
    }
    store.flush()?;
    Ok(())
}

fn closed_inquiry(n: usize) -> Inquiry {
    let visitor = VisitorSummary::new(
        VisitorId::new(format!("old-visitor-{n}")).expect("a valid id"),
        format!("guest-{n}"),
        format!("old-token-{n}"),
    );
    let at = Timestamp::from_millis(CLOSED_AT_MS + n as i64);
    let id = InquiryId::new(format!("old-{n:08}")).expect("a valid id");
    let rid = RoomId::new(format!("old-room-{n:08}")).expect("a valid id");
    let mut inquiry = Inquiry::new(id, rid, visitor, format!("Guest {n}"), at);
    inquiry.status = InquiryStatus::Closed;
    inquiry.message = "Hello, I need help with my order".to_owned();
    inquiry.updated_at = at;
    inquiry
}

fn event(inquiry: &Inquiry, label: &str) -> NewEvent {
    NewEvent {
        at: inquiry.updated_at,
        actor: Actor::System,
        inquiry: Some(inquiry.id.clone()),
        kind: EventKind::NoAgentFound { strategy: label.to_owned(), department: None, reason: String::new() },
    }
}

/// In a fresh process: how long opening takes, and the memory after one listing page.
fn open_child(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let store = SledStore::open(path, SledConfig::default())?;
    let open_ms = started.elapsed().as_secs_f64() * 1000.0;
    let query = InquiryQuery {
        filter: InquiryFilter::status(InquiryStatus::Open),
        sort: InquirySort::default(),
        offset: 1_000,
        limit: 50,
    };
    store.list_inquiries(&query)?;
    println!("{open_ms} {}", rss_bytes()?);
    Ok(())
}

/// Take latency on one thread, alone and then while another thread runs a retention pass.
fn takes_during_retention(active: usize, batch_size: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let config = SledConfig { durability: Durability::Periodic, ..SledConfig::default() };
    let store = SledStore::open(dir.path().join("db"), config)?;
    let data = generate(active, Mix::Queue);
    load_store(&store, &data, &[]);
    for start in (0..active).step_by(1_000) {
        let chunk: Vec<Inquiry> = (start..(start + 1_000).min(active)).map(closed_inquiry).collect();
        let events = chunk.iter().flat_map(|i| [event(i, "enqueued"), event(i, "closed")]).collect();
        store.commit(Commit {
            writes: chunk.into_iter().map(|i| Write::create(Record::Inquiry(i))).collect(),
            events,
        })?;
    }
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(CLOSED_AT_MS + 400 * DAY_MS), 1));
    let engine = Engine::with_config(store, EngineConfig { clock, ..EngineConfig::default() });
    let open: Vec<InquiryId> =
        data.inquiries.iter().filter(|i| i.status == InquiryStatus::Open).map(|i| i.id.clone()).collect();
    let agents: Vec<Actor> = data.agents.iter().map(|a| Actor::User(a.id.clone())).collect();
    let takes = (open.len() / 2).min(5_000);
    let (alone, during) = open.split_at(takes);

    // The dataset's agents have no chat limit, so every take succeeds; one that does not is
    // reported rather than timed.
    let take_all = |ids: &[InquiryId], stop: Option<&AtomicBool>| -> Vec<Duration> {
        let mut latencies = Vec::with_capacity(ids.len());
        for (k, id) in ids.iter().enumerate() {
            if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                break;
            }
            let started = Instant::now();
            match engine.take(&agents[k % agents.len()], id, None) {
                Ok(_) => latencies.push(started.elapsed()),
                Err(error) => eprintln!("take of {id} failed: {error}"),
            }
        }
        latencies
    };
    let baseline = take_all(alone, None);
    let policy = RetentionPolicy { age: "30d".parse::<RetentionAge>()?, batch_size, ..RetentionPolicy::default() };
    let done = AtomicBool::new(false);
    let (retired, elapsed, with_retention) = std::thread::scope(|scope| {
        let retention = scope.spawn(|| {
            let started = Instant::now();
            let mut pass = engine.retention_pass(policy);
            let mut retired = 0;
            loop {
                match engine.retire_batch(&mut pass) {
                    Ok(report) => {
                        retired += report.inquiries;
                        if report.finished {
                            break;
                        }
                        // As the server's retention loop does.
                        std::thread::sleep(lobby_server::retention::BATCH_PAUSE);
                    }
                    Err(error) => {
                        eprintln!("retention failed: {error}");
                        break;
                    }
                }
            }
            done.store(true, Ordering::Relaxed);
            (retired, started.elapsed())
        });
        let latencies = take_all(&during[..takes.min(during.len())], Some(&done));
        let (retired, elapsed) = retention.join().unwrap_or((0, Duration::ZERO));
        (retired, elapsed, latencies)
    });
    println!();
    println!(
        "retention pass: {retired} closed conversations archived in {:.1} s ({:.0}/s), batches of {}, {} ms apart",
        elapsed.as_secs_f64(),
        retired as f64 / elapsed.as_secs_f64().max(1e-9),
        policy.batch_size,
        lobby_server::retention::BATCH_PAUSE.as_millis()
    );
    println!("| takes (sled, periodic flush) | count | p50 (µs) | p99 (µs) | max (µs) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, mut latencies) in [("alone", baseline), ("during the retention pass", with_retention)] {
        latencies.sort_unstable();
        let at = |q: f64| latencies.get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)));
        let micros = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e6);
        println!(
            "| {name} | {} | {:.0} | {:.0} | {:.0} |",
            latencies.len(),
            micros(at(0.5)),
            micros(at(0.99)),
            micros(latencies.last())
        );
    }
    Ok(())
}
