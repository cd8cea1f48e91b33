//! `login`, `logout`, `users.logout`, `me`, `users.create`.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use lobby_core::{NewUser, Permission, Role, UserId};
use serde_json::{json, Value};

use super::{success, Reply};
use crate::auth::{find_token, new_login_token, password_digest, AuthUser};
use crate::error::ApiError;
use crate::input::{check_object, get_bool, get_str, optional, required, Additional, JsonBody, Kind};
use crate::security::ClientAddress;
use crate::{wire, AppState};

/// Longest password accepted (hashing cost is bounded regardless).
const MAX_PASSWORD_LEN: usize = 1024;

/// `POST /api/v1/login {"user","password"}` (`user` is a username or an email; `username` or
/// `email` work too). `password` is the plain text or Meteor's
/// `{"digest":"<sha-256 hex>","algorithm":"sha-256"}`.
///
/// Failed logins are counted per user and per client address; while either is blocked every
/// login is refused with 429 before the password is looked at (see [`crate::security`]).
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    check_object(
        &body,
        &[
            optional("user", Kind::String),
            optional("username", Kind::String),
            optional("email", Kind::String),
            required("password", Kind::Any),
            optional("code", Kind::String),
        ],
        Additional::Rejected,
    )?;
    let (identity, by_email) = match (get_str(&body, "user"), get_str(&body, "username"), get_str(&body, "email")) {
        (Some(user), _, _) => (user.to_owned(), user.contains('@')),
        (None, Some(username), _) => (username.to_owned(), false),
        (None, None, Some(email)) => (email.to_owned(), true),
        (None, None, None) => return Err(ApiError::invalid_params("must have required property 'user'")),
    };
    let digest = password_digest_of(&body["password"]);
    if let Err(error) = &digest {
        if error.status == StatusCode::BAD_REQUEST {
            return Err(error.clone());
        }
    }
    let lookup = identity.clone();
    let user = state
        .run(move |engine| if by_email { engine.user_by_email(&lookup) } else { engine.user_by_username(&lookup) })
        .await?;
    // One count per account however it is named; names without an account count by name.
    let user_key = match &user {
        Some(user) => format!("id:{}", user.id),
        None => format!("name:{}", identity.to_lowercase()),
    };
    let attempt = state.login_guard().begin(&user_key, address, state.now()).map_err(|blocked| {
        tracing::warn!(user = %identity, address = ?address, ?blocked, "login refused: too many failures");
        ApiError::from(blocked)
    })?;
    let verified = match digest {
        Ok(digest) => {
            let passwords = state.passwords().clone();
            let stored = user.as_ref().and_then(|u| u.password_hash.clone());
            state.blocking(move || passwords.verify(&digest, stored.as_deref())).await?
        }
        Err(_) => false,
    };
    let Some(user) = user.filter(|u| verified && u.active) else {
        attempt.failed(state.now());
        tracing::info!(user = %identity, address = ?address, "login failed");
        return Err(ApiError::login_failed());
    };
    let (token, hash) = new_login_token(state.now());
    let user_id = user.id.clone();
    let (user, agent) = state
        .run(move |engine| {
            let user = engine.add_login_token(&user_id, hash)?;
            let agent = engine.agent(&user.id)?;
            Ok((user, agent))
        })
        .await?;
    attempt.succeeded();
    Ok(Json(json!({
        "status": "success",
        "data": {
            "userId": user.id,
            "authToken": token,
            "me": wire::user(&user, agent.as_ref()),
        }
    })))
}

fn password_digest_of(password: &Value) -> Result<String, ApiError> {
    let is_hex_digest = |d: &str| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit());
    match password {
        Value::String(text) if text.len() <= MAX_PASSWORD_LEN => Ok(password_digest(text)),
        Value::String(_) => Err(ApiError::login_failed()),
        Value::Object(map) => {
            let digest = match (get_str(map, "digest"), get_str(map, "algorithm"), get_str(map, "hashed")) {
                (Some(digest), Some("sha-256"), _) => digest,
                (None, None, Some(hashed)) => hashed,
                _ => return Err(ApiError::invalid_params("must be string")),
            };
            if is_hex_digest(digest) {
                Ok(digest.to_ascii_lowercase())
            } else {
                Err(ApiError::login_failed())
            }
        }
        _ => Err(ApiError::invalid_params("must be string")),
    }
}

/// `POST /api/v1/logout`: forgets the token this request was signed in with. A body is read
/// like any other (so an oversized or malformed one is refused the same way) and ignored.
pub async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    JsonBody(_ignored): JsonBody,
) -> Result<Json<Value>, ApiError> {
    // AuthUser has checked the header, so it is present and valid.
    let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default();
    if let Some(entry) = find_token(&user.0, token).map(str::to_owned) {
        let id = user.id().clone();
        state.run(move |engine| engine.remove_login_token(&id, &entry)).await?;
    }
    Ok(Json(json!({"status": "success", "data": {"message": "You've been logged out!"}})))
}

