//! `lobby-sim replay`: re-issues the calls of a recorded event log against the current engine, on
//! a fresh memory store, and reports the first line where what the engine says or does now differs
//! from what it said or did then — a routing decision, a dispatch count, a queue position or
//! estimate, an error. The simulator's own choices (when visitors arrive and leave, which agent
//! looks at its queue) are in the log as calls, so a replay exercises the engine alone.

use std::io::BufRead;

use lobby_memory::MemoryStore;

use crate::driver::{Driver, LogLine, LogSink};
use crate::scenario::{QueueOrderChoice, Routing};
use crate::SimError;

/// What a replay found.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayReport {
    /// Lines of the log compared (header included).
    pub lines: usize,
    /// Calls re-issued.
    pub calls: usize,
    /// The first difference, if any.
    pub difference: Option<Difference>,
}

/// Where the current engine first departs from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// 1-based line number in the log.
    pub line: usize,
    /// The call during which it happened (its log line).
    pub call: String,
    /// The line recorded; `None` if the engine now does more than it did.
    pub expected: Option<String>,
    /// The line produced now; `None` if the engine now does less.
    pub actual: Option<String>,
}

/// Replays the log at `path`.
pub fn replay_file(path: &str) -> Result<ReplayReport, SimError> {
    let file = std::fs::File::open(path).map_err(|source| SimError::Io { path: path.to_owned(), source })?;
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        lines.push(line.map_err(|source| SimError::Io { path: path.to_owned(), source })?);
    }
    replay_lines(&lines)
}

/// Replays a log given as its lines.
pub fn replay_lines(lines: &[String]) -> Result<ReplayReport, SimError> {
    let bad = |line: usize, reason: String| SimError::BadLog { line, reason };
    let parse = |index: usize| -> Result<LogLine, SimError> {
        serde_json::from_str(&lines[index]).map_err(|e| bad(index + 1, format!("not a lobby-sim log line: {e}")))
    };
    let Some(first) = lines.first() else { return Err(bad(1, "the log is empty".into())) };
    let (routing, queue_order) = match parse(0)? {
        LogLine::Header { lobby_sim_events: 1, routing, queue_order, .. } => (
            Routing::parse("routing", &routing).map_err(|e| bad(1, e.to_string()))?,
            QueueOrderChoice::parse("queue_order", &queue_order).map_err(|e| bad(1, e.to_string()))?,
        ),
        LogLine::Header { lobby_sim_events, .. } => {
            return Err(bad(1, format!("log format {lobby_sim_events} is not supported (1 is)")))
        }
        _ => return Err(bad(1, format!("the first line is not a lobby-sim header: {first}"))),
    };
    let mut driver = Driver::new(MemoryStore::new(), routing, queue_order, Some(LogSink::capturing()))?;
    let mut index = 1;
    let mut calls = 0;
    while index < lines.len() {
        let LogLine::Call { at, call, .. } = parse(index)? else {
            return Err(bad(index + 1, "expected a call line".into()));
        };
        let call_line = lines[index].clone();
        let mut end = index + 1;
        while end < lines.len() && matches!(parse(end)?, LogLine::Event { .. }) {
            end += 1;
        }
        driver.set_time(at);
        driver.call(call)?;
        calls += 1;
        let produced = driver.log_mut().map(LogSink::take_captured).unwrap_or_default();
        let recorded = &lines[index..end];
        let longest = produced.len().max(recorded.len());
        for offset in 0..longest {
            let expected = recorded.get(offset);
            let actual = produced.get(offset);
            if expected != actual {
                return Ok(ReplayReport {
                    lines: index + offset + 1,
                    calls,
                    difference: Some(Difference {
                        line: index + offset + 1,
                        call: call_line,
                        expected: expected.cloned(),
                        actual: actual.cloned(),
                    }),
                });
            }
        }
        index = end;
    }
    Ok(ReplayReport { lines: lines.len(), calls, difference: None })
}
