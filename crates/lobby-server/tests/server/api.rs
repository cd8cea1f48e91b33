//! End-to-end: a real server on 127.0.0.1:0, driven over HTTP.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use crate::helpers::client::{is_rc_timestamp, keys, send, TestServer};
use crate::helpers::PASSWORD;
use lobby_core::{AgentAvailability, RoutingMethod};
use serde_json::{json, Value};

const NOT_LOGGED_IN: &str = r#"{"message":"You must be logged in to do this.","status":"error"}"#;
const FORBIDDEN: &str =
    r#"{"error":"User does not have the permissions required for this action [error-unauthorized]","success":false}"#;

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn invalid_params(message: &str) -> Value {
    json!({"success": false, "error": format!("{message} [invalid-params]"), "errorType": "invalid-params"})
}

#[test]
fn the_seed_calls_return_the_documented_shapes() {
    seed_calls(TestServer::start());
}

#[test]
fn the_seed_calls_return_the_documented_shapes_on_sled() {
    seed_calls(TestServer::start_sled());
}

fn seed_calls(server: TestServer) {
    let admin = server.admin();
    let (_, rid) = server.visitor_with_room("tok-marcos", "Marcos Defendi", None);
    server.wait_for_status(&admin, &rid, "open");
    // One with a department, like the seed's examples.
    let created = server.post(
        "/api/v1/livechat/department",
        Some(&admin),
        &json!({"department": {"name": "Sales", "email": "s@example.com", "enabled": true,
                "showOnRegistration": true, "showOnOfflineForm": true}}),
    );
    assert_eq!(created.status, 200, "{}", created.raw);
    let department = created.body["department"]["_id"].as_str().unwrap().to_owned();
    let (_, rid2) = server.visitor_with_room("tok-ana", "Ana Souza", Some("Sales"));
    server.wait_for_status(&admin, &rid2, "open");

    // list
    let list = server.get("/api/v1/livechat/inquiries.list", Some(&admin));
    assert_eq!(list.status, 200, "{}", list.raw);
    assert_eq!(keys(&list.body), set(&["inquiries", "offset", "count", "total", "success"]));
    assert_eq!(
        (list.body["offset"].clone(), list.body["count"].clone(), list.body["total"].clone()),
        (json!(0), json!(2), json!(2))
    );
    assert_eq!(list.body["success"], true);
    let items = list.body["inquiries"].as_array().unwrap();
    // Default sort {"ts":-1}: newest first.
    assert_eq!(items[0]["rid"], rid2.as_str());
    assert_eq!(keys(&items[0]), set(&["_id", "rid", "name", "ts", "department", "status"]));
    assert_eq!(keys(&items[1]), set(&["_id", "rid", "name", "ts", "status"]));
    assert_eq!(items[0]["department"], department.as_str());
    assert_eq!(items[0]["status"], "open");
    assert_eq!(items[0]["name"], "Ana Souza");
    assert!(is_rc_timestamp(&items[0]["ts"]), "{}", items[0]["ts"]);
    // Filter by department name and by id.
    for filter in ["Sales", department.as_str()] {
        let page = server.get(&format!("/api/v1/livechat/inquiries.list?department={filter}"), Some(&admin));
        assert_eq!(page.body["total"], 1, "{}", page.raw);
    }
    // sort, offset, count
    let page = server.get("/api/v1/livechat/inquiries.list?sort=%7B%22ts%22%3A1%7D&offset=1&count=1", Some(&admin));
    assert_eq!(page.body["inquiries"][0]["rid"], rid2.as_str(), "{}", page.raw);
    assert_eq!((page.body["count"].clone(), page.body["total"].clone()), (json!(1), json!(2)));

    // take
    let inquiry_id = items[1]["_id"].as_str().unwrap();
    let take = server.post("/api/v1/livechat/inquiries.take", Some(&admin), &json!({"inquiryId": inquiry_id}));
    assert_eq!(take.status, 200, "{}", take.raw);
    assert_eq!(keys(&take.body), set(&["inquiry", "success"]));
    let inquiry = &take.body["inquiry"];
    for field in ["_id", "rid", "message", "name", "ts", "status", "v", "t", "_updatedAt"] {
        assert!(inquiry.get(field).is_some(), "take response lacks {field}: {}", take.raw);
    }
    assert_eq!(inquiry["_id"], inquiry_id);
    assert_eq!(inquiry["status"], "taken");
    assert_eq!(inquiry["t"], "l");
    assert_eq!(inquiry["message"], "");
    assert_eq!(inquiry["servedBy"]["_id"], admin.user_id.as_str());
    assert_eq!(keys(&inquiry["v"]), set(&["_id", "username", "token", "status"]));
    assert_eq!(inquiry["v"]["token"], "tok-marcos");
    for field in ["ts", "_updatedAt", "takenAt", "queuedAt"] {
        assert!(is_rc_timestamp(&inquiry[field]), "{field}: {}", inquiry[field]);
    }

    // getOne
    let one = server.get(&format!("/api/v1/livechat/inquiries.getOne?roomId={rid}"), Some(&admin));
    assert_eq!(one.status, 200, "{}", one.raw);
    assert_eq!(keys(&one.body), set(&["inquiry", "success"]));
    assert_eq!(one.body["inquiry"], *inquiry);
    let missing = server.get("/api/v1/livechat/inquiries.getOne?roomId=NoSuchRoom", Some(&admin));
    assert_eq!((missing.status, missing.body.clone()), (200, json!({"inquiry": null, "success": true})));
    let weird = server.get("/api/v1/livechat/inquiries.getOne?roomId=has%20space", Some(&admin));
    assert_eq!(weird.body, json!({"inquiry": null, "success": true}));

    // The taken inquiry left the open list.
    let list = server.get("/api/v1/livechat/inquiries.list", Some(&admin));
    assert_eq!(list.body["total"], 1);
    let taken = server.get("/api/v1/livechat/inquiries.list?status=taken", Some(&admin));
    assert_eq!(taken.body["inquiries"][0]["_id"], inquiry_id, "{}", taken.raw);
}

