//! Conversations over HTTP: visitor and agent messages, forwarding, departments' timer
//! overrides, and the timer loop firing a deadline on a manual clock (nothing here sleeps to wait
//! for a timer: the clock is moved, and the test waits only for the server to act).

use std::sync::Arc;
use std::time::Duration;

use lobby_core::{ManualClock, RoutingConfig, RoutingMethod, TimerConfig, Timestamp};
use lobby_server::stores::StoreHandle;
use lobby_server::{AppState, PasswordCost, RunningServer, ServerConfig};
use serde_json::{json, Value};

use crate::helpers::client::{Reply, TestServer};
use crate::helpers::Login;

fn error_type(reply: &Reply) -> &str {
    reply.body["errorType"].as_str().unwrap_or("")
}

fn department(server: &TestServer, admin: &Login, name: &str, extra: Value) -> String {
    let mut department = json!({"name": name, "email": "d@example.com", "enabled": true,
        "showOnRegistration": true, "showOnOfflineForm": true});
    department.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let created = server.post("/api/v1/livechat/department", Some(admin), &json!({ "department": department }));
    assert_eq!(created.status, 200, "{}", created.raw);
    created.body["department"]["_id"].as_str().unwrap().to_owned()
}

#[test]
fn visitors_and_agents_write_and_the_conversation_keeps_the_last_message() {
    let server = TestServer::start();
    let admin = server.admin();
    let (token, rid) = server.visitor_with_room("tok-1", "Marcos", None);
    let sent = server.post("/api/v1/livechat/message", None, &json!({"token": token, "rid": rid, "msg": "Hello?"}));
    assert_eq!(sent.status, 200, "{}", sent.raw);
    assert_eq!(sent.body["message"]["msg"], "Hello?");
    assert_eq!(sent.body["message"]["rid"], rid.as_str());
    assert_eq!(sent.body["message"]["token"], token.as_str());
    assert_eq!(sent.body["success"], true);

    let inquiry = server.wait_for_status(&admin, &rid, "open");
    assert_eq!(inquiry["lastMessage"]["msg"], "Hello?");
    assert_eq!(inquiry["waitingResponse"], true);
    let taken = server.post("/api/v1/livechat/inquiries.take", Some(&admin), &json!({"inquiryId": inquiry["_id"]}));
    assert_eq!(taken.status, 200, "{}", taken.raw);
    let reply = server.post("/api/v1/chat.sendMessage", Some(&admin), &json!({"message": {"rid": rid, "msg": "Hi!"}}));
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert_eq!(reply.body["message"]["u"]["_id"], admin.user_id.as_str());
    let after = server.get(&format!("/api/v1/livechat/inquiries.getOne?roomId={rid}"), Some(&admin));
    assert_eq!(after.body["inquiry"]["responseBy"]["_id"], admin.user_id.as_str());
    assert_eq!(after.body["inquiry"]["lastMessage"]["msg"], "Hi!");
    assert!(after.body["inquiry"].get("waitingResponse").is_none(), "answered: {}", after.raw);
    // The visitor's room carries the same.
    let room = server.get(&format!("/api/v1/livechat/room?token={token}&rid={rid}"), None);
    assert_eq!(room.body["room"]["lastMessage"]["msg"], "Hi!", "{}", room.raw);
    assert_eq!(room.body["room"]["responseBy"]["username"], "admin");
}

#[test]
fn messages_get_rocket_chat_errors_for_unknown_wrong_or_closed_rooms() {
    let server = TestServer::start();
    let admin = server.admin();
    let alice = server.agent("alice");
    let (token, rid) = server.visitor_with_room("tok-1", "Marcos", None);
    server.visitor_with_room("tok-2", "Ana", None);
    let post = |body: Value| server.post("/api/v1/livechat/message", None, &body);
    assert_eq!(error_type(&post(json!({"token": "nobody", "rid": rid, "msg": "x"}))), "invalid-token");
    assert_eq!(error_type(&post(json!({"token": "tok-2", "rid": rid, "msg": "x"}))), "invalid-room");
    assert_eq!(error_type(&post(json!({"token": token, "rid": "nowhere", "msg": "x"}))), "invalid-room");
    assert_eq!(error_type(&post(json!({"token": token, "rid": rid}))), "invalid-params");
    let send = |login: &Login, rid: &str| {
        server.post("/api/v1/chat.sendMessage", Some(login), &json!({"message": {"rid": rid, "msg": "x"}}))
    };
    assert_eq!(error_type(&send(&admin, "nowhere")), "error-invalid-room");
    assert_eq!(error_type(&send(&alice, &rid)), "error-not-allowed", "nobody serves it yet");
    let closed = server.post("/api/v1/livechat/room.close", None, &json!({"rid": rid, "token": token}));
    assert_eq!(closed.status, 200, "{}", closed.raw);
    let after = post(json!({"token": token, "rid": rid, "msg": "x"}));
    assert_eq!((after.status, error_type(&after)), (400, "room-closed"), "{}", after.raw);
}

