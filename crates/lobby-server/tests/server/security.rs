//! Abuse resistance over real sockets: login limits by user and by address, token lifetime,
//! signing out of every session, CORS. Time comes from a `ManualClock`; nothing sleeps.

use std::sync::Arc;
use std::time::Duration;

use lobby_core::{ManualClock, Timestamp};
use lobby_server::security::{CorsOrigin, SecurityConfig};
use lobby_server::{PasswordCost, ServerConfig};
use serde_json::{json, Value};

use crate::helpers::client::{Reply, TestServer};
use crate::helpers::{Login, PASSWORD};

const START: i64 = 1_700_000_000_000;
const MINUTE: i64 = 60_000;

fn server_with(security: SecurityConfig) -> (TestServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START), 0));
    let server = TestServer::start_configured(ServerConfig {
        password_cost: PasswordCost::Fast,
        dispatch_interval: Duration::from_secs(3600),
        clock: clock.clone(),
        security,
        ..ServerConfig::default()
    });
    (server, clock)
}

fn login(server: &TestServer, user: &str, password: &str) -> Reply {
    server.post("/api/v1/login", None, &json!({"user": user, "password": password}))
}

fn signed_in(reply: &Reply) -> Login {
    assert_eq!(reply.status, 200, "{}", reply.raw);
    Login {
        user_id: reply.body["data"]["userId"].as_str().unwrap().to_owned(),
        token: reply.body["data"]["authToken"].as_str().unwrap().to_owned(),
    }
}

fn assert_blocked(reply: &Reply, code: &str) {
    assert_eq!(reply.status, 429, "{}", reply.raw);
    assert_eq!(reply.body["errorType"], code, "{}", reply.raw);
    assert_eq!(reply.body["success"], false);
    assert_eq!(reply.body["status"], "error");
    assert!(reply.body["error"].as_str().unwrap().ends_with(&format!("[{code}]")), "{}", reply.raw);
    assert!(reply.body.get("data").is_none());
}

#[test]
fn ten_failed_logins_block_the_user_for_five_minutes_whatever_the_password() {
    let (server, clock) = server_with(SecurityConfig::default());
    server.user("alice", &["livechat-agent"]);
    server.user("bob", &["livechat-agent"]);
    for _ in 0..10 {
        assert_eq!(login(&server, "alice", "wrong").status, 401);
    }
    // Blocked: the right password is refused too, under any name of the account.
    assert_blocked(&login(&server, "alice", PASSWORD), "error-login-blocked-for-user");
    assert_blocked(&login(&server, "ALICE", PASSWORD), "error-login-blocked-for-user");
    assert_blocked(&login(&server, "alice@example.com", PASSWORD), "error-login-blocked-for-user");
    assert_blocked(&login(&server, "alice", "wrong"), "error-login-blocked-for-user");
    // Only alice is blocked; the address (10 failures of 50) is not.
    signed_in(&login(&server, "bob", PASSWORD));
    // The block lasts five minutes from the last failure; refused attempts do not extend it.
    clock.advance(5 * MINUTE - 1);
    assert_blocked(&login(&server, "alice", PASSWORD), "error-login-blocked-for-user");
    clock.advance(1);
    signed_in(&login(&server, "alice", PASSWORD));
}

#[test]
fn a_success_before_the_limit_resets_the_count() {
    let (server, _clock) = server_with(SecurityConfig::default());
    server.user("alice", &["livechat-agent"]);
    for _ in 0..9 {
        assert_eq!(login(&server, "alice", "wrong").status, 401);
    }
    signed_in(&login(&server, "alice", PASSWORD));
    for _ in 0..9 {
        assert_eq!(login(&server, "alice", "wrong").status, 401);
    }
    signed_in(&login(&server, "alice", PASSWORD));
    for _ in 0..10 {
        assert_eq!(login(&server, "alice", "wrong").status, 401);
    }
    assert_blocked(&login(&server, "alice", PASSWORD), "error-login-blocked-for-user");
}

#[test]
fn unknown_names_are_counted_like_accounts() {
    let (server, _clock) = server_with(SecurityConfig::default());
    for _ in 0..10 {
        assert_eq!(login(&server, "nobody", "guess").status, 401);
    }
    assert_blocked(&login(&server, "Nobody", "guess"), "error-login-blocked-for-user");
}

