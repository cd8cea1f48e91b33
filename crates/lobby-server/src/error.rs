//! The error envelopes, exactly as Rocket.Chat writes them.
//!
//! - not signed in: 401 `{"status":"error","message":"You must be logged in to do this."}`
//! - missing permission: 403 `{"success":false,"error":"User does not have the permissions required for this action [error-unauthorized]"}`
//! - anything else with a code: `{"success":false,"error":"<reason> [<code>]","errorType":"<code>"}`
//!   (400, or 413 / 503 / 500 where the class of failure calls for it)

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lobby_core::limits::truncate;
use lobby_core::{CoreError, ErrorClass};
use serde_json::{json, Value};

/// The text Rocket.Chat's permission check fails with.
pub const FORBIDDEN_MESSAGE: &str = "User does not have the permissions required for this action [error-unauthorized]";
/// The text of a request without a valid login.
pub const NOT_LOGGED_IN_MESSAGE: &str = "You must be logged in to do this.";

/// How much of a bad `sort` parameter its error quotes, in characters.
const SORT_QUOTE_LIMIT: usize = 200;

/// An error response: a status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    /// `{"success":false,"error":"<reason> [<code>]","errorType":"<code>"}`.
    pub fn coded(status: StatusCode, reason: impl std::fmt::Display, code: &str) -> Self {
        Self { status, body: json!({ "success": false, "error": format!("{reason} [{code}]"), "errorType": code }) }
    }

    /// A failed schema check: 400 `invalid-params`, with ajv's wording (`must have required
    /// property 'x'`, `must be string`, `must NOT have additional properties`, …).
    pub fn invalid_params(message: impl std::fmt::Display) -> Self {
        Self::coded(StatusCode::BAD_REQUEST, message, "invalid-params")
    }

    pub fn invalid_sort(raw: &str) -> Self {
        Self::coded(
            StatusCode::BAD_REQUEST,
            format!("Invalid sort parameter provided: \"{}\"", truncate(raw, SORT_QUOTE_LIMIT)),
            "error-invalid-sort",
        )
    }

    pub fn not_logged_in() -> Self {
        Self { status: StatusCode::UNAUTHORIZED, body: json!({ "status": "error", "message": NOT_LOGGED_IN_MESSAGE }) }
    }

    /// Bad credentials at login; never says which part was wrong.
    pub fn login_failed() -> Self {
        Self { status: StatusCode::UNAUTHORIZED, body: json!({ "status": "error", "message": "Unauthorized" }) }
    }

    pub fn forbidden() -> Self {
        Self { status: StatusCode::FORBIDDEN, body: json!({ "success": false, "error": FORBIDDEN_MESSAGE }) }
    }

    pub fn not_found() -> Self {
        Self { status: StatusCode::NOT_FOUND, body: json!({ "success": false, "error": "Resource not found" }) }
    }

    pub fn method_not_allowed() -> Self {
        Self::coded(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", "error-method-not-allowed")
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::coded(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than {limit} bytes"),
            "invalid-params",
        )
    }

    /// 429 for a refused login: Rocket.Chat's fields for login errors (`status`, `message`) and
    /// Lobby's envelope (`error`, `errorType`) side by side.
    pub fn too_many_requests(reason: &str, code: &str) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: json!({
                "success": false,
                "status": "error",
                "error": format!("{reason} [{code}]"),
                "errorType": code,
                "message": reason,
            }),
        }
    }

    /// 503: the store cannot be reached now. The detail (which may name hosts) goes to the log.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(%detail, "store unavailable");
        Self::coded(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable, try again",
            "error-store-unavailable",
        )
    }

    /// A failure of ours; details go to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::coded(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error", "error-internal")
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        match error.class() {
            ErrorClass::Forbidden => Self::forbidden(),
            ErrorClass::Rejected => Self::coded(StatusCode::BAD_REQUEST, &error, error.code()),
            ErrorClass::Unavailable => match error {
                CoreError::Store(store) => Self::unavailable(store),
                other => Self::coded(StatusCode::SERVICE_UNAVAILABLE, &other, other.code()),
            },
            ErrorClass::Internal => {
                tracing::error!(%error, "store failure");
                Self::coded(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error", error.code())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_use_the_rocket_chat_envelope() {
        let taken = ApiError::from(CoreError::InquiryAlreadyTaken);
        assert_eq!(taken.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            taken.body,
            json!({"success":false,"error":"Inquiry already taken [error-inquiry-taken]","errorType":"error-inquiry-taken"})
        );
        let forbidden = ApiError::from(CoreError::Unauthorized { permission: lobby_core::Permission::ViewLRoom });
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
        assert_eq!(forbidden.body, json!({"success":false,"error":FORBIDDEN_MESSAGE}));
        assert_eq!(ApiError::from(CoreError::Contention).status, StatusCode::SERVICE_UNAVAILABLE);
        let down = ApiError::from(CoreError::Store(lobby_core::StoreError::Unavailable(
            "postgres: connection to 10.0.0.5:5432 refused".into(),
        )));
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.body["errorType"], "error-store-unavailable");
        assert!(!down.body.to_string().contains("10.0.0.5"), "the detail stays in the log: {}", down.body);
    }

    #[test]
    fn sort_errors_quote_the_raw_parameter() {
        let error = ApiError::invalid_sort("{\"ts\":2}");
        assert_eq!(error.body["error"], r#"Invalid sort parameter provided: "{"ts":2}" [error-invalid-sort]"#);
        assert_eq!(error.body["errorType"], "error-invalid-sort");
    }
}
