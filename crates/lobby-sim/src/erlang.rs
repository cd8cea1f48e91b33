//! Queueing theory to check the simulator against: Erlang C (M/M/c) and Erlang A (M/M/c+M, with
//! exponential patience).
//!
//! Erlang C uses the Erlang B recursion `B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1))`, which never
//! forms a factorial or a power and so stays exact for thousands of agents. Erlang A is computed
//! exactly from the birth–death chain of the number of visitors present (Palm's model): the
//! stationary distribution in log space, then for a visitor who finds `j` others waiting, the
//! chance to be served, the mean wait if served and the chance to be served within the threshold,
//! in closed form or by uniformisation. Every figure uses the definitions of [`crate::Metrics`]:
//! all of them are per arriving visitor, and the service level counts abandoned visitors as missed.

use serde::Serialize;

use crate::SimError;

/// An M/M/c system: Poisson arrivals, exponential handle times, `agents` servers of one chat each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueModel {
    /// Arrivals per second.
    pub arrival_rate: f64,
    /// Mean handle time in seconds.
    pub handle_time: f64,
    /// Servers.
    pub agents: u32,
    /// Service level counts visitors answered within this many seconds.
    pub sl_threshold: f64,
}

/// What theory predicts, with the same names as a simulation's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    /// Probability that an arriving visitor waits at all.
    pub p_wait: f64,
    /// Mean wait of served visitors, seconds.
    pub asa_seconds: f64,
    /// Share of arriving visitors answered within the threshold.
    pub service_level: f64,
    /// Share of arriving visitors who give up.
    pub abandonment_rate: f64,
    /// Mean share of agents busy.
    pub occupancy: f64,
    /// Offered load in Erlangs (arrival rate × handle time).
    pub offered_load: f64,
}

/// Erlang B: the blocking probability of `agents` servers offered `load` Erlangs, by the stable
/// recursion.
pub fn erlang_b(agents: u32, load: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=agents {
        b = load * b / (f64::from(k) + load * b);
    }
    b
}

impl QueueModel {
    fn check(&self) -> Result<f64, SimError> {
        if !(self.arrival_rate.is_finite() && self.arrival_rate >= 0.0) {
            return Err(SimError::invalid("--arrival-rate", "must be a finite rate, not negative"));
        }
        if !(self.handle_time.is_finite() && self.handle_time > 0.0) {
            return Err(SimError::invalid("--handle-time", "must be more than 0"));
        }
        if self.agents == 0 {
            return Err(SimError::invalid("--agents", "needs at least 1 agent"));
        }
        if !(self.sl_threshold.is_finite() && self.sl_threshold >= 0.0) {
            return Err(SimError::invalid("--sl-threshold", "must be a finite duration, not negative"));
        }
        Ok(self.arrival_rate * self.handle_time)
    }

    /// Erlang C. Refuses an occupancy of 100 % or more, where the queue grows without bound.
    pub fn erlang_c(&self) -> Result<Prediction, SimError> {
        let load = self.check()?;
        let c = f64::from(self.agents);
        if load >= c {
            return Err(SimError::invalid(
                "--agents",
                format!(
                    "{} agents cannot carry {load:.2} Erlangs (occupancy {:.1} % ≥ 100 %): the queue grows without \
                     bound; Erlang C needs more than {} agents",
                    self.agents,
                    100.0 * load / c,
                    load.floor()
                ),
            ));
        }
        let b = erlang_b(self.agents, load);
        let p_wait = if load == 0.0 { 0.0 } else { c * b / (c - load * (1.0 - b)) };
        let mu = 1.0 / self.handle_time;
        let drain = c * mu - self.arrival_rate;
        Ok(Prediction {
            p_wait,
            asa_seconds: p_wait / drain,
            service_level: 1.0 - p_wait * (-drain * self.sl_threshold).exp(),
            abandonment_rate: 0.0,
            occupancy: load / c,
            offered_load: load,
        })
    }