#[test]
fn authentication_failures_are_401_with_rocket_chat_bodies() {
    let server = TestServer::start();
    let admin = server.admin();
    for path in ["/api/v1/livechat/inquiries.list", "/api/v1/me"] {
        let reply = send("GET", &server.url(path), None, None);
        assert_eq!((reply.status, reply.raw.as_str()), (401, NOT_LOGGED_IN));
    }
    let wrong_token = crate::helpers::Login { user_id: admin.user_id.clone(), token: "0".repeat(64) };
    let wrong_user = crate::helpers::Login { user_id: "nobody".into(), token: admin.token.clone() };
    let bad_id = crate::helpers::Login { user_id: "has space".into(), token: admin.token.clone() };
    for login in [&wrong_token, &wrong_user, &bad_id] {
        let reply = server.get("/api/v1/livechat/inquiries.list", Some(login));
        assert_eq!((reply.status, reply.raw.as_str()), (401, NOT_LOGGED_IN), "{login:?}");
    }
    // POST routes too, and authentication comes before validation.
    let reply = server.post("/api/v1/livechat/inquiries.take", None, &json!({}));
    assert_eq!((reply.status, reply.raw.as_str()), (401, NOT_LOGGED_IN));

    // Login: username, email, Meteor digest; failures never say which part was wrong.
    for user in ["admin", "admin@example.com"] {
        let reply = server.post("/api/v1/login", None, &json!({"user": user, "password": PASSWORD}));
        assert_eq!(reply.status, 200, "{}", reply.raw);
        assert_eq!(reply.body["status"], "success");
        assert_eq!(reply.body["data"]["userId"], admin.user_id.as_str());
        assert_eq!(reply.body["data"]["me"]["username"], "admin");
        assert!(reply.body["data"]["me"].get("password_hash").is_none());
        let login = crate::helpers::Login {
            user_id: reply.body["data"]["userId"].as_str().unwrap().to_owned(),
            token: reply.body["data"]["authToken"].as_str().unwrap().to_owned(),
        };
        assert!(login.token.len() >= 43);
        let me = server.get("/api/v1/me", Some(&login));
        assert_eq!((me.status, me.body["_id"].clone()), (200, json!(admin.user_id)));
    }
    let digest = lobby_server::auth::password_digest(PASSWORD);
    let reply = server.post(
        "/api/v1/login",
        None,
        &json!({"username": "admin", "password": {"digest": digest, "algorithm": "sha-256"}}),
    );
    assert_eq!(reply.status, 200, "{}", reply.raw);
    let failed = json!({"status": "error", "message": "Unauthorized"});
    for body in [
        json!({"user": "admin", "password": "wrong"}),
        json!({"user": "nobody", "password": PASSWORD}),
        json!({"user": "nobody@example.com", "password": PASSWORD}),
    ] {
        let reply = server.post("/api/v1/login", None, &body);
        assert_eq!((reply.status, reply.body.clone()), (401, failed.clone()), "{body}");
    }
}

