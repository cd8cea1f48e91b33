//! The replayable corpus format of the fuzzer (`tests/fuzz-corpus/*.json`).

use serde_json::Value;

use super::fixture::Fixture;
use super::raw::{RawReply, RawRequest};

// ---------------------------------------------------------------------------------------------
// Corpus entries
// ---------------------------------------------------------------------------------------------

/// One replayable input, as stored in `tests/fuzz-corpus/*.json`:
///
/// ```json
/// {"note": "why it is here", "method": "POST", "target": "/api/v1/livechat/inquiries.take",
///  "auth": "admin", "headers": {"X-Extra": "text" | {"hex": "ff00"}},
///  "content_type": "application/json",
///  "json": {...} | "text": "..." | "hex": "7b22",
///  "expect": 400, "expect_error_type": "invalid-params", "expect_fields": {"offset": 1},
///  "ignore": "bug: … (an open bug: replayed only by the ignored test)"}
/// ```
///
/// `auth` is a fixture user (`admin`, `alice`, `bob`, `plain`), `none`, `forged` (admin's
/// token with alice's id) or `wrong-token`. `{{name}}` placeholders in the target, header values
/// and the body name fixture objects (see [`Fixture::with_store`]). `content_type` defaults to
/// `application/json` when there is a body and no `Content-Type` header.
#[derive(Debug, Clone)]
pub struct CorpusEntry {
    pub file: String,
    pub note: String,
    pub spec: Value,
}

impl CorpusEntry {
    pub fn load_all(dir: &std::path::Path) -> Vec<CorpusEntry> {
        let mut entries = Vec::new();
        let mut paths: Vec<_> = std::fs::read_dir(dir).expect("corpus directory").map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
            let text = std::fs::read_to_string(&path).unwrap();
            let spec: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let note = spec["note"].as_str().unwrap_or_default().to_owned();
            entries.push(CorpusEntry { file, note, spec });
        }
        entries
    }

    /// The request this entry describes, against `fixture`.
    pub fn request(&self, fixture: &Fixture) -> RawRequest {
        let spec = &self.spec;
        let method = spec["method"].as_str().unwrap_or("GET");
        let target = fixture.expand(spec["target"].as_str().expect("target"));
        let mut request = RawRequest::new(method, target);
        match spec["auth"].as_str().unwrap_or("none") {
            "none" => {}
            "forged" => {
                request = request
                    .header("X-User-Id", &fixture.login("alice").user_id)
                    .header("X-Auth-Token", &fixture.login("admin").token)
            }
            "wrong-token" => {
                request =
                    request.header("X-User-Id", &fixture.login("admin").user_id).header("X-Auth-Token", "0".repeat(64))
            }
            user => request = request.auth(fixture.login(user)),
        }
        if let Some(headers) = spec["headers"].as_object() {
            for (name, value) in headers {
                let bytes = match value {
                    Value::String(text) => fixture.expand(text).into_bytes(),
                    other => from_hex(other["hex"].as_str().expect("header value: a string or {\"hex\":…}")),
                };
                request = request.header(name, bytes);
            }
        }
        let body = if let Some(json) = spec.get("json") {
            Some(fixture.expand(&json.to_string()).into_bytes())
        } else if let Some(text) = spec["text"].as_str() {
            Some(fixture.expand(text).into_bytes())
        } else {
            spec["hex"].as_str().map(from_hex)
        };
        if let Some(body) = body {
            let has_type = request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
            match spec["content_type"].as_str() {
                Some(content_type) => request = request.header("Content-Type", content_type),
                None if !has_type => request = request.header("Content-Type", "application/json"),
                None => {}
            }
            request.body = body;
        }
        request
    }

    /// Checks the entry's own expectations, beyond the general rules.
    pub fn check_expectations(&self, reply: &RawReply) -> Result<(), String> {
        if let Some(status) = self.spec["expect"].as_u64() {
            if u64::from(reply.status) != status {
                return Err(format!("expected {status}, got {}: {}", reply.status, reply.text()));
            }
        }
        if let Some(error_type) = self.spec["expect_error_type"].as_str() {
            if reply.json()["errorType"] != error_type {
                return Err(format!("expected errorType {error_type}: {}", reply.text()));
            }
        }
        if let Some(fields) = self.spec["expect_fields"].as_object() {
            let body = reply.json();
            for (name, value) in fields {
                if body[name] != *value {
                    return Err(format!("expected {name} = {value}: {}", reply.text()));
                }
            }
        }
        Ok(())
    }
}

pub fn from_hex(text: &str) -> Vec<u8> {
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    clean.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).expect("hex")).collect()
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The corpus directory of this crate.
pub fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus")
}
