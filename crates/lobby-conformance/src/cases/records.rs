//! Records: reads, unique keys, versions and all-or-nothing commits.

use std::time::Duration;

use serde_json::json;

use lobby_core::{
    Attributes, Commit, Department, DepartmentId, EventQuery, InquiryFilter, InquiryId, InquiryQuery, InquirySort,
    Record, RecordKey, RecordKind, RoomId, RoutingRules, RoutingTarget, Store, StoreError, StoreExt, Timestamp,
    UniqueKey, UserId, Version, Write,
};

use super::{event, put, MakeStore};
use crate::fixtures::{agent_record, random_inquiry, rng, user};

/// Records come back as committed; unique keys find their owners; scans list one kind in key
/// order.
pub fn reads_return_what_was_committed<S: Store>(make: MakeStore<S>) {
    let store = make();
    let inquiry = random_inquiry(1, &mut rng(1));
    let records = [
        Record::Inquiry(inquiry.clone()),
        Record::User(user("u2", "Bob")),
        Record::User(user("u1", "alice")),
        Record::Agent(agent_record("u1")),
    ];
    let versions = put(&store, records.iter().cloned().map(Write::create).collect()).unwrap();
    assert_eq!(versions.len(), 4, "one version per write: {versions:?}");
    for (record, version) in records.iter().zip(&versions) {
        let found = store.get(&record.key()).unwrap().unwrap_or_else(|| panic!("{} is missing", record.key()));
        assert_eq!(&found.value, record, "what was committed under {}", record.key());
        assert_eq!(found.version, *version, "the version the receipt gave {}", record.key());
        assert!(found.version >= Version::FIRST, "versions start at {:?}, got {:?}", Version::FIRST, found.version);
    }
    assert_eq!(store.inquiry_by_room(&inquiry.rid).unwrap().map(|i| i.value), Some(inquiry));
    let bob = store.user_by_username("BOB").unwrap().map(|u| u.value.id);
    assert_eq!(bob, Some(UserId::new("u2").unwrap()), "usernames ignore case");
    let by_email = store.find(&UniqueKey::email("ALICE@example.com")).unwrap().map(|r| r.value.key());
    assert_eq!(by_email, Some(records[2].key()), "emails ignore case");
    assert_eq!(store.get(&RecordKey::User(UserId::new("nobody").unwrap())).unwrap(), None);
    assert_eq!(store.find(&UniqueKey::Room(RoomId::new("nowhere").unwrap())).unwrap(), None);
    let users: Vec<RecordKey> = store.scan(RecordKind::User).unwrap().into_iter().map(|r| r.value.key()).collect();
    assert_eq!(users, vec![records[2].key(), records[1].key()], "scan is one kind, in key order");
    assert_eq!(store.scan(RecordKind::Department).unwrap(), vec![]);
}