#[test]
fn logout_revokes_only_the_token_it_was_called_with() {
    let server = TestServer::start();
    let first = server.admin();
    let reply = server.post("/api/v1/login", None, &json!({"user": "admin", "password": PASSWORD}));
    let second = crate::helpers::Login {
        user_id: reply.body["data"]["userId"].as_str().unwrap().to_owned(),
        token: reply.body["data"]["authToken"].as_str().unwrap().to_owned(),
    };
    let reply = server.post("/api/v1/logout", Some(&first), &json!({}));
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert_eq!(reply.body["status"], "success");
    assert_eq!(server.get("/api/v1/me", Some(&first)).status, 401, "the revoked token no longer works");
    assert_eq!(server.get("/api/v1/me", Some(&second)).status, 200, "the other session is untouched");
    assert_eq!(server.post("/api/v1/logout", None, &json!({})).status, 401);
}

#[test]
fn a_user_created_inactive_cannot_sign_in() {
    let server = TestServer::start();
    let admin = server.admin();
    let body =
        json!({"email": "idle@example.com", "name": "Idle", "password": PASSWORD, "username": "idle", "active": false});
    let reply = server.post("/api/v1/users.create", Some(&admin), &body);
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert_eq!(reply.body["user"]["active"], false);
    let login = server.post("/api/v1/login", None, &json!({"user": "idle", "password": PASSWORD}));
    assert_eq!((login.status, login.body.clone()), (401, json!({"status": "error", "message": "Unauthorized"})));
}

#[test]
fn missing_permissions_are_403_and_validation_comes_first() {
    let server = TestServer::start();
    let agent = server.agent("agent1");
    let reply = server.get("/api/v1/livechat/inquiries.list", Some(&agent));
    assert_eq!((reply.status, reply.raw.as_str()), (403, FORBIDDEN));
    let reply = server.post(
        "/api/v1/users.create",
        Some(&agent),
        &json!({"email": "x@example.com", "name": "X", "password": "pw", "username": "x"}),
    );
    assert_eq!((reply.status, reply.raw.as_str()), (403, FORBIDDEN));
    // As in Rocket.Chat, the schema is checked before the permission.
    let reply = server.get("/api/v1/livechat/inquiries.list?foo=1", Some(&agent));
    assert_eq!((reply.status, reply.body), (400, invalid_params("must NOT have additional properties")));
    // A plain user cannot take.
    let plain = server.user("plain", &["user"]);
    let reply = server.post("/api/v1/livechat/inquiries.take", Some(&plain), &json!({"inquiryId": "x"}));
    assert_eq!((reply.status, reply.raw.as_str()), (403, FORBIDDEN));
}

