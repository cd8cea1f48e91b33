//! The recent past: one small fact per event that statistics count (a conversation entered,
//! was taken and after how long, closed, abandoned, transferred, returned; an offer made,
//! accepted, declined or lapsed), kept from the
//! earlier of today's midnight (UTC) and an hour ago. Windowed statistics (5 minutes, 1 hour,
//! today) and the last hour's chart are computed from them.
//!
//! Cost: the facts are read from the event log once at start-up — O(log n) probes to find the
//! first event of the retention, then O(k) for the k events since — and then follow the feed,
//! O(1) per event. A statistics request is O(k_w + t_w log t_w) for the k_w facts in its window,
//! t_w of them takes (sorted for the percentiles); the chart is O(k_h + 60) over the last hour. None
//! of it depends on how long the log is.

use std::collections::VecDeque;

use lobby_core::machine::TransitionKind;
use lobby_core::{Event, EventKind, Timestamp};
use serde_json::{json, Value};

/// What one event counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    /// A new conversation entered the queue.
    Entered,
    /// An agent got it (take or assignment), after waiting this long since it first queued.
    Taken {
        /// Milliseconds from `queuedAt` to the take.
        wait_ms: u64,
    },
    /// Closed after an agent served it.
    Closed,
    /// Closed while waiting: nobody took it (the visitor left, or the queue timer closed it).
    Abandoned,
    /// Moved to another agent or department.
    Transferred,
    /// Put back in the queue by its agent.
    Returned,
    /// Offered to an agent (offer mode).
    Offered,
    /// An offered agent accepted it, after it waited this long since it first queued: a take.
    Accepted {
        /// Milliseconds from `queuedAt` to the acceptance.
        wait_ms: u64,
    },
    /// An offered agent declined it.
    Rejected,
    /// An offer lapsed unanswered.
    TimedOut,
}

/// One counted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    /// The event's sequence number.
    pub seq: u64,
    /// When it happened.
    pub at: Timestamp,
    /// What it counts for.
    pub kind: FactKind,
    /// How it changed the number of waiting conversations (−1, 0 or +1).
    pub waiting_delta: i8,
}

impl Fact {
    /// The fact an event stands for, if it counts. `queued_at` gives the conversation's queue
    /// age when the event is a take (it is only called then).
    pub fn of(event: &Event, queued_at: impl FnOnce() -> Option<Timestamp>) -> Option<Fact> {
        let (kind, waiting_delta) = match &event.event.kind {
            EventKind::Enqueued { .. } => (FactKind::Entered, 1),
            EventKind::Transition { transition, agent, previous_agent, .. } => match transition {
                TransitionKind::Take | TransitionKind::Assign => {
                    let wait_ms = queued_at().map(|since| event.event.at.millis_since(since)).unwrap_or(0);
                    (FactKind::Taken { wait_ms }, -1)
                }
                TransitionKind::Accept => {
                    let wait_ms = queued_at().map(|since| event.event.at.millis_since(since)).unwrap_or(0);
                    (FactKind::Accepted { wait_ms }, -1)
                }
                // An offered conversation still waits (it is not served): no change in the count.
                TransitionKind::Offer => (FactKind::Offered, 0),
                TransitionKind::RejectOffer => (FactKind::Rejected, 0),
                TransitionKind::ExpireOffer => (FactKind::TimedOut, 0),
                // The served agent stays on a closed conversation: none means it was waiting.
                TransitionKind::Close if agent.is_none() => (FactKind::Abandoned, -1),
                TransitionKind::Close => (FactKind::Closed, 0),
                TransitionKind::TransferToAgent => (FactKind::Transferred, 0),
                TransitionKind::TransferToDepartment => (FactKind::Transferred, i8::from(previous_agent.is_some())),
                TransitionKind::ReturnToQueue => (FactKind::Returned, 1),
                _ => return None,
            },
            _ => return None,
        };
        Some(Fact { seq: event.seq.0, at: event.event.at, kind, waiting_delta })
    }
}

/// The facts of the retention period, oldest first.
#[derive(Debug, Default)]
pub struct WindowLog {
    facts: VecDeque<Fact>,
    /// The last event looked at, counted or not: a fact at or before it is a duplicate.
    last_seq: u64,
}

/// Counts over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSummary {
    /// The window's start.
    pub from: Timestamp,
    /// Its end (now).
    pub to: Timestamp,
    /// Conversations that entered the queue.
    pub entered: usize,
    /// Taken by or assigned to an agent.
    pub taken: usize,
    /// Closed after being served.
    pub closed: usize,
    /// Moved to another agent or department.
    pub transferred: usize,
    /// Closed while waiting.
    pub abandoned: usize,
    /// Returned to the queue by their agent.
    pub returned: usize,
    /// Offers made.
    pub offered: usize,
    /// Offers accepted (also counted as taken).
    pub accepted: usize,
    /// Offers declined.
    pub rejected: usize,
    /// Offers that lapsed unanswered.
    pub timed_out: usize,
    /// Waits of the takes, in milliseconds, sorted.
    waits: Vec<u64>,
    /// Takes within the service-level threshold.
    within_threshold: usize,
}

