//! An event with what the live views need beside it: the inquiry as the event left it, and the
//! current records of the agents and department it names. Built once per event by the hub for
//! every stream, and by a stream itself when it replays the log.

use std::collections::BTreeMap;

use lobby_core::{
    Agent, Department, DepartmentId, Event, EventKind, Inquiry, InquiryStatus, Offer, ServedBy, StoreError, StoreExt,
    UserId,
};

use crate::SharedStore;

/// An event and the records it concerns.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// The event as the log keeps it.
    pub event: Event,
    /// The inquiry it is about, as the event left it: status, department and agent come from
    /// the event; the other fields (name, visitor, priority, …) are the record's current ones.
    /// `None` for events about no inquiry, or about one that no longer exists.
    pub inquiry: Option<Inquiry>,
    /// The current record of every agent the event names (`None`: removed since).
    pub agents: BTreeMap<UserId, Option<Agent>>,
    /// The department a `DepartmentChanged` event names, as it is now.
    pub department: Option<(DepartmentId, Option<Department>)>,
}

/// How an event changes the inquiry it is about, in Rocket.Chat's inquiry-observer words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new conversation entered the queue.
    Added,
    /// It moved (taken, returned, transferred, released) or someone wrote in it.
    Changed,
    /// It closed.
    Removed,
}

impl Change {
    /// The observer's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Changed => "changed",
            Self::Removed => "removed",
        }
    }
}

impl LiveEvent {
    /// Reads what `event` names from `store`.
    pub fn load(store: &SharedStore, event: Event) -> Result<Self, StoreError> {
        let mut agents = BTreeMap::new();
        for id in named_agents(&event.event.kind) {
            let agent = store.agent(&id)?.map(|found| found.value);
            agents.insert(id, agent);
        }
        let department = match &event.event.kind {
            EventKind::DepartmentChanged { department } => {
                Some((department.clone(), store.department(department)?.map(|found| found.value)))
            }
            _ => None,
        };
        let inquiry = match &event.event.inquiry {
            Some(id) => store.inquiry(id)?.map(|found| as_of(found.value, &event, &agents)),
            None => None,
        };
        Ok(Self { event, inquiry, agents, department })
    }

    /// The sequence number.
    pub fn seq(&self) -> u64 {
        self.event.seq.0
    }

    /// What this event does to its inquiry, for the events that change one; `None` for the
    /// others (explanations such as `Routed` or `TimerFired`, whose change follows as its own
    /// event, and events about agents, departments and users).
    pub fn change(&self) -> Option<Change> {
        self.inquiry.as_ref()?;
        match &self.event.event.kind {
            EventKind::Enqueued { .. } => Some(Change::Added),
            EventKind::Transition { transition, .. } if *transition == lobby_core::machine::TransitionKind::Close => {
                Some(Change::Removed)
            }
            EventKind::Transition { .. } | EventKind::MessageSent { .. } => Some(Change::Changed),
            _ => None,
        }
    }

    /// The agent before a transition, if it had one.
    pub fn previous_agent(&self) -> Option<&UserId> {
        match &self.event.event.kind {
            EventKind::Transition { previous_agent, .. } => previous_agent.as_ref(),
            _ => None,
        }
    }
}

/// Every agent an event names: the ones whose load or status it changed.
fn named_agents(kind: &EventKind) -> Vec<UserId> {
    match kind {
        EventKind::Transition { agent, previous_agent, .. } => agent.iter().chain(previous_agent).cloned().collect(),
        EventKind::AgentChanged { agent, .. } | EventKind::AgentRemoved { agent } => vec![agent.clone()],
        EventKind::Routed(decision) => vec![decision.agent.clone()],
        _ => Vec::new(),
    }
}