#[test]
fn malformed_requests_get_400_envelopes_never_plain_text() {
    let server = TestServer::start();
    let admin = server.admin();
    let take = "/api/v1/livechat/inquiries.take";
    let cases = [
        (json!({}), "must have required property 'inquiryId'"),
        (json!({"inquiryId": "a", "extra": 1}), "must NOT have additional properties"),
        (json!({"inquiryId": {"$ne": 1}}), "must be string"),
        (json!({"inquiryId": "a", "userId": 5}), "must be string"),
    ];
    for (body, message) in cases {
        let reply = server.post(take, Some(&admin), &body);
        assert_eq!((reply.status, reply.body), (400, invalid_params(message)), "{body}");
    }
    let raw_cases: [(&str, Vec<u8>); 5] = [
        ("application/json", b"{\"inquiryId\":".to_vec()),
        ("application/json", b"[1,2]".to_vec()),
        ("application/json", vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']),
        ("text/plain", b"{\"inquiryId\":\"a\"}".to_vec()),
        ("application/x-www-form-urlencoded", b"inquiryId=a".to_vec()),
    ];
    for (content_type, body) in raw_cases {
        let reply = server.post_raw(take, Some(&admin), content_type, body.clone());
        assert_eq!(reply.status, 400, "{content_type} {:?}: {}", String::from_utf8_lossy(&body), reply.raw);
        assert_eq!(reply.body["errorType"], "invalid-params");
        assert_eq!(reply.body["success"], false);
    }
    // Too large: 413 with the envelope.
    let huge = json!({"inquiryId": "x".repeat(70 * 1024)}).to_string().into_bytes();
    let reply = server.post_raw(take, Some(&admin), "application/json", huge);
    assert_eq!(reply.status, 413, "{}", reply.raw);
    assert_eq!(reply.body["success"], false);
    // Ids that cannot exist.
    let reply = server.post(take, Some(&admin), &json!({"inquiryId": ""}));
    assert_eq!((reply.status, reply.body["errorType"].clone()), (400, json!("invalid-params")));
    let reply = server.post(take, Some(&admin), &json!({"inquiryId": "NoSuchInquiry"}));
    assert_eq!(
        (reply.status, reply.body),
        (
            400,
            json!({"success": false, "error": "Inquiry not found [error-not-found]", "errorType": "error-not-found"})
        )
    );

    // Query strings.
    let list = "/api/v1/livechat/inquiries.list";
    for (query, message) in [
        ("count=-1", "must be >= 0"),
        ("offset=-5", "must be >= 0"),
        ("count=abc", "must be number"),
        ("count=1.5", "must be integer"),
        ("count=1&count=2", "must be number"),
        ("fields=%7B%7D", "must NOT have additional properties"),
        ("status=ready", "must be equal to one of the allowed values"),
    ] {
        let reply = server.get(&format!("{list}?{query}"), Some(&admin));
        assert_eq!((reply.status, reply.body), (400, invalid_params(message)), "{query}");
    }
    for sort in ["%7B%22ts%22%3A2%7D", "%7B%22ts%22%3A1%2C%22name%22%3A1%7D", "%7B%22nope%22%3A1%7D", "ts", "%7B%7D"] {
        let reply = server.get(&format!("{list}?sort={sort}"), Some(&admin));
        assert_eq!(reply.status, 400, "{}", reply.raw);
        assert_eq!(reply.body["errorType"], "error-invalid-sort");
        assert!(reply.body["error"].as_str().unwrap().starts_with("Invalid sort parameter provided: \""));
    }
    let reply = server.get(&format!("{list}?department=Nowhere"), Some(&admin));
    assert_eq!(
        (reply.status, reply.body),
        (
            400,
            json!({"success": false, "error": "Department not found [error-invalid-department]", "errorType": "error-invalid-department"})
        )
    );
    let reply = server.get("/api/v1/livechat/inquiries.getOne", Some(&admin));
    assert_eq!((reply.status, reply.body), (400, invalid_params("must have required property 'roomId'")));

    // Unknown routes and methods.
    let reply = server.get("/api/v1/no.such.route", Some(&admin));
    assert_eq!((reply.status, reply.body), (404, json!({"success": false, "error": "Resource not found"})));
    let reply = server.get(take, Some(&admin));
    assert_eq!(reply.status, 405);
    assert_eq!(reply.body["success"], false);
}

#[test]
fn count_is_capped_at_100_and_total_counts_everything() {
    let server = TestServer::start();
    let admin = server.admin();
    let engine = server.state().engine();
    for i in 0..105 {
        let visitor = lobby_core::VisitorDetails {
            token: format!("bulk-{i}"),
            name: Some(format!("V{i}")),
            ..Default::default()
        };
        engine.register_visitor(&visitor).unwrap();
        engine.open_room(&visitor.token, None).unwrap();
    }
    engine.dispatch(&lobby_core::Actor::System).unwrap();
    let list = "/api/v1/livechat/inquiries.list";
    for (query, count) in
        [("", 50), ("?count=500", 100), ("?count=0", 100), ("?count=7", 7), ("?offset=100", 5), ("?offset=1000", 0)]
    {
        let reply = server.get(&format!("{list}{query}"), Some(&admin));
        assert_eq!(reply.status, 200, "{}", reply.raw);
        assert_eq!(reply.body["count"], count, "{query}");
        assert_eq!(reply.body["inquiries"].as_array().unwrap().len(), count, "{query}");
        assert_eq!(reply.body["total"], 105, "{query}");
    }
}

#[test]
fn take_on_behalf_and_double_take() {
    let server = TestServer::start();
    let admin = server.admin();
    let plain = server.user("plain", &["user"]);
    let bob = server.agent("bob");
    let (_, rid) = server.visitor_with_room("tok-1", "Visitor One", None);
    let inquiry = server.wait_for_status(&admin, &rid, "open");
    let id = inquiry["_id"].as_str().unwrap();
    let take = "/api/v1/livechat/inquiries.take";
    for user_id in [plain.user_id.as_str(), "NoSuchUser", "has space"] {
        let reply = server.post(take, Some(&admin), &json!({"inquiryId": id, "userId": user_id}));
        assert_eq!(reply.status, 400, "{}", reply.raw);
        assert!(reply.body["error"].as_str().unwrap().starts_with("The user is invalid"), "{}", reply.raw);
        assert_eq!(reply.body["errorType"], "error-invalid-user");
    }
    // An agent who is not available cannot be given the conversation.
    server.set_availability(&bob, AgentAvailability::NotAvailable);
    let reply = server.post(take, Some(&admin), &json!({"inquiryId": id, "userId": bob.user_id}));
    assert_eq!(reply.body["errorType"], "error-agent-status-service-offline", "{}", reply.raw);
    server.set_availability(&bob, AgentAvailability::Available);

    let reply = server.post(take, Some(&admin), &json!({"inquiryId": id, "userId": bob.user_id}));
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert_eq!(reply.body["inquiry"]["servedBy"]["_id"], bob.user_id.as_str());
    let again = server.post(take, Some(&admin), &json!({"inquiryId": id}));
    assert_eq!(
        (again.status, again.body),
        (
            400,
            json!({"success": false, "error": "Inquiry already taken [error-inquiry-taken]", "errorType": "error-inquiry-taken"})
        )
    );
}

#[test]
fn eight_concurrent_takes_have_exactly_one_winner() {
    concurrent_takes(TestServer::start());
}

#[test]
fn eight_concurrent_takes_have_exactly_one_winner_on_sled() {
    concurrent_takes(TestServer::start_sled());
}

fn concurrent_takes(server: TestServer) {
    let server = Arc::new(server);
    let admin = server.admin();
    let agents: Vec<_> = (0..8).map(|i| server.agent(&format!("agent{i}"))).collect();
    for round in 0..3 {
        let (_, rid) = server.visitor_with_room(&format!("race-{round}"), "Racer", None);
        let inquiry = server.wait_for_status(&admin, &rid, "open");
        let id = inquiry["_id"].as_str().unwrap().to_owned();
        let barrier = Arc::new(Barrier::new(agents.len()));
        let threads: Vec<_> = agents
            .iter()
            .cloned()
            .map(|agent| {
                let (server, barrier, id) = (Arc::clone(&server), Arc::clone(&barrier), id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    server.post("/api/v1/livechat/inquiries.take", Some(&agent), &json!({"inquiryId": id}))
                })
            })
            .collect();
        let replies: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {replies:?}");
        for loser in replies.iter().filter(|r| r.status != 200) {
            assert_eq!(loser.status, 400);
            assert_eq!(loser.body["errorType"], "error-inquiry-taken", "{}", loser.raw);
        }
        let served_by = winners[0].body["inquiry"]["servedBy"]["_id"].clone();
        let stored = server.wait_for_status(&admin, &rid, "taken");
        assert_eq!(stored["servedBy"]["_id"], served_by);
    }
}

