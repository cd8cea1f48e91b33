//! Runs a scenario's replications under one or more routing methods, summarises them with
//! confidence intervals over independent replications, and writes the human table and the JSON.

use std::fmt::Write as _;
use std::io::Write;

use lobby_core::Store;
use lobby_memory::MemoryStore;
use serde::Serialize;
use serde_json::json;

use crate::driver::LogSink;
use crate::erlang::{Prediction, QueueModel};
use crate::estimate::{EstimateScores, Score};
use crate::scenario::{Arrivals, HandleTime, Patience, Routing, Scenario};
use crate::sim::{run_replication, Replication, ReplicationOptions};
use crate::stats::{Confidence, Estimate};
use crate::SimError;

/// How to run a scenario.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// The routing methods to run, each on the same arrivals; the scenario's own when empty.
    pub methods: Vec<Routing>,
    /// Confidence level of the intervals.
    pub confidence: Confidence,
    /// Where to write the event log of the first replication of the first method.
    pub event_log: Option<Box<dyn Write>>,
    /// Hash the first replication's event log even when it is not written.
    pub hash_event_log: bool,
    /// Record the queue length every this many simulated seconds (for plots).
    pub sample_every: Option<f64>,
    /// Called now and then with the share of the whole run done (0 to 1).
    pub progress: Option<&'a mut dyn FnMut(f64)>,
    /// Do not score wait estimates (saves the engine's `queue_position` calls).
    pub skip_wait_estimates: bool,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// What was simulated.
    pub scenario: Scenario,
    /// The level of the intervals.
    pub confidence: Confidence,
    /// One entry per routing method, in the order asked for.
    pub methods: Vec<MethodReport>,
    /// What queueing theory predicts, when the scenario is one it covers.
    pub theory: Option<Theory>,
}

/// The replications of one routing method and their summary.
#[derive(Debug, Clone)]
pub struct MethodReport {
    /// The method.
    pub routing: Routing,
    /// Every replication.
    pub replications: Vec<Replication>,
    /// Means and intervals.
    pub summary: Summary,
}

/// Means over replications with confidence intervals.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Probability of waiting.
    pub p_wait: Estimate,
    /// Average speed of answer, seconds.
    pub asa_seconds: Estimate,
    /// Service level.
    pub service_level: Estimate,
    /// Abandonment rate.
    pub abandonment_rate: Estimate,
    /// Occupancy.
    pub occupancy: Estimate,
    /// Gini of conversations per staffed hour across agents.
    pub gini: Estimate,
    /// Median wait of served conversations, seconds.
    pub wait_p50: Estimate,
    /// 80th percentile.
    pub wait_p80: Estimate,
    /// 90th percentile.
    pub wait_p90: Estimate,
    /// 95th percentile.
    pub wait_p95: Estimate,
    /// 99th percentile.
    pub wait_p99: Estimate,
    /// Conversations counted, all replications together.
    pub conversations: u64,
    /// Served, all replications.
    pub served: u64,
    /// Abandoned, all replications.
    pub abandoned: u64,
    /// Never served, all replications.
    pub unanswered: u64,
    /// Wait estimates over all served conversations.
    #[serde(skip)]
    pub estimates_all: EstimateScores,
    /// Wait estimates over served conversations that found every slot busy.
    #[serde(skip)]
    pub estimates_queued: EstimateScores,
    /// Conversations simulated, warm-up included, all replications.
    pub simulated_conversations: u64,
    /// Happenings handled, all replications.
    pub events: u64,
    /// Engine calls, all replications.
    pub engine_calls: u64,
    /// Wall-clock seconds, all replications.
    pub wall_seconds: f64,
}

