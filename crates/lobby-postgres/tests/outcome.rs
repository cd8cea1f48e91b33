//! Commit outcome certainty: a tiny TCP proxy between the store and PostgreSQL cuts the
//! connection at `COMMIT`, either after the server got it (its answer is dropped) or before
//! (the `COMMIT` is dropped and the session left idle in its transaction, holding its locks).
//! The store must then tell which happened: done (the take succeeds, once) or not done (nothing
//! written, a retry works), never a double take and never a guess.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lobby_core::machine::TransitionKind;
use lobby_core::{
    Actor, CoreError, Engine, EventKind, EventQuery, InquiryId, InquiryStatus, NewUser, Role, Store, StoreError,
    UserId, VisitorDetails,
};
use lobby_postgres::PostgresStore;

/// What the proxy does to the next `COMMIT`.
const PASS: u8 = 0;
const DROP_REPLY: u8 = 1;
const DROP_COMMIT: u8 = 2;

struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
    /// How many `COMMIT`s it cut.
    cuts: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(PASS));
        let cuts = Arc::new(AtomicUsize::new(0));
        let (m, c) = (Arc::clone(&mode), Arc::clone(&cuts));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let (m, c) = (Arc::clone(&m), Arc::clone(&c));
                std::thread::spawn(move || relay(client, server, &m, &c));
            }
        });
        Self { port, mode, cuts }
    }

    /// Acts on the next `COMMIT` only.
    fn arm(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

/// Forwards one connection, reading the client's side message by message (the startup
/// packet has no type byte; every later one has).
fn relay(mut client: TcpStream, mut server: TcpStream, mode: &AtomicU8, cuts: &AtomicUsize) {
    let cut = Arc::new(AtomicBool::new(false));
    let reply_seen = Arc::new(AtomicBool::new(false));
    {
        let (mut from, mut to) = (server.try_clone().unwrap(), client.try_clone().unwrap());
        let (cut, reply_seen) = (Arc::clone(&cut), Arc::clone(&reply_seen));
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = from.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                if cut.load(Ordering::SeqCst) {
                    reply_seen.store(true, Ordering::SeqCst); // dropped on the floor
                    continue;
                }
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        });
    }
    let mut typed = false;
    loop {
        let mut kind = [0u8; 1];
        if typed && client.read_exact(&mut kind).is_err() {
            break;
        }
        let mut length = [0u8; 4];
        if client.read_exact(&mut length).is_err() {
            break;
        }
        let mut body = vec![0u8; (u32::from_be_bytes(length) as usize).saturating_sub(4)];
        if client.read_exact(&mut body).is_err() {
            break;
        }
        let is_commit = typed && kind[0] == b'Q' && body.starts_with(b"COMMIT\0");
        let action = if is_commit { mode.swap(PASS, Ordering::SeqCst) } else { PASS };
        if action == DROP_COMMIT {
            // The server never sees COMMIT; its session stays open, in the transaction.
            cuts.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        if action == DROP_REPLY {
            cut.store(true, Ordering::SeqCst);
        }
        let mut message = Vec::with_capacity(body.len() + 5);
        if typed {
            message.push(kind[0]);
        }
        message.extend_from_slice(&length);
        message.extend_from_slice(&body);
        if server.write_all(&message).is_err() {
            break;
        }
        if action == DROP_REPLY {
            // Wait until the server answered (so COMMIT is done there), then hang up on the client.
            for _ in 0..3000 {
                if reply_seen.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(reply_seen.load(Ordering::SeqCst), "the server never answered COMMIT");
            cuts.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        // SSLRequest (80877103) and GSSENCRequest (80877104) come before the startup packet.
        let code = body.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        if !typed && !matches!(code, Some(80_877_103 | 80_877_104)) {
            typed = true;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

fn upstream_and_proxied(url: &str, proxy_port: u16) -> (String, String) {
    let config: postgres::Config = url.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        postgres::config::Host::Tcp(host) => host.clone(),
        #[allow(unreachable_patterns)]
        _ => panic!("the test server must be reached over TCP"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("lobby");
    let dbname = config.get_dbname().unwrap_or("lobby_test");
    let password = config.get_password().map(|p| format!(":{}", String::from_utf8_lossy(p))).unwrap_or_default();
    (format!("{host}:{port}"), format!("postgres://{user}{password}@127.0.0.1:{proxy_port}/{dbname}"))
}

struct Setup {
    engine: Engine<Arc<PostgresStore>>,
    store: Arc<PostgresStore>,
    agent: UserId,
    inquiries: Vec<InquiryId>,
}

fn setup(url: &str, conversations: usize) -> Setup {
    let store = Arc::new(PostgresStore::temporary(url).expect("temporary schema"));
    let engine = Engine::new(Arc::clone(&store));
    let agent =
        engine.create_user(&Actor::System, NewUser::new("ann", "Ann", [Role::livechat_agent()])).expect("agent").id;
    let mut inquiries = Vec::new();
    for i in 0..conversations {
        let token = format!("visitor-{i}");
        engine.register_visitor(&VisitorDetails { token: token.clone(), ..Default::default() }).unwrap();
        inquiries.push(engine.open_room(&token, None).unwrap().inquiry.id);
    }
    engine.dispatch(&Actor::System).unwrap();
    Setup { engine, store, agent, inquiries }
}

fn takes_of(store: &PostgresStore, inquiry: &InquiryId) -> usize {
    let events = store.events(&EventQuery::all().limit(10_000)).unwrap();
    events
        .iter()
        .filter(|e| e.event.inquiry.as_ref() == Some(inquiry))
        .filter(|e| matches!(&e.event.kind, EventKind::Transition { transition: TransitionKind::Take, .. }))
        .count()
}

#[test]
fn a_commit_whose_answer_is_lost_is_reported_done_once() {
    let Some(url) = common::server_url() else { return };
    let (upstream, _) = upstream_and_proxied(&url, 0);
    let proxy = Proxy::start(upstream);
    let (_, proxied) = upstream_and_proxied(&url, proxy.port);
    let Setup { engine, store, agent, inquiries } = setup(&proxied, 3);
    let ann = Actor::User(agent.clone());

    // 1. The server commits the take, and its answer never arrives.
    proxy.arm(DROP_REPLY);
    let taken = engine.take(&ann, &inquiries[0], None).expect("the lost answer is found out: done");
    assert_eq!(proxy.cuts.load(Ordering::SeqCst), 1, "the proxy cut the COMMIT's answer");
    assert_eq!(taken.status, InquiryStatus::Taken);
    assert_eq!(takes_of(&store, &inquiries[0]), 1, "taken once, not retried");
    assert_eq!(engine.agent(&agent).unwrap().unwrap().active_chats, 1);
    // Taking it again is the ordinary refusal, not a second take.
    assert!(matches!(engine.take(&ann, &inquiries[0], None), Err(CoreError::InquiryAlreadyTaken)));

    // 2. The COMMIT never reaches the server; its session sits in the transaction, holding the
    //    inquiry's and the agent's rows, until the store ends it.
    proxy.arm(DROP_COMMIT);
    let refused = engine.take(&ann, &inquiries[1], None).expect_err("not done");
    assert_eq!(proxy.cuts.load(Ordering::SeqCst), 2);
    match &refused {
        CoreError::Store(StoreError::Unavailable(message)) => {
            assert!(message.contains("before COMMIT took effect"), "{message}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let untouched = engine.inquiry(&Actor::System, &inquiries[1]).unwrap().unwrap();
    assert_eq!(untouched.status, InquiryStatus::Open, "nothing was written");
    assert_eq!(takes_of(&store, &inquiries[1]), 0);
    assert_eq!(engine.agent(&agent).unwrap().unwrap().active_chats, 1);
    // The held rows were freed (the old session is gone): the retry goes through at once.
    engine.take(&ann, &inquiries[1], None).expect("the retry works");
    assert_eq!(takes_of(&store, &inquiries[1]), 1);

    // 3. Commits without writes of their own kind (a user's token list) go the same way.
    proxy.arm(DROP_REPLY);
    engine.add_login_token(&agent, "hash:1".into()).expect("done");
    assert_eq!(engine.user(&agent).unwrap().unwrap().login_token_hashes, vec!["hash:1".to_owned()]);
    assert_eq!(proxy.cuts.load(Ordering::SeqCst), 3);

    let report = store.check_integrity().unwrap();
    assert!(report.problems.is_empty(), "{report:?}");
    assert_eq!(engine.agent(&agent).unwrap().unwrap().active_chats, 2);
}
