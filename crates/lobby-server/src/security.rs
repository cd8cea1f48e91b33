//! Abuse resistance: login rate limiting by user and by client address, login token lifetime,
//! and CORS. The defaults are Rocket.Chat's (`Block_Multiple_Failed_Logins_*`,
//! `Accounts_LoginExpiration`), except CORS, which is off until origins are configured.
//!
//! The login limiter lives in the process's memory: each server counts the attempts it sees.
//! Behind a load balancer over `n` servers an attacker gets at most `n` times the allowance.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method};
use lobby_core::Timestamp;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::AppState;

/// How the server defends its sign-in and who may call it from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityConfig {
    /// When failed logins block a user or a client address.
    pub login_limits: LoginLimits,
    /// How long a login token stays valid after sign-in; `None`: forever. Default 90 days
    /// (Rocket.Chat's `Accounts_LoginExpiration`).
    pub token_lifetime: Option<Duration>,
    /// Browser origins allowed to call the API (`https://app.example.com`, or `*` for any).
    /// Empty (the default): no CORS headers at all, so browsers refuse cross-origin calls.
    pub cors_origins: Vec<CorsOrigin>,
    /// How many reverse proxies in front of the server append to `X-Forwarded-For`. 0 (the
    /// default): the client address is the TCP peer, and the header is ignored, since anyone
    /// can send it.
    pub trusted_proxy_hops: usize,
}

/// Rocket.Chat's default token lifetime: 90 days.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            login_limits: LoginLimits::default(),
            token_lifetime: Some(DEFAULT_TOKEN_LIFETIME),
            cors_origins: Vec::new(),
            trusted_proxy_hops: 0,
        }
    }
}

/// Failed-login limits, one per key kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Per user (by account, or by the name tried when there is no such account). Default: 10
    /// failures, blocked for 5 minutes.
    pub by_user: FailureLimit,
    /// Per client address. Default: 50 failures, blocked for 5 minutes.
    pub by_address: FailureLimit,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            by_user: FailureLimit { failures: 10, block_for: Duration::from_secs(300) },
            by_address: FailureLimit { failures: 50, block_for: Duration::from_secs(300) },
        }
    }
}

/// After `failures` failed logins in a row, each less than `block_for` after the one before,
/// every login for the key is refused until `block_for` has passed since the last failure.
/// `failures == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit {
    /// Failures that trigger the block; 0: never block.
    pub failures: u32,
    /// How long the block lasts, counted from the last failure.
    pub block_for: Duration,
}

impl FailureLimit {
    fn is_on(&self) -> bool {
        self.failures > 0
    }
}

/// An allowed browser origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigin {
    /// Any origin (`*`).
    Any,
    /// Exactly this origin, e.g. `https://app.example.com`.
    Exact(String),
}

/// Why a [`CorsOrigin`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CORS origin {0:?}: use scheme://host[:port] (no path), or *")]
pub struct InvalidOrigin(pub String);

impl std::str::FromStr for CorsOrigin {
    type Err = InvalidOrigin;

    fn from_str(text: &str) -> Result<Self, InvalidOrigin> {
        if text == "*" {
            return Ok(Self::Any);
        }
        let invalid = || InvalidOrigin(text.to_owned());
        let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")).ok_or_else(invalid)?;
        let host_ok = !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
        if !host_ok || HeaderValue::from_str(text).is_err() {
            return Err(invalid());
        }
        Ok(Self::Exact(text.to_owned()))
    }
}

