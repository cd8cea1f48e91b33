//! `--retention` and `--retention-action`: a server archives (or deletes) closed conversations
//! in the background, and `inquiries.getOne` and `inquiries.history` still answer for archived
//! ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lobby_core::{
    Clock, EventQuery, InquiryFilter, InquiryQuery, InquirySort, InquiryStatus, ManualClock, RetentionAction,
    RetentionPolicy, Store, SystemClock,
};
use lobby_server::stores::StoreHandle;
use lobby_server::{AppState, RunningServer, ServerConfig};

use crate::helpers::client::send;
use crate::helpers::fixture::{test_config, Fixture};

const DAY_MS: i64 = 86_400_000;

fn closed_total(store: &dyn Store) -> usize {
    let closed = InquiryQuery {
        filter: InquiryFilter::status(InquiryStatus::Closed),
        sort: InquirySort::default(),
        offset: 0,
        limit: 10,
    };
    store.list_inquiries(&closed).unwrap().total
}

/// The fixture's store, served by a server whose clock stands `days` after now and whose
/// retention keeps 30 days.
fn server_later(fixture: &Fixture, days: i64, action: RetentionAction) -> RunningServer {
    let later = SystemClock.now().plus_millis(days * DAY_MS);
    let config = ServerConfig {
        clock: Arc::new(ManualClock::new(later, 0)),
        retention: RetentionPolicy { age: "30d".parse().unwrap(), action, ..RetentionPolicy::default() },
        ..test_config()
    };
    let store = StoreHandle::new(fixture.state.engine().store().clone(), "the fixture's");
    RunningServer::start(AppState::new(store, config), "127.0.0.1:0".parse().unwrap()).expect("server starts")
}

/// Waits for the server's first retention pass (it starts with the server) to take the closed
/// conversation out of the hot set.
fn wait_until_retired(store: &dyn Store) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while closed_total(store) > 0 {
        assert!(Instant::now() < deadline, "the retention pass did not run");
        // Polling a background task, not timing it.
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_server_archives_old_closed_conversations_and_still_answers_for_them() {
    let fixture = Fixture::new();
    let store = fixture.state.engine().store().clone();
    let before = store.events(&EventQuery::all()).unwrap().len();
    // 29 days on, nothing is old enough.
    let early = server_later(&fixture, 29, RetentionAction::Archive);
    let admin = fixture.login("admin");
    let list = early.url("/api/v1/livechat/inquiries.list?status=closed");
    assert_eq!(send("GET", &list, Some(admin), None).body["total"], 1);
    drop(early);
    assert_eq!(closed_total(&*store), 1);

    let server = server_later(&fixture, 31, RetentionAction::Archive);
    wait_until_retired(&*store);
    let listed = send("GET", &server.url("/api/v1/livechat/inquiries.list?status=closed"), Some(admin), None);
    assert_eq!((listed.status, listed.body["total"].clone()), (200, 0.into()), "{}", listed.raw);
    let rid = &fixture.names["closed_rid"];
    let one = send("GET", &server.url(&format!("/api/v1/livechat/inquiries.getOne?roomId={rid}")), Some(admin), None);
    assert_eq!(one.status, 200, "{}", one.raw);
    assert_eq!(
        (one.body["inquiry"]["rid"].as_str(), one.body["inquiry"]["status"].as_str()),
        (Some(rid.as_str()), Some("closed"))
    );
    let id = &fixture.names["closed_inquiry"];
    let history =
        send("GET", &server.url(&format!("/api/v1/livechat/inquiries.history?inquiryId={id}")), Some(admin), None);
    let kinds = history.body["events"].as_array().map_or(0, Vec::len);
    assert!(history.status == 200 && kinds >= 2, "the archived conversation's history: {}", history.raw);
    // Still open conversations, and their events, are untouched.
    let open = send("GET", &server.url("/api/v1/livechat/inquiries.list"), Some(admin), None);
    assert_eq!(open.body["total"], 2, "{}", open.raw);
    assert!(store.events(&EventQuery::all()).unwrap().len() < before, "the closed conversation's events left the log");
}

#[test]
fn with_delete_they_are_gone() {
    let fixture = Fixture::new();
    let store = fixture.state.engine().store().clone();
    let server = server_later(&fixture, 31, RetentionAction::Delete);
    wait_until_retired(&*store);
    let admin = fixture.login("admin");
    let rid = &fixture.names["closed_rid"];
    let one = send("GET", &server.url(&format!("/api/v1/livechat/inquiries.getOne?roomId={rid}")), Some(admin), None);
    assert_eq!((one.status, one.body["inquiry"].clone()), (200, serde_json::Value::Null), "{}", one.raw);
    assert_eq!(store.archived_events(&EventQuery::all()).unwrap(), vec![]);
}

#[test]
fn the_binary_refuses_a_retention_age_it_cannot_read() {
    for (args, expected) in [
        (&["--retention", "3w"][..], "'3w' is not a retention age"),
        (&["--retention", "30d", "--retention-action", "shred"][..], "invalid value 'shred'"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_lobby-server"))
            .args(["--store", "memory"])
            .args(args)
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
