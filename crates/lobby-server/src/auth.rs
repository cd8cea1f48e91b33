//! Signing in, as Rocket.Chat does it: `POST /api/v1/login`, then the headers `X-User-Id` and
//! `X-Auth-Token` on every call.
//!
//! Passwords are stored as argon2id PHC strings of the password's SHA-256 hex digest, which is
//! what Meteor clients send when they log in with `{"password":{"digest":…,"algorithm":"sha-256"}}`,
//! so both forms work. Login tokens are 32 random bytes (hex); the store keeps only their SHA-256,
//! compared in constant time, with the time the token was issued: `<sha-256 hex>:<issued, ms
//! since the epoch>`, so a token stops working [`SecurityConfig::token_lifetime`] after sign-in.
//! An entry without an issue time (written before tokens expired) counts as issued at the epoch:
//! expired, unless tokens are configured never to expire.
//!
//! [`SecurityConfig::token_lifetime`]: crate::security::SecurityConfig::token_lifetime

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use lobby_core::{Actor, Timestamp, User, UserId};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::AppState;

/// How expensive password hashing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordCost {
    /// argon2id with the argon2 crate's defaults (19 MiB, 2 passes): for real deployments.
    #[default]
    Standard,
    /// argon2id with minimal memory and one pass: only for tests and throwaway demos.
    Fast,
}

/// Hashes and checks passwords.
#[derive(Clone)]
pub struct Passwords {
    argon2: Argon2<'static>,
    /// A hash of a random secret, checked when the user does not exist so that a missing user
    /// takes as long as a wrong password.
    decoy: Arc<OnceLock<String>>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").finish_non_exhaustive()
    }
}

impl Passwords {
    pub fn new(cost: PasswordCost) -> Self {
        let params = match cost {
            PasswordCost::Standard => Params::default(),
            PasswordCost::Fast => Params::new(64, 1, 1, None).expect("valid argon2 parameters"),
        };
        Self { argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params), decoy: Arc::default() }
    }

    /// The PHC string to store for a plain-text password.
    pub fn hash(&self, password: &str) -> String {
        self.hash_digest(&password_digest(password))
    }

    fn hash_digest(&self, digest: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2
            .hash_password(digest.as_bytes(), &salt)
            .expect("argon2 hashing cannot fail on valid parameters")
            .to_string()
    }

    /// Whether `digest` (the password's SHA-256 hex) matches the stored PHC string. A user
    /// without a password, or a missing user (`None`), never matches but costs the same time.
    pub fn verify(&self, digest: &str, stored: Option<&str>) -> bool {
        let (phc, real) = match stored {
            Some(phc) => (phc, true),
            None => (self.decoy().as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else { return false };
        // Verify with the parameters recorded in the hash, so hashes made at another cost work.
        let ok = Argon2::default().verify_password(digest.as_bytes(), &parsed).is_ok();
        ok && real
    }

    fn decoy(&self) -> &String {
        self.decoy.get_or_init(|| {
            let mut secret = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut secret);
            self.hash_digest(&hex::encode(secret))
        })
    }
}

/// A password's SHA-256 as lowercase hex: what Meteor's clients send as `digest`.
pub fn password_digest(password: &str) -> String {
    hex::encode(Sha256::digest(password.as_bytes()))
}

/// A fresh login token (64 hex characters) and the entry to store for it (its hash and
/// `issued_at`).
pub fn new_login_token(issued_at: Timestamp) -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let entry = StoredToken { hash: token_hash(&token), issued_at }.entry();
    (token, entry)
}

/// What the store keeps for one login token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// The token's SHA-256, hex.
    pub hash: String,
    /// When it was issued.
    pub issued_at: Timestamp,
}

impl StoredToken {
    /// Reads a stored entry; one without an issue time counts as issued at the epoch.
    pub fn parse(entry: &str) -> Self {
        match entry.split_once(':') {
            Some((hash, millis)) => Self {
                hash: hash.to_owned(),
                issued_at: millis.parse().map(Timestamp::from_millis).unwrap_or_else(|_| Timestamp::epoch()),
            },
            None => Self { hash: entry.to_owned(), issued_at: Timestamp::epoch() },
        }
    }

    /// The text stored in [`User::login_token_hashes`].
    pub fn entry(&self) -> String {
        format!("{}:{}", self.hash, self.issued_at.as_millis())
    }