/// Routing attributes (on agents and inquiries) and routing rules (on departments) are part of
/// the records: they come back from reads, scans and listings exactly as committed, and a
/// change to them alone is a write like any other.
pub fn attributes_and_rules_round_trip<S: Store>(make: MakeStore<S>) {
    let store = make();
    let attributes = |value| Attributes::new(value).expect("valid attributes");
    let mut agent = agent_record("u1");
    agent.attributes = attributes(json!({"skills": ["billing", "es"], "level": 4, "languages": {"es": {"level": 5}}}));
    let mut inquiry = random_inquiry(1, &mut rng(7));
    inquiry.attributes = attributes(json!({"topic": "billing", "vip": true, "note": "ünïcödé \"quoted\""}));
    let mut department = Department::new(DepartmentId::new("dep1").unwrap(), "Billing", Timestamp::EPOCH);
    department.routing_rules = RoutingRules::new(vec![
        RoutingTarget::parse("skills HAS task.topic AND level >= 3").unwrap().with_timeout(Duration::from_secs(60)),
        RoutingTarget::parse("region IN ['EU', 'UK']").unwrap().with_boost(2),
    ])
    .unwrap();
    let records =
        [Record::Agent(agent.clone()), Record::Inquiry(inquiry.clone()), Record::Department(department.clone())];
    put(&store, records.iter().cloned().map(Write::create).collect()).unwrap();
    for record in &records {
        let found = store.get(&record.key()).unwrap().unwrap_or_else(|| panic!("{} is missing", record.key()));
        assert_eq!(&found.value, record, "{} as committed, attributes and rules included", record.key());
    }
    let scanned = store.scan(RecordKind::Department).unwrap();
    assert_eq!(scanned.iter().map(|r| &r.value).collect::<Vec<_>>(), vec![&records[2]], "scanned department");
    let query = InquiryQuery { filter: InquiryFilter::all(), sort: InquirySort::default(), offset: 0, limit: 10 };
    let listed = store.list_inquiries(&query).unwrap().items;
    assert_eq!(listed, vec![inquiry.clone()], "a listed inquiry keeps its attributes");

    // Only the attributes change: still a versioned write, and read back changed.
    let before = store.agent(&agent.id).unwrap().unwrap();
    agent.attributes = attributes(json!({"skills": []}));
    put(&store, vec![Write::update(before.version, Record::Agent(agent.clone()))]).unwrap();
    let after = store.agent(&agent.id).unwrap().unwrap();
    assert_eq!(after.value.attributes, agent.attributes, "changed attributes");
    assert!(after.version > before.version, "version moved: {:?} -> {:?}", before.version, after.version);
    agent.attributes = Attributes::empty();
    put(&store, vec![Write::update(after.version, Record::Agent(agent.clone()))]).unwrap();
    assert_eq!(store.agent(&agent.id).unwrap().unwrap().value.attributes, Attributes::empty(), "cleared attributes");
}

/// Every write gives a record a new, greater version; a write made against an older version, a
/// create of an existing record and an update of a missing one all conflict and change nothing.
pub fn versions_change_on_every_write_and_stale_writes_conflict<S: Store>(make: MakeStore<S>) {
    let store = make();
    let mut agent = agent_record("a1");
    let first = put(&store, vec![Write::create(Record::Agent(agent.clone()))]).unwrap()[0];
    agent.active_chats = 1;
    let second = put(&store, vec![Write::update(first, Record::Agent(agent.clone()))]).unwrap()[0];
    assert!(second > first, "an update's version {second:?} must be greater than the one it replaced, {first:?}");
    agent.active_chats = 2;
    let stale = put(&store, vec![Write::update(first, Record::Agent(agent.clone()))]);
    assert_eq!(
        stale,
        Err(StoreError::Conflict { key: RecordKey::Agent(agent.id.clone()) }),
        "a write at a stale version"
    );
    let recreate = put(&store, vec![Write::create(Record::Agent(agent.clone()))]);
    assert!(matches!(recreate, Err(StoreError::Conflict { .. })), "a create of an existing record: {recreate:?}");
    let missing = put(&store, vec![Write::update(first, Record::Agent(agent_record("ghost")))]);
    assert!(matches!(missing, Err(StoreError::Conflict { .. })), "an update of a missing record: {missing:?}");
    let stored = store.agent(&agent.id).unwrap().unwrap();
    assert_eq!((stored.version, stored.value.active_chats), (second, 1), "the record as the last good write left it");
}

/// A record that is deleted and created again never gets a version it had before, so a writer
/// still holding the old record's version cannot overwrite the new one (no ABA).
pub fn recreated_records_never_reuse_a_version<S: Store>(make: MakeStore<S>) {
    let store = make();
    let mut seen = Vec::new();
    let agent = agent_record("a1");
    for round in 0..3 {
        let created = put(&store, vec![Write::create(Record::Agent(agent.clone()))]).unwrap()[0];
        assert!(
            !seen.contains(&created),
            "round {round}: re-created at {created:?}, a version it had before: {seen:?}"
        );
        seen.push(created);
        let mut changed = agent.clone();
        changed.max_chats = round + 1;
        let updated = put(&store, vec![Write::update(created, Record::Agent(changed))]).unwrap()[0];
        assert!(!seen.contains(&updated), "round {round}: updated to {updated:?}, a version it had before: {seen:?}");
        seen.push(updated);
        // A writer that read the very first incarnation tries to overwrite this one.
        let mut stale = agent.clone();
        stale.max_chats = 99;
        let outcome = put(&store, vec![Write::update(seen[0], Record::Agent(stale))]);
        assert!(matches!(outcome, Err(StoreError::Conflict { .. })), "round {round}: a stale writer got {outcome:?}");
        put(&store, vec![Write::delete(RecordKey::Agent(agent.id.clone()), updated)]).unwrap();
        assert_eq!(store.agent(&agent.id).unwrap(), None, "round {round}: deleted");
    }
}