#[test]
fn forwarding_follows_rocket_chat_rules_and_errors() {
    let server = TestServer::start();
    let admin = server.admin();
    let alice = server.agent("alice");
    let bob = server.agent("bob");
    let sales = department(&server, &admin, "Sales", json!({}));
    let (_, rid) = server.visitor_with_room("tok-1", "Marcos", None);
    let inquiry = server.wait_for_status(&admin, &rid, "open");
    let take = json!({"inquiryId": inquiry["_id"]});
    assert_eq!(server.post("/api/v1/livechat/inquiries.take", Some(&alice), &take).status, 200);
    let forward = |login: &Login, body: Value| server.post("/api/v1/livechat/room.forward", Some(login), &body);

    let to_bob = forward(&admin, json!({"roomId": rid, "userId": bob.user_id, "comment": "shift change"}));
    assert_eq!((to_bob.status, &to_bob.body), (200, &json!({"success": true})), "{}", to_bob.raw);
    let moved = server.get(&format!("/api/v1/livechat/inquiries.getOne?roomId={rid}"), Some(&admin));
    assert_eq!(moved.body["inquiry"]["servedBy"]["_id"], bob.user_id.as_str());

    let same = forward(&admin, json!({"roomId": rid, "userId": bob.user_id}));
    assert_eq!(error_type(&same), "error-selected-agent-room-agent-are-same");
    let unknown = forward(&admin, json!({"roomId": rid, "userId": "nobody"}));
    assert_eq!(error_type(&unknown), "error-user-is-offline");
    server.set_availability(&alice, lobby_core::AgentAvailability::NotAvailable);
    let offline = forward(&admin, json!({"roomId": rid, "userId": alice.user_id}));
    assert_eq!(error_type(&offline), "error-user-is-offline");
    assert_eq!(error_type(&forward(&admin, json!({"roomId": "nowhere", "userId": bob.user_id}))), "error-invalid-room");
    assert_eq!(error_type(&forward(&admin, json!({"roomId": rid}))), "error-forwarding-chat");
    assert_eq!(
        error_type(&forward(&admin, json!({"roomId": rid, "departmentId": "nowhere"}))),
        "error-invalid-department"
    );
    // An agent lacks transfer-livechat-guest (Rocket.Chat's default).
    assert_eq!(forward(&bob, json!({"roomId": rid, "departmentId": sales})).status, 403);

    // departmentId wins over userId: back to Sales' queue.
    let to_sales = forward(&admin, json!({"roomId": rid, "departmentId": sales, "userId": alice.user_id}));
    assert_eq!(to_sales.status, 200, "{}", to_sales.raw);
    let queued = server.get(&format!("/api/v1/livechat/inquiries.getOne?roomId={rid}"), Some(&admin));
    assert_eq!(queued.body["inquiry"]["department"], sales.as_str());
    assert!(queued.body["inquiry"].get("servedBy").is_none(), "{}", queued.raw);
    let again = forward(&admin, json!({"roomId": rid, "departmentId": sales}));
    assert_eq!(error_type(&again), "error-forwarding-chat-same-department");
    let closed = server.post("/api/v1/livechat/room.closeByUser", Some(&admin), &json!({"rid": rid}));
    assert_eq!(closed.status, 200, "{}", closed.raw);
    let after = forward(&admin, json!({"roomId": rid, "userId": bob.user_id}));
    assert_eq!(error_type(&after), "This_conversation_is_already_closed");
}

