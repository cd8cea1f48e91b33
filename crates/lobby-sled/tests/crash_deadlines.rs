//! Kill -9 a process while it fires due deadlines, reopen, and check that every deadline acts
//! exactly once over all the runs: none lost with a kill, none acted on twice after a reopen.
//!
//! The parent sets up a database where every deadline is already due: many queued
//! conversations past the queue's max wait (each closes when its deadline fires) and agents who
//! left with chats open (each agent's chats close together). It then re-runs this binary as a
//! firer (`deadline_firer`, a no-op in a normal run), kills it at a random moment, checks the
//! database, and repeats until a firer finishes on its own.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lobby_core::{
    machine::TransitionKind, Actor, AgentAvailability, AgentLeave, AgentLeaveAction, Engine, EngineConfig, Event,
    EventKind, EventQuery, InquiryId, InquiryStatus, ListRequest, ManualClock, NewInquiry, NewUser, Paging, Role,
    Store, TimerConfig, TimerRule, Timestamp, UserId, VisitorId, VisitorSummary,
};
use lobby_sled::{Durability, SledConfig, SledStore};
use rand::Rng;

const FIRER_DB: &str = "LOBBY_SLED_DEADLINE_FIRER_DB";
/// A file the firer creates once it has opened the store.
const FIRER_READY: &str = "LOBBY_SLED_DEADLINE_FIRER_READY";
const QUEUED: usize = 1_200;
const AGENTS: usize = 3;
const CHATS_PER_AGENT: usize = 10;
const START: i64 = 1_700_000_000_000;
const MAX_ROUNDS: usize = 60;

/// Every run uses the same settings, so deadlines computed at setup are the ones firing sees.
fn engine(store: SledStore, now: i64) -> Engine<SledStore> {
    let timers = TimerConfig {
        max_queue_wait: Some(Duration::from_secs(60)),
        agent_leave: AgentLeave { action: AgentLeaveAction::Close, timeout: Duration::from_secs(60) },
        ..TimerConfig::default()
    };
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(now), 0));
    Engine::with_config(store, EngineConfig { timers, clock, ..EngineConfig::default() })
}

/// The firer's part; returns at once unless the parent test started this process.
#[test]
fn deadline_firer() {
    let Ok(db) = std::env::var(FIRER_DB) else { return };
    let store = SledStore::open(&db, SledConfig { durability: Durability::FlushEveryCommit, ..SledConfig::default() })
        .expect("firer opens");
    // An hour later: every deadline is long overdue.
    let engine = engine(store, START + 3_600_000);
    if let Some(ready) = std::env::var_os(FIRER_READY) {
        File::create(ready).unwrap();
    }
    engine.fire_due().expect("firing succeeds");
}

#[test]
fn every_due_deadline_fires_once_across_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let agents = set_up(&db);
    let ready = dir.path().join("firer.ready");
    let stderr_path = dir.path().join("firer.stderr");
    let mut rng = rand::thread_rng();
    let (mut kills, mut kills_mid_work, mut finished) = (0, 0, false);
    let mut previous = verify(&db, &agents, false);
    for _ in 0..MAX_ROUNDS {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.args(["deadline_firer", "--exact", "--nocapture", "--test-threads", "1"]);
        let _ = std::fs::remove_file(&ready);
        command.env(FIRER_DB, &db).env(FIRER_READY, &ready);
        let mut child = command.stdout(Stdio::null()).stderr(File::create(&stderr_path).unwrap()).spawn().unwrap();
        let ceiling = Instant::now() + Duration::from_secs(60);
        while !ready.exists() && Instant::now() < ceiling && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..=250)));
        match child.try_wait().unwrap() {
            Some(status) => {
                let stderr = std::fs::read_to_string(&stderr_path).unwrap();
                assert!(status.success(), "the firer failed ({status}): {stderr}");
                finished = true;
            }
            None => {
                child.kill().unwrap(); // SIGKILL on Unix: no destructors, no flush.
                child.wait().unwrap();
                kills += 1;
            }
        }
        let fired = verify(&db, &agents, finished);
        if fired > previous && !finished {
            kills_mid_work += 1;
        }
        previous = fired;
        if finished {
            break;
        }
    }
    eprintln!("{kills} kills, {kills_mid_work} after some but not all deadlines fired");
    assert!(finished, "no firer finished in {MAX_ROUNDS} rounds; {previous} deadlines fired");
    // The kills must have landed in the middle of the work for the test to mean anything.
    assert!(kills_mid_work >= 2, "only {kills_mid_work} kills landed while deadlines were firing");
}