#[test]
fn visitor_flow_from_room_to_close() {
    let server = TestServer::start();
    let admin = server.admin();
    let agent = server.agent("alice");

    let reply = server.post(
        "/api/v1/livechat/visitor",
        None,
        &json!({"visitor": {"token": "v-1", "name": "Vera", "email": "vera@example.com"}}),
    );
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert_eq!(reply.body["visitor"]["token"], "v-1");
    assert_eq!(reply.body["visitor"]["name"], "Vera");
    let visitor_id = reply.body["visitor"]["_id"].clone();
    // The same token again updates the same visitor.
    let reply = server.post("/api/v1/livechat/visitor", None, &json!({"visitor": {"token": "v-1", "name": "Vera V."}}));
    assert_eq!(
        (reply.body["visitor"]["_id"].clone(), reply.body["visitor"]["name"].clone()),
        (visitor_id, json!("Vera V."))
    );

    let unknown = server.get("/api/v1/livechat/room?token=nobody", None);
    assert_eq!((unknown.status, unknown.body["errorType"].clone()), (400, json!("invalid-token")), "{}", unknown.raw);

    let first = server.get("/api/v1/livechat/room?token=v-1", None);
    assert_eq!(first.status, 200, "{}", first.raw);
    assert_eq!(first.body["newRoom"], true);
    assert_eq!(first.body["room"]["t"], "l");
    assert_eq!(first.body["room"]["open"], true);
    assert!(is_rc_timestamp(&first.body["room"]["ts"]));
    let rid = first.body["room"]["_id"].as_str().unwrap().to_owned();
    let second = server.get("/api/v1/livechat/room?token=v-1", None);
    assert_eq!((second.body["newRoom"].clone(), second.body["room"]["_id"].clone()), (json!(false), json!(rid)));
    let by_rid = server.get(&format!("/api/v1/livechat/room?token=v-1&rid={rid}"), None);
    assert_eq!(by_rid.body["newRoom"], false, "{}", by_rid.raw);
    let wrong = server.get("/api/v1/livechat/room?token=v-1&rid=OtherRoom", None);
    assert_eq!((wrong.status, wrong.body["errorType"].clone()), (400, json!("invalid-room")));

    // The dispatcher releases it without anyone asking; the agent sees it in its queue.
    let inquiry = server.wait_for_status(&admin, &rid, "open");
    let list = server.get("/api/v1/livechat/inquiries.list", Some(&admin));
    assert!(list.body["inquiries"].as_array().unwrap().iter().any(|i| i["rid"] == rid.as_str()));
    let queue = server.get("/api/v1/livechat/inquiries.queuedForUser", Some(&agent));
    assert_eq!(queue.status, 200, "{}", queue.raw);
    assert_eq!(queue.body["total"], 1);
    assert_eq!(queue.body["inquiries"][0]["rid"], rid.as_str());

    let take = server.post("/api/v1/livechat/inquiries.take", Some(&agent), &json!({"inquiryId": inquiry["_id"]}));
    assert_eq!(take.status, 200, "{}", take.raw);
    let queue = server.get("/api/v1/livechat/inquiries.queuedForUser", Some(&agent));
    assert_eq!(queue.body["total"], 0);

    // Back to the queue, then released and taken again.
    let back = server.post("/api/v1/livechat/inquiries.returnAsInquiry", Some(&agent), &json!({"roomId": rid}));
    assert_eq!((back.status, back.body["result"].clone()), (200, json!(true)), "{}", back.raw);
    let inquiry = server.wait_for_status(&admin, &rid, "open");
    let take = server.post("/api/v1/livechat/inquiries.take", Some(&agent), &json!({"inquiryId": inquiry["_id"]}));
    assert_eq!(take.status, 200, "{}", take.raw);

    // The agent closes it; the visitor's next room is a new one.
    let close = server.post("/api/v1/livechat/room.closeByUser", Some(&agent), &json!({"rid": rid, "comment": "done"}));
    assert_eq!((close.status, close.body.clone()), (200, json!({"success": true})), "{}", close.raw);
    server.wait_for_status(&admin, &rid, "closed");
    let again = server.post("/api/v1/livechat/room.closeByUser", Some(&agent), &json!({"rid": rid}));
    assert_eq!(again.status, 400, "{}", again.raw);
    let next = server.get("/api/v1/livechat/room?token=v-1", None);
    assert_eq!(next.body["newRoom"], true);
    let next_rid = next.body["room"]["_id"].as_str().unwrap().to_owned();
    assert_ne!(next_rid, rid);

    // The visitor closes its own; another token cannot.
    let reply = server.post("/api/v1/livechat/room.close", None, &json!({"rid": next_rid, "token": "someone-else"}));
    assert_eq!(reply.status, 400, "{}", reply.raw);
    let reply = server.post("/api/v1/livechat/room.close", None, &json!({"rid": next_rid, "token": "v-1"}));
    assert_eq!(
        (reply.status, reply.body.clone()),
        (200, json!({"rid": next_rid, "comment": "Closed by visitor", "success": true}))
    );
    server.wait_for_status(&admin, &next_rid, "closed");
}

