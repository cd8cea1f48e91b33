//! The console in a real browser: headless Chromium driven through chromedriver (Debian's
//! `chromium` and `chromium-driver`) with fantoccini.
//!
//! Two agents sign in in two browser sessions. A conversation enqueued over REST appears in
//! both queues without a reload; agent A takes it, it leaves B's queue and shows in A's chats.
//! The server restarts on the same address and data directory; while the consoles reconnect,
//! more happens over REST, and both consoles show all of it: nothing missed. Screenshots of the
//! agent and supervisor views are saved under the target directory.
//!
//! Without chromedriver the test says so and passes, except under CI (`CI` set), where it
//! fails: CI installs the browser (`.ci/run`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use lobby_core::RoutingMethod;
use lobby_server::stores::StoreSpec;
use lobby_server::{AppState, PasswordCost, RunningServer, ServerConfig};
use serde_json::{json, Value};

use crate::helpers::client::TestServer;
use crate::helpers::PASSWORD;

/// Only bounds a hang: every wait below is a condition.
const CEILING: Duration = Duration::from_secs(60);

/// chromedriver on a free port; killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Option<Self> {
        let binary = ["chromedriver", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|path| Command::new(path).arg("--version").output().is_ok_and(|o| o.status.success()))?;
        let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let driver = Self { child, url: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + CEILING;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver never listened on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(driver)
    }

    async fn session(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,860", "--force-device-scale-factor=1"] }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector).capabilities(capabilities).connect(&self.url).await.expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config() -> ServerConfig {
    ServerConfig {
        routing: lobby_core::RoutingConfig { method: RoutingMethod::ManualSelection, ..Default::default() },
        dispatch_interval: Duration::from_millis(200),
        password_cost: PasswordCost::Fast,
        ..ServerConfig::default()
    }
}

