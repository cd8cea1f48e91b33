//! A seeded fixture (users, agents, departments, visitors and inquiries in every status) and a
//! snapshot of the whole store, to prove a rejected request wrote nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lobby_core::{
    Actor, AgentAvailability, DepartmentSettings, Event, EventQuery, InquiryId, InquiryStatus, Record, RecordKind,
    RoomId, RoutingConfig, RoutingMethod, UserId, Versioned, VisitorDetails,
};
use lobby_server::stores::StoreHandle;
use lobby_server::{AppState, PasswordCost, ServerConfig};

use super::{sign_up, Login, PASSWORD};

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

/// A server state seeded with one of everything. `names` maps each placeholder (`admin_id`,
/// `open_rid`, …) to this run's value, so corpus entries can name fixture objects whose ids are
/// random.
pub struct Fixture {
    pub state: AppState,
    pub logins: BTreeMap<&'static str, Login>,
    pub names: BTreeMap<&'static str, String>,
}

pub fn test_config() -> ServerConfig {
    ServerConfig {
        routing: RoutingConfig { method: RoutingMethod::ManualSelection, ..RoutingConfig::default() },
        // The dispatcher (over HTTP only) has nothing to do in the fixture: every inquiry is
        // already released. A long interval keeps it from running between snapshots anyway.
        timers: lobby_core::TimerConfig::default(),
        dispatch_interval: Duration::from_secs(3600),
        password_cost: PasswordCost::Fast,
        ..ServerConfig::default()
    }
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_store(StoreHandle::memory())
    }

    /// Seeds: users `admin` (admin + agent), `alice` (agent, in Sales), `bob` (agent, not
    /// available), `plain` (no livechat role); departments `Sales` (alice) and `Closed`
    /// (disabled); visitors `tok-open` (open inquiry), `tok-sales` (open, in Sales), `tok-taken`
    /// (taken by alice), `tok-closed` (closed), `tok-new` (no room yet).
    pub fn with_store(store: StoreHandle) -> Self {
        let state = AppState::new(store, test_config());
        let engine = state.engine();
        let mut logins = BTreeMap::new();
        let mut names = BTreeMap::new();
        for (username, roles) in [
            ("admin", &["admin", "livechat-agent"][..]),
            ("alice", &["livechat-agent"][..]),
            ("bob", &["livechat-agent"][..]),
            ("plain", &["user"][..]),
        ] {
            logins.insert(username, sign_up(&state, username, roles));
        }
        let id = |name: &str| UserId::new(logins[name].user_id.clone()).unwrap();
        for (name, login) in &logins {
            names.insert(id_placeholder(name), login.user_id.clone());
        }
        let (sales, _) =
            engine.create_department(&Actor::System, &DepartmentSettings::named("Sales"), &[id("alice")]).unwrap();
        let mut closed = DepartmentSettings::named("Closed");
        closed.enabled = false;
        let (closed, _) = engine.create_department(&Actor::System, &closed, &[]).unwrap();
        names.insert("sales_id", sales.id.to_string());
        names.insert("closed_department_id", closed.id.to_string());
        engine.set_agent_availability(&Actor::System, &id("bob"), Some(AgentAvailability::NotAvailable)).unwrap();

        let mut rooms = BTreeMap::new();
        for (token, department) in
            [("tok-open", None), ("tok-sales", Some("Sales")), ("tok-taken", None), ("tok-closed", None)]
        {
            let details = VisitorDetails {
                token: token.into(),
                name: Some(format!("Visitor {token}")),
                department: department.map(str::to_owned),
                ..Default::default()
            };
            engine.register_visitor(&details).unwrap();
            let opened = engine.open_room(token, None).unwrap();
            rooms.insert(token, (opened.inquiry.id.clone(), opened.inquiry.rid.clone()));
        }
        engine.register_visitor(&VisitorDetails { token: "tok-new".into(), ..Default::default() }).unwrap();
        engine.dispatch(&Actor::System).unwrap();
        let (taken, _) = &rooms["tok-taken"];
        engine.take(&Actor::User(id("alice")), taken, None).unwrap();
        let (_, closed_rid) = &rooms["tok-closed"];
        engine.close(&Actor::System, closed_rid, "done").unwrap();
        for (token, (inquiry, rid)) in &rooms {
            let stem = token.trim_start_matches("tok-");
            names.insert(leak(format!("{stem}_inquiry")), inquiry.to_string());
            names.insert(leak(format!("{stem}_rid")), rid.to_string());
        }
        let fixture = Self { state, logins, names };
        fixture.assert_seeded();
        fixture
    }

    fn assert_seeded(&self) {
        let engine = self.state.engine();
        for (stem, status) in [
            ("open", InquiryStatus::Open),
            ("sales", InquiryStatus::Open),
            ("taken", InquiryStatus::Taken),
            ("closed", InquiryStatus::Closed),
        ] {
            let id = InquiryId::new(self.names[leak(format!("{stem}_inquiry"))].clone()).unwrap();
            let inquiry = engine.inquiry(&Actor::System, &id).unwrap().unwrap();
            assert_eq!(inquiry.status, status, "{stem}");
            let rid = RoomId::new(self.names[leak(format!("{stem}_rid"))].clone()).unwrap();
            assert_eq!(engine.inquiry_by_room(&Actor::System, &rid).unwrap().unwrap().id, id);
        }
    }

    /// Signs every fixture user in again with its fixture token (after a logout revoked one).
    pub fn restore_logins(&self) {
        let engine = self.state.engine();
        for login in self.logins.values() {
            let id = UserId::new(login.user_id.clone()).unwrap();
            let user = engine.user(&id).unwrap().unwrap();
            if lobby_server::auth::find_token(&user, &login.token).is_none() {
                let hash = lobby_server::auth::token_hash(&login.token);
                let entry = lobby_server::auth::StoredToken { hash, issued_at: self.state.now() }.entry();
                engine.add_login_token(&id, entry).unwrap();
            }
        }
    }

    pub fn login(&self, name: &str) -> &Login {
        &self.logins[name]
    }

    /// Replaces `{{name}}` placeholders with this fixture's values (`{{admin_token}}` and the
    /// like for login tokens).
    pub fn expand(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, value) in &self.names {
            out = out.replace(&format!("{{{{{name}}}}}"), value);
        }
        for (name, login) in &self.logins {
            out = out.replace(&format!("{{{{{name}_token}}}}"), &login.token);
        }
        out
    }

    /// The inverse of [`expand`](Self::expand), for printing a failing input as a corpus entry.
    pub fn abstract_ids(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, value) in &self.names {
            out = out.replace(value.as_str(), &format!("{{{{{name}}}}}"));
        }
        for (name, login) in &self.logins {
            out = out.replace(login.token.as_str(), &format!("{{{{{name}_token}}}}"));
        }
        out
    }

    /// Every id, name and token a request might usefully mention: the fuzzer's dictionary.
    pub fn dictionary(&self) -> Vec<String> {
        let mut words: Vec<String> = self.names.values().cloned().collect();
        words.extend(self.logins.values().map(|l| l.token.clone()));
        for word in [
            "admin",
            "alice",
            "bob",
            "plain",
            "Sales",
            "sales",
            "SALES",
            "Closed",
            "tok-open",
            "tok-sales",
            "tok-taken",
            "tok-closed",
            "tok-new",
            "admin@example.com",
            PASSWORD,
            "available",
            "not-available",
            "livechat-agent",
            "livechat-manager",
            "user",
            "queued",
            "open",
            "taken",
            "closed",
        ] {
            words.push(word.to_owned());
        }
        words
    }

    pub fn snapshot(&self) -> Snapshot {
        snapshot(&self.state)
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

fn id_placeholder(user: &str) -> &'static str {
    leak(format!("{user}_id"))
}

