//! `--demo`: seeds departments, agents, visitors and inquiries (idempotently: a restart on the
//! same store reuses what is there), then prints the console's address, the logins, and
//! ready-to-paste curl commands for the three calls of the Rocket.Chat inquiries API (list,
//! take, getOne). While it runs, simulated visitors keep arriving ([`traffic`]), so the console
//! shows a live queue.

use std::collections::BTreeSet;

use lobby_core::{
    Actor, AgentAvailability, AgentUpdate, CoreError, DepartmentId, DepartmentSettings, Inquiry, InquiryStatus,
    ListRequest, NewUser, Paging, Role, UserId, VisitorDetails,
};

use crate::auth::new_login_token;
use crate::AppState;

/// The demo users' password.
pub const DEMO_PASSWORD: &str = "lobby-demo";
/// The user whose token the printed commands carry (admin, manager and agent at once).
pub const DEMO_USERNAME: &str = "admin";

const DEPARTMENTS: [(&str, &str); 2] = [("Sales", "sales@example.com"), ("Support", "support@example.com")];
/// username, display name, roles, departments.
const USERS: [(&str, &str, &[&str], &[&str]); 3] = [
    (DEMO_USERNAME, "Demo Admin", &[Role::ADMIN, Role::LIVECHAT_MANAGER, Role::LIVECHAT_AGENT], &["Sales", "Support"]),
    ("alice", "Alice Agent", &[Role::LIVECHAT_AGENT], &["Sales"]),
    ("bob", "Bob Agent", &[Role::LIVECHAT_AGENT], &["Support"]),
];
/// token, name, department.
const VISITORS: [(&str, &str, Option<&str>); 4] = [
    ("demo-visitor-1", "Marcos Defendi", Some("Sales")),
    ("demo-visitor-2", "Ana Souza", Some("Support")),
    ("demo-visitor-3", "Kenji Tanaka", Some("Support")),
    ("demo-visitor-4", "Leila Haddad", None),
];

/// What the demo seeded and what the printed commands use.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    pub user_id: UserId,
    pub token: String,
    /// An open inquiry for the take command (`None` when routing assigned them all).
    pub open_inquiry: Option<Inquiry>,
    /// A demo conversation's room, for the getOne command.
    pub room: Option<lobby_core::RoomId>,
    /// Whether anything was created (false on a restart over a seeded store).
    pub created_anything: bool,
    /// Demo conversations taken in an earlier run, closed and opened afresh.
    pub reset_conversations: usize,
}