/// The CORS layer for `origins`, or `None` when CORS is off.
pub fn cors_layer(origins: &[CorsOrigin]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.contains(&CorsOrigin::Any) {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|origin| match origin {
            CorsOrigin::Exact(text) => HeaderValue::from_str(text).ok(),
            CorsOrigin::Any => None,
        }))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::PUT])
            .allow_headers([
                HeaderName::from_static("content-type"),
                HeaderName::from_static("x-user-id"),
                HeaderName::from_static("x-auth-token"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// Which limit refused a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginBlocked {
    /// Too many failures for this user (`error-login-blocked-for-user`).
    User,
    /// Too many failures from this address (`error-login-blocked-for-ip`).
    Address,
    /// As many attempts are in flight as failures would block (`error-too-many-requests`).
    TooManyInFlight,
}

impl From<LoginBlocked> for ApiError {
    fn from(blocked: LoginBlocked) -> Self {
        match blocked {
            LoginBlocked::User => ApiError::too_many_requests(
                "Login has been temporarily blocked For User",
                "error-login-blocked-for-user",
            ),
            LoginBlocked::Address => {
                ApiError::too_many_requests("Login has been temporarily blocked For IP", "error-login-blocked-for-ip")
            }
            LoginBlocked::TooManyInFlight => {
                ApiError::too_many_requests("Too many login attempts, try again later", "error-too-many-requests")
            }
        }
    }
}

/// Counts failed logins and refuses logins while a key is blocked.
///
/// An attempt is reserved before the password is checked and counts against the limit while
/// in flight, so parallel guesses cannot get past the limit either.
#[derive(Debug)]
pub struct LoginGuard {
    limits: LoginLimits,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    users: Tracked<String>,
    addresses: Tracked<IpAddr>,
}

#[derive(Debug)]
struct Tracked<K> {
    entries: HashMap<K, Failures>,
    /// Purge expired entries when the map grows past this (doubles after each purge).
    purge_at: usize,
}

impl<K> Default for Tracked<K> {
    fn default() -> Self {
        Self { entries: HashMap::new(), purge_at: 1024 }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    in_flight: u32,
    last: Option<Timestamp>,
}

impl Failures {
    /// Forgets a run of failures whose block (or window) has passed.
    fn refresh(&mut self, limit: &FailureLimit, now: Timestamp) {
        if let Some(last) = self.last {
            if now.millis_since(last) >= duration_millis(limit.block_for) {
                self.count = 0;
                self.last = None;
            }
        }
    }

    fn idle(&self) -> bool {
        self.count == 0 && self.in_flight == 0
    }
}

fn duration_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl<K: std::hash::Hash + Eq + Clone> Tracked<K> {
    /// Refuses when blocked; otherwise reserves one attempt.
    fn reserve(
        &mut self,
        key: &K,
        limit: &FailureLimit,
        now: Timestamp,
        blocked: LoginBlocked,
    ) -> Result<(), LoginBlocked> {
        if self.entries.len() >= self.purge_at {
            self.entries.retain(|_, failures| {
                failures.refresh(limit, now);
                !failures.idle()
            });
            self.purge_at = (self.entries.len() * 2).max(1024);
        }
        let failures = self.entries.entry(key.clone()).or_default();
        failures.refresh(limit, now);
        if failures.count >= limit.failures {
            return Err(blocked);
        }
        if failures.count + failures.in_flight >= limit.failures {
            return Err(LoginBlocked::TooManyInFlight);
        }
        failures.in_flight += 1;
        Ok(())
    }

    fn release(&mut self, key: &K) {
        if let Some(failures) = self.entries.get_mut(key) {
            failures.in_flight = failures.in_flight.saturating_sub(1);
            if failures.idle() {
                self.entries.remove(key);
            }
        }
    }

    fn fail(&mut self, key: &K, limit: &FailureLimit, now: Timestamp) {
        let failures = self.entries.entry(key.clone()).or_default();
        failures.refresh(limit, now);
        failures.count += 1;
        failures.last = Some(now);
    }

    fn reset(&mut self, key: &K) {
        if let Some(failures) = self.entries.get_mut(key) {
            failures.count = 0;
            failures.last = None;
            if failures.idle() {
                self.entries.remove(key);
            }
        }
    }
}

impl LoginGuard {
    /// A guard enforcing `limits`.
    pub fn new(limits: LoginLimits) -> Self {
        Self { limits, counts: Mutex::new(Counts::default()) }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent whatever panicked while holding the lock.
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Checks the address (first, as Rocket.Chat does) and the user, and reserves an attempt
    /// for each limit that is on. `user` is the account's id when it exists, else the name
    /// tried, lower-cased.
    pub fn begin(
        self: &Arc<Self>,
        user: &str,
        address: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<LoginAttempt, LoginBlocked> {
        let mut counts = self.counts();
        let limits = self.limits;
        let address = address.filter(|_| limits.by_address.is_on());
        let user = limits.by_user.is_on().then(|| user.to_owned());
        if let Some(address) = &address {
            counts.addresses.reserve(address, &limits.by_address, now, LoginBlocked::Address)?;
        }
        if let Some(user) = &user {
            if let Err(blocked) = counts.users.reserve(user, &limits.by_user, now, LoginBlocked::User) {
                if let Some(address) = &address {
                    counts.addresses.release(address);
                }
                return Err(blocked);
            }
        }
        Ok(LoginAttempt { guard: Arc::clone(self), user, address, finished: false })
    }
}

/// A login in progress. [`LoginAttempt::failed`] counts it, [`LoginAttempt::succeeded`] clears
/// the counts of its user and address; dropped unfinished (the request failed for another
/// reason), it counts for nothing.
#[derive(Debug)]
pub struct LoginAttempt {
    guard: Arc<LoginGuard>,
    user: Option<String>,
    address: Option<IpAddr>,
    finished: bool,
}

impl LoginAttempt {
    /// The password was wrong (or the user unknown or deactivated).
    pub fn failed(mut self, now: Timestamp) {
        let limits = self.guard.limits;
        let mut counts = self.guard.counts();
        if let Some(user) = &self.user {
            counts.users.release(user);
            counts.users.fail(user, &limits.by_user, now);
        }
        if let Some(address) = &self.address {
            counts.addresses.release(address);
            counts.addresses.fail(address, &limits.by_address, now);
        }
        self.finished = true;
    }

    /// The login succeeded: its user's and address's failures are forgotten.
    pub fn succeeded(mut self) {
        let mut counts = self.guard.counts();
        if let Some(user) = &self.user {
            counts.users.release(user);
            counts.users.reset(user);
        }
        if let Some(address) = &self.address {
            counts.addresses.release(address);
            counts.addresses.reset(address);
        }
        self.finished = true;
    }
}

impl Drop for LoginAttempt {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut counts = self.guard.counts();
        if let Some(user) = &self.user {
            counts.users.release(user);
        }
        if let Some(address) = &self.address {
            counts.addresses.release(address);
        }
    }
}

/// The address a request came from: the TCP peer, or with
/// [`SecurityConfig::trusted_proxy_hops`] the address the outermost trusted proxy saw.
/// `None` when the server was not started with connection info (a router driven in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        let hops = state.security().trusted_proxy_hops;
        Ok(Self(forwarded_client(parts, hops).or(peer)))
    }
}

/// The `hops`-th address from the right of `X-Forwarded-For` (each trusted proxy appends the
/// address it saw), when there are that many.
fn forwarded_client(parts: &Parts, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return None;
    }
    let mut seen: Vec<&str> = Vec::new();
    for value in parts.headers.get_all("x-forwarded-for") {
        seen.extend(value.to_str().ok()?.split(',').map(str::trim));
    }
    let index = seen.len().checked_sub(hops)?;
    seen[index].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(user: u32, address: u32) -> Arc<LoginGuard> {
        let block_for = Duration::from_secs(300);
        Arc::new(LoginGuard::new(LoginLimits {
            by_user: FailureLimit { failures: user, block_for },
            by_address: FailureLimit { failures: address, block_for },
        }))
    }

    const ADDRESS: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn a_user_is_blocked_after_the_limit_until_the_block_passes() {
        let guard = guard(3, 0);
        let t0 = Timestamp::from_millis(1_000_000);
        for i in 0..3 {
            guard.begin("u1", ADDRESS, t0.plus_millis(i)).unwrap().failed(t0.plus_millis(i));
        }
        let blocked = guard.begin("u1", ADDRESS, t0.plus_millis(10)).unwrap_err();
        assert_eq!(blocked, LoginBlocked::User);
        // Another user from the same address is not blocked (the address limit is off).
        guard.begin("u2", ADDRESS, t0.plus_millis(10)).unwrap().succeeded();
        // Still blocked one millisecond before 5 minutes after the last failure; free at 5.
        assert!(guard.begin("u1", ADDRESS, t0.plus_millis(2 + 300_000 - 1)).is_err());
        guard.begin("u1", ADDRESS, t0.plus_millis(2 + 300_000)).unwrap().succeeded();
    }

    #[test]
    fn success_resets_and_in_flight_attempts_count() {
        let guard = guard(2, 0);
        let now = Timestamp::from_millis(5_000);
        guard.begin("u1", None, now).unwrap().failed(now);
        guard.begin("u1", None, now).unwrap().succeeded();
        guard.begin("u1", None, now).unwrap().failed(now);
        // One failure so far: one more attempt may be in flight, not two.
        let first = guard.begin("u1", None, now).unwrap();
        assert_eq!(guard.begin("u1", None, now).unwrap_err(), LoginBlocked::TooManyInFlight);
        drop(first); // a request that failed for another reason counts for nothing
        guard.begin("u1", None, now).unwrap().failed(now);
        assert_eq!(guard.begin("u1", None, now).unwrap_err(), LoginBlocked::User);
    }

    #[test]
    fn addresses_are_checked_first_and_release_on_refusal() {
        let guard = guard(1, 2);
        let now = Timestamp::from_millis(5_000);
        guard.begin("a", ADDRESS, now).unwrap().failed(now);
        assert_eq!(guard.begin("a", ADDRESS, now).unwrap_err(), LoginBlocked::User);
        guard.begin("b", ADDRESS, now).unwrap().failed(now);
        assert_eq!(guard.begin("c", ADDRESS, now).unwrap_err(), LoginBlocked::Address);
        assert_eq!(guard.begin("a", ADDRESS, now).unwrap_err(), LoginBlocked::Address);
        // Without an address only the user limit applies.
        guard.begin("c", None, now).unwrap().succeeded();
    }

    #[test]
    fn idle_entries_are_purged() {
        let guard = guard(5, 5);
        let now = Timestamp::from_millis(0);
        for i in 0..5000 {
            guard.begin(&format!("user{i}"), None, now).unwrap().failed(now);
        }
        // Five minutes later the first 5,000 blocks have passed: they go when the map next
        // grows past its purge size, and only the live ones stay.
        let later = now.plus(Duration::from_secs(301));
        for i in 0..4000 {
            guard.begin(&format!("other{i}"), None, later).unwrap().failed(later);
        }
        assert_eq!(guard.counts().users.entries.len(), 4000);
    }

    #[test]
    fn origins_parse() {
        assert_eq!("*".parse::<CorsOrigin>().unwrap(), CorsOrigin::Any);
        assert_eq!(
            "https://app.example.com:8443".parse::<CorsOrigin>().unwrap(),
            CorsOrigin::Exact("https://app.example.com:8443".into())
        );
        for bad in ["app.example.com", "https://", "https://a.example/path", "ftp://x", "https://a b"] {
            assert!(bad.parse::<CorsOrigin>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_addresses_count_trusted_hops_from_the_right() {
        let request = axum::http::Request::builder()
            .header("x-forwarded-for", "203.0.113.9, 198.51.100.7")
            .header("x-forwarded-for", "10.0.0.2")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        assert_eq!(forwarded_client(&parts, 0), None);
        assert_eq!(forwarded_client(&parts, 1), Some("10.0.0.2".parse().unwrap()));
        assert_eq!(forwarded_client(&parts, 3), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(forwarded_client(&parts, 4), None);
    }
}
