//! Wait estimates scored against the waits that happened.
//!
//! Three estimators see the same queue when a conversation enters it:
//!
//! - **engine**: `Engine::queue_position(..).estimated_wait`, as the engine computes it:
//!   `(position − free) × h / slots`, with `h` the mean handle time of recent closes. This is the
//!   throughput estimate below, adopted by the engine; it used to be `ceil((position − free) /
//!   slots) × h`, which promised the first visitor in line a whole handle time.
//! - **Rocket.Chat**: [`rocket_chat`], the formula of Rocket.Chat's enterprise `Helper`
//!   (`getSpotEstimatedWaitTime`), including the argument mix-up that divides by the number of
//!   recent chats (`Livechat_number_most_recent_chats_estimate_wait_time`, default 100) where the
//!   parameter is named `maxNumberSimultaneousChat`.
//! - **throughput**: [`throughput`], computed here from the simulator's own view of the queue:
//!   when every slot is busy, slots free up at a rate of about `slots / h`, so the visitor at
//!   `position` waits for `position − free` of them. The engine's must score as well.
//!
//! [`Score`] gives mean absolute error and bias (mean of estimate − actual) over served
//! conversations; abandoned ones have no actual wait to compare with and are left out.

use serde::Serialize;

/// `Livechat_number_most_recent_chats_estimate_wait_time`'s default in Rocket.Chat.
pub const ROCKET_CHAT_RECENT_CHATS: usize = 100;

/// What is known about a queue when a conversation enters it, as the engine could know it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueSnapshot {
    /// 1 = next to be served, counting waiting conversations of the same department.
    pub position: usize,
    /// Unused chat slots of available agents who serve the department.
    pub free_slots: u64,
    /// All chat slots of available agents who serve the department.
    pub slots: u64,
    /// Mean handle time (taken → closed) of the department's recent closes, in seconds.
    pub mean_handle_time: Option<f64>,
    /// Mean chat duration (created → closed, abandoned included) of the department's
    /// [`ROCKET_CHAT_RECENT_CHATS`] most recent closes, in seconds: Rocket.Chat's
    /// `metrics.chatDuration` average.
    pub mean_chat_duration: Option<f64>,
}

/// Rocket.Chat's estimate in seconds: `((spot − 1) / N + 1) × average chat duration`, where
/// `spot` is the 1-based position and `N` the number of recent chats averaged (the value
/// Rocket.Chat actually passes as the divisor). `None` without data, as Rocket.Chat returns
/// nothing then.
pub fn rocket_chat(snapshot: &QueueSnapshot, recent_chats: usize) -> Option<f64> {
    let average = snapshot.mean_chat_duration.filter(|a| *a > 0.0)?;
    if recent_chats == 0 {
        return None;
    }
    Some(((snapshot.position as f64 - 1.0) / recent_chats as f64 + 1.0) * average)
}

/// The throughput estimate in seconds: 0 while a slot is free for this position, else
/// `(position − free) × h / slots`. Exact in expectation for exponential handle times without
/// abandonment; `None` when no agent is available or nothing has been closed yet.
pub fn throughput(snapshot: &QueueSnapshot) -> Option<f64> {
    if snapshot.slots == 0 {
        return None;
    }
    let position = snapshot.position as u64;
    if position <= snapshot.free_slots {
        return Some(0.0);
    }
    let handle = snapshot.mean_handle_time?;
    Some((position - snapshot.free_slots) as f64 * handle / snapshot.slots as f64)
}

/// Running error totals of one estimator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScoreSum {
    scored: u64,
    without_estimate: u64,
    absolute_error: f64,
    error: f64,
}

impl ScoreSum {
    /// Adds one served conversation: what was estimated (if anything) and the wait it had.
    pub fn add(&mut self, estimate: Option<f64>, actual: f64) {
        match estimate {
            Some(estimate) => {
                self.scored += 1;
                self.absolute_error += (estimate - actual).abs();
                self.error += estimate - actual;
            }
            None => self.without_estimate += 1,
        }
    }

    /// Conversations added, with or without an estimate.
    pub fn count(&self) -> u64 {
        self.scored + self.without_estimate
    }

    /// The totals of both.
    pub fn merge(&mut self, other: &ScoreSum) {
        self.scored += other.scored;
        self.without_estimate += other.without_estimate;
        self.absolute_error += other.absolute_error;
        self.error += other.error;
    }

    /// The score so far.
    pub fn score(&self) -> Score {
        let n = self.scored.max(1) as f64;
        let all = self.scored + self.without_estimate;
        Score {
            scored: self.scored,
            coverage: if all == 0 { 0.0 } else { self.scored as f64 / all as f64 },
            mae_seconds: self.absolute_error / n,
            bias_seconds: self.error / n,
        }
    }
}

/// How well an estimator did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    /// Conversations that had an estimate.
    pub scored: u64,
    /// Share of conversations that had an estimate.
    pub coverage: f64,
    /// Mean absolute error, seconds.
    pub mae_seconds: f64,
    /// Mean of estimate − actual, seconds: positive means the estimator promises longer waits.
    pub bias_seconds: f64,
}

/// The three estimators' scores.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EstimateScores {
    /// The engine's `queue_position` estimate.
    pub engine: ScoreSum,
    /// Rocket.Chat's formula.
    pub rocket_chat: ScoreSum,
    /// [`throughput`].
    pub throughput: ScoreSum,
}

impl EstimateScores {
    /// Adds the totals of `other`.
    pub fn merge(&mut self, other: &EstimateScores) {
        self.engine.merge(&other.engine);
        self.rocket_chat.merge(&other.rocket_chat);
        self.throughput.merge(&other.throughput);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(position: usize, free_slots: u64, slots: u64) -> QueueSnapshot {
        QueueSnapshot { position, free_slots, slots, mean_handle_time: Some(300.0), mean_chat_duration: Some(400.0) }
    }

    #[test]
    fn rocket_chat_divides_by_the_number_of_recent_chats() {
        // Position 1 → the average itself; position 101 with N = 100 → twice the average,
        // whatever the number of agents.
        assert_eq!(rocket_chat(&snapshot(1, 0, 10), 100), Some(400.0));
        assert_eq!(rocket_chat(&snapshot(101, 0, 10), 100), Some(800.0));
        assert_eq!(rocket_chat(&snapshot(101, 0, 1000), 100), Some(800.0));
        let no_data = QueueSnapshot { mean_chat_duration: None, ..snapshot(1, 0, 10) };
        assert_eq!(rocket_chat(&no_data, 100), None);
    }

    #[test]
    fn throughput_waits_for_slots_to_free_up() {
        assert_eq!(throughput(&snapshot(2, 3, 10)), Some(0.0), "a free slot is waiting for it");
        assert_eq!(throughput(&snapshot(1, 0, 10)), Some(30.0), "one of 10 slots frees up every h/10");
        assert_eq!(throughput(&snapshot(5, 1, 4)), Some(300.0));
        assert_eq!(throughput(&snapshot(1, 0, 0)), None, "nobody to serve it");
    }

    #[test]
    fn scores_are_mean_absolute_error_and_bias() {
        let mut sum = ScoreSum::default();
        sum.add(Some(10.0), 4.0);
        sum.add(Some(0.0), 2.0);
        sum.add(None, 7.0);
        let score = sum.score();
        assert_eq!((score.scored, score.mae_seconds, score.bias_seconds), (2, 4.0, 2.0));
        assert!((score.coverage - 2.0 / 3.0).abs() < 1e-12);
    }
}
