//! The same scenario and seed give a byte-identical event log, although the engine draws its ids
//! at random; and `replay` re-runs a log against the engine, pointing at the first decision that
//! differs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use lobby_sim::replay::{replay_file, replay_lines};
use lobby_sim::{simulate, Origin, Routing, RunOptions, Scenario, ScenarioFile};

/// Two departments, hourly arrival rates, a shift, abandonment and chats of two at once: every
/// kind of happening.
const SCENARIO: &str = r#"
    hours = 1
    warm_up = "10min"
    replications = 1
    [[department]]
    name = "sales"
    arrival_rates_by_hour = ["90/h", "150/h"]
    handle_time = { distribution = "lognormal", mean = "4min", sd = "3min" }
    patience = { distribution = "exponential", mean = "90s" }
    agents = 3
    capacity = 2
    [[department.shift]]
    agents = 2
    start = "20min"
    end = "50min"
    [[department]]
    name = "support"
    arrival_rate = "60/h"
    handle_time = { distribution = "constant", mean = "5min" }
    patience = { distribution = "constant", mean = "2min" }
    agents = 4
"#;

fn scenario(routing: Routing, seed: u64) -> Scenario {
    let mut scenario = ScenarioFile::parse("s.toml", SCENARIO).unwrap().validate(Origin::File).unwrap();
    scenario.routing = routing;
    scenario.seed = seed;
    scenario
}

/// A writer whose bytes the test can read afterwards.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_of(routing: Routing, seed: u64) -> (String, Vec<u8>) {
    let bytes = Shared::default();
    let options = RunOptions { event_log: Some(Box::new(bytes.clone())), ..RunOptions::default() };
    let report = simulate(&scenario(routing, seed), options).unwrap();
    let (hash, lines) = report.methods[0].replications[0].event_log.clone().expect("a log was kept");
    let written = bytes.0.lock().unwrap().clone();
    assert_eq!(written.iter().filter(|b| **b == b'\n').count() as u64, lines);
    (hash, written)
}

#[test]
fn the_same_seed_gives_a_byte_identical_log_under_every_routing_method() {
    for routing in Routing::ALL {
        let (first_hash, first) = log_of(routing, 11);
        let (second_hash, second) = log_of(routing, 11);
        assert_eq!(first_hash, second_hash, "{routing:?}");
        assert!(first == second, "{routing:?}: same hash, different bytes");
        let (other_hash, _) = log_of(routing, 12);
        assert_ne!(first_hash, other_hash, "{routing:?}: another seed is another day");
        let text = String::from_utf8(first).unwrap();
        assert!(text.contains("\"by\":\"visitor\""), "{routing:?}: someone abandoned");
        assert!(text.lines().count() > 500, "{routing:?}: a real day was logged");
    }
}

#[test]
fn hashing_without_writing_gives_the_same_hash() {
    let (written_hash, _) = log_of(Routing::LoadBalancing, 5);
    let options = RunOptions { hash_event_log: true, ..RunOptions::default() };
    let report = simulate(&scenario(Routing::LoadBalancing, 5), options).unwrap();
    assert_eq!(report.methods[0].replications[0].event_log.as_ref().unwrap().0, written_hash);
}

#[test]
fn a_log_replays_identically_on_the_same_engine() {
    let (_, bytes) = log_of(Routing::Manual, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, &bytes).unwrap();
    let report = replay_file(path.to_str().unwrap()).unwrap();
    assert_eq!(report.difference, None);
    assert_eq!(report.lines, bytes.iter().filter(|b| **b == b'\n').count());
    assert!(report.calls > 100);
}

#[test]
fn replay_points_at_the_first_routing_decision_that_differs() {
    // Record under load-balancing, then replay as if the engine now used load-rotation: the
    // calls are the same, the engine's choice of agent is not.
    let (_, bytes) = log_of(Routing::LoadBalancing, 3);
    let mut lines: Vec<String> = String::from_utf8(bytes).unwrap().lines().map(str::to_owned).collect();
    lines[0] = lines[0].replace("\"routing\":\"load-balancing\"", "\"routing\":\"load-rotation\"");
    let report = replay_lines(&lines).unwrap();
    let difference = report.difference.expect("the methods decide differently");
    let expected = difference.expected.unwrap();
    assert!(expected.contains("load-balancing"), "the first difference is a routing decision: {expected}");
    assert!(difference.actual.unwrap().contains("load-rotation"));
    assert!(difference.call.contains("\"op\":\"dispatch\""), "{}", difference.call);
    assert!(difference.line > 2);
}

#[test]
fn replay_refuses_what_is_not_a_log() {
    let error = replay_lines(&["{\"hello\":1}".to_owned()]).unwrap_err();
    assert!(error.is_bad_input());
    assert!(error.to_string().starts_with("event log line 1:"), "{error}");
    assert!(replay_lines(&[]).is_err());
}
