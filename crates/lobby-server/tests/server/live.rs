//! Live operations over HTTP: the event stream (resume after a restart on sled and across two
//! servers on PostgreSQL, per-user filtering, tickets, a slow client), the statistics routes and
//! `/metrics`. Every wait is a condition with a generous ceiling; nothing sleeps to assert.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lobby_core::{
    Actor, Clock, DepartmentSettings, EventKind, EventQuery, EventSeq, ManualClock, NewInquiry, RoutingMethod,
    Timestamp, UserId, VisitorId, VisitorSummary,
};
use lobby_server::live::LiveConfig;
use lobby_server::security::SecurityConfig;
use lobby_server::stores::StoreHandle;
use lobby_server::{AppState, PasswordCost, RunningServer, ServerConfig};
use serde_json::{json, Value};

use crate::helpers::client::TestServer;
use crate::helpers::sse::{open, SseClient, SseEvent, StreamAuth};
use crate::helpers::Login;

const STREAM: &str = "/api/v1/livechat/inquiries.stream";

/// The event kinds a manager's stream carries: every change to an inquiry or an agent.
fn streamed(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Enqueued { .. }
            | EventKind::Transition { .. }
            | EventKind::MessageSent { .. }
            | EventKind::AgentChanged { .. }
            | EventKind::AgentRemoved { .. }
    )
}

/// The sequence numbers of the logged events after `after`, up to `until`, that a manager's
/// stream carries.
fn logged(state: &AppState, after: u64, until: u64) -> Vec<u64> {
    let events = state.store().events(&EventQuery::all().after(EventSeq(after))).unwrap();
    events.iter().filter(|e| e.seq.0 <= until && streamed(&e.event.kind)).map(|e| e.seq.0).collect()
}

/// Inquiry and agent events only (not `ready`, `snapshot`, heartbeats).
fn changes(events: &[SseEvent]) -> Vec<&SseEvent> {
    events.iter().filter(|e| e.name.is_empty() || e.name == "agent").collect()
}

fn ids(events: &[SseEvent]) -> Vec<u64> {
    changes(events).iter().map(|e| e.id.expect("every change has an id")).collect()
}

fn is_about(event: &SseEvent, rid: &str, kind: &str) -> bool {
    event.name.is_empty() && event.data["rid"] == rid && event.data["type"] == kind
}

fn status_is(event: &SseEvent, rid: &str, status: &str) -> bool {
    event.name.is_empty() && event.data["rid"] == rid && event.data["status"] == status
}

fn stream(server: &TestServer, login: &Login, last_event_id: Option<u64>) -> SseClient {
    open(server.server.addr(), STREAM, StreamAuth::Headers(login), last_event_id)
        .unwrap_or_else(|(status, body)| panic!("stream refused: {status} {body}"))
}

fn take(server: &TestServer, login: &Login, rid: &str) {
    let inquiry = server.wait_for_status(login, rid, "open");
    let taken = server.post("/api/v1/livechat/inquiries.take", Some(login), &json!({"inquiryId": inquiry["_id"]}));
    assert_eq!(taken.status, 200, "{}", taken.raw);
}