/// Seeds the demo data (blocking; call outside the async runtime or via `spawn_blocking`).
pub fn seed(state: &AppState) -> Result<DemoInfo, CoreError> {
    let engine = state.engine();
    let system = Actor::System;
    let mut created = false;

    let mut department_ids = Vec::new();
    for (name, email) in DEPARTMENTS {
        let department = match engine.resolve_department(name) {
            Ok(found) => found,
            Err(CoreError::DepartmentNotFound) => {
                let mut settings = DepartmentSettings::named(name);
                settings.email = email.to_owned();
                created = true;
                engine.create_department(&system, &settings, &[])?.0
            }
            Err(other) => return Err(other),
        };
        department_ids.push((name, department.id));
    }
    let department = |name: &str| -> DepartmentId {
        department_ids.iter().find(|(n, _)| *n == name).map(|(_, id)| id.clone()).expect("seeded department")
    };

    let mut admin_id = None;
    for (username, name, roles, departments) in USERS {
        let user = match engine.user_by_username(username)? {
            Some(user) => user,
            None => {
                created = true;
                let new = NewUser {
                    username: username.to_owned(),
                    name: name.to_owned(),
                    email: Some(format!("{username}@example.com")),
                    password_hash: Some(state.passwords().hash(DEMO_PASSWORD)),
                    roles: roles.iter().map(|r| Role::new(*r)).collect::<Result<BTreeSet<_>, _>>()?,
                    active: true,
                };
                engine.create_user(&system, new)?
            }
        };
        if engine.agent(&user.id)?.is_none() {
            created = true;
            engine.add_agent(&system, username)?;
        }
        let update = AgentUpdate {
            max_chats: None,
            departments: Some(departments.iter().map(|d| department(d)).collect()),
            ..AgentUpdate::default()
        };
        engine.update_agent(&system, &user.id, &update)?;
        engine.set_agent_availability(&system, &user.id, Some(AgentAvailability::Available))?;
        if username == DEMO_USERNAME {
            admin_id = Some(user.id);
        }
    }
    let admin_id = admin_id.expect("the demo admin is seeded");

    let mut first_room = None;
    let mut reset = 0;
    for (token, name, department) in VISITORS {
        let details = VisitorDetails {
            token: token.to_owned(),
            name: Some(name.to_owned()),
            email: None,
            department: department.map(str::to_owned),
            attributes: None,
        };
        engine.register_visitor(&details)?;
        let mut opened = engine.open_room(token, None)?;
        created |= opened.new_room;
        if opened.inquiry.status == InquiryStatus::Taken {
            // Taken during an earlier run (by the printed take command, say): close it so the
            // demo starts with conversations to take again, never with two open ones.
            engine.close(&system, &opened.inquiry.rid, "demo restarted")?;
            opened = engine.open_room(token, None)?;
            reset += 1;
        }
        first_room.get_or_insert(opened.inquiry.rid);
    }
    engine.dispatch(&system)?;

    let (token, hash) = new_login_token(state.now());
    engine.add_login_token(&admin_id, hash)?;
    let newest_open = ListRequest { paging: Paging::new(0, 1), ..ListRequest::default() };
    let open_inquiry = engine.list(&system, &newest_open)?.items.into_iter().next();
    let room = open_inquiry.as_ref().map(|i| i.rid.clone()).or(first_room);
    Ok(DemoInfo { user_id: admin_id, token, open_inquiry, room, created_anything: created, reset_conversations: reset })
}

/// The text `--demo` prints: the console's address and logins, and curl commands for list,
/// take and getOne that work as pasted against `base_url` (`http://127.0.0.1:3000`).
/// `traffic` is the simulated visitors' arrival rate, per minute.
pub fn instructions(info: &DemoInfo, base_url: &str, store: &str, traffic: u32) -> String {
    let auth = format!("-H \"X-Auth-Token: {}\" -H \"X-User-Id: {}\"", info.token, info.user_id);
    let api = format!("{base_url}/api/v1");
    let mut out = String::new();
    let seeded = match (info.created_anything, info.reset_conversations) {
        (true, _) => "seeded".to_owned(),
        (false, 0) => "already seeded, reused".to_owned(),
        (false, n) => format!("already seeded, reused; {n} conversation(s) taken earlier closed and reopened"),
    };
    out.push_str(&format!("Lobby demo is running at {base_url} (store: {store}; demo data {seeded}).\n\n"));
    out.push_str(&format!("Open the console in a browser: {base_url}/\n"));
    out.push_str(&format!(
        "  supervisor \"{DEMO_USERNAME}\" (admin, manager and agent); agents \"alice\" (Sales) and \"bob\" (Support); password \"{DEMO_PASSWORD}\"\n"
    ));
    match traffic {
        0 => out.push_str("  no simulated visitors (--demo-traffic 0)\n\n"),
        n => out.push_str(&format!("  simulated visitors arrive, {n} a minute (--demo-traffic 0 turns them off)\n\n")),
    }
    out.push_str(&format!(
        "Log in as \"{DEMO_USERNAME}\" (admin, manager and agent) or the agents \"alice\" and \"bob\"; password \"{DEMO_PASSWORD}\":\n"
    ));
    out.push_str(&format!(
        "  curl -H \"Content-type: application/json\" {api}/login -d '{{\"user\": \"{DEMO_USERNAME}\", \"password\": \"{DEMO_PASSWORD}\"}}'\n\n"
    ));
    out.push_str("List the open inquiries:\n");
    out.push_str(&format!("  curl {auth} \"{api}/livechat/inquiries.list\"\n\n"));
    match &info.open_inquiry {
        Some(inquiry) => {
            out.push_str("Take one:\n");
            out.push_str(&format!(
                "  curl {auth} -H \"Content-type: application/json\" \"{api}/livechat/inquiries.take\" -d '{{\"inquiryId\": \"{}\"}}'\n\n",
                inquiry.id
            ));
        }
        None => out.push_str(
            "(No inquiry is open to take: the routing method assigned them all. Run the demo with --routing manual.)\n\n",
        ),
    }
    if let Some(room) = &info.room {
        out.push_str("Get it by room id:\n");
        out.push_str(&format!("  curl {auth} \"{api}/livechat/inquiries.getOne?roomId={room}\"\n\n"));
    }
    out.push_str("Press Ctrl-C to stop; the data stays for the next run.\n");
    out
}