impl WindowLog {
    /// Adds the fact of an event, once: events at or before the last one seen are ignored, so
    /// the start-up read of the log and the feed can overlap.
    pub fn push(&mut self, seq: u64, fact: Option<Fact>) {
        if seq <= self.last_seq {
            return;
        }
        self.last_seq = seq;
        if let Some(fact) = fact {
            self.facts.push_back(fact);
        }
    }

    /// The last event looked at.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Forgets facts before `keep_from`.
    pub fn trim(&mut self, keep_from: Timestamp) {
        while self.facts.front().is_some_and(|fact| fact.at < keep_from) {
            self.facts.pop_front();
        }
    }

    /// How many facts are kept.
    pub fn len(&self) -> usize {
        self.facts.len()
    }

    /// Whether none are kept.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// Counts the facts in `[from, to]`; takes within `threshold_ms` meet the service level.
    pub fn summary(&self, from: Timestamp, to: Timestamp, threshold_ms: u64) -> WindowSummary {
        let mut summary = WindowSummary {
            from,
            to,
            entered: 0,
            taken: 0,
            closed: 0,
            transferred: 0,
            abandoned: 0,
            returned: 0,
            offered: 0,
            accepted: 0,
            rejected: 0,
            timed_out: 0,
            waits: Vec::new(),
            within_threshold: 0,
        };
        for fact in self.facts.iter().rev().take_while(|fact| fact.at >= from).filter(|fact| fact.at <= to) {
            match fact.kind {
                FactKind::Entered => summary.entered += 1,
                FactKind::Taken { wait_ms } | FactKind::Accepted { wait_ms } => {
                    summary.taken += 1;
                    summary.accepted += usize::from(matches!(fact.kind, FactKind::Accepted { .. }));
                    summary.waits.push(wait_ms);
                    if wait_ms <= threshold_ms {
                        summary.within_threshold += 1;
                    }
                }
                FactKind::Offered => summary.offered += 1,
                FactKind::Rejected => summary.rejected += 1,
                FactKind::TimedOut => summary.timed_out += 1,
                FactKind::Closed => summary.closed += 1,
                FactKind::Abandoned => summary.abandoned += 1,
                FactKind::Transferred => summary.transferred += 1,
                FactKind::Returned => summary.returned += 1,
            }
        }
        summary.waits.sort_unstable();
        summary
    }

    /// The number waiting at the end of each of the last `minutes` minutes (and now), walking
    /// back from `waiting_now`, and the service level of the takes in each minute, in one pass
    /// over the facts of that time. Exact as far back as facts are kept.
    pub fn series(&self, now: Timestamp, waiting_now: usize, minutes: usize, threshold_ms: u64) -> Vec<Point> {
        // Per minute back from now (0: the last minute): waiting change, takes met, counted.
        let mut delta = vec![0i64; minutes + 1];
        let mut met = vec![0usize; minutes + 1];
        let mut counted = vec![0usize; minutes + 1];
        for fact in self.facts.iter().rev() {
            let age = now.as_millis().saturating_sub(fact.at.as_millis()).max(0);
            let minute = usize::try_from(age / 60_000).unwrap_or(usize::MAX);
            if minute > minutes {
                break;
            }
            delta[minute] += i64::from(fact.waiting_delta);
            match fact.kind {
                FactKind::Taken { wait_ms } | FactKind::Accepted { wait_ms } => {
                    counted[minute] += 1;
                    met[minute] += usize::from(wait_ms <= threshold_ms);
                }
                FactKind::Abandoned => counted[minute] += 1,
                _ => {}
            }
        }
        let mut points = Vec::with_capacity(minutes + 1);
        let mut waiting = waiting_now as i64;
        for minute in 0..=minutes {
            let at = now.plus_millis(-(minute as i64) * 60_000);
            let service_level = (counted[minute] > 0).then(|| met[minute] as f64 / counted[minute] as f64);
            points.push(Point { at, waiting: waiting.max(0) as usize, service_level });
            // Before this minute, undo what happened in it.
            waiting -= delta[minute];
        }
        points.reverse();
        points
    }
}

/// One point of the last hour's chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The end of the minute.
    pub at: Timestamp,
    /// Conversations waiting then.
    pub waiting: usize,
    /// Service level of the minute ending then (`None`: nobody was taken or gave up).
    pub service_level: Option<f64>,
}

impl WindowSummary {
    /// Nearest-rank percentile of the waits, in seconds.
    fn percentile(&self, p: f64) -> Option<f64> {
        if self.waits.is_empty() {
            return None;
        }
        let rank = ((p * self.waits.len() as f64).ceil() as usize).clamp(1, self.waits.len());
        Some(self.waits[rank - 1] as f64 / 1000.0)
    }

    /// The average wait, in seconds.
    fn average(&self) -> Option<f64> {
        (!self.waits.is_empty()).then(|| self.waits.iter().sum::<u64>() as f64 / self.waits.len() as f64 / 1000.0)
    }

