//! Shared by the fuzz harness (`tests/fuzz.rs`) and the bad-input sweep (`tests/bad_input.rs`):
//! a seeded fixture (users, agents, departments, visitors and inquiries in every status), a
//! snapshot of the whole store to prove a rejected request wrote nothing, the envelope rules every
//! answer must follow, requests as raw parts (method, target, headers, body bytes) that can be
//! sent in-process through the router or as bytes over a plain TCP socket, and the replayable
//! corpus format.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, Uri};
use axum::Router;
use lobby_core::{
    Actor, AgentAvailability, DepartmentSettings, Event, EventQuery, EventSeq, InquiryId, InquiryStatus, NewUser,
    Record, RecordKind, Role, RoomId, RoutingConfig, RoutingMethod, UserId, Versioned, VisitorDetails,
};
use lobby_server::auth::new_login_token;
use lobby_server::stores::StoreHandle;
use lobby_server::{AppState, PasswordCost, ServerConfig};
use serde_json::{json, Map, Value};
use tower::ServiceExt as _;

/// The password of every fixture user.
pub const PASSWORD: &str = "correct horse";

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

/// Someone signed in.
#[derive(Debug, Clone)]
pub struct Login {
    pub user_id: String,
    pub token: String,
}

pub fn test_config() -> ServerConfig {
    ServerConfig {
        routing: RoutingConfig { method: RoutingMethod::ManualSelection, ..RoutingConfig::default() },
        // The dispatcher (over HTTP only) has nothing to do in the fixture: every inquiry is
        // already released. A long interval keeps it from running between snapshots anyway.
        dispatch_interval: Duration::from_secs(3600),
        password_cost: PasswordCost::Fast,
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
            let new = NewUser {
                username: username.to_owned(),
                name: format!("{username} name"),
                email: Some(format!("{username}@example.com")),
                password_hash: Some(state.passwords().hash(PASSWORD)),
                roles: roles.iter().map(|r| Role::new(*r).unwrap()).collect::<BTreeSet<_>>(),
                active: true,
            };
            let (user, _) = lobby_server::create_user(engine, &Actor::System, new).expect("fixture user");
            let (token, hash) = new_login_token();
            engine.add_login_token(&user.id, hash).unwrap();
            logins.insert(username, Login { user_id: user.id.to_string(), token });
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
            let inquiry = engine.get(&Actor::System, &id).unwrap().unwrap();
            assert_eq!(inquiry.status, status, "{stem}");
            let rid = RoomId::new(self.names[leak(format!("{stem}_rid"))].clone()).unwrap();
            assert_eq!(engine.get_by_room(&Actor::System, &rid).unwrap().unwrap().id, id);
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
    let events = store.events(&EventQuery { after: EventSeq(0), inquiry: None, limit: usize::MAX }).expect("events");
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

// ---------------------------------------------------------------------------------------------
// Requests and replies as raw parts
// ---------------------------------------------------------------------------------------------

/// A request as bytes-level parts, so that it can say anything a socket can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    pub method: String,
    /// Path and query, as sent on the request line.
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn new(method: &str, target: impl Into<String>) -> Self {
        Self { method: method.to_owned(), target: target.into(), headers: Vec::new(), body: Vec::new() }
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    pub fn auth(self, login: &Login) -> Self {
        self.header("X-User-Id", &login.user_id).header("X-Auth-Token", &login.token)
    }

    pub fn json(self, body: &Value) -> Self {
        self.raw_body("application/json", body.to_string().into_bytes())
    }

    pub fn raw_body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self = self.header("Content-Type", content_type);
        self.body = body;
        self
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The request as HTTP/1.1 bytes (with `Host`, `Content-Length` and `Connection: close`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(format!("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\n", self.method, self.target).as_bytes());
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// The request for the in-process router; `None` when `http` cannot even represent it (a
    /// target or header no client could send through a conforming library).
    pub fn to_http(&self) -> Option<Request<Body>> {
        let method = Method::from_bytes(self.method.as_bytes()).ok()?;
        let uri = Uri::try_from(self.target.as_str()).ok()?;
        let mut request = Request::builder().method(method).uri(uri).body(Body::from(self.body.clone())).ok()?;
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = HeaderValue::from_bytes(value).ok()?;
            request.headers_mut().append(name, value);
        }
        Some(request)
    }
}

#[derive(Debug, Clone)]
pub struct RawReply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl RawReply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends requests through the router in-process: no sockets, no dispatcher.
pub struct InProcess {
    runtime: tokio::runtime::Runtime,
    router: Router,
}

impl InProcess {
    pub fn new(state: &AppState) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Self { runtime, router: lobby_server::app(state.clone()) }
    }

    /// `Ok(None)`: the request cannot be represented. `Err`: the router panicked (the message).
    pub fn send(&self, request: &RawRequest) -> Result<Option<RawReply>, String> {
        let Some(http) = request.to_http() else { return Ok(None) };
        let router = self.router.clone();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.runtime.block_on(async move {
                let response = router.oneshot(http).await.expect("infallible");
                let status = response.status().as_u16();
                let content_type =
                    response.headers().get("content-type").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body").to_vec();
                RawReply { status, content_type, body }
            })
        }));
        outcome.map(Some).map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".to_owned())
        })
    }
}

