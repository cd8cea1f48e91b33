//! What happened, who did it, and why. Every commit carries its events; stores give them a
//! sequence number, keep them, and feed them to subscribers.

use serde::{Deserialize, Serialize};

use crate::ids::{DepartmentId, InquiryId, UserId};
use crate::machine::TransitionKind;
use crate::model::{AgentAvailability, TimerRule};
use crate::time::Timestamp;

/// Position in a store's event log: the first event is 1, and each next one is 1 more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventSeq(pub u64);

impl EventSeq {
    /// Before the first event: `after: EventSeq::ZERO` reads from the start.
    pub const ZERO: EventSeq = EventSeq(0);
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "kebab-case")]
pub enum Actor {
    /// The engine itself (routing, dispatch) or the embedder acting with full rights.
    System,
    /// A signed-in user.
    User(UserId),
    /// A visitor, by its token.
    Visitor(String),
}

/// An event before a store has numbered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Who did it.
    pub actor: Actor,
    /// The inquiry it is about, if any: [`Engine::history`](crate::Engine::history) reads by this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inquiry: Option<InquiryId>,
    /// What happened.
    pub kind: EventKind,
}

/// An event as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Its place in the store's log.
    pub seq: EventSeq,
    /// The event as committed.
    #[serde(flatten)]
    pub event: NewEvent,
}

/// What an event records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "kebab-case")]
pub enum EventKind {
    /// A new inquiry entered the queue.
    Enqueued {
        /// The queue it entered; `None` for the public queue.
        department: Option<DepartmentId>,
    },
    /// The inquiry moved through the state machine.
    Transition {
        /// Which transition.
        transition: TransitionKind,
        /// The agent now serving it, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<UserId>,
        /// The agent who served it before, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_agent: Option<UserId>,
        /// The inquiry's department afterwards.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        department: Option<DepartmentId>,
        /// Free text: a close comment, a transfer reason, "taken on behalf of …".
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// A deadline came due and its rule acted: which rule, when it was due, and what it did.
    /// The transition it caused (if any) follows as its own event.
    TimerFired {
        /// The rule.
        rule: TimerRule,
        /// When it was due (it fired at the event's `at`).
        due: Timestamp,
        /// What it did, in words: "moved to bob", "closed: waited over 600 s", ….
        outcome: String,
    },
    /// Someone wrote in the conversation (the text is not kept). The actor says who.
    MessageSent {
        /// The agents' first response to the visitor.
        first_response: bool,
    },
    /// Routing chose an agent; says why.
    Routed(RoutingDecision),
    /// Routing found no agent for a waiting inquiry.
    NoAgentFound {
        /// The routing method's name.
        strategy: String,
        /// The department searched.
        department: Option<DepartmentId>,
        /// Why no agent could take it.
        reason: String,
    },
    /// An agent was added or changed (availability, limits, departments).
    AgentChanged {
        /// The agent.
        agent: UserId,
        /// Its availability afterwards.
        availability: AgentAvailability,
        /// Why, when the system changed it: "missed 3 offers in a row", "business hours".
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// An agent profile was removed.
    AgentRemoved {
        /// The agent.
        agent: UserId,
    },
    /// A department was created or changed.
    DepartmentChanged {
        /// The department.
        department: DepartmentId,
    },
    /// A manager replaced the inquiry's routing attributes (the new ones are on the record).
    AttributesChanged,
    /// A user was created.
    UserCreated {
        /// The user.
        user: UserId,
    },
}

/// Why routing chose the agent it chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    /// The routing method's name.
    pub strategy: String,
    /// The agent chosen.
    pub agent: UserId,
    /// The department whose agents were considered (after any fallback).
    pub department: Option<DepartmentId>,
    /// Eligible agents with their load at the time: `(agent, active chats, limit; 0 = none)`;
    /// the chosen agent first, then the least loaded others (by active chats, then username), at most
    /// [`MAX_RECORDED_CANDIDATES`](crate::limits::MAX_RECORDED_CANDIDATES) in all.
    pub candidates: Vec<(UserId, u32, u32)>,
    /// How many agents were eligible, recorded or not (0 in events written before it was
    /// recorded).
    #[serde(default)]
    pub considered: usize,
    /// The routing-rule target (index from 0) the agent matched; `None` without rules, or
    /// once every target had timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<usize>,
    /// Why this agent, in words.
    pub reason: String,
}

/// Which events to read back. Start from [`EventQuery::all`] and narrow it:
/// `EventQuery::all().after(seq).about(id).limit(100)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// Only events with a sequence number greater than this; [`EventSeq::ZERO`] for all.
    pub after: EventSeq,
    /// Only events about this inquiry.
    pub inquiry: Option<InquiryId>,
    /// At most this many events. `0` means none: a store answers an empty list.
    pub limit: usize,
}

impl EventQuery {
    /// Every event, oldest first.
    pub fn all() -> Self {
        Self { after: EventSeq::ZERO, inquiry: None, limit: usize::MAX }
    }

    /// Only events numbered above `seq`.
    pub fn after(self, seq: EventSeq) -> Self {
        Self { after: seq, ..self }
    }

    /// Only events about `inquiry`.
    pub fn about(self, inquiry: InquiryId) -> Self {
        Self { inquiry: Some(inquiry), ..self }
    }

    /// At most `limit` events.
    pub fn limit(self, limit: usize) -> Self {
        Self { limit, ..self }
    }

    /// Whether `event` is one this query asks for (ignoring the limit).
    pub fn matches(&self, event: &Event) -> bool {
        event.seq > self.after && self.inquiry.as_ref().is_none_or(|id| event.event.inquiry.as_ref() == Some(id))
    }
}