impl Summary {
    fn of(replications: &[Replication], confidence: Confidence) -> Self {
        let estimate =
            |f: &dyn Fn(&Replication) -> f64| Estimate::of(&replications.iter().map(f).collect::<Vec<_>>(), confidence);
        let total = |f: &dyn Fn(&Replication) -> u64| replications.iter().map(f).sum::<u64>();
        let mut estimates_all = EstimateScores::default();
        let mut estimates_queued = EstimateScores::default();
        for replication in replications {
            estimates_all.merge(&replication.estimates_all);
            estimates_queued.merge(&replication.estimates_queued);
        }
        Self {
            p_wait: estimate(&|r| r.metrics.p_wait),
            asa_seconds: estimate(&|r| r.metrics.asa_seconds),
            service_level: estimate(&|r| r.metrics.service_level),
            abandonment_rate: estimate(&|r| r.metrics.abandonment_rate),
            occupancy: estimate(&|r| r.metrics.occupancy),
            gini: estimate(&|r| r.metrics.gini),
            wait_p50: estimate(&|r| r.metrics.wait_p50),
            wait_p80: estimate(&|r| r.metrics.wait_p80),
            wait_p90: estimate(&|r| r.metrics.wait_p90),
            wait_p95: estimate(&|r| r.metrics.wait_p95),
            wait_p99: estimate(&|r| r.metrics.wait_p99),
            conversations: total(&|r| r.metrics.conversations),
            served: total(&|r| r.metrics.served),
            abandoned: total(&|r| r.metrics.abandoned),
            unanswered: total(&|r| r.metrics.unanswered),
            estimates_all,
            estimates_queued,
            simulated_conversations: total(&|r| r.simulated_conversations),
            events: total(&|r| r.events),
            engine_calls: total(&|r| r.engine_calls),
            wall_seconds: replications.iter().map(|r| r.wall_seconds).sum(),
        }
    }

    /// Happenings handled per second of wall time.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.wall_seconds.max(1e-9)
    }

    /// Conversations simulated (warm-up included) per second of wall time.
    pub fn conversations_per_second(&self) -> f64 {
        self.simulated_conversations as f64 / self.wall_seconds.max(1e-9)
    }
}

/// A theoretical prediction for the scenario.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Theory {
    /// `erlang-c` or `erlang-a`.
    pub model: &'static str,
    /// Its figures.
    #[serde(flatten)]
    pub prediction: Prediction,
}

impl Scenario {
    /// Erlang C or A for scenarios they describe exactly: one department, constant Poisson
    /// arrivals, exponential handle times, one chat per agent, no shifts, and no or exponential
    /// patience (Erlang C also needs an occupancy below 100 %).
    pub fn theory(&self) -> Option<Theory> {
        let [department] = self.departments.as_slice() else { return None };
        let (Arrivals::Constant(rate), HandleTime::Exponential { mean }) =
            (&department.arrivals, department.handle_time)
        else {
            return None;
        };
        if department.capacity != 1 || !department.shifts.is_empty() || department.agents == 0 {
            return None;
        }
        let model = QueueModel {
            arrival_rate: rate.as_per_second(),
            handle_time: mean.as_secs(),
            agents: department.agents,
            sl_threshold: self.sl_threshold.as_secs(),
        };
        match department.patience {
            Patience::Infinite => model.erlang_c().ok().map(|prediction| Theory { model: "erlang-c", prediction }),
            Patience::Exponential { mean } => {
                model.erlang_a(mean.as_secs()).ok().map(|prediction| Theory { model: "erlang-a", prediction })
            }
            Patience::Constant { .. } => None,
        }
    }
}

/// Runs `scenario` on the memory store.
pub fn simulate(scenario: &Scenario, options: RunOptions<'_>) -> Result<RunReport, SimError> {
    simulate_with(scenario, options, MemoryStore::new)
}

