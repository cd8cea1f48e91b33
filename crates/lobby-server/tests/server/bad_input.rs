//! The bad-input sweep: a real server on 127.0.0.1:0, spoken to over plain TCP sockets (so that
//! a request can carry any bytes, not only what an HTTP library agrees to send), fed malformed
//! JSON, wrong types, invalid UTF-8, oversized bodies and parameters, odd offsets, counts and
//! sorts, unknown and repeated parameters, failed authentication, wrong content types, wrong
//! methods and unknown routes.
//!
//! Every answer must be the documented 4xx with Rocket.Chat's envelope, never a 5xx, and the
//! store must be exactly as it was (all records with their versions, and the event log) after
//! each request and at the end. Requests that are not HTTP at all (a broken request line, a
//! header without a colon, raw bytes above 0x7f in the target, a 64 KiB target, a 400 KiB
//! header) are refused by hyper before they reach the router: those answers are bare (400, 414,
//! 431 without a body), which is checked as such; what matters there is no 5xx, no write, and a
//! server that carries on.

use std::time::Duration;

use lobby_server::routes::{Access, ROUTES};
use lobby_server::{RunningServer, BODY_LIMIT};
use serde_json::{json, Value};

use crate::helpers::fixture::{Fixture, Snapshot};
use crate::helpers::raw::{check_reply, raw_exchange, raw_exchange_within, RawReply, RawRequest};

const NOT_LOGGED_IN: &str = "You must be logged in to do this.";
const FORBIDDEN: &str = "User does not have the permissions required for this action [error-unauthorized]";

/// What a request must get.
#[derive(Debug, Clone)]
enum Expect {
    /// This status (and the envelope rules).
    Status(u16),
    /// This status and `errorType`.
    Error(u16, &'static str),
    /// This status and exactly this `error` text.
    Message(u16, String),
    /// Exactly this body.
    Body(u16, Value),
    /// Refused by hyper before routing: this status, no envelope to check.
    Refused(u16),
}

fn not_logged_in() -> Expect {
    Expect::Body(401, json!({"status": "error", "message": NOT_LOGGED_IN}))
}

fn forbidden() -> Expect {
    Expect::Body(403, json!({"success": false, "error": FORBIDDEN}))
}

fn invalid_params() -> Expect {
    Expect::Error(400, "invalid-params")
}

/// A server over a seeded fixture, a list of failures, and the store as it was at the start.
struct Sweep {
    fixture: Fixture,
    server: RunningServer,
    initial: Snapshot,
    failures: Vec<String>,
    sent: usize,
}

impl Sweep {
    fn start() -> Self {
        let fixture = Fixture::new();
        let server =
            RunningServer::start(fixture.state.clone(), "127.0.0.1:0".parse().unwrap()).expect("server starts");
        let initial = fixture.snapshot();
        Self { fixture, server, initial, failures: Vec::new(), sent: 0 }
    }

    fn admin(&self) -> crate::helpers::Login {
        self.fixture.login("admin").clone()
    }

    fn login(&self, name: &str) -> crate::helpers::Login {
        self.fixture.login(name).clone()
    }

    fn x(&self, text: &str) -> String {
        self.fixture.expand(text)
    }

    /// Sends `request` over a fresh connection and checks the answer and the store.
    fn check(&mut self, label: impl Into<String>, request: RawRequest, expect: Expect) -> Option<RawReply> {
        let method = request.method.clone();
        self.check_bytes(label, &method, request.to_bytes(), expect)
    }

    fn check_bytes(
        &mut self,
        label: impl Into<String>,
        method: &str,
        bytes: Vec<u8>,
        expect: Expect,
    ) -> Option<RawReply> {
        let label = label.into();
        self.sent += 1;
        let before = self.fixture.snapshot();
        let reply = match raw_exchange(self.server.addr(), &bytes) {
            Ok(reply) => reply,
            Err(error) => {
                self.failures.push(format!("{label}: no answer: {error}"));
                return None;
            }
        };
        let mut problems = Vec::new();
        if reply.status >= 500 {
            problems.push(format!("server error {}", reply.status));
        }
        if !matches!(expect, Expect::Refused(_)) {
            if let Err(e) = check_reply(method, &reply) {
                problems.push(e);
            }
        }
        let body = reply.json();
        let status_ok = match &expect {
            Expect::Status(s)
            | Expect::Error(s, _)
            | Expect::Message(s, _)
            | Expect::Body(s, _)
            | Expect::Refused(s) => reply.status == *s,
        };
        if !status_ok {
            problems.push(format!("expected {expect:?}, got {}", reply.status));
        }
        match &expect {
            Expect::Error(_, error_type) if body["errorType"] != *error_type => {
                problems.push(format!("expected errorType {error_type}"))
            }
            Expect::Message(_, message) if body["error"] != message.as_str() => {
                problems.push(format!("expected error {message:?}"))
            }
            Expect::Body(_, expected) if body != *expected => problems.push(format!("expected body {expected}")),
            _ => {}
        }
        let after = self.fixture.snapshot();
        if after != before {
            problems.push(format!("the store changed: {}", before.diff(&after)));
        }
        if !problems.is_empty() {
            let shown: String = reply.text().chars().take(300).collect();
            self.failures.push(format!("{label}: {} -> {} {shown}", problems.join("; "), reply.status));
        }
        Some(reply)
    }