#[test]
fn operators_manage_users_agents_departments_and_status() {
    let server = TestServer::start();
    let admin = server.admin();
    let created = server.post(
        "/api/v1/users.create",
        Some(&admin),
        &json!({"email": "carol@example.com", "name": "Carol", "password": "pw-carol", "username": "carol", "roles": ["user"], "verified": true}),
    );
    assert_eq!(created.status, 200, "{}", created.raw);
    assert_eq!(created.body["user"]["username"], "carol");
    assert_eq!(created.body["user"]["active"], true);
    let carol_id = created.body["user"]["_id"].as_str().unwrap().to_owned();
    let dup = server.post(
        "/api/v1/users.create",
        Some(&admin),
        &json!({"email": "other@example.com", "name": "Carol", "password": "pw", "username": "Carol"}),
    );
    assert_eq!((dup.status, dup.body["errorType"].clone()), (400, json!("error-field-unavailable")), "{}", dup.raw);
    let missing = server.post(
        "/api/v1/users.create",
        Some(&admin),
        &json!({"email": "e@example.com", "name": "N", "password": "p"}),
    );
    assert_eq!(missing.body, invalid_params("must have required property 'username'"));

    // Carol logs in with the password given at creation.
    let login = server.post("/api/v1/login", None, &json!({"user": "carol", "password": "pw-carol"}));
    assert_eq!(login.status, 200, "{}", login.raw);

    // Make her an agent and put her in a department.
    let agent = server.post("/api/v1/livechat/users/agent", Some(&admin), &json!({"username": "carol"}));
    assert_eq!(
        (agent.status, agent.body["user"].clone()),
        (200, json!({"_id": carol_id, "username": "carol"})),
        "{}",
        agent.raw
    );
    let unknown = server.post("/api/v1/livechat/users/agent", Some(&admin), &json!({"username": "nobody"}));
    assert_eq!((unknown.status, unknown.body["errorType"].clone()), (400, json!("error-invalid-user")));
    let department = server.post(
        "/api/v1/livechat/department",
        Some(&admin),
        &json!({"department": {"name": "Support", "email": "s@example.com", "enabled": true, "showOnRegistration": true,
                "showOnOfflineForm": false, "maxNumberSimultaneousChat": 3, "somethingElse": "kept out"},
                "agents": [{"agentId": carol_id, "count": 0, "order": 0}]}),
    );
    assert_eq!(department.status, 200, "{}", department.raw);
    assert_eq!(department.body["department"]["name"], "Support");
    assert_eq!(department.body["department"]["maxNumberSimultaneousChat"], 3);
    assert_eq!(department.body["agents"][0]["agentId"], carol_id.as_str());
    let listed = server.get("/api/v1/livechat/department", Some(&admin));
    assert_eq!(
        (listed.body["total"].clone(), listed.body["departments"][0]["name"].clone()),
        (json!(1), json!("Support"))
    );
    let agents = server.get("/api/v1/livechat/users/agent?count=10", Some(&admin));
    assert_eq!(agents.status, 200, "{}", agents.raw);
    let usernames: Vec<_> = agents.body["users"].as_array().unwrap().iter().map(|u| u["username"].clone()).collect();
    assert_eq!(usernames, vec![json!("admin"), json!("carol")]);

    // Agent status: set, toggle, another agent's needs a manager.
    let carol = crate::helpers::Login {
        user_id: login.body["data"]["userId"].as_str().unwrap().to_owned(),
        token: login.body["data"]["authToken"].as_str().unwrap().to_owned(),
    };
    let status =
        |login: &crate::helpers::Login, body: Value| server.post("/api/v1/livechat/agent.status", Some(login), &body);
    assert_eq!(
        status(&carol, json!({"status": "not-available"})).body,
        json!({"status": "not-available", "success": true})
    );
    assert_eq!(status(&carol, json!({})).body, json!({"status": "available", "success": true}));
    assert_eq!(
        status(&carol, json!({"status": "busy"})).body,
        invalid_params("must be equal to one of the allowed values")
    );
    let other = status(&carol, json!({"status": "not-available", "agentId": admin.user_id}));
    assert_eq!((other.status, other.raw.as_str()), (403, FORBIDDEN));
    assert_eq!(status(&admin, json!({"status": "not-available", "agentId": carol_id})).body["status"], "not-available");
}

