//! Builders for the records and engines the cases use.

use lobby_core::{
    Actor, Agent, AgentAvailability, DepartmentId, Engine, EngineConfig, Inquiry, InquiryId, InquiryStatus,
    PriorityWeight, Record, Role, RoomId, ServedBy, Store, Timestamp, User, UserId, VisitorId, VisitorStatus,
    VisitorSummary,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A deterministic random source, so failures reproduce.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn visitor(n: usize) -> VisitorSummary {
    VisitorSummary {
        id: VisitorId::new(format!("visitor{n}")).unwrap(),
        username: format!("guest-{n}"),
        token: format!("token-{n}"),
        status: VisitorStatus::Online,
    }
}

/// An inquiry with every sortable field drawn from a small range, so ties are common.
pub fn random_inquiry(n: usize, rng: &mut StdRng) -> Inquiry {
    let status = InquiryStatus::ALL[rng.gen_range(0..4)];
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
        served_by,
        updated_at: Timestamp::from_millis(1_560_000_000_000 + rng.gen_range(0..50) * 1_000),
        ..Inquiry::new(id, rid, visitor(n), name, ts)
    }
}

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

pub fn agent_record(id: &str) -> Agent {
    Agent {
        id: UserId::new(id).unwrap(),
        username: id.into(),
        availability: AgentAvailability::Available,
        departments: Default::default(),
        max_chats: 0,
        active_chats: 0,
        assigned_total: 0,
        last_routed_at: None,
        updated_at: Timestamp::EPOCH,
    }
}

pub fn inquiry_record(inquiry: &Inquiry) -> Record {
    Record::Inquiry(inquiry.clone())
}

/// An engine over `store` with default settings.
pub fn engine<S: Store>(store: S) -> Engine<S> {
    Engine::with_config(store, EngineConfig::default())
}

/// Creates `count` available agents (users with the agent role) named `agent0`, `agent1`, …
/// with chat limit `max_chats` (0 = none), returning their ids.
pub fn add_agents<S: Store>(engine: &Engine<S>, count: usize, max_chats: u32) -> Vec<UserId> {
    (0..count)
        .map(|n| {
            let username = format!("agent{n}");
            let user = engine
                .create_user(
                    &Actor::System,
                    lobby_core::NewUser {
                        username: username.clone(),
                        name: username.clone(),
                        email: None,
                        password_hash: None,
                        roles: [Role::livechat_agent()].into_iter().collect(),
                        active: true,
                    },
                )
                .expect("create agent user");
            engine.add_agent(&Actor::System, &username).expect("add agent");
            if max_chats > 0 {
                let update = lobby_core::AgentUpdate { max_chats: Some(max_chats), departments: None };
                engine.update_agent(&Actor::System, &user.id, &update).expect("set limit");
            }
            user.id
        })
        .collect()
}

/// Enqueues `count` inquiries and releases them (status `open`), returning their ids in order.
pub fn open_inquiries<S: Store>(engine: &Engine<S>, count: usize) -> Vec<InquiryId> {
    (0..count)
        .map(|n| {
            let new = lobby_core::NewInquiry::new(visitor(n), format!("Visitor {n}"));
            let inquiry = engine.enqueue(&Actor::System, new).expect("enqueue");
            engine.release(&Actor::System, &inquiry.id).expect("release").id
        })
        .collect()
}