    /// Checks the server still serves, the store is as it was at the start, and reports.
    fn finish(self) {
        let Sweep { fixture, server, initial, mut failures, sent } = self;
        let me = RawRequest::new("GET", "/api/v1/me").auth(fixture.login("admin"));
        match raw_exchange(server.addr(), &me.to_bytes()) {
            Ok(reply) if reply.status == 200 => {}
            other => failures.push(format!("after the sweep, GET /api/v1/me answered {other:?}")),
        }
        let end = fixture.snapshot();
        if end != initial {
            failures.push(format!("the store changed over the sweep: {}", initial.diff(&end)));
        }
        server.stop().expect("clean shutdown");
        eprintln!("{sent} requests");
        assert!(failures.is_empty(), "{} of {sent} requests went wrong:\n{}", failures.len(), failures.join("\n"));
    }
}

/// A body each POST route accepts, and who may send it (`None`: no login needed).
fn valid_bodies() -> Vec<(&'static str, Value, Option<&'static str>)> {
    vec![
        ("/api/v1/login", json!({"user": "admin", "password": crate::helpers::PASSWORD}), None),
        (
            "/api/v1/users.create",
            json!({"email": "new@example.com", "name": "New", "password": "pw-new", "username": "newuser", "roles": ["user"]}),
            Some("admin"),
        ),
        (
            "/api/v1/livechat/inquiries.take",
            json!({"inquiryId": "{{open_inquiry}}", "userId": "{{alice_id}}"}),
            Some("admin"),
        ),
        (
            "/api/v1/livechat/inquiries.returnAsInquiry",
            json!({"roomId": "{{taken_rid}}", "departmentId": "{{sales_id}}"}),
            Some("admin"),
        ),
        ("/api/v1/livechat/users/agent", json!({"username": "plain"}), Some("admin")),
        (
            "/api/v1/livechat/department",
            json!({"department": {"name": "Fresh", "email": "f@example.com", "enabled": true, "showOnRegistration": true,
                   "showOnOfflineForm": true, "description": "d"}, "agents": [{"agentId": "{{alice_id}}"}]}),
            Some("admin"),
        ),
        ("/api/v1/livechat/agent.status", json!({"status": "not-available", "agentId": "{{alice_id}}"}), Some("admin")),
        (
            "/api/v1/livechat/visitor",
            json!({"visitor": {"token": "tok-fresh", "name": "Fresh", "email": "f@example.com", "department": "Sales"}}),
            None,
        ),
        ("/api/v1/livechat/room.close", json!({"rid": "{{open_rid}}", "token": "tok-open"}), None),
        (
            "/api/v1/livechat/room.closeByUser",
            json!({"rid": "{{open_rid}}", "comment": "bye", "tags": ["t"]}),
            Some("admin"),
        ),
    ]
}

/// Fields whose `null` means "absent".
/// Header lines (name, raw value).
type Headers = Vec<(&'static str, Vec<u8>)>;

const NULLABLE: &[&str] = &["userId", "departmentId", "fallbackForwardDepartment"];

fn post(sweep: &Sweep, path: &str, who: Option<&str>) -> RawRequest {
    let request = RawRequest::new("POST", path);
    match who {
        Some(name) => request.auth(&sweep.login(name)),
        None => request,
    }
}

#[test]
fn the_valid_bodies_the_sweep_breaks_are_accepted() {
    // Each on its own server: these succeed, and so change the store.
    for (path, body, who) in valid_bodies() {
        let sweep = Sweep::start();
        let body: Value = serde_json::from_str(&sweep.x(&body.to_string())).unwrap();
        let reply = raw_exchange(sweep.server.addr(), &post(&sweep, path, who).json(&body).to_bytes()).unwrap();
        assert_eq!(reply.status, 200, "{path} {body}: {}", reply.text());
        check_reply("POST", &reply).unwrap();
        sweep.server.stop().unwrap();
    }
}

#[test]
fn malformed_json_is_a_400_envelope_on_every_post_route() {
    let mut sweep = Sweep::start();
    let deep_array = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", b"{".to_vec()),
        ("truncated after key", b"{\"inquiryId\":".to_vec()),
        ("array", b"[1,2]".to_vec()),
        ("string", b"\"text\"".to_vec()),
        ("null", b"null".to_vec()),
        ("number", b"42".to_vec()),
        ("two documents", b"{\"a\":1}{}".to_vec()),
        ("single quotes", b"{'a':1}".to_vec()),
        ("trailing comma", b"{\"a\":1,}".to_vec()),
        ("lone surrogate escape", b"{\"a\":\"\\ud800\"}".to_vec()),
        ("NaN", b"{\"a\":NaN}".to_vec()),
        ("number out of range", b"{\"a\":1e999}".to_vec()),
        ("raw control character in a string", b"{\"a\":\"x\x01y\"}".to_vec()),
        ("byte order mark", b"\xef\xbb\xbf{\"a\":1}".to_vec()),
        ("nested 200 arrays", deep_array.into_bytes()),
        ("nested 200 objects", deep_object.into_bytes()),
        ("invalid UTF-8 in a value", b"{\"a\":\"\xff\"}".to_vec()),
        ("invalid UTF-8 in a key", b"{\"\xc3\x28\":1}".to_vec()),
        ("overlong UTF-8", b"{\"a\":\"\xc0\xaf\"}".to_vec()),
        ("UTF-8-encoded surrogate", b"{\"a\":\"\xed\xa0\x80\"}".to_vec()),
        ("NUL byte", b"{\"a\":1}\0".to_vec()),
        ("form encoding", b"inquiryId=a&userId=b".to_vec()),
    ];
    for (path, _, who) in valid_bodies() {
        for (label, body) in &bodies {
            let request = post(&sweep, path, who).raw_body("application/json", body.clone());
            sweep.check(format!("POST {path} {label}"), request, invalid_params());
        }
    }
    sweep.finish();
}

/// Every leaf of `value` replaced, one at a time, by each of `wrong(leaf)`.
fn with_each_leaf_replaced(value: &Value, wrong: &dyn Fn(&str, &Value) -> Vec<Value>) -> Vec<(String, Value)> {
    fn walk(
        root: &Value,
        node: &Value,
        pointer: String,
        name: &str,
        wrong: &dyn Fn(&str, &Value) -> Vec<Value>,
        out: &mut Vec<(String, Value)>,
    ) {
        if !pointer.is_empty() {
            for replacement in wrong(name, node) {
                let mut changed = root.clone();
                *changed.pointer_mut(&pointer).unwrap() = replacement.clone();
                out.push((format!("{pointer} = {replacement}"), changed));
            }
        }
        match node {
            Value::Object(map) => {
                for (key, child) in map {
                    walk(root, child, format!("{pointer}/{key}"), key, wrong, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(root, child, format!("{pointer}/{i}"), name, wrong, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, value, String::new(), "", wrong, &mut out);
    out
}

#[test]
fn wrong_types_objects_and_arrays_where_strings_belong_are_400_invalid_params() {
    let mut sweep = Sweep::start();
    let wrong = |name: &str, value: &Value| -> Vec<Value> {
        let mut values = match value {
            Value::String(_) => {
                vec![json!(42), json!(-1.5), json!(true), json!({}), json!([]), json!(["x"]), json!({"$ne": null})]
            }
            Value::Bool(_) => vec![json!("true"), json!(1), json!({}), json!([true])],
            Value::Array(_) => vec![json!("x"), json!({}), json!(1)],
            Value::Object(_) => vec![json!("x"), json!([]), json!(1), json!(true)],
            _ => vec![],
        };
        if !NULLABLE.contains(&name) && !value.is_array() {
            values.push(Value::Null);
        }
        values
    };
    for (path, body, who) in valid_bodies() {
        let body: Value = serde_json::from_str(&sweep.x(&body.to_string())).unwrap();
        for (label, changed) in with_each_leaf_replaced(&body, &wrong) {
            let request = post(&sweep, path, who).json(&changed);
            sweep.check(format!("POST {path} {label}"), request, invalid_params());
        }
    }
    // Operator injection in the login, as NoSQL injection attempts send it.
    for body in [
        json!({"user": {"$ne": null}, "password": {"$ne": null}}),
        json!({"user": "admin", "password": {"$gt": ""}}),
        json!({"username": ["admin"], "password": crate::helpers::PASSWORD}),
    ] {
        sweep.check(format!("login {body}"), RawRequest::new("POST", "/api/v1/login").json(&body), invalid_params());
    }
    sweep.finish();
}

#[test]
fn invalid_utf8_in_bodies_queries_and_headers() {
    let mut sweep = Sweep::start();
    let admin = sweep.admin();
    let list = "/api/v1/livechat/inquiries.list";
    let take = "/api/v1/livechat/inquiries.take";
    // Bodies, with a charset that promises UTF-8.
    for body in [&b"{\"inquiryId\":\"\xff\xfe\"}"[..], b"{\"inquiryId\":\"a\xc3\"}", b"\xfe\xff\x00{\x00}"] {
        let request =
            RawRequest::new("POST", take).auth(&admin).raw_body("application/json; charset=utf-8", body.to_vec());
        sweep.check(
            format!("body {body:?}"),
            request,
            Expect::Message(400, "The request body is not valid UTF-8 [invalid-params]".into()),
        );
    }
    // Percent-encoded invalid UTF-8 decodes to U+FFFD: a department that does not exist, a sort
    // that is not JSON, a count that is not a number.
    for query in ["department=%ff", "department=%c3%28", "department=%ed%a0%80", "department=%00"] {
        sweep.check(
            query,
            RawRequest::new("GET", format!("{list}?{query}")).auth(&admin),
            Expect::Error(400, "error-invalid-department"),
        );
    }
    sweep.check(
        "sort=%ff",
        RawRequest::new("GET", format!("{list}?sort=%ff")).auth(&admin),
        Expect::Error(400, "error-invalid-sort"),
    );
    sweep.check("count=%ff", RawRequest::new("GET", format!("{list}?count=%ff")).auth(&admin), invalid_params());
    sweep.check("%ff=1", RawRequest::new("GET", format!("{list}?%ff=1")).auth(&admin), invalid_params());
    // Raw bytes in the target: UTF-8 gets through to the router, other bytes are refused by
    // hyper.
    sweep.check(
        "raw UTF-8 in the query",
        RawRequest::new("GET", format!("{list}?department=é")).auth(&admin),
        Expect::Error(400, "error-invalid-department"),
    );
    let mut raw = format!("GET {list}?department=").into_bytes();
    raw.extend_from_slice(b"\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    sweep.check_bytes("raw 0xff in the query", "GET", raw, Expect::Refused(400));
    let raw = b"GET /api/v1/\xffme HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec();
    sweep.check_bytes("raw 0xff in the path", "GET", raw, Expect::Refused(400));
    // Headers: a login that is not text is no login; a content type that is not text is not JSON.
    let bad_id = RawRequest::new("GET", list).header("X-User-Id", b"\xff\xfe").header("X-Auth-Token", &admin.token);
    sweep.check("X-User-Id bytes", bad_id, not_logged_in());
    let bad_token =
        RawRequest::new("GET", list).header("X-User-Id", &admin.user_id).header("X-Auth-Token", b"\xc3\x28");
    sweep.check("X-Auth-Token bytes", bad_token, not_logged_in());
    let body = json!({"inquiryId": "x"}).to_string().into_bytes();
    let request = RawRequest::new("POST", take).auth(&admin).raw_body("application/json\u{0}", body.clone());
    sweep.check_bytes("NUL in Content-Type", "POST", request.to_bytes(), Expect::Refused(400));
    let mut request = RawRequest::new("POST", take).auth(&admin).header("Content-Type", b"application/json\xff");
    request.body = body;
    sweep.check(
        "0xff in Content-Type",
        request,
        Expect::Message(400, "Content-Type must be application/json [invalid-params]".into()),
    );
    // An unrelated header with odd bytes changes nothing.
    let request = RawRequest::new("GET", list).auth(&admin).header("X-Junk", b"\xff\x80\xfe");
    sweep.check("0xff in an unrelated header", request, Expect::Status(200));
    sweep.finish();
}

#[test]
fn oversized_bodies_and_parameters() {
    let mut sweep = Sweep::start();
    let admin = sweep.admin();
    // One byte over the limit, on every POST route.
    for (path, _, who) in valid_bodies() {
        let mut body = format!("{{\"x\":\"{}", "a".repeat(BODY_LIMIT)).into_bytes();
        body.truncate(BODY_LIMIT - 2);
        body.extend_from_slice(b"\"}");
        body.push(b' ');
        assert_eq!(body.len(), BODY_LIMIT + 1);
        let request = post(&sweep, path, who).raw_body("application/json", body);
        sweep.check(format!("POST {path} limit + 1"), request, Expect::Error(413, "invalid-params"));
    }
    // At the limit: read, then rejected for what it says (an id longer than any id).
    let take = "/api/v1/livechat/inquiries.take";
    let mut body = format!("{{\"inquiryId\":\"{}", "a".repeat(BODY_LIMIT)).into_bytes();
    body.truncate(BODY_LIMIT - 2);
    body.extend_from_slice(b"\"}");
    sweep.check(
        "take at the limit",
        RawRequest::new("POST", take).auth(&admin).raw_body("application/json", body),
        invalid_params(),
    );
    // Chunked, so the size is not announced.
    let mut chunked = RawRequest::new("POST", take)
        .auth(&admin)
        .header("Content-Type", "application/json")
        .header("Transfer-Encoding", "chunked")
        .header("Content-Length", "0")
        .to_bytes();
    // (`to_bytes` wrote a Content-Length; a chunked request must not carry one.)
    let text = String::from_utf8(chunked.clone()).unwrap().replace("Content-Length: 0\r\n", "");
    chunked = text.into_bytes();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("1000\r\n{}\r\n", "a".repeat(4096)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    sweep.check_bytes("chunked body over the limit", "POST", chunked, Expect::Error(413, "invalid-params"));
    // Long parameters: read, rejected, and the error does not echo 60 KiB back.
    let list = "/api/v1/livechat/inquiries.list";
    let long = "x".repeat(60_000);
    sweep.check(
        "60 KiB department",
        RawRequest::new("GET", format!("{list}?department={long}")).auth(&admin),
        Expect::Error(400, "error-invalid-department"),
    );
    let reply = sweep.check(
        "60 KiB sort",
        RawRequest::new("GET", format!("{list}?sort=%7B%22{long}%22%3A1%7D")).auth(&admin),
        Expect::Error(400, "error-invalid-sort"),
    );
    if let Some(reply) = reply {
        let error = reply.json()["error"].as_str().unwrap_or_default().chars().count();
        assert!(error < 300, "the sort error quotes {error} characters");
    }
    let many = vec!["a=1"; 10_000].join("&");
    sweep.check(
        "10,000 unknown parameters",
        RawRequest::new("GET", format!("{list}?{many}")).auth(&admin),
        invalid_params(),
    );
    let room = "/api/v1/livechat/room";
    sweep.check(
        "60 KiB visitor token",
        RawRequest::new("GET", format!("{room}?token={long}")),
        Expect::Error(400, "invalid-token"),
    );
    let get_one = "/api/v1/livechat/inquiries.getOne";
    sweep.check(
        "60 KiB room id",
        RawRequest::new("GET", format!("{get_one}?roomId={long}")).auth(&admin),
        Expect::Body(200, json!({"inquiry": null, "success": true})),
    );
    // Tokens and ids longer than any: no login.
    let long_token =
        RawRequest::new("GET", list).header("X-User-Id", &admin.user_id).header("X-Auth-Token", "a".repeat(513));
    sweep.check("513-byte token", long_token, not_logged_in());
    let long_id =
        RawRequest::new("GET", list).header("X-User-Id", "a".repeat(10_000)).header("X-Auth-Token", &admin.token);
    sweep.check("10 KB user id", long_id, not_logged_in());
    // Beyond what HTTP parsing takes: a target over 64 KiB, a header block over 400 KiB, more
    // than 100 headers. hyper answers those itself.
    let huge = "x".repeat(70_000);
    sweep.check(
        "70 KB target",
        RawRequest::new("GET", format!("{list}?department={huge}")).auth(&admin),
        Expect::Refused(414),
    );
    let header = RawRequest::new("GET", list).auth(&admin).header("X-Junk", "x".repeat(500_000));
    sweep.check("500 KB header", header, Expect::Refused(431));
    let mut many_headers = RawRequest::new("GET", list).auth(&admin);
    for i in 0..120 {
        many_headers = many_headers.header(&format!("X-Junk-{i}"), "x");
    }
    sweep.check("120 headers", many_headers, Expect::Refused(431));
    sweep.finish();
}

#[test]
fn negative_huge_and_malformed_offsets_and_counts() {
    let mut sweep = Sweep::start();
    let admin = sweep.admin();
    let alice = sweep.login("alice");
    let must = |m: &str| Expect::Message(400, format!("{m} [invalid-params]"));
    for path in ["/api/v1/livechat/inquiries.list", "/api/v1/livechat/users/agent", "/api/v1/livechat/department"] {
        for param in ["offset", "count"] {
            for (value, expect) in [
                ("-1", must("must be >= 0")),
                ("-100000000000000000000", must("must be >= 0")),
                ("-0.5", must("must be >= 0")),
                ("1.5", must("must be integer")),
                ("abc", must("must be number")),
                ("", must("must be number")),
                ("%20", must("must be number")),
                ("0x10", must("must be number")),
                ("1,2", must("must be number")),
                ("NaN", must("must be number")),
                ("Infinity", must("must be number")),
                ("1e999", must("must be number")),
                ("%E2%88%9E", must("must be number")),
            ] {
                let request = RawRequest::new("GET", format!("{path}?{param}={value}")).auth(&admin);
                sweep.check(format!("{path} {param}={value}"), request, expect);
            }
        }
        // A second value makes an array, which is not a number.
        let request = RawRequest::new("GET", format!("{path}?count=1&count=1")).auth(&admin);
        sweep.check(format!("{path} count twice"), request, must("must be number"));
    }
    // Huge offsets are an empty page with the right total; huge counts are capped.
    let list = "/api/v1/livechat/inquiries.list";
    for (query, count, total) in [
        ("offset=18446744073709551615", 0, 2),
        ("offset=18446744073709551616", 0, 2),
        ("offset=99999999999999999999999999", 0, 2),
        ("count=18446744073709551616", 2, 2),
        ("count=100000&offset=1", 1, 2),
        ("count=0", 2, 2),
        ("count=%2B1", 1, 2),
        ("count=%201%20", 1, 2),
    ] {
        if let Some(reply) =
            sweep.check(query, RawRequest::new("GET", format!("{list}?{query}")).auth(&admin), Expect::Status(200))
        {
            let body = reply.json();
            assert_eq!((body["count"].clone(), body["total"].clone()), (json!(count), json!(total)), "{query}: {body}");
        }
    }
    let queue = "/api/v1/livechat/inquiries.queuedForUser";
    sweep.check(
        "queue offset=-1",
        RawRequest::new("GET", format!("{queue}?offset=-1")).auth(&alice),
        must("must be >= 0"),
    );
    sweep.check(
        "queue count=1.5",
        RawRequest::new("GET", format!("{queue}?count=1.5")).auth(&alice),
        must("must be integer"),
    );
    sweep.finish();
}

/// `offset=1.0` (an integer, written as a decimal) is read as 18446744073709551615: an empty page
/// and that number echoed back; `count=5.0` and `count=1e1` give 100 items, not 5 or 10.
#[test]
fn integer_valued_decimal_offsets_and_counts_are_those_numbers() {
    let mut sweep = Sweep::start();
    let admin = sweep.admin();
    let list = "/api/v1/livechat/inquiries.list";
    for (query, offset, count) in [
        ("offset=1.0", 1, 1),
        ("offset=1e0", 1, 1),
        ("offset=0.0", 0, 2),
        ("count=1.0", 0, 1),
        ("count=1e0", 0, 1),
        ("count=1.00&offset=1.0", 1, 1),
    ] {
        if let Some(reply) =
            sweep.check(query, RawRequest::new("GET", format!("{list}?{query}")).auth(&admin), Expect::Status(200))
        {
            let body = reply.json();
            if (body["offset"].clone(), body["count"].clone()) != (json!(offset), json!(count)) {
                sweep.failures.push(format!("{query}: expected offset {offset} and count {count}: {body}"));
            }
        }
    }
    sweep.finish();
}

#[test]
fn bad_sorts_are_400_error_invalid_sort() {
    let mut sweep = Sweep::start();
    let admin = sweep.admin();
    let alice = sweep.login("alice");
    let long_field = format!("{{\"{}\":1}}", "f".repeat(5000));
    let sorts: Vec<String> = [
        r#"{"ts":2}"#,
        r#"{"ts":0}"#,
        r#"{"ts":-2}"#,
        r#"{"ts":1.5}"#,
        r#"{"ts":"1"}"#,
        r#"{"ts":true}"#,
        r#"{"ts":null}"#,
        r#"{"ts":[1]}"#,
        r#"{"ts":{"$gt":1}}"#,
        r#"{"ts":1e999}"#,
        r#"{"ts":-1,"name":1}"#,
        r#"{}"#,
        r#"[]"#,
        r#"[{"ts":1}]"#,
        r#"{"nope":1}"#,
        r#"{"TS":1}"#,
        r#"{"$where":1}"#,
        r#"{"ts":1"#,
        r#"{'ts':1}"#,
        "ts",
        "-ts",
        "",
        "null",
        "1",
        "\u{feff}{\"ts\":1}",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([long_field])
    .collect();
    let encode = |s: &str| -> String { s.bytes().map(|b| format!("%{b:02X}")).collect() };
    for sort in &sorts {
        for (path, login) in
            [("/api/v1/livechat/inquiries.list", &admin), ("/api/v1/livechat/inquiries.queuedForUser", &alice)]
        {
            let request = RawRequest::new("GET", format!("{path}?sort={}", encode(sort))).auth(login);
            let shown: String = sort.chars().take(40).collect();
            if let Some(reply) =
                sweep.check(format!("{path} sort={shown}"), request, Expect::Error(400, "error-invalid-sort"))
            {
                let error = reply.json()["error"].as_str().unwrap_or_default().to_owned();
                if !error.starts_with("Invalid sort parameter provided: \"") {
                    sweep.failures.push(format!("{path} sort={shown}: error {error:?}"));
                }
            }
        }
    }
    // What JSON allows is allowed: the last of repeated keys counts (as in JavaScript), 1.0 is 1.
    let mut good: Vec<String> = [r#"{"ts":-1,"ts":1}"#, r#"{"ts":1.0}"#, r#"{"ts":-1e0}"#, r#" {"ts" : 1} "#]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for field in lobby_core::SortField::ALL {
        good.push(format!("{{\"{}\":1}}", field.wire_name()));
        good.push(format!("{{\"{}\":-1}}", field.wire_name()));
    }
    for sort in &good {
        let request =
            RawRequest::new("GET", format!("/api/v1/livechat/inquiries.list?sort={}", encode(sort))).auth(&admin);
        sweep.check(format!("list sort={sort}"), request, Expect::Status(200));
    }
    // Listings that take no sort reject it as an unknown parameter.
    for path in ["/api/v1/livechat/users/agent", "/api/v1/livechat/department"] {
        let request = RawRequest::new("GET", format!("{path}?sort=%7B%22ts%22%3A1%7D")).auth(&admin);
        sweep.check(
            format!("{path} sort"),
            request,
            Expect::Message(400, "must NOT have additional properties [invalid-params]".into()),
        );
    }
    sweep.finish();
}

#[test]
fn unknown_and_repeated_parameters_are_rejected() {
    let mut sweep = Sweep::start();
    let admin = sweep.admin();
    let extra = || Expect::Message(400, "must NOT have additional properties [invalid-params]".into());
    let list = "/api/v1/livechat/inquiries.list";
    for query in [
        "foo=1",
        "Count=1",
        "OFFSET=1",
        "count[]=1",
        "count[$gt]=1",
        "department[$ne]=x",
        "fields=%7B%7D",
        "query=%7B%7D",
        "=1",
        "count=1&foo",
        "sort=%7B%22ts%22%3A1%7D&sort[ts]=1",
    ] {
        sweep.check(format!("list ?{query}"), RawRequest::new("GET", format!("{list}?{query}")).auth(&admin), extra());
    }
    for query in [
        "department=Sales&department=Sales",
        "sort=%7B%22ts%22%3A1%7D&sort=%7B%22ts%22%3A1%7D",
        "status=open&status=open",
    ] {
        let expect = Expect::Message(400, "must be string [invalid-params]".into());
        sweep.check(format!("list ?{query}"), RawRequest::new("GET", format!("{list}?{query}")).auth(&admin), expect);
    }
    // Empty pairs are no pairs.
    sweep.check("list ?&&", RawRequest::new("GET", format!("{list}?&&")).auth(&admin), Expect::Status(200));
    let get_one = "/api/v1/livechat/inquiries.getOne";
    let required = Expect::Message(400, "must have required property 'roomId' [invalid-params]".into());
    sweep.check("getOne without roomId", RawRequest::new("GET", get_one).auth(&admin), required.clone());
    sweep.check("getOne roomid", RawRequest::new("GET", format!("{get_one}?roomid=x")).auth(&admin), required);
    sweep.check(
        "getOne roomId twice",
        RawRequest::new("GET", format!("{get_one}?roomId=a&roomId=b")).auth(&admin),
        Expect::Message(400, "must be string [invalid-params]".into()),
    );
    sweep.check("getOne extra", RawRequest::new("GET", format!("{get_one}?roomId=a&x=1")).auth(&admin), extra());
    let room = "/api/v1/livechat/room";
    sweep.check(
        "room token twice",
        RawRequest::new("GET", format!("{room}?token=tok-open&token=tok-new")),
        invalid_params(),
    );
    sweep.check("room without token", RawRequest::new("GET", room), invalid_params());
    sweep.check("room extra", RawRequest::new("GET", format!("{room}?token=tok-open&department=Sales")), extra());
    sweep.check("me with a parameter", RawRequest::new("GET", "/api/v1/me?x=1").auth(&admin), Expect::Status(200));
    sweep.finish();
}

#[test]
fn authentication_failures_are_401_on_every_route_that_needs_a_login() {
    let mut sweep = Sweep::start();
    let admin = sweep.admin();
    let alice = sweep.login("alice");
    let bodies: std::collections::BTreeMap<&str, Value> = valid_bodies()
        .into_iter()
        .map(|(path, body, _)| (path, serde_json::from_str(&sweep.x(&body.to_string())).unwrap()))
        .collect();
    let variants: Vec<(&str, Headers)> = vec![
        ("no headers", vec![]),
        ("only X-User-Id", vec![("X-User-Id", admin.user_id.clone().into_bytes())]),
        ("only X-Auth-Token", vec![("X-Auth-Token", admin.token.clone().into_bytes())]),
        (
            "forged user id",
            vec![("X-User-Id", alice.user_id.clone().into_bytes()), ("X-Auth-Token", admin.token.clone().into_bytes())],
        ),
        (
            "wrong token",
            vec![("X-User-Id", admin.user_id.clone().into_bytes()), ("X-Auth-Token", "0".repeat(64).into_bytes())],
        ),
        (
            "token of another",
            vec![("X-User-Id", admin.user_id.clone().into_bytes()), ("X-Auth-Token", alice.token.clone().into_bytes())],
        ),
        (
            "truncated token",
            vec![
                ("X-User-Id", admin.user_id.clone().into_bytes()),
                ("X-Auth-Token", admin.token.as_bytes()[..63].to_vec()),
            ],
        ),
        (
            "upper-case token",
            vec![
                ("X-User-Id", admin.user_id.clone().into_bytes()),
                ("X-Auth-Token", admin.token.to_uppercase().into_bytes()),
            ],
        ),
        ("empty token", vec![("X-User-Id", admin.user_id.clone().into_bytes()), ("X-Auth-Token", vec![])]),
        (
            "unknown user",
            vec![("X-User-Id", b"NoSuchUser".to_vec()), ("X-Auth-Token", admin.token.clone().into_bytes())],
        ),
        (
            "user id with a space",
            vec![("X-User-Id", b"has space".to_vec()), ("X-Auth-Token", admin.token.clone().into_bytes())],
        ),
        (
            "wrong id first of two",
            vec![
                ("X-User-Id", b"NoSuchUser".to_vec()),
                ("X-User-Id", admin.user_id.clone().into_bytes()),
                ("X-Auth-Token", admin.token.clone().into_bytes()),
            ],
        ),
        ("Authorization instead", vec![("Authorization", format!("Bearer {}", admin.token).into_bytes())]),
        (
            "token as a cookie",
            vec![("Cookie", format!("rc_uid={}; rc_token={}", admin.user_id, admin.token).into_bytes())],
        ),
    ];
    for route in ROUTES.iter().filter(|route| route.access == Access::SignedIn) {
        for (label, headers) in &variants {
            let mut request = RawRequest::new(route.method, route.path);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            if let Some(body) = bodies.get(route.path) {
                request = request.json(body);
            }
            sweep.check(format!("{} {} {label}", route.method, route.path), request, not_logged_in());
        }
    }
    // The login itself: never says which part was wrong.
    let failed = Expect::Body(401, json!({"status": "error", "message": "Unauthorized"}));
    for body in [
        json!({"user": "admin", "password": "wrong"}),
        json!({"user": "ADMIN", "password": "wrong"}),
        json!({"user": "nobody", "password": crate::helpers::PASSWORD}),
        json!({"user": "nobody@example.com", "password": crate::helpers::PASSWORD}),
        json!({"email": "admin@example.com", "password": ""}),
        json!({"user": "admin", "password": "x".repeat(5000)}),
        json!({"user": "admin", "password": {"digest": "zz", "algorithm": "sha-256"}}),
        json!({"user": "admin", "password": {"digest": "0".repeat(64), "algorithm": "sha-256"}}),
        json!({"user": "", "password": crate::helpers::PASSWORD}),
    ] {
        sweep.check(
            format!("login {}", &body.to_string()[..40.min(body.to_string().len())]),
            RawRequest::new("POST", "/api/v1/login").json(&body),
            failed.clone(),
        );
    }
    // Signed in, but without the permission.
    let plain = sweep.login("plain");
    for (request, label) in [
        (RawRequest::new("GET", "/api/v1/livechat/inquiries.list").auth(&alice), "alice lists all"),
        (RawRequest::new("GET", "/api/v1/livechat/users/agent").auth(&alice), "alice lists agents"),
        (RawRequest::new("GET", "/api/v1/livechat/inquiries.getOne?roomId=x").auth(&plain), "plain reads a room"),
        (
            RawRequest::new("POST", "/api/v1/users.create").auth(&alice).json(&bodies["/api/v1/users.create"]),
            "alice creates a user",
        ),
        (
            RawRequest::new("POST", "/api/v1/livechat/department")
                .auth(&alice)
                .json(&bodies["/api/v1/livechat/department"]),
            "alice creates a department",
        ),
        (
            RawRequest::new("POST", "/api/v1/livechat/agent.status")
                .auth(&alice)
                .json(&json!({"status": "available", "agentId": admin.user_id})),
            "alice sets admin's status",
        ),
        (
            RawRequest::new("POST", "/api/v1/livechat/inquiries.take")
                .auth(&plain)
                .json(&bodies["/api/v1/livechat/inquiries.take"]),
            "plain takes",
        ),
    ] {
        sweep.check(label, request, forbidden());
    }
    sweep.finish();
}

#[test]
fn wrong_content_types_are_400_invalid_params() {
    let mut sweep = Sweep::start();
    let admin = sweep.admin();
    let take = "/api/v1/livechat/inquiries.take";
    // A body that would be processed (and fail later, differently) if it were read as JSON.
    let body = sweep.x(r#"{"inquiryId":"{{closed_inquiry}}"}"#).into_bytes();
    let expect = || Expect::Message(400, "Content-Type must be application/json [invalid-params]".into());
    for content_type in [
        "text/plain",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "application/json-patch",
        "application",
        "json",
        "",
        ";application/json",
    ] {
        let request = RawRequest::new("POST", take).auth(&admin).raw_body(content_type, body.clone());
        sweep.check(format!("Content-Type {content_type:?}"), request, expect());
    }
    let mut request = RawRequest::new("POST", take).auth(&admin);
    request.body = body.clone();
    sweep.check("no Content-Type", request, expect());
    // JSON types in other spellings are JSON; this body then fails for what it says.
    for content_type in ["Application/JSON", "application/json;charset=UTF-8", "application/vnd.api+json"] {
        let request = RawRequest::new("POST", take).auth(&admin).raw_body(content_type, body.clone());
        sweep.check(
            format!("Content-Type {content_type:?}"),
            request,
            Expect::Error(400, "error-invalid-inquiry-status"),
        );
    }
    // Content types on a visitor route, which needs no login.
    let visitor = json!({"visitor": {"token": "tok-other"}}).to_string().into_bytes();
    let request = RawRequest::new("POST", "/api/v1/livechat/visitor").raw_body("text/plain", visitor);
    sweep.check("visitor as text/plain", request, expect());
    sweep.finish();
}

#[test]
fn wrong_methods_are_405_and_unknown_routes_404() {
    let mut sweep = Sweep::start();
    let admin = sweep.admin();
    let not_allowed = || Expect::Error(405, "error-method-not-allowed");
    let paths: std::collections::BTreeSet<&str> = ROUTES.iter().map(|route| route.path).collect();
    for path in &paths {
        let methods = lobby_server::routes::methods_of(path);
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"] {
            if methods.contains(&method) {
                continue;
            }
            let request = RawRequest::new(method, *path).auth(&admin).json(&json!({}));
            sweep.check(format!("{method} {path}"), request, not_allowed());
        }
        if !methods.contains(&"GET") {
            sweep.check(format!("HEAD {path}"), RawRequest::new("HEAD", *path).auth(&admin), Expect::Refused(405));
        }
    }
    let not_found = || Expect::Body(404, json!({"success": false, "error": "Resource not found"}));
    let long = format!("/api/v1/{}", "a".repeat(10_000));
    // (`/` is the console's page.)
    for path in [
        "/api",
        "/api/v1",
        "/api/v1/",
        "/console/",
        "/console/missing.js",
        "/metrics/x",
        "/api/v1/livechat/inquiries.list/",
        "/api/v1/livechat/inquiries.lis",
        "/API/V1/ME",
        "/api/v2/me",
        "//api/v1/me",
        "/api/v1//me",
        "/api/v1/livechat/inquiries.list%2F",
        "/api/v1/livechat/inquiries%2Elist",
        "/api/v1/livechat/inquiries.take/../inquiries.list",
        "/api/v1/livechat/users/agent/x",
        "/api/v1/livechat/room.close.x",
        "/api/v1/me;x=1",
        "/.env",
        "/api/v1/%00",
        long.as_str(),
    ] {
        for method in ["GET", "POST", "DELETE"] {
            sweep.check(
                format!("{method} {}", &path[..path.len().min(60)]),
                RawRequest::new(method, path).auth(&admin),
                not_found(),
            );
        }
    }
    sweep.check("OPTIONS *", RawRequest::new("OPTIONS", "*"), not_found());
    sweep.finish();
}

#[test]
fn malformed_http_is_refused_and_the_server_carries_on() {
    let mut sweep = Sweep::start();
    let admin = sweep.admin();
    let auth = format!("X-User-Id: {}\r\nX-Auth-Token: {}\r\n", admin.user_id, admin.token);
    let take = "/api/v1/livechat/inquiries.take";
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("not HTTP", b"HELLO\r\n\r\n".to_vec(), Expect::Refused(400)),
        ("no version", b"GET /api/v1/me\r\n\r\n".to_vec(), Expect::Refused(400)),
        ("HTTP/9.9", b"GET /api/v1/me HTTP/9.9\r\nConnection: close\r\n\r\n".to_vec(), Expect::Refused(400)),
        ("space in the target", b"GET /api/v1/me x HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(), Expect::Refused(400)),
        ("header without a colon", b"GET /api/v1/me HTTP/1.1\r\nHost x\r\nConnection: close\r\n\r\n".to_vec(), Expect::Refused(400)),
        ("NUL in a header", b"GET /api/v1/me HTTP/1.1\r\nX-User-Id: a\0b\r\nConnection: close\r\n\r\n".to_vec(), Expect::Refused(400)),
        (
            "Content-Length not a number",
            format!("POST {take} HTTP/1.1\r\n{auth}Content-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n{{}}").into_bytes(),
            Expect::Refused(400),
        ),
        (
            "two Content-Lengths",
            format!("POST {take} HTTP/1.1\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{{}}").into_bytes(),
            Expect::Refused(400),
        ),
        (
            "negative Content-Length",
            format!("POST {take} HTTP/1.1\r\n{auth}Content-Type: application/json\r\nContent-Length: -1\r\nConnection: close\r\n\r\n{{}}").into_bytes(),
            Expect::Refused(400),
        ),
        (
            "bad chunk size",
            format!("POST {take} HTTP/1.1\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n").into_bytes(),
            Expect::Message(400, "The request body could not be read [invalid-params]".into()),
        ),
        (
            // Transfer-Encoding wins over Content-Length (no request smuggling): an empty body.
            "chunked and Content-Length",
            format!("POST {take} HTTP/1.1\r\n{auth}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n").into_bytes(),
            Expect::Message(400, "must have required property 'inquiryId' [invalid-params]".into()),
        ),
        (
            "body shorter than announced, then closed",
            format!("POST {take} HTTP/1.1\r\n{auth}Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"inquiryId\":").into_bytes(),
            Expect::Refused(0),
        ),
    ];
    for (label, bytes, expect) in cases {
        if let Expect::Refused(0) = expect {
            // The client half-closes after a short body: the server cannot answer a request it
            // never fully received, and must just not write anything or fall over.
            let before = sweep.fixture.snapshot();
            let mut stream = std::net::TcpStream::connect(sweep.server.addr()).unwrap();
            use std::io::{Read as _, Write as _};
            stream.write_all(&bytes).unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
            let text = String::from_utf8_lossy(&answer);
            assert!(!text.starts_with("HTTP/1.1 5"), "{label}: {text}");
            assert_eq!(sweep.fixture.snapshot(), before, "{label}");
            continue;
        }
        let method = if bytes.starts_with(b"POST") { "POST" } else { "GET" };
        sweep.check_bytes(label, method, bytes, expect);
    }
    // An HTTP/2 preface on this HTTP/1 port: the connection is closed, nothing else happens.
    let before = sweep.fixture.snapshot();
    let answer = raw_exchange_within(sweep.server.addr(), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Duration::from_secs(60));
    assert!(answer.as_ref().map_or(true, |r| r.status < 500), "{answer:?}");
    assert_eq!(sweep.fixture.snapshot(), before);
    sweep.finish();
}

/// A body announced larger than the limit should be refused from its `Content-Length`, before it
/// is sent: clients that wait for `100 Continue` (curl does, above 1 MiB) or that stream slowly
/// otherwise hold a connection until they have sent 64 KiB.
#[test]
fn a_body_announced_over_the_limit_is_refused_before_it_is_sent() {
    let sweep = Sweep::start();
    let admin = sweep.admin();
    let head = format!(
        "POST /api/v1/livechat/inquiries.take HTTP/1.1\r\nHost: x\r\nX-User-Id: {}\r\nX-Auth-Token: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        admin.user_id, admin.token
    );
    // The body is never sent: a server that waits for it never answers, and the ceiling ends the
    // test (it only bounds that hang; a loaded machine cannot make a correct server fail it).
    let reply = raw_exchange_within(sweep.server.addr(), head.as_bytes(), Duration::from_secs(60));
    let reply = reply.unwrap_or_else(|e| panic!("no answer without the body: {e}"));
    assert_ne!(reply.status, 100, "the server answered 100 Continue and waited for the body instead of a 413");
    assert_eq!(reply.status, 413, "{}", reply.text());
    check_reply("POST", &reply).unwrap();
    sweep.finish();
}

/// Duplicate agents in a new department: the engine writes the same agent record twice in one
/// commit, the store refuses the commit as malformed, and the client gets a 500.
#[test]
fn a_department_with_an_agent_listed_twice_is_not_a_500() {
    let mut sweep = Sweep::start();
    let admin = sweep.admin();
    let body = json!({"department": {"name": "Twice", "email": "t@example.com", "enabled": true,
                      "showOnRegistration": true, "showOnOfflineForm": true},
                      "agents": [{"agentId": sweep.fixture.login("alice").user_id}, {"agentId": sweep.fixture.login("alice").user_id}]});
    // Either answer is fine (400, or 200 with alice once); a 500 is not. A 400 must not write.
    let request = RawRequest::new("POST", "/api/v1/livechat/department").auth(&admin).json(&body);
    let before = sweep.fixture.snapshot();
    let reply = raw_exchange(sweep.server.addr(), &request.to_bytes()).unwrap();
    check_reply("POST", &reply).unwrap_or_else(|e| panic!("{e}"));
    if reply.status == 200 {
        assert_eq!(reply.json()["agents"].as_array().map(Vec::len), Some(1), "{}", reply.text());
        sweep.server.stop().unwrap();
    } else {
        assert_eq!(sweep.fixture.snapshot(), before);
        sweep.failures.clear();
        sweep.finish();
    }
}
