//! History checking for the cluster fault test: a small Wing–Gong linearizability checker over
//! a sequential model, with operations whose outcome is unknown (timeouts, dropped connections,
//! 503s) allowed to have taken effect at any moment after they were invoked, or never.

use std::collections::HashSet;
use std::hash::Hash;

/// A sequential specification: which (operation, result) pairs a state allows, and what follows.
pub trait Model: Clone + Eq + Hash {
    type Op;
    type Ret;
    /// The state after `op` returned `ret` from `self`, or `None` if the model forbids it.
    fn step(&self, op: &Self::Op, ret: &Self::Ret) -> Option<Self>;
    /// The states `op` may leave behind when its result was never seen (it took effect with
    /// some result the model allows).
    fn step_unknown(&self, op: &Self::Op) -> Vec<Self>;
}

/// One operation as the client saw it.
#[derive(Debug, Clone)]
pub struct Entry<O, R> {
    pub op: O,
    /// When it was sent (any monotonic unit).
    pub invoked: u64,
    /// When its answer came, with the answer; `None`: unknown (it may have taken effect any
    /// time after `invoked`, or never).
    pub completed: Option<(u64, R)>,
}

/// Whether some order of the entries, consistent with real time (an entry that completed
/// before another was invoked comes first) and with `model`, explains every known answer and
/// ends in a state `accept` takes. Unknown entries may be placed anywhere after their
/// invocation or left out. Up to 64 entries.
pub fn linearizable<M: Model>(initial: &M, history: &[Entry<M::Op, M::Ret>], accept: impl Fn(&M) -> bool) -> bool {
    assert!(history.len() <= 64, "the checker handles 64 entries per history, got {}", history.len());
    let known: u64 = history.iter().enumerate().filter(|(_, e)| e.completed.is_some()).fold(0, |m, (i, _)| m | 1 << i);
    let mut seen: HashSet<(u64, M)> = HashSet::new();
    let mut stack: Vec<(u64, M)> = vec![(0, initial.clone())];
    while let Some((done, state)) = stack.pop() {
        if done & known == known && accept(&state) {
            return true;
        }
        if !seen.insert((done, state.clone())) {
            continue;
        }
        // The earliest completion among pending known entries bounds what may go next.
        let horizon = history
            .iter()
            .enumerate()
            .filter(|(i, _)| done & (1 << i) == 0)
            .filter_map(|(_, e)| e.completed.as_ref().map(|(at, _)| *at))
            .min()
            .unwrap_or(u64::MAX);
        for (i, entry) in history.iter().enumerate() {
            if done & (1 << i) != 0 || entry.invoked > horizon {
                continue;
            }
            let next_done = done | (1 << i);
            match &entry.completed {
                Some((_, ret)) => {
                    if let Some(next) = state.step(&entry.op, ret) {
                        stack.push((next_done, next));
                    }
                }
                None => {
                    for next in state.step_unknown(&entry.op) {
                        stack.push((next_done, next));
                    }
                    // Or it never happened.
                    stack.push((next_done, state.clone()));
                }
            }
        }
    }
    false
}

/// A conversation as the storm's operations see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conversation {
    /// Queued or open: waiting for an agent.
    Waiting,
    /// Served by an agent (by index).
    Taken(usize),
    Closed,
}

/// What the storm does to a conversation. Every agent of the storm may also transfer and close
/// others' conversations (they hold `livechat-manager`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationOp {
    /// `inquiries.take` for agent `by`.
    Take { by: usize },
    /// `inquiries.returnAsInquiry` by agent `by`.
    Return { by: usize },
    /// `room.forward` to an agent, or (`None`) to a department.
    Forward { to: Option<usize> },
    /// `room.closeByUser`.
    Close,
}

/// An answer: success, or the `errorType` of a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ok,
    Refused(String),
}

/// Refusals that depend on the agent (full, away) rather than on the conversation, and
/// requests never sent (`not-sent`: the connection was refused): allowed whatever the
/// conversation's state, and change nothing.
const AGENT_REFUSALS: [&str; 4] = [
    "error-max-number-simultaneous-chats-reached",
    "error-user-is-offline",
    "error-agent-status-service-offline",
    "not-sent",
];

impl Conversation {
    /// The state after `op` succeeds, or `None` where it cannot.
    fn apply(self, op: &ConversationOp) -> Option<Self> {
        use Conversation::*;
        match (self, op) {
            (Waiting, ConversationOp::Take { by }) => Some(Taken(*by)),
            (Taken(agent), ConversationOp::Return { by }) if agent == *by => Some(Waiting),
            (Taken(agent), ConversationOp::Forward { to: Some(to) }) if agent != *to => Some(Taken(*to)),
            (Waiting | Taken(_), ConversationOp::Forward { to: None }) => Some(Waiting),
            (Waiting | Taken(_), ConversationOp::Close) => Some(Closed),
            _ => None,
        }
    }
}

