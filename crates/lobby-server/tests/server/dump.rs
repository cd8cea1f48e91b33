//! Backup, restore and migrate: dumps survive every store byte for byte, a migrated store
//! serves the same answers, bad dumps are refused by line and leave the target as it was, and
//! the `export`, `import`, `migrate` and `check` commands of the binary.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use lobby_core::{
    ArchiveKey, Clock, Commit, EventQuery, Inquiry, InquiryFilter, InquiryQuery, InquirySort, InquiryStatus,
    ManualClock, Record, RecordKey, RecordKind, RetentionAction, Retirement, Store, StoreExt, SystemClock, UserId,
    Write as RecordWrite,
};
use lobby_memory::MemoryStore;
use lobby_postgres::PostgresStore;
use lobby_server::dump::{self, DumpError, ExportOptions, Progress, Source, TargetPolicy};
use lobby_server::stores::{sled_handle, StoreHandle};
use lobby_server::{AppState, RunningServer, ServerConfig};
use lobby_sled::SledStore;
use serde_json::{json, Value};

use crate::disk_full::{fill, Tmpfs};
use crate::helpers::client::send;
use crate::helpers::fixture::{snapshot, test_config, Fixture, Snapshot};
use crate::helpers::postgres_url;

fn hidden() -> Progress {
    Progress::hidden()
}

/// The seeded fixture (users with logins, agents, departments, visitors, inquiries in every
/// status, their events) as a dump.
fn fixture_dump() -> (Fixture, Vec<u8>) {
    let fixture = Fixture::new();
    let mut bytes = Vec::new();
    let store = fixture.state.engine().store();
    dump::export(Source::Store(&**store), &mut bytes, &hidden()).expect("export");
    (fixture, bytes)
}

fn read(bytes: &[u8]) -> Result<dump::Dump, DumpError> {
    dump::read(&mut &bytes[..], &hidden())
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec()).unwrap().lines().map(str::to_owned).collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

fn export_bytes(source: Source<'_>) -> Vec<u8> {
    let mut bytes = Vec::new();
    dump::export(source, &mut bytes, &hidden()).expect("export");
    bytes
}

fn store_snapshot(store: &dyn Store) -> (Vec<(RecordKey, Record)>, usize) {
    let mut records = Vec::new();
    for kind in RecordKind::ALL {
        records.extend(store.scan(kind).unwrap().into_iter().map(|r| (r.value.key(), r.value)));
    }
    (records, store.events(&EventQuery::all()).unwrap().len())
}

#[test]
fn a_round_trip_memory_file_sled_postgres_file_gives_byte_identical_dumps() {
    let (fixture, _) = fixture_dump();
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.jsonl");
    let memory = fixture.state.engine().store();
    let written = dump::export_file(Source::Store(&**memory), &first, ExportOptions::default(), &hidden()).unwrap();
    assert_eq!(written.records[&RecordKind::Inquiry], 4, "{written}");
    assert_eq!(written.records[&RecordKind::User], 4, "{written}");
    assert!(written.events > 10, "{written}");
    let first_bytes = std::fs::read(&first).unwrap();
    assert!(first_bytes.starts_with(b"{\"format\":\"lobby-dump\",\"version\":2,\"lobby\":\""));

    let sled = SledStore::temporary().unwrap();
    let loaded = dump::read_file(&first, &hidden()).unwrap();
    assert_eq!(loaded.summary, written);
    let imported = dump::import(loaded, &sled, TargetPolicy::MustBeEmpty, &hidden()).unwrap();
    assert_eq!(imported.first_event.map(|s| s.0), Some(1));
    let report = sled.check_integrity().unwrap();
    assert!(report.is_healthy(), "{report}");
    assert_eq!(store_snapshot(&sled), store_snapshot(&**memory), "the sled store holds what the memory store held");

    let last = dir.path().join("last.jsonl.zst");
    let pg = postgres_url().map(|url| PostgresStore::temporary(&url).expect("temporary schema"));
    let final_source = match &pg {
        Some(pg) => {
            let report =
                dump::migrate(Source::Store(&sled), Source::Postgres(pg), TargetPolicy::MustBeEmpty, &hidden())
                    .expect("migrate sled → PostgreSQL");
            assert_eq!(report.source, report.target);
            let checked = pg.check_integrity().unwrap();
            assert!(checked.is_healthy(), "{checked}");
            Source::Postgres(pg)
        }
        None => Source::Store(&sled),
    };
    let again = dump::export_file(final_source, &last, ExportOptions::default(), &hidden()).unwrap();
    assert_eq!(again, written);
    let last_bytes = zstd::decode_all(std::fs::File::open(&last).unwrap()).unwrap();
    assert!(last_bytes == first_bytes, "the dumps differ:\n{}\n---\n{}", lossy(&first_bytes), lossy(&last_bytes));
}

