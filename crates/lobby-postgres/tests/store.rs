//! PostgreSQL-specific behaviour beyond the conformance suite: several stores on one schema,
//! the feed across stores, reconnects and retention, migrations, byte-wise ordering, bad data.
//!
//! Needs `LOBBY_TEST_POSTGRES_URL` (`source .ci/postgres.sh`); skips without it, except under
//! `CI`.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::server_url;
use lobby_conformance::fixtures::{random_inquiry, rng};
use lobby_core::{
    Actor, ArchiveKey, Commit, DepartmentFilter, Direction, EventKind, EventQuery, EventSeq, Inquiry, InquiryFilter,
    InquiryId, InquiryQuery, InquirySort, NewEvent, Record, RecordKey, ReservationFilter, RetentionAction, Retirement,
    SortField, StatusSet, Store, StoreError, StoreExt, Subscription, Timestamp, Write,
};
use lobby_postgres::{PostgresConfig, PostgresError, PostgresStore};

/// A second store on `store`'s schema, as another server would open it.
fn attach(url: &str, store: &PostgresStore) -> PostgresStore {
    let config = PostgresConfig { schema: store.schema().to_owned(), ..PostgresConfig::default() };
    PostgresStore::connect(url, config).expect("attach to the schema")
}

fn psql(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect")
}

fn event(label: &str) -> NewEvent {
    NewEvent {
        at: Timestamp::from_millis(1),
        actor: Actor::System,
        inquiry: None,
        kind: EventKind::NoAgentFound { strategy: label.into(), department: None, reason: String::new() },
    }
}

fn label(e: &lobby_core::Event) -> String {
    match &e.event.kind {
        EventKind::NoAgentFound { strategy, .. } => strategy.clone(),
        other => format!("{other:?}"),
    }
}

/// Waits for `n` events on `feed` (10 s at most per event).
fn collect(feed: &Subscription, n: usize) -> Vec<lobby_core::Event> {
    let mut seen = Vec::new();
    while seen.len() < n {
        match feed.next_timeout(Duration::from_secs(60)) {
            Some(e) => seen.push(e),
            None => break,
        }
    }
    seen
}