/// Writes `bytes` on a fresh connection and reads the one answer (the request should say
/// `Connection: close`; the server closes after a malformed request anyway).
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<RawReply> {
    raw_exchange_within(addr, bytes, Duration::from_secs(10))
}

/// [`raw_exchange`], giving up after `timeout` without an answer.
pub fn raw_exchange_within(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> std::io::Result<RawReply> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // The server may answer (413, 400) and close before reading everything; a failed write is
    // fine as long as an answer arrives.
    let _ = stream.write_all(bytes);
    let _ = stream.flush();
    let mut received = Vec::new();
    let read = stream.read_to_end(&mut received);
    if received.is_empty() {
        read?;
        return Err(std::io::Error::other("connection closed without an answer"));
    }
    parse_response(&received, bytes.starts_with(b"HEAD "))
        .ok_or_else(|| std::io::Error::other(format!("unparseable answer: {:?}", String::from_utf8_lossy(&received))))
}

fn parse_response(bytes: &[u8], is_head: bool) -> Option<RawReply> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut content_type = None;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-type" => content_type = Some(value.to_owned()),
            "content-length" => content_length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let rest = &bytes[end + 4..];
    // An interim answer (`100 Continue`) comes before the real one, when there is one.
    if (100..200).contains(&status) && !rest.is_empty() {
        return parse_response(rest, is_head);
    }
    let body = if is_head {
        Vec::new()
    } else if chunked {
        dechunk(rest)?
    } else {
        match content_length {
            Some(n) => rest.get(..n)?.to_vec(),
            None => rest.to_vec(),
        }
    };
    Some(RawReply { status, content_type, body })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).ok()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The rules every answer follows
// ---------------------------------------------------------------------------------------------

/// Checks an answer against the contract: no 5xx; JSON; errors in Rocket.Chat's envelopes
/// (401 `{"status":"error","message":…}`, every other 4xx `{"success":false,"error":"…"}` with,
/// when present, an `errorType` that the error text ends with in brackets); successes carry
/// `"success":true` (login: `"status":"success"`). HEAD answers have no body to check.
pub fn check_reply(method: &str, reply: &RawReply) -> Result<(), String> {
    if reply.status >= 500 {
        return Err(format!("{} (server error): {}", reply.status, reply.text()));
    }
    if !(200..500).contains(&reply.status) || (300..400).contains(&reply.status) {
        return Err(format!("unexpected status {}: {}", reply.status, reply.text()));
    }
    if method.eq_ignore_ascii_case("HEAD") {
        return Ok(());
    }
    let essence = reply.content_type.as_deref().unwrap_or("").split(';').next().unwrap_or("").trim().to_owned();
    if essence != "application/json" {
        return Err(format!("{} with content type {:?}: {}", reply.status, reply.content_type, reply.text()));
    }
    let body: Value = serde_json::from_slice(&reply.body)
        .map_err(|e| format!("{}: body is not JSON ({e}): {}", reply.status, reply.text()))?;
    let Some(map) = body.as_object() else { return Err(format!("{}: body is not an object: {body}", reply.status)) };
    match reply.status {
        200..=299 => {
            if map.get("success") == Some(&Value::Bool(true)) || map.get("status") == Some(&json!("success")) {
                Ok(())
            } else {
                Err(format!("{} without \"success\":true: {body}", reply.status))
            }
        }
        401 => check_401(map).map_err(|e| format!("401 {e}: {body}")),
        _ => check_error_envelope(map).map_err(|e| format!("{} {e}: {body}", reply.status)),
    }
}

