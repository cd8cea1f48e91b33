//! The handlers, grouped as Rocket.Chat groups its REST files.

pub mod inquiries;
pub mod livechat;
pub mod users;

use axum::Json;
use serde_json::Value;

/// A success body: the payload's fields with `"success": true` beside them.
pub fn success(mut body: Value) -> Json<Value> {
    if let Value::Object(map) = &mut body {
        map.insert("success".into(), Value::Bool(true));
    }
    Json(body)
}

pub type Reply = Result<Json<Value>, crate::ApiError>;
