//! The permission matrix: every route of [`lobby_server::routes::ROUTES`] × every caller (no
//! login, a user with no role, `user`, `livechat-agent`, `livechat-manager`, `admin`, a custom
//! role) × own versus others' conversations. Each route's rule is declared once below; the
//! expected status of each cell follows from the rule and the default permission policy, every
//! cell is requested against a freshly seeded server and must answer that status, and the
//! table printed from the rules must be the one in `docs/security.md`
//! (`LOBBY_UPDATE_DOCS=1 cargo test -p lobby-server --test server permission_matrix` rewrites it).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use lobby_core::{Actor, DepartmentSettings, Permission, PermissionPolicy, Role, UserId, VisitorDetails};
use lobby_server::routes::{Access, Route, ROUTES};
use lobby_server::stores::StoreHandle;
use lobby_server::AppState;
use serde_json::json;

use crate::helpers::fixture::test_config;
use crate::helpers::raw::{InProcess, RawRequest};
use crate::helpers::{sign_up, Login, PASSWORD};

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    NoRole,
    User,
    Agent,
    Manager,
    Admin,
    Custom,
}

impl Caller {
    const ALL: [Caller; 7] =
        [Self::Anonymous, Self::NoRole, Self::User, Self::Agent, Self::Manager, Self::Admin, Self::Custom];

    fn label(self) -> &'static str {
        match self {
            Self::Anonymous => "no login",
            Self::NoRole => "no role",
            Self::User => "`user`",
            Self::Agent => "`livechat-agent`",
            Self::Manager => "`livechat-manager`",
            Self::Admin => "`admin`",
            Self::Custom => "custom role",
        }
    }

    fn roles(self) -> &'static [&'static str] {
        match self {
            Self::Anonymous | Self::NoRole => &[],
            Self::User => &[Role::USER],
            Self::Agent => &[Role::LIVECHAT_AGENT],
            Self::Manager => &[Role::LIVECHAT_MANAGER],
            Self::Admin => &[Role::ADMIN],
            Self::Custom => &[CUSTOM_ROLE],
        }
    }

    /// Whether the caller has an agent profile (it serves conversations).
    fn is_agent(self) -> bool {
        self.roles().contains(&Role::LIVECHAT_AGENT)
    }

    fn holds(self, permissions: &[Permission]) -> bool {
        let policy = PermissionPolicy::default();
        permissions.iter().all(|p| policy.roles_granting(*p).any(|role| self.roles().contains(&role.as_str())))
    }
}

/// A role name the default policy knows nothing about.
const CUSTOM_ROLE: &str = "auditor";

/// Whose conversation a request acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The route acts on no conversation of anyone's (or on the caller itself).
    Any,
    /// One the caller serves (or the caller's own sessions and status).
    Own,
    /// One another agent serves (or another user's sessions and status).
    Others,
}

impl Scope {
    fn label(self) -> &'static str {
        match self {
            Self::Any => "",
            Self::Own => "own",
            Self::Others => "others'",
        }
    }
}

