//! The full store conformance suite, one fresh schema per case.
//!
//! Needs a server: `source .ci/postgres.sh` exports `LOBBY_TEST_POSTGRES_URL`. Without it the
//! cases are skipped with a note on stderr, except under `CI`, where they fail.

mod common;

use common::server_url;
use lobby_postgres::PostgresStore;

/// A fresh store in its own temporary schema, dropped with the store.
fn test_store(url: &str) -> PostgresStore {
    PostgresStore::temporary(url).unwrap_or_else(|e| panic!("cannot open a test store at {url}: {e}"))
}

lobby_conformance::store_conformance_tests!(setup: server_url(), make: |url| test_store(&url));