/// `POST /api/v1/users.logout {"userId"?}`: signs a user out of every session (all its
/// tokens go). Signing out someone else needs Rocket.Chat's `logout-other-user`, which Lobby
/// grants with `create-user` (admins).
pub async fn logout_everywhere(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(&body, &[optional("userId", Kind::String)], Additional::Rejected)?;
    let invalid_user = || ApiError::coded(StatusCode::BAD_REQUEST, "Invalid user id", "error-invalid-user-id");
    let target = match get_str(&body, "userId").filter(|id| !id.is_empty()) {
        Some(id) => UserId::new(id).map_err(|_| invalid_user())?,
        None => user.id().clone(),
    };
    if &target != user.id() && !state.engine().allows(&user.0, Permission::CreateUser) {
        return Err(ApiError::forbidden());
    }
    let id = target.clone();
    let found = state
        .run(move |engine| {
            let Some(found) = engine.user(&id)? else { return Ok(false) };
            for entry in &found.login_token_hashes {
                engine.remove_login_token(&id, entry)?;
            }
            Ok(true)
        })
        .await?;
    if !found {
        return Err(invalid_user());
    }
    tracing::info!(user = %target, by = %user.id(), "signed out of every session");
    Ok(success(json!({ "message": format!("User {target} has been logged out!") })))
}

/// `GET /api/v1/me`: the signed-in user.
pub async fn me(State(state): State<AppState>, user: AuthUser) -> Reply {
    let id = user.id().clone();
    let agent = state.run(move |engine| engine.agent(&id)).await?;
    Ok(success(wire::user(&user.0, agent.as_ref())))
}

/// `POST /api/v1/users.create {"email","name","password","username","roles"?,…}`. Needs
/// `create-user`. A user created with the `livechat-agent` role is also made an agent (available).
pub async fn create(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(
        &body,
        &[
            required("email", Kind::String),
            required("name", Kind::String),
            required("password", Kind::String),
            required("username", Kind::String),
            optional("roles", Kind::StringArray),
            optional("active", Kind::Boolean),
            optional("bio", Kind::String),
            optional("nickname", Kind::String),
            optional("statusText", Kind::String),
            optional("joinDefaultChannels", Kind::Boolean),
            optional("requirePasswordChange", Kind::Boolean),
            optional("setRandomPassword", Kind::Boolean),
            optional("sendWelcomeEmail", Kind::Boolean),
            optional("verified", Kind::Boolean),
            optional("customFields", Kind::Object),
            optional("fields", Kind::String),
        ],
        Additional::Rejected,
    )?;
    // Check the permission before spending time on hashing.
    if !state.engine().allows(&user.0, Permission::CreateUser) {
        return Err(ApiError::forbidden());
    }
    let password = get_str(&body, "password").unwrap_or_default().to_owned();
    if password.is_empty() {
        return Err(ApiError::coded(
            StatusCode::BAD_REQUEST,
            "The field Password is required",
            "error-the-field-is-required",
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(ApiError::invalid_params(format!("must NOT have more than {MAX_PASSWORD_LEN} characters")));
    }
    let roles = match body.get("roles").and_then(Value::as_array) {
        Some(names) => names.iter().filter_map(Value::as_str).map(Role::new).collect::<Result<BTreeSet<_>, _>>()?,
        None => BTreeSet::new(),
    };
    let passwords = state.passwords().clone();
    let password_hash = state.blocking(move || passwords.hash(&password)).await?;
    let new = NewUser {
        username: get_str(&body, "username").unwrap_or_default().to_owned(),
        name: get_str(&body, "name").unwrap_or_default().to_owned(),
        email: Some(get_str(&body, "email").unwrap_or_default().to_owned()),
        password_hash: Some(password_hash),
        roles,
        active: get_bool(&body, "active").unwrap_or(true),
    };
    let actor = user.actor();
    let (created, agent) = state
        .run(move |engine| {
            let created = engine.create_user(&actor, new)?;
            let agent = engine.agent(&created.id)?;
            Ok((created, agent))
        })
        .await?;
    if agent.is_some() {
        state.request_dispatch();
    }
    Ok(success(json!({ "user": wire::user(&created, agent.as_ref()) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_arrive_as_text_or_meteor_digests() {
        let digest = password_digest("pw");
        assert_eq!(password_digest_of(&json!("pw")).unwrap(), digest);
        assert_eq!(
            password_digest_of(&json!({"digest": digest.to_uppercase(), "algorithm": "sha-256"})).unwrap(),
            digest
        );
        assert_eq!(password_digest_of(&json!({"hashed": digest})).unwrap(), digest);
        assert_eq!(
            password_digest_of(&json!({"digest": "zz", "algorithm": "sha-256"})).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(password_digest_of(&json!(5)).unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(
            password_digest_of(&json!({"digest": digest, "algorithm": "md5"})).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
