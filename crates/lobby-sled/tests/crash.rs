//! Kill -9 a writer at random moments and check that every commit it acknowledged survived,
//! whole, and that the database still hangs together.
//!
//! The test binary plays both parts: `acknowledged_commits_survive_sigkill` re-runs this binary
//! with [`WRITER_DB`] set, which makes `crash_writer` (a no-op in a normal run) open the store
//! and work through the engine until it is killed. After each operation the engine acknowledges,
//! the writer appends a line to an "acknowledged" log with a plain `write` — the kernel keeps it
//! when the process dies, so the log is exactly what a client could have been told.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lobby_core::{
    Actor, Engine, EventKind, EventQuery, InquiryId, InquiryStatus, ListRequest, NewInquiry, NewUser, Paging, Store,
    StoreExt, UserId, VisitorId, VisitorSummary,
};
use lobby_sled::{Durability, SledConfig, SledStore};
use parking_lot::Mutex;
use rand::{seq::SliceRandom, Rng};

const WRITER_DB: &str = "LOBBY_SLED_CRASH_WRITER_DB";
const WRITER_ACKS: &str = "LOBBY_SLED_CRASH_WRITER_ACKS";
/// A file the writer creates once it has opened the store and set up its agents.
const WRITER_READY: &str = "LOBBY_SLED_CRASH_WRITER_READY";
/// Set (to anything) to make the writer use `Durability::Periodic`.
const WRITER_PERIODIC: &str = "LOBBY_SLED_CRASH_WRITER_PERIODIC";
const AGENTS: usize = 3;
const ROUNDS: usize = 12;

/// The writer's part; returns at once unless the parent test started this process.
#[test]
fn crash_writer() {
    let (Ok(db), Ok(acks)) = (std::env::var(WRITER_DB), std::env::var(WRITER_ACKS)) else { return };
    let durability =
        if std::env::var_os(WRITER_PERIODIC).is_some() { Durability::Periodic } else { Durability::FlushEveryCommit };
    run_writer(Path::new(&db), Path::new(&acks), durability);
}

#[test]
fn acknowledged_commits_survive_sigkill() {
    let total = kill_rounds(Durability::FlushEveryCommit, ROUNDS);
    // The rounds must have done real work for the checks to mean anything.
    assert!(total >= 50, "only {total} operations acknowledged over {ROUNDS} rounds");
}

/// Periodic mode may lose the last acknowledged commits, but never part of one: the database
/// must still hang together after every kill.
#[test]
fn periodic_commits_stay_whole_after_sigkill() {
    kill_rounds(Durability::Periodic, 6);
}

/// Runs and kills the writer `rounds` times on one database, checking after each kill; returns
/// how many operations were acknowledged in all.
fn kill_rounds(durability: Durability, rounds: usize) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let acks = dir.path().join("acknowledged.log");
    let stderr_path = dir.path().join("writer.stderr");
    let ready = dir.path().join("writer.ready");
    let mut rng = rand::thread_rng();
    let started = Instant::now();
    let mut acked = 0;
    for round in 0..rounds {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.args(["crash_writer", "--exact", "--nocapture", "--test-threads", "1"]).env(WRITER_DB, &db);
        command.env(WRITER_ACKS, &acks).env_remove(WRITER_PERIODIC);
        if durability == Durability::Periodic {
            command.env(WRITER_PERIODIC, "1");
        }
        let _ = std::fs::remove_file(&ready);
        command.env(WRITER_READY, &ready);
        let mut child = command.stdout(Stdio::null()).stderr(File::create(&stderr_path).unwrap()).spawn().unwrap();
        if round % 4 == 3 {
            // Now and then, kill it while it may still be opening (sled recovering, index loading).
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..=50)));
        } else {
            // Otherwise in the middle of its work: count from when it is ready, so that a slow
            // start on a busy machine does not turn the round into a kill during startup.
            let deadline = Instant::now() + Duration::from_secs(30);
            while !ready.exists() && Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(Duration::from_millis(rng.gen_range(50..=300)));
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the writer exited by itself ({status}): {}", std::fs::read_to_string(&stderr_path).unwrap());
        }
        child.kill().unwrap(); // SIGKILL on Unix: no destructors, no flush.
        child.wait().unwrap();
        acked = verify(&db, &acks, round, durability);
    }
    eprintln!("{durability:?}: {rounds} kills, {acked} acknowledged operations, {:?}", started.elapsed());
    acked
}

/// What the log says each inquiry reached: 0 enqueued, 1 released, 2 taken, 3 closed.
#[derive(Default)]
struct Acked {
    stage: u8,
    taken_by: Vec<UserId>,
}

