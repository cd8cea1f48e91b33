//! Requests as raw parts (method, target, headers, body bytes) that can be sent in-process through
//! the router or as bytes over a plain TCP socket, and the envelope rules every answer follows.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, Uri};
use axum::Router;
use lobby_server::AppState;
use serde_json::{json, Map, Value};
use tower::ServiceExt as _;

use super::Login;

// ---------------------------------------------------------------------------------------------
// Requests and replies as raw parts
// ---------------------------------------------------------------------------------------------

/// A request as bytes-level parts, so that it can say anything a socket can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    pub method: String,
    /// Path and query, as sent on the request line.
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn new(method: &str, target: impl Into<String>) -> Self {
        Self { method: method.to_owned(), target: target.into(), headers: Vec::new(), body: Vec::new() }
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    pub fn auth(self, login: &Login) -> Self {
        self.header("X-User-Id", &login.user_id).header("X-Auth-Token", &login.token)
    }

    pub fn json(self, body: &Value) -> Self {
        self.raw_body("application/json", body.to_string().into_bytes())
    }

    pub fn raw_body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self = self.header("Content-Type", content_type);
        self.body = body;
        self
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The request as HTTP/1.1 bytes (with `Host`, `Content-Length` and `Connection: close`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(format!("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\n", self.method, self.target).as_bytes());
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// The request for the in-process router; `None` when `http` cannot even represent it (a
    /// target or header no client could send through a conforming library).
    pub fn to_http(&self) -> Option<Request<Body>> {
        let method = Method::from_bytes(self.method.as_bytes()).ok()?;
        let uri = Uri::try_from(self.target.as_str()).ok()?;
        let mut request = Request::builder().method(method).uri(uri).body(Body::from(self.body.clone())).ok()?;
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = HeaderValue::from_bytes(value).ok()?;
            request.headers_mut().append(name, value);
        }
        Some(request)
    }
}

#[derive(Debug, Clone)]
pub struct RawReply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl RawReply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends requests through the router in-process: no sockets, no dispatcher.
pub struct InProcess {
    runtime: tokio::runtime::Runtime,
    router: Router,
}

impl InProcess {
    pub fn new(state: &AppState) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Self { runtime, router: lobby_server::app(state.clone()) }
    }

    /// `Ok(None)`: the request cannot be represented. `Err`: the router panicked (the message).
    pub fn send(&self, request: &RawRequest) -> Result<Option<RawReply>, String> {
        let Some(http) = request.to_http() else { return Ok(None) };
        let router = self.router.clone();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.runtime.block_on(async move {
                let response = router.oneshot(http).await.expect("infallible");
                let status = response.status().as_u16();
                let content_type =
                    response.headers().get("content-type").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                // A stream does not end by itself: its head is the answer.
                if content_type.as_deref().is_some_and(|t| t.starts_with("text/event-stream")) {
                    return RawReply { status, content_type, body: Vec::new() };
                }
                let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body").to_vec();
                RawReply { status, content_type, body }
            })
        }));
        outcome.map(Some).map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".to_owned())
        })
    }
}

/// Writes `bytes` on a fresh connection and reads the one answer (the request should say
/// `Connection: close`; the server closes after a malformed request anyway).
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<RawReply> {
    raw_exchange_within(addr, bytes, Duration::from_secs(10))
}

/// [`raw_exchange`], giving up after `timeout` without an answer.
pub fn raw_exchange_within(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> std::io::Result<RawReply> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // The server may answer (413, 400) and close before reading everything; a failed write is
    // fine as long as an answer arrives.
    let _ = stream.write_all(bytes);
    let _ = stream.flush();
    let mut received = Vec::new();
    let read = stream.read_to_end(&mut received);
    if received.is_empty() {
        read?;
        return Err(std::io::Error::other("connection closed without an answer"));
    }
    parse_response(&received, bytes.starts_with(b"HEAD "))
        .ok_or_else(|| std::io::Error::other(format!("unparseable answer: {:?}", String::from_utf8_lossy(&received))))
}

fn parse_response(bytes: &[u8], is_head: bool) -> Option<RawReply> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut content_type = None;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-type" => content_type = Some(value.to_owned()),
            "content-length" => content_length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let rest = &bytes[end + 4..];
    // An interim answer (`100 Continue`) comes before the real one, when there is one.
    if (100..200).contains(&status) && !rest.is_empty() {
        return parse_response(rest, is_head);
    }
    let body = if is_head {
        Vec::new()
    } else if chunked {
        dechunk(rest)?
    } else {
        match content_length {
            Some(n) => rest.get(..n)?.to_vec(),
            None => rest.to_vec(),
        }
    };
    Some(RawReply { status, content_type, body })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).ok()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The rules every answer follows