/// Queued conversations (deadline: max queue wait) and agents who went away with chats open
/// (deadline: agent leave), all due an hour before the firer's clock.
fn set_up(db: &Path) -> Vec<UserId> {
    let store = SledStore::open(db, SledConfig { durability: Durability::Periodic, ..SledConfig::default() }).unwrap();
    let engine = engine(store, START);
    let system = &Actor::System;
    let mut agents = Vec::new();
    for a in 0..AGENTS {
        let name = format!("agent{a}");
        let user = engine.create_user(system, NewUser::new(name.clone(), name, [Role::livechat_agent()])).unwrap();
        for c in 0..CHATS_PER_AGENT {
            let inquiry = engine.enqueue(system, new_inquiry(&format!("a{a}c{c}"))).unwrap();
            engine.release(system, &inquiry.id).unwrap();
            engine.take(system, &inquiry.id, Some(&user.id)).unwrap();
        }
        engine.set_agent_availability(system, &user.id, Some(AgentAvailability::NotAvailable)).unwrap();
        agents.push(user.id);
    }
    for n in 0..QUEUED {
        engine.enqueue(system, new_inquiry(&format!("q{n}"))).unwrap();
    }
    engine.store().flush().unwrap();
    agents
}

fn new_inquiry(name: &str) -> NewInquiry {
    let visitor =
        VisitorSummary::new(VisitorId::new(format!("v-{name}")).unwrap(), format!("guest-{name}"), format!("t-{name}"));
    NewInquiry::new(visitor, name)
}

/// Checks the database after a run and returns how many deadlines have fired so far.
///
/// Each conversation's queue deadline and each agent's leave deadline acted at most once; a
/// conversation is closed exactly when one of them acted on it; what has not fired is still
/// indexed as due. Once `finished`, everything has fired.
fn verify(db: &Path, agents: &[UserId], finished: bool) -> usize {
    let store = SledStore::open_waiting(db, SledConfig::default(), Duration::from_secs(60))
        .unwrap_or_else(|error| panic!("reopen after kill failed: {error}"));
    let report = store.check_integrity().unwrap();
    assert!(report.is_healthy(), "{report}");

    let mut queue_fired: HashMap<InquiryId, usize> = HashMap::new();
    let mut agent_fired: HashMap<usize, usize> = HashMap::new();
    let mut closes = 0;
    for Event { event, .. } in store.events(&EventQuery::all()).unwrap() {
        match (&event.kind, &event.inquiry) {
            (EventKind::TimerFired { rule: TimerRule::QueueOverflow, .. }, Some(inquiry)) => {
                *queue_fired.entry(inquiry.clone()).or_default() += 1;
            }
            (EventKind::TimerFired { rule: TimerRule::AgentLeave, outcome, .. }, _) => {
                let agent = (0..agents.len()).find(|a| outcome.starts_with(&format!("agent{a} ")));
                *agent_fired.entry(agent.expect("the outcome names the agent")).or_default() += 1;
            }
            (EventKind::Transition { transition: TransitionKind::Close, .. }, _) => {
                closes += 1;
            }
            _ => {}
        }
    }
    assert!(queue_fired.values().all(|&n| n == 1), "a queue deadline fired twice: {queue_fired:?}");
    assert!(agent_fired.values().all(|&n| n == 1), "an agent-leave deadline fired twice: {agent_fired:?}");

    let engine = engine(store, START);
    let count = |status: InquiryStatus| {
        let request = ListRequest { status, paging: Paging::new(0, 0), ..ListRequest::default() };
        engine.list(&Actor::System, &request).unwrap().total
    };
    let (closed, waiting, taken) =
        (count(InquiryStatus::Closed), count(InquiryStatus::Queued), count(InquiryStatus::Taken));
    assert_eq!(closed + waiting + taken, QUEUED + AGENTS * CHATS_PER_AGENT, "conversations");
    assert_eq!(closes, closed, "one close event per closed conversation");
    assert_eq!(closed, queue_fired.len() + agent_fired.len() * CHATS_PER_AGENT, "closes match firings");
    assert_eq!(taken, (AGENTS - agent_fired.len()) * CHATS_PER_AGENT, "an agent's chats close together");
    let store = engine.store();

    let pending = store.due(Timestamp::MAX, usize::MAX).unwrap();
    assert_eq!(pending.len(), waiting + AGENTS - agent_fired.len(), "what has not fired is still due");
    if finished {
        assert!(pending.is_empty() && waiting == 0 && taken == 0, "the finished firer left work");
    }
    queue_fired.len() + agent_fired.len()
}