    /// Whether the token still works at `now` under `lifetime` (`None`: forever).
    pub fn is_live(&self, now: Timestamp, lifetime: Option<Duration>) -> bool {
        match lifetime {
            None => true,
            Some(lifetime) => now < self.issued_at.plus(lifetime),
        }
    }
}

/// What the store keeps for a login token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The stored entry of `token` among the user's, if it has one, live or not. Every stored hash
/// is compared, in constant time, whatever matches.
pub fn find_token<'a>(user: &'a User, token: &str) -> Option<&'a str> {
    find_entry(&user.login_token_hashes, token)
}

fn find_entry<'a>(entries: &'a [String], token: &str) -> Option<&'a str> {
    let hash = token_hash(token);
    entries.iter().fold(None, |found, entry| {
        let matches = constant_time_eq(StoredToken::parse(entry).hash.as_bytes(), hash.as_bytes());
        if matches {
            Some(entry.as_str())
        } else {
            found
        }
    })
}

/// Whether `token` is one of the user's login tokens and still live at `now`.
pub fn holds_token(user: &User, token: &str, now: Timestamp, lifetime: Option<Duration>) -> bool {
    holds_entry(&user.login_token_hashes, token, now, lifetime)
}

fn holds_entry(entries: &[String], token: &str, now: Timestamp, lifetime: Option<Duration>) -> bool {
    find_entry(entries, token).is_some_and(|entry| StoredToken::parse(entry).is_live(now, lifetime))
}

/// The signed-in user of a request. Rejects with 401 when the headers are missing or wrong.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl AuthUser {
    pub fn actor(&self) -> Actor {
        Actor::User(self.0.id.clone())
    }

    pub fn id(&self) -> &UserId {
        &self.0.id
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let (Some(user_id), Some(token)) = (header("x-user-id"), header("x-auth-token")) else {
            return Err(ApiError::not_logged_in());
        };
        authenticate(state, user_id, token).await.map(Self)
    }
}

/// The active user whose id and login token these are; 401 otherwise.
pub async fn authenticate(state: &AppState, user_id: &str, token: &str) -> Result<User, ApiError> {
    if token.is_empty() || token.len() > 512 {
        return Err(ApiError::not_logged_in());
    }
    let Ok(user_id) = UserId::new(user_id) else { return Err(ApiError::not_logged_in()) };
    let token = token.to_owned();
    let (now, lifetime) = (state.now(), state.security().token_lifetime);
    state
        .run(move |engine| engine.user(&user_id))
        .await?
        .filter(|user| user.active && holds_token(user, &token, now, lifetime))
        .ok_or_else(ApiError::not_logged_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_by_digest_and_decoys_never_match() {
        let passwords = Passwords::new(PasswordCost::Fast);
        let stored = passwords.hash("s3cret");
        assert!(stored.starts_with("$argon2id$"));
        assert!(passwords.verify(&password_digest("s3cret"), Some(&stored)));
        assert!(!passwords.verify(&password_digest("wrong"), Some(&stored)));
        assert!(!passwords.verify(&password_digest("s3cret"), None));
        assert!(!passwords.verify(&password_digest("s3cret"), Some("not a phc string")));
    }

    #[test]
    fn tokens_are_random_and_checked_by_hash() {
        let issued = Timestamp::from_millis(1_700_000_000_000);
        let (a, entry_a) = new_login_token(issued);
        let (b, _) = new_login_token(issued);
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(StoredToken::parse(&entry_a), StoredToken { hash: token_hash(&a), issued_at: issued });
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn tokens_expire_after_their_lifetime() {
        let issued = Timestamp::from_millis(1_700_000_000_000);
        let day = Duration::from_secs(24 * 3600);
        let (token, entry) = new_login_token(issued);
        let entries = vec!["ffff:1".to_owned(), entry.clone()];
        assert_eq!(find_entry(&entries, &token), Some(entry.as_str()));
        assert!(holds_entry(&entries, &token, issued.plus(day), Some(day * 90)));
        assert!(holds_entry(&entries, &token, issued.plus(day * 90).plus_millis(-1), Some(day * 90)));
        assert!(!holds_entry(&entries, &token, issued.plus(day * 90), Some(day * 90)));
        assert!(holds_entry(&entries, &token, issued.plus(day * 9000), None));
        assert!(!holds_entry(&entries, "0".repeat(64).as_str(), issued, None));
        // An entry from before expiry existed: issued at the epoch.
        let legacy = vec![token_hash(&token)];
        assert!(!holds_entry(&legacy, &token, issued, Some(day * 90)));
        assert!(holds_entry(&legacy, &token, issued, None));
    }
}