#[test]
fn a_stream_resumes_after_a_restart_on_sled_missing_nothing_and_repeating_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = lobby_server::stores::StoreSpec::parse("sled", &dir.path().join("data")).unwrap();
    let first = TestServer::start_on(spec.open().unwrap(), RoutingMethod::ManualSelection);
    let admin = first.admin();
    let mut client = stream(&first, &admin, None);
    let snapshot = client.next().expect("a snapshot first");
    assert_eq!(snapshot.name, "snapshot");
    assert_eq!(snapshot.data["inquiries"], json!([]));

    let (_, rid1) = first.visitor_with_room("sled-1", "Ana", None);
    let seen = client.until(|e| status_is(e, &rid1, "open"));
    assert!(seen.iter().any(|e| is_about(e, &rid1, "added")), "{seen:?}");
    let last_seen = seen.iter().filter_map(|e| e.id).max().unwrap();

    // The server stops: the stream ends (graceful shutdown closes it).
    let TestServer { server } = first;
    server.stop().expect("clean shutdown");
    assert_eq!(client.until(|_| false).iter().filter(|e| e.name.is_empty()).count(), 0);

    // While the client is away, the restarted server takes one conversation and opens another.
    let second = TestServer::start_on(spec.open().expect("the store is released"), RoutingMethod::ManualSelection);
    take(&second, &admin, &rid1);
    let (_, rid2) = second.visitor_with_room("sled-2", "Bo", None);
    second.wait_for_status(&admin, &rid2, "open");

    let mut resumed = stream(&second, &admin, Some(last_seen));
    let ready = resumed.next().expect("ready");
    assert_eq!((ready.name.as_str(), &ready.data["resumed"], ready.id), ("ready", &json!(true), Some(last_seen)));
    let mut received = resumed.until(|e| status_is(e, &rid2, "open"));
    // And live again: a close after the replay.
    let closed = second.post("/api/v1/livechat/room.closeByUser", Some(&admin), &json!({"rid": rid2}));
    assert_eq!(closed.status, 200, "{}", closed.raw);
    received.extend(resumed.until(|e| is_about(e, &rid2, "removed")));

    let got = ids(&received);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "strictly increasing, no repeats: {got:?}");
    assert!(got.iter().all(|id| *id > last_seen), "nothing from before the resume point: {got:?}");
    assert_eq!(got, logged(second.state(), last_seen, *got.last().unwrap()), "every change the log has, in order");
    assert!(received.iter().any(|e| status_is(e, &rid1, "taken")), "the take made while away");
}

#[test]
fn a_stream_resumes_on_another_postgres_server_missing_nothing_and_repeating_nothing() {
    let Ok(url) = std::env::var("LOBBY_TEST_POSTGRES_URL") else {
        assert!(std::env::var_os("CI").is_none(), "CI must provide LOBBY_TEST_POSTGRES_URL");
        eprintln!("skipped: LOBBY_TEST_POSTGRES_URL not set");
        return;
    };
    let first_store = lobby_postgres::PostgresStore::temporary(&url).expect("a temporary schema");
    let config = lobby_postgres::PostgresConfig { schema: first_store.schema().to_owned(), ..Default::default() };
    let second_store = lobby_postgres::PostgresStore::connect(&url, config).expect("the same schema");
    let a = TestServer::start_on(StoreHandle::new(Arc::new(first_store), "pg a"), RoutingMethod::ManualSelection);
    let b = TestServer::start_on(StoreHandle::new(Arc::new(second_store), "pg b"), RoutingMethod::ManualSelection);
    let admin = a.admin();

    // A stream on A sees what B commits.
    let mut on_a = stream(&a, &admin, None);
    assert_eq!(on_a.next().expect("snapshot").name, "snapshot");
    let (_, rid1) = b.visitor_with_room("pg-1", "Ana", None);
    let seen = on_a.until(|e| status_is(e, &rid1, "open"));
    assert!(seen.iter().any(|e| is_about(e, &rid1, "added")), "{seen:?}");
    let last_seen = seen.iter().filter_map(|e| e.id).max().unwrap();
    drop(on_a);

    // Away: A takes, B opens another.
    take(&a, &admin, &rid1);
    let (_, rid2) = b.visitor_with_room("pg-2", "Bo", None);
    b.wait_for_status(&admin, &rid2, "open");

    // Resumed on B, then live from A.
    let mut on_b = stream(&b, &admin, Some(last_seen));
    assert_eq!(on_b.next().expect("ready").name, "ready");
    let mut received = on_b.until(|e| status_is(e, &rid2, "open"));
    let closed = a.post("/api/v1/livechat/room.closeByUser", Some(&admin), &json!({"rid": rid2}));
    assert_eq!(closed.status, 200, "{}", closed.raw);
    received.extend(on_b.until(|e| is_about(e, &rid2, "removed")));

    let got = ids(&received);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "strictly increasing, no repeats: {got:?}");
    assert_eq!(got, logged(b.state(), last_seen, *got.last().unwrap()), "every change the log has, in order");
    assert!(received.iter().any(|e| status_is(e, &rid1, "taken")), "A's take, seen on B");
}

