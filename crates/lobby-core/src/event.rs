//! What happened, who did it, and why. Every commit carries its events; stores give them a
//! sequence number, keep them, and feed them to subscribers.

use serde::{Deserialize, Serialize};

use crate::ids::{DepartmentId, InquiryId, UserId};
use crate::machine::TransitionKind;
use crate::model::AgentAvailability;
use crate::time::Timestamp;

/// Position in a store's event log. Strictly increasing, never reused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventSeq(pub u64);

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
    pub at: Timestamp,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inquiry: Option<InquiryId>,
    pub kind: EventKind,
}

/// An event as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub seq: EventSeq,
    #[serde(flatten)]
    pub event: NewEvent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "kebab-case")]
pub enum EventKind {
    /// A new inquiry entered the queue.
    Enqueued {
        department: Option<DepartmentId>,
    },
    /// The inquiry moved through the state machine.
    Transition {
        transition: TransitionKind,
        /// The agent now serving it, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<UserId>,
        /// The agent who served it before, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_agent: Option<UserId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        department: Option<DepartmentId>,
        /// Free text: a close comment, a transfer reason, "taken on behalf of …".
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// Routing chose an agent; says why.
    Routed(RoutingDecision),
    /// Routing found no agent for a waiting inquiry.
    NoAgentFound {
        strategy: String,
        department: Option<DepartmentId>,
        reason: String,
    },
    AgentChanged {
        agent: UserId,
        availability: AgentAvailability,
    },
    AgentRemoved {
        agent: UserId,
    },
    DepartmentChanged {
        department: DepartmentId,
    },
    UserCreated {
        user: UserId,
    },
}

/// Why routing chose the agent it chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    pub strategy: String,
    pub agent: UserId,
    /// The department whose agents were considered (after any fallback).
    pub department: Option<DepartmentId>,
    /// Eligible agents with their load at the time: `(agent, active chats, limit; 0 = none)`.
    pub candidates: Vec<(UserId, u32, u32)>,
    pub reason: String,
}

/// Which events to read back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventQuery {
    /// Only events with a sequence number greater than this.
    pub after: EventSeq,
    /// Only events about this inquiry.
    pub inquiry: Option<InquiryId>,
    pub limit: usize,
}

impl EventQuery {
    pub fn matches(&self, event: &Event) -> bool {
        event.seq > self.after && self.inquiry.as_ref().is_none_or(|id| event.event.inquiry.as_ref() == Some(id))
    }
}
