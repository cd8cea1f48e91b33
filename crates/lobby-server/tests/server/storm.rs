//! The cluster fault test: three `lobby-server` processes on one throwaway PostgreSQL of the
//! test's own (password-protected), a storm of takes, returns, forwards and closes from many
//! agents spread over all three, and meanwhile: backends terminated (repeatedly, so some die
//! mid-commit), one server killed with SIGKILL and restarted, and PostgreSQL restarted with
//! `pg_ctl restart -m immediate`. Then the history is checked: each conversation's operations
//! are linearizable against the state machine, every acknowledged operation is in the event
//! log, no conversation was ever served by two agents and no agent was over capacity, loads
//! equal what agents serve, every conversation ends closed exactly once (none lost, none
//! duplicated; unknown outcomes counted apart), the servers reconnected by themselves, a feed
//! that lived through it all saw every event once in order, failures were 503 envelopes within
//! the client's timeout, and no secret reached a log or a response body.
//!
//! Figures go to stderr (`cargo test -p lobby-server --test server storm -- --nocapture`).

#[path = "../../../lobby-postgres/tests/common/cluster.rs"]
mod cluster;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster::{Cluster, ClusterOptions};
use lobby_core::machine::TransitionKind;
use lobby_core::{EventKind, EventQuery, RecordKind, Store, UserId};
use lobby_postgres::{PostgresConfig, PostgresStore};
use rand::Rng;
use serde_json::{json, Value};

use crate::history::{linearizable, Answer, Conversation, ConversationOp, Entry};

const SERVERS: usize = 3;
const AGENTS: usize = 8;
const CAPACITY: usize = 3;
const STORM: Duration = Duration::from_secs(30);
/// The client's timeout: no request may take longer (the servers' own bound is the pool's
/// acquire timeout, 10 s, per store call).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const DB_PASSWORD: &str = "storm-db-secret-9";
const ADMIN_PASSWORD: &str = "storm-admin-pw-1";

fn agent_password(i: usize) -> String {
    format!("storm-agent-pw-{i}")
}

/// The servers, each on its own port, logging to its own file.
struct Servers {
    url: String,
    logs: PathBuf,
    ports: Vec<u16>,
    children: Vec<Option<Child>>,
}

impl Servers {
    fn start(url: &str, logs: &Path) -> Self {
        let mut servers = Self { url: url.to_owned(), logs: logs.to_owned(), ports: Vec::new(), children: Vec::new() };
        for i in 0..SERVERS {
            servers.ports.push(free_port());
            servers.children.push(None);
            servers.spawn(i);
        }
        for i in 0..SERVERS {
            servers.wait_ready(i);
        }
        servers
    }

    fn spawn(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log(i)).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_lobby-server"))
            .args(["--store", &self.url, "--bind", &format!("127.0.0.1:{}", self.ports[i])])
            .args(["--insecure-fast-password-hashing", "--dispatch-interval-ms", "200"])
            .args(["--max-chats-per-agent", &CAPACITY.to_string()])
            // Everything a careless build might print, to be searched for secrets afterwards.
            .env("RUST_LOG", "debug,hyper=info,hyper_util=info,h2=info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("lobby-server starts");
        self.children[i] = Some(child);
    }

    fn log(&self, i: usize) -> PathBuf {
        self.logs.join(format!("server-{i}.log"))
    }