#[test]
fn streams_show_each_user_its_own_scope() {
    let server = TestServer::start();
    let admin = server.admin();
    let alice = server.agent("alice");
    let bob = server.agent("bob");
    let engine = server.state().engine();
    let id = |login: &Login| UserId::new(login.user_id.clone()).unwrap();
    engine.create_department(&Actor::System, &DepartmentSettings::named("Sales"), &[id(&alice)]).unwrap();
    engine.create_department(&Actor::System, &DepartmentSettings::named("Support"), &[id(&bob)]).unwrap();

    let mut streams: Vec<SseClient> = [&admin, &alice, &bob].iter().map(|login| stream(&server, login, None)).collect();
    for client in &mut streams {
        assert_eq!(client.next().expect("snapshot").name, "snapshot");
    }
    let (_, sales) = server.visitor_with_room("f-sales", "Sal", Some("Sales"));
    let (_, support) = server.visitor_with_room("f-support", "Sup", Some("Support"));
    let (_, public) = server.visitor_with_room("f-public", "Pub", None);
    server.wait_for_status(&admin, &sales, "open");
    // alice leaves and comes back: her own agent record changes.
    for status in ["not-available", "available"] {
        let reply = server.post("/api/v1/livechat/agent.status", Some(&alice), &json!({"status": status}));
        assert_eq!(reply.status, 200, "{}", reply.raw);
    }
    // Sales' conversation moves to Support's queue.
    let forwarded = server.post(
        "/api/v1/livechat/room.forward",
        Some(&admin),
        &json!({"roomId": sales, "departmentId": support_id(&server)}),
    );
    assert_eq!(forwarded.status, 200, "{}", forwarded.raw);
    // Everyone sees the public queue: a marker there ends each reading.
    let (_, marker) = server.visitor_with_room("f-marker", "End", None);
    let seen: Vec<Vec<SseEvent>> =
        streams.iter_mut().map(|client| client.until(|e| is_about(e, &marker, "added"))).collect();
    let rooms = |events: &[SseEvent]| -> BTreeSet<String> {
        events.iter().filter(|e| e.name.is_empty()).filter_map(|e| e.data["rid"].as_str().map(str::to_owned)).collect()
    };
    let set = |rids: &[&str]| rids.iter().map(|r| (*r).to_owned()).collect::<BTreeSet<_>>();
    assert_eq!(rooms(&seen[0]), set(&[&sales, &support, &public, &marker]), "the manager sees everything");
    assert_eq!(rooms(&seen[1]), set(&[&sales, &public, &marker]), "alice: Sales and the public queue");
    assert_eq!(rooms(&seen[2]), set(&[&sales, &support, &public, &marker]), "bob: Support (Sales' came over)");

    // alice learns that Sales' conversation left her queue, and nothing more about it.
    let gone: Vec<&SseEvent> = seen[1].iter().filter(|e| e.data["rid"] == sales.as_str()).collect();
    let last = gone.last().unwrap();
    assert_eq!(last.data["type"], "removed");
    assert_eq!(super::helpers::client::keys(&last.data), ["_id", "rid", "type"].map(String::from).into());
    // bob sees it arrive in Support, in full, with the event that moved it.
    let arrived = seen[2].iter().find(|e| e.data["rid"] == sales.as_str()).unwrap();
    assert_eq!(arrived.data["type"], "changed");
    assert_eq!(arrived.data["status"], "queued");
    assert_eq!(arrived.data["event"]["kind"]["transition"], "transfer-to-department");

    // Agent records: alice sees her own two changes; bob none of hers; the manager both.
    let agent_events = |events: &[SseEvent]| -> Vec<String> {
        events
            .iter()
            .filter(|e| e.name == "agent")
            .map(|e| e.data["statusLivechat"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(agent_events(&seen[1]), ["not-available", "available"]);
    assert!(agent_events(&seen[2]).is_empty());
    assert_eq!(agent_events(&seen[0]), ["not-available", "available"]);
    // Rocket.Chat's observer shape: the inquiry's own fields beside `type`.
    let added = seen[0].iter().find(|e| is_about(e, &public, "added")).unwrap();
    for field in ["_id", "rid", "name", "ts", "status", "v", "_updatedAt"] {
        assert!(added.data.get(field).is_some(), "{field} in {}", added.data);
    }
}

fn support_id(server: &TestServer) -> String {
    server.state().engine().resolve_department("Support").unwrap().id.to_string()
}

#[test]
fn tickets_open_streams_for_browsers_and_login_tokens_in_urls_do_not() {
    let server = TestServer::start();
    let admin = server.admin();
    let addr = server.server.addr();
    let ticket = server.post("/api/v1/livechat/inquiries.streamTicket", Some(&admin), &json!({}));
    assert_eq!(ticket.status, 200, "{}", ticket.raw);
    let ticket = ticket.body["ticket"].as_str().unwrap().to_owned();
    assert!(!ticket.contains(&admin.token), "the ticket is not the login token");

    let mut client = open(addr, &format!("{STREAM}?ticket={ticket}"), StreamAuth::None, None).expect("ticket works");
    assert_eq!(client.next().expect("snapshot").name, "snapshot");
    let refused = |path: String| match open(addr, &path, StreamAuth::None, None) {
        Ok(_) => panic!("{path} was accepted"),
        Err((status, body)) => (status, body),
    };
    let (status, body) = refused(format!("{STREAM}?ticket={ticket}x"));
    assert_eq!((status, body["status"].as_str()), (401, Some("error")));
    let (status, _) = refused(format!("{STREAM}?X-Auth-Token={}&X-User-Id={}", admin.token, admin.user_id));
    assert_eq!(status, 401, "a login token in the URL is never accepted");
    let (status, body) = refused(format!("{STREAM}?ticket={ticket}&token={}", admin.token));
    assert_eq!((status, body["errorType"].as_str()), (400, Some("invalid-params")));
    let (status, _) = refused(format!("{STREAM}?lastEventId=1"));
    assert_eq!(status, 401);

    // Signing out revokes the tickets made with that login.
    let logout = server.post("/api/v1/logout", Some(&admin), &json!({}));
    assert_eq!(logout.status, 200, "{}", logout.raw);
    let (status, _) = refused(format!("{STREAM}?ticket={ticket}"));
    assert_eq!(status, 401);
    // A user who may not view rooms gets 403.
    let plain = server.user("plain", &["user"]);
    match open(addr, STREAM, StreamAuth::Headers(&plain), None) {
        Err((status, _)) => assert_eq!(status, 403),
        Ok(_) => panic!("a plain user may not stream"),
    }
}

#[test]
fn a_ticket_stops_working_when_its_login_expires() {
    const START: i64 = 1_700_000_000_000;
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START), 0));
    let security = SecurityConfig { token_lifetime: Some(Duration::from_secs(3600)), ..SecurityConfig::default() };
    let server = TestServer::start_configured(ServerConfig {
        password_cost: PasswordCost::Fast,
        clock: Arc::clone(&clock) as Arc<dyn Clock>,
        security,
        ..ServerConfig::default()
    });
    let agent = server.user("ines", &["livechat-agent"]);
    let addr = server.server.addr();
    // Thirty seconds before the login expires, a ticket good for a minute.
    clock.advance(3600 * 1000 - 30_000);
    let ticket = server.post("/api/v1/livechat/inquiries.streamTicket", Some(&agent), &json!({}));
    assert_eq!(ticket.status, 200, "{}", ticket.raw);
    let ticket = ticket.body["ticket"].as_str().unwrap().to_owned();
    let client = open(addr, &format!("{STREAM}?ticket={ticket}"), StreamAuth::None, None);
    assert!(client.is_ok(), "the ticket works while its login stands");
    drop(client);
    // The ticket has half a minute left, its login none.
    clock.advance(30_000);
    match open(addr, &format!("{STREAM}?ticket={ticket}"), StreamAuth::None, None) {
        Err((status, _)) => assert_eq!(status, 401),
        Ok(_) => panic!("a ticket outlived its login"),
    }
}