    /// Takes within the threshold out of takes and abandons: a conversation nobody took counts
    /// as missed. `None` when there were neither.
    pub fn service_level(&self) -> Option<f64> {
        let counted = self.taken + self.abandoned;
        (counted > 0).then(|| self.within_threshold as f64 / counted as f64)
    }

    /// As `inquiries.stats` answers it.
    pub fn to_json(&self) -> Value {
        json!({
            "from": self.from,
            "to": self.to,
            "entered": self.entered,
            "taken": self.taken,
            "closed": self.closed,
            "transferred": self.transferred,
            "abandoned": self.abandoned,
            "returned": self.returned,
            "waitSeconds": {
                "average": self.average(),
                "p50": self.percentile(0.5),
                "p90": self.percentile(0.9),
            },
            "serviceLevel": self.service_level(),
            "offers": {
                "offered": self.offered,
                "accepted": self.accepted,
                "rejected": self.rejected,
                "timedOut": self.timed_out,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(seq: u64, at_s: i64, kind: FactKind, waiting_delta: i8) -> Fact {
        Fact { seq, at: Timestamp::from_millis(at_s * 1000), kind, waiting_delta }
    }

    fn log(facts: &[Fact]) -> WindowLog {
        let mut log = WindowLog::default();
        for fact in facts {
            log.push(fact.seq, Some(*fact));
        }
        log
    }

    #[test]
    fn windows_count_their_facts_and_rank_the_waits() {
        let log = log(&[
            fact(1, 100, FactKind::Entered, 1),
            fact(2, 110, FactKind::Taken { wait_ms: 10_000 }, -1),
            fact(3, 200, FactKind::Entered, 1),
            fact(4, 230, FactKind::Taken { wait_ms: 30_000 }, -1),
            fact(5, 240, FactKind::Entered, 1),
            fact(6, 300, FactKind::Abandoned, -1),
            fact(7, 310, FactKind::Closed, 0),
        ]);
        let all = log.summary(Timestamp::EPOCH, Timestamp::from_millis(400_000), 20_000);
        assert_eq!((all.entered, all.taken, all.abandoned, all.closed), (3, 2, 1, 1));
        assert_eq!(all.percentile(0.5), Some(10.0));
        assert_eq!(all.percentile(0.9), Some(30.0));
        assert_eq!(all.average(), Some(20.0));
        // One of two takes within 20 s, and one conversation nobody took.
        assert_eq!(all.service_level(), Some(1.0 / 3.0));
        let late = log.summary(Timestamp::from_millis(205_000), Timestamp::from_millis(400_000), 20_000);
        assert_eq!((late.entered, late.taken, late.abandoned), (1, 1, 1));
        let empty = log.summary(Timestamp::from_millis(500_000), Timestamp::from_millis(600_000), 20_000);
        assert_eq!((empty.service_level(), empty.average()), (None, None));
    }

    #[test]
    fn offers_are_counted_and_an_accepted_one_is_a_take() {
        let log = log(&[
            fact(1, 10, FactKind::Entered, 1),
            fact(2, 11, FactKind::Offered, 0),
            fact(3, 12, FactKind::Rejected, 0),
            fact(4, 13, FactKind::Offered, 0),
            fact(5, 14, FactKind::TimedOut, 0),
            fact(6, 15, FactKind::Offered, 0),
            fact(7, 16, FactKind::Accepted { wait_ms: 6_000 }, -1),
        ]);
        let summary = log.summary(Timestamp::EPOCH, Timestamp::from_millis(60_000), 20_000);
        assert_eq!((summary.offered, summary.accepted, summary.rejected, summary.timed_out), (3, 1, 1, 1));
        assert_eq!((summary.taken, summary.service_level()), (1, Some(1.0)));
        assert_eq!(summary.to_json()["offers"], json!({"offered": 3, "accepted": 1, "rejected": 1, "timedOut": 1}));
    }

    #[test]
    fn duplicates_from_the_log_and_the_feed_count_once() {
        let mut log = WindowLog::default();
        let f = fact(3, 10, FactKind::Entered, 1);
        log.push(3, Some(f));
        log.push(3, Some(f));
        log.push(2, Some(fact(2, 9, FactKind::Entered, 1)));
        log.push(4, None);
        assert_eq!((log.len(), log.last_seq()), (1, 4));
    }

    #[test]
    fn the_chart_walks_the_queue_length_back_from_now() {
        // Two entered in the first minute, one taken in the third.
        let log = log(&[
            fact(1, 30, FactKind::Entered, 1),
            fact(2, 40, FactKind::Entered, 1),
            fact(3, 150, FactKind::Taken { wait_ms: 5_000 }, -1),
        ]);
        let points = log.series(Timestamp::from_millis(180_000), 1, 3, 20_000);
        let waiting: Vec<usize> = points.iter().map(|p| p.waiting).collect();
        assert_eq!(waiting, vec![0, 2, 2, 1]);
        assert_eq!(points[3].service_level, Some(1.0));
        assert_eq!(points[2].service_level, None);
    }
}