/// A commit that fails on any one write (conflict or duplicate) applies no write — not even
/// the ones before the failing write — and records no event.
pub fn failed_commit_changes_nothing<S: Store>(make: MakeStore<S>) {
    let store = make();
    let inquiry = random_inquiry(1, &mut rng(2));
    let versions = put(
        &store,
        vec![Write::create(Record::User(user("u1", "alice"))), Write::create(Record::Inquiry(inquiry.clone()))],
    )
    .unwrap();
    let (user_version, inquiry_version) = (versions[0], versions[1]);
    let before_events = store.events(&EventQuery::all()).unwrap();
    let mut changed = inquiry.clone();
    changed.name = "changed".into();

    // Good writes first, the stale one last: a store that applies writes one by one fails here.
    let conflicting = Commit {
        writes: vec![
            Write::update(inquiry_version, Record::Inquiry(changed.clone())),
            Write::create(Record::Agent(agent_record("a9"))),
            Write::update(Version(user_version.0 + 1_000), Record::User(user("u1", "alice"))),
        ],
        events: vec![event("should not be recorded")],
    };
    let outcome = store.commit(conflicting);
    assert!(matches!(outcome, Err(StoreError::Conflict { .. })), "a commit with a stale write: {outcome:?}");
    assert_unchanged(&store, &inquiry, inquiry_version, &before_events, "after the conflicting commit");

    let mut clash = inquiry.clone();
    clash.id = InquiryId::new("other").unwrap();
    let duplicate = Commit {
        writes: vec![Write::update(inquiry_version, Record::Inquiry(changed)), Write::create(Record::Inquiry(clash))],
        events: vec![event("should not be recorded")],
    };
    let outcome = store.commit(duplicate);
    assert!(matches!(outcome, Err(StoreError::Duplicate { .. })), "a commit claiming a taken room: {outcome:?}");
    assert_unchanged(&store, &inquiry, inquiry_version, &before_events, "after the duplicate commit");
    assert_eq!(store.get(&RecordKey::Inquiry(InquiryId::new("other").unwrap())).unwrap(), None);
}

fn assert_unchanged<S: Store>(
    store: &S,
    inquiry: &lobby_core::Inquiry,
    version: Version,
    events: &[lobby_core::Event],
    when: &str,
) {
    let stored = store.inquiry(&inquiry.id).unwrap().expect("the inquiry is still there");
    assert_eq!(stored.version, version, "{when}: the inquiry's version; its first write was applied");
    assert_eq!(&stored.value, inquiry, "{when}: the inquiry; its first write was applied");
    let ghost = store.agent(&UserId::new("a9").unwrap()).unwrap();
    assert_eq!(ghost.map(|a| a.value.id), None, "{when}: the agent the commit created");
    assert_eq!(store.events(&EventQuery::all()).unwrap(), events, "{when}: the event log");
    let all = InquiryQuery { filter: InquiryFilter::all(), sort: InquirySort::default(), offset: 0, limit: 10 };
    let page = store.list_inquiries(&all).unwrap();
    assert_eq!((page.total, page.items.as_slice()), (1, std::slice::from_ref(inquiry)), "{when}: the listing");
}

