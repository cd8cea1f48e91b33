//! Record builders shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeSet;

use lobby_core::{
    Agent, DepartmentId, Inquiry, InquiryId, InquiryStatus, Offer, PriorityWeight, RoomId, ServedBy, Timestamp, User,
    UserId, VisitorId, VisitorSummary,
};

/// How long a reopen may wait for the file lock that the previous handle's background threads
/// release after it is dropped: only bounds a hang.
pub const REOPEN_CEILING: std::time::Duration = std::time::Duration::from_secs(60);

/// sled itself on a database a test just closed, waiting (up to [`REOPEN_CEILING`]) for the
/// closed handle's lock to be released.
pub fn raw_sled(path: &std::path::Path) -> sled::Db {
    let started = std::time::Instant::now();
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(error) if started.elapsed() < REOPEN_CEILING && error.to_string().contains("lock") => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(error) => panic!("opening {} with sled: {error}", path.display()),
        }
    }
}

/// Runs the integrity check and fails the test on any problem, printing them all.
pub fn assert_healthy(store: &lobby_sled::SledStore) -> lobby_core::IntegrityReport {
    let report = store.check_integrity().expect("the integrity check runs");
    assert!(report.is_healthy(), "{report}");
    report
}

/// The problems the integrity check reports, in one string.
pub fn problems(store: &lobby_sled::SledStore) -> String {
    let report = store.check_integrity().expect("the integrity check runs");
    assert!(!report.is_healthy(), "expected problems, got {report}");
    report.problems.join("\n")
}

pub fn inquiry(n: u32, status: InquiryStatus, department: Option<&str>) -> Inquiry {
    let ts = Timestamp::from_millis(1_600_000_000_000 + i64::from(n % 13) * 1_000);
    let (id, rid) = (InquiryId::new(format!("inq-{n:06}")).unwrap(), RoomId::new(format!("room-{n:06}")).unwrap());
    let visitor =
        VisitorSummary::new(VisitorId::new(format!("vis-{n}")).unwrap(), format!("guest-{n}"), format!("token-{n}"));
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
        offer: (status == InquiryStatus::Offered).then(|| Offer {
            agent: ServedBy { id: UserId::new("agent-1").unwrap(), username: "agent1".into(), ts },
            expires_at: ts.plus_millis(30_000),
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

/// An agent serving `chats` (inquiries built by [`inquiry`] with these numbers).
pub fn agent(id: &str, chats: &[u32]) -> Agent {
    Agent {
        active_chats: chats.len() as u32,
        chats: chats.iter().map(|&n| inquiry(n, InquiryStatus::Taken, None).id).collect(),
        ..Agent::new(UserId::new(id).unwrap(), id, Timestamp::EPOCH)
    }
}