#[test]
fn automatic_routing_assigns_in_the_background() {
    let server = TestServer::start_with(RoutingMethod::LoadBalancing);
    let admin = server.admin();
    server.set_availability(&admin, AgentAvailability::NotAvailable);
    let agent = server.agent("alice");
    let (_, rid) = server.visitor_with_room("auto-1", "Auto", None);
    let inquiry = server.wait_for_status(&admin, &rid, "taken");
    assert_eq!(inquiry["servedBy"]["_id"], agent.user_id.as_str());
    let position = server.get(&format!("/api/v1/livechat/inquiries.position?roomId={rid}"), Some(&admin));
    assert_eq!(position.status, 400, "a taken conversation has no queue position: {}", position.raw);
}

#[test]
fn acknowledged_writes_survive_a_graceful_stop_on_sled() {
    let dir = tempfile::tempdir().unwrap();
    let spec = lobby_server::stores::StoreSpec::parse("sled", &dir.path().join("data")).unwrap();
    let server = TestServer::start_on(spec.open().unwrap(), RoutingMethod::ManualSelection);
    let admin = server.admin();
    let (_, rid) = server.visitor_with_room("durable", "Dora", None);
    let inquiry = server.wait_for_status(&admin, &rid, "open");
    let take = server.post("/api/v1/livechat/inquiries.take", Some(&admin), &json!({"inquiryId": inquiry["_id"]}));
    assert_eq!(take.status, 200, "{}", take.raw);
    let TestServer { server } = server;
    server.stop().expect("clean shutdown");

    let server = TestServer::start_on(spec.open().expect("the store is released"), RoutingMethod::ManualSelection);
    let login = crate::helpers::Login { user_id: admin.user_id.clone(), token: admin.token.clone() };
    let stored = server.wait_for_status(&login, &rid, "taken");
    assert_eq!(stored["servedBy"]["_id"], admin.user_id.as_str());
}

#[test]
fn graceful_stop_returns_cleanly() {
    let server = TestServer::start();
    let admin = server.admin();
    let reply = server.get("/api/v1/livechat/inquiries.list", Some(&admin));
    assert_eq!(reply.status, 200);
    let TestServer { server } = server;
    server.stop().expect("clean shutdown");
}