/// Retires every closed inquiry of `store` and its first event about no inquiry.
fn retire_closed(store: &dyn Store, action: RetentionAction) -> Vec<Inquiry> {
    let closed = InquiryQuery {
        filter: InquiryFilter::status(InquiryStatus::Closed),
        sort: InquirySort::default(),
        offset: 0,
        limit: 1000,
    };
    let inquiries = store.list_inquiries(&closed).unwrap().items;
    assert!(!inquiries.is_empty(), "the fixture has closed conversations");
    let versioned = inquiries.iter().map(|i| (i.id.clone(), store.inquiry(&i.id).unwrap().unwrap().version)).collect();
    let loose = store.events(&EventQuery::all()).unwrap().into_iter().find(|e| e.event.inquiry.is_none()).unwrap();
    store.retire(&Retirement { action, inquiries: versioned, events: vec![loose.seq] }).unwrap();
    inquiries
}

#[test]
fn archived_conversations_round_trip_byte_for_byte_and_stay_readable() {
    let (fixture, _) = fixture_dump();
    let memory = fixture.state.engine().store();
    let archived = retire_closed(&**memory, RetentionAction::Archive);
    let first = export_bytes(Source::Store(&**memory));
    let text = lossy(&first);
    assert_eq!(text.matches("{\"archived\":").count(), archived.len(), "{text}");
    assert!(text.contains("{\"archived-event\":"), "{text}");

    let sled = SledStore::temporary().unwrap();
    let imported = dump::import(read(&first).unwrap(), &sled, TargetPolicy::MustBeEmpty, &hidden()).unwrap();
    assert!(!imported.renumbered);
    assert_eq!((imported.dump.archived, imported.dump.archived_events > 0), (archived.len() as u64, true));
    for inquiry in &archived {
        let found = sled.archived_inquiry(&ArchiveKey::Room(inquiry.rid.clone())).unwrap().expect("archived in sled");
        assert_eq!(&found.value, inquiry);
        assert!(sled.inquiry(&inquiry.id).unwrap().is_none(), "{} is not in the hot set", inquiry.id);
    }
    let report = sled.check_integrity().unwrap();
    assert!(report.is_healthy(), "{report}");
    let from_sled = export_bytes(Source::Store(&sled));
    assert!(from_sled == first, "sled's dump differs:\n{}\n---\n{}", lossy(&first), lossy(&from_sled));

    if let Some(url) = postgres_url() {
        let pg = PostgresStore::temporary(&url).expect("temporary schema");
        dump::migrate(Source::Store(&sled), Source::Postgres(&pg), TargetPolicy::MustBeEmpty, &hidden())
            .expect("migrate sled → PostgreSQL");
        let from_pg = export_bytes(Source::Postgres(&pg));
        assert!(from_pg == first, "PostgreSQL's dump differs:\n{}\n---\n{}", lossy(&first), lossy(&from_pg));
    }
    // A store that has an archive is not replaced.
    let error = dump::import(read(&first).unwrap(), &sled, TargetPolicy::Replace, &hidden()).unwrap_err();
    assert!(matches!(error, DumpError::TargetHasArchive), "{error:?}");
}