impl Model for Conversation {
    type Op = ConversationOp;
    type Ret = Answer;

    fn step(&self, op: &ConversationOp, ret: &Answer) -> Option<Self> {
        match ret {
            Answer::Ok => self.apply(op),
            Answer::Refused(code) if AGENT_REFUSALS.contains(&code.as_str()) => Some(*self),
            // A conversation still `queued` (before the dispatcher releases it) refuses a take.
            Answer::Refused(code)
                if code == "error-invalid-inquiry-status"
                    && *self == Conversation::Waiting
                    && matches!(op, ConversationOp::Take { .. }) =>
            {
                Some(*self)
            }
            // Forwarding to the department it is already in.
            Answer::Refused(code)
                if code == "error-forwarding-chat-same-department" && *self == Conversation::Waiting =>
            {
                Some(*self)
            }
            Answer::Refused(_) => self.apply(op).is_none().then_some(*self),
        }
    }

    fn step_unknown(&self, op: &ConversationOp) -> Vec<Self> {
        self.apply(op).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(op: ConversationOp, invoked: u64, completed: Option<(u64, Answer)>) -> Entry<ConversationOp, Answer> {
        Entry { op, invoked, completed }
    }

    fn refused(code: &str) -> Answer {
        Answer::Refused(code.into())
    }

    #[test]
    fn concurrent_takes_linearize_one_winner() {
        let history = [
            entry(ConversationOp::Take { by: 0 }, 0, Some((10, Answer::Ok))),
            entry(ConversationOp::Take { by: 1 }, 1, Some((9, refused("error-inquiry-taken")))),
        ];
        assert!(linearizable(&Conversation::Waiting, &history, |s| *s == Conversation::Taken(0)));
        assert!(!linearizable(&Conversation::Waiting, &history, |s| *s == Conversation::Taken(1)));
    }

    #[test]
    fn two_successful_takes_without_a_release_are_caught() {
        let history = [
            entry(ConversationOp::Take { by: 0 }, 0, Some((10, Answer::Ok))),
            entry(ConversationOp::Take { by: 1 }, 20, Some((30, Answer::Ok))),
        ];
        assert!(!linearizable(&Conversation::Waiting, &history, |_| true));
        // With a return in between it is fine; with a return by the wrong agent it is not.
        let mut fine = history.to_vec();
        fine.insert(1, entry(ConversationOp::Return { by: 0 }, 12, Some((15, Answer::Ok))));
        assert!(linearizable(&Conversation::Waiting, &fine, |_| true));
        fine[1].op = ConversationOp::Return { by: 1 };
        assert!(!linearizable(&Conversation::Waiting, &fine, |_| true));
    }

    #[test]
    fn real_time_order_is_respected() {
        // The close completed before the take was invoked: the take cannot succeed.
        let history = [
            entry(ConversationOp::Close, 0, Some((5, Answer::Ok))),
            entry(ConversationOp::Take { by: 0 }, 6, Some((8, Answer::Ok))),
        ];
        assert!(!linearizable(&Conversation::Waiting, &history, |_| true));
        // Overlapping, the take may go first.
        let overlapping = [
            entry(ConversationOp::Close, 0, Some((7, Answer::Ok))),
            entry(ConversationOp::Take { by: 0 }, 6, Some((8, Answer::Ok))),
        ];
        assert!(linearizable(&Conversation::Waiting, &overlapping, |s| *s == Conversation::Closed));
    }

    #[test]
    fn unknown_outcomes_may_or_may_not_have_happened() {
        // A take whose answer was lost, then another agent's take refused as already taken:
        // the lost take happened.
        let history = [
            entry(ConversationOp::Take { by: 0 }, 0, None),
            entry(ConversationOp::Take { by: 1 }, 10, Some((12, refused("error-inquiry-taken")))),
        ];
        assert!(linearizable(&Conversation::Waiting, &history, |s| *s == Conversation::Taken(0)));
        assert!(!linearizable(&Conversation::Waiting, &history, |s| *s == Conversation::Waiting));
        // Or it did not: a later take succeeds.
        let other = [
            entry(ConversationOp::Take { by: 0 }, 0, None),
            entry(ConversationOp::Take { by: 1 }, 10, Some((12, Answer::Ok))),
        ];
        assert!(linearizable(&Conversation::Waiting, &other, |s| *s == Conversation::Taken(1)));
        // But an unknown op cannot explain a state it could not produce.
        assert!(!linearizable(&Conversation::Waiting, &other, |s| *s == Conversation::Closed));
    }
}
