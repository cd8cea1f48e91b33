//! Memory and disk per conversation: the benchmark dataset (`benches/common`) loaded into the
//! memory store, the sled store and a SQLite file with the same indexes, each in a fresh
//! process, in one run.
//!
//! ```text
//! cargo run --release --example footprint -- [inquiries, default 100000]
//! ```
//!
//! Each child generates the dataset, loads it (in commits of 1,000), drops its own copy, asks
//! for one listing page and reports its resident memory (`VmRSS`). A child that only generates
//! and drops the dataset gives the base, so "above base" is what the store itself holds. Disk
//! is the size of the store's files after a flush (SQLite: after a WAL checkpoint).

#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;

use std::process::Command;

use common::footprint::{dir_size, mib, rss_bytes};
use common::sqlite::{Sql, SqlOrder};
use common::{generate, load_store, Mix};
use lobby_core::{InquiryFilter, InquiryQuery, InquirySort, InquiryStatus, Store};
use lobby_memory::MemoryStore;
use lobby_sled::{Durability, SledConfig, SledStore};

const STORES: [&str; 4] = ["base", "memory", "sled", "sqlite"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, store, count] = args.as_slice() {
        if flag == "--child" {
            return child(store, count.parse()?);
        }
    }
    let count: usize = match args.first() {
        Some(text) => text.replace('_', "").parse()?,
        None => 100_000,
    };
    let me = std::env::current_exe()?;
    let mut rows = Vec::new();
    for store in STORES {
        let output = Command::new(&me).args(["--child", store, &count.to_string()]).output()?;
        if !output.status.success() {
            return Err(format!("{store}: {}", String::from_utf8_lossy(&output.stderr)).into());
        }
        let text = String::from_utf8(output.stdout)?;
        let numbers: Vec<u64> = text.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
        let [rss, disk] = numbers[..] else { return Err(format!("{store}: unexpected output {text:?}").into()) };
        rows.push((store, rss, disk));
    }
    let base = rows[0].1;
    println!("{count} inquiries ({} cores)", std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!("| store | RSS (MiB) | RSS above base per inquiry | disk (MiB) | disk per inquiry |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (store, rss, disk) in rows {
        let above = rss.saturating_sub(base) as f64 / count as f64;
        let per_disk = disk as f64 / count as f64;
        println!("| {store} | {:.1} | {above:.0} B | {:.1} | {per_disk:.0} B |", mib(rss), mib(disk));
    }
    Ok(())
}

/// Prints the resident memory and the disk bytes of one store holding `count` inquiries.
fn child(store: &str, count: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let data = generate(count, Mix::Queue);
    let query = InquiryQuery {
        filter: InquiryFilter::status(InquiryStatus::Open),
        sort: InquirySort::default(),
        offset: count / 2,
        limit: 50,
    };
    // Each arm keeps its store alive until the measurement at the end.
    let (rss, disk, _keep): (u64, u64, Box<dyn std::any::Any>) = match store {
        "base" => {
            drop(data);
            (rss_bytes()?, 0, Box::new(()))
        }
        "memory" => {
            let memory = MemoryStore::new();
            load_store(&memory, &data, &[]);
            drop(data);
            memory.list_inquiries(&query)?;
            (rss_bytes()?, 0, Box::new(memory))
        }
        "sled" => {
            let path = dir.path().join("db");
            let config = SledConfig { durability: Durability::Periodic, ..SledConfig::default() };
            let sled = SledStore::open(&path, config)?;
            load_store(&sled, &data, &[]);
            drop(data);
            sled.flush()?;
            sled.list_inquiries(&query)?;
            (rss_bytes()?, dir_size(&path)?, Box::new(sled))
        }
        "sqlite" => {
            let sql = Sql::create(&data);
            drop(data);
            sql.page(SqlOrder::TsDesc, None, count / 2, 50);
            (rss_bytes()?, sql.size_on_disk(), Box::new(sql))
        }
        other => return Err(format!("unknown store {other}").into()),
    };
    println!("{rss} {disk}");
    Ok(())
}