/// A commit that both writes at a stale version and claims a taken unique key fails with
/// `Conflict`, whichever write comes first: the engine retries a conflict from fresh reads,
/// which then report the duplicate properly.
pub fn conflict_wins_over_duplicate<S: Store>(make: MakeStore<S>) {
    let store = make();
    let versions = put(
        &store,
        vec![Write::create(Record::User(user("u1", "alice"))), Write::create(Record::Agent(agent_record("a1")))],
    )
    .unwrap();
    let stale = Version(versions[1].0 + 1_000);
    let mut claims_alice = user("u2", "ALICE");
    claims_alice.email = None;
    for writes in [
        vec![
            Write::create(Record::User(claims_alice.clone())),
            Write::update(stale, Record::Agent(agent_record("a1"))),
        ],
        vec![
            Write::update(stale, Record::Agent(agent_record("a1"))),
            Write::create(Record::User(claims_alice.clone())),
        ],
    ] {
        let outcome = put(&store, writes);
        assert_eq!(outcome, Err(StoreError::Conflict { key: RecordKey::Agent(UserId::new("a1").unwrap()) }));
    }
}

/// Usernames (any case), emails, room ids, department names and visitor tokens belong to one
/// record at a time; changing or deleting a record frees its old keys, even within one commit.
pub fn unique_keys_are_enforced_and_released<S: Store>(make: MakeStore<S>) {
    let store = make();
    let first = put(&store, vec![Write::create(Record::User(user("u1", "alice")))]).unwrap()[0];
    let mut twin = user("u2", "ALICE");
    twin.email = None;
    assert_eq!(
        put(&store, vec![Write::create(Record::User(twin.clone()))]),
        Err(StoreError::Duplicate { key: UniqueKey::username("alice") }),
        "a username taken regardless of case"
    );
    // Rename alice and give her old name to the twin in the same commit.
    let mut renamed = user("u1", "alicia");
    renamed.email = None;
    put(&store, vec![Write::update(first, Record::User(renamed)), Write::create(Record::User(twin))]).unwrap();
    let owner = |name: &str| store.user_by_username(name).unwrap().map(|u| u.value.id.as_str().to_owned());
    assert_eq!(owner("alice").as_deref(), Some("u2"), "the released name went to the twin");
    assert_eq!(owner("alicia").as_deref(), Some("u1"));
    assert_eq!(store.find(&UniqueKey::email("alice@example.com")).unwrap(), None, "the old email was released");
    // Two new records claiming one key in a single commit.
    let (mut a, mut b) = (user("u3", "carol"), user("u4", "dave"));
    a.email = Some("same@example.com".into());
    b.email = Some("SAME@example.com".into());
    let both = put(&store, vec![Write::create(Record::User(a)), Write::create(Record::User(b))]);
    assert!(matches!(both, Err(StoreError::Duplicate { .. })), "two claims of one email in one commit: {both:?}");
    // Deleting frees the key.
    let twin_version = store.user(&UserId::new("u2").unwrap()).unwrap().unwrap().version;
    put(&store, vec![Write::delete(RecordKey::User(UserId::new("u2").unwrap()), twin_version)]).unwrap();
    put(&store, vec![Write::create(Record::User(user("u5", "alice")))]).unwrap();
    assert_eq!(owner("Alice").as_deref(), Some("u5"), "a deleted record's key is free again");
}

/// A value under the wrong key, two writes to one key and a delete without a version are
/// rejected before anything is written.
pub fn malformed_commits_are_rejected<S: Store>(make: MakeStore<S>) {
    let store = make();
    let agent = agent_record("a1");
    let wrong_key = Write {
        key: RecordKey::Agent(UserId::new("a2").unwrap()),
        expected: None,
        value: Some(Record::Agent(agent.clone())),
    };
    let outcome = put(&store, vec![wrong_key]);
    assert!(matches!(outcome, Err(StoreError::InvalidCommit(_))), "a value under another key: {outcome:?}");
    let twice = vec![Write::create(Record::Agent(agent.clone())), Write::create(Record::Agent(agent.clone()))];
    let outcome = put(&store, twice);
    assert!(matches!(outcome, Err(StoreError::InvalidCommit(_))), "two writes to one key: {outcome:?}");
    let blind_delete = Write { key: RecordKey::Agent(agent.id.clone()), expected: None, value: None };
    let outcome = put(&store, vec![blind_delete]);
    assert!(matches!(outcome, Err(StoreError::InvalidCommit(_))), "a delete without a version: {outcome:?}");
    assert_eq!(store.scan(RecordKind::Agent).unwrap(), vec![], "nothing was written");
}