/// The inquiry as `event` left it: the record may have moved on since (a replay reads it
/// later), so the fields the event records win.
fn as_of(mut inquiry: Inquiry, event: &Event, agents: &BTreeMap<UserId, Option<Agent>>) -> Inquiry {
    use lobby_core::machine::TransitionKind as Kind;
    let at = event.event.at;
    match &event.event.kind {
        EventKind::Enqueued { department } => {
            inquiry.status = InquiryStatus::Queued;
            inquiry.department = department.clone();
            inquiry.served_by = None;
            inquiry.taken_at = None;
        }
        EventKind::Transition { transition, agent, department, .. } => {
            inquiry.status = match transition {
                Kind::Release => InquiryStatus::Open,
                Kind::Offer => InquiryStatus::Offered,
                Kind::ReturnToQueue | Kind::TransferToDepartment | Kind::RejectOffer | Kind::ExpireOffer => {
                    InquiryStatus::Queued
                }
                Kind::Close => InquiryStatus::Closed,
                // Take, assign, accept, transfer to an agent, hold, resume, and whatever serves
                // it next.
                _ if agent.is_some() => InquiryStatus::Taken,
                _ => inquiry.status,
            };
            inquiry.department = department.clone();
            // The event's agent holds it: serves it, or has it on offer.
            let holder = match agent {
                Some(id) => {
                    let username = agents.get(id).and_then(Option::as_ref).map(|a| a.username.clone());
                    Some(ServedBy { id: id.clone(), username: username.unwrap_or_else(|| id.to_string()), ts: at })
                }
                None => None,
            };
            match inquiry.status {
                InquiryStatus::Offered => {
                    inquiry.served_by = None;
                    if inquiry.offered_to() != agent.as_ref() {
                        inquiry.offer = holder.map(|agent| Offer { agent, expires_at: at });
                    }
                }
                InquiryStatus::Taken | InquiryStatus::Closed => {
                    inquiry.offer = None;
                    if inquiry.served_by_id() != agent.as_ref() {
                        inquiry.served_by = holder;
                    }
                }
                _ => {
                    inquiry.offer = None;
                    inquiry.served_by = None;
                    inquiry.on_hold_since = None;
                }
            }
            if inquiry.status.is_unserved() {
                inquiry.taken_at = None;
            }
            inquiry.updated_at = at;
        }
        _ => {}
    }
    inquiry
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use lobby_core::{Actor, Engine, EventQuery, NewInquiry, NewUser, Role, Store, VisitorId, VisitorSummary};
    use lobby_memory::MemoryStore;

    use super::*;

    #[test]
    fn replayed_events_show_the_inquiry_as_each_left_it() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let engine = Engine::new(Arc::clone(&store));
        let alice =
            engine.create_user(&Actor::System, NewUser::new("alice", "Alice", [Role::livechat_agent()])).unwrap();
        let visitor = VisitorSummary::new(VisitorId::new("v1").unwrap(), "guest", "tok");
        let inquiry = engine.enqueue(&Actor::System, NewInquiry::new(visitor, "Marcos")).unwrap();
        engine.dispatch(&Actor::System).unwrap();
        engine.take(&Actor::User(alice.id.clone()), &inquiry.id, None).unwrap();
        engine.close(&Actor::System, &inquiry.rid, "done").unwrap();
        let events = store.events(&EventQuery::all().about(inquiry.id.clone())).unwrap();
        let seen: Vec<(Option<Change>, InquiryStatus, Option<String>)> = events
            .into_iter()
            .map(|event| {
                let live = LiveEvent::load(&store, event).unwrap();
                let inquiry = live.inquiry.clone().unwrap();
                (live.change(), inquiry.status, inquiry.served_by.map(|s| s.username))
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (Some(Change::Added), InquiryStatus::Queued, None),
                (Some(Change::Changed), InquiryStatus::Open, None),
                (Some(Change::Changed), InquiryStatus::Taken, Some("alice".into())),
                (Some(Change::Removed), InquiryStatus::Closed, Some("alice".into())),
            ]
        );
    }
}