#[test]
fn two_stores_on_one_schema_see_each_others_commits() {
    let Some(url) = server_url() else { return };
    let a = Arc::new(PostgresStore::temporary(&url).unwrap());
    let b = Arc::new(attach(&url, &a));
    let (feed_a, feed_b) = (a.subscribe().unwrap(), b.subscribe().unwrap());

    // A commit through one store is readable through the other and on both feeds.
    let inquiry = random_inquiry(1, &mut rng(7));
    let receipt = a
        .commit(Commit { writes: vec![Write::create(Record::Inquiry(inquiry.clone()))], events: vec![event("a1")] })
        .unwrap();
    assert_eq!(b.inquiry(&inquiry.id).unwrap().unwrap().value, inquiry);
    let on_b = collect(&feed_b, 1);
    assert_eq!(on_b, receipt.events, "B's feed carries A's commit");

    // Both stores commit at once: both feeds carry all events, in one gapless order.
    let writers: Vec<_> = [Arc::clone(&a), Arc::clone(&b)]
        .into_iter()
        .enumerate()
        .flat_map(|(s, store)| {
            (0..2).map(move |t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for n in 0..25 {
                        store.commit(Commit { writes: vec![], events: vec![event(&format!("{s}-{t}-{n}"))] }).unwrap();
                    }
                })
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    let seen_a = collect(&feed_a, 101);
    let seen_b = collect(&feed_b, 100);
    let seqs_a: Vec<u64> = seen_a.iter().map(|e| e.seq.0).collect();
    assert_eq!(seqs_a, (1..=101).collect::<Vec<_>>(), "A sees its own and B's events, in order, once");
    assert_eq!(seen_b, seen_a[1..].to_vec(), "B sees the same events in the same order");
    assert!(feed_b.next_timeout(Duration::from_millis(200)).is_none(), "nothing twice");

    drop(b);
    Arc::try_unwrap(a).expect("sole owner").drop_schema().unwrap();
}

#[test]
fn a_new_subscription_starts_after_the_last_commit() {
    let Some(url) = server_url() else { return };
    let store = PostgresStore::temporary(&url).unwrap();
    let early = store.subscribe().unwrap();
    for n in 0..5 {
        store.commit(Commit { writes: vec![], events: vec![event(&format!("old{n}"))] }).unwrap();
    }
    // Committed before it subscribed: a late subscriber must not get these.
    let late = store.subscribe().unwrap();
    store.commit(Commit { writes: vec![], events: vec![event("new")] }).unwrap();
    assert_eq!(collect(&early, 6).len(), 6);
    let got = collect(&late, 1);
    assert_eq!(got.iter().map(label).collect::<Vec<_>>(), ["new"]);
    assert!(late.next_timeout(Duration::from_millis(200)).is_none());
}

#[test]
fn the_feed_catches_up_after_its_connection_is_killed() {
    let Some(url) = server_url() else { return };
    let store = PostgresStore::temporary(&url).unwrap();
    let feed = store.subscribe().unwrap();
    store.commit(Commit { writes: vec![], events: vec![event("before")] }).unwrap();
    assert_eq!(collect(&feed, 1).len(), 1);

    // Kill the listener's connection, then commit while it is down.
    let mut admin = psql(&url);
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = 'lobby-feed' AND query LIKE '%' || $1 || '%'",
            &[&store.schema()],
        )
        .unwrap()
        .get(0);
    assert_eq!(killed, 1, "found the listener");
    for n in 0..10 {
        store.commit(Commit { writes: vec![], events: vec![event(&format!("during{n}"))] }).unwrap();
    }
    let got = collect(&feed, 10);
    assert_eq!(got.iter().map(|e| e.seq.0).collect::<Vec<_>>(), (2..=11).collect::<Vec<_>>());
    assert!(feed.next_timeout(Duration::from_millis(300)).is_none(), "nothing twice after reconnecting");
}