/// Runs `scenario` with a fresh store from `new_store` for every replication.
pub fn simulate_with<S: Store>(
    scenario: &Scenario,
    mut options: RunOptions<'_>,
    mut new_store: impl FnMut() -> S,
) -> Result<RunReport, SimError> {
    let methods = if options.methods.is_empty() { vec![scenario.routing] } else { options.methods.clone() };
    let total_runs = (methods.len() * scenario.replications as usize) as f64;
    let mut reports = Vec::with_capacity(methods.len());
    let mut done = 0.0;
    let mut event_log = options.event_log.take();
    for (m, &routing) in methods.iter().enumerate() {
        let mut replications = Vec::with_capacity(scenario.replications as usize);
        for index in 0..scenario.replications {
            let log = match (m, index, event_log.take()) {
                (0, 0, Some(writer)) => Some(LogSink::to_writer(writer)),
                (0, 0, None) if options.hash_event_log => Some(LogSink::hash_only()),
                _ => None,
            };
            let mut forward = |share: f64| {
                if let Some(progress) = options.progress.as_mut() {
                    progress((done + share) / total_runs);
                }
            };
            let replication = run_replication(
                scenario,
                routing,
                index,
                new_store(),
                ReplicationOptions {
                    log,
                    sample_every: if index == 0 { options.sample_every } else { None },
                    progress: Some(&mut forward),
                    skip_wait_estimates: options.skip_wait_estimates,
                },
            )?;
            done += 1.0;
            replications.push(replication);
        }
        let summary = Summary::of(&replications, options.confidence);
        reports.push(MethodReport { routing, replications, summary });
    }
    Ok(RunReport {
        scenario: scenario.clone(),
        confidence: options.confidence,
        methods: reports,
        theory: scenario.theory(),
    })
}

impl RunReport {
    /// The method the headline figures are for: the scenario's own if it ran, else the first.
    pub fn headline(&self) -> &MethodReport {
        self.methods.iter().find(|m| m.routing == self.scenario.routing).unwrap_or(&self.methods[0])
    }

