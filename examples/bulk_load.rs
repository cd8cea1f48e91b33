//! Bulk loading the benchmark dataset (`benches/common`) into each store, side by side in one
//! run: SQLite's bulk insert (100,000-row transactions, then its three listing indexes and a
//! checkpoint), and the memory and sled stores through `Store::commit`, both in commits of
//! 1,000 (how the benchmarks load) and in one commit of everything (how `lobby-server import`
//! restores a dump). sled runs with `Periodic` durability and is flushed at the end; SQLite
//! with `synchronous=NORMAL` in WAL mode and is checkpointed at the end: both durable once done.
//!
//! ```text
//! cargo run --release --example bulk_load -- [inquiries, default 100000] [rounds, default 2] [only]
//! ```
//!
//! `only` keeps the loads whose name contains it (`sled`, `one commit`), e.g. for a profiler.

#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::sqlite::Sql;
use common::{generate, load_store, Dataset, Mix};
use lobby_core::{Commit, Record, Store, Write};
use lobby_memory::MemoryStore;
use lobby_sled::{Durability, SledConfig, SledStore};

/// One way of loading the dataset.
type Load = fn(&Dataset) -> Result<(), Box<dyn std::error::Error>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |n: usize, default: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(match args.get(n) {
            Some(text) => text.replace('_', "").parse()?,
            None => default,
        })
    };
    let (count, rounds) = (number(0, 100_000)?, number(1, 2)?);
    let data = generate(count, Mix::Queue);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{count} inquiries, {rounds} rounds, {cores} cores");
    let ways: [(&str, Load); 5] = [
        ("SQLite, bulk insert", |data| {
            drop(Sql::create(data));
            Ok(())
        }),
        ("memory, commits of 1,000", |data| {
            load_store(&MemoryStore::new(), data, &[]);
            Ok(())
        }),
        ("memory, one commit", |data| one_commit(&MemoryStore::new(), data)),
        ("sled, commits of 1,000", |data| {
            let sled = temporary_sled()?;
            load_store(&sled, data, &[]);
            sled.flush()?;
            Ok(())
        }),
        ("sled, one commit", |data| {
            let sled = temporary_sled()?;
            one_commit(&sled, data)?;
            sled.flush()?;
            Ok(())
        }),
    ];
    // Rounds interleave the stores, so a slow spell of the machine hits them all.
    let only = args.get(2).cloned().unwrap_or_default();
    let chosen: Vec<_> = ways.iter().filter(|(name, _)| name.contains(only.as_str())).collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); chosen.len()];
    for _ in 0..rounds {
        for ((_, load), times) in chosen.iter().zip(&mut times) {
            let started = Instant::now();
            load(&data)?;
            times.push(started.elapsed());
        }
    }
    let best = |times: &[Duration]| times.iter().min().copied().unwrap_or_default().as_secs_f64();
    let sqlite = chosen.iter().zip(&times).find(|((name, _), _)| name.starts_with("SQLite")).map(|(_, t)| best(t));
    println!();
    println!("| load | each round (s) | best: inquiries/s | SQLite's time / this |");
    println!("| --- | --- | ---: | ---: |");
    for ((name, _), times) in chosen.iter().zip(&times) {
        let rounds: Vec<String> = times.iter().map(|t| format!("{:.2}", t.as_secs_f64())).collect();
        let ratio = sqlite.map_or("—".to_owned(), |sqlite| format!("{:.2}×", sqlite / best(times)));
        println!("| {name} | {} | {:.0} | {ratio} |", rounds.join(", "), count as f64 / best(times));
    }
    Ok(())
}

/// Every record in a single commit, as an import writes a dump.
fn one_commit(store: &impl Store, data: &Dataset) -> Result<(), Box<dyn std::error::Error>> {
    let mut writes: Vec<Write> = Vec::with_capacity(data.inquiries.len() + data.users.len() * 2 + 10);
    writes.extend(data.departments.iter().cloned().map(|d| Write::create(Record::Department(d))));
    writes.extend(data.users.iter().cloned().map(|u| Write::create(Record::User(u))));
    writes.extend(data.agents.iter().cloned().map(|a| Write::create(Record::Agent(a))));
    writes.extend(data.inquiries.iter().cloned().map(|i| Write::create(Record::Inquiry(i))));
    store.commit(Commit { writes, events: vec![] })?;
    Ok(())
}

fn temporary_sled() -> Result<SledStore, Box<dyn std::error::Error>> {
    Ok(SledStore::temporary_with(SledConfig { durability: Durability::Periodic, ..SledConfig::default() })?)
}