fn verify(db: &Path, acks: &Path, round: usize, durability: Durability) -> usize {
    let store = SledStore::open(db, SledConfig::default())
        .unwrap_or_else(|error| panic!("round {round}: reopen after kill failed: {error}"));
    let report = store.check_integrity().unwrap_or_else(|error| panic!("round {round}: {error}"));
    assert!(report.is_healthy(), "round {round}: {report}");

    let log = std::fs::read_to_string(acks).unwrap_or_default();
    // A kill can land in the middle of a log write; an unfinished line was never acknowledged.
    let complete = match log.rfind('\n') {
        Some(end) => &log[..=end],
        None => "",
    };
    let mut acked: HashMap<InquiryId, Acked> = HashMap::new();
    let mut operations = 0;
    for line in complete.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let (stage, agent) = match words.as_slice() {
            ["enqueue", _] => (0, None),
            ["release", _] => (1, None),
            ["take", _, agent] => (2, Some(UserId::new(*agent).unwrap())),
            ["close", _] => (3, None),
            _ => panic!("round {round}: bad log line {line:?}"),
        };
        operations += 1;
        let entry = acked.entry(InquiryId::new(words[1]).unwrap()).or_default();
        // Two writer threads may log in a different order than they committed; stages only rise.
        entry.stage = entry.stage.max(stage);
        entry.taken_by.extend(agent);
    }

    for (id, want) in &acked {
        let found = store.inquiry(id).unwrap();
        if durability == Durability::Periodic {
            // Acknowledged commits may be lost; what is there must still be whole (checked by
            // check_integrity above and the history below).
            if let Some(found) = found {
                check_history(&store, &found.value.id, round);
            }
            continue;
        }
        // Only without lost commits: a lost take lets another agent take it again later.
        assert!(want.taken_by.len() <= 1, "round {round}: {id} acknowledged as taken by {:?}", want.taken_by);
        let inquiry = found.unwrap_or_else(|| panic!("round {round}: acknowledged {id} is gone"));
        let stage = match inquiry.value.status {
            InquiryStatus::Queued => 0,
            InquiryStatus::Open => 1,
            InquiryStatus::Taken => 2,
            InquiryStatus::Closed => 3,
            InquiryStatus::Offered => panic!("round {round}: {id} is offered, though the writer makes no offers"),
        };
        assert!(
            stage >= want.stage,
            "round {round}: {id} is {} though acknowledged at stage {} (0 enqueued … 3 closed)",
            inquiry.value.status,
            want.stage
        );
        if let Some(agent) = want.taken_by.first() {
            assert_eq!(inquiry.value.served_by_id(), Some(agent), "round {round}: {id} lost its acknowledged agent");
        }
        check_history(&store, id, round);
    }
    // Agent loads equal the taken inquiries: check_integrity compares active_chats per agent.
    assert!(report.count("agents") <= AGENTS as u64);
    operations
}

/// The inquiry's history starts with its enqueue and has at most one take (the writer never
/// returns inquiries to the queue, so a second take would mean two agents served it).
fn check_history(store: &SledStore, id: &InquiryId, round: usize) {
    let history = store.events(&EventQuery::all().about(id.clone()));
    let history = history.unwrap();
    assert!(matches!(history.first().map(|e| &e.event.kind), Some(EventKind::Enqueued { .. })), "round {round}");
    let takes = history
        .iter()
        .filter(|e| {
            matches!(e.event.kind, EventKind::Transition { transition: lobby_core::machine::TransitionKind::Take, .. })
        })
        .count();
    assert!(takes <= 1, "round {round}: {id} was taken {takes} times");
}

fn run_writer(db: &Path, acks: &Path, durability: Durability) {
    let store =
        SledStore::open(db, SledConfig { durability, ..SledConfig::default() }).expect("the writer opens the store");
    let engine = Arc::new(Engine::new(store));
    let mut agents = Vec::new();
    for i in 0..AGENTS {
        let username = format!("agent{i}");
        let user = match engine.user_by_username(&username).unwrap() {
            Some(user) => user,
            None => engine.create_user(&Actor::System, NewUser::new(username.clone(), username.clone(), [])).unwrap(),
        };
        agents.push(engine.add_agent(&Actor::System, &user.username).unwrap().id);
    }
    let log = Arc::new(Mutex::new(OpenOptions::new().create(true).append(true).open(acks).unwrap()));
    if let Some(ready) = std::env::var_os(WRITER_READY) {
        File::create(ready).unwrap();
    }
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (engine, agents, log) = (engine.clone(), agents.clone(), log.clone());
            std::thread::spawn(move || loop {
                if let Some(line) = one_operation(&engine, &agents) {
                    let mut file = log.lock();
                    file.write_all(format!("{line}\n").as_bytes()).unwrap();
                    file.flush().unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
}

/// One random operation; the log line to write if the engine acknowledged it.
fn one_operation(engine: &Engine<SledStore>, agents: &[UserId]) -> Option<String> {
    let mut rng = rand::thread_rng();
    let pick = |status: InquiryStatus| {
        let request = ListRequest { status, paging: Paging::new(0, 20), ..ListRequest::default() };
        let page = engine.list(&Actor::System, &request).unwrap();
        page.items.choose(&mut rand::thread_rng()).cloned()
    };
    match rng.gen_range(0..10) {
        0..=3 => {
            let n: u32 = rng.gen();
            let visitor = VisitorSummary::new(
                VisitorId::new(format!("v{n}")).unwrap(),
                format!("guest-{n}"),
                format!("token-{n}"),
            );
            let inquiry = engine.enqueue(&Actor::System, NewInquiry::new(visitor, format!("Visitor {n}"))).unwrap();
            Some(format!("enqueue {}", inquiry.id))
        }
        4..=5 => {
            let inquiry = pick(InquiryStatus::Queued)?;
            engine.release(&Actor::System, &inquiry.id).ok().map(|_| format!("release {}", inquiry.id))
        }
        6..=8 => {
            let inquiry = pick(InquiryStatus::Open)?;
            let agent = agents.choose(&mut rng).unwrap();
            engine.take(&Actor::System, &inquiry.id, Some(agent)).ok().map(|_| format!("take {} {agent}", inquiry.id))
        }
        _ => {
            let inquiry = pick(InquiryStatus::Taken)?;
            engine.close(&Actor::System, &inquiry.rid, "done").ok().map(|_| format!("close {}", inquiry.id))
        }
    }
}