    /// The JSON written by `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        let head = self.headline();
        let s = &head.summary;
        let per_method: Vec<serde_json::Value> = self.methods.iter().map(|m| method_json(m, self)).collect();
        let first = &head.replications[0];
        json!({
            "p_wait": s.p_wait.mean,
            "asa_seconds": s.asa_seconds.mean,
            "service_level": s.service_level.mean,
            "abandonment_rate": s.abandonment_rate.mean,
            "occupancy": s.occupancy.mean,
            "conversations": s.conversations,
            "seed": self.scenario.seed,
            "routing": head.routing.name(),
            "queue_order": self.scenario.queue_order.name(),
            "sl_threshold_seconds": self.scenario.sl_threshold.as_secs(),
            "replications": self.scenario.replications,
            "ci_method": "independent replications, Student t",
            "confidence": self.confidence.level(),
            "confidence_intervals": ci_json(s),
            "wait_percentiles_seconds": {
                "p50": s.wait_p50.mean, "p80": s.wait_p80.mean, "p90": s.wait_p90.mean,
                "p95": s.wait_p95.mean, "p99": s.wait_p99.mean,
            },
            "gini": s.gini.mean,
            "served": s.served,
            "abandoned": s.abandoned,
            "unanswered": s.unanswered,
            "wait_estimates": estimates_json(s),
            "theory": self.theory,
            "simulator": simulator_json(s),
            "event_log": first.event_log.as_ref().map(|(sha256, lines)| json!({"sha256": sha256, "lines": lines})),
            "compare_routing": if self.methods.len() > 1 { serde_json::Value::Array(per_method) } else { serde_json::Value::Null },
            "scenario": self.scenario.to_file(),
        })
    }

    /// The human table printed on stdout.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let scenario = &self.scenario;
        let agents: u32 =
            scenario.departments.iter().map(|d| d.agents + d.shifts.iter().map(|s| s.agents).sum::<u32>()).sum();
        let level = format!("±{}% CI", (self.confidence.level() * 100.0).round());
        let _ = writeln!(
            out,
            "lobby-sim run: {} department(s), {agents} agents, {} measured after {} warm-up, {} replication(s), seed {}",
            scenario.departments.len(),
            scenario.length,
            scenario.warm_up,
            scenario.replications,
            scenario.seed
        );
        if self.methods.len() > 1 {
            let _ = writeln!(
                out,
                "\n{:<15} {:>17} {:>15} {:>17} {:>9} {:>9} {:>7} {:>10}",
                "routing",
                "p(wait)",
                "ASA s",
                format!("SL {}", scenario.sl_threshold),
                "abandon",
                "occupancy",
                "Gini",
                "p90 wait s"
            );
            for m in &self.methods {
                let s = &m.summary;
                let _ = writeln!(
                    out,
                    "{:<15} {:>17} {:>15} {:>17} {:>9.4} {:>9.4} {:>7.4} {:>10.1}",
                    m.routing.name(),
                    with_ci(&s.p_wait, 4),
                    with_ci(&s.asa_seconds, 2),
                    with_ci(&s.service_level, 4),
                    s.abandonment_rate.mean,
                    s.occupancy.mean,
                    s.gini.mean,
                    s.wait_p90.mean
                );
            }
            let _ =
                writeln!(out, "(same arrivals, handle times and patience for every method; {level} over replications)");
        }
        let head = self.headline();
        let s = &head.summary;
        let theory = self.theory.as_ref();
        let theory_name = theory.map_or("", |t| if t.model == "erlang-c" { "Erlang C" } else { "Erlang A" });
        let _ = writeln!(out, "\n{} ({} replications)", head.routing.name(), head.replications.len());
        let _ = writeln!(out, "{:<30} {:>12} {:>12} {:>12}", "", "simulated", level, theory_name);
        let row = |out: &mut String, name: &str, e: &Estimate, digits: usize, predicted: Option<f64>| {
            let _ = writeln!(
                out,
                "{name:<30} {:>12.digits$} {:>12} {:>12}",
                e.mean,
                e.half_width.map_or("n/a".to_owned(), |h| format!("±{h:.digits$}")),
                predicted.map_or(String::new(), |p| format!("{p:.digits$}")),
            );
        };
        let p = theory.map(|t| t.prediction);
        row(&mut out, "probability of waiting", &s.p_wait, 4, p.map(|p| p.p_wait));
        row(&mut out, "average speed of answer (s)", &s.asa_seconds, 2, p.map(|p| p.asa_seconds));
        row(
            &mut out,
            &format!("service level ({})", scenario.sl_threshold),
            &s.service_level,
            4,
            p.map(|p| p.service_level),
        );
        row(&mut out, "abandonment rate", &s.abandonment_rate, 4, p.map(|p| p.abandonment_rate));
        row(&mut out, "occupancy", &s.occupancy, 4, p.map(|p| p.occupancy));
        row(&mut out, "load Gini across agents", &s.gini, 4, None);
        let _ = writeln!(
            out,
            "{:<30} {:>12}",
            "wait p50/p80/p90/p95/p99 (s)",
            format!(
                "{:.1} / {:.1} / {:.1} / {:.1} / {:.1}",
                s.wait_p50.mean, s.wait_p80.mean, s.wait_p90.mean, s.wait_p95.mean, s.wait_p99.mean
            )
        );
        let _ = writeln!(
            out,
            "{:<30} {:>12}   (served {}, abandoned {}, unanswered {})",
            "conversations", s.conversations, s.served, s.abandoned, s.unanswered
        );
        if s.estimates_all.engine.count() > 0 {
            write_estimates(&mut out, s);
        }
        let _ = writeln!(
            out,
            "\nsimulator: {} conversations, {} events, {} engine calls in {:.2} s wall: {:.0} events/s, {:.0} \
             conversations/s",
            s.simulated_conversations,
            s.events,
            s.engine_calls,
            s.wall_seconds,
            s.events_per_second(),
            s.conversations_per_second()
        );
        if let Some((sha256, lines)) = &head.replications[0].event_log {
            let _ = writeln!(out, "event log: {lines} lines, sha256 {sha256}");
        }
        out.lines().map(|line| format!("{}\n", line.trim_end())).collect()
    }
}