#[test]
fn departments_carry_their_own_timer_values() {
    let server = TestServer::start();
    let admin = server.admin();
    let id = department(&server, &admin, "Support", json!({"maxQueueWaitInSeconds": 120}));
    let listed = server.get("/api/v1/livechat/department", Some(&admin));
    let support = &listed.body["departments"][0];
    assert_eq!(
        (support["maxQueueWaitInSeconds"].clone(), support.get("autoTransferTimeoutInSeconds")),
        (json!(120), None)
    );
    let update = json!({"department": {"name": "Support", "email": "d@example.com", "enabled": true,
        "showOnRegistration": true, "showOnOfflineForm": true, "autoTransferTimeoutInSeconds": 0}});
    let updated = server.put(&format!("/api/v1/livechat/department/{id}"), Some(&admin), &update);
    assert_eq!(updated.status, 200, "{}", updated.raw);
    assert_eq!(updated.body["department"]["autoTransferTimeoutInSeconds"], 0, "0 turns it off for this department");
    assert!(updated.body["department"].get("maxQueueWaitInSeconds").is_none(), "absent: the server's value again");
    let too_long = json!({"department": {"name": "Support", "email": "d@example.com", "enabled": true,
        "showOnRegistration": true, "showOnOfflineForm": true, "maxQueueWaitInSeconds": 99_999_999}});
    let refused = server.put(&format!("/api/v1/livechat/department/{id}"), Some(&admin), &too_long);
    assert_eq!(error_type(&refused), "invalid-params");
    let missing = server.put("/api/v1/livechat/department/nowhere", Some(&admin), &update);
    assert_eq!(error_type(&missing), "error-invalid-department");
}

#[test]
fn the_timer_loop_fires_a_deadline_when_the_clock_reaches_it() {
    timer_loop_fires_a_deadline_on(StoreHandle::memory());
}

/// On PostgreSQL, subscribing to the feed reads the store with a blocking client; done on a
/// runtime thread it panicked and ended the timer loop, so no deadline ever fired.
#[test]
fn the_timer_loop_fires_a_deadline_on_postgres() {
    let Ok(url) = std::env::var("LOBBY_TEST_POSTGRES_URL") else {
        assert!(std::env::var_os("CI").is_none(), "CI must provide LOBBY_TEST_POSTGRES_URL");
        eprintln!("skipped: LOBBY_TEST_POSTGRES_URL not set");
        return;
    };
    let store = lobby_postgres::PostgresStore::temporary(&url).expect("a temporary schema");
    timer_loop_fires_a_deadline_on(StoreHandle::new(Arc::new(store), "postgres"));
}

fn timer_loop_fires_a_deadline_on(store: StoreHandle) {
    let start = Timestamp::from_millis(1_700_000_000_000);
    let clock = Arc::new(ManualClock::new(start, 0));
    let config = ServerConfig {
        routing: RoutingConfig { method: RoutingMethod::ManualSelection, ..RoutingConfig::default() },
        timers: TimerConfig { max_queue_wait: Some(Duration::from_secs(600)), ..TimerConfig::default() },
        dispatch_interval: Duration::from_millis(200),
        password_cost: PasswordCost::Fast,
        clock: clock.clone(),
        ..ServerConfig::default()
    };
    let state = AppState::new(store, config);
    let server =
        TestServer { server: RunningServer::start(state, "127.0.0.1:0".parse().unwrap()).expect("server starts") };
    let admin = server.admin();
    let (token, rid) = server.visitor_with_room("tok-1", "Marcos", None);
    server.wait_for_status(&admin, &rid, "open");
    let deadline = server.get(&format!("/api/v1/livechat/inquiries.getOne?roomId={rid}"), Some(&admin));
    assert_eq!(deadline.body["inquiry"]["deadlines"][0]["rule"], "queue-overflow");
    clock.advance(600_000);
    // The loop sleeps on the real clock; any commit wakes it to look again. (A wake-up still
    // pending from the release above may beat the nudge to it: then the room is closed already.)
    let nudge =
        server.post("/api/v1/livechat/message", None, &json!({"token": token, "rid": rid, "msg": "still there?"}));
    assert!(nudge.status == 200 || nudge.body["errorType"] == "room-closed", "{}", nudge.raw);
    let closed = server.wait_for_status(&admin, &rid, "closed");
    assert!(closed.get("deadlines").is_none(), "{closed}");
    // Closing freed the visitor to open a new conversation.
    let room = server.get(&format!("/api/v1/livechat/room?token={token}"), None);
    assert_eq!(room.body["newRoom"], true, "{}", room.raw);
}

fn offer_mode_server() -> TestServer {
    TestServer::start_configured(ServerConfig {
        routing: RoutingConfig { method: RoutingMethod::AutoSelection, ..RoutingConfig::default() },
        timers: TimerConfig { offer_timeout: Some(Duration::from_secs(600)), ..TimerConfig::default() },
        dispatch_interval: Duration::from_millis(200),
        password_cost: PasswordCost::Fast,
        ..ServerConfig::default()
    })
}