/// Placeholder names are few and fixed; interning them keeps the maps simple.
fn leak(name: String) -> &'static str {
    use std::sync::Mutex;
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap();
    if let Some(found) = names.get(name.as_str()) {
        return found;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.insert(leaked);
    leaked
}

// ---------------------------------------------------------------------------------------------
// Store snapshots
// ---------------------------------------------------------------------------------------------

/// Every record of every kind, with versions, and the whole event log.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub records: Vec<Versioned<Record>>,
    pub events: Vec<Event>,
}

pub fn snapshot(state: &AppState) -> Snapshot {
    let store = state.engine().store();
    let mut records = Vec::new();
    for kind in RecordKind::ALL {
        records.extend(store.scan(kind).expect("scan"));
    }
    let events = store.events(&EventQuery::all()).expect("events");
    Snapshot { records, events }
}

impl Snapshot {
    /// What changed from `self` to `after`, briefly (empty when nothing did).
    pub fn diff(&self, after: &Snapshot) -> String {
        let index = |s: &Snapshot| -> BTreeMap<String, Versioned<Record>> {
            s.records.iter().map(|r| (r.value.key().to_path(), r.clone())).collect()
        };
        let (before_map, after_map) = (index(self), index(after));
        let mut lines = Vec::new();
        for (key, record) in &after_map {
            match before_map.get(key) {
                None => lines.push(format!("created {key}")),
                Some(old) if old != record => {
                    lines.push(format!("changed {key} (v{} -> v{})", old.version.0, record.version.0))
                }
                Some(_) => {}
            }
        }
        for key in before_map.keys().filter(|k| !after_map.contains_key(*k)) {
            lines.push(format!("deleted {key}"));
        }
        if self.events != after.events {
            lines.push(format!("events: {} -> {}", self.events.len(), after.events.len()));
        }
        lines.join("; ")
    }
}