/// Names simulated visitors take, in turn.
const TRAFFIC_NAMES: [&str; 12] = [
    "Ines Moreau",
    "Tomasz Nowak",
    "Aiko Sato",
    "Diego Ramos",
    "Fatima Zahra",
    "Liam O'Brien",
    "Mei Chen",
    "Olu Adeyemi",
    "Sofia Rossi",
    "Arjun Mehta",
    "Hanna Berg",
    "Youssef Amrani",
];
/// No more arrivals while this many conversations wait: the demo queue stays readable.
const TRAFFIC_MAX_WAITING: usize = 15;
/// A simulated visitor nobody took leaves after this long (the statistics count it abandoned).
const TRAFFIC_PATIENCE_MS: u64 = 8 * 60_000;

/// Simulated visitors: `per_minute` arrive each minute (0: none), spread over Sales, Support and
/// the public queue; one nobody takes within 8 minutes leaves. Runs until `stop` turns true.
pub async fn traffic(state: AppState, per_minute: u32, mut stop: tokio::sync::watch::Receiver<bool>) {
    if per_minute == 0 {
        return;
    }
    let interval = std::time::Duration::from_millis(60_000 / u64::from(per_minute));
    let mut arrivals = 0u64;
    loop {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
            () = tokio::time::sleep(interval) => {}
        }
        arrivals += 1;
        let number = arrivals;
        let engine = std::sync::Arc::clone(state.engine());
        let waiting = state.live().now().waiting();
        let result = tokio::task::spawn_blocking(move || -> Result<(), CoreError> {
            leave_if_tired(&engine)?;
            if waiting >= TRAFFIC_MAX_WAITING {
                return Ok(());
            }
            let token = format!("demo-traffic-{}-{number}", std::process::id());
            let department = match number % 3 {
                0 => None,
                1 => Some("Sales".to_owned()),
                _ => Some("Support".to_owned()),
            };
            let name = TRAFFIC_NAMES[(number as usize) % TRAFFIC_NAMES.len()];
            let details = VisitorDetails {
                token: token.clone(),
                name: Some(name.to_owned()),
                email: None,
                department,
                attributes: None,
            };
            engine.register_visitor(&details)?;
            engine.open_room(&token, None)?;
            Ok(())
        })
        .await;
        match result {
            Ok(Ok(())) => state.request_dispatch(),
            Ok(Err(error)) => tracing::warn!(%error, "a simulated visitor could not arrive"),
            Err(error) => tracing::warn!(%error, "simulated traffic panicked"),
        }
    }
}

/// Simulated visitors who waited longer than their patience leave (close their own room).
fn leave_if_tired(engine: &crate::SharedEngine) -> Result<(), CoreError> {
    let now = engine.config().clock.now();
    let waiting = ListRequest {
        status: InquiryStatus::Open,
        paging: Paging::new(0, 100),
        sort: lobby_core::InquirySort::ascending(lobby_core::SortField::QueuedAt),
        ..ListRequest::default()
    };
    for inquiry in engine.list(&Actor::System, &waiting)?.items {
        let tired = now.millis_since(inquiry.age_key()) > TRAFFIC_PATIENCE_MS;
        if tired && inquiry.visitor.token.starts_with("demo-traffic-") {
            let token = inquiry.visitor.token.clone();
            engine.close(&Actor::Visitor(token), &inquiry.rid, "the visitor left")?;
        } else if !tired {
            break;
        }
    }
    Ok(())
}