    /// Erlang A: M/M/c+M with exponential patience of mean `patience` seconds. Any load is fine:
    /// visitors who wait too long leave, so the queue stays finite.
    pub fn erlang_a(&self, patience: f64) -> Result<Prediction, SimError> {
        let load = self.check()?;
        if !(patience.is_finite() && patience > 0.0) {
            return Err(SimError::invalid("--patience", "must be a duration of more than 0"));
        }
        let c = f64::from(self.agents);
        let lambda = self.arrival_rate;
        if lambda == 0.0 {
            return Ok(Prediction {
                p_wait: 0.0,
                asa_seconds: 0.0,
                service_level: 1.0,
                abandonment_rate: 0.0,
                occupancy: 0.0,
                offered_load: 0.0,
            });
        }
        let mu = 1.0 / self.handle_time;
        let theta = 1.0 / patience;
        let agents = self.agents as usize;

        // ln of the unnormalised stationary probabilities: n ≤ c like Erlang B, then each extra
        // visitor multiplies by λ / (cμ + jθ). Stop once the tail is negligible.
        let mut log_q = Vec::with_capacity(agents + 64);
        log_q.push(0.0f64);
        for n in 1..=agents {
            log_q.push(log_q[n - 1] + load.ln() - (n as f64).ln());
        }
        let mut top = log_q.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut j = 0usize;
        loop {
            j += 1;
            let next = log_q[agents + j - 1] + lambda.ln() - (c * mu + j as f64 * theta).ln();
            log_q.push(next);
            top = top.max(next);
            let decreasing = c * mu + j as f64 * theta > lambda;
            if (decreasing && next < top - 46.0) || j > 5_000_000 {
                break;
            }
        }
        let total: f64 = log_q.iter().map(|l| (l - top).exp()).sum();
        let p = |n: usize| (log_q[n] - top).exp() / total;
        let max_j = log_q.len() - 1 - agents;

        // A visitor finding j waiting ahead moves up at rate cμ + kθ while k are ahead (k = j..0);
        // its own patience is Exp(θ). Served iff patience outlasts that sum V, so
        // P(served | j) = Π r_k/(r_k+θ), E[V; served] = P(served | j) · Σ 1/(r_k+θ) and
        // P(V ≤ T; served) = P(served | j) · P(Σ Exp(r_k+θ) ≤ T).
        let within = hypoexponential_cdf(c * mu, theta, max_j, self.sl_threshold);
        let mut p_wait = 0.0;
        let mut served = (0..agents).map(p).sum::<f64>();
        let mut served_within = served;
        let mut wait_of_served = 0.0;
        let mut survive = 1.0;
        let mut mean_sum = 0.0;
        for (j, within_j) in within.iter().enumerate() {
            let pn = p(agents + j);
            let r = c * mu + j as f64 * theta;
            survive *= r / (r + theta);
            mean_sum += 1.0 / (r + theta);
            p_wait += pn;
            served += pn * survive;
            served_within += pn * survive * within_j;
            wait_of_served += pn * survive * mean_sum;
        }
        Ok(Prediction {
            p_wait,
            asa_seconds: if served > 0.0 { wait_of_served / served } else { 0.0 },
            service_level: served_within,
            abandonment_rate: 1.0 - served,
            occupancy: served * load / c,
            offered_load: load,
        })
    }
}

