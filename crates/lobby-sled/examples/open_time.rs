//! Measures what docs/stores.md reports for the sled store: open time with N inquiries, disk
//! size against the JSON size of the same data, commit throughput in both durability modes, and
//! listing latency.
//!
//! ```text
//! cargo run --release -p lobby-sled --example open_time -- [inquiries, default 100000]
//! ```

use std::time::Instant;

use lobby_core::{
    Actor, Commit, EventKind, Inquiry, InquiryFilter, InquiryId, InquiryQuery, InquirySort, InquiryStatus, NewEvent,
    Record, RoomId, SortField, Store, Timestamp, VisitorId, VisitorSummary, Write,
};
use lobby_sled::{Durability, SledConfig, SledStore};
use rand::{rngs::StdRng, Rng, SeedableRng};

// The root package's examples measure footprints with the same helpers.
#[path = "../../../benches/common/footprint.rs"]
mod footprint;
use footprint::{dir_size, mib, rss_bytes};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = match std::env::args().nth(1) {
        Some(text) => text.parse()?,
        None => 100_000,
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db");
    let mut rng = StdRng::seed_from_u64(42);

    let mut json_bytes = 0usize;
    let started = Instant::now();
    {
        let store = SledStore::open(&path, SledConfig { durability: Durability::Periodic, ..SledConfig::default() })?;
        let mut made = 0;
        while made < count {
            let batch = (count - made).min(1_000);
            let mut commit = Commit::default();
            for _ in 0..batch {
                let inquiry = inquiry(&mut rng, made);
                json_bytes += serde_json::to_vec(&inquiry)?.len();
                commit.events.push(NewEvent {
                    at: inquiry.ts,
                    actor: Actor::System,
                    inquiry: Some(inquiry.id.clone()),
                    kind: EventKind::Enqueued { department: inquiry.department.clone() },
                });
                commit.writes.push(Write::create(Record::Inquiry(inquiry)));
                made += 1;
            }
            for event in &commit.events {
                json_bytes += serde_json::to_vec(event)?.len();
            }
            store.commit(commit)?;
        }
        store.flush()?;
    }
    println!("wrote {count} inquiries (+1 event each) in {:.2?}", started.elapsed());
    println!("JSON size of the inquiries and events: {:.1} MiB", mib(json_bytes as u64));
    println!("on disk after writing: {:.1} MiB", mib(dir_size(&path)?));

    let mut opens = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..3 {
        let (started, cpu_before) = (Instant::now(), cpu_millis());
        let store = SledStore::open(&path, SledConfig::default())?;
        opens.push(started.elapsed());
        cpu.push(cpu_millis().zip(cpu_before).map(|(after, before)| after - before));
        drop(store);
    }
    opens.sort();
    println!("open with {count} inquiries: best {:.2?}, median {:.2?} (3 runs)", opens[0], opens[1]);
    // CPU time is steadier than wall time on a busy machine.
    println!("  CPU time per open (user + system, 10 ms ticks): {cpu:?} ms");
    println!("on disk after reopening: {:.1} MiB", mib(dir_size(&path)?));

    // Where the open time goes: sled's own recovery, reading the inquiries, decoding them.
    {
        let started = Instant::now();
        let db = sled::open(&path)?;
        let records = db.open_tree("records")?;
        let recovered = started.elapsed();
        let mut raw = Vec::new();
        for entry in records.scan_prefix("inquiry/") {
            raw.push(entry?.1);
        }
        let scanned = started.elapsed();
        for bytes in &raw {
            let _: serde_json::Value = serde_json::from_slice(bytes)?;
        }
        println!(
            "  of which: sled recovery {recovered:.2?}, scanning {} inquiries {:.2?}, decoding ~{:.2?}",
            raw.len(),
            scanned - recovered,
            started.elapsed() - scanned
        );
    }

    let store = SledStore::open(&path, SledConfig::default())?;
    println!("resident memory with the store open: {:.1} MiB", mib(rss_bytes()?));
    let started = Instant::now();
    let report = store.check_integrity()?;
    println!(
        "check_integrity: {:.2?} ({} inquiries, {} events)",
        started.elapsed(),
        report.count("inquiries"),
        report.count("events")
    );

    for (label, offset) in [("first page", 0), ("page at offset 20000", 20_000)] {
        let query = InquiryQuery {
            filter: InquiryFilter::status(InquiryStatus::Open),
            sort: InquirySort::descending(SortField::Ts),
            offset,
            limit: 50,
        };
        store.list_inquiries(&query)?; // builds the view once
        let started = Instant::now();
        let rounds = 200;
        for _ in 0..rounds {
            store.list_inquiries(&query)?;
        }
        println!("list 50 open by ts desc, {label}: {:.1?} per page", started.elapsed() / rounds);
    }
    drop(store);

    for durability in [Durability::FlushEveryCommit, Durability::Periodic] {
        let store = SledStore::open(&path, SledConfig { durability, ..SledConfig::default() })?;
        let commits = 2_000;
        let started = Instant::now();
        for n in 0..commits {
            let inquiry = inquiry(&mut rng, count + n);
            store.commit(Commit { writes: vec![Write::create(Record::Inquiry(inquiry))], events: vec![] })?;
        }
        let elapsed = started.elapsed();
        println!(
            "{durability:?}: {commits} single-inquiry commits from one thread in {elapsed:.2?} ({:.0}/s)",
            commits as f64 / elapsed.as_secs_f64()
        );
    }
    Ok(())
}

fn inquiry(rng: &mut StdRng, n: usize) -> Inquiry {
    let ts = Timestamp::from_millis(1_700_000_000_000 + n as i64 * 1_000);
    let (id, rid) = (InquiryId::generate(rng), RoomId::generate(rng));
    let name = format!("Visitor {}", rng.gen_range(0..100_000));
    let visitor =
        VisitorSummary::new(VisitorId::generate(rng), format!("guest-{n}"), format!("{:032x}", rng.gen::<u128>()));
    Inquiry {
        message: "Hello, I need help with my order".into(),
        // Not `taken`: a taken inquiry needs an agent for check_integrity to pass.
        status: [InquiryStatus::Queued, InquiryStatus::Open, InquiryStatus::Closed][rng.gen_range(0..3)],
        ..Inquiry::new(id, rid, visitor, name, ts)
    }
}

/// This process's user + system CPU time so far, from /proc (Linux only).
fn cpu_millis() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10) // USER_HZ is 100 on Linux
}