fn write_estimates(out: &mut String, s: &Summary) {
    let _ = writeln!(
        out,
        "\nwait estimate at enqueue vs actual wait, over the {} served conversations that found every slot busy \
         (\"all\": over all {} served)",
        s.estimates_queued.engine.count(),
        s.estimates_all.engine.count()
    );
    let _ = writeln!(
        out,
        "{:<24} {:>10} {:>10} {:>9}   {:>10} {:>10}",
        "", "MAE s", "bias s", "coverage", "MAE all", "bias all"
    );
    for (name, queued, all) in [
        ("engine queue_position", &s.estimates_queued.engine, &s.estimates_all.engine),
        ("Rocket.Chat formula", &s.estimates_queued.rocket_chat, &s.estimates_all.rocket_chat),
        ("throughput (proposed)", &s.estimates_queued.throughput, &s.estimates_all.throughput),
    ] {
        let (q, a) = (queued.score(), all.score());
        let _ = writeln!(
            out,
            "{name:<24} {:>10.1} {:>+10.1} {:>8.0}%   {:>10.1} {:>+10.1}",
            q.mae_seconds,
            q.bias_seconds,
            q.coverage * 100.0,
            a.mae_seconds,
            a.bias_seconds
        );
    }
}

fn with_ci(estimate: &Estimate, digits: usize) -> String {
    match estimate.half_width {
        Some(h) => format!("{:.digits$}±{h:.digits$}", estimate.mean),
        None => format!("{:.digits$}", estimate.mean),
    }
}

fn ci_json(s: &Summary) -> serde_json::Value {
    json!({
        "p_wait": s.p_wait,
        "asa_seconds": s.asa_seconds,
        "service_level": s.service_level,
        "abandonment_rate": s.abandonment_rate,
        "occupancy": s.occupancy,
        "gini": s.gini,
        "wait_p90": s.wait_p90,
    })
}

fn score_json(score: Score) -> serde_json::Value {
    serde_json::to_value(score).expect("scores serialise")
}

fn estimates_json(s: &Summary) -> serde_json::Value {
    let group = |scores: &EstimateScores| {
        json!({
            "engine": score_json(scores.engine.score()),
            "rocket_chat": score_json(scores.rocket_chat.score()),
            "throughput": score_json(scores.throughput.score()),
        })
    };
    json!({ "queued": group(&s.estimates_queued), "all_served": group(&s.estimates_all) })
}

fn simulator_json(s: &Summary) -> serde_json::Value {
    json!({
        "events": s.events,
        "simulated_conversations": s.simulated_conversations,
        "engine_calls": s.engine_calls,
        "wall_seconds": s.wall_seconds,
        "events_per_second": s.events_per_second(),
        "conversations_per_second": s.conversations_per_second(),
    })
}

fn method_json(m: &MethodReport, report: &RunReport) -> serde_json::Value {
    let s = &m.summary;
    json!({
        "routing": m.routing.name(),
        "p_wait": s.p_wait.mean,
        "asa_seconds": s.asa_seconds.mean,
        "service_level": s.service_level.mean,
        "abandonment_rate": s.abandonment_rate.mean,
        "occupancy": s.occupancy.mean,
        "gini": s.gini.mean,
        "conversations": s.conversations,
        "seed": report.scenario.seed,
        "confidence_intervals": ci_json(s),
        "wait_percentiles_seconds": {
            "p50": s.wait_p50.mean, "p80": s.wait_p80.mean, "p90": s.wait_p90.mean,
            "p95": s.wait_p95.mean, "p99": s.wait_p99.mean,
        },
        "wait_estimates": estimates_json(s),
        "simulator": simulator_json(s),
    })
}
