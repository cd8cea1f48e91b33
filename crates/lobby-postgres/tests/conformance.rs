//! The full store conformance suite, one fresh schema per case.
//!
//! Needs a server: `source .ci/postgres.sh` exports `LOBBY_TEST_POSTGRES_URL`. Without it the
//! cases are skipped with a note on stderr, except under `CI`, where they fail.

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

lobby_conformance::store_conformance_tests!(setup: server_url(), make: |url| test_store(&url));