#[test]
fn servers_starting_together_migrate_once() {
    let Some(url) = server_url() else { return };
    let schema = format!("lobby_tmp_mig{:08x}", rand::random::<u32>());
    let barrier = Arc::new(Barrier::new(6));
    let stores: Vec<PostgresStore> = (0..6)
        .map(|_| {
            let (url, schema, barrier) = (url.clone(), schema.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                PostgresStore::connect(&url, PostgresConfig { schema, pool_size: 2, ..PostgresConfig::default() })
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap().expect("every concurrent connect succeeds"))
        .collect();
    let rows: i64 =
        psql(&url).query_one(&format!("SELECT count(*) FROM \"{schema}\".schema_migrations"), &[]).unwrap().get(0);
    assert_eq!(rows, i64::from(lobby_postgres::SCHEMA_VERSION), "each migration applied once");
    let mut stores = stores.into_iter();
    let first = stores.next().unwrap();
    drop(stores);
    first.drop_schema().unwrap();
}

#[test]
fn a_schema_from_a_newer_build_is_refused() {
    let Some(url) = server_url() else { return };
    let store = PostgresStore::temporary(&url).unwrap();
    psql(&url)
        .execute(
            &format!(
                "INSERT INTO \"{}\".schema_migrations (version, description) VALUES (999, 'future')",
                store.schema()
            ),
            &[],
        )
        .unwrap();
    let config = PostgresConfig { schema: store.schema().to_owned(), ..PostgresConfig::default() };
    match PostgresStore::connect(&url, config) {
        Err(PostgresError::SchemaTooNew { found: 999, known: lobby_postgres::SCHEMA_VERSION, .. }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn bad_configuration_is_a_typed_error() {
    let Some(url) = server_url() else { return };
    let bad_schema = PostgresConfig { schema: "Robert'); DROP TABLE".into(), ..PostgresConfig::default() };
    assert!(matches!(PostgresStore::connect(&url, bad_schema), Err(PostgresError::InvalidSchema(_))));
    assert!(matches!(
        PostgresStore::connect("postgres://a:b@h:notaport/x", PostgresConfig::default()),
        Err(PostgresError::InvalidUrl(_))
    ));
    let no_pool = PostgresConfig { pool_size: 0, ..PostgresConfig::default() };
    assert!(matches!(PostgresStore::connect(&url, no_pool), Err(PostgresError::InvalidConfig(_))));
    let unreachable = PostgresConfig {
        acquire_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        ..PostgresConfig::default()
    };
    // A refused connection is an error, not a hang (nothing is timed: the test harness would
    // only notice a hang by never finishing).
    assert!(matches!(
        PostgresStore::connect("postgres://lobby@127.0.0.1:1/x", unreachable),
        Err(PostgresError::Pool(_))
    ));
}

#[test]
fn corrupt_rows_are_reported_not_panicked_on() {
    let Some(url) = server_url() else { return };
    let store = PostgresStore::temporary(&url).unwrap();
    let inquiry = random_inquiry(1, &mut rng(3));
    let receipt =
        store.commit(Commit { writes: vec![Write::create(Record::Inquiry(inquiry.clone()))], events: vec![] }).unwrap();
    let mut admin = psql(&url);
    let s = store.schema().to_owned();
    admin.execute(&format!("UPDATE \"{s}\".inquiries SET body = '{{not json'"), &[]).unwrap();
    admin.execute(&format!("INSERT INTO \"{s}\".events (seq, body) VALUES (1, '[]')"), &[]).unwrap();
    assert!(matches!(store.inquiry(&inquiry.id), Err(StoreError::Corrupt(_))));
    assert!(matches!(store.inquiry_by_room(&inquiry.rid), Err(StoreError::Corrupt(_))));
    let all = InquiryQuery { filter: InquiryFilter::all(), sort: InquirySort::default(), offset: 0, limit: 10 };
    assert!(matches!(store.list_inquiries(&all), Err(StoreError::Corrupt(_))));
    assert!(matches!(store.events(&EventQuery::all().limit(10)), Err(StoreError::Corrupt(_))));
    // Right version, corrupt stored body: decoding the old record for its keys fails.
    let update = Write::update(receipt.versions[0], Record::Inquiry(inquiry));
    assert!(matches!(store.commit(Commit { writes: vec![update], events: vec![] }), Err(StoreError::Corrupt(_))));
}

/// Names the reference orders by bytes: NUL, case, accents, emoji, prefixes.
#[test]
fn names_and_departments_order_by_bytes() {
    let Some(url) = server_url() else { return };
    let store = PostgresStore::temporary(&url).unwrap();
    let names = ["a\0b", "a", "", "A", "ab", "Zoë", "Zoe", "zoë", "😀", "é", "e\u{301}", "a\0", "ß"];
    let mut random = rng(11);
    let inquiries: Vec<Inquiry> = (0..60)
        .map(|n| {
            let mut inquiry = random_inquiry(n, &mut random);
            inquiry.name = names[n % names.len()].to_owned();
            if n % 5 == 0 {
                inquiry.department = Some(lobby_core::DepartmentId::new(["Dép", "dep", "DEP_2", "z"][n % 4]).unwrap());
            }
            inquiry
        })
        .collect();
    store
        .commit(Commit {
            writes: inquiries.iter().cloned().map(|i| Write::create(Record::Inquiry(i))).collect(),
            events: vec![],
        })
        .unwrap();
    let model: HashMap<InquiryId, Inquiry> = inquiries.iter().map(|i| (i.id.clone(), i.clone())).collect();
    for field in [SortField::Name, SortField::Department, SortField::Status] {
        for direction in [Direction::Ascending, Direction::Descending] {
            for statuses in [StatusSet::ALL, StatusSet::waiting()] {
                let query = InquiryQuery {
                    filter: InquiryFilter {
                        statuses,
                        departments: DepartmentFilter::Any,
                        reservation: ReservationFilter::Any,
                    },
                    sort: InquirySort { field, direction },
                    offset: 3,
                    limit: 40,
                };
                let want = query.reference_page(model.values());
                let got = store.list_inquiries(&query).unwrap();
                assert_eq!(got, want, "{query:?}");
                for (position, inquiry) in query.reference_page(model.values()).items.iter().enumerate() {
                    let before = store.count_before(&query.filter, query.sort, &inquiry.id).unwrap();
                    assert_eq!(before, Some(position + 3), "count_before {} in {query:?}", inquiry.id);
                }
            }
        }
    }
    assert_tables_healthy(&store);
}

/// The store's own tables agree with the records. The random inquiries of these tests name
/// departments and serving agents that were never created (and `counters_follow_every_kind_of_write`
/// makes some taken or offered without an agent), which the integrity check rightly reports; only those
/// problems are expected.
fn assert_tables_healthy(store: &PostgresStore) {
    let report = store.check_integrity().unwrap();
    let unexpected: Vec<&String> = report
        .problems
        .iter()
        .filter(|p| !(p.contains("which does not exist") && (p.contains("department") || p.contains("agent/"))))
        .filter(|p| !p.contains("is taken but served by no one") && !p.contains("is offered to no one"))
        .collect();
    assert!(unexpected.is_empty(), "{report}");
}

/// Events read back by `after` and `inquiry` beyond what the suite covers: huge limits and
/// cursors past the end.
#[test]
fn event_queries_take_any_numbers() {
    let Some(url) = server_url() else { return };
    let store = PostgresStore::temporary(&url).unwrap();
    store.commit(Commit { writes: vec![], events: vec![event("x"), event("y")] }).unwrap();
    let all = store.events(&EventQuery::all()).unwrap();
    assert_eq!(all.len(), 2);
    let none = store.events(&EventQuery::all().after(EventSeq(u64::MAX))).unwrap();
    assert!(none.is_empty());
    let page = InquiryQuery {
        filter: InquiryFilter::status(lobby_core::InquiryStatus::Open),
        sort: InquirySort::default(),
        offset: usize::MAX,
        limit: usize::MAX,
    };
    assert_eq!(store.list_inquiries(&page).unwrap().items.len(), 0);
}

#[test]
fn counters_follow_every_kind_of_write() {
    let Some(url) = server_url() else { return };
    let store = PostgresStore::temporary(&url).unwrap();
    let mut random = rng(5);
    let inquiries: Vec<Inquiry> = (0..30).map(|n| random_inquiry(n, &mut random)).collect();
    let created = store
        .commit(Commit {
            writes: inquiries.iter().cloned().map(|i| Write::create(Record::Inquiry(i))).collect(),
            events: vec![],
        })
        .unwrap()
        .versions[0];
    // Move some between statuses and departments, delete others.
    let mut writes = Vec::new();
    for (n, inquiry) in inquiries.iter().enumerate() {
        let key = RecordKey::Inquiry(inquiry.id.clone());
        match n % 3 {
            0 => writes.push(Write::delete(key, created)),
            1 => {
                let mut moved = inquiry.clone();
                moved.status = lobby_core::InquiryStatus::ALL[(n / 3) % lobby_core::InquiryStatus::ALL.len()];
                moved.department = None;
                writes.push(Write::update(created, Record::Inquiry(moved)));
            }
            _ => {}
        }
    }
    store.commit(Commit { writes, events: vec![] }).unwrap();
    assert_tables_healthy(&store);
}

/// A closed inquiry that names no agent or department, so integrity checks see only retention.
fn closed_inquiry(n: usize) -> Inquiry {
    let mut inquiry = random_inquiry(n, &mut rng(n as u64));
    inquiry.status = lobby_core::InquiryStatus::Closed;
    (inquiry.served_by, inquiry.taken_at, inquiry.offer, inquiry.department) = (None, None, None, None);
    inquiry
}

fn archive(inquiries: Vec<(InquiryId, lobby_core::Version)>, events: Vec<EventSeq>) -> Retirement {
    Retirement { action: RetentionAction::Archive, inquiries, events }
}

/// Whether `store`'s feed listener has a session right now (a killed one may linger a moment).
fn listener_connected(admin: &mut postgres::Client, store: &PostgresStore) -> bool {
    let sessions: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lobby-feed' AND query LIKE '%' || $1 || '%'",
            &[&store.schema()],
        )
        .unwrap()
        .get(0);
    sessions > 0
}

/// Two servers: one retires conversations and fresh events while the other commits with a
/// subscription open. The subscriber gets every event committed after it subscribed, once, in
/// order, also those retired into the archive before its listener read them (which the suite
/// cannot provoke: it needs a listener that lags), and none of the older, retired ones.
#[test]
fn retiring_on_one_server_keeps_another_servers_feed_whole() {
    let Some(url) = server_url() else { return };
    let a = PostgresStore::temporary(&url).unwrap();
    let b = attach(&url, &a);
    let mut seeded = Vec::new();
    for n in 0..20 {
        let inquiry = closed_inquiry(n);
        let about = |label: &str| NewEvent { inquiry: Some(inquiry.id.clone()), ..event(label) };
        let writes = vec![Write::create(Record::Inquiry(inquiry.clone()))];
        let receipt = a.commit(Commit { writes, events: vec![about("created"), about("closed")] }).unwrap();
        seeded.push((inquiry.id, receipt.versions[0]));
    }
    let feed = b.subscribe().unwrap();

    // A retires the seeded conversations one by one, and B's events as soon as it sees them,
    // while B commits.
    let committing = std::sync::atomic::AtomicBool::new(true);
    let committed: Vec<u64> = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut after = EventSeq(40);
            let mut seeded = seeded.iter();
            while committing.load(std::sync::atomic::Ordering::Relaxed) {
                let inquiries = seeded.next().map(|one| vec![one.clone()]).unwrap_or_default();
                let fresh: Vec<EventSeq> =
                    a.events(&EventQuery::all().after(after).limit(7)).unwrap().iter().map(|e| e.seq).collect();
                after = fresh.last().copied().unwrap_or(after);
                a.retire(&archive(inquiries, fresh)).unwrap();
            }
        });
        let seqs = (0..100)
            .map(|n| {
                b.commit(Commit { writes: vec![], events: vec![event(&format!("b{n}"))] }).unwrap().events[0].seq.0
            })
            .collect();
        committing.store(false, std::sync::atomic::Ordering::Relaxed);
        seqs
    });
    assert_eq!(committed, (41..=140).collect::<Vec<_>>());
    assert!(!a.archived_events(&EventQuery::all().after(EventSeq(40))).unwrap().is_empty(), "fresh events retired");
    let seen: Vec<u64> = collect(&feed, 100).iter().map(|e| e.seq.0).collect();
    assert_eq!(seen, committed, "B's feed: every event since it subscribed, once, in order");

    // Make B's listener lag for sure: kill its connection, then commit and retire before it is
    // back. It reconnects to a log where those events are archived, and must still deliver them.
    let mut admin = psql(&url);
    let mut proven = false;
    for attempt in 0..5u64 {
        admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = 'lobby-feed' AND query LIKE '%' || $1 || '%'",
                &[&b.schema()],
            )
            .unwrap();
        let events = (0..6).map(|n| event(&format!("lag{attempt}-{n}"))).collect();
        let receipt = a.commit(Commit { writes: vec![], events }).unwrap();
        let numbers: Vec<EventSeq> = receipt.events.iter().map(|e| e.seq).collect();
        assert_eq!(a.retire(&archive(vec![], numbers[..4].to_vec())).unwrap().events, 4);
        proven |= !listener_connected(&mut admin, &b);
        let seen = collect(&feed, 6);
        assert_eq!(seen, receipt.events, "attempt {attempt}: archived before the listener was back");
        if proven {
            break;
        }
    }
    assert!(proven, "the listener was always back before the retirement: nothing was tested");
    assert!(feed.next_timeout(Duration::from_millis(300)).is_none(), "nothing twice");
    let report = a.check_integrity().unwrap();
    assert!(report.problems.is_empty(), "{report}");
}

