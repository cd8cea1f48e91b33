//! Everything the server tests share: who signs in, a real server and an HTTP client
//! ([`client`]), a seeded fixture and store snapshots ([`fixture`]), raw requests and the
//! envelope rules ([`raw`]), and the fuzzer's corpus format ([`corpus`]).

#![allow(dead_code)]

pub mod client;
pub mod corpus;
pub mod fixture;
pub mod raw;
pub mod sse;

use lobby_core::{Actor, NewUser, Role};
use lobby_server::auth::new_login_token;
use lobby_server::AppState;

/// The password of every test user.
pub const PASSWORD: &str = "correct horse";

/// Someone signed in: the headers of authenticated calls.
#[derive(Debug, Clone)]
pub struct Login {
    pub user_id: String,
    pub token: String,
}

/// Creates a user (and, for `livechat-agent`, its agent profile) directly in the engine — there
/// is no user before the first admin — and signs it in.
pub fn sign_up(state: &AppState, username: &str, roles: &[&str]) -> Login {
    let roles = roles.iter().map(|r| Role::new(*r).unwrap());
    let mut new = NewUser::new(username, format!("{username} name"), roles);
    new.email = Some(format!("{username}@example.com"));
    new.password_hash = Some(state.passwords().hash(PASSWORD));
    let user = state.engine().create_user(&Actor::System, new).expect("user created");
    let (token, hash) = new_login_token(state.now());
    state.engine().add_login_token(&user.id, hash).unwrap();
    Login { user_id: user.id.to_string(), token }
}

/// The test PostgreSQL server's URL from `LOBBY_TEST_POSTGRES_URL` (`source .ci/postgres.sh`
/// starts one), or `None` after saying on stderr that the PostgreSQL part is skipped. Under `CI`
/// a missing URL fails: there the PostgreSQL tests must run.
pub fn postgres_url() -> Option<String> {
    let Some(url) = std::env::var("LOBBY_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(std::env::var_os("CI").is_none(), "CI must provide LOBBY_TEST_POSTGRES_URL");
        eprintln!("skipped (PostgreSQL part): LOBBY_TEST_POSTGRES_URL not set");
        return None;
    };
    Some(url)
}
