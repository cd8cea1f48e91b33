//! Routing rules over HTTP: departments carry them, a malformed expression is a 400 naming its
//! position, agents' and inquiries' attributes are read and set, explain answers, and a take
//! outside the rules is refused with its own code.

use serde_json::{json, Value};

use crate::helpers::client::TestServer;

fn department(name: &str, rules: Value) -> Value {
    json!({"department": {"name": name, "email": "d@example.com", "enabled": true, "showOnRegistration": true,
           "showOnOfflineForm": true, "routingRules": rules}})
}

#[test]
fn rules_attributes_explain_and_a_refused_take_over_http() {
    let server = TestServer::start();
    let admin = server.admin();
    let alice = server.agent("alice");

    let bad = server.post(
        "/api/v1/livechat/department",
        Some(&admin),
        &department("Broken", json!([{"expression": "level >= 3 AND AND vip == true"}])),
    );
    assert_eq!(bad.status, 400, "{}", bad.raw);
    assert_eq!(
        bad.body,
        json!({"success": false, "error": "unexpected token 'AND' at 15 [error-invalid-expression]",
               "errorType": "error-invalid-expression"})
    );
    let unknown_field = server.post(
        "/api/v1/livechat/department",
        Some(&admin),
        &department("Broken", json!([{"expression": "level >= 3", "wait": 5}])),
    );
    assert_eq!(unknown_field.status, 400, "{}", unknown_field.raw);

    let rules = json!([{"expression": "skills HAS task.topic AND level >= 3", "timeout": 600},
                       {"expression": "skills HAS task.topic", "priorityBoost": 2}]);
    let mut body = department("Billing", rules.clone());
    body["agents"] = json!([{"agentId": alice.user_id}]);
    let created = server.post("/api/v1/livechat/department", Some(&admin), &body);
    assert_eq!(created.status, 200, "{}", created.raw);
    assert_eq!(created.body["department"]["routingRules"], rules, "rules come back as given");

    // Agent attributes: set by a manager, read by the agent itself; bad ones refused.
    let attributes = json!({"skills": ["billing"], "level": 2});
    let set = server.post(
        "/api/v1/livechat/agent.attributes",
        Some(&admin),
        &json!({"agentId": alice.user_id, "attributes": attributes}),
    );
    assert_eq!(set.status, 200, "{}", set.raw);
    let own = server.get("/api/v1/livechat/agent.attributes", Some(&alice));
    assert_eq!(own.body, json!({"agentId": alice.user_id, "attributes": attributes, "success": true}));
    let by_alice = server.post(
        "/api/v1/livechat/agent.attributes",
        Some(&alice),
        &json!({"agentId": alice.user_id, "attributes": {"level": 9}}),
    );
    assert_eq!(by_alice.status, 403, "an agent may not raise its own level: {}", by_alice.raw);
    let mut deep = json!(1);
    for _ in 0..12 {
        deep = json!({ "a": deep });
    }
    let too_deep = server.post(
        "/api/v1/livechat/agent.attributes",
        Some(&admin),
        &json!({"agentId": alice.user_id, "attributes": deep}),
    );
    assert_eq!((too_deep.status, too_deep.body["errorType"].clone()), (400, json!("error-invalid-attributes")));

    // Inquiry attributes, then explain and a refused take.
    let (_, rid) = server.visitor_with_room("tok-billing", "Bea", Some("Billing"));
    let inquiry = server.wait_for_status(&admin, &rid, "open");
    let inquiry_id = inquiry["_id"].as_str().unwrap().to_owned();
    let set = server.post(
        "/api/v1/livechat/inquiries.setAttributes",
        Some(&admin),
        &json!({"inquiryId": inquiry_id, "attributes": {"topic": "billing"}}),
    );
    assert_eq!(set.status, 200, "{}", set.raw);
    assert_eq!(set.body["inquiry"]["attributes"], json!({"topic": "billing"}));

    let explained = server.get(&format!("/api/v1/livechat/inquiries.explain?inquiryId={inquiry_id}"), Some(&admin));
    assert_eq!(explained.status, 200, "{}", explained.raw);
    assert_eq!(explained.body["target"]["state"], "target");
    assert_eq!(explained.body["target"]["index"], 0);
    assert_eq!(explained.body["target"]["expression"], "skills HAS task.topic AND level >= 3");
    assert_eq!(explained.body["queuePosition"], 1);
    let verdicts = explained.body["agents"].as_array().unwrap();
    let alice_verdict = verdicts.iter().find(|v| v["username"] == "alice").expect("alice is explained");
    assert_eq!(
        alice_verdict["verdict"],
        json!({"verdict": "ineligible", "reason": {"why": "expression-false",
               "explanation": "expression false: `level >= 3` (level = 2)", "terms": ["level >= 3"]}})
    );
    let by_agent = server.get(&format!("/api/v1/livechat/inquiries.explain?inquiryId={inquiry_id}"), Some(&alice));
    assert_eq!(by_agent.status, 403, "{}", by_agent.raw);

    let take = server.post("/api/v1/livechat/inquiries.take", Some(&alice), &json!({"inquiryId": inquiry_id}));
    assert_eq!(take.status, 400, "{}", take.raw);
    assert_eq!(take.body["errorType"], "error-routing-rule-mismatch");
    let on_behalf = server.post(
        "/api/v1/livechat/inquiries.take",
        Some(&admin),
        &json!({"inquiryId": inquiry_id, "userId": alice.user_id}),
    );
    assert_eq!(on_behalf.status, 200, "a manager overrides the rules: {}", on_behalf.raw);
}

#[test]
fn a_visitor_declares_attributes_that_its_conversations_carry() {
    let server = TestServer::start();
    let admin = server.admin();
    let visitor = json!({"visitor": {"token": "tok-es", "name": "Eva", "attributes": {"language": "es"}}});
    let registered = server.post("/api/v1/livechat/visitor", None, &visitor);
    assert_eq!(registered.status, 200, "{}", registered.raw);
    let room = server.get("/api/v1/livechat/room?token=tok-es", None);
    assert_eq!(room.status, 200, "{}", room.raw);
    let rid = room.body["room"]["_id"].as_str().unwrap().to_owned();
    let inquiry = server.wait_for_status(&admin, &rid, "open");
    assert_eq!(inquiry["attributes"], json!({"language": "es"}));

    let not_object = json!({"visitor": {"token": "tok-bad", "attributes": ["es"]}});
    let refused = server.post("/api/v1/livechat/visitor", None, &not_object);
    assert_eq!(refused.status, 400, "{}", refused.raw);
}