/// A schema from before the archive (migration 4) gains it (and migration 6's index) when a newer
/// server opens it, keeps its data, and retires from then on.
#[test]
fn a_schema_without_the_archive_gains_it_when_opened() {
    let Some(url) = server_url() else { return };
    let old = PostgresStore::temporary(&url).unwrap();
    let inquiry = closed_inquiry(1);
    let receipt = old
        .commit(Commit { writes: vec![Write::create(Record::Inquiry(inquiry.clone()))], events: vec![event("x")] })
        .unwrap();
    psql(&url)
        .batch_execute(&format!(
            "SET search_path TO \"{}\";
             DROP TABLE archived_inquiries, archived_events, deleted_events;
             DROP SEQUENCE archive_order;
             DROP INDEX inquiries_by_updated_at;
             DELETE FROM schema_migrations WHERE version >= 5;",
            old.schema()
        ))
        .unwrap();

    let new = attach(&url, &old);
    let rows: i64 = psql(&url)
        .query_one(&format!("SELECT count(*) FROM \"{}\".schema_migrations", new.schema()), &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, i64::from(lobby_postgres::SCHEMA_VERSION));
    assert_eq!(new.inquiry(&inquiry.id).unwrap().map(|found| found.value), Some(inquiry.clone()));
    let retired = new.retire(&archive(vec![(inquiry.id.clone(), receipt.versions[0])], vec![EventSeq(1)])).unwrap();
    assert_eq!((retired.inquiries, retired.events), (1, 1));
    let archived = new.archived_inquiry(&ArchiveKey::Room(inquiry.rid.clone())).unwrap();
    assert_eq!(archived.map(|found| found.value), Some(inquiry));
    let report = new.check_integrity().unwrap();
    assert!(report.problems.is_empty(), "{report}");
}

