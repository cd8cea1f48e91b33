//! Record builders shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeSet;

use lobby_core::{
    Agent, AgentAvailability, DepartmentId, Inquiry, InquiryId, InquiryStatus, PriorityWeight, RoomId, ServedBy,
    Timestamp, User, UserId, VisitorId, VisitorStatus, VisitorSummary,
};

pub fn inquiry(n: u32, status: InquiryStatus, department: Option<&str>) -> Inquiry {
    let ts = Timestamp::from_millis(1_600_000_000_000 + i64::from(n % 13) * 1_000);
    let (id, rid) = (InquiryId::new(format!("inq-{n:06}")).unwrap(), RoomId::new(format!("room-{n:06}")).unwrap());
    let visitor = VisitorSummary {
        id: VisitorId::new(format!("vis-{n}")).unwrap(),
        username: format!("guest-{n}"),
        token: format!("token-{n}"),
        status: VisitorStatus::Online,
    };
    Inquiry {
        message: format!("Hello, I need help with order {n}"),
        status,
        department: department.map(|d| DepartmentId::new(d).unwrap()),
        priority_weight: PriorityWeight::new((n % 5 + 1) as u8).unwrap(),
        estimated_waiting_time_queue: u64::from(n % 7),
        served_by: (status == InquiryStatus::Taken).then(|| ServedBy {
            id: UserId::new("agent-1").unwrap(),
            username: "agent1".into(),
            ts,
        }),
        updated_at: ts.plus_millis(i64::from(n)),
        ..Inquiry::new(id, rid, visitor, ["Ann", "bob", "Carla", "Dmitri"][n as usize % 4], ts)
    }
}

pub fn user(id: &str, username: &str, email: Option<&str>) -> User {
    User {
        id: UserId::new(id).unwrap(),
        username: username.into(),
        name: username.into(),
        email: email.map(str::to_owned),
        roles: BTreeSet::new(),
        active: true,
        password_hash: None,
        login_token_hashes: vec![],
        created_at: Timestamp::EPOCH,
        updated_at: Timestamp::EPOCH,
    }
}

pub fn agent(id: &str, active_chats: u32) -> Agent {
    Agent {
        id: UserId::new(id).unwrap(),
        username: id.into(),
        availability: AgentAvailability::Available,
        departments: BTreeSet::new(),
        max_chats: 0,
        active_chats,
        assigned_total: 0,
        last_routed_at: None,
        updated_at: Timestamp::EPOCH,
    }
}