fn check_401(map: &Map<String, Value>) -> Result<(), String> {
    if map.get("status") != Some(&json!("error")) {
        return Err("lacks \"status\":\"error\"".into());
    }
    if !map.get("message").is_some_and(Value::is_string) {
        return Err("lacks a string \"message\"".into());
    }
    if let Some(extra) = map.keys().find(|k| !["status", "message", "error"].contains(&k.as_str())) {
        return Err(format!("has an unexpected field {extra:?}"));
    }
    Ok(())
}

fn check_error_envelope(map: &Map<String, Value>) -> Result<(), String> {
    if map.get("success") != Some(&Value::Bool(false)) {
        return Err("lacks \"success\":false".into());
    }
    let Some(error) = map.get("error").and_then(Value::as_str) else { return Err("lacks a string \"error\"".into()) };
    if error.is_empty() {
        return Err("has an empty error".into());
    }
    if let Some(error_type) = map.get("errorType") {
        let Some(error_type) = error_type.as_str() else { return Err("has a non-string errorType".into()) };
        if !error.ends_with(&format!(" [{error_type}]")) {
            return Err(format!("error does not end with [{error_type}]"));
        }
    }
    if let Some(extra) = map.keys().find(|k| !["success", "error", "errorType"].contains(&k.as_str())) {
        return Err(format!("has an unexpected field {extra:?}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

/// Every route of the API: method, path, whether it needs a login.
pub const ROUTES: &[(&str, &str, bool)] = &[
    ("POST", "/api/v1/login", false),
    ("GET", "/api/v1/me", true),
    ("POST", "/api/v1/users.create", true),
    ("GET", "/api/v1/livechat/inquiries.list", true),
    ("POST", "/api/v1/livechat/inquiries.take", true),
    ("GET", "/api/v1/livechat/inquiries.getOne", true),
    ("GET", "/api/v1/livechat/inquiries.queuedForUser", true),
    ("POST", "/api/v1/livechat/inquiries.returnAsInquiry", true),
    ("GET", "/api/v1/livechat/inquiries.position", true),
    ("GET", "/api/v1/livechat/users/agent", true),
    ("POST", "/api/v1/livechat/users/agent", true),
    ("GET", "/api/v1/livechat/department", true),
    ("POST", "/api/v1/livechat/department", true),
    ("POST", "/api/v1/livechat/agent.status", true),
    ("POST", "/api/v1/livechat/visitor", false),
    ("GET", "/api/v1/livechat/room", false),
    ("POST", "/api/v1/livechat/room.close", false),
    ("POST", "/api/v1/livechat/room.closeByUser", true),
];

/// The methods a path answers to (empty: unknown path).
pub fn methods_of(path: &str) -> Vec<&'static str> {
    ROUTES.iter().filter(|(_, p, _)| *p == path).map(|(m, _, _)| *m).collect()
}

pub fn needs_login(path: &str) -> bool {
    ROUTES.iter().any(|(_, p, auth)| *p == path && *auth)
}

// ---------------------------------------------------------------------------------------------
// Corpus entries
// ---------------------------------------------------------------------------------------------

/// One replayable input, as stored in `tests/fuzz-corpus/*.json`:
///
/// ```json
/// {"note": "why it is here", "method": "POST", "target": "/api/v1/livechat/inquiries.take",
///  "auth": "admin", "headers": {"X-Extra": "text" | {"hex": "ff00"}},
///  "content_type": "application/json",
///  "json": {...} | "text": "..." | "hex": "7b22",
///  "expect": 400, "expect_error_type": "invalid-params", "expect_fields": {"offset": 1},
///  "ignore": "bug: … (an open bug: replayed only by the ignored test)"}
/// ```
///
/// `auth` is a fixture user (`admin`, `alice`, `bob`, `plain`), `none`, `forged` (admin's
/// token with alice's id) or `wrong-token`. `{{name}}` placeholders in the target, header values
/// and the body name fixture objects (see [`Fixture::with_store`]). `content_type` defaults to
/// `application/json` when there is a body and no `Content-Type` header.
#[derive(Debug, Clone)]
pub struct CorpusEntry {
    pub file: String,
    pub note: String,
    pub spec: Value,
}

impl CorpusEntry {
    pub fn load_all(dir: &std::path::Path) -> Vec<CorpusEntry> {
        let mut entries = Vec::new();
        let mut paths: Vec<_> = std::fs::read_dir(dir).expect("corpus directory").map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
            let text = std::fs::read_to_string(&path).unwrap();
            let spec: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let note = spec["note"].as_str().unwrap_or_default().to_owned();
            entries.push(CorpusEntry { file, note, spec });
        }
        entries
    }

    /// The request this entry describes, against `fixture`.
    pub fn request(&self, fixture: &Fixture) -> RawRequest {
        let spec = &self.spec;
        let method = spec["method"].as_str().unwrap_or("GET");
        let target = fixture.expand(spec["target"].as_str().expect("target"));
        let mut request = RawRequest::new(method, target);
        match spec["auth"].as_str().unwrap_or("none") {
            "none" => {}
            "forged" => {
                request = request
                    .header("X-User-Id", &fixture.login("alice").user_id)
                    .header("X-Auth-Token", &fixture.login("admin").token)
            }
            "wrong-token" => {
                request =
                    request.header("X-User-Id", &fixture.login("admin").user_id).header("X-Auth-Token", "0".repeat(64))
            }
            user => request = request.auth(fixture.login(user)),
        }
        if let Some(headers) = spec["headers"].as_object() {
            for (name, value) in headers {
                let bytes = match value {
                    Value::String(text) => fixture.expand(text).into_bytes(),
                    other => from_hex(other["hex"].as_str().expect("header value: a string or {\"hex\":…}")),
                };
                request = request.header(name, bytes);
            }
        }
        let body = if let Some(json) = spec.get("json") {
            Some(fixture.expand(&json.to_string()).into_bytes())
        } else if let Some(text) = spec["text"].as_str() {
            Some(fixture.expand(text).into_bytes())
        } else {
            spec["hex"].as_str().map(from_hex)
        };
        if let Some(body) = body {
            let has_type = request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
            match spec["content_type"].as_str() {
                Some(content_type) => request = request.header("Content-Type", content_type),
                None if !has_type => request = request.header("Content-Type", "application/json"),
                None => {}
            }
            request.body = body;
        }
        request
    }

    /// Checks the entry's own expectations, beyond the general rules.
    pub fn check_expectations(&self, reply: &RawReply) -> Result<(), String> {
        if let Some(status) = self.spec["expect"].as_u64() {
            if u64::from(reply.status) != status {
                return Err(format!("expected {status}, got {}: {}", reply.status, reply.text()));
            }
        }
        if let Some(error_type) = self.spec["expect_error_type"].as_str() {
            if reply.json()["errorType"] != error_type {
                return Err(format!("expected errorType {error_type}: {}", reply.text()));
            }
        }
        if let Some(fields) = self.spec["expect_fields"].as_object() {
            let body = reply.json();
            for (name, value) in fields {
                if body[name] != *value {
                    return Err(format!("expected {name} = {value}: {}", reply.text()));
                }
            }
        }
        Ok(())
    }
}

pub fn from_hex(text: &str) -> Vec<u8> {
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    clean.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).expect("hex")).collect()
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The corpus directory of this crate.
pub fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus")
}