    fn base(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let probe = ureq::get(&format!("{}/api/v1/me", self.base(i))).timeout(Duration::from_secs(2)).call();
            if matches!(probe, Err(ureq::Error::Status(401, _))) {
                return;
            }
            assert!(Instant::now() < deadline, "server {i} did not come up: {}", self.log_text(i));
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self, i: usize) -> String {
        std::fs::read_to_string(self.log(i)).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no flush.
    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn stop_all(&mut self) {
        for i in 0..SERVERS {
            if let Some(mut child) = self.children[i].take() {
                let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// How a request ended, as the client saw it.
#[derive(Debug, Clone)]
enum Reply {
    /// An HTTP answer.
    Answered { status: u16, body: Value, raw: String },
    /// The connection was refused: the request was never sent.
    Refused,
    /// Sent, and no answer (reset, closed, timed out): its effect is unknown.
    Lost { timed_out: bool },
}

fn call(method: &str, url: &str, login: Option<&(String, String)>, body: Option<&Value>) -> Reply {
    let agent = ureq::AgentBuilder::new().timeout(REQUEST_TIMEOUT).build();
    let mut request = agent.request(method, url);
    if let Some((user, token)) = login {
        request = request.set("X-User-Id", user).set("X-Auth-Token", token);
    }
    let result = match body {
        Some(body) => request.send_json(body.clone()),
        None => request.call(),
    };
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(transport)) => {
            if transport.kind() == ureq::ErrorKind::ConnectionFailed {
                return Reply::Refused;
            }
            let text = transport.to_string();
            return Reply::Lost { timed_out: text.contains("timed out") || text.contains("Timeout") };
        }
    };
    let status = response.status();
    let raw = response.into_string().unwrap_or_default();
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Reply::Answered { status, body, raw }
}

/// One operation of the storm on one conversation.
#[derive(Debug, Clone)]
struct Recorded {
    rid: String,
    op: ConversationOp,
    invoked: u64,
    completed: u64,
    /// `None`: unknown.
    answer: Option<Answer>,
}

/// Everything the client saw.
#[derive(Default)]
struct Log {
    ops: Vec<Recorded>,
    /// Every status answered, by code.
    statuses: BTreeMap<u16, usize>,
    /// Answers ≥ 500 that were not 503 envelopes.
    bad_failures: Vec<String>,
    unknown: usize,
    refused: usize,
    timed_out: usize,
    max_latency: Duration,
    /// Bodies of every answer but logins (which carry a token by design).
    bodies: Vec<String>,
    opened: Vec<(String, Option<String>)>,
}

struct Shared {
    start: Instant,
    log: Mutex<Log>,
    ports: Vec<u16>,
}

impl Shared {
    fn micros(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn base(&self, server: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[server])
    }

    /// Sends, records the reply's class, and maps it to an answer (`None`: unknown; the
    /// request was never sent is a refusal "not-sent").
    fn send(&self, method: &str, url: &str, login: &(String, String), body: Option<&Value>) -> (Reply, Option<Answer>) {
        let began = Instant::now();
        let reply = call(method, url, Some(login), body);
        let latency = began.elapsed();
        let mut log = self.log.lock().unwrap();
        log.max_latency = log.max_latency.max(latency);
        let answer = match &reply {
            Reply::Answered { status, body, raw } => {
                *log.statuses.entry(*status).or_default() += 1;
                log.bodies.push(raw.clone());
                if *status >= 500 {
                    let envelope = *status == 503 && body["success"] == false && body["errorType"].is_string();
                    if !envelope {
                        log.bad_failures.push(format!("{method} {url}: {status} {raw}"));
                    }
                    log.unknown += 1;
                    None
                } else if *status == 200 {
                    Some(Answer::Ok)
                } else {
                    let code = body["errorType"].as_str().unwrap_or("error-unauthorized").to_owned();
                    Some(Answer::Refused(code))
                }
            }
            Reply::Refused => {
                log.refused += 1;
                Some(Answer::Refused("not-sent".into()))
            }
            Reply::Lost { timed_out } => {
                log.unknown += 1;
                if *timed_out {
                    log.timed_out += 1;
                }
                None
            }
        };
        (reply, answer)
    }

    fn record(&self, rid: &str, op: ConversationOp, invoked: u64, answer: Option<Answer>) {
        let completed = self.micros();
        self.log.lock().unwrap().ops.push(Recorded { rid: rid.to_owned(), op, invoked, completed, answer });
    }
}

fn login(base: &str, user: &str, password: &str) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Reply::Answered { status: 200, body, .. } =
            call("POST", &format!("{base}/api/v1/login"), None, Some(&json!({"user": user, "password": password})))
        {
            return (
                body["data"]["userId"].as_str().unwrap().to_owned(),
                body["data"]["authToken"].as_str().unwrap().to_owned(),
            );
        }
        assert!(Instant::now() < deadline, "{user} cannot sign in");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn must(reply: Reply) -> Value {
    match reply {
        Reply::Answered { status: 200, body, .. } => body,
        other => panic!("setup call failed: {other:?}"),
    }
}

/// One agent's loop: take, return, forward (to an agent or the department) and close, on
/// random servers, until `stop`.
fn agent_loop(shared: &Shared, me: usize, logins: &[(String, String)], mine: &[Mutex<Vec<String>>], stop: &AtomicBool) {
    let mut rng = rand::thread_rng();
    let login = &logins[me];
    while !stop.load(Ordering::Relaxed) {
        let base = shared.base(rng.gen_range(0..SERVERS));
        let roll: u32 = rng.gen_range(0..100);
        let held: Vec<String> = mine[me].lock().unwrap().clone();
        if (roll < 45 && held.len() < CAPACITY) || held.is_empty() {
            // Take the first waiting conversation this server lists for me.
            let url = format!("{base}/api/v1/livechat/inquiries.queuedForUser?count=5");
            let (reply, _) = shared.send("GET", &url, login, None);
            let Reply::Answered { status: 200, body, .. } = reply else { continue };
            let Some(items) = body["inquiries"].as_array() else { continue };
            if items.is_empty() {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let item = &items[rng.gen_range(0..items.len())];
            let (Some(id), Some(rid)) = (item["_id"].as_str(), item["rid"].as_str()) else { continue };
            let invoked = shared.micros();
            let (_, answer) = shared.send(
                "POST",
                &format!("{base}/api/v1/livechat/inquiries.take"),
                login,
                Some(&json!({"inquiryId": id})),
            );
            if answer == Some(Answer::Ok) {
                mine[me].lock().unwrap().push(rid.to_owned());
            }
            shared.record(rid, ConversationOp::Take { by: me }, invoked, answer);
            continue;
        }
        let rid = held[rng.gen_range(0..held.len())].clone();
        let (op, path, body, to) = if roll < 60 {
            (ConversationOp::Return { by: me }, "inquiries.returnAsInquiry", json!({"roomId": rid}), None)
        } else if roll < 75 {
            let to = (me + rng.gen_range(1..AGENTS)) % AGENTS;
            let body = json!({"roomId": rid, "userId": logins[to].0});
            (ConversationOp::Forward { to: Some(to) }, "room.forward", body, Some(to))
        } else if roll < 80 {
            let body = json!({"roomId": rid, "departmentId": DEPARTMENT.lock().unwrap().clone()});
            (ConversationOp::Forward { to: None }, "room.forward", body, None)
        } else {
            (ConversationOp::Close, "room.closeByUser", json!({"rid": rid}), None)
        };
        let invoked = shared.micros();
        let (_, answer) = shared.send("POST", &format!("{base}/api/v1/livechat/{path}"), login, Some(&body));
        match &answer {
            // Not ours any more (or unknown: forget it; the final drain closes what is left).
            Some(Answer::Ok) | None => {
                mine[me].lock().unwrap().retain(|r| *r != rid);
                if let (Some(Answer::Ok), Some(to)) = (&answer, to) {
                    mine[to].lock().unwrap().push(rid.clone());
                }
            }
            Some(Answer::Refused(_)) => mine[me].lock().unwrap().retain(|r| *r != rid),
        }
        shared.record(&rid, op, invoked, answer);
    }
}

static DEPARTMENT: Mutex<String> = Mutex::new(String::new());

/// Visitors opening conversations on random servers, a few per second.
fn visitor_loop(shared: &Shared, stop: &AtomicBool) {
    let mut rng = rand::thread_rng();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) && n < 300 {
        n += 1;
        let token = format!("storm-visitor-{n}");
        let base = shared.base(rng.gen_range(0..SERVERS));
        let visitor =
            call("POST", &format!("{base}/api/v1/livechat/visitor"), None, Some(&json!({"visitor": {"token": token}})));
        let rid = match visitor {
            Reply::Answered { status: 200, .. } => {
                match call("GET", &format!("{base}/api/v1/livechat/room?token={token}"), None, None) {
                    Reply::Answered { status: 200, body, .. } => body["room"]["_id"].as_str().map(str::to_owned),
                    _ => None,
                }
            }
            _ => None,
        };
        shared.log.lock().unwrap().opened.push((token, rid));
        std::thread::sleep(Duration::from_millis(80));
    }
}

#[test]
fn cluster_fault_storm_keeps_every_promise() {
    let options = ClusterOptions { password: Some(DB_PASSWORD.into()), ..ClusterOptions::default() };
    let Some(db) = Cluster::start(options) else { return };
    let url = db.url();
    let logs = tempfile::tempdir().unwrap();

    // The first admin, through the binary (there is no user before it).
    let created = Command::new(env!("CARGO_BIN_EXE_lobby-server"))
        .args(["--store", &url, "--insecure-fast-password-hashing", "create-user", "--username", "admin"])
        .args(["--password", ADMIN_PASSWORD, "--name", "Admin", "--email", "admin@example.com"])
        .args(["--roles", "admin,livechat-manager"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));

    // A feed that lives through every fault, as each server's does.
    let observer = PostgresStore::connect(&url, PostgresConfig { pool_size: 2, ..PostgresConfig::default() }).unwrap();
    let feed = observer.subscribe().unwrap();

    let mut servers = Servers::start(&url, logs.path());
    let admin = login(&servers.base(0), "admin", ADMIN_PASSWORD);
    let department = must(call(
        "POST",
        &format!("{}/api/v1/livechat/department", servers.base(1)),
        Some(&admin),
        Some(&json!({"department": {"name": "Support", "email": "s@example.com", "enabled": true,
                     "showOnRegistration": true, "showOnOfflineForm": true}})),
    ));
    *DEPARTMENT.lock().unwrap() = department["department"]["_id"].as_str().unwrap().to_owned();
    let mut logins = Vec::new();
    for i in 0..AGENTS {
        let body = json!({"username": format!("agent{i}"), "name": format!("Agent {i}"), "email": format!("agent{i}@example.com"),
                          "password": agent_password(i), "roles": ["livechat-agent", "livechat-manager"]});
        must(call("POST", &format!("{}/api/v1/users.create", servers.base(i % SERVERS)), Some(&admin), Some(&body)));
        logins.push(login(&servers.base(i % SERVERS), &format!("agent{i}"), &agent_password(i)));
    }

    let shared =
        Arc::new(Shared { start: Instant::now(), log: Mutex::new(Log::default()), ports: servers.ports.clone() });
    let mine: Arc<Vec<Mutex<Vec<String>>>> = Arc::new((0..AGENTS).map(|_| Mutex::new(Vec::new())).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let logins = Arc::new(logins);
    let mut threads = Vec::new();
    for me in 0..AGENTS {
        let (shared, mine, stop, logins) =
            (Arc::clone(&shared), Arc::clone(&mine), Arc::clone(&stop), Arc::clone(&logins));
        threads.push(std::thread::spawn(move || agent_loop(&shared, me, &logins, &mine, &stop)));
    }
    {
        let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
        threads.push(std::thread::spawn(move || visitor_loop(&shared, &stop)));
    }

    // The faults, while the storm blows.
    let mut faults: Vec<String> = Vec::new();
    let mut terminated = 0;
    let at = |seconds: u64| shared.start + Duration::from_secs(seconds);
    let sleep_until = |when: Instant| std::thread::sleep(when.saturating_duration_since(Instant::now()));
    sleep_until(at(4));
    terminated += db.terminate("lobby");
    faults.push(format!("{:>5.1} s  pg_terminate_backend: every lobby session", shared.start.elapsed().as_secs_f64()));
    sleep_until(at(8));
    servers.kill(1);
    faults.push(format!("{:>5.1} s  kill -9 server 1", shared.start.elapsed().as_secs_f64()));
    sleep_until(at(10));
    servers.spawn(1);
    servers.wait_ready(1);
    faults.push(format!("{:>5.1} s  server 1 restarted and ready", shared.start.elapsed().as_secs_f64()));
    sleep_until(at(14));
    db.restart_immediate();
    faults.push(format!("{:>5.1} s  pg_ctl restart -m immediate (back up)", shared.start.elapsed().as_secs_f64()));
    sleep_until(at(20));
    // Sessions in the middle of a transaction, some at COMMIT: terminate active ones, often.
    let mut mid = 0;
    let until = at(23);
    while Instant::now() < until {
        let sql = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                   WHERE application_name = 'lobby' AND state IN ('active', 'idle in transaction')";
        let out = db.try_psql(sql);
        mid += String::from_utf8_lossy(&out.stdout).trim().parse::<usize>().unwrap_or(0);
        std::thread::sleep(Duration::from_millis(50));
    }
    terminated += mid;
    faults.push(format!(
        "{:>5.1} s  pg_terminate_backend on busy sessions for 3 s: {mid} ended",
        shared.start.elapsed().as_secs_f64()
    ));
    sleep_until(shared.start + STORM);
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }

    // The servers came back by themselves: each answers a signed-in call.
    for i in 0..SERVERS {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match call("GET", &format!("{}/api/v1/me", servers.base(i)), Some(&admin), None) {
                Reply::Answered { status: 200, .. } => break,
                other => assert!(Instant::now() < deadline, "server {i} did not recover: {other:?}"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    // Drain: the admin closes every conversation still open, through any server; recorded too.
    let opened: Vec<(String, Option<String>)> = shared.log.lock().unwrap().opened.clone();
    let known_rids: BTreeSet<String> = opened.iter().filter_map(|(_, rid)| rid.clone()).collect();
    for (n, rid) in known_rids.iter().enumerate() {
        let base = shared.base(n % SERVERS);
        let get =
            must(call("GET", &format!("{base}/api/v1/livechat/inquiries.getOne?roomId={rid}"), Some(&admin), None));
        if get["inquiry"]["status"] != "closed" {
            let invoked = shared.micros();
            let (_, answer) = shared.send(
                "POST",
                &format!("{base}/api/v1/livechat/room.closeByUser"),
                &admin,
                Some(&json!({"rid": rid})),
            );
            assert_eq!(answer, Some(Answer::Ok), "draining {rid}");
            shared.record(rid, ConversationOp::Close, invoked, answer);
        }
    }

    let store = PostgresStore::connect(&url, PostgresConfig { pool_size: 2, ..PostgresConfig::default() }).unwrap();
    let events = store.events(&EventQuery::all().limit(1_000_000)).unwrap();
    let log = std::mem::take(&mut *shared.log.lock().unwrap());

    // --- Every failure was a 503 envelope, in time. ---
    assert!(log.bad_failures.is_empty(), "failures that were not 503 envelopes:\n{}", log.bad_failures.join("\n"));
    assert_eq!(log.timed_out, 0, "requests hung past {REQUEST_TIMEOUT:?}");

    // --- Per conversation: linearizable, and in the event log. ---
    let mut by_rid: BTreeMap<String, Vec<&Recorded>> = BTreeMap::new();
    for op in &log.ops {
        by_rid.entry(op.rid.clone()).or_default().push(op);
    }
    let rid_of_inquiry: HashMap<String, String> = store
        .scan(RecordKind::Inquiry)
        .unwrap()
        .into_iter()
        .filter_map(|r| match r.value {
            lobby_core::Record::Inquiry(i) => Some((i.id.to_string(), i.rid.to_string())),
            _ => None,
        })
        .collect();
    let mut violations = Vec::new();
    for (rid, ops) in &by_rid {
        let history: Vec<Entry<ConversationOp, Answer>> = ops
            .iter()
            .map(|op| Entry {
                op: op.op.clone(),
                invoked: op.invoked,
                completed: op.answer.clone().map(|answer| (op.completed, answer)),
            })
            .collect();
        if history.len() > 64 {
            continue;
        }
        if !linearizable(&Conversation::Waiting, &history, |state| *state == Conversation::Closed) {
            let lines: Vec<String> = ops
                .iter()
                .map(|op| format!("    {:?} [{} .. {}] {:?}", op.op, op.invoked, op.completed, op.answer))
                .collect();
            violations.push(format!("{rid}: not linearizable:\n{}", lines.join("\n")));
        }
    }

    // --- The event log, replayed: one server at a time per conversation, within capacity. ---
    let mut serving: HashMap<String, Option<String>> = HashMap::new();
    let mut load: HashMap<String, usize> = HashMap::new();
    let mut transitions: HashMap<(String, &'static str, Option<String>), usize> = HashMap::new();
    for event in &events {
        let Some(inquiry) = &event.event.inquiry else { continue };
        let EventKind::Transition { transition, agent, previous_agent, .. } = &event.event.kind else { continue };
        let rid = rid_of_inquiry.get(inquiry.as_str()).cloned().unwrap_or_default();
        let current = serving.entry(rid.clone()).or_default();
        let agent = agent.as_ref().map(UserId::to_string);
        let previous = previous_agent.as_ref().map(UserId::to_string);
        let name = match transition {
            TransitionKind::Take | TransitionKind::Assign => {
                if current.is_some() {
                    violations
                        .push(format!("seq {}: {rid} taken by {agent:?} while {current:?} served it", event.seq.0));
                }
                "take"
            }
            TransitionKind::TransferToAgent => {
                if *current != previous {
                    violations
                        .push(format!("seq {}: {rid} moved from {previous:?} but {current:?} served it", event.seq.0));
                }
                "forward-agent"
            }
            TransitionKind::ReturnToQueue => "return",
            TransitionKind::TransferToDepartment => "forward-department",
            TransitionKind::Close => "close",
            TransitionKind::Release => "release",
            #[allow(unreachable_patterns)]
            _ => "other",
        };
        if let Some(was) = current.take() {
            *load.entry(was).or_default() -= 1;
        }
        if matches!(name, "take" | "forward-agent") {
            let who = agent.clone().unwrap_or_default();
            let n = load.entry(who.clone()).or_default();
            *n += 1;
            if *n > CAPACITY {
                violations.push(format!("seq {}: agent {who} over capacity ({n})", event.seq.0));
            }
            *current = agent.clone();
        }
        *transitions.entry((rid, name, agent)).or_default() += 1;
    }
    // Acknowledged operations are in the log; logged ones were asked for (ok or unknown).
    let mut expected: HashMap<(String, &'static str, Option<String>), (usize, usize)> = HashMap::new();
    for op in &log.ops {
        let key = match &op.op {
            ConversationOp::Take { by } => (op.rid.clone(), "take", Some(logins[*by].0.clone())),
            ConversationOp::Return { .. } => (op.rid.clone(), "return", None),
            ConversationOp::Forward { to: Some(to) } => (op.rid.clone(), "forward-agent", Some(logins[*to].0.clone())),
            ConversationOp::Forward { to: None } => (op.rid.clone(), "forward-department", None),
            ConversationOp::Close => (op.rid.clone(), "close", None),
        };
        let entry = expected.entry(key).or_default();
        match op.answer {
            Some(Answer::Ok) => entry.0 += 1,
            None => entry.1 += 1,
            Some(Answer::Refused(_)) => {}
        }
    }
    for ((rid, name, agent), (ok, unknown)) in &expected {
        let agent_key = if matches!(*name, "take" | "forward-agent") { agent.clone() } else { None };
        let logged = transitions
            .iter()
            .filter(|((r, n, a), _)| r == rid && n == name && (agent_key.is_none() || *a == agent_key))
            .map(|(_, count)| *count)
            .sum::<usize>();
        if logged < *ok || logged > ok + unknown {
            violations
                .push(format!("{rid} {name} {agent:?}: {ok} acknowledged, {unknown} unknown, {logged} in the log"));
        }
    }

    // --- Total queue: every conversation ends closed, once. ---
    let inquiries = store.scan(RecordKind::Inquiry).unwrap();
    let mut per_rid: HashMap<String, usize> = HashMap::new();
    let mut closed = 0;
    for record in &inquiries {
        if let lobby_core::Record::Inquiry(inquiry) = &record.value {
            *per_rid.entry(inquiry.rid.to_string()).or_default() += 1;
            if inquiry.status == lobby_core::InquiryStatus::Closed {
                closed += 1;
            }
        }
    }
    let acknowledged = opened.iter().filter(|(_, rid)| rid.is_some()).count();
    let unacknowledged: Vec<&String> = opened.iter().filter(|(_, rid)| rid.is_none()).map(|(t, _)| t).collect();
    let lost = known_rids.iter().filter(|rid| !per_rid.contains_key(*rid)).count();
    let duplicated = per_rid.values().filter(|n| **n > 1).count();
    let unknown_opens = unacknowledged.len();
    let recovered = inquiries.len() - per_rid.keys().filter(|rid| known_rids.contains(*rid)).count();
    assert_eq!(lost, 0, "acknowledged conversations missing");
    assert_eq!(duplicated, 0);
    assert_eq!(closed, inquiries.len(), "every conversation ends closed after the drain");
    assert!(recovered <= unknown_opens, "{recovered} conversations nobody acknowledged, {unknown_opens} unknown opens");

    // --- Loads and the store's own checks. ---
    let report = store.check_integrity().unwrap();
    if !report.problems.is_empty() {
        violations.push(format!("integrity: {:?}", report.problems));
    }
    let agents =
        must(call("GET", &format!("{}/api/v1/livechat/users/agent?count=100", servers.base(2)), Some(&admin), None));
    for agent in agents["users"].as_array().unwrap() {
        if agent["activeChats"] != 0 {
            violations.push(format!("after the drain {} still has {} chats", agent["username"], agent["activeChats"]));
        }
    }

    // --- The feed saw every event once, in order, through every fault. ---
    let last = events.last().map(|e| e.seq.0).unwrap_or(0);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.last().copied() != Some(last) && Instant::now() < deadline {
        if let Some(event) = feed.next_timeout(Duration::from_millis(200)) {
            seen.push(event.seq.0);
        }
    }
    let first = seen.first().copied().unwrap_or(1);
    let gapless: Vec<u64> = (first..=last).collect();
    assert_eq!(seen, gapless, "the feed skipped or repeated events");
    assert_eq!(events.iter().map(|e| e.seq.0).collect::<Vec<_>>(), (1..=last).collect::<Vec<_>>(), "the log has gaps");

    servers.stop_all();

    // --- No secret in any log or answer. ---
    let mut secrets: Vec<(String, String)> = vec![
        ("database password".into(), DB_PASSWORD.into()),
        ("admin password".into(), ADMIN_PASSWORD.into()),
        ("admin password digest".into(), lobby_server::auth::password_digest(ADMIN_PASSWORD)),
        ("admin token".into(), admin.1.clone()),
        ("admin token hash".into(), lobby_server::auth::token_hash(&admin.1)),
    ];
    for (i, (_, token)) in logins.iter().enumerate() {
        secrets.push((format!("agent {i} password"), agent_password(i)));
        secrets.push((format!("agent {i} token"), token.clone()));
        secrets.push((format!("agent {i} token hash"), lobby_server::auth::token_hash(token)));
    }
    for record in store.scan(RecordKind::User).unwrap() {
        if let lobby_core::Record::User(user) = record.value {
            if let Some(hash) = user.password_hash {
                secrets.push((format!("{}'s password hash", user.username), hash));
            }
            for entry in user.login_token_hashes {
                let hash = entry.split(':').next().unwrap_or_default().to_owned();
                secrets.push((format!("{}'s stored token", user.username), hash));
            }
        }
    }
    let mut log_bytes = 0;
    for i in 0..SERVERS {
        let text = servers.log_text(i);
        log_bytes += text.len();
        for (what, secret) in &secrets {
            assert!(!text.contains(secret.as_str()), "server {i}'s log holds the {what}");
        }
    }
    for body in &log.bodies {
        for (what, secret) in &secrets {
            assert!(!body.contains(secret.as_str()), "an answer holds the {what}: {body}");
        }
    }

    let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
    for op in &log.ops {
        if let Some(Answer::Refused(code)) = &op.answer {
            *refusals.entry(code.clone()).or_default() += 1;
        }
    }
    let total = log.ops.len();
    let ok = log.ops.iter().filter(|op| op.answer == Some(Answer::Ok)).count();
    let unknown_ops = log.ops.iter().filter(|op| op.answer.is_none()).count();
    eprintln!("cluster fault storm: {SERVERS} servers, {AGENTS} agents (capacity {CAPACITY}), {:?} storm", STORM);
    eprintln!("faults:\n  {}", faults.join("\n  "));
    eprintln!("refusals by errorType: {refusals:?}");
    eprintln!("sessions terminated: {terminated}");
    eprintln!(
        "conversation operations: {total} ({ok} ok, {} refused, {unknown_ops} unknown); requests by status: {:?}; \
         refused connections {}; max latency {:.1} s",
        total - ok - unknown_ops,
        log.statuses,
        log.refused,
        log.max_latency.as_secs_f64()
    );
    eprintln!(
        "conversations: {} opened ({acknowledged} acknowledged, {unknown_opens} not: refused or unknown, {recovered} of those found in the store), \
         {} closed; lost {lost}, duplicated {duplicated}",
        opened.len(),
        closed
    );
    eprintln!(
        "events {last}, feed saw {} in order; {} histories checked; logs {log_bytes} bytes searched for {} secrets",
        seen.len(),
        by_rid.len(),
        secrets.len()
    );
    assert!(violations.is_empty(), "{} violations:\n{}", violations.len(), violations.join("\n"));
    assert!(ok > 50, "the storm did too little: {ok} acknowledged operations");
    drop(store);
    drop(observer);
    drop(db);
}
