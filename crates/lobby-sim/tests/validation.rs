//! The simulator, driving the real engine, against queueing theory. M/M/c (one chat per agent,
//! FIFO, visitors never give up) must reproduce Erlang C, and M/M/c+M must reproduce Erlang A:
//! each theoretical value has to fall inside the 99 % confidence interval of the simulated one,
//! and the interval has to be narrow enough for that to mean something.
//!
//! With FIFO order, one chat per agent and handle times drawn per conversation, the waits do not
//! depend on which free agent the engine picks, only on whether it keeps agents busy while
//! visitors wait and serves them in order: exactly what these tests check. Debug builds run
//! shorter and at lower occupancies (fewer visitors are needed there for the same precision);
//! release builds run 50 %, 70 % and 85 %.

use lobby_sim::scenario::{Arrivals, DepartmentModel, HandleTime, Patience, QueueOrderChoice};
use lobby_sim::{simulate, Confidence, Estimate, QueueModel, Rate, Routing, RunOptions, Scenario, Seconds, Summary};

struct Case {
    agents: u32,
    occupancy: f64,
    /// Conversations over all replications, about.
    conversations: f64,
}

/// How wide (each side, relative to the value) an interval may be for the check to mean something.
struct Tolerance {
    p_wait: f64,
    asa: f64,
    service_level: f64,
    occupancy: f64,
}

const HANDLE_SECONDS: f64 = 60.0;
const THRESHOLD_SECONDS: f64 = 30.0;

fn scenario(case: &Case, patience: Patience, replications: u32, seed: u64) -> Scenario {
    let per_second = case.occupancy * f64::from(case.agents) / HANDLE_SECONDS;
    let seconds = case.conversations / per_second / f64::from(replications);
    Scenario {
        length: Seconds::new("hours", seconds).unwrap(),
        warm_up: Seconds::new("warm_up", 1800.0).unwrap(),
        seed,
        replications,
        routing: Routing::LoadBalancing,
        queue_order: QueueOrderChoice::Timestamp,
        sl_threshold: Seconds::new("sl", THRESHOLD_SECONDS).unwrap(),
        departments: vec![DepartmentModel {
            name: "queue".into(),
            arrivals: Arrivals::Constant(Rate::per_second("rate", per_second).unwrap()),
            handle_time: HandleTime::Exponential { mean: Seconds::new("h", HANDLE_SECONDS).unwrap() },
            patience,
            agents: case.agents,
            capacity: 1,
            shifts: vec![],
            priority: None,
            sla_minutes: None,
        }],
    }
}

fn summary_of(scenario: &Scenario) -> Summary {
    let options = RunOptions { confidence: Confidence::NinetyNine, skip_wait_estimates: true, ..RunOptions::default() };
    let report = simulate(scenario, options).unwrap();
    report.methods[0].summary.clone()
}

/// Theory inside the interval, and the interval at most `relative` of the value wide (each side).
fn check(name: &str, simulated: &Estimate, predicted: f64, relative: f64, failures: &mut Vec<String>) {
    let half = simulated.half_width.unwrap();
    let line = format!("{name}: simulated {:.4} ± {half:.4}, theory {predicted:.4}", simulated.mean);
    eprintln!("  {line}");
    if !simulated.contains(predicted) {
        failures.push(format!("{line}: theory outside the interval"));
    }
    if half > relative * predicted.abs().max(1e-9) {
        failures.push(format!("{line}: interval wider than {:.0} % of the value", relative * 100.0));
    }
}

#[test]
fn simulated_m_m_c_matches_erlang_c_at_three_occupancies() {
    let (cases, replications, tolerance) = if cfg!(debug_assertions) {
        (
            vec![
                Case { agents: 2, occupancy: 0.5, conversations: 12_000.0 },
                Case { agents: 3, occupancy: 0.6, conversations: 12_000.0 },
                Case { agents: 4, occupancy: 0.7, conversations: 12_000.0 },
            ],
            12,
            Tolerance { p_wait: 0.20, asa: 0.50, service_level: 0.10, occupancy: 0.07 },
        )
    } else {
        (
            vec![
                Case { agents: 2, occupancy: 0.5, conversations: 40_000.0 },
                Case { agents: 4, occupancy: 0.7, conversations: 40_000.0 },
                Case { agents: 8, occupancy: 0.85, conversations: 40_000.0 },
            ],
            10,
            Tolerance { p_wait: 0.12, asa: 0.35, service_level: 0.05, occupancy: 0.04 },
        )
    };
    let mut failures = Vec::new();
    for case in &cases {
        let scenario = scenario(case, Patience::Infinite, replications, 1);
        let theory = QueueModel {
            arrival_rate: case.occupancy * f64::from(case.agents) / HANDLE_SECONDS,
            handle_time: HANDLE_SECONDS,
            agents: case.agents,
            sl_threshold: THRESHOLD_SECONDS,
        }
        .erlang_c()
        .unwrap();
        let s = summary_of(&scenario);
        eprintln!("M/M/{} at {:.0} % ({} conversations):", case.agents, case.occupancy * 100.0, s.conversations);
        check("p_wait", &s.p_wait, theory.p_wait, tolerance.p_wait, &mut failures);
        check("asa_seconds", &s.asa_seconds, theory.asa_seconds, tolerance.asa, &mut failures);
        check("service_level", &s.service_level, theory.service_level, tolerance.service_level, &mut failures);
        check("occupancy", &s.occupancy, theory.occupancy, tolerance.occupancy, &mut failures);
        assert_eq!(s.abandoned + s.unanswered, 0, "nobody gives up in M/M/c");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn simulated_m_m_c_with_exponential_patience_matches_erlang_a() {
    // Offered 95 % of capacity; visitors wait 2 handle times on average before giving up.
    let case =
        Case { agents: 4, occupancy: 0.95, conversations: if cfg!(debug_assertions) { 12_000.0 } else { 40_000.0 } };
    let patience = 2.0 * HANDLE_SECONDS;
    let scenario = scenario(&case, Patience::Exponential { mean: Seconds::new("p", patience).unwrap() }, 12, 1);
    let theory = QueueModel {
        arrival_rate: case.occupancy * f64::from(case.agents) / HANDLE_SECONDS,
        handle_time: HANDLE_SECONDS,
        agents: case.agents,
        sl_threshold: THRESHOLD_SECONDS,
    }
    .erlang_a(patience)
    .unwrap();
    let s = summary_of(&scenario);
    eprintln!("M/M/4+M offered 95 % ({} conversations):", s.conversations);
    let mut failures = Vec::new();
    check("p_wait", &s.p_wait, theory.p_wait, 0.15, &mut failures);
    check("asa_seconds", &s.asa_seconds, theory.asa_seconds, 0.30, &mut failures);
    check("service_level", &s.service_level, theory.service_level, 0.10, &mut failures);
    check("abandonment_rate", &s.abandonment_rate, theory.abandonment_rate, 0.30, &mut failures);
    check("occupancy", &s.occupancy, theory.occupancy, 0.07, &mut failures);
    assert!(failures.is_empty(), "{failures:#?}");
}
