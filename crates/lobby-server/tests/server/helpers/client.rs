//! A real server on 127.0.0.1:0 over a memory (or sled) store, and a small HTTP client on ureq
//! that returns status and JSON body for every answer (ureq reports 4xx/5xx as errors; the body
//! is read from `ureq::Error::Status`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use lobby_core::{Actor, AgentAvailability, RoutingConfig, RoutingMethod, UserId};
use lobby_server::stores::StoreHandle;
use lobby_server::{AppState, PasswordCost, RunningServer, ServerConfig};
use serde_json::Value;

use super::{sign_up, Login};

pub struct TestServer {
    pub server: RunningServer,
}

/// A status and a JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub raw: String,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(RoutingMethod::ManualSelection)
    }

    pub fn start_with(method: RoutingMethod) -> Self {
        Self::start_on(StoreHandle::memory(), method)
    }

    /// On a temporary sled store (flushed on every commit).
    pub fn start_sled() -> Self {
        let store = lobby_sled::SledStore::temporary().expect("temporary sled store");
        Self::start_on(lobby_server::stores::sled_handle(std::sync::Arc::new(store)), RoutingMethod::ManualSelection)
    }

    /// On a memory store with this configuration.
    pub fn start_configured(config: ServerConfig) -> Self {
        let state = AppState::new(StoreHandle::memory(), config);
        Self { server: RunningServer::start(state, "127.0.0.1:0".parse().unwrap()).expect("server starts") }
    }

    pub fn start_on(store: StoreHandle, method: RoutingMethod) -> Self {
        let config = ServerConfig {
            routing: RoutingConfig { method, ..RoutingConfig::default() },
            timers: lobby_core::TimerConfig::default(),
            dispatch_interval: Duration::from_millis(200),
            password_cost: PasswordCost::Fast,
            ..ServerConfig::default()
        };
        let state = AppState::new(store, config);
        let server = RunningServer::start(state, "127.0.0.1:0".parse().unwrap()).expect("server starts");
        Self { server }
    }

    pub fn state(&self) -> &AppState {
        self.server.state()
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Creates a user directly in the engine (there is no user before the first admin) and
    /// returns a login token minted for it.
    pub fn user(&self, username: &str, roles: &[&str]) -> Login {
        sign_up(self.state(), username, roles)
    }

    pub fn admin(&self) -> Login {
        self.user("admin", &["admin", "livechat-agent"])
    }

    pub fn agent(&self, username: &str) -> Login {
        self.user(username, &["livechat-agent"])
    }

    pub fn set_availability(&self, login: &Login, availability: AgentAvailability) {
        let id = UserId::new(login.user_id.clone()).unwrap();
        self.state().engine().set_agent_availability(&Actor::System, &id, Some(availability)).unwrap();
    }

    pub fn get(&self, path: &str, login: Option<&Login>) -> Reply {
        send("GET", &self.url(path), login, None)
    }

    pub fn post(&self, path: &str, login: Option<&Login>, body: &Value) -> Reply {
        send("POST", &self.url(path), login, Some(("application/json", body.to_string().into_bytes())))
    }

    pub fn put(&self, path: &str, login: Option<&Login>, body: &Value) -> Reply {
        send("PUT", &self.url(path), login, Some(("application/json", body.to_string().into_bytes())))
    }

    pub fn post_raw(&self, path: &str, login: Option<&Login>, content_type: &str, body: Vec<u8>) -> Reply {
        send("POST", &self.url(path), login, Some((content_type, body)))
    }

    /// A visitor with an open conversation; returns (token, room id).
    pub fn visitor_with_room(&self, token: &str, name: &str, department: Option<&str>) -> (String, String) {
        let mut visitor = serde_json::json!({ "token": token, "name": name });
        if let Some(department) = department {
            visitor["department"] = Value::from(department);
        }
        let reply = self.post("/api/v1/livechat/visitor", None, &serde_json::json!({ "visitor": visitor }));
        assert_eq!(reply.status, 200, "{}", reply.raw);
        let room = self.get(&format!("/api/v1/livechat/room?token={token}"), None);
        assert_eq!(room.status, 200, "{}", room.raw);
        (token.to_owned(), room.body["room"]["_id"].as_str().unwrap().to_owned())
    }

    /// Polls getOne until the room's inquiry has `status` (the dispatcher runs in the background).
    pub fn wait_for_status(&self, login: &Login, rid: &str, status: &str) -> Value {
        // Only bounds a hang: the dispatcher gets there as soon as the machine lets it.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let reply = self.get(&format!("/api/v1/livechat/inquiries.getOne?roomId={rid}"), Some(login));
            assert_eq!(reply.status, 200, "{}", reply.raw);
            if reply.body["inquiry"]["status"] == status {
                return reply.body["inquiry"].clone();
            }
            assert!(Instant::now() < deadline, "room {rid} never became {status}: {}", reply.raw);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub fn send(method: &str, url: &str, login: Option<&Login>, body: Option<(&str, Vec<u8>)>) -> Reply {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
    let mut request = agent.request(method, url);
    if let Some(login) = login {
        request = request.set("X-Auth-Token", &login.token).set("X-User-Id", &login.user_id);
    }
    let result = match body {
        Some((content_type, bytes)) => request.set("Content-Type", content_type).send_bytes(&bytes),
        None => request.call(),
    };
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{method} {url}: {error}"),
    };
    let status = response.status();
    let content_type = response.content_type().to_owned();
    let raw = response.into_string().expect("body");
    assert_eq!(content_type, "application/json", "{method} {url} answered {status} with {content_type}: {raw}");
    let body = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{method} {url}: not JSON ({e}): {raw}"));
    Reply { status, body, raw }
}

/// Rocket.Chat's timestamp format: `2019-06-11T19:01:57.424Z`.
pub fn is_rc_timestamp(value: &Value) -> bool {
    let Some(text) = value.as_str() else { return false };
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| range.into_iter().all(|i| bytes[i].is_ascii_digit());
    bytes.len() == 24
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19)
        && bytes[19] == b'.'
        && digits(20..23)
        && bytes[23] == b'Z'
}

pub fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}
