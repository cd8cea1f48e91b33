//! The web console at `/`: one HTML page, a stylesheet and a script, embedded in the binary
//! (nothing is fetched from elsewhere, and there is no build step). The page signs in with the
//! REST API, follows `inquiries.stream` through a stream ticket, and reads
//! `inquiries.stats`, `livechat/queue` and `inquiries.history` for the supervisor's view.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("index.html");
const STYLESHEET: &str = include_str!("console.css");
const SCRIPT: &str = include_str!("console.js");

/// `GET /`: the console's page.
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// `GET /console/console.css`.
pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

/// `GET /console/console.js`.
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    // The assets change with the binary only; "no-cache" makes browsers check on every load,
    // so an upgraded server is never paired with a stale script.
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")], body).into_response()
}