#[test]
fn fifty_failures_from_one_address_block_every_login_from_it() {
    let (server, clock) = server_with(SecurityConfig::default());
    server.user("carol", &["livechat-agent"]);
    // 50 failures spread over 25 names (2 each, under the per-user limit), all from 127.0.0.1.
    for i in 0..50 {
        assert_eq!(login(&server, &format!("guess{}", i % 25), "wrong").status, 401);
    }
    assert_blocked(&login(&server, "carol", PASSWORD), "error-login-blocked-for-ip");
    assert_blocked(&login(&server, "guess0", "wrong"), "error-login-blocked-for-ip");
    clock.advance(5 * MINUTE);
    signed_in(&login(&server, "carol", PASSWORD));
}

#[test]
fn limits_are_configurable_and_can_be_off() {
    let mut security = SecurityConfig::default();
    security.login_limits.by_user.failures = 3;
    security.login_limits.by_user.block_for = Duration::from_secs(60);
    security.login_limits.by_address.failures = 0;
    let (server, clock) = server_with(security);
    server.user("dave", &["user"]);
    for _ in 0..3 {
        assert_eq!(login(&server, "dave", "wrong").status, 401);
    }
    assert_blocked(&login(&server, "dave", PASSWORD), "error-login-blocked-for-user");
    clock.advance(MINUTE);
    signed_in(&login(&server, "dave", PASSWORD));
    // No address limit: 200 failures over many names are all plain 401s.
    for i in 0..200 {
        assert_eq!(login(&server, &format!("x{}", i % 100), "wrong").status, 401);
    }
}

#[test]
fn tokens_expire_after_ninety_days_by_default() {
    let (server, clock) = server_with(SecurityConfig::default());
    server.user("erin", &["user"]);
    let erin = signed_in(&login(&server, "erin", PASSWORD));
    assert_eq!(server.get("/api/v1/me", Some(&erin)).status, 200);
    clock.advance(90 * 24 * 60 * MINUTE - 1);
    assert_eq!(server.get("/api/v1/me", Some(&erin)).status, 200);
    clock.advance(1);
    let expired = server.get("/api/v1/me", Some(&erin));
    assert_eq!(expired.status, 401, "{}", expired.raw);
    assert_eq!(expired.body, json!({"status": "error", "message": "You must be logged in to do this."}));
    // Signing in again gives a fresh token.
    let again = signed_in(&login(&server, "erin", PASSWORD));
    assert_eq!(server.get("/api/v1/me", Some(&again)).status, 200);
}

#[test]
fn token_lifetime_is_configurable() {
    let security = SecurityConfig { token_lifetime: Some(Duration::from_secs(3600)), ..SecurityConfig::default() };
    let (server, clock) = server_with(security);
    server.user("fay", &["user"]);
    let fay = signed_in(&login(&server, "fay", PASSWORD));
    clock.advance(60 * MINUTE);
    assert_eq!(server.get("/api/v1/me", Some(&fay)).status, 401);

    let forever = SecurityConfig { token_lifetime: None, ..SecurityConfig::default() };
    let (server, clock) = server_with(forever);
    server.user("gus", &["user"]);
    let gus = signed_in(&login(&server, "gus", PASSWORD));
    clock.advance(10 * 365 * 24 * 60 * MINUTE);
    assert_eq!(server.get("/api/v1/me", Some(&gus)).status, 200);
}

