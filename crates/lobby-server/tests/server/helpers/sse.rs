//! A Server-Sent Events client over a plain socket: sends one GET, checks the answer's head,
//! then reads events one by one (chunked transfer decoded as it arrives). Every read waits at
//! most a generous ceiling, so a broken server fails the test instead of hanging it.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

use super::Login;

/// How long one read may wait before the test fails: only bounds a hang.
pub const READ_CEILING: Duration = Duration::from_secs(60);

/// One event as the stream sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// `event:`; empty for unnamed events (`onmessage`).
    pub name: String,
    /// `id:`, when given.
    pub id: Option<u64>,
    /// `data:`, parsed as JSON (`Null` when empty).
    pub data: Value,
}

/// An open stream.
pub struct SseClient {
    reader: BufReader<TcpStream>,
    /// Bytes of the current chunk not read yet.
    chunk_left: usize,
    /// Decoded text not yet split into events.
    pending: String,
    ended: bool,
}

/// How a stream request authenticates.
pub enum StreamAuth<'a> {
    /// `X-User-Id` and `X-Auth-Token`.
    Headers(&'a Login),
    /// Nothing (the query may carry a ticket).
    None,
}

/// Opens `path` and returns the status and either the stream (200) or the JSON error body.
pub fn open(
    addr: SocketAddr,
    path: &str,
    auth: StreamAuth<'_>,
    last_event_id: Option<u64>,
) -> Result<SseClient, (u16, Value)> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(READ_CEILING)).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n");
    if let StreamAuth::Headers(login) = auth {
        request.push_str(&format!("X-User-Id: {}\r\nX-Auth-Token: {}\r\n", login.user_id, login.token));
    }
    if let Some(id) = last_event_id {
        request.push_str(&format!("Last-Event-ID: {id}\r\n"));
    }
    request.push_str("\r\n");
    (&stream).write_all(request.as_bytes()).expect("send the request");
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let mut content_type = String::new();
    let mut content_length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header");
        match name.to_ascii_lowercase().as_str() {
            "content-type" => content_type = value.trim().to_owned(),
            "content-length" => content_length = value.trim().parse::<usize>().ok(),
            _ => {}
        }
    }
    if status != 200 {
        let mut body = vec![0; content_length.unwrap_or(0)];
        reader.read_exact(&mut body).expect("error body");
        return Err((status, serde_json::from_slice(&body).unwrap_or(Value::Null)));
    }
    assert_eq!(content_type, "text/event-stream", "a stream answers with text/event-stream");
    Ok(SseClient { reader, chunk_left: 0, pending: String::new(), ended: false })
}

impl SseClient {
    /// The next event (comments skipped), or `None` when the server ended the stream.
    pub fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                if let Some(event) = parse_block(&block) {
                    return Some(event);
                }
                continue;
            }
            if self.ended || !self.read_more() {
                self.ended = true;
                return None;
            }
        }
    }

    /// Reads the next piece of the chunked body; `false` at its end.
    fn read_more(&mut self) -> bool {
        if self.chunk_left == 0 {
            let mut size_line = String::new();
            match self.reader.read_line(&mut size_line) {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
            if size_line.trim().is_empty() {
                // The CRLF after the previous chunk.
                size_line.clear();
                if matches!(self.reader.read_line(&mut size_line), Ok(0) | Err(_)) {
                    return false;
                }
            }
            let Ok(size) = usize::from_str_radix(size_line.trim(), 16) else { return false };
            if size == 0 {
                return false;
            }
            self.chunk_left = size;
        }
        let mut buffer = vec![0; self.chunk_left.min(64 * 1024)];
        match self.reader.read(&mut buffer) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.chunk_left -= n;
                self.pending.push_str(&String::from_utf8_lossy(&buffer[..n]));
                true
            }
        }
    }

    /// Events until `done` says enough (it sees each event once), or the stream ends.
    pub fn until(&mut self, mut done: impl FnMut(&SseEvent) -> bool) -> Vec<SseEvent> {
        let mut seen = Vec::new();
        while let Some(event) = self.next() {
            let stop = done(&event);
            seen.push(event);
            if stop {
                break;
            }
        }
        seen
    }
}

fn parse_block(block: &str) -> Option<SseEvent> {
    let mut name = String::new();
    let mut id = None;
    let mut data = String::new();
    let mut any = false;
    for line in block.lines() {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        any = true;
        let (field, value) =
            line.split_once(':').map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
        match field {
            "event" => name = value.to_owned(),
            "id" => id = value.parse().ok(),
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {}
        }
    }
    any.then(|| SseEvent { name, id, data: serde_json::from_str(&data).unwrap_or(Value::Null) })
}