fn serve(spec: &StoreSpec, addr: SocketAddr) -> TestServer {
    // The previous server's store is released when it stops; the port may linger a moment.
    let deadline = Instant::now() + CEILING;
    loop {
        let state = AppState::new(spec.open().expect("the store opens"), config());
        match RunningServer::start(state, addr) {
            Ok(server) => return TestServer { server },
            Err(error) => assert!(Instant::now() < deadline, "cannot listen on {addr} again: {error}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `script` (returning JSON) until `ready` holds; returns how long it took.
async fn wait_for(browser: &Client, what: &str, script: &str, ready: impl Fn(&Value) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let value = browser.execute(script, vec![]).await.unwrap_or(Value::Null);
        if ready(&value) {
            return started.elapsed();
        }
        assert!(started.elapsed() < CEILING, "{what}: still {value} after {CEILING:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

const QUEUE: &str = "return [...document.querySelectorAll('#queue tbody tr')].map(r => r.dataset.rid)";
const CHATS: &str = "return [...document.querySelectorAll('#chats tbody tr')].map(r => r.dataset.rid)";
const CONNECTION: &str = "return document.getElementById('connection').textContent";

fn has(value: &Value, rid: &str) -> bool {
    value.as_array().is_some_and(|rows| rows.iter().any(|row| row == rid))
}

async fn sign_in(browser: &Client, base: &str, username: &str) {
    browser.goto(base).await.unwrap();
    for (field, text) in [("username", username), ("password", PASSWORD)] {
        let input = browser.find(Locator::Id(field)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }
    browser.find(Locator::Id("login-button")).await.unwrap().click().await.unwrap();
    wait_for(browser, &format!("{username}'s stream"), CONNECTION, |v| v == "live").await;
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn two_agents_follow_one_queue_live_across_a_restart() {
    let Some(driver) = Driver::start() else {
        assert!(std::env::var_os("CI").is_none(), "CI must provide chromedriver (apt-get install chromium-driver)");
        eprintln!("skipped: chromedriver not found (install Debian's chromium and chromium-driver)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = StoreSpec::parse("sled", &dir.path().join("data")).unwrap();
    let server = serve(&spec, "127.0.0.1:0".parse().unwrap());
    let addr = server.server.addr();
    let base = server.url("/");
    let admin = server.user("admin", &["admin", "livechat-manager", "livechat-agent"]);
    server.agent("alice");
    server.agent("bob");
    // RunningServer starts its own runtime, so the restart happens between the browser steps.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (alice, bob, first) = runtime.block_on(async {
        let alice = driver.session().await;
        let bob = driver.session().await;
        sign_in(&alice, &base, "alice").await;
        sign_in(&bob, &base, "bob").await;

        // 1. Enqueued over REST: in both queues, without a reload.
        let (_, first) = server.visitor_with_room("e2e-1", "Erin", None);
        let in_alice = wait_for(&alice, "alice's queue", QUEUE, |v| has(v, &first)).await;
        let in_bob = wait_for(&bob, "bob's queue", QUEUE, |v| has(v, &first)).await;
        eprintln!("the new conversation showed in alice's queue after {in_alice:?}, in bob's after {in_bob:?}");

        // 2. alice takes it: it leaves bob's queue and shows in alice's chats.
        take(&alice, &first).await;
        let gone = wait_for(&bob, "bob's queue without it", QUEUE, |v| !has(v, &first)).await;
        eprintln!("after the take, the row left bob's queue after {gone:?}");
        (alice, bob, first)
    });

    // 3. The server restarts; meanwhile a conversation arrives and alice's is closed.
    let TestServer { server } = server;
    server.stop().expect("clean shutdown");
    runtime.block_on(wait_for(&alice, "alice sees the break", CONNECTION, |v| v != "live"));
    let server = serve(&spec, addr);
    let (_, second) = server.visitor_with_room("e2e-2", "Femi", None);
    let closed = server.post("/api/v1/livechat/room.closeByUser", Some(&admin), &json!({"rid": first}));
    assert_eq!(closed.status, 200, "{}", closed.raw);

    runtime.block_on(async {
        for (name, browser) in [("alice", &alice), ("bob", &bob)] {
            wait_for(browser, &format!("{name} reconnects"), CONNECTION, |v| v == "live").await;
            wait_for(browser, &format!("{name}'s queue after the restart"), QUEUE, |v| has(v, &second)).await;
        }
        wait_for(&alice, "alice's chats after the restart", CHATS, |v| !has(v, &first)).await;

        // Screenshots: alice's agent view with a chat and a queue, and the supervisor's view.
        take(&alice, &second).await;
        let mut waiting = Vec::new();
        for (token, name) in [("e2e-3", "Gus"), ("e2e-4", "Hana"), ("e2e-5", "Ivo")] {
            waiting.push(server.visitor_with_room(token, name, None).1);
        }
        wait_for(&alice, "the queue of three", QUEUE, |v| waiting.iter().all(|rid| has(v, rid))).await;
        let shots = screenshot_dir();
        std::fs::write(shots.join("agent-view.png"), alice.screenshot().await.unwrap()).unwrap();
        // The supervisor signs in where alice signed out (one browser fewer to start).
        alice.find(Locator::Id("logout")).await.unwrap().click().await.unwrap();
        let boss = alice;
        sign_in(&boss, &base, "admin").await;
        boss.find(Locator::Id("tab-supervisor")).await.unwrap().click().await.unwrap();
        let tiles = "return document.querySelectorAll('#tiles .tile').length";
        wait_for(&boss, "the supervisor's tiles", tiles, |v| v.as_u64().unwrap_or(0) >= 4).await;
        let chart = "return document.querySelectorAll('#chart polyline').length";
        wait_for(&boss, "the chart", chart, |v| v.as_u64().unwrap_or(0) >= 1).await;
        std::fs::write(shots.join("supervisor-view.png"), boss.screenshot().await.unwrap()).unwrap();
        // The history is one click away.
        boss.find(Locator::Css("#all button[data-action='history']")).await.unwrap().click().await.unwrap();
        let history = "return document.querySelectorAll('#history-list li time').length";
        wait_for(&boss, "the history", history, |v| v.as_u64().unwrap_or(0) >= 2).await;
        std::fs::write(shots.join("supervisor-history.png"), boss.screenshot().await.unwrap()).unwrap();
        eprintln!("screenshots in {}", shots.display());
        for browser in [bob, boss] {
            browser.close().await.unwrap();
        }
    });
    drop(server);
}

/// Clicks the Take button of `rid`'s row once it is enabled, and waits for the row to move to
/// the browser's chats.
async fn take(browser: &Client, rid: &str) {
    let button = format!("#queue tr[data-rid='{rid}'] button[data-action='take']");
    let enabled = format!("const b = document.querySelector(\"{button}\"); return !!b && !b.disabled");
    wait_for(browser, "an enabled Take button", &enabled, |v| v == true).await;
    browser.find(Locator::Css(&button)).await.unwrap().click().await.unwrap();
    wait_for(browser, "the chat", CHATS, |v| has(v, rid)).await;
}