#[test]
fn a_slow_client_is_disconnected_and_commits_never_wait_for_it() {
    let config = ServerConfig {
        routing: lobby_core::RoutingConfig { method: RoutingMethod::ManualSelection, ..Default::default() },
        password_cost: PasswordCost::Fast,
        live: LiveConfig { buffer: 16, ..LiveConfig::default() },
        ..ServerConfig::default()
    };
    let state = AppState::new(StoreHandle::memory(), config);
    let server = TestServer { server: RunningServer::start(state, "127.0.0.1:0".parse().unwrap()).unwrap() };
    let admin = server.admin();
    let mut slow = stream(&server, &admin, None);
    let start = slow.next().expect("snapshot").id.unwrap();
    let mut fast = stream(&server, &admin, None);
    fast.next().expect("snapshot");

    // Large conversations (16 KiB first messages) so that the slow client's socket buffers fill.
    const COUNT: usize = 800;
    let engine = Arc::clone(server.state().engine());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let committer = std::thread::spawn(move || {
        for n in 0..COUNT {
            let visitor =
                VisitorSummary::new(VisitorId::new(format!("slow-{n}")).unwrap(), "guest", format!("tok-{n}"));
            let mut new = NewInquiry::new(visitor, format!("Visitor {n}"));
            new.message = "x".repeat(16 * 1024);
            engine.enqueue(&Actor::System, new).expect("commits go on");
        }
        done_tx.send(()).unwrap();
    });

    // The fast client reads everything, reconnecting with Last-Event-ID whenever it is dropped
    // for falling behind, as EventSource does.
    let mut added = Vec::new();
    let mut last = start;
    let mut reconnects = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while added.len() < COUNT {
        assert!(Instant::now() < deadline, "the fast client got {} of {COUNT}", added.len());
        match fast.next() {
            Some(event) => {
                if let Some(id) = event.id {
                    last = last.max(id);
                }
                if event.name.is_empty() && event.data["type"] == "added" {
                    added.push(event.id.unwrap());
                }
            }
            None => {
                reconnects += 1;
                fast = stream(&server, &admin, Some(last));
            }
        }
    }
    done_rx.recv_timeout(Duration::from_secs(60)).expect("every commit completed");
    committer.join().unwrap();
    assert!(added.windows(2).all(|w| w[0] < w[1]), "each once, in order");
    assert_eq!(added.len(), COUNT);

    // The slow client, reading at last, finds its stream cut short.
    let mut slow_added = 0;
    while let Some(event) = slow.next() {
        slow_added += usize::from(event.data["type"] == "added");
    }
    assert!(
        slow_added < COUNT,
        "the slow client was disconnected ({slow_added} of {COUNT}, fast reconnects {reconnects})"
    );
    let metrics = ureq::get(&server.url("/metrics")).call().unwrap().into_string().unwrap();
    assert!(metrics.contains("lobby_stream_slow_disconnects_total"), "{metrics}");
}