#[test]
fn users_logout_ends_every_session() {
    let (server, _clock) = server_with(SecurityConfig::default());
    let admin = server.user("root", &["admin"]);
    server.user("hana", &["livechat-agent"]);
    let laptop = signed_in(&login(&server, "hana", PASSWORD));
    let phone = signed_in(&login(&server, "hana", PASSWORD));
    // POST /logout ends one session only.
    let one = server.post("/api/v1/logout", Some(&laptop), &json!({}));
    assert_eq!(one.status, 200, "{}", one.raw);
    assert_eq!(server.get("/api/v1/me", Some(&laptop)).status, 401);
    assert_eq!(server.get("/api/v1/me", Some(&phone)).status, 200);
    // users.logout ends all of them.
    let tablet = signed_in(&login(&server, "hana", PASSWORD));
    let all = server.post("/api/v1/users.logout", Some(&tablet), &json!({}));
    assert_eq!(all.status, 200, "{}", all.raw);
    assert_eq!(all.body, json!({"message": format!("User {} has been logged out!", tablet.user_id), "success": true}));
    assert_eq!(server.get("/api/v1/me", Some(&phone)).status, 401);
    assert_eq!(server.get("/api/v1/me", Some(&tablet)).status, 401);

    // Someone else's sessions: an agent may not, an admin may.
    let hana = signed_in(&login(&server, "hana", PASSWORD));
    let ivan = server.user("ivan", &["livechat-agent"]);
    let refused = server.post("/api/v1/users.logout", Some(&ivan), &json!({"userId": hana.user_id}));
    assert_eq!(refused.status, 403, "{}", refused.raw);
    assert_eq!(server.get("/api/v1/me", Some(&hana)).status, 200);
    let done = server.post("/api/v1/users.logout", Some(&admin), &json!({"userId": hana.user_id}));
    assert_eq!(done.status, 200, "{}", done.raw);
    assert_eq!(server.get("/api/v1/me", Some(&hana)).status, 401);
    assert_eq!(server.get("/api/v1/me", Some(&admin)).status, 200);
    let unknown = server.post("/api/v1/users.logout", Some(&admin), &json!({"userId": "nobody-here"}));
    assert_eq!(unknown.status, 400, "{}", unknown.raw);
    assert_eq!(unknown.body["errorType"], "error-invalid-user-id");
    let extra = server.post("/api/v1/users.logout", Some(&admin), &json!({"everywhere": true}));
    assert_eq!(extra.status, 400, "{}", extra.raw);
    assert_eq!(extra.body["errorType"], "invalid-params");
}

/// A request with headers, answering status and headers (preflights have no JSON body).
fn raw(method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>) {
    let mut request = ureq::request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match request.call() {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{method} {url}: {error}"),
    };
    let headers = response
        .headers_names()
        .into_iter()
        .map(|name| {
            let value = response.header(&name).unwrap_or_default().to_owned();
            (name.to_ascii_lowercase(), value)
        })
        .collect();
    (response.status(), headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn cors_is_off_by_default() {
    let (server, _clock) = server_with(SecurityConfig::default());
    let origin = ("Origin", "https://evil.example");
    let (status, headers) = raw("GET", &server.url("/api/v1/livechat/department"), &[origin]);
    assert_eq!(status, 401);
    assert!(headers.iter().all(|(name, _)| !name.starts_with("access-control-")), "{headers:?}");
    let preflight = [origin, ("Access-Control-Request-Method", "POST")];
    let (status, headers) = raw("OPTIONS", &server.url("/api/v1/login"), &preflight);
    assert_eq!(status, 405);
    assert!(headers.iter().all(|(name, _)| !name.starts_with("access-control-")), "{headers:?}");
}

#[test]
fn cors_allows_only_the_configured_origins() {
    let allowed = "https://app.example.com";
    let origins = vec![allowed.parse::<CorsOrigin>().unwrap()];
    let (server, _clock) = server_with(SecurityConfig { cors_origins: origins, ..SecurityConfig::default() });
    let preflight = |origin: &str| {
        raw(
            "OPTIONS",
            &server.url("/api/v1/livechat/inquiries.take"),
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "x-auth-token,x-user-id,content-type"),
            ],
        )
    };
    let (status, headers) = preflight(allowed);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(allowed));
    let allowed_headers = header(&headers, "access-control-allow-headers").unwrap_or_default();
    for wanted in ["x-auth-token", "x-user-id", "content-type"] {
        assert!(allowed_headers.contains(wanted), "{allowed_headers}");
    }
    let (_, headers) = preflight("https://evil.example");
    assert_eq!(header(&headers, "access-control-allow-origin"), None, "{headers:?}");
    // Actual requests carry the header for the allowed origin only, errors included.
    let (status, headers) = raw("GET", &server.url("/api/v1/me"), &[("Origin", allowed)]);
    assert_eq!(status, 401);
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(allowed));
    let (_, headers) = raw("GET", &server.url("/api/v1/me"), &[("Origin", "https://evil.example")]);
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
}

#[test]
fn refusals_never_say_which_part_was_wrong() {
    let (server, _clock) = server_with(SecurityConfig::default());
    server.user("jo", &["user"]);
    let wrong_password = login(&server, "jo", "nope");
    let unknown_user = login(&server, "nobody", "nope");
    assert_eq!(wrong_password.status, 401);
    assert_eq!(wrong_password.body, unknown_user.body);
    assert_eq!(wrong_password.body, json!({"status": "error", "message": "Unauthorized"}));
    let blocked: Value = {
        for _ in 0..10 {
            login(&server, "jo", "nope");
        }
        login(&server, "jo", PASSWORD).body
    };
    assert!(!blocked.to_string().contains("jo"), "{blocked}");
}
