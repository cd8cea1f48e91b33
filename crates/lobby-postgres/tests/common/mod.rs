//! What every PostgreSQL test file needs.

/// The test server's URL from `LOBBY_TEST_POSTGRES_URL` (`source .ci/postgres.sh` starts one),
/// or `None` after saying on stderr that the test is skipped. Under `CI` a missing URL fails:
/// there the PostgreSQL tests must run.
pub fn server_url() -> Option<String> {
    let Some(url) = std::env::var("LOBBY_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        if std::env::var_os("CI").is_some() {
            panic!("LOBBY_TEST_POSTGRES_URL is not set, and under CI the PostgreSQL tests must run: source .ci/postgres.sh first");
        }
        eprintln!("skipped: LOBBY_TEST_POSTGRES_URL not set");
        return None;
    };
    Some(url)
}