/// `P(X_0 + … + X_j ≤ t)` for every `j ≤ max_j`, where the `X_k` are independent exponentials of
/// rate `base + (k+1)·step`, by uniformisation of the pure-death chain through the stages.
fn hypoexponential_cdf(base: f64, step: f64, max_j: usize, t: f64) -> Vec<f64> {
    let rates: Vec<f64> = (0..=max_j).map(|k| base + (k + 1) as f64 * step).collect();
    if t <= 0.0 {
        return vec![0.0; max_j + 1];
    }
    let uniform = rates.iter().cloned().fold(0.0, f64::max);
    let mean_jumps = uniform * t;
    // a[j] = P(absorbed within n jumps | start with j+1 stages to go).
    let mut a = vec![0.0; max_j + 1];
    let mut result = vec![0.0; max_j + 1];
    let last = (mean_jumps + 12.0 * mean_jumps.sqrt() + 30.0).ceil() as usize;
    let mut log_factorial = 0.0;
    for n in 0..=last {
        if n > 0 {
            log_factorial += (n as f64).ln();
            // One uniformised step: from stage j, with probability rate_j/uniform move down.
            for j in (0..=max_j).rev() {
                let below = if j == 0 { 1.0 } else { a[j - 1] };
                let move_down = rates[j] / uniform;
                a[j] = move_down * below + (1.0 - move_down) * a[j];
            }
        }
        let weight = (-mean_jumps + n as f64 * mean_jumps.ln() - log_factorial).exp();
        if weight > 0.0 {
            for (r, value) in result.iter_mut().zip(&a) {
                *r += weight * value;
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(per_hour: f64, handle: f64, agents: u32) -> QueueModel {
        QueueModel { arrival_rate: per_hour / 3600.0, handle_time: handle, agents, sl_threshold: 20.0 }
    }

    /// Erlang C by the textbook formula with factorials, fine for small systems.
    fn direct_erlang_c(load: f64, c: u32) -> f64 {
        let factorial = |n: u32| (1..=n).map(f64::from).product::<f64>();
        let top = load.powi(c as i32) / factorial(c) * f64::from(c) / (f64::from(c) - load);
        let sum: f64 = (0..c).map(|k| load.powi(k as i32) / factorial(k)).sum();
        top / (sum + top)
    }

    #[test]
    fn the_recursion_matches_the_textbook_formula() {
        for (load, c) in [(1.0, 2), (10.0, 14), (4.5, 5), (0.2, 1)] {
            let m = QueueModel { arrival_rate: load / 100.0, handle_time: 100.0, agents: c, sl_threshold: 0.0 };
            let got = m.erlang_c().unwrap().p_wait;
            assert!((got - direct_erlang_c(load, c)).abs() < 1e-12, "{load} on {c}: {got}");
        }
    }

    #[test]
    fn the_issue_example_and_a_single_server() {
        // 200/h × 180 s = 10 Erlangs on 14 agents.
        let p = model(200.0, 180.0, 14).erlang_c().unwrap();
        assert!((p.offered_load - 10.0).abs() < 1e-12);
        assert!((p.p_wait - direct_erlang_c(10.0, 14)).abs() < 1e-12);
        assert!((p.asa_seconds - p.p_wait / (14.0 / 180.0 - 200.0 / 3600.0)).abs() < 1e-9);
        // M/M/1: P(wait) = ρ, ASA = ρ/(μ−λ).
        let one = QueueModel { arrival_rate: 0.5, handle_time: 1.0, agents: 1, sl_threshold: 1.0 }.erlang_c().unwrap();
        assert!((one.p_wait - 0.5).abs() < 1e-12 && (one.asa_seconds - 1.0).abs() < 1e-12);
        assert!((one.service_level - (1.0 - 0.5 * (-0.5f64).exp())).abs() < 1e-12);
    }

    #[test]
    fn huge_systems_stay_finite() {
        let p =
            QueueModel { arrival_rate: 9.5, handle_time: 100.0, agents: 1000, sl_threshold: 20.0 }.erlang_c().unwrap();
        assert!(p.p_wait.is_finite() && p.p_wait > 0.0 && p.p_wait < 1.0, "{p:?}");
    }

    #[test]
    fn full_occupancy_is_refused_naming_the_agents() {
        let error = model(200.0, 180.0, 10).erlang_c().unwrap_err();
        assert!(error.to_string().starts_with("--agents: "), "{error}");
        assert!(error.is_bad_input());
    }

    #[test]
    fn erlang_a_tends_to_erlang_c_as_patience_grows() {
        let m = model(200.0, 180.0, 14);
        let c = m.erlang_c().unwrap();
        let a = m.erlang_a(1e9).unwrap();
        assert!((a.p_wait - c.p_wait).abs() < 1e-5, "{a:?} vs {c:?}");
        assert!((a.asa_seconds - c.asa_seconds).abs() < 1e-3, "{a:?} vs {c:?}");
        assert!((a.service_level - c.service_level).abs() < 1e-5, "{a:?} vs {c:?}");
        assert!(a.abandonment_rate < 1e-6);
    }

    #[test]
    fn erlang_a_is_consistent_with_littles_law() {
        // Abandonments per second = θ × mean queue length.
        let m = QueueModel { arrival_rate: 0.1, handle_time: 120.0, agents: 10, sl_threshold: 20.0 };
        let patience = 60.0;
        let a = m.erlang_a(patience).unwrap();
        assert!(a.abandonment_rate > 0.05 && a.abandonment_rate < 0.5, "{a:?}");
        // Overloaded (12 Erlangs on 10 agents) but stable thanks to abandonment.
        assert!(a.occupancy < 1.0 && a.occupancy > 0.9, "{a:?}");
        // Served throughput × handle time = busy agents.
        assert!((a.occupancy * 10.0 - 0.1 * (1.0 - a.abandonment_rate) * 120.0).abs() < 1e-9);
    }

    #[test]
    fn the_hypoexponential_cdf_is_an_erlang_cdf_when_rates_are_equal() {
        // step 0: sums of k+1 exponentials of rate 1 → Erlang(k+1, 1).
        let cdf = hypoexponential_cdf(1.0, 0.0, 3, 2.0);
        let erlang = |k: i32| {
            1.0 - (0..=k).map(|i| 2f64.powi(i) / (1..=i).product::<i32>().max(1) as f64).sum::<f64>() * (-2f64).exp()
        };
        for k in 0..=3 {
            assert!((cdf[k as usize] - erlang(k)).abs() < 1e-9, "{k}: {}", cdf[k as usize]);
        }
    }
}