// ---------------------------------------------------------------------------------------------

/// Checks an answer against the contract: no 5xx; JSON; errors in Rocket.Chat's envelopes
/// (401 `{"status":"error","message":…}`, every other 4xx `{"success":false,"error":"…"}` with,
/// when present, an `errorType` that the error text ends with in brackets); successes carry
/// `"success":true` (login: `"status":"success"`). HEAD answers have no body to check.
pub fn check_reply(method: &str, reply: &RawReply) -> Result<(), String> {
    check_reply_for(method, lobby_server::routes::Content::Json, reply)
}

/// What the route `request` goes to answers with when it succeeds (JSON for unknown routes).
pub fn content_of(request: &RawRequest) -> lobby_server::routes::Content {
    let method = if request.method == "HEAD" { "GET" } else { request.method.as_str() };
    lobby_server::routes::ROUTES
        .iter()
        .find(|route| route.method == method && route.matches(request.path()))
        .map_or(lobby_server::routes::Content::Json, |route| route.content)
}

/// [`check_reply`] for a route whose successes are `content` (the console's page, `/metrics`,
/// the event stream); its errors are JSON envelopes all the same.
pub fn check_reply_for(method: &str, content: lobby_server::routes::Content, reply: &RawReply) -> Result<(), String> {
    if reply.status >= 500 {
        return Err(format!("{} (server error): {}", reply.status, reply.text()));
    }
    if !(200..500).contains(&reply.status) || (300..400).contains(&reply.status) {
        return Err(format!("unexpected status {}: {}", reply.status, reply.text()));
    }
    if method.eq_ignore_ascii_case("HEAD") {
        return Ok(());
    }
    let essence = reply.content_type.as_deref().unwrap_or("").split(';').next().unwrap_or("").trim().to_owned();
    if (200..300).contains(&reply.status) && content != lobby_server::routes::Content::Json {
        return if essence == content.media_type() {
            Ok(())
        } else {
            Err(format!("{} with content type {:?}, not {}", reply.status, reply.content_type, content.media_type()))
        };
    }
    if essence != "application/json" {
        return Err(format!("{} with content type {:?}: {}", reply.status, reply.content_type, reply.text()));
    }
    let body: Value = serde_json::from_slice(&reply.body)
        .map_err(|e| format!("{}: body is not JSON ({e}): {}", reply.status, reply.text()))?;
    let Some(map) = body.as_object() else { return Err(format!("{}: body is not an object: {body}", reply.status)) };
    match reply.status {
        200..=299 => {
            if map.get("success") == Some(&Value::Bool(true)) || map.get("status") == Some(&json!("success")) {
                Ok(())
            } else {
                Err(format!("{} without \"success\":true: {body}", reply.status))
            }
        }
        401 => check_401(map).map_err(|e| format!("401 {e}: {body}")),
        _ => check_error_envelope(map).map_err(|e| format!("{} {e}: {body}", reply.status)),
    }
}

fn check_401(map: &Map<String, Value>) -> Result<(), String> {
    if map.get("status") != Some(&json!("error")) {
        return Err("lacks \"status\":\"error\"".into());
    }
    if !map.get("message").is_some_and(Value::is_string) {
        return Err("lacks a string \"message\"".into());
    }
    if let Some(extra) = map.keys().find(|k| !["status", "message", "error"].contains(&k.as_str())) {
        return Err(format!("has an unexpected field {extra:?}"));
    }
    Ok(())
}

fn check_error_envelope(map: &Map<String, Value>) -> Result<(), String> {
    if map.get("success") != Some(&Value::Bool(false)) {
        return Err("lacks \"success\":false".into());
    }
    let Some(error) = map.get("error").and_then(Value::as_str) else { return Err("lacks a string \"error\"".into()) };
    if error.is_empty() {
        return Err("has an empty error".into());
    }
    if let Some(error_type) = map.get("errorType") {
        let Some(error_type) = error_type.as_str() else { return Err("has a non-string errorType".into()) };
        if !error.ends_with(&format!(" [{error_type}]")) {
            return Err(format!("error does not end with [{error_type}]"));
        }
    }
    if let Some(extra) = map.keys().find(|k| !["success", "error", "errorType"].contains(&k.as_str())) {
        return Err(format!("has an unexpected field {extra:?}"));
    }
    Ok(())
}
