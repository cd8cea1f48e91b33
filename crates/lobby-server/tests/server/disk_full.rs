//! Disk full under the sled store: the data directory is a small tmpfs of the test's own, filled
//! with a file until a few hundred KiB are left, then conversations are opened over HTTP until
//! commits fail. Failures must be 503 envelopes that name no file or error detail; nothing
//! acknowledged may be lost; once space is back and the store is reopened (sled refuses to
//! build on a log whose last flush failed), the integrity check passes and service resumes.
//!
//! Mounting needs root (`CAP_SYS_ADMIN`); elsewhere the test says it is skipped.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use lobby_core::{Actor, RoomId};
use lobby_server::stores::sled_handle;
use lobby_server::{AppState, RunningServer};
use lobby_sled::{SledConfig, SledStore};
use serde_json::json;

use crate::helpers::client::send;
use crate::helpers::fixture::test_config;

/// A tmpfs mounted on a fresh directory, unmounted on drop.
pub(crate) struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    pub(crate) fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        if !mounted.status.success() {
            eprintln!("skipped: cannot mount a tmpfs here ({})", String::from_utf8_lossy(&mounted.stderr).trim());
            return None;
        }
        Some(Self { dir })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fills the file system with `path` until a write fails, then gives back `leave` bytes.
pub(crate) fn fill(path: &Path, leave: u64) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    while file.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = file.flush();
    file.set_len(written.saturating_sub(leave)).unwrap();
    file.sync_all().unwrap();
}

fn open(path: &PathBuf) -> SledStore {
    SledStore::open_waiting(path, SledConfig::default(), Duration::from_secs(60)).expect("the store opens")
}

#[test]
fn a_full_disk_gives_503s_loses_nothing_and_service_resumes_after_reopening() {
    let Some(tmpfs) = Tmpfs::mount("24m") else { return };
    let db = tmpfs.path().join("db");
    let filler = tmpfs.path().join("filler");
    let store = Arc::new(open(&db));
    let server = RunningServer::start(AppState::new(sled_handle(store), test_config()), "127.0.0.1:0".parse().unwrap())
        .expect("server starts");
    fill(&filler, 256 * 1024);

    // Open conversations until commits fail (bounded).
    let mut acknowledged: Vec<String> = Vec::new();
    let mut failure = None;
    for n in 0..20_000 {
        let token = format!("full-{n}");
        let visitor = send(
            "POST",
            &server.url("/api/v1/livechat/visitor"),
            None,
            Some((
                "application/json",
                json!({"visitor": {"token": token, "name": "x".repeat(200)}}).to_string().into_bytes(),
            )),
        );
        if visitor.status != 200 {
            failure = Some(visitor);
            break;
        }
        let room = send("GET", &server.url(&format!("/api/v1/livechat/room?token={token}")), None, None);
        if room.status != 200 {
            failure = Some(room);
            break;
        }
        acknowledged.push(room.body["room"]["_id"].as_str().unwrap().to_owned());
    }
    let failure = failure.expect("the disk filled up");
    assert_eq!(failure.status, 503, "{}", failure.raw);
    assert_eq!(
        failure.body,
        json!({"success": false, "errorType": "error-store-unavailable",
               "error": "The service is temporarily unavailable, try again [error-store-unavailable]"})
    );
    // Until reopened, writes keep answering 503, even once space is back.
    std::fs::remove_file(&filler).unwrap();
    let again = send(
        "POST",
        &server.url("/api/v1/livechat/visitor"),
        None,
        Some(("application/json", json!({"visitor": {"token": "after"}}).to_string().into_bytes())),
    );
    assert_eq!(again.status, 503, "{}", again.raw);
    // Reads work, unless sled's background flusher met the full disk too: then sled keeps that
    // error for every call until reopened, and reads are 503 as well (never 500, never wrong).
    let first = RoomId::new(acknowledged[0].clone()).unwrap();
    match server.state().engine().inquiry_by_room(&Actor::System, &first) {
        Ok(found) => assert!(found.is_some()),
        Err(lobby_core::CoreError::Store(lobby_core::StoreError::Unavailable(_))) => {}
        Err(other) => panic!("a read failed otherwise: {other:?}"),
    }
    server.stop().unwrap();

    // Reopened with space back: nothing acknowledged is lost, nothing is inconsistent, and it
    // takes writes again.
    let reopened = Arc::new(open(&db));
    let report = lobby_core::Store::check_integrity(&*reopened).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let state = AppState::new(sled_handle(Arc::clone(&reopened)), test_config());
    for rid in &acknowledged {
        let found = state.engine().inquiry_by_room(&Actor::System, &RoomId::new(rid.clone()).unwrap()).unwrap();
        assert!(found.is_some(), "acknowledged conversation {rid} is gone");
    }
    let server = RunningServer::start(state, "127.0.0.1:0".parse().unwrap()).unwrap();
    let resumed = send(
        "POST",
        &server.url("/api/v1/livechat/visitor"),
        None,
        Some(("application/json", json!({"visitor": {"token": "resumed"}}).to_string().into_bytes())),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.raw);
    let room = send("GET", &server.url("/api/v1/livechat/room?token=resumed"), None, None);
    assert_eq!(room.status, 200, "{}", room.raw);
    eprintln!("disk full after {} conversations; reopened, integrity clean, service resumed", acknowledged.len());
    server.stop().unwrap();
}