/// Polls `inquiries.stats` until `ready` holds (the live thread applies commits shortly after
/// they are acknowledged).
fn stats_until(server: &TestServer, login: &Login, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = server.get("/api/v1/livechat/inquiries.stats", Some(login));
        assert_eq!(reply.status, 200, "{}", reply.raw);
        if ready(&reply.body) {
            return reply.body;
        }
        assert!(Instant::now() < deadline, "stats never got there: {}", reply.raw);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn statistics_queue_and_metrics_follow_the_commits() {
    let server = TestServer::start();
    let admin = server.admin();
    let alice = server.agent("alice");
    let (_, first) = server.visitor_with_room("st-1", "One", None);
    let (_, second) = server.visitor_with_room("st-2", "Two", None);
    server.wait_for_status(&admin, &second, "open");
    take(&server, &alice, &first);

    let stats = stats_until(&server, &admin, |s| s["windows"]["fiveMinutes"]["taken"] == 1);
    let now = &stats["now"];
    assert_eq!(now["waiting"], 1);
    assert_eq!(now["waitingByDepartment"], json!([{"_id": null, "name": null, "waiting": 1}]));
    assert_eq!(now["waitingByPriority"], json!([{"priorityWeight": 99, "waiting": 1}]));
    assert!(now["oldestWaitSeconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(now["agents"], json!({"total": 2, "available": 2, "eligible": 2}));
    let loads = now["agentLoads"].as_array().unwrap();
    let alice_load = loads.iter().find(|a| a["username"] == "alice").unwrap();
    assert_eq!(
        (alice_load["activeChats"].as_u64(), alice_load["statusLivechat"].as_str()),
        (Some(1), Some("available"))
    );
    for window in ["fiveMinutes", "oneHour", "today"] {
        let w = &stats["windows"][window];
        assert_eq!((w["entered"].as_u64(), w["taken"].as_u64(), w["abandoned"].as_u64()), (Some(2), Some(1), Some(0)));
        assert!(w["waitSeconds"]["p90"].as_f64().is_some(), "{w}");
        assert_eq!(w["serviceLevel"], 1.0, "taken within 20 s: {w}");
    }
    assert_eq!(stats["lastHour"].as_array().unwrap().last().unwrap()["waiting"], 1);
    let denied = server.get("/api/v1/livechat/inquiries.stats", Some(&alice));
    assert_eq!(denied.status, 403);
    let bad = server.get("/api/v1/livechat/inquiries.stats?serviceLevelSeconds=-1", Some(&admin));
    assert_eq!(bad.body["errorType"], "invalid-params");

    // Rocket.Chat's livechat/queue: served conversations per agent and department.
    let queue = server.get("/api/v1/livechat/queue", Some(&alice));
    assert_eq!(queue.status, 200, "{}", queue.raw);
    assert_eq!(
        queue.body,
        json!({"queue": [{"user": {"_id": alice.user_id, "username": "alice", "status": "online"},
            "department": {}, "chats": 1}], "count": 1, "offset": 0, "total": 1, "success": true})
    );
    let sorted = server.get("/api/v1/livechat/queue?sort=%7B%22ts%22%3A1%7D", Some(&alice));
    assert_eq!(sorted.body["errorType"], "error-invalid-sort");

    // The history behind one click: the take, with its actor.
    let inquiry = server.get(&format!("/api/v1/livechat/inquiries.getOne?roomId={first}"), Some(&alice));
    let id = inquiry.body["inquiry"]["_id"].as_str().unwrap();
    let history = server.get(&format!("/api/v1/livechat/inquiries.history?inquiryId={id}"), Some(&alice));
    let kinds: Vec<&str> =
        history.body["events"].as_array().unwrap().iter().map(|e| e["kind"]["what"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["enqueued", "transition", "transition"], "{}", history.raw);

    let metrics = ureq::get(&server.url("/metrics")).call().unwrap();
    assert!(metrics.content_type().starts_with("text/plain"));
    let text = metrics.into_string().unwrap();
    for line in [
        "lobby_queue_waiting{department=\"(public)\"} 1",
        "lobby_agents{status=\"available\"} 2",
        "# TYPE lobby_http_request_duration_seconds histogram",
        "route=\"/api/v1/livechat/inquiries.take\"",
        "# TYPE lobby_store_commit_duration_seconds histogram",
        "lobby_takes_total",
        "lobby_queue_oldest_wait_seconds",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}

#[test]
fn offers_show_on_the_stream_and_count_in_the_statistics() {
    let config = ServerConfig {
        routing: lobby_core::RoutingConfig { method: RoutingMethod::AutoSelection, ..Default::default() },
        timers: lobby_core::TimerConfig { offer_timeout: Some(Duration::from_secs(600)), ..Default::default() },
        dispatch_interval: Duration::from_millis(200),
        password_cost: PasswordCost::Fast,
        ..ServerConfig::default()
    };
    let server = TestServer::start_configured(config);
    let boss = server.user("boss", &["livechat-manager"]);
    let alice = server.agent("alice");
    let mut on_alice = stream(&server, &alice, None);
    assert_eq!(on_alice.next().expect("snapshot").name, "snapshot");

    // Offered to alice, the only agent: her stream shows it offered to her.
    let (_, first) = server.visitor_with_room("offer-1", "Olga", None);
    let offered = on_alice.until(|e| status_is(e, &first, "offered"));
    let offer = &offered.last().unwrap().data;
    assert_eq!(offer["offer"]["agent"]["_id"], alice.user_id.as_str(), "{offer}");
    let accepted =
        server.post("/api/v1/livechat/inquiries.acceptOffer", Some(&alice), &json!({"inquiryId": offer["_id"]}));
    assert_eq!(accepted.status, 200, "{}", accepted.raw);
    on_alice.until(|e| status_is(e, &first, "taken"));

    // The second one she declines: it goes back to the queue.
    let (_, second) = server.visitor_with_room("offer-2", "Piet", None);
    let offered = on_alice.until(|e| status_is(e, &second, "offered"));
    let id = offered.last().unwrap().data["_id"].clone();
    let declined = server.post("/api/v1/livechat/inquiries.rejectOffer", Some(&alice), &json!({"inquiryId": id}));
    assert_eq!(declined.status, 200, "{}", declined.raw);
    on_alice.until(|e| status_is(e, &second, "queued"));

    let stats = stats_until(&server, &boss, |s| s["windows"]["fiveMinutes"]["offers"]["rejected"] == 1);
    let window = &stats["windows"]["fiveMinutes"];
    assert_eq!(window["offers"], json!({"offered": 2, "accepted": 1, "rejected": 1, "timedOut": 0}), "{window}");
    assert_eq!((window["entered"].as_u64(), window["taken"].as_u64()), (Some(2), Some(1)));
    assert_eq!(stats["now"]["waiting"], 1, "the declined one waits again");
}
