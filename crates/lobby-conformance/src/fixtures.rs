//! Builders for the records and engines the cases use, and the one way cases race threads.

use std::sync::Barrier;

use lobby_core::{
    Actor, Agent, AgentUpdate, DepartmentId, Engine, EngineConfig, Inquiry, InquiryId, InquiryStatus, NewInquiry,
    NewUser, Offer, PriorityWeight, Record, Role, RoomId, ServedBy, Store, Timestamp, User, UserId, VisitorId,
    VisitorSummary,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A deterministic random source, so failures reproduce.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Runs `work(thread)` on `threads` threads released together by one barrier, and returns what
/// each returned, in thread order. A panic in any of them fails the caller with its message.
pub fn race<T: Send>(threads: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (barrier, work) = (&barrier, &work);
                scope.spawn(move || {
                    barrier.wait();
                    work(thread)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// The visitor of conversation `n`: `visitor{n}`, `guest-{n}`, `token-{n}`.
pub fn visitor(n: usize) -> VisitorSummary {
    VisitorSummary::new(VisitorId::new(format!("visitor{n}")).unwrap(), format!("guest-{n}"), format!("token-{n}"))
}

/// An inquiry with every sortable field drawn from a small range, so ties are common.
pub fn random_inquiry(n: usize, rng: &mut StdRng) -> Inquiry {
    let status = InquiryStatus::ALL[rng.gen_range(0..InquiryStatus::ALL.len())];
    let ts = Timestamp::from_millis(1_560_000_000_000 + rng.gen_range(0..50) * 1_000);
    let department = match rng.gen_range(0..4) {
        0 => None,
        d => Some(DepartmentId::new(format!("dep{d}")).unwrap()),
    };
    let served_by = (status == InquiryStatus::Taken).then(|| ServedBy {
        id: UserId::new(format!("agent{}", rng.gen_range(0..3))).unwrap(),
        username: "agent".into(),
        ts,
    });
    let (id, rid) = (InquiryId::new(format!("inq{n:05}")).unwrap(), RoomId::new(format!("room{n:05}")).unwrap());
    let name = ["Ana", "Bruno", "ana", "Zoë", "Marcos Defendi"][rng.gen_range(0..5)];
    Inquiry {
        status,
        department,
        priority_weight: [PriorityWeight::UNSET, PriorityWeight::HIGHEST, PriorityWeight::LOWEST][rng.gen_range(0..3)],
        estimated_waiting_time_queue: rng.gen_range(0..3) * 10,
        queued_at: rng.gen_bool(0.8).then(|| ts.plus_millis(rng.gen_range(0..5_000))),
        taken_at: served_by.as_ref().map(|s| s.ts),
        offer: (status == InquiryStatus::Offered).then(|| Offer {
            agent: ServedBy { id: UserId::new("agent0").unwrap(), username: "agent".into(), ts },
            expires_at: ts.plus_millis(30_000),
        }),
        served_by,
        updated_at: Timestamp::from_millis(1_560_000_000_000 + rng.gen_range(0..50) * 1_000),
        ..Inquiry::new(id, rid, visitor(n), name, ts)
    }
}

/// A user record with the agent role and an email.
pub fn user(id: &str, username: &str) -> User {
    User {
        id: UserId::new(id).unwrap(),
        username: username.into(),
        name: username.into(),
        email: Some(format!("{username}@example.com")),
        roles: [Role::livechat_agent()].into_iter().collect(),
        active: true,
        password_hash: None,
        login_token_hashes: vec![],
        created_at: Timestamp::EPOCH,
        updated_at: Timestamp::EPOCH,
    }
}

/// An available agent record with no limit.
pub fn agent_record(id: &str) -> Agent {
    Agent::new(UserId::new(id).unwrap(), id, Timestamp::EPOCH)
}

/// The record of `inquiry`.
pub fn inquiry_record(inquiry: &Inquiry) -> Record {
    Record::Inquiry(inquiry.clone())
}

/// An engine over `store` with default settings.
pub fn engine<S: Store>(store: S) -> Engine<S> {
    Engine::with_config(store, EngineConfig::default())
}

/// An engine over `store` reading time from `clock`.
pub fn engine_with_clock<S: Store>(store: S, clock: std::sync::Arc<lobby_core::ManualClock>) -> Engine<S> {
    Engine::with_config(store, EngineConfig { clock, ..EngineConfig::default() })
}

/// Creates `count` available agents (users with the agent role) named `{prefix}0`, `{prefix}1`,
/// … with chat limit `max_chats` (0 = none), returning their ids.
pub fn add_named_agents<S: Store>(engine: &Engine<S>, prefix: &str, count: usize, max_chats: u32) -> Vec<UserId> {
    (0..count)
        .map(|n| {
            let username = format!("{prefix}{n}");
            let new = NewUser::new(username.clone(), username, [Role::livechat_agent()]);
            let user = engine.create_user(&Actor::System, new).expect("create agent user");
            if max_chats > 0 {
                let update = AgentUpdate { max_chats: Some(max_chats), departments: None, ..AgentUpdate::default() };
                engine.update_agent(&Actor::System, &user.id, &update).expect("set limit");
            }
            user.id
        })
        .collect()
}

/// [`add_named_agents`] with the prefix `agent`.
pub fn add_agents<S: Store>(engine: &Engine<S>, count: usize, max_chats: u32) -> Vec<UserId> {
    add_named_agents(engine, "agent", count, max_chats)
}

/// Enqueues `count` inquiries for visitors `first..first + count` and releases them (status
/// `open`), returning their ids in order.
pub fn open_inquiries_from<S: Store>(engine: &Engine<S>, first: usize, count: usize) -> Vec<InquiryId> {
    (first..first + count)
        .map(|n| {
            let inquiry = engine.enqueue(&Actor::System, NewInquiry::new(visitor(n), format!("Visitor {n}")));
            engine.release(&Actor::System, &inquiry.expect("enqueue").id).expect("release").id
        })
        .collect()
}

/// [`open_inquiries_from`] visitor 0.
pub fn open_inquiries<S: Store>(engine: &Engine<S>, count: usize) -> Vec<InquiryId> {
    open_inquiries_from(engine, 0, count)
}