/// The export snapshot reads the archive too, page by page.
#[test]
fn snapshots_read_the_archive() {
    let Some(url) = server_url() else { return };
    let store = PostgresStore::temporary(&url).unwrap();
    let mut retiring = Vec::new();
    for n in 0..3 {
        let inquiry = closed_inquiry(n);
        let about = NewEvent { inquiry: Some(inquiry.id.clone()), ..event("about") };
        let writes = vec![Write::create(Record::Inquiry(inquiry.clone()))];
        let receipt = store.commit(Commit { writes, events: vec![about] }).unwrap();
        retiring.push((inquiry.id, receipt.versions[0]));
    }
    store.commit(Commit { writes: vec![], events: vec![event("loose")] }).unwrap();
    store.retire(&archive(retiring.clone(), vec![])).unwrap();
    let (first, rest, events, hot) = store
        .snapshot(|s| {
            let first = s.archived_inquiries(None, 2)?;
            let rest = s.archived_inquiries(Some(&first[1].value.id), 10)?;
            Ok((first, rest, s.archived_events(EventSeq(1), 10)?, s.events(EventSeq::ZERO, 10)?))
        })
        .unwrap();
    let mut ids: Vec<InquiryId> = retiring.into_iter().map(|(id, _)| id).collect();
    ids.sort();
    let listed: Vec<InquiryId> = first.iter().chain(&rest).map(|found| found.value.id.clone()).collect();
    assert_eq!(listed, ids);
    assert_eq!(events.iter().map(|e| e.seq.0).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(hot.iter().map(|e| e.seq.0).collect::<Vec<_>>(), [4]);
}
