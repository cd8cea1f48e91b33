//! The full store conformance suite, one fresh schema per case.
//!
//! Needs a server: `source .ci/postgres.sh` exports `LOBBY_TEST_POSTGRES_URL`. Without it the
//! cases pass vacuously with a note on stderr, except under `CI`, where they fail.
//!
//! The conformance crate's macro needs an expression that always yields a store, and these
//! cases must be able to skip, so this file lists the cases itself; `case_list_is_complete`
//! fails if the conformance suite gains a case this list lacks.

use lobby_postgres::PostgresStore;

/// The test server's URL, or `None` (after saying so) without one.
fn server_url() -> Option<String> {
    let Some(url) = std::env::var("LOBBY_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        if std::env::var_os("CI").is_some() {
            panic!("LOBBY_TEST_POSTGRES_URL is not set, and under CI the PostgreSQL tests must run: source .ci/postgres.sh first");
        }
        eprintln!("skipped: LOBBY_TEST_POSTGRES_URL not set");
        return None;
    };
    Some(url)
}

/// A fresh store in its own temporary schema, dropped with the store.
fn test_store(url: &str) -> PostgresStore {
    PostgresStore::temporary(url).unwrap_or_else(|e| panic!("cannot open a test store at {url}: {e}"))
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        const CASES: &[&str] = &[$(stringify!($case)),*];
        $(
            #[test]
            fn $case() {
                let Some(url) = server_url() else { return };
                lobby_conformance::cases::$case(&|| test_store(&url));
            }
        )*
    };
}

conformance!(
    reads_return_what_was_committed,
    versions_increase_and_stale_writes_conflict,
    failed_commit_changes_nothing,
    unique_keys_are_enforced_and_released,
    malformed_commits_are_rejected,
    deleted_records_leave_reads_and_listings,
    listing_matches_the_reference,
    listing_follows_updates,
    count_before_matches_the_reference,
    events_are_numbered_and_queryable,
    subscribers_see_every_commit_in_order,
    engine_lifecycle_keeps_loads_consistent,
    concurrent_takes_take_each_inquiry_once,
    racing_takes_never_exceed_capacity,
    concurrent_dispatch_assigns_once_within_capacity,
    concurrent_room_opening_opens_one_room,
);

/// The cases `lobby_conformance::store_conformance_tests!` runs, read from its source.
#[test]
fn case_list_is_complete() {
    let source = include_str!("../../lobby-conformance/src/lib.rs");
    let start = source.find("__store_conformance_cases!($make;").expect("the macro's case list");
    let list = &source[start..];
    let list = &list[list.find(';').unwrap() + 1..list.find(");").unwrap()];
    let upstream: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    assert_eq!(upstream, CASES, "update the case list above to match lobby-conformance");
}