#[test]
fn a_dump_with_deleted_events_imports_renumbered_in_order() {
    let (fixture, _) = fixture_dump();
    let memory = fixture.state.engine().store();
    retire_closed(&**memory, RetentionAction::Delete);
    let with_gaps = read(&export_bytes(Source::Store(&**memory))).unwrap();
    let kinds: Vec<_> = with_gaps.events.iter().map(|e| e.event.clone()).collect();
    assert!(with_gaps.events.windows(2).any(|w| w[1].seq.0 > w[0].seq.0 + 1), "the deletion left gaps");
    let sled = SledStore::temporary().unwrap();
    let imported = dump::import(with_gaps, &sled, TargetPolicy::MustBeEmpty, &hidden()).unwrap();
    assert!(imported.renumbered);
    let events = sled.events(&EventQuery::all()).unwrap();
    assert_eq!(events.iter().map(|e| e.seq.0).collect::<Vec<_>>(), (1..=kinds.len() as u64).collect::<Vec<_>>());
    assert_eq!(events.into_iter().map(|e| e.event).collect::<Vec<_>>(), kinds, "the same events, in order");
}

#[test]
fn archive_lines_that_contradict_the_hot_set_are_refused() {
    let (fixture, _) = fixture_dump();
    let memory = fixture.state.engine().store();
    let archived = retire_closed(&**memory, RetentionAction::Archive);
    let all = lines(&export_bytes(Source::Store(&**memory)));
    let id = format!("\"inquiry\":\"{}\"", archived[0].id);
    // An event about an archived conversation left in the hot log.
    let mut hot = all.clone();
    let at = hot.iter().position(|l| l.starts_with("{\"archived-event\"") && l.contains(&id)).unwrap();
    hot[at] = hot[at].replacen("{\"archived-event\"", "{\"event\"", 1);
    let error = refused(&join(&hot));
    assert_eq!(line_of(&error), at as u64 + 1, "{error}");
    assert!(error.to_string().contains("is not archived"), "{error}");
    // An archived conversation that is not closed.
    let mut open = all.clone();
    let at = open.iter().position(|l| l.starts_with("{\"archived\"")).unwrap();
    open[at] = open[at].replacen("\"status\":\"closed\"", "\"status\":\"open\"", 1);
    let error = refused(&join(&open));
    assert_eq!(line_of(&error), at as u64 + 1, "{error}");
    // Archive lines in a version 1 dump.
    let mut old = all.clone();
    old[0] = old[0].replace("\"version\":2", "\"version\":1");
    assert_eq!(line_of(&refused(&join(&old))), at as u64 + 1);
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A server on `store` whose clock stands at `at`.
fn server_at(store: StoreHandle, at: lobby_core::Timestamp) -> RunningServer {
    let config = ServerConfig { clock: Arc::new(ManualClock::new(at, 0)), ..test_config() };
    RunningServer::start(AppState::new(store, config), "127.0.0.1:0".parse().unwrap()).expect("server starts")
}

#[test]
fn after_a_migration_a_server_on_the_target_answers_list_take_and_get_one_identically() {
    let source = Arc::new(SledStore::temporary().unwrap());
    let fixture = Fixture::with_store(sled_handle(Arc::clone(&source)));
    let target: Arc<dyn Store> = match postgres_url() {
        Some(url) => Arc::new(PostgresStore::temporary(&url).unwrap()),
        None => Arc::new(SledStore::temporary().unwrap()),
    };
    dump::migrate(Source::Store(&*source), Source::Store(&*target), TargetPolicy::MustBeEmpty, &hidden())
        .expect("migrate");

    let now = SystemClock.now();
    let servers = [
        server_at(sled_handle(Arc::clone(&source)), now),
        server_at(StoreHandle::new(Arc::clone(&target), "target"), now),
    ];
    let (admin, alice) = (fixture.login("admin"), fixture.login("alice"));
    let open_rid = &fixture.names["open_rid"];
    let sales_rid = &fixture.names["sales_rid"];
    let open_inquiry = &fixture.names["open_inquiry"];
    let calls: Vec<(&str, String, Option<Value>, &crate::helpers::Login)> = vec![
        ("GET", "/api/v1/livechat/inquiries.list?count=50".to_owned(), None, admin),
        ("GET", "/api/v1/livechat/inquiries.list?status=closed".to_owned(), None, admin),
        ("GET", "/api/v1/livechat/inquiries.queuedForUser".to_owned(), None, alice),
        ("GET", format!("/api/v1/livechat/inquiries.getOne?roomId={}", fixture.names["taken_rid"]), None, admin),
        ("GET", format!("/api/v1/livechat/inquiries.getOne?roomId={}", fixture.names["closed_rid"]), None, admin),
        ("GET", format!("/api/v1/livechat/inquiries.getOne?roomId={sales_rid}"), None, alice),
        ("POST", "/api/v1/livechat/inquiries.take".to_owned(), Some(json!({ "inquiryId": open_inquiry })), admin),
        ("GET", format!("/api/v1/livechat/inquiries.getOne?roomId={open_rid}"), None, admin),
        ("GET", "/api/v1/livechat/inquiries.list?count=50".to_owned(), None, admin),
    ];
    for (method, path, body, login) in calls {
        let replies: Vec<_> = servers
            .iter()
            .map(|server| {
                let body = body.as_ref().map(|b| ("application/json", b.to_string().into_bytes()));
                send(method, &server.url(&path), Some(login), body)
            })
            .collect();
        assert_eq!(replies[0].status, 200, "{method} {path}: {}", replies[0].raw);
        assert_eq!(replies[0].body, replies[1].body, "{method} {path} answers differently after the migration");
    }
    for server in servers {
        server.stop().unwrap();
    }
}

/// A memory store with the fixture's contents, and a snapshot to compare with later.
fn non_empty_target() -> (Arc<MemoryStore>, Snapshot) {
    let store = Arc::new(MemoryStore::new());
    let fixture = Fixture::with_store(StoreHandle::new(Arc::clone(&store) as Arc<dyn Store>, "memory"));
    let before = snapshot(&fixture.state);
    (store, before)
}

fn snapshot_of(store: &Arc<MemoryStore>) -> Snapshot {
    let state = AppState::new(StoreHandle::new(Arc::clone(store) as Arc<dyn Store>, "memory"), test_config());
    snapshot(&state)
}

/// Reads `bytes` as a dump and, if that passes, imports it over a non-empty target with
/// `--force`; the target must be unchanged either way.
fn refused(bytes: &[u8]) -> DumpError {
    let (target, before) = non_empty_target();
    let error = match read(bytes) {
        Err(error) => error,
        Ok(dump) => dump::import(dump, &*target, TargetPolicy::Replace, &hidden()).expect_err("import refused"),
    };
    let after = snapshot_of(&target);
    assert!(before == after, "a refused import changed the target: {}", before.diff(&after));
    error
}

fn line_of(error: &DumpError) -> u64 {
    match error {
        DumpError::Line { line, .. } | DumpError::Read { line, .. } => *line,
        other => panic!("expected an error naming a line, got {other:?}"),
    }
}

#[test]
fn truncated_dumps_are_refused_naming_the_line_and_the_target_is_unchanged() {
    let (_, bytes) = fixture_dump();
    let all = lines(&bytes);
    let n = all.len();
    // Cut at a line end: every line there is whole, but the end line is missing.
    for keep in [1, 2, n / 2, n - 1] {
        let error = refused(&join(&all[..keep]));
        assert!(matches!(error, DumpError::Truncated { lines } if lines == keep as u64), "{keep}: {error:?}");
        assert!(error.to_string().contains("cut short"), "{error}");
    }
    // Cut inside a line: that line is named.
    for line in [2, n / 2, n] {
        let mut cut = join(&all[..line - 1]);
        cut.extend_from_slice(&all[line - 1].as_bytes()[..all[line - 1].len() / 2]);
        let error = refused(&cut);
        assert_eq!(line_of(&error), line as u64, "{error}");
        assert!(error.to_string().contains("truncated"), "{error}");
    }
    // Empty.
    assert_eq!(line_of(&refused(b"")), 1);
    // A compressed dump cut short fails in the decompressor or at the missing end.
    let compressed = zstd::encode_all(&bytes[..], 3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.jsonl.zst");
    std::fs::write(&path, &compressed[..compressed.len() * 2 / 3]).unwrap();
    let error = dump::read_file(&path, &hidden()).expect_err("a cut zstd dump is refused");
    assert!(
        matches!(error, DumpError::Read { .. } | DumpError::Truncated { .. } | DumpError::Line { .. }),
        "{error:?}"
    );
    std::fs::write(&path, &compressed).unwrap();
    assert!(dump::read_file(&path, &hidden()).is_ok());
}

#[test]
fn corrupted_lines_are_refused_naming_the_line() {
    let (_, bytes) = fixture_dump();
    let all = lines(&bytes);
    let n = all.len();
    // Not JSON.
    let mut broken = all.clone();
    broken[2] = broken[2].replacen('{', "[", 1);
    let error = refused(&join(&broken));
    assert_eq!(line_of(&error), 3, "{error}");
    // Valid JSON, valid record, one letter changed: the end line's checksum catches it.
    let mut edited = all.clone();
    let at = edited.iter().position(|l| l.contains("\"username\":\"alice\"")).unwrap();
    edited[at] = edited[at].replace("\"username\":\"alice\"", "\"username\":\"alicf\"");
    let error = refused(&join(&edited));
    assert_eq!(line_of(&error), n as u64, "{error}");
    assert!(error.to_string().contains("checksum mismatch"), "{error}");
    // A record that is not a record.
    let mut wrong = all.clone();
    wrong[1] = r#"{"record":{"kind":"inquiry","value":{"id":"x"}}}"#.to_owned();
    assert_eq!(line_of(&refused(&join(&wrong))), 2);
    // The same record twice.
    let mut twice = all.clone();
    twice.insert(2, twice[1].clone());
    let error = refused(&join(&twice));
    assert_eq!(line_of(&error), 3, "{error}");
    assert!(error.to_string().contains("appears twice (first on line 2)"), "{error}");
    // Events out of order.
    let mut backwards = all.clone();
    let first_event = backwards.iter().position(|l| l.starts_with("{\"event\"")).unwrap();
    backwards.swap(first_event, first_event + 1);
    let error = refused(&join(&backwards));
    assert_eq!(line_of(&error), first_event as u64 + 2, "{error}");
    assert!(error.to_string().contains("increasing order"), "{error}");
    // A gap in the events of a version 1 dump (version 2 has gaps where retention deleted).
    let mut gap = all.clone();
    gap[0] = gap[0].replace("\"version\":2", "\"version\":1");
    gap.remove(first_event + 1);
    let error = refused(&join(&gap));
    assert_eq!(line_of(&error), first_event as u64 + 2, "{error}");
    assert!(error.to_string().contains("without gaps"), "{error}");
    // Lines after the end.
    let mut more = all.clone();
    more.push(all[1].clone());
    assert_eq!(line_of(&refused(&join(&more))), n as u64 + 1);
    // Not a dump at all.
    assert_eq!(line_of(&refused(b"{\"hello\":1}\n")), 1);
    assert_eq!(line_of(&refused(&bytes[1..])), 1);
}

#[test]
fn dumps_in_a_newer_or_unknown_format_are_refused() {
    let (_, bytes) = fixture_dump();
    let mut all = lines(&bytes);
    all[0] = r#"{"format":"lobby-dump","version":3,"lobby":"9.1.0"}"#.to_owned();
    let error = refused(&join(&all));
    assert!(matches!(&error, DumpError::NewerFormat { version: 3, lobby } if lobby == "9.1.0"), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with("line 1:") && message.contains("newer lobby-server"), "{message}");
    all[0] = r#"{"format":"lobby-dump","version":0,"lobby":"0.0.1"}"#.to_owned();
    assert!(refused(&join(&all)).to_string().contains("unknown format version 0"));
}

#[test]
fn a_non_empty_target_is_refused_unless_forced_and_then_replaced() {
    let (_, bytes) = fixture_dump();
    let (target, before) = non_empty_target();
    let error = dump::import(read(&bytes).unwrap(), &*target, TargetPolicy::MustBeEmpty, &hidden()).unwrap_err();
    assert!(matches!(&error, DumpError::TargetNotEmpty { holds } if holds.contains("4 inquiries")), "{error:?}");
    assert!(before == snapshot_of(&target));

    // Forced: the target's records become the dump's (another fixture: other ids, same names,
    // so unique keys are released and claimed in the one commit), its events stay first.
    let events_before = before.events.len() as u64;
    let imported = dump::import(read(&bytes).unwrap(), &*target, TargetPolicy::Replace, &hidden()).unwrap();
    assert_eq!(imported.replaced, before.records.len() as u64);
    assert_eq!(imported.first_event.map(|s| s.0), Some(events_before + 1));
    let exported = export_bytes(Source::Store(&*target));
    let records_only = |b: &[u8]| lines(b).into_iter().filter(|l| l.starts_with("{\"record\"")).collect::<Vec<_>>();
    assert_eq!(records_only(&exported), records_only(&bytes));
    let report = target.check_integrity().unwrap();
    assert!(report.is_healthy(), "{report}");
}

#[test]
fn a_failed_export_leaves_no_file_under_its_name() {
    let (fixture, bytes) = fixture_dump();
    let store = fixture.state.engine().store();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.jsonl");
    std::fs::write(&path, b"the previous backup").unwrap();
    let error = dump::export_file(Source::Store(&**store), &path, ExportOptions::default(), &hidden()).unwrap_err();
    assert!(matches!(error, DumpError::FileExists { .. }), "{error:?}");
    dump::export_file(Source::Store(&**store), &path, ExportOptions { overwrite: true }, &hidden()).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    let Some(tmpfs) = Tmpfs::mount("1m") else { return };
    let path = tmpfs.path().join("backup.jsonl");
    std::fs::write(&path, b"the previous backup").unwrap();
    fill(&tmpfs.path().join("filler"), 0);
    // `fill` gives back what a last, partly written chunk took; take that too, a page at a time.
    let mut rest = std::fs::File::create(tmpfs.path().join("rest")).unwrap();
    while std::io::Write::write_all(&mut rest, &[0u8; 4096]).and_then(|()| rest.sync_all()).is_ok() {}
    let error =
        dump::export_file(Source::Store(&**store), &path, ExportOptions { overwrite: true }, &hidden()).unwrap_err();
    assert!(matches!(error, DumpError::Write(_)), "{error:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"the previous backup", "the old file stays as it was");
    let names: Vec<String> = std::fs::read_dir(tmpfs.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "no partial file is left: {names:?}");
}

// ---------------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------------

fn lobby(args: &[&str], dir: &Path) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_lobby-server"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains('\r') && !stderr.contains('\u{1b}'), "no progress bars when piped: {stderr:?}");
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_binary_exports_imports_migrates_and_checks() {
    let (_, bytes) = fixture_dump();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fixture.jsonl"), &bytes).unwrap();

    let imported = lobby(&["import", "--store", "sled:a", "--from", "fixture.jsonl"], dir.path());
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(stdout(&imported).contains("4 inquiries, 4 users"), "{}", stdout(&imported));
    let again = lobby(&["import", "--store", "sled:a", "--from", "fixture.jsonl"], dir.path());
    assert!(!again.status.success());
    assert!(stderr(&again).contains("not empty") && stderr(&again).contains("--force"), "{}", stderr(&again));

    let checked = lobby(&["check", "--data-dir", "a"], dir.path());
    assert!(checked.status.success(), "{}{}", stdout(&checked), stderr(&checked));
    assert!(stdout(&checked).contains("healthy"), "{}", stdout(&checked));

    let exported = lobby(&["export", "--store", "sled:a", "--to", "a.jsonl.zst"], dir.path());
    assert!(exported.status.success(), "{}", stderr(&exported));
    let decompressed = zstd::decode_all(std::fs::File::open(dir.path().join("a.jsonl.zst")).unwrap()).unwrap();
    assert!(decompressed == bytes, "export after import is byte-identical");

    let migrated = lobby(&["migrate", "--from", "sled:a", "--to", "sled:b"], dir.path());
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    assert!(stdout(&migrated).contains("verified"), "{}", stdout(&migrated));
    let refused = lobby(&["migrate", "--from", "sled:a", "--to", "sled:b"], dir.path());
    assert!(!refused.status.success() && stderr(&refused).contains("not empty"), "{}", stderr(&refused));
    let forced = lobby(&["migrate", "--from", "sled:a", "--to", "sled:b", "--force"], dir.path());
    assert!(forced.status.success(), "{}", stderr(&forced));

    if let Some(url) = postgres_url() {
        let pg = PostgresStore::temporary(&url).unwrap();
        let target = format!("{url}{}schema={}", if url.contains('?') { '&' } else { '?' }, pg.schema());
        let migrated = lobby(&["migrate", "--from", "sled:a", "--to", &target], dir.path());
        assert!(migrated.status.success(), "{}", stderr(&migrated));
        assert!(!stdout(&migrated).contains(&url), "the URL (and its password) is not printed");
        let exported = lobby(&["export", "--store", &target, "--to", "pg.jsonl"], dir.path());
        assert!(exported.status.success(), "{}", stderr(&exported));
        assert!(std::fs::read(dir.path().join("pg.jsonl")).unwrap() == bytes);
    }

    let mut cut = bytes.clone();
    cut.truncate(bytes.len() - 10);
    std::fs::write(dir.path().join("cut.jsonl"), &cut).unwrap();
    let refused = lobby(&["import", "--store", "sled:c", "--from", "cut.jsonl"], dir.path());
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(message.contains(&format!("line {}", lines(&bytes).len())) && message.contains("nothing"), "{message}");
    assert!(!dir.path().join("c").exists(), "a refused dump opens no store");
}

#[test]
fn check_exits_non_zero_with_a_report_when_the_store_does_not_hang_together() {
    // An agent whose load says one chat more than it serves: what a store bug would leave.
    let fixture = Fixture::new();
    let store = fixture.state.engine().store();
    let alice = UserId::new(fixture.login("alice").user_id.clone()).unwrap();
    let agent = store.agent(&alice).unwrap().unwrap();
    let mut damaged = agent.value.clone();
    damaged.active_chats += 1;
    store
        .commit(Commit { writes: vec![RecordWrite::update(agent.version, Record::Agent(damaged))], events: vec![] })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.jsonl");
    dump::export_file(Source::Store(&**store), &path, ExportOptions::default(), &hidden()).unwrap();

    let imported = lobby(&["import", "--store", "sled:d", "--from", "damaged.jsonl"], dir.path());
    assert!(imported.status.success(), "a dump is restored as it was: {}", stderr(&imported));
    let checked = lobby(&["check", "--store", "sled:d"], dir.path());
    assert_eq!(checked.status.code(), Some(1), "{}", stdout(&checked));
    let report = stdout(&checked);
    assert!(report.contains("1 problem(s)") && report.contains(&format!("agent/{alice} has active_chats")), "{report}");
}