/// Polls the agent's queue until `check` accepts it (60 s at most: the dispatcher runs on its
/// own schedule).
fn queue_until(server: &TestServer, login: &Login, check: impl Fn(&Value) -> bool) -> Value {
    let ceiling = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let queue = server.get("/api/v1/livechat/inquiries.queuedForUser", Some(login));
        assert_eq!(queue.status, 200, "{}", queue.raw);
        if check(&queue.body) || std::time::Instant::now() > ceiling {
            return queue.body;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn offers_show_in_the_agents_queue_and_are_accepted_or_rejected_over_rest() {
    let server = offer_mode_server();
    let admin = server.admin();
    server.set_availability(&admin, lobby_core::AgentAvailability::NotAvailable);
    let alice = server.agent("alice");
    let (_, rid) = server.visitor_with_room("tok-1", "Marcos", None);
    let queue = queue_until(&server, &alice, |q| q["offers"].as_array().is_some_and(|o| !o.is_empty()));
    let offer = &queue["offers"][0];
    assert_eq!((offer["rid"].as_str(), offer["status"].as_str()), (Some(rid.as_str()), Some("offered")), "{queue}");
    assert_eq!(offer["offer"]["agent"]["_id"], alice.user_id.as_str());
    assert!(offer["offer"]["expiresAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{offer}");
    let id = offer["_id"].clone();

    let bob = server.agent("bob");
    let stolen = server.post("/api/v1/livechat/inquiries.take", Some(&bob), &json!({"inquiryId": id}));
    assert_eq!((stolen.status, error_type(&stolen)), (400, "error-inquiry-offered-to-another-agent"), "{}", stolen.raw);
    let not_bobs = server.post("/api/v1/livechat/inquiries.acceptOffer", Some(&bob), &json!({"inquiryId": id}));
    assert_eq!(error_type(&not_bobs), "error-inquiry-offered-to-another-agent");

    let declined = server.post("/api/v1/livechat/inquiries.rejectOffer", Some(&alice), &json!({"inquiryId": id}));
    assert_eq!(declined.status, 200, "{}", declined.raw);
    assert_eq!(declined.body["inquiry"]["offer"]["agent"]["_id"], bob.user_id.as_str(), "on to bob at once");
    let again = server.post("/api/v1/livechat/inquiries.acceptOffer", Some(&alice), &json!({"inquiryId": id}));
    assert_eq!(error_type(&again), "error-inquiry-offered-to-another-agent");
    let accepted = server.post("/api/v1/livechat/inquiries.acceptOffer", Some(&bob), &json!({"inquiryId": id}));
    assert_eq!(accepted.status, 200, "{}", accepted.raw);
    assert_eq!(accepted.body["inquiry"]["servedBy"]["_id"], bob.user_id.as_str());
    let twice = server.post("/api/v1/livechat/inquiries.acceptOffer", Some(&bob), &json!({"inquiryId": id}));
    assert_eq!(error_type(&twice), "error-no-pending-offer");
    let extra = server.post("/api/v1/livechat/inquiries.rejectOffer", Some(&bob), &json!({"inquiryId": id, "x": 1}));
    assert_eq!(error_type(&extra), "invalid-params");
}

#[test]
fn on_hold_and_resume_follow_rocket_chat_over_rest() {
    let server = TestServer::start();
    let admin = server.admin();
    let alice = server.agent("alice");
    let bob = server.agent("bob");
    let (token, rid) = server.visitor_with_room("tok-1", "Marcos", None);
    let inquiry = server.wait_for_status(&admin, &rid, "open");
    let hold =
        |login: &Login, rid: &str| server.post("/api/v1/livechat/room.onHold", Some(login), &json!({"roomId": rid}));
    let resume = |login: &Login, rid: &str| {
        server.post("/api/v1/livechat/room.resumeOnHold", Some(login), &json!({"roomId": rid}))
    };
    assert_eq!(error_type(&hold(&admin, &rid)), "error-unserved-rooms-cannot-be-placed-onhold");
    assert_eq!(
        server.post("/api/v1/livechat/inquiries.take", Some(&alice), &json!({"inquiryId": inquiry["_id"]})).status,
        200
    );
    server.post("/api/v1/livechat/message", None, &json!({"token": token, "rid": rid, "msg": "Hello?"}));
    assert_eq!(error_type(&hold(&alice, &rid)), "error-contact-sent-last-message-so-cannot-place-on-hold");
    server.post("/api/v1/chat.sendMessage", Some(&alice), &json!({"message": {"rid": rid, "msg": "One moment"}}));
    assert_eq!(error_type(&hold(&bob, &rid)), "Not_authorized");
    assert_eq!(error_type(&hold(&alice, "nowhere")), "error-invalid-room");
    assert_eq!(error_type(&resume(&alice, &rid)), "error-room-not-on-hold");
    let held = hold(&alice, &rid);
    assert_eq!((held.status, &held.body), (200, &json!({"success": true})), "{}", held.raw);
    assert_eq!(error_type(&hold(&alice, &rid)), "error-room-is-already-on-hold");
    let room = server.get(&format!("/api/v1/livechat/room?token={token}&rid={rid}"), None);
    assert_eq!(room.body["room"]["onHold"], true, "{}", room.raw);
    assert_eq!(resume(&alice, &rid).status, 200);
    let room = server.get(&format!("/api/v1/livechat/room?token={token}&rid={rid}"), None);
    assert!(room.body["room"].get("onHold").is_none(), "{}", room.raw);
    server.post("/api/v1/livechat/room.closeByUser", Some(&admin), &json!({"rid": rid}));
    assert_eq!(error_type(&hold(&alice, &rid)), "error-room-already-closed");
    assert_eq!(error_type(&resume(&alice, &rid)), "This_conversation_is_already_closed");
}

#[test]
fn departments_keep_business_hours_and_refuse_while_closed() {
    // Tuesday 2023-11-14, 22:13 in Lisbon: after hours.
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_700_000_000_000), 0));
    let server = TestServer::start_configured(ServerConfig {
        routing: RoutingConfig { method: RoutingMethod::ManualSelection, ..RoutingConfig::default() },
        dispatch_interval: Duration::from_millis(200),
        password_cost: PasswordCost::Fast,
        clock: clock.clone(),
        ..ServerConfig::default()
    });
    let admin = server.admin();
    let ana = server.agent("ana");
    let create = |hours: Value| {
        let department = json!({"name": "Support", "email": "d@example.com", "enabled": true,
            "showOnRegistration": true, "showOnOfflineForm": true, "businessHours": hours});
        let body = json!({ "department": department, "agents": [{"agentId": ana.user_id}] });
        server.post("/api/v1/livechat/department", Some(&admin), &body)
    };
    let weekdays = |timezone: &str, close: &str| {
        let days = ["monday", "tuesday", "wednesday", "thursday", "friday"];
        let intervals: Vec<Value> =
            days.iter().map(|day| json!({"day": day, "open": "09:00", "close": close})).collect();
        json!({"timezone": timezone, "intervals": intervals})
    };
    for (hours, field) in [
        (weekdays("Mars/Olympus_Mons", "17:00"), "businessHours.timezone"),
        (weekdays("Europe/Lisbon", "08:00"), "businessHours.intervals"),
        (
            json!({"timezone": "Europe/Lisbon", "intervals": [{"day": "someday", "open": "09:00", "close": "17:00"}]}),
            "businessHours",
        ),
    ] {
        let refused = create(hours);
        assert_eq!((refused.status, error_type(&refused)), (400, "invalid-params"), "{}", refused.raw);
        assert!(refused.body["error"].as_str().unwrap().contains(field), "{}", refused.raw);
    }

    let created = create(weekdays("Europe/Lisbon", "17:00"));
    assert_eq!(created.status, 200, "{}", created.raw);
    let support = &created.body["department"];
    assert_eq!(support["businessHours"]["timezone"], "Europe/Lisbon");
    assert_eq!(support["businessHours"]["whenClosed"], "refuse");
    assert_eq!(support["businessHours"]["intervals"][0], json!({"day": "monday", "open": "09:00", "close": "17:00"}));
    assert_eq!(support["open"], false, "closed at 22:13");
    let id = support["_id"].as_str().unwrap().to_owned();

    let status = server.post("/api/v1/livechat/agent.status", Some(&ana), &json!({"status": "available"}));
    assert_eq!((status.status, error_type(&status)), (400, "error-business-hours-are-closed"), "{}", status.raw);

    let visitor = json!({"visitor": {"token": "tok-1", "name": "Marcos", "department": id}});
    assert_eq!(server.post("/api/v1/livechat/visitor", None, &visitor).status, 200);
    let room = server.get("/api/v1/livechat/room?token=tok-1", None);
    assert_eq!((room.status, error_type(&room)), (400, "no-agent-online"), "{}", room.raw);

    // Wednesday 09:00 in Lisbon.
    clock.advance(38_800_000);
    let listed = server.get("/api/v1/livechat/department", Some(&admin));
    assert_eq!(listed.body["departments"][0]["open"], true, "{}", listed.raw);
    let status = server.post("/api/v1/livechat/agent.status", Some(&ana), &json!({"status": "available"}));
    assert_eq!(status.status, 200, "{}", status.raw);
}