/// What a route answers each caller, as documented.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Anyone, signed in or not: 200.
    Public,
    /// Any signed-in user: 200 (else 401).
    SignedIn,
    /// 401 without a login, 403 without every one of these permissions, else 200.
    Needs(&'static [Permission]),
    /// As `Needs`, then 400 `error-user-is-not-agent` for a caller without an agent profile.
    NeedsAgent(&'static [Permission]),
    /// On a conversation the caller serves: only agents serve, so the cell exists only for
    /// them; 403 without the permissions, else 200.
    Served(&'static [Permission]),
    /// 401 without a login, 400 `error-not-allowed` without the permission, else 200 (RC answers
    /// a writer without access this way).
    NotAllowedWithout(Permission),
    /// As `Needs`, then 400 `Not_authorized` without the second permission, else 200 (RC's
    /// on-hold routes, for a conversation someone else serves).
    NeedsThenNotAllowedWithout(&'static [Permission], Permission),
    /// As `Needs`, but a permitted caller gets 400: the request passes the permission check and
    /// this world holds nothing for it to act on (no pending offer, nothing on hold).
    Refused(&'static [Permission]),
    /// As `Served`, but a permitted agent gets 400, as for `Refused`.
    ServedRefused(&'static [Permission]),
}

/// A cell: a status, or nothing when the scope cannot exist for the caller.
type Cell = Option<u16>;

impl Rule {
    fn expected(self, caller: Caller) -> Cell {
        let signed_in = caller != Caller::Anonymous;
        let status = match self {
            Rule::Public => 200,
            _ if !signed_in => {
                if let Rule::Served(_) | Rule::ServedRefused(_) = self {
                    return None;
                }
                401
            }
            Rule::SignedIn => 200,
            Rule::Needs(permissions) => gate(caller, permissions, 200),
            Rule::NeedsAgent(permissions) => gate(caller, permissions, if caller.is_agent() { 200 } else { 400 }),
            Rule::Served(_) if !caller.is_agent() => return None,
            Rule::Served(permissions) => gate(caller, permissions, 200),
            Rule::NotAllowedWithout(permission) => {
                if caller.holds(&[permission]) {
                    200
                } else {
                    400
                }
            }
            Rule::NeedsThenNotAllowedWithout(permissions, second) => {
                gate(caller, permissions, if caller.holds(&[second]) { 200 } else { 400 })
            }
            Rule::Refused(permissions) => gate(caller, permissions, 400),
            Rule::ServedRefused(_) if !caller.is_agent() => return None,
            Rule::ServedRefused(permissions) => gate(caller, permissions, 400),
        };
        Some(status)
    }
}

fn gate(caller: Caller, permissions: &[Permission], granted: u16) -> u16 {
    if caller.holds(permissions) {
        granted
    } else {
        403
    }
}

use Permission::*;

/// One row: a route, a scope, its rule and the request that exercises it.
struct Row {
    method: &'static str,
    path: &'static str,
    scope: Scope,
    rule: Rule,
    request: fn(&World) -> RawRequest,
}

fn rows() -> Vec<Row> {
    fn row(
        method: &'static str,
        path: &'static str,
        scope: Scope,
        rule: Rule,
        request: fn(&World) -> RawRequest,
    ) -> Row {
        Row { method, path, scope, rule, request }
    }
    use Scope::{Any, Others, Own};
    vec![
        row("POST", "/api/v1/login", Any, Rule::Public, |w| {
            let user = w.caller_name.as_deref().unwrap_or("other");
            w.post("/api/v1/login", json!({"user": user, "password": PASSWORD}))
        }),
        row("POST", "/api/v1/logout", Any, Rule::SignedIn, |w| w.post("/api/v1/logout", json!({}))),
        row("POST", "/api/v1/users.logout", Own, Rule::SignedIn, |w| w.post("/api/v1/users.logout", json!({}))),
        row("POST", "/api/v1/users.logout", Others, Rule::Needs(&[CreateUser]), |w| {
            w.post("/api/v1/users.logout", json!({"userId": w.other.user_id}))
        }),
        row("GET", "/api/v1/me", Any, Rule::SignedIn, |w| w.get("/api/v1/me")),
        row("POST", "/api/v1/users.create", Any, Rule::Needs(&[CreateUser]), |w| {
            let body = json!({"email": "new@example.com", "name": "New", "password": "pw", "username": "newbie"});
            w.post("/api/v1/users.create", body)
        }),
        row("GET", "/api/v1/livechat/inquiries.list", Any, Rule::Needs(&[ViewLivechatManager]), |w| {
            w.get("/api/v1/livechat/inquiries.list")
        }),
        row("POST", "/api/v1/livechat/inquiries.take", Own, Rule::NeedsAgent(&[ViewLRoom]), |w| {
            w.post("/api/v1/livechat/inquiries.take", json!({"inquiryId": w.waiting.inquiry}))
        }),
        row("POST", "/api/v1/livechat/inquiries.take", Others, Rule::Needs(&[ViewLRoom]), |w| {
            w.post(
                "/api/v1/livechat/inquiries.take",
                json!({"inquiryId": w.waiting.inquiry, "userId": w.other.user_id}),
            )
        }),
        row("GET", "/api/v1/livechat/inquiries.getOne", Own, Rule::Served(&[ViewLRoom]), |w| {
            w.get(&format!("/api/v1/livechat/inquiries.getOne?roomId={}", w.mine().rid))
        }),
        row("GET", "/api/v1/livechat/inquiries.getOne", Others, Rule::Needs(&[ViewLRoom]), |w| {
            w.get(&format!("/api/v1/livechat/inquiries.getOne?roomId={}", w.theirs.rid))
        }),
        row("GET", "/api/v1/livechat/inquiries.queuedForUser", Any, Rule::NeedsAgent(&[ViewLRoom]), |w| {
            w.get("/api/v1/livechat/inquiries.queuedForUser")
        }),
        row("POST", "/api/v1/livechat/inquiries.returnAsInquiry", Own, Rule::Served(&[ViewLRoom]), |w| {
            w.post("/api/v1/livechat/inquiries.returnAsInquiry", json!({"roomId": w.mine().rid}))
        }),
        row("POST", "/api/v1/livechat/inquiries.returnAsInquiry", Others, Rule::Needs(&[TransferLivechatGuest]), |w| {
            w.post("/api/v1/livechat/inquiries.returnAsInquiry", json!({"roomId": w.theirs.rid}))
        }),
        row("GET", "/api/v1/livechat/inquiries.position", Any, Rule::Needs(&[ViewLRoom]), |w| {
            w.get(&format!("/api/v1/livechat/inquiries.position?roomId={}", w.waiting.rid))
        }),
        row("GET", "/api/v1/livechat/inquiries.explain", Any, Rule::Needs(&[ViewLivechatManager]), |w| {
            w.get(&format!("/api/v1/livechat/inquiries.explain?inquiryId={}", w.waiting.inquiry))
        }),
        row("POST", "/api/v1/livechat/inquiries.setAttributes", Any, Rule::Needs(&[TransferLivechatGuest]), |w| {
            let body = json!({"inquiryId": w.waiting.inquiry, "attributes": {"topic": "billing"}});
            w.post("/api/v1/livechat/inquiries.setAttributes", body)
        }),
        row("GET", "/api/v1/livechat/users/agent", Any, Rule::Needs(&[ViewLivechatManager]), |w| {
            w.get("/api/v1/livechat/users/agent")
        }),
        row("POST", "/api/v1/livechat/users/agent", Any, Rule::Needs(&[ViewLivechatManager]), |w| {
            w.post("/api/v1/livechat/users/agent", json!({"username": "other"}))
        }),
        row("GET", "/api/v1/livechat/department", Any, Rule::Needs(&[ViewLRoom]), |w| {
            w.get("/api/v1/livechat/department")
        }),
        row("POST", "/api/v1/livechat/department", Any, Rule::Needs(&[ManageLivechatDepartments]), |w| {
            w.post("/api/v1/livechat/department", json!({"department": department("Billing")}))
        }),
        row("PUT", "/api/v1/livechat/department/{_id}", Any, Rule::Needs(&[ManageLivechatDepartments]), |w| {
            let path = format!("/api/v1/livechat/department/{}", w.sales_id);
            w.with_body("PUT", &path, json!({"department": department("Sales")}))
        }),
        row("POST", "/api/v1/livechat/agent.status", Own, Rule::NeedsAgent(&[ViewLRoom]), |w| {
            w.post("/api/v1/livechat/agent.status", json!({"status": "not-available"}))
        }),
        row("POST", "/api/v1/livechat/agent.status", Others, Rule::Needs(&[ManageLivechatAgents]), |w| {
            w.post("/api/v1/livechat/agent.status", json!({"status": "not-available", "agentId": w.other.user_id}))
        }),
        row("GET", "/api/v1/livechat/agent.attributes", Own, Rule::NeedsAgent(&[ViewLRoom]), |w| {
            w.get("/api/v1/livechat/agent.attributes")
        }),
        row("GET", "/api/v1/livechat/agent.attributes", Others, Rule::Needs(&[ViewLRoom, ViewLivechatManager]), |w| {
            w.get(&format!("/api/v1/livechat/agent.attributes?agentId={}", w.other.user_id))
        }),
        row("POST", "/api/v1/livechat/agent.attributes", Any, Rule::Needs(&[ManageLivechatAgents]), |w| {
            let body = json!({"agentId": w.other.user_id, "attributes": {"skills": ["billing"], "level": 3}});
            w.post("/api/v1/livechat/agent.attributes", body)
        }),
        row("POST", "/api/v1/livechat/visitor", Any, Rule::Public, |w| {
            w.post("/api/v1/livechat/visitor", json!({"visitor": {"token": "tok-visitor", "name": "V"}}))
        }),
        row("GET", "/api/v1/livechat/room", Any, Rule::Public, |w| {
            w.get(&format!("/api/v1/livechat/room?token={}", w.waiting.token))
        }),
        row("POST", "/api/v1/livechat/room.close", Any, Rule::Public, |w| {
            w.post("/api/v1/livechat/room.close", json!({"rid": w.waiting.rid, "token": w.waiting.token}))
        }),
        row("POST", "/api/v1/livechat/room.closeByUser", Own, Rule::Served(&[CloseLivechatRoom]), |w| {
            w.post("/api/v1/livechat/room.closeByUser", json!({"rid": w.mine().rid}))
        }),
        row("POST", "/api/v1/livechat/room.closeByUser", Others, Rule::Needs(&[CloseOthersLivechatRoom]), |w| {
            w.post("/api/v1/livechat/room.closeByUser", json!({"rid": w.theirs.rid}))
        }),
        row("POST", "/api/v1/livechat/room.forward", Own, Rule::Served(&[ViewLRoom, TransferLivechatGuest]), |w| {
            w.post("/api/v1/livechat/room.forward", json!({"roomId": w.mine().rid, "departmentId": w.sales_id}))
        }),
        row("POST", "/api/v1/livechat/room.forward", Others, Rule::Needs(&[ViewLRoom, TransferLivechatGuest]), |w| {
            w.post("/api/v1/livechat/room.forward", json!({"roomId": w.theirs.rid, "departmentId": w.sales_id}))
        }),
        row("POST", "/api/v1/livechat/inquiries.acceptOffer", Any, Rule::Refused(&[ViewLRoom]), |w| {
            w.post("/api/v1/livechat/inquiries.acceptOffer", json!({"inquiryId": w.waiting.inquiry}))
        }),
        row("POST", "/api/v1/livechat/inquiries.rejectOffer", Any, Rule::Refused(&[ViewLRoom]), |w| {
            w.post("/api/v1/livechat/inquiries.rejectOffer", json!({"inquiryId": w.waiting.inquiry}))
        }),
        row("POST", "/api/v1/livechat/room.onHold", Own, Rule::Served(&[OnHoldLivechatRoom]), |w| {
            w.post("/api/v1/livechat/room.onHold", json!({"roomId": w.mine().rid}))
        }),
        row(
            "POST",
            "/api/v1/livechat/room.onHold",
            Others,
            Rule::NeedsThenNotAllowedWithout(&[OnHoldLivechatRoom], OnHoldOthersLivechatRoom),
            |w| w.post("/api/v1/livechat/room.onHold", json!({"roomId": w.theirs.rid})),
        ),
        row("POST", "/api/v1/livechat/room.resumeOnHold", Own, Rule::ServedRefused(&[ViewLRoom]), |w| {
            w.post("/api/v1/livechat/room.resumeOnHold", json!({"roomId": w.mine().rid}))
        }),
        row("POST", "/api/v1/livechat/room.resumeOnHold", Others, Rule::Refused(&[ViewLRoom]), |w| {
            w.post("/api/v1/livechat/room.resumeOnHold", json!({"roomId": w.theirs.rid}))
        }),
        row("POST", "/api/v1/livechat/message", Any, Rule::Public, |w| {
            let body = json!({"token": w.waiting.token, "rid": w.waiting.rid, "msg": "hello"});
            w.post("/api/v1/livechat/message", body)
        }),
        row("POST", "/api/v1/chat.sendMessage", Own, Rule::Served(&[]), |w| {
            w.post("/api/v1/chat.sendMessage", json!({"message": {"rid": w.mine().rid, "msg": "hi"}}))
        }),
        row("POST", "/api/v1/chat.sendMessage", Others, Rule::NotAllowedWithout(ViewLivechatManager), |w| {
            w.post("/api/v1/chat.sendMessage", json!({"message": {"rid": w.theirs.rid, "msg": "hi"}}))
        }),
        row("GET", "/api/v1/livechat/inquiries.stream", Any, Rule::Needs(&[ViewLRoom]), |w| {
            w.get("/api/v1/livechat/inquiries.stream")
        }),
        row("POST", "/api/v1/livechat/inquiries.streamTicket", Any, Rule::SignedIn, |w| {
            w.post("/api/v1/livechat/inquiries.streamTicket", json!({}))
        }),
        row("GET", "/api/v1/livechat/queue", Any, Rule::Needs(&[ViewLRoom]), |w| w.get("/api/v1/livechat/queue")),
        row("GET", "/api/v1/livechat/inquiries.stats", Any, Rule::Needs(&[ViewLivechatManager]), |w| {
            w.get("/api/v1/livechat/inquiries.stats")
        }),
        row("GET", "/api/v1/livechat/inquiries.history", Any, Rule::Needs(&[ViewLRoom]), |w| {
            w.get(&format!("/api/v1/livechat/inquiries.history?inquiryId={}", w.theirs.inquiry))
        }),
        row("GET", "/metrics", Any, Rule::Public, |w| w.get("/metrics")),
        row("GET", "/", Any, Rule::Public, |w| w.get("/")),
        row("GET", "/console/console.css", Any, Rule::Public, |w| w.get("/console/console.css")),
        row("GET", "/console/console.js", Any, Rule::Public, |w| w.get("/console/console.js")),
    ]
}

fn department(name: &str) -> serde_json::Value {
    json!({"name": name, "email": "d@example.com", "enabled": true, "showOnRegistration": true, "showOnOfflineForm": true})
}

/// A conversation: its visitor's token, its inquiry and room ids.
#[derive(Debug, Clone)]
struct Conversation {
    token: String,
    inquiry: String,
    rid: String,
}

/// A freshly seeded server for one cell: the caller, another agent (`other`), a department
/// (`Sales`), and three conversations: one waiting, one the caller serves (agents only), one
/// `other` serves.
struct World {
    state: AppState,
    caller: Option<Login>,
    caller_name: Option<String>,
    other: Login,
    sales_id: String,
    waiting: Conversation,
    mine: Option<Conversation>,
    theirs: Conversation,
}

impl World {
    fn new(caller: Caller) -> Self {
        let state = AppState::new(StoreHandle::memory(), test_config());
        let engine = state.engine();
        let other = sign_up(&state, "other", &[Role::LIVECHAT_AGENT]);
        let (caller_login, caller_name) = match caller {
            Caller::Anonymous => (None, None),
            _ => {
                let login = sign_up(&state, "caller", caller.roles());
                if caller == Caller::NoRole {
                    let id = UserId::new(login.user_id.clone()).unwrap();
                    engine.set_roles(&Actor::System, &id, BTreeSet::new()).unwrap();
                }
                (Some(login), Some("caller".to_owned()))
            }
        };
        let (sales, _) = engine.create_department(&Actor::System, &DepartmentSettings::named("Sales"), &[]).unwrap();
        let open = |token: &str| {
            let details = VisitorDetails { token: token.into(), name: Some(token.into()), ..Default::default() };
            engine.register_visitor(&details).unwrap();
            let opened = engine.open_room(token, None).unwrap();
            Conversation {
                token: token.into(),
                inquiry: opened.inquiry.id.to_string(),
                rid: opened.inquiry.rid.to_string(),
            }
        };
        let waiting = open("tok-waiting");
        let theirs = open("tok-theirs");
        let mine = caller.is_agent().then(|| open("tok-mine"));
        engine.dispatch(&Actor::System).unwrap();
        let take = |login: &Login, conversation: &Conversation| {
            let agent = Actor::User(UserId::new(login.user_id.clone()).unwrap());
            let id = lobby_core::InquiryId::new(conversation.inquiry.clone()).unwrap();
            engine.take(&agent, &id, None).unwrap();
        };
        take(&other, &theirs);
        if let (Some(login), Some(conversation)) = (&caller_login, &mine) {
            take(login, conversation);
        }
        Self { state, caller: caller_login, caller_name, other, sales_id: sales.id.to_string(), waiting, mine, theirs }
    }

    fn mine(&self) -> &Conversation {
        self.mine.as_ref().expect("only agents serve conversations")
    }

    fn signed(&self, request: RawRequest) -> RawRequest {
        match &self.caller {
            Some(login) => request.auth(login),
            None => request,
        }
    }

    fn get(&self, target: &str) -> RawRequest {
        self.signed(RawRequest::new("GET", target))
    }

    fn post(&self, target: &str, body: serde_json::Value) -> RawRequest {
        self.with_body("POST", target, body)
    }

    fn with_body(&self, method: &str, target: &str, body: serde_json::Value) -> RawRequest {
        self.signed(RawRequest::new(method, target).json(&body))
    }
}

fn row_label(row: &Row) -> String {
    match row.scope {
        Scope::Any => format!("`{} {}`", row.method, row.path),
        scope => format!("`{} {}` ({})", row.method, row.path, scope.label()),
    }
}

/// The table as `docs/security.md` shows it.
fn render(rows: &[Row]) -> String {
    let mut out = String::from("| route | ");
    out.push_str(&Caller::ALL.map(Caller::label).join(" | "));
    out.push_str(" |\n|---|");
    out.push_str(&"---|".repeat(Caller::ALL.len()));
    out.push('\n');
    for row in rows {
        let cells: Vec<String> = Caller::ALL
            .iter()
            .map(|caller| match row.rule.expected(*caller) {
                Some(status) => status.to_string(),
                None => "—".to_owned(),
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", row_label(row), cells.join(" | "));
    }
    out
}

const START: &str = "<!-- permission-matrix:start (generated by crates/lobby-server/tests/server/permissions.rs) -->\n";
const END: &str = "<!-- permission-matrix:end -->";

#[test]
fn every_route_has_a_rule_and_every_rule_a_route() {
    let rows = rows();
    for route in ROUTES {
        let Route { method, path, access, .. } = *route;
        let mine: Vec<&Row> = rows.iter().filter(|row| row.method == method && row.path == path).collect();
        assert!(!mine.is_empty(), "{method} {path} has no row in the permission matrix: add one in permissions.rs");
        for row in &mine {
            let public = matches!(row.rule, Rule::Public);
            assert_eq!(public, access == Access::Public, "{method} {path}: the rule and the route table disagree");
        }
        let scopes: Vec<Scope> = mine.iter().map(|row| row.scope).collect();
        assert!(
            scopes == [Scope::Any] || scopes == [Scope::Own, Scope::Others],
            "{method} {path}: rows must be one (any) or two (own, others'): {scopes:?}"
        );
    }
    for row in &rows {
        assert!(
            ROUTES.iter().any(|route| route.method == row.method && route.path == row.path),
            "{} {} is in the matrix but not served",
            row.method,
            row.path
        );
    }
}

#[test]
fn permission_matrix_every_cell_answers_its_documented_status() {
    let rows = rows();
    let mut failures = Vec::new();
    let mut cells = 0;
    for row in &rows {
        for caller in Caller::ALL {
            let Some(expected) = row.rule.expected(caller) else { continue };
            let world = World::new(caller);
            let request = (row.request)(&world);
            let reply = InProcess::new(&world.state).send(&request).expect("no panic").expect("representable");
            cells += 1;
            if reply.status != expected {
                failures.push(format!(
                    "{} as {}: expected {expected}, got {} {}",
                    row_label(row),
                    caller.label(),
                    reply.status,
                    reply.text()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cells} cells differ:\n{}", failures.len(), failures.join("\n"));
    assert!(cells > 150, "{cells} cells");
}

#[test]
fn permission_matrix_is_the_one_in_docs_security_md() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/security.md");
    let doc = std::fs::read_to_string(&path).expect("docs/security.md");
    let table = render(&rows());
    let (Some(start), Some(end)) = (doc.find(START), doc.find(END)) else {
        panic!("docs/security.md lacks the permission-matrix markers");
    };
    let current = &doc[start + START.len()..end];
    if current == table {
        return;
    }
    if std::env::var_os("LOBBY_UPDATE_DOCS").is_some() {
        let updated = format!("{}{table}{}", &doc[..start + START.len()], &doc[end..]);
        std::fs::write(&path, updated).expect("write docs/security.md");
        return;
    }
    panic!(
        "docs/security.md's permission matrix is out of date; run with LOBBY_UPDATE_DOCS=1 to rewrite it. \
         The table the rules give:\n{table}"
    );
}

/// The other half of the doc: which roles hold each permission by default.
#[test]
fn default_permission_table_is_the_one_in_docs_security_md() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/security.md");
    let doc = std::fs::read_to_string(&path).expect("docs/security.md");
    let policy = PermissionPolicy::default();
    for permission in Permission::ALL {
        let mut roles: Vec<&str> = policy.roles_granting(permission).map(Role::as_str).collect();
        roles.sort_unstable();
        let line = format!("| `{}` | {} |", permission.as_str(), roles.join(", "));
        assert!(doc.contains(&line), "docs/security.md should list {line}");
    }
}
